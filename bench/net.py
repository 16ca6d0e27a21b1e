"""P2P sync benchmark, same run, loopback: one generated `--bcoin-compatible` chain synced four ways.

Table "P2P sync of the same chain": bcoin->ours, bcoin->bcoin, ours->ours, ours->bcoin. The source node
holds the chain (ours: imported into its datadir; bcoin: fed with submitblock), the syncing node starts
empty and connects to it; the clock runs from the connection until the syncing node's tip is the chain's
tip (ours: from its first handshake to its last tip change, by its own clock; bcoin: from the addnode
call until its RPC reports the tip, polled every 50 ms). Columns: blocks/s, inputs/s, bytes the syncing node received, CPU seconds and peak RSS of the syncing
node's process tree (with its worker pools; `packetfs node` uses the compressed relay of node/lightning.py
between PacketFS peers, so ours->ours is that path), and ratios against bcoin->bcoin (the reference pair). Medians of PACKETFS_BENCH_REPEAT runs
(default 3). Environment: PACKETFS_BENCH_NET_BLOCKS (500), PACKETFS_BENCH_NET_TXS (10 txs per block).

Goal from the issue: ours->ours at least as fast as bcoin->bcoin; bcoin syncing from us no slower than
from bcoin.
"""

from __future__ import annotations

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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "support"))
CACHE = REPO / ".bench-cache"
PACKETFS = str(Path(sys.executable).parent / "packetfs")


def _proc_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak RSS bytes) of a live process and its live descendants (worker pools count: the
    node's script or codec workers are part of what syncing costs); RSS peaks are summed (an upper bound)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    cpu, rss, todo = 0.0, 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, ()))
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += sum(int(x) for x in fields[11:15]) / ticks  # utime, stime, cutime, cstime
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        rss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return cpu, rss


class OurNode:
    def __init__(self, datadir: Path, *args: str):
        self.datadir = datadir
        datadir.mkdir(parents=True, exist_ok=True)
        self.out = open(datadir / "stderr.txt", "wb")
        self.proc = subprocess.Popen([PACKETFS, "node", "--network", "regtest", "--datadir", str(datadir), "--port",
                                      "0", "--bind", "127.0.0.1", *args], stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        self.port = None
        while time.monotonic() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError((datadir / "stderr.txt").read_text()[-2000:])
            log = datadir / "debug.log"
            if log.exists():
                for line in log.read_text().splitlines():
                    if " listening on " in line and "RPC" not in line:
                        self.port = int(line.rsplit(":", 1)[1])
                        break
            time.sleep(0.05)

    def status(self) -> dict:
        try:
            return json.loads((self.datadir / "node-status.json").read_text())
        except (OSError, ValueError):
            return {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


def _chain(n_blocks: int, txs: int) -> tuple[Path, dict, list[bytes]]:
    from packetfs.bitcoin.chain.generator import ChainGenerator, write_chain

    out = CACHE / f"net-bcoin-compatible-{n_blocks}-{txs}"
    if not (out / "chain.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        gen = ChainGenerator("bench-net", "2024", txs_per_block=txs, min_kind_share=0.05, bcoin_compatible=True)
        summary = write_chain(gen.blocks(n_blocks), out, undo=False)
        summary["inputs"] = gen.stats["inputs"]
        (out / "chain.json").write_text(json.dumps(summary))
    summary = json.loads((out / "chain.json").read_text())
    from packetfs.bitcoin.storage.blockfiles import open_blocks_dir

    raws = list(open_blocks_dir(out).iter_blocks())[1:]  # without genesis
    return out, summary, raws


def _wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out: {what}")


def _run(kind: str, work: Path, chain_dir: Path, summary: dict, raws: list[bytes], ours_src: Path) -> dict:
    from bcoin_harness import BcoinNode

    tip = summary["tip"]
    src_kind, dst_kind = kind.split("->")
    bcoins: list[BcoinNode] = []
    ours: list[OurNode] = []
    try:
        if src_kind == "bcoin":
            src = BcoinNode().__enter__()
            bcoins.append(src)
            for raw in raws:
                src.rpc("submitblock", raw.hex())
            assert src.rpc("getbestblockhash") == tip
            src_port = src.p2p_port
        else:
            d = work / f"src-{kind}"
            shutil.copytree(ours_src, d)
            node = OurNode(d)
            ours.append(node)
            src_port = node.port
        if dst_kind == "ours":
            start = time.perf_counter()
            dst = OurNode(work / f"dst-{kind}", "--connect", f"127.0.0.1:{src_port}")
            ours.append(dst)
            _wait(lambda: dst.status().get("best_block_hash") == tip, 900, f"{kind} sync")
            # From its first handshake to its last tip change (the node's own clock): process start-up is
            # not sync time, as bcoin's clock below starts once it is up.
            st = dst.status()
            seconds = st["last_tip_time"] - st["first_handshake_time"]
            assert 0 < seconds <= time.perf_counter() - start
            cpu, rss = _proc_stats(dst.proc.pid)
            rx = dst.status().get("bytes_received", 0)
        else:
            dst_b = BcoinNode().__enter__()
            bcoins.append(dst_b)
            cpu0, _ = _proc_stats(dst_b.proc.pid)
            start = time.perf_counter()
            dst_b.connect("127.0.0.1", src_port)
            _wait(lambda: dst_b.rpc("getbestblockhash") == tip, 900, f"{kind} sync")
            seconds = time.perf_counter() - start
            cpu1, rss = _proc_stats(dst_b.proc.pid)
            cpu = cpu1 - cpu0
            rx = dst_b.rpc("getnettotals")["totalbytesrecv"]
        return {"seconds": seconds, "cpu": cpu, "rss": rss, "rx": rx}
    finally:
        for n in ours:
            n.stop()
        for b in bcoins:
            b.stop()


def sync_table(console: Console) -> dict:
    from packetfs.bitcoin.chain.generator import BCOIN_SEGWIT_HEIGHT

    n_blocks = int(os.environ.get("PACKETFS_BENCH_NET_BLOCKS", "500"))
    txs = int(os.environ.get("PACKETFS_BENCH_NET_TXS", "10"))
    repeat = int(os.environ.get("PACKETFS_BENCH_REPEAT", "3"))
    CACHE.mkdir(exist_ok=True)
    chain_dir, summary, raws = _chain(max(n_blocks, BCOIN_SEGWIT_HEIGHT + 68), txs)
    n, inputs = summary["blocks"], summary["inputs"]
    console.print(f"chain: {n} blocks, {inputs} inputs, {summary['block_bytes'] / 1e6:.2f} MB "
                  f"(--bcoin-compatible, {txs} txs/block, {chain_dir})")
    kinds = ["bcoin->ours", "bcoin->bcoin", "ours->ours", "ours->bcoin"]
    results: dict[str, list[dict]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = Path(tmp)
        ours_src = work / "imported"
        subprocess.run([PACKETFS, "bitcoin", "import", str(chain_dir), "--network", "regtest", "--datadir",
                        str(ours_src), "--store", "raw", "--json"], check=True, capture_output=True)
        for r in range(repeat):
            for k in kinds:
                run_dir = work / f"run{r}"
                run_dir.mkdir(exist_ok=True)
                results[k].append(_run(k, run_dir, chain_dir, summary, raws, ours_src))
    med = {k: {m: statistics.median(x[m] for x in v) for m in ("seconds", "cpu", "rss", "rx")}
           for k, v in results.items()}
    ref = med["bcoin->bcoin"]["seconds"]
    table = Table(title=f"P2P sync of the same chain ({n} blocks, loopback, median of {repeat})")
    for col in ("source->syncing node", "blocks/s", "inputs/s", "MB received", "CPU s", "peak RSS MB",
                "time vs bcoin->bcoin"):
        table.add_column(col, justify="right")
    out = {"blocks": n, "inputs": inputs, "repeat": repeat, "runs": {}}
    for k in kinds:
        m = med[k]
        row = {"blocks_per_s": n / m["seconds"], "inputs_per_s": inputs / m["seconds"], "bytes_received": m["rx"],
               "cpu_s": m["cpu"], "peak_rss": m["rss"], "seconds": m["seconds"], "speed_ratio": ref / m["seconds"]}
        out["runs"][k] = row
        table.add_row(k, f"{row['blocks_per_s']:.0f}", f"{row['inputs_per_s']:.0f}", f"{m['rx'] / 1e6:.2f}",
                      f"{m['cpu']:.1f}", f"{m['rss'] / 1e6:.0f}", f"{row['speed_ratio']:.2f}x")
    console.print(table)
    r = out["runs"]
    console.print(f"ours->ours vs bcoin->bcoin: {r['ours->ours']['speed_ratio']:.2f}x the speed; "
                  f"bcoin from us vs from bcoin: {r['ours->bcoin']['speed_ratio']:.2f}x")
    return out


def main() -> None:
    console = Console(width=max(120, Console().width))
    sync_table(console)


if __name__ == "__main__":
    main()
