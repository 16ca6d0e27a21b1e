"""A generated regtest chain (Core blocks directory with rev files), its ordinary import as the
reference, and helpers to tamper with blocks and undo data."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from packetfs.bitcoin.chain.generator import ChainGenerator, write_chain
from packetfs.bitcoin.primitives.block import Block, bits_to_target
from packetfs.bitcoin.primitives.hashes import sha256d
from packetfs.bitcoin.storage.blockfiles import open_blocks_dir, write_blocks_dir

CHAIN_BLOCKS = 115  # transactions start after 100 (coinbase maturity)
HINTS_HEIGHT = 110


def packetfs(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "packetfs.cli", "bitcoin", *args], capture_output=True, text=True)
    if check and proc.returncode:
        raise AssertionError(f"packetfs bitcoin {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def chain_info(datadir: Path) -> dict:
    info = json.loads(packetfs("chain-info", "--datadir", str(datadir), "--json").stdout)
    return {k: v for k, v in info.items() if not k.startswith("disk_bytes")}


def ordinary_import(blocks_dir: Path, datadir: Path) -> dict:
    packetfs("import", str(blocks_dir), "--network", "regtest", "--datadir", str(datadir), "--jobs", "1",
             "--store", "raw", check=False)  # fmt: skip
    return chain_info(datadir)


@dataclass
class Chain:
    blocks_dir: Path
    records: list[tuple[bytes, bytes | None]]  # genesis first, then blocks 1..N with undo
    reference: dict  # chain-info of an ordinary import
    reference_datadir: Path
    hints: Path  # hints at HINTS_HEIGHT made from the reference datadir


@pytest.fixture(scope="session")
def chain(tmp_path_factory) -> Chain:
    root = tmp_path_factory.mktemp("swiftsync-chain")
    gen = ChainGenerator(seed=5, profile="2016", txs_per_block=12, min_kind_share=0.1)
    write_chain(gen.blocks(CHAIN_BLOCKS), root / "core")
    records = list(open_blocks_dir(root / "core").iter_blocks_with_undo())
    reference = ordinary_import(root / "core", root / "ordinary")
    assert reference["height"] == CHAIN_BLOCKS
    hints = root / "h.hints"
    packetfs("hints", "--datadir", str(root / "ordinary"), "--height", str(HINTS_HEIGHT), "-o", str(hints))
    return Chain(root / "core", records, reference, root / "ordinary", hints)


def mine(header: bytes) -> bytes:
    """Regtest proof of work for an 80-byte header (a few tries at regtest's target)."""
    target = bits_to_target(int.from_bytes(header[72:76], "little"))
    nonce = int.from_bytes(header[76:80], "little")
    while True:
        h = header[:76] + nonce.to_bytes(4, "little")
        if int.from_bytes(sha256d(h), "little") <= target:
            return h
        nonce = (nonce + 1) & 0xFFFFFFFF


def relink(records: list[tuple[bytes, bytes | None]], start: int) -> list[tuple[bytes, bytes | None]]:
    """Fix merkle root and proof of work of block ``start`` (its body was changed) and re-link and
    re-mine every later block onto it, so the chain stays whole."""
    out = list(records)
    raw, undo = out[start]
    root = Block.from_bytes(raw).compute_merkle_root()[0]
    out[start] = (mine(raw[:36] + root + raw[68:80]) + raw[80:], undo)
    for i in range(start + 1, len(out)):
        raw, undo = out[i]
        prev = sha256d(out[i - 1][0][:80])
        out[i] = (mine(raw[:4] + prev + raw[36:80]) + raw[80:], undo)
    return out


def write_dir(records: list[tuple[bytes, bytes | None]], out: Path) -> Path:
    write_blocks_dir(records, out, network="regtest")
    return out
