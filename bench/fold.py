"""HP folding on the fabric (`packetfs fold`): per benchmark sequence, the best energy found against the best
known one and the time to reach it, with a fixed time budget per sequence on 2 cores (2 local fabric nodes,
one replica-exchange ensemble each, seed 1, stopping at the best known energy); then the node kernel's
pull-move rate (C against the Python kernel, same run) and the 1 -> 2 node scaling of a fixed-round run.

    python -m bench fold            # full: 11 2d + 10 3d sequences, 60 s budget each (worst case ~25 min)
    python -m bench fold --quick    # 2d S1-1..S1-8 and 3D48-1..3D48-5 at 15 s each (~1 min, at most ~4)

PACKETFS_BENCH_FOLD_SECONDS overrides the budget, PACKETFS_BENCH_FOLD=NAME,NAME picks sequences,
PACKETFS_BENCH_FOLD_JSON=PATH writes the rows as JSON. The node processes are started once, before the
clock runs (that time is printed). The search is deterministic per round: the time budget changes only
how many rounds run, so a slower machine finds the same conformations later, never different ones.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from packetfs.compute.workloads.fabric import FabricConfig
from packetfs.compute.workloads.folding import native
from packetfs.compute.workloads.folding.engine import fold
from packetfs.compute.workloads.folding.lattice import energy
from packetfs.compute.workloads.folding.search import (
    LATTICE_DEFAULTS,
    FoldParams,
    initial_state,
    run_ensemble,
)
from packetfs.compute.workloads.kernels import KernelPool

HP_BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "hp" / "benchmarks.json"
FULL_BUDGET_S = 60.0
QUICK_BUDGET_S = 15.0
QUICK_SET = {f"S1-{k}" for k in range(1, 9)} | {f"3D48-{k}" for k in range(1, 6)}
console = Console(width=150)


def _benchmarks() -> dict:
    return json.loads(HP_BENCHMARKS.read_text())


def _started_pool(config: FabricConfig) -> tuple[KernelPool, float]:
    """A pool whose node processes are up (one tiny fold through it), and the seconds that took."""
    pool = KernelPool(config)
    t0 = time.perf_counter()
    fold(FoldParams("HPPH", "2d", rounds=1, steps_per_round=10, ensembles=config.nodes), config, pool=pool)
    return pool, time.perf_counter() - t0


def bench_sequences(budget: float, wanted: set[str]) -> list[dict]:
    data = _benchmarks()
    rows = []
    config = FabricConfig("local", 2)
    pool, startup = _started_pool(config)
    console.print(f"starting the 2 local node processes took {startup:.2f} s (not counted below)", highlight=False)
    t = Table(title=f"HP folding: replica exchange + pull moves, {budget:g} s budget per sequence, "
                    "2 local nodes x 1 ensemble of 5 replicas, seed 1")
    for col in ("name", "lattice", "n", "best known", "found", "reached", "time to best s", "rounds",
                "pull moves", "moves/s"):
        t.add_column(col, justify="right")
    for lattice in ("2d", "3d"):
        for b in data[lattice]:
            if wanted and b["name"] not in wanted:
                continue
            replicas, t_min, t_max = LATTICE_DEFAULTS[lattice]
            params = FoldParams(b["sequence"], lattice, replicas=replicas, rounds=10**9, seed=1, t_min=t_min,
                                t_max=t_max, target_energy=b["best_known_energy"], ensembles=2)
            r = fold(params, config, time_limit=budget, pool=pool)
            # Independent of the search's bookkeeping: rebuild the walk from its moves and count contacts.
            if energy(b["sequence"], r.moves, lattice) != r.energy:
                raise SystemExit(f"bench.fold: {b['name']}: reported energy is not the conformation's")
            reached = r.energy <= b["best_known_energy"]
            rows.append({"name": b["name"], "lattice": lattice, "length": len(b["sequence"]),
                         "best_known": b["best_known_energy"], "found": r.energy, "reached": reached,
                         "time_to_best": r.time_to_best, "seconds": r.seconds, "rounds": r.rounds,
                         "steps": r.steps, "moves": r.moves, "kernel": r.kernel, "budget": budget})
            t.add_row(b["name"], lattice, str(len(b["sequence"])), str(b["best_known_energy"]), str(r.energy),
                      "yes" if reached else "no", f"{r.time_to_best:.1f}", str(r.rounds), f"{r.steps:,}",
                      f"{r.steps / max(r.seconds, 1e-9) / 1e6:.1f} M")
            console.print(f"  {b['name']}: {r.energy} (best known {b['best_known_energy']}) at "
                          f"{r.time_to_best:.1f} s", highlight=False)
    pool.close()
    console.print(t)
    for lattice, goal in (("2d", "every sequence up to length 64"), ("3d", "at least 8 of 10")):
        sel = [r for r in rows if r["lattice"] == lattice]
        if sel:
            hit = [r for r in sel if r["reached"]]
            times = sorted(r["time_to_best"] for r in hit)
            med = f", median time to best {times[len(times) // 2]:.1f} s" if times else ""
            console.print(f"{lattice}: best known reached on {len(hit)} of {len(sel)}{med} (goal: {goal})")
    return rows


def bench_kernels() -> dict:
    """Pull moves per second of one ensemble on one core, C against Python, 3D48-1, same run."""
    seq = _benchmarks()["3d"][0]["sequence"]
    out = {}
    for kernel, sweeps in (("python", 4), ("c", 400)):
        if kernel == "c" and native.load() is None:
            continue
        rates = []
        for rep in range(3):
            e = initial_state(FoldParams(seq, "3d", ensembles=1)).ensembles[0]
            t0 = time.perf_counter()
            run_ensemble(e, seq, "3d", sweeps, 500, rep, kernel, None)
            rates.append(e.steps / (time.perf_counter() - t0))
        out[kernel] = sorted(rates)[1]
    # 1 -> 2 nodes: the same 2-ensemble, fixed-round run (the same conformations) on 1 and 2 local nodes.
    scaling = {}
    for nodes in (1, 2):
        config = FabricConfig("local", nodes)
        pool, _ = _started_pool(config)
        times = []
        for _ in range(3):
            r = fold(FoldParams(seq, "3d", rounds=10, steps_per_round=40000, seed=1, ensembles=2), config, pool=pool)
            times.append(r.seconds)
        pool.close()
        scaling[nodes] = sorted(times)[1]
    t = Table(title="node kernel: pull moves per second (3D48-1, one 5-replica ensemble, one core; medians of 3)")
    t.add_column("kernel")
    t.add_column("pull moves/s", justify="right")
    t.add_column("vs Python", justify="right")
    for k, v in out.items():
        t.add_row(k, f"{v / 1e6:.2f} M", f"{v / out['python']:.0f}x")
    console.print(t)
    eff = scaling[1] / (2 * scaling[2])
    console.print(f"2 ensembles x 10 rounds x 5 replicas x 40,000 steps on local nodes: 1 node {scaling[1]:.2f} s, "
                  f"2 nodes {scaling[2]:.2f} s (median of 3): speed-up {scaling[1] / scaling[2]:.2f}x, "
                  f"efficiency {eff:.0%}", highlight=False)
    return {"moves_per_s": out, "scaling_seconds": scaling, "efficiency": eff}


def main() -> None:
    if not HP_BENCHMARKS.exists():
        console.print(f"bench.fold: {HP_BENCHMARKS} is missing (needs ../shared/data/hp); skipped")
        return
    quick = "--quick" in sys.argv[1:] or os.environ.get("PACKETFS_BENCH_QUICK") == "1"
    budget = float(os.environ.get("PACKETFS_BENCH_FOLD_SECONDS", QUICK_BUDGET_S if quick else FULL_BUDGET_S))
    wanted = {s for s in os.environ.get("PACKETFS_BENCH_FOLD", "").split(",") if s} or (QUICK_SET if quick else set())
    started = time.perf_counter()
    load = os.getloadavg()[0]
    rows = bench_sequences(budget, wanted)
    kernels = bench_kernels()
    console.print(f"bench.fold: {time.perf_counter() - started:.0f} s in all; load average at start {load:.2f}, "
                  f"at end {os.getloadavg()[0]:.2f} (2 cores)", highlight=False)
    path = os.environ.get("PACKETFS_BENCH_FOLD_JSON")
    if path:
        Path(path).write_text(json.dumps({"rows": rows, "kernels": kernels, "budget": budget}, indent=1))


if __name__ == "__main__":
    main()
