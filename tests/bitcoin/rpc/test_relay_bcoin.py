"""With bcoin 1.0.2, a real independent node: a transaction sent to our node's RPC reaches bcoin's
mempool, and one sent to bcoin reaches ours (inv, getdata, tx over P2P); and on the same chain our
getblock, getblockheader, decoderawtransaction and gettxout agree with bcoin's field by field where
bcoin and Core define the same field.

bcoin mines the chain (to our legacy P2PKH key: bcoin's regtest has segwit inactive, so the
transactions carry no witness), our node syncs it, and both pools are compared through each
node's own RPC."""

from bcoin_harness import BcoinNode
from bitcoinrpc.authproxy import AuthServiceProxy

from packetfs.bitcoin.mining.assembler import mine_block, serialize_block
from packetfs.bitcoin.mining.wallet import MiniWallet
from packetfs.bitcoin.node.node import Node, NodeConfig
from packetfs.bitcoin.primitives.address import b58check_encode
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.rpc.daemon import NodeServices

from .node_threads import Loop, wait_for


def test_tx_relay_both_ways_with_bcoin(tmp_path):
    w = MiniWallet(b"bcoin-relay", kind="p2pkh")
    bcoin_p2pkh = b58check_encode(b"\x3c" + w.key.pubkey_hash)  # bcoin's regtest base58 prefix
    with BcoinNode() as bcoin:
        hashes = bcoin.rpc("generatetoaddress", 102, bcoin_p2pkh, timeout=300)
        loop = Loop()
        node = Node(NodeConfig(network="regtest", datadir=tmp_path / "ours", port=0, bind="127.0.0.1",
                               connect=[("127.0.0.1", bcoin.p2p_port)]))
        svc = NodeServices(node, rpc_port=0, rpcuser="u", rpcpassword="p")
        try:
            loop.run(node.start())
            loop.run(svc.start())
            ours = AuthServiceProxy(f"http://u:p@127.0.0.1:{svc.rpc.port}", timeout=60)
            wait_for(lambda: ours.getblockcount() == 102, 60, "our node to sync bcoin's chain")
            assert ours.getbestblockhash() == bcoin.rpc("getbestblockhash")
            _compare_with_bcoin(ours, bcoin, hashes)
            for h in (1, 2):
                w.scan_block(Block.from_bytes(bytes.fromhex(ours.getblock(hashes[h - 1], 0))), h)
            coins = w.mature(102)
            to_bcoin = w.spend([coins[0]], fee=2_000)  # bcoin's relay floor is 1 sat/vB
            to_us = w.spend([coins[1]], fee=2_000)
            assert ours.sendrawtransaction(to_bcoin.serialize().hex()) == to_bcoin.txid_hex
            wait_for(lambda: to_bcoin.txid_hex in bcoin.rpc("getrawmempool"), 30, "our tx to reach bcoin's pool")
            assert bcoin.rpc("sendrawtransaction", to_us.serialize().hex()) == to_us.txid_hex
            wait_for(lambda: to_us.txid_hex in ours.getrawmempool(), 30, "bcoin's tx to reach our pool")
            entry = ours.getmempoolentry(to_us.txid_hex)
            assert entry["vsize"] == to_us.vsize and entry["fees"]["base"] * 10**8 == 2_000
            # Our node mines both from its mempool (BlockAssembler template; no witness data, so no
            # commitment: bcoin's segwit is not active) and announces the block: bcoin accepts it.
            async def mine_ours():
                block = mine_block(node.cs, svc.mempool, w.script_pubkey, always_commit=False)
                svc._sync_for_rpc().process_block(serialize_block(block))
                return block

            block = loop.run(mine_ours())
            assert {t.txid for t in block.transactions[1:]} == {to_bcoin.txid, to_us.txid}
            wait_for(lambda: bcoin.rpc("getbestblockhash") == block.hash_hex, 30, "bcoin to accept our block")
            wait_for(lambda: bcoin.rpc("getrawmempool") == [], 30, "bcoin's pool to empty")
            assert ours.getrawmempool() == []
        finally:
            try:
                loop.run(svc.stop())
                loop.run(node.stop())
            finally:
                loop.close()


# Fields bcoin 1.0.2 and Core both define with the same meaning (bcoin's addresses use its own
# regtest prefixes and its asm differs, so those are left out).
BLOCK_FIELDS = ("hash", "confirmations", "height", "version", "versionHex", "merkleroot", "time", "mediantime",
                "nonce", "bits", "chainwork", "previousblockhash", "nextblockhash", "size", "weight", "tx")
HEADER_FIELDS = ("hash", "confirmations", "height", "version", "versionHex", "merkleroot", "time", "mediantime",
                 "nonce", "bits", "chainwork", "previousblockhash", "nextblockhash")
TX_FIELDS = ("txid", "hash", "version", "size", "vsize", "locktime")


def _same(ours: dict, theirs: dict, fields, what: str) -> None:
    """Every listed field bcoin answers (not null) must be ours too, with the same value; bcoin
    answers most of them (it leaves a zero nonce null, for one)."""
    compared = 0
    for f in fields:
        b = theirs.get(f)
        if b is None:
            continue
        a = ours.get(f)
        compared += 1
        if f == "bits" and isinstance(b, int):  # bcoin writes bits as a number, Core as hex
            a = int(a, 16)
        if isinstance(a, float) or isinstance(b, float) or type(a).__name__ == "Decimal":
            assert abs(float(a) - float(b)) < 1e-12, (what, f, a, b)
        else:
            assert a == b, (what, f, a, b)
    assert compared >= len(fields) - 2, (what, compared)


def _compare_with_bcoin(ours, bcoin, hashes) -> None:
    for h in (hashes[0], hashes[50], hashes[-1]):
        _same(ours.getblock(h), bcoin.rpc("getblock", h), BLOCK_FIELDS, f"getblock {h}")
        _same(ours.getblockheader(h), bcoin.rpc("getblockheader", h), HEADER_FIELDS, f"getblockheader {h}")
        assert ours.getblock(h, 0) == bcoin.rpc("getblock", h, False)
        assert ours.getblockheader(h, False) == bcoin.rpc("getblockheader", h, False)
        raw_cb = Block.from_bytes(bytes.fromhex(ours.getblock(h, 0))).transactions[0]
        d_ours = ours.decoderawtransaction(raw_cb.serialize().hex())
        d_bcoin = bcoin.rpc("decoderawtransaction", raw_cb.serialize().hex())
        _same(d_ours, d_bcoin, TX_FIELDS, "decoderawtransaction")
        assert [v["sequence"] for v in d_ours["vin"]] == [v["sequence"] for v in d_bcoin["vin"]]
        assert [v["coinbase"] for v in d_ours["vin"]] == [v["coinbase"] for v in d_bcoin["vin"]]
        for vo, vb in zip(d_ours["vout"], d_bcoin["vout"], strict=True):
            assert float(vo["value"]) == float(vb["value"]) and vo["n"] == vb["n"]
            assert vo["scriptPubKey"]["hex"] == vb["scriptPubKey"]["hex"]
            assert vo["scriptPubKey"]["type"] == vb["scriptPubKey"]["type"].lower()  # bcoin upper-cases it
        t_ours = ours.gettxout(raw_cb.txid_hex, 0)
        t_bcoin = bcoin.rpc("gettxout", raw_cb.txid_hex, 0)
        _same(t_ours, t_bcoin, ("bestblock", "confirmations", "coinbase"), "gettxout")
        assert float(t_ours["value"]) == float(t_bcoin["value"])
        assert t_ours["scriptPubKey"]["hex"] == t_bcoin["scriptPubKey"]["hex"]
        assert t_ours["scriptPubKey"]["type"] == t_bcoin["scriptPubKey"]["type"].lower()
