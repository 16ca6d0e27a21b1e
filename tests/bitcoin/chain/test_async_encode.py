"""Blocks encoded in encoder processes (``encode_jobs``): the records written are the ones the
in-process path writes, decode to the exact blocks (after reorgs and reopening too), and the block
index never points at a record that is not written."""

from __future__ import annotations

import pickle

import pytest

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.chain.generator import ChainGenerator
from packetfs.bitcoin.primitives import Block

from .test_chainstate import GEN, NOW, coinbase_only_block, model_utxo, utxo_of


def open_cs(path, **kw) -> Chainstate:
    return Chainstate(path, "regtest", jobs=1, now=lambda: NOW, store_mode="codec", **kw)


@pytest.fixture(scope="module")
def blocks() -> list[bytes]:
    return [b.raw for b in ChainGenerator(seed=11, profile="2024", **GEN).blocks(110)]


@pytest.fixture(scope="module")
def chain(blocks) -> list[bytes]:
    return blocks[:106]


def test_encoder_processes_write_the_same_records(tmp_path, chain):
    with open_cs(tmp_path / "sync", encode_jobs=0) as cs:
        for raw in chain:
            cs.process_block(raw)
        cs.flush()
        sync = [cs.store.get_block(e.block_pos) for e in cs.active_chain()[1:]]
        sync_info = [cs.store.block_record_info(e.block_pos) for e in cs.active_chain()[1:]]
    with open_cs(tmp_path / "async", encode_jobs=1) as cs:
        assert cs.encode_jobs == 1
        for raw in chain:
            cs.process_block(raw)
        assert cs.stats.inputs_script_checked == cs.stats.inputs > 50
        cs.flush()
        assert not cs._unstored
        infos = [cs.store.block_record_info(e.block_pos) for e in cs.active_chain()[1:]]
        assert utxo_of(cs) == model_utxo(chain)
    assert sync == chain
    # Same mode and payload size per block: the shipped tx-index answers are the index's answers.
    assert [(i["mode"], i["payload_bytes"]) for i in infos] == [(i["mode"], i["payload_bytes"]) for i in sync_info]
    assert "codec-context" in {i["mode"] for i in infos}
    with open_cs(tmp_path / "async", encode_jobs=1) as cs:
        assert [cs.store.get_block(e.block_pos) for e in cs.active_chain()[1:]] == chain


def test_reorg_while_blocks_are_being_encoded(tmp_path, chain, blocks):
    fork_height = 100
    side = [chain[fork_height - 1]]
    for h in range(fork_height + 1, fork_height + 10):  # 9 blocks: more work than main's 6
        side.append(coinbase_only_block(side[-1], h, tag=h))
    side = side[1:]
    with open_cs(tmp_path / "node", encode_jobs=1) as cs:
        for raw in chain + side:
            cs.process_block(raw)
        assert cs.tip.hash == Block.from_bytes(side[-1]).hash
        assert utxo_of(cs) == model_utxo(chain[:fork_height] + side)
        # Back to the first branch: its blocks are read back from the store (or from the queue).
        more = blocks[106:]
        for raw in more:
            cs.process_block(raw)
        assert cs.tip.height == 110
        assert utxo_of(cs) == model_utxo(chain + more)
    with open_cs(tmp_path / "node", encode_jobs=1) as cs:
        assert cs.tip.height == 110
        for raw in chain + side + more:
            entry = cs.tree.get(Block.from_bytes(raw).hash)
            assert cs.store.get_block(entry.block_pos) == raw  # disconnected blocks decode too


def test_flush_writes_pending_records_before_the_index(tmp_path, chain):
    with open_cs(tmp_path / "node", encode_jobs=1) as cs:
        for raw in chain[:103]:
            cs.process_block(raw)
        pending = list(cs._unstored)
        cs.flush()
        assert not cs._unstored
        for block_hash in pending:
            entry = cs.tree.get(block_hash)
            assert entry.block_pos is not None
            assert cs.store.get_block(entry.block_pos)[:80] == entry.header.serialize()


def test_tx_index_snapshot_answers_as_the_index(tmp_path, chain):
    with open_cs(tmp_path / "node", encode_jobs=0) as cs:
        for raw in chain[:102]:
            cs.process_block(raw)
        block = Block.from_bytes(chain[102])
        snap = pickle.loads(pickle.dumps(cs.txindex.snapshot(block)))
        inside = {tx.txid for tx in block.transactions}
        asked = 0
        for tx in block.transactions[1:]:
            for txin in tx.inputs:
                if txin.prev_txid in inside:
                    continue
                loc = cs.txindex.locate(txin.prev_txid)
                assert snap.locate(txin.prev_txid) == loc
                if loc is not None:
                    asked += 1
                    assert snap.txid_at(*loc) == cs.txindex.txid_at(*loc) == txin.prev_txid
        assert asked > 0
        assert snap.locate(bytes(32)) is None and snap.output(bytes(32), 0) is None
