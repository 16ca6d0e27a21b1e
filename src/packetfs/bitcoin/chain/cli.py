"""`packetfs bitcoin import` and `packetfs bitcoin chain-info`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TaskProgressColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ..consensus.params import NETWORKS
from ..errors import PacketFSError
from ..primitives.hashes import hex_to_hash


class _RatesColumn(ProgressColumn):
    """blocks/s, MB/s and inputs/s since the start."""

    def __init__(self, counters: dict) -> None:
        super().__init__()
        self.counters = counters

    def render(self, task) -> Text:  # type: ignore[override]
        elapsed = max(1e-9, time.perf_counter() - self.counters["start"])
        c = self.counters
        return Text(
            f"{c['blocks'] / elapsed:,.1f} blk/s  {c['bytes'] / 1e6 / elapsed:,.2f} MB/s  {c['inputs'] / elapsed:,.0f} in/s"
        )


@click.command("import")
@click.argument("blocks_dir", type=click.Path(exists=True, path_type=Path))
@click.option("--network", type=click.Choice(NETWORKS), required=True, help="Chain the blocks belong to.")
@click.option("--datadir", type=click.Path(path_type=Path), required=True, help="Where the chainstate lives.")
@click.option("--jobs", "-j", type=int, default=None, help="Script-check processes (default: every core).")
@click.option("--dbcache", type=int, default=256, show_default=True, help="UTXO cache size in MiB.")
@click.option("--assumevalid", default=None, help="Block hash (hex) under which scripts are not checked.")
@click.option("--store", type=click.Choice(["codec", "raw"]), default="codec", show_default=True,
              help="Keep blocks through the PacketFS codec (chain-context mode) or raw.")
@click.option("--flush-every", type=click.IntRange(min=1), default=500, show_default=True,
              help="Make the chainstate durable every N blocks (and whenever the cache is full).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def import_command(
    blocks_dir: Path, network: str, datadir: Path, jobs: int | None, dbcache: int, assumevalid: str | None,
    store: str, flush_every: int, as_json: bool,
) -> None:
    """Import a Bitcoin Core blocks directory (blk/rev/xor.dat), validating every block.

    Out-of-order blocks are handled; re-running after an interruption resumes where it stopped.
    """
    from ..storage.blockfiles import open_blocks_dir
    from .chainstate import Chainstate
    from .importer import import_blocks

    err = Console(stderr=True)
    try:
        source = open_blocks_dir(blocks_dir)
        if not source.blk_files:
            raise PacketFSError(f"{blocks_dir}: no blk?????.dat files (not a Bitcoin Core blocks directory)")
        if source.network not in (None, network):
            raise PacketFSError(f"{blocks_dir} holds {source.network} blocks, not {network}")
        total = sum(p.stat().st_size for p in source.blk_files)
        av = hex_to_hash(assumevalid) if assumevalid else None
        counters = {"start": time.perf_counter(), "blocks": 0, "bytes": 0, "inputs": 0}
        with Chainstate(datadir, network, jobs=jobs, cache_bytes=dbcache << 20, assumevalid=av, store_mode=store) as cs:
            if av is not None:
                # Headers first, so blocks under the assumed-valid one are known to be its ancestors.
                from ..primitives.block import BlockHeader

                cs.process_headers(BlockHeader.parse(raw[:80]) for raw in source.iter_blocks())
            with Progress(
                "[progress.description]{task.description}", BarColumn(), TaskProgressColumn(), _RatesColumn(counters),
                TimeRemainingColumn(), console=err, disable=not err.is_terminal,
            ) as bar:
                task = bar.add_task("importing", total=total)

                def progress(nbytes: int, inputs: int) -> None:
                    counters["blocks"] += 1
                    counters["bytes"] += nbytes
                    counters["inputs"] += inputs
                    bar.update(task, advance=nbytes)

                result = import_blocks(cs, source.iter_blocks(), progress, flush_every=flush_every)
            info = cs.info()
    except (PacketFSError, OSError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    seconds = time.perf_counter() - counters["start"]
    out = {
        "blocks_seen": result.blocks_seen,
        "blocks_accepted": result.blocks_accepted,
        "blocks_skipped": result.blocks_skipped,
        "invalid": result.invalid,
        "orphans_left": result.orphans_left,
        "seconds": round(seconds, 3),
        "blocks_per_s": round(result.blocks_accepted / seconds, 2) if seconds else None,
        "mb_per_s": round(result.bytes / 1e6 / seconds, 3) if seconds else None,
        "inputs_per_s": round(counters["inputs"] / seconds, 1) if seconds else None,
        "chain": info,
    }
    if as_json:
        click.echo(json.dumps(out, indent=1))
    else:
        Console().print(
            f"imported {result.blocks_accepted} blocks ({result.blocks_skipped} already stored, "
            f"{len(result.invalid)} invalid, {result.orphans_left} without a parent) in {seconds:.1f} s: "
            f"{out['blocks_per_s']} blocks/s, {out['mb_per_s']} MB/s, {out['inputs_per_s']} inputs/s"
        )
        _print_info(info)
    if result.invalid:
        sys.exit(1)


@click.command("chain-info")
@click.option("--datadir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def chain_info_command(datadir: Path, as_json: bool) -> None:
    """Height, best hash, chainwork, UTXO count and amount, disk usage of a chainstate."""
    from .chainstate import Chainstate, read_network

    try:
        network = read_network(datadir)
        with Chainstate(datadir, network, jobs=1, readonly=True) as cs:
            info = cs.info()
    except (PacketFSError, OSError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(info, indent=1))
    else:
        _print_info(info)


def _print_info(info: dict) -> None:
    table = Table(title="Chain", show_header=False)
    for k, v in info.items():
        if isinstance(v, int) and not isinstance(v, bool) and k != "height":
            v = f"{v:,}"
        table.add_row(k, str(v))
    Console().print(table)


COMMANDS = [import_command, chain_info_command]
