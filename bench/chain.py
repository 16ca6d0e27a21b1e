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


def _timed(cmd: list[str]) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds of the process and its children, peak RSS in bytes of the largest
    process, stdout) of a fresh process."""
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "w = time.perf_counter() - t\n"
        "if p.returncode: sys.stderr.write(p.stderr); sys.exit(p.returncode)\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps([w, u.ru_utime + u.ru_stime, u.ru_maxrss * 1024, p.stdout]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"bench.chain: {' '.join(cmd[:4])}... failed:\n{out.stderr[-2000:]}")
    wall, cpu, rss, stdout = json.loads(out.stdout)
    return wall, cpu, rss, stdout


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

    runs: dict[str, list[tuple[float, float, int, int]]] = {}

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
                wall, cpu, rss, stdout = _timed(cmd)
                if "packetfs" in name:
                    result = json.loads(stdout)
                    assert result["chain"]["height"] == summary["height"] and not result["invalid"], result
                else:
                    assert int(stdout.strip()) == summary["height"], stdout
                runs.setdefault(name, []).append((wall, cpu, rss, _du(datadir)))

    table = Table(title=f"Import with full validation: median of {repeat} (codec store: 1 run)")
    for col in ("importer", "seconds", "CPU s", "CPU µs/input", "blocks/s", "inputs/s", "peak RSS MB", "disk MB",
                "speed vs kernel"):  # fmt: skip
        table.add_column(col, justify="right")
    kernel = statistics.median(w for w, _, _, _ in runs["libbitcoinkernel (2 threads)"])
    cpu_per_input = {}
    for name, rs in runs.items():
        wall = statistics.median(w for w, _, _, _ in rs)
        cpu = statistics.median(c for _, c, _, _ in rs)
        cpu_per_input[name] = cpu / inputs * 1e6
        rss = max(r for _, _, r, _ in rs)
        disk = statistics.median(d for _, _, _, d in rs)
        table.add_row(
            name, f"{wall:.1f}", f"{cpu:.1f}", f"{cpu / inputs * 1e6:.0f}", f"{summary['blocks'] / wall:.1f}",
            f"{inputs / wall:,.0f}", f"{rss / 1e6:.0f}", f"{disk / 1e6:.1f}", f"{kernel / wall:.2f}x",
        )  # fmt: skip
    console.print(table)
    scripts = script_costs(console, blocks)
    recovery = codec_ratios(console, chain_dir, blocks)
    floors(console, cpu_per_input, scripts, recovery)


def script_costs(console: Console, raw_blocks: list[bytes]) -> dict[str, float]:
    """Where an import's CPU goes: the script checks alone, one thread, on every input of the chain:
    libbitcoinkernel's ``ScriptPubkey.verify`` looped from Python against our ``verify_tx_input``, and
    how much of ours is inside libsecp256k1. The kernel is reached through pbk's ctypes wrapper, whose
    own cost is measured on a script that does nothing (OP_TRUE) and subtracted. Returns CPU µs per
    input: kernel, ours, ours in libsecp256k1."""
    import pbk
    from pbk.script import PrecomputedTransactionData

    from packetfs.bitcoin.primitives import Block
    from packetfs.bitcoin.script import PrecomputedTxData, crypto, verify_tx_input
    from packetfs.bitcoin.script.flags import CONSENSUS_FLAGS

    repeat = int(os.environ.get("PACKETFS_BENCH_REPEAT", "3"))
    outputs: dict[tuple[bytes, int], object] = {}
    work = []
    for raw in raw_blocks:
        for i, tx in enumerate(Block.from_bytes(raw).transactions):
            if i:
                work.append((tx, [outputs[(t.prev_txid, t.prev_index)] for t in tx.inputs]))
            txid = tx.txid
            for vout, out in enumerate(tx.outputs):
                outputs[(txid, vout)] = out
    n = sum(len(spent) for _, spent in work)
    kernel_flags = pbk.ScriptVerificationFlags(sum(pbk.ScriptVerificationFlags))
    no_flags = pbk.ScriptVerificationFlags(0)
    op_true = pbk.ScriptPubkey(b"\x51")
    prepared = []
    for tx, spent in work:
        scripts = [(pbk.ScriptPubkey(o.script_pubkey), o.value) for o in spent]
        prepared.append((tx.serialize(), [pbk.TransactionOutput(s, v) for s, v in scripts], scripts))

    def kernel(trivial: bool) -> float:
        t = time.process_time()
        for raw, outs, scripts in prepared:
            ptx = pbk.Transaction(raw)
            pre = PrecomputedTransactionData(ptx, outs)
            for i, (spk, value) in enumerate(scripts):
                if trivial:
                    op_true.verify(0, ptx, pre, i, no_flags)
                elif not spk.verify(value, ptx, pre, i, kernel_flags):
                    raise AssertionError("libbitcoinkernel rejected a generated input")
        return time.process_time() - t

    def ours() -> tuple[float, float, int]:
        crypto._PUBKEY_CACHE.clear()
        crypto.enable_stats(True)
        t = time.process_time()
        for tx, spent in work:
            pre = PrecomputedTxData(tx, spent)
            for i in range(len(spent)):
                verify_tx_input(tx, i, spent, CONSENSUS_FLAGS, pre)
        cpu = time.process_time() - t
        secp, calls = crypto.stats()
        crypto.enable_stats(False)
        return cpu, secp, calls

    wrapper = statistics.median(kernel(True) for _ in range(repeat))
    kernel_cpu = statistics.median(kernel(False) for _ in range(repeat)) - wrapper
    runs = [ours() for _ in range(repeat)]
    ours_cpu = statistics.median(r[0] for r in runs)
    secp, calls = runs[-1][1], runs[-1][2]
    table = Table(title=f"Script checks alone, one thread, all {n:,} inputs: CPU per input, median of {repeat}")
    for col in ("", "CPU µs/input", "kernel / ours"):
        table.add_column(col, justify="right")
    table.add_row("libbitcoinkernel ScriptPubkey.verify, less the ctypes wrapper", f"{kernel_cpu / n * 1e6:.1f}", "1.00x")
    table.add_row("  (the ctypes wrapper alone, on OP_TRUE)", f"{wrapper / n * 1e6:.1f}", "")
    table.add_row("ours, verify_tx_input", f"{ours_cpu / n * 1e6:.1f}", f"{kernel_cpu / ours_cpu:.2f}x")
    table.add_row(f"  of which libsecp256k1 ({calls / n:.2f} signature checks per input)", f"{secp / n * 1e6:.1f}", "")
    console.print(table)
    return {"kernel": kernel_cpu / n * 1e6, "ours": ours_cpu / n * 1e6, "ours_secp": secp / n * 1e6}


def floors(console: Console, import_cpu: dict[str, float], scripts: dict[str, float], recovery: dict[str, float]) -> None:
    """What the import numbers above say about reaching the kernel's speed on the same cores."""
    kernel = import_cpu.get("libbitcoinkernel (2 threads)")
    raw = import_cpu.get("packetfs, raw store (2 procs)")
    codec = import_cpu.get("packetfs, codec store (2 procs)")
    if not (kernel and raw and codec):
        return
    rec = recovery["calls_per_input"] * recovery["us_per_call"]
    console.print(
        f"CPU per input: the kernel's import takes {kernel:.0f} µs, of which its script checks {scripts['kernel']:.0f} µs "
        f"(everything else: {kernel - scripts['kernel']:.0f} µs). Ours (raw store) takes {raw:.0f} µs: script checks "
        f"{scripts['ours']:.0f} µs ({scripts['ours_secp']:.0f} in libsecp256k1), everything else {raw - scripts['ours']:.0f} µs "
        f"(parsing, coins, undo, storage, handing work between processes).\n"
        f"Codec store: {codec:.0f} µs per input. Dropping the keys needs {recovery['calls_per_input']:.2f} key recoveries "
        f"per input at {recovery['us_per_call']:.0f} µs each ({rec:.0f} µs, libsecp256k1 alone), on top of the same "
        f"script checks the kernel does: {scripts['kernel'] + rec:.0f} µs before any Python, against the kernel's "
        f"whole {kernel:.0f} µs."
    )


def codec_ratios(console: Console, chain_dir: Path, blocks: list[bytes]) -> dict[str, float]:
    """The codec on the generated chain: isolated vs chain-context (as the chainstate stores it) vs
    brotli-11. Returns the key recoveries the isolated encoder made per input, and their cost."""
    import brotli

    from packetfs.bitcoin.chain.chainstate import Chainstate
    from packetfs.bitcoin.codec import encode_block
    from packetfs.bitcoin.codec import model as codec_model
    from packetfs.bitcoin.codec.bench import recovery_cost_us
    from packetfs.bitcoin.primitives import Block
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
    calls = [0]
    recover = codec_model._Recoverer.__call__

    def counted(self, *args):
        calls[0] += 1
        return recover(self, *args)

    codec_model._Recoverer.__call__ = counted
    try:
        isolated = sum(len(encode_block(b)) for b in sample)
    finally:
        codec_model._Recoverer.__call__ = recover
    sample_inputs = sum(t.input_count for b in sample for t in Block.from_bytes(b).transactions[1:])
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
    return {"calls_per_input": calls[0] / sample_inputs, "us_per_call": recovery_cost_us()}


if __name__ == "__main__":
    main()
