"""Data-parallel SGD: K workers, each with its slice of every minibatch, gradients summed on the fabric.

Each step: the minibatch (a seeded permutation per epoch) is cut into K contiguous slices; worker k computes
the summed gradient of its slice (here, in the driver process: the fabric's ISA has no matrix multiply
worth using) and quantizes it to fixed point; the fabric sums the K gradients exactly (``aggregate``: an
aggregator node, SwitchML style; ``ring``: ring all-reduce over the same transport) and every worker
receives the sum; all apply the same momentum-SGD update. ``numpy`` mode is the single-process anchor: the
same model and schedule with float64 gradients and no fabric.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ...packet import WIRE_SIZE
from ..errors import InputError
from ..fabric import Fabric, FabricConfig
from .allreduce import Aggregator, ReduceStats, Ring, dequantize, quantize
from .mlp import MLP, MODELS, load

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


@dataclass
class TrainResult:
    test_accuracy: float
    train_accuracy: float
    seconds: float
    bytes_moved: int
    steps: int
    epochs: int
    workers: int
    mode: str
    backend: str
    nodes: int
    packets: int
    hops: int
    reduce_seconds: float
    time_to_target: float | None
    params_sha256: str
    history: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["bytes_per_step"] = self.bytes_moved / self.steps if self.steps else 0
        d["packets_per_step"] = self.packets / self.steps if self.steps else 0
        # what the hops carry on the wire whatever the backend (inline moves nothing between processes)
        d["hop_bytes_per_step"] = self.hops * WIRE_SIZE / self.steps if self.steps else 0
        return d


def train(params: TrainParams, config: FabricConfig,
          progress: Callable[[int, int, float], None] | None = None) -> TrainResult:
    params.check()
    data = load(params.dataset, params.seed)
    model = MLP(data.x_train.shape[1], params.hidden, data.classes)
    theta = model.init(params.seed)
    velocity = np.zeros_like(theta)
    k = params.workers if params.mode != "numpy" else 1
    reducer = None
    if params.mode == "aggregate":
        reducer = Aggregator(model.size, k)
    elif params.mode == "ring":
        reducer = Ring(model.size, k)
    stats = ReduceStats()
    history: list[dict] = []
    steps = 0
    reduce_s = 0.0
    time_to_target = None
    fabric = Fabric(config) if reducer is not None else None
    started = time.perf_counter()
    try:
        epoch = 0
        for epoch in range(1, params.epochs + 1):
            order = np.random.default_rng([params.seed, epoch]).permutation(len(data.y_train))
            for s in range(len(order) // params.batch):
                idx = order[s * params.batch : (s + 1) * params.batch]
                if reducer is None:
                    g, _ = model.grad_sum(theta, data.x_train[idx], data.y_train[idx])
                else:
                    parts = np.array_split(idx, k)
                    quantized = [quantize(model.grad_sum(theta, data.x_train[p], data.y_train[p])[0], k)
                                 for p in parts]
                    t0 = time.perf_counter()
                    g = dequantize(reducer.allreduce(fabric, quantized, stats))
                    reduce_s += time.perf_counter() - t0
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
    finally:
        if fabric is not None:
            fabric.close()
    seconds = time.perf_counter() - started
    return TrainResult(
        test_accuracy=history[-1]["test_accuracy"], train_accuracy=model.accuracy(theta, data.x_train, data.y_train),
        seconds=seconds, bytes_moved=stats.bytes_moved, steps=steps, epochs=epoch, workers=k, mode=params.mode,
        backend=config.backend if reducer is not None else "numpy", nodes=config.nodes, packets=stats.packets,
        hops=stats.hops, reduce_seconds=reduce_s, time_to_target=time_to_target,
        params_sha256=hashlib.sha256(theta.tobytes()).hexdigest(), history=history,
    )  # fmt: skip
