"""The C compiler on the fabric: classic programs (recursive fib, sieve, matrix multiply, SHA-256 in C,
quicksort) timed on the fabric beside the same algorithm in CPython and gcc -O0 / -O2 binaries, with
packets executed and bytes moved; the --batch data-parallel case (one function over 1M inputs, every
input a lane of the lane executor) against a CPython loop over the same lines, in the same run; and
batch scaling from 1 to 2 nodes on the local backend (one worker process per node).

    python -m bench compiler            # 1M inputs (PACKETFS_BENCH_BATCH to change)
    python -m bench compiler --quick    # 262,144 inputs, no Ray row (~1 min; PACKETFS_BENCH_QUICK=1)

Ratios come from one run (medians of repeats); the machine's load average is printed with them."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import median_time
from packetfs.compute.compiler.batch_demo import MIX_C, mix_inputs, mix_python

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = ROOT / "tests" / "compute" / "compiler" / "programs"


# ---------------------------------------------------------------- the same algorithms in CPython

def py_fib(n: int) -> int:
    return n if n < 2 else py_fib(n - 1) + py_fib(n - 2)


def py_sieve(n: int) -> tuple[int, int]:
    comp = bytearray(n + 1)
    count = last = 0
    for i in range(2, n + 1):
        if comp[i]:
            continue
        count += 1
        last = i
        for j in range(i * i, n + 1, i):
            comp[j] = 1
    return count, last


def py_matmul(n: int) -> int:
    a = [[(i * 7 + j * 3) % 11 - 5 for j in range(n)] for i in range(n)]
    b = [[(i * 5 + j * 2) % 13 - 6 for j in range(n)] for i in range(n)]
    x = [[(i + 1) / (j + 2) for j in range(n)] for i in range(n)]
    y = [[(j - i) * 0.25 for j in range(n)] for i in range(n)]
    tr = 0
    for i in range(n):
        for j in range(n):
            s = t = 0
            for k in range(n):
                s += a[i][k] * b[k][j]
                t += x[i][k] * y[k][j]
            if i == j:
                tr += s
    return tr


_K = [0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]


def py_sha256(msg: bytes) -> str:
    """SHA-256 in pure Python (the same algorithm as programs/sha256.c, not hashlib)."""
    M = 0xFFFFFFFF
    h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    data = msg + b"\x80" + b"\0" * ((55 - len(msg)) % 64) + (len(msg) * 8).to_bytes(8, "big")

    def ror(x: int, n: int) -> int:
        return ((x >> n) | (x << (32 - n))) & M

    for off in range(0, len(data), 64):
        w = [int.from_bytes(data[off + 4 * i: off + 4 * i + 4], "big") for i in range(16)]
        for i in range(16, 64):
            s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)
            s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w.append((w[i - 16] + s0 + w[i - 7] + s1) & M)
        a, b, c, d, e, f, g, hh = h
        for i in range(64):
            t1 = (hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]) & M
            t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & M
            hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & M, c, b, a, (t1 + t2) & M
        h = [(x + y) & M for x, y in zip(h, [a, b, c, d, e, f, g, hh], strict=True)]
    return "".join(f"{x:08x}" for x in h)


def py_quicksort(n: int) -> int:
    seed = 12345
    v = []
    for _ in range(n):
        seed = (seed * 1103515245 + 12345) & 0xFFFFFFFF
        v.append((seed >> 8) % 10000 - 5000)

    def qs(lo: int, hi: int) -> None:
        if lo >= hi:
            return
        p, i = v[hi], lo
        for j in range(lo, hi):
            if v[j] < p:
                v[i], v[j] = v[j], v[i]
                i += 1
        v[i], v[hi] = v[hi], v[i]
        qs(lo, i - 1)
        qs(i + 1, hi)

    qs(0, n - 1)
    return v[0]


CLASSIC = [
    ("fib.c", ["14"], lambda: py_fib(14)),
    ("sieve.c", ["2000"], lambda: py_sieve(2000)),
    ("matmul.c", ["8"], lambda: py_matmul(8)),
    ("sha256.c", ["abc"], lambda: py_sha256(b"abc")),
    ("quicksort.c", ["100"], lambda: py_quicksort(100)),
]





def _gcc_time(src: Path, args: list[str], opt: str, tmp: Path) -> tuple[float, bytes]:
    exe = tmp / f"{src.stem}{opt}"
    subprocess.run(["gcc", opt, "-w", "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe), *args], capture_output=True).stdout
    return median_time(lambda: subprocess.run([str(exe), *args], capture_output=True), repeat=5), out


def main() -> None:
    from packetfs.compute.compiler.driver import compile_file
    from packetfs.compute.compiler.execute import build, run

    quick = "--quick" in sys.argv[1:] or os.environ.get("PACKETFS_BENCH_QUICK") == "1"

    have_gcc = shutil.which("gcc") is not None
    print("Classic programs: fabric (inline backend, 1 node) vs CPython (same algorithm) vs gcc binaries "
          "(gcc times include process start, ~1 ms)")
    print(f"{'program':<18}{'fabric s':>10}{'steps':>10}{'hops@2':>8}{'CPython s':>11}{'gcc -O0 s':>11}"
          f"{'gcc -O2 s':>11}{'fabric/CPy':>12}{'fabric/O2':>11}  output equal gcc")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, args, py in CLASSIC:
            src = PROGRAMS / name
            compiled = build(compile_file(src))
            argv = [[b"prog", *(a.encode() for a in args)]]
            t0 = time.perf_counter()
            (o,), res = run(compiled, argv, backend="inline", nodes=1)
            t_fab = time.perf_counter() - t0
            (_,), res2 = run(compiled, argv, backend="inline", nodes=2)
            t_py = median_time(py, repeat=3)
            if have_gcc:
                t_o0, out0 = _gcc_time(src, args, "-O0", tmp)
                t_o2, _ = _gcc_time(src, args, "-O2", tmp)
                same = "yes" if out0 == o.stdout else "NO"
            else:
                t_o0 = t_o2 = float("nan")
                same = "gcc missing"
            print(f"{name + ' ' + ' '.join(args):<18}{t_fab:>10.3f}{res.stats.steps:>10}{res2.stats.hops:>8}"
                  f"{t_py:>11.5f}{t_o0:>11.4f}{t_o2:>11.4f}{t_fab / t_py:>11.0f}x{t_fab / t_o2:>10.0f}x  {same}")

    print("\nBackends on fib(8) (2 nodes; local: 2 worker processes over loopback UDP; bytes moved between them)")
    compiled = build(compile_file(PROGRAMS / "fib.c"))
    for backend in ("inline", "local") + (() if quick else ("ray",)):  # Ray's start alone takes ~30 s
        try:
            t0 = time.perf_counter()
            (o,), res = run(compiled, [[b"fib", b"8"]], backend=backend, nodes=2)
            dt = time.perf_counter() - t0
            s = res.stats
            print(f"  {backend:<7} {dt:8.3f} s  {s.steps} steps  {s.hops} hops  {s.messages} messages  "
                  f"{s.bytes_moved} bytes moved  output {o.stdout.decode().strip()!r}")
        except Exception as e:  # a backend that cannot start here (e.g. Ray) is reported, not fatal
            print(f"  {backend:<7} unavailable: {type(e).__name__}: {e}")

    batch_bench(quick)




def _wall_and_cpu(fn, repeat: int) -> tuple[float, float]:
    """Medians of wall time and of this process's CPU time (on a shared machine the CPU time of two
    in-process runs compares them without the other jobs' share of the cores)."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def batch_bench(quick: bool) -> None:
    from packetfs.compute.compiler.batch import ArgvTable, close_workers, run_batch
    from packetfs.compute.compiler.driver import compile_source
    from packetfs.compute.compiler.execute import BATCH_LANE, BATCH_STACK, build, run

    n = int(os.environ.get("PACKETFS_BENCH_BATCH", 262_144 if quick else 1_000_000))
    repeat = 5  # medians of 5 after one untimed warm-up run of each side (quick mode only uses fewer inputs)
    print(f"\n--batch data-parallel: one C function over {n:,} inputs (`packetfs run batch.c --batch FILE`), "
          f"every input a lane of the lane executor; CPython: the same algorithm looping over the same lines, "
          f"file bytes to output bytes on both sides, each side run once untimed first (the lane memory's first-touch "
          f"page faults and the decoded program are per process); medians of {repeat}; "
          f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    print(f"{'kernel':<30}{'inputs':>10}{'steps/in':>9}{'fabric s':>10}{'CPython s':>11}{'inputs/s fabric':>17}"
          f"{'fabric/CPython':>16}{'by CPU time':>13}  outputs equal")
    compiled = {}
    breakdown = []
    for rounds, label, count in ((8, "mix^8 (the goal's kernel)", n), (64, "mix^64 (8x the arithmetic)", max(1, n // 8))):
        batch = build(compile_source(MIX_C, "batch.c", defines=[f"ROUNDS={rounds}"]), lane_size=BATCH_LANE,
                      stack_size=BATCH_STACK)
        compiled[rounds] = batch
        data = mix_inputs(count)
        got = {}

        def fabric(data=data, batch=batch, got=got):
            c0 = time.process_time()
            table = ArgvTable.from_text(data, b"batch")
            c1 = time.process_time()
            got["out"] = run_batch(batch, table)
            got.setdefault("phases", []).append({"tokenise": c1 - c0, **got["out"].cpu,
                                                 "total": time.process_time() - c0})

        def python(data=data, rounds=rounds, got=got):
            got["py"] = mix_python(data, rounds)

        fabric()
        python()
        t_fab, c_fab = _wall_and_cpu(fabric, repeat)
        t_py, c_py = _wall_and_cpu(python, repeat)
        out = got["out"]
        same = out.stdout == got["py"] and not out.faults
        ratio = t_py / t_fab
        goal = f" (goal >= 10x: {'met' if ratio >= 10 else 'NOT met'})" if rounds == 8 else ""
        print(f"{label:<30}{count:>10,}{out.steps / count:>9.0f}{t_fab:>10.3f}{t_py:>11.3f}{count / t_fab:>17,.0f}"
              f"{ratio:>15.2f}x{c_py / c_fab:>12.2f}x  {same}{goal}")
        phases = got["phases"][1:]  # the timed runs
        med = {k: statistics.median(p[k] for p in phases) * 1e9 / count for k in phases[0]}
        rest = med["total"] - sum(v for k, v in med.items() if k != "total")
        breakdown.append(f"  {label}: " + ", ".join(f"{k} {v:.0f}" for k, v in med.items() if k != "total")
                         + f", other {rest:.0f}; in all {med['total']:.0f} ns of CPU per input "
                         f"(CPython loop {c_py * 1e9 / count:.0f})")

    print("Where the fabric's time goes (CPU ns per input, medians of the timed runs): tokenise (the batch "
          "file to an argv table), load (lane memory and registers), run (the lane executor), render (printf's "
          "text), merge (outputs in input order)")
    print("\n".join(breakdown))

    # the packet executor on the same kernel (what --batch ran before the lane executor), a small wave
    m = 2048 if quick else 4096
    data = mix_inputs(m)
    argvs = [[b"batch", line.encode()] for line in data.decode().splitlines()]
    t0 = time.perf_counter()
    part, res = run(compiled[8], argvs, backend="inline", nodes=1, placement="any")
    t_pk = time.perf_counter() - t0
    t_py = median_time(lambda: mix_python(data, 8), repeat=3)
    same = b"".join(o.stdout for o in part) == mix_python(data, 8)
    print(f"{'mix^8 on the packet executor':<30}{m:>10,}{res.stats.steps / m:>9.0f}{t_pk:>10.3f}{t_py:>11.3f}"
          f"{m / t_pk:>17,.0f}{t_py / t_pk:>15.3f}x{'':>13}  {same}")

    print(f"\nBatch scaling, local backend (the inputs cut into one contiguous block per node, each node a worker "
          f"process forked from the fork server, started before timing; argv tables pickled to and outputs back "
          f"from the workers), mix^8 over {n:,} inputs")
    data = mix_inputs(n)
    run_batch(compiled[8], ArgvTable.from_text(mix_inputs(64), b"batch"), nodes=2, backend="local")  # the fork server
    times, outs = {}, {}
    for nodes in (1, 2):
        def go(nodes=nodes):
            outs[nodes] = run_batch(compiled[8], ArgvTable.from_text(data, b"batch"), nodes=nodes, backend="local")
        times[nodes] = median_time(go, repeat=repeat)
        print(f"  {nodes} node(s): {times[nodes]:.3f} s ({n / times[nodes]:,.0f} inputs/s), outputs equal to 1 node: "
              f"{outs[nodes].stdout == outs[1].stdout}")
    close_workers()
    print(f"  speedup 1 -> 2 nodes: {times[1] / times[2]:.2f}x (efficiency {times[1] / times[2] / 2:.0%}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
