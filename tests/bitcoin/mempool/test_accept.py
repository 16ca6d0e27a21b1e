"""mempool_accept.py retold: each of Core's reject reasons for a single transaction, with real signed
regtest transactions, and what a valid one looks like."""


import pytest

from packetfs.bitcoin.mempool import PolicyOptions, TxResult
from packetfs.bitcoin.mining.wallet import WalletCoin
from packetfs.bitcoin.primitives.transaction import Transaction, TxIn, TxOut

from .helpers import accept_ok, coin, fanout, raw_tx, reject

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_valid_then_duplicate_then_test_accept(node):
    tx, _ = node.wallet.send_self(node.height, fee=2_000)
    r = node.mempool.accept(tx, test_accept=True)
    assert r.accepted and r.fee == 2_000 and r.vsize == tx.vsize and len(node.mempool) == 0
    accept_ok(node, tx)
    assert node.mempool.get(tx.txid).fee == 2_000
    r = reject(node, tx, "txn-already-in-mempool")
    assert r.result == TxResult.CONFLICT


def test_same_txid_other_witness(node):
    c = coin(node)
    tx = node.wallet.spend([c], fee=2_000)
    accept_ok(node, tx)
    # Re-sign with a low-R nonce: same txid, different signature bytes, so a different wtxid.
    wallet = node.wallet
    from packetfs.bitcoin.script.sighash import SIGHASH_ALL, PrecomputedTxData, segwit_v0_sighash

    cache = PrecomputedTxData(tx, [TxOut(c.value, wallet.script_pubkey)])
    digest = segwit_v0_sighash(wallet._script_code, tx, 0, SIGHASH_ALL, c.value, cache)
    sig = wallet.key.sign(digest, low_r=True) + b"\x01"
    if sig == tx.witnesses[0][0]:
        sig = wallet.key.sign(digest, low_r=False) + b"\x01"
    other = Transaction(tx.version, list(tx.inputs), list(tx.outputs), tx.locktime, [(sig, wallet.key.pubkey)])
    if other.wtxid == tx.wtxid:
        pytest.skip("the RFC6979 signature is already low-R for this digest; no second witness to try")
    assert other.txid == tx.txid
    reject(node, other, "txn-same-nonwitness-data-in-mempool")


def test_missing_inputs_and_already_known(node):
    c = coin(node)
    ghost = WalletCoin(b"\x11" * 32, 0, c.value, node.height)
    tx = node.wallet.spend([ghost], fee=1_000)
    r = reject(node, tx, "bad-txns-inputs-missingorspent")
    assert r.result == TxResult.MISSING_INPUTS
    mined = node.wallet.spend([c], fee=1_000)
    node.mine(1, transactions=[mined])
    reject(node, mined, "txn-already-known")


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda t, c: raw_tx([], t.outputs), "bad-txns-vin-empty"),
        (lambda t, c: raw_tx([(c.txid, c.vout, b"", 0)], []), "bad-txns-vout-empty"),
        (lambda t, c: raw_tx([(c.txid, c.vout, b"", 0)] * 2, t.outputs), "bad-txns-inputs-duplicate"),
        (lambda t, c: raw_tx([(c.txid, c.vout, b"", 0)], [TxOut(21_000_001 * 10**8, t.outputs[0].script_pubkey)]), "bad-txns-vout-toolarge"),
        (lambda t, c: raw_tx([(c.txid, c.vout, b"", 0)], [TxOut(-1, t.outputs[0].script_pubkey)]), "bad-txns-vout-negative"),
        (lambda t, c: raw_tx([(c.txid, c.vout, b"", 0)], [TxOut(20_000_000 * 10**8, t.outputs[0].script_pubkey)] * 2), "bad-txns-txouttotal-toolarge"),
        (lambda t, c: raw_tx([(bytes(32), 0xFFFFFFFF, b"\x01\x02", 0)], t.outputs), "coinbase"),
        (lambda t, c: raw_tx([(c.txid, c.vout, b"", 0), (bytes(32), 0xFFFFFFFF, b"", 0)], t.outputs), "bad-txns-prevout-null"),
    ],
)
def test_consensus_rejects(node, mutate, reason):
    c = coin(node)
    tx = node.wallet.spend([c], fee=1_000)
    r = reject(node, mutate(tx, c), reason)
    assert r.result == TxResult.CONSENSUS


def test_in_below_out_and_premature_coinbase(node):
    c = coin(node)
    tx = node.wallet.spend([c], outputs=[TxOut(c.value + 1, node.wallet.script_pubkey)])
    reject(node, tx, "bad-txns-in-belowout")
    young = max((x for x in node.wallet.coins.values() if x.coinbase), key=lambda x: x.height)
    tx = node.wallet.spend([young], fee=1_000)
    reject(node, tx, "bad-txns-premature-spend-of-coinbase")


def test_standardness(node):
    w = node.wallet
    for version, reason in ((0, "version"), (4, "version")):
        reject(node, w.spend([coin(node)], fee=1_000, version=version), reason)
    # tx-size: a 400,001+ weight transaction (a big OP_RETURN; the size check comes first)
    reject(node, w.spend([coin(node)], fee=1_000_000, pad_to_vsize=100_010), "tx-size")
    c = coin(node)
    big_sig = b"\x4d" + (1648).to_bytes(2, "little") + bytes(1648)
    t = w.spend([c], fee=1_000)
    reject(node, Transaction(2, [TxIn(c.txid, c.vout, big_sig, 0)], t.outputs, 0, t.witnesses), "scriptsig-size")
    reject(node, Transaction(2, [TxIn(c.txid, c.vout, b"\x61", 0)], t.outputs, 0, t.witnesses), "scriptsig-not-pushonly")
    reject(node, w.spend([c], fee=1_000, extra_outputs=[TxOut(1000, b"\x51\x52")]), "scriptpubkey")
    reject(node, w.spend([c], fee=1_000, extra_outputs=[TxOut(600, b"\x76\xa9\x14" + bytes(20) + b"\x88\xac")] * 0 + [TxOut(0, b"\x00\x14" + bytes(20))] * 2), "dust")
    r = reject(node, w.spend([c], fee=1_000, extra_outputs=[TxOut(0, b"\x00\x14" + bytes(20))]), "dust")
    assert r.debug == "tx with dust output must be 0-fee"
    # Multiple OP_RETURN outputs are standard in Core 30, up to 100,000 bytes of scriptPubKeys.
    accept_ok(node, w.spend([c], fee=2_000, extra_outputs=[TxOut(0, b"\x6a\x4c\x50" + bytes(80))] * 3))


def test_datacarrier_and_bare_multisig_options(node_factory, clock):
    n = node_factory("n", PolicyOptions(max_datacarrier_bytes=83, permit_bare_multisig=False))
    w = n.wallet
    c = coin(n)
    reject(n, w.spend([c], fee=1_000, extra_outputs=[TxOut(0, b"\x6a\x4c\x51" + bytes(81))]), "datacarrier")
    reject(n, w.spend([c], fee=1_000, extra_outputs=[TxOut(0, b"\x6a\x28" + bytes(40))] * 2), "datacarrier")
    key = w.key.pubkey
    ms = b"\x51\x21" + key + b"\x51\xae"
    reject(n, w.spend([c], fee=1_000, extra_outputs=[TxOut(10_000, ms)]), "bare-multisig")
    accept_ok(n, w.spend([c], fee=1_000, extra_outputs=[TxOut(0, b"\x6a\x4c\x50" + bytes(80))]))


def test_tx_size_small_nonfinal_bip68(node):
    w = node.wallet
    c = coin(node)
    small = w.spend([c], outputs=[TxOut(c.value - 1_000, b"\x6a\x01\x01")])  # 61 non-witness bytes
    assert small.base_size < 65
    reject(node, small, "tx-size-small")
    r = reject(node, w.spend([c], fee=1_000, locktime=node.height + 2, sequence=0xFFFFFFFE), "non-final")
    assert r.result == TxResult.PREMATURE_SPEND
    accept_ok(node, w.spend([c], fee=1_000, locktime=node.height, sequence=0xFFFFFFFE))
    fresh = fanout(node, 2)  # confirmed at the tip
    reject(node, w.spend([fresh[0]], fee=1_000, sequence=10), "non-BIP68-final")
    accept_ok(node, w.spend([fresh[1]], fee=1_000, sequence=1))  # one confirmation is enough


def test_nonstandard_inputs_and_witness(node):
    w = node.wallet
    from packetfs.bitcoin.primitives.hashes import sha256

    c = coin(node)
    wscript = b"\x75\x51"  # OP_DROP OP_1
    p2wsh = b"\x00\x20" + sha256(wscript)
    fund = w.spend([c], outputs=[TxOut(100_000, b"\x51"), TxOut(100_000, p2wsh), TxOut(100_000, p2wsh),
                                 TxOut(c.value - 310_000, w.script_pubkey)])
    node.mine(1, transactions=[fund])  # a miner may confirm nonstandard outputs
    out = [TxOut(90_000, w.script_pubkey)]
    reject(node, raw_tx([(fund.txid, 0, b"", 0)], out), "bad-txns-nonstandard-inputs")
    r = reject(node, raw_tx([(fund.txid, 1, b"", 0)], out, witnesses=[(bytes(81), wscript)]), "bad-witness-nonstandard")
    assert r.result == TxResult.WITNESS_MUTATED
    accept_ok(node, raw_tx([(fund.txid, 2, b"", 0)], out, witnesses=[(bytes(80), wscript)]))


def test_too_many_sigops(node):
    w = node.wallet
    c = coin(node)
    ms = b"\x51\x21" + w.key.pubkey + b"\x51\xae"  # bare 1-of-1: 20 legacy sigops, cost 80
    tx = w.spend([c], fee=100_000, extra_outputs=[TxOut(1_000, ms)] * 201)
    r = reject(node, tx, "bad-txns-too-many-sigops")
    assert r.debug == str(201 * 80 + 1)  # plus the P2WPKH input's witness sigop


def test_fees(node):
    w = node.wallet
    r = reject(node, w.spend([coin(node)], fee=0), "min relay fee not met")
    assert r.debug.startswith("0 < ")
    tx = w.spend([coin(node)], fee=11)
    assert tx.vsize == 110
    accept_ok(node, tx)  # 0.1 sat/vB is Core 30's floor: 11 sat for 110 vB


def _high_s(sig_with_type: bytes) -> bytes:
    der, ht = sig_with_type[:-1], sig_with_type[-1:]
    rlen = der[3]
    r = der[4 : 4 + rlen]
    s = int.from_bytes(der[6 + rlen :], "big")
    s2 = (N - s).to_bytes(33, "big").lstrip(b"\x00")
    if s2[0] & 0x80:
        s2 = b"\x00" + s2
    body = b"\x02" + bytes((len(r),)) + r + b"\x02" + bytes((len(s2),)) + s2
    return b"\x30" + bytes((len(body),)) + body + ht


def test_script_failures(node):
    w = node.wallet
    c = coin(node)
    tx = w.spend([c], fee=1_000)
    sig, pub = tx.witnesses[0]
    high = Transaction(2, list(tx.inputs), list(tx.outputs), 0, [(_high_s(sig), pub)])
    r = reject(node, high, "mempool-script-verify-flag-failed (Non-canonical signature: S value is unnecessarily high)")
    assert r.debug.startswith("input 0 of ")
    other = w.spend([c], fee=2_000)  # a valid signature, but for other outputs
    bad = Transaction(2, list(tx.inputs), list(tx.outputs), 0, [other.witnesses[0]])
    reject(node, bad, "mempool-script-verify-flag-failed (Signature must be zero for failed CHECK(MULTI)SIG operation)")
    wrong_key = Transaction(2, list(tx.inputs), list(tx.outputs), 0, [(sig, b"\x02" + bytes(32))])
    reject(node, wrong_key, "mempool-script-verify-flag-failed (Script failed an OP_EQUALVERIFY operation)")
    accept_ok(node, tx)


def test_spends_conflicting_tx(node):
    w = node.wallet
    a, b = coin(node), coin(node)
    parent = w.spend([a], fee=1_000)
    accept_ok(node, parent)
    # Replaces ``parent`` (spends ``a``) while spending ``parent``'s own output.
    child_of_parent = w.outputs_of(parent)[0]
    tx = w.spend([a, child_of_parent, b], fee=50_000)
    r = reject(node, tx, "bad-txns-spends-conflicting-tx")
    assert parent.txid.hex()[:0] == "" and "spends conflicting transaction" in r.debug


def test_testmempoolaccept_chain(node):
    w = node.wallet
    parent = w.spend([coin(node)], fee=1_000)
    child = w.spend(w.outputs_of(parent), fee=1_000)
    res = node.mempool.accept_package([parent, child], test_accept=True)
    assert res.ok and all(r.accepted for r in res.results.values())
    assert len(node.mempool) == 0
    bad_child = w.spend(w.outputs_of(parent), fee=0)
    res = node.mempool.accept_package([parent, bad_child], test_accept=True)
    assert res.results[parent.wtxid].accepted
    assert res.results[bad_child.wtxid].reason == "min relay fee not met"


def test_accept_batch_matches_one_by_one(node_factory):
    """accept_batch (scripts on a 2-worker pool) gives each transaction the verdict accept gives it."""
    from packetfs.bitcoin.consensus.pool import ScriptCheckPool

    a, b = node_factory("a"), node_factory("b")  # the same chain and wallet
    w = a.wallet
    coins = fanout(a, 40)
    b.sync.process_block(a.block(a.chainstate.tip.hash).serialize())
    assert a.chainstate.tip.hash == b.chainstate.tip.hash
    txs = []
    for k, c in enumerate(coins[:30]):
        tx = w.spend([c], fee=300 + k)
        if k == 7:  # a bad signature in the middle of a run
            other = w.spend([c], fee=999)
            tx = Transaction(2, list(tx.inputs), list(tx.outputs), 0, [other.witnesses[0]])
        txs.append(tx)
    txs.append(w.spend(w.outputs_of(txs[3]), fee=500))  # depends on an earlier one
    txs.append(w.spend([coins[5]], fee=5_000))  # replaces txs[5]
    txs.append(w.spend([coins[31]], fee=0))  # below the relay fee
    txs.append(txs[0])  # a duplicate
    txs += [w.spend([c], fee=400) for c in coins[32:40]]
    expected = [(r.accepted, r.reason) for r in (b.mempool.accept(t) for t in txs)]
    with ScriptCheckPool(2) as pool:
        got = [(r.accepted, r.reason) for r in a.mempool.accept_batch(txs, pool)]
    assert got == expected
    assert set(a.mempool.entries) == set(b.mempool.entries)
    assert expected[7][1] == "mempool-script-verify-flag-failed (Signature must be zero for failed CHECK(MULTI)SIG operation)"
    assert sum(ok for ok, _ in expected) == len(txs) - 3
