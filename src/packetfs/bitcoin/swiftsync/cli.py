"""`packetfs bitcoin hints` and `packetfs bitcoin swiftsync-import`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from ..consensus.params import NETWORKS
from ..errors import PacketFSError

EXIT_ERROR = 2  # bad input: unreadable datadir, blocks directory or hints file
EXIT_INVALID = 1  # the import finished but rejected blocks (as `packetfs bitcoin import` does)
EXIT_FALLBACK = 3  # with --strict: SwiftSync failed and the ordinary path was taken


@click.command("hints")
@click.option("--datadir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Chainstate made by `packetfs bitcoin import` (its tip must be at or above --height).")
@click.option("--height", type=click.IntRange(min=1), required=True, help="Height H the hints describe.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Hints file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def hints_command(datadir: Path, height: int, output: Path, as_json: bool) -> None:
    """Write a SwiftSync hints file: for every block up to --height, which outputs are unspent there.

    Format: docs/swiftsync-hints.md (the draft BIP's per-block Elias-Fano lists)."""
    from ..chain.chainstate import Chainstate, read_network
    from .hints import build_hints

    err = Console(stderr=True)
    try:
        network = read_network(datadir)
        with Chainstate(datadir, network, jobs=1) as cs:
            chain = cs.active_chain()[1:]
            if height > len(chain):
                raise PacketFSError(f"{datadir} is at height {len(chain)}, below --height {height}")
            store = cs.store

            def read_block(h: int) -> tuple[bytes, bytes | None]:
                e = chain[h - 1]
                return store.get_block(e.block_pos), store.get_undo(e.undo_pos) if e.undo_pos else None
            with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                          console=err, disable=not err.is_terminal) as bar:  # fmt: skip
                task = bar.add_task("hints", total=height)
                hints = build_hints(len(chain), height, read_block, cs.utxo.have, progress=lambda: bar.advance(task))
            tip_hash = chain[height - 1].hash_hex
        data = hints.serialize()
        output.write_bytes(data)
    except (PacketFSError, OSError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_ERROR)
    unspent = sum(len(u) for u in hints.unspent)
    out = {"path": str(output), "height": height, "block_hash": tip_hash, "network": network, "bytes": len(data),
           "unspent_outputs": unspent, "bits_per_unspent_output": round(8 * len(data) / unspent, 2) if unspent else None}
    if as_json:
        click.echo(json.dumps(out, indent=1))
    else:
        click.echo(f"wrote {output}: {len(data):,} bytes, {unspent:,} unspent outputs in {height:,} blocks "
                   f"(up to {tip_hash})")  # fmt: skip


@click.command("swiftsync-import")
@click.argument("blocks_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--hints", "hints_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Hints file (`packetfs bitcoin hints`).")
@click.option("--network", type=click.Choice(NETWORKS), required=True, help="Chain the blocks belong to.")
@click.option("--datadir", type=click.Path(path_type=Path), required=True, help="Where the chainstate lives.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Validation processes (default: every core).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Validate blocks up to the hints' height in local processes or as Ray tasks.")
@click.option("--ray-address", default=None, help="Ray cluster to use (default: start a local Ray instance).")
@click.option("--store", type=click.Choice(["codec", "raw"]), default="codec", show_default=True,
              help="Keep blocks through the PacketFS codec or raw.")
@click.option("--dbcache", type=int, default=256, show_default=True, help="UTXO cache size in MiB.")
@click.option("--strict", is_flag=True, help=f"Exit with {EXIT_FALLBACK} if SwiftSync failed (after the fallback).")
@click.option("--digest/--no-digest", default=True, show_default=True,
              help="End by computing the UTXO set's digest (reads every coin).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def swiftsync_import_command(
    blocks_dir: Path, hints_path: Path, network: str, datadir: Path, jobs: int | None, executor: str,
    ray_address: str | None, store: str, dbcache: int, strict: bool, digest: bool, as_json: bool,
) -> None:
    """Same as `packetfs bitcoin import --swiftsync HINTS` (kept as an alias): import a Core blocks
    directory with SwiftSync: blocks up to the hints' height validated in parallel with no UTXO lookups
    (spent coins from the rev files, checked by a salted aggregate), the rest the ordinary way. Wrong
    hints, wrong undo data or an invalid block make it fall back to an ordinary import, which ends in
    the same chainstate as `packetfs bitcoin import`."""
    run_swiftsync_import(blocks_dir, hints_path, network, datadir, jobs, executor, ray_address, store, dbcache,
                         strict, as_json, digest=digest)


def run_swiftsync_import(
    blocks_dir: Path, hints_path: Path, network: str, datadir: Path, jobs: int | None, executor: str,
    ray_address: str | None, store: str, dbcache: int, strict: bool, as_json: bool, flush_every: int = 500,
    progress_bar: bool | None = None, digest: bool = True,
) -> None:
    """The SwiftSync import as a command runs it: prints the result (or JSON), exits with the codes above."""
    from ..chain.chainstate import Chainstate
    from ..storage.blockfiles import open_blocks_dir
    from .executor import make_executor
    from .hints import Hints
    from .importer import since_start, swiftsync_import

    timeline = {"command": since_start()}  # the modules above imported, the options parsed
    err = Console(stderr=True)
    try:
        source = open_blocks_dir(blocks_dir)
        if not source.blk_files:
            raise PacketFSError(f"{blocks_dir}: no blk?????.dat files (not a Bitcoin Core blocks directory)")
        if source.network not in (None, network):
            raise PacketFSError(f"{blocks_dir} holds {source.network} blocks, not {network}")
        hints = Hints.read(hints_path)
        ex = make_executor(executor, jobs, ray_address)
        with Chainstate(datadir, network, jobs=ex.jobs, cache_bytes=dbcache << 20, store_mode=store) as cs:
            timeline["opened"] = since_start()
            # No refresh thread (auto_refresh off, redrawn on each update): the validation and encoder
            # processes are forked, which is only safe while this process runs a single thread.
            show = err.is_terminal if progress_bar is None else progress_bar
            with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=err, disable=not show, auto_refresh=False) as bar:  # fmt: skip
                tasks: dict[str, int] = {}

                def progress(stage: str, done: int, total: int) -> None:
                    if stage not in tasks:
                        tasks[stage] = bar.add_task(stage, total=total)
                    bar.update(tasks[stage], completed=done)
                    bar.refresh()

                result = swiftsync_import(cs, source, hints, ex, progress=progress, flush_every=flush_every)
            result.timeline = {**timeline, **result.timeline}
            info = cs.info(digest=digest)
            result.timeline["info"] = since_start()
        result.timeline["closed"] = since_start()
    except (PacketFSError, OSError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_ERROR)
    out = {**result.to_dict(), "chain": info}
    if as_json:
        click.echo(json.dumps(out, indent=1))
    else:
        s = result.seconds
        if result.mode == "swiftsync":
            click.echo(f"SwiftSync: {result.blocks_swiftsync} blocks ({result.inputs_script_checked:,} inputs "
                       f"script-checked) on {result.jobs} {result.executor} worker(s) in {s.get('validate', 0):.2f} s, "
                       f"aggregate zero, {result.utxos_from_hints:,} coins from the hints")  # fmt: skip
        else:
            click.echo(f"SwiftSync not used ({result.mode}): {result.fallback_reason}")
        o = result.ordinary
        click.echo(f"ordinary validation: {o.blocks_accepted} blocks accepted, {len(o.invalid)} invalid, "
                   f"{o.orphans_left} without a parent; total {s['total']:.2f} s")  # fmt: skip
        click.echo(f"tip {info['height']} {info['best_block_hash']}, {info['utxo_count']:,} coins")
    if result.ordinary.invalid:
        sys.exit(EXIT_INVALID)
    if strict and result.mode == "fallback":
        sys.exit(EXIT_FALLBACK)


COMMANDS = [hints_command, swiftsync_import_command]
