"""P2P sync benchmark, same run, loopback: one generated `--bcoin-compatible` chain synced four ways, and
the serving side alone.

Table "P2P sync of the same chain": bcoin->ours, bcoin->bcoin, ours->ours, ours->bcoin. The source node
holds the chain (ours: imported into its datadir; bcoin: fed with submitblock), the syncing node starts
empty and connects to it; the clock runs from the connection until the syncing node's tip is the chain's
tip (ours: from its first handshake to its last tip change, by its own clock; bcoin: from the addnode
call until its RPC reports the tip, polled every 50 ms). Columns: blocks/s, inputs/s, bytes the syncing
node received, CPU seconds and peak RSS of the syncing node's process tree (with its worker pools;
`packetfs node` uses the compressed relay of node/lightning.py between PacketFS peers, so ours->ours is
that path), the round trip of pings another peer sends the syncing node every 5 ms during the sync (how
long its event loop leaves requests waiting while it takes in blocks), and ratios against bcoin->bcoin.
Medians of PACKETFS_BENCH_REPEAT runs (default 3; 1 with --quick).

Table "Serving the chain": one scripted client (getblocks, then a getdata of every announced block, as bcoin
syncs on regtest) downloads the whole chain from ours and from bcoin, 5 times each; medians and ratio.

Quick mode (`python -m bench net --quick` or PACKETFS_BENCH_QUICK=1): one repeat, about 2-4 minutes.
Environment: PACKETFS_BENCH_NET_BLOCKS (500), PACKETFS_BENCH_NET_TXS (10 txs per block).

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

from bench.common import process_tree_usage

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "support"))
CACHE = REPO / ".bench-cache"
PACKETFS = str(Path(sys.executable).parent / "packetfs")


def _proc_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds, summed peak RSS bytes) of a live process and its live descendants."""
    return process_tree_usage(pid, rss="sum")


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
            pinger = Pinger(dst.port)
            _wait(lambda: dst.status().get("best_block_hash") == tip, 900, f"{kind} sync")
            pings = pinger.stop()
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
            pinger = Pinger(dst_b.p2p_port)
            start = time.perf_counter()
            dst_b.connect("127.0.0.1", src_port)
            _wait(lambda: dst_b.rpc("getbestblockhash") == tip, 900, f"{kind} sync")
            seconds = time.perf_counter() - start
            pings = pinger.stop()
            cpu1, rss = _proc_stats(dst_b.proc.pid)
            cpu = cpu1 - cpu0
            rx = dst_b.rpc("getnettotals")["totalbytesrecv"]
        return {"seconds": seconds, "cpu": cpu, "rss": rss, "rx": rx, **pings}
    finally:
        for n in ours:
            n.stop()
        for b in bcoins:
            b.stop()


class FetchClient:
    """A lean scripted peer that downloads the chain the way bcoin does on regtest (getblocks, then one
    getdata for every block of each inv) and times it; frames are split but block payloads not parsed, so
    the client's own cost stays small and the same for both servers."""

    def __init__(self, port: int, magic: bytes = bytes.fromhex("fabfb5da")):
        import socket

        from packetfs.bitcoin.net.transport import frame

        self._frame = frame
        self.magic = magic
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = bytearray()
        version = b"".join((
            (70016).to_bytes(4, "little"), (9).to_bytes(8, "little"), int(time.time()).to_bytes(8, "little"),
            bytes(26), bytes(26), os.urandom(8), b"\x0d/bench-fetch/", (0).to_bytes(4, "little"), b"\x00"))
        self.send("version", version)
        self.wait_for("verack")
        self.send("verack", b"")

    def send(self, command: str, payload: bytes) -> None:
        self.sock.sendall(self._frame(self.magic, command, payload))

    def recv(self) -> tuple[str, memoryview]:
        while True:
            if len(self.buf) >= 24:
                n = int.from_bytes(self.buf[16:20], "little")
                if len(self.buf) >= 24 + n:
                    cmd = bytes(self.buf[4:16]).rstrip(b"\x00").decode()
                    payload = memoryview(bytes(self.buf[24 : 24 + n]))
                    del self.buf[: 24 + n]
                    if cmd == "ping":
                        self.send("pong", bytes(payload))
                    return cmd, payload
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk

    def wait_for(self, command: str) -> memoryview:
        while True:
            cmd, payload = self.recv()
            if cmd == command:
                return payload

    def settle(self) -> None:
        """Discard whatever the server still sends from the last round (e.g. its continuation inv), up to
        the pong of a fresh ping, so each timed round starts clean."""
        nonce = os.urandom(8)
        self.send("ping", nonce)
        while True:
            cmd, payload = self.recv()
            if cmd == "pong" and bytes(payload) == nonce:
                return

    def fetch_chain(self, genesis: bytes, tip: bytes, inv_type: int = 0x40000002) -> tuple[float, int, int]:
        """getblocks from genesis, getdata for every announced block, until ``tip`` arrives:
        (seconds, blocks, payload bytes)."""
        import hashlib

        def dsha(b: bytes) -> bytes:
            return hashlib.sha256(hashlib.sha256(b).digest()).digest()

        self.settle()
        start = time.perf_counter()
        self.send("getblocks", (70016).to_bytes(4, "little") + b"\x01" + genesis + bytes(32))
        blocks = nbytes = 0
        pending = 0
        last = genesis
        while True:
            cmd, payload = self.recv()
            if cmd == "inv":
                n, off = payload[0], 1
                if n == 0xFD:
                    n, off = int.from_bytes(payload[1:3], "little"), 3
                hashes = [bytes(payload[off + 36 * i + 4 : off + 36 * i + 36]) for i in range(n)
                          if int.from_bytes(payload[off + 36 * i : off + 36 * i + 4], "little") == 2]
                if pending == 0 and hashes == [tip] and last != tip and blocks:
                    # Continuation (our tip after a 500-block batch): ask again from the last block.
                    self.send("getblocks", (70016).to_bytes(4, "little") + b"\x01" + last + bytes(32))
                    continue
                if hashes:
                    items = b"".join(inv_type.to_bytes(4, "little") + h for h in hashes)
                    count = bytes([len(hashes)]) if len(hashes) < 0xFD else b"\xfd" + len(hashes).to_bytes(2, "little")
                    self.send("getdata", count + items)
                    pending += len(hashes)
            elif cmd == "block":
                blocks += 1
                pending -= 1
                nbytes += len(payload)
                last = dsha(bytes(payload[:80]))
                if last == tip:
                    return time.perf_counter() - start, blocks, nbytes

    def close(self) -> None:
        self.sock.close()


class Pinger:
    """A peer that pings the syncing node every 5 ms while it syncs and records the round trips: how long
    the node's event loop (or bcoin's) leaves a peer's request waiting while it takes in blocks."""

    def __init__(self, port: int):
        import threading

        self.rtts: list[float] = []
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(port,), daemon=True)
        self._thread.start()

    def _run(self, port: int) -> None:
        try:
            client = FetchClient(port)
        except (OSError, ConnectionError) as e:
            self._error = e
            return
        try:
            nonce = 0
            while not self._stop.is_set():
                nonce += 1
                t0 = time.perf_counter()
                client.send("ping", nonce.to_bytes(8, "little"))
                while True:
                    cmd, payload = client.recv()
                    if cmd == "pong" and int.from_bytes(payload, "little") == nonce:
                        break
                self.rtts.append(time.perf_counter() - t0)
                self._stop.wait(0.005)
        except (OSError, ConnectionError) as e:
            self._error = e
        finally:
            client.close()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(10)
        r = sorted(self.rtts) or [float("nan")]
        return {"ping_p50_ms": r[len(r) // 2] * 1e3, "ping_p99_ms": r[min(len(r) - 1, int(len(r) * 0.99))] * 1e3,
                "ping_max_ms": r[-1] * 1e3, "pings": len(self.rtts)}


def serving_table(console: Console, chain_dir: Path, summary: dict, raws: list[bytes], ours_src: Path,
                  work: Path, repeat: int) -> dict:
    """The server side alone: the same scripted client downloads the whole chain from ours and from bcoin
    (``repeat`` times on one connection each); medians and ratio."""
    from bcoin_harness import BcoinNode

    genesis = bytes.fromhex("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")[::-1]
    tip = bytes.fromhex(summary["tip"])[::-1]
    times: dict[str, list[float]] = {"ours": [], "bcoin": []}
    sizes: dict[str, int] = {}
    blocks = 0
    d = work / "serve-ours"
    shutil.copytree(ours_src, d)
    node = OurNode(d)
    bcoin = BcoinNode().__enter__()
    try:
        for raw in raws:
            bcoin.rpc("submitblock", raw.hex())
        assert bcoin.rpc("getbestblockhash") == summary["tip"]
        for name, port in (("ours", node.port), ("bcoin", bcoin.p2p_port)):
            client = FetchClient(port)
            try:
                for _ in range(repeat):
                    seconds, blocks, nbytes = client.fetch_chain(genesis, tip)
                    if blocks != len(raws):
                        raise RuntimeError(f"{name} served {blocks} blocks, not {len(raws)}")
                    times[name].append(seconds)
                    sizes[name] = nbytes
            finally:
                client.close()
    finally:
        node.stop()
        bcoin.stop()
    n = blocks
    med = {k: statistics.median(v) for k, v in times.items()}
    table = Table(title=f"Serving the chain to a bcoin-style client (getblocks + getdata of {n} witness blocks, "
                        f"median of {repeat})")
    for col in ("server", "seconds", "blocks/s", "MB/s", "speed vs bcoin"):
        table.add_column(col, justify="right")
    out = {}
    for k in ("ours", "bcoin"):
        out[k] = {"seconds": med[k], "blocks_per_s": n / med[k], "mb_per_s": sizes[k] / med[k] / 1e6,
                  "speed_ratio": med["bcoin"] / med[k]}
        table.add_row(k, f"{med[k]:.3f}", f"{n / med[k]:.0f}", f"{sizes[k] / med[k] / 1e6:.1f}",
                      f"{out[k]['speed_ratio']:.2f}x")
    console.print(table)
    return out


def quick_mode() -> bool:
    return "--quick" in sys.argv or os.environ.get("PACKETFS_BENCH_QUICK") == "1"


def sync_table(console: Console) -> dict:
    from packetfs.bitcoin.chain.generator import BCOIN_SEGWIT_HEIGHT

    quick = quick_mode()
    n_blocks = int(os.environ.get("PACKETFS_BENCH_NET_BLOCKS", "500"))
    txs = int(os.environ.get("PACKETFS_BENCH_NET_TXS", "10"))
    repeat = int(os.environ.get("PACKETFS_BENCH_REPEAT", "1" if quick else "3"))
    CACHE.mkdir(exist_ok=True)
    chain_dir, summary, raws = _chain(max(n_blocks, BCOIN_SEGWIT_HEIGHT + 68), txs)
    n, inputs = summary["blocks"], summary["inputs"]
    console.print(f"chain: {n} blocks, {inputs} inputs, {summary['block_bytes'] / 1e6:.2f} MB "
                  f"(--bcoin-compatible, {txs} txs/block, {chain_dir}); load average "
                  f"{os.getloadavg()[0]:.2f} at start{' (quick mode)' if quick else ''}")
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
        serving = serving_table(console, chain_dir, summary, raws, ours_src, work, 5)
    metrics = ("seconds", "cpu", "rss", "rx", "ping_p50_ms", "ping_p99_ms", "ping_max_ms")
    med = {k: {m: statistics.median(x[m] for x in v) for m in metrics} for k, v in results.items()}
    ref = med["bcoin->bcoin"]["seconds"]
    table = Table(title=f"P2P sync of the same chain ({n} blocks, loopback, median of {repeat})")
    for col in ("source->syncing node", "blocks/s", "inputs/s", "MB received", "CPU s", "peak RSS MB",
                "ping p50/p99/max ms", "time vs bcoin->bcoin"):
        table.add_column(col, justify="right")
    out = {"blocks": n, "inputs": inputs, "repeat": repeat, "runs": {}, "serving": serving,
           "load_average": os.getloadavg()[0]}
    for k in kinds:
        m = med[k]
        row = {"blocks_per_s": n / m["seconds"], "inputs_per_s": inputs / m["seconds"], "bytes_received": m["rx"],
               "cpu_s": m["cpu"], "peak_rss": m["rss"], "seconds": m["seconds"], "speed_ratio": ref / m["seconds"],
               "ping_p50_ms": m["ping_p50_ms"], "ping_p99_ms": m["ping_p99_ms"], "ping_max_ms": m["ping_max_ms"]}
        out["runs"][k] = row
        table.add_row(k, f"{row['blocks_per_s']:.0f}", f"{row['inputs_per_s']:.0f}", f"{m['rx'] / 1e6:.2f}",
                      f"{m['cpu']:.1f}", f"{m['rss'] / 1e6:.0f}",
                      f"{m['ping_p50_ms']:.1f}/{m['ping_p99_ms']:.0f}/{m['ping_max_ms']:.0f}",
                      f"{row['speed_ratio']:.2f}x")
    console.print(table)
    r = out["runs"]
    # The same-run pairs: each repeat's bcoin->bcoin time over its ours->bcoin time.
    pair = statistics.median(b["seconds"] / o["seconds"]
                             for b, o in zip(results["bcoin->bcoin"], results["ours->bcoin"], strict=True))
    out["bcoin_from_us_vs_from_bcoin"] = pair
    console.print(f"ours->ours vs bcoin->bcoin: {r['ours->ours']['speed_ratio']:.2f}x the speed; "
                  f"bcoin from us vs from bcoin: {pair:.2f}x (median of same-run pairs); serving alone: ours "
                  f"{serving['ours']['speed_ratio']:.2f}x bcoin's speed; load average {out['load_average']:.2f} "
                  "at end")
    return out


def main() -> None:
    console = Console(width=max(120, Console().width))
    sync_table(console)


if __name__ == "__main__":
    main()
