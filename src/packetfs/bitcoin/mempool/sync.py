"""Keeping a mempool in step with a chainstate: after blocks are connected or a reorg, remove what
was mined or conflicts, and return disconnected transactions to the pool (Core's
removeForBlock / MaybeUpdateMempoolForReorg, driven from ActivateBestChain)."""

from __future__ import annotations

from ..primitives.block import Block
from ..primitives.transaction import Transaction
from .pool import Mempool


def block_of(chainstate: object, entry: object) -> Block:
    """A stored block of the chainstate, read back from its block store."""
    if entry.block_pos is None:  # type: ignore[attr-defined]
        chainstate.flush()  # type: ignore[attr-defined]  # blocks still being encoded get written
    return Block.from_bytes(chainstate.store.get_block(entry.block_pos))  # type: ignore[attr-defined]


class MempoolChainSync:
    """Feeds blocks to a chainstate and tells the mempool what changed."""

    def __init__(self, chainstate: object, mempool: Mempool):
        self.cs = chainstate
        self.mempool = mempool

    def process_block(self, raw: bytes) -> object:
        """``Chainstate.process_block`` followed by the mempool update; returns the index entry."""
        old_tip = self.cs.tip  # type: ignore[attr-defined]
        try:
            entry = self.cs.process_block(raw)  # type: ignore[attr-defined]
        finally:
            self.tip_changed(old_tip)
        return entry

    def tip_changed(self, old_tip: object, new_blocks: dict[bytes, Block] | None = None) -> list[Transaction]:
        """Update the mempool for a move of the tip from ``old_tip`` to the chainstate's current tip.
        Returns the transactions of disconnected blocks (oldest first)."""
        cs = self.cs
        new_tip = cs.tip  # type: ignore[attr-defined]
        if new_tip is old_tip:
            return []
        fork = cs.tree.fork_point(old_tip, new_tip)  # type: ignore[attr-defined]
        gone = list(reversed(list(cs.tree.path(old_tip, fork))))  # type: ignore[attr-defined]
        came = list(reversed(list(cs.tree.path(new_tip, fork))))  # type: ignore[attr-defined]
        disconnected: list[Transaction] = []
        for e in gone:
            disconnected += block_of(cs, e).transactions
        mined: set[bytes] = set()
        for e in came:
            block = (new_blocks or {}).get(e.hash) or block_of(cs, e)
            mined |= {t.txid for t in block.transactions}
            self.mempool.remove_for_block(block.transactions)
        back = [t for t in disconnected if t.txid not in mined and not t.is_coinbase()]
        if gone:
            self.mempool.add_disconnected(back)
        return back
