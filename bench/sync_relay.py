"""Compressed block relay benchmark: one generated 2016-profile `--bcoin-compatible` chain synced by a fresh
node from a PacketFS node (`packetfs node --store codec`), with `packetfs bitcoin sync --mode plain` and
`--mode lightning`, in the same run, on the same links.

Links: unshaped loopback, and (as root, with `ip`/`tc`) two network namespaces joined by a veth pair whose
both ends are shaped with `tc tbf` at 100 and 20 Mbit/s. Every namespace made here is deleted in a
`finally`, also on failure (deleting a namespace deletes its veth end, and with it the pair).

Per run: wall seconds (the sync command's own clock, connect to tip), bytes received on the wire, CPU
seconds (the sync process and its decoding children; the server process and its encoding processes),
peak RSS, and the final utxo_digest (must be equal
in every mode). Medians of PACKETFS_BENCH_REPEAT runs (default 1). Environment:
PACKETFS_BENCH_RELAY_BLOCKS (1000), PACKETFS_BENCH_RELAY_TXS (20 txs per block),
PACKETFS_BENCH_RELAY_LINKS (comma list of loopback,100mbit,20mbit; default all three when root).

Goals (issue 13): compressed relay moves <= 0.62 of plain's bytes; at 20 Mbit/s >= 1.5x faster than plain;
on loopback no slower than plain. The pitch's claims are printed beside the measured numbers.
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

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".bench-cache"
PACKETFS = str(Path(sys.executable).parent / "packetfs")
NS_SERVER, NS_CLIENT = "pfsrelay-srv", "pfsrelay-cli"
ADDR_SERVER, ADDR_CLIENT = "10.231.0.1", "10.231.0.2"


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


class Server:
    """`packetfs node --store codec` holding the chain (compressed relay on, as every packetfs node)."""

    def __init__(self, datadir: Path, bind: str, ns: str | None):
        self.datadir = datadir
        self.out = open(datadir / "server-stderr.txt", "wb")
        self.proc = subprocess.Popen(_ns([PACKETFS, "node", "--network", "regtest", "--datadir", str(datadir),
                                          "--store", "codec", "--port", "0", "--bind", bind, "--no-rpc",
                                          "--jobs", "1"], ns),
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
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


@contextlib.contextmanager
def shaped_link(mbit: int) -> Iterator[None]:
    """Two namespaces joined by a veth pair, both ends shaped with tc tbf at ``mbit`` Mbit/s."""

    def run(*cmd: str) -> None:
        subprocess.run(list(cmd), check=True, capture_output=True)

    try:
        run("ip", "netns", "add", NS_SERVER)
        run("ip", "netns", "add", NS_CLIENT)
        run("ip", "link", "add", "pfsr-s", "netns", NS_SERVER, "type", "veth", "peer", "name", "pfsr-c", "netns",
            NS_CLIENT)
        for ns, dev, addr in ((NS_SERVER, "pfsr-s", ADDR_SERVER), (NS_CLIENT, "pfsr-c", ADDR_CLIENT)):
            run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
            burst = max(32_000, mbit * 1_000_000 // 8 // 250)  # ~4 ms of traffic, at least 32 kB
            run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", f"{mbit}mbit",
                "burst", str(burst), "latency", "50ms")
        yield
    finally:
        for ns in (NS_SERVER, NS_CLIENT):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants (the server and its encoding processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d.name)] = int(fields[1])
        cpu[int(d.name)] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu.get(p, 0.0)
        todo.extend(c for c, pp in parent.items() if pp == p)
    return total


def _sync(mode: str, datadir: Path, host: str, port: int, ns: str | None) -> dict:
    datadir.mkdir(parents=True)
    with open(datadir / "sync-stderr.txt", "wb") as err:
        proc = subprocess.Popen(_ns([PACKETFS, "bitcoin", "sync", "--mode", mode, "--connect", f"{host}:{port}",
                                     "--datadir", str(datadir), "--json", "--timeout", "1800"], ns),
                                stdout=subprocess.PIPE, stderr=err)
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this process (peak RSS)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"sync --mode {mode} failed: {(datadir / 'sync-stderr.txt').read_text()[-1500:]}")
    report = json.loads(out)
    report["peak_rss"] = usage.ru_maxrss * 1024
    return report


def relay_table(console: Console) -> dict:
    n_blocks = int(os.environ.get("PACKETFS_BENCH_RELAY_BLOCKS", "1000"))
    txs = int(os.environ.get("PACKETFS_BENCH_RELAY_TXS", "20"))
    repeat = int(os.environ.get("PACKETFS_BENCH_REPEAT", "1"))
    default_links = "loopback,100mbit,20mbit" if os.geteuid() == 0 and shutil.which("tc") else "loopback"
    links = os.environ.get("PACKETFS_BENCH_RELAY_LINKS", default_links).split(",")
    CACHE.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    chain_dir, summary = _chain(n_blocks, txs)
    console.print(f"chain: {summary['blocks']} blocks, {summary['inputs']} inputs, "
                  f"{summary['block_bytes'] / 1e6:.2f} MB (2016 profile, --bcoin-compatible, {txs} txs/block; "
                  f"{chain_dir}; ready in {time.perf_counter() - t0:.1f} s)")
    modes = ["plain", "lightning"]
    results: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = Path(tmp)
        src = work / "server"
        subprocess.run([PACKETFS, "bitcoin", "import", str(chain_dir), "--network", "regtest", "--datadir", str(src),
                        "--store", "codec", "--json"], check=True, capture_output=True)
        for link in links:
            mbit = None if link == "loopback" else int(link.removesuffix("mbit"))
            ctx = shaped_link(mbit) if mbit else contextlib.nullcontext()
            with ctx:
                ns_s, ns_c = (NS_SERVER, NS_CLIENT) if mbit else (None, None)
                host = ADDR_SERVER if mbit else "127.0.0.1"
                server = Server(src, host, ns_s)
                try:
                    for r in range(repeat):
                        for mode in modes:
                            d = work / f"{link}-{mode}-{r}"
                            before = _tree_cpu(server.proc.pid)
                            report = _sync(mode, d, host, server.port, ns_c)
                            report["server_cpu_s"] = _tree_cpu(server.proc.pid) - before
                            results.setdefault((link, mode), []).append(report)
                            shutil.rmtree(d, ignore_errors=True)
                finally:
                    server.stop()
    digests = {r["utxo_digest"] for runs in results.values() for r in runs}
    table = Table(title=f"Compressed block relay vs plain blocks ({summary['blocks']} blocks, "
                        f"{summary['block_bytes'] / 1e6:.1f} MB; median of {repeat})")
    for col in ("link", "mode", "wall s", "MB on the wire", "bytes vs plain", "speed vs plain", "CPU s",
                "server CPU s", "peak RSS MB", "decode s", "validate s"):
        table.add_column(col, justify="right")
    out: dict = {"blocks": summary["blocks"], "block_bytes": summary["block_bytes"], "digests_equal": len(digests) == 1,
                 "runs": {}}
    for link in links:
        med = {m: {k: statistics.median(x[k] for x in results[(link, m)])
                   for k in ("wall_s", "bytes_received", "cpu_s", "peak_rss", "server_cpu_s")} for m in modes}
        for m in modes:
            stages = results[(link, m)][0]["stages"]
            row = {**med[m], "bytes_ratio": med[m]["bytes_received"] / med["plain"]["bytes_received"],
                   "speedup": med["plain"]["wall_s"] / med[m]["wall_s"], "decode_s": stages["decode_s"],
                   "accept_s": stages["accept_s"], "frames": stages["frames"], "plain_blocks": stages["plain_blocks"],
                   "frame_ratio": stages["frame_bytes"] / stages["decoded_bytes"] if stages["decoded_bytes"] else None}
            out["runs"][f"{link}/{m}"] = row
            table.add_row(link, m, f"{row['wall_s']:.2f}", f"{row['bytes_received'] / 1e6:.2f}",
                          f"{row['bytes_ratio']:.3f}", f"{row['speedup']:.2f}x", f"{row['cpu_s']:.2f}",
                          f"{row['server_cpu_s']:.2f}", f"{row['peak_rss'] / 1e6:.0f}", f"{row['decode_s']:.2f}", f"{row['accept_s']:.2f}")
    console.print(table)
    for link in links:
        row = out["runs"][f"{link}/lightning"]
        if row["frame_ratio"] is not None:
            console.print(f"{link}: {row['frames']} frames ({row['frame_ratio']:.3f} of their blocks' bytes), "
                          f"{row['plain_blocks']} plain blocks")
    console.print(f"utxo_digest equal in every run: {'yes' if out['digests_equal'] else 'NO: ' + str(digests)}")
    lb = out["runs"].get("loopback/lightning")
    if lb:
        console.print(f"goal bytes <= 0.62 of plain: measured {lb['bytes_ratio']:.3f} "
                      f"({'met' if lb['bytes_ratio'] <= 0.62 else 'NOT met'}); pitch: 'stream compressed blocks'")
        console.print(f"goal loopback no slower than plain: {lb['speedup']:.2f}x "
                      f"({'met' if lb['speedup'] >= 1.0 else 'NOT met'})")
    s20 = out["runs"].get("20mbit/lightning")
    if s20:
        console.print(f"goal at 20 Mbit/s >= 1.5x faster than plain: {s20['speedup']:.2f}x "
                      f"({'met' if s20['speedup'] >= 1.5 else 'NOT met'})")
    return out


def main() -> None:
    console = Console()
    relay_table(console)


if __name__ == "__main__":
    main()
