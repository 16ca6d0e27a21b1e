"""Chain limits and mempool_limit.py retold: ancestor/descendant limits, the size limit with eviction
by descendant score and a rising minimum fee that decays, and expiry."""

from packetfs.bitcoin.mempool import PolicyOptions, TxResult
from packetfs.bitcoin.mempool.policy import FeeRate

from .helpers import accept_ok, coin, reject


def test_ancestor_count_limit(node):
    w = node.wallet
    tip = w.spend([coin(node)], fee=1_000)
    accept_ok(node, tip)
    for _ in range(24):
        tip = w.spend(w.outputs_of(tip), fee=1_000)
        accept_ok(node, tip)
    e = node.mempool.get(tip.txid)
    assert e.anc_count == 25 and e.anc_fees == 25_000
    r = reject(node, w.spend(w.outputs_of(tip), fee=1_000), "too-long-mempool-chain")
    assert r.debug == "too many unconfirmed ancestors [limit: 25]"


def test_descendant_count_limit_and_cpfp_carve_out(node):
    w = node.wallet
    parent = w.spend([coin(node)], fee=1_000, n_outputs=30)
    accept_ok(node, parent)
    outs = w.outputs_of(parent)
    for o in outs[:24]:
        accept_ok(node, w.spend([o], fee=1_000))
    assert node.mempool.get(parent.txid).desc_count == 25
    # One more child with a single unconfirmed ancestor: Core's CPFP carve-out lets it in...
    accept_ok(node, w.spend([outs[24]], fee=1_000))
    # ...but only one, and never a big one or a TRUC one.
    r = reject(node, w.spend([outs[25]], fee=1_000), "too-long-mempool-chain")
    assert r.debug == f"too many descendants for tx {parent.txid[::-1].hex()} [limit: 25]"
    grandchild_parent = w.outputs_of(node.mempool.get(next(iter(node.mempool.get(parent.txid).children))).tx)
    r = reject(node, w.spend(grandchild_parent, fee=1_000), "too-long-mempool-chain")  # two ancestors: no carve-out
    assert r.debug == f"too many descendants for tx {parent.txid[::-1].hex()} [limit: 25]"


def test_ancestor_size_limit(node):
    w = node.wallet
    tip = w.spend([coin(node)], fee=50_000, pad_to_vsize=40_000)
    accept_ok(node, tip)
    tip = w.spend(w.outputs_of(tip)[:1], fee=50_000, pad_to_vsize=40_000)
    accept_ok(node, tip)
    r = reject(node, w.spend(w.outputs_of(tip)[:1], fee=50_000, pad_to_vsize=30_000), "too-long-mempool-chain")
    assert r.debug == "exceeds ancestor size limit [limit: 101000]"


def test_size_limit_evicts_lowest_descendant_score(node_factory, clock):
    # Room for about 12 small transactions.
    n = node_factory("n", PolicyOptions(max_size_bytes=12 * 700))
    w = n.wallet
    txs = []
    for i in range(20):
        tx = w.spend([coin(n)], fee=1_000 + 100 * i)
        r = n.mempool.accept(tx)
        txs.append((tx, r))
    mp = n.mempool
    assert mp.usage <= 12 * 700
    kept = [tx for tx, _ in txs if tx.txid in mp]
    gone = [tx for tx, _ in txs if tx.txid not in mp]
    # The cheapest went first; everything kept pays more than everything evicted.
    assert gone and max(mp.get(t.txid).fee for t in kept) > 1_000
    assert min(mp.get(t.txid).fee for t in kept) > max(1_000 + 100 * i for i, (t, _) in enumerate(txs) if t in gone)
    # The minimum fee rose to the last evicted rate plus the incremental relay fee.
    worst_gone = max((1_000 + 100 * i for i, (t, _) in enumerate(txs) if t in gone))
    floor = mp.min_fee()
    assert floor.sat_per_kvb == worst_gone * 1000 // 110 + 100
    r = reject(n, w.spend([coin(n)], fee=floor.fee(110) - 1), "mempool min fee not met")
    assert r.result == TxResult.RECONSIDERABLE and r.debug == f"{floor.fee(110) - 1} < {floor.fee(110)}"
    # A lone tx at the floor is the cheapest in the pool and is evicted at once; with a rich
    # child in the same package it is kept (eviction goes by descendant score).
    parent = w.spend([coin(n)], fee=floor.fee(110))
    reject(n, parent, "mempool full")
    res = mp.accept_package([parent, w.spend(w.outputs_of(parent), fee=40_000)])
    assert res.ok, res
    assert parent.txid in mp
    # The floor decays with a half-life of 12 h (3 h while the pool is under a quarter full),
    # counted from the next block.
    before = mp.min_fee().sat_per_kvb
    clock.t += 12 * 3600
    assert mp.min_fee().sat_per_kvb == before  # no block yet
    n.mine(1)
    clock.t += 12 * 3600
    assert mp.min_fee().sat_per_kvb < before
    clock.t += 30 * 24 * 3600
    assert mp.min_fee() == FeeRate(0)


def test_full_mempool_rejects_what_it_would_evict(node_factory, clock):
    n = node_factory("n", PolicyOptions(max_size_bytes=3 * 800))
    w = n.wallet
    for _ in range(3):
        accept_ok(n, w.spend([coin(n)], fee=50_000))
    r = reject(n, w.spend([coin(n)], fee=500), "mempool full")
    assert r.result == TxResult.RECONSIDERABLE


def test_expiry_removes_descendants(node, clock):
    w = node.wallet
    old = w.spend([coin(node)], fee=1_000)
    accept_ok(node, old)
    clock.t += 300 * 3600
    child = w.spend(w.outputs_of(old), fee=1_000)
    accept_ok(node, child)
    clock.t += 36 * 3600 + 1  # ``old`` is now 336 h + 1 s old
    accept_ok(node, w.spend([coin(node)], fee=1_000))  # acceptance runs expiry
    assert old.txid not in node.mempool and child.txid not in node.mempool
    assert len(node.mempool) == 1


def test_block_removes_mined_and_conflicts(node):
    w = node.wallet
    c = coin(node)
    in_pool = w.spend([c], fee=1_000)
    accept_ok(node, in_pool)
    child = w.spend(w.outputs_of(in_pool), fee=1_000)
    accept_ok(node, child)
    other = w.spend([coin(node)], fee=1_000)
    accept_ok(node, other)
    double_spend = w.spend([c], fee=500, n_outputs=2)
    node.mine(1, transactions=[double_spend])
    assert in_pool.txid not in node.mempool and child.txid not in node.mempool
    assert other.txid in node.mempool
    node.mine(1)
    assert len(node.mempool) == 0
