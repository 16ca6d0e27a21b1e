"""Bitcoin P2P wire messages (one module per family, encode and decode side by side), the sans-I/O v1
transport and the protocol's limits. Nothing here does I/O or knows about the chainstate."""
