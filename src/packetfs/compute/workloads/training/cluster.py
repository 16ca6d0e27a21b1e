"""Where the training nodes (nodes.py) run and how their packets travel, one class per backend:

* ``inline``: every node in this process; packets pass through an in-process queue.
* ``local``: one process per node (K workers, plus the aggregator in ``aggregate`` mode), forked once with
  the dataset; packets go node to node as datagrams over the fabric's reliable UDP transport on loopback
  (backends/transport.Link, the local backend's own). The driver only says "run epoch e" and collects each
  worker's report at the epoch's end; no gradient or parameter passes through it.
* ``ray``: one Ray actor per node; the driver relays each round's packets between the actors (Ray has no
  actor-to-actor push), so on Ray every packet makes two trips.

The training *roles* (workers 0..K-1, then the aggregator) are placed on the fabric's nodes: role r on node
``r mod nodes`` (``--nodes``; by default one node per role). Roles that share a node pass their packets in
that node's memory; only packets between nodes cross the transport, and ``bytes_between_nodes`` counts them.
With 2 workers and an aggregator on 2 nodes, the aggregator shares node 0 with worker 0.

A run is the same bits everywhere and on any placement: the roles are deterministic functions of the packets
they receive, and the sums do not depend on arrival order.
"""

from __future__ import annotations

import abc
import multiprocessing as mp
import os
import secrets
import selectors
import time
from collections import deque

import numpy as np

from ...backends.transport import KIND_DATA, Link, PeerLost
from ...backends.workers import stop_workers
from ...packet import PACKET_WIRE, WIRE_SIZE
from ..errors import InputError, VerificationError, WorkloadError
from ..fabric import FabricConfig
from .mlp import Dataset
from .nodes import AggregatorNode, NodeSpec, Outgoing, WorkerNode, chunks_for

TIMEOUT_S = 120.0  # no word from a node for this long fails the run


def _make_node(spec: NodeSpec, index: int, data: Dataset, size: int) -> WorkerNode | AggregatorNode:
    if index < spec.workers:
        return WorkerNode(spec, index, data)
    return AggregatorNode(spec, chunks_for(size))


def role_count(spec: NodeSpec) -> int:
    """Workers, plus the aggregator in aggregate mode."""
    return spec.workers + (1 if spec.mode == "aggregate" else 0)


def placement(roles: int, nodes: int | None) -> list[int]:
    """The fabric node of every role: role r on node r mod ``nodes`` (None: one node per role)."""
    if nodes is None:
        nodes = roles
    if not 1 <= nodes <= roles:
        raise InputError(f"--nodes must be 1..{roles} for this run (it has {roles} training roles, the workers "
                         f"and, with --allreduce aggregate, the aggregator: a node more would hold none); got {nodes}")
    return [r % nodes for r in range(roles)]


class Host:
    """One fabric node and the roles placed on it (sans I/O). Packets between its own roles are delivered
    here, in memory; ``start_epoch`` and ``handle`` return only what must travel to another node, as
    (destination role, packets)."""

    def __init__(self, spec: NodeSpec, index: int, where: list[int], data: Dataset, size: int) -> None:
        self.index = index
        self.where = where
        self.roles = {r: _make_node(spec, r, data, size) for r, n in enumerate(where) if n == index}
        self.workers = [node for r, node in sorted(self.roles.items()) if r < spec.workers]
        self.packets = 0  # role-to-role packets sent by this node's roles
        self.remote_packets = 0  # of those, the ones that left this node

    def start_epoch(self, epoch: int) -> list[Outgoing]:
        out: list[Outgoing] = []
        for node in self.roles.values():
            out += node.start_epoch(epoch)
        return self._route(out)

    def handle(self, packets: np.ndarray) -> list[Outgoing]:
        """Packets for this node's roles (each names its role in ``next_node_id``); a packet for a role
        placed elsewhere is a VerificationError."""
        if packets.dtype != PACKET_WIRE or packets.ndim != 1:
            raise VerificationError(f"node {self.index} got records that are not packets")
        dest = packets["next_node_id"].astype(np.int64)
        out: list[Outgoing] = []
        for role in np.unique(dest).tolist():
            if role not in self.roles:
                raise VerificationError(f"node {self.index} got a packet for role {role}, placed elsewhere")
            out += self.roles[role].handle(packets[dest == role])
        return self._route(out)

    def _route(self, out: list[Outgoing]) -> list[Outgoing]:
        remote: list[Outgoing] = []
        queue = deque(out)
        while queue:
            dest, packets = queue.popleft()
            self.packets += len(packets)
            if self.where[dest] == self.index:
                queue.extend(self.roles[dest].handle(packets))
            else:
                self.remote_packets += len(packets)
                remote.append((dest, packets))
        return remote

    @property
    def epoch_done(self) -> bool:
        return all(w.epoch_done for w in self.workers)

    def reports(self) -> list[dict]:
        return [w.report(w.index == 0) for w in self.workers]


class Cluster(abc.ABC):
    """The nodes of one training run. ``run_epoch`` returns each worker's report (worker 0's with the
    test accuracy); ``packets`` and ``payload_bytes`` count what travelled between nodes; ``wire_bytes``
    what the transport sent (headers and acknowledgements too) where there is one."""

    def __init__(self, spec: NodeSpec, data: Dataset, size: int, nodes: int | None = None) -> None:
        self.spec = spec
        self.where = placement(role_count(spec), nodes)
        self.node_count = max(self.where) + 1
        self.packets = 0
        self.payload_bytes = 0
        self.remote_packets = 0  # packets that crossed from one fabric node to another
        self.wire_bytes = 0

    @property
    def bytes_between_nodes(self) -> int:
        return self.remote_packets * WIRE_SIZE

    @abc.abstractmethod
    def run_epoch(self, epoch: int) -> list[dict]:
        """Every worker trains one epoch; their reports, once each has applied its last step."""

    @abc.abstractmethod
    def final_params(self) -> np.ndarray:
        """Worker 0's parameters (every worker holds the same)."""

    def collect_stats(self) -> None:
        """Bring in the counters kept at the nodes (call once, at the end)."""
        self.packets = self.remote_packets = self.wire_bytes = 0
        for sent, remote, wire in self._node_stats():
            self.packets += sent
            self.remote_packets += remote
            self.wire_bytes += wire
        self.payload_bytes = self.packets * WIRE_SIZE

    @abc.abstractmethod
    def _node_stats(self) -> list[tuple[int, int, int]]:
        """Per node: (role-to-role packets sent, of those sent to another node, transport bytes)."""

    def close(self) -> None:  # noqa: B027  (a cluster without processes has nothing to stop)
        """Stop the nodes (idempotent)."""

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _in_role_order(reports: list[dict]) -> list[dict]:
    return sorted(reports, key=lambda r: r["worker"])


def _check_reports(reports: list[dict], epoch: int) -> list[dict]:
    if len({r["params_sha256"] for r in reports}) != 1:
        raise VerificationError(f"after epoch {epoch} the workers hold different parameters")
    return reports


class InlineCluster(Cluster):
    def __init__(self, spec: NodeSpec, data: Dataset, size: int, nodes: int | None = None) -> None:
        super().__init__(spec, data, size, nodes)
        self.hosts = [Host(spec, i, self.where, data, size) for i in range(self.node_count)]

    def run_epoch(self, epoch: int) -> list[dict]:
        queue: deque[Outgoing] = deque()
        for h in self.hosts:
            queue.extend(h.start_epoch(epoch))
        while queue:
            dest, packets = queue.popleft()
            queue.extend(self.hosts[self.where[dest]].handle(packets))
        if not all(h.epoch_done for h in self.hosts):
            raise VerificationError(f"epoch {epoch} stalled: a worker is still waiting for packets")
        return _check_reports(_in_role_order([r for h in self.hosts for r in h.reports()]), epoch)

    def final_params(self) -> np.ndarray:
        return self.hosts[self.where[0]].roles[0].theta.copy()

    def _node_stats(self) -> list[tuple[int, int, int]]:
        return [(h.packets, h.remote_packets, 0) for h in self.hosts]


# ----------------------------------------------------------------------------------------------- ray
class _RayNode:
    def __init__(self, spec: NodeSpec, index: int, where: list[int], data: Dataset, size: int) -> None:
        self.host = Host(spec, index, where, data, size)

    def start_epoch(self, epoch: int) -> list[Outgoing]:
        return self.host.start_epoch(epoch)

    def handle(self, packets: np.ndarray) -> list[Outgoing]:
        return self.host.handle(packets)

    def finish(self) -> tuple[bool, list[dict]]:
        return self.host.epoch_done, self.host.reports()

    def params(self) -> np.ndarray:
        return self.host.roles[0].theta

    def stats(self) -> tuple[int, int, int]:
        return self.host.packets, self.host.remote_packets, 0


class RayCluster(Cluster):
    def __init__(self, spec: NodeSpec, data: Dataset, size: int, address: str | None,
                 nodes: int | None = None) -> None:
        super().__init__(spec, data, size, nodes)
        try:
            import ray
        except ImportError:
            raise WorkloadError("the ray backend needs the 'ray' package (pip install packetfs[ray])") from None
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            kwargs = {"address": address} if address else {"num_cpus": max(2, os.cpu_count() or 1)}
            ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
            self.started = True
        actor = ray.remote(num_cpus=0)(_RayNode)
        shared = ray.put(data)
        self.actors = [actor.remote(spec, i, self.where, shared, size) for i in range(self.node_count)]

    def run_epoch(self, epoch: int) -> list[dict]:
        ray = self.ray
        try:
            pending: list[Outgoing] = [o for out in ray.get([a.start_epoch.remote(epoch) for a in self.actors])
                                       for o in out]
            while pending:
                by_node: dict[int, list[np.ndarray]] = {}
                for dest, packets in pending:
                    by_node.setdefault(self.where[dest], []).append(packets)
                calls = [self.actors[n].handle.remote(np.concatenate(p)) for n, p in sorted(by_node.items())]
                pending = [o for out in ray.get(calls) for o in out]
            done = ray.get([a.finish.remote() for a in self.actors])
        except ray.exceptions.RayError as e:
            raise WorkloadError(f"a training node failed on ray: {e}") from None
        if not all(d for d, _ in done):
            raise VerificationError(f"epoch {epoch} stalled: a worker is still waiting for packets")
        return _check_reports(_in_role_order([r for _, reports in done for r in reports]), epoch)

    def final_params(self) -> np.ndarray:
        return self.ray.get(self.actors[self.where[0]].params.remote())

    def _node_stats(self) -> list[tuple[int, int, int]]:
        return self.ray.get([a.stats.remote() for a in self.actors])

    def close(self) -> None:
        for a in getattr(self, "actors", []):
            self.ray.kill(a)
        self.actors = []
        if getattr(self, "started", False):
            self.ray.shutdown()
            self.started = False


# --------------------------------------------------------------------------------------------- local
def _node_main(spec: NodeSpec, index: int, where: list[int], data: Dataset, size: int, token: int, conn,
               parent_pid: int) -> None:
    """One node process: its roles (a Host), its Link, a select loop over the socket and the control pipe."""
    link = Link(index, token)
    try:
        node = Host(spec, index, where, data, size)
        conn.send(("addr", link.addr))
        sel = selectors.DefaultSelector()
        sel.register(link.sock, selectors.EVENT_READ, "net")
        sel.register(conn, selectors.EVENT_READ, "ctl")
        epoch, reported = 0, True
        while True:
            if os.getppid() != parent_pid:
                return
            out: list[Outgoing] = []
            for key, _ in sel.select(link.tick()):
                if key.data == "ctl":
                    msg = conn.recv()
                    if msg[0] == "peers":
                        link.set_peers(msg[1])
                        link.reset(1)
                    elif msg[0] == "epoch":
                        epoch, reported = msg[1], False
                        out += node.start_epoch(epoch)
                    elif msg[0] == "params":
                        conn.send(("params", node.roles[0].theta))
                    elif msg[0] == "stats":
                        conn.send(("stats", node.packets, node.remote_packets, link.stats.bytes_sent))
                    elif msg[0] == "stop":
                        return
            for kind, _sender, payload in link.receive():
                if kind == KIND_DATA:
                    out += node.handle(np.frombuffer(payload, dtype=PACKET_WIRE).copy())
            for dest, packets in out:
                link.send_records(where[dest], KIND_DATA, packets.tobytes())
            if not reported and node.workers and node.epoch_done:
                for report in node.reports():
                    conn.send(("done", report))
                reported = True
    except PeerLost as e:
        conn.send(("error", f"node {index}: {e}"))
    except WorkloadError as e:  # a check failed at the node (VerificationError): its exit code travels too
        conn.send(("error", f"node {index}: {e}", e.exit_code))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return
    except Exception as e:  # a bug reaches the user as a failed run, not a hang
        try:
            conn.send(("error", f"node {index} failed: {type(e).__name__}: {e}"))
        except (BrokenPipeError, OSError):
            pass
    finally:
        link.close()


class LocalCluster(Cluster):
    def __init__(self, spec: NodeSpec, data: Dataset, size: int, nodes: int | None = None) -> None:
        super().__init__(spec, data, size, nodes)
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        token = secrets.randbits(64)
        self.procs, self.conns = [], []
        for i in range(self.node_count):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_node_main, args=(spec, i, self.where, data, size, token, child, os.getpid()), daemon=True,
                            name=f"packetfs-train-{i}")
            p.start()
            child.close()
            self.procs.append(p)
            self.conns.append(parent)
        addrs = {i: self._expect(i, "addr", 60)[1] for i in range(self.node_count)}
        for c in self.conns:
            c.send(("peers", addrs))

    def _expect(self, i: int, what: str, timeout: float = TIMEOUT_S) -> tuple:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.conns[i].poll(0.05):
                msg = self.conns[i].recv()
                if msg[0] == "error":
                    raise self._fail(*msg[1:])
                if msg[0] == what:
                    return msg
            elif not self.procs[i].is_alive():
                raise self._fail(f"training node {i} died (exit code {self.procs[i].exitcode})")
        raise self._fail(f"training node {i} sent no {what!r} within {timeout:.0f} s")

    def _fail(self, message: str, exit_code: int | None = None) -> WorkloadError:
        self.close()
        return WorkloadError(message, exit_code)

    def run_epoch(self, epoch: int) -> list[dict]:
        if not self.procs:
            raise WorkloadError("the training nodes were stopped after an earlier failure")
        sel = selectors.DefaultSelector()
        for i, c in enumerate(self.conns):
            sel.register(c, selectors.EVENT_READ, i)
        reports: dict[int, dict] = {}
        deadline = time.monotonic() + TIMEOUT_S
        try:
            for i, p in enumerate(self.procs):
                if not p.is_alive():
                    raise self._fail(f"training node {i} died before epoch {epoch} (exit code {p.exitcode})")
            for c in self.conns:
                c.send(("epoch", epoch))
            while len(reports) < self.spec.workers:
                for key, _ in sel.select(0.2):
                    msg = self.conns[key.data].recv()
                    if msg[0] == "error":
                        raise self._fail(*msg[1:])
                    if msg[0] == "done":
                        reports[msg[1]["worker"]] = msg[1]
                        deadline = time.monotonic() + TIMEOUT_S
                for i, p in enumerate(self.procs):
                    if not p.is_alive():
                        raise self._fail(f"training node {i} died during epoch {epoch} (exit code {p.exitcode})")
                if time.monotonic() > deadline:
                    raise self._fail(f"epoch {epoch} made no progress for {TIMEOUT_S:.0f} s")
        except (EOFError, BrokenPipeError, ConnectionResetError):
            raise self._fail("lost a training node's control pipe") from None
        finally:
            sel.close()
        return _check_reports([reports[k] for k in range(self.spec.workers)], epoch)

    def final_params(self) -> np.ndarray:
        n = self.where[0]
        self.conns[n].send(("params",))
        return self._expect(n, "params")[1]

    def _node_stats(self) -> list[tuple[int, int, int]]:
        """Packets every node's roles sent (the aggregator's too) and the transport's bytes, headers and acks."""
        out = []
        for i, c in enumerate(self.conns):
            c.send(("stats",))
            out.append(self._expect(i, "stats")[1:])
        return out

    def close(self) -> None:
        stop_workers(self.conns, self.procs)
        self.procs, self.conns = [], []


def open_cluster(spec: NodeSpec, config: FabricConfig, data: Dataset, size: int, nodes: int | None = None) -> Cluster:
    """The run's roles on ``nodes`` fabric nodes of ``config.backend`` (None: one node per role)."""
    if config.backend == "inline":
        return InlineCluster(spec, data, size, nodes)
    if config.backend == "local":
        return LocalCluster(spec, data, size, nodes)
    return RayCluster(spec, data, size, config.ray_address, nodes)
