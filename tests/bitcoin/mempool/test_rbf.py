"""feature_rbf.py retold: full RBF under Core's rules 2-6, with every reject reason."""

from packetfs.bitcoin.mempool import TxResult
from packetfs.bitcoin.primitives.transaction import TxOut

from .helpers import accept_ok, coin, fanout, reject


def test_simple_replacement_no_signal_needed(node):
    w = node.wallet
    c = coin(node)
    original = w.spend([c], fee=1_000, sequence=0xFFFFFFFF)  # no BIP125 signal: full RBF replaces anyway
    accept_ok(node, original)
    better = w.spend([c], fee=2_000, sequence=0xFFFFFFFF)
    r = accept_ok(node, better)
    assert [t.txid for t in r.replaced] == [original.txid]
    assert original.txid not in node.mempool and better.txid in node.mempool


def test_rule6_feerate(node):
    w = node.wallet
    c = coin(node)
    accept_ok(node, w.spend([c], fee=2_000))
    same = w.spend([c], fee=2_000, n_outputs=1, extra_outputs=[])
    r = reject(node, same, "txn-already-in-mempool")  # byte-identical
    lower_rate = w.spend([c], fee=2_050, n_outputs=3)  # more fee, bigger tx, lower feerate
    r = reject(node, lower_rate, "insufficient fee", "new feerate")
    assert r.result == TxResult.RECONSIDERABLE
    assert "<= old feerate" in r.debug


def test_rule3_absolute_fee(node):
    w = node.wallet
    c = coin(node)
    big = w.spend([c], fee=3_000, n_outputs=5)
    accept_ok(node, big)
    small = w.spend([c], fee=2_999, n_outputs=1)  # higher feerate, lower fee
    r = reject(node, small, "insufficient fee")
    assert r.debug == f"rejecting replacement {small.txid[::-1].hex()}, less fees than conflicting txs; 0.00002999 < 0.00003"


def test_rule4_incremental_relay(node):
    w = node.wallet
    c = coin(node)
    accept_ok(node, w.spend([c], fee=3_000))
    tx = w.spend([c], fee=3_010)
    assert tx.vsize == 110  # needs 11 sat more at 0.1 sat/vB
    r = reject(node, tx, "insufficient fee")
    assert r.debug.endswith("not enough additional fees to relay; 0.0000001 < 0.00000011")
    accept_ok(node, w.spend([c], fee=3_011))


def test_replacing_a_chain_pays_for_all(node):
    w = node.wallet
    c = coin(node)
    parent = w.spend([c], fee=1_000)
    accept_ok(node, parent)
    tip = parent
    chain = [parent]
    for _ in range(5):
        tip = w.spend(w.outputs_of(tip), fee=10_000)
        accept_ok(node, tip)
        chain.append(tip)
    total = 1_000 + 5 * 10_000
    reject(node, w.spend([c], fee=total - 1), "insufficient fee", "less fees than conflicting txs")
    r = accept_ok(node, w.spend([c], fee=total + 200))
    assert {t.txid for t in r.replaced} == {t.txid for t in chain}
    assert len(node.mempool) == 1


def test_too_many_replacements(node):
    w = node.wallet
    coins = fanout(node, 101, fee=50_000)
    for cc in coins:
        accept_ok(node, w.spend([cc], fee=1_000))
    r = reject(node, w.spend(coins, fee=10**7), "too many potential replacements")
    assert r.debug.endswith("too many potential replacements (101 > 100)")
    accept_ok(node, w.spend(coins[:100], fee=10**7))  # exactly 100 is allowed
    assert len(node.mempool) == 2


def test_replacement_adds_unconfirmed(node):
    w = node.wallet
    a = coin(node)
    accept_ok(node, w.spend([a], fee=1_000))
    unconfirmed = w.spend([coin(node)], fee=1_000)
    accept_ok(node, unconfirmed)
    r = reject(node, w.spend([a, w.outputs_of(unconfirmed)[0]], fee=50_000), "replacement-adds-unconfirmed")
    assert r.debug.endswith("adds unconfirmed input, idx 1")


def test_conflicting_children_within_limits(node):
    # A replacement may spend the same unconfirmed parent as the tx it replaces.
    w = node.wallet
    parent = w.spend([coin(node)], fee=1_000, n_outputs=2)
    accept_ok(node, parent)
    outs = w.outputs_of(parent)
    accept_ok(node, w.spend([outs[0]], fee=1_000))
    accept_ok(node, w.spend([outs[0]], fee=2_000))
    assert len(node.mempool) == 2


def test_prioritise_changes_rbf_verdict(node):
    w = node.wallet
    c = coin(node)
    original = w.spend([c], fee=1_000)
    accept_ok(node, original)
    node.mempool.prioritise(original.txid, 10_000)  # the original now counts as paying 11,000
    reject(node, w.spend([c], fee=5_000), "insufficient fee")
    accept_ok(node, w.spend([c], fee=12_000))


def test_rbf_respects_descendant_limit_after_replacement(node):
    # A chain at the descendant limit can still be extended by replacing its last member.
    w = node.wallet
    tip = w.spend([coin(node)], fee=1_000)
    accept_ok(node, tip)
    parents = [tip]
    for _ in range(24):
        tip = w.spend(w.outputs_of(tip), fee=1_000)
        accept_ok(node, tip)
        parents.append(tip)
    spent = w.outputs_of(parents[-2])
    reject(node, w.spend(w.outputs_of(tip), fee=1_000), "too-long-mempool-chain")
    accept_ok(node, w.spend(spent, fee=5_000, extra_outputs=[TxOut(0, b"\x6a")]))
