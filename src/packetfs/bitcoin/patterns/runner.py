"""Find the blocks in the paths given, analyse files in parallel on every core, merge the results."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from ..errors import PacketFSError
from .analyze import PatternStats, analyze_block
from .report import compress_size

BLK_NAME = re.compile(r"^blk\d{5}\.dat$")


@dataclass(frozen=True)
class Source:
    """One unit of parallel work: a raw block file (with optional .undo) or one Core blk file."""

    path: Path
    kind: str  # "block" | "blk"
    undo: Path | None = None  # .undo beside a .block, or the rev file beside a blk file
    xor_key: bytes | None = None

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def discover(paths: Sequence[str | Path]) -> list[Source]:
    """Block files, Core blocks directories, or folders holding either (searched recursively)."""
    found: list[Source] = []
    for p in map(Path, paths):
        if not p.exists():
            raise PacketFSError(f"{p}: no such file or directory")
        found.extend(_discover_one(p))
    if not found:
        raise PacketFSError(f"no block files found in {', '.join(map(str, paths))}")
    return found


def _discover_one(p: Path) -> Iterator[Source]:
    if p.is_file():
        if BLK_NAME.match(p.name):
            yield _blk_source(p)
        else:
            undo = p.with_suffix(".undo")
            yield Source(p, "block", undo if undo.exists() and undo != p else None)
        return
    blk_files = sorted(f for f in p.iterdir() if BLK_NAME.match(f.name))
    if blk_files:
        for f in blk_files:
            yield _blk_source(f)
        return
    for child in sorted(p.iterdir()):
        if child.is_dir():
            yield from _discover_one(child)
        elif child.suffix == ".block":
            yield from _discover_one(child)


def _blk_source(path: Path) -> Source:
    from ..storage.xor import read_xor_key

    rev = path.with_name("rev" + path.name[3:])
    return Source(path, "blk", rev if rev.exists() else None, read_xor_key(path.parent))


def _iter_source_blocks(source: Source) -> Iterator[tuple[bytes, list | None]]:
    """(raw block, spent outputs per non-coinbase tx or None) for each block in a source."""
    from ..storage.undo import decode_block_undo

    if source.kind == "block":
        raw = source.path.read_bytes()
        spent = decode_block_undo(source.undo.read_bytes()) if source.undo else None
        yield raw, spent
        return
    from ..storage.blockfiles import iter_blk_file_with_undo

    for raw, undo in iter_blk_file_with_undo(source.path, source.undo, xor_key=source.xor_key or b""):
        yield raw, (decode_block_undo(undo) if undo is not None else None)


def analyze_source(source: Source, compressors: Sequence[str]) -> PatternStats:
    """Worker entry point: analyse every block of one source; compressors measure each block alone."""
    total = PatternStats()
    for raw, spent in _iter_source_blocks(source):
        try:
            stats = analyze_block(raw, spent)
        except PacketFSError as e:
            raise PacketFSError(f"{source.path}: {e}") from e
        for name in compressors:
            stats.compressors[name] += compress_size(name, raw)
        total.merge(stats)
    return total


def run(
    sources: Sequence[Source],
    compressors: Sequence[str],
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[PatternStats, float]:
    """Analyse all sources on ``jobs`` processes (default: every core); returns (stats, seconds)."""
    jobs = jobs or os.cpu_count() or 1
    start = time.perf_counter()
    total = PatternStats()
    if jobs == 1 or len(sources) == 1:
        for s in sources:
            total.merge(analyze_source(s, compressors))
            if progress:
                progress(s.size)
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(sources))) as pool:
            # Largest first keeps the cores busy until the end.
            ordered = sorted(sources, key=lambda s: -s.size)
            futures = {pool.submit(analyze_source, s, tuple(compressors)): s for s in ordered}
            for fut in as_completed(futures):
                total.merge(fut.result())
                if progress:
                    progress(futures[fut].size)
    return total, time.perf_counter() - start
