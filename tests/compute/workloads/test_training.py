"""Training: the aggregator's sums are exact whatever the arrival order (checked against numpy's integer sum),
aggregator and ring give the same bits, a plain single-loop recomputation of the same data-parallel schedule
gives the same parameters, the run reaches 0.95 test accuracy, one seed gives bit-identical parameters on
every backend, K=1 and K=2 converge alike, and a dead node is a clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.compute.packet import PACKET_WIRE
from packetfs.compute.workloads.cli import train_command
from packetfs.compute.workloads.errors import InputError, VerificationError, WorkloadError
from packetfs.compute.workloads.fabric import FabricConfig
from packetfs.compute.workloads.training.allreduce import dequantize, pack_pairs, quantize, unpack_pairs
from packetfs.compute.workloads.training.cluster import LocalCluster
from packetfs.compute.workloads.training.mlp import MLP, load
from packetfs.compute.workloads.training.nodes import (
    DOWN,
    UP,
    WORDS,
    AggregatorNode,
    NodeSpec,
    WorkerNode,
    chunks_for,
    make_packets,
    shard_rows,
    slice_sizes,
    steps_per_epoch,
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


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_aggregator_sums_exactly_in_any_arrival_order(k: int) -> None:
    rng = np.random.default_rng(k)
    size = 1000 + k
    chunks = chunks_for(size)
    grads = [rng.integers(-(2**31) // k + 1, 2**31 // k, size) for _ in range(k)]
    words = [pack_pairs(g, chunks * WORDS).reshape(chunks, WORDS) for g in grads]
    spec = NodeSpec("digits", 8, 64, 0.1, 0.9, 1, k, "aggregate")
    agg = AggregatorNode(spec, chunks)
    for step in (0, 1):
        up = np.concatenate([make_packets(step, UP, words[w], np.arange(chunks), k, w) for w in range(k)])
        order = rng.permutation(len(up))
        got = {w: [] for w in range(k)}
        for part in np.array_split(up[order], 7):
            for dest, packets in agg.handle(part):
                assert (packets["operation_code"] == DOWN).all() and (packets["next_node_id"] == dest).all()
                got[dest].append(packets)
        for w in range(k):
            p = np.concatenate(got[w])
            assert sorted(p["state"][:, 0]) == list(range(chunks))  # every chunk once
            back = np.zeros((chunks, WORDS), dtype=np.uint64)
            back[p["state"][:, 0].astype(np.int64)] = p["input_data"]
            assert (unpack_pairs(back.reshape(-1), size) == np.sum(grads, axis=0)).all()
    assert not agg._sum  # every slot freed


def test_aggregator_refuses_foreign_and_excess_packets() -> None:
    spec = NodeSpec("digits", 8, 64, 0.1, 0.9, 1, 2, "aggregate")
    agg = AggregatorNode(spec, 3)
    words = np.zeros((3, WORDS), dtype=np.uint64)
    with pytest.raises(VerificationError, match="not a gradient"):
        agg.handle(make_packets(0, DOWN, words, np.arange(3), 2, 0))
    with pytest.raises(VerificationError, match="chunk"):
        agg.handle(make_packets(0, UP, np.zeros((9, WORDS), dtype=np.uint64), np.array([7]), 2, 0))
    p = make_packets(1, UP, words, np.array([0]), 2, 0)
    agg.handle(p)
    agg.handle(p)
    with pytest.raises(VerificationError, match="more than 2"):
        agg.handle(p)


_DATA = load("digits", 1)


@st.composite
def _packets(draw) -> np.ndarray:
    n = draw(st.integers(1, 6))
    p = np.zeros(n, dtype=PACKET_WIRE)
    for i in range(n):
        p[i]["computation_id"] = draw(st.integers(0, 3))
        p[i]["operation_code"] = draw(st.integers(0, 5))
        p[i]["state"][0] = draw(st.integers(0, 90))
        p[i]["state"][1] = draw(st.integers(0, 3))
        p[i]["state"][2] = draw(st.integers(0, 3))
        p[i]["next_node_id"] = draw(st.integers(0, 3))
        p[i]["input_data"] = draw(st.lists(st.integers(0, 2**64 - 1), min_size=16, max_size=16))
    return p


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["aggregate", "ring"]), st.integers(1, 3), st.lists(_packets(), min_size=1, max_size=4))
def test_nodes_take_any_packets_with_a_clear_error_or_not_at_all(mode: str, k: int, batches: list) -> None:
    """What arrives off the wire: a node either takes it or raises VerificationError, never anything else."""
    spec = NodeSpec("digits", 32, 64, 0.1, 0.9, 1, k, mode)
    nodes = [WorkerNode(spec, w, _DATA) for w in range(k)]
    for w in nodes:
        w.start_epoch(1)
    targets = nodes + ([AggregatorNode(spec, nodes[0].chunks)] if mode == "aggregate" else [])
    for i, batch in enumerate(batches):
        node = targets[i % len(targets)]
        try:
            for dest, out in node.handle(batch):
                assert out.dtype == PACKET_WIRE and (out["next_node_id"] == dest).all()
        except VerificationError:
            pass


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["aggregate", "ring"]), st.integers(1, 3), st.integers(1, 4), st.data(),
       st.lists(_packets(), min_size=1, max_size=4))
def test_a_fabric_node_takes_any_packets_with_a_clear_error_or_not_at_all(mode: str, k: int, nodes: int, data,
                                                                         batches: list) -> None:
    """A fabric node holding several roles (what the local backend's process feeds off the wire): it takes
    the packets or raises VerificationError, and sends on only what is for roles placed elsewhere."""
    from packetfs.compute.workloads.training.cluster import Host, placement

    spec = NodeSpec("digits", 32, 64, 0.1, 0.9, 1, k, mode)
    roles = k + (mode == "aggregate")
    nodes = min(nodes, roles)
    where = placement(roles, nodes)
    host = Host(spec, data.draw(st.integers(0, nodes - 1)), where, _DATA, MLP(64, 32, 10).size)
    for out_dest, _ in host.start_epoch(1):
        assert where[out_dest] != host.index
    for batch in batches:
        try:
            for dest, out in host.handle(batch):
                assert where[dest] != host.index and out.dtype == PACKET_WIRE and (out["next_node_id"] == dest).all()
        except VerificationError:
            pass


def test_quantize_refuses_overflow() -> None:
    assert (quantize(np.array([1.5, -2.0]), 2) == [1.5 * 2**20, -2.0 * 2**20]).all()
    with pytest.raises(VerificationError):
        quantize(np.array([3000.0]), 2)


def _reference_sha(seed: int, workers: int, epochs: int, batch: int = 64, hidden: int = 32) -> str:
    """The same data-parallel schedule as one plain loop: shards, slices, fixed-point sum, update."""
    import hashlib

    data = load("digits", seed)
    model = MLP(64, hidden, 10)
    theta, velocity = model.init(seed), np.zeros(model.size)
    shards = shard_rows(len(data.y_train), workers, seed)
    per = slice_sizes(batch, workers)
    steps = steps_per_epoch(len(data.y_train), batch, workers)
    for epoch in range(1, epochs + 1):
        orders = [np.random.default_rng([seed, epoch, k]).permutation(len(shards[k])) for k in range(workers)]
        for s in range(steps):
            total = np.zeros(model.size, dtype=np.int64)
            for k in range(workers):
                rows = shards[k][orders[k][s * per[k] : (s + 1) * per[k]]]
                total += quantize(model.grad_sum(theta, data.x_train[rows], data.y_train[rows])[0], workers)
            velocity = 0.9 * velocity + dequantize(total) / batch
            theta = theta - 0.1 * velocity
    return hashlib.sha256(theta.tobytes()).hexdigest()


@pytest.mark.parametrize("k", [1, 2, 3])
def test_aggregator_and_ring_match_a_plain_recomputation(k: int) -> None:
    want = _reference_sha(4, k, 2)
    for mode in ("aggregate", "ring"):
        r = train(TrainParams(workers=k, epochs=2, seed=4, mode=mode), FabricConfig())
        assert r.params_sha256 == want, mode
        chunks = chunks_for(MLP(64, 32, 10).size)
        per_step = 2 * k * chunks if mode == "aggregate" else 2 * (k - 1) * chunks
        assert r.packets == per_step * r.steps and r.bytes_moved == 208 * r.packets


def test_reaches_095_and_matches_numpy_training() -> None:
    r = train(TrainParams(workers=2, epochs=12, target_accuracy=0.95, seed=3), FabricConfig())
    assert r.test_accuracy >= 0.95 and r.time_to_target is not None
    ref = train(TrainParams(workers=1, epochs=r.epochs, seed=3, mode="numpy"), FabricConfig())
    assert abs(ref.test_accuracy - r.test_accuracy) <= 0.03  # other sample order, fixed point vs float64


def test_same_parameters_on_every_backend() -> None:
    p = dict(workers=2, epochs=2, seed=5)
    ref = train(TrainParams(**p), FabricConfig("inline", 1))
    for mode in ("aggregate", "ring"):
        r = train(TrainParams(**p, mode=mode), FabricConfig("local", 1))
        assert r.params_sha256 == ref.params_sha256 and r.test_accuracy == ref.test_accuracy
        assert r.nodes == (3 if mode == "aggregate" else 2)
        assert r.packets == (ref.packets if mode == "aggregate" else ref.packets // 2)  # ring: K-1 of K's traffic
        assert r.wire_bytes >= r.bytes_moved > 0  # datagram headers and acks on top of the packets


def test_large_model_segments_span_several_datagrams() -> None:
    # hidden 512: 1,201 packets a gradient, ring segments of ~400 packets, more than one datagram (300) each
    p = dict(workers=3, epochs=1, hidden=512, seed=2)
    ref = train(TrainParams(**p), FabricConfig("inline", 1))
    ring = train(TrainParams(**p, mode="ring"), FabricConfig("local", 1))
    assert ring.params_sha256 == ref.params_sha256
    assert ring.packets == 2 * 2 * 1201 * ring.steps


def test_one_and_two_workers_converge_alike() -> None:
    one = train(TrainParams(workers=1, epochs=6, seed=2), FabricConfig())
    two = train(TrainParams(workers=2, epochs=6, seed=2), FabricConfig())
    assert one.test_accuracy >= 0.95 and two.test_accuracy >= 0.95
    assert abs(one.test_accuracy - two.test_accuracy) <= 0.02


def test_a_dead_node_is_a_clear_error_not_a_hang() -> None:
    data = load("digits", 1)
    spec = NodeSpec("digits", 32, 64, 0.1, 0.9, 1, 2, "aggregate")
    cluster = LocalCluster(spec, data, MLP(64, 32, 10).size)
    try:
        cluster.procs[2].kill()  # the aggregator
        cluster.procs[2].join()
        with pytest.raises(WorkloadError, match="node 2 died"):
            cluster.run_epoch(1)
        assert not cluster.procs  # everything stopped
    finally:
        cluster.close()


def test_a_failed_check_at_a_node_keeps_its_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self, epoch):  # runs in the forked node process
        raise VerificationError(f"worker {self.index} refuses epoch {epoch}")

    monkeypatch.setattr(WorkerNode, "start_epoch", refuse)
    spec = NodeSpec("digits", 32, 64, 0.1, 0.9, 1, 2, "ring")
    with LocalCluster(spec, _DATA, MLP(64, 32, 10).size) as cluster:
        with pytest.raises(WorkloadError, match="refuses epoch 1") as err:
            cluster.run_epoch(1)
    assert err.value.exit_code == VerificationError.exit_code


@pytest.mark.slow
def test_same_parameters_on_ray() -> None:
    pytest.importorskip("ray", reason="the ray backend needs the ray package")
    p = dict(workers=2, epochs=1, seed=5)
    ref = train(TrainParams(**p), FabricConfig()).params_sha256
    assert train(TrainParams(**p), FabricConfig("ray", 2)).params_sha256 == ref
    on_two = train(TrainParams(**p, nodes=2), FabricConfig("ray"))
    assert on_two.params_sha256 == ref and on_two.nodes == 2 and 2 * on_two.bytes_between_nodes == on_two.bytes_moved


@pytest.mark.parametrize("backend", ["inline", "local"])
def test_roles_placed_on_fewer_nodes_give_the_same_bits(backend: str) -> None:
    # 2 workers + the aggregator (roles 0, 1, 2), role r on node r mod K
    p = dict(workers=2, epochs=1, seed=6)
    ref = train(TrainParams(**p), FabricConfig("inline"))
    assert ref.nodes == 3 and ref.bytes_between_nodes == ref.bytes_moved  # a node per role: every packet crosses
    for k in (1, 2):
        r = train(TrainParams(**p, nodes=k), FabricConfig(backend))
        assert r.params_sha256 == ref.params_sha256 and r.test_accuracy == ref.test_accuracy
        assert r.nodes == k and r.bytes_moved == ref.bytes_moved and r.packets == ref.packets
        if k == 1:
            assert r.bytes_between_nodes == 0 and (backend == "inline" or r.wire_bytes == 0)
        else:
            # node 0 holds worker 0 and the aggregator: only worker 1's gradient and its sums cross
            assert 2 * r.bytes_between_nodes == r.bytes_moved
            assert backend == "inline" or r.wire_bytes >= r.bytes_between_nodes
    ring = train(TrainParams(**p, mode="ring", nodes=1), FabricConfig(backend))
    assert ring.params_sha256 == ref.params_sha256 and ring.bytes_between_nodes == 0 and ring.nodes == 1


def test_nodes_beyond_the_roles_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="--nodes must be 1..3"):
        train(TrainParams(workers=2, epochs=1, nodes=4), FabricConfig())
    with pytest.raises(InputError, match="--nodes must be 1..2"):
        train(TrainParams(workers=2, epochs=1, nodes=3, mode="ring"), FabricConfig("local"))
    with pytest.raises(InputError, match="one process"):
        train(TrainParams(workers=1, epochs=1, nodes=2, mode="numpy"), FabricConfig())


def test_a_node_refuses_packets_for_roles_placed_elsewhere() -> None:
    from packetfs.compute.workloads.training.cluster import Host, placement

    spec = NodeSpec("digits", 32, 64, 0.1, 0.9, 1, 2, "aggregate")
    where = placement(3, 2)
    assert where == [0, 1, 0]
    host = Host(spec, 1, where, _DATA, MLP(64, 32, 10).size)  # holds worker 1 only
    stray = make_packets(1, UP, np.zeros((chunks_for(MLP(64, 32, 10).size), WORDS), np.uint64), np.arange(2), 2, 0)
    with pytest.raises(VerificationError, match="role 2, placed elsewhere"):
        host.handle(stray)
    with pytest.raises(VerificationError, match="not packets"):
        host.handle(np.zeros(3, dtype=np.uint64))


def test_bad_parameters() -> None:
    for bad in (dict(workers=0), dict(batch=1, workers=2), dict(lr=0.0), dict(mode="allgather"), dict(model="cnn")):
        with pytest.raises(InputError):
            TrainParams(**bad).check()
    with pytest.raises(InputError, match="ring"):
        train(TrainParams(workers=8, hidden=1, mode="ring", epochs=1), FabricConfig())


def test_cli_json() -> None:
    res = CliRunner().invoke(train_command, ["--workers", "2", "--epochs", "1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"test_accuracy", "seconds", "bytes_moved"} <= set(out)
    assert out["workers"] == 2 and 0 < out["test_accuracy"] <= 1
    res = CliRunner().invoke(train_command, ["--workers", "8", "--batch", "4"])
    assert res.exit_code == 2 and "--batch" in res.output
    res = CliRunner().invoke(train_command, ["--workers", "2", "--epochs", "1", "--compare", "--backend", "local"])
    assert res.exit_code == 0 and "aggregator" in res.output and "ring" in res.output
    assert out["nodes"] == 3  # no --nodes: a node per role


def test_cli_nodes_places_the_roles() -> None:
    args = ["--workers", "2", "--epochs", "1", "--seed", "7", "--json"]
    base = json.loads(CliRunner().invoke(train_command, args).output)
    res = CliRunner().invoke(train_command, args + ["--nodes", "2", "--backend", "local"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["nodes"] == 2 and out["params_sha256"] == base["params_sha256"]
    assert 2 * out["bytes_between_nodes"] == out["bytes_moved"] == base["bytes_moved"]
    res = CliRunner().invoke(train_command, args + ["--nodes", "2", "--compare"])  # ring on 2, numpy on 1
    assert res.exit_code == 0, res.output
    assert [c["nodes"] for c in json.loads(res.output)["compare"]] == [2, 1]
    res = CliRunner().invoke(train_command, args + ["--nodes", "4"])
    assert res.exit_code == InputError.exit_code and "--nodes must be 1..3" in res.output
    assert "Traceback" not in res.output
    assert "a node per role" in CliRunner().invoke(train_command, ["--help"]).output
