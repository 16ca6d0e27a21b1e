"""Full block validation with the real undo data: the three blocks validate, and mutations of them
are rejected with Core's reason and the right transaction and input."""

from __future__ import annotations

import pytest
from consensus_helpers import flip_bit, kernel_input_ok, make_tx, rebuild, recommit_witness, replace_tx

from packetfs.bitcoin.consensus.errors import ContextError, ValidationError, script_failure_reason
from packetfs.bitcoin.consensus.params import block_subsidy, script_flags_for_block
from packetfs.bitcoin.consensus.pool import ScriptCheckPool
from packetfs.bitcoin.consensus.validate import validate_block
from packetfs.bitcoin.errors import ParseError
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.primitives.hashes import sha256
from packetfs.bitcoin.primitives.transaction import TxOut
from packetfs.bitcoin.storage.undo import Coin, decode_block_undo

P2WPKH = b"\x00\x14" + bytes(20)  # an output with no legacy sigops
UNDO_BLOCKS = {"mainnet-367891": 367891, "mainnet-757739": 757739, "mainnet-866342": 866342}
SMALL = "mainnet-757739"


@pytest.fixture(scope="module")
def data(real_blocks, real_undo):
    return {n: (Block.from_bytes(real_blocks[n]), decode_block_undo(real_undo[n])) for n in UNDO_BLOCKS}


@pytest.fixture(scope="module")
def pool():
    with ScriptCheckPool(2) as p:
        yield p


def spent_txouts(coins):
    return [TxOut(c.value, c.script_pubkey) for c in coins]


@pytest.mark.parametrize("name", sorted(UNDO_BLOCKS))
def test_real_blocks_validate_fully(name, data, manifest, pool):
    block, undo = data[name]
    height = UNDO_BLOCKS[name]
    result = validate_block(block, undo, height, "mainnet", pool=pool)
    entry = next(m for m in manifest if m["name"] == name)
    # Every input's script was verified (the manifest counts non-coinbase inputs).
    assert result.inputs_verified == result.inputs == entry["inputs"]
    # Fees: inputs minus outputs of every tx, computed here straight from the data.
    fees = sum(c.value for coins in undo for c in coins) - sum(
        o.value for t in block.transactions[1:] for o in t.outputs
    )
    assert result.fees == fees
    # The coinbase claims at most subsidy + fees (all these miners claimed it in full or nearly).
    assert sum(o.value for o in block.transactions[0].outputs) <= fees + block_subsidy(height, "mainnet")
    assert result.block_hash == entry["hash"]


def test_sequential_and_parallel_agree_on_valid_block(data):
    block, undo = data[SMALL]
    one = validate_block(block, undo, 757739, "mainnet", jobs=1)
    two = validate_block(block, undo, 757739, "mainnet", jobs=2)
    assert (one.inputs_verified, one.fees, one.sigop_cost) == (two.inputs_verified, two.fees, two.sigop_cost)


def test_bytes_and_plain_txouts_are_accepted(real_blocks, data):
    block, undo = data[SMALL]
    result = validate_block(real_blocks[SMALL], [spent_txouts(c) for c in undo], 757739, "mainnet", jobs=1)
    assert result.inputs_verified == 91
    assert any("no heights" in u for u in result.unchecked)


def _witness_sig_victim(block, undo, kind: bytes):
    """(tx index, input index) of the first input whose spent script starts with ``kind``."""
    for i, coins in enumerate(undo, start=1):
        for j, c in enumerate(coins):
            if c.script_pubkey.startswith(kind) and block.transactions[i].witnesses[j]:
                return i, j
    raise AssertionError("no such input")


def _flip_witness_sig(block, i, j, item=0, byte=10):
    txs = list(block.transactions)
    w = [list(s) for s in txs[i].witnesses]
    w[j][item] = flip_bit(w[j][item], byte)
    txs[i] = replace_tx(txs[i], witnesses=w)
    return rebuild(block, recommit_witness(txs))


@pytest.mark.parametrize("kind, code", [(b"\x00\x14", "EVAL_FALSE"), (b"\x51\x20", "SCHNORR_SIG")])
def test_flipped_signature_is_rejected_with_its_location(data, pool, kind, code):
    name = SMALL if kind == b"\x00\x14" else "mainnet-866342"
    block, undo = data[name]
    height = UNDO_BLOCKS[name]
    i, j = _witness_sig_victim(block, undo, kind)
    bad = _flip_witness_sig(block, i, j)
    flags = script_flags_for_block(height, bad.header.hash, "mainnet")
    # libbitcoinkernel agrees that this input no longer verifies, and that the original did.
    assert not kernel_input_ok(bad.transactions[i], j, spent_txouts(undo[i - 1]), flags)
    assert kernel_input_ok(block.transactions[i], j, spent_txouts(undo[i - 1]), flags)
    with pytest.raises(ValidationError) as e:
        validate_block(bad, undo, height, "mainnet", check_pow=False, pool=pool)
    assert (e.value.reason, e.value.tx, e.value.input) == (script_failure_reason(code), i, j)
    assert e.value.reason.startswith("mandatory-script-verify-flag-failed (")
    assert e.value.script_error == code


def test_flipped_legacy_signature(data):
    block, undo = data[SMALL]
    i, j = next(
        (i, j) for i, cs in enumerate(undo, 1) for j, c in enumerate(cs) if c.script_pubkey[:2] == b"\x76\xa9"
    )
    txs = list(block.transactions)
    sig_script = txs[i].inputs[j].script_sig
    inputs = list(txs[i].inputs)
    inputs[j] = inputs[j]._replace(script_sig=flip_bit(sig_script, 12))
    txs[i] = replace_tx(txs[i], inputs=inputs)
    bad = rebuild(block, recommit_witness(txs))
    assert not kernel_input_ok(
        bad.transactions[i], j, spent_txouts(undo[i - 1]), script_flags_for_block(757739, None, "mainnet")
    )
    with pytest.raises(ValidationError) as e:
        validate_block(bad, undo, 757739, "mainnet", check_pow=False, jobs=1)
    assert (e.value.tx, e.value.input, e.value.script_error) == (i, j, "EVAL_FALSE")


def test_lowest_failure_is_reported_whatever_the_scheduling(data):
    block, undo = data["mainnet-866342"]
    victims = []
    for i, coins in enumerate(undo, start=1):
        for j, c in enumerate(coins):
            if c.script_pubkey.startswith(b"\x00\x14") and block.transactions[i].witnesses[j] and i > 3000:
                victims.append((i, j))
                break
        if len(victims) == 3:
            break
    txs = list(block.transactions)
    for i, j in victims:
        w = [list(s) for s in txs[i].witnesses]
        w[j][0] = flip_bit(w[j][0], 10)
        txs[i] = replace_tx(txs[i], witnesses=w)
    bad = rebuild(block, recommit_witness(txs))
    expected = min(victims)
    for jobs, batch in ((1, None), (2, 40), (3, 300)):
        with ScriptCheckPool(jobs, batch_inputs=batch) as p:
            with pytest.raises(ValidationError) as e:
                validate_block(bad, undo, 866342, "mainnet", check_pow=False, pool=p)
        assert (e.value.tx, e.value.input) == expected, (jobs, batch)


def test_other_rules_take_precedence_over_scripts(data):
    block, undo = data[SMALL]
    i, j = _witness_sig_victim(block, undo, b"\x00\x14")
    bad = _flip_witness_sig(block, i, j)
    # Also make the coinbase overpay by one satoshi.
    txs = list(bad.transactions)
    cb = txs[0]
    outs = list(cb.outputs)
    paid = sum(o.value for o in outs)
    fees = sum(c.value for cs in undo for c in cs) - sum(o.value for t in txs[1:] for o in t.outputs)
    outs[0] = outs[0]._replace(value=outs[0].value + fees + block_subsidy(757739, "mainnet") - paid + 1)
    txs[0] = replace_tx(cb, outputs=outs)
    worse = rebuild(bad, recommit_witness(txs))
    with pytest.raises(ValidationError) as e:
        validate_block(worse, undo, 757739, "mainnet", check_pow=False, jobs=2)
    assert (e.value.reason, e.value.tx) == ("bad-cb-amount", 0)


def _with_coin(undo, i, j, coin):
    changed = [list(cs) for cs in undo]
    changed[i - 1][j] = coin
    return changed


def test_inputs_below_outputs(data):
    block, undo = data[SMALL]
    i = 5
    total_in = sum(c.value for c in undo[i - 1])
    total_out = sum(o.value for o in block.transactions[i].outputs)
    c = undo[i - 1][0]
    short = _with_coin(undo, i, 0, c._replace(value=c.value - (total_in - total_out) - 1))
    with pytest.raises(ValidationError) as e:
        validate_block(block, short, 757739, "mainnet", jobs=1)
    assert (e.value.reason, e.value.tx) == ("bad-txns-in-belowout", i)


def test_premature_coinbase_spend(data):
    block, undo = data[SMALL]
    c = undo[9][1] if len(undo[9]) > 1 else undo[9][0]
    j = 1 if len(undo[9]) > 1 else 0
    young = _with_coin(undo, 10, j, c._replace(coinbase=True, height=757739 - 99))
    with pytest.raises(ValidationError) as e:
        validate_block(block, young, 757739, "mainnet", jobs=1)
    assert (e.value.reason, e.value.tx, e.value.input) == ("bad-txns-premature-spend-of-coinbase", 10, j)
    mature = _with_coin(undo, 10, j, c._replace(coinbase=True, height=757739 - 100))
    validate_block(block, mature, 757739, "mainnet", jobs=1)


def test_input_value_out_of_range(data):
    block, undo = data[SMALL]
    c = undo[0][0]
    bad = _with_coin(undo, 1, 0, c._replace(value=21_000_000 * 10**8 + 1))
    with pytest.raises(ValidationError) as e:
        validate_block(block, bad, 757739, "mainnet", jobs=1)
    assert (e.value.reason, e.value.tx, e.value.input) == ("bad-txns-inputvalues-outofrange", 1, 0)


def test_bip68_relative_lock(data):
    block, undo = data["mainnet-866342"]
    # Tx 87 spends with sequence 0 (BIP68 on, zero-block lock): it is valid as mined.
    i = 87
    assert block.transactions[i].version >= 2 and block.transactions[i].inputs[0].sequence == 0
    txs = list(block.transactions)
    inputs = list(txs[i].inputs)
    inputs[0] = inputs[0]._replace(sequence=10)  # now the coin must be 10 blocks deep
    txs[i] = replace_tx(txs[i], inputs=inputs)
    locked = rebuild(block, recommit_witness(txs))
    c = undo[i - 1][0]
    for coin_height, ok in ((866342 - 10, True), (866342 - 9, False)):
        coins = _with_coin(undo, i, 0, c._replace(height=coin_height))
        if ok:
            # Valid apart from the scripts (the signature commits to the old sequence).
            validate_block(locked, coins, 866342, "mainnet", check_pow=False, check_scripts=False)
        else:
            with pytest.raises(ValidationError) as e:
                validate_block(locked, coins, 866342, "mainnet", check_pow=False, check_scripts=False)
            assert (e.value.reason, e.value.tx) == ("bad-txns-nonfinal", i)


def test_witness_sigop_cost_limit(data):
    block, undo = data[SMALL]
    # Append a tx spending a P2WSH coin whose witness script has 4,001 CHECKMULTISIGs (20 each):
    # 80,020 witness sigops on top of the block's own cost.
    script = b"\xae" * 4001
    coin = Coin(700_000, False, 10_000, b"\x00\x20" + sha256(script))
    extra = make_tx(inputs=[(b"\x42" * 32, 0)], values=(5_000,), witnesses=[[script]], script_pubkey=P2WPKH)
    txs = recommit_witness(list(block.transactions) + [extra])
    bad = rebuild(block, txs)
    with pytest.raises(ValidationError) as e:
        validate_block(bad, list(undo) + [[coin]], 757739, "mainnet", check_pow=False, check_scripts=False)
    assert (e.value.reason, e.value.tx) == ("bad-blk-sigops", len(txs) - 1)
    # 1,000 of them (20,000 sigops) fit.
    script = b"\xae" * 1000
    coin = Coin(700_000, False, 10_000, b"\x00\x20" + sha256(script))
    extra = make_tx(inputs=[(b"\x42" * 32, 0)], values=(5_000,), witnesses=[[script]], script_pubkey=P2WPKH)
    ok = rebuild(block, recommit_witness(list(block.transactions) + [extra]))
    result = validate_block(
        ok, list(undo) + [[coin]], 757739, "mainnet", check_pow=False, check_scripts=False
    )
    assert (
        result.sigop_cost
        == validate_block(block, undo, 757739, "mainnet", check_scripts=False).sigop_cost + 20_000
    )


def test_bip30_through_validate(data):
    block, undo = data[SMALL]
    target = block.transactions[4].txid
    # Regtest has no BIP34 hash, so Core always checks BIP30 there.
    with pytest.raises(ValidationError) as e:
        validate_block(block, undo, 757739, "regtest", check_pow=False, check_scripts=False,
                       output_exists=lambda txid, i: txid == target)  # fmt: skip
    assert (e.value.reason, e.value.tx) == ("bad-txns-BIP30", 4)
    # On mainnet at this height Core does not look (BIP34 rules duplicates out).
    validate_block(block, undo, 757739, "mainnet", check_scripts=False, output_exists=lambda txid, i: True)


def test_context_mismatch_and_garbage(data):
    block, undo = data[SMALL]
    with pytest.raises(ContextError):
        validate_block(block, undo[:-1], 757739, "mainnet")
    with pytest.raises(ContextError):
        validate_block(block, [cs[:-1] if k == 0 else cs for k, cs in enumerate(undo)], 757739, "mainnet")
    with pytest.raises(ParseError):
        validate_block(b"\x00" * 50, None, 1, "mainnet")
    with pytest.raises(ValidationError, match="high-hash"):
        validate_block(b"\x00" * 81, None, 1, "mainnet")


def test_without_undo_reports_what_was_not_checked(data):
    block, _ = data[SMALL]
    result = validate_block(block, None, 757739, "mainnet")
    assert result.inputs_verified == 0 and result.fees is None
    assert any("scripts" in u for u in result.unchecked)
