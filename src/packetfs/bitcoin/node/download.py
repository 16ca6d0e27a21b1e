"""Block download bookkeeping, apart from any socket: which block is in flight from which peer since when,
and which blocks to ask a peer for next (Core's FindNextBlocksToDownload: at most ``per_peer`` in flight per
peer, nothing beyond ``window`` blocks past the last block we share with it; when the window is exhausted,
whoever holds its first missing block is the staller).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..chain.headers import HAVE_DATA, HeaderTree, IndexEntry

MAX_BLOCKS_IN_TRANSIT_PER_PEER = 16
BLOCK_DOWNLOAD_WINDOW = 1024


@dataclass
class NextBlocks:
    blocks: list[IndexEntry] = field(default_factory=list)
    staller: int | None = None  # a peer (not the asking one) holding the window's first missing block


class BlockDownload:
    def __init__(self, per_peer: int = MAX_BLOCKS_IN_TRANSIT_PER_PEER, window: int = BLOCK_DOWNLOAD_WINDOW):
        self.per_peer = per_peer
        self.window = window
        self.in_flight: dict[bytes, tuple[int, float]] = {}  # hash -> (peer id, requested at)
        self.by_peer: dict[int, dict[bytes, float]] = {}
        self.stalling_since: dict[int, float] = {}
        # The last path handed out: entries of one chain at ascending heights, each the previous one's
        # child (see _chain_to). Asked once per block received, a walk from the peer's best header
        # down to our tip costs the whole window (1,024 entries) every time; with this it costs the
        # headers that are new since the last call.
        self._chain: list[IndexEntry] = []

    def count(self, peer_id: int) -> int:
        return len(self.by_peer.get(peer_id, ()))

    def request(self, peer_id: int, block_hash: bytes, now: float | None = None) -> None:
        t = time.monotonic() if now is None else now
        self.in_flight[block_hash] = (peer_id, t)
        self.by_peer.setdefault(peer_id, {})[block_hash] = t

    def received(self, block_hash: bytes, peer_id: int | None = None) -> bool:
        """Forget a block's request; True if ``peer_id`` (any peer if None) had it in flight."""
        holder = self.in_flight.get(block_hash)
        if holder is None:
            return False
        if peer_id is not None and holder[0] != peer_id:
            return False
        del self.in_flight[block_hash]
        mine = self.by_peer.get(holder[0])
        if mine is not None:
            mine.pop(block_hash, None)
        self.stalling_since.pop(holder[0], None)
        return True

    def peer_gone(self, peer_id: int) -> list[bytes]:
        """Return a gone peer's blocks to the pool (they are asked of others on the next schedule)."""
        mine = self.by_peer.pop(peer_id, {})
        for h in mine:
            self.in_flight.pop(h, None)
        self.stalling_since.pop(peer_id, None)
        return list(mine)

    def oldest_request(self, peer_id: int) -> float | None:
        mine = self.by_peer.get(peer_id)
        return min(mine.values()) if mine else None

    def next_blocks(self, peer_id: int, tip: IndexEntry, peer_best: IndexEntry | None) -> NextBlocks:
        """Up to the peer's free slots of blocks it has and we lack, lowest first, inside the window."""
        out = NextBlocks()
        free = self.per_peer - self.count(peer_id)
        if free <= 0 or peer_best is None or peer_best.failed or peer_best.chainwork <= tip.chainwork:
            return out
        fork = HeaderTree.fork_point(tip, self._ancestor(peer_best, tip.height) if peer_best.height > tip.height
                                     else peer_best)
        window_end = fork.height + self.window
        top = self._ancestor(peer_best, window_end) if peer_best.height > window_end else peer_best
        path = self._chain_to(fork, top)
        waiting_for: int | None = None
        for e in path:
            if e.failed:
                break
            if e.status & HAVE_DATA:
                continue
            holder = self.in_flight.get(e.hash)
            if holder is not None:
                if waiting_for is None:
                    waiting_for = holder[0]
                continue
            out.blocks.append(e)
            if len(out.blocks) >= free:
                return out
        if not out.blocks and top.height == window_end and peer_best.height > window_end \
                and waiting_for is not None and waiting_for != peer_id:
            out.staller = waiting_for
        return out

    def _ancestor(self, entry: IndexEntry, height: int) -> IndexEntry:
        """``entry``'s ancestor at ``height`` (<= its own), through the cached chain where it holds
        ``entry`` and reaches down to ``height``, else by walking back."""
        chain = self._chain
        if chain:
            base = chain[0].height
            i = entry.height - base
            j = height - base
            if 0 <= j and i < len(chain) and chain[i] is entry:
                return chain[j]
        return HeaderTree.ancestor(entry, height)

    def _chain_to(self, fork: IndexEntry, top: IndexEntry) -> list[IndexEntry]:
        """The entries above ``fork`` up to ``top`` (``fork`` an ancestor of ``top``), lowest first; kept
        as the cached chain. Walks back from ``top`` only until it meets the cached chain."""
        chain = self._chain
        base = chain[0].height if chain else 0
        lo = fork.height + 1 - base
        walked: list[IndexEntry] = []
        e: IndexEntry | None = top
        while e is not None and e is not fork:
            i = e.height - base
            if chain and lo >= 0 and 0 <= i < len(chain) and chain[i] is e:
                # ``e`` is on the cached chain, so are its ancestors down to fork's child
                path = chain[lo : i + 1]
                path.extend(reversed(walked))
                break
            walked.append(e)
            e = e.prev
        else:
            walked.reverse()
            path = walked
        self._chain = path
        return path
