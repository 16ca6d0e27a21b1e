"""Spent coins derived by the SwiftSync client from blocks it holds (netsync.derive_spent_coins) against
undo data made by others: the chain generator's rev files (Core's CBlockUndo format) for a generated chain,
and Bitcoin Core's own undo data for real mainnet blocks (../shared). The locations a frame would carry
are built here the way a sender does, from a txid index of the earlier blocks kept by this test."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.net.bspent import SpentCoin
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.storage.undo import decode_block_undo
from packetfs.bitcoin.swiftsync.netsync import derive_spent_coins
from packetfs.bitcoin.swiftsync.serve import selected_coins


def _flat(undo_bytes: bytes) -> list[SpentCoin]:
    coins = [c for tx in decode_block_undo(undo_bytes) for c in tx]
    return [SpentCoin(i, c.height, c.coinbase, c.value, c.script_pubkey) for i, c in enumerate(coins)]


def test_derived_coins_equal_the_generators_undo_data(chain):
    index: dict[bytes, tuple[int, int, tuple]] = {}  # the sender's tx index: txid -> (height, pos, outputs)
    derived_total = same_block = 0
    for height, (raw, undo) in enumerate(chain.records):
        block = Block.from_bytes(raw)
        inside = {tx.txid for tx in block.transactions}
        located = {}
        for tx in block.transactions[1:]:
            for txin in tx.inputs:
                if txin.prev_txid in inside:
                    same_block += 1
                else:
                    located[txin.prev_txid] = index[txin.prev_txid]
        coins = derive_spent_coins(block, height, located)
        want = _flat(undo) if undo else []
        assert coins == want, height
        derived_total += len(coins)
        for pos, tx in enumerate(block.transactions):
            index[tx.txid] = (height, pos, tuple((o.value, o.script_pubkey) for o in tx.outputs))
    assert derived_total > 500  # the chain spends (transactions from height 101 on)


@pytest.mark.parametrize("name", ["mainnet-367891", "mainnet-757739", "mainnet-866342"])
def test_same_block_spends_of_real_blocks_equal_cores_undo_data(real_blocks, real_undo, manifest, name):
    """With no locations only spends of the block's own earlier transactions are derived; each equals
    Core's undo coin, every other input is left to ask for."""
    height = next(m["height"] for m in manifest if m["name"] == name)
    block = Block.from_bytes(real_blocks[name])
    coins = derive_spent_coins(block, height, {})
    truth = _flat(real_undo[name])
    assert len(coins) == len(truth)
    got = [(c, t) for c, t in zip(coins, truth, strict=True) if c is not None]
    assert all(c == t for c, t in got)
    assert len(got) == {"mainnet-367891": 19, "mainnet-757739": 0, "mainnet-866342": 4036}[name]


def test_what_is_not_derived(real_blocks, manifest):
    """A txid at two locations (ambiguous), an output index past the transaction's outputs, and a txid
    no location names: asked for, never guessed."""
    name = "mainnet-866342"
    height = next(m["height"] for m in manifest if m["name"] == name)
    block = Block.from_bytes(real_blocks[name])
    tx = block.transactions[1]
    txin = tx.inputs[0]
    outs = tuple((v, b"\x51") for v in range(txin.prev_index + 1))
    ok = derive_spent_coins(block, height, {txin.prev_txid: (7, 3, outs)})
    assert ok[0] == SpentCoin(0, 7, False, txin.prev_index, b"\x51")
    assert derive_spent_coins(block, height, {txin.prev_txid: (7, 0, outs)})[0].coinbase  # position 0
    assert derive_spent_coins(block, height, {txin.prev_txid: None})[0] is None  # two locations
    assert derive_spent_coins(block, height, {txin.prev_txid: (7, 3, outs[:-1])})[0] is None  # no such output
    assert derive_spent_coins(block, height, {})[0] is None


def test_a_selection_is_served_from_the_undo_data(real_undo):
    """serve.selected_coins: the coins of exactly the inputs asked, numbered across the block (Core's undo
    data of a real block), or nothing for an input the block does not have."""
    undo = decode_block_undo(real_undo["mainnet-757739"])
    flat = _flat(real_undo["mainnet-757739"])
    picked = (0, 1, len(flat) - 1)
    assert selected_coins(undo, picked) == tuple(flat[i] for i in picked)
    assert selected_coins(undo, (len(flat),)) is None
