"""The Bitcoin engine: primitives, script, consensus, patterns, codec, storage, chain."""

from .errors import PacketFSError, ParseError

__all__ = ["PacketFSError", "ParseError"]
