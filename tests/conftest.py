"""Shared fixtures: the real blocks and vectors in ../shared (present in CI, absent in a bare clone)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
BLOCKS_DIR = SHARED / "blocks"
VECTORS_DIR = SHARED / "vectors"

# Helpers shared across test folders (e.g. the bcoin harness) live in tests/support, imported by module name.
sys.path.insert(0, str(REPO / "tests" / "support"))


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is missing: the real-data tests need ../shared/data next to the repo (CI has it)")
    return path


@pytest.fixture(scope="session")
def blocks_dir() -> Path:
    return _need(BLOCKS_DIR)


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    return _need(VECTORS_DIR)


@pytest.fixture(scope="session")
def manifest(blocks_dir: Path) -> list[dict]:
    return json.loads((blocks_dir / "manifest.json").read_text())


@pytest.fixture(scope="session")
def real_blocks(blocks_dir: Path, manifest: list[dict]) -> dict[str, bytes]:
    """name -> raw block bytes, for every block in the manifest."""
    return {m["name"]: (blocks_dir / f"{m['name']}.block").read_bytes() for m in manifest}


@pytest.fixture(scope="session")
def real_undo(blocks_dir: Path, manifest: list[dict]) -> dict[str, bytes]:
    """name -> raw CBlockUndo bytes, for the blocks that ship undo data."""
    return {m["name"]: (blocks_dir / f"{m['name']}.undo").read_bytes() for m in manifest if m["undo"]}
