"""`packetfs bitcoin blocks-dir-info PATH`: what a Bitcoin Core blocks directory holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from ..errors import PacketFSError
from .blockfiles import is_blocks_dir, open_blocks_dir


@click.command("blocks-dir-info")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: for 20 files or more, on a terminal).")
def blocks_dir_info(path: Path, as_json: bool, progress: bool | None) -> None:
    """List the blk/rev files of a Core blocks directory (or datadir), its xor.dat key, blocks and bytes.

    Every record is read and checked (magic, size, xor key), so a corrupt file is reported with its
    offset. JSON keys: path, network, magic, xor_key (hex, null without xor.dat), obfuscated,
    blk_files [{name, bytes, blocks, block_bytes}], rev_files [{name, bytes, undo_records}], blocks,
    block_bytes, undo_records, file_bytes.
    """
    err = Console(stderr=True)
    if not path.is_dir() or not (is_blocks_dir(path) or is_blocks_dir(path / "blocks")):
        err.print(f"[red]error:[/red] {path} is not a Bitcoin Core blocks directory (no blk?????.dat files)")
        sys.exit(2)
    try:
        d = open_blocks_dir(path)
        files = d.blk_files + d.rev_files
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err, transient=True,
            disable=not (err.is_terminal and len(files) >= 20 if progress is None else progress),
        ) as progress:  # fmt: skip
            task = progress.add_task("reading record headers", total=len(files))
            summary = d.summary(on_file=lambda _p: progress.advance(task))
    except (PacketFSError, OSError) as e:
        err.print(f"[red]error:[/red] {e}")
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    out = Console()
    key = summary["xor_key"]
    out.print(
        f"[bold]{summary['path']}[/bold]  network: {summary['network'] or 'unknown'} ({summary['magic']})"
    )
    out.print(
        "xor.dat: "
        + (
            "absent (files in clear)"
            if key is None
            else f"{key}" + ("" if summary["obfuscated"] else " (zero: none)")
        )
    )
    table = Table("file", "bytes on disk", "records", "payload bytes")
    for f in summary["blk_files"]:
        table.add_row(f["name"], f"{f['bytes']:,}", f"{f['blocks']:,} blocks", f"{f['block_bytes']:,}")
    for f in summary["rev_files"]:
        table.add_row(f["name"], f"{f['bytes']:,}", f"{f['undo_records']:,} undo", "")
    out.print(table)
    out.print(
        f"{summary['blocks']:,} blocks, {summary['block_bytes']:,} block bytes, "
        f"{summary['undo_records']:,} undo records, {summary['file_bytes']:,} bytes on disk"
    )


COMMANDS: list[click.Command] = [blocks_dir_info]
