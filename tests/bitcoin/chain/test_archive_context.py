"""`compress --datadir` / `decompress --datadir`: archives in chain-context mode, resolved through a node's
active chain (txid <-> height, position), byte-exact, smaller than isolated mode, and refused (never
wrong) without the node or with a node on another chain."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from packetfs.bitcoin.chain.archive_context import ActiveChainContext, ArchiveContextError
from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.chain.generator import ChainGenerator
from packetfs.bitcoin.primitives import Block
from packetfs.cli import main


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A 125-block generated chain imported into a codec-store node, and the same chain's first 110
    blocks imported into a second node (a node that lacks the later transactions)."""
    root = tmp_path_factory.mktemp("archive_ctx")
    gen = ChainGenerator(seed=11, profile="2016", txs_per_block=10, min_kind_share=0.1)
    blocks = [b.raw for b in gen.blocks(125)]
    full, short = root / "full", root / "short"
    with Chainstate(full, "regtest", jobs=1, store_mode="codec", encode_jobs=0) as cs:
        for raw in blocks:
            cs.process_block(raw)
    with Chainstate(short, "regtest", jobs=1, store_mode="codec", encode_jobs=0) as cs:
        for raw in blocks[:110]:
            cs.process_block(raw)
    files = []
    for height, raw in enumerate(blocks[105:], start=106):
        path = root / f"{height:06d}.block"
        path.write_bytes(raw)
        files.append(path)
    return root, blocks, full, short, files


def test_context_answers_match_the_chain(chain):
    _, blocks, full, _, _ = chain
    with Chainstate(full, "regtest", jobs=1, store_mode="codec", encode_jobs=0) as cs:
        ctx = ActiveChainContext(cs)
        assert ctx.height == len(blocks)
        for height, raw in enumerate(blocks, start=1):
            for position, tx in enumerate(Block.from_bytes(raw).transactions):
                assert ctx.locate(tx.txid) == (height, position)
                assert ctx.txid_at(height, position) == tx.txid
        assert ctx.locate(bytes(32)) is None
        assert ctx.txid_at(len(blocks) + 1, 0) is None
        assert ctx.txid_at(1, 10_000) is None
        assert ctx.output(Block.from_bytes(blocks[0]).transactions[0].txid, 0) is None


def test_raw_store_node_is_refused(tmp_path, chain):
    _, blocks, _, _, _ = chain
    with Chainstate(tmp_path / "raw", "regtest", jobs=1, store_mode="raw") as cs:
        cs.process_block(blocks[0])
    with Chainstate(tmp_path / "raw", "regtest", jobs=1, store_mode="codec", encode_jobs=0) as cs:
        with pytest.raises(ArchiveContextError, match="no transaction index"):
            ActiveChainContext(cs)


def test_compress_with_datadir_round_trip(chain, tmp_path):
    root, blocks, full, short, files = chain
    runner = CliRunner()
    ctx_pfs, iso_pfs = tmp_path / "ctx.pfs", tmp_path / "iso.pfs"
    args = ["bitcoin", "compress", *map(str, files), "--json", "--no-progress"]
    res = runner.invoke(main, [*args, "-o", str(ctx_pfs), "--datadir", str(full)])
    assert res.exit_code == 0, res.output
    ctx_summary = json.loads(res.output)
    res = runner.invoke(main, [*args, "-o", str(iso_pfs)])
    assert res.exit_code == 0, res.output
    iso_summary = json.loads(res.output)
    assert ctx_summary["mode"] == "chain-context" and iso_summary["mode"] == "isolated"
    # Most inputs spend outputs of earlier blocks: their 32-byte txids become small (height, position).
    assert ctx_summary["archive_bytes"] < iso_summary["archive_bytes"] * 0.97

    out = tmp_path / "out"
    res = runner.invoke(main, ["bitcoin", "decompress", str(ctx_pfs), "-o", str(out), "--datadir", str(full),
                               "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert [p.read_bytes() for p in sorted(out.iterdir())] == blocks[105:]

    missing = runner.invoke(main, ["bitcoin", "decompress", str(ctx_pfs), "-o", str(tmp_path / "x"), "--no-progress"])
    assert missing.exit_code == 2 and "--datadir" in missing.output

    # A node without the later blocks cannot resolve every reference: an error naming the frame, no output
    # that differs from the original.
    wrong = tmp_path / "wrong"
    res = runner.invoke(main, ["bitcoin", "decompress", str(ctx_pfs), "-o", str(wrong), "--datadir", str(short),
                               "--no-progress"])  # fmt: skip
    assert res.exit_code == 2 and "frame" in res.output
    for path in sorted(wrong.iterdir()) if wrong.exists() else []:
        assert path.read_bytes() in blocks


def test_archive_opened_with_another_chains_datadir_says_so(chain, tmp_path):
    root, blocks, full, short, files = chain
    runner = CliRunner()
    ctx_pfs = tmp_path / "ctx.pfs"
    res = runner.invoke(main, ["bitcoin", "compress", *map(str, files), "-o", str(ctx_pfs), "--datadir", str(full),
                               "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    other_gen = ChainGenerator(seed=99, profile="2016", txs_per_block=10, min_kind_share=0.1)
    other = tmp_path / "other"
    with Chainstate(other, "regtest", jobs=1, store_mode="codec", encode_jobs=0) as cs:
        for b in other_gen.blocks(125):
            cs.process_block(b.raw)
    out = tmp_path / "out"
    res = runner.invoke(main, ["bitcoin", "decompress", str(ctx_pfs), "-o", str(out), "--datadir", str(other),
                               "--no-progress"])  # fmt: skip
    assert res.exit_code == 2
    assert "error: this archive's frame 0 refers to a chain this datadir does not have" in " ".join(res.output.split())
    assert "corrupt" not in res.output and not out.exists()
