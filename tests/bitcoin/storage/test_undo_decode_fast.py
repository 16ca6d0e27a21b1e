"""decode_block_undo's inlined loop gives exactly what the general reader gives
(decode_block_undo_reference): the same coins for every record either accepts, the same ParseError
(message and offset) for every record it refuses. Checked on real mainnet undo data, on records
encoded from coins of every shape (multi-byte heights and amounts, special-form and plain scripts,
scripts above MAX_SCRIPT_SIZE), on mutated and truncated real records and on random bytes."""

from __future__ import annotations

import coincurve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.errors import ParseError
from packetfs.bitcoin.primitives.encoding import compact_size
from packetfs.bitcoin.storage.undo import Coin, decode_block_undo, decode_block_undo_reference, encode_coin

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
KEY = coincurve.PrivateKey(bytes([9]) * 32).public_key
SCRIPTS = [
    b"", b"\x51", b"\x76\xa9\x14" + bytes(range(20)) + b"\x88\xac", b"\xa9\x14" + bytes(range(20)) + b"\x87",
    b"\x00\x14" + bytes(20), b"\x21" + KEY.format() + b"\xac", b"\x41" + KEY.format(compressed=False) + b"\xac",
    bytes(121), bytes(122), bytes(10_000), bytes(10_001),
]  # fmt: skip


def outcome(decode, raw, offset=0, end=None):
    try:
        return ("ok", decode(raw, offset, end))
    except ParseError as e:
        return ("error", str(e), e.offset)


def same(raw, offset=0, end=None):
    fast = outcome(decode_block_undo, raw, offset, end)
    assert fast == outcome(decode_block_undo_reference, raw, offset, end)
    return fast


def record(undo) -> bytes:
    # written coin by coin with encode_coin (not the inlined encoder)
    return compact_size(len(undo)) + b"".join(
        compact_size(len(coins)) + b"".join(encode_coin(c) for c in coins) for coins in undo
    )


def test_real_undo_records(real_undo):
    for name, raw in real_undo.items():
        kind, coins = same(raw)
        assert kind == "ok" and coins, name
        # a record inside a larger buffer, as rev files hold them
        assert same(b"junk" + raw + b"more", 4, 4 + len(raw)) == ("ok", coins)
        assert same(memoryview(raw)) == ("ok", coins)


def test_every_shape():
    heights = [0, 1, 63, 64, 8255, 8256, 1_000_000, (1 << 31) - 1]
    values = [0, 1, 10, 546, 10**8, 21 * 10**14, 10**18, 123_456_789_012_345_678]
    coins = [Coin(h, cb, v, s) for h in heights for cb in (False, True) for v in values for s in SCRIPTS]
    undo = [coins[i : i + 41] for i in range(0, len(coins), 41)] + [[], coins[:300]]  # 300: 3-byte count
    kind, decoded = same(record(undo))
    assert kind == "ok"
    assert decoded == [[c if len(c.script_pubkey) <= 10_000 else c._replace(script_pubkey=b"\x6a") for c in cs]
                       for cs in undo]  # fmt: skip


@FUZZ
@given(
    st.lists(
        st.lists(
            st.builds(Coin, st.integers(0, (1 << 31) - 1), st.booleans(), st.integers(0, 10**18),
                      st.one_of(st.sampled_from(SCRIPTS), st.binary(max_size=130))),  # fmt: skip
            max_size=8,
        ),
        max_size=6,
    )
)
def test_random_coins(undo):
    assert same(record(undo))[0] == "ok"


@FUZZ
@given(data=st.data())
def test_mutated_and_truncated_real_undo(real_undo, data):
    raw = bytearray(real_undo["mainnet-757739"])
    for _ in range(data.draw(st.integers(0, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= 1 << data.draw(st.integers(0, 7))
    cut = data.draw(st.integers(0, len(raw)))
    same(bytes(raw[:cut]))
    same(bytes(raw))


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(raw):
    same(raw)


def test_amounts_out_of_range_refused_like_the_reference():
    # 2**63 (above int64) and 2**63 - 1 (its CompressAmount needs more than 64 bits): no Core record
    # has either; both readers refuse them with the same error.
    for value in (1 << 63, (1 << 63) - 1, 10**19):
        assert same(record([[Coin(5, False, value, b"\x51")]]))[0] == "error"


def test_non_canonical_counts_refused_like_the_reference():
    coin = encode_coin(Coin(5, False, 1000, b"\x51"))
    for raw in (b"\xfd\x01\x00\x01" + coin, b"\x01\xfd\x01\x00" + coin, b"\x01\xfe\x01\x00\x00\x00" + coin):
        assert same(raw)[0] == "error"
    assert same(b"\x01\x01" + coin) == ("ok", [[Coin(5, False, 1000, b"\x51")]])
