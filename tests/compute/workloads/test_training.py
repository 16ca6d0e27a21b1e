"""Training: the fabric's gradient sums are exact (checked against numpy's integer sum), the run reaches
0.95 test accuracy, one seed gives bit-identical parameters on every backend and with either all-reduce,
and K=1 and K=2 converge alike."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.compute.workloads.cli import train_command
from packetfs.compute.workloads.errors import InputError, VerificationError
from packetfs.compute.workloads.fabric import Fabric, FabricConfig
from packetfs.compute.workloads.training.allreduce import (
    Aggregator,
    ReduceStats,
    Ring,
    pack_pairs,
    quantize,
    unpack_pairs,
)
from packetfs.compute.workloads.training.trainer import TrainParams, train


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4), st.lists(st.integers(-(2**29), 2**29 - 1), min_size=1, max_size=50))
def test_packed_pairs_sum_exactly(k: int, values: list[int]) -> None:
    rows = [np.array(values, dtype=np.int64) * (1 if w % 2 else -1) // k for w in range(k)]
    words = len(values) // 2 + 1
    total = np.zeros(words, dtype=np.uint64)
    for r in rows:
        total += pack_pairs(r, words)  # the fabric's wrapping uint64 add
    assert (unpack_pairs(total, len(values)) == sum(rows)).all()


@pytest.mark.parametrize("backend", ["inline", "local"])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_aggregator_and_ring_sum_exactly(backend: str, k: int) -> None:
    rng = np.random.default_rng(k)
    size = 1000 + k
    grads = [rng.integers(-(2**31) // k + 1, 2**31 // k, size) for _ in range(k)]
    expected = np.sum(grads, axis=0)
    with Fabric(FabricConfig(backend, 2)) as fabric:
        for cls in (Aggregator, Ring):
            stats = ReduceStats()
            assert (cls(size, k).allreduce(fabric, grads, stats) == expected).all()
            assert stats.packets > 0
            if k > 1:
                assert stats.hops > 0


def test_quantize_refuses_overflow() -> None:
    assert (quantize(np.array([1.5, -2.0]), 2) == [1.5 * 2**20, -2.0 * 2**20]).all()
    with pytest.raises(VerificationError):
        quantize(np.array([3000.0]), 2)


def test_reaches_095_and_matches_numpy_training() -> None:
    r = train(TrainParams(workers=2, epochs=12, target_accuracy=0.95, seed=3), FabricConfig())
    assert r.test_accuracy >= 0.95
    ref = train(TrainParams(workers=1, epochs=r.epochs, seed=3, mode="numpy"), FabricConfig())
    assert abs(ref.test_accuracy - r.test_accuracy) <= 0.02  # fixed-point vs float64 gradients


def test_same_parameters_on_every_backend_and_all_reduce() -> None:
    p = dict(workers=2, epochs=2, seed=5)
    ref = train(TrainParams(**p), FabricConfig("inline", 1))
    for mode, cfg in (("aggregate", FabricConfig("local", 3)), ("ring", FabricConfig("inline", 1)),
                      ("ring", FabricConfig("local", 2))):
        r = train(TrainParams(**p, mode=mode), cfg)
        assert r.params_sha256 == ref.params_sha256 and r.test_accuracy == ref.test_accuracy
        if cfg.backend == "local":
            assert r.bytes_moved > 0


def test_one_and_two_workers_converge_alike() -> None:
    one = train(TrainParams(workers=1, epochs=6, seed=2), FabricConfig())
    two = train(TrainParams(workers=2, epochs=6, seed=2), FabricConfig())
    assert one.test_accuracy >= 0.95 and two.test_accuracy >= 0.95
    assert abs(one.test_accuracy - two.test_accuracy) <= 0.02


@pytest.mark.slow
def test_same_parameters_on_ray() -> None:
    pytest.importorskip("ray")
    p = dict(workers=2, epochs=1, seed=5)
    assert (train(TrainParams(**p), FabricConfig("ray", 2)).params_sha256
            == train(TrainParams(**p), FabricConfig()).params_sha256)


def test_bad_parameters() -> None:
    for bad in (dict(workers=0), dict(batch=1, workers=2), dict(lr=0.0), dict(mode="allgather"), dict(model="cnn")):
        with pytest.raises(InputError):
            TrainParams(**bad).check()


def test_cli_json() -> None:
    res = CliRunner().invoke(train_command, ["--workers", "2", "--epochs", "1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"test_accuracy", "seconds", "bytes_moved"} <= set(out)
    assert out["workers"] == 2 and 0 < out["test_accuracy"] <= 1
    res = CliRunner().invoke(train_command, ["--workers", "8", "--batch", "4"])
    assert res.exit_code == 2 and "--batch" in res.output
