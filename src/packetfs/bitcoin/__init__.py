"""The Bitcoin engine: primitives, script, consensus, patterns, codec, storage, chain."""

from .errors import PacketFSError, ParseError
from .script import ScriptError, verify_input

__all__ = ["PacketFSError", "ParseError", "ScriptError", "verify_input"]
