"""encode_block_undo's inlined encoder writes exactly what encode_coin writes, coin by coin, for every
shape: special-form scripts (P2PKH, P2SH, P2PK with valid and invalid keys), plain scripts around the
one-byte length boundary, multi-byte heights and amounts, and the out-of-range values encode_coin refuses."""

from __future__ import annotations

import coincurve
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.primitives.encoding import compact_size
from packetfs.bitcoin.storage.undo import Coin, decode_block_undo, encode_block_undo, encode_coin

KEY = coincurve.PrivateKey(bytes([7]) * 32).public_key
SCRIPTS = [
    b"", b"\x51", b"\x76\xa9\x14" + bytes(20) + b"\x88\xac", b"\x76\xa9\x14" + bytes(20) + b"\x88\xad",
    b"\xa9\x14" + bytes(20) + b"\x87", b"\xa9\x14" + bytes(20) + b"\x88", b"\x00\x14" + bytes(20),
    b"\x21" + KEY.format() + b"\xac", b"\x21\x05" + bytes(32) + b"\xac",
    b"\x41" + KEY.format(compressed=False) + b"\xac", b"\x41\x04" + bytes(64) + b"\xac",
    bytes(121), bytes(122), bytes(123), bytes(500), bytes(10_001),
]  # fmt: skip
HEIGHTS = [0, 1, 63, 64, 127, 128, 8255, 8256, 1_000_000, (1 << 31) - 1]
VALUES = [0, 1, 9, 10, 546, 10**8, 21 * 10**14, (1 << 63) - 1, (1 << 64) - 1, 123_456_789_012]


def reference(undo) -> bytes:
    return compact_size(len(undo)) + b"".join(
        compact_size(len(coins)) + b"".join(encode_coin(c) for c in coins) for coins in undo
    )


def test_every_shape_encodes_as_encode_coin():
    coins = [
        Coin(h, cb, v, s) for h in HEIGHTS for cb in (False, True) for v in VALUES[:4] for s in SCRIPTS
    ] + [Coin(100, False, v, SCRIPTS[2]) for v in VALUES]
    undo = [coins[i : i + 37] for i in range(0, len(coins), 37)] + [[]]
    assert encode_block_undo(undo) == reference(undo)
    # And what the reader makes of it (amounts within MAX_MONEY, as Core writes them).
    sane = [[c for c in cs if c.value <= 21 * 10**14] for cs in undo]
    assert decode_block_undo(encode_block_undo(sane)) == [
        [c if len(c.script_pubkey) <= 10_000 else c._replace(script_pubkey=b"\x6a") for c in cs]
        for cs in sane
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.builds(
                Coin,
                st.integers(0, (1 << 31) - 1),
                st.booleans(),
                st.integers(0, (1 << 64) - 1),
                st.one_of(st.sampled_from(SCRIPTS), st.binary(max_size=130)),
            ),
            max_size=8,
        ),
        max_size=6,
    )
)
def test_random_coins_encode_as_encode_coin(undo):
    assert encode_block_undo(undo) == reference(undo)


@pytest.mark.parametrize("coin", [Coin(-1, False, 1, b""), Coin(1 << 31, False, 1, b"")])
def test_out_of_range_height_still_refused(coin):
    with pytest.raises(ValueError):
        encode_block_undo([[coin]])


def test_negative_value_taken_modulo_2_64_as_encode_coin():
    coin = Coin(5, False, -5, b"\x51")
    assert encode_block_undo([[coin]]) == reference([[coin]])
