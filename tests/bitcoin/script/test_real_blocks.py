"""Every input of the real mainnet blocks that ship undo data verifies with the mainnet flags for
its height, through the fast paths and through the bare interpreter; single-bit mutations of
signatures, amounts and scripts are rejected, with libbitcoinkernel agreeing on each verdict."""

from __future__ import annotations

import random

import pytest
import script_util as U

from packetfs.bitcoin.consensus.pool import verify_batch
from packetfs.bitcoin.primitives import Transaction, TxIn, TxOut
from packetfs.bitcoin.script import PrecomputedTxData, ScriptError, verify_tx_input
from packetfs.bitcoin.script.interpreter import TxChecker, verify_script

BLOCKS = ["mainnet-367891", "mainnet-757739", "mainnet-866342"]


def _height(manifest, name):
    return next(m["height"] for m in manifest if m["name"] == name)


@pytest.mark.parametrize("name", BLOCKS)
def test_every_input_verifies(name, real_blocks, real_undo, manifest):
    flags = U.mainnet_flags(_height(manifest, name))
    n = 0
    failures = []
    for tx, spent in U.block_spends(real_blocks[name], real_undo[name]):
        cache = PrecomputedTxData(tx, spent)
        for i in range(tx.input_count):
            n += 1
            try:
                verify_tx_input(tx, i, spent, flags, cache)
            except ScriptError as e:
                failures.append((tx.txid_hex, i, e.code))
            # The interpreter alone (no template fast path) must agree.
            try:
                verify_script(tx.inputs[i].script_sig, spent[i].script_pubkey, tx.witnesses[i], flags,
                              TxChecker(tx, i, spent[i].value, cache))  # fmt: skip
            except ScriptError as e:
                failures.append((tx.txid_hex, i, "interpreter:" + e.code))
        # Every input again as the validation workers check a tx (verify_batch, P2PKH runs in one loop).
        assert verify_batch(object(), [(0, tx, spent, flags, 0, tx.input_count)]) == (tx.input_count, None)
    expected = next(m["inputs"] for m in manifest if m["name"] == name)
    # The manifest counts non-coinbase inputs.
    assert n == expected
    assert not failures, f"{len(failures)} of {n} inputs failed: {failures[:10]}"


def replace_input(tx: Transaction, index: int, script_sig: bytes, witness: tuple[bytes, ...]) -> Transaction:
    inputs = list(tx.inputs)
    i = inputs[index]
    inputs[index] = TxIn(i.prev_txid, i.prev_index, script_sig, i.sequence)
    witnesses = list(tx.witnesses)
    witnesses[index] = witness
    return Transaction(tx.version, inputs, tx.outputs, tx.locktime, witnesses)


def _looks_like_sig(item: bytes) -> bool:
    return (len(item) in (64, 65)) or (9 <= len(item) <= 73 and item[0] == 0x30)


def _pushes(script: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each push's data in a push-only script."""
    out, pc = [], 0
    while pc < len(script):
        op = script[pc]
        pc += 1
        if op < 0x4C:
            size = op
        elif op == 0x4C:
            size = script[pc]
            pc += 1
        elif op == 0x4D:
            size = int.from_bytes(script[pc : pc + 2], "little")
            pc += 2
        else:
            continue
        out.append((pc, size))
        pc += size
    return out


def flip_signature_bit(tx: Transaction, index: int, rng: random.Random) -> Transaction | None:
    """Flip one bit inside a signature of the input (witness or scriptSig); None if it has none."""
    wit = list(tx.witnesses[index])
    for k, item in enumerate(wit):
        if _looks_like_sig(item):
            bit = rng.randrange(len(item) * 8)
            wit[k] = item[: bit // 8] + bytes([item[bit // 8] ^ (1 << (bit % 8))]) + item[bit // 8 + 1 :]
            return replace_input(tx, index, tx.inputs[index].script_sig, tuple(wit))
    ss = tx.inputs[index].script_sig
    for off, size in _pushes(ss):
        if _looks_like_sig(ss[off : off + size]):
            pos = off + rng.randrange(size)
            ss = ss[:pos] + bytes([ss[pos] ^ (1 << rng.randrange(8))]) + ss[pos + 1 :]
            return replace_input(tx, index, ss, tx.witnesses[index])
    return None


def _ours(tx: Transaction, index: int, spent: list[TxOut], flags: int) -> bool:
    try:
        verify_tx_input(tx, index, spent, flags)
        single = True
    except ScriptError:
        single = False
    # The validation workers' path (consensus.pool.verify_batch: runs of P2PKH inputs in one loop)
    # gives the same verdict for this input.
    assert (verify_batch(object(), [(0, tx, spent, flags, index, index + 1)]) == (1, None)) == single
    return single


@pytest.mark.parametrize("name", BLOCKS)
def test_single_bit_mutations_rejected(name, real_blocks, real_undo, manifest):
    flags = U.mainnet_flags(_height(manifest, name))
    rng = random.Random(name)
    spends = [(tx, spent, i) for tx, spent in U.block_spends(real_blocks[name], real_undo[name])
              for i in range(tx.input_count)]  # fmt: skip
    sample = rng.sample(spends, min(120, len(spends)))
    counts = {"sig": 0, "amount": 0, "script": 0}
    disagreements = []
    for tx, spent, i in sample:
        raw = tx.serialize()
        # Signature bit: always invalid.
        mutated = flip_signature_bit(tx, i, rng)
        if mutated is not None:
            ours, ref = _ours(mutated, i, spent, flags), U.pbk_verify(mutated.serialize(), i, spent, flags)
            assert not ours and not ref, (tx.txid_hex, i, "signature bit")
            counts["sig"] += 1
        # Amount bit: signatures commit to amounts only from segwit on.
        if tx.witnesses[i]:
            bit = rng.randrange(40)
            spent2 = list(spent)
            spent2[i] = TxOut(spent[i].value ^ (1 << bit), spent[i].script_pubkey)
            ours, ref = _ours(tx, i, spent2, flags), U.pbk_verify(raw, i, spent2, flags)
            assert not ours and not ref, (tx.txid_hex, i, "amount bit", bit)
            counts["amount"] += 1
        # Script bit: the verdict must match the kernel's (and is almost always a rejection).
        spk = spent[i].script_pubkey
        if spk:
            bit = rng.randrange(len(spk) * 8)
            spk2 = spk[: bit // 8] + bytes([spk[bit // 8] ^ (1 << (bit % 8))]) + spk[bit // 8 + 1 :]
            spent3 = list(spent)
            spent3[i] = TxOut(spent[i].value, spk2)
            ours, ref = _ours(tx, i, spent3, flags), U.pbk_verify(raw, i, spent3, flags)
            if ours != ref:
                disagreements.append((tx.txid_hex, i, spk2.hex()))
            assert not ours or ref, (tx.txid_hex, i, "script bit", spk2.hex())
            counts["script"] += 1
    assert not disagreements, disagreements
    assert counts["script"] > 0 and counts["sig"] > 0
    if name != "mainnet-367891":  # that block predates segwit
        assert counts["amount"] > 0


@pytest.mark.parametrize("name", BLOCKS)
def test_p2pkh_runs_take_the_real_p2pkh_inputs(name, real_blocks, real_undo, manifest):
    """The one-loop P2PKH path proves every P2PKH input of these blocks (all SIGHASH_ALL, compressed or
    uncompressed keys), so the agreement above is that path's, not only verify_tx_input's."""
    from packetfs.bitcoin.script.fastpath import verify_p2pkh_run

    flags = U.mainnet_flags(_height(manifest, name))
    p2pkh = proven = 0
    for tx, spent in U.block_spends(real_blocks[name], real_undo[name]):
        pre = PrecomputedTxData(tx, spent)
        for i in range(tx.input_count):
            spk = spent[i].script_pubkey
            if len(spk) == 25 and spk[:3] == b"\x76\xa9\x14" and spk[23:] == b"\x88\xac":
                p2pkh += 1
                proven += verify_p2pkh_run(tx, spent, flags, pre, i, i + 1) == i + 1
    assert p2pkh > 0 and proven == p2pkh, (p2pkh, proven)
