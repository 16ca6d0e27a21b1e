"""One error type per layer, so callers can tell bad bytes from bad scripts from broken rules."""

from __future__ import annotations


class PacketFSError(Exception):
    """Base of every error PacketFS raises on purpose."""


class ParseError(PacketFSError, ValueError):
    """Bytes that are not a valid encoding of what was expected.

    ``offset`` is the byte position (relative to the start of the buffer being parsed) where
    decoding failed and ``expected`` says what should have been there.
    """

    def __init__(self, message: str, offset: int | None = None, expected: str | None = None):
        self.offset = offset
        self.expected = expected
        self.reason = message
        where = f" at byte {offset}" if offset is not None else ""
        want = f" (expected {expected})" if expected else ""
        super().__init__(f"{message}{where}{want}")
