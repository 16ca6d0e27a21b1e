"""The header tree: every header seen, its chainwork, and the contextual header rules
(proof of work, difficulty retargeting, median time past, future limit, version minimums)."""

from __future__ import annotations

import time as _time
from collections.abc import Iterator
from dataclasses import dataclass

from ..consensus.block_rules import check_block_header, contextual_check_block_header
from ..consensus.errors import ValidationError
from ..consensus.params import ChainParams, get_params
from ..consensus.pow import decode_target, next_work_required
from ..primitives.block import BlockHeader
from ..primitives.hashes import hash_to_hex

MEDIAN_TIME_SPAN = 11

# Status bits of a block index entry (what Core's BlockStatus tracks, reduced to what we use).
HEADER_VALID = 1
HAVE_DATA = 2
HAVE_UNDO = 4
CONNECTED_ONCE = 8  # fully validated at least once (scripts included unless assumed valid)
FAILED = 16
FAILED_PARENT = 32


def block_work(bits: int) -> int:
    """Expected hashes for a block at this target: 2^256 / (target + 1), as Core's GetBlockProof."""
    target = decode_target(bits, (1 << 256) - 1)
    if target is None:
        return 0
    return (1 << 256) // (target + 1)


@dataclass
class IndexEntry:
    """One block in the tree. ``block_pos``/``undo_pos`` are opaque store locations."""

    header: BlockHeader
    height: int
    chainwork: int
    status: int = HEADER_VALID
    prev: IndexEntry | None = None
    block_pos: tuple | None = None
    undo_pos: tuple | None = None
    tx_count: int = 0
    # Why the block is invalid (Core's reject reason), when FAILED; "bad-prevblk" when FAILED_PARENT.
    reason: str | None = None

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def hash_hex(self) -> str:
        return hash_to_hex(self.header.hash)

    @property
    def time(self) -> int:
        return self.header.time

    @property
    def failed(self) -> bool:
        return bool(self.status & (FAILED | FAILED_PARENT))

    def __repr__(self) -> str:
        return f"IndexEntry({self.height}, {self.hash_hex})"


class HeaderTree:
    """All known headers from genesis, with a cached view of one chain (normally the active one)."""

    def __init__(self, network: str | ChainParams):
        self.params = get_params(network)
        genesis = self.params.genesis.header
        root = IndexEntry(genesis, 0, block_work(genesis.bits))
        self.entries: dict[bytes, IndexEntry] = {genesis.hash: root}
        self.genesis = root
        self.best_header = root

    def __contains__(self, block_hash: bytes) -> bool:
        return block_hash in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, block_hash: bytes) -> IndexEntry | None:
        return self.entries.get(block_hash)

    # ------------------------------------------------------------------ navigation
    @staticmethod
    def ancestor(entry: IndexEntry, height: int) -> IndexEntry:
        if height > entry.height or height < 0:
            raise ValueError(f"no ancestor at height {height} of a block at height {entry.height}")
        while entry.height > height:
            entry = entry.prev  # type: ignore[assignment]
        return entry

    @staticmethod
    def path(entry: IndexEntry, down_to: IndexEntry | None) -> Iterator[IndexEntry]:
        """Entries from ``entry`` back to (excluding) ``down_to``."""
        while entry is not None and entry is not down_to:
            yield entry
            entry = entry.prev  # type: ignore[assignment]

    @staticmethod
    def fork_point(a: IndexEntry, b: IndexEntry) -> IndexEntry:
        while a.height > b.height:
            a = a.prev  # type: ignore[assignment]
        while b.height > a.height:
            b = b.prev  # type: ignore[assignment]
        while a is not b:
            a, b = a.prev, b.prev  # type: ignore[assignment]
        return a

    @staticmethod
    def median_time_past(entry: IndexEntry) -> int:
        times = []
        e: IndexEntry | None = entry
        while e is not None and len(times) < MEDIAN_TIME_SPAN:
            times.append(e.time)
            e = e.prev
        times.sort()
        return times[len(times) // 2]

    # ------------------------------------------------------------------ accepting headers
    def expected_bits(self, prev: IndexEntry, new_time: int) -> int:
        # The min-difficulty walk asks for heights one below another: each walk starts where the last
        # ended (was one walk from ``prev`` per height, quadratic in the distance walked).
        last = [prev]

        def header_at(height: int) -> tuple[int, int]:
            start = last[0] if last[0].height >= height else prev
            e = last[0] = self.ancestor(start, height)
            return e.time, e.header.bits

        return next_work_required(prev.height, new_time, header_at, self.params)

    def check_header(self, header: BlockHeader, prev: IndexEntry, now: int | None = None) -> None:
        """Core's CheckBlockHeader + ContextualCheckBlockHeader against this tree; raises ValidationError."""
        check_block_header(header, self.params)
        contextual_check_block_header(
            header,
            prev.height + 1,
            self.params,
            expected_bits=self.expected_bits(prev, header.time),
            prev_mtp=self.median_time_past(prev),
            prev_time=prev.time,
            now=int(_time.time()) if now is None else now,
        )

    def add_header(self, header: BlockHeader, now: int | None = None) -> IndexEntry:
        """Validate and insert a header whose parent is known; returns its entry (existing or new)."""
        known = self.entries.get(header.hash)
        if known is not None:
            if known.failed:
                raise ValidationError("duplicate-invalid", "block is marked invalid")
            return known
        prev = self.entries.get(header.prev_hash)
        if prev is None:
            raise ValidationError("prev-blk-not-found", "previous block is unknown")
        if prev.failed:
            raise ValidationError("bad-prevblk", "previous block is invalid")
        self.check_header(header, prev, now)
        return self.insert(header, prev)

    def insert(self, header: BlockHeader, prev: IndexEntry, status: int = HEADER_VALID) -> IndexEntry:
        """Insert without checks (for entries reloaded from our own index)."""
        entry = IndexEntry(header, prev.height + 1, prev.chainwork + block_work(header.bits), status, prev)
        self.entries[header.hash] = entry
        if entry.chainwork > self.best_header.chainwork:
            self.best_header = entry
        return entry

    def mark_failed(self, entry: IndexEntry, reason: str | None = None) -> list[IndexEntry]:
        """Mark a block invalid (with Core's reject reason) and every known descendant as having an
        invalid parent; returns the entries whose status changed (to be written to the index)."""
        changed = []
        if not entry.status & FAILED or (reason is not None and entry.reason != reason):
            entry.status |= FAILED
            entry.reason = reason if reason is not None else entry.reason
            changed.append(entry)
        for e in self.entries.values():
            if e is not entry and not e.failed and e.height > entry.height and self.ancestor(e, entry.height) is entry:
                e.status |= FAILED_PARENT
                e.reason = "bad-prevblk"
                changed.append(e)
        if self.best_header.failed:
            self.best_header = max(
                (e for e in self.entries.values() if not e.failed), key=lambda e: (e.chainwork, -e.height)
            )
        return changed

    def candidates(self, more_work_than: int = -1) -> list[IndexEntry]:
        """Entries that could become the tip: all data present along the path, not failed, more work than
        ``more_work_than``; most work first. (The chainstate asks only for those with more work than its
        tip, twice per block connected: one cheap pass over the entries, no sort of the whole chain.)"""
        bad = FAILED | FAILED_PARENT
        result = [e for e in self.entries.values()
                  if e.chainwork > more_work_than and e.status & HAVE_DATA and not e.status & bad]
        result.sort(key=lambda e: -e.chainwork)
        return result
