"""The coin hash is the documented SHA-256 over salt and coin fields (recomputed here with hashlib), and
the aggregate is zero exactly when the spent coins are the created-and-spent ones."""

from __future__ import annotations

import hashlib
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.swiftsync.aggregate import MODULUS, SALT_SIZE, CoinHasher, new_salt

coins = st.tuples(
    st.binary(min_size=32, max_size=32), st.integers(0, 2**32 - 1), st.integers(0, 2**30), st.booleans(),
    st.integers(0, 21_000_000 * 10**8), st.binary(max_size=60),
)  # fmt: skip


@given(coins, st.binary(min_size=SALT_SIZE, max_size=SALT_SIZE))
@settings(max_examples=200, deadline=None)
def test_coin_hash_is_the_documented_sha256(coin, salt):
    txid, vout, height, coinbase, value, script = coin
    data = salt + txid + struct.pack("<IIQ", vout, height * 2 + coinbase, value) + script
    assert CoinHasher(salt).coin(*coin) == int.from_bytes(hashlib.sha256(data).digest(), "little")


def test_salt_is_one_sha256_block_and_random():
    assert SALT_SIZE == 64 and len(new_salt()) == 64 and new_salt() != new_salt()
    with pytest.raises(ValueError):
        CoinHasher(bytes(32))


@given(st.lists(coins, min_size=1, max_size=30, unique=True), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_zero_iff_spent_equals_created(created, rnd: random.Random):
    h = CoinHasher(bytes(range(64)))
    spent = list(created)
    rnd.shuffle(spent)  # any order
    agg = (sum(h.coin(*c) for c in created) - sum(h.coin(*c) for c in spent)) % MODULUS
    assert agg == 0
    # One coin spent with any field changed, or spent twice, or not spent: never zero.
    txid, vout, height, coinbase, value, script = spent[0]
    for lie in ((txid, vout, height + 1, coinbase, value, script), (txid, vout, height, not coinbase, value, script),
                (txid, vout, height, coinbase, value + 1, script), (txid, vout, height, coinbase, value, script + b"\x00")):  # fmt: skip
        assert (agg + h.coin(*spent[0]) - h.coin(*lie)) % MODULUS != 0
    assert (agg - h.coin(*spent[0])) % MODULUS != 0
    assert (agg + h.coin(*spent[0])) % MODULUS != 0


def test_out_of_range_field_is_an_arithmetic_error():
    """validate.py turns ArithmeticError into a failed block: a field that does not fit its width must
    raise one (not struct.error), never hash a truncated value."""
    h = CoinHasher(bytes(64))
    for bad in ((bytes(32), 2**32, 1, False, 1, b""), (bytes(32), 0, 2**31, True, 1, b""),
                (bytes(32), 0, 1, False, -1, b""), (bytes(32), 0, 1, False, 2**64, b"")):  # fmt: skip
        with pytest.raises(ArithmeticError):
            h.coin(*bad)


def test_block_aggregate_is_the_documented_sum(chain):
    """validate_range's per-block sum (its hashing is inlined for speed) equals + the documented hash of
    every spendable output not hinted unspent, - that of every coin the undo data says an input spent,
    recomputed here from the block and undo bytes with hashlib and struct."""
    from packetfs.bitcoin.primitives.block import Block
    from packetfs.bitcoin.primitives.hashes import sha256d
    from packetfs.bitcoin.storage.undo import decode_block_undo
    from packetfs.bitcoin.swiftsync.validate import BlockWork, RangeTask, validate_range

    height = 108
    raw, undo = chain.records[height]
    salt = bytes(range(64, 128))
    times = [int.from_bytes(r[68:72], "little") for r, _ in chain.records[: height + 1]]
    mtp = tuple(
        sorted(times[max(0, h - 10) : h + 1])[len(times[max(0, h - 10) : h + 1]) // 2]
        for h in range(height + 1)
    )
    block = Block.from_bytes(raw)
    spendable = [
        (i, tx.txid, vout, out)
        for i, tx in enumerate(block.transactions)
        for vout, out in enumerate(tx.outputs)
        if not (out.script_pubkey[:1] == b"\x6a" or len(out.script_pubkey) > 10_000)
    ]
    hinted = (0, 2, len(spendable) - 1)  # outputs hinted unspent are kept, not hashed

    def documented(txid, vout, h, coinbase, value, script) -> int:
        data = salt + txid + struct.pack("<IIQ", vout, h * 2 + coinbase, value) + script
        return int.from_bytes(hashlib.sha256(data).digest(), "little")

    want = sum(
        documented(txid, vout, height, i == 0, out.value, out.script_pubkey)
        for n, (i, txid, vout, out) in enumerate(spendable)
        if n not in hinted
    )
    for tx, coins in zip(block.transactions[1:], decode_block_undo(undo), strict=True):
        for txin, c in zip(tx.inputs, coins, strict=True):
            want -= documented(
                txin.prev_txid, txin.prev_index, c.height, c.coinbase, c.value, c.script_pubkey
            )
    work = BlockWork(height, sha256d(raw[:80]), raw, undo, len(raw), hinted)
    result = validate_range(RangeTask("regtest", salt, (work,), 0, mtp))
    assert result.failure is None and result.added == len(spendable) - len(hinted)
    assert result.aggregate == want % MODULUS
    assert [(txid, vout) for txid, vout, _ in result.unspent] == [spendable[n][1:3] for n in hinted]
    # the workers' keys and encodings of those coins are the UTXO set's own
    from packetfs.bitcoin.storage.utxo import encode_coin_value, outpoint_key
    from packetfs.bitcoin.swiftsync.validate import PHASES

    assert result.unspent_encoded == [(outpoint_key(t, v), encode_coin_value(c)) for t, v, c in result.unspent]
    assert [c for _, _, c in result.unspent] == [
        (height, spendable[n][0] == 0, spendable[n][3].value, spendable[n][3].script_pubkey) for n in hinted
    ]
    # every phase timed, and together no more than the worker's CPU
    assert set(result.phase_cpu) == set(PHASES) and all(v >= 0 for v in result.phase_cpu.values())
    assert sum(result.phase_cpu.values()) <= result.cpu_s + 1e-3
