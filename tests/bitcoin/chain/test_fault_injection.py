"""Fault injection: corrupt a generated chain's blk files at random, import, and check that the datadir
is never left unusable.

Each case is seeded (its seed picks the corruption and where it lands). For every case: the import
exits 0 or 1 (1: invalid blocks or damaged bytes named), never 2 and never with a traceback;
`chain-info` opens and its state is a state of the clean chain (the tip is one of its blocks and the
utxo_digest is the replayed digest at that height) or, for a foreign block, at least consistent;
then a re-import of the *clean* chain into the same datadir reaches exactly the fresh import's tip
and utxo_digest (computed by plain replay, not by the code under test).

`make test` runs FAST_CASES cases; `make test-slow` runs SLOW_CASES more with other seeds.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.chain.generator import ChainGenerator, write_chain
from packetfs.bitcoin.primitives import Block
from packetfs.cli import main

from .test_datadir_sharing import reference_digests

KINDS = ("bit_flips", "truncate", "swap_records", "duplicate_record", "wrong_magic", "lying_length",
         "foreign_block")  # fmt: skip
FAST_CASES = 42  # six of each kind
SLOW_CASES = 280
BLOCKS = 60
MAGIC = bytes.fromhex("fabfb5da")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    gen = ChainGenerator(seed=31, profile="2024", txs_per_block=8, min_kind_share=0.1)
    generated = list(gen.blocks(BLOCKS))
    root = tmp_path_factory.mktemp("clean")
    # Several blk files, so damage to one does not take everything after it.
    write_chain(generated, root, undo=False, max_file_size=12_000)
    other = list(ChainGenerator(seed=32, profile="2024", txs_per_block=4).blocks(5))
    blocks = [b.raw for b in generated]
    return root, blocks, reference_digests(blocks), [b.raw for b in other]


def _records(data: bytes) -> list[tuple[int, int]]:
    """(offset, total length) of each record of a clean blk file."""
    out = []
    pos = 0
    while pos + 8 <= len(data) and data[pos : pos + 4] == MAGIC:
        n = int.from_bytes(data[pos + 4 : pos + 8], "little")
        out.append((pos, 8 + n))
        pos += 8 + n
    return out


def corrupt(src: Path, dst: Path, seed: int, foreign: list[bytes]) -> str:
    """Copy the blocks dir ``src`` to ``dst`` with one seeded corruption; returns what was done."""
    shutil.copytree(src, dst)
    rng = random.Random(seed)
    kind = KINDS[seed % len(KINDS)]
    files = sorted(dst.glob("blk*.dat"))
    path = rng.choice(files)
    data = bytearray(path.read_bytes())
    recs = _records(bytes(data))
    if kind == "bit_flips":
        flips = rng.randint(1, 8)
        for _ in range(flips):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        what = f"{flips} bit flips"
    elif kind == "truncate":
        cut = rng.randrange(len(data))
        del data[cut:]
        what = f"truncated at {cut}"
    elif kind == "swap_records":
        a, b = sorted(rng.sample(range(len(recs)), 2))
        (oa, la), (ob, lb) = recs[a], recs[b]
        ra, rb = bytes(data[oa : oa + la]), bytes(data[ob : ob + lb])
        data = data[:oa] + rb + data[oa + la : ob] + ra + data[ob + lb :]
        what = f"records {a} and {b} swapped"
    elif kind == "duplicate_record":
        o, n = rng.choice(recs)
        at = rng.choice([r[0] for r in recs] + [len(data)])
        data[at:at] = data[o : o + n]
        what = f"record at {o} copied to {at}"
    elif kind == "wrong_magic":
        o, _ = rng.choice(recs)
        data[o : o + 4] = bytes.fromhex("f9beb4d9") if rng.random() < 0.5 else rng.randbytes(4)
        what = f"magic of the record at {o} replaced"
    elif kind == "lying_length":
        o, n = rng.choice(recs)
        lie = rng.choice([rng.randrange(0, n - 8), n - 8 + rng.randrange(1, 5000), rng.randrange(1 << 32)])
        data[o + 4 : o + 8] = lie.to_bytes(4, "little")
        what = f"record at {o} claims {lie} bytes (has {n - 8})"
    else:  # a block from another chain, framed as a good record
        raw = rng.choice(foreign)
        at = rng.choice([r[0] for r in recs] + [len(data)])
        data[at:at] = MAGIC + len(raw).to_bytes(4, "little") + raw
        what = f"foreign block inserted at {at}"
    path.write_bytes(bytes(data))
    return f"{kind} in {path.name}: {what}"


def _run_case(tmp_path: Path, clean, seed: int) -> None:
    src, blocks, digests, foreign = clean
    bad = tmp_path / "bad"
    what = corrupt(src, bad, seed, foreign)
    datadir = tmp_path / "node"
    runner = CliRunner()
    # Codec and raw block stores alike (chain-context records must survive the same faults).
    store = "codec" if seed % 2 else "raw"
    imp = ["bitcoin", "import", "--network", "regtest", "--jobs", "1", "--store", store, "--flush-every", "7"]
    res = runner.invoke(main, [*imp, str(bad), "--datadir", str(datadir), "--json"])
    assert res.exit_code in (0, 1), (what, res.output, res.exception)
    out = json.loads(res.output)
    assert res.exit_code == (1 if out["invalid"] or out["skipped_bytes"] else 0), what
    info = runner.invoke(main, ["bitcoin", "chain-info", "--datadir", str(datadir), "--json"])
    assert info.exit_code == 0, (what, info.output)
    state = json.loads(info.output)
    h = state["height"]
    if h and state["best_block_hash"] == Block.from_bytes(blocks[h - 1]).hash_hex:
        assert state["utxo_digest"] == digests[h], what
    else:  # a foreign block became the tip: the state must still hold together
        assert "foreign" in what or h == 0, what
        with Chainstate(datadir, "regtest", jobs=1) as cs:
            assert cs.utxo.stats() == cs.utxo.stats(scan=True), what
    again = runner.invoke(main, [*imp, str(src), "--datadir", str(datadir), "--json"])
    assert again.exit_code == 0, (what, again.output)
    final = json.loads(runner.invoke(main, ["bitcoin", "chain-info", "--datadir", str(datadir), "--json"]).output)
    assert final["height"] == BLOCKS, what
    assert final["best_block_hash"] == Block.from_bytes(blocks[-1]).hash_hex, what
    assert final["utxo_digest"] == digests[-1], what


@pytest.mark.parametrize("seed", range(FAST_CASES))
def test_corrupted_import_leaves_datadir_usable(tmp_path, clean, seed):
    _run_case(tmp_path, clean, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1000, 1000 + SLOW_CASES))
def test_corrupted_import_leaves_datadir_usable_slow(tmp_path, clean, seed):
    _run_case(tmp_path, clean, seed)
