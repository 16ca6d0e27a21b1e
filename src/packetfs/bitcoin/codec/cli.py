"""`packetfs bitcoin compress / decompress / codec-bench`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from ..errors import PacketFSError
from .container import PfsReader, PfsWriter
from .errors import CodecError
from .model import CodecOptions


def _fail(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(2)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=True,
    )


def _spent_from_undo(undo_raw: bytes | None):
    """Encoder-only hints from CBlockUndo bytes: per non-coinbase tx, per input (value, script)."""
    if undo_raw is None:
        return None
    from ..storage.undo import decode_block_undo

    try:
        return [[(c.value, c.script_pubkey) for c in txu] for txu in decode_block_undo(undo_raw)]
    except PacketFSError:
        return None  # a bad undo record only costs compression, never exactness


def _iter_inputs(paths: tuple[str, ...], use_undo: bool) -> Iterator[tuple[str, bytes, bytes | None]]:
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


@contextmanager
def _chain_context(datadir: str | None) -> Iterator[object | None]:
    """The portable chain context of the node at ``datadir`` (None without one)."""
    if datadir is None:
        yield None
        return
    # Imported here: the codec itself knows nothing of the chainstate; only this command joins them.
    from ..chain.archive_context import ActiveChainContext
    from ..chain.chainstate import Chainstate, read_network

    with Chainstate(datadir, read_network(datadir), jobs=1, store_mode="codec", encode_jobs=0) as cs:
        yield ActiveChainContext(cs)


def _input_size(paths: tuple[str, ...]) -> int:
    total = 0
    for p in paths:
        path = Path(p)
        if path.is_file():
            total += path.stat().st_size
        elif path.is_dir():
            total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.name.startswith("rev"))
    return total


@click.command("compress")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .pfs archive to write.")
@click.option("--no-recovery", is_flag=True, help="Store every public key instead of recovering it.")
@click.option("--undo/--no-undo", default=True, show_default=True,
              help="Use undo data next to the blocks (NAME.undo, rev files) to recover segwit keys; the archive "
                   "still decodes without it.")  # fmt: skip
@click.option("--datadir", type=click.Path(file_okay=False), default=None,
              help="Chain-context mode: a node's datadir (imported with --store codec) whose active chain turns "
                   "prevout txids into (height, position); decompressing then needs a node with the same chain.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def compress_cmd(inputs, output, no_recovery, undo, datadir, as_json, progress) -> None:
    """Compress block files, blk files or Core blocks directories (xor.dat handled) into a .pfs archive.

    Every block is encoded on its own and checked by decoding it again: in isolated mode (the default)
    a block needs nothing else to decode; with --datadir it may refer to transactions of the node's
    active chain, and the archive records that it needs a chain context."""
    opts = CodecOptions(recovery=not no_recovery)
    raw_total = 0
    blocks = []
    try:
        with (
            _chain_context(datadir) as context,
            _progress(progress and not as_json) as bar,
            PfsWriter(output, context=context, options=opts) as w,
        ):
            task = bar.add_task("compressing", total=_input_size(inputs) or None)
            for label, raw, u in _iter_inputs(inputs, undo):
                e = w.add_block(raw, _spent_from_undo(u))
                raw_total += len(raw)
                blocks.append({"input": label, "raw": len(raw), "encoded": e.length})
                bar.advance(task, len(raw))
            out_size = None
    except (OSError, PacketFSError) as e:
        _fail(str(e))
    out_size = Path(output).stat().st_size
    summary = {
        "output": output,
        "blocks": len(blocks),
        "raw_bytes": raw_total,
        "archive_bytes": out_size,
        "ratio": out_size / raw_total if raw_total else 0.0,
        "mode": "chain-context" if datadir else "isolated",
    }
    if as_json:
        summary["per_block"] = blocks
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(
            f"{len(blocks)} blocks, {raw_total:,} bytes -> {out_size:,} bytes ({summary['ratio']:.3f}, "
            f"{summary['mode']}) in {output}"
        )


@click.command("decompress")
@click.argument("archive", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(), help="Block file (one block) or directory.")
@click.option("--blk", is_flag=True, help="Write Core-format blk?????.dat files into the output directory.")
@click.option("--network", default="mainnet", show_default=True, help="Network magic for --blk.")
@click.option("--block", "only", type=int, default=None, help="Extract only block N (0-based, random access).")
@click.option("--datadir", type=click.Path(file_okay=False, exists=True), default=None,
              help="The node whose active chain resolves a chain-context archive's references.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def decompress_cmd(archive, output, blk, network, only, datadir, as_json, progress) -> None:
    """Decompress a .pfs archive: one block -> OUTPUT file; several -> OUTPUT/NNNNNN.block, or --blk."""
    out = Path(output)
    written = 0
    total = 0
    try:
        with _chain_context(datadir) as context, PfsReader(archive, context) as r:
            if r.needs_context and context is None:
                _fail(f"{archive} was written in chain-context mode; pass --datadir of a node with that chain")
            if only is not None:
                if not 0 <= only < len(r):
                    _fail(f"block {only} not in archive of {len(r)} blocks")
                blocks_iter = iter([r.block(only)])
                count = 1
            else:
                count = len(r)
                blocks_iter = r.iter_blocks()
            with _progress(progress and not as_json) as bar:
                task = bar.add_task("decompressing", total=count)

                def counted() -> Iterator[bytes]:
                    nonlocal written, total
                    for raw in blocks_iter:
                        written += 1
                        total += len(raw)
                        bar.advance(task)
                        yield raw

                if blk:
                    from ..storage.blockfiles import write_blk_files

                    out.mkdir(parents=True, exist_ok=True)
                    write_blk_files(counted(), out, network)
                elif count == 1:
                    raw = next(counted())
                    out.write_bytes(raw)
                else:
                    out.mkdir(parents=True, exist_ok=True)
                    for n, raw in enumerate(counted()):
                        (out / f"{n:06d}.block").write_bytes(raw)
    except (OSError, PacketFSError) as e:
        _fail(str(e))
    if as_json:
        click.echo(json.dumps({"archive": archive, "blocks": written, "raw_bytes": total, "output": output}))
    else:
        click.echo(f"{written} blocks, {total:,} bytes -> {output}")


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
        blocks = [(label, raw) for label, raw, _ in _iter_inputs(tuple(paths), False)]
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


COMMANDS: list[click.Command] = [compress_cmd, decompress_cmd, bench_cmd]

__all__ = ["COMMANDS", "CodecError"]
