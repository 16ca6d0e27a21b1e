"""`packetfs bitcoin codec-bench`, and the input and progress helpers of the archive commands.

`compress` and `decompress` live in chain/codec_commands.py: with ``--datadir`` they open a node's
chainstate, which the codec does not import."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from ..errors import PacketFSError
from .errors import CodecError


def _fail(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(2)


def _progress(enabled: bool, console: Console | None = None) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=True,
        console=console,
    )


def progress_bar(progress: bool | None, as_json: bool) -> Progress:
    """The archive commands' bar on stderr: shown if asked, else when stderr is a terminal (never with --json)."""
    console = Console(stderr=True)
    enabled = (console.is_terminal if progress is None else progress) and not as_json
    return _progress(enabled, console)


def spent_from_undo(undo_raw: bytes | None):
    """Encoder-only hints from CBlockUndo bytes: per non-coinbase tx, per input (value, script)."""
    if undo_raw is None:
        return None
    from ..storage.undo import decode_block_undo

    try:
        return [[(c.value, c.script_pubkey) for c in txu] for txu in decode_block_undo(undo_raw)]
    except PacketFSError:
        return None  # a bad undo record only costs compression, never exactness


def iter_inputs(paths: tuple[str, ...], use_undo: bool) -> Iterator[tuple[str, bytes, bytes | None]]:
    """(label, raw block, undo bytes or None) from block files, blk files and Core blocks dirs."""
    from ..storage import blockfiles

    for p in paths:
        path = Path(p)
        if path.is_dir() and blockfiles.is_blocks_dir(path) and use_undo:
            for i, (raw, undo) in enumerate(blockfiles.open_blocks_dir(path).iter_blocks_with_undo()):
                yield f"{path.name}#{i}", raw, undo
            continue
        for src in blockfiles.block_sources(path):
            undo = None
            if src.kind == "raw" and use_undo:
                u = src.path.with_suffix(".undo")
                undo = u.read_bytes() if u.is_file() else None
            for i, raw in enumerate(src.iter_blocks()):
                yield (src.path.name if src.kind == "raw" else f"{src.path.name}#{i}"), raw, undo


@click.command("codec-bench")
@click.argument("paths", nargs=-1)
@click.option("--repeat", default=3, show_default=True, help="Timing runs per block (median).")
@click.option("--no-anchors", is_flag=True, help="Skip zlib/bz2/xz/zstd/brotli (they take a while).")
@click.option("--no-ablation", is_flag=True, help="Skip the bytes-saved-per-technique runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def bench_cmd(paths, repeat, no_anchors, no_ablation, as_json) -> None:
    """Ratio and speed of the codec against zlib, bz2, xz, zstd and brotli, each block alone.

    PATHS: block files, blk files or blocks dirs (default: ../shared/data/blocks)."""
    from .bench import render, run_bench

    if not paths:
        default = Path(__file__).resolve().parents[4].parent / "shared" / "data" / "blocks"
        if not default.is_dir():
            _fail(f"no PATHS given and {default} is missing")
        paths = (str(default),)
    try:
        blocks = [(label, raw) for label, raw, _ in iter_inputs(tuple(paths), False)]
    except (OSError, PacketFSError) as e:
        _fail(str(e))
    if not blocks:
        _fail("no blocks found")
    with _progress(not as_json) as bar:
        task = bar.add_task("bench", total=None)
        report = run_bench(blocks, repeat, not no_anchors, not no_ablation,
                           lambda s: bar.update(task, description=s))  # fmt: skip
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render(report))


COMMANDS: list[click.Command] = [bench_cmd]

__all__ = ["COMMANDS", "CodecError", "iter_inputs", "progress_bar", "spent_from_undo"]
