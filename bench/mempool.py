"""Mempool, RPC and block-template benchmarks, ours and bcoin 1.0.2's in the same run.

One chain is made for both: a legacy (P2PKH) wallet and blocks without witness data, so it is valid
under Core's regtest rules (our node) and bcoin's (segwit not active there). Its blocks go to bcoin
through ``submitblock``; then the same signed transactions (1 input, 1 output, ~1.9 sat/vB) are:

1. accepted by our mempool alone, in this process, no RPC (tx/s, median of PACKETFS_BENCH_REPEAT);
2. sent with ``sendrawtransaction``, one at a time over one keep-alive HTTP connection, to our RPC
   server (a separate process serving a copy of the datadir) and to bcoin's (tx/s each, ratio);
3. with PACKETFS_BENCH_GBT_TXS transactions in both mempools, ``getblocktemplate``: the first call
   (built from scratch) and the median of repeated calls (which may come from a cache: Core keeps
   its template for 5 s while the tip is unchanged, and so do we);
4. RSS growth of each server process across those transactions, per transaction.

Environment: PACKETFS_BENCH_MEMPOOL_TXS (20000), PACKETFS_BENCH_GBT_TXS (50000), PACKETFS_BENCH_REPEAT (3).
bcoin comes from tests/support/bcoin_harness.py; if it cannot run, its columns say why.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
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

REPO = Path(__file__).resolve().parents[1]
PITCH_TPS = "100,000+"


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class _Http:
    """One keep-alive JSON-RPC connection (the same client for both servers)."""

    def __init__(self, port: int, user: str, password: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.n = 0

    def call(self, method: str, *params):
        self.n += 1
        body = json.dumps({"method": method, "params": list(params), "id": self.n})
        self.conn.request("POST", "/", body, {"Authorization": self.auth, "Content-Type": "application/json"})
        reply = json.loads(self.conn.getresponse().read())
        return reply.get("result"), reply.get("error")


def _serve(datadir: str, port_file: str) -> None:
    """Child process: our RPC server over a chainstate datadir and a fresh mempool."""
    import asyncio

    from packetfs.bitcoin.chain.chainstate import Chainstate
    from packetfs.bitcoin.mempool.pool import ChainstateView, Mempool
    from packetfs.bitcoin.rpc import RpcContext, RpcServer

    cs = Chainstate(datadir, "regtest", jobs=1, store_mode="raw", map_size=1 << 30)
    ctx = RpcContext(cs, Mempool(ChainstateView(cs)), datadir=datadir)

    async def main() -> None:
        stop = asyncio.Event()
        ctx.stop = stop.set
        server = RpcServer(ctx, port=0, cookie_dir=datadir)
        await server.start()
        Path(port_file).write_text(str(server.port))
        await stop.wait()
        await server.stop()

    asyncio.run(main())
    cs.close()


def _make_chain(work: Path, n_coins: int, console: Console):
    from packetfs.bitcoin.mining.regtest import RegtestNode
    from packetfs.bitcoin.mining.wallet import WalletCoin
    from packetfs.bitcoin.primitives.transaction import Transaction

    node = RegtestNode(work / "ours", wallet_kind="p2pkh")
    per_fanout = 1000
    node.mine(100 + (n_coins + per_fanout - 1) // per_fanout, always_commit=False)  # a mature coinbase per fan-out
    w = node.wallet
    coins: list = []
    while len(coins) < n_coins:
        batch = [w.spend([w.take(node.height)], fee=200_000, n_outputs=per_fanout)
                 for _ in range(min(10, (n_coins - len(coins) + per_fanout - 1) // per_fanout))]  # 4,000 sigop cost each
        node.mine(1, transactions=batch, always_commit=False)
        for f in batch:
            coins += [WalletCoin(c.txid, c.vout, c.value, node.height) for c in w.outputs_of(f)]
    t0 = time.perf_counter()
    txs = [Transaction.from_bytes(w.spend([c], fee=400).serialize()) for c in coins[:n_coins]]
    console.print(f"chain: {node.height} blocks; {len(txs)} signed P2PKH transactions made in {time.perf_counter() - t0:.1f} s")
    blocks = [node.block(e.hash).serialize() for e in node.chainstate.active_chain()[1:]]
    node.close()
    return work / "ours", blocks, txs


def _mempool_alone(datadir: Path, txs, repeat: int, jobs: int = 1) -> tuple[float, int]:
    """Acceptance rate of the mempool alone: ``accept`` one by one (jobs=1), or ``accept_batch``
    with scripts on a pool of ``jobs`` processes (this one included)."""
    from packetfs.bitcoin.chain.chainstate import Chainstate
    from packetfs.bitcoin.consensus.pool import ScriptCheckPool
    from packetfs.bitcoin.mempool.pool import ChainstateView, Mempool

    cs = Chainstate(datadir, "regtest", jobs=1, store_mode="raw", map_size=1 << 30)
    rates = []
    usage = 0
    pool = ScriptCheckPool(jobs) if jobs > 1 else None
    try:
        if pool is not None:
            pool.warm_up()
        for _ in range(repeat):
            mp = Mempool(ChainstateView(cs))
            t0 = time.perf_counter()
            if pool is None:
                for tx in txs:
                    mp.accept(tx)
            else:
                mp.accept_batch(txs, pool)
            rates.append(len(txs) / (time.perf_counter() - t0))
            assert len(mp) == len(txs), "every benchmark transaction must be accepted"
            usage = mp.usage
    finally:
        if pool is not None:
            pool.close()
        cs.close()
    return statistics.median(rates), usage


def _send_all(client: _Http, hexes: list[str]) -> tuple[float, int]:
    ok = 0
    t0 = time.perf_counter()
    for h in hexes:
        _, err = client.call("sendrawtransaction", h)
        ok += err is None
    return time.perf_counter() - t0, ok


def _gbt_ms(client: _Http, repeat: int) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        res, err = client.call("getblocktemplate", {"rules": ["segwit"]})
        times.append((time.perf_counter() - t0) * 1000)
        if err is not None:
            raise RuntimeError(f"getblocktemplate failed: {err}")
        n = len(res["transactions"])
    return statistics.median(times), n


def main() -> None:
    console = Console()
    n_send = int(os.environ.get("PACKETFS_BENCH_MEMPOOL_TXS", "20000"))
    n_gbt = max(n_send, int(os.environ.get("PACKETFS_BENCH_GBT_TXS", "50000")))
    repeat = int(os.environ.get("PACKETFS_BENCH_REPEAT", "3"))
    cache = REPO / ".cache"
    cache.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        work = Path(tmp)
        datadir, blocks, txs = _make_chain(work, n_gbt, console)
        hexes = [t.serialize().hex() for t in txs]

        rate_alone, usage = _mempool_alone(datadir, txs[:n_send], repeat)
        rate_alone2, _ = _mempool_alone(datadir, txs[:n_send], repeat, jobs=2)

        # Our RPC server in its own process over a copy of the chain, and bcoin, both running at once;
        # the transactions go to them in alternating chunks and the templates alternate too, so a busy
        # machine slows both alike.
        served = work / "served"
        shutil.copytree(datadir, served)
        port_file = work / "port"
        proc = subprocess.Popen([sys.executable, "-c", f"from bench.mempool import _serve; _serve({str(served)!r}, {str(port_file)!r})"],
                                cwd=REPO, env=dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'src'}"))
        results: dict[str, dict] = {}
        bcoin_note = ""
        with contextlib.ExitStack() as stack:
            try:
                deadline = time.monotonic() + 60
                while not port_file.exists():
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("our RPC server did not start")
                    time.sleep(0.1)
                user, password = (served / ".cookie").read_text().split(":", 1)
                servers = {"packetfs": (_Http(int(port_file.read_text()), user, password), proc.pid)}
                try:
                    sys.path.insert(0, str(REPO / "tests" / "support"))
                    from bcoin_harness import BcoinNode

                    b = stack.enter_context(BcoinNode())
                    for raw in blocks:
                        err = b.rpc("submitblock", raw.hex(), timeout=120)
                        if err not in (None, "duplicate"):
                            raise RuntimeError(f"bcoin refused a block: {err}")
                    if b.rpc("getblockcount") != len(blocks):
                        raise RuntimeError("bcoin did not reach the chain's tip")
                    servers["bcoin"] = (_Http(b.http_port, "x", "x"), b.proc.pid)
                except Exception as e:  # bcoin missing, npm unreachable, or bcoin failing: say so
                    bcoin_note = f"bcoin not measured: {e}"
                stats = {name: {"t_send": 0.0, "ok": 0, "rss0": _rss(pid)} for name, (_, pid) in servers.items()}
                chunk = 1000
                for start in range(0, n_gbt, chunk):
                    part = hexes[start : min(start + chunk, n_gbt)]
                    for name, (client, _) in servers.items():
                        dt, ok = _send_all(client, part)
                        if start < n_send:
                            stats[name]["t_send"] += dt
                        stats[name]["ok"] += ok
                # The first template after the pool filled is built from scratch; repeated calls may
                # be answered from a cache (Core keeps its template for 5 s unless the tip changes).
                gbt_times: dict[str, list[float]] = {name: [] for name in servers}
                gbt_first: dict[str, float] = {}
                gbt_n: dict[str, int] = {}
                for name, (client, _) in servers.items():
                    gbt_first[name], gbt_n[name] = _gbt_ms(client, 1)
                for _ in range(repeat):
                    for name, (client, _) in servers.items():
                        ms, gbt_n[name] = _gbt_ms(client, 1)
                        gbt_times[name].append(ms)
                for name, (_client, pid) in servers.items():
                    st = stats[name]
                    results[name] = {"send_tps": min(n_send, n_gbt) / st["t_send"], "accepted": st["ok"],
                                     "gbt_first_ms": gbt_first[name],
                                     "gbt_ms": statistics.median(gbt_times[name]), "gbt_txs": gbt_n[name],
                                     "rss_per_tx": (_rss(pid) - st["rss0"]) / max(1, st["ok"])}
                servers["packetfs"][0].call("stop")
            finally:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    table = Table(title=f"Mempool and RPC: {n_send} transactions sent, getblocktemplate with {n_gbt} in the pool")
    table.add_column("measure")
    table.add_column("packetfs", justify="right")
    table.add_column("bcoin 1.0.2", justify="right")
    table.add_column("ratio (ours/bcoin)", justify="right")
    ours_r, theirs = results.get("packetfs", {}), results.get("bcoin")

    def row(name: str, key: str, fmt: str, higher_better: bool = True) -> None:
        a = ours_r.get(key)
        b = theirs.get(key) if theirs else None
        ratio = ""
        if a and b:
            ratio = f"{(a / b if higher_better else b / a):.2f}x"
        table.add_row(name, format(a, fmt) if a is not None else "-", format(b, fmt) if b is not None else "-", ratio)

    table.add_row("mempool alone, no RPC (tx/s, 1 core)", f"{rate_alone:,.0f}", "-", f"pitch: {PITCH_TPS} TPS")
    table.add_row("mempool alone, no RPC (tx/s, 2 cores: scripts on a pool)", f"{rate_alone2:,.0f}", "-",
                  f"pitch: {PITCH_TPS} TPS")
    row("sendrawtransaction (tx/s)", "send_tps", ",.0f")
    row("transactions accepted", "accepted", ",")
    row("getblocktemplate, first after the pool filled (ms)", "gbt_first_ms", ",.1f", higher_better=False)
    row("getblocktemplate, repeated (ms, median)", "gbt_ms", ",.1f", higher_better=False)
    row("transactions in the template", "gbt_txs", ",")
    row("server RSS growth per tx (bytes)", "rss_per_tx", ",.0f", higher_better=False)
    table.add_row("mempool usage estimate per tx (bytes)", f"{usage / max(1, n_send):,.0f}", "-", "")
    console.print(table)
    console.print("ratio > 1 means packetfs is faster / smaller. The mempool-alone rates check every script "
                  f"(libsecp256k1 ECDSA); the pitch's {PITCH_TPS} TPS is not what a validating mempool does.")
    if bcoin_note:
        console.print(bcoin_note)


if __name__ == "__main__":
    main()
