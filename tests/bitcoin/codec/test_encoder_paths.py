"""The encoder's fast paths against plain references: script tokens, DER parsing, the per-stream
compression settings, and the self-check decode that reuses the encoder's key recoveries."""

from __future__ import annotations

import os
import random

import pytest
from coincurve import PrivateKey

from packetfs.bitcoin.codec import CodecError, CodecOptions, decode_block, encode_block_with_stats, model
from packetfs.bitcoin.codec.model import (
    SETTINGS_BY_STREAM,
    STREAMS,
    _MemoRecoverer,
    _Recoverer,
    der_to_rs,
    tokenize_canonical,
)
from packetfs.bitcoin.codec.streams import (
    EXHAUSTIVE,
    METHOD_BROTLI,
    METHOD_RAW,
    METHOD_ZSTD,
    compress_stream,
    decompress_stream,
)
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.primitives.script import iter_script


def _ref_tokens(script: bytes):
    """What the encoder used before its direct tokenizer: iter_script, shortest pushes only."""
    out = []
    for t in iter_script(script):
        if t.truncated:
            return None
        if t.data is not None:
            n = len(t.data)
            shortest = n if n < 0x4C else 0x4C if n <= 0xFF else 0x4D if n <= 0xFFFF else 0x4E
            if t.opcode != shortest:
                return None
        out.append((t.opcode, t.data))
    return out


def _ref_int(x: bytes) -> bytes | None:
    """A strict-DER INTEGER (non-negative, minimal two's complement) below 2^256, as 32 bytes."""
    if not x or x[0] & 0x80:
        return None
    v = int.from_bytes(x, "big")
    if x != v.to_bytes(v.bit_length() // 8 + 1, "big") or v >> 256:
        return None
    return v.to_bytes(32, "big")


def _ref_der(sig: bytes) -> bytes | None:
    if len(sig) < 6 or sig[0] != 0x30 or sig[1] != len(sig) - 2 or sig[2] != 2:
        return None
    rl = sig[3]
    if 4 + rl + 2 > len(sig) or sig[4 + rl] != 2 or 6 + rl + sig[5 + rl] != len(sig):
        return None
    r, s = _ref_int(sig[4 : 4 + rl]), _ref_int(sig[6 + rl :])
    return None if r is None or s is None else r + s


def _block_pieces(real_blocks) -> list[bytes]:
    pieces = []
    for raw in real_blocks.values():
        for tx in Block.from_bytes(raw).transactions:
            pieces += [i.script_sig for i in tx.inputs] + [o.script_pubkey for o in tx.outputs]
            for w in tx.witnesses:
                pieces += w
    return pieces


def test_tokenizer_matches_iter_script(real_blocks):
    rng = random.Random(11)
    cases = _block_pieces(real_blocks)
    # Short random scripts over the opcodes that matter: pushes of every width (truncated or not).
    alphabet = [0, 1, 2, 3, 0x4B, 0x4C, 0x4D, 0x4E, 0x51, 0xAC, 0xFF]
    cases += [bytes(rng.choice(alphabet) for _ in range(rng.randrange(12))) for _ in range(20000)]
    cases += [b"\x4c\x05" + bytes(5), b"\x4c\x4c" + bytes(0x4C), b"\x4d\xff\x00" + bytes(255), b"\x4d\x00\x01" + bytes(256)]
    checked = 0
    for s in cases:
        ref = _ref_tokens(s)
        assert tokenize_canonical(s) == ref
        for limit in (0, 1, 2, 4 + len(s) // 8):
            assert tokenize_canonical(s, limit) == (ref if ref is None or len(ref) <= limit else None)
        checked += ref is not None
    assert checked > 10000  # most real scripts tokenize


def test_der_parser_matches_a_plain_reference(real_blocks):
    rng = random.Random(5)
    sigs = [d[:-1] for d in _block_pieces(real_blocks) if 9 <= len(d) <= 73 and d[0] == 0x30]
    assert len(sigs) > 10000
    cases = list(sigs)
    for sig in rng.sample(sigs, 3000):  # one byte changed: lengths, pads, signs, markers
        for _ in range(3):
            b = bytearray(sig)
            b[rng.choice((1, 2, 3, 4, 5, 36, 37, 38, rng.randrange(len(b))))] = rng.choice((0, 1, 0x20, 0x21, 0x7F, 0x80, 0xFF))
            cases.append(bytes(b))
    for _ in range(3000):  # short and odd-sized integers
        r = os.urandom(rng.randrange(0, 34))
        s = os.urandom(rng.randrange(0, 34))
        cases.append(bytes((0x30, len(r) + len(s) + 4, 2, len(r))) + r + bytes((2, len(s))) + s)
    good = 0
    for sig in cases:
        ref = _ref_der(sig)
        assert der_to_rs(sig) == ref, sig.hex()
        good += ref is not None
    assert good > len(sigs) * 0.99  # real signatures are strict DER


def test_memo_answers_only_the_exact_recovery():
    key = PrivateKey(b"\x01" * 32)
    msg = bytes(range(32))
    sig = key.sign_recoverable(msg, hasher=None)
    rs, recid = sig[:64], sig[64]
    real = _Recoverer()(rs, recid, msg, True)
    assert real == key.public_key.format(True)
    fake = b"\x02" + bytes(32)
    memo = _MemoRecoverer({(rs, recid, msg, True): fake})
    assert memo(rs, recid, msg, 4) == fake  # the decoder passes its flag bits; any true value is compressed
    # Any other input is recovered for real: a different message, recovery id or key form.
    other = bytes(31) + b"\x01"
    assert memo(rs, recid, other, True) == _Recoverer()(rs, recid, other, True)
    assert memo(rs, recid, msg, False) == key.public_key.format(False)
    assert memo(rs, recid ^ 1, msg, True) != real


def test_self_check_still_catches_a_wrong_decoder_message(real_blocks, monkeypatch):
    # The self-check decode reuses the encoder's recoveries only for the very message the encoder used;
    # a decoder computing another signature hash recovers another key, and the check must see it.
    raw = real_blocks["mainnet-300025"]
    data, st = encode_block_with_stats(raw)
    assert not st.opaque and st.recovered_keys > 100
    legacy = model._SigParts.legacy
    monkeypatch.setattr(model._SigParts, "legacy", lambda self, h, i, ht: legacy(self, h, i, ht)[::-1])
    with pytest.raises(CodecError):
        encode_block_with_stats(raw, options=CodecOptions(fallback=False))
    _, st2 = encode_block_with_stats(raw)
    assert st2.opaque  # stored opaquely, never a block that decodes wrong
    monkeypatch.undo()
    assert decode_block(data) == raw


def test_checked_and_unchecked_encodings_are_the_same(real_blocks):
    for name, raw in real_blocks.items():
        a, sa = encode_block_with_stats(raw)
        b, _ = encode_block_with_stats(raw, options=CodecOptions(verify=False))
        assert a == b and not sa.opaque, name


def test_stream_settings(real_blocks):
    assert set(SETTINGS_BY_STREAM) == set(STREAMS)
    _, st = encode_block_with_stats(real_blocks["mainnet-300025"])
    assert st.stream_method["amount"] == METHOD_BROTLI
    assert st.stream_method["item"] == METHOD_ZSTD
    assert st.stream_method["sig"] == st.stream_method["hash"] == METHOD_RAW
    rng = random.Random(3)
    structured = bytes(rng.choice(b"\x00\x01\x02\x81\x7f") for _ in range(5000))
    for settings in [*SETTINGS_BY_STREAM.values(), EXHAUSTIVE]:
        method, packed = compress_stream(structured, settings)
        assert method != METHOD_RAW and len(packed) < len(structured)
        assert decompress_stream(method, packed, len(structured), "t") == structured
    # The exhaustive choice is the smallest of its candidates.
    sizes = [len(compress_stream(structured, (s,))[1]) for s in EXHAUSTIVE]
    assert len(compress_stream(structured, EXHAUSTIVE)[1]) == min(sizes)
    noise = os.urandom(5000)
    assert compress_stream(noise, EXHAUSTIVE) == (METHOD_RAW, noise)
