"""`packetfs bitcoin verify-block`: exit codes 0/1/2 and the JSON it prints."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from consensus_helpers import flip_bit, rebuild, recommit_witness, replace_tx

from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.storage.undo import decode_block_undo
from packetfs.cli import main


def run(*args: str):
    result = CliRunner().invoke(main, ["bitcoin", "verify-block", *args], catch_exceptions=False)
    return result


@pytest.mark.parametrize(
    "name, jobs", [("mainnet-757739", "1"), ("mainnet-757739", "2"), ("mainnet-367891", "2")]
)
def test_valid_block(blocks_dir, manifest, name, jobs):
    entry = next(m for m in manifest if m["name"] == name)
    r = run(
        str(blocks_dir / f"{name}.block"),
        "--undo",
        str(blocks_dir / f"{name}.undo"),
        "--json",
        "--jobs",
        jobs,
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["valid"] is True
    assert out["inputs_verified"] == entry["inputs"]
    assert isinstance(out["seconds"], float) and out["seconds"] > 0
    assert out["height"] == entry["height"]  # read from the BIP34 coinbase
    assert out["block"] == entry["hash"]


def test_human_output_and_explicit_height(blocks_dir):
    r = run(str(blocks_dir / "mainnet-757739.block"), "--undo", str(blocks_dir / "mainnet-757739.undo"),
            "--height", "757739", "--jobs", "1")  # fmt: skip
    assert r.exit_code == 0
    assert r.output.startswith("VALID block 00000000000000000002601c")
    # The wrong height breaks BIP34.
    r = run(str(blocks_dir / "mainnet-757739.block"), "--height", "757740", "--json", "--jobs", "1")
    assert r.exit_code == 1
    assert json.loads(r.output)["error"] == "bad-cb-height"


def test_invalid_block(tmp_path, real_blocks, real_undo):
    block = Block.from_bytes(real_blocks["mainnet-757739"])
    undo = decode_block_undo(real_undo["mainnet-757739"])
    i, j = next(
        (i, j) for i, cs in enumerate(undo, 1) for j, c in enumerate(cs)
        if c.script_pubkey[:2] == b"\x00\x14" and block.transactions[i].witnesses[j]
    )  # fmt: skip
    txs = list(block.transactions)
    w = [list(s) for s in txs[i].witnesses]
    w[j][0] = flip_bit(w[j][0], 20)
    txs[i] = replace_tx(txs[i], witnesses=w)
    bad = rebuild(block, recommit_witness(txs))
    path = tmp_path / "bad.block"
    path.write_bytes(bad.serialize())
    undo_path = tmp_path / "u.undo"
    undo_path.write_bytes(real_undo["mainnet-757739"])
    # The rebuilt block has no valid proof of work any more: that is reported first.
    r = run(str(path), "--undo", str(undo_path), "--json", "--jobs", "1")
    assert r.exit_code == 1
    out = json.loads(r.output)
    assert (out["valid"], out["error"], out["tx"], out["input"]) == (False, "high-hash", None, None)
    # Without the proof-of-work check the bad signature is found, with its location.
    for jobs in ("1", "2"):
        r = run(str(path), "--undo", str(undo_path), "--json", "--jobs", jobs, "--no-pow")
        assert r.exit_code == 1
        out = json.loads(r.output)
        assert out["valid"] is False
        assert out["error"] == (
            "mandatory-script-verify-flag-failed "
            "(Script evaluated without error but finished with a false/empty top stack element)"
        )
        assert (out["tx"], out["input"]) == (i, j)


def test_invalid_signature_reported_with_location(tmp_path, real_blocks, real_undo):
    # Keep the header (and its proof of work) but flip a signature bit in a witness: the merkle root
    # does not cover witnesses, so the block now fails only its witness commitment.
    raw = bytearray(real_blocks["mainnet-757739"])
    block = Block.from_bytes(bytes(raw))
    undo = decode_block_undo(real_undo["mainnet-757739"])
    i, j = next(
        (i, j) for i, cs in enumerate(undo, 1) for j, c in enumerate(cs)
        if c.script_pubkey[:2] == b"\x00\x14" and block.transactions[i].witnesses[j]
    )  # fmt: skip
    sig = block.transactions[i].witnesses[j][0]
    pos = bytes(raw).index(sig)
    raw[pos + 20] ^= 1
    path = tmp_path / "b.block"
    path.write_bytes(bytes(raw))
    undo_path = tmp_path / "u.undo"
    undo_path.write_bytes(real_undo["mainnet-757739"])
    r = run(str(path), "--undo", str(undo_path), "--json", "--jobs", "2")
    assert r.exit_code == 1
    assert json.loads(r.output)["error"] == "bad-witness-merkle-match"


def test_unreadable_inputs(tmp_path, blocks_dir):
    r = run(str(tmp_path / "missing.block"), "--json")
    assert r.exit_code == 2 and "cannot read block" in r.stderr
    assert json.loads(r.stdout)["valid"] is None
    garbage = tmp_path / "garbage.block"
    garbage.write_bytes(b"\x01" * 100)
    r = run(str(garbage))
    assert r.exit_code == 2 and "not a serialized block" in r.stderr
    block = str(blocks_dir / "mainnet-757739.block")
    r = run(block, "--undo", str(garbage))
    assert r.exit_code == 2 and "not block undo data" in r.stderr
    r = run(block, "--undo", str(blocks_dir / "mainnet-866342.undo"))
    assert r.exit_code == 2 and "does not belong to this block" in r.stderr
    # A pre-BIP34 block's height cannot be read from its coinbase.
    from packetfs.bitcoin.consensus.params import genesis_block

    g = tmp_path / "genesis.block"
    g.write_bytes(genesis_block("mainnet").serialize())
    r = run(str(g))
    assert r.exit_code == 2 and "--height" in r.stderr
    r = run(str(g), "--height", "0", "--json")
    assert r.exit_code == 0, r.output


def test_help():
    r = run("--help")
    assert r.exit_code == 0 and "--undo" in r.output and "--jobs" in r.output


def test_without_undo_data_the_verdict_is_partial(blocks_dir):
    block = str(blocks_dir / "mainnet-757739.block")
    r = run(block, "--jobs", "1")
    assert r.exit_code == 3, r.output
    assert r.output.startswith("PARTIAL block 00000000000000000002601c")
    assert "0/91 inputs verified" in r.output and "not checked: scripts: no spent outputs" in r.output
    assert "VALID" not in r.output
    out = json.loads(run(block, "--jobs", "1", "--json").output)
    assert out["valid"] is None and out["partial"] is True and out["inputs_verified"] == 0
    assert "scripts: no spent outputs" in out["unchecked"]
    # With the undo data every rule of the block is checked: VALID, and what needs the chain is listed.
    out = json.loads(run(block, "--undo", str(blocks_dir / "mainnet-757739.undo"), "-j", "1", "--json").output)
    assert out["valid"] is True and out["partial"] is False and out["unchecked"] == []
    assert any(item.startswith("bad-diffbits") for item in out["needs_chain"])
