"""Sync benchmarks: SwiftSync of a generated chain (from the blk/rev files, and from a peer over
loopback with getbspent) vs libbitcoinkernel importing the same blk files, all with full validation,
in the same run.

Quick mode (at most ~4 minutes): `python -m bench sync --quick` (or PACKETFS_BENCH_QUICK=1): one run
of each contender instead of PACKETFS_BENCH_REPEAT, on the same cached chain.

Table "SwiftSync import vs libbitcoinkernel (offline, same blk/rev files)": libbitcoinkernel's
ChainstateManager (2 worker threads) against `packetfs bitcoin import --swiftsync` with 1 and 2 local
processes (hints at the chain's tip, made beforehand from an ordinary import, which is also timed
once for reference). Each import runs in its own process from an empty datadir; wall and CPU seconds,
peak RSS of the largest process, and the final UTXO digest (all packetfs runs must agree with the
ordinary import's; the kernel's tip height is checked). The SwiftSync imports are timed to the validated
chainstate (`--no-digest`, as the kernel's run ends at its tip) and the digest read afterwards, untimed. The network row is `packetfs bitcoin sync --mode
swiftsync` from a `packetfs node` serving the ordinary import (its CPU is the client's only: the
serving node's is not counted). A third table splits the validation workers' CPU by phase of a
block (read, parse, undo, aggregate, rules, scripts; the importer's --json validate_cpu). Environment
as bench.chain:
PACKETFS_BENCH_CHAIN_BLOCKS (180), PACKETFS_BENCH_CHAIN_PROFILE (2016), PACKETFS_BENCH_REPEAT (3).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.chain import CACHE, PBK_IMPORT, _du, _timed

KERNEL = "libbitcoinkernel (2 threads)"
ORDINARY = "packetfs import (2 procs, ordinary)"


def _packetfs(*args: str) -> list[str]:
    return [sys.executable, "-m", "packetfs.cli", "bitcoin", *args]


NETWORK = "packetfs SwiftSync from a peer (2 procs, loopback)"
# The serving node encodes each block as a compressed-relay frame the first time it serves it (its frame
# store is empty): that first sync is its own row, and the timed rows after it get stored frames.
NETWORK_COLD = "packetfs SwiftSync from a peer, first served (server encodes frames; 2 procs, loopback)"


@contextlib.contextmanager
def _serving_node(datadir: Path) -> Iterator[int]:
    """`packetfs node` on ``datadir`` (it serves blocks and getbspent) on a free loopback port; stopped
    (its whole process group) on the way out, also on failure."""
    proc = subprocess.Popen([sys.executable, "-m", "packetfs.cli", "node", "--network", "regtest", "--datadir",
                             str(datadir), "--port", "0", "--bind", "127.0.0.1", "--no-rpc"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        log = datadir / "debug.log"
        deadline = time.monotonic() + 60
        port = None
        while port is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the serving node did not start (exit {proc.returncode})")
            m = re.search(r"listening on [\d.]+:(\d+)", log.read_text()) if log.exists() else None
            port = int(m.group(1)) if m else None
            time.sleep(0.1)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def quick_mode() -> bool:
    return "--quick" in sys.argv or os.environ.get("PACKETFS_BENCH_QUICK") == "1"


def swiftsync_vs_kernel(console: Console) -> dict:
    from packetfs.bitcoin.chain.generator import cached_chain
    from packetfs.bitcoin.storage.blockfiles import open_blocks_dir

    n_blocks = int(os.environ.get("PACKETFS_BENCH_CHAIN_BLOCKS", "180"))
    profile = os.environ.get("PACKETFS_BENCH_CHAIN_PROFILE", "2016")
    repeat = 1 if quick_mode() else int(os.environ.get("PACKETFS_BENCH_REPEAT", "3"))
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
            return _packetfs("import", str(chain_dir), "--swiftsync", str(hints_path), "--network", "regtest",
                             "--datadir", "{datadir}", "-j", str(jobs), "--store", "raw", "--json", "--strict",
                             "--no-digest")  # fmt: skip

        contenders = {
            KERNEL: [sys.executable, "-c", PBK_IMPORT, "{datadir}", *blk_files],
            "packetfs SwiftSync (1 proc)": swiftsync(1),
            "packetfs SwiftSync (2 procs)": swiftsync(2),
            NETWORK: _packetfs("sync", "--mode", "swiftsync", "--connect", "127.0.0.1:{port}", "--datadir",
                               "{datadir}", "--hints", str(hints_path), "-j", "2", "--json"),
        }
        stages: dict[str, list[dict]] = {}
        phases: dict[str, list[dict]] = {}
        inputs_seen = [0]
        with _serving_node(ordinary_dir) as port:
            _run_contenders({NETWORK_COLD: contenders[NETWORK]}, 1, work_dir, port, height, runs, stages,
                            inputs_seen, phases)
            _run_contenders(contenders, repeat, work_dir, port, height, runs, stages, inputs_seen, phases)

    table = Table(title=f"SwiftSync vs libbitcoinkernel (same blk/rev files; the network row from a peer): median "
                        f"of {repeat}{' (--quick)' if quick_mode() else ''} (ordinary import: 1 run)")  # fmt: skip

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
    keys = ("scan", "headers", "download", "validate", "write", "ordinary", "total")
    for k in keys:
        split.add_column(k, justify="right")
    for name, ss in stages.items():
        split.add_row(name, *(f"{statistics.median(s.get(k, 0.0) for s in ss):.2f}" for k in keys))
    console.print(split)
    if TIMELINES:
        timeline = Table(title="SwiftSync import's timeline (median seconds from the process's start; the two cores "
                               "are busy from 'tasks handed out' to 'last block valid')")  # fmt: skip
        timeline.add_column("importer")
        for _, label in TIMELINE_POINTS:
            timeline.add_column(label, justify="right")
        for name, tls in TIMELINES.items():
            timeline.add_row(name, *(f"{statistics.median(t.get(k, 0.0) for t in tls):.3f}" for k, _ in TIMELINE_POINTS))
        console.print(timeline)
    if phases:
        # The workers' own CPU per phase of a block's validation (swiftsync.validate.PHASES), per input.
        names = [k for k in next(iter(phases.values()))[0] if k != "workers"]
        inside = Table(title="Inside SwiftSync's validation workers: CPU µs per input, per phase (median; all "
                             "workers together)")  # fmt: skip
        inside.add_column("importer")
        for k in (*names, "sum", "workers' CPU"):
            inside.add_column(k, justify="right")
        for name, ps in phases.items():
            cells = [statistics.median(p.get(k, 0.0) for p in ps) / inputs * 1e6 for k in names]
            workers = statistics.median(p.get("workers", 0.0) for p in ps) / inputs * 1e6
            inside.add_row(name, *(f"{c:.2f}" for c in cells), f"{sum(cells):.2f}", f"{workers:.2f}")
        console.print(inside)
    console.print(
        f"hints file: {hints_out['bytes']:,} bytes for {hints_out['unspent_outputs']:,} unspent outputs "
        f"({hints_out['bits_per_unspent_output']} bits each), made in {hints_seconds:.1f} s.  "
        f"Speed-up 1 -> 2 processes: {one / two:.2f}x (goal >= 1.8x); 2 processes vs the kernel on the same "
        f"2 cores: {kernel / two:.2f}x (goal > 1x). Wall times need a quiet machine; CPU seconds do not."
    )
    return {"kernel": kernel, "swiftsync_1": one, "swiftsync_2": two, "hints_bytes": hints_out["bytes"]}


def _utxo_digest(datadir: Path) -> str:
    proc = subprocess.run(_packetfs("chain-info", "--datadir", str(datadir), "--json"), capture_output=True,
                          text=True, check=True)  # fmt: skip
    return json.loads(proc.stdout)["utxo_digest"]


# Per SwiftSync import row: its --json timeline (seconds from the process's start) with the wall time
# to its exit and the validation workers' idle seconds (first task started to last block validated,
# minus each worker's busy time), one dict per run.
TIMELINES: dict[str, list[dict]] = {}
TIMELINE_POINTS = (("opened", "chainstate open"), ("workers_started", "tasks handed out"),
                   ("records_written", "blocks+undo stored"), ("first_block_validated", "first block valid"),
                   ("last_block_validated", "last block valid"), ("written", "written at H"),
                   ("closed", "closed"), ("exit", "exit (wall)"), ("idle", "workers idle s"))  # fmt: skip


def _idle(out: dict) -> float:
    tl, workers = out["timeline"], out.get("workers") or {}
    if "first_task_started" not in tl or not workers:
        return 0.0
    span = tl["last_block_validated"] - tl["first_task_started"]
    return sum(span - w["busy"] for w in workers.values())


def _run_contenders(contenders: dict, repeat: int, work_dir: Path, port: int, height: int, runs: dict,
                    stages: dict, inputs_seen: list[int], phases: dict | None = None) -> None:
    for _ in range(repeat):
        for name, template in contenders.items():
            with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
                datadir = Path(tmp) / "node"
                cmd = [part.replace("{datadir}", str(datadir)).replace("{port}", str(port)) for part in template]
                wall, cpu, rss, stdout = _timed(cmd)
                digest = None
                if name == KERNEL:
                    assert int(stdout.strip()) == height, stdout
                elif name in (NETWORK, NETWORK_COLD):
                    out = json.loads(stdout)
                    sw = out["stages"]["swiftsync"]
                    assert sw["mode"] == "swiftsync" and out["height"] == height, out
                    digest = out["utxo_digest"]
                    stages.setdefault(name, []).append(sw["seconds"])
                    cpu = out["cpu_s"]  # the client's own rusage misses its fork-server workers; this has them
                else:
                    out = json.loads(stdout)
                    assert out["mode"] == "swiftsync" and out["chain"]["height"] == height, out
                    # Timed to the validated chainstate, as the kernel's run is (it reports its tip); the
                    # digest that proves the same coins is read afterwards, untimed.
                    digest = out["chain"].get("utxo_digest") or _utxo_digest(datadir)
                    stages.setdefault(name, []).append(out["seconds"])
                    if out.get("timeline"):
                        TIMELINES.setdefault(name, []).append({**out["timeline"], "exit": wall, "idle": _idle(out)})
                    inputs_seen[0] = out["inputs_swiftsync"]
                    if phases is not None and out.get("validate_cpu"):
                        phases.setdefault(name, []).append(out["validate_cpu"])
                runs.setdefault(name, []).append((wall, cpu, rss, _du(datadir), digest))


def script_checks_vs_kernel(console: Console) -> dict:
    """Where the gap is: every input's script check of the chain's blocks, in this one process, by our
    script code and by libbitcoinkernel's (pbk ScriptPubkey.verify), same inputs, same flags, each with
    its own per-tx precomputation; and the floor both share, libsecp256k1's key parse + ECDSA verify,
    timed by itself for the number of signature checks we make. CPU seconds (process time), same run."""
    import hashlib

    import pbk
    from coincurve import PrivateKey

    from packetfs.bitcoin.chain.generator import cached_chain
    from packetfs.bitcoin.consensus.params import script_flags_for_block
    from packetfs.bitcoin.consensus.pool import verify_batch
    from packetfs.bitcoin.primitives.block import Block
    from packetfs.bitcoin.primitives.transaction import TxOut
    from packetfs.bitcoin.script import crypto
    from packetfs.bitcoin.script.api import verify_tx_input
    from packetfs.bitcoin.script.flags import CONSENSUS_FLAGS
    from packetfs.bitcoin.script.sighash import PrecomputedTxData
    from packetfs.bitcoin.storage.blockfiles import open_blocks_dir
    from packetfs.bitcoin.storage.undo import decode_block_undo

    n_blocks = int(os.environ.get("PACKETFS_BENCH_CHAIN_BLOCKS", "180"))
    profile = os.environ.get("PACKETFS_BENCH_CHAIN_PROFILE", "2016")
    chain_dir = cached_chain(CACHE, n_blocks, seed=1, profile=profile)
    step = 4 if quick_mode() else 1  # --quick: every 4th block
    # Blocks that spend something (an undo record of more than the empty CBlockUndo's one byte).
    spending = [r for r in open_blocks_dir(chain_dir).iter_blocks_with_undo() if r[1] and len(r[1]) > 1]
    records = spending[::step]
    ours = kernel = 0.0
    inputs = 0
    calls = [0]
    verify = crypto._verify_compact  # every curve check, the P2PKH runs' included, goes through it

    def counted(c, p, m):
        calls[0] += 1
        return verify(c, p, m)

    for raw, undo_raw in records:
        block = Block.from_bytes(raw)
        flags = int(script_flags_for_block(101, block.hash, "regtest"))  # every rule (regtest: all active)
        for tx, coins in zip(block.transactions[1:], decode_block_undo(undo_raw), strict=True):
            outs = [TxOut(c.value, c.script_pubkey) for c in coins]
            n = tx.input_count
            inputs += n
            crypto._verify_compact = counted
            # As a validation worker checks a tx's inputs (consensus.pool.verify_batch: runs of P2PKH
            # inputs in one loop, any other input through verify_tx_input), precomputation included.
            t = time.process_time()
            assert verify_batch(object(), [(0, tx, outs, flags, 0, n)]) == (n, None)
            ours += time.process_time() - t
            crypto._verify_compact = verify
            ktx = pbk.Transaction(tx.serialize())
            spks = [pbk.ScriptPubkey(c.script_pubkey) for c in coins]
            kouts = [pbk.TransactionOutput(spk, c.value) for spk, c in zip(spks, coins, strict=True)]
            kflags = pbk.ScriptVerificationFlags(flags)
            t = time.process_time()
            kpre = pbk.script.PrecomputedTransactionData(ktx, kouts)
            for i in range(n):
                assert spks[i].verify(coins[i].value, ktx, kpre, i, kflags)
            kernel += time.process_time() - t
    # What a call costs without any signature: the same legacy inputs against an OP_TRUE scriptPubKey
    # (their scriptSig pushes run, then OP_TRUE), each side's per-tx precomputation made outside the
    # timer: the per-input cost of each side's plumbing (for pbk: Python -> C included).
    kflags = pbk.ScriptVerificationFlags(int(CONSENSUS_FLAGS))
    ours_call = kernel_call = 0.0
    n_trivial = 0
    true_spk = b"\x51"
    for raw, _ in records[:20]:
        for tx in Block.from_bytes(raw).transactions[1:]:
            legacy = [i for i in range(tx.input_count) if not tx.witnesses[i]]
            if not legacy or n_trivial >= 3000:
                continue
            outs = [TxOut(0, true_spk)] * tx.input_count
            pre = PrecomputedTxData(tx, outs)
            spk = pbk.ScriptPubkey(true_spk)
            ktx = pbk.Transaction(tx.serialize())
            kpre = pbk.script.PrecomputedTransactionData(ktx, [pbk.TransactionOutput(spk, 0)] * tx.input_count)
            t = time.process_time()
            for i in legacy:
                verify_tx_input(tx, i, outs, int(CONSENSUS_FLAGS), pre)
            ours_call += time.process_time() - t
            t = time.process_time()
            for i in legacy:
                assert spk.verify(0, ktx, kpre, i, kflags)
            kernel_call += time.process_time() - t
            n_trivial += len(legacy)
    keys = [PrivateKey(hashlib.sha256(b"key" + bytes([i])).digest()) for i in range(256)]
    items = []
    for i, k in enumerate(keys):
        m = hashlib.sha256(bytes([i])).digest()
        items.append((crypto.parse_der_lax(k.sign(m, hasher=None)), k.public_key.format(True), m))
    t = time.process_time()
    for _ in range(8):
        for compact, pub, m in items:
            pk = crypto._new(crypto._PUBKEY_T)
            crypto._pubkey_parse(crypto._CTX, pk, pub, len(pub))
            sig = crypto._new(crypto._SIG_T)
            crypto._parse_compact(crypto._CTX, sig, compact)
            assert crypto._ecdsa_verify(crypto._CTX, sig, m, pk)
    floor = (time.process_time() - t) / (8 * len(items)) * calls[0]
    table = Table(title=f"Script checks alone, one process, same {inputs:,} inputs and flags ({len(records)} blocks): "
                        "CPU µs per input")  # fmt: skip
    for col in ("script check", "µs/input", "vs kernel"):
        table.add_column(col, justify="right")
    table.add_row("libbitcoinkernel (pbk ScriptPubkey.verify)", f"{kernel / inputs * 1e6:.1f}", "1.00x")
    table.add_row("packetfs (consensus.pool.verify_batch, as the workers)", f"{ours / inputs * 1e6:.1f}",
                  f"{kernel / ours:.2f}x")
    table.add_row(f"libsecp256k1 floor: {calls[0]:,} key parses + ECDSA verifies", f"{floor / inputs * 1e6:.1f}",
                  f"{kernel / floor:.2f}x")  # fmt: skip
    if n_trivial:
        table.add_row(f"per-call plumbing, ours (OP_TRUE, {n_trivial:,} legacy inputs)",
                      f"{ours_call / n_trivial * 1e6:.1f}", "")
        table.add_row("per-call plumbing, libbitcoinkernel through pbk (same)", f"{kernel_call / n_trivial * 1e6:.1f}", "")
    console.print(table)
    console.print(f"Ours above the floor: {(ours - floor) / inputs * 1e6:.1f} µs/input (sighash, parsing, Python); "
                  f"the kernel's: {(kernel - floor) / inputs * 1e6:.1f} µs/input.")
    return {"ours_us": ours / inputs * 1e6, "kernel_us": kernel / inputs * 1e6, "floor_us": floor / inputs * 1e6}


def main() -> None:
    console = Console(width=max(120, Console().width))
    started = time.perf_counter()
    swiftsync_vs_kernel(console)
    script_checks_vs_kernel(console)
    console.print(f"bench.sync{' --quick' if quick_mode() else ''}: {time.perf_counter() - started:.0f} s "
                  f"(load average {os.getloadavg()[0]:.2f} at the end)")


if __name__ == "__main__":
    main()
