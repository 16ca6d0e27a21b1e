"""Chainstate integrity (issue 10): a bad block never leaves the datadir unopenable, mutated blocks are
not remembered as invalid, really invalid ones are (with reason and descendants), the import CLI
says what happened to every block, Ctrl-C stops cleanly and resumes.

Expected states come from a fresh import of the clean chain and from plain replay (utxo_digest)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import lmdb
import pytest
from click.testing import CliRunner

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.chain.generator import ChainGenerator, mutate_block, regrind, write_chain
from packetfs.bitcoin.chain.headers import FAILED, FAILED_PARENT
from packetfs.bitcoin.consensus.errors import ValidationError
from packetfs.bitcoin.consensus.params import genesis_block
from packetfs.bitcoin.primitives import Block, BlockHeader
from packetfs.bitcoin.primitives.hashes import hash_to_hex
from packetfs.bitcoin.storage.blockfiles import write_blocks_dir
from packetfs.cli import main

from .test_datadir_sharing import reference_digests

NOW = 4_000_000_000


def _cli(*args: str):
    return CliRunner().invoke(main, ["bitcoin", *args])


def _import(blocks_dir, datadir, *extra: str):
    return _cli("import", str(blocks_dir), "--network", "regtest", "--datadir", str(datadir), "--jobs", "1", *extra)


def _info(datadir) -> dict:
    res = _cli("chain-info", "--datadir", str(datadir), "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


@pytest.fixture(scope="module")
def issue_chain(tmp_path_factory):
    """The chain of the issue's reproduction: 120 blocks, seed 8, 20 transactions per block."""
    gen = ChainGenerator(seed=8, profile="2024", txs_per_block=20)
    generated = list(gen.blocks(120))
    clean = tmp_path_factory.mktemp("clean")
    write_chain(generated, clean)
    return clean, [b.raw for b in generated]


def test_issue_reproduction_datadir_stays_usable(tmp_path, issue_chain):
    clean, blocks = issue_chain
    bad = tmp_path / "chain"
    bad.mkdir()
    for f in clean.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    p = bad / "blk00000.dat"
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 0x10
    p.write_bytes(bytes(b))

    res = _import(bad, tmp_path / "node")
    assert res.exit_code == 1, res.output
    assert "invalid: block " in res.output and "bad-txnmrklroot" in res.output
    assert "wait for an ancestor's block data" in res.output
    info = _info(tmp_path / "node")  # was: "block index is corrupt: parent of ... missing", exit 2
    assert info["height"] == 110
    digests = reference_digests(blocks)
    assert info["utxo_digest"] == digests[110]

    again = _import(clean, tmp_path / "node", "--json")
    assert again.exit_code == 0, again.output
    fresh = _import(clean, tmp_path / "fresh", "--json")
    assert fresh.exit_code == 0, fresh.output
    got, want = _info(tmp_path / "node"), _info(tmp_path / "fresh")
    assert got["height"] == want["height"] == 120
    assert got["utxo_digest"] == want["utxo_digest"] == digests[120]
    assert (got["best_block_hash"], got["utxo_count"], got["utxo_total_amount"]) == (
        want["best_block_hash"], want["utxo_count"], want["utxo_total_amount"])  # fmt: skip


def test_index_entries_without_parent_are_left_out_not_fatal(tmp_path, issue_chain):
    """A datadir written before headers were kept with their blocks: the index holds blocks whose
    parent entry is missing. It opens, at its tip, and the clean chain completes it."""
    clean, blocks = issue_chain
    with Chainstate(tmp_path / "node", "regtest", jobs=1, now=lambda: NOW) as cs:
        for raw in blocks[:100]:
            cs.process_block(raw)
        cs.process_headers([Block.from_bytes(blocks[100]).header])
        for raw in blocks[101:110]:  # 101 has no data: these are stored, not connected
            cs.process_block(raw)
    orphan_parent = Block.from_bytes(blocks[100]).hash
    env = lmdb.open(str(tmp_path / "node" / "chainstate"), max_dbs=8)
    with env.begin(write=True) as txn:
        assert txn.delete(orphan_parent, db=env.open_db(b"index", txn=txn))
    env.close()
    with Chainstate(tmp_path / "node", "regtest", jobs=1, now=lambda: NOW) as cs:
        assert cs.tip.height == 100 and cs.index_entries_dropped == 9
    res = _import(clean, tmp_path / "node")
    assert res.exit_code == 0, res.output
    assert _info(tmp_path / "node")["utxo_digest"] == reference_digests(blocks)[120]


def _child_header(parent: Block, template: Block) -> BlockHeader:
    h = template.header
    return regrind(BlockHeader(h.version, parent.hash, h.merkle_root, parent.header.time + 1, h.bits, 0))


def test_invalid_block_remembered_with_reason_and_descendants(tmp_path):
    gen = ChainGenerator(seed=11, profile="2024", txs_per_block=6, min_kind_share=0.1)
    good = [b.raw for b in gen.blocks(105)]
    bad = mutate_block(good[-1], "too_much_coinbase_value", generator=gen)
    bad_block = Block.from_bytes(bad)
    child = _child_header(bad_block, Block.from_bytes(good[-1]))
    with Chainstate(tmp_path / "node", "regtest", jobs=1, now=lambda: NOW) as cs:
        for raw in good[:-1]:
            cs.process_block(raw)
        assert cs.process_headers([bad_block.header, child]) == 2  # a descendant known before it fails
        cs.process_block(bad)  # stored; connecting it fails
        assert cs.last_error.reason == "bad-cb-amount"
        assert cs.tip.height == 104
    with Chainstate(tmp_path / "node", "regtest", jobs=1, now=lambda: NOW) as cs:
        entry = cs.tree.get(bad_block.hash)
        assert entry.status & FAILED and entry.reason == "bad-cb-amount"
        desc = cs.tree.get(child.hash)
        assert desc.status & FAILED_PARENT and desc.reason == "bad-prevblk"
        assert [(e.hash, r) for e, r in cs.invalid_blocks()] == [
            (bad_block.hash, "bad-cb-amount"), (child.hash, "bad-prevblk")]  # fmt: skip
        with pytest.raises(ValidationError, match="duplicate-invalid"):
            cs.process_block(bad)
        cs.process_block(good[-1])  # the honest block at that height is another block: accepted
        assert cs.tip.hash == Block.from_bytes(good[-1]).hash


def test_mutated_block_not_remembered_as_invalid_across_reopen(tmp_path):
    gen = ChainGenerator(seed=11, profile="2024", txs_per_block=6, min_kind_share=0.1)
    good = [b.raw for b in gen.blocks(105)]
    for kind in ("bad_merkle_root", "bad_witness_commitment"):
        d = tmp_path / kind
        with Chainstate(d, "regtest", jobs=1, now=lambda: NOW) as cs:
            for raw in good[:-1]:
                cs.process_block(raw)
            with pytest.raises(ValidationError) as info:
                cs.process_block(mutate_block(good[-1], kind, generator=gen))
            assert info.value.mutated
        with Chainstate(d, "regtest", jobs=1, now=lambda: NOW) as cs:
            assert cs.invalid_blocks() == []
            cs.process_block(good[-1])
            assert cs.tip.height == 105


def test_import_names_invalid_blocks_and_side_branches(tmp_path):
    gen = ChainGenerator(seed=12, profile="2024", txs_per_block=6, min_kind_share=0.1)
    all_good = [b.raw for b in gen.blocks(105)]
    good = all_good[:104]
    last = Block.from_bytes(good[-1])
    # A sibling of the last block: same transactions, another timestamp: valid, equal work, seen second.
    h = last.header
    sib_header = regrind(BlockHeader(h.version, h.prev_hash, h.merkle_root, h.time + 1, h.bits, 0))
    sibling = sib_header.serialize() + good[-1][80:]
    # A child of the tip that breaks a rule found only when connecting it.
    bad = mutate_block(all_good[-1], "too_much_coinbase_value", generator=gen)
    assert Block.from_bytes(bad).header.prev_hash == last.hash
    core = tmp_path / "core"
    write_blocks_dir([(r, None) for r in [genesis_block("regtest").serialize(), *good, sibling, bad]], core,
                     "regtest")  # fmt: skip
    res = _import(core, tmp_path / "node")
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert f"invalid: block {Block.from_bytes(bad).hash_hex}: bad-cb-amount" in text
    assert f"side branch: block {hash_to_hex(sib_header.hash)} at height 104" in text
    js = json.loads(_import(core, tmp_path / "node2", "--json").output)
    assert [(r["hash"], r["error"]) for r in js["invalid"]] == [(Block.from_bytes(bad).hash_hex, "bad-cb-amount")]
    assert js["not_connected"] == [{"hash": hash_to_hex(sib_header.hash), "height": 104, "why": "side-branch"}]
    # Full hashes in the table, never cut: a narrow terminal wraps them.
    info = _cli("chain-info", "--datadir", str(tmp_path / "node"))
    flat = re.sub(r"[\s│]", "", info.output)
    assert f"best_block_hash{last.hash_hex}" in flat and "…" not in info.output


def test_ctrl_c_stops_at_a_block_boundary_and_resumes(tmp_path):
    gen = ChainGenerator(seed=13, profile="2024", txs_per_block=20, min_kind_share=0.1)
    generated = list(gen.blocks(300))
    blocks = [b.raw for b in generated]
    core = tmp_path / "core"
    write_chain(generated, core)
    datadir = tmp_path / "node"
    cmd = [sys.executable, "-m", "packetfs.cli", "bitcoin", "import", str(core), "--network", "regtest",
           "--datadir", str(datadir), "--jobs", "2", "--flush-every", "1", "--no-progress"]  # fmt: skip
    # Its own process group, as a shell job: Ctrl-C goes to the importer and its script workers alike.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (datadir / "chainstate").exists():
                res = _cli("chain-info", "--datadir", str(datadir), "--json")
                if res.exit_code == 0 and json.loads(res.output)["height"] >= 20:
                    break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    info = _info(datadir)
    h = info["height"]
    assert 20 <= h < len(blocks), "the import finished before the interrupt: lengthen the chain"
    assert f"interrupted: stopped after block {h} ({info['best_block_hash']})" in " ".join(err.split())
    assert f"resume with: packetfs bitcoin import {core} --network regtest --datadir {datadir}" in " ".join(err.split())
    digests = reference_digests(blocks)
    assert info["utxo_digest"] == digests[h]
    res = _import(core, datadir)
    assert res.exit_code == 0, res.output
    assert _info(datadir)["utxo_digest"] == digests[-1]


def _store_bytes(datadir) -> int:
    return sum(p.stat().st_size for p in (datadir / "blocks").iterdir() if p.is_file())


@pytest.mark.parametrize("store_mode", ["raw", "codec"])
def test_store_bytes_after_the_last_flush_are_reclaimed(tmp_path, store_mode):
    gen = ChainGenerator(seed=14, profile="2024", txs_per_block=8, min_kind_share=0.1)
    blocks = [b.raw for b in gen.blocks(40)]
    d = tmp_path / "node"
    cs = Chainstate(d, "regtest", jobs=1, now=lambda: NOW, store_mode=store_mode)
    for raw in blocks[:20]:
        cs.process_block(raw)
    cs.flush()
    at_flush = _store_bytes(d)
    for raw in blocks[20:30]:
        cs.process_block(raw)  # stored and connected, never flushed
    cs.close(flush=False)  # as a kill would leave it
    with open(next((d / "blocks").glob("blk*.pfs")), "ab") as f:
        f.write(b"PFB1\x00torn")  # and a torn record at the end
    assert _store_bytes(d) > at_flush
    with Chainstate(d, "regtest", jobs=1, now=lambda: NOW, store_mode=store_mode) as cs:
        assert cs.tip.height == 20
        assert _store_bytes(d) == at_flush and cs.reclaimed_bytes > 0
        for raw in blocks[20:]:
            cs.process_block(raw)
        digest = cs.utxo_digest()
    with Chainstate(tmp_path / "fresh", "regtest", jobs=1, now=lambda: NOW, store_mode=store_mode) as cs:
        for raw in blocks:
            cs.process_block(raw)
        assert cs.utxo_digest() == digest
    # Nothing wasted for good: the same bytes as an import that was never killed.
    assert _store_bytes(d) == _store_bytes(tmp_path / "fresh")
    with Chainstate(d, "regtest", jobs=1, now=lambda: NOW, store_mode=store_mode) as cs:
        assert cs.tip.height == 40 and cs.reclaimed_bytes == 0
        for e in cs.active_chain():
            assert cs.store.get_block(e.block_pos)[:80] == e.header.serialize()


def test_demo_runs_and_ends_in_the_same_state(tmp_path, capsys):
    from packetfs.bitcoin.chain.demo import demo

    demo(tmp_path)
    out = capsys.readouterr().out
    assert "datadir reopens at height 110" in out and "(same as a fresh import at height 120)" in out
