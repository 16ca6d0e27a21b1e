"""The training nodes, sans I/O: a worker holds its shard of the data and the model, computes its own
gradient and applies the summed one; an aggregator sums fixed-point gradient packets as a SwitchML switch
does. Fed packets, a node returns the packets it sends (``Outgoing``); the cluster (cluster.py) moves them,
in one process, between worker processes over the fabric's UDP transport, or between Ray actors.

A packet is a fabric packet in the 208-byte wire layout (``PACKET_WIRE``); in this data plane its fields mean:

* ``computation_id``: the global step the packet belongs to;
* ``operation_code``: what it carries (``UP``: a worker's gradient chunk for the aggregator; ``DOWN``: a
  summed chunk from the aggregator; ``REDUCE``/``GATHER``: a ring all-reduce chunk);
* ``input_data[16]``: 16 words, each two 32-bit fixed-point values (allreduce.pack_pairs), 32 values;
* ``state[0]`` the chunk index, ``state[1]`` the ring round, ``state[2]`` the sending worker;
* ``next_node_id``: the node it travels to (workers 0..K-1, the aggregator K).

The sums are wrapping uint64 additions of packed words, exact and independent of arrival order, so the
parameters after every step are the same bits on every backend; each worker applies the same sum and keeps
its own copy of the parameters, and the workers' copies are compared at every epoch's end.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ...packet import PACKET_WIRE
from ..errors import InputError, VerificationError
from .allreduce import dequantize, pack_pairs, quantize, unpack_pairs
from .mlp import MLP, Dataset, load

UP, DOWN, REDUCE, GATHER = 1, 2, 3, 4
WORDS = 16  # packed words per packet: 32 gradient values
Outgoing = tuple[int, np.ndarray]  # (destination node, PACKET_WIRE records)


@dataclass(frozen=True)
class NodeSpec:
    """Everything a node needs to build its state (plain data: it travels to worker processes and actors)."""

    dataset: str
    hidden: int
    batch: int
    lr: float
    momentum: float
    seed: int
    workers: int
    mode: str  # "aggregate" or "ring"

    @property
    def aggregator(self) -> int:
        return self.workers


def make_packets(step: int, kind: int, words: np.ndarray, chunks: np.ndarray, dest: int, sender: int,
                 round_: int = 0) -> np.ndarray:
    """Packets for ``chunks`` (indices) of the (n_chunks, 16) word array ``words``."""
    p = np.zeros(len(chunks), dtype=PACKET_WIRE)
    p["computation_id"] = step
    p["operation_code"] = kind
    p["input_data"] = words[chunks]
    p["state"][:, 0] = chunks
    p["state"][:, 1] = round_
    p["state"][:, 2] = sender
    p["next_node_id"] = dest
    return p


def chunks_for(size: int) -> int:
    """Packets per gradient of ``size`` values (two values a word, WORDS words a packet)."""
    words = -(-size // 2)
    return -(-words // WORDS)


def shard_rows(n_train: int, workers: int, seed: int) -> list[np.ndarray]:
    """Worker k's training rows: a seeded shuffle of the rows, dealt round-robin (shards differ by <= 1)."""
    order = np.random.default_rng([seed, 0x5348]).permutation(n_train)
    return [np.sort(order[k::workers]) for k in range(workers)]


def slice_sizes(batch: int, workers: int) -> list[int]:
    """Rows of each worker in a global minibatch of ``batch`` rows."""
    return [len(s) for s in np.array_split(np.arange(batch), workers)]


def steps_per_epoch(n_train: int, batch: int, workers: int) -> int:
    """Steps in an epoch: every worker takes its slice of each minibatch from its own shard, so the epoch
    ends when the worker with the fewest slices in its shard has used them all."""
    shard = [len(s) for s in np.array_split(np.arange(n_train), workers)]  # = shard_rows' shard sizes, in order
    return min(n // b for n, b in zip(shard, slice_sizes(batch, workers), strict=True))


class WorkerNode:
    """Worker k: its shard, the model's parameters and momentum, its gradient each step, the update."""

    def __init__(self, spec: NodeSpec, index: int, data: Dataset | None = None) -> None:
        self.spec = spec
        self.index = index
        self.data = data if data is not None else load(spec.dataset, spec.seed)
        k = spec.workers
        if not spec.workers <= spec.batch:
            raise InputError("--batch must be at least --workers")
        rows = shard_rows(len(self.data.y_train), k, spec.seed)[index]
        self.x, self.y = self.data.x_train[rows], self.data.y_train[rows]  # the shard: this node's copy
        self.model = MLP(self.data.x_train.shape[1], spec.hidden, self.data.classes)
        self.theta = self.model.init(spec.seed)
        self.velocity = np.zeros_like(self.theta)
        self.rows_per_step = slice_sizes(spec.batch, k)[index]
        self.steps = steps_per_epoch(len(self.data.y_train), spec.batch, k)
        self.chunks = chunks_for(self.model.size)
        self.step = 0  # global step
        self.epoch = 0
        self.epoch_end = 0  # global step at which the current epoch ends
        self.order = np.arange(len(self.y))
        self._own: np.ndarray | None = None  # this step's packed gradient, (chunks, 16) words
        self._got: np.ndarray | None = None  # summed words received so far
        self._have = np.zeros(self.chunks, dtype=bool)
        self._pending: list[np.ndarray] = []  # packets for later steps
        self._ring_partial: dict[int, np.ndarray] = {}  # reduce-scatter round -> partial sums
        self._ring_got: dict[int, np.ndarray] = {}  # reduce-scatter round -> chunks received
        self.packets_sent = 0

    # the schedule ----------------------------------------------------------------------------------------
    def start_epoch(self, epoch: int) -> list[Outgoing]:
        self.epoch = epoch
        self.order = np.random.default_rng([self.spec.seed, epoch, self.index]).permutation(len(self.y))
        self.epoch_end = self.step + self.steps
        return self._begin_step()

    @property
    def epoch_done(self) -> bool:
        return self.step >= self.epoch_end and self._own is None

    def _begin_step(self) -> list[Outgoing]:
        out: list[Outgoing] = []
        while self.step < self.epoch_end:
            s = self.step - (self.epoch_end - self.steps)
            idx = self.order[s * self.rows_per_step : (s + 1) * self.rows_per_step]
            g, _ = self.model.grad_sum(self.theta, self.x[idx], self.y[idx])
            words = pack_pairs(quantize(g, self.spec.workers), self.chunks * WORDS).reshape(self.chunks, WORDS)
            self._own = words
            self._got = np.zeros_like(words)
            self._have[:] = False
            self._ring_partial, self._ring_got = {}, {}
            out += self._send_gradient()
            if self._own is not None:  # waiting for the others
                out += self._replay()
                return out
            # (a single worker's ring: the sum is its own gradient, applied at once; next step)
        return out

    def _send_gradient(self) -> list[Outgoing]:
        k, me, all_chunks = self.spec.workers, self.index, np.arange(self.chunks)
        if self.spec.mode == "aggregate":
            return self._count([(self.spec.aggregator, make_packets(self.step, UP, self._own, all_chunks,
                                                                    self.spec.aggregator, me))])
        if k == 1:
            self._apply(self._own)
            return []
        seg = self._segment(me)  # reduce-scatter round 0: my own segment
        return self._count([((me + 1) % k, make_packets(self.step, REDUCE, self._own, seg, (me + 1) % k, me, 0))])

    def _segment(self, s: int) -> np.ndarray:
        return np.array_split(np.arange(self.chunks), self.spec.workers)[s]

    def _count(self, out: list[Outgoing]) -> list[Outgoing]:
        self.packets_sent += sum(len(p) for _, p in out)
        return out

    # receiving -------------------------------------------------------------------------------------------
    def handle(self, packets: np.ndarray) -> list[Outgoing]:
        """Take packets addressed to this worker; return what it sends in reply. A packet this worker
        cannot have been sent (another node, step, kind, chunk or ring position) is a VerificationError."""
        self._check(packets)
        self._pending.append(packets)
        return self._replay()

    def _check(self, p: np.ndarray) -> None:
        def bad(why: str) -> VerificationError:
            return VerificationError(f"worker {self.index} got a packet {why}")

        if p.dtype != PACKET_WIRE or p.ndim != 1:
            raise bad("batch that is not wire-layout packets")
        if (p["next_node_id"] != self.index).any():
            raise bad("addressed to another node")
        step = p["computation_id"]
        if ((step < self.step) | (step > self.step + 1)).any():  # a peer is at most one step ahead
            raise bad(f"of a step other than {self.step} or the next")
        chunk = p["state"][:, 0]
        if (chunk >= self.chunks).any():
            raise bad("for a chunk the model does not have")
        kind = p["operation_code"]
        if self.spec.mode == "aggregate":
            if (kind != DOWN).any():
                raise bad("that is not a summed chunk from the aggregator")
            return
        k = self.spec.workers
        rnd = p["state"][:, 1]
        if ((kind != REDUCE) & (kind != GATHER)).any() or (rnd > k - 2).any():
            raise bad("that is not a ring all-reduce chunk")
        seg = np.searchsorted([s[-1] for s in np.array_split(np.arange(self.chunks), k)], chunk)
        want = (self.index - 1 - rnd.astype(np.int64)) % k
        want = np.where(kind == GATHER, (want + 1) % k, want)  # gather round r: segment me - r
        if (seg != want).any():
            raise bad("for a ring segment this round does not carry")

    def _replay(self) -> list[Outgoing]:
        out: list[Outgoing] = []
        while self._own is not None and self._pending:
            batch = np.concatenate(self._pending)
            now = batch["computation_id"] == self.step
            if not now.any():
                break
            later = batch["computation_id"] > self.step  # (handle let in only this step and the next)
            self._pending = [batch[later]] if later.any() else []
            out += self._take(batch[now])
        return out

    def _take(self, p: np.ndarray) -> list[Outgoing]:
        kind = p["operation_code"]
        chunk = p["state"][:, 0].astype(np.int64)
        if self.spec.mode == "aggregate":
            self._got[chunk] = p["input_data"]
            self._have[chunk] = True
            return self._maybe_apply()
        return self._ring(p, kind, chunk)

    def _ring(self, p: np.ndarray, kind: np.ndarray, chunk: np.ndarray) -> list[Outgoing]:
        k, me = self.spec.workers, self.index
        nxt = (me + 1) % k
        out: list[Outgoing] = []
        for r in np.unique(p["state"][:, 1]):
            for what in (REDUCE, GATHER):
                sel = (p["state"][:, 1] == r) & (kind == what)
                if not sel.any():
                    continue
                c = chunk[sel]
                r = int(r)
                if what == REDUCE:  # partial sum of segment (me - 1 - r) from the previous worker
                    part = self._ring_partial.setdefault(r, np.zeros_like(self._own))
                    part[c] = p["input_data"][sel] + self._own[c]
                    got = self._ring_got.setdefault(r, np.zeros(self.chunks, dtype=bool))
                    got[c] = True
                    seg = self._segment((me - 1 - r) % k)
                    if not got[seg].all():
                        continue
                    if r < k - 2:
                        out.append((nxt, make_packets(self.step, REDUCE, part, seg, nxt, me, r + 1)))
                    else:  # segment me + 1 is complete here: start the all-gather with it
                        self._got[seg] = part[seg]
                        self._have[seg] = True
                        out.append((nxt, make_packets(self.step, GATHER, part, seg, nxt, me, 0)))
                else:  # complete segment (me - r) from the previous worker
                    self._got[c] = p["input_data"][sel]
                    self._have[c] = True
                    seg = self._segment((me - r) % k)
                    if self._have[seg].all() and r < k - 2:
                        out.append((nxt, make_packets(self.step, GATHER, self._got, seg, nxt, me, r + 1)))
        return self._count(out) + self._maybe_apply()

    def _maybe_apply(self) -> list[Outgoing]:
        if not self._have.all():
            return []
        self._apply(self._got)
        return self._begin_step()

    def _apply(self, words: np.ndarray) -> None:
        g = dequantize(unpack_pairs(words.reshape(-1).view(np.uint64), self.model.size))
        self.velocity = self.spec.momentum * self.velocity + g / self.spec.batch
        self.theta = self.theta - self.spec.lr * self.velocity
        self.step += 1
        self._own = None

    # reports ---------------------------------------------------------------------------------------------
    def report(self, evaluate: bool) -> dict:
        """At an epoch's end: the parameters' hash (and, when asked, the test accuracy)."""
        out = {"worker": self.index, "epoch": self.epoch, "step": self.step,
               "params_sha256": hashlib.sha256(self.theta.tobytes()).hexdigest(), "packets_sent": self.packets_sent}
        if evaluate:
            out["test_accuracy"] = self.model.accuracy(self.theta, self.data.x_test, self.data.y_test)
        return out


class AggregatorNode:
    """SwitchML's switch: a slot per (step, chunk) adds the workers' packed words as they come; when all K
    have contributed, the sum goes back to every worker and the slot is freed."""

    def __init__(self, spec: NodeSpec, chunks: int) -> None:
        self.spec = spec
        self.chunks = chunks
        self._sum: dict[int, np.ndarray] = {}
        self._count: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(chunks, dtype=np.int64))
        self.packets_sent = 0

    def start_epoch(self, epoch: int) -> list[Outgoing]:
        return []  # the aggregator only answers packets

    def handle(self, p: np.ndarray) -> list[Outgoing]:
        """Add gradient packets into their slots; return the finished chunks for every worker. A packet
        that is not a worker's gradient chunk, or one past K contributions, is a VerificationError."""
        k = self.spec.workers
        if p.dtype != PACKET_WIRE or p.ndim != 1 or not (p["operation_code"] == UP).all():
            raise VerificationError("the aggregator got a packet that is not a gradient chunk")
        if (p["next_node_id"] != k).any() or (p["state"][:, 2] >= k).any():
            raise VerificationError("the aggregator got a packet not addressed to it or not from a worker")
        steps = p["computation_id"]
        lo, hi = int(steps.min()), int(steps.max())
        groups = [lo] if lo == hi else np.unique(steps).tolist()  # one step per batch is the usual case
        if len(set(self._sum) | set(groups)) > 2:
            raise VerificationError("the aggregator got packets of a third open step (workers are at most one apart)")
        out: list[Outgoing] = []
        for step in groups:
            sel = slice(None) if lo == hi else steps == step
            chunk = p["state"][sel, 0].astype(np.int64)
            if (chunk >= self.chunks).any():
                raise VerificationError("a gradient packet names a chunk the model does not have")
            total = self._sum.setdefault(step, np.zeros((self.chunks, WORDS), dtype=np.uint64))
            count = self._count[step]
            before = count.copy()
            arrived = np.bincount(chunk, minlength=self.chunks)
            count += arrived
            if (count > k).any():
                raise VerificationError(f"step {step}: more than {k} contributions to a chunk")
            if arrived.max() <= 1:  # each chunk at most once in this batch: a plain indexed add
                total[chunk] += p["input_data"][sel]  # wrapping uint64: both packed halves add exactly
            else:
                np.add.at(total, chunk, p["input_data"][sel])
            ready = np.flatnonzero((count == k) & (before < k))
            if len(ready):
                for w in range(k):
                    out.append((w, make_packets(step, DOWN, total, ready, w, k)))
                self.packets_sent += k * len(ready)
            if (count == k).all():
                del self._sum[step], self._count[step]
        return out
