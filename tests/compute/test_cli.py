"""`packetfs compute` against numpy/hashlib on the same data, its files and errors; `packetfs meter`."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

from packetfs.cli import main
from packetfs.compute.meter import link_limits

runner = CliRunner()


def _json(args):
    r = runner.invoke(main, args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL", "XOR", "AND", "OR", "FADD", "FMUL", "FDIV", "HASH", "MATMUL"])
def test_every_operation_matches_its_anchor(op, tmp_path):
    out = tmp_path / "r.npy"
    size = 24 if op == "MATMUL" else 1001
    rep = _json(["compute", "--operation", op, "--size", str(size), "--nodes", "3", "--seed", "5", "-o", str(out), "--json"])
    assert rep["match"] and rep["packets"] > 0 and rep["elements"] > 0
    got = np.load(out)
    # recompute the anchor here from the same generator, independently of the command's own check
    rng = np.random.default_rng(5)
    if op == "HASH":
        msgs = rng.integers(0, 256, (size, 55), dtype=np.uint8)
        assert got.tobytes() == b"".join(hashlib.sha256(m.tobytes()).digest() for m in msgs)
    elif op == "MATMUL":
        a, b = rng.standard_normal((size, size)), rng.standard_normal((size, size))
        assert np.allclose(got, a @ b, rtol=1e-12, atol=1e-12)
    elif op.startswith("F"):
        a, b = rng.standard_normal(size), rng.standard_normal(size)
        want = {"FADD": a + b, "FMUL": a * b, "FDIV": a / b}[op]
        assert got.tobytes() == want.tobytes()
    else:
        a, b = (rng.integers(0, 2**64 - 1, size, dtype=np.uint64, endpoint=True) for _ in range(2))
        fn = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "XOR": np.bitwise_xor, "AND": np.bitwise_and,
              "OR": np.bitwise_or}[op]  # fmt: skip
        assert (got == fn(a, b)).all()


def test_inputs_from_files_local_backend_and_uint64_matmul(tmp_path):
    a = np.arange(35, dtype=np.uint64).reshape(5, 7) * np.uint64(2**61)
    b = np.arange(21, dtype=np.uint64).reshape(7, 3) + np.uint64(3)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    rep = _json(["compute", "-O", "matmul", "--input", str(tmp_path / "a.npy"), "--input", str(tmp_path / "b.npy"),
                 "--nodes", "2", "--backend", "local", "-o", str(tmp_path / "c.npy"), "--json"])  # fmt: skip
    assert rep["match"] and rep["exact"] and rep["bytes_moved"] > 0
    assert (np.load(tmp_path / "c.npy") == a @ b).all()  # numpy's uint64 matmul wraps like ours


def test_bad_input_is_one_clear_sentence_with_a_distinct_exit_code(tmp_path):
    np.save(tmp_path / "f.npy", np.zeros(4))
    r = runner.invoke(main, ["compute", "-O", "ADD", "--input", str(tmp_path / "f.npy"), "--input", str(tmp_path / "f.npy")])
    assert r.exit_code == 3 and "uint64" in r.output and "Traceback" not in r.output
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    r = runner.invoke(main, ["compute", "-O", "ADD", "--input", str(tmp_path / "bad.npy")])
    assert r.exit_code == 3 and "cannot read" in r.output
    r = runner.invoke(main, ["compute", "-O", "NOPE"])
    assert r.exit_code == 2
    r = runner.invoke(main, ["compute", "-O", "MATMUL", "--size", "100000"])  # refused before allocating
    assert r.exit_code == 3 and "size" in r.output


def test_meter_quick_json_and_plot(tmp_path):
    png = tmp_path / "m.png"
    rep = _json(["meter", "--quick", "--batch-sizes", "1,64", "--latency-runs", "3", "--plot", str(png), "--json"])
    assert {r["backend"] for r in rep["measured"]} == {"inline", "local"}
    assert all(r["packet_ops_per_s"] > 0 and r["hops_per_s"] > 0 for r in rep["measured"])
    local = [r for r in rep["measured"] if r["backend"] == "local"]
    assert all(r["bytes_per_useful_op"] >= 208 / 8 for r in local)  # at least the packet itself moves
    assert len(rep["latency"]) == 2 and all(x["hop_p99_s"] >= x["hop_p50_s"] for x in rep["latency"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_link_limits_arithmetic():
    row = {r["link_gbps"]: r for r in link_limits()}[100]
    assert abs(row["packets_per_s"] - 100e9 / 8 / 208) < 1  # ~60 M packets of 208 bytes per second
    assert row["claim_over_limit"] > 1e5  # the pitch's 100 TFLOPS at 100 Gb/s is ~200,000x the physical bound


def test_unreachable_ray_address_fails_fast():
    import socket
    import time

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    r = runner.invoke(main, ["compute", "-O", "ADD", "--size", "10", "--backend", "ray", "--ray-address", f"127.0.0.1:{port}"])
    assert r.exit_code == 3 and "cannot reach the Ray cluster" in r.output
    assert time.monotonic() - t0 < 30
