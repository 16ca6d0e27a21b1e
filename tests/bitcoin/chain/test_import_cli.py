"""`packetfs bitcoin import` on a Core blocks directory whose blocks are out of order, spread over
several obfuscated files, then `chain-info`; the result must equal the plain replay of the chain."""

from __future__ import annotations

import json
import random

from click.testing import CliRunner

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.chain.generator import ChainGenerator
from packetfs.bitcoin.consensus.params import genesis_block
from packetfs.bitcoin.primitives import Block
from packetfs.bitcoin.storage.blockfiles import write_blocks_dir
from packetfs.cli import main

from .test_chainstate import model_utxo, utxo_of


def test_import_out_of_order_then_chain_info(tmp_path):
    gen = ChainGenerator(seed=5, profile="2016", txs_per_block=8, min_kind_share=0.1)
    blocks = [b.raw for b in gen.blocks(115)]
    shuffled = blocks[:]
    random.Random(1).shuffle(shuffled)  # Core's blk files hold blocks in arrival order, not height order
    core = tmp_path / "core"
    core.mkdir()
    raws = [genesis_block("regtest").serialize(), *shuffled]
    write_blocks_dir([(r, None) for r in raws], core, "regtest", max_file_size=60_000, xor_key=bytes(range(1, 9)))
    assert len(list(core.glob("blk*.dat"))) > 2

    runner = CliRunner()
    datadir = tmp_path / "node"
    result = runner.invoke(main, ["bitcoin", "import", str(core), "--network", "regtest", "--datadir", str(datadir),
                                  "--jobs", "1", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["blocks_accepted"] == len(blocks) and out["invalid"] == [] and out["orphans_left"] == 0
    assert out["chain"]["height"] == len(blocks)

    # Resuming an import that is already complete stores nothing again.
    again = json.loads(runner.invoke(main, ["bitcoin", "import", str(core), "--network", "regtest",
                                            "--datadir", str(datadir), "--jobs", "1", "--json"]).output)  # fmt: skip
    assert again["blocks_accepted"] == 0 and again["blocks_skipped"] == len(raws)

    info = json.loads(runner.invoke(main, ["bitcoin", "chain-info", "--datadir", str(datadir), "--json"]).output)
    model = model_utxo(blocks)
    assert info["height"] == len(blocks)
    assert info["best_block_hash"] == Block.from_bytes(blocks[-1]).hash_hex
    assert info["utxo_count"] == len(model)
    assert info["utxo_total_amount"] == sum(v for v, _ in model.values())
    assert info["disk_bytes_blocks"] > 0 and info["disk_bytes_chainstate"] > 0
    with Chainstate(datadir, "regtest", jobs=1) as cs:
        assert utxo_of(cs) == model


def test_cli_errors(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["bitcoin", "chain-info", "--datadir", str(tmp_path)])
    assert missing.exit_code == 2 and "no chainstate" in missing.output
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = runner.invoke(main, ["bitcoin", "import", str(empty), "--network", "regtest", "--datadir", str(tmp_path / "d")])
    assert bad.exit_code == 2
