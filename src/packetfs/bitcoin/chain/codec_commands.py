"""`packetfs bitcoin compress` and `decompress`: the codec's archive commands.

They live here, above both the codec and the chainstate, because chain-context mode (``--datadir``)
opens a node's chainstate (read only, beside a running node) and hands the codec a context built
from it; the codec itself never imports the chain.

Outputs are all-or-nothing: everything is written under a temporary name in the output's directory
and renamed into place only once it is complete, so a failure leaves neither a stub nor a partial
file. An existing output is replaced only with ``--force``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ..codec.cli import iter_inputs, progress_bar, spent_from_undo
from ..codec.container import ContextMismatchError, PfsReader, PfsWriter
from ..codec.model import CodecOptions
from ..errors import PacketFSError

EXIT_ERROR = 2
DATADIR = click.Path(file_okay=False, path_type=Path)


def _fail(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)
    sys.exit(EXIT_ERROR)


@contextmanager
def chain_context(datadir: Path | None) -> Iterator[object | None]:
    """The portable chain context (ActiveChainContext) of the node at ``datadir`` (None without one),
    opened read only."""
    if datadir is None:
        yield None
        return
    # Imported here: opening a chainstate costs a command nothing unless it asks for one.
    from .archive_context import ActiveChainContext
    from .chainstate import Chainstate, read_network

    network = read_network(datadir)
    with Chainstate(datadir, network, jobs=1, store_mode="codec", encode_jobs=0, readonly=True) as cs:
        yield ActiveChainContext(cs)


def _check_output(path: Path, force: bool) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise PacketFSError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise PacketFSError(f"cannot write {path}: directory {parent} is not writable")
    if path.exists() and not force:
        raise PacketFSError(f"{path} exists; pass --force to replace it")


@contextmanager
def atomic_output(path: Path, *, directory: bool, force: bool) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed to ``path`` if the block ends normally,
    removed otherwise. ``directory``: the output is a directory (its files are moved into an
    existing one under --force; nothing else in it is touched)."""
    _check_output(path, force)
    if path.exists() and directory != path.is_dir():
        raise PacketFSError(f"{path} exists and is {'not ' if directory else ''}a directory")
    tmp = path.parent / f".{path.name}.partial-{os.getpid()}"
    if directory:
        tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
    if directory and path.is_dir():
        for f in sorted(tmp.iterdir()):
            os.replace(f, path / f.name)
        tmp.rmdir()
    else:
        os.replace(tmp, path)


def _missing_inputs(paths: tuple[str, ...]) -> None:
    for p in paths:
        if not Path(p).exists():
            raise PacketFSError(f"{p}: no such file or directory")


@click.command("compress")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .pfs archive to write.")
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--no-recovery", is_flag=True, help="Store every public key instead of recovering it.")
@click.option("--undo/--no-undo", default=True, show_default=True,
              help="Use undo data next to the blocks (NAME.undo, rev files) to recover segwit keys; the archive "
                   "still decodes without it.")  # fmt: skip
@click.option("--datadir", type=DATADIR, default=None,
              help="Chain-context mode: a node's datadir (imported with --store codec) whose active chain turns "
                   "prevout txids into (height, position); decompressing then needs a node with the same chain. "
                   "Opened read only: it may be in use by a running node.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
def compress_cmd(inputs, output: Path, force, no_recovery, undo, datadir, as_json, progress) -> None:
    """Compress block files, blk files or Core blocks directories (xor.dat handled) into a .pfs archive.

    Every block is encoded on its own and checked by decoding it again: in isolated mode (the default)
    a block needs nothing else to decode; with --datadir it may refer to transactions of the node's
    active chain, and the archive records that it needs a chain context. The archive appears only
    when complete."""
    opts = CodecOptions(recovery=not no_recovery)
    raw_total = 0
    blocks = []
    opaque: list[str] = []
    try:
        _missing_inputs(inputs)
        with (
            atomic_output(output, directory=False, force=force) as tmp,
            chain_context(datadir) as context,
            progress_bar(progress, as_json) as bar,
            PfsWriter(tmp, context=context, options=opts) as w,
        ):
            task = bar.add_task("compressing", total=None)
            for label, raw, u in iter_inputs(inputs, undo):
                e = w.add_block(raw, spent_from_undo(u))
                if w.stats[-1].opaque:
                    opaque.append(label)
                raw_total += len(raw)
                blocks.append({"input": label, "raw": len(raw), "encoded": e.length, "opaque": w.stats[-1].opaque})
                bar.advance(task, len(raw))
    except (OSError, PacketFSError) as e:
        _fail(str(e))
    for label in opaque:
        click.echo(f"warning: {label} is not a block the codec can model; stored opaque (exact, not compressed)",
                   err=True)  # fmt: skip
    out_size = output.stat().st_size
    summary = {
        "output": str(output),
        "blocks": len(blocks),
        "raw_bytes": raw_total,
        "archive_bytes": out_size,
        "ratio": out_size / raw_total if raw_total else 0.0,
        "mode": "chain-context" if datadir else "isolated",
        "opaque": opaque,
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
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Block file (one block) or directory.")
@click.option("--force", is_flag=True, help="Replace OUTPUT (a file) or the files written into it (a directory).")
@click.option("--blk", is_flag=True, help="Write Core-format blk?????.dat files into the output directory.")
@click.option("--network", default="mainnet", show_default=True, help="Network magic for --blk.")
@click.option("--block", "only", type=click.IntRange(min=0), default=None,
              help="Extract only block N (0-based, random access).")
@click.option("--datadir", type=DATADIR, default=None,
              help="The node whose active chain resolves a chain-context archive's references (read only).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
def decompress_cmd(archive: Path, output: Path, force, blk, network, only, datadir, as_json, progress) -> None:
    """Decompress a .pfs archive: one block -> OUTPUT file; several -> OUTPUT/NNNNNN.block, or --blk.

    The output appears only when every block decoded."""
    written = 0
    total = 0
    try:
        if not archive.is_file():
            raise PacketFSError(f"{archive}: no such file")
        with chain_context(datadir) as context, PfsReader(archive, context) as r:
            if r.needs_context and context is None:
                raise PacketFSError(f"{archive} was written in chain-context mode; pass --datadir of a node with that chain")
            if only is not None:
                if not 0 <= only < len(r):
                    raise PacketFSError(f"block {only} not in archive of {len(r)} blocks")
                blocks_iter = iter([r.block(only)])
                count = 1
            else:
                count = len(r)
                blocks_iter = r.iter_blocks()
            one_file = count == 1 and not blk
            with (
                atomic_output(output, directory=not one_file, force=force) as tmp,
                progress_bar(progress, as_json) as bar,
            ):
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

                    write_blk_files(counted(), tmp, network)
                elif one_file:
                    tmp.write_bytes(next(counted()))
                else:
                    for n, raw in enumerate(counted()):
                        (tmp / f"{n:06d}.block").write_bytes(raw)
    except ContextMismatchError as e:
        _fail(f"this archive's frame {e.frame} refers to a chain this datadir does not have ({datadir})")
    except (OSError, PacketFSError) as e:
        _fail(str(e))
    if as_json:
        click.echo(json.dumps({"archive": str(archive), "blocks": written, "raw_bytes": total, "output": str(output)}))
    else:
        click.echo(f"{written} blocks, {total:,} bytes -> {output}")


COMMANDS: list[click.Command] = [compress_cmd, decompress_cmd]
