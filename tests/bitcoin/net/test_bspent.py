"""getbspent / bspent: exact bytes written out by hand from the draft's tables, limits, fuzzed decoders."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.net.bspent import (
    MAX_BSPENT_COINS,
    MAX_BSPENTSEL_PAYLOAD,
    NODE_BLOCK_UNDO,
    BSpent,
    GetBSpent,
    GetBSpentSel,
    SpentCoin,
    encode_script,
)
from packetfs.bitcoin.net.errors import MessageError
from packetfs.bitcoin.net.messages import MESSAGE_TYPES
from packetfs.bitcoin.net.transport import V1Transport

H = bytes(range(32))
K20 = bytes(range(100, 120))
K32 = bytes(range(200, 232))


def test_registered_and_service_bit_is_experimental() -> None:
    assert MESSAGE_TYPES["getbspent"] is GetBSpent and MESSAGE_TYPES["bspent"] is BSpent
    assert MESSAGE_TYPES["getbspentsel"] is GetBSpentSel
    assert 24 <= NODE_BLOCK_UNDO.bit_length() - 1 <= 31
    assert MAX_BSPENT_COINS == 24390  # 4,000,000 weight / (4 * 41 bytes per input)


def test_getbspent_bytes() -> None:
    msg = GetBSpent(H, cutoff=700)
    assert msg.encode() == b"\x00" + H + b"\xbc\x02\x00\x00"
    assert GetBSpent.decode(msg.encode()) == msg
    with pytest.raises(MessageError, match="trailing"):
        GetBSpent.decode(msg.encode() + b"\x00")


def test_getbspentsel_bytes() -> None:
    # Indexes 0, 1, 5, 300: gaps 0, 0, 3, 294 (0x126, a 3-byte CompactSize).
    msg = GetBSpentSel(H, (0, 1, 5, 300))
    want = b"\x00" + H + b"\x04" + b"\x00" + b"\x00" + b"\x03" + b"\xfd\x26\x01"
    assert msg.encode() == want
    assert GetBSpentSel.decode(want) == msg
    # The largest selection fits its cap exactly: every input of the fullest block, the first one last.
    biggest = GetBSpentSel(H, (MAX_BSPENT_COINS - 1,)).encode()
    assert len(biggest) == 1 + 32 + 1 + 3 and MAX_BSPENTSEL_PAYLOAD >= len(GetBSpentSel(H, tuple(range(MAX_BSPENT_COINS))).encode())


@pytest.mark.parametrize("payload, why", [
    (b"\x00" + H + b"\x00", "empty getbspentsel"),
    (b"\x00" + H + b"\x03\x00\x00", "exceeds"),  # 3 gaps, 2 bytes left: refused before the list
    (b"\x00" + H + b"\x01\xfd\x46\x5f", "above the most inputs"),  # gap 24390: index 24390
    (b"\x00" + H + b"\x02\xfd\x45\x5f\x00", "above the most inputs"),  # 24389, then 24390
    (b"\x00" + H + b"\x01\xfe\x00\x00\x01\x00", "above the limit"),
    (b"\x00" + H + b"\x01\xfd\x01\x00", "non-canonical"),
    (b"\x00" + H + b"\x01\x00!", "trailing"),
    (b"\x00" + H[:20], "truncated"),
])
def test_bad_getbspentsel_payloads_are_message_errors(payload: bytes, why: str) -> None:
    with pytest.raises(MessageError, match=why):
        GetBSpentSel.decode(payload)


@given(indexes=st.sets(st.integers(0, MAX_BSPENT_COINS - 1), min_size=1, max_size=300),
       block_hash=st.binary(min_size=32, max_size=32), version=st.integers(0, 255))
@settings(max_examples=200)
def test_getbspentsel_round_trip(indexes, block_hash, version) -> None:
    msg = GetBSpentSel(block_hash, tuple(sorted(indexes)), version)
    assert GetBSpentSel.decode(msg.encode()) == msg
    t = V1Transport(bytes.fromhex("fabfb5da"))
    assert t.feed(t.encode(msg)) == [msg]


@pytest.mark.parametrize("script, form", [
    (bytes.fromhex("76a914") + K20 + bytes.fromhex("88ac"), b"\x01" + K20),  # P2PKH
    (b"\x21\x02" + K32 + b"\xac", b"\x02" + K32),  # P2PK even
    (b"\x21\x03" + K32 + b"\xac", b"\x03" + K32),  # P2PK odd
    (b"\x41\x04" + K32 + K32 + b"\xac", b"\x04" + K32 + K32),  # P2PK uncompressed
    (b"\xa9\x14" + K20 + b"\x87", b"\x05" + K20),  # P2SH
    (b"\x00\x20" + K32, b"\x06" + K32),  # P2WSH
    (b"\x00\x14" + K20, b"\x07" + K20),  # P2WPKH
    (b"\x51\x20" + K32, b"\x08" + K32),  # P2TR
    (b"\x51", b"\x00\x01\x51"),  # anything else: length and bytes
    (b"\x21\x05" + K32 + b"\xac", b"\x00\x23\x21\x05" + K32 + b"\xac"),  # 33-byte push, not a key prefix
])
def test_reconstructable_scripts_as_the_draft_tabulates_them(script: bytes, form: bytes) -> None:
    assert encode_script(script) == form
    coin = SpentCoin(0, 1, False, 1, script)
    assert BSpent.decode(BSpent(H, (coin,)).encode()).coins == (coin,)


def test_bspent_bytes() -> None:
    coins = (SpentCoin(0, 100, True, 50 * 10**8, b"\x00\x14" + K20), SpentCoin(2, 0x27, False, 1234, b"\x51"))
    want = (H + b"\x02"
            + b"\x00\x00\x00\x00" + b"\xc9\x00\x00\x00" + b"\x07" + K20 + b"\x32"  # 100*2+1; CompressAmount(50 BTC)=50
            + b"\x02\x00\x00\x00" + b"\x4e\x00\x00\x00" + b"\x00\x01\x51" + b"\xfd\x5d\x2b")
    # 0x27 * 2 = 0x4e; CompressAmount(1234) = 1 + (123 * 9 + 4 - 1) * 10 + 0 = 11101 = 0x2b5d
    assert BSpent(H, coins).encode() == want
    assert BSpent.decode(want) == BSpent(H, coins)


def _coin(index: int, amount: bytes = b"\x01") -> bytes:
    return index.to_bytes(4, "little") + b"\x02\x00\x00\x00" + b"\x00\x01\x51" + amount


@pytest.mark.parametrize("payload, why", [
    (H + b"\x02" + _coin(1) + _coin(1), "after"),  # indexes must be strictly ascending
    (H + b"\x02" + _coin(3) + _coin(2), "after"),
    (H + b"\x01" + _coin(MAX_BSPENT_COINS), "above the most inputs"),
    (H + b"\x01" + _coin(0)[:8] + b"\x09" + K20, "unknown script prefix"),
    (H + b"\x01" + _coin(0)[:8] + b"\x01" + K20[:5], "truncated"),
    (H + b"\x01" + _coin(0)[:8] + b"\x00\xfd\x11\x27" + b"\x51" * 10001 + b"\x01", "above the limit"),
    (H + b"\x01" + _coin(0, b"\xff" + b"\xff" * 8), "above MAX_MONEY"),
    (H + b"\x05" + _coin(0), "exceeds"),  # a count the bytes left cannot hold: refused before the list
    (H + b"\xfe\x00\x00\x01\x00", "above the limit"),
    (H + b"\x01" + _coin(0) + b"!", "trailing"),
])
def test_bad_bspent_payloads_are_message_errors(payload: bytes, why: str) -> None:
    with pytest.raises(MessageError, match=why):
        BSpent.decode(payload)


scripts = st.one_of(
    st.binary(max_size=120),
    st.sampled_from([b"\x76\xa9\x14", b"\xa9\x14", b"\x00\x14", b"\x00\x20", b"\x51\x20", b"\x21\x02", b"\x41\x04"])
    .flatmap(lambda head: st.binary(min_size=20, max_size=66).map(lambda body: head + body)),
)
coin_lists = st.lists(
    st.tuples(st.integers(0, 2**30), st.booleans(), st.integers(0, 21_000_000 * 10**8), scripts), max_size=20
).map(lambda cs: tuple(SpentCoin(i * 3 + 1, h, cb, v, s) for i, (h, cb, v, s) in enumerate(cs)))


@given(coins=coin_lists, block_hash=st.binary(min_size=32, max_size=32))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip(coins, block_hash) -> None:
    msg = BSpent(block_hash, coins)
    assert BSpent.decode(msg.encode()) == msg
    # Through the v1 transport too: framing, checksum, dispatch by command.
    t = V1Transport(bytes.fromhex("fabfb5da"))
    assert t.feed(t.encode(msg)) == [msg]


@given(st.binary(max_size=400))
@settings(max_examples=500)
def test_decoders_raise_only_message_errors(data: bytes) -> None:
    for cls in (BSpent, GetBSpent, GetBSpentSel):
        try:
            msg = cls.decode(data)
        except MessageError:
            continue
        assert msg.encode() == data or cls is BSpent  # a non-template script form of a template decodes too


@given(coins=coin_lists, cut=st.integers(0, 2000), flip=st.integers(0, 255))
@settings(max_examples=200)
def test_mutated_payloads_never_crash(coins, cut, flip) -> None:
    data = bytearray(BSpent(bytes(32), coins).encode())
    if data:
        data[cut % len(data)] ^= flip
    for payload in (bytes(data), bytes(data[: cut % (len(data) + 1)])):
        try:
            BSpent.decode(payload)
        except MessageError:
            pass
