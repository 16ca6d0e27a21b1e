"""Script checks on all cores, like Core's check queue.

A block's inputs are cut into batches (whole small transactions grouped, big ones split into input
ranges) and fed to worker processes; the caller keeps validating the block's other rules meanwhile and
collects the verdict afterwards. With the fork start method, standing workers (started once, see
``_Crew``) receive each block's batches as plain data and take them from a shared counter (as the
caller does once it asks for the result); they take up to two blocks in flight (the next one queued
behind the current one), and a block submitted while both are taken gets workers forked for it alone,
which inherit the batches. Otherwise batches go to a reusable process
pool as pickled plain data. Each worker parses a transaction and builds its
``PrecomputedTxData`` once, and keeps them while it works on the same block, so every batch of a
split transaction reuses them.

The reported failure is deterministic: the lowest (tx, input) that fails, whatever the scheduling.
With one job everything runs in the calling process, in order.

Workers only receive plain data (tx bytes, (value, script) pairs, flags), so the pool works with
both the fork and the spawn start methods.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from ..primitives.transaction import Transaction, TxOut


@dataclass(frozen=True)
class ScriptJob:
    """Every input of one transaction to verify: its index in the block, the tx (bytes or parsed),
    the outputs its inputs spend (one per input), and the script flags."""

    tx_index: int
    tx: bytes | Transaction
    spent_outputs: Sequence[TxOut]
    flags: int


@dataclass(frozen=True)
class ScriptFailure:
    tx: int
    input: int
    code: str  # Core's script error name


@dataclass(frozen=True)
class ScriptCheckResult:
    inputs_verified: int
    failure: ScriptFailure | None


# One work item: (tx index, tx bytes or Transaction, ((value, script), ...) or TxOuts, flags, first, end).
_Item = tuple[int, "bytes | Transaction", Sequence, int, int, int]

# Per-process cache: the block being checked (a token) and its parsed txs with precomputed data.
_cache_token: object = None
_cache: dict[int, tuple] = {}


def _prepared(token: object, tx_index: int, tx_data, spent) -> tuple:
    global _cache_token, _cache
    from ..script import PrecomputedTxData

    if token != _cache_token:
        _cache_token, _cache = token, {}
    entry = _cache.get(tx_index)
    if entry is None:
        tx = tx_data if isinstance(tx_data, Transaction) else Transaction.from_bytes(tx_data)
        outs = [o if isinstance(o, TxOut) else TxOut(o[0], o[1]) for o in spent]
        entry = _cache[tx_index] = (tx, outs, PrecomputedTxData(tx, outs))
    return entry


def verify_batch(token: object, items: Sequence[_Item]) -> tuple[int, tuple[int, int, str] | None]:
    """Verify a batch in order; stop at the first failure, which is the batch's lowest.
    Returns (inputs verified, (tx, input, error code) or None)."""
    from ..script import ScriptError, verify_tx_input
    from ..script.fastpath import verify_p2pkh_run

    verified = 0
    for tx_index, tx_data, spent, flags, first, end in items:
        tx, outs, pre = _prepared(token, tx_index, tx_data, spent)
        i = first
        while i < end:
            # Runs of plain P2PKH inputs in one loop; the first input of a tx (which checks the tx
            # against its outputs and flags), and any input that loop does not prove, one by one.
            j = verify_p2pkh_run(tx, outs, flags, pre, i, end)
            verified += j - i
            if j == end:
                break
            try:
                verify_tx_input(tx, j, outs, flags, pre)
            except ScriptError as e:
                return verified, (tx_index, j, e.code)
            verified += 1
            i = j + 1
    return verified, None


# Batches of the checks being forked for: a forked worker inherits them, so nothing is pickled.
_inherited: tuple[object, list] | None = None


def _take(counter, stop) -> int:
    """The next batch number to verify, or -1 when none is left (or a lower failure makes the rest moot).
    ``counter`` is the shared next-batch index, ``stop`` the lowest failed batch so far (a huge number
    while none failed; -1 once cancelled)."""
    with counter.get_lock():
        k = counter.value
        if k > stop.value:
            return -1
        counter.value = k + 1
    return k


def _run_shared(token: object, batches: list, counter, stop, between=None) -> list[tuple[int, tuple]]:
    """Verify batches taken from the shared counter until none is left; returns [(batch, outcome)].
    ``between`` (if given) is called after every batch."""
    done = []
    n = len(batches)
    while True:
        k = _take(counter, stop)
        if k < 0 or k >= n:
            return done
        outcome = verify_batch(token, batches[k])
        if between is not None:
            between()
        done.append((k, outcome))
        if outcome[1] is not None:
            with stop.get_lock():
                if k < stop.value:
                    stop.value = k


def _forked_worker(conn, counter, stop) -> None:
    """A process forked for one block's checks: it inherited the batches (``_inherited``), takes them
    from the shared counter alongside the caller, and sends back every outcome in one message."""
    token, batches = _inherited  # type: ignore[misc]
    gc.freeze()  # see _crew_worker
    try:
        conn.send(_run_shared(token, batches, counter, stop))
    finally:
        conn.close()


def _crew_worker(conn, slots, parent: int) -> None:
    """A long-lived worker of a ``_Crew``: for each submission it receives ``(slot, token, batches)``
    (plain data), takes batches from that slot's shared counter alongside the caller, and sends back
    every outcome in one message. Submissions are served in the order they were sent. ``None`` or a
    closed pipe ends it, and so does the parent's death."""
    # Everything inherited from the parent (its UTXO cache, when forked mid-import) is out of the cyclic
    # collector's reach: its passes would walk those objects and, by touching them, copy their pages.
    # The collector itself stays as the parent had it: paused when forked by an importer (script
    # checks make no reference cycles: verifying every input of the bench chain with it off leaves it
    # nothing), and its young passes are otherwise a measurable share of a worker's time.
    gc.freeze()
    inbox: list = []

    def drain() -> None:
        # Take in submissions queued behind the one in hand: the caller's send of a big block blocks
        # until it is read, and the caller should be verifying its share meanwhile, not waiting.
        while conn.poll():
            inbox.append(conn.recv())

    try:
        while True:
            if not inbox:
                while not conn.poll(1.0):
                    if os.getppid() != parent:  # orphaned (the parent was killed): nothing to report to
                        return
                drain()
            msg = inbox.pop(0)
            if msg is None:
                return
            slot, token, batches = msg
            counter, stop = slots[slot]
            conn.send(_run_shared(token, batches, counter, stop, drain))
    except (EOFError, OSError, KeyboardInterrupt):
        return


class _Crew:
    """Worker processes started once and fed block after block (instead of a fork per block).

    Forking per block makes both processes pay copy-on-write page faults for every page either one
    writes while the child lives (the importer's heap is mostly a big UTXO cache), which cost about
    as much as the rest of the per-block overhead; a standing worker pays for a pickled copy of the
    block's transactions and spent outputs instead.

    Up to ``SLOTS`` submissions may be in flight: a chainstate hands over the next block's checks
    before it has collected the current block's verdict, so the workers go straight on to them
    instead of idling while the caller applies the block. Each slot has its own shared counter and
    stop value (handed over at start); workers serve submissions in order, and outcomes are
    collected per slot (an older submission's outcomes are read first and kept)."""

    SLOTS = 2

    def __init__(self, n: int, method: str):
        ctx = multiprocessing.get_context(method)
        self.slots = [(ctx.Value("q", 0), ctx.Value("q", 1 << 62)) for _ in range(self.SLOTS)]
        self.workers: list = []
        self.in_flight: list[int] = []  # slots, oldest first
        self._collected: dict[int, list] = {}
        self.broken = False
        try:
            for _ in range(n):
                mine, theirs = ctx.Pipe(duplex=True)
                proc = ctx.Process(target=_crew_worker, args=(theirs, self.slots, os.getpid()), daemon=True)
                proc.start()
                theirs.close()  # the child holds it: its death reads as EOF here
                self.workers.append((proc, mine))
        except BaseException:
            self.close()
            raise

    @property
    def busy(self) -> bool:
        """Every slot is taken (by submissions not yet collected)."""
        return len(self.in_flight) + len(self._collected) >= self.SLOTS

    def start(self, token: object, batches: list) -> int:
        """Hand a block's batches (portable form) to every worker; returns the slot. The workers
        start at once, or when they are done with the submissions before it."""
        used = set(self.in_flight) | set(self._collected)
        slot = next(k for k in range(self.SLOTS) if k not in used)
        counter, stop = self.slots[slot]
        with counter.get_lock():
            counter.value = 0
        with stop.get_lock():
            stop.value = 1 << 62
        self.in_flight.append(slot)
        msg = (slot, token, batches)
        try:
            for _proc, conn in self.workers:
                conn.send(msg)
        except (OSError, ValueError) as e:
            self.broken = True
            self.close()
            raise RuntimeError(f"a script-check worker died: {e!r}") from e
        return slot

    def collect(self, slot: int) -> list:
        """Every worker's outcomes for the submission in ``slot`` (each finishes the batch in hand
        first). Raises RuntimeError if one died; the crew is then broken and must be replaced."""
        if self.broken:
            raise RuntimeError("a script-check worker died")
        while slot not in self._collected:
            oldest = self.in_flight.pop(0)
            got: list = []
            dead = None
            for _proc, conn in self.workers:
                try:
                    got.extend(conn.recv())
                except (EOFError, OSError) as e:
                    dead = dead or e
            if dead is not None:
                self.broken = True
                self.close()
                raise RuntimeError(f"a script-check worker died: {dead!r}")
            self._collected[oldest] = got
        return self._collected.pop(slot)

    def close(self) -> None:
        for proc, conn in self.workers:
            try:
                if proc.is_alive():
                    conn.send(None)
            except (OSError, ValueError):
                pass
            conn.close()
        for proc, _conn in self.workers:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self.workers = []
        self.in_flight = []
        self._collected = {}


def _default_start_method() -> str:
    # fork is fastest to start, but forking a process that runs other threads can deadlock a child.
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _make_batches(
    jobs: Sequence[ScriptJob], batch_inputs: int, portable: bool, max_pieces: int = 1 << 30
) -> list[list[_Item]]:
    """Group small transactions into batches of about ``batch_inputs`` inputs; split a larger one
    into at most ``max_pieces`` input ranges (each piece costs a copy, a parse and a precomputation
    of the whole transaction in some worker, so a big tx is cut no finer than the processes need)."""
    batches: list[list[_Item]] = []
    current: list[_Item] = []
    room = batch_inputs
    for job in jobs:
        n = len(job.spent_outputs)
        if portable:
            tx_data = job.tx.serialize() if isinstance(job.tx, Transaction) else bytes(job.tx)
            spent = tuple((o.value, o.script_pubkey) for o in job.spent_outputs)
        else:
            tx_data, spent = job.tx, job.spent_outputs
        item = (job.tx_index, tx_data, spent, int(job.flags))
        if n > batch_inputs:
            piece = max(batch_inputs, -(-n // max_pieces))
            for start in range(0, n, piece):
                batches.append([(*item, start, min(n, start + piece))])
            continue
        if n > room and current:
            batches.append(current)
            current, room = [], batch_inputs
        current.append((*item, 0, n))
        room -= n
    if current:
        batches.append(current)
    return batches


class PendingScriptChecks:
    """Script checks under way; ``result()`` waits for the verdict, ``cancel()`` drops them.

    Like Core's master thread, the caller joins in when it asks for the result: it takes batches
    the workers have not started yet (from the back of the queue) and verifies them itself.
    """

    def __init__(
        self,
        token: object,
        batches: list[list[_Item]],
        futures: list[Future] | None = None,
        executor: ProcessPoolExecutor | None = None,
        shared: tuple | None = None,
        crew: _Crew | None = None,
        slot: int = 0,
    ):
        self._token = token
        self._batches = batches
        self._futures = futures
        self._executor = executor  # owned: a pool forked for these checks alone
        # Forked for these checks: (counter, stop, [(process, result connection)]); see ScriptCheckPool.submit.
        self._shared = shared
        # Standing workers of the pool working on these checks (then ``shared`` is (counter, stop, [])).
        self._crew = crew
        self._slot = slot
        self._result: ScriptCheckResult | None = None
        self._cancelled = False

    def cancel(self) -> None:
        """Drop these checks (never raises: a worker that died has nothing left to hand back)."""
        for f in self._futures or ():
            f.cancel()
        self._cancelled = True
        if self._shared is not None:
            stop = self._shared[1]
            with stop.get_lock():
                stop.value = -1  # workers take no further batch
            try:
                self._join_shared()
            except RuntimeError:
                pass
        self._release()

    def _join_shared(self) -> list:
        """Every forked worker's outcomes (each finishes the batch in hand first); the workers are reaped.
        Raises RuntimeError if one died without reporting."""
        if self._shared is None:
            return []
        _counter, _stop, workers = self._shared
        self._shared = None
        crew, self._crew = self._crew, None
        if crew is not None:
            return crew.collect(self._slot)
        got: list = []
        dead = None
        for proc, conn in workers:
            try:
                got.extend(conn.recv())
            except (EOFError, OSError) as e:
                dead = dead or e
            finally:
                conn.close()
            proc.join()
            if proc.exitcode and dead is None:
                dead = RuntimeError(f"exit code {proc.exitcode}")
        if dead is not None:
            raise RuntimeError(f"a script-check worker died: {dead!r}")
        return got

    def _release(self) -> None:
        if self._executor is not None:
            # Workers finish the batch in hand (batches are small) and exit.
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def result(self) -> ScriptCheckResult:
        if self._result is not None:
            return self._result
        if self._cancelled:
            raise RuntimeError("these script checks were cancelled")
        outcomes: dict[int, tuple[int, tuple | None]] = {}
        if self._shared is not None:
            # Like a worker: take batches from the shared counter until none is left, then gather theirs.
            counter, stop, _workers = self._shared
            try:
                done = _run_shared(self._token, self._batches, counter, stop)
            except BaseException:
                self.cancel()
                raise
            outcomes.update(done)
            outcomes.update(self._join_shared())
        elif self._futures is None:
            # Sequential: in order, stopping at the first failure (the lowest).
            for k, batch in enumerate(self._batches):
                outcomes[k] = verify_batch(self._token, batch)
                if outcomes[k][1] is not None:
                    break
        else:
            try:
                self._collect(outcomes)
            finally:
                self._release()
        return self._finish(outcomes)

    def _collect(self, outcomes: dict[int, tuple[int, tuple | None]]) -> None:
        futures = self._futures or []
        try:
            for k in range(len(futures) - 1, -1, -1):
                # Workers take batches from the front; a batch they have not started can be
                # cancelled and done here. The first one that cannot means they caught up.
                if not futures[k].cancel():
                    break
                outcomes[k] = verify_batch(self._token, self._batches[k])
            pending = {f for k, f in enumerate(futures) if k not in outcomes}
            index = {f: k for k, f in enumerate(futures)}
            while pending:
                best = min((k for k, o in outcomes.items() if o[1] is not None), default=None)
                # Once a batch fails, only the batches before it can change the answer.
                if best is not None and all(k in outcomes for k in range(best)):
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    if not f.cancelled():
                        outcomes[index[f]] = f.result()
        except BrokenProcessPool as e:
            self.cancel()
            raise RuntimeError(f"a script-check worker died: {e}") from e
        except BaseException:
            self.cancel()
            raise

    def _finish(self, outcomes: dict[int, tuple[int, tuple | None]]) -> ScriptCheckResult:
        total = sum(o[0] for o in outcomes.values())
        failed = sorted(o[1] for o in outcomes.values() if o[1] is not None)
        self._result = ScriptCheckResult(total, ScriptFailure(*failed[0]) if failed else None)
        return self._result


class ScriptCheckPool:
    """A reusable pool of script-check workers. ``jobs=1`` checks in the calling process."""

    _tokens = itertools.count()

    def __init__(
        self, jobs: int | None = None, *, start_method: str | None = None, batch_inputs: int | None = None
    ):
        self.jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
        self.start_method = start_method or os.environ.get("PACKETFS_MP_START") or _default_start_method()
        self.batch_inputs = batch_inputs
        self._executor: ProcessPoolExecutor | None = None
        self._crew: _Crew | None = None

    @property
    def parallel(self) -> bool:
        return self.jobs > 1

    def _ensure(self) -> ProcessPoolExecutor:
        if self._executor is None:
            method = self.start_method
            if method == "fork" and threading.active_count() > 1:
                # A long-lived pool forked from a threaded process can inherit a held lock and
                # hang; the fork server forks from a clean single-threaded process instead.
                method = "forkserver"
            ctx = multiprocessing.get_context(method)
            # The calling process is the last of ``jobs``: it verifies batches too (see result()).
            self._executor = ProcessPoolExecutor(max_workers=self.jobs - 1, mp_context=ctx)
        return self._executor

    def _ensure_crew(self) -> _Crew:
        if self._crew is not None and self._crew.broken:
            self._crew.close()
            self._crew = None
        if self._crew is None:
            # Forked while this process has a single thread (a child of a threaded process can inherit
            # a held lock); otherwise from the fork server's clean process.
            method = "fork" if threading.active_count() == 1 else "forkserver"
            self._crew = _Crew(self.jobs - 1, method)
        return self._crew

    def warm_up(self) -> None:
        """Start the workers (and import the script engine in them) before the first block."""
        if not self.parallel:
            return
        if self.start_method == "fork":
            self._ensure_crew()
            return
        ex = self._ensure()
        for f in [ex.submit(verify_batch, None, ()) for _ in range(self.jobs - 1)]:
            f.result()

    def submit(self, jobs: Sequence[ScriptJob]) -> PendingScriptChecks:
        """Start verifying every input of ``jobs`` (ordered by tx index); returns at once."""
        token = (os.getpid(), next(self._tokens))
        total = sum(len(j.spent_outputs) for j in jobs)
        if not self.parallel:
            return PendingScriptChecks(token, _make_batches(jobs, max(total, 1), portable=False))
        # Several batches per process balance the load; a floor keeps the per-batch overhead small.
        size = self.batch_inputs or max(8, -(-total // (self.jobs * 4)))
        if self.start_method == "fork" and (self._crew is None or self._crew.broken or not self._crew.busy):
            # Standing workers get the batches as plain data (see _Crew); the boundaries are those of
            # the caller's own batches, so both sides take the same batch numbers from the counter.
            size = self.batch_inputs or max(8, -(-total // (self.jobs * 16)))
            crew = self._ensure_crew()
            batches = _make_batches(jobs, size, portable=False, max_pieces=self.jobs * 8)
            slot = crew.start(token, _make_batches(jobs, size, portable=True, max_pieces=self.jobs * 8))
            counter, stop = crew.slots[slot]
            return PendingScriptChecks(token, batches, shared=(counter, stop, []), crew=crew, slot=slot)
        if self.start_method == "fork" and threading.active_count() == 1:
            # (Only while the standing workers are busy with other checks not yet collected.)
            # Fork workers for this block alone: they inherit the parsed transactions, so no bytes
            # are pickled and no transaction is parsed twice (forking takes milliseconds). Every
            # process, the caller included once it asks for the result, takes the next batch from a
            # shared counter, so batches can be small (a few inputs' worth of IPC is one locked
            # increment) and nobody waits long for a straggler at the end of the block.
            global _inherited
            size = self.batch_inputs or max(8, -(-total // (self.jobs * 16)))
            batches = _make_batches(jobs, size, portable=False, max_pieces=self.jobs * 8)
            ctx = multiprocessing.get_context("fork")
            counter = ctx.Value("q", 0)
            stop = ctx.Value("q", 1 << 62)
            workers = []
            _inherited = (token, batches)
            try:
                for _ in range(self.jobs - 1):
                    reader, writer = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_forked_worker, args=(writer, counter, stop), daemon=True)
                    proc.start()
                    writer.close()  # the child holds it: its death reads as EOF here
                    workers.append((proc, reader))
            finally:
                _inherited = None
            return PendingScriptChecks(token, batches, shared=(counter, stop, workers))
        ex = self._ensure()
        batches = _make_batches(jobs, size, portable=True, max_pieces=self.jobs)
        return PendingScriptChecks(token, batches, [ex.submit(verify_batch, token, b) for b in batches])

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._crew is not None:
            self._crew.close()
            self._crew = None

    def __enter__(self) -> ScriptCheckPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
