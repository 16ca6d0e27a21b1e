"""The ``ray`` backend: K Ray actors, each hosting the nodes n with n mod K = its index.

Packet batches move through Ray's object store: an actor's step returns its outgoing packets as one object
per destination actor, and the driver hands those object refs straight to the destination's next step
(the driver only reads small metadata, and the packets that are finished). At most one step is in flight
per actor; batches that arrive meanwhile are queued and passed together to its next step.

``address``: an existing cluster (``ray.init(address=...)``); default: a local instance started on first
use and shut down by ``close()`` (a Ray already initialized by the caller is used and left running).
"""

from __future__ import annotations

import os
import socket
import time

import numpy as np

from ..packet import PACKET_WIRE, concat, take, to_c, to_wire
from ..runtime.executor import DEFAULT_MAX_STEPS, NodeGroup
from ..runtime.node import Accumulators
from ..runtime.program import Program
from ..runtime.records import EMIT_DTYPE, BackendError, RunResult, RunStats
from .base import Backend, check_batch, finish_result


class _NodeActor:
    """Hosts some logical nodes; state lives on the actor (memory shards, accumulators)."""

    def __init__(self, index: int, workers: int):
        self.index, self.workers = index, workers
        self.group: NodeGroup | None = None

    def load(self, prog_bytes: bytes, max_steps: int) -> int:
        prog = Program.from_bytes(prog_bytes, strict=False)
        self.group = NodeGroup(prog, [n for n in range(prog.num_nodes) if n % self.workers == self.index], max_steps)
        return self.index

    def step(self, *batches: np.ndarray):
        """Run the given wire batches until every packet has left; returns (meta, batch per worker)."""
        parts = [to_c(b) for b in batches if len(b)]
        batch = concat(parts)
        out = self.group.execute(batch)
        away = out.away
        dest = away["next_node_id"] % np.uint32(self.workers)
        per_worker = [to_wire(take(away, dest == w)) for w in range(self.workers)]
        emits = np.concatenate(out.emits) if out.emits else np.zeros(0, dtype=EMIT_DTYPE)
        meta = {
            "done": to_wire(out.done),
            "emits": emits,
            "counts": [len(b) for b in per_worker],
            "steps": out.steps,
            "hops": out.hops,
            "bytes": sum(b.nbytes for b in per_worker),
        }
        return (meta, *per_worker)

    def collect(self, with_memory: bool):
        acc = self.group.accumulators().export()
        blocks = [(k, bytes(b)) for k, b in self.group.memory_blocks()] if with_memory else None
        return acc, blocks


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast when a cluster address does not answer: ray.init retries an unreachable GCS for minutes."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and other forms are Ray's to resolve
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise BackendError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}") from None


class RayBackend(Backend):
    """Nodes as Ray actors; packet batches through the object store."""

    name = "ray"

    def __init__(self, nodes: int | None = None, *, address: str | None = None, timeout: float = 300.0):
        super().__init__(nodes)
        self.address = address
        self.timeout = timeout
        self.actors: list = []
        self.started_ray = False
        self._ray = None

    def _start(self, k: int) -> None:
        try:
            import ray
        except ImportError:
            raise BackendError("the ray backend needs Ray: pip install 'packetfs[ray]'") from None
        self._ray = ray
        if not ray.is_initialized():
            if self.address:
                _probe(self.address)
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=False)
                else:
                    ray.init(num_cpus=max(k, os.cpu_count() or 1), include_dashboard=False, log_to_driver=False)
            except Exception as e:
                raise BackendError(f"could not start or reach Ray ({self.address or 'local instance'}): {e}") from None
            self.started_ray = True
        actor_cls = ray.remote(num_cpus=0)(_NodeActor)
        self.actors = [actor_cls.remote(i, k) for i in range(k)]
        self._step = [a.step.options(num_returns=k + 1) for a in self.actors]

    def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        for a in self.actors:
            try:
                ray.kill(a)
            except Exception:  # an actor already gone is fine to leave
                pass
        self.actors = []
        if self.started_ray and ray.is_initialized():
            ray.shutdown()
        self.started_ray = False
        self._ray = None

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
        if not self.actors:
            self._start(self.worker_count(program))
        ray = self._ray
        k = len(self.actors)
        try:
            ray.get([a.load.remote(program.to_bytes(), max_steps) for a in self.actors], timeout=self.timeout)
            wire = to_wire(batch)
            dest = batch["next_node_id"] % np.uint32(k)
            queued: list[list] = [[ray.put(take(wire, dest == w))] if (dest == w).any() else [] for w in range(k)]
            in_flight: dict = {}  # meta ref -> (worker, refs of its per-worker outputs)
            done, emits = [], []
            stats = RunStats(packets=len(batch))
            got = 0
            while got < len(batch):
                for w in range(k):
                    if queued[w] and not any(v[0] == w for v in in_flight.values()):
                        refs = self._step[w].remote(*queued[w])
                        stats.messages += len(queued[w])
                        queued[w] = []
                        in_flight[refs[0]] = (w, refs[1:])
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=self.timeout)
                if not ready:
                    raise BackendError(f"ray backend: no step finished within {self.timeout:.0f} s")
                _w, outs = in_flight.pop(ready[0])
                meta = ray.get(ready[0])
                if len(meta["done"]):
                    done.append(to_c(np.asarray(meta["done"], dtype=PACKET_WIRE)))
                    got += len(meta["done"])
                if len(meta["emits"]):
                    emits.append(np.array(meta["emits"], dtype=EMIT_DTYPE))
                stats.steps += meta["steps"]
                stats.hops += meta["hops"]
                stats.bytes_moved += meta["bytes"] + meta["done"].nbytes + meta["emits"].nbytes
                for w2, n in enumerate(meta["counts"]):
                    if n:
                        queued[w2].append(outs[w2])
            replies = ray.get([a.collect.remote(collect_memory) for a in self.actors], timeout=self.timeout)
        except BackendError:
            self.close()
            raise
        except Exception as e:  # RayActorError, GetTimeoutError, ...: one clear error, never a partial result
            self.close()
            raise BackendError(f"ray backend: {type(e).__name__}: {e}") from None
        acc = Accumulators()
        blocks: list | None = [] if collect_memory else None
        for a, b in replies:
            acc.merge(Accumulators.from_export(a))
            if blocks is not None:
                blocks.extend(b)
        return finish_result(program, done, emits, acc, blocks, stats, t0)
