"""Compressed block relay benchmark (issue 13): one generated 2016-profile `--bcoin-compatible` chain synced
by a fresh node, every mode in the same run, on the same links, with the anchors beside it.

Modes (per link):
- ``plain``: `packetfs bitcoin sync --mode plain` from `packetfs node --store codec` (getdata/block);
- ``lightning (cold)``: `--mode lightning` from the same server with its frame store emptied: every frame
  is encoded while serving (the first peer to sync these blocks from this server);
- ``lightning (warm)``: `--mode lightning` again: frames come from the server's on-disk frame store (every
  later peer, also after a restart);
- ``lightning (warm, inline)``: the same with `--decode-jobs 0`: frames decoded in the syncing process
  itself (no hand-over to a decoding process; on a machine whose cores are all busy this can be faster);
- ``lightning + swiftsync``: `packetfs bitcoin sync --mode swiftsync --hints F -j N --frames always` (hints at the chain's tip,
  made from the server's chainstate with `packetfs bitcoin hints`; N = PACKETFS_BENCH_RELAY_SWIFT_JOBS, default
  2, validation processes): every block validated with SwiftSync in any order, every block as a frame, the
  spent coins the client cannot derive from the blocks it holds asked with getbspentsel (swiftsync/netsync.py), then the ordinary sync
  finds nothing left; its wall, bytes and CPU cover both phases, CPU includes the validation workers';
- ``bcoin -> bcoin``: a fresh bcoin 1.0.2 syncing the chain from a bcoin that holds it (anchor);
- ``kernel import`` (once, from disk, no link): libbitcoinkernel's ChainstateManager importing the chain's
  blk files with 2 worker threads: the bar for "validated chainstate" on these 2 cores.

Links: unshaped loopback, and (as root, with `ip`/`tc`) a veth pair from the root namespace (servers) into
a network namespace (clients), both ends shaped with `tc tbf` at 100 and 20 Mbit/s. The namespace and the
pair are deleted in a `finally`, also on failure, and any left over from a killed run at the start.

Per run: wall seconds (ours: the sync command's own clock, connect to tip; bcoin: addnode to tip, polled),
bytes received on the wire by the syncing node, CPU seconds of the syncing node (its decoding process's
CPU included, as the sync command reports it) and of the server's (encoding children included), peak RSS of the syncing process, and
the final state: our utxo_digest (Core's hash_serialized_3, equal in every mode), bcoin's
gettxoutsetinfo coin count and amount against our chainstate's, the kernel's tip.

Environment: PACKETFS_BENCH_RELAY_BLOCKS (1000), PACKETFS_BENCH_RELAY_TXS (20 txs per block),
PACKETFS_BENCH_RELAY_LINKS (loopback,100mbit,20mbit when root), PACKETFS_BENCH_REPEAT (1; medians),
PACKETFS_BENCH_RELAY_BCOIN (bcoin rows, on by default: ~200 s per sync of the full chain plus ~4 min
feeding its source; 0 leaves them out). Quick mode (`python -m bench.sync_relay
--quick` or PACKETFS_BENCH_QUICK=1): 150 blocks, links loopback and 20mbit, bcoin included, one run each
(about 3 minutes).

Goals (issue 13): compressed relay moves <= 0.62 of plain's bytes; at 20 Mbit/s >= 1.5x faster than
plain; on loopback no slower than plain. The pitch's claims are printed beside the measured numbers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.chain import PBK_IMPORT
from bench.common import process_tree_usage

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "support"))
CACHE = REPO / ".bench-cache"
PACKETFS = str(Path(sys.executable).parent / "packetfs")
# Names and subnet of this process's shaped link: two benches running at once (this one and
# bench/sync_swiftnet.py, which uses the same link) must not delete or reuse each other's namespace.
_TAG = os.getpid()
NS_PREFIX = "pfsrelay-"
NS_CLIENT = f"{NS_PREFIX}{_TAG}"
DEV_SERVER, DEV_CLIENT = f"pfsr{_TAG}s", f"pfsr{_TAG}c"  # at most 15 characters
ADDR_SERVER, ADDR_CLIENT = f"10.231.{_TAG % 250}.1", f"10.231.{_TAG % 250}.2"
MODES = ("plain", "lightning (cold)", "lightning (warm)", "lightning (warm, inline)", "lightning + swiftsync")
SWIFT_MODE = "lightning + swiftsync"

PITCH = ("the pitch: `packetfs-bitcoin --sync --mode lightning`, \"stream compressed blocks, decompress and verify in "
         "parallel, index while streaming\" (no figure given)")


def _chain(n_blocks: int, txs: int) -> tuple[Path, dict]:
    from packetfs.bitcoin.chain.generator import ChainGenerator, write_chain

    out = CACHE / f"relay-2016-bcoin-compatible-{n_blocks}-{txs}"
    if not (out / "chain.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        gen = ChainGenerator("bench-relay", "2016", txs_per_block=txs, min_kind_share=0.05, bcoin_compatible=True)
        summary = write_chain(gen.blocks(n_blocks), out, undo=False)
        summary["inputs"] = gen.stats["inputs"]
        (out / "chain.json").write_text(json.dumps(summary))
    return out, json.loads((out / "chain.json").read_text())


def _ns(cmd: list[str], ns: str | None) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd] if ns else cmd


def _tree(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak RSS bytes of the largest process) of a process and its live descendants."""
    return process_tree_usage(pid, rss="max")


class Server:
    """`packetfs node --store codec` holding the chain (compressed relay on, as every packetfs node), in the
    root namespace, listening on every address (loopback and the veth end)."""

    def __init__(self, datadir: Path):
        self.datadir = datadir
        self.out = open(datadir / "server-stderr.txt", "ab")
        self.proc = subprocess.Popen([PACKETFS, "node", "--network", "regtest", "--datadir", str(datadir),
                                      "--store", "codec", "--port", "0", "--bind", "0.0.0.0", "--no-rpc",
                                      "--jobs", "1"],
                                     stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        self.port = None
        deadline = time.monotonic() + 60
        log = datadir / "debug.log"
        start_at = log.stat().st_size if log.exists() else 0
        while self.port is None:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"server did not start: {(datadir / 'server-stderr.txt').read_text()[-1500:]}")
            if log.exists():
                for line in log.read_text()[start_at:].splitlines():
                    if " listening on " in line and "RPC" not in line:
                        self.port = int(line.rsplit(":", 1)[1])
            time.sleep(0.05)

    def stop(self) -> None:
        from process_group import stop_process_group

        if self.proc.poll() is None:
            stop_process_group(self.proc, 15, 30)
        self.out.close()


def _cleanup_link() -> None:
    """Delete this process's namespace and veth pair, and those left by bench processes that are gone
    (killed before their ``finally``); deleting a namespace deletes the veth pair that ends in it."""
    subprocess.run(["ip", "netns", "del", NS_CLIENT], capture_output=True)
    subprocess.run(["ip", "link", "del", DEV_SERVER], capture_output=True)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for name in (line.split()[0] for line in listed.splitlines() if line.strip()):
        pid = name.removeprefix(NS_PREFIX)
        if name.startswith(NS_PREFIX) and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


@contextlib.contextmanager
def shaped_link(mbit: int) -> Iterator[None]:
    """A veth pair from the root namespace into NS_CLIENT, both ends shaped with tc tbf at ``mbit``."""

    def run(*cmd: str) -> None:
        subprocess.run(list(cmd), check=True, capture_output=True)

    _cleanup_link()  # a previous run killed before its finally
    try:
        run("ip", "netns", "add", NS_CLIENT)
        run("ip", "link", "add", DEV_SERVER, "type", "veth", "peer", "name", DEV_CLIENT, "netns", NS_CLIENT)
        burst = max(32_000, mbit * 1_000_000 // 8 // 250)  # ~4 ms of traffic, at least 32 kB
        for ns, dev, addr in ((None, DEV_SERVER, ADDR_SERVER), (NS_CLIENT, DEV_CLIENT, ADDR_CLIENT)):
            pre = ["ip", "-n", ns] if ns else ["ip"]
            run(*pre, "addr", "add", f"{addr}/24", "dev", dev)
            run(*pre, "link", "set", dev, "up")
            if ns:
                run(*pre, "link", "set", "lo", "up")
            run(*_ns(["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", f"{mbit}mbit", "burst", str(burst),
                      "latency", "50ms"], ns))
        yield
    finally:
        _cleanup_link()


def _sync(mode: str, datadir: Path, host: str, port: int, ns: str | None, extra: list[str] = ()) -> dict:
    datadir.mkdir(parents=True)
    with open(datadir / "sync-stderr.txt", "wb") as err:
        proc = subprocess.Popen(_ns([PACKETFS, "bitcoin", "sync", "--mode", mode, "--connect", f"{host}:{port}",
                                     "--datadir", str(datadir), "--json", "--timeout", "1800", *extra], ns),
                                stdout=subprocess.PIPE, stderr=err)
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this process tree (peak RSS)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"sync --mode {mode} failed: {(datadir / 'sync-stderr.txt').read_text()[-1500:]}")
    report = json.loads(out)
    report["peak_rss"] = usage.ru_maxrss * 1024
    return report


def _ours(link: str, work: Path, src: Path, host: str, ns: str | None, repeat: int, hints: Path,
          swift_jobs: int) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    for r in range(repeat):
        shutil.rmtree(src / "pfs-frames", ignore_errors=True)  # cold: this server has encoded nothing yet
        server = Server(src)
        try:
            for mode in MODES:
                d = work / f"{link}-{mode.split()[0]}-{len(runs.get(mode, []))}-{r}"
                before = _tree(server.proc.pid)[0]
                extra = ["--decode-jobs", "0"] if "inline" in mode else []
                kind = "plain" if mode == "plain" else "lightning"
                if mode == SWIFT_MODE:
                    # The compressed relay + SwiftSync: frames for every block (the default, auto, would
                    # take plain blocks whenever this machine's CPU rather than the link is the bottleneck).
                    kind, extra = "swiftsync", ["--hints", str(hints), "-j", str(swift_jobs), "--frames", "always"]
                report = _sync(kind, d, host, server.port, ns, extra)
                report["server_cpu_s"] = _tree(server.proc.pid)[0] - before
                report["state"] = report["utxo_digest"]
                runs.setdefault(mode, []).append(report)
                shutil.rmtree(d, ignore_errors=True)
        finally:
            server.stop()
    return runs


def _bcoin_source(chain_dir: Path):
    from bcoin_harness import BcoinNode

    from packetfs.bitcoin.storage.blockfiles import open_blocks_dir

    node = BcoinNode(["--host=0.0.0.0", "--log-level=warning"]).__enter__()
    try:
        for raw in list(open_blocks_dir(chain_dir).iter_blocks())[1:]:
            node.rpc("submitblock", raw.hex())
    except BaseException:
        node.stop()
        raise
    return node


def _bcoin_client(ns: str | None):
    """A fresh bcoin, in ``ns`` (its RPC on the namespace's veth address) or on loopback."""
    from bcoin_harness import BcoinError, BcoinNode, _bcoin_bin

    class NsBcoin(BcoinNode):
        host = ADDR_CLIENT if ns else "127.0.0.1"

        def __enter__(self):
            if not ns:
                self.extra_args.append("--log-level=warning")
                return super().__enter__()
            self.prefix = Path(tempfile.mkdtemp(prefix="bcoin-"))
            cmd = _ns([str(_bcoin_bin(self.root)), "--network=regtest", "--memory=true", "--workers=false",
                       "--listen=false", f"--port={self.p2p_port}", f"--http-port={self.http_port}",
                       f"--http-host={ADDR_CLIENT}", "--api-key=x", f"--wallet-http-port={self.wallet_http_port}",
                       f"--prefix={self.prefix}", "--log-level=warning"], ns)
            self._log_file = open(self.log_path, "wb")
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=dict(os.environ, NODE_BACKEND="js"),
                                         stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
            deadline = time.monotonic() + 60
            while True:
                try:
                    self.rpc("getblockcount", timeout=2)
                    return self
                except (OSError, BcoinError):
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        self.stop()
                        raise BcoinError(f"bcoin in {ns} did not start: {self.log_tail()}") from None
                    time.sleep(0.2)

        def rpc(self, method, *params, timeout=60.0):
            import base64
            import urllib.error
            import urllib.request

            self._rpc_id += 1
            body = json.dumps({"method": method, "params": list(params), "id": self._rpc_id}).encode()
            req = urllib.request.Request(f"http://{self.host}:{self.http_port}/", data=body,
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": "Basic " + base64.b64encode(b"x:x").decode()})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    reply = json.loads(resp.read())
            except urllib.error.HTTPError as e:
                raise BcoinError(f"bcoin RPC {method}: HTTP {e.code}") from e
            if reply.get("error"):
                raise BcoinError(f"bcoin RPC {method}: {reply['error']}")
            return reply.get("result")

    return NsBcoin().__enter__()


def _bcoin_sync(source, host: str, ns: str | None, tip: str) -> dict:
    dst = _bcoin_client(ns)
    try:
        cpu0, _ = _tree(dst.proc.pid)
        start = time.perf_counter()
        dst.rpc("addnode", f"{host}:{source.p2p_port}", "onetry")
        deadline = start + 1800
        while dst.rpc("getbestblockhash") != tip:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"bcoin did not sync in 1800 s: {dst.log_tail()}")
            time.sleep(0.05)
        wall = time.perf_counter() - start
        cpu1, rss = _tree(dst.proc.pid)
        info = dst.rpc("gettxoutsetinfo")
        return {"wall_s": wall, "cpu_s": cpu1 - cpu0, "peak_rss": rss, "server_cpu_s": None,
                "bytes_received": dst.rpc("getnettotals")["totalbytesrecv"],
                "state": (int(info["txouts"]), round(float(info["total_amount"]) * 1e8))}
    finally:
        dst.stop()


def _kernel(chain_dir: Path, work: Path) -> dict:
    from packetfs.bitcoin.storage.blockfiles import open_blocks_dir

    files = [str(p) for p in open_blocks_dir(chain_dir).blk_files]
    code = ("import resource, subprocess, sys, time, json\n"
            "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "w = time.perf_counter() - t\n"
            "if p.returncode: sys.stderr.write(p.stderr); sys.exit(p.returncode)\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(json.dumps([w, u.ru_utime + u.ru_stime, u.ru_maxrss * 1024, p.stdout]))\n")
    out = subprocess.run([sys.executable, "-c", code, sys.executable, "-c", PBK_IMPORT, str(work / "kernel"), *files],
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"kernel import failed: {out.stderr[-1500:]}")
    wall, cpu, rss, stdout = json.loads(out.stdout)
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss": rss, "bytes_received": 0, "server_cpu_s": None,
            "state": int(stdout.strip())}


def _our_coins(src: Path) -> tuple[int, int, str]:
    from packetfs.bitcoin.chain.chainstate import Chainstate

    with Chainstate(src, "regtest", jobs=1, store_mode="codec") as cs:
        info = cs.info()
    return info["utxo_count"], info["utxo_total_amount"], info["utxo_digest"]


def relay_table(console: Console, quick: bool = False) -> dict:
    quick = quick or os.environ.get("PACKETFS_BENCH_QUICK") == "1"
    n_blocks = int(os.environ.get("PACKETFS_BENCH_RELAY_BLOCKS", "150" if quick else "1000"))
    txs = int(os.environ.get("PACKETFS_BENCH_RELAY_TXS", "20"))
    repeat = int(os.environ.get("PACKETFS_BENCH_REPEAT", "1"))
    swift_jobs = int(os.environ.get("PACKETFS_BENCH_RELAY_SWIFT_JOBS", "2"))
    can_shape = os.geteuid() == 0 and shutil.which("tc") is not None and shutil.which("ip") is not None
    default_links = ("loopback,20mbit" if quick else "loopback,100mbit,20mbit") if can_shape else "loopback"
    links = os.environ.get("PACKETFS_BENCH_RELAY_LINKS", default_links).split(",")
    # bcoin 1.0.2 with its JS crypto backend (the harness's) syncs the full chain's 88k inputs in ~200 s on
    # a quiet core (~450 inputs/s), after ~4 min feeding its source: the anchor runs by default;
    # PACKETFS_BENCH_RELAY_BCOIN=0 leaves it out.
    bcoin_env = os.environ.get("PACKETFS_BENCH_RELAY_BCOIN")
    with_bcoin = bcoin_env != "0"
    CACHE.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    chain_dir, summary = _chain(n_blocks, txs)
    console.print(f"chain: {summary['blocks']} blocks, {summary['inputs']:,} inputs, "
                  f"{summary['block_bytes'] / 1e6:.2f} MB (2016 profile, --bcoin-compatible, {txs} txs/block; "
                  f"{chain_dir}; ready in {time.perf_counter() - t0:.1f} s); load average "
                  f"{os.getloadavg()[0]:.1f} at start")
    results: dict[tuple[str, str], list[dict]] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = Path(tmp)
        src = work / "server"
        subprocess.run([PACKETFS, "bitcoin", "import", str(chain_dir), "--network", "regtest", "--datadir", str(src),
                        "--store", "codec", "--json"], check=True, capture_output=True)
        coins, amount, digest = _our_coins(src)
        hints = work / "tip.hints"
        subprocess.run([PACKETFS, "bitcoin", "hints", "--datadir", str(src), "--height", str(summary["height"]),
                        "-o", str(hints)], check=True, capture_output=True)
        kernel = _kernel(chain_dir, work)
        bsrc = None
        if not with_bcoin:
            notes.append("bcoin rows left out (PACKETFS_BENCH_RELAY_BCOIN=0)")
        if with_bcoin:
            try:
                bsrc = _bcoin_source(chain_dir)
            except Exception as e:  # noqa: BLE001 - bcoin missing or broken: its rows say why
                notes.append(f"bcoin rows left out: {type(e).__name__}: {str(e)[:200]}")
        try:
            for link in links:
                mbit = None if link == "loopback" else int(link.removesuffix("mbit"))
                with shaped_link(mbit) if mbit else contextlib.nullcontext():
                    ns = NS_CLIENT if mbit else None
                    host = ADDR_SERVER if mbit else "127.0.0.1"
                    for mode, runs in _ours(link, work, src, host, ns, repeat, hints, swift_jobs).items():
                        results[(link, mode)] = runs
                    if bsrc is not None:
                        results[(link, "bcoin -> bcoin")] = [_bcoin_sync(bsrc, host, ns, summary["tip"])
                                                             for _ in range(repeat)]
        finally:
            if bsrc is not None:
                bsrc.stop()
    results[("disk", "kernel import")] = [kernel]

    def state_ok(mode: str, state) -> str:
        if mode == "kernel import":
            return f"tip {state} {'=' if state == summary['height'] else '!='} {summary['height']}"
        if mode.startswith("bcoin"):
            return f"coins, amount {'equal' if state == (coins, amount) else f'DIFFER {state}'}"
        return f"{state[:12]}… {'equal' if state == digest else 'DIFFERS'}"

    table = Table(title=f"Sync of one chain ({summary['blocks']} blocks, {summary['block_bytes'] / 1e6:.1f} MB, "
                        f"{summary['inputs']:,} inputs; median of {repeat}); same run, load avg "
                        f"{os.getloadavg()[0]:.1f} at the end")
    for col in ("link", "mode", "wall s", "MB on wire", "bytes vs plain", "speed vs plain", "CPU s", "server CPU s",
                "peak RSS MB", "decode s", "validate s", "final state"):
        table.add_column(col, justify="right" if col not in ("link", "mode", "final state") else "left")
    out: dict = {"blocks": summary["blocks"], "block_bytes": summary["block_bytes"], "inputs": summary["inputs"],
                 "utxo_digest": digest, "runs": {}, "notes": notes}
    for (link, mode), runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "bytes_received", "cpu_s", "peak_rss")}
        srv = [r["server_cpu_s"] for r in runs if r["server_cpu_s"] is not None]
        med["server_cpu_s"] = statistics.median(srv) if srv else None
        plain = results.get((link, "plain"))
        plain_wall = statistics.median(r["wall_s"] for r in plain) if plain else None
        plain_bytes = statistics.median(r["bytes_received"] for r in plain) if plain else None
        stages = runs[0].get("stages", {})
        row = {**med, "bytes_ratio": med["bytes_received"] / plain_bytes if plain_bytes and med["bytes_received"] else None,
               "speedup": plain_wall / med["wall_s"] if plain_wall else None,
               "decode_s": stages.get("decode_s"), "accept_s": stages.get("accept_s"),
               "frames": stages.get("frames"), "frame_bytes": stages.get("frame_bytes"),
               "decoded_bytes": stages.get("decoded_bytes"), "state": state_ok(mode, runs[0]["state"]),
               "state_equal": "equal" in state_ok(mode, runs[0]["state"]) or " = " in state_ok(mode, runs[0]["state"])}
        out["runs"][f"{link}/{mode}"] = row

        def f(v, fmt):
            return "-" if v is None else format(v, fmt)

        table.add_row(link, mode, f(row["wall_s"], ".2f"), f(row["bytes_received"] / 1e6 or None, ".2f"),
                      f(row["bytes_ratio"], ".3f"), f(row["speedup"], ".2f") + ("x" if row["speedup"] else ""),
                      f(row["cpu_s"], ".1f"), f(row["server_cpu_s"], ".1f"), f(row["peak_rss"] / 1e6, ".0f"),
                      f(row["decode_s"], ".1f"), f(row["accept_s"], ".1f"), row["state"])
    console.print(table)
    for n in notes:
        console.print(n)
    kernel_wall = out["runs"]["disk/kernel import"]["wall_s"]
    for link in links:
        r = out["runs"].get(f"{link}/lightning (warm)")
        c = out["runs"].get(f"{link}/lightning (cold)")
        b = out["runs"].get(f"{link}/bcoin -> bcoin")
        if r is None or c is None:
            continue
        line = (f"{link}: lightning bytes {c['bytes_ratio']:.3f} of plain (frames "
                f"{c['frame_bytes'] / c['decoded_bytes']:.3f} of their blocks); speed vs plain cold "
                f"{c['speedup']:.2f}x, warm {r['speedup']:.2f}x; warm vs kernel import {kernel_wall / r['wall_s']:.2f}x")
        if b is not None:
            line += f"; warm vs bcoin->bcoin {b['wall_s'] / r['wall_s']:.2f}x"
        console.print(line)
        sw = out["runs"].get(f"{link}/{SWIFT_MODE}")
        if sw is not None:
            console.print(f"{link}: {SWIFT_MODE} (-j {swift_jobs}): {sw['wall_s']:.2f} s, bytes {sw['bytes_ratio']:.3f} "
                          f"of plain; speed vs plain {sw['speedup']:.2f}x, vs lightning warm "
                          f"{r['wall_s'] / sw['wall_s']:.2f}x, vs kernel import {kernel_wall / sw['wall_s']:.2f}x "
                          f"(goal: faster than the kernel's import: {'met' if sw['wall_s'] < kernel_wall else 'NOT met'})")
    all_equal = all(r["state_equal"] for r in out["runs"].values())
    out["states_equal"] = all_equal
    console.print(f"final state equal in every run: {'yes' if all_equal else 'NO'} (utxo_digest {digest[:16]}…, "
                  f"{coins:,} coins)")
    lb_c, lb_w = out["runs"].get("loopback/lightning (cold)"), out["runs"].get("loopback/lightning (warm)")
    if lb_c:
        console.print(f"goal bytes <= 0.62 of plain: {lb_c['bytes_ratio']:.3f} "
                      f"({'met' if lb_c['bytes_ratio'] <= 0.62 else 'NOT met'})")
        console.print(f"goal loopback no slower than plain: cold {lb_c['speedup']:.2f}x, warm {lb_w['speedup']:.2f}x "
                      f"({'met' if lb_c['speedup'] >= 1.0 else 'NOT met'} cold, "
                      f"{'met' if lb_w['speedup'] >= 1.0 else 'NOT met'} warm)")
    s_c, s_w = out["runs"].get("20mbit/lightning (cold)"), out["runs"].get("20mbit/lightning (warm)")
    if s_c:
        console.print(f"goal at 20 Mbit/s >= 1.5x faster than plain: cold {s_c['speedup']:.2f}x, warm "
                      f"{s_w['speedup']:.2f}x ({'met' if s_c['speedup'] >= 1.5 else 'NOT met'} cold, "
                      f"{'met' if s_w['speedup'] >= 1.5 else 'NOT met'} warm)")
    console.print(PITCH)
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    console = Console(width=max(150, Console().width))
    relay_table(console, quick="--quick" in argv)


if __name__ == "__main__":
    main()
