"""Inventory: inv, getdata, notfound (at most 50,000 entries of type + hash)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..primitives.encoding import compact_size
from .limits import MAX_INV_SZ
from .message import Message
from .reader import Reader


@dataclass(frozen=True, slots=True)
class InvVector:
    type: int
    hash: bytes


class _InvList(Message):
    max_payload: ClassVar[int] = 9 + MAX_INV_SZ * 36
    items: tuple[InvVector, ...]

    def encode(self) -> bytes:
        return compact_size(len(self.items)) + b"".join(
            i.type.to_bytes(4, "little") + i.hash for i in self.items
        )

    @classmethod
    def read(cls, r: Reader) -> _InvList:
        n = r.count(MAX_INV_SZ, 36)
        return cls(tuple(InvVector(r.u32(), r.hash()) for _ in range(n)))


@dataclass(frozen=True, slots=True)
class Inv(_InvList):
    command: ClassVar[str] = "inv"
    items: tuple[InvVector, ...]


@dataclass(frozen=True, slots=True)
class GetData(_InvList):
    command: ClassVar[str] = "getdata"
    items: tuple[InvVector, ...]


@dataclass(frozen=True, slots=True)
class NotFound(_InvList):
    command: ClassVar[str] = "notfound"
    items: tuple[InvVector, ...]
