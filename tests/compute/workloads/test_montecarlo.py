"""Monte Carlo on the fabric: the estimate's statistics, its independence from node count, backend and packet
size, the block method (MCSUM) against the fine-grained sample method (the ISA's own Philox and lane ops),
and both checked sample by sample against numpy's own Philox4x64-10."""

from __future__ import annotations

import math

import numpy as np
import pytest

from packetfs.compute.isa import IMM, MC_MAX_BLOCKS, Op, Status
from packetfs.compute.runtime.program import Instruction, Program
from packetfs.compute.workloads import montecarlo
from packetfs.compute.workloads.errors import InputError
from packetfs.compute.workloads.fabric import Fabric, FabricConfig

INLINE = FabricConfig("inline", 1)


def _numpy_philox_words(seed: int, n_packets: int) -> np.ndarray:
    """Words numpy's Philox (independent C code) gives for counters (i, stream, 0, 0), i = 0..n-1.
    numpy increments its 256-bit counter before each block, so it is started one below."""
    out = np.empty((n_packets, 4), dtype=np.uint64)
    stream = montecarlo._STREAM_WORD
    for i in range(n_packets):
        lo, mid = (i - 1, stream) if i else (2**64 - 1, stream - 1)
        bg = np.random.Philox(counter=np.array([lo, mid, 0, 0], dtype=np.uint64),
                              key=np.array([seed, 0], dtype=np.uint64))
        out[i] = bg.random_raw(4)
    return out


@pytest.mark.parametrize("method", montecarlo.METHODS)
@pytest.mark.parametrize("seed", [1, 7, 2**63 + 5])
def test_pi_hits_match_numpy_philox_exactly(seed: int, method: str) -> None:
    n_packets = 1500
    result = montecarlo.estimate(4 * n_packets, seed, INLINE, method=method, packet_blocks=64)
    w = _numpy_philox_words(seed, n_packets).reshape(-1)
    hits = sum(1 for v in map(int, w) if (v >> 33) ** 2 + (v & 0x7FFFFFFF) ** 2 < 1 << 62)
    assert result.hits == hits
    assert result.estimate == 4 * hits / (4 * n_packets)


def test_float_integrand_matches_numpy_recomputation() -> None:
    n_packets = 1000
    seed = 3
    u = (_numpy_philox_words(seed, n_packets).reshape(-1) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    f = 4.0 / (1.0 + u * u)
    sample = montecarlo.estimate(4 * n_packets, seed, INLINE, "arctan", method="sample")
    assert sample.sum_f == math.fsum(f.tolist())
    assert sample.estimate == pytest.approx(math.fsum(f.tolist()) / len(f), rel=1e-15)
    block = montecarlo.estimate(4 * n_packets, seed, INLINE, "arctan", packet_blocks=300)
    fixed = [round(v * 2**32) for v in f.tolist()]  # Python's round: half to even, as np.rint
    assert block.fixed_sums == (sum(fixed), sum(round(v * v * 2**32) for v in f.tolist()))
    assert abs(block.sum_f - math.fsum(f.tolist())) <= len(f) * 2.0**-33


@pytest.mark.parametrize("integrand", sorted(montecarlo.INTEGRANDS))
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_estimate_within_four_standard_errors(integrand: str, seed: int) -> None:
    r = montecarlo.estimate(2_000_000, seed, INLINE, integrand)
    assert r.stderr > 0
    assert abs(r.estimate - r.exact) < 4 * r.stderr, (r.estimate, r.exact, r.stderr)


@pytest.mark.parametrize("integrand", sorted(montecarlo.INTEGRANDS))
def test_sample_method_within_four_standard_errors(integrand: str) -> None:
    r = montecarlo.estimate(100_000, 14, INLINE, integrand, method="sample")
    assert abs(r.estimate - r.exact) < 4 * r.stderr, (r.estimate, r.exact, r.stderr)


@pytest.mark.parametrize("seed", [2, 3, 2**64 - 1])
def test_block_method_equals_sample_method_for_any_packet_size_and_nodes(seed: int) -> None:
    ref = montecarlo.estimate(50_001, seed, INLINE, method="sample")
    for nodes, blocks in ((1, 1), (1, 7), (2, 1000), (3, MC_MAX_BLOCKS)):
        r = montecarlo.estimate(50_001, seed, FabricConfig("inline", nodes), packet_blocks=blocks)
        assert (r.hits, r.estimate, r.stderr, r.samples) == (ref.hits, ref.estimate, ref.stderr, ref.samples)
    for nodes in (1, 3):
        a = montecarlo.estimate(50_001, seed, FabricConfig("inline", nodes), "sqrt", packet_blocks=13)
        b = montecarlo.estimate(50_001, seed, INLINE, "sqrt", packet_blocks=5000)
        assert a.fixed_sums == b.fixed_sums and a.estimate == b.estimate


def _run_one(code: list[Instruction], inputs: np.ndarray):
    with Fabric(INLINE) as f:
        prog = Program(code, num_nodes=1)
        return f.backend.run(prog, prog.packets(len(inputs), inputs=inputs))


def test_mcsum_carries_the_counter_across_words_like_the_rng_instruction() -> None:
    # 6 blocks from counter (2^64 - 3, 2^64 - 1, 5, 0): the low two words wrap, the third word carries
    start = (2**64 - 3) | (2**64 - 1) << 64 | 5 << 128
    ctrs = [(start + i) % 2**256 for i in range(6)]
    rng_in = np.array([[(c >> s) & (2**64 - 1) for s in (0, 64, 128, 192)] for c in ctrs], dtype=np.uint64)
    words = _run_one([Instruction(Op.RNG, dst=4, a=0, b=IMM, imm=99), Instruction(Op.HALT, a=IMM)], rng_in)
    w = words.packets["input_data"][:, 4:8].reshape(-1)
    hits = sum(1 for v in map(int, w) if (v >> 33) ** 2 + (v & 0x7FFFFFFF) ** 2 < 1 << 62)
    block = np.zeros((1, 6), dtype=np.uint64)
    block[0, :4] = rng_in[0]
    block[0, 4] = 6
    res = _run_one([Instruction(Op.MCSUM, dst=8, a=0, b=4, imm=99), Instruction(Op.HALT, a=IMM)], block)
    assert tuple(map(int, res.packets["input_data"][0, 8:10])) == (hits, hits)


def test_mcsum_refuses_bad_operands_with_an_error_packet() -> None:
    bad = np.zeros((3, 6), dtype=np.uint64)
    bad[0, 4] = MC_MAX_BLOCKS + 1  # too many blocks
    bad[1, 4], bad[1, 5] = 1, 5  # no integrand 5
    bad[2, 4] = 2  # fine
    res = _run_one([Instruction(Op.MCSUM, dst=8, a=0, b=4, imm=1), Instruction(Op.HALT, a=IMM)], bad)
    status = res.packets["operation_code"] & 0xFFFF
    assert list(status) == [Status.BAD_OPERAND, Status.BAD_OPERAND, Status.HALTED]


def test_stderr_shrinks_with_samples() -> None:
    small = montecarlo.estimate(40_000, 5, INLINE)
    large = montecarlo.estimate(640_000, 5, INLINE)
    assert large.stderr == pytest.approx(small.stderr / 4, rel=0.05)


@pytest.mark.parametrize("integrand", ["pi", "quarter-circle"])
def test_same_answer_for_every_node_count(integrand: str) -> None:
    ref = montecarlo.estimate(100_003, 9, INLINE, integrand)
    assert ref.samples == 100_004  # rounded up to whole packets of 4 samples
    for nodes in (2, 3):
        r = montecarlo.estimate(100_003, 9, FabricConfig("inline", nodes), integrand)
        assert (r.estimate, r.stderr) == (ref.estimate, ref.stderr)


def test_integer_estimate_does_not_depend_on_chunking() -> None:
    # sample method: hit counts are exact integers; float sums are correctly rounded per fabric run (a fixed
    # chunk size, never derived from the node count or backend), so only the integer path is chunk-independent
    ref = montecarlo.estimate(100_003, 9, INLINE, method="sample")
    r = montecarlo.estimate(100_003, 9, FabricConfig("inline", 2), chunk_packets=4096, method="sample")
    assert r.estimate == ref.estimate


@pytest.mark.parametrize("integrand", ["pi", "arctan"])
def test_same_answer_on_local_backend(integrand: str) -> None:
    ref = montecarlo.estimate(3_000_000, 21, INLINE, integrand)
    for nodes in (1, 2):
        r = montecarlo.estimate(3_000_000, 21, FabricConfig("local", nodes), integrand)
        assert (r.estimate, r.stderr, r.fixed_sums, r.hits) == (ref.estimate, ref.stderr, ref.fixed_sums, ref.hits)
        assert 0 < r.bytes_moved <= 600 * r.packets  # a packet out, a packet and two sums back
        assert r.startup_seconds > 0


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="unknown integrand"):
        montecarlo.estimate(100, 1, INLINE, "cosh")
    with pytest.raises(InputError, match="samples"):
        montecarlo.estimate(0, 1, INLINE)
    with pytest.raises(InputError, match="method"):
        montecarlo.estimate(100, 1, INLINE, method="gpu")
    with pytest.raises(InputError, match="blocks per packet"):
        montecarlo.estimate(100, 1, INLINE, packet_blocks=0)


@pytest.mark.slow
def test_same_answer_on_ray() -> None:
    pytest.importorskip("ray")
    for method in montecarlo.METHODS:
        ref = montecarlo.estimate(40_000, 21, INLINE, "arctan", method=method)
        r = montecarlo.estimate(40_000, 21, FabricConfig("ray", 2), "arctan", method=method)
        assert (r.estimate, r.stderr) == (ref.estimate, ref.stderr)


def test_deploy_cli_json_scaling_and_errors() -> None:
    import json

    from click.testing import CliRunner

    from packetfs.compute.workloads.cli import deploy_command

    res = CliRunner().invoke(deploy_command, ["--samples", "20000", "--nodes", "2", "--seed", "4", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"estimate", "stderr", "samples"} <= set(out)
    assert out["estimate"] == montecarlo.estimate(20000, 4, INLINE).estimate
    assert out["scaling"]["nodes"] == 2 and out["scaling"]["efficiency"] > 0
    assert out["pitch"]["claim"].startswith("operations_per_second")
    table = CliRunner().invoke(deploy_command, ["--samples", "4000"])
    assert table.exit_code == 0 and "pitch" in table.output and "1T+" in table.output
    bad = CliRunner().invoke(deploy_command, ["--integrand", "tan"])
    assert bad.exit_code == 2 and "unknown integrand" in bad.output and "Traceback" not in bad.output
