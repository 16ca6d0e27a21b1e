"""Header sync: getheaders, getblocks (locator of at most 101 hashes), headers (at most 2000), sendheaders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..primitives.block import BlockHeader
from ..primitives.encoding import compact_size
from .limits import MAX_HEADERS_RESULTS, MAX_LOCATOR_SZ, PROTOCOL_VERSION
from .message import EmptyMessage, Message
from .reader import Reader


class _LocatorMessage(Message):
    max_payload: ClassVar[int] = 4 + 3 + MAX_LOCATOR_SZ * 32 + 32
    locator: tuple[bytes, ...]
    hash_stop: bytes
    version: int

    def encode(self) -> bytes:
        return b"".join((self.version.to_bytes(4, "little"), compact_size(len(self.locator)),
                         *self.locator, self.hash_stop))

    @classmethod
    def read(cls, r: Reader) -> _LocatorMessage:
        version = r.u32()
        n = r.count(MAX_LOCATOR_SZ, 32)
        locator = tuple(r.hash() for _ in range(n))
        return cls(locator, r.hash(), version)


@dataclass(frozen=True, slots=True)
class GetHeaders(_LocatorMessage):
    command: ClassVar[str] = "getheaders"
    locator: tuple[bytes, ...]
    hash_stop: bytes = bytes(32)
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class GetBlocks(_LocatorMessage):
    command: ClassVar[str] = "getblocks"
    locator: tuple[bytes, ...]
    hash_stop: bytes = bytes(32)
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class Headers(Message):
    command: ClassVar[str] = "headers"
    max_payload: ClassVar[int] = 3 + MAX_HEADERS_RESULTS * 81
    headers: tuple[BlockHeader, ...]

    def encode(self) -> bytes:
        return compact_size(len(self.headers)) + b"".join(h.serialize() + b"\x00" for h in self.headers)

    @classmethod
    def read(cls, r: Reader) -> Headers:
        n = r.count(MAX_HEADERS_RESULTS, 81)
        out = []
        for _ in range(n):
            out.append(r.header())
            # Each header carries a transaction count that is always 0 (Core reads and ignores it).
            if r.compact() != 0:
                raise r.fail("header with a non-zero transaction count", "0")
        return cls(tuple(out))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and [h.serialize() for h in self.headers] == [
            h.serialize() for h in other.headers]

    def __hash__(self) -> int:
        return hash(tuple(h.serialize() for h in self.headers))


class SendHeaders(EmptyMessage):
    """BIP130: announce new blocks with headers instead of inv."""

    command: ClassVar[str] = "sendheaders"
