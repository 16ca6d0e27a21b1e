"""The ``local`` backend: K worker processes, each hosting the nodes n with n mod K = its index, moving packet
batches to each other and results to the origin as UDP datagrams on 127.0.0.1 (see transport.py and
docs/compute-fabric.md for why UDP and the reliability protocol).

Control (load a program, collect accumulators and memory, stop) uses each worker's pipe from the parent.
The parent watches the worker processes: one that dies fails the run at once with BackendError; a run that
makes no progress for ``timeout`` seconds fails the same way. A run ends only when every packet is back.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import secrets
import selectors
import time
from dataclasses import dataclass

import numpy as np

from ..packet import WIRE_SIZE, decode, take, to_c, to_wire
from ..runtime.executor import DEFAULT_MAX_STEPS, Batch, NodeGroup
from ..runtime.node import Accumulators
from ..runtime.program import Program
from ..runtime.records import EMIT_DTYPE, BackendError, RunResult, RunStats
from .base import Backend, check_batch, finish_result
from .transport import DRIVER, KIND_DATA, KIND_DONE, KIND_EMIT, FaultInjector, Link, PeerLost
from .workers import stop_workers

ROUNDS_PER_POLL = 16  # a busy worker still reads the network (acks) every few rounds


@dataclass
class _Fault:
    drop_rate: float = 0.0
    dup_rate: float = 0.0
    seed: int = 0


def _worker_main(index: int, workers: int, token: int, fault: _Fault, conn, parent_pid: int) -> None:
    """A worker: one UDP endpoint, the nodes it hosts, a select loop over the socket and the control pipe."""
    link = Link(index, token, FaultInjector(fault.drop_rate, fault.dup_rate, fault.seed * 1000 + index))
    conn.send(("addr", link.addr))
    sel = selectors.DefaultSelector()
    sel.register(link.sock, selectors.EVENT_READ, "net")
    sel.register(conn, selectors.EVENT_READ, "ctl")
    group: NodeGroup | None = None
    inbox: list[np.ndarray] = []
    steps = hops = 0
    flush_pending = False
    try:
        while True:
            if os.getppid() != parent_pid:
                return  # the parent is gone: nobody to report to
            busy = bool(inbox)
            timeout = 0.0 if busy else link.tick()
            for key, _ in sel.select(timeout):
                if key.data == "ctl":
                    msg = conn.recv()
                    if msg[0] == "peers":
                        link.set_peers(msg[1])
                    elif msg[0] == "load":
                        _, prog_bytes, max_steps, run = msg
                        link.reset(run)
                        group = NodeGroup(Program.from_bytes(prog_bytes, strict=False), [n for n in range(_nodes(prog_bytes)) if n % workers == index], max_steps)
                        inbox, steps, hops = [], 0, 0
                        conn.send(("ready", run))
                    elif msg[0] == "collect":
                        acc = group.accumulators().export() if group else {}
                        blocks = [(k, bytes(b)) for k, b in group.memory_blocks()] if (group and msg[1]) else None
                        s = link.stats
                        conn.send(("collected", acc, blocks, {
                            "steps": steps, "hops": hops, "messages": s.sent, "bytes_moved": s.bytes_sent,
                            "retransmits": s.retransmits, "duplicates": s.duplicates,
                        }))  # fmt: skip
                    elif msg[0] == "flush":
                        flush_pending = True
                    elif msg[0] == "stop":
                        return
            arrived = [payload for kind, _sender, payload in link.receive() if kind == KIND_DATA]
            if arrived and group is not None:
                inbox.append(Batch.from_wire_bytes(b"".join(arrived)))  # one conversion per poll
            if inbox and group is not None:
                local, away, done, emits, n_steps, n_hops = group.execute_batch(Batch.cat(inbox), max_rounds=ROUNDS_PER_POLL)
                steps += n_steps
                hops += n_hops
                inbox = [local] if local.n else []
                if away.n:
                    dest_worker = away.node % np.uint32(workers)
                    for w in np.unique(dest_worker):
                        part = away if len(np.unique(dest_worker)) == 1 else away.take(dest_worker == w)
                        link.send_records(int(w), KIND_DATA, part.to_wire_bytes())
                if emits:
                    link.send_records(DRIVER, KIND_EMIT, np.concatenate(emits).tobytes())
                if done.n:
                    link.send_records(DRIVER, KIND_DONE, done.to_wire_bytes())
            link.tick()
            if flush_pending and not inbox and not link.busy():
                conn.send(("flushed",))  # everything this worker sent has been acknowledged
                flush_pending = False
    except PeerLost as e:
        conn.send(("error", f"worker {index}: {e}"))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return
    except Exception as e:  # a bug must reach the user as a failed run, not a silent hang
        try:
            conn.send(("error", f"worker {index} failed: {type(e).__name__}: {e}"))
        except (BrokenPipeError, OSError):
            pass
    finally:
        link.close()


def _nodes(prog_bytes: bytes) -> int:
    import json

    return int(json.loads(prog_bytes.partition(b"\n")[0])["num_nodes"])


class LocalBackend(Backend):
    """K worker processes on this machine, packets between them as UDP datagrams on loopback.

    Options: ``drop_rate``/``dup_rate``/``seed``: drop and duplicate datagrams on purpose (every endpoint,
    data and acks); ``timeout``: seconds without progress before the run fails; ``start_method``:
    multiprocessing start method (default fork where available).
    """

    name = "local"

    def __init__(
        self,
        nodes: int | None = None,
        *,
        drop_rate: float = 0.0,
        dup_rate: float = 0.0,
        seed: int = 0,
        timeout: float = 60.0,
        start_method: str | None = None,
    ):
        super().__init__(nodes)
        self.fault = _Fault(drop_rate, dup_rate, seed)
        FaultInjector(drop_rate, dup_rate)  # validates the rates now
        self.timeout = timeout
        methods = mp.get_all_start_methods()
        self.ctx = mp.get_context(start_method or ("fork" if "fork" in methods else "spawn"))
        self.procs: list = []
        self.conns: list = []
        self.link: Link | None = None
        self.run_id = 0
        self.broken: str | None = None

    @property
    def workers(self) -> int:
        return len(self.procs)

    def _start(self, k: int) -> None:
        token = secrets.randbits(64)
        self.link = Link(DRIVER, token, FaultInjector(self.fault.drop_rate, self.fault.dup_rate, self.fault.seed * 1000 + 999))
        for i in range(k):
            parent, child = self.ctx.Pipe()
            p = self.ctx.Process(
                target=_worker_main, args=(i, k, token, self.fault, child, os.getpid()), daemon=True, name=f"packetfs-node-{i}"
            )
            p.start()
            child.close()
            self.procs.append(p)
            self.conns.append(parent)
        addrs = {}
        for i, c in enumerate(self.conns):
            if not c.poll(30):
                self.close()
                raise BackendError(f"worker {i} did not start within 30 s")
            addrs[i] = c.recv()[1]
        addrs[DRIVER] = self.link.addr
        self.link.set_peers(addrs)
        for c in self.conns:
            c.send(("peers", addrs))

    def close(self) -> None:
        stop_workers(self.conns, self.procs)
        self.procs, self.conns = [], []
        if self.link is not None:
            self.link.close()
            self.link = None

    def _fail(self, message: str) -> BackendError:
        self.broken = message
        self.close()
        return BackendError(message)

    def _check_workers(self) -> None:
        for i, p in enumerate(self.procs):
            if not p.is_alive():
                raise self._fail(f"local backend: worker {i} (pid {p.pid}) died with exit code {p.exitcode} during the run")

    def _lost_pipe(self, what: str) -> BackendError:
        """A control pipe closed under us. A killed worker closes its pipe as it exits, and the selector may
        report the pipe's EOF before the process's sentinel: give it a moment, so that a dead worker is
        named as such rather than reported as a pipe error."""
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            self._check_workers()  # raises, naming the worker, once one is seen dead
            time.sleep(0.02)
        return self._fail(f"local backend: {what}")

    def run(
        self,
        program: Program,
        packets: np.ndarray,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        collect_memory: bool = False,
    ) -> RunResult:
        t0 = time.perf_counter()
        batch = check_batch(packets)
        if self.broken:
            raise BackendError(f"local backend is unusable after an earlier failure: {self.broken}")
        if not self.procs:
            self._start(self.worker_count(program))
        k = self.workers
        self.run_id += 1
        link = self.link
        link.reset(self.run_id)
        prog_bytes = program.to_bytes()
        for c in self.conns:
            c.send(("load", prog_bytes, max_steps, self.run_id))
        self._expect_all("ready")

        wire = to_wire(batch)
        dest = batch["next_node_id"] % np.uint32(k)
        for w in range(k):
            sel = take(wire, dest == w)
            if len(sel):
                link.send_records(w, KIND_DATA, sel.tobytes())
        done_raw: list[bytes] = []
        emit_raw: list[bytes] = []
        got = 0
        last_progress = time.monotonic()
        sel = selectors.DefaultSelector()
        sel.register(link.sock, selectors.EVENT_READ, "net")
        for i, c in enumerate(self.conns):
            sel.register(c, selectors.EVENT_READ, i)
        for i, p in enumerate(self.procs):
            sel.register(p.sentinel, selectors.EVENT_READ, ("dead", i))
        flushed = 0
        flushing = False
        try:
            # Every packet back is not the end: EMIT datagrams from other workers may still be in flight.
            # Then each worker is asked to confirm that everything it sent was acknowledged (the driver
            # keeps receiving meanwhile), so no emit is lost.
            while got < len(batch) or flushed < k:
                if got == len(batch) and not flushing:
                    for c in self.conns:
                        c.send(("flush",))
                    flushing = True
                for key, _ in sel.select(min(link.tick(), 0.2)):
                    if key.data == "net":
                        continue
                    if isinstance(key.data, tuple):
                        self._check_workers()
                    else:
                        msg = self.conns[key.data].recv()
                        if msg[0] == "error":
                            raise self._fail(f"local backend: {msg[1]}")
                        if msg[0] == "flushed":
                            flushed += 1
                            last_progress = time.monotonic()
                for kind, _sender, payload in link.receive():
                    if kind == KIND_DONE:
                        done_raw.append(bytes(payload))
                        got += len(payload) // WIRE_SIZE
                    elif kind == KIND_EMIT:
                        emit_raw.append(bytes(payload))
                    last_progress = time.monotonic()
                if link.busy() or got < len(batch):
                    self._check_workers()
                if time.monotonic() - last_progress > self.timeout:
                    raise self._fail(f"local backend: no progress for {self.timeout:.0f} s ({got} of {len(batch)} packets back)")
        except (EOFError, BrokenPipeError, ConnectionResetError) as e:
            raise self._lost_pipe(f"lost a worker's control pipe ({type(e).__name__})") from None
        except PeerLost as e:
            raise self._fail(f"local backend: {e}") from None
        finally:
            sel.close()
        if got != len(batch):
            raise self._fail(f"local backend: {got} packets came back for {len(batch)} sent")

        for c in self.conns:
            c.send(("collect", collect_memory))
        replies = self._expect_all("collected")
        acc = Accumulators()
        blocks: list | None = [] if collect_memory else None
        stats = RunStats(packets=len(batch), messages=link.stats.sent, bytes_moved=link.stats.bytes_sent,
                         retransmits=link.stats.retransmits, duplicates=link.stats.duplicates)  # fmt: skip
        for _, a, b, s in replies:
            acc.merge(Accumulators.from_export(a))
            if blocks is not None:
                blocks.extend(b)
            for f in ("steps", "hops", "messages", "bytes_moved", "retransmits", "duplicates"):
                setattr(stats, f, getattr(stats, f) + s[f])
        done = [to_c(decode(b"".join(done_raw)))]
        emits = [np.frombuffer(b"".join(emit_raw), dtype=EMIT_DTYPE)]
        return finish_result(program, done, emits, acc, blocks, stats, t0)

    def _expect_all(self, what: str) -> list[tuple]:
        out = []
        deadline = time.monotonic() + self.timeout
        for i, c in enumerate(self.conns):
            while True:
                self._check_workers()
                if c.poll(0.1):
                    try:
                        msg = c.recv()
                    except (EOFError, ConnectionResetError):
                        raise self._lost_pipe(f"worker {i} closed its control pipe") from None
                    if msg[0] == "error":
                        raise self._fail(f"local backend: {msg[1]}")
                    if msg[0] == what:
                        out.append(msg)
                        break
                if time.monotonic() > deadline:
                    raise self._fail(f"local backend: worker {i} did not answer {what!r} within {self.timeout:.0f} s")
        return out
