"""Re-encoding a block read from a codec store with the recoveries its decoding noted
(`noting_recoveries`, `encode_block(known=...)`, what the compressed relay's sender does): the output is
byte-identical to an encoding that recovers every key, and far fewer recoveries run."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.codec import TxIndex, decode_block, encode_block, recovery
from packetfs.bitcoin.codec.model import noting_recoveries

BLOCKS = ["mainnet-367891", "mainnet-757739", "mainnet-866342", "mainnet-540107"]


@pytest.fixture
def recoveries(monkeypatch) -> list[int]:
    """Counts libsecp256k1 recoveries actually run (by any recoverer)."""
    count = [0]
    real = recovery._Recoverer.__call__

    def counting(self, rs, recid, msg, compressed):
        count[0] += 1
        return real(self, rs, recid, msg, compressed)

    monkeypatch.setattr(recovery._Recoverer, "__call__", counting)
    return count


@pytest.mark.parametrize("name", BLOCKS)
def test_known_recoveries_give_the_same_bytes(name, real_blocks, recoveries):
    raw = real_blocks[name]
    stored = encode_block(raw)
    recoveries[0] = 0
    plain = encode_block(raw)
    full = recoveries[0]
    with noting_recoveries() as known:
        assert decode_block(stored) == raw
    recoveries[0] = 0
    again = encode_block(raw, known=known)
    assert again == plain
    if known:
        assert full > 0 and recoveries[0] < full // 4, (recoveries[0], full)


def test_chain_context_frames_from_a_store_without_outputs(recoveries):
    """The relay's case: the store's frame names no spent outputs, the relay frame does (other kinds,
    other messages for some keys); still identical to a fresh encoding."""
    from packetfs.bitcoin.chain.generator import ChainGenerator

    class NoOutputs(TxIndex):
        def output(self, txid, index):
            return None

    gen = ChainGenerator("known-recoveries", "2016", txs_per_block=8, min_kind_share=0.1, bcoin_compatible=True)
    store_ctx, relay_ctx = NoOutputs(), TxIndex()
    checked = 0
    for h, b in enumerate(gen.blocks(130)):
        stored = encode_block(b.raw, store_ctx if h else None)
        fresh = encode_block(b.raw, relay_ctx if h else None)
        with noting_recoveries() as known:
            assert decode_block(stored, store_ctx if h else None) == b.raw
        assert encode_block(b.raw, relay_ctx if h else None, known=known) == fresh
        checked += bool(known)
        store_ctx.add_block(b.raw, h)
        relay_ctx.add_block(b.raw, h)
    assert checked > 20


def test_noting_is_scoped():
    with noting_recoveries() as outer:
        with noting_recoveries() as inner:
            pass
        assert inner == {} and outer == {}
    from packetfs.bitcoin.codec import model

    assert getattr(model._NOTING, "known", None) is None
