"""The mempool, relay and RPC mounted on real `packetfs` nodes (in-process, regtest, loopback, free
ports): blocks mined by RPC on one node reach the other; a transaction sent to one node's RPC
reaches the other's mempool over P2P (inv by wtxid, getdata, tx); an orphan waits for its parent;
mining on the second node empties both pools; the pool survives a restart (mempool.dat)."""


import pytest

from packetfs.bitcoin.mining.wallet import MiniWallet
from packetfs.bitcoin.node.node import Node, NodeConfig
from packetfs.bitcoin.primitives.address import script_to_address
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.rpc.daemon import NodeServices

from .node_threads import Loop, rpc, wait_for


@pytest.fixture
def pair(tmp_path):
    loop = Loop()
    started = []

    async def start(name, connect=()):
        node = Node(NodeConfig(network="regtest", datadir=tmp_path / name, port=0, bind="127.0.0.1",
                               connect=list(connect), max_outbound_full_relay=0, max_block_relay=0))
        await node.start()
        svc = NodeServices(node, rpc_port=0, rpcuser="u", rpcpassword="p")
        await svc.start()
        started.append((node, svc))
        return node, svc

    try:
        a = loop.run(start("a"))
        b = loop.run(start("b", [("127.0.0.1", a[0].port)]))
        yield loop, a, b, start
    finally:
        for node, svc in reversed(started):
            loop.run(svc.stop())
            loop.run(node.stop())
        loop.close()


def test_blocks_and_transactions_relay(pair):
    loop, (na, sa), (nb, sb), start = pair
    ra, rb = rpc(sa), rpc(sb)
    wait_for(lambda: rb.getconnectioncount() == 1 and ra.getconnectioncount() == 1, what="connection")
    w = MiniWallet(b"relay-test")
    addr = script_to_address(w.script_pubkey, "regtest")
    hashes = ra.generatetoaddress(101, addr)
    wait_for(lambda: rb.getblockcount() == 101, what="B to sync A's blocks")
    for i, h in enumerate(hashes[:3]):
        w.scan_block(Block.from_bytes(bytes.fromhex(ra.getblock(h, 0))), i + 1)
    parent = w.spend([w.take(101)], fee=2_000)
    child = w.spend(w.outputs_of(parent), fee=3_000)
    assert ra.sendrawtransaction(parent.serialize().hex()) == parent.txid_hex
    wait_for(lambda: parent.txid_hex in rb.getrawmempool(), what="the tx to reach B")
    # The other way: a child sent to B reaches A.
    assert rb.sendrawtransaction(child.serialize().hex()) == child.txid_hex
    wait_for(lambda: child.txid_hex in ra.getrawmempool(), what="the child to reach A")
    assert ra.getmempoolentry(child.txid_hex)["depends"] == [parent.txid_hex]
    assert [p["connection_type"] for p in rb.getpeerinfo()] == ["manual"]
    # Mining on B empties both pools.
    rb.generatetoaddress(1, addr)
    wait_for(lambda: ra.getblockcount() == 102 and ra.getrawmempool() == [], what="A to see the block")
    assert rb.getrawmempool() == []


def test_orphan_waits_for_parent_and_pool_persists(pair):
    loop, (na, sa), (nb, sb), start = pair
    ra, rb = rpc(sa), rpc(sb)
    wait_for(lambda: rb.getconnectioncount() == 1, what="connection")
    w = MiniWallet(b"orphan-test")
    addr = script_to_address(w.script_pubkey, "regtest")
    hashes = ra.generatetoaddress(101, addr)
    wait_for(lambda: rb.getblockcount() == 101, what="sync")
    w.scan_block(Block.from_bytes(bytes.fromhex(ra.getblock(hashes[0], 0))), 1)
    parent = w.spend([w.take(101)], fee=2_000)
    child = w.spend(w.outputs_of(parent), fee=3_000)
    # Hand B the child as if a peer had sent it: an orphan, kept, and its parent asked for.
    peer_b = next(iter(nb.peers.values()))
    loop.run(sb._on_transaction(peer_b, child))
    assert child.wtxid in sb.orphans and rb.getrawmempool() == []
    assert ra.sendrawtransaction(parent.serialize().hex()) == parent.txid_hex
    wait_for(lambda: set(rb.getrawmempool()) == {parent.txid_hex, child.txid_hex}, what="orphan resolved on B")
    assert child.wtxid not in sb.orphans
    # Restart B: its pool comes back from mempool.dat.
    loop.run(sb.stop())
    loop.run(nb.stop())
    nb2, sb2 = loop.run(start("b", [("127.0.0.1", na.port)]))
    assert set(rpc(sb2).getrawmempool()) == {parent.txid_hex, child.txid_hex}
