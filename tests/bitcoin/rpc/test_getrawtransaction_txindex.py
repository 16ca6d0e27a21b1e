"""getrawtransaction without a block hash finds a confirmed transaction through the codec store's tx
index (``ChainTxIndex.block_hash_of``), both before the index is flushed and after; the block it
names is the one the transaction is in, checked against the block's own transaction list."""

import pytest
from bitcoinrpc.authproxy import AuthServiceProxy, JSONRPCException

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.mempool.sync import block_of
from packetfs.bitcoin.mining.regtest import generate
from packetfs.bitcoin.mining.wallet import MiniWallet
from packetfs.bitcoin.rpc import RpcContext, ThreadedRpcServer


def test_getrawtransaction_through_the_txindex(tmp_path):
    datadir = tmp_path / "node"
    cs = Chainstate(datadir, "regtest", jobs=1, store_mode="codec", map_size=1 << 30)
    try:
        assert cs.txindex is not None
        hashes = generate(cs, None, MiniWallet(b"txindex-lookup").script_pubkey, 5)
        blocks = [block_of(cs, cs.tree.get(h)) for h in hashes]
        # Pending (not yet flushed) entries are found ...
        for b in blocks:
            assert cs.txindex.block_hash_of(b.transactions[0].txid) == b.hash
        cs.flush()
        # ... and written ones.
        for b in blocks:
            assert cs.txindex.block_hash_of(b.transactions[0].txid) == b.hash
        assert cs.txindex.block_hash_of(bytes(32)) is None
        ctx = RpcContext(cs, None, datadir=str(datadir))
        server = ThreadedRpcServer(ctx, port=0, cookie_dir=datadir).start()
        try:
            user, password = (datadir / ".cookie").read_text().split(":", 1)
            rpc = AuthServiceProxy(f"http://{user}:{password}@127.0.0.1:{server.port}", timeout=30)
            tx = blocks[2].transactions[0]
            got = rpc.getrawtransaction(tx.txid_hex, 1)
            assert got["blockhash"] == blocks[2].hash_hex and got["hex"] == tx.serialize().hex()
            with pytest.raises(JSONRPCException) as exc:
                rpc.getrawtransaction("00" * 32)
            assert exc.value.error["code"] == -5
        finally:
            server.stop()
    finally:
        cs.close()
