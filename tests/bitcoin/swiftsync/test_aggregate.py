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
