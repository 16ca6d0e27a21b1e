"""The inlined fast paths of the per-block rules give exactly what the general functions give:
legacy sigops, sigop cost and CheckTransaction on real mainnet blocks and on hand-made edge cases."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.consensus.errors import ValidationError
from packetfs.bitcoin.consensus.params import script_flags_for_block
from packetfs.bitcoin.consensus.sigops import (
    is_pay_to_script_hash,
    legacy_sigop_count,
    p2sh_sigop_count,
    tx_legacy_sigop_count,
    tx_sigop_cost,
    witness_sigop_count,
)
from packetfs.bitcoin.consensus.tx_rules import check_transaction
from packetfs.bitcoin.primitives import Block, Transaction, TxIn, TxOut
from packetfs.bitcoin.script.flags import ScriptFlags
from packetfs.bitcoin.storage.undo import decode_block_undo

WITH_UNDO = {"mainnet-367891": 367891, "mainnet-757739": 757739, "mainnet-866342": 866342}


def reference_legacy(tx: Transaction) -> int:
    return sum(legacy_sigop_count(i.script_sig) for i in tx.inputs) + sum(
        legacy_sigop_count(o.script_pubkey) for o in tx.outputs
    )


def reference_cost(tx: Transaction, coins, flags: int) -> int:
    cost = reference_legacy(tx) * 4
    if tx.is_coinbase():
        return cost
    if flags & ScriptFlags.P2SH:
        cost += 4 * sum(
            p2sh_sigop_count(c.script_pubkey, i.script_sig)
            for i, c in zip(tx.inputs, coins, strict=True)
            if is_pay_to_script_hash(c.script_pubkey)
        )
    for i, c, w in zip(tx.inputs, coins, tx.witnesses, strict=True):
        cost += witness_sigop_count(i.script_sig, c.script_pubkey, w, int(flags))
    return cost


@pytest.mark.parametrize("name", sorted(WITH_UNDO))
def test_sigops_match_the_general_functions_on_real_blocks(real_blocks, real_undo, name):
    block = Block.from_bytes(real_blocks[name])
    undo = decode_block_undo(real_undo[name])
    height = WITH_UNDO[name]
    for flags in (script_flags_for_block(height, block.hash, "mainnet"), 0, int(ScriptFlags.P2SH)):
        for i, tx in enumerate(block.transactions):
            fresh = Transaction.from_bytes(tx.serialize())  # no memoised count
            assert tx_legacy_sigop_count(fresh) == reference_legacy(fresh)
            coins = undo[i - 1] if i else None
            assert tx_sigop_cost(fresh, coins, flags) == reference_cost(fresh, coins, flags)


def _tx(script_sigs, script_pubkeys, witnesses=None) -> Transaction:
    inputs = [TxIn(bytes([k + 1]) * 32, k, s, 0xFFFFFFFF) for k, s in enumerate(script_sigs)]
    return Transaction(2, inputs, [TxOut(1000, s) for s in script_pubkeys], 0, witnesses)


P2PKH = b"\x76\xa9\x14" + bytes(20) + b"\x88\xac"
EDGE_SCRIPTS = [
    b"", P2PKH, P2PKH[:-1] + b"\xad", b"\x00\x14" + bytes(20), b"\x00\x14" + b"\xac" * 20,
    b"\x00\x20" + b"\xae" * 32, b"\x51\x20" + b"\xac" * 32, b"\x52\x20" + b"\xac" * 32,
    b"\xa9\x14" + b"\xac" * 20 + b"\x87", b"\xa9\x14" + b"\xac" * 20 + b"\x88", b"\xac\xae\xaf",
    b"\x52\xae", b"\x4c\x02\xac", b"\x4c\x01", b"\x05\xac", b"\x02\xac\xac\xac", b"\x00\xac",
]  # fmt: skip


def test_sigops_fast_paths_on_edge_scripts():
    # Near-templates, truncated pushes and sigop bytes inside pushes: every script both as a
    # scriptSig and as a scriptPubKey, and as the coin an input spends.
    sigs = EDGE_SCRIPTS + [b"\x47" + b"\xac" * 71 + b"\x21" + b"\xad" * 33, b"\x01", b"\x4b" + b"\xac" * 74]
    for flags in (0, int(ScriptFlags.P2SH), int(ScriptFlags.P2SH | ScriptFlags.WITNESS)):
        for spk in EDGE_SCRIPTS:
            wit = [[b"\xac" * 3, b"\x52\xae"]] * len(sigs)
            tx = _tx(sigs, [spk, P2PKH], wit)
            assert tx_legacy_sigop_count(tx) == reference_legacy(tx)
            coins = [TxOut(1, spk)] * len(sigs)
            fresh = Transaction.from_bytes(tx.serialize())
            assert tx_sigop_cost(fresh, coins, flags) == reference_cost(tx, coins, flags)


def test_check_transaction_edge_cases():
    prev = bytes(range(32))
    ok = Transaction(1, [TxIn(prev, 0, b"", 0), TxIn(prev, 1, b"", 0)], [TxOut(1, b"")])
    check_transaction(ok)
    cases = {
        "bad-txns-inputs-duplicate": Transaction(1, [TxIn(prev, 0, b"", 0), TxIn(prev, 0, b"", 1)], [TxOut(1, b"")]),
        "bad-txns-prevout-null": Transaction(1, [TxIn(prev, 0, b"", 0), TxIn(bytes(32), 0xFFFFFFFF, b"", 0)], [TxOut(1, b"")]),
        "bad-txns-vout-negative": Transaction(1, [TxIn(prev, 0, b"", 0)], [TxOut(-1, b"")]),
        "bad-txns-vout-toolarge": Transaction(1, [TxIn(prev, 0, b"", 0)], [TxOut(21_000_000 * 10**8 + 1, b"")]),
        "bad-txns-txouttotal-toolarge": Transaction(1, [TxIn(prev, 0, b"", 0)], [TxOut(21_000_000 * 10**8, b"")] * 2),
        "bad-cb-length": Transaction(1, [TxIn(bytes(32), 0xFFFFFFFF, b"\x01", 0)], [TxOut(1, b"")]),
    }  # fmt: skip
    for reason, tx in cases.items():
        for t in (tx, Transaction.from_bytes(tx.serialize())):  # built and parsed (lazy) forms
            with pytest.raises(ValidationError) as e:
                check_transaction(t)
            assert e.value.reason == reason
    # A single null-prevout input is a coinbase (and a valid one here), not bad-txns-prevout-null.
    check_transaction(Transaction(1, [TxIn(bytes(32), 0xFFFFFFFF, b"\x01\x02", 0)], [TxOut(1, b"")]))
