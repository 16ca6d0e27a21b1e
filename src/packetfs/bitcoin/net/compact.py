"""BIP152 compact blocks (version 2, wtxid short ids): sendcmpct, cmpctblock, getblocktxn, blocktxn."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar

from ..primitives.block import MAX_BLOCK_SERIALIZED_SIZE, BlockHeader
from ..primitives.encoding import compact_size
from ..primitives.transaction import Transaction
from .limits import MAX_CMPCTBLOCK_INDEX
from .message import Message
from .reader import Reader
from .siphash import siphash24

SHORTID_SIZE = 6
_MIN_TX_SIZE = 10


def shortid_keys(header: BlockHeader, nonce: int) -> tuple[int, int]:
    """The SipHash key: the first 16 bytes of SHA256(header || nonce), as two little-endian words."""
    h = hashlib.sha256(header.serialize() + nonce.to_bytes(8, "little")).digest()
    return int.from_bytes(h[0:8], "little"), int.from_bytes(h[8:16], "little")


def short_id(keys: tuple[int, int], wtxid: bytes) -> int:
    return siphash24(keys[0], keys[1], wtxid) & 0xFFFFFFFFFFFF


@dataclass(frozen=True, slots=True)
class SendCmpct(Message):
    """Ask for compact blocks: high-bandwidth (announce) or low-bandwidth mode, and the version."""

    command: ClassVar[str] = "sendcmpct"
    max_payload: ClassVar[int] = 9
    high_bandwidth: bool
    version: int = 2

    def encode(self) -> bytes:
        return (b"\x01" if self.high_bandwidth else b"\x00") + self.version.to_bytes(8, "little")

    @classmethod
    def read(cls, r: Reader) -> SendCmpct:
        return cls(r.boolean(), r.u64())


@dataclass(frozen=True, slots=True)
class PrefilledTx:
    index: int  # absolute position in the block
    tx: Transaction


def _read_indexes(r: Reader, n: int) -> list[int]:
    """Differentially encoded indexes (each the gap after the previous + 1), all within 16 bits."""
    out = []
    last = -1
    for _ in range(n):
        idx = last + 1 + r.compact(MAX_CMPCTBLOCK_INDEX)
        if idx > MAX_CMPCTBLOCK_INDEX:
            raise r.fail(f"transaction index {idx} above {MAX_CMPCTBLOCK_INDEX}")
        out.append(idx)
        last = idx
    return out


def _encode_indexes(indexes: list[int]) -> bytes:
    out = [compact_size(len(indexes))]
    last = -1
    for i in indexes:
        out.append(compact_size(i - last - 1))
        last = i
    return b"".join(out)


class CmpctBlock(Message):
    command: ClassVar[str] = "cmpctblock"
    max_payload: ClassVar[int] = MAX_BLOCK_SERIALIZED_SIZE
    __slots__ = ("header", "nonce", "short_ids", "prefilled")

    def __init__(self, header: BlockHeader, nonce: int, short_ids: list[int], prefilled: list[PrefilledTx]):
        self.header = header
        self.nonce = nonce
        self.short_ids = short_ids
        self.prefilled = prefilled

    def encode(self) -> bytes:
        parts = [self.header.serialize(), self.nonce.to_bytes(8, "little"), compact_size(len(self.short_ids))]
        parts.extend(s.to_bytes(SHORTID_SIZE, "little") for s in self.short_ids)
        parts.append(compact_size(len(self.prefilled)))
        last = -1
        for p in self.prefilled:
            parts.append(compact_size(p.index - last - 1))
            parts.append(p.tx.serialize())
            last = p.index
        return b"".join(parts)

    @classmethod
    def read(cls, r: Reader) -> CmpctBlock:
        header = r.header()
        nonce = r.u64()
        n = r.count(MAX_BLOCK_SERIALIZED_SIZE // SHORTID_SIZE, SHORTID_SIZE)
        short_ids = [int.from_bytes(r.take(SHORTID_SIZE), "little") for _ in range(n)]
        m = r.count(MAX_CMPCTBLOCK_INDEX + 1, 1 + _MIN_TX_SIZE)
        prefilled = []
        last = -1
        for _ in range(m):
            idx = last + 1 + r.compact(MAX_CMPCTBLOCK_INDEX)
            if idx > MAX_CMPCTBLOCK_INDEX:
                raise r.fail(f"prefilled index {idx} above {MAX_CMPCTBLOCK_INDEX}")
            prefilled.append(PrefilledTx(idx, r.transaction()))
            last = idx
        if n + m > MAX_CMPCTBLOCK_INDEX + 1:
            raise r.fail(f"{n + m} transactions in a compact block")
        if prefilled and prefilled[-1].index >= n + m:
            raise r.fail("prefilled index past the block's transaction count")
        return cls(header, nonce, short_ids, prefilled)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CmpctBlock) and other.encode() == self.encode()

    def __hash__(self) -> int:
        return hash(self.encode())


@dataclass(frozen=True, slots=True)
class GetBlockTxn(Message):
    command: ClassVar[str] = "getblocktxn"
    max_payload: ClassVar[int] = 32 + 3 + (MAX_CMPCTBLOCK_INDEX + 1) * 3
    block_hash: bytes
    indexes: tuple[int, ...]

    def encode(self) -> bytes:
        return self.block_hash + _encode_indexes(list(self.indexes))

    @classmethod
    def read(cls, r: Reader) -> GetBlockTxn:
        block_hash = r.hash()
        n = r.count(MAX_CMPCTBLOCK_INDEX + 1, 1)
        return cls(block_hash, tuple(_read_indexes(r, n)))


class BlockTxn(Message):
    command: ClassVar[str] = "blocktxn"
    max_payload: ClassVar[int] = MAX_BLOCK_SERIALIZED_SIZE
    __slots__ = ("block_hash", "transactions")

    def __init__(self, block_hash: bytes, transactions: list[Transaction]):
        self.block_hash = block_hash
        self.transactions = transactions

    def encode(self) -> bytes:
        return self.block_hash + compact_size(len(self.transactions)) + b"".join(
            t.serialize() for t in self.transactions)

    @classmethod
    def read(cls, r: Reader) -> BlockTxn:
        block_hash = r.hash()
        n = r.count(MAX_CMPCTBLOCK_INDEX + 1, _MIN_TX_SIZE)
        return cls(block_hash, [r.transaction() for _ in range(n)])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BlockTxn) and other.encode() == self.encode()

    def __hash__(self) -> int:
        return hash(self.encode())
