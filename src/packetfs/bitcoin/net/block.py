"""Block and transaction relay: block and tx carry the consensus encodings (parsed by primitives)."""

from __future__ import annotations

from typing import ClassVar

from ..primitives.block import MAX_BLOCK_SERIALIZED_SIZE, Block
from ..primitives.transaction import Transaction
from .errors import MessageError
from .message import Message
from .reader import Reader


class BlockMessage(Message):
    """A full block (with witnesses). ``raw`` is the exact payload; ``block`` its parse over those bytes.

    A received block is parsed when decoded (so a malformed one is a MessageError); one built to be sent
    is parsed only if ``block`` is asked for.
    """

    command: ClassVar[str] = "block"
    max_payload: ClassVar[int] = MAX_BLOCK_SERIALIZED_SIZE
    __slots__ = ("raw", "_block")

    def __init__(self, raw: bytes, block: Block | None = None):
        self.raw = raw
        self._block = block

    @property
    def block(self) -> Block:
        if self._block is None:
            self._block = _parse_block(self.raw)
        return self._block

    def encode(self) -> bytes:
        return self.raw

    @classmethod
    def decode(cls, payload: bytes) -> BlockMessage:
        raw = bytes(payload)
        return cls(raw, _parse_block(raw))

    @classmethod
    def read(cls, r: Reader) -> BlockMessage:
        return cls.decode(r.take(r.left))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BlockMessage) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"BlockMessage({self.block.hash_hex}, {len(self.raw)} bytes)"


def _parse_block(raw: bytes) -> Block:
    try:
        return Block.from_bytes(raw)
    except ValueError as e:
        raise MessageError(f"block: {e}", getattr(e, "offset", None), None, "block") from None


class TxMessage(Message):
    command: ClassVar[str] = "tx"
    max_payload: ClassVar[int] = MAX_BLOCK_SERIALIZED_SIZE
    __slots__ = ("tx",)

    def __init__(self, tx: Transaction):
        self.tx = tx

    def encode(self) -> bytes:
        return self.tx.serialize()

    @classmethod
    def read(cls, r: Reader) -> TxMessage:
        return cls(r.transaction())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TxMessage) and other.tx.serialize() == self.tx.serialize()

    def __hash__(self) -> int:
        return hash(self.tx.serialize())

    def __repr__(self) -> str:
        return f"TxMessage({self.tx.txid[::-1].hex()})"
