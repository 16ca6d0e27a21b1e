"""Import a generated regtest chain with full validation: ours vs libbitcoinkernel's
ChainstateManager (2 worker threads) on the same blk files, in the same run.

Each import runs in its own process (so peak memory is that process's), from an empty datadir.
The chain is generated once (deterministic) and cached under .bench-cache/. Environment:
PACKETFS_BENCH_CHAIN_BLOCKS (default 180), PACKETFS_BENCH_CHAIN_PROFILE (default 2016),
PACKETFS_BENCH_REPEAT (default 3).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".bench-cache"

PBK_IMPORT = r"""
import sys, pbk
datadir, files = sys.argv[1], sys.argv[2:]
ctx = pbk.make_context(pbk.ChainType.REGTEST)
opts = pbk.ChainstateManagerOptions(ctx, datadir, datadir + "/blocks")
opts.set_worker_threads_num(2)
cm = pbk.ChainstateManager(opts)
cm.import_blocks(files)
print(cm.get_active_chain().height)
"""


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _timed(cmd: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in bytes of the largest process, stdout) of a fresh process."""
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "w = time.perf_counter() - t\n"
        "if p.returncode: sys.stderr.write(p.stderr); sys.exit(p.returncode)\n"
        "print(json.dumps([w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, p.stdout]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"bench.chain: {' '.join(cmd[:4])}... failed:\n{out.stderr[-2000:]}")
    wall, rss, stdout = json.loads(out.stdout)
    return wall, rss, stdout


def main() -> None:
    from packetfs.bitcoin.chain.generator import cached_chain
    from packetfs.bitcoin.storage.blockfiles import open_blocks_dir

    n_blocks = int(os.environ.get("PACKETFS_BENCH_CHAIN_BLOCKS", "180"))
    profile = os.environ.get("PACKETFS_BENCH_CHAIN_PROFILE", "2016")
    repeat = int(os.environ.get("PACKETFS_BENCH_REPEAT", "3"))
    console = Console(width=max(110, Console().width))
    t0 = time.perf_counter()
    chain_dir = cached_chain(CACHE, n_blocks, seed=1, profile=profile)
    summary = json.loads((chain_dir / "chain.json").read_text())
    source = open_blocks_dir(chain_dir)
    blk_files = [str(p) for p in source.blk_files]
    blocks = list(source.iter_blocks())
    from packetfs.bitcoin.primitives import Block

    inputs = sum(t.input_count for raw in blocks[1:] for t in Block.from_bytes(raw).transactions[1:])
    console.print(
        f"chain: {summary['blocks']} blocks, {inputs:,} inputs, {summary['block_bytes'] / 1e6:.1f} MB "
        f"({profile} profile; ready in {time.perf_counter() - t0:.1f} s, cached in {chain_dir})"
    )

    runs: dict[str, list[tuple[float, int, int]]] = {}

    def ours(store: str) -> list[str]:
        return [sys.executable, "-m", "packetfs.cli", "bitcoin", "import", str(chain_dir), "--network", "regtest",
                "--datadir", "{datadir}", "--jobs", "2", "--store", store, "--json"]  # fmt: skip

    contenders = {
        "libbitcoinkernel (2 threads)": [sys.executable, "-c", PBK_IMPORT, "{datadir}", *blk_files],
        "packetfs, raw store (2 procs)": ours("raw"),
        "packetfs, codec store (2 procs)": ours("codec"),
    }
    for name, template in contenders.items():
        times = 1 if "codec" in name else repeat
        for _ in range(times):
            with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
                datadir = Path(tmp) / "node"
                cmd = [part.replace("{datadir}", str(datadir)) for part in template]
                wall, rss, stdout = _timed(cmd)
                if "packetfs" in name:
                    result = json.loads(stdout)
                    assert result["chain"]["height"] == summary["height"] and not result["invalid"], result
                else:
                    assert int(stdout.strip()) == summary["height"], stdout
                runs.setdefault(name, []).append((wall, rss, _du(datadir)))

    table = Table(title=f"Import with full validation: median of {repeat} (codec store: 1 run)")
    for col in ("importer", "seconds", "blocks/s", "inputs/s", "peak RSS MB", "disk MB", "speed vs kernel"):
        table.add_column(col, justify="right")
    kernel = statistics.median(w for w, _, _ in runs["libbitcoinkernel (2 threads)"])
    for name, rs in runs.items():
        wall = statistics.median(w for w, _, _ in rs)
        rss = max(r for _, r, _ in rs)
        disk = statistics.median(d for _, _, d in rs)
        table.add_row(
            name, f"{wall:.1f}", f"{summary['blocks'] / wall:.1f}", f"{inputs / wall:,.0f}", f"{rss / 1e6:.0f}",
            f"{disk / 1e6:.1f}", f"{kernel / wall:.2f}x",
        )  # fmt: skip
    console.print(table)
    codec_ratios(console, chain_dir, blocks)


def codec_ratios(console: Console, chain_dir: Path, blocks: list[bytes]) -> None:
    """The codec on the generated chain: isolated vs chain-context (as the chainstate stores it) vs brotli-11."""
    import brotli

    from packetfs.bitcoin.chain.chainstate import Chainstate
    from packetfs.bitcoin.codec import encode_block
    from packetfs.bitcoin.storage.blockfiles import open_blocks_dir

    tail = int(os.environ.get("PACKETFS_BENCH_CODEC_BLOCKS", "40"))
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        with Chainstate(Path(tmp) / "node", "regtest", jobs=2, store_mode="codec") as cs:
            for raw in open_blocks_dir(chain_dir).iter_blocks():
                cs.process_block(raw)
            cs.flush()  # blocks still being encoded are written (and located) by the flush
            entries = cs.active_chain()[-tail:]
            infos = [cs.store.block_record_info(e.block_pos) for e in entries]
    sample = blocks[-tail:]
    raw_total = sum(len(b) for b in sample)
    context_bytes = sum(i["payload_bytes"] for i in infos)
    modes = sorted({i["mode"] for i in infos})
    isolated = sum(len(encode_block(b)) for b in sample)
    br = sum(len(brotli.compress(b, quality=11)) for b in sample)
    table = Table(title=f"Codec on the last {tail} generated blocks ({raw_total / 1e6:.1f} MB), each block alone")
    for col in ("method", "bytes", "compressed / raw"):
        table.add_column(col, justify="right")
    table.add_row(f"codec, chain context (stored: {', '.join(modes)})", f"{context_bytes:,}", f"{context_bytes / raw_total:.3f}")
    table.add_row("codec, isolated", f"{isolated:,}", f"{isolated / raw_total:.3f}")
    table.add_row("brotli-11", f"{br:,}", f"{br / raw_total:.3f}")
    console.print(table)
    console.print(
        "[dim]Generated tapscript payloads and keys are pseudo-random, so these ratios are pessimistic for "
        "2024-style data; the 2016 profile has no such payloads.[/dim]"
    )


if __name__ == "__main__":
    main()
