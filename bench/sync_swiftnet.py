"""SwiftSync over the network, plain blocks vs compressed-relay frames (issue 13's "compressed relay +
SwiftSync"), on the relay bench's chain (bench/sync_relay.py's generated 2016-profile `--bcoin-compatible`
chain), every mode in the same run against the same server.

Server: `packetfs node --store codec` holding the chain (serves `getbspent` and frames, as every packetfs
node). Hints at the chain's tip, made from the server's chainstate (`packetfs bitcoin hints`). Client: a
fresh process running the SwiftSync phase (swiftsync/netsync.py, 2 validation processes) from the server
to the hints' height, then reading its chainstate's utxo_digest. Modes:

- ``plain blocks``: the phase with frames turned off (``getdata``/``block`` + ``getbspent``);
- ``frames (cold)``: always frames, the server's frame store emptied first (it encodes while serving);
  the client derives the spent coins from its blocks and asks only the rest (``getbspentsel``);
- ``frames (warm)``: the same from the server's frame store (every later peer);
- ``frames, all coins asked (warm)``: frames, every spent coin asked with ``getbspent`` (no derivation:
  the client before spent coins were derived);
- ``auto (warm)``: the default, ``frames="auto"``: frames while the link holds the phase up, plain
  blocks while decoding or validation has a backlog.

Per run: wall seconds of the phase, bytes received on the wire by the client, CPU seconds of the client
(its own process, its decoding process and its validation workers) and of the server (process
tree), wall seconds spent decoding frames (in the client's process), frames received, ECDSA checks the workers answered from what decoding proved, the final
utxo_digest (must equal the server's). Links: loopback, and as root a veth pair into a namespace shaped
at 20 Mbit/s (bench/sync_relay.py's `shaped_link`, cleaned up in its ``finally``).

`python -m bench.sync_swiftnet` (1,000 blocks; ~5-7 min) or `--quick` (150 blocks, ~1-2 min).
Environment: PACKETFS_BENCH_SWIFTNET_BLOCKS, PACKETFS_BENCH_SWIFTNET_LINKS (loopback,20mbit as root),
PACKETFS_BENCH_SWIFTNET_MODES (comma-separated names from MODES; plain blocks always runs first),
PACKETFS_BENCH_SWIFTNET_CHAIN=sync (bench.sync's chain instead: 180 large 2016-profile blocks, 56 MB,
the chain of its network rows), PACKETFS_BENCH_SWIFTNET_STORE=raw (the server imports and runs with
`--store raw`, as bench.sync's serving node: no tx index, so its frames carry no chain context and every
coin is asked), PACKETFS_BENCH_REPEAT (1; medians).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import process_tree_usage
from bench.sync_relay import ADDR_SERVER, CACHE, NS_CLIENT, PACKETFS, REPO, Server, _chain, shaped_link


class RawServer(Server):
    """`packetfs node --store raw` (the node's default) holding the chain: frames without chain context."""

    def __init__(self, datadir: Path):
        real = subprocess.Popen

        def popen(cmd, *a, **kw):
            return real([("raw" if c == "codec" else c) for c in cmd], *a, **kw)

        subprocess.Popen = popen  # type: ignore[misc]
        try:
            super().__init__(datadir)
        finally:
            subprocess.Popen = real  # type: ignore[misc]

MODES = ("plain blocks", "frames (cold)", "frames (warm)", "frames, all coins asked (warm)", "auto (warm)")
# mode -> (frames, derive) for the client
CLIENT_ARGS = {"plain blocks": ("0", "1"), "frames (cold)": ("1", "1"), "frames (warm)": ("1", "1"),
               "frames, all coins asked (warm)": ("1", "0"), "auto (warm)": ("auto", "1")}


def client(host: str, port: int, datadir: Path, hints_path: Path, jobs: int, frames: bool | str,
           derive: bool = True, decode_jobs: int = 1) -> dict:
    """The SwiftSync phase in this process (the bench runs it as a fresh subprocess); what it measured."""
    import asyncio

    from packetfs.bitcoin.chain.chainstate import Chainstate
    from packetfs.bitcoin.swiftsync.hints import Hints
    from packetfs.bitcoin.swiftsync.netsync import swiftsync_from_peers

    hints = Hints.read(hints_path)
    cpu0, t0 = time.process_time(), time.perf_counter()
    r = asyncio.run(swiftsync_from_peers(datadir, "regtest", [(host, port)], hints, jobs=jobs, frames=frames,
                                         derive=derive, decode_jobs=decode_jobs, timeout=1800))  # fmt: skip
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    with Chainstate(datadir, "regtest", jobs=1) as cs:
        digest = cs.info()["utxo_digest"]
    return {"mode": r.mode, "fallback_reason": r.fallback_reason, "tip": r.tip_height, "wall_s": wall,
            "client_cpu_s": cpu + r.worker_cpu_s + (r.decode_cpu_s if decode_jobs else 0.0), "bytes_received": r.bytes_received, "frames": r.frames,
            "frame_bytes": r.frame_bytes, "plain_blocks": r.plain_blocks, "proven_checks": r.proven_checks,
            "proven_answered": r.proven_answered, "decode_s": r.seconds.get("decode", 0.0),
            "coins_derived": r.coins_derived, "coins_served": r.coins_served, "selections": r.selections,
            "auto_plain_asks": r.auto_plain_asks, "decode_cpu_s": r.decode_cpu_s,
            "utxo_digest": digest}


def _run_client(mode: str, work: Path, host: str, port: int, ns: str | None, hints: Path, jobs: int) -> dict:
    d = work / f"client-{mode.split()[0]}-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "bench.sync_swiftnet", "--client", host, str(port), str(d), str(hints), str(jobs),
           *CLIENT_ARGS[mode], "1"]
    if ns:
        cmd = ["ip", "netns", "exec", ns, *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=3600)
    shutil.rmtree(d, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"SwiftSync client ({mode}) failed: {proc.stderr[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def swiftnet_table(console: Console, quick: bool = False) -> dict:
    quick = quick or os.environ.get("PACKETFS_BENCH_QUICK") == "1"
    n_blocks = int(os.environ.get("PACKETFS_BENCH_SWIFTNET_BLOCKS", "150" if quick else "1000"))
    repeat = int(os.environ.get("PACKETFS_BENCH_REPEAT", "1"))
    can_shape = os.geteuid() == 0 and shutil.which("tc") is not None and shutil.which("ip") is not None
    links = os.environ.get("PACKETFS_BENCH_SWIFTNET_LINKS", "loopback,20mbit" if can_shape else "loopback").split(",")
    jobs = 2
    CACHE.mkdir(exist_ok=True)
    if os.environ.get("PACKETFS_BENCH_SWIFTNET_CHAIN") == "sync":  # bench.sync's chain (its network rows)
        from packetfs.bitcoin.chain.generator import cached_chain

        chain_dir = cached_chain(CACHE, 180, seed=1, profile="2016")
        summary = json.loads((chain_dir / "chain.json").read_text())
        summary.setdefault("inputs", 0)
    else:
        chain_dir, summary = _chain(n_blocks, 20)
    store = os.environ.get("PACKETFS_BENCH_SWIFTNET_STORE", "codec")
    wanted = os.environ.get("PACKETFS_BENCH_SWIFTNET_MODES")
    modes = [m for m in MODES if m == MODES[0] or wanted is None or m in wanted.split(",")]
    console.print(f"chain: {summary['blocks']} blocks, {summary['inputs']:,} inputs, "
                  f"{summary['block_bytes'] / 1e6:.2f} MB ({chain_dir}); load average {os.getloadavg()[0]:.1f} at start")
    results: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = Path(tmp)
        src = work / "server"
        subprocess.run([PACKETFS, "bitcoin", "import", str(chain_dir), "--network", "regtest", "--datadir", str(src),
                        "--store", store, "--json"], check=True, capture_output=True)
        hints = work / "tip.hints"
        subprocess.run([PACKETFS, "bitcoin", "hints", "--datadir", str(src), "--height", str(summary["blocks"]),
                        "-o", str(hints)], check=True, capture_output=True)
        from packetfs.bitcoin.chain.chainstate import Chainstate

        with Chainstate(src, "regtest", jobs=1, store_mode="codec") as cs:
            want = cs.info()["utxo_digest"]
        for link in links:
            mbit = None if link == "loopback" else int(link.removesuffix("mbit"))
            with shaped_link(mbit) if mbit else contextlib.nullcontext():
                ns = NS_CLIENT if mbit else None
                host = ADDR_SERVER if mbit else "127.0.0.1"
                for _ in range(repeat):
                    shutil.rmtree(src / "pfs-frames", ignore_errors=True)  # cold: nothing encoded yet
                    server = RawServer(src) if store == "raw" else Server(src)
                    try:
                        for mode in modes:
                            before = process_tree_usage(server.proc.pid)[0]
                            r = _run_client(mode, work, host, server.port, ns, hints, jobs)
                            r["server_cpu_s"] = process_tree_usage(server.proc.pid)[0] - before
                            r["digest_ok"] = r["utxo_digest"] == want and r["mode"] == "swiftsync"
                            results.setdefault((link, mode), []).append(r)
                            console.print(f"  {link} {mode}: {r['wall_s']:.2f} s, {r['bytes_received'] / 1e6:.2f} MB, "
                                          f"client CPU {r['client_cpu_s']:.1f} s, server CPU {r['server_cpu_s']:.1f} s, "
                                          f"frames/plain {r['frames']}/{r['plain_blocks']}, coins derived/asked "
                                          f"{r['coins_derived']}/{r['coins_served']}, load {os.getloadavg()[0]:.1f}")
                    finally:
                        server.stop()
    load_end = os.getloadavg()[0]

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    table = Table(title=f"SwiftSync over the network to height {summary['blocks']}: plain blocks vs frames "
                        f"({summary['blocks']} blocks, {summary['block_bytes'] / 1e6:.1f} MB; medians of {repeat}; "
                        f"load average {load_end:.1f} at the end)")
    for col in ("link", "mode", "wall s", "MB received", "bytes vs plain", "speed vs plain", "client CPU s",
                "server CPU s", "decode CPU s", "frames / plain", "coins derived / asked", "ECDSA answered by recovery",
                "utxo_digest"):
        table.add_column(col)
    out: dict = {"blocks": summary["blocks"], "block_bytes": summary["block_bytes"], "inputs": summary["inputs"],
                 "load_end": load_end, "rows": []}
    for link in links:
        base = results[(link, "plain blocks")]
        for mode in modes:
            rows = results[(link, mode)]
            row = {"link": link, "mode": mode, "wall_s": med(rows, "wall_s"), "bytes": med(rows, "bytes_received"),
                   "client_cpu_s": med(rows, "client_cpu_s"), "server_cpu_s": med(rows, "server_cpu_s"),
                   "frames": med(rows, "frames"), "answered": med(rows, "proven_answered"),
                   "decode_s": med(rows, "decode_s"), "decode_cpu_s": med(rows, "decode_cpu_s"),
                   "plain_blocks": med(rows, "plain_blocks"), "coins_derived": med(rows, "coins_derived"),
                   "coins_served": med(rows, "coins_served"),
                   "bytes_ratio": med(rows, "bytes_received") / med(base, "bytes_received"),
                   "speed": med(base, "wall_s") / med(rows, "wall_s"), "digest_ok": all(r["digest_ok"] for r in rows)}
            out["rows"].append(row)
            table.add_row(link, mode, f"{row['wall_s']:.2f}", f"{row['bytes'] / 1e6:.2f}", f"{row['bytes_ratio']:.3f}",
                          f"{row['speed']:.2f}x", f"{row['client_cpu_s']:.1f}", f"{row['server_cpu_s']:.1f}",
                          f"{row['decode_cpu_s']:.1f}", f"{row['frames']:.0f} / {row['plain_blocks']:.0f}",
                          f"{row['coins_derived']:,.0f} / {row['coins_served']:,.0f}", f"{row['answered']:,.0f}",
                          "= server's" if row["digest_ok"] else "DIFFERS / fell back")
    console.print(table)
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--client":
        host, port, datadir, hints, jobs, frames, derive, decode_jobs = argv[1:9]
        mode = {"0": False, "1": True}.get(frames, frames)
        print(json.dumps(client(host, int(port), Path(datadir), Path(hints), int(jobs), mode, derive == "1",
                                int(decode_jobs))))
        return
    ap = argparse.ArgumentParser(prog="python -m bench.sync_swiftnet", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="150 blocks (about 1-2 minutes)")
    ap.add_argument("--json", type=Path, help="also write the table's numbers to this file")
    # parse_known_args: under `python -m bench sync_swiftnet --quick` the argv also holds module names
    args, _ = ap.parse_known_args(argv)
    console = Console(width=max(Console().width, 170))
    out = swiftnet_table(console, args.quick)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
