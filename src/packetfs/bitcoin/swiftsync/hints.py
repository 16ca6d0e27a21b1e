"""The SwiftSync hints file: for every block up to a height, which of its outputs are still unspent there.

Layout (docs/swiftsync-hints.md has the full specification)::

    magic    b"UTXO" (0x55 0x54 0x58 0x4f)
    version  0x00
    height   uint32 little-endian: the height H the hints describe
    hints    H Elias-Fano lists (eliasfano.py), for blocks 1..H in height order

A block's outputs are numbered in block order (transaction by transaction, output by output),
skipping unspendable outputs (OP_RETURN, scripts over 10,000 bytes); a list holds the numbers of the
outputs still unspent at H. Genesis has no entry (its output is never spendable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PacketFSError, ParseError
from ..primitives.block import Block
from ..storage.undo import decode_block_undo
from ..storage.utxo import is_unspendable
from . import eliasfano

MAGIC = b"UTXO"
VERSION = 0
HEADER_SIZE = 9


class SwiftSyncError(PacketFSError):
    """A SwiftSync input (hints file, datadir) that cannot be used; the message says why."""


@dataclass
class Hints:
    """Decoded hints: ``unspent[h - 1]`` lists block h's unspent output numbers, for h in 1..height."""

    height: int
    unspent: list[list[int]]

    def for_block(self, height: int) -> list[int]:
        return self.unspent[height - 1]

    def serialize(self) -> bytes:
        if len(self.unspent) != self.height:
            raise ValueError(f"{len(self.unspent)} lists for height {self.height}")
        return b"".join((MAGIC, bytes((VERSION,)), self.height.to_bytes(4, "little"),
                         *(eliasfano.encode(u) for u in self.unspent)))  # fmt: skip

    @classmethod
    def parse(cls, data: bytes | memoryview) -> Hints:
        """Decode a whole hints file; ParseError (with the offset) for anything malformed."""
        buf = memoryview(data)
        if len(buf) < HEADER_SIZE:
            raise ParseError("hints file shorter than its header", 0, f"{HEADER_SIZE} bytes")
        if bytes(buf[:4]) != MAGIC:
            raise ParseError("not a SwiftSync hints file", 0, "magic 55 54 58 4f ('UTXO')")
        if buf[4] != VERSION:
            raise ParseError(f"unsupported hints file version {buf[4]}", 4, f"version {VERSION}")
        height = int.from_bytes(buf[5:9], "little")
        # Each list takes at least one byte: a lying height cannot make us allocate.
        if height > len(buf) - HEADER_SIZE:
            raise ParseError(f"hints for {height} blocks in {len(buf) - HEADER_SIZE} bytes", 5, "one list per block")
        pos = HEADER_SIZE
        unspent = []
        for _ in range(height):
            indices, pos = eliasfano.decode(buf, pos)
            unspent.append(indices)
        if pos != len(buf):
            raise ParseError(f"{len(buf) - pos} bytes after the last block's hints", pos, "end of file")
        return cls(height, unspent)

    @classmethod
    def read(cls, path: str | Path) -> Hints:
        try:
            return cls.parse(Path(path).read_bytes())
        except ParseError as e:
            raise SwiftSyncError(f"{path}: {e}") from None


def spendable_outputs(block: Block) -> Iterable[tuple[int, int, int, object]]:
    """(output number, tx index, vout, TxOut) of every output the hints number, in block order."""
    number = 0
    for tx_index, tx in enumerate(block.transactions):
        for vout, out in enumerate(tx.outputs):
            if is_unspendable(out.script_pubkey):
                continue
            yield number, tx_index, vout, out
            number += 1


def build_hints(
    tip: int,
    height: int,
    read_block: Callable[[int], tuple[bytes, bytes | None]],
    is_unspent_now: Callable[[bytes, int], bool],
    progress: Callable[[], None] | None = None,
) -> Hints:
    """Hints at ``height`` from an active chain whose tip is at ``tip``.

    ``read_block(h)`` gives block h (1..tip) as (raw, CBlockUndo bytes), one at a time, so memory does
    not grow with the chain; ``is_unspent_now(txid, vout)`` asks the UTXO set at the tip. An output of
    a block <= ``height`` is unspent at ``height`` if it is unspent at the tip or a block above
    ``height`` spent it (that block's undo data says so)."""
    if not 1 <= height <= tip:
        raise SwiftSyncError(f"height {height} is outside 1..{tip} (the chainstate's tip)")
    spent_above: set[tuple[bytes, int]] = set()
    for h in range(height + 1, tip + 1):
        raw, undo_raw = read_block(h)
        block = Block.from_bytes(raw)
        if undo_raw is None:
            raise SwiftSyncError(f"block {block.hash_hex} has no undo data")
        undo = decode_block_undo(undo_raw)
        for tx, coins in zip(block.transactions[1:], undo, strict=True):
            for txin, coin in zip(tx.inputs, coins, strict=True):
                if coin.height <= height:
                    spent_above.add((txin.prev_txid, txin.prev_index))
    unspent: list[list[int]] = []
    for h in range(1, height + 1):
        block = Block.from_bytes(read_block(h)[0])
        txids = [tx.txid for tx in block.transactions]
        unspent.append([
            number for number, tx_index, vout, _ in spendable_outputs(block)
            if (txids[tx_index], vout) in spent_above or is_unspent_now(txids[tx_index], vout)
        ])  # fmt: skip
        if progress:
            progress()
    return Hints(height, unspent)
