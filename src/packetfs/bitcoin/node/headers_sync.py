"""Low-work headers anti-DoS: a peer's headers are stored only once its chain is proved to have enough work.

Why: every header that passes proof of work would otherwise be kept in the header tree forever, so a peer
could grow our memory without bound by feeding an endless chain of cheap (low-difficulty) headers. The
defence is Core's (headerssync.cpp, net_processing's TryLowWorkHeadersSync), reimplemented here:

- Headers that connect to our tree but whose chain's claimed work stays below the *anti-DoS threshold*
  (the network's minimum chain work, or our tip's work minus 144 blocks' worth if higher) are not stored.
  A short (not full) message of such headers is ignored; a full one (2,000) starts a per-peer sync.
- PRESYNC: the peer's headers are checked (continuity, proof of work, permitted difficulty change) and
  dropped; only a salted 1-bit hash of one header every ``commitment_period`` heights (at a random
  offset) is kept, and only the running chainwork. The number of commitments is capped before each is
  added, from the most headers the chain could have by the clock (6 a second since the chain start's
  median time past), so memory per peer is bounded.
- Once the chainwork reaches the threshold the sync restarts from the chain start: REDOWNLOAD. Each
  header is checked again and against the commitments; headers are released for normal validation and
  storage only once ``redownload_buffer_size`` more have been checked behind them (or once the buffered
  chain itself reaches the threshold), so a peer that swaps its chain between the two phases is caught
  (one bit per period: the chance of slipping through halves with every commitment) before its swapped
  headers are stored. A mismatch means the peer lied: the node disconnects and discourages it.

The state machine knows nothing of sockets: the node feeds it headers messages and sends the getheaders
it asks for (``locator()``).
"""

from __future__ import annotations

import enum
import hashlib
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..chain.headers import HeaderTree, IndexEntry, block_work
from ..consensus.constants import MAX_FUTURE_BLOCK_TIME
from ..consensus.params import ChainParams
from ..consensus.pow import check_proof_of_work, decode_target
from ..primitives.block import BlockHeader, bits_to_target, target_to_bits

# Core's nMinimumChainWork per network (kernel/chainparams.cpp, v30): a chain with less total work is
# never worth storing headers for. 0 on regtest (any chain).
MINIMUM_CHAIN_WORK: dict[str, int] = {
    "mainnet": 0x0000000000000000000000000000000000000000DEE8E2A309AD8A9820433C68,
    "testnet3": 0x0000000000000000000000000000000000000000000016DD270DD94FAC1D7632,
    "testnet4": 0x00000000000000000000000000000000000000000000034A4690FE592DC49C7C,
    "signet": 0x0000000000000000000000000000000000000000000000000000067D328E681A,
    "regtest": 0,
}

# Blocks' worth of work below our tip that a competing chain may lack and still be stored (Core: 144,
# about a day, so short reorgs near the tip never need the two-phase sync).
NEAR_TIP_BLOCKS = 144
# The median time past rule lets a chain have at most 6 blocks per second of wall-clock time.
MAX_BLOCKS_PER_SECOND = 6


@dataclass(frozen=True)
class HeadersSyncParams:
    """One commitment bit every ``commitment_period`` headers; ``redownload_buffer_size`` headers checked
    ahead before any is released (Core's values per network, from its headerssync-params.py)."""

    commitment_period: int
    redownload_buffer_size: int

    def __post_init__(self) -> None:
        if self.commitment_period < 1 or self.redownload_buffer_size < 0:
            raise ValueError("commitment_period must be >= 1 and redownload_buffer_size >= 0")


HEADERS_SYNC_PARAMS: dict[str, HeadersSyncParams] = {
    "mainnet": HeadersSyncParams(632, 15009),
    "testnet3": HeadersSyncParams(628, 13460),
    "testnet4": HeadersSyncParams(275, 7017),
    "signet": HeadersSyncParams(390, 9584),
    "regtest": HeadersSyncParams(275, 7017),  # Core copies testnet4's
}


def anti_dos_work_threshold(tip: IndexEntry, minimum_chain_work: int) -> int:
    """The least chainwork a peer's chain must have for its headers to be stored (GetAntiDoSWorkThreshold):
    the minimum chain work, or our tip's work less 144 blocks at the tip's difficulty if that is more."""
    near_tip = max(0, tip.chainwork - NEAR_TIP_BLOCKS * block_work(tip.header.bits))
    return max(near_tip, minimum_chain_work)


def claimed_work(headers: Sequence[BlockHeader]) -> int:
    """The work these headers claim by their bits (checked later; an invalid one aborts the sync)."""
    return sum(block_work(h.bits) for h in headers)


def permitted_difficulty_transition(params: ChainParams, height: int, old_bits: int, new_bits: int) -> bool:
    """Can a chain's difficulty go from ``old_bits`` to ``new_bits`` at ``height`` at all, whatever the
    timestamps (Core's PermittedDifficultyTransition)? Only bounds: outside a retarget the bits cannot
    change; at a retarget the target moves at most 4x either way. Test networks allow anything."""
    if params.pow_allow_min_difficulty_blocks:
        return True
    if height % params.difficulty_adjustment_interval != 0:
        return old_bits == new_bits
    if params.pow_no_retargeting:
        return old_bits == new_bits
    new_target = decode_target(new_bits, params.pow_limit)
    old_target = bits_to_target(old_bits)
    if new_target is None:
        return False
    span = params.pow_target_timespan
    # Compare after the compact-encoding round trip, as the retarget itself produces compact values.
    largest = bits_to_target(target_to_bits(min(params.pow_limit, old_target * (span * 4) // span)))
    smallest = bits_to_target(target_to_bits(min(params.pow_limit, old_target * (span // 4) // span)))
    return smallest <= new_target <= largest


class SyncState(enum.Enum):
    PRESYNC = "presync"
    REDOWNLOAD = "redownload"
    FINAL = "final"


@dataclass
class SyncResult:
    """What one headers message did: headers now proved and ready for normal validation and storage,
    whether to ask the peer for more (with ``HeadersSync.locator()``), and why it failed, if it did.
    ``misbehaving`` failures are the peer's fault (invalid headers, a chain swapped between phases)."""

    released: list[BlockHeader] = field(default_factory=list)
    request_more: bool = False
    error: str | None = None
    misbehaving: bool = False


class HeadersSync:
    """One peer's low-work headers sync, from ``chain_start`` (a header we store) towards a chain with
    ``minimum_work`` total work. Feed it each headers message of that peer; it ends in FINAL."""

    def __init__(self, params: ChainParams, sync_params: HeadersSyncParams, chain_start: IndexEntry,
                 minimum_work: int, *, now: float | None = None, salt: bytes | None = None,
                 offset: int | None = None):
        self.params = params
        self.sync_params = sync_params
        self.chain_start = chain_start
        self.minimum_work = minimum_work
        self.state = SyncState.PRESYNC
        self._salt = salt if salt is not None else os.urandom(16)
        period = sync_params.commitment_period
        self.offset = offset % period if offset is not None else int.from_bytes(os.urandom(4), "little") % period
        # A chain starting at chain_start can hold at most 6 blocks a second up to now (+ 2 h of future
        # timestamps): the cap on commitments, checked before each one is stored.
        seconds = int(time.time() if now is None else now) - HeaderTree.median_time_past(chain_start)
        self.max_commitments = MAX_BLOCKS_PER_SECOND * max(0, seconds + MAX_FUTURE_BLOCK_TIME) // period
        self._bits = bytearray()  # commitment i is bit (i % 8) of byte i // 8
        self.commitments = 0
        self._next_commitment = 0  # REDOWNLOAD: the next commitment to check
        # PRESYNC progress.
        self.work = chain_start.chainwork
        self.last_hash = chain_start.hash
        self.last_bits = chain_start.header.bits
        self.height = chain_start.height
        self.last_time = chain_start.header.time
        # REDOWNLOAD progress.
        self._buffer: deque[BlockHeader] = deque()
        self.redownload_work = 0
        self.redownload_hash = chain_start.hash
        self.redownload_bits = chain_start.header.bits
        self.redownload_height = chain_start.height
        self._release_all = False

    # ------------------------------------------------------------------ queries
    @property
    def expected_prev(self) -> bytes:
        """The hash the peer's next headers message must build on."""
        return self.redownload_hash if self.state is SyncState.REDOWNLOAD else self.last_hash

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def locator(self, chain_start_locator: Sequence[bytes]) -> list[bytes]:
        """The getheaders locator for the next batch: the last header of this phase, then the chain start's
        own locator (so a peer that reorganised still finds a fork point)."""
        return [self.expected_prev, *chain_start_locator]

    def commitment_bit(self, header: BlockHeader) -> int:
        return hashlib.blake2b(header.hash, key=self._salt, digest_size=8).digest()[0] & 1

    # ------------------------------------------------------------------ the state machine
    def process(self, headers: Sequence[BlockHeader], full_message: bool) -> SyncResult:
        """One headers message (``full_message``: it held the 2,000 maximum, so the peer has more)."""
        if self.state is SyncState.FINAL:
            return SyncResult(error="headers sync already finished")
        if not headers:
            self._finish()
            return SyncResult(error="peer sent no headers: chain has too little work")
        if headers[0].prev_hash != self.expected_prev:
            self._finish()
            return SyncResult(error=f"non-continuous headers in {self.state.value}", misbehaving=True)
        if self.state is SyncState.PRESYNC:
            result = self._presync(headers, full_message)
        else:
            result = self._redownload(headers, full_message)
        if result.error is not None or not result.request_more:
            self._finish()
        return result

    def _check_header(self, header: BlockHeader, prev_hash: bytes, prev_bits: int, height: int) -> str | None:
        if header.prev_hash != prev_hash:
            return "non-continuous headers sequence"
        if not permitted_difficulty_transition(self.params, height, prev_bits, header.bits):
            return f"invalid difficulty transition at height {height}"
        if not check_proof_of_work(header.hash, header.bits, self.params):
            return f"header at height {height} does not meet its proof of work"
        return None

    def _presync(self, headers: Sequence[BlockHeader], full_message: bool) -> SyncResult:
        period = self.sync_params.commitment_period
        for h in headers:
            height = self.height + 1
            error = self._check_header(h, self.last_hash, self.last_bits, height)
            if error is not None:
                return SyncResult(error=error, misbehaving=True)
            if height % period == self.offset:
                if self.commitments >= self.max_commitments:
                    return SyncResult(error=f"more headers than the clock allows ({self.max_commitments} "
                                      "commitments)", misbehaving=True)
                if self.commitments % 8 == 0:
                    self._bits.append(0)
                self._bits[-1] |= self.commitment_bit(h) << (self.commitments % 8)
                self.commitments += 1
            self.work += block_work(h.bits)
            self.last_hash, self.last_bits, self.height, self.last_time = h.hash, h.bits, height, h.time
        if self.work >= self.minimum_work:
            self.state = SyncState.REDOWNLOAD
            self.redownload_work = self.chain_start.chainwork
            return SyncResult(request_more=True)
        if full_message:
            return SyncResult(request_more=True)
        return SyncResult(error=f"chain ends at height {self.height} with too little work")

    def _redownload(self, headers: Sequence[BlockHeader], full_message: bool) -> SyncResult:
        period = self.sync_params.commitment_period
        for h in headers:
            height = self.redownload_height + 1
            error = self._check_header(h, self.redownload_hash, self.redownload_bits, height)
            if error is not None:
                return SyncResult(error=error, misbehaving=True)
            self.redownload_work += block_work(h.bits)
            if self.redownload_work >= self.minimum_work:
                self._release_all = True
            if height % period == self.offset and not self._release_all:
                if self._next_commitment >= self.commitments:
                    return SyncResult(error="redownloaded chain is longer than the presynced one at equal work",
                                      misbehaving=True)
                i = self._next_commitment
                self._next_commitment += 1
                if (self._bits[i // 8] >> (i % 8)) & 1 != self.commitment_bit(h):
                    return SyncResult(error=f"redownloaded header at height {height} does not match the "
                                      "presynced chain", misbehaving=True)
            self._buffer.append(h)
            self.redownload_hash, self.redownload_bits, self.redownload_height = h.hash, h.bits, height
        released = []
        while self._buffer and (len(self._buffer) > self.sync_params.redownload_buffer_size or self._release_all):
            released.append(self._buffer.popleft())
        if self._release_all and not self._buffer:
            return SyncResult(released=released)  # done: the rest of the chain is synced normally
        if full_message:
            return SyncResult(released=released, request_more=True)
        # The peer proved a chain with enough work, then would not serve it again: give up, keep nothing.
        return SyncResult(error="peer stopped serving its chain during redownload")

    def _finish(self) -> None:
        self.state = SyncState.FINAL
        self._bits = bytearray()
        self._buffer.clear()
