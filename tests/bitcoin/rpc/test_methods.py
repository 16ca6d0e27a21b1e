"""The chain, mempool and mining methods through two independent clients: python-bitcoinlib's
``bitcoin.rpc.Proxy`` (which deserializes blocks and transactions itself) and python-bitcoinrpc's
``AuthServiceProxy``."""

from decimal import Decimal

import pytest
from bitcoin.core import CBlock, CTransaction, b2lx, lx
from bitcoinrpc.authproxy import AuthServiceProxy, JSONRPCException

import bitcoin
import bitcoin.rpc
from packetfs.bitcoin.primitives.address import script_to_address
from packetfs.bitcoin.primitives.hashes import hash_to_hex
from packetfs.bitcoin.primitives.transaction import TxOut


@pytest.fixture(autouse=True)
def _regtest_params():
    bitcoin.SelectParams("regtest")
    yield
    bitcoin.SelectParams("mainnet")


def proxy(served):
    return bitcoin.rpc.Proxy(service_url=served.url, timeout=60)


def asp(served):
    return AuthServiceProxy(served.url, timeout=60)


def test_chain_queries_bitcoinlib(served):
    p = proxy(served)
    cs = served.node.chainstate
    assert p.getblockcount() == 200
    tip = p.getbestblockhash()
    assert b2lx(tip) == cs.tip.hash_hex
    block = p.getblock(tip)  # hex, parsed by bitcoinlib
    assert isinstance(block, CBlock) and b2lx(block.GetHash()) == cs.tip.hash_hex
    assert b2lx(p.getblockhash(100)) == cs.active_chain()[100].hash_hex
    header = p.getblockheader(tip)
    assert b2lx(header.GetHash()) == cs.tip.hash_hex
    info = p.getblockheader(tip, verbose=True)
    assert info["height"] == 200 and info["confirmations"] == 1
    cb = block.vtx[0]
    out = p.gettxout(bitcoin.core.COutPoint(cb.GetTxid(), 0))
    assert out["txout"].nValue == cb.vout[0].nValue


def test_getblock_verbosity_and_fields(served):
    a = asp(served)
    node = served.node
    w = node.wallet
    tx = w.spend([w.take(node.height)], fee=4_321)
    node.mine(1, transactions=[tx])
    h = a.getbestblockhash()
    v1 = a.getblock(h)
    assert v1["tx"][1] == tx.txid_hex and v1["nTx"] == 2 and v1["height"] == 201
    assert v1["previousblockhash"] == node.chainstate.tip.prev.hash_hex
    assert v1["weight"] == node.block(node.chainstate.tip.hash).weight
    assert v1["bits"] == "207fffff" and v1["difficulty"] == Decimal("4.656542373906925E-10")
    v2 = a.getblock(h, 2)
    assert v2["tx"][1]["fee"] == Decimal("0.00004321")
    assert v2["tx"][1]["vout"][0]["scriptPubKey"]["type"] == "witness_v0_keyhash"
    assert v2["tx"][1]["vout"][0]["scriptPubKey"]["address"] == script_to_address(w.script_pubkey, "regtest")
    v3 = a.getblock(h, 3)
    assert v3["tx"][1]["vin"][0]["prevout"]["generated"] is True
    assert a.getblock(h, 0) == node.block(node.chainstate.tip.hash).serialize().hex()
    assert a.getblockheader(a.getblockhash(200))["nextblockhash"] == h
    tips = a.getchaintips()
    assert tips == [{"height": 201, "hash": h, "branchlen": 0, "status": "active"}]


def test_decoderawtransaction_against_bitcoinlib(served):
    a = asp(served)
    node = served.node
    w = node.wallet
    tx = w.spend([w.take(node.height)], fee=1_000, n_outputs=2, extra_outputs=[TxOut(0, b"\x6a\x03abc")])
    d = a.decoderawtransaction(tx.serialize().hex())
    ref = CTransaction.deserialize(tx.serialize())
    assert d["txid"] == b2lx(ref.GetTxid()) and d["hash"] == b2lx(ref.GetHash())
    assert d["vsize"] == tx.vsize and d["weight"] == tx.weight and d["size"] == len(tx.serialize())
    assert [Decimal(v["value"]) * 10**8 for v in d["vout"]] == [o.nValue for o in ref.vout]
    assert d["vout"][2]["scriptPubKey"] == {"asm": "OP_RETURN 6513249", "desc": d["vout"][2]["scriptPubKey"]["desc"],
                                             "hex": "6a03616263", "type": "nulldata"}
    assert d["vout"][2]["scriptPubKey"]["desc"].startswith("raw(6a03616263)#")
    assert d["vin"][0]["txinwitness"] == [x.hex() for x in tx.witnesses[0]]
    assert "hex" not in d
    s = a.decodescript("76a914" + "11" * 20 + "88ac")
    assert s["type"] == "pubkeyhash" and s["segwit"]["type"] == "witness_v0_keyhash"
    with pytest.raises(JSONRPCException) as e:
        a.decoderawtransaction("00")
    assert e.value.error["code"] == -22


def test_send_and_mempool_methods(served):
    a = asp(served)
    node = served.node
    w = node.wallet
    parent = w.spend([w.take(node.height)], fee=2_000)
    assert a.sendrawtransaction(parent.serialize().hex()) == parent.txid_hex
    assert a.sendrawtransaction(parent.serialize().hex()) == parent.txid_hex  # already there: fine
    child = w.spend(w.outputs_of(parent), fee=3_000)
    assert proxy(served).sendrawtransaction(CTransaction.deserialize(child.serialize())) == lx(child.txid_hex)
    assert set(a.getrawmempool()) == {parent.txid_hex, child.txid_hex}
    e = a.getmempoolentry(child.txid_hex)
    assert e["ancestorcount"] == 2 and e["fees"]["base"] == Decimal("0.00003") and e["fees"]["ancestor"] == Decimal("0.00005")
    assert e["depends"] == [parent.txid_hex] and e["vsize"] == child.vsize
    assert a.getmempoolancestors(child.txid_hex) == [parent.txid_hex]
    assert a.getmempooldescendants(parent.txid_hex) == [child.txid_hex]
    verbose = a.getrawmempool(True)
    assert verbose[parent.txid_hex]["spentby"] == [child.txid_hex]
    info = a.getmempoolinfo()
    assert info["size"] == 2 and info["minrelaytxfee"] == Decimal("0.00000100") and info["fullrbf"] is True
    assert a.getrawtransaction(child.txid_hex) == child.serialize().hex()
    out = a.gettxout(parent.txid_hex, 0)
    assert out is None  # spent by ``child`` in the mempool
    assert a.gettxout(parent.txid_hex, 0, False) is None  # not confirmed
    # errors as Core's
    bad = w.spend([w.take(node.height)], fee=0)
    with pytest.raises(JSONRPCException) as exc:
        a.sendrawtransaction(bad.serialize().hex())
    assert exc.value.error == {"code": -26, "message": f"min relay fee not met, 0 < {bad.vsize // 10 + (bad.vsize % 10 > 0)}"}
    ghost = w.spend([type(w.outputs_of(parent)[0])(b"\x22" * 32, 0, 10**6, 0)], fee=1_000)
    with pytest.raises(JSONRPCException) as exc:
        a.sendrawtransaction(ghost.serialize().hex())
    assert exc.value.error["code"] == -25
    rich = w.spend([w.take(node.height)], fee=10**8)
    with pytest.raises(JSONRPCException) as exc:
        a.sendrawtransaction(rich.serialize().hex())
    assert exc.value.error == {"code": -25, "message": "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)"}
    assert a.sendrawtransaction(rich.serialize().hex(), 0) == rich.txid_hex
    hashes = a.generatetoaddress(1, script_to_address(w.script_pubkey, "regtest"))
    block = a.getblock(hashes[0])
    assert set(block["tx"][1:]) == {parent.txid_hex, child.txid_hex, rich.txid_hex}
    assert a.getrawmempool() == []
    with pytest.raises(JSONRPCException) as exc:
        a.sendrawtransaction(rich.serialize().hex())  # its output is unspent in the chain
    assert exc.value.error == {"code": -27, "message": "Transaction outputs already in utxo set"}
    with pytest.raises(JSONRPCException) as exc:
        a.sendrawtransaction(parent.serialize().hex())  # every output already spent: as Core, missing inputs
    assert exc.value.error == {"code": -25, "message": "bad-txns-inputs-missingorspent"}
    assert a.getrawtransaction(parent.txid_hex, 1, hashes[0])["confirmations"] == 1


def test_testmempoolaccept_and_submitpackage(served):
    a = asp(served)
    node = served.node
    w = node.wallet
    parent = w.spend([w.take(node.height)], fee=0, version=3)
    child = w.spend(w.outputs_of(parent), fee=5_000, version=3)
    res = a.testmempoolaccept([parent.serialize().hex()])
    assert res == [{"txid": parent.txid_hex, "wtxid": parent.wtxid_hex, "allowed": False,
                    "reject-reason": "min relay fee not met", "reject-details": f"min relay fee not met, 0 < {(parent.vsize + 9) // 10}"}]
    ok = w.spend([w.take(node.height)], fee=1_000)
    res = a.testmempoolaccept([ok.serialize().hex()])[0]
    assert res["allowed"] is True and res["vsize"] == ok.vsize and res["fees"]["base"] == Decimal("0.00001")
    res = a.submitpackage([parent.serialize().hex(), child.serialize().hex()])
    assert res["package_msg"] == "success"
    r = res["tx-results"][child.wtxid_hex]
    assert r["txid"] == child.txid_hex and r["fees"]["effective-includes"] == [parent.wtxid_hex, child.wtxid_hex]
    assert set(a.getrawmempool()) == {parent.txid_hex, child.txid_hex}
    with pytest.raises(JSONRPCException) as exc:
        a.submitpackage([child.serialize().hex(), parent.serialize().hex()])
    assert exc.value.error["code"] == -8


def test_getblocktemplate_submitblock(served):
    a = asp(served)
    node = served.node
    w = node.wallet
    for fee in (1_000, 3_000, 2_000):
        assert node.mempool.accept(w.spend([w.take(node.height)], fee=fee)).accepted
    with pytest.raises(JSONRPCException) as exc:
        a.getblocktemplate()
    assert exc.value.error["code"] == -8 and "segwit rule" in exc.value.error["message"]
    t = a.getblocktemplate({"rules": ["segwit"]})
    assert t["height"] == 201 and t["rules"] == ["csv", "!segwit", "taproot"]
    assert [x["fee"] for x in t["transactions"]] == [3_000, 2_000, 1_000]
    assert t["coinbasevalue"] == 25 * 10**8 + 6_000
    assert t["default_witness_commitment"].startswith("6a24aa21a9ed")
    assert t["previousblockhash"] == node.chainstate.tip.hash_hex and t["bits"] == "207fffff"
    # Build the block from the template alone, as a miner would.
    from packetfs.bitcoin.mining.assembler import BlockTemplate, TemplateTx, grind
    from packetfs.bitcoin.primitives.transaction import Transaction

    tmpl = BlockTemplate(t["height"], bytes.fromhex(t["previousblockhash"])[::-1], t["version"], int(t["bits"], 16),
                         t["curtime"], t["mintime"], [TemplateTx(Transaction.from_hex(x["data"]), x["fee"], x["sigops"])
                                                      for x in t["transactions"]], t["coinbasevalue"], 0, 0)
    assert tmpl.witness_commitment_script().hex() == t["default_witness_commitment"]
    block = grind(tmpl.block(w.script_pubkey), node.chainstate.params)
    hexblock = block.serialize().hex()
    assert a.getblocktemplate({"mode": "proposal", "data": hexblock}) is None
    assert a.submitblock(hexblock) is None
    assert a.getbestblockhash() == block.hash_hex and a.getrawmempool() == []
    assert a.submitblock(hexblock) == "duplicate"
    with pytest.raises(JSONRPCException) as exc:
        a.submitblock("00")
    assert exc.value.error == {"code": -22, "message": "Block decode failed"}
    # Invalid blocks: Core's reject reason as the result.
    from packetfs.bitcoin.mining.assembler import assemble
    from packetfs.bitcoin.primitives.block import Block as PBlock
    from packetfs.bitcoin.primitives.block import BlockHeader

    t2 = assemble(node.chainstate, None)
    t2.coinbase_value += 1  # claims a satoshi too many
    greedy = grind(t2.block(w.script_pubkey), node.chainstate.params)
    assert a.submitblock(greedy.serialize().hex()) == "bad-cb-amount"
    good = grind(assemble(node.chainstate, None).block(w.script_pubkey, b"x"), node.chainstate.params)
    h = good.header
    bad_root = PBlock(BlockHeader(h.version, h.prev_hash, bytes(32), h.time, h.bits, h.nonce), good.transactions)
    bad_root = grind(bad_root, node.chainstate.params)
    assert a.submitblock(bad_root.serialize().hex()) == "bad-txnmrklroot"
    assert a.getbestblockhash() == block.hash_hex


def test_generate_variants_and_utxo_digest(served):
    a = asp(served)
    node = served.node
    addr = script_to_address(node.wallet.script_pubkey, "regtest")
    h = a.generatetodescriptor(2, f"addr({addr})")
    assert len(h) == 2 and a.getblockcount() == 202
    w = node.wallet
    tx = w.spend([w.take(node.height)], fee=7_000)
    res = a.generateblock(addr, [tx.serialize().hex()])
    assert a.getblock(res["hash"])["tx"][1] == tx.txid_hex
    info = a.gettxoutsetinfo()
    assert info["hash_serialized_3"] == hash_to_hex(node.chainstate.utxo_digest())
    assert info["height"] == 203 and info["txouts"] == node.chainstate.utxo.stats()[0]
    with pytest.raises(JSONRPCException) as exc:
        a.generatetoaddress(1, "notanaddress")
    assert exc.value.error == {"code": -5, "message": "Error: Invalid address"}


def test_invalidate_reconsider(served):
    a = asp(served)
    node = served.node
    w = node.wallet
    tx = w.spend([w.take(node.height)], fee=1_000)
    node.mine(1, transactions=[tx])
    tip = a.getbestblockhash()
    a.invalidateblock(tip)
    assert a.getblockcount() == 200
    assert tx.txid_hex in a.getrawmempool()  # back from the disconnected block
    tips = {t["status"] for t in a.getchaintips()}
    assert tips == {"active", "invalid"}
    a.reconsiderblock(tip)
    assert a.getbestblockhash() == tip and a.getrawmempool() == []


def test_network_and_control_without_p2p(served):
    a = asp(served)
    assert a.getconnectioncount() == 0 and a.getpeerinfo() == [] and a.listbanned() == []
    assert a.getnetworkinfo()["protocolversion"] == 70016
    with pytest.raises(JSONRPCException) as exc:
        a.addnode("127.0.0.1:1", "onetry")
    assert exc.value.error["code"] == -31
    assert a.uptime() >= 0
    assert "getblockcount" in a.help()
    assert a.help("getblockhash").startswith("getblockhash height")
    # (python-bitcoinrpc's batch_ sends JSON-RPC 2.0 yet expects 1.0 replies, so it fails against
    # Core 28+ as against us; batches are tested in test_server.py.)


def test_getblocktemplate_cache_as_core(served):
    a = asp(served)
    node = served.node
    w = node.wallet
    first = a.getblocktemplate({"rules": ["segwit"]})
    assert first["transactions"] == []
    assert node.mempool.accept(w.spend([w.take(node.height)], fee=1_000)).accepted
    # Within 5 s of the last build the same template comes back (Core's cache), with a fresh time.
    again = a.getblocktemplate({"rules": ["segwit"]})
    assert again["transactions"] == [] and again["curtime"] >= first["curtime"]
    ctx_cache = served.server.server.ctx.template_cache
    served.server.server.ctx.template_cache = (ctx_cache[0], ctx_cache[1], ctx_cache[2] - 6, *ctx_cache[3:])
    assert len(a.getblocktemplate({"rules": ["segwit"]})["transactions"]) == 1  # older than 5 s: rebuilt
    a.generatetoaddress(1, script_to_address(w.script_pubkey, "regtest"))
    t = a.getblocktemplate({"rules": ["segwit"]})  # a new tip: rebuilt at once
    assert t["height"] == 202 and t["transactions"] == []
