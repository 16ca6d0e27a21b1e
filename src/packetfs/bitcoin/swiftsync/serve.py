"""Serving spent coins to SwiftSync peers: ``getbspent`` answered with ``bspent`` from our undo data.

Attached to a node with :func:`attach_bspent_server`: the node advertises ``NODE_BLOCK_UNDO`` and each
``getbspent`` for a block it has connected (so has undo data for) gets the coins that block's inputs
spent, in the draft's encoding (net/bspent.py). A request for a block we have no undo data for, or in a
version we do not speak, is ignored, as Core ignores what it cannot serve; the requester's deadline
handles it. An answer that would not fit one message is not sent either (no real block comes close).
``getbspentsel`` (only some inputs' coins) is answered the same way with exactly the coins asked for; a
selection naming an input the block does not have is ignored like a block we lack.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from ..chain.headers import HAVE_UNDO
from ..net.bspent import BSPENT_VERSION, NODE_BLOCK_UNDO, BSpent, GetBSpent, GetBSpentSel, SpentCoin
from ..net.limits import MAX_PROTOCOL_MESSAGE_LENGTH
from ..node.node import SEND_PAUSE_BYTES, Node
from ..node.peer import Peer
from ..storage.undo import Coin, decode_block_undo

log = logging.getLogger("packetfs.node.bspent")


def spent_coins(block_undo: Iterable[Sequence[Coin]], cutoff: int = 0) -> tuple[SpentCoin, ...]:
    """CBlockUndo (per non-coinbase tx, per input) as bspent's list: inputs numbered across the block,
    only coins created below ``cutoff`` when it is non-zero."""
    out = []
    index = 0
    for tx_coins in block_undo:
        for c in tx_coins:
            if not cutoff or c.height < cutoff:
                out.append(SpentCoin(index, c.height, c.coinbase, c.value, c.script_pubkey))
            index += 1
    return tuple(out)


def selected_coins(block_undo: Iterable[Sequence[Coin]], indexes: Sequence[int]) -> tuple[SpentCoin, ...] | None:
    """The coins of inputs ``indexes`` (ascending, numbered as in bspent), or None if the block has no
    input with the highest of them."""
    flat = [c for tx_coins in block_undo for c in tx_coins]
    if indexes and indexes[-1] >= len(flat):
        return None
    return tuple(SpentCoin(i, flat[i].height, flat[i].coinbase, flat[i].value, flat[i].script_pubkey) for i in indexes)


class SpentCoinServer:
    """Answers getbspent on ``node`` (see the module docstring); ``served`` counts answers."""

    def __init__(self, node: Node):
        self.node = node
        self.served = 0
        node.services |= NODE_BLOCK_UNDO
        node._handlers[GetBSpent] = self.on_getbspent  # the node's one dispatch table (as lightning.py)
        node._handlers[GetBSpentSel] = self.on_getbspentsel

    def undo_for(self, block_hash: bytes) -> list[list[Coin]] | None:
        """The coins a block we connected spent, or None if we have no undo data for it."""
        cs = self.node.cs
        e = cs.tree.get(block_hash) if cs is not None else None
        if e is None or not e.status & HAVE_UNDO or e.undo_pos is None or e.failed:
            return None
        return decode_block_undo(cs.store.get_undo(e.undo_pos))

    async def on_getbspent(self, peer: Peer, msg: GetBSpent) -> None:
        if msg.version != BSPENT_VERSION:
            return
        undo = self.undo_for(msg.block_hash)
        if undo is None:
            log.debug("%r asked for the spent coins of %s, which we cannot serve", peer, msg.block_hash[::-1].hex())
            return
        await self._answer(peer, BSpent(msg.block_hash, spent_coins(undo, msg.cutoff)))

    async def on_getbspentsel(self, peer: Peer, msg: GetBSpentSel) -> None:
        if msg.version != BSPENT_VERSION:
            return
        undo = self.undo_for(msg.block_hash)
        coins = selected_coins(undo, msg.indexes) if undo is not None else None
        if coins is None:
            log.debug("%r asked for %d spent coins of %s, which we cannot serve", peer, len(msg.indexes),
                      msg.block_hash[::-1].hex())
            return
        await self._answer(peer, BSpent(msg.block_hash, coins))

    async def _answer(self, peer: Peer, answer: BSpent) -> None:
        if len(answer.encode()) > MAX_PROTOCOL_MESSAGE_LENGTH:
            log.warning("spent coins of %s do not fit one message; not served", answer.block_hash[::-1].hex())
            return
        peer.send(answer)
        self.served += 1
        if peer.unsent_bytes > SEND_PAUSE_BYTES:
            await peer.drain()


def attach_bspent_server(node: Node) -> SpentCoinServer:
    """Serve spent coins (getbspent) on ``node``; call before ``node.start()`` so the service bit is
    in our version message."""
    return SpentCoinServer(node)
