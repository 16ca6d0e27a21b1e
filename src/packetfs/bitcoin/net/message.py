"""The message base class: each message type names its command and payload cap, and decodes/encodes itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .limits import MAX_PROTOCOL_MESSAGE_LENGTH
from .reader import Reader


class Message:
    """A typed P2P message. Subclasses set ``command`` and ``max_payload`` and implement the two halves."""

    command: ClassVar[str] = ""
    max_payload: ClassVar[int] = MAX_PROTOCOL_MESSAGE_LENGTH

    def encode(self) -> bytes:
        raise TypeError(f"{type(self).__name__} has no encoder")  # every concrete message overrides it

    @classmethod
    def read(cls, r: Reader) -> Message:
        raise TypeError(f"{cls.__name__} has no decoder")  # every concrete message overrides it

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        """Decode exactly one payload; MessageError (a ParseError) on any bad or leftover byte."""
        r = Reader(payload, cls.command)
        msg = cls.read(r)
        r.done()
        return msg


class EmptyMessage(Message):
    """A message with no payload (verack, getaddr, sendheaders, wtxidrelay, sendaddrv2, mempool)."""

    max_payload: ClassVar[int] = 0

    def encode(self) -> bytes:
        return b""

    @classmethod
    def read(cls, r: Reader) -> Message:
        return cls()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(self.command)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A command we do not know (ignored, as Core does), kept with its raw payload."""

    command: str
    payload: bytes

    def encode(self) -> bytes:
        return self.payload
