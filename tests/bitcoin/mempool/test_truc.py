"""mempool_truc.py retold: TRUC (version 3) topology and size rules, inheritance both ways, sibling
eviction, and zero-fee TRUC parents that need a child (with ephemeral dust)."""

import re

from packetfs.bitcoin.mempool import TxResult
from packetfs.bitcoin.primitives.transaction import TxOut

from .helpers import accept_ok, coin, reject

P2A = b"\x51\x02\x4e\x73"


def h(tx):
    return tx.txid[::-1].hex(), tx.wtxid[::-1].hex()


def test_truc_size_limits(node):
    w = node.wallet
    big = w.spend([coin(node)], fee=20_000, version=3, pad_to_vsize=10_010)
    assert big.vsize > 10_000
    r = reject(node, big, "TRUC-violation")
    t, wt = h(big)
    assert r.debug == f"version=3 tx {t} (wtxid={wt}) is too big: {big.vsize} > 10000 virtual bytes"
    accept_ok(node, w.spend([coin(node)], fee=20_000, version=2, pad_to_vsize=10_010))  # fine for v2
    parent = w.spend([coin(node)], fee=1_000, version=3)
    accept_ok(node, parent)
    child = w.spend(w.outputs_of(parent), fee=5_000, version=3, pad_to_vsize=1_100)
    r = reject(node, child, "TRUC-violation")
    assert re.fullmatch(r"version=3 child tx \w+ \(wtxid=\w+\) is too big: \d+ > 1000 virtual bytes", r.debug)
    accept_ok(node, w.spend(w.outputs_of(parent), fee=5_000, version=3, pad_to_vsize=900))


def test_truc_inheritance(node):
    w = node.wallet
    v3 = w.spend([coin(node)], fee=1_000, version=3)
    v2 = w.spend([coin(node)], fee=1_000, version=2)
    accept_ok(node, v3)
    accept_ok(node, v2)
    bad = w.spend(w.outputs_of(v3), fee=1_000, version=2)
    r = reject(node, bad, "TRUC-violation")
    assert r.debug == f"non-version=3 tx {h(bad)[0]} (wtxid={h(bad)[1]}) cannot spend from version=3 tx {h(v3)[0]} (wtxid={h(v3)[1]})"
    bad = w.spend(w.outputs_of(v2), fee=1_000, version=3)
    r = reject(node, bad, "TRUC-violation")
    assert r.debug == f"version=3 tx {h(bad)[0]} (wtxid={h(bad)[1]}) cannot spend from non-version=3 tx {h(v2)[0]} (wtxid={h(v2)[1]})"


def test_truc_ancestor_and_descendant_limits(node):
    w = node.wallet
    parent = w.spend([coin(node)], fee=1_000, version=3, n_outputs=2)
    accept_ok(node, parent)
    outs = w.outputs_of(parent)
    child = w.spend([outs[0]], fee=1_000, version=3)
    accept_ok(node, child)
    grandchild = w.spend(w.outputs_of(child), fee=1_000, version=3)
    r = reject(node, grandchild, "TRUC-violation")
    assert r.debug == f"tx {h(grandchild)[0]} (wtxid={h(grandchild)[1]}) would have too many ancestors"
    # A second child: sibling eviction under the RBF rules.
    cheap = w.spend([outs[1]], fee=1_000, version=3)
    r = reject(node, cheap, "insufficient fee (including sibling eviction)")
    assert r.result == TxResult.RECONSIDERABLE
    rich = w.spend([outs[1]], fee=3_000, version=3)
    r = accept_ok(node, rich)
    assert [t.txid for t in r.replaced] == [child.txid]
    assert child.txid not in node.mempool


def test_zero_fee_truc_parent_needs_a_child(node):
    w = node.wallet
    c = coin(node)
    parent = w.spend([c], fee=0, version=3, extra_outputs=[TxOut(0, P2A)])  # one ephemeral dust output
    r = reject(node, parent, "min relay fee not met")
    assert r.result == TxResult.RECONSIDERABLE  # a package can pay for it
    anchor_spend = w.spend(w.outputs_of(parent), fee=2_000, version=3)
    # The child must spend the dust too.
    res = node.mempool.accept_package([parent, anchor_spend])
    assert res.message == "missing-ephemeral-spends"
    assert len(node.mempool) == 0
    from packetfs.bitcoin.mining.wallet import WalletCoin

    anchor = WalletCoin(parent.txid, 1, 0, 0x7FFFFFFF)
    own = w.outputs_of(parent)[0]
    from packetfs.bitcoin.primitives.transaction import Transaction, TxIn

    unsigned = Transaction(3, [TxIn(own.txid, own.vout, b"", 0xFFFFFFFD), TxIn(anchor.txid, anchor.vout, b"", 0xFFFFFFFD)],
                           [TxOut(own.value - 2_000, w.script_pubkey)], 0)
    child = w.sign(unsigned, [own, TxOut(0, P2A)])
    res = node.mempool.accept_package([parent, child])
    assert res.ok, {k.hex(): v.reject_string for k, v in res.results.items()}
    pr = res.results[parent.wtxid]
    assert pr.effective_feerate.sat_per_kvb == 2_000 * 1000 // (parent.vsize + child.vsize)
    assert pr.effective_includes == [parent.wtxid, child.wtxid]
    # Dust with a fee is refused outright.
    r = reject(node, w.spend([coin(node)], fee=1_000, version=3, extra_outputs=[TxOut(0, P2A)]), "dust")
    assert r.debug == "tx with dust output must be 0-fee"
