"""Sync benchmarks. For now the offline part: SwiftSync import of a generated chain vs
libbitcoinkernel importing the same blk files, both with full validation, in the same run.

Table "SwiftSync import vs libbitcoinkernel (offline, same blk/rev files)": libbitcoinkernel's
ChainstateManager (2 worker threads) against `packetfs bitcoin swiftsync-import` with 1 and 2 local
processes (hints at the chain's tip, made beforehand from an ordinary import, which is also timed
once for reference). Each import runs in its own process from an empty datadir; wall and CPU seconds,
peak RSS of the largest process, and the final UTXO digest (all packetfs runs must agree with the
ordinary import's; the kernel's tip height is checked). Environment as bench.chain:
PACKETFS_BENCH_CHAIN_BLOCKS (180), PACKETFS_BENCH_CHAIN_PROFILE (2016), PACKETFS_BENCH_REPEAT (3).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.chain import CACHE, PBK_IMPORT, _du, _timed

KERNEL = "libbitcoinkernel (2 threads)"
ORDINARY = "packetfs import (2 procs, ordinary)"


def _packetfs(*args: str) -> list[str]:
    return [sys.executable, "-m", "packetfs.cli", "bitcoin", *args]


def swiftsync_vs_kernel(console: Console) -> dict:
    from packetfs.bitcoin.chain.generator import cached_chain
    from packetfs.bitcoin.storage.blockfiles import open_blocks_dir

    n_blocks = int(os.environ.get("PACKETFS_BENCH_CHAIN_BLOCKS", "180"))
    profile = os.environ.get("PACKETFS_BENCH_CHAIN_PROFILE", "2016")
    repeat = int(os.environ.get("PACKETFS_BENCH_REPEAT", "3"))
    CACHE.mkdir(exist_ok=True)
    chain_dir = cached_chain(CACHE, n_blocks, seed=1, profile=profile)
    summary = json.loads((chain_dir / "chain.json").read_text())
    blk_files = [str(p) for p in open_blocks_dir(chain_dir).blk_files]
    height = summary["height"]
    console.print(f"chain: {summary['blocks']} blocks, {summary['block_bytes'] / 1e6:.1f} MB ({profile} profile, {chain_dir})")

    runs: dict[str, list[tuple[float, float, int, int, str | None]]] = {}
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        work_dir = Path(work)
        # The ordinary import (timed once, for reference) is also the node that serves the hints.
        ordinary_dir = work_dir / "ordinary"
        wall, cpu, rss, stdout = _timed(_packetfs("import", str(chain_dir), "--network", "regtest", "--datadir",
                                                  str(ordinary_dir), "--jobs", "2", "--store", "raw", "--json"))  # fmt: skip
        result = json.loads(stdout)
        assert result["chain"]["height"] == height and not result["invalid"], result
        reference = result["chain"]["utxo_digest"]
        runs[ORDINARY] = [(wall, cpu, rss, _du(ordinary_dir), reference)]
        hints_path = work_dir / "tip.hints"
        t = time.perf_counter()
        hints_out = json.loads(_timed(_packetfs("hints", "--datadir", str(ordinary_dir), "--height", str(height),
                                                "-o", str(hints_path), "--json"))[3])  # fmt: skip
        hints_seconds = time.perf_counter() - t

        def swiftsync(jobs: int) -> list[str]:
            return _packetfs("swiftsync-import", str(chain_dir), "--hints", str(hints_path), "--network", "regtest",
                             "--datadir", "{datadir}", "-j", str(jobs), "--store", "raw", "--json", "--strict")  # fmt: skip

        contenders = {
            KERNEL: [sys.executable, "-c", PBK_IMPORT, "{datadir}", *blk_files],
            "packetfs SwiftSync (1 proc)": swiftsync(1),
            "packetfs SwiftSync (2 procs)": swiftsync(2),
        }
        stages: dict[str, list[dict]] = {}
        inputs_seen = [0]
        for _ in range(repeat):
            for name, template in contenders.items():
                with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
                    datadir = Path(tmp) / "node"
                    cmd = [part.replace("{datadir}", str(datadir)) for part in template]
                    wall, cpu, rss, stdout = _timed(cmd)
                    digest = None
                    if name == KERNEL:
                        assert int(stdout.strip()) == height, stdout
                    else:
                        out = json.loads(stdout)
                        assert out["mode"] == "swiftsync" and out["chain"]["height"] == height, out
                        digest = out["chain"]["utxo_digest"]
                        stages.setdefault(name, []).append(out["seconds"])
                        inputs_seen[0] = out["inputs_swiftsync"]
                    runs.setdefault(name, []).append((wall, cpu, rss, _du(datadir), digest))

    table = Table(title=f"SwiftSync import vs libbitcoinkernel (offline, same blk/rev files): median of {repeat} "
                        f"(ordinary import: 1 run)")  # fmt: skip
    inputs = inputs_seen[0]
    for col in ("importer", "seconds", "CPU s", "CPU µs/input", "peak RSS MB", "disk MB", "speed vs kernel",
                "utxo_digest"):  # fmt: skip
        table.add_column(col, justify="right")
    kernel = statistics.median(r[0] for r in runs[KERNEL])
    walls = {}
    for name, rs in runs.items():
        wall = walls[name] = statistics.median(r[0] for r in rs)
        cpu = statistics.median(r[1] for r in rs)
        digests = {r[4] for r in rs}
        same = "n/a (tip checked)" if name == KERNEL else ("= ordinary" if digests == {reference} else f"DIFFERS {digests}")
        table.add_row(
            name, f"{wall:.2f}", f"{cpu:.1f}", f"{cpu / inputs * 1e6:.0f}", f"{max(r[2] for r in rs) / 1e6:.0f}",
            f"{statistics.median(r[3] for r in rs) / 1e6:.1f}", f"{kernel / wall:.2f}x", same,
        )  # fmt: skip
    console.print(table)
    one, two = walls["packetfs SwiftSync (1 proc)"], walls["packetfs SwiftSync (2 procs)"]
    split = Table(title="Where SwiftSync's time goes (median seconds inside the importer)")
    split.add_column("importer")
    keys = ("scan", "headers", "validate", "write", "ordinary", "total")
    for k in keys:
        split.add_column(k, justify="right")
    for name, ss in stages.items():
        split.add_row(name, *(f"{statistics.median(s.get(k, 0.0) for s in ss):.2f}" for k in keys))
    console.print(split)
    console.print(
        f"hints file: {hints_out['bytes']:,} bytes for {hints_out['unspent_outputs']:,} unspent outputs "
        f"({hints_out['bits_per_unspent_output']} bits each), made in {hints_seconds:.1f} s.  "
        f"Speed-up 1 -> 2 processes: {one / two:.2f}x (goal >= 1.8x); 2 processes vs the kernel on the same "
        f"2 cores: {kernel / two:.2f}x (goal > 1x). Wall times need a quiet machine; CPU seconds do not."
    )
    return {"kernel": kernel, "swiftsync_1": one, "swiftsync_2": two, "hints_bytes": hints_out["bytes"]}


def main() -> None:
    console = Console(width=max(120, Console().width))
    swiftsync_vs_kernel(console)


if __name__ == "__main__":
    main()
