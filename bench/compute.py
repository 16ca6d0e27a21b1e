"""The compute fabric, each figure beside its anchor in the same run (medians):

1. inline: packet-ops/s of 8-lane ADD on one core, against numpy's own add of the same uint64 data
   (a 64-ADD chain per packet, so the per-run batch copy is amortized; and a single ADD + HALT run).
2. local, 2 worker processes over loopback UDP: hops/s with batching (every step moves a packet to the other
   process), and the per-hop latency (p50/p99) of a single packet.
3. ray: amortized cost per packet-op with batches through the object store, against one Ray actor call per
   operation (async calls, all awaited at the end) on the same instance.
4. scaling 1 -> 2 nodes on the local backend for ADD and MATMUL (`packetfs compute`'s programs):
   efficiency = T1 / (2 * T2).
5. the scalar path (runtime/scalar.py) against the vectorized round on single-packet C programs (the
   compiler's classic programs, one packet each): seconds per packet step of the inline executor alone
   (the program already built), both paths in the same run, results checked identical.

`python -m bench compute --quick` runs 1 and 5 (about a minute); `python -m bench compute scalar` runs 5.

Goals from the issue: inline >= 20 M packet-ops/s, local >= 1 M hops/s, ray >= 100x cheaper than one actor
call per op. This machine has 2 cores shared with other work: the scaling figure is bounded by that.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

from bench.common import median_time
from packetfs.compute import IMM, Instruction, Op, Program, get_backend, run_program
from packetfs.compute.meter import hop_latency_samples, hop_program
from packetfs.compute.operations import build, generate

GOALS = {"inline_packet_ops": 20e6, "local_hops": 1e6, "ray_ratio": 100.0}


def _row(name: str, value: float, unit: str, note: str = "") -> None:
    print(f"  {name:<48} {value:>16,.1f} {unit:<14} {note}", flush=True)


def bench_inline() -> dict:
    n = 200_000
    chain = 64
    data = np.random.default_rng(0).integers(0, 2**63, (n, 16), dtype=np.uint64)
    prog = Program([Instruction(Op.ADD, dst=0, a=0, b=8, count=8)] * chain + [Instruction(Op.HALT, a=IMM)])
    packets = prog.packets(n, inputs=data)
    t_chain = median_time(lambda: run_program(prog, packets), repeat=5)
    single = Program([Instruction(Op.ADD, dst=0, a=0, b=8, count=8), Instruction(Op.HALT, a=IMM)])
    sp = single.packets(n, inputs=data)
    t_single = median_time(lambda: run_program(single, sp), repeat=5)
    a, b = np.ascontiguousarray(data[:, :8]), np.ascontiguousarray(data[:, 8:])
    out = np.empty_like(a)
    t_np = median_time(lambda: np.add(a, b, out=out), repeat=11)
    res = run_program(single, sp)
    assert (res.packets["input_data"][:, :8] == a + b).all()
    r = {
        "packet_ops_per_s": n * chain / t_chain,
        "packet_ops_per_s_single_run": n / t_single,
        "elements_per_s": 8 * n * chain / t_chain,
        "numpy_elements_per_s": 8 * n / t_np,
    }
    r["numpy_over_fabric"] = r["numpy_elements_per_s"] / r["elements_per_s"]
    print("inline (one process, vectorized numpy), 200,000 packets x 8 lanes")
    _row("ADD packet-ops/s (64-ADD chain)", r["packet_ops_per_s"] / 1e6, "M/s", f"goal >= 20 M/s: {'met' if r['packet_ops_per_s'] >= GOALS['inline_packet_ops'] else 'NOT met'}")
    _row("ADD packet-ops/s (one ADD + HALT, whole run)", r["packet_ops_per_s_single_run"] / 1e6, "M/s")
    _row("element adds/s, fabric", r["elements_per_s"] / 1e6, "M/s")
    _row("element adds/s, numpy.add (anchor)", r["numpy_elements_per_s"] / 1e6, "M/s", f"numpy is {r['numpy_over_fabric']:.1f}x faster")
    return r


def bench_local() -> dict:
    r = {}
    with get_backend("local", nodes=2) as b:
        warm = hop_program(2, 4)
        b.run(warm, warm.packets(4))
        rates = {}
        for batch in (4096, 32768):
            prog = hop_program(2, 40)
            packets = prog.packets(batch, inputs=np.ones((batch, 16), dtype=np.uint64))
            times, hops = [], 0
            for _ in range(3):
                t0 = time.perf_counter()
                res = b.run(prog, packets)
                times.append(time.perf_counter() - t0)
                hops = res.stats.hops
            rates[batch] = hops / statistics.median(times)
        per_hop = hop_latency_samples(b, 2, 15)
    r["hops_per_s"] = max(rates.values())
    r["hops_per_s_by_batch"] = rates
    r["hop_p50_s"] = statistics.median(per_hop)
    r["hop_p99_s"] = per_hop[-1]
    print("local (2 worker processes, UDP datagrams on loopback)")
    for batch, rate in rates.items():
        _row(f"hops/s, batch {batch:,} packets x 40 hops", rate / 1e6, "M/s",
             f"goal >= 1 M/s: {'met' if rate >= GOALS['local_hops'] else 'NOT met'}")  # fmt: skip
    _row("single-packet hop latency p50", r["hop_p50_s"] * 1e6, "µs", "pitch: < 1 ms")
    _row("single-packet hop latency p99 (of 15)", r["hop_p99_s"] * 1e6, "µs")
    return r


def bench_ray() -> dict:
    try:
        import ray
    except ImportError:
        print("ray: not installed (the 'ray' extra); skipped")
        return {}
    r = {}
    with get_backend("ray", nodes=2) as b:
        prog = hop_program(2, 20)
        packets = prog.packets(20_000, inputs=np.ones((20_000, 16), dtype=np.uint64))
        b.run(prog, packets[:10])
        t = median_time(lambda: b.run(prog, packets), repeat=3)
        res = b.run(prog, packets)
        r["fabric_s_per_packet_op"] = t / res.stats.steps

        @ray.remote(num_cpus=0)
        class Adder:
            def add(self, x: int, y: int) -> int:
                return (x + y) & (2**64 - 1)

        actor = Adder.remote()
        ray.get(actor.add.remote(1, 2))
        calls = 2000
        t0 = time.perf_counter()
        ray.get([actor.add.remote(i, i) for i in range(calls)])
        r["actor_call_s_per_op"] = (time.perf_counter() - t0) / calls
        ray.kill(actor)
    r["ratio"] = r["actor_call_s_per_op"] / r["fabric_s_per_packet_op"]
    print("ray (2 actors, batches through the object store) vs one actor call per op")
    _row("fabric: cost per packet-op (20,000 packets x 21 steps)", r["fabric_s_per_packet_op"] * 1e6, "µs")
    _row("one async actor call per op (2,000 calls)", r["actor_call_s_per_op"] * 1e6, "µs",
         f"({1 / r['actor_call_s_per_op']:,.0f} calls/s; Ray's microbenchmark: ~8,700/s on 64 vCPUs)")  # fmt: skip
    _row("ratio", r["ratio"], "x", f"goal >= 100x: {'met' if r['ratio'] >= GOALS['ray_ratio'] else 'NOT met'}")
    return r


def bench_scaling() -> dict:
    out = {}
    print(f"scaling on the local backend, 1 -> 2 nodes ({os.cpu_count()} cores here, shared)")
    for op, size in (("ADD", 2_000_000), ("MATMUL", 96)):
        data = generate(op, size, 0)
        times = {}
        for k in (1, 2):
            job = build(op, data, k)
            with get_backend("local", nodes=k) as b:
                b.run(job.program, job.packets[:2])
                times[k] = median_time(lambda job=job, b=b: b.run(job.program, job.packets), repeat=3)
        eff = times[1] / (2 * times[2])
        out[op] = {"t1_s": times[1], "t2_s": times[2], "efficiency": eff}
        _row(f"{op} (size {size:,}): 1 node", times[1] * 1e3, "ms")
        _row(f"{op}: 2 nodes", times[2] * 1e3, "ms", f"speed-up {times[1] / times[2]:.2f}x, efficiency {eff:.0%}")
    return out


SCALAR_PROGRAMS = [("fib.c", ["14"]), ("sieve.c", ["2000"]), ("matmul.c", ["8"]), ("sha256.c", ["abc"]),
                   ("quicksort.c", ["100"])]


class _BothPaths:
    """A backend object for compiler.execute.run: runs the built program on the inline backend with the
    vectorized round (once) and with the scalar path (median of 3, each from a cold start: the blocks it
    compiles are in the time), checks the results are identical."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.steps = 0

    def run(self, program, packets, *, max_steps):
        from packetfs.compute.backends.inline import InlineBackend

        out = {}
        for flag, repeat in (("0", 1), ("1", 3)):
            os.environ["PACKETFS_SCALAR"] = flag
            try:
                times = []
                for _ in range(repeat):
                    # a fresh Program each time: the scalar path's compiled blocks are cached per Program, and
                    # a user's run starts cold
                    fresh = Program(program.code, num_nodes=program.num_nodes, entry=program.entry,
                                    memory=program.memory, memory_size=program.memory_size,
                                    block_shift=program.block_shift, strict=False,
                                    unmapped_below=getattr(program, "unmapped_below", 0))  # C's NULL page
                    t0 = time.perf_counter()
                    out[flag] = InlineBackend().run(fresh, packets, max_steps=max_steps, collect_memory=True)
                    times.append(time.perf_counter() - t0)
            finally:
                os.environ.pop("PACKETFS_SCALAR", None)
            self.times[flag] = statistics.median(times)
        old, new = out["0"], out["1"]
        same = (old.packets.tobytes() == new.packets.tobytes() and old.emits.tobytes() == new.emits.tobytes()
                and old.memory == new.memory and (old.stats.steps, old.stats.hops) == (new.stats.steps, new.stats.hops))
        if not same:
            raise SystemExit("scalar path and vectorized round disagree: a bug")
        self.steps = new.stats.steps
        return new


def bench_scalar() -> dict:
    from pathlib import Path

    from packetfs.compute.compiler.driver import compile_file
    from packetfs.compute.compiler.execute import build, run

    programs = Path(__file__).resolve().parents[1] / "tests" / "compute" / "compiler" / "programs"
    load = os.getloadavg()[0]
    print(f"scalar path vs vectorized round: one packet per C program, inline executor only "
          f"(load average {load:.1f} on {os.cpu_count()} cores)")
    print(f"  {'program':<18}{'steps':>10}{'vector us/step':>16}{'scalar us/step':>16}{'speed-up':>10}")
    out, ratios = {}, []
    for name, args in SCALAR_PROGRAMS:
        both = _BothPaths()
        run(build(compile_file(programs / name)), [[b"prog", *(a.encode() for a in args)]], backend_obj=both)
        old, new = both.times["0"] / both.steps, both.times["1"] / both.steps
        ratios.append(old / new)
        out[name] = {"steps": both.steps, "vector_s_per_step": old, "scalar_s_per_step": new, "ratio": old / new}
        print(f"  {name + ' ' + ' '.join(args):<18}{both.steps:>10,}{old * 1e6:>16.2f}{new * 1e6:>16.3f}{old / new:>9.1f}x",
              flush=True)
    med = statistics.median(ratios)
    print(f"  median speed-up {med:.1f}x (goal >= 20x); results identical on both paths")
    out["median_ratio"] = med
    out["load_average"] = load
    return out


def main() -> None:
    parts = {"inline", "local", "ray", "scaling", "scalar"}
    args = [a for a in sys.argv[2:] if a in parts]  # other names choose other bench modules
    quick = "--quick" in sys.argv[1:] or os.environ.get("PACKETFS_BENCH_QUICK") == "1"
    which = set(args) if args else ({"inline", "scalar"} if quick else parts)
    results = {}
    for name, fn in (("inline", bench_inline), ("local", bench_local), ("ray", bench_ray), ("scaling", bench_scaling),
                     ("scalar", bench_scalar)):
        if name in which:
            results[name] = fn()
    return None


if __name__ == "__main__":
    main()
