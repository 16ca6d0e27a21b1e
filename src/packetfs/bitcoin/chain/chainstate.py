"""The chainstate: block index, UTXO set and block store driven together, like Core's
ChainstateManager. Blocks are connected with full validation, disconnected with their undo data,
and the chain with the most work wins, across reorgs of any depth.

Crash safety: block data is synced to disk before the UTXO set is flushed, and a flush writes the
dirty coins, the dirty block index entries and the tip in one LMDB transaction. A process killed at
any moment therefore restarts at the last flushed tip with a consistent UTXO set and index, and
connects whatever stored blocks are left (or the importer feeds them again).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import struct
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import lmdb

from ..consensus.block_rules import check_block, check_witness_commitment
from ..consensus.errors import ValidationError
from ..consensus.params import ChainParams, enforce_bip30, get_params, script_flags_for_block
from ..consensus.pool import PendingScriptChecks, ScriptCheckPool
from ..consensus.validate import script_jobs, validate_block
from ..errors import PacketFSError
from ..primitives.block import Block, BlockHeader
from ..primitives.hashes import hash_to_hex, sha256d
from ..storage.blockstore import BlockStore, encode_block_payload
from ..storage.datadir_lock import DatadirLock
from ..storage.undo import Coin, decode_block_undo, encode_block_undo
from ..storage.utxo import VOUT_SUFFIX, UtxoSet, is_unspendable, outpoint_key
from .headers import (
    CONNECTED_ONCE,
    HAVE_DATA,
    HAVE_UNDO,
    HeaderTree,
    IndexEntry,
)
from .signet import check_signet_solution
from .txindex import ChainTxIndex, ResolvedContext

_new_tuple = tuple.__new__
_META_NETWORK = b"network"



class ChainstateError(PacketFSError, ValueError):
    """A chainstate that cannot be opened or used as asked (missing, another network, inconsistent)."""


class _MissingCoin(Exception):
    """An input spends a coin that is missing or already spent: (tx index, input index)."""


def _gather_spent(txs: list, height: int, coin_by_key: Callable[[bytes], Coin | None]) -> tuple:
    """Every coin a block's transactions spend, read-only (so a failure leaves the UTXO set untouched).

    Outpoints are handled as UTXO database keys (txid || VARINT(vout)), built once and reused to apply.
    ``coin_by_key`` answers for coins from before the block. Returns (spent coins per non-coinbase tx,
    their keys, the block's outputs left unspent within it as key -> (tx index, vout), the keys
    looked up with ``coin_by_key``). Raises _MissingCoin for the first input whose coin is missing
    or already spent."""
    # Outputs created earlier in the block: key -> (tx index, vout); a Coin is built only if spent.
    created: dict[bytes, tuple[int, int]] = {}
    used: set[bytes] = set()
    spent: list[list[Coin]] = []
    spent_keys: list[list[bytes]] = []
    suffix = VOUT_SUFFIX
    for tx_index, tx in enumerate(txs):
        if tx_index:
            coins = []
            keys = []
            for in_index, txin in enumerate(tx.inputs):
                s = suffix.get(txin[1])
                key = txin[0] + s if s is not None else outpoint_key(txin[0], txin[1])
                where = created.pop(key, None)
                if where is not None:
                    out = txs[where[0]].outputs[where[1]]
                    coin = _new_tuple(Coin, (height, where[0] == 0, out.value, out.script_pubkey))
                elif key not in used:
                    coin = coin_by_key(key)
                    used.add(key)
                else:
                    coin = None
                if coin is None:
                    raise _MissingCoin(tx_index, in_index)
                coins.append(coin)
                keys.append(key)
            spent.append(coins)
            spent_keys.append(keys)
        txid = tx.txid
        for vout in range(tx.output_count):
            s = suffix.get(vout)
            created[txid + s if s is not None else outpoint_key(txid, vout)] = (tx_index, vout)
    return spent, spent_keys, created, used


def _encoder_init() -> None:
    # The codec's encoder makes reference cycles, so its processes keep the cyclic collector on (an
    # importer forks them with it paused), and leave alone what they inherited from this process.
    gc.enable()
    gc.freeze()
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _encode_reason(reason: str | None) -> bytes:
    # Appended to an index entry: absent for a valid block (older entries end after the positions).
    if not reason:
        return b""
    data = reason.encode("utf-8", "replace")[:255]
    return bytes((len(data),)) + data


def _decode_reason(buf: bytes, off: int) -> str | None:
    if off >= len(buf):
        return None
    n = buf[off]
    return buf[off + 1 : off + 1 + n].decode("utf-8", "replace") or None


def _encode_pos(pos: tuple | None) -> bytes:
    if pos is None:
        return b"\x00"
    return bytes((len(pos),)) + b"".join(int(v).to_bytes(8, "little") for v in pos)


def _decode_pos(buf: bytes, off: int, factory: Callable[..., tuple]) -> tuple[tuple | None, int]:
    n = buf[off]
    off += 1
    if n == 0:
        return None, off
    values = [int.from_bytes(buf[off + 8 * i : off + 8 * i + 8], "little") for i in range(n)]
    return factory(*values), off + 8 * n


@dataclass
class ConnectStats:
    blocks: int = 0
    txs: int = 0
    inputs: int = 0
    inputs_script_checked: int = 0
    bytes: int = 0
    seconds_validating: float = 0.0
    # Script checks started while the block's parent was connecting (see Chainstate._check_ahead), and
    # how many of those were used (the others were cancelled).
    scripts_started_early: int = 0
    scripts_used_early: int = 0


@dataclass
class _ScriptsAhead:
    """The next block's script checks, started before its parent was connected (see ``_check_ahead``)."""

    block: Block
    parent: IndexEntry
    flags: int
    spent: list
    pending: PendingScriptChecks


class Chainstate:
    """Open (or create) a node's state under ``datadir``."""

    def __init__(
        self,
        datadir: str | Path,
        network: str | ChainParams = "regtest",
        *,
        cache_bytes: int = 256 << 20,
        jobs: int | None = None,
        assumevalid: bytes | None = None,
        store_mode: str = "codec",
        map_size: int = 64 << 30,
        now: Callable[[], int] | None = None,
        encode_jobs: int | None = None,
        readonly: bool = False,
        mp_start_method: str | None = None,
    ):
        """``readonly``: a view of the last flushed state that never writes (no lock, no flush): what
        ``chain-info`` opens, also beside a process writing the datadir. Otherwise the datadir's
        lock is taken (DatadirInUseError if another process holds it) and held until ``close``.

        ``mp_start_method``: how script-check and encoder worker processes are started (default: fork
        where safe). A process that holds sockets (the node) passes "forkserver": a forked worker would
        inherit every open peer socket and keep it open after the node closes it, so the peer never
        sees the disconnect."""
        self.params = get_params(network)
        self.datadir = Path(datadir)
        self.readonly = readonly
        self._lock: DatadirLock | None = None
        self._snapshot: lmdb.Transaction | None = None
        if readonly:
            if not (self.datadir / "chainstate").is_dir():
                raise ChainstateError(f"{self.datadir} holds no chainstate")
            # One read transaction for the whole view: index, tip and coins of the same commit, even
            # while another process flushes.
            self.env = lmdb.open(
                str(self.datadir / "chainstate"), max_dbs=8, subdir=True, readonly=True, create=False
            )
            try:
                self._index_db = self.env.open_db(b"index", create=False)
                self._meta_db = self.env.open_db(b"meta", create=False)
                self.env.open_db(b"coins", create=False)
                self.env.open_db(b"coins_meta", create=False)
            except lmdb.NotFoundError:
                self.env.close()
                raise ChainstateError(f"{self.datadir}: chainstate was never written") from None
            # A read transaction sees only the databases opened before it began.
            self._has_txindex = True
            for name in (b"tx_loc", b"tx_at", b"seq_block"):
                try:
                    self.env.open_db(name, create=False)
                except lmdb.NotFoundError:
                    self._has_txindex = False
            self._snapshot = self.env.begin(buffers=False)
        else:
            self._lock = DatadirLock(self.datadir).acquire()
            try:
                self.env = lmdb.open(
                    str(self.datadir / "chainstate"), map_size=map_size, max_dbs=8, subdir=True, sync=True,
                    metasync=True,
                )
            except BaseException:
                self._lock.release()
                raise
            self._index_db = self.env.open_db(b"index")
            self._meta_db = self.env.open_db(b"meta")
        try:
            self.mp_start_method = mp_start_method
            self._open(cache_bytes, jobs, assumevalid, store_mode, now, encode_jobs)
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        """Let go of everything opened so far, writing nothing (a failed open)."""
        if self._snapshot is not None:
            self._snapshot.abort()
            self._snapshot = None
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
        self.env.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _open(
        self,
        cache_bytes: int,
        jobs: int | None,
        assumevalid: bytes | None,
        store_mode: str,
        now: Callable[[], int] | None,
        encode_jobs: int | None,
    ) -> None:
        self._check_network()
        self.utxo = UtxoSet(self.env, cache_bytes=cache_bytes, snapshot=self._snapshot)
        # In codec mode the tx index is the codec's chain context: prevout txids become (seq, position).
        use_txindex = store_mode == "codec" and (self._snapshot is None or self._has_txindex)
        self.txindex = ChainTxIndex(self.env) if use_txindex else None
        self.store = BlockStore(
            self.datadir / "blocks", network=self.params.name, mode=store_mode, codec_context=self.txindex,
            readonly=self.readonly,
        )
        # Stored but not yet connected, parsed: saves a decode and a second parse.
        self._recent: dict[bytes, tuple[bytes, Block]] = {}
        self.tree = HeaderTree(self.params)
        self.assumevalid = assumevalid
        self.jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        # Encoding a block with the codec costs more than validating it. With ``encode_jobs`` > 0
        # blocks are encoded in a pool of that many processes, overlapping validation; a block's
        # record is written once its encoding is back, and always before a flush that indexes it.
        if encode_jobs is None:
            encode_jobs = self.jobs if self.jobs > 1 else 0
        self.encode_jobs = encode_jobs if self.txindex is not None and self.store.codec_available else 0
        self._encoder: ProcessPoolExecutor | None = None
        # Blocks being encoded, in submission order: hash -> (entry, raw, context snapshot, future).
        self._unstored: dict[bytes, tuple[IndexEntry, bytes, ResolvedContext, Future]] = {}
        self._pool: ScriptCheckPool | None = None
        # Read-ahead (hint_next): the next block's bytes, and blocks parsed and context-free checked
        # while scripts ran, by hash -> (the very bytes checked, parsed block).
        self._hinted: bytes | None = None
        self._prechecked: dict[bytes, tuple[bytes, Block]] = {}
        self._ahead: _ScriptsAhead | None = None
        self._dirty: set[bytes] = set()
        self.now = now or (lambda: int(time.time()))
        self.stats = ConnectStats()
        self.last_error: ValidationError | None = None
        self.last_failed: IndexEntry | None = None
        self._undirty: list[bytes] = []  # index entries to delete at the next flush
        self.reclaimed_bytes = 0  # block-store bytes given back on opening (see _load_index)
        self._load_index()

    # ------------------------------------------------------------------ persistence
    def _check_network(self) -> None:
        if self._snapshot is not None:
            stored = self._snapshot.get(_META_NETWORK, db=self._meta_db)
            if stored is not None and stored.decode() != self.params.name:
                raise ChainstateError(f"{self.datadir} holds a {stored.decode()} chainstate, not {self.params.name}")
            return
        with self.env.begin(write=True, db=self._meta_db) as txn:
            stored = txn.get(_META_NETWORK)
            if stored is None:
                txn.put(_META_NETWORK, self.params.name.encode())
            elif stored.decode() != self.params.name:
                raise ChainstateError(f"{self.datadir} holds a {stored.decode()} chainstate, not {self.params.name}")

    def _serialize_entry(self, e: IndexEntry) -> bytes:
        return b"".join(
            (
                e.header.serialize(),
                struct.pack("<IIB", e.height, e.tx_count, e.status & 0xFF),
                _encode_pos(e.block_pos),
                _encode_pos(e.undo_pos),
                _encode_reason(e.reason if e.failed else None),
            )
        )

    def _load_index(self) -> None:
        """Rebuild the header tree from the index. An entry whose parent is not in the index cannot be
        placed (an index written before headers were stored with their blocks could hold such a
        block): it is left out and counted in ``index_entries_dropped``; its block is simply fetched
        or imported again. Only a tip that cannot be placed makes the chainstate unusable."""
        rows = []
        with self._read_txn() as txn:
            for _, value in txn.cursor(db=self._index_db):
                height, tx_count, status = struct.unpack_from("<IIB", value, 80)
                rows.append((height, bytes(value), tx_count, status))
        rows.sort(key=lambda r: r[0])
        self.index_entries_dropped = 0
        for height, value, tx_count, status in rows:
            header = BlockHeader.parse(value)
            block_pos, off = _decode_pos(value, 89, self.store.block_location)
            undo_pos, off = _decode_pos(value, off, self.store.undo_location)
            reason = _decode_reason(value, off)
            if height == 0:
                entry = self.tree.genesis
                entry.status = status
            else:
                prev = self.tree.get(header.prev_hash)
                if prev is None or prev.height != height - 1:
                    self.index_entries_dropped += 1
                    self._undirty.append(header.hash)  # deleted from the index at the next flush
                    continue
                entry = self.tree.insert(header, prev, status)
            entry.block_pos, entry.undo_pos, entry.tx_count = block_pos, undo_pos, tx_count
            entry.reason = reason
        if not self.readonly:
            # Records appended after the last flush (by a process killed since) are referenced by
            # nothing durable: give their bytes back, so appends go on where the index ends.
            entries = self.tree.entries.values()
            self.reclaimed_bytes = self.store.reclaim_unreferenced(
                (e.block_pos for e in entries if e.block_pos is not None),
                (e.undo_pos for e in entries if e.undo_pos is not None),
            )
        # Descendants were written FAILED_PARENT with the failed block; only the best header is redone.
        if self.tree.best_header.failed:
            self.tree.mark_failed(self.tree.best_header, self.tree.best_header.reason)
        best = self.utxo.best_block
        if best is None:
            self.tip = self.tree.genesis
            if not self.tip.status & HAVE_DATA and not self.readonly:
                raw = self.params.genesis.serialize()
                self.tip.block_pos = self.store.put_block(raw)
                if self.txindex is not None:
                    self.txindex.add_block(raw)
                self.tip.tx_count = 1
                self.tip.status |= HAVE_DATA | CONNECTED_ONCE
                self._dirty.add(self.tip.hash)
                self.flush()
        else:
            tip = self.tree.get(best)
            if tip is None:
                raise ChainstateError(f"chainstate tip {hash_to_hex(best)} is not in the block index")
            self.tip = tip

    def _read_txn(self) -> contextlib.AbstractContextManager[lmdb.Transaction]:
        if self._snapshot is not None:
            return contextlib.nullcontext(self._snapshot)
        return self.env.begin()

    def index_changed(self, entries: Iterable[IndexEntry]) -> None:
        """Block-index entries whose status was changed from outside (invalidateblock,
        reconsiderblock): written with the next ``flush``."""
        self._dirty.update(e.hash for e in entries)

    def flush(self) -> None:
        """Make everything so far durable, atomically."""
        if self.readonly:
            return
        self._write_encoded(keep=0)
        self.store.sync()
        dirty = [self.tree.entries[h] for h in self._dirty]
        index_db = self._index_db

        undirty = self._undirty

        def write_index(txn: lmdb.Transaction) -> None:
            for block_hash in undirty:
                txn.delete(block_hash, db=index_db)
            for e in dirty:
                txn.put(e.hash, self._serialize_entry(e), db=index_db)
            if self.txindex is not None:
                self.txindex.write(txn)

        self.utxo.best_block = self.tip.hash
        self.utxo.flush(extra=write_index)
        self._dirty.clear()
        self._undirty = []
        if self.txindex is not None:
            self.txindex.written()

    def close(self, *, flush: bool = True) -> None:
        """Flush (unless ``flush`` is False: then the datadir stays at its last flush, as after a
        crash) and let go of the workers, files, database and lock."""
        try:
            if flush:
                self.flush()
        finally:
            self._drop_ahead()
            if self._pool is not None:
                self._pool.close()
                self._pool = None
            if self._encoder is not None:
                self._encoder.shutdown(wait=True, cancel_futures=True)
                self._encoder = None
            self._abandon()

    def __enter__(self) -> Chainstate:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # An exception out of the middle of connecting a block may leave the cache half applied:
        # never write that. The datadir restarts at its last flush, as after a crash.
        self.close(flush=exc_type is None)

    def start_workers(self) -> None:
        """Start the script-check processes now instead of with the first block (a command that
        starts them before it installs its own Ctrl-C handler keeps them out of its way)."""
        _ = self.pool

    # ------------------------------------------------------------------ accepting blocks
    @property
    def pool(self) -> ScriptCheckPool | None:
        if self._pool is None and self.jobs > 1:
            self._pool = ScriptCheckPool(self.jobs, start_method=self.mp_start_method)
            self._pool.warm_up()
        return self._pool

    def has_block(self, block_hash: bytes) -> bool:
        """True if the block is stored (a block found invalid is not: offering it again says so)."""
        e = self.tree.get(block_hash)
        return e is not None and bool(e.status & HAVE_DATA) and not e.failed

    def process_headers(self, headers: Iterable[BlockHeader]) -> int:
        """Headers-first: add headers (any order) whose ancestry is known; returns how many were added.

        Knowing the header chain ahead of the blocks is what lets ``assumevalid`` apply (as in Core,
        scripts are skipped only for ancestors of the assumed block in the known header tree).
        """
        waiting: dict[bytes, list[BlockHeader]] = {}
        for h in headers:
            waiting.setdefault(h.prev_hash, []).append(h)
        added = 0
        ready = [e.hash for e in list(self.tree.entries.values())]
        while ready:
            for h in waiting.pop(ready.pop(), ()):
                entry = self.tree.add_header(h, now=self.now())
                self._dirty.add(entry.hash)
                added += 1
                ready.append(entry.hash)
        return added

    def hint_next(self, raw: bytes) -> None:
        """Say which block ``process_block`` will most likely get next (an importer reading ahead): its
        parse and context-free checks are then done while the script workers verify the current
        block. Only a hint: whatever comes next is checked in full either way."""
        self._hinted = raw

    def _precheck_hinted(self) -> Block | None:
        """Parse and context-free check the hinted block; returns it if it passed."""
        raw, self._hinted = self._hinted, None
        if raw is None:
            return None
        if len(self._prechecked) >= 4:
            self._prechecked.clear()  # hinted blocks that never came (orphans waiting for a parent)
        try:
            block = Block.from_bytes(raw)
            check_block(block, self.params, check_pow=False)
        except Exception:  # noqa: BLE001 - only a hint: process_block checks again and reports it
            return None
        # process_block uses it only for this very bytes object: a mutated block shares its header
        # hash with the real one, so the hash alone does not say which bytes passed.
        self._prechecked[block.header.hash] = (raw, block)
        return block

    def process_block(self, raw: bytes) -> IndexEntry:
        """Accept a block whose parent is known, store it, and move to the best chain.

        Raises ValidationError if the block itself is invalid (its header or context-free checks);
        if it is valid but loses, or a reorg onto it fails later, the chainstate stays consistent
        and ``last_error`` says why.
        """
        pre = self._prechecked.pop(sha256d(raw[:80]), None) if self._prechecked else None
        if pre is not None and pre[0] is raw:
            block, prechecked = pre[1], True
        else:
            block, prechecked = Block.from_bytes(raw), False
        header = block.header
        known = self.tree.get(header.hash)
        if known is not None and known.failed:
            raise ValidationError("duplicate-invalid", f"block was found invalid before: {known.reason}")
        if known is not None and known.status & HAVE_DATA:
            return known
        entry = self.tree.add_header(header, now=self.now())
        # The header is kept (as Core keeps every valid header): whatever is stored later on top of
        # it then always finds its parent in the index.
        self._dirty.add(entry.hash)
        try:
            # Context-free checks before storing, so junk never reaches disk. A mutated block (data
            # not matching its header) leaves the header valid, as Core does. (Already done for a
            # block passed to hint_next, on these very bytes.)
            if not prechecked:
                check_block(block, self.params, check_pow=False)
            # Witness data is outside the merkle root: a block with altered witnesses has the honest
            # block's hash. Core checks the commitment before storing (AcceptBlock) and calls a failure
            # BLOCK_MUTATED, so the hash is not marked failed and the honest block is still accepted.
            check_witness_commitment(block, entry.height >= self.params.segwit_height)
            if self.params.signet_challenge is not None:
                check_signet_solution(block, self.params.signet_challenge)
        except ValidationError as e:
            if not e.mutated:
                self._mark_failed(entry, e)
            raise
        self._store_block(entry, raw, block)
        if self.txindex is not None:
            self.txindex.add_block(block)
        self._recent[entry.hash] = (raw, block)
        while len(self._recent) > 64:  # side-branch blocks may never be connected
            self._recent.pop(next(iter(self._recent)))
        entry.tx_count = len(block.transactions)
        entry.status |= HAVE_DATA
        self._dirty.add(entry.hash)
        self.activate_best_chain()
        if self.utxo.should_flush():
            self.flush()
        return entry

    # ------------------------------------------------------------------ block storage
    def _store_block(self, entry: IndexEntry, raw: bytes, block: Block) -> None:
        if not self.encode_jobs:
            entry.block_pos = self.store.put_block(raw)
            return
        # The encoder asks the tx index about the block's prevouts; answer now (the index is at the
        # state the block would have been encoded against here) and ship the answers with it.
        ctx = self.txindex.snapshot(block)  # type: ignore[union-attr]
        if self._encoder is None:
            # fork is cheapest while this process has no threads; the executor adds one.
            method = self.mp_start_method or (
                "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn")
            self._encoder = ProcessPoolExecutor(
                self.encode_jobs, mp_context=multiprocessing.get_context(method), initializer=_encoder_init
            )
        self._unstored[entry.hash] = (entry, raw, ctx, self._encoder.submit(encode_block_payload, raw, ctx))
        # Bound the blocks held in memory; validation may run this far ahead of the encoders.
        self._write_encoded(keep=4 * self.encode_jobs + 4)

    def _write_encoded(self, keep: int) -> None:
        """Append encoded blocks in submission order: every finished one, waiting for as many more as
        it takes to leave at most ``keep`` outstanding."""
        unstored = self._unstored
        while unstored:
            block_hash = next(iter(unstored))
            entry, raw, ctx, fut = unstored[block_hash]
            if not fut.done() and len(unstored) <= keep:
                return
            try:
                mode, payload, fallback = fut.result()
            except Exception:
                # An encoder process died (killed, out of memory): encode here instead.
                mode, payload, fallback = encode_block_payload(raw, ctx)
            if fallback is not None:
                self.store.fallbacks.append((block_hash, fallback))
            entry.block_pos = self.store.put_encoded(raw, mode, payload)
            self._dirty.add(block_hash)
            del unstored[block_hash]

    def _block_data(self, entry: IndexEntry) -> tuple[bytes, Block]:
        recent = self._recent.pop(entry.hash, None)
        if recent is not None:
            return recent
        pending = self._unstored.get(entry.hash)
        raw = pending[1] if pending is not None else self.store.get_block(entry.block_pos)
        return raw, Block.from_bytes(raw)

    def _best_candidate(self) -> IndexEntry | None:
        for cand in self.tree.candidates(self.tip.chainwork):
            fork = self.tree.fork_point(self.tip, cand)
            if all(e.status & HAVE_DATA and not e.failed for e in self.tree.path(cand, fork)):
                return cand
        return None

    def activate_best_chain(self) -> None:
        while True:
            target = self._best_candidate()
            if target is None:
                return
            fork = self.tree.fork_point(self.tip, target)
            while self.tip is not fork:
                self.disconnect_tip()
            for entry in reversed(list(self.tree.path(target, fork))):
                try:
                    self.connect_block(entry)
                except ValidationError as e:
                    self._drop_ahead()
                    self.last_error = e
                    self._mark_failed(entry, e)
                    break

    def _mark_failed(self, entry: IndexEntry, error: ValidationError) -> None:
        """Remember ``entry`` as invalid, with its reason, and its known descendants (in the index)."""
        self.last_failed = entry
        for changed in self.tree.mark_failed(entry, error.reason):
            self._dirty.add(changed.hash)

    def invalid_blocks(self) -> list[tuple[IndexEntry, str | None]]:
        """Every block known to be invalid, lowest first, with Core's reject reason
        ("bad-prevblk" for a descendant of an invalid block)."""
        bad = sorted((e for e in self.tree.entries.values() if e.failed), key=lambda e: e.height)
        return [(e, e.reason) for e in bad]

    # ------------------------------------------------------------------ connect / disconnect
    def _assumed_valid(self, entry: IndexEntry) -> bool:
        if self.assumevalid is None:
            return False
        av = self.tree.get(self.assumevalid)
        return av is not None and av.height >= entry.height and self.tree.ancestor(av, entry.height) is entry

    def connect_block(self, entry: IndexEntry) -> None:
        """Validate ``entry`` (a child of the tip) against the UTXO set and apply it."""
        if entry.prev is not self.tip:
            raise ValueError("connect_block needs a child of the current tip")
        t0 = time.perf_counter()
        raw, block = self._block_data(entry)
        height = entry.height
        txs = block.transactions
        try:
            spent, spent_keys, created, used = _gather_spent(txs, height, self.utxo.get_key)
        except _MissingCoin as e:
            raise ValidationError(
                "bad-txns-inputs-missingorspent", "input spends a missing or spent output", tx=e.args[0], input=e.args[1]
            ) from None
        prev = entry.prev
        check_bip30 = enforce_bip30(height, entry.hash, self.params)
        undo: list[bytes] = []

        def meanwhile() -> None:
            # Work that does not depend on the script verdict, done while the script workers run:
            # this block's undo record, the context-free checks of the block the importer will hand
            # over next, and that block's script checks queued behind this block's.
            undo.append(encode_block_undo(spent))
            upcoming = self._precheck_hinted()
            if upcoming is not None:
                self._check_ahead(entry, txs, created, used, upcoming)

        check_scripts = not self._assumed_valid(entry)
        ahead = self._take_ahead(entry, block, spent, check_scripts)

        result = validate_block(
            block,
            spent,
            height,
            self.params,
            prev_mtp=self.tree.median_time_past(prev),
            mtp_at=lambda h: self.tree.median_time_past(self.tree.ancestor(prev, h)),
            output_exists=self.utxo.have if check_bip30 else None,
            check_pow=False,  # the header tree checked it
            check_scripts=check_scripts,
            pool=self.pool,
            context_free_checked=True,  # process_block ran check_block before storing the block
            while_scripts_run=meanwhile,
            scripts=ahead,
        )
        # Apply: spend, then create, transaction by transaction (UpdateCoins). A passed BIP30 check
        # has just looked every new output up, so adding them needs no second disk lookup.
        spend_key, add_outputs = self.utxo.spend_key, self.utxo.add_tx_outputs
        for tx_index, tx in enumerate(txs):
            if tx_index:
                for key in spent_keys[tx_index - 1]:
                    spend_key(key)
            add_outputs(tx, height, tx_index == 0, absent=check_bip30)
        undo_raw = undo[0]
        entry.undo_pos = self.store.put_undo(entry.hash, prev.hash, undo_raw)
        entry.status |= HAVE_UNDO | CONNECTED_ONCE
        self._dirty.add(entry.hash)
        self.tip = entry
        s = self.stats
        s.blocks += 1
        s.txs += len(block.transactions)
        s.inputs += result.inputs
        s.inputs_script_checked += result.inputs_verified
        s.bytes += len(raw)
        s.seconds_validating += time.perf_counter() - t0

    # Script checks of the next block, started early. While block N's scripts run, the importer has
    # usually handed over block N+1 (hint_next); its spent coins are known already (the UTXO set, plus
    # N's new outputs, minus N's spent ones), so its script checks are queued on the workers behind
    # N's. The workers then verify N+1 while this process applies N and stores N+1, instead of idling
    # until N+1 is connected. Nothing is trusted: connect_block gathers N+1's coins the usual way and
    # uses the early checks only if it is the same block, on top of N, with the same flags and
    # exactly the same spent coins; otherwise they are cancelled.
    def _check_ahead(
        self, parent: IndexEntry, parent_txs: list, parent_created: dict, parent_used: set, block: Block
    ) -> None:
        pool = self.pool
        if self._ahead is not None or pool is None or not pool.parallel or self.assumevalid is not None:
            return
        if block.header.prev_hash != parent.hash:
            return
        height = parent.height + 1
        get_key = self.utxo.get_key

        def coin_after_parent(key: bytes) -> Coin | None:
            # The UTXO set as it will be once the parent is connected.
            if key in parent_used:
                return None
            where = parent_created.get(key)
            if where is None:
                return get_key(key)
            out = parent_txs[where[0]].outputs[where[1]]
            if is_unspendable(out.script_pubkey):
                return None
            return _new_tuple(Coin, (height - 1, where[0] == 0, out.value, out.script_pubkey))

        try:
            spent = _gather_spent(block.transactions, height, coin_after_parent)[0]
        except _MissingCoin:
            return  # the block is invalid: connect_block will say why
        flags = script_flags_for_block(height, block.header.hash, self.params)
        try:
            pending = pool.submit(script_jobs(block, spent, flags))
        except RuntimeError:
            return  # a worker died: this block's own checks report it; the next block's are only early
        self._ahead = _ScriptsAhead(block, parent, flags, spent, pending)
        self.stats.scripts_started_early += 1

    def _take_ahead(
        self, entry: IndexEntry, block: Block, spent: list, check_scripts: bool
    ) -> PendingScriptChecks | None:
        """The early script checks if they are exactly this block's (see _check_ahead), else None."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        if (
            check_scripts
            and ahead.block is block
            and ahead.parent is entry.prev
            and ahead.flags == script_flags_for_block(entry.height, entry.hash, self.params)
            and ahead.spent == spent
        ):
            self.stats.scripts_used_early += 1
            return ahead.pending
        ahead.pending.cancel()
        return None

    def _drop_ahead(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.pending.cancel()

    def disconnect_tip(self) -> None:
        """Undo the tip block with its undo data."""
        self._drop_ahead()
        entry = self.tip
        if entry.prev is None:
            raise ValueError("cannot disconnect the genesis block")
        block = self._block_data(entry)[1]
        undo = decode_block_undo(self.store.get_undo(entry.undo_pos))
        if len(undo) != len(block.transactions) - 1:
            raise ValueError(f"undo data of {entry.hash_hex} does not match the block")
        for tx_index in range(len(block.transactions) - 1, -1, -1):
            tx = block.transactions[tx_index]
            txid = tx.txid
            for vout, out in enumerate(tx.outputs):
                if not is_unspendable(out.script_pubkey):
                    self.utxo.spend(txid, vout)
            if tx_index:
                coins = undo[tx_index - 1]
                for txin, coin in zip(reversed(tx.inputs), reversed(coins), strict=True):
                    self.utxo.add(txin.prev_txid, txin.prev_index, coin)
        self.tip = entry.prev
        self._dirty.add(entry.hash)

    # ------------------------------------------------------------------ queries
    def utxo_digest(self) -> bytes:
        """sha256d of the UTXO set serialized as Core's hash_serialized_3 (see UtxoSet.digest and
        docs/utxo-digest.md), in hash byte order: equal digests mean the same coins, pending changes
        included. Display it with ``hash_to_hex`` (reversed, as Core prints it)."""
        return self.utxo.digest()

    def info(self, *, digest: bool = True) -> dict:
        """What ``chain-info`` prints; ``digest=False`` skips ``utxo_digest`` (it reads every coin)."""
        coins, amount = self.utxo.stats()
        extra = {"utxo_digest": hash_to_hex(self.utxo_digest())} if digest else {}
        return {
            "network": self.params.name,
            "height": self.tip.height,
            "best_block_hash": self.tip.hash_hex,
            "chainwork": f"{self.tip.chainwork:064x}",
            "headers": self.tree.best_header.height,
            "utxo_count": coins,
            "utxo_total_amount": amount,
            **extra,
            "disk_bytes_blocks": _du(self.datadir / "blocks"),
            "disk_bytes_chainstate": _du(self.datadir / "chainstate"),
        }

    def export_core(
        self, out_dir: str | Path, start_height: int = 0, end_height: int | None = None, xor_key: bytes | None = None
    ) -> int:
        """Write active-chain blocks [start, end] with their undo data as Core blk/rev files; returns the count."""
        self._write_encoded(keep=0)
        chain = self.active_chain()
        end_height = self.tip.height if end_height is None else end_height
        if not 0 <= start_height <= end_height <= self.tip.height:
            raise ValueError(f"height range {start_height}..{end_height} is outside 0..{self.tip.height}")
        entries = [(e.block_pos, e.undo_pos) for e in chain[start_height : end_height + 1]]
        self.store.export_core(entries, out_dir, xor_key=xor_key)
        return len(entries)

    def active_chain(self) -> list[IndexEntry]:
        return list(reversed(list(self.tree.path(self.tip, None))))


def read_network(datadir: str | Path) -> str:
    """The network an existing chainstate was created for."""
    path = Path(datadir) / "chainstate"
    if not path.is_dir():
        raise ChainstateError(f"{datadir} holds no chainstate")
    # A reader with LMDB's lock table, so a writer in another process never reuses pages under it.
    env = lmdb.open(str(path), max_dbs=8, readonly=True, create=False)
    try:
        try:
            db = env.open_db(b"meta", create=False)
        except lmdb.NotFoundError:
            value = None
        else:
            with env.begin(db=db) as txn:
                value = txn.get(_META_NETWORK)
    finally:
        env.close()
    if value is None:
        raise ChainstateError(f"{datadir}: chainstate has no network record")
    return value.decode()


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0
