"""The fabric workloads against what a user would otherwise pick, in the same run:

* Monte Carlo pi: fabric samples/s (block method: inline 1 node; local 1 and 2 nodes; the sample method for
  contrast) vs numpy default_rng float64 on one core, interleaved rounds; 1 -> 2 node scaling on the local
  backend beside numpy's own 1 -> 2 process scaling in the same run (what the machine gives at the time).
* SHA-256d: fabric hashes/s (inline) vs hashlib's double SHA-256 of an 80-byte header in a Python loop vs
  `openssl speed sha256` on 64-byte blocks (one compression per block; a header's double hash with a
  midstate costs two); 1 -> 2 node scaling on local; the pitch's 10,000 TH/s and an Antminer S21 XP.
* Training: time to 0.95 test accuracy and bytes per step, worker processes with an aggregator (SwitchML
  style) vs ring all-reduce on the same UDP transport, 1 and 2 workers, vs single-process numpy; and the
  2 workers + aggregator placed on 2 nodes (``--nodes 2``: the aggregator shares worker 0's process).

HP folding has its own benchmark: bench/fold.py (``python -m bench fold``).

``python -m bench workloads --quick`` (or PACKETFS_BENCH_QUICK=1): fewer samples and repeats, about a minute.
Environment: PACKETFS_BENCH_WORKLOADS (subset of mc,sha,train), PACKETFS_BENCH_JSON (write the results there).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.common import median_time
from packetfs.compute.workloads import montecarlo
from packetfs.compute.workloads.cli import ASIC_S21_XP, ASIC_S21_XP_J_PER_TH, PITCH_HASHRATE, PITCH_OPS_PER_S
from packetfs.compute.workloads.fabric import Fabric, FabricConfig
from packetfs.compute.workloads.mining import grind
from packetfs.compute.workloads.mining.miner import DEFAULT_BATCH
from packetfs.compute.workloads.training.trainer import TrainParams, train

console = Console(width=120)


def _rate(fn, units: int, repeat: int = 3) -> float:
    return units / median_time(fn, repeat=repeat)


# ---------------------------------------------------------------------------------------------- monte carlo
def _numpy_pi_job(args: tuple[int, int]) -> float:
    t0 = time.perf_counter()
    montecarlo.numpy_pi(*args)
    return time.perf_counter() - t0


def bench_montecarlo(quick: bool = False) -> dict:
    """Rounds of (numpy, fabric inline, local 1 node, local 2 nodes, numpy in 2 processes), interleaved so
    that a change in the machine's load hits every contender alike; medians of the rounds."""
    import multiprocessing

    n = 50_000_000 if quick else 200_000_000
    rounds = 3 if quick else 5
    times: dict[str, list[float]] = {k: [] for k in ("numpy", "numpy_2proc", "inline", "local_1", "local_2")}
    ref = montecarlo.estimate(n, 1, FabricConfig("inline", 1))
    with (Fabric(FabricConfig("local", 1)) as l1, Fabric(FabricConfig("local", 2)) as l2,
          multiprocessing.get_context("fork").Pool(2) as pool):
        pool.map(_numpy_pi_job, [(1000, 1), (1000, 2)])  # start both processes
        for f in (l1, l2):
            montecarlo.estimate(n // 10, 1, f)  # workers started and warm before the rounds
        for _ in range(rounds):
            times["numpy"].append(_numpy_pi_job((n, 1)))
            t0 = time.perf_counter()
            pool.map(_numpy_pi_job, [(n // 2, 1), (n // 2, 2)])
            times["numpy_2proc"].append(time.perf_counter() - t0)
            for key, cfg in (("inline", FabricConfig("inline", 1)), ("local_1", l1), ("local_2", l2)):
                r = montecarlo.estimate(n, 1, cfg)
                if r.estimate != ref.estimate:
                    raise SystemExit(f"bench: {key} gave {r.estimate}, inline gave {ref.estimate}")
                times[key].append(r.seconds)
        last = {k: montecarlo.estimate(n, 1, f) for k, f in (("local_1", l1), ("local_2", l2))}
    sample_n = 400_000 if quick else 2_000_000
    sample = montecarlo.estimate(sample_n, 1, FabricConfig("inline", 1), method="sample")
    rate = {k: n / statistics.median(v) for k, v in times.items()}
    rate["sample_method"] = sample.samples_per_s
    out = {"samples": n, "rounds": rounds, "samples_per_s": rate, "estimate": ref.estimate,
           "stderr": ref.stderr, "load_average": os.getloadavg()}
    t = Table(title=f"Monte Carlo pi, {n:,} samples, median of {rounds} interleaved rounds "
                    f"(load average {os.getloadavg()[0]:.2f})")
    for col in ("what", "samples/s", "vs numpy 1 core"):
        t.add_column(col, justify="right")
    a = rate["numpy"]
    t.add_row("numpy default_rng float64, 1 core (anchor)", f"{a / 1e6:.1f} M", "1.00")
    t.add_row("fabric inline, 1 node, block method (MCSUM, 2^20 samples/packet)", f"{rate['inline'] / 1e6:.1f} M",
              f"{rate['inline'] / a:.2f}  (goal >= 0.8)")
    t.add_row(f"fabric inline, 1 node, sample method (4 samples/packet, {sample_n:,})",
              f"{rate['sample_method'] / 1e6:.2f} M", f"{rate['sample_method'] / a:.3f}")
    t.add_row("fabric local, 1 node (one worker process)", f"{rate['local_1'] / 1e6:.1f} M", f"{rate['local_1'] / a:.2f}")
    t.add_row("fabric local, 2 nodes (two worker processes)", f"{rate['local_2'] / 1e6:.1f} M", f"{rate['local_2'] / a:.2f}")
    t.add_row("numpy, 2 processes (half the samples each)", f"{rate['numpy_2proc'] / 1e6:.1f} M",
              f"{rate['numpy_2proc'] / a:.2f}")
    eff = rate["local_2"] / rate["local_1"] / 2
    ceiling = rate["numpy_2proc"] / rate["numpy"] / 2
    t.add_row("scaling 1 -> 2 local nodes", f"efficiency {eff:.0%}", "goal >= 90%")
    t.add_row("numpy 1 -> 2 processes (what this machine gives now)", f"efficiency {ceiling:.0%}", "")
    per_node = {k: r.bytes_moved / r.nodes for k, r in last.items()}
    t.add_row("bytes moved per node per run of n samples", f"{per_node['local_1']:,.0f} / {per_node['local_2']:,.0f}",
              "1 node / 2 nodes")
    t.add_row("pitch: operations_per_second 1T+", f"{PITCH_OPS_PER_S / 1e6:,.0f} M",
              f"{PITCH_OPS_PER_S / rate['local_2']:.1e}x measured")
    console.print(t)
    out.update(scaling_efficiency=eff, numpy_scaling_efficiency=ceiling, ratio_per_core=rate["inline"] / a,
               bytes_per_node=per_node)
    return out


# ---------------------------------------------------------------------------------------------- sha256d
def _openssl_sha256_64() -> float | None:
    exe = shutil.which("openssl")
    if exe is None:
        return None
    try:
        p = subprocess.run([exe, "speed", "-seconds", "2", "-bytes", "64", "sha256"], capture_output=True,
                           text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"^sha256\s+([\d.]+)k", p.stdout, re.M)
    return float(m.group(1)) * 1000 / 64 if m else None  # kB/s of 64-byte blocks -> blocks/s


def bench_sha256d() -> dict:
    header = bytes(range(80))
    n = 1 << 15
    out = {}
    program = grind.build_program(1 << 224, 1)

    def fabric_run(f: Fabric, count: int) -> None:
        # in batches of the miner's default size, each cut into one nonce range per node, as `mine` does
        prog = program if f.config.nodes == 1 else grind.build_program(1 << 224, f.config.nodes)
        for first in range(0, count, DEFAULT_BATCH):
            k = min(DEFAULT_BATCH, count - first)
            nonces = np.arange(first, first + k, dtype=np.uint64)
            nodes = grind.nodes_for(nonces, first, k, f.config.nodes)
            f.run(prog, prog.packets(k, inputs=grind.packet_inputs(header, nonces), computation_ids=nonces,
                                     nodes=nodes))

    with Fabric(FabricConfig("inline", 1)) as f:
        out["fabric_inline"] = _rate(lambda: fabric_run(f, n), n)
    for k in (1, 2):
        with Fabric(FabricConfig("local", k)) as f:
            fabric_run(f, 1024)
            out[f"local_{k}"] = _rate(lambda f=f: fabric_run(f, n), n)

    def hashlib_loop() -> None:
        sha = hashlib.sha256
        for i in range(n):
            sha(sha(header[:76] + i.to_bytes(4, "little")).digest()).digest()

    out["hashlib"] = _rate(hashlib_loop, n)
    blocks = _openssl_sha256_64()
    out["openssl_64B_blocks"] = blocks
    t = Table(title=f"SHA-256d of 80-byte headers (median of 3, same run; load average {os.getloadavg()[0]:.2f})")
    for col in ("what", "hashes/s", "per core/node", "vs hashlib per core", "J/TH"):
        t.add_column(col, justify="right")
    h = out["hashlib"]
    unmeasured = "not measured"  # no power meter on this machine
    t.add_row("hashlib sha256(sha256(header)), Python loop, 1 core (anchor)", f"{h / 1e6:.3f} M", f"{h / 1e6:.3f} M",
              "1.00", unmeasured)
    if blocks:
        # a midstate double hash is two compressions: openssl's 64-byte rate / 2 is its header-hash ceiling
        t.add_row("openssl speed sha256, 64-byte blocks / 2 (SHA-NI ceiling)", f"{blocks / 2 / 1e6:.3f} M",
                  f"{blocks / 2 / 1e6:.3f} M", f"{blocks / 2 / h:.2f}", unmeasured)
    else:
        t.add_row("openssl speed sha256", "not run", "", "openssl not found or its output not understood", "")
    for key, label, k in (("fabric_inline", "fabric inline, 1 node (2 HASH ops per header)", 1),
                          ("local_1", "fabric local, 1 node", 1), ("local_2", "fabric local, 2 nodes", 2)):
        t.add_row(label, f"{out[key] / 1e6:.3f} M", f"{out[key] / k / 1e6:.3f} M", f"{out[key] / k / h:.3f}",
                  unmeasured)
    out["scaling_efficiency"] = out["local_2"] / out["local_1"] / 2
    t.add_row("scaling 1 -> 2 local nodes", f"efficiency {out['scaling_efficiency']:.0%}", "", "", "")
    best = max(out["fabric_inline"], out["local_2"])
    t.add_row("pitch: 10,000 TH/s", "1e16", "", f"{PITCH_HASHRATE / best:.1e}x the fabric", "")
    t.add_row("Antminer S21 XP (maker's spec)", "2.7e14", "", f"{ASIC_S21_XP / best:.1e}x the fabric",
              f"{ASIC_S21_XP_J_PER_TH}")
    t.add_row("GPU path", "not run", "", "no accelerator lent to this machine", "")
    out["load_average"] = os.getloadavg()
    console.print(t)
    return out


# ---------------------------------------------------------------------------------------------- training
def bench_train(quick: bool = False) -> list[dict]:
    """Time to 0.95 test accuracy (median of interleaved repeats, node start-up not counted) and bytes per
    step: worker processes on the local backend exchanging packets over UDP, aggregator vs ring, 1 and 2
    workers, against single-process numpy."""
    repeats = 3 if quick else 7
    # (all-reduce, workers, fabric nodes; None = a node per role)
    configs = (("numpy", 1, None), ("aggregate", 1, None), ("ring", 1, None), ("aggregate", 2, None),
               ("ring", 2, None), ("aggregate", 2, 2))
    runs: dict[tuple[str, int, int | None], list] = {c: [] for c in configs}
    for _ in range(repeats):
        for mode, k, nodes in configs:
            r = train(TrainParams(workers=k, epochs=30, mode=mode, seed=1, target_accuracy=0.95, nodes=nodes),
                      FabricConfig("local" if mode != "numpy" else "inline"))
            if r.time_to_target is None:
                raise SystemExit(f"bench: {mode} K={k} did not reach 0.95 in 30 epochs")
            runs[(mode, k, nodes)].append(r)
    t = Table(title=f"digits MLP (64-32-10, batch 64) to 0.95 test accuracy, median of {repeats} interleaved runs "
                    f"(load average {os.getloadavg()[0]:.2f})")
    for col in ("mode", "K", "nodes", "ep", "to .95 s", "ms/step", "vs numpy", "pkts/step", "B/step",
                "B/step x-node", "UDP B/step", "start s"):
        t.add_column(col, justify="right")
    rows = []
    med = {c: statistics.median(r.time_to_target for r in v) for c, v in runs.items()}
    numpy_s = med[("numpy", 1, None)]
    for (mode, k, nodes), v in runs.items():
        r = v[0]
        c = (mode, k, nodes)
        if any(x.params_sha256 != r.params_sha256 for x in v):
            raise SystemExit(f"bench: {mode} K={k} gave different parameters between repeats")
        d = r.as_dict()
        d.update(time_to_target_median=med[c], repeats=repeats,
                 startup_median=statistics.median(x.startup_seconds for x in v))
        rows.append(d)
        t.add_row(mode, str(k), str(r.nodes), str(r.epochs), f"{med[c]:.3f}", f"{1000 * med[c] / r.steps:.2f}",
                  f"{med[c] / numpy_s:.1f}x", f"{d['packets_per_step']:,.0f}", f"{d['bytes_per_step']:,.0f}",
                  f"{d['bytes_between_nodes_per_step']:,.0f}", f"{d['wire_bytes_per_step']:,.0f}",
                  f"{d['startup_median']:.2f}")
    console.print(t)
    if runs[("aggregate", 2, 2)][0].params_sha256 != runs[("aggregate", 2, None)][0].params_sha256:
        raise SystemExit("bench: 2 workers on 2 nodes gave other parameters than on 3")
    for k in (1, 2):
        agg, ring = med[("aggregate", k, None)], med[("ring", k, None)]
        console.print(f"K={k}: aggregator {ring / agg:.2f}x the ring's speed on the same transport (SwitchML "
                      f"claims up to 5.5x with a real switch); single-process numpy {agg / numpy_s:.1f}x "
                      f"faster than the aggregator")
    placed = med[("aggregate", 2, 2)]
    console.print(f"K=2 on 2 nodes (aggregator in worker 0's process): {med[('aggregate', 2, None)] / placed:.2f}x "
                  "the speed of 3 nodes, same parameters")
    return rows


def main() -> None:
    quick = "--quick" in sys.argv or os.environ.get("PACKETFS_BENCH_QUICK") == "1"
    wanted = set(os.environ.get("PACKETFS_BENCH_WORKLOADS", "mc,sha,train").split(","))
    results = {}
    started = time.perf_counter()
    if "mc" in wanted:
        results["montecarlo"] = bench_montecarlo(quick)
    if "sha" in wanted:
        results["sha256d"] = bench_sha256d()
    if "train" in wanted:
        results["train"] = bench_train(quick)
    out = os.environ.get("PACKETFS_BENCH_JSON")
    if out:
        Path(out).write_text(json.dumps(results, indent=2, default=float))
    console.print(f"bench.workloads{' --quick' if quick else ''}: {time.perf_counter() - started:.0f} s "
                  "(HP folding: python -m bench fold)")


if __name__ == "__main__":
    main()
