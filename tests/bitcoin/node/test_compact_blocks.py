"""BIP152 compact blocks (version 2) both ways: serving cmpctblock/blocktxn, reconstructing a block from a
cmpctblock + getblocktxn round, and high-bandwidth announcements. The blocks are the generator's, whose
bytes (computed apart from the node) are what every reconstruction must equal."""

from __future__ import annotations

from packetfs.bitcoin.net.compact import (
    BlockTxn,
    CmpctBlock,
    GetBlockTxn,
    PrefilledTx,
    short_id,
    shortid_keys,
)
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.primitives.encoding import compact_size

N = 460
MSG_CMPCT_BLOCK = 4


def _assemble(header_raw: bytes, txs: list) -> bytes:
    return header_raw + compact_size(len(txs)) + b"".join(t.serialize() for t in txs)


def test_node_serves_compact_blocks_and_missing_transactions(nodes, synced_datadir, raw_peer, make_generator,
                                                            tmp_path) -> None:
    synced_datadir(N, "raw", tmp_path / "a")
    tip_raw = [b.raw for b in make_generator().blocks(N)][-1]
    tip = Block.from_bytes(tip_raw)
    assert len(tip.transactions) > 2
    a = nodes("a")
    p = raw_peer(a.p2p_port)
    p.handshake()
    p.send_msg(b"sendcmpct", b"\x00" + (2).to_bytes(8, "little"))
    p.send_msg(b"getdata", b"\x01" + MSG_CMPCT_BLOCK.to_bytes(4, "little") + tip.hash)
    cmpct = CmpctBlock.decode(p.wait_for("cmpctblock"))
    assert cmpct.header.serialize() == tip_raw[:80]
    keys = shortid_keys(cmpct.header, cmpct.nonce)
    assert cmpct.short_ids == [short_id(keys, t.wtxid) for t in tip.transactions[1:]]
    assert [pf.index for pf in cmpct.prefilled] == [0]
    missing = tuple(range(1, len(tip.transactions)))
    p.send_msg(b"getblocktxn", GetBlockTxn(tip.hash, missing).encode())
    txn = BlockTxn.decode(p.wait_for("blocktxn"))
    rebuilt = _assemble(tip_raw[:80], [cmpct.prefilled[0].tx, *txn.transactions])
    assert rebuilt == tip_raw


def test_node_reconstructs_a_compact_block_and_announces_high_bandwidth(nodes, tools, synced_datadir, raw_peer,
                                                                        make_generator, tmp_path) -> None:
    summary = synced_datadir(N - 1, "raw", tmp_path / "b")
    blocks = [b.raw for b in make_generator().blocks(N)]
    new = Block.from_bytes(blocks[-1])
    b = nodes("b")
    # A listener in high-bandwidth mode: it should get the new block as a cmpctblock, unasked.
    listener = raw_peer(b.p2p_port, "127.0.0.2")
    listener.handshake(height=N - 1)
    listener.send_msg(b"sendcmpct", b"\x01" + (2).to_bytes(8, "little"))
    # It syncs headers first (so the node knows it has block N-1, as Core requires before announcing).
    tip_hash = bytes.fromhex(summary["tip"])[::-1]
    listener.send_msg(b"getheaders", (70016).to_bytes(4, "little") + b"\x01" + tip_hash + bytes(32))
    assert listener.wait_for("headers") == b"\x00"
    # The announcer sends block N as a compact block; the node asks for what it lacks (no mempool: all).
    p = raw_peer(b.p2p_port, "127.0.0.3")
    p.handshake(height=N)
    nonce = 12345
    keys = shortid_keys(new.header, nonce)
    cmpct = CmpctBlock(new.header, nonce, [short_id(keys, t.wtxid) for t in new.transactions[1:]],
                       [PrefilledTx(0, new.transactions[0])])
    p.send_msg(b"cmpctblock", cmpct.encode())
    req = GetBlockTxn.decode(p.wait_for("getblocktxn"))
    assert req.block_hash == new.hash and req.indexes == tuple(range(1, len(new.transactions)))
    p.send_msg(b"blocktxn", BlockTxn(new.hash, [new.transactions[i] for i in req.indexes]).encode())
    tools.wait_until(lambda: tools.chain_info(b.datadir)["height"] == N, 20, "the reconstructed block",
                     on_fail=b.log_text)
    assert tools.chain_info(b.datadir)["best_block_hash"] == new.hash[::-1].hex()
    assert summary["height"] == N - 1
    announced = CmpctBlock.decode(listener.wait_for("cmpctblock"))
    assert announced.header.serialize() == blocks[-1][:80]
