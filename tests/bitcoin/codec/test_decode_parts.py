"""decode_block(parts=...): the txids and outputs the decoder computed while rebuilding a block (the
relay's decoding process hands them to the node instead of parsing and hashing the block again) must
be exactly what parsing the decoded block gives: checked against primitives' parser and its txid
hashing (an independent path) on generated chains, isolated and chain-context frames, and on frames
with a byte changed (hypothesis)."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.codec import CodecError, decode_block, encode_block
from packetfs.bitcoin.primitives.block import Block

WITNESS_COMMITMENT = bytes.fromhex("6a24aa21a9ed")


def _expected(raw: bytes) -> tuple[list[bytes], list[list[tuple[int, bytes]]]]:
    block = Block.from_bytes(raw)
    return ([tx.txid for tx in block.transactions],
            [[(o.value, o.script_pubkey) for o in tx.outputs] for tx in block.transactions])


@pytest.fixture(scope="module")
def frames():
    from packetfs.bitcoin.chain.generator import ChainGenerator
    from packetfs.bitcoin.codec import TxIndex

    gen = ChainGenerator("decode-parts", "2016", txs_per_block=8, min_kind_share=0.1, bcoin_compatible=True)
    ctx = TxIndex()
    out = []
    for h, b in enumerate(gen.blocks(130)):
        out.append((b.raw, encode_block(b.raw), encode_block(b.raw, ctx if h else None), ctx if h else None))
        ctx.add_block(b.raw, h)
    return out


def test_parts_equal_the_parsed_block(frames) -> None:
    for raw, isolated, chained, ctx in frames:
        for frame, c in ((isolated, None), (chained, ctx)):
            parts: list = []
            assert decode_block(frame, c, parts=parts, proven=[] if c is None else None) == raw
            assert tuple(parts) == _expected(raw)


def test_parts_of_real_blocks(real_blocks) -> None:
    """Mainnet blocks (segwit ones derive tx 0's witness commitment after the last transaction, which
    the parts must then hold too, not the placeholder)."""
    commitments = 0
    for raw in real_blocks.values():
        parts: list = []
        assert decode_block(encode_block(raw), parts=parts, proven=[]) == raw
        if parts:
            assert tuple(parts) == _expected(raw)
            commitments += any(spk.startswith(WITNESS_COMMITMENT) for _, spk in parts[1][0])
    assert commitments >= 2


def test_parts_after_a_changed_byte_are_right_or_the_frame_is_refused(frames) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, len(frames) - 1), st.integers(0, 1 << 30), st.integers(1, 255), st.booleans())
    def check(i: int, where: int, xor: int, chained: bool) -> None:
        raw, isolated, frame_c, ctx = frames[i]
        frame = bytearray(frame_c if chained else isolated)
        frame[where % len(frame)] ^= xor
        parts: list = []
        try:
            got = decode_block(bytes(frame), ctx if chained else None, parts=parts)
        except CodecError:
            return
        try:
            expected = _expected(got)
        except ValueError:
            return  # not a parseable block (the relay's job refuses it after parsing)
        assert parts == [] or tuple(parts) == expected

    check()


def test_recording_recoverer_notes_signature_cache_entries() -> None:
    """The decoder's recovery notes exactly script/sigcache.py's entry for each key it recovers (and
    nothing when recovery fails); keys checked against coincurve's own signing key."""
    import hashlib

    from coincurve import PrivateKey

    from packetfs.bitcoin.codec.recovery import RecordingRecoverer
    from packetfs.bitcoin.script import sigcache

    rec = RecordingRecoverer()
    want = []
    for i in range(8):
        k = PrivateKey(hashlib.sha256(b"k%d" % i).digest())
        msg = hashlib.sha256(b"m%d" % i).digest()
        sig = k.sign_recoverable(msg, hasher=None)
        key = rec(sig[:64], sig[64], msg, i % 2 == 0)
        assert key == k.public_key.format(i % 2 == 0)
        want.append(sigcache.entry(sig[:64], key, msg))
    assert rec(bytes(64), 0, bytes(32), True) is None  # r = s = 0: no key
    assert rec.entries == want


def test_zstd_stream_declaring_another_size_is_refused_before_allocating() -> None:
    """Found by the changed-byte test above: a zstd frame header's content size (which python-zstandard
    allocates whatever max_output_size says) changed to 72 PB raised MemoryError; now a CodecError."""
    import zstandard

    from packetfs.bitcoin.codec.streams import METHOD_ZSTD19, decompress_stream

    data = bytes(range(100)) * 2  # under 256 bytes: a one-byte content size in a single-segment frame
    payload = bytearray(zstandard.ZstdCompressor(level=19).compress(data))
    assert decompress_stream(METHOD_ZSTD19, bytes(payload), len(data), "s") == data
    params = zstandard.get_frame_parameters(bytes(payload))
    assert params.content_size == len(data)
    huge = bytearray(payload)
    huge[4] ^= 0xC0  # the descriptor now says 8 bytes of content size: the next 8 bytes, a huge number
    assert zstandard.get_frame_parameters(bytes(huge)).content_size > 1 << 40
    with pytest.raises(CodecError, match="declares"):
        decompress_stream(METHOD_ZSTD19, bytes(huge), len(data), "s")
    refused = 0
    for where in range(4, min(len(payload), 14)):
        bad = bytearray(payload)
        bad[where] ^= 0xC0
        try:
            out = decompress_stream(METHOD_ZSTD19, bytes(bad), len(data), "s")
        except CodecError:
            refused += 1
            continue
        assert len(out) == len(data)  # other content of the declared size: the block's CRC catches it
    assert refused
