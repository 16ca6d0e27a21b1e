"""Serving spent coins to SwiftSync peers: ``getbspent`` answered with ``bspent`` from our undo data.

Attached to a node with :func:`attach_bspent_server`: the node advertises ``NODE_BLOCK_UNDO`` and each
``getbspent`` for a block it has connected (so has undo data for) gets the coins that block's inputs
spent, in the draft's encoding (net/bspent.py). A request for a block we have no undo data for, or in a
version we do not speak, is ignored, as Core ignores what it cannot serve; the requester's deadline
handles it. An answer that would not fit one message is not sent either (no real block comes close).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from ..chain.headers import HAVE_UNDO
from ..net.bspent import BSPENT_VERSION, NODE_BLOCK_UNDO, BSpent, GetBSpent, SpentCoin
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


class SpentCoinServer:
    """Answers getbspent on ``node`` (see the module docstring); ``served`` counts answers."""

    def __init__(self, node: Node):
        self.node = node
        self.served = 0
        node.services |= NODE_BLOCK_UNDO
        node._handlers[GetBSpent] = self.on_getbspent  # the node's one dispatch table (as lightning.py)

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
        answer = BSpent(msg.block_hash, spent_coins(undo, msg.cutoff))
        if len(answer.encode()) > MAX_PROTOCOL_MESSAGE_LENGTH:
            log.warning("spent coins of %s do not fit one message; not served", msg.block_hash[::-1].hex())
            return
        peer.send(answer)
        self.served += 1
        if peer.unsent_bytes > SEND_PAUSE_BYTES:
            await peer.drain()


def attach_bspent_server(node: Node) -> SpentCoinServer:
    """Serve spent coins (getbspent) on ``node``; call before ``node.start()`` so the service bit is
    in our version message."""
    return SpentCoinServer(node)
