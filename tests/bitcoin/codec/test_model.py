"""Round trips of the block model on real blocks and Core's transaction vectors."""

from __future__ import annotations

import json
import random
import zlib

import pytest

from packetfs.bitcoin.codec import (
    CodecError,
    CodecOptions,
    decode_block,
    encode_block,
    encode_block_with_stats,
)
from packetfs.bitcoin.codec.model import (
    compress_amount,
    decompress_amount,
    der_to_rs,
    rs_to_der,
)
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.primitives.transaction import Transaction

from .helpers import wrap_block

STRICT = CodecOptions(fallback=False, verify=False)  # a model failure must raise, not hide as opaque
# Key references off: every recoverable spend is then recovered, which is what the recovery tests count.
RECOVER_ALL = CodecOptions(fallback=False, verify=False, keys=False)


def test_every_real_block_round_trips_modelled(real_blocks):
    for name, raw in real_blocks.items():
        data, st = encode_block_with_stats(raw, options=STRICT)
        assert not st.opaque, name
        assert decode_block(data) == raw, name
        assert len(data) < len(raw) * 0.8, name


def test_p2pkh_key_recovery_matches_real_signatures(real_blocks):
    # Keys are only marked recovered when recovery from the codec's legacy sighash gives the real key, so
    # a high count on mainnet data shows that sighash is Bitcoin's (the signatures were made over it).
    raw = real_blocks["mainnet-300025"]
    block = Block.from_bytes(raw)
    p2pkh = sum(1 for tx in block.transactions[1:] for i in tx.inputs if len(i.script_sig) in (106, 107, 138, 139))
    _, st = encode_block_with_stats(raw, options=RECOVER_ALL)
    assert st.recovered_keys >= 0.95 * p2pkh


def test_bip143_recovery_with_undo_hints(real_blocks, real_undo):
    from packetfs.bitcoin.storage.undo import decode_block_undo

    raw = real_blocks["mainnet-757739"]
    spent = [[(c.value, c.script_pubkey) for c in txu] for txu in decode_block_undo(real_undo["mainnet-757739"])]
    block = Block.from_bytes(raw)
    wpkh = sum(1 for tx in block.transactions[1:] for w in tx.witnesses if len(w) == 2 and len(w[1]) == 33)
    _, st0 = encode_block_with_stats(raw, options=RECOVER_ALL)
    _, st1 = encode_block_with_stats(raw, options=RECOVER_ALL, spent=spent)
    assert st1.recovered_keys - st0.recovered_keys >= 0.9 * wpkh  # BIP143 digests agree with real signatures
    assert st0.unrecoverable_no_amount >= 0.9 * wpkh and st1.unrecoverable_no_amount == 0
    plain = encode_block(raw, options=STRICT)
    hinted = encode_block(raw, options=STRICT, spent=spent)
    assert decode_block(hinted) == raw  # and the hints are not needed to decode
    assert len(hinted) < len(plain)


def test_options_each_off_still_exact(real_blocks):
    raw = real_blocks["mainnet-757739"]
    from packetfs.bitcoin.codec import ALL_TECHNIQUES
    from packetfs.bitcoin.codec.model import without

    for tech in ALL_TECHNIQUES:
        opts = without(tech, STRICT)
        assert decode_block(encode_block(raw, options=opts)) == raw, tech


def _vector_txs(vectors_dir, name):
    out = []
    for entry in json.loads((vectors_dir / "bitcoin-core" / name).read_text()):
        if len(entry) >= 2 and isinstance(entry[1], str):
            try:
                out.append(Transaction.from_hex(entry[1]).serialize())
            except (ValueError, Exception):
                continue  # a vector that does not parse is not a transaction a block can hold
    return out


@pytest.mark.parametrize("name", ["tx_valid.json", "tx_invalid.json"])
def test_core_vector_transactions_round_trip(vectors_dir, name):
    txs = _vector_txs(vectors_dir, name)
    assert len(txs) > 50
    # All in one block (prevout references between them, key references...) and each alone.
    raw = wrap_block(txs)
    assert decode_block(encode_block(raw, options=STRICT)) == raw
    for tx in txs:
        raw = wrap_block([tx])
        assert decode_block(encode_block(raw, options=STRICT)) == raw


def _asset_txs(vectors_dir):
    from packetfs.bitcoin.primitives.transaction import TxIn

    cases = json.loads((vectors_dir / "taproot" / "script_assets_cases.json").read_text())
    out = []
    for case in cases:
        tx = Transaction.from_hex(case["tx"])
        for kind in ("success", "failure"):
            if kind not in case:
                continue
            ins = list(tx.inputs)
            wit = [list(w) for w in tx.witnesses]
            idx = case["index"]
            ins[idx] = TxIn(ins[idx].prev_txid, ins[idx].prev_index, bytes.fromhex(case[kind]["scriptSig"]), ins[idx].sequence)
            wit[idx] = [bytes.fromhex(x) for x in case[kind]["witness"]]
            t = Transaction(tx.version, ins, tx.outputs, tx.locktime, wit)
            try:
                out.append(Transaction.from_bytes(t.serialize()).serialize())
            except ValueError:
                continue
    return out


def test_taproot_asset_transactions_sample(vectors_dir):
    txs = _asset_txs(vectors_dir)
    rng = random.Random(4)
    for tx in rng.sample(txs, 60):
        raw = wrap_block([tx])
        assert decode_block(encode_block(raw, options=STRICT)) == raw


@pytest.mark.slow
def test_taproot_asset_transactions_all(vectors_dir):
    txs = _asset_txs(vectors_dir)
    for i in range(0, len(txs), 40):
        raw = wrap_block(txs[i : i + 40])
        assert decode_block(encode_block(raw, options=STRICT)) == raw


@pytest.mark.slow
def test_beats_brotli_11_on_every_real_block(real_blocks):
    import brotli

    for name, raw in real_blocks.items():
        assert len(encode_block(raw)) < len(brotli.compress(raw, quality=11)), name


def test_unparsable_input_is_stored_opaquely():
    for raw in (b"", b"\x00" * 79, b"not a block at all" * 10, bytes(82)):
        data, st = encode_block_with_stats(raw)
        assert st.opaque
        assert decode_block(data) == raw


def test_compress_amount_matches_core_examples():
    # Values from Bitcoin Core's compress_tests.cpp (compress_amounts test's fixed cases).
    for value, code in [(0, 0x0), (1, 0x1), (100_000_000, 0x9), (5_000_000_000, 0x32), (2_100_000_000_000_000, 0x1406F40)]:
        assert compress_amount(value) == code
        assert decompress_amount(code) == value
    for v in (1, 7, 10, 123456789, 2**64 - 1, 10**19):
        assert decompress_amount(compress_amount(v)) == v


def test_der_rs_only_for_canonical():
    sig = bytes.fromhex(
        "3045022100947f8b55531ac1549b700c4f92853d20318182fd11b151664a5f00bb084014c002207a7bad0e101a18471b77f0dc405fa4f6440473fa8e7d82a8dce92c60aa7b969f"
    )
    rs = der_to_rs(sig)
    assert rs is not None and rs_to_der(rs) == sig
    # Padded r (non-minimal), negative s, wrong total length: all refused, stored raw instead.
    assert der_to_rs(sig[:4] + b"\x00" + sig[4:]) is None
    assert der_to_rs(b"\x30\x06\x02\x01\x80\x02\x01\x01") is None
    assert der_to_rs(b"\x30\x07\x02\x01\x01\x02\x01\x01") is None


def test_corrupt_payload_never_returns_a_wrong_block(real_blocks):
    raw = real_blocks["mainnet-757739"]
    data = encode_block(raw)
    rng = random.Random(7)
    for _ in range(300):
        bad = bytearray(data)
        pos = rng.randrange(len(bad))
        bad[pos] ^= 1 << rng.randrange(8)
        try:
            out = decode_block(bytes(bad))
        except CodecError:
            continue
        assert out == raw  # a flip the format tolerates must still give the exact block
    for cut in range(0, len(data), max(1, len(data) // 200)):
        with pytest.raises(CodecError):
            decode_block(data[:cut])


def test_crc_covers_the_block(real_blocks):
    data = bytearray(encode_block(real_blocks["mainnet-757739"]))
    # The stored CRC32 of the raw block sits right after the size varint; break it.
    n = 2
    while data[n] & 0x80:
        n += 1
    data[n + 1] ^= 0xFF
    with pytest.raises(CodecError, match="checksum"):
        decode_block(bytes(data))
    assert zlib.crc32(b"") == 0


def _segwit_block(commit_ok: bool = True, extra_commit_output: bool = False) -> bytes:
    """A coinbase with a BIP141 witness commitment (computed with the primitives' witness merkle root),
    plus segwit spends; optionally a wrong commitment or a second commitment output.

    (A block whose later tx spends a coinbase committing to it cannot exist: that is a hash cycle. The
    encoder still checks for it, which costs one pass over the inputs.)"""
    from packetfs.bitcoin.primitives.block import witness_commitment_hash
    from packetfs.bitcoin.primitives.transaction import TxIn, TxOut

    reserved = bytes(range(32))
    spends = []
    for k in range(3):
        prev = bytes([k + 1]) * 32
        spends.append(Transaction(2, [TxIn(prev, k, b"", 0xFFFFFFFD)], [TxOut(1000 * k, b"\x00\x14" + bytes([k]) * 20)],
                                  0, [[b"\x30" * 5, bytes([k]) * 33]]))  # fmt: skip

    def coinbase(commit: bytes) -> Transaction:
        outs = [TxOut(625_000_000, b"\x76\xa9\x14" + bytes(20) + b"\x88\xac"), TxOut(0, b"\x6a\x24\xaa\x21\xa9\xed" + commit)]
        if extra_commit_output:
            outs.append(TxOut(0, b"\x6a\x24\xaa\x21\xa9\xed" + commit))
        return Transaction(1, [TxIn(bytes(32), 0xFFFFFFFF, b"\x03\x10\x27\x00", 0xFFFFFFFF)], outs, 0, [[reserved]])

    from packetfs.bitcoin.primitives.block import merkle_root

    root = merkle_root([bytes(32)] + [t.wtxid for t in spends])[0]
    commit = witness_commitment_hash(root, reserved) if commit_ok else bytes(range(1, 33))
    cb = coinbase(commit)
    raw = wrap_block([cb.serialize()] + [t.serialize() for t in spends])
    blk = Block.from_bytes(raw)
    if commit_ok:
        assert blk.witness_commitment() == witness_commitment_hash(blk.compute_witness_merkle_root(), reserved)
    return raw


def test_witness_commitment_is_derived_from_the_block(real_blocks):
    from packetfs.bitcoin.codec.model import without

    raw = _segwit_block()
    on, off = encode_block(raw, options=STRICT), encode_block(raw, options=without("commitment", STRICT))
    assert decode_block(on) == raw and decode_block(off) == raw
    assert len(on) <= len(off) - 20  # the 32 commitment bytes are no longer stored
    two = _segwit_block(extra_commit_output=True)
    assert decode_block(encode_block(two, options=STRICT)) == two
    # A real segwit block: Core's commitment is reproduced, so the derived form is used and still exact.
    for name in ("mainnet-757739",):
        r = real_blocks[name]
        assert Block.from_bytes(r).witness_commitment() is not None
        a, b = encode_block(r, options=STRICT), encode_block(r, options=without("commitment", STRICT))
        assert decode_block(a) == r and len(a) < len(b), name


def test_wrong_witness_commitment_is_stored_exactly():
    from packetfs.bitcoin.codec.model import without

    raw = _segwit_block(commit_ok=False)
    a, b = encode_block(raw, options=STRICT), encode_block(raw, options=without("commitment", STRICT))
    assert decode_block(a) == raw and len(a) == len(b)  # the escape: no derivation, nothing lost
