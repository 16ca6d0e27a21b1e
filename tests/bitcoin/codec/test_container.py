"""The .pfs archive: random access, streaming, and clear errors for every kind of damage."""

from __future__ import annotations

import random

import pytest

from packetfs.bitcoin.codec import CodecError, TxIndex, decode_block, encode_block
from packetfs.bitcoin.codec.container import HEADER_SIZE, PfsReader, PfsWriter, write_archive
from packetfs.bitcoin.codec.model import F_CTX_TXIDS
from packetfs.bitcoin.primitives.block import Block

from .helpers import wrap_block


@pytest.fixture(scope="module")
def small_blocks(real_blocks):
    tiny = wrap_block([Block.from_bytes(real_blocks["mainnet-757739"]).transactions[1].serialize()])
    return [real_blocks["mainnet-757739"], tiny, b"not a block, stored opaquely", real_blocks["mainnet-757739"]]


@pytest.fixture(scope="module")
def archive(tmp_path_factory, small_blocks):
    path = tmp_path_factory.mktemp("pfs") / "a.pfs"
    assert write_archive(path, small_blocks) == len(small_blocks)
    return path


def test_random_access_and_streaming(archive, small_blocks):
    with PfsReader(archive) as r:
        assert len(r) == len(small_blocks)
        assert not r.needs_context
        for n in (2, 0, 3, 1):
            assert r.block(n) == small_blocks[n]
        assert list(r) == small_blocks
        with pytest.raises(IndexError):
            r.block(4)


def _read_all(path):
    with PfsReader(path) as r:
        seq = list(r.iter_blocks())
        rnd = [r.block(n) for n in range(len(r))]
    return seq, rnd


def test_every_byte_flip_is_caught_or_harmless(tmp_path, archive, small_blocks):
    data = archive.read_bytes()
    rng = random.Random(1)
    positions = sorted(set(range(0, len(data), 29)) | set(range(len(data) - 120, len(data), 3)) | set(range(0, 40)))
    for pos in positions:
        bad = bytearray(data)
        bad[pos] ^= 1 << rng.randrange(8)
        p = tmp_path / "bad.pfs"
        p.write_bytes(bad)
        try:
            seq, rnd = _read_all(p)
        except CodecError as e:
            msg = str(e)
            assert "bad.pfs" in msg
            if HEADER_SIZE <= pos < len(data) - 300:  # inside the frames: the frame is named
                assert "frame" in msg
            continue
        # The only tolerated flips are in bits nothing reads (e.g. the mode's context bit).
        assert seq == small_blocks and rnd == small_blocks, pos


def test_truncation_is_reported(tmp_path, archive, small_blocks):
    data = archive.read_bytes()
    for cut in list(range(0, len(data), max(1, len(data) // 150))) + [len(data) - 1]:
        p = tmp_path / "cut.pfs"
        p.write_bytes(data[:cut])
        with pytest.raises(CodecError):
            _read_all(p)
        if cut > HEADER_SIZE:
            # Sequential reading still yields the complete frames before the cut, then names the problem.
            got = []
            with pytest.raises(CodecError, match="frame|truncated"):
                with PfsReader(p) as r:
                    for b in r.iter_blocks():
                        got.append(b)
            assert got == small_blocks[: len(got)]


def test_not_an_archive(tmp_path):
    p = tmp_path / "x.pfs"
    p.write_bytes(b"hello world, not pfs")
    with pytest.raises(CodecError, match="not a .pfs"):
        PfsReader(p)


class DictContext:
    """A context built from a plain mapping, as any tx index could provide."""

    def __init__(self, where):
        self.where = where
        self.back = {v: k for k, v in where.items()}

    def locate(self, txid):
        return self.where.get(txid)

    def txid_at(self, height, position):
        return self.back.get((height, position))

    def output(self, txid, index):
        return None


def test_chain_context_mode(tmp_path, real_blocks):
    raw = real_blocks["mainnet-757739"]
    block = Block.from_bytes(raw)
    prev = {i.prev_txid for tx in block.transactions[1:] for i in tx.inputs}
    ctx = DictContext({t: (757000 + k, k % 700) for k, t in enumerate(sorted(prev))})
    data = encode_block(raw, ctx)
    assert data[1] & F_CTX_TXIDS
    assert len(data) < len(encode_block(raw)) - 20 * len(prev)  # 32-byte txids became small numbers
    with pytest.raises(CodecError, match="context"):
        decode_block(data)
    assert decode_block(data, ctx) == raw
    with pytest.raises(CodecError):
        decode_block(data, DictContext({}))
    path = tmp_path / "ctx.pfs"
    with PfsWriter(path, context=ctx) as w:
        w.add_block(raw)
    with PfsReader(path) as r:
        assert r.needs_context
        with pytest.raises(CodecError, match="frame 0 needs the chain context"):
            r.block(0)
    with PfsReader(path, context=ctx) as r:
        assert r.block(0) == raw


def test_tx_index_context_recovers_keys_of_spent_outputs():
    # Block A pays to P2PKH and P2WPKH keys; block B spends them. With the tx index, B stores neither the
    # keys, their hashes, the spent amounts nor the prevout txids.
    from coincurve import PrivateKey

    from packetfs.bitcoin.codec.model import p2pkh_script
    from packetfs.bitcoin.primitives.hashes import hash160
    from packetfs.bitcoin.primitives.transaction import Transaction, TxIn, TxOut
    from packetfs.bitcoin.script.sighash import PrecomputedTxData, legacy_sighash, segwit_v0_sighash

    keys = [PrivateKey(bytes([i + 1]) * 32) for i in range(6)]
    outs = []
    for i, k in enumerate(keys):
        h = hash160(k.public_key.format(True))
        outs.append(TxOut(1000 + i, p2pkh_script(h) if i % 2 else b"\x00\x14" + h))
    coinbase = Transaction(1, [TxIn(bytes(32), 0xFFFFFFFF, b"\x03\x64\x00\x00", 0xFFFFFFFF)], outs, 0)
    block_a = wrap_block([coinbase.serialize()])
    index = TxIndex()
    index.add_block(block_a, 100)
    ins = [TxIn(coinbase.txid, i, b"", 0xFFFFFFFD) for i in range(len(keys))]
    pay = [TxOut(500, b"\x00\x14" + bytes(20))]
    unsigned = Transaction(2, ins, pay, 0)  # what the signatures commit to (scriptSigs are blanked anyway)
    parts = PrecomputedTxData(unsigned)
    script_sigs, wits = [], []
    for i, k in enumerate(keys):
        pub = k.public_key.format(True)
        sc = p2pkh_script(hash160(pub))
        if i % 2:
            sig = k.sign(legacy_sighash(sc, unsigned, i, 1, parts), hasher=None) + b"\x01"
            script_sigs.append(bytes([len(sig)]) + sig + b"\x21" + pub)
            wits.append([])
        else:
            sig = k.sign(segwit_v0_sighash(sc, unsigned, i, 1, 1000 + i, parts), hasher=None) + b"\x01"
            script_sigs.append(b"")
            wits.append([sig, pub])
    spend = Transaction(2, [TxIn(x.prev_txid, x.prev_index, s, x.sequence) for x, s in zip(ins, script_sigs, strict=False)], pay, 0, wits)
    cb_b = Transaction(1, [TxIn(bytes(32), 0xFFFFFFFF, b"\x03\x65\x00\x00", 0xFFFFFFFF)], [TxOut(0, b"\x51")], 0)
    block_b = wrap_block([cb_b.serialize(), spend.serialize()])
    isolated = encode_block(block_b)
    with_ctx = encode_block(block_b, index)
    assert decode_block(with_ctx, index) == block_b
    assert decode_block(isolated) == block_b
    assert len(with_ctx) < len(isolated) - 6 * 20 - 28
