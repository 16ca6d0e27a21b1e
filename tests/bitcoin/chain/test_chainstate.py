"""Chainstate: connect a generated regtest chain with full validation, reorg both ways across many
blocks, reject mutated blocks without changing state, survive reopen, export byte-exact."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.chain.generator import ChainGenerator, bip34_push, mutate_block, regrind
from packetfs.bitcoin.consensus.errors import ValidationError
from packetfs.bitcoin.primitives import Block, BlockHeader, Transaction, TxIn, TxOut

# A generated chain far from any real clock: tests pass a fixed "now" so timestamps stay valid.
NOW = 4_000_000_000
GEN = {"txs_per_block": 6, "min_kind_share": 0.1}


def model_utxo(blocks: list[bytes]) -> dict[tuple[bytes, int], tuple[int, bytes]]:
    """The UTXO set by plain replay: the reference the chainstate must equal."""
    utxo: dict[tuple[bytes, int], tuple[int, bytes]] = {}
    for raw in blocks:
        for i, tx in enumerate(Block.from_bytes(raw).transactions):
            if i:
                for txin in tx.inputs:
                    del utxo[(txin.prev_txid, txin.prev_index)]
            for vout, out in enumerate(tx.outputs):
                spk = out.script_pubkey
                if not (spk[:1] == b"\x6a" or len(spk) > 10_000):
                    utxo[(tx.txid, vout)] = (out.value, spk)
    return utxo


def utxo_of(cs: Chainstate) -> dict[tuple[bytes, int], tuple[int, bytes]]:
    cs.flush()
    return {(txid, vout): (coin.value, coin.script_pubkey) for txid, vout, coin in cs.utxo}


def open_cs(path, **kw) -> Chainstate:
    return Chainstate(path, "regtest", jobs=1, now=lambda: NOW, **kw)


@pytest.fixture(scope="module")
def chain() -> tuple[ChainGenerator, list[bytes]]:
    gen = ChainGenerator(seed=7, profile="2024", **GEN)
    blocks = [b.raw for b in gen.blocks(112)]
    return gen, blocks


@pytest.mark.parametrize("store_mode", ["codec", "raw"])
def test_connects_generated_chain_and_matches_model(tmp_path, chain, store_mode):
    _, blocks = chain
    with open_cs(tmp_path / "node", store_mode=store_mode) as cs:
        for raw in blocks:
            cs.process_block(raw)
        assert cs.tip.height == len(blocks)
        assert cs.tip.hash == Block.from_bytes(blocks[-1]).hash
        assert cs.stats.inputs_script_checked == cs.stats.inputs > 50
        assert utxo_of(cs) == model_utxo(blocks)
        count, amount = cs.utxo.stats()
        assert count == len(model_utxo(blocks))
        assert amount == sum(v for v, _ in model_utxo(blocks).values())
    # Reopen: the same state comes back from disk.
    with open_cs(tmp_path / "node", store_mode=store_mode) as cs:
        assert cs.tip.height == len(blocks)
        assert utxo_of(cs) == model_utxo(blocks)
        # Stored blocks (codec chain-context records included) decode to the exact bytes.
        for entry, raw in zip(cs.active_chain()[1:], blocks, strict=True):
            assert cs.store.get_block(entry.block_pos) == raw


def coinbase_only_block(prev_raw: bytes, height: int, tag: int) -> bytes:
    """A minimal valid regtest block on ``prev_raw``: one coinbase paying 50 BTC to OP_TRUE."""
    prev = Block.from_bytes(prev_raw).header
    coinbase = Transaction(
        1,
        [TxIn(bytes(32), 0xFFFFFFFF, bip34_push(height) + bytes((1, tag & 0xFF)), 0xFFFFFFFF)],
        [TxOut(50 * 10**8, b"\x51")],
        0,
    )
    header = regrind(BlockHeader(0x20000000, prev.hash, coinbase.txid, prev.time + 1, prev.bits, 0))
    return Block(header, [coinbase]).serialize()


def test_reorg_both_ways_equals_fresh_import(tmp_path):
    gen = ChainGenerator(seed=7, profile="2024", **GEN)
    main = [b.raw for b in gen.blocks(112)]
    fork_height = 100
    side = [main[fork_height - 1]]
    for h in range(fork_height + 1, fork_height + 16):  # 15 blocks: more work than main's 12
        side.append(coinbase_only_block(side[-1], h, tag=h))
    side = side[1:]
    with open_cs(tmp_path / "node") as cs:
        for raw in main + side:
            cs.process_block(raw)
        assert cs.tip.hash == Block.from_bytes(side[-1]).hash
        assert utxo_of(cs) == model_utxo(main[:fork_height] + side)
        # Extend the first branch past the second one: reorg back across 15 blocks.
        more = [b.raw for b in gen.blocks(5)]
        for raw in more:
            cs.process_block(raw)
        assert cs.tip.hash == Block.from_bytes(more[-1]).hash and cs.tip.height == 117
        reorged = utxo_of(cs)
        assert reorged == model_utxo(main + more)
    with open_cs(tmp_path / "fresh") as fresh:
        for raw in main + more:
            fresh.process_block(raw)
        assert utxo_of(fresh) == reorged


@pytest.mark.parametrize(
    "kind,reason",
    [
        ("bad_merkle_root", "bad-txnmrklroot"),
        ("double_spend", "bad-txns-inputs-missingorspent"),
        ("bad_signature", "mandatory-script-verify-flag-failed"),
        ("too_much_coinbase_value", "bad-cb-amount"),
        ("bad_witness_commitment", "bad-witness-merkle-match"),
    ],
)
def test_mutated_blocks_rejected_state_unchanged(tmp_path, kind, reason):
    gen = ChainGenerator(seed=11, profile="2024", **GEN)
    good = [b.raw for b in gen.blocks(105)]
    with open_cs(tmp_path / "node") as cs:
        for raw in good[:-1]:
            cs.process_block(raw)
        before = (cs.tip.hash, utxo_of(cs), cs.utxo.stats())
        ref = None
        if kind == "bad_signature":
            # A witness signature: the txid stays, so no later in-block spend loses its parent and the
            # script failure is what decides (as in Core, which reports missing inputs first).
            block = Block.from_bytes(good[-1])
            ref = next(
                (t, i) for t, tx in enumerate(block.transactions[1:], 1) for i, w in enumerate(tx.witnesses) if len(w) >= 2
            )
        bad = mutate_block(good[-1], kind, generator=gen, input_ref=ref)
        try:
            cs.process_block(bad)
        except ValidationError as e:
            error = e
        else:
            error = cs.last_error  # failed while connecting (after the block was stored)
        assert error is not None and error.reason.startswith(reason), error
        assert (cs.tip.hash, utxo_of(cs), cs.utxo.stats()) == before
        # The honest block still connects afterwards.
        cs.process_block(good[-1])
        assert cs.tip.hash == Block.from_bytes(good[-1]).hash


def test_export_to_core_files_byte_exact(tmp_path, chain):
    from packetfs.bitcoin.storage.blockfiles import open_blocks_dir

    _, blocks = chain
    regen = ChainGenerator(seed=7, profile="2024", **GEN)
    undos = [b.undo() for b in regen.blocks(len(blocks))]
    with open_cs(tmp_path / "node") as cs:
        for raw in blocks:
            cs.process_block(raw)
        out = tmp_path / "export"
        cs.export_core(out, start_height=1, end_height=len(blocks))
    exported = open_blocks_dir(out)
    pairs = list(exported.iter_blocks_with_undo())
    assert [raw for raw, _ in pairs] == blocks
    assert [undo for _, undo in pairs] == undos


def test_assumevalid_skips_scripts_only_below_the_assumed_block(tmp_path):
    gen = ChainGenerator(seed=13, profile="2024", **GEN)
    blocks = [b.raw for b in gen.blocks(112)]
    assumed = Block.from_bytes(blocks[105 - 1])  # block 105
    # Blocks up to the assumed one connect without their scripts being run...
    b106 = Block.from_bytes(blocks[106 - 1])
    ref = next((t, i) for t, tx in enumerate(b106.transactions[1:], 1) for i, w in enumerate(tx.witnesses) if len(w) >= 2)
    bad_106 = mutate_block(blocks[106 - 1], "bad_signature", input_ref=ref)
    with open_cs(tmp_path / "node", assumevalid=assumed.hash) as cs:
        # Headers first, as in Core: assumevalid needs the assumed block in the header tree.
        assert cs.process_headers(Block.from_bytes(raw).header for raw in blocks[:105]) == 105
        for raw in blocks[:105]:
            cs.process_block(raw)
        checked_before = cs.stats.inputs_script_checked
        assert checked_before == 0 and cs.stats.inputs > 0
        # ...while blocks above it are fully checked: a bad signature there is rejected.
        cs.process_block(bad_106)
        assert cs.tip.height == 105 and cs.last_error.reason.startswith("mandatory-script-verify-flag-failed")
        for raw in blocks[105:]:
            cs.process_block(raw)
        assert cs.tip.height == 112 and cs.stats.inputs_script_checked > 0
    with open_cs(tmp_path / "plain") as cs:
        for raw in blocks[:105]:
            cs.process_block(raw)
        assert cs.stats.inputs_script_checked == cs.stats.inputs
