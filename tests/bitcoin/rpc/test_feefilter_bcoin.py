"""bcoin 1.0.2 honours the feefilter our node sends: with our pool's minimum relay fee raised to
20,000 sat/kvB, bcoin announces to us a transaction paying about 100,000 sat/kvB but not one paying
about 5,000 (which bcoin itself accepts: its floor is 1,000 sat/kvB). What bcoin announces is read
off the wire (every inv it sends us is recorded), not inferred from our pool."""

from bcoin_harness import BcoinNode
from bitcoinrpc.authproxy import AuthServiceProxy

from packetfs.bitcoin.mempool.policy import FeeRate, PolicyOptions
from packetfs.bitcoin.mining.wallet import MiniWallet
from packetfs.bitcoin.net.inv import Inv
from packetfs.bitcoin.node.node import Node, NodeConfig
from packetfs.bitcoin.primitives.address import b58check_encode
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.rpc.daemon import NodeServices

from .node_threads import Loop, wait_for


def test_bcoin_honours_our_feefilter(tmp_path):
    w = MiniWallet(b"bcoin-feefilter", kind="p2pkh")
    bcoin_p2pkh = b58check_encode(b"\x3c" + w.key.pubkey_hash)  # bcoin's regtest base58 prefix
    with BcoinNode() as bcoin:
        hashes = bcoin.rpc("generatetoaddress", 102, bcoin_p2pkh, timeout=300)
        loop = Loop()
        node = Node(NodeConfig(network="regtest", datadir=tmp_path / "ours", port=0, bind="127.0.0.1",
                               connect=[("127.0.0.1", bcoin.p2p_port)]))
        announced: list[bytes] = []
        on_inv = node._handlers[Inv]

        async def recording_inv(peer, msg):
            announced.extend(item.hash for item in msg.items)
            await on_inv(peer, msg)

        node._handlers[Inv] = recording_inv
        opts = PolicyOptions(min_relay_fee=FeeRate(20_000))
        svc = NodeServices(node, rpc_port=0, rpcuser="u", rpcpassword="p", mempool_options=opts)
        try:
            loop.run(node.start())
            loop.run(svc.start())
            ours = AuthServiceProxy(f"http://u:p@127.0.0.1:{svc.rpc.port}", timeout=60)
            wait_for(lambda: ours.getblockcount() == 102, 60, "our node to sync bcoin's chain")
            (peer,) = node.peers.values()
            wait_for(lambda: peer.state.fee_filter_sent >= 20_000, 10, "our post-IBD feefilter")
            for h in (1, 2):
                w.scan_block(Block.from_bytes(bytes.fromhex(ours.getblock(hashes[h - 1], 0))), h)
            coins = w.mature(102)
            low = w.spend([coins[0]], fee=1_000)
            high = w.spend([coins[1]], fee=20_000)
            assert 1_000 < low.vsize * 20_000 // 1000 and 1_000 * 1000 // low.vsize >= 1_000  # bcoin takes it
            assert 20_000 * 1000 // high.vsize > 22_000
            assert bcoin.rpc("sendrawtransaction", low.serialize().hex()) == low.txid_hex
            assert bcoin.rpc("sendrawtransaction", high.serialize().hex()) == high.txid_hex
            wait_for(lambda: high.txid_hex in ours.getrawmempool(), 30, "the high-fee tx to reach us")
            wait_for(lambda: low.txid_hex in bcoin.rpc("getrawmempool"), 10, "bcoin to hold the low one")
            assert high.txid in announced
            assert low.txid not in announced
        finally:
            try:
                loop.run(svc.stop())
                loop.run(node.stop())
            finally:
                loop.close()
