"""Data-parallel SGD: K worker nodes, each holding its shard of the training set and its own copy of the
model, compute their gradients themselves; the gradients travel as fixed-point packets and are summed in
the fabric (nodes.py, cluster.py), then every worker applies the same momentum-SGD update.

* ``aggregate``: an aggregator node sums the workers' packets as they arrive and sends each finished chunk
  back to every worker (SwitchML's in-network aggregation).
* ``ring``: ring all-reduce among the workers over the same transport (reduce-scatter, then all-gather).
* ``numpy``: the single-process anchor: the same model, minibatch size and learning rate on all the
  training data in one process with float64 gradients, no fabric.

Each epoch, worker k takes its slice of every global minibatch (``--batch`` rows, cut into K slices) from
its own shard in a seeded order; worker 0 reports the test accuracy at the epoch's end and every worker
the hash of its parameters, which must agree. The training data never leaves the node that holds it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, VerificationError
from ..fabric import FabricConfig
from .cluster import open_cluster
from .mlp import MLP, MODELS, load
from .nodes import NodeSpec, chunks_for, steps_per_epoch

MODES = ("aggregate", "ring", "numpy")


@dataclass
class TrainParams:
    dataset: str = "digits"
    model: str = "mlp"
    workers: int = 2
    epochs: int = 10
    batch: int = 64
    hidden: int = 32
    lr: float = 0.1
    momentum: float = 0.9
    seed: int = 1
    mode: str = "aggregate"
    target_accuracy: float | None = None  # stop at the end of the first epoch reaching it
    nodes: int | None = None  # fabric nodes the roles are placed on (role r on node r mod nodes); None: one each

    def check(self) -> None:
        if self.model not in MODELS:
            raise InputError(f"unknown model {self.model!r}; one of {', '.join(MODELS)}")
        if self.mode not in MODES:
            raise InputError(f"unknown mode {self.mode!r}; one of {', '.join(MODES)}")
        if not 1 <= self.workers <= 63:
            raise InputError("--workers must be 1..63")
        if not 1 <= self.epochs <= 10_000:
            raise InputError("--epochs must be 1..10000")
        if not self.workers <= self.batch <= 4096:
            raise InputError("--batch must be at least --workers and at most 4096")
        if not (0 < self.lr <= 10 and 0 <= self.momentum < 1):
            raise InputError("--lr must be in (0, 10] and --momentum in [0, 1)")
        if self.mode == "numpy" and self.nodes not in (None, 1):
            raise InputError("--allreduce numpy trains in one process: it runs on one node, not --nodes "
                             f"{self.nodes}")


@dataclass
class TrainResult:
    test_accuracy: float
    train_accuracy: float
    seconds: float
    bytes_moved: int  # packets between training roles x 208 bytes (the same on every backend and placement)
    bytes_between_nodes: int  # of those, the ones that crossed from one fabric node to another
    steps: int
    epochs: int
    workers: int
    mode: str
    backend: str
    nodes: int
    packets: int
    wire_bytes: int  # what the transport sent, datagram headers and acks included (local backend only)
    startup_seconds: float  # starting the nodes (processes, actors), not counted in ``seconds``
    time_to_target: float | None
    params_sha256: str
    history: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["bytes_per_step"] = self.bytes_moved / self.steps if self.steps else 0
        d["packets_per_step"] = self.packets / self.steps if self.steps else 0
        d["wire_bytes_per_step"] = self.wire_bytes / self.steps if self.steps else 0
        d["bytes_between_nodes_per_step"] = self.bytes_between_nodes / self.steps if self.steps else 0
        return d


def train(params: TrainParams, config: FabricConfig,
          progress: Callable[[int, int, float], None] | None = None) -> TrainResult:
    """Train; ``config.backend`` says where the nodes run. The run's roles (``workers`` workers, plus the
    aggregator in aggregate mode) are placed on ``params.nodes`` fabric nodes, role r on node r mod nodes
    (None: one node per role; ``config.nodes`` is not read, so a library caller says it in the params)."""
    params.check()
    data = load(params.dataset, params.seed)
    model = MLP(data.x_train.shape[1], params.hidden, data.classes)
    if params.mode == "numpy":
        return _train_numpy(params, data, model, progress)
    k = params.workers
    if params.mode == "ring" and chunks_for(model.size) < k:
        raise InputError("ring all-reduce needs at least one gradient packet per worker: raise --hidden or lower --workers")
    spec = NodeSpec(params.dataset, params.hidden, params.batch, params.lr, params.momentum, params.seed, k,
                    params.mode)
    t0 = time.perf_counter()
    history: list[dict] = []
    time_to_target = None
    with open_cluster(spec, config, data, model.size, params.nodes) as cluster:
        startup = time.perf_counter() - t0
        started = time.perf_counter()
        epoch = 0
        for epoch in range(1, params.epochs + 1):
            reports = cluster.run_epoch(epoch)
            acc = reports[0]["test_accuracy"]
            now = time.perf_counter() - started
            history.append({"epoch": epoch, "test_accuracy": acc, "seconds": now})
            if progress is not None:
                progress(epoch, params.epochs, acc)
            if params.target_accuracy is not None and acc >= params.target_accuracy:
                time_to_target = now
                break
        seconds = time.perf_counter() - started
        cluster.collect_stats()
        theta = cluster.final_params()
    last = reports[0]
    if hashlib.sha256(theta.tobytes()).hexdigest() != last["params_sha256"]:
        raise VerificationError("worker 0's parameters changed after its last report")
    return TrainResult(
        test_accuracy=acc, train_accuracy=model.accuracy(theta, data.x_train, data.y_train), seconds=seconds,
        bytes_moved=cluster.payload_bytes, bytes_between_nodes=cluster.bytes_between_nodes, steps=last["step"], epochs=epoch, workers=k, mode=params.mode,
        backend=config.backend, nodes=cluster.node_count, packets=cluster.packets, wire_bytes=cluster.wire_bytes,
        startup_seconds=startup, time_to_target=time_to_target, params_sha256=last["params_sha256"],
        history=history,
    )  # fmt: skip


def _train_numpy(params: TrainParams, data, model: MLP, progress) -> TrainResult:
    theta = model.init(params.seed)
    velocity = np.zeros_like(theta)
    history: list[dict] = []
    steps = 0
    time_to_target = None
    n_steps = steps_per_epoch(len(data.y_train), params.batch, 1)
    started = time.perf_counter()
    epoch = 0
    for epoch in range(1, params.epochs + 1):
        order = np.random.default_rng([params.seed, epoch]).permutation(len(data.y_train))
        for s in range(n_steps):
            idx = order[s * params.batch : (s + 1) * params.batch]
            g, _ = model.grad_sum(theta, data.x_train[idx], data.y_train[idx])
            velocity = params.momentum * velocity + g / params.batch
            theta = theta - params.lr * velocity
            steps += 1
        acc = model.accuracy(theta, data.x_test, data.y_test)
        now = time.perf_counter() - started
        history.append({"epoch": epoch, "test_accuracy": acc, "seconds": now})
        if progress is not None:
            progress(epoch, params.epochs, acc)
        if params.target_accuracy is not None and acc >= params.target_accuracy:
            time_to_target = now
            break
    seconds = time.perf_counter() - started
    return TrainResult(
        test_accuracy=history[-1]["test_accuracy"], train_accuracy=model.accuracy(theta, data.x_train, data.y_train),
        seconds=seconds, bytes_moved=0, bytes_between_nodes=0, steps=steps, epochs=epoch, workers=1, mode="numpy", backend="numpy",
        nodes=1, packets=0, wire_bytes=0, startup_seconds=0.0, time_to_target=time_to_target,
        params_sha256=hashlib.sha256(theta.tobytes()).hexdigest(), history=history,
    )  # fmt: skip
