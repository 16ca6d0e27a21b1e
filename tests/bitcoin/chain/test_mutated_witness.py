"""A block whose witness data was altered keeps its header hash (witnesses are outside the merkle root).
Core rejects it before storing (ContextualCheckBlock in AcceptBlock) as BLOCK_MUTATED and does not mark the
hash invalid, so the honest block with the same hash is still accepted afterwards. Before this test, our
chainstate stored the mutated block, failed it at connect time and marked the hash failed for good."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.chain.generator import ChainGenerator
from packetfs.bitcoin.consensus.errors import ValidationError
from packetfs.bitcoin.primitives import Block


def _first_p2wpkh_spend(blocks: list[bytes]) -> tuple[int, bytes]:
    for n, raw in enumerate(blocks):
        for tx in Block.from_bytes(raw).transactions[1:]:
            for w in tx.witnesses:
                if len(w) == 2 and len(w[1]) == 33 and raw.count(bytes(w[0])) == 1:
                    return n, bytes(w[0])
    raise AssertionError("the generated chain has no P2WPKH spend")


def test_witness_malleated_block_does_not_poison_the_honest_one(tmp_path):
    gen = ChainGenerator(seed=21, profile="2024", txs_per_block=6, min_kind_share=0.1)
    blocks = [b.raw for b in gen.blocks(104)]
    n, sig = _first_p2wpkh_spend(blocks)
    good = blocks[n]
    # Change the signature's sighash byte: only the witness (so the wtxid) changes.
    bad = good.replace(sig, sig[:-1] + bytes([sig[-1] ^ 0x02]))
    assert bad != good and bad[:80] == good[:80]

    with Chainstate(tmp_path / "node", "regtest", jobs=1, store_mode="raw") as cs:
        for raw in blocks[:n]:
            cs.process_block(raw)
        tip = cs.tip
        with pytest.raises(ValidationError) as err:
            cs.process_block(bad)
        assert err.value.reason == "bad-witness-merkle-match" and err.value.mutated
        assert cs.tip is tip
        entry = cs.process_block(good)
        assert cs.tip is entry and entry.height == n + 1
        for raw in blocks[n + 1 :]:
            cs.process_block(raw)
        assert cs.tip.height == len(blocks)
