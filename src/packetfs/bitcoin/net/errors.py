"""The wire layer's errors: every decoder raises MessageError (a ParseError), the transport FrameError."""

from __future__ import annotations

from ..errors import ParseError


class MessageError(ParseError):
    """A payload that is not a valid encoding of its message (or breaks one of its limits).

    ``command`` names the message when known; a peer that sends one is misbehaving.
    """

    def __init__(self, message: str, offset: int | None = None, expected: str | None = None, command: str = ""):
        super().__init__(message, offset, expected)
        self.command = command


class FrameError(MessageError):
    """A frame header that forbids reading on (wrong magic, a length above the cap, a bad command): the
    connection must be closed before any of the payload is read."""
