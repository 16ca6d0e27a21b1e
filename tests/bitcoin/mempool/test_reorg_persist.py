"""mempool_reorg.py and mempool_persist.py retold, and the orphan pool."""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.mempool import MempoolFileError, OrphanPool, dump_mempool, load_mempool
from packetfs.bitcoin.mempool.persist import read_mempool_file
from packetfs.bitcoin.mempool.pool import ChainstateView, Mempool
from packetfs.bitcoin.mining.regtest import RegtestNode
from packetfs.bitcoin.mining.wallet import WalletCoin

from .helpers import accept_ok, coin


def _copy_chain(src: RegtestNode, dst: RegtestNode) -> None:
    for e in src.chainstate.active_chain()[1:]:
        dst.sync.process_block(src.block(e.hash).serialize())
    assert dst.chainstate.tip.hash == src.chainstate.tip.hash


def test_reorg_returns_transactions_and_drops_conflicts(node, node_factory):
    a = node
    b = node_factory("b")  # the same 200 blocks
    assert b.chainstate.tip.hash == a.chainstate.tip.hash
    w = a.wallet
    c1, c2, c3 = coin(a), coin(a), coin(a)
    tx1 = w.spend([c1], fee=1_000)
    a.mine(1, transactions=[tx1])  # A's block 201 confirms tx1
    tx2 = w.spend([WalletCoin(tx1.txid, 0, tx1.outputs[0].value, a.height)], fee=1_000)
    accept_ok(a, tx2)  # child of the confirmed tx1
    tx4 = w.spend([c2], fee=1_000)
    accept_ok(a, tx4)
    tx5 = w.spend([c3], fee=1_000)
    accept_ok(a, tx5)
    # B confirms a different spend of c2 and builds a longer chain.
    tx3 = b.wallet.spend([c2], fee=5_000, n_outputs=2)
    b.mine(1, transactions=[tx3])
    b.mine(1)
    for h in b.chainstate.active_chain()[201:]:
        a.sync.process_block(b.block(h.hash).serialize())
    assert a.chainstate.tip.hash == b.chainstate.tip.hash and a.height == 202
    mp = a.mempool
    assert tx1.txid in mp  # back from the disconnected block
    assert tx2.txid in mp and mp.get(tx2.txid).parents == {tx1.txid}
    assert mp.get(tx1.txid).desc_count == 2 and mp.get(tx2.txid).anc_count == 2
    assert tx4.txid not in mp  # conflicts with tx3, now confirmed
    # Block 202 of B was mined from B's own (empty) mempool: tx5 is still waiting in A's.
    assert tx5.txid in mp
    # Everything left can be mined: a block from A's pool is valid.
    a.mine(1)
    assert len(mp) == 0


def test_persist_roundtrip(node, clock, tmp_path):
    w = node.wallet
    parent = w.spend([coin(node)], fee=1_000)
    accept_ok(node, parent)
    child = w.spend(w.outputs_of(parent), fee=2_000)
    accept_ok(node, child)
    clock.t += 100
    v3 = w.spend([coin(node)], fee=3_000, version=3)
    accept_ok(node, v3)
    node.mempool.prioritise(v3.txid, 7_000)
    node.mempool.prioritise(b"\x42" * 32, 123)  # a delta for a tx we do not have
    path = tmp_path / "mempool.dat"
    assert dump_mempool(node.mempool, path) == 3
    fresh = Mempool(ChainstateView(node.chainstate), now=clock)
    stats = load_mempool(fresh, path)
    assert (stats.accepted, stats.failed, stats.expired) == (3, 0, 0)
    assert set(fresh.entries) == set(node.mempool.entries)
    for t, e in node.mempool.entries.items():
        f = fresh.entries[t]
        assert (f.time, f.fee, f.delta, f.anc_count, f.desc_count) == (e.time, e.fee, e.delta, e.anc_count, e.desc_count)
    assert fresh.deltas[b"\x42" * 32] == 123


def test_persist_rechecks_and_expires(node, clock, tmp_path):
    w = node.wallet
    c = coin(node)
    doomed = w.spend([c], fee=1_000)
    accept_ok(node, doomed)
    keep = w.spend([coin(node)], fee=1_000)
    accept_ok(node, keep)
    old = w.spend([coin(node)], fee=1_000)
    # Accepted 400 h ago (bypassing limits, as a reorg would, so the expiry pass does not run now).
    assert node.mempool.accept(old, accept_time=int(clock.t) - 400 * 3600, bypass_limits=True).accepted
    path = tmp_path / "mempool.dat"
    dump_mempool(node.mempool, path)
    node.mine(1, transactions=[w.spend([c], fee=9_000)])  # the chain now spends ``doomed``'s input
    fresh = Mempool(ChainstateView(node.chainstate), now=clock)
    stats = load_mempool(fresh, path)
    assert (stats.accepted, stats.failed, stats.expired) == (1, 1, 1)
    assert set(fresh.entries) == {keep.txid}


def test_persist_bad_files(node, tmp_path):
    good = tmp_path / "good.dat"
    w = node.wallet
    accept_ok(node, w.spend([coin(node)], fee=1_000))
    dump_mempool(node.mempool, good)
    data = good.read_bytes()
    with pytest.raises(MempoolFileError, match="truncated"):
        read_mempool_file(data[:-20])
    with pytest.raises(MempoolFileError, match="version 7"):
        read_mempool_file(struct.pack("<QQ", 7, 0) + b"\x00\x00")
    with pytest.raises(MempoolFileError, match="more than its"):
        read_mempool_file(struct.pack("<QQ", 1, 1 << 60))
    with pytest.raises(MempoolFileError, match="trailing"):
        read_mempool_file(data + b"\x00")
    assert load_mempool(node.mempool, tmp_path / "absent.dat").accepted == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_fuzz_mempool_file(blob):
    for data in (blob, struct.pack("<QQ", 1, 1) + blob, struct.pack("<QQ", 1, 0) + blob):
        try:
            read_mempool_file(data)
        except MempoolFileError:
            pass


def test_orphan_pool(node):
    w = node.wallet
    pool = OrphanPool(max_announcements=10)
    parent = w.spend([coin(node)], fee=1_000, n_outputs=12)
    kids = [w.spend([o], fee=1_000) for o in w.outputs_of(parent)]
    for i, k in enumerate(kids[:8]):
        assert pool.add(k, peer=1 if i < 6 else 2)
    assert pool.children_of(parent) == kids[:8]
    # A flood from peer 3 evicts peer 3's and the biggest announcer's oldest first, never past the limit.
    for k in kids[8:]:
        pool.add(k, peer=3)
    assert pool.announcements() <= 10 and len(pool) == 10
    pool.add(kids[0], peer=2)  # a second announcer
    assert pool.erase_for_peer(1) >= 1
    assert kids[0].wtxid in pool or pool.announcements() <= 10
    assert pool.erase_for_block([parent, kids[11]]) >= 1
    assert kids[11].wtxid not in pool
    big = w.spend([coin(node)], fee=1_000_000, pad_to_vsize=100_100)
    assert not pool.add(big, peer=9)
