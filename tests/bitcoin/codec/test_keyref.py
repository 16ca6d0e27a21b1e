"""Key references (format 2): a spend whose key is already known in the block is stored as a reference,
and the decoder's direct signature-hash assembly agrees with the reference sighash module."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from coincurve import PrivateKey

from packetfs.bitcoin.codec import (
    CodecError,
    CodecOptions,
    decode_block,
    encode_block,
    encode_block_with_stats,
)
from packetfs.bitcoin.codec import model as M
from packetfs.bitcoin.codec.model import without
from packetfs.bitcoin.primitives.transaction import Transaction, TxIn, TxOut
from packetfs.bitcoin.script.sighash import PrecomputedTxData, legacy_sighash, segwit_v0_sighash

from .helpers import wrap_block

STRICT = CodecOptions(fallback=False, verify=False)
DATA = Path(__file__).parent / "data"


def _push(b: bytes) -> bytes:
    assert len(b) < 0x4C
    return bytes((len(b),)) + b


def _coinbase() -> Transaction:
    return Transaction(1, [TxIn(bytes(32), 0xFFFFFFFF, b"\x03\x10\x27\x00", 0xFFFFFFFF)],
                       [TxOut(625_000_000, b"\x76\xa9\x14" + bytes(20) + b"\x88\xac")], 0)  # fmt: skip


def _signed_block(wrapped_hash: bytes | None = None) -> tuple[bytes, int]:
    """Coinbase; a funding tx paying one key twice as P2PKH, twice as P2WPKH and once as P2SH-P2WPKH;
    a segwit tx spending all five with real signatures (the key recurs in every input). Returns the block
    and the number of inputs after the first that can be key references.

    ``wrapped_hash`` replaces the P2SH-P2WPKH input's redeem-script hash (a spend whose scriptSig does not
    match its key: the key reference must not be used for it, the escape must)."""
    key = PrivateKey(bytes(range(1, 33)))
    pub = key.public_key.format(True)
    h = M._hash160(pub)
    wpkh = b"\x00\x14" + h
    outs = [TxOut(10_000 + k, M.p2pkh_script(h)) for k in range(2)]
    outs += [TxOut(20_000 + k, wpkh) for k in range(2)]
    outs.append(TxOut(30_000, b"\xa9\x14" + M._hash160(wpkh) + b"\x87"))
    fund = Transaction(2, [TxIn(b"\x11" * 32, 3, b"\x51", 0xFFFFFFFF)], outs, 0)
    ins = [TxIn(fund.txid, j, b"", 0xFFFFFFFD) for j in range(5)]
    pay = [TxOut(99_000, b"\x00\x14" + b"\x22" * 20)]
    skel = Transaction(2, ins, pay, 0, [[] for _ in ins])
    pre = PrecomputedTxData(skel)
    script_sigs, wits = [], []
    for j in range(5):
        if j < 2:
            msg = legacy_sighash(M.p2pkh_script(h), skel, j, 1, pre)
            sig = key.sign(msg, hasher=None) + b"\x01"
            script_sigs.append(_push(sig) + _push(pub))
            wits.append([])
        else:
            msg = segwit_v0_sighash(M.p2pkh_script(h), skel, j, 1, outs[j].value, pre)
            sig = key.sign(msg, hasher=None) + b"\x01"
            ss = b""
            if j == 4:
                ss = b"\x16\x00\x14" + (wrapped_hash if wrapped_hash is not None else h)
            script_sigs.append(ss)
            wits.append([sig, pub])
    spend = Transaction(2, [TxIn(i.prev_txid, i.prev_index, s, i.sequence) for i, s in zip(ins, script_sigs, strict=True)],
                        pay, 0, wits)  # fmt: skip
    raw = wrap_block([_coinbase().serialize(), fund.serialize(), spend.serialize()])
    return raw, 4 if wrapped_hash is None else 3


def test_repeated_key_spends_are_references():
    raw, refs = _signed_block()
    data, st = encode_block_with_stats(raw, options=STRICT)
    assert decode_block(data) == raw
    assert st.recovered_keys == 1  # the first P2PKH input: recovered from its signature
    assert st.keyref_inputs == refs  # P2PKH, 2x P2WPKH, P2SH-P2WPKH: the same key, referenced
    # Without key references the same block recovers every key again (and is not smaller).
    data_off, st_off = encode_block_with_stats(raw, options=without("keys", STRICT))
    assert decode_block(data_off) == raw
    assert st_off.keyref_inputs == 0 and st_off.recovered_keys == 5
    assert len(data) <= len(data_off)


def test_key_reference_decoding_needs_no_recovery(monkeypatch):
    raw, _ = _signed_block()
    data = encode_block(raw, options=STRICT)
    calls = []
    real = M._Recoverer.__call__

    def counting(self, *a):
        calls.append(1)
        return real(self, *a)

    monkeypatch.setattr(M._Recoverer, "__call__", counting)
    assert decode_block(data) == raw
    assert len(calls) == 1


def test_wrapped_spend_whose_hash_is_not_the_keys_uses_the_escape():
    raw, refs = _signed_block(wrapped_hash=b"\x33" * 20)
    data, st = encode_block_with_stats(raw, options=STRICT)
    assert st.keyref_inputs == refs  # the P2SH-P2WPKH input is not a reference: its scriptSig differs
    assert decode_block(data) == raw
    for tech in ("streams", "recovery", "sigs"):
        assert decode_block(encode_block(raw, options=without(tech, STRICT))) == raw, tech


def test_reference_to_a_stored_key_and_spent_script_of_another_key():
    # Keys first seen as stored items (invalid signatures: nothing to recover), then spent again; the
    # spent outputs pay other keys (the block is not valid, the codec must still be exact: a P2PKH or
    # P2WPKH reference rebuilds scriptSig and witness from the signature and key alone).
    pubs = [PrivateKey(bytes([k + 1]) * 32).public_key.format(k % 2 == 0) for k in range(3)]
    sig = bytes.fromhex(
        "3045022100947f8b55531ac1549b700c4f92853d20318182fd11b151664a5f00bb084014c002207a7bad0e101a18471b77f0dc405fa4f6440473fa8e7d82a8dce92c60aa7b969f01"
    )
    first = Transaction(1, [TxIn(bytes([9]) * 32, k, _push(sig) + _push(p), 0xFFFFFFFF) for k, p in enumerate(pubs)],
                        [TxOut(5, b"\x76\xa9\x14" + bytes([7]) * 20 + b"\x88\xac"), TxOut(6, b"\x00\x14" + bytes([8]) * 20)],
                        0)  # fmt: skip
    again = Transaction(2, [TxIn(first.txid, 0, _push(sig) + _push(pubs[2]), 0xFFFFFFFF),
                            TxIn(first.txid, 1, b"", 0xFFFFFFFF),
                            TxIn(bytes([10]) * 32, 0, b"\x16\x00\x14" + bytes(20), 0)],
                        [TxOut(1, b"\x51")], 0, [[], [sig, pubs[0]], [sig, pubs[1]]])  # fmt: skip
    raw = wrap_block([_coinbase().serialize(), first.serialize(), again.serialize()])
    data, st = encode_block_with_stats(raw, options=STRICT)
    assert st.stored_keys == 3 and st.keyref_inputs == 2
    assert decode_block(data) == raw


def test_format_1_blocks_still_decode(real_blocks):
    # Written by the format-1 encoder (13 streams, no key-reference kinds) before format 2 existed.
    old = (DATA / "mainnet-757739.format1.bin").read_bytes()
    assert old[0] == 1
    assert decode_block(old) == real_blocks["mainnet-757739"]


def test_key_reference_kinds_are_refused_in_format_1():
    raw, _ = _signed_block()
    data = bytearray(encode_block(raw, options=STRICT))
    assert data[0] == M.FORMAT_MODELLED
    data[0] = M.FORMAT_MODELLED_V1
    with pytest.raises(CodecError):
        decode_block(bytes(data))


def test_corrupt_key_reference_is_an_error():
    raw, _ = _signed_block()
    data = encode_block(raw, options=CodecOptions(fallback=False, verify=False, streams=True))
    flags, raw_len, crc, readers = M._read_streams(data)
    assert readers[M.S_KREF].data  # the distances of the references
    # Every distance pushed far beyond the keys decoded so far: a CodecError, never a block.
    bad = bytearray(data)
    start = len(data) - len(readers[M.S_KREF].data)  # kref is the last stream, stored raw (tiny)
    assert bytes(bad[start:]) == readers[M.S_KREF].data
    for p in range(start, len(bad)):
        bad[p] = 0x7F
    with pytest.raises(CodecError):
        decode_block(bytes(bad))


def _random_tx(rng: random.Random, n_in: int, n_out: int) -> Transaction:
    ins = [TxIn(rng.randbytes(32), rng.randrange(5), b"", rng.choice([0xFFFFFFFF, 0xFFFFFFFD, rng.randrange(1 << 32)]))
           for _ in range(n_in)]  # fmt: skip
    outs = [TxOut(rng.randrange(1 << 40), rng.randbytes(rng.choice([0, 22, 25, 34, 300]))) for _ in range(n_out)]
    return Transaction(rng.choice([1, 2, -5]), ins, outs, rng.randrange(1 << 32))


@pytest.mark.parametrize("n_in", [1, 3, M._BIG_TX + 2])
def test_decoder_sighash_assembly_matches_the_reference(n_in):
    rng = random.Random(n_in)
    for _ in range(3):
        tx = _random_tx(rng, n_in, rng.choice([1, 2, 5]))
        pre = PrecomputedTxData(tx)
        outs = [o.value.to_bytes(8, "little", signed=True) + M._cs(len(o.script_pubkey)) + o.script_pubkey for o in tx.outputs]
        sp = M._SigParts(tx.version.to_bytes(4, "little", signed=True),
                         [i.prev_txid + i.prev_index.to_bytes(4, "little") for i in tx.inputs],
                         [i.sequence.to_bytes(4, "little") for i in tx.inputs],
                         outs, [(o.value, o.script_pubkey) for o in tx.outputs], tx.locktime.to_bytes(4, "little"),
                         tx.version, tx.locktime)  # fmt: skip
        for i in sorted({0, n_in - 1, rng.randrange(n_in)}):
            h = rng.randbytes(20)
            code = M.p2pkh_script(h)
            for ht in (1, 2, 3, 0x81, 0x83, 0x41):
                amount = rng.randrange(-(1 << 63), 1 << 63)
                assert sp.legacy(h, i, ht) == legacy_sighash(code, tx, i, ht, pre), (i, ht)
                assert sp.v0(h, i, ht, amount) == segwit_v0_sighash(code, tx, i, ht, amount, pre), (i, ht)
