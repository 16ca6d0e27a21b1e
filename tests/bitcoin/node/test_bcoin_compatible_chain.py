"""`gen-chain --bcoin-compatible`: the same blocks are valid under Core's regtest (libbitcoinkernel judges)
and bcoin 1.0.2's (bcoin's submitblock judges), with witness spends of every kind once bcoin's segwit is on."""

from __future__ import annotations

import gc
import hashlib
import json
from pathlib import Path

import pytest
from bcoin_harness import BcoinNode
from click.testing import CliRunner

from packetfs.bitcoin.chain.generator import BCOIN_SEGWIT_HEIGHT, ChainGenerator
from packetfs.bitcoin.chain.generator_cli import gen_chain_command
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.primitives.script import classify_output

try:
    import pbk
except ImportError:
    pbk = None

N_BLOCKS = BCOIN_SEGWIT_HEIGHT + 40


@pytest.fixture(scope="module")
def blocks():
    g = ChainGenerator("bcoin-compat", "2024", txs_per_block=4, min_kind_share=0.1, max_inputs_per_tx=3,
                       max_outputs_per_tx=4, bcoin_compatible=True)
    return list(g.blocks(N_BLOCKS))


def _hash_hex(raw: bytes) -> str:
    return hashlib.sha256(hashlib.sha256(raw[:80]).digest()).digest()[::-1].hex()


def test_no_witness_before_432_and_every_kind_spent_after(blocks) -> None:
    spent_kinds_after = set()
    for b in blocks:
        block = Block.from_bytes(b.raw)
        assert block.header.version & 2, "every block signals bit 1"
        has_witness = any(t.has_witness for t in block.transactions)
        if b.height < BCOIN_SEGWIT_HEIGHT:
            assert not has_witness, f"witness data at height {b.height}"
            assert block.witness_commitment() is None
        else:
            for coins in b.spent_coins:
                spent_kinds_after.update(classify_output(c.script_pubkey) for c in coins)
    assert {"p2wpkh", "p2wsh", "p2tr", "p2sh", "p2pkh"} <= spent_kinds_after


def test_core_accepts_every_block(blocks, tmp_path: Path) -> None:
    if pbk is None:
        pytest.skip("py-bitcoinkernel (`import pbk`) is Core's validation, the judge here; it is not installed")
    ctx = pbk.make_context(pbk.ChainType.REGTEST)
    opts = pbk.ChainstateManagerOptions(ctx, str(tmp_path), str(tmp_path / "blocks"))
    chainman = pbk.ChainstateManager(opts)
    try:
        for b in blocks:
            chainman.process_block(pbk.Block(b.raw))
        chain = chainman.get_active_chain()
        assert chain.height == N_BLOCKS
        assert bytes(chain.block_tree_entries[chain.height].block_hash)[::-1].hex() == _hash_hex(blocks[-1].raw)
    finally:
        del chainman, opts, ctx
        gc.collect()


def test_bcoin_accepts_every_block(blocks) -> None:
    with BcoinNode() as node:
        for b in blocks:
            assert node.rpc("submitblock", b.raw.hex()) is None, f"bcoin rejected block {b.height}"
        assert node.rpc("getbestblockhash") == _hash_hex(blocks[-1].raw)
        assert node.rpc("getblockchaininfo")["bip9_softforks"]["segwit"]["status"] == "active"


def test_cli_flag(tmp_path: Path) -> None:
    out = tmp_path / "chain"
    res = CliRunner().invoke(gen_chain_command, ["--blocks", "5", "--out", str(out), "--bcoin-compatible", "--json",
                                                 "--txs-per-block", "1"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["height"] == 5
    raw = (out / "blk00000.dat").read_bytes()
    # Second record (block 1): magic, size, then the header; its version has bit 1 set.
    first_len = int.from_bytes(raw[4:8], "little")
    version = int.from_bytes(raw[8 + first_len + 8 : 8 + first_len + 12], "little")
    assert version & 2
