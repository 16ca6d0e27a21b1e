"""Chain context for the codec: what an encoder and decoder may both look up outside the block.

Isolated mode (no context) needs nothing but the encoded block. Chain-context mode lets a prevout txid
become (height, position in block), as BIP337 does, and lets an input spending a known output recover its
public key without storing the key's hash or the spent amount. The archive records which lookups a block
used, and decoding such a block without a context that answers them is an error, never a guess.

Any object with these methods is a context (the chainstate's tx index will provide one); the in-memory
``TxIndex`` below is the reference implementation used by the tests.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..primitives.block import Block


@runtime_checkable
class ChainContext(Protocol):
    def locate(self, txid: bytes) -> tuple[int, int] | None:
        """(height, position of the tx in its block) for a confirmed txid, or None."""

    def txid_at(self, height: int, position: int) -> bytes | None:
        """The txid at (height, position), or None if unknown."""

    def output(self, txid: bytes, index: int) -> tuple[int, bytes] | None:
        """(value, scriptPubKey) of output ``index`` of ``txid``, or None if unknown.

        Spent or not does not matter: the codec only needs what the output was."""


class TxIndex:
    """A simple in-memory tx index over blocks added in height order (tests and small chains)."""

    def __init__(self) -> None:
        self._where: dict[bytes, tuple[int, int]] = {}
        self._txids: dict[tuple[int, int], bytes] = {}
        self._outputs: dict[bytes, tuple[tuple[int, bytes], ...]] = {}

    def add_block(self, raw: bytes, height: int) -> None:
        block = Block.from_bytes(raw)
        for pos, tx in enumerate(block.transactions):
            txid = tx.txid
            self._where.setdefault(txid, (height, pos))
            self._txids[(height, pos)] = txid
            self._outputs[txid] = tuple((o.value, o.script_pubkey) for o in tx.outputs)

    def locate(self, txid: bytes) -> tuple[int, int] | None:
        return self._where.get(txid)

    def txid_at(self, height: int, position: int) -> bytes | None:
        return self._txids.get((height, position))

    def output(self, txid: bytes, index: int) -> tuple[int, bytes] | None:
        outs = self._outputs.get(txid)
        if outs is None or index >= len(outs):
            return None
        return outs[index]

    def __len__(self) -> int:
        return len(self._txids)
