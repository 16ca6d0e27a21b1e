"""Liveness and relay policy: ping, pong (BIP31 nonces), feefilter (BIP133), mempool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .message import EmptyMessage, Message
from .reader import Reader


@dataclass(frozen=True, slots=True)
class Ping(Message):
    command: ClassVar[str] = "ping"
    max_payload: ClassVar[int] = 8
    nonce: int

    def encode(self) -> bytes:
        return self.nonce.to_bytes(8, "little")

    @classmethod
    def read(cls, r: Reader) -> Ping:
        return cls(r.u64())


@dataclass(frozen=True, slots=True)
class Pong(Message):
    command: ClassVar[str] = "pong"
    max_payload: ClassVar[int] = 8
    nonce: int

    def encode(self) -> bytes:
        return self.nonce.to_bytes(8, "little")

    @classmethod
    def read(cls, r: Reader) -> Pong:
        return cls(r.u64())


@dataclass(frozen=True, slots=True)
class FeeFilter(Message):
    """Minimum fee rate (sat/kvB) of transactions the peer wants announced."""

    command: ClassVar[str] = "feefilter"
    max_payload: ClassVar[int] = 8
    fee_rate: int

    def encode(self) -> bytes:
        return self.fee_rate.to_bytes(8, "little", signed=True)

    @classmethod
    def read(cls, r: Reader) -> FeeFilter:
        return cls(r.i64())


class MempoolRequest(EmptyMessage):
    command: ClassVar[str] = "mempool"
