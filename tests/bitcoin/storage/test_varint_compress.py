"""Core's VARINT, compressed amounts and compressed scripts, against Core's own test values."""

from __future__ import annotations

import coincurve
import pytest
from hypothesis import given
from hypothesis import strategies as st

from packetfs.bitcoin.errors import ParseError
from packetfs.bitcoin.storage.compressor import (
    MAX_SCRIPT_SIZE,
    compress_amount,
    compress_script,
    decompress_amount,
    read_compressed_amount,
    read_compressed_script,
    write_compressed_script,
)
from packetfs.bitcoin.storage.varint import UINT32_MAX, UINT64_MAX, read_varint, varint, varint_len

# Bitcoin Core src/test/serialize_tests.cpp, BOOST_AUTO_TEST_CASE(varints_bitpatterns).
VARINT_BITPATTERNS = [
    (0, "00"),
    (0x7F, "7f"),
    (0x80, "8000"),
    (0x1234, "a334"),
    (0xFFFF, "82fe7f"),
    (0x123456, "c7e756"),
    (0x80123456, "86ffc7e756"),
    (0xFFFFFFFF, "8efefefe7f"),
    (0x7FFFFFFFFFFFFFFF, "fefefefefefefefe7f"),
    (0xFFFFFFFFFFFFFFFF, "80fefefefefefefefe7f"),
]

COIN = 100_000_000
CENT = 1_000_000
# Bitcoin Core src/test/compress_tests.cpp, BOOST_AUTO_TEST_CASE(compress_amounts): TestPair(dec, enc).
AMOUNT_PAIRS = [
    (0, 0x0),
    (1, 0x1),
    (CENT, 0x7),
    (COIN, 0x9),
    (50 * COIN, 0x32),
    (21_000_000 * COIN, 0x1406F40),
]


@pytest.mark.parametrize("value,hexstr", VARINT_BITPATTERNS)
def test_varint_core_bitpatterns(value, hexstr):
    assert varint(value).hex() == hexstr
    assert varint_len(value) == len(hexstr) // 2
    assert read_varint(bytes.fromhex(hexstr), 0) == (value, len(hexstr) // 2)


def test_varint_sequence_like_core():
    # serialize_tests.cpp "varints": 0..99999 then 0..1e11 step 999999937, written back to back.
    values = list(range(100_000)) + list(range(0, 100_000_000_000, 999_999_937))
    buf = b"".join(varint(v) for v in values)
    pos = 0
    for v in values:
        got, pos = read_varint(buf, pos)
        assert got == v
    assert pos == len(buf)


def test_varint_type_limits_as_core():
    # Core's ReadVarInt throws "size too large" once the value overflows the type it reads into.
    assert read_varint(bytes.fromhex("8efefefe7f"), 0, UINT32_MAX) == (UINT32_MAX, 5)
    with pytest.raises(ParseError):
        read_varint(varint(UINT32_MAX + 1), 0, UINT32_MAX)
    with pytest.raises(ParseError):
        read_varint(varint(UINT64_MAX + 1), 0, UINT64_MAX)
    with pytest.raises(ParseError):
        read_varint(b"\x80" * 11 + b"\x00", 0)
    with pytest.raises(ParseError) as e:
        read_varint(b"\x80\x80", 0)
    assert e.value.offset == 2


@given(st.integers(min_value=0, max_value=UINT64_MAX))
def test_varint_round_trip(n):
    enc = varint(n)
    assert read_varint(enc + b"\xff", 0) == (n, len(enc))
    assert len(enc) == varint_len(n)


@given(st.binary(min_size=1, max_size=12))
def test_varint_is_a_bijection(data):
    # Every accepted encoding is the one Core writes: decoding then re-encoding is the identity.
    try:
        n, end = read_varint(data, 0)
    except ParseError:
        return
    assert varint(n) == data[:end]


@pytest.mark.parametrize("dec,enc", AMOUNT_PAIRS)
def test_compress_amount_core_pairs(dec, enc):
    assert compress_amount(dec) == enc
    assert decompress_amount(enc) == dec


def test_compress_amount_core_loops():
    # compress_tests.cpp: TestEncode over satoshis, cents, coins and 50-coin multiples; TestDecode 0..99999
    for i in range(1, 100_001):
        assert decompress_amount(compress_amount(i)) == i
    for unit, count in ((CENT, 10_000), (COIN, 10_000)):
        for i in range(1, count + 1):
            assert decompress_amount(compress_amount(i * unit)) == i * unit
    for i in range(1, 420_001, 97):  # every 97th of Core's 420,000 multiples of 50 BTC keeps this fast
        assert decompress_amount(compress_amount(i * 50 * COIN)) == i * 50 * COIN
    for i in range(100_000):
        assert compress_amount(decompress_amount(i)) == i


def test_compressed_amount_out_of_int64_range():
    huge = varint(UINT64_MAX)  # decompresses far above 2**63
    with pytest.raises(ParseError):
        read_compressed_amount(huge, 0)


def _key(seed: int) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(seed.to_bytes(32, "big"))


def test_compress_script_forms_like_core():
    # compress_tests.cpp compress_script_to_*: sizes and payload positions of each special form.
    h = bytes(range(20))
    p2pkh = b"\x76\xa9\x14" + h + b"\x88\xac"
    out = compress_script(p2pkh)
    assert len(out) == 21 and out[0] == 0x00 and out[1:] == p2pkh[3:23]
    p2sh = b"\xa9\x14" + h + b"\x87"
    out = compress_script(p2sh)
    assert len(out) == 21 and out[0] == 0x01 and out[1:] == p2sh[2:22]
    pub = _key(7).public_key.format(compressed=True)
    p2pk = b"\x21" + pub + b"\xac"
    out = compress_script(p2pk)
    assert len(out) == 33 and out[0] == p2pk[1] and out[1:] == p2pk[2:34]
    upub = _key(7).public_key.format(compressed=False)
    p2pk_u = b"\x41" + upub + b"\xac"
    assert len(p2pk_u) == 67
    out = compress_script(p2pk_u)
    assert len(out) == 33 and out[1:] == p2pk_u[2:34] and out[0] == 0x04 | (p2pk_u[65] & 1)


@pytest.mark.parametrize("seed", range(1, 9))
def test_uncompressed_p2pk_round_trip_both_parities(seed):
    upub = _key(seed).public_key.format(compressed=False)
    script = b"\x41" + upub + b"\xac"
    enc = write_compressed_script(script)
    assert enc[0] in (4, 5) and len(enc) == 33
    assert read_compressed_script(enc, 0) == (script, 33)


def test_invalid_uncompressed_key_is_stored_raw():
    # Core compresses a 65-byte key only if it is a valid point (CPubKey::IsFullyValid).
    script = b"\x41\x04" + b"\x01" * 64 + b"\xac"
    assert compress_script(script) is None
    enc = write_compressed_script(script)
    assert enc[0] == 67 + 6 and read_compressed_script(enc, 0) == (script, len(enc))


def test_compressed_key_not_checked_like_core():
    # For 33-byte keys Core only looks at the prefix byte, valid point or not.
    script = b"\x21\x02" + b"\xff" * 32 + b"\xac"
    assert compress_script(script) == b"\x02" + b"\xff" * 32
    assert read_compressed_script(compress_script(script), 0)[0] == script


def test_special_form_4_with_x_off_curve_decodes_empty_like_core():
    # DecompressScript fails and Core's reader leaves the script empty; it never raises.
    x = b"\x00" * 31 + b"\x05"  # x = 5: x^3 + 7 = 132 is not a square mod p
    with pytest.raises(ValueError):
        coincurve.PublicKey(b"\x02" + x)
    assert read_compressed_script(b"\x04" + x, 0) == (b"", 33)


def test_oversized_script_becomes_op_return_like_core():
    n = MAX_SCRIPT_SIZE + 1
    enc = varint(n + 6) + b"\x00" * n
    assert read_compressed_script(enc + b"\x99", 0) == (b"\x6a", len(enc))
    with pytest.raises(ParseError):
        read_compressed_script(enc[:-1], 0)  # the skipped bytes must still be there
    ok = varint(MAX_SCRIPT_SIZE + 6) + b"\x51" * MAX_SCRIPT_SIZE
    assert read_compressed_script(ok, 0) == (b"\x51" * MAX_SCRIPT_SIZE, len(ok))


@given(st.binary(max_size=80))
def test_plain_scripts_round_trip(script):
    enc = write_compressed_script(script)
    assert read_compressed_script(enc, 0) == (script, len(enc))
