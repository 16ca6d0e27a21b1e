"""bcoin's own client (`bcoin-cli`, the bclient package installed with bcoin 1.0.2) against our
JSON-RPC server: it authenticates with user:password in its URL and gets our answers."""

import json
import os
import subprocess

import pytest
from bcoin_harness import ensure_bcoin

from packetfs.bitcoin.rpc import RpcContext, ThreadedRpcServer


@pytest.fixture
def bclient_server(served):
    root = ensure_bcoin()
    ctx = RpcContext(served.node.chainstate, served.node.mempool, sync=served.node.sync)
    with ThreadedRpcServer(ctx, port=0, rpcuser="bitcoinrpc", rpcpassword="secret") as s:
        def run(*args):
            r = subprocess.run(["node", str(root / "node_modules" / ".bin" / "bcoin-cli"), "--network=regtest",
                                f"--url=http://bitcoinrpc:secret@127.0.0.1:{s.port}/", "rpc", *args],
                               capture_output=True, text=True, cwd=root, env=dict(os.environ, NODE_BACKEND="js"),
                               timeout=120)
            return r.stdout.strip()

        yield served, run


def test_bclient_calls(bclient_server):
    served, run = bclient_server
    cs = served.node.chainstate
    assert run("getblockcount") == "200"
    assert run("getbestblockhash") == cs.tip.hash_hex
    assert run("getblockhash", "7") == cs.active_chain()[7].hash_hex
    block = json.loads(run("getblock", cs.tip.hash_hex))
    assert block["hash"] == cs.tip.hash_hex and block["height"] == 200
    w = served.node.wallet
    tx = w.spend([w.take(200)], fee=1_500)
    assert run("sendrawtransaction", tx.serialize().hex()) == tx.txid_hex
    assert json.loads(run("getrawmempool")) == [tx.txid_hex]
    assert run("getblockhash", "999") == "Block height out of range"  # bcoin-cli prints the error message
