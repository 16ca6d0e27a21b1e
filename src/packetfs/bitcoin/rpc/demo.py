"""`make run` demo: a regtest `packetfs node` with its mempool and RPC server, driven by `packetfs cli`."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from ..mining.wallet import MiniWallet
from ..primitives.address import script_to_address
from ..primitives.block import Block


def demo(out_dir: Path) -> None:
    """Start a node (in this process, loopback, free ports), mine 101 blocks and send a transaction
    with `packetfs cli`, show getblockchaininfo, getmempoolinfo and a block template summary."""
    from ..node.node import Node, NodeConfig
    from .daemon import NodeServices

    datadir = Path(out_dir) / "rpc-demo-node"
    shutil.rmtree(datadir, ignore_errors=True)  # a fresh regtest chain each time
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    node = Node(NodeConfig(network="regtest", datadir=datadir, port=0, bind="127.0.0.1", listen=True,
                           max_outbound_full_relay=0, max_block_relay=0))
    svc = NodeServices(node, rpc_port=0)
    try:
        run(node.start())
        run(svc.start())
        port = svc.rpc.port

        def cli(*args: str) -> str:
            cmd = [sys.executable, "-m", "packetfs.cli", "cli", "--datadir", str(datadir), "--rpcport", str(port), *args]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if out.returncode:
                raise RuntimeError(f"packetfs cli {' '.join(args)} failed: {out.stderr.strip()}")
            return out.stdout.strip()

        wallet = MiniWallet(b"packetfs demo")
        addr = script_to_address(wallet.script_pubkey, "regtest")
        print(f"$ packetfs cli --datadir {datadir} generatetoaddress 101 {addr}")
        hashes = json.loads(cli("generatetoaddress", "101", addr))
        print(f"  ... {len(hashes)} block hashes")
        _check(len(hashes) == 101, "generatetoaddress did not mine 101 blocks")
        wallet.scan_block(Block.from_bytes(bytes.fromhex(cli("getblock", hashes[0], "0"))), 1)
        tx = wallet.spend([wallet.take(101)], fee=1_410)
        print("$ packetfs cli sendrawtransaction <hex>")
        sent = cli("sendrawtransaction", tx.serialize().hex())
        print("  " + sent)
        _check(sent == tx.txid_hex, "sendrawtransaction answered another txid")
        print("$ packetfs cli getblockchaininfo")
        info = cli("getblockchaininfo")
        print(info)
        _check(json.loads(info)["blocks"] == 101 and json.loads(info)["bestblockhash"] == hashes[-1],
               "getblockchaininfo does not show the mined tip")
        print("$ packetfs cli getmempoolinfo")
        pool = cli("getmempoolinfo")
        print(pool)
        _check(json.loads(pool)["size"] == 1, "the transaction is not in the mempool")
        t = json.loads(cli("getblocktemplate", '{"rules": ["segwit"]}'))
        _check([x["txid"] for x in t["transactions"]] == [tx.txid_hex] and t["coinbasevalue"] == 50 * 10**8 + 1_410,
               "the block template does not hold the transaction and its fee")
        print(f"getblocktemplate: height {t['height']}, {len(t['transactions'])} tx, coinbasevalue {t['coinbasevalue']} sat, "
              f"witness commitment {t['default_witness_commitment'][:16]}...")
    finally:
        try:
            run(svc.stop())
            run(node.stop())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"RPC demo: {what}")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        demo(Path(d))
