"""Packages: well-formedness, 1-parent-1-child CPFP, and mempool_package_rbf.py retold."""



from .helpers import accept_ok, coin, fanout


def pkg(node, c, parent_fee, child_fee, version=3, n_outputs=1):
    w = node.wallet
    parent = w.spend([c], fee=parent_fee, version=version, n_outputs=n_outputs)
    child = w.spend(w.outputs_of(parent)[:1], fee=child_fee, version=version)
    return parent, child


def test_well_formed(node):
    w = node.wallet
    parent, child = pkg(node, coin(node), 1_000, 1_000)
    mp = node.mempool
    assert mp.accept_package([child, parent]).message == "package-not-sorted"
    assert mp.accept_package([parent, parent, child]).message == "package-contains-duplicates"
    stranger = w.spend([coin(node)], fee=1_000)
    assert mp.accept_package([stranger, child]).message == "package-not-child-with-parents"
    c = coin(node)
    a, b = w.spend([c], fee=1_000), w.spend([c], fee=2_000)
    assert mp.accept_package([a, b]).message == "conflict-in-package"
    many = [w.spend([x], fee=1_000) for x in fanout(node, 26)]
    assert mp.accept_package(many).message == "package-too-many-transactions"
    big = [w.spend([coin(node)], fee=5_000, pad_to_vsize=50_000) for _ in range(3)]
    assert mp.accept_package(big).message == "package-too-large"
    assert len(mp) == 0


def test_cpfp_v3_and_v2(node):
    mp = node.mempool
    parent, child = pkg(node, coin(node), 0, 5_000)
    res = mp.accept_package([parent, child])
    assert res.ok and parent.txid in mp and child.txid in mp
    # A non-TRUC parent below the minimum relay fee cannot be carried by its child (Core 30).
    parent, child = pkg(node, coin(node), 0, 5_000, version=2)
    res = mp.accept_package([parent, child])
    assert res.message == "transaction failed"
    assert res.results[parent.wtxid].reason == "min relay fee not met"
    assert parent.txid not in mp
    # Already-present parents are reported as such and the child goes in on its own.
    parent, child = pkg(node, coin(node), 1_000, 1_000, version=2)
    accept_ok(node, parent)
    res = mp.accept_package([parent, child])
    assert res.ok and res.results[parent.wtxid].already_in_mempool and child.txid in mp


def test_package_below_mempool_min_fee_fails(node):
    mp = node.mempool
    mp.rolling_min_fee = 50_000.0  # as if evictions had raised it (50 sat/vB)
    parent, child = pkg(node, coin(node), 0, 1_000)
    res = mp.accept_package([parent, child])
    assert res.message == "transaction failed"
    parent, child = pkg(node, coin(node), 0, 30_000)
    assert mp.accept_package([parent, child]).ok


def test_package_rbf(node):
    mp = node.mempool
    c = coin(node)
    p1, c1 = pkg(node, c, 1_000, 4_000)
    assert mp.accept_package([p1, c1]).ok
    # Same fees, higher feerate is not enough: the total fee must grow by the incremental relay fee.
    p2, c2 = pkg(node, c, 0, 5_000)
    res = mp.accept_package([p2, c2])
    assert res.message == "package RBF failed: insufficient anti-DoS fees"
    assert "not enough additional fees to relay; 0.00 < 0.000000" in res.debug
    assert p1.txid in mp and p2.txid not in mp
    # Lower total fee.
    p2, c2 = pkg(node, c, 0, 4_000)
    res = mp.accept_package([p2, c2])
    assert res.message == "package RBF failed: insufficient anti-DoS fees"
    assert "less fees than conflicting txs" in res.debug
    # The child must raise the package above the parent's own feerate (the parent cannot replace
    # alone: 4,500 < 5,000).
    p2, c2 = pkg(node, c, 4_500, 600)
    res = mp.accept_package([p2, c2])
    assert res.message == "package RBF failed: package feerate is less than or equal to parent feerate"
    # A proper replacement.
    p3, c3 = pkg(node, c, 0, 10_000)
    res = mp.accept_package([p3, c3])
    assert res.ok, res
    assert {t.txid for t in res.replaced} == {p1.txid, c1.txid}
    assert p1.txid not in mp and c1.txid not in mp and p3.txid in mp and c3.txid in mp


def test_package_rbf_cluster_limit(node):
    mp = node.mempool
    w = node.wallet
    c = coin(node)
    base = w.spend([c], fee=1_000, version=2)
    accept_ok(node, base)
    mid = w.spend(w.outputs_of(base), fee=1_000, version=2)
    accept_ok(node, mid)
    accept_ok(node, w.spend(w.outputs_of(mid), fee=1_000, version=2))
    p = w.spend([c], fee=1_000, version=2, n_outputs=2)  # lower feerate than ``base``: fails alone
    ch = w.spend(w.outputs_of(p)[:1], fee=100_000, version=2)
    res = mp.accept_package([p, ch])
    assert res.message == f"package RBF failed: {base.txid[::-1].hex()} has 2 descendants, max 1 allowed"
    assert base.txid in mp and p.txid not in mp


def test_package_rbf_shape(node):
    mp = node.mempool
    w = node.wallet
    c1, c2 = coin(node), coin(node)
    accept_ok(node, w.spend([c1], fee=2_000, version=2))
    accept_ok(node, w.spend([c2], fee=2_000, version=2))
    p1 = w.spend([c1], fee=1_000, version=2)  # each fails rule 6 alone
    p2 = w.spend([c2], fee=1_000, version=2)
    child = w.spend(w.outputs_of(p1) + w.outputs_of(p2), fee=50_000, version=2)
    res = mp.accept_package([p1, p2, child])
    assert res.message == "package RBF failed: package must be 1-parent-1-child"
    # With one parent already in the pool the rest is 1p1c, but it has a mempool ancestor.
    c3 = coin(node)
    accept_ok(node, w.spend([c3], fee=2_000, version=2))
    p3 = w.spend([c3], fee=1_000, version=2)
    p4 = w.spend([coin(node)], fee=1_000, version=2)
    accept_ok(node, p4)
    child = w.spend(w.outputs_of(p3) + w.outputs_of(p4), fee=50_000, version=2)
    res = mp.accept_package([p3, p4, child])
    assert res.message == "package RBF failed: new transaction cannot have mempool ancestors"
