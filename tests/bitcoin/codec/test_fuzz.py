"""Hypothesis: transactions and blocks with odd content round-trip; random payloads never crash."""

from __future__ import annotations

import hashlib

from coincurve import PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.codec import CodecError, CodecOptions, decode_block, encode_block
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.primitives.transaction import Transaction, TxIn, TxOut

from .helpers import wrap_block

STRICT = CodecOptions(fallback=False, verify=False)
_KEYS = [PrivateKey(hashlib.sha256(bytes([i])).digest()) for i in range(4)]
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _der_int(v: int, pad: int = 0) -> bytes:
    b = v.to_bytes(33, "big").lstrip(b"\x00") or b"\x00"
    if b[0] & 0x80:
        b = b"\x00" + b
    b = b"\x00" * pad + b
    return b"\x02" + bytes([len(b)]) + b


@st.composite
def signatures(draw) -> bytes:
    key = draw(st.sampled_from(_KEYS))
    msg = draw(st.binary(min_size=32, max_size=32))
    der = key.sign(msg, hasher=None)  # canonical low-S DER
    kind = draw(st.sampled_from(["canonical", "high_s", "padded", "raw_rs", "truncated"]))
    if kind == "high_s":
        r_len = der[3]
        r = int.from_bytes(der[4 : 4 + r_len], "big")
        s = int.from_bytes(der[6 + r_len :], "big")
        body = _der_int(r) + _der_int(N - s)
        der = b"\x30" + bytes([len(body)]) + body
    elif kind == "padded":
        r_len = der[3]
        r = int.from_bytes(der[4 : 4 + r_len], "big")
        s = int.from_bytes(der[6 + r_len :], "big")
        body = _der_int(r, pad=1) + _der_int(s)
        der = b"\x30" + bytes([len(body)]) + body
    elif kind == "raw_rs":
        der = draw(st.binary(min_size=64, max_size=64))
    elif kind == "truncated":
        der = der[: draw(st.integers(0, len(der)))]
    return der + bytes([draw(st.sampled_from([1, 2, 3, 0x81, 0x83, 0, 0xFF]))])


@st.composite
def pubkeys(draw) -> bytes:
    key = draw(st.sampled_from(_KEYS)).public_key
    kind = draw(st.sampled_from(["compressed", "uncompressed", "hybrid", "bad_prefix", "not_on_curve"]))
    if kind == "compressed":
        return key.format(True)
    full = key.format(False)
    if kind == "uncompressed":
        return full
    if kind == "hybrid":
        return bytes([6 + (full[-1] & 1)]) + full[1:]
    if kind == "bad_prefix":
        return bytes([draw(st.sampled_from([0, 1, 5, 8]))]) + full[1:33]
    return b"\x04" + draw(st.binary(min_size=64, max_size=64))


def _push_nonminimal(data: bytes, how: int) -> bytes:
    n = len(data)
    if how == 0 and n <= 0xFF:
        return b"\x4c" + bytes([n]) + data
    if how == 1 and n <= 0xFFFF:
        return b"\x4d" + n.to_bytes(2, "little") + data
    return b"\x4e" + n.to_bytes(4, "little") + data


@st.composite
def pushes(draw) -> bytes:
    data = draw(st.one_of(signatures(), pubkeys(), st.binary(max_size=80), st.binary(min_size=20, max_size=20)))
    if draw(st.booleans()):
        return _push_nonminimal(data, draw(st.integers(0, 2)))
    n = len(data)
    if n < 0x4C:
        return bytes([n]) + data
    return b"\x4c" + bytes([n]) + data


@st.composite
def scripts(draw) -> bytes:
    kind = draw(st.sampled_from(["pushes", "raw", "huge", "template", "empty"]))
    if kind == "pushes":
        return b"".join(draw(st.lists(pushes(), max_size=4)))
    if kind == "raw":
        return draw(st.binary(max_size=120))
    if kind == "huge":
        return draw(st.binary(min_size=1, max_size=64)) * draw(st.integers(50, 200))
    if kind == "empty":
        return b""
    h = draw(st.binary(min_size=20, max_size=20))
    return draw(
        st.sampled_from(
            [
                b"\x76\xa9\x14" + h + b"\x88\xac",
                b"\xa9\x14" + h + b"\x87",
                b"\x00\x14" + h,
                b"\x00\x20" + h + h[:12],
                b"\x51\x20" + h + h[:12],
                bytes([0x52 + draw(st.integers(0, 14))]) + bytes([len(h)]) + h,  # unknown witness versions
                b"\x21" + _KEYS[0].public_key.format(True) + b"\xac",
                b"\x41" + _KEYS[1].public_key.format(False) + b"\xac",
                b"\x6a\x24\xaa\x21\xa9\xed" + h + h[:12],
            ]
        )
    )


@st.composite
def witness_items(draw) -> bytes:
    return draw(st.one_of(signatures(), pubkeys(), st.binary(max_size=100), scripts(), st.just(b"")))


@st.composite
def transactions(draw) -> bytes:
    n_in = draw(st.integers(1, 4))
    n_out = draw(st.integers(0, 4))
    seq = st.one_of(st.sampled_from([0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0]), st.integers(0, 2**32 - 1))
    txid = st.one_of(st.binary(min_size=32, max_size=32), st.just(bytes(32)))
    inputs = []
    for _ in range(n_in):
        ss = draw(st.one_of(scripts(), st.builds(lambda a, b: a + b, pushes(), pushes())))
        inputs.append(TxIn(draw(txid), draw(st.integers(0, 2**32 - 1)), ss, draw(seq)))
    outputs = [
        TxOut(draw(st.one_of(st.just(0), st.integers(-(2**63), 2**63 - 1), st.integers(0, 21 * 10**14))), draw(scripts()))
        for _ in range(n_out)
    ]
    witnesses = None
    if draw(st.booleans()):
        witnesses = [draw(st.lists(witness_items(), max_size=4)) for _ in range(n_in)]
        if not any(witnesses):
            witnesses[0] = [b""]  # an item that is empty still makes a witness (empty stacks elsewhere)
    tx = Transaction(
        draw(st.one_of(st.sampled_from([1, 2, 3]), st.integers(-(2**31), 2**31 - 1))),
        inputs,
        outputs,
        draw(st.one_of(st.just(0), st.integers(0, 2**32 - 1))),
        witnesses,
    )
    return tx.serialize()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(transactions(), min_size=1, max_size=4), st.binary(min_size=80, max_size=80))
def test_odd_blocks_round_trip(txs, header):
    raw = wrap_block(txs, header)
    try:
        Block.from_bytes(raw)
    except ValueError:
        # Generated bytes the primitives refuse (e.g. all-empty witnesses) are not blocks; still exact.
        assert decode_block(encode_block(raw)) == raw
        return
    assert decode_block(encode_block(raw, options=STRICT)) == raw


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_payload_is_an_error_not_a_crash(data):
    try:
        decode_block(data)
    except CodecError:
        pass
