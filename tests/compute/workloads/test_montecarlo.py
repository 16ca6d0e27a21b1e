"""Monte Carlo on the fabric: the estimate's statistics, its independence from node count and backend, and
the fabric's RNG stream checked sample by sample against numpy's own Philox4x64-10."""

from __future__ import annotations

import math

import numpy as np
import pytest

from packetfs.compute.workloads import montecarlo
from packetfs.compute.workloads.errors import InputError
from packetfs.compute.workloads.fabric import FabricConfig

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


@pytest.mark.parametrize("seed", [1, 7, 2**63 + 5])
def test_pi_hits_match_numpy_philox_exactly(seed: int) -> None:
    n_packets = 1500
    result = montecarlo.estimate(4 * n_packets, seed, INLINE)
    w = _numpy_philox_words(seed, n_packets).reshape(-1)
    hits = sum(1 for v in map(int, w) if (v >> 33) ** 2 + (v & 0x7FFFFFFF) ** 2 < 1 << 62)
    assert result.hits == hits
    assert result.estimate == 4 * hits / (4 * n_packets)


def test_float_integrand_matches_numpy_recomputation() -> None:
    n_packets = 1000
    seed = 3
    result = montecarlo.estimate(4 * n_packets, seed, INLINE, "arctan")
    u = (_numpy_philox_words(seed, n_packets).reshape(-1) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    f = 4.0 / (1.0 + u * u)
    assert result.sum_f == math.fsum(f.tolist())
    assert result.estimate == pytest.approx(math.fsum(f.tolist()) / len(f), rel=1e-15)


@pytest.mark.parametrize("integrand", sorted(montecarlo.INTEGRANDS))
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_estimate_within_four_standard_errors(integrand: str, seed: int) -> None:
    r = montecarlo.estimate(200_000, seed, INLINE, integrand)
    assert r.stderr > 0
    assert abs(r.estimate - r.exact) < 4 * r.stderr, (r.estimate, r.exact, r.stderr)


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
    # hit counts are exact integers; float sums are correctly rounded per fabric run (a fixed chunk size,
    # never derived from the node count or backend), so only the integer path is chunk-independent
    ref = montecarlo.estimate(100_003, 9, INLINE)
    assert montecarlo.estimate(100_003, 9, FabricConfig("inline", 2), chunk_packets=4096).estimate == ref.estimate


def test_same_answer_on_local_backend() -> None:
    pytest.importorskip("packetfs.compute.backends.local", reason="the fabric's local backend is not built yet")
    ref = montecarlo.estimate(40_000, 21, INLINE)
    r = montecarlo.estimate(40_000, 21, FabricConfig("local", 2))
    assert r.estimate == ref.estimate


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="unknown integrand"):
        montecarlo.estimate(100, 1, INLINE, "cosh")
    with pytest.raises(InputError, match="samples"):
        montecarlo.estimate(0, 1, INLINE)


@pytest.mark.slow
def test_same_answer_on_ray() -> None:
    pytest.importorskip("ray")
    ref = montecarlo.estimate(40_000, 21, INLINE, "arctan")
    r = montecarlo.estimate(40_000, 21, FabricConfig("ray", 2), "arctan")
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
