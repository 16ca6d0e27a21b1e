"""BIP133 feefilter between two in-process `packetfs` nodes with their mempools (regtest, loopback):

- sending: after the handshake each node tells the other its mempool's minimum fee, MAX_MONEY (rounded)
  while in initial block download and the real value (the 100 sat/kvB min relay fee) once out of it;
  never to a block-relay-only peer;
- honouring: a node does not announce a transaction whose fee rate is below the peer's filter, and does
  announce one above it;
- the rounder against an independent recomputation of Core's buckets."""

import random
import time
from decimal import Decimal

import pytest

from packetfs.bitcoin.mining.wallet import MiniWallet
from packetfs.bitcoin.net.ping import FeeFilter
from packetfs.bitcoin.node.feefilter import FeeFilterRounder, FeeFilterSender
from packetfs.bitcoin.node.node import Node, NodeConfig
from packetfs.bitcoin.node.peer import ConnectionType
from packetfs.bitcoin.primitives.address import script_to_address
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.rpc.daemon import NodeServices

from .node_threads import Loop, rpc, wait_for

MAX_MONEY = 21_000_000 * 100_000_000


def core_buckets(incremental: int) -> list[float]:
    """Core's FeeFilterRounder set, recomputed: 0, then max(1, incremental/2) * 1.1^k up to 1e7."""
    out = [0.0]
    k = 0
    while max(1, incremental // 2) * 1.1 ** k <= 1e7 * (1 + 1e-12):
        out.append(float(max(1, incremental // 2)) * 1.1 ** k)
        k += 1
    return out


def test_rounder_matches_core_buckets():
    buckets = core_buckets(100)
    r = FeeFilterRounder(100, random.Random(7))
    assert len(r.buckets) == len(buckets)
    assert all(abs(a - b) <= 1e-6 * b for a, b in zip(r.buckets, buckets, strict=True))
    assert r.round(0) == 0
    top = int(buckets[-1])
    assert r.round(MAX_MONEY) == top and 9_000_000 < top <= 10_000_000
    # 1000 sat/kvB lies between two boundaries: the one above (about 1/3) or the one below (about 2/3).
    above = min(b for b in buckets if b >= 1000)
    below = max(b for b in buckets if b < 1000)
    draws = [r.round(1000) for _ in range(3000)]
    assert set(draws) == {int(above), int(below)}
    assert 0.6 < draws.count(int(below)) / len(draws) < 0.73


@pytest.fixture
def nodes(tmp_path):
    loop = Loop()
    started = []

    async def start(name, connect=()):
        node = Node(NodeConfig(network="regtest", datadir=tmp_path / name, port=0, bind="127.0.0.1",
                               connect=list(connect), max_outbound_full_relay=0, max_block_relay=0,
                               flush_interval=0.2))
        await node.start()
        svc = NodeServices(node, rpc_port=0, rpcuser="u", rpcpassword="p")
        await svc.start()
        started.append((node, svc))
        return node, svc

    try:
        yield loop, start
    finally:
        for node, svc in reversed(started):
            loop.run(svc.stop())
            loop.run(node.stop())
        loop.close()


def filter_of(node, other_port=None):
    """The feefilter ``node`` received from its (only, or given) peer."""
    for p in list(node.peers.values()):
        if p.handshake_done.is_set():
            return p.state.fee_filter
    return None


def test_feefilter_sent_after_handshake_and_after_ibd(nodes):
    loop, start = nodes
    na, sa = loop.run(start("a"))
    nb, sb = loop.run(start("b", [("127.0.0.1", na.port)]))
    top = int(core_buckets(100)[-1])
    # Fresh regtest chains (genesis from 2011) are in initial block download: "send me nothing".
    wait_for(lambda: filter_of(na) == top and filter_of(nb) == top, what="IBD feefilters")
    w = MiniWallet(b"feefilter-ibd")
    rpc(sa).generatetoaddress(1, script_to_address(w.script_pubkey, "regtest"))
    wait_for(lambda: rpc(sb).getblockcount() == 1, what="B to sync")
    # Out of IBD with an empty pool: the filter falls to the min relay fee at once (Core resends when
    # the last value sent was the IBD maximum).
    wait_for(lambda: filter_of(na) == 100 and filter_of(nb) == 100, what="post-IBD feefilters")
    # Out-of-range filters are ignored, as Core (MoneyRange); an in-range one replaces the old.
    (peer,) = na.peers.values()
    for bad in (-1, MAX_MONEY + 1):
        loop.run(na.on_feefilter(peer, FeeFilter(bad)))
        assert peer.state.fee_filter == 100
    loop.run(na.on_feefilter(peer, FeeFilter(MAX_MONEY)))
    assert peer.state.fee_filter == MAX_MONEY
    info = rpc(sb).getpeerinfo()
    assert [p["minfeefilter"] for p in info] == [Decimal("0.00000100")]  # BTC/kvB, as Core


def test_no_feefilter_to_block_relay_only_peer(nodes):
    loop, start = nodes
    na, sa = loop.run(start("a"))
    nb, sb = loop.run(start("b"))
    loop.call(lambda: nb.connect_once("127.0.0.1", na.port, ConnectionType.BLOCK_RELAY))
    wait_for(lambda: any(p.handshake_done.is_set() for p in na.peers.values())
             and any(p.handshake_done.is_set() for p in nb.peers.values()), what="connection")
    time.sleep(1.5)  # a few housekeeping ticks
    (pa,) = na.peers.values()  # A's side: an inbound connection (whose version said relay=false)
    (pb,) = nb.peers.values()
    assert pb.conn_type is ConnectionType.BLOCK_RELAY
    assert pa.state.fee_filter == 0 and pb.state.fee_filter_sent == 0  # B sent none
    # A (inbound side) does send one: only outbound block-relay-only connections are skipped.
    assert pb.state.fee_filter == int(core_buckets(100)[-1])


def test_transactions_below_peer_feefilter_are_not_announced(nodes):
    loop, start = nodes
    na, sa = loop.run(start("a"))
    ra = rpc(sa)
    w = MiniWallet(b"feefilter-honour")
    addr = script_to_address(w.script_pubkey, "regtest")
    hashes = ra.generatetoaddress(101, addr)
    for i, h in enumerate(hashes[:3]):
        w.scan_block(Block.from_bytes(bytes.fromhex(ra.getblock(h, 0))), i + 1)
    # A's pool takes anything at 100 sat/kvB, but A asks its peers for >= ~20,000 sat/kvB only.
    na.fee_filter = FeeFilterSender(lambda: 20_000, min_relay_fee=100, incremental_relay_fee=100)
    nb, sb = loop.run(start("b", [("127.0.0.1", na.port)]))
    rb = rpc(sb)
    wait_for(lambda: rb.getblockcount() == 101, what="B to sync")
    wait_for(lambda: (filter_of(nb) or 0) >= 18_000, what="A's feefilter at B")
    got = filter_of(nb)
    assert got <= 22_000
    low = w.spend([w.take(101)], fee=300)
    high = w.spend([w.take(101)], fee=10_000)
    assert low.vsize * got // 1000 > 300 and 10_000 > high.vsize * got // 1000 + 1  # really below/above
    assert rb.sendrawtransaction(low.serialize().hex()) == low.txid_hex
    assert rb.sendrawtransaction(high.serialize().hex()) == high.txid_hex
    wait_for(lambda: high.txid_hex in ra.getrawmempool(), what="the high-fee tx to reach A")
    time.sleep(0.5)
    assert low.txid_hex not in ra.getrawmempool()
    # A would have taken it: only B's respect for the filter kept it away.
    assert ra.testmempoolaccept([low.serialize().hex()])[0]["allowed"] is True
