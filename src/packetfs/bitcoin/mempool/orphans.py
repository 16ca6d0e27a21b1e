"""The orphan pool: transactions whose parents are unknown, kept a while in case the parents come
(Core 30's TxOrphanage limits: announcements, counted per (wtxid, peer) plus a tenth of each
transaction's inputs, at most 3,000; the orphans' total weight at most 404,000 per peer)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..primitives.transaction import Transaction
from .policy import MAX_STANDARD_TX_WEIGHT

DEFAULT_MAX_ORPHAN_ANNOUNCEMENTS = 3_000
DEFAULT_RESERVED_PEER_WEIGHT = 404_000


@dataclass
class _Orphan:
    tx: Transaction
    peers: list[int] = field(default_factory=list)  # announcers, oldest first
    seq: int = 0


class OrphanPool:
    """Orphans by wtxid, indexed by the outpoints they spend."""

    def __init__(
        self,
        max_announcements: int = DEFAULT_MAX_ORPHAN_ANNOUNCEMENTS,
        weight_per_peer: int = DEFAULT_RESERVED_PEER_WEIGHT,
    ):
        self.max_announcements = max_announcements
        self.weight_per_peer = weight_per_peer
        self.orphans: dict[bytes, _Orphan] = {}
        self._by_prevout: dict[tuple[bytes, int], set[bytes]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self.orphans)

    def __contains__(self, wtxid: bytes) -> bool:
        return wtxid in self.orphans

    def announcements(self) -> int:
        return sum(len(o.peers) + o.tx.input_count // 10 for o in self.orphans.values())

    def total_weight(self) -> int:
        return sum(o.tx.weight for o in self.orphans.values())

    def add(self, tx: Transaction, peer: int) -> bool:
        """Keep ``tx`` as announced by ``peer``; False if it is too large to keep."""
        if tx.weight > MAX_STANDARD_TX_WEIGHT:
            return False
        wtxid = tx.wtxid
        o = self.orphans.get(wtxid)
        if o is not None:
            if peer not in o.peers:
                o.peers.append(peer)
        else:
            self._seq += 1
            self.orphans[wtxid] = _Orphan(tx, [peer], self._seq)
            for txin in tx.inputs:
                self._by_prevout.setdefault((txin.prev_txid, txin.prev_index), set()).add(wtxid)
        self.limit()
        return wtxid in self.orphans

    def erase(self, wtxid: bytes) -> bool:
        o = self.orphans.pop(wtxid, None)
        if o is None:
            return False
        for txin in o.tx.inputs:
            key = (txin.prev_txid, txin.prev_index)
            s = self._by_prevout.get(key)
            if s is not None:
                s.discard(wtxid)
                if not s:
                    del self._by_prevout[key]
        return True

    def erase_for_peer(self, peer: int) -> int:
        """Forget a disconnected peer's announcements; orphans nobody else announced go."""
        n = 0
        for wtxid, o in list(self.orphans.items()):
            if peer in o.peers:
                o.peers.remove(peer)
                if not o.peers:
                    self.erase(wtxid)
                    n += 1
        return n

    def erase_for_block(self, txs: Iterable[Transaction]) -> int:
        """Drop orphans included in a block or spending an input the block spent."""
        gone: set[bytes] = set()
        for tx in txs:
            if tx.wtxid in self.orphans:
                gone.add(tx.wtxid)
            for txin in tx.inputs:
                gone |= self._by_prevout.get((txin.prev_txid, txin.prev_index), set())
        for w in gone:
            self.erase(w)
        return len(gone)

    def children_of(self, tx: Transaction) -> list[Transaction]:
        """Orphans spending an output of ``tx``, oldest first: retry them now the parent is here."""
        txid = tx.txid
        found: set[bytes] = set()
        for vout in range(tx.output_count):
            found |= self._by_prevout.get((txid, vout), set())
        return [o.tx for o in sorted((self.orphans[w] for w in found), key=lambda o: o.seq)]

    def limit(self) -> int:
        """Evict until within the announcement and weight limits: from the peer holding the most
        announcements, its oldest orphan first (a flooding peer loses its own orphans first)."""
        evicted = 0
        peers = {p for o in self.orphans.values() for p in o.peers}
        max_weight = self.weight_per_peer * max(1, len(peers))
        while self.orphans and (self.announcements() > self.max_announcements or self.total_weight() > max_weight):
            counts: dict[int, int] = {}
            for o in self.orphans.values():
                for p in o.peers:
                    counts[p] = counts.get(p, 0) + 1 + o.tx.input_count // 10
            worst = max(counts, key=lambda p: (counts[p], -p))
            victim = min((o for o in self.orphans.values() if worst in o.peers), key=lambda o: o.seq)
            victim.peers.remove(worst)
            if not victim.peers:
                self.erase(victim.tx.wtxid)
                evicted += 1
        return evicted
