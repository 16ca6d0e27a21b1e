"""SwiftSync import of a Bitcoin Core blocks directory (blk and rev files) with a hints file.

1. Scan the blk and rev files once (scan.py: headers and record locations, not the bytes); check the headers (proof of work, difficulty, times) in a
   header tree of our own, so the chainstate is untouched until the result is known.
2. Blocks 1..H of the best header chain (H = the hints' height) are validated independently, in
   parallel, with no UTXO lookups (validate.py): each adds the coins the hints say get spent to a
   salted aggregate and subtracts the coins its inputs spend (from the rev files' undo data).
3. At H the aggregate must be zero, every block valid and no coinbase txid repeated (BIP30). Then the
   UTXO set at H is exactly the outputs the hints mark unspent: the blocks, their undo data, the index
   entries and that UTXO set are written into the chainstate, whose tip becomes H.
4. Blocks after H (and any other branch) go through ordinary validation (chain.importer).

If anything in 2-3 fails (wrong hints, a wrong or missing undo coin, an invalid block: SwiftSync
cannot tell these apart) nothing has been written, and the whole directory is imported the ordinary
way from the chainstate's state before the run: the last point that can be trusted. The result is
then the same chainstate an ordinary import makes, invalid blocks rejected the same way.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from ..chain.chainstate import Chainstate
from ..chain.headers import CONNECTED_ONCE, HAVE_DATA, HAVE_UNDO, HeaderTree, IndexEntry
from ..chain.importer import ImportResult, cyclic_gc_paused, import_blocks
from ..consensus.errors import ValidationError
from ..errors import ParseError
from ..primitives.block import Block, BlockHeader
from ..primitives.encoding import read_compact_size
from ..primitives.hashes import hash_to_hex
from ..storage.blockfiles import BlocksDir
from ..storage.blockstore import encode_block_payload
from ..storage.undo import encode_block_undo
from .aggregate import new_salt
from .executor import ExecutorError, LocalExecutor, RayExecutor
from .hints import Hints
from .scan import ScannedBlock, scan_blocks_dir
from .validate import BlockWork, RangeResult, RangeTask, merge

# Tasks per worker process: a block's cost is not proportional to its bytes (legacy sighashes are
# quadratic in a tx's inputs), so a few big tasks leave one worker finishing alone while the others
# idle (~0.3-0.5 s of the bench chain's ~8 s with 4 per worker, by its per-block times); 16 keep that
# tail near zero for a few milliseconds of scheduling and result pickling.
TASKS_PER_WORKER = 16


def _monotonic_at_process_start() -> float:
    """time.monotonic() at the moment this process started (Linux: its start time in /proc, 10 ms
    resolution; elsewhere: when this module was imported)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.monotonic() - age
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic()


PROCESS_START = _monotonic_at_process_start()


def since_start(t: float | None = None) -> float:
    """Seconds from this process's start to ``t`` (a time.monotonic() value, of any process; default now)."""
    return round((time.monotonic() if t is None else t) - PROCESS_START, 4)


@dataclass
class SwiftSyncResult:
    """What happened: ``mode`` is "swiftsync" (blocks 1..H validated by SwiftSync, the rest the
    ordinary way), "fallback" (SwiftSync failed, ``fallback_reason`` says why, everything imported
    the ordinary way) or "ordinary" (SwiftSync not applicable, e.g. a chainstate that is not empty)."""

    mode: str
    hints_height: int
    executor: str
    jobs: int
    blocks_swiftsync: int = 0
    inputs_swiftsync: int = 0
    inputs_script_checked: int = 0
    utxos_from_hints: int = 0
    fallback_reason: str | None = None
    failure: dict | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    # When things happened, in seconds since the process started (see ``since_start``), and per
    # validation worker (by pid) when it started and finished its first and last task and how long
    # it was busy: where the two cores were idle.
    timeline: dict[str, float] = field(default_factory=dict)
    workers: dict[int, dict[str, float]] = field(default_factory=dict)
    # CPU seconds of the validation workers, all together, per phase (validate.PHASES) and in all
    validate_cpu: dict[str, float] = field(default_factory=dict)
    ordinary: ImportResult | None = None

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "ordinary"}
        if self.ordinary is not None:
            o = self.ordinary
            out["ordinary"] = {"blocks_seen": o.blocks_seen, "blocks_accepted": o.blocks_accepted,
                               "blocks_skipped": o.blocks_skipped, "invalid": o.invalid,
                               "orphans_left": o.orphans_left}  # fmt: skip
        return out


class _Fallback(Exception):
    """SwiftSync cannot vouch for the chain; import the ordinary way. args[0]: why, args[1]: detail."""


def _header_chain(params, records: Sequence[ScannedBlock], now: int) -> HeaderTree:
    """A header tree of every block's header whose ancestry is present and valid (any file order)."""
    tree = HeaderTree(params)
    waiting: dict[bytes, list[BlockHeader]] = {}
    for r in records:
        waiting.setdefault(r.header.prev_hash, []).append(r.header)
    ready = [tree.genesis.hash]
    while ready:
        for header in waiting.pop(ready.pop(), ()):
            try:
                entry = tree.add_header(header, now=now)
            except ValidationError:
                continue  # an invalid header and its descendants are not candidates
            ready.append(entry.hash)
    return tree


def _split(works: list[BlockWork], parts: int) -> list[list[BlockWork]]:
    """Consecutive runs of blocks of about equal bytes (the work is about proportional to size)."""
    total = sum(w.size for w in works) or 1
    out: list[list[BlockWork]] = [[]]
    acc = 0
    for w in works:
        if out[-1] and acc >= total * len(out) / parts:
            out.append([])
        out[-1].append(w)
        acc += w.size
    return [o for o in out if o]


def swiftsync_import(
    cs: Chainstate,
    source: BlocksDir,
    hints: Hints,
    executor: LocalExecutor | RayExecutor,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    flush_every: int = 500,
    salt: bytes | None = None,
) -> SwiftSyncResult:
    """Import ``source`` into ``cs`` using ``hints`` (see the module docstring).

    ``progress(stage, done, total)`` is called as blocks are read and validated."""
    result = SwiftSyncResult("swiftsync", hints.height, executor.name, executor.jobs)
    timeline = result.timeline
    timeline["entered"] = since_start()
    t0 = time.perf_counter()
    try:
        records: list[ScannedBlock] | None = scan_blocks_dir(source)
    except ParseError as e:
        records = None  # e.g. a rev file matching no block: the ordinary import needs no undo data
        scan_error = str(e)
    result.seconds["scan"] = time.perf_counter() - t0
    timeline["scanned"] = since_start()
    synced: set[bytes] = set()
    with cyclic_gc_paused():
        try:
            if records is None:
                raise _Fallback(f"the blocks directory cannot be scanned for SwiftSync: {scan_error}", None)
            if cs.tip.height != 0:
                result.mode = "ordinary"
                raise _Fallback(f"the chainstate is at height {cs.tip.height}; SwiftSync starts from genesis", None)
            synced = _swiftsync(cs, records, hints, executor, result, progress, salt)
        except _Fallback as e:
            if result.mode != "ordinary":
                result.mode = "fallback"
            result.fallback_reason, result.failure = e.args[0], e.args[1]
            synced = set()
    t = time.perf_counter()
    if records is None:
        rest_count = None
        rest_blocks = source.iter_blocks()
    else:
        rest = [r for r in records if r.block_hash not in synced]
        rest_count = len(rest)
        rest_blocks = (r.block.read() for r in rest)
    count = [0]

    def ordinary_progress(_nbytes: int, _inputs: int) -> None:
        count[0] += 1
        if progress:
            progress("ordinary", count[0], rest_count or count[0])

    result.ordinary = import_blocks(cs, rest_blocks, ordinary_progress, flush_every=flush_every)
    result.seconds["ordinary"] = time.perf_counter() - t
    timeline["done"] = since_start()
    result.seconds["total"] = time.perf_counter() - t0
    return result


def _swiftsync(
    cs: Chainstate,
    records: list[ScannedBlock],
    hints: Hints,
    executor: LocalExecutor | RayExecutor,
    result: SwiftSyncResult,
    progress: Callable[[str, int, int], None] | None,
    salt: bytes | None,
) -> set[bytes]:
    height = hints.height
    t = time.perf_counter()
    tree = _header_chain(cs.params, records, cs.now())
    best = tree.best_header
    if best.height < height:
        raise _Fallback(f"the blocks directory's best valid header chain ends at {best.height}, below the hints' {height}", None)
    chain = list(reversed(list(tree.path(tree.ancestor(best, height), tree.genesis))))
    by_hash = {r.block_hash: r for r in records}
    mtp = tuple(tree.median_time_past(e) for e in [tree.genesis, *chain])
    works = []
    for e in chain:
        r = by_hash[e.hash]
        works.append(BlockWork(e.height, e.hash, r.block, r.undo, r.block.size, tuple(hints.for_block(e.height))))
    result.seconds["headers"] = time.perf_counter() - t
    result.timeline["headers"] = since_start()

    t = time.perf_counter()
    salt = salt or new_salt()
    parts = _split(works, executor.jobs * TASKS_PER_WORKER if executor.jobs > 1 else 1)
    tasks = [RangeTask(cs.params.name, salt, tuple(p), 0, mtp) for p in parts]
    partial: list[RangeResult] = []
    done = 0
    # Blocks and undo records go into the block store while the workers validate (where storing them
    # is plain appending: raw store, no tx index); nothing durable refers to them until the flush at H.
    early = EarlyRecords(cs, chain, works) if cs.txindex is None else None

    def overlap() -> None:
        result.timeline["workers_started"] = since_start()
        if early is not None:
            early.write()
            result.timeline["records_written"] = since_start()

    runs = executor.run(tasks, started=overlap)
    try:
        try:
            for r in runs:
                partial.append(r)
                done += r.blocks
                if progress:
                    progress("swiftsync", done, height)
                if r.failure is not None:
                    break  # no need to validate the rest: the fallback validates everything again
        except ExecutorError as e:
            raise _Fallback(f"the {executor.name} executor failed: {e}", None) from None
        finally:
            runs.close()  # stops the workers (and a Ray instance started for this run) at once
        total = merge(partial)
        result.seconds["validate"] = time.perf_counter() - t
        _note_workers(result, partial)
        result.validate_cpu = {**total.phase_cpu, "workers": total.cpu_s}
        result.blocks_swiftsync = total.blocks
        result.inputs_swiftsync = total.inputs
        result.inputs_script_checked = total.inputs_verified
        bad = verdict(total, len(works))
        if bad is not None:
            raise _Fallback(*bad)
    except BaseException:
        if early is not None:
            early.discard()  # the fallback then stores every block where an ordinary import would
        raise

    t = time.perf_counter()
    install(cs, chain, works, total, executor.jobs if isinstance(executor, LocalExecutor) else 1,
            stored=early.stored if early is not None else None)  # fmt: skip
    result.utxos_from_hints = len(total.unspent)
    result.seconds["write"] = time.perf_counter() - t
    result.timeline["written"] = since_start()
    return {cs.params.genesis.header.hash, *(w.block_hash for w in works)}


def _note_workers(result: SwiftSyncResult, partial: list[RangeResult]) -> None:
    """The validation part of the timeline, from the tasks' own clocks."""
    timed = [r for r in partial if r.finished]
    tl = result.timeline
    tl["validated"] = since_start()
    if not timed:
        return
    tl["first_task_started"] = since_start(min(r.started for r in timed))
    firsts = [r.first_done for r in timed if r.first_done]
    if firsts:
        tl["first_block_validated"] = since_start(min(firsts))
    tl["last_block_validated"] = since_start(max(r.finished for r in timed))
    for r in timed:
        w = result.workers.setdefault(r.pid, {"start": since_start(r.started), "end": 0.0, "busy": 0.0, "tasks": 0})
        w["start"] = min(w["start"], since_start(r.started))
        w["end"] = max(w["end"], since_start(r.finished))
        w["busy"] = round(w["busy"] + r.finished - r.started, 4)
        w["tasks"] += 1


def verdict(total: RangeResult, expected_blocks: int) -> tuple[str, dict | None] | None:
    """None if the summed results prove blocks 1..H valid and the hints right; else (why, detail):
    a failed block, blocks missing, a non-zero aggregate, or a repeated coinbase txid (BIP30)."""
    if total.failure is not None:
        f = total.failure
        return f"block {f.height} failed: {f.reason}", f.__dict__
    if total.blocks != expected_blocks:
        return f"only {total.blocks} of {expected_blocks} blocks came back from the executor", None
    if total.aggregate != 0:
        return ("the aggregate is not zero at the hints' height: wrong hints or wrong undo data",
                {"aggregate": f"{total.aggregate:064x}"})  # fmt: skip
    seen: dict[bytes, int] = {}
    for h, txid in total.coinbase_txids:
        if txid in seen:
            return f"coinbase txid {hash_to_hex(txid)} repeats at {seen[txid]} and {h} (BIP30)", None
        seen[txid] = h
    return None


class EarlyRecords:
    """Blocks 1..H and their undo records appended to the block store before the verdict at H.

    Appending is all a raw store without a tx index does to store a block, and it needs no verdict:
    until the flush at H nothing durable refers to these records (the index entries get their
    locations in ``install``), so a process killed meanwhile leaves bytes that the chainstate gives
    back when it is opened again, and ``discard`` gives them back at once when SwiftSync fails (the
    ordinary fallback then stores every block exactly where an ordinary import would)."""

    def __init__(self, cs: Chainstate, chain: list[IndexEntry], works: list[BlockWork]):
        self.cs, self.chain, self.works = cs, chain, works
        # Per block: (transaction count, block location, undo location), in height order.
        self.stored: list[tuple[int, tuple, tuple]] = []
        self.started = False

    def write(self) -> None:
        self.started = True
        store = self.cs.store
        empty_undo = encode_block_undo([])
        for entry, work in zip(self.chain, self.works, strict=True):
            raw, undo = work.load()
            block_pos = store.put_block(raw)
            # A block with only its coinbase spends nothing: its undo record is the empty CBlockUndo.
            undo_pos = store.put_undo(work.block_hash, entry.prev.hash, undo if undo is not None else empty_undo)  # type: ignore[union-attr]
            self.stored.append((read_compact_size(raw, 80)[0], block_pos, undo_pos))
        store.sync()  # durable before the flush at H can refer to them

    def discard(self) -> None:
        """Give back every byte appended since the chainstate's durable index (this run's records)."""
        if not self.started:
            return
        self.stored = []
        entries = list(self.cs.tree.entries.values())
        self.cs.store.reclaim_unreferenced(
            (e.block_pos for e in entries if e.block_pos is not None),
            (e.undo_pos for e in entries if e.undo_pos is not None),
        )


def install(
    cs: Chainstate, chain: list[IndexEntry], works: list[BlockWork], total: RangeResult, jobs: int,
    stored: list[tuple[int, tuple, tuple]] | None = None,
) -> None:
    """Write blocks 1..H, their undo data, index entries and the UTXO set at H; tip := H; flush once.

    ``stored``: the blocks and undo records were appended already (``EarlyRecords.stored``): only
    the index entries get their locations here."""
    # process_headers checks the headers again (in the chainstate's own tree) and marks them dirty,
    # so the one flush below writes the index entries updated here.
    cs.process_headers(e.header for e in chain)
    entry = cs.tree.genesis
    if stored is None:
        placed: Iterator[tuple] = _store_now(cs, works, jobs)
    elif len(stored) != len(works):
        raise ValueError(f"{len(stored)} blocks stored ahead for {len(works)} blocks")
    else:
        placed = ((w, *where) for w, where in zip(works, stored, strict=True))
    for work, tx_count, block_pos, undo_pos in placed:
        entry = cs.tree.get(work.block_hash)
        if entry is None or entry.height != work.height:
            raise ValueError(f"header of block {hash_to_hex(work.block_hash)} was not accepted by the chainstate")
        entry.block_pos, entry.undo_pos, entry.tx_count = block_pos, undo_pos, tx_count
        entry.status |= HAVE_DATA | HAVE_UNDO | CONNECTED_ONCE
    # Keys and encodings were made by the workers; the set is empty (SwiftSync starts from genesis).
    cs.utxo.load_new_coins([(key, value, coin) for (key, value), (_, _, coin) in
                            zip(total.unspent_encoded, total.unspent, strict=True)])  # fmt: skip
    cs.tip = entry
    cs.flush()


def _store_now(cs: Chainstate, works: list[BlockWork], jobs: int) -> Iterator[tuple]:
    """(work, tx count, block location, undo location) of each block, appended now in height order."""
    store = cs.store
    empty_undo = encode_block_undo([])
    for work, raw, undo, block_pos in _stored_blocks(cs, works, jobs):
        entry = cs.tree.get(work.block_hash)
        if entry is None or entry.prev is None:
            raise ValueError(f"header of block {hash_to_hex(work.block_hash)} was not accepted by the chainstate")
        undo_pos = store.put_undo(work.block_hash, entry.prev.hash, undo if undo is not None else empty_undo)
        yield work, read_compact_size(raw, 80)[0], block_pos, undo_pos


def _stored_blocks(
    cs: Chainstate, works: list[BlockWork], jobs: int
) -> Iterator[tuple[BlockWork, bytes, bytes | None, tuple]]:
    """Store blocks 1..H in height order; yields (work, raw, undo, block location).

    In a codec store each block's chain context is taken from the tx index in order (as the chainstate
    does when it stores a block), but the encoding, which costs about as much as validating, runs on
    ``jobs`` processes, a bounded window ahead of the records being appended."""
    store, txindex = cs.store, cs.txindex
    if txindex is None or not store.codec_available or jobs <= 1:
        for work in works:
            raw, undo = work.load()
            pos = store.put_block(raw)
            if txindex is not None:
                txindex.add_block(raw)
            yield work, raw, undo, pos
        return
    window: deque = deque()
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        try:
            for work in works:
                raw, undo = work.load()
                block = Block.from_bytes(raw)
                context = txindex.snapshot(block)
                window.append((work, raw, undo, context, pool.submit(encode_block_payload, raw, context)))
                txindex.add_block(block)
                while window and (len(window) > 4 * jobs or window[0][4].done()):
                    yield _put_encoded(store, *window.popleft())
            while window:
                yield _put_encoded(store, *window.popleft())
        finally:
            for item in window:
                item[4].cancel()


def _put_encoded(store, work: BlockWork, raw: bytes, undo: bytes | None, context, fut: Future) -> tuple:
    try:
        mode, payload, fallback = fut.result()
    except (BrokenProcessPool, OSError):
        mode, payload, fallback = encode_block_payload(raw, context)  # an encoder died: encode here
    if fallback is not None:
        store.fallbacks.append((work.block_hash, fallback))
    return work, raw, undo, store.put_encoded(raw, mode, payload)
