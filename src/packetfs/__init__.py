"""PacketFS: a Bitcoin block engine in Python and a measured packet-compute fabric."""

__version__ = "0.1.0"
