"""`packetfs bitcoin import` and `packetfs bitcoin chain-info`."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import click
import lmdb
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TaskProgressColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ..consensus.params import NETWORKS
from ..errors import PacketFSError, ParseError
from ..primitives.hashes import hex_to_hash
from .codec_commands import COMMANDS as CODEC_COMMANDS


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


DATADIR = click.Path(file_okay=False, path_type=Path)

# Exit codes of `import`: 0 all blocks valid; 1 some blocks invalid or damaged bytes skipped (each
# named, the rest imported);
# 2 an error stopped it (bad arguments, datadir in use or unreadable); 130 interrupted (Ctrl-C).
EXIT_INVALID_BLOCKS = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class _Interrupt:
    """Ctrl-C during an import: the first asks for a stop at the next block boundary (then a flush);
    a second one ends the process at once, as a kill would (the datadir restarts at its last flush)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: object) -> None:
        if self.requested:
            sys.stderr.write("\nsecond interrupt: stopping now, without a flush\n")
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        self.requested = True

    def stop(self) -> bool:
        return self.requested


def _set_sigint(handler: object) -> object | None:
    """Install a SIGINT handler; returns the previous one, or None where signals cannot be handled
    (a thread other than the main one, e.g. the command driven from a test harness)."""
    try:
        return signal.signal(signal.SIGINT, handler)  # type: ignore[arg-type]
    except ValueError:
        return None


@click.command("import")
@click.argument("blocks_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--network", type=click.Choice(NETWORKS), required=True, help="Chain the blocks belong to.")
@click.option("--datadir", type=DATADIR, required=True, help="Where the chainstate lives.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Script-check processes (default: every core).")
@click.option("--dbcache", type=click.IntRange(min=1), default=256, show_default=True, help="UTXO cache size in MiB.")
@click.option("--assumevalid", default=None, help="Block hash (hex) under which scripts are not checked.")
@click.option("--store", type=click.Choice(["codec", "raw"]), default="codec", show_default=True,
              help="Keep blocks through the PacketFS codec (chain-context mode) or raw.")
@click.option("--flush-every", type=click.IntRange(min=1), default=500, show_default=True,
              help="Make the chainstate durable every N blocks (and whenever the cache is full).")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on stderr (default: when stderr is a terminal).")
@click.option("--digest/--no-digest", default=True, show_default=True,
              help="End by computing the UTXO set's digest (Core's hash_serialized_3; reads every coin, as "
                   "`chain-info` does).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def import_command(
    blocks_dir: Path, network: str, datadir: Path, jobs: int | None, dbcache: int, assumevalid: str | None,
    store: str, flush_every: int, progress: bool | None, as_json: bool, digest: bool = True,
) -> None:
    """Import a Bitcoin Core blocks directory (blk/rev/xor.dat), validating every block.

    Out-of-order blocks are handled; re-running after an interruption resumes where it stopped.
    Damaged stretches of the blk files are stepped over as Core's reindex does (each reported).
    Ctrl-C stops at the next block boundary and saves the state. Exit codes: 0 every block valid,
    1 some blocks invalid or damaged bytes skipped (each named), 2 error, 130 interrupted.
    """
    from ..storage.blockfiles import SkippedBytes, network_magic, open_blocks_dir
    from .chainstate import Chainstate
    from .importer import import_blocks

    err = Console(stderr=True)
    interrupt = _Interrupt()
    # Worker processes started from here on inherit "ignore Ctrl-C" (a terminal sends it to the whole
    # process group): only this process decides when to stop, at a block boundary.
    previous = _set_sigint(signal.SIG_IGN)
    try:
        try:
            source = open_blocks_dir(blocks_dir)
            if not source.blk_files:
                raise PacketFSError(f"{blocks_dir}: no blk?????.dat files (not a Bitcoin Core blocks directory)")
            try:
                found = source.network
            except ParseError:
                found = None  # a damaged first record: the tolerant read below steps over it
            if found not in (None, network):
                raise PacketFSError(f"{blocks_dir} holds {found} blocks, not {network}")
            magic = network_magic(network)
            skipped: list[SkippedBytes] = []
            total = sum(p.stat().st_size for p in source.blk_files)
            av = hex_to_hash(assumevalid) if assumevalid else None
            counters = {"start": time.perf_counter(), "blocks": 0, "bytes": 0, "inputs": 0}
            with Chainstate(
                datadir, network, jobs=jobs, cache_bytes=dbcache << 20, assumevalid=av, store_mode=store
            ) as cs:
                cs.start_workers()
                _set_sigint(interrupt)
                if av is not None:
                    # Headers first, so blocks under the assumed-valid one are known to be its ancestors.
                    from ..primitives.block import BlockHeader

                    cs.process_headers(
                        BlockHeader.parse(raw[:80])
                        for raw in source.iter_blocks_tolerant(magic, lambda _: None)
                        if len(raw) >= 80
                    )
                show = err.is_terminal if progress is None else progress
                with Progress(
                    "[progress.description]{task.description}", BarColumn(), TaskProgressColumn(),
                    _RatesColumn(counters), TimeRemainingColumn(), console=err, disable=not show,
                ) as bar:
                    task = bar.add_task("importing", total=total)

                    def on_block(nbytes: int, inputs: int) -> None:
                        counters["blocks"] += 1
                        counters["bytes"] += nbytes
                        counters["inputs"] += inputs
                        bar.update(task, advance=nbytes)

                    result = import_blocks(
                        cs, source.iter_blocks_tolerant(magic, skipped.append), on_block,
                        flush_every=flush_every, stop=interrupt.stop,
                    )
                seconds = time.perf_counter() - counters["start"]
                info = cs.info(digest=digest)
        except (PacketFSError, OSError, ValueError) as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(EXIT_ERROR)
    finally:
        if previous is not None:
            _set_sigint(previous)
    resume = shlex.join(["packetfs", "bitcoin", "import", str(blocks_dir), "--network", network,
                         "--datadir", str(datadir)])  # fmt: skip
    out = {
        "blocks_seen": result.blocks_seen,
        "blocks_accepted": result.blocks_accepted,
        "blocks_skipped": result.blocks_skipped,
        "invalid": result.invalid,
        "orphans_left": result.orphans_left,
        "not_connected": result.not_connected,
        "skipped_bytes": [{"file": sk.path.name, "offset": sk.offset, "size": sk.size, "reason": sk.reason}
                          for sk in skipped],  # fmt: skip
        "interrupted": result.interrupted,
        "resume_command": resume if result.interrupted else None,
        "seconds": round(seconds, 3),
        "blocks_per_s": round(result.blocks_accepted / seconds, 2) if seconds else None,
        "mb_per_s": round(result.bytes / 1e6 / seconds, 3) if seconds else None,
        "inputs_per_s": round(counters["inputs"] / seconds, 1) if seconds else None,
        "chain": info,
    }
    if as_json:
        click.echo(json.dumps(out, indent=1))
    else:
        console = Console()
        console.print(
            f"imported {result.blocks_accepted} blocks ({result.blocks_skipped} already stored, "
            f"{len(result.invalid)} invalid, {result.orphans_left} without a parent) in {seconds:.1f} s: "
            f"{out['blocks_per_s']} blocks/s, {out['mb_per_s']} MB/s, {out['inputs_per_s']} inputs/s",
            soft_wrap=True,
        )
        for sk in skipped:
            console.print(f"damaged: skipped {sk.size} bytes at {sk.path.name}:{sk.offset} ({sk.reason})",
                          soft_wrap=True, markup=False)  # fmt: skip
        for bad in result.invalid:
            console.print(_describe_invalid(bad), soft_wrap=True, markup=False)
        _describe_not_connected(console, result.not_connected)
        _print_info(info)
    if result.interrupted:
        click.echo(
            f"interrupted: stopped after block {info['height']} ({info['best_block_hash']}), state saved; "
            f"resume with: {resume}",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    if result.invalid or skipped:
        sys.exit(EXIT_INVALID_BLOCKS)


def _describe_invalid(bad: dict) -> str:
    where = []
    if bad.get("tx") is not None:
        where.append(f"tx {bad['tx']}")
    if bad.get("input") is not None:
        where.append(f"input {bad['input']}")
    at = f" ({', '.join(where)})" if where else ""
    name = f"block {bad['hash']}" if bad.get("hash") else "a block record"
    if bad.get("mutated"):
        return (f"invalid: {name}: {bad['error']}{at}; its data does not match its header, so the header "
                f"is not marked invalid (the honest block is still accepted)")  # fmt: skip
    why = f" ({bad['debug']})" if bad.get("error") == "duplicate-invalid" and bad.get("debug") else ""
    return f"invalid: {name}: {bad['error']}{why}{at}"


def _describe_not_connected(console: Console, rows: list[dict]) -> None:
    side = [r for r in rows if r["why"] == "side-branch"]
    waiting = [r for r in rows if r["why"] == "missing-ancestor"]
    for r in side:
        console.print(
            f"side branch: block {r['hash']} at height {r['height']} is stored but has less work than the "
            f"best chain", soft_wrap=True,
        )  # fmt: skip
    if waiting:
        first = min(waiting, key=lambda r: r["height"])
        console.print(
            f"{len(waiting)} stored blocks wait for an ancestor's block data (lowest: {first['hash']} at height "
            f"{first['height']}); import the missing block to connect them", soft_wrap=True,
        )  # fmt: skip


@click.command("chain-info")
@click.option("--datadir", type=DATADIR, required=True, help="The chainstate to describe (read only).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def chain_info_command(datadir: Path, as_json: bool) -> None:
    """Height, best hash, chainwork, UTXO count, amount and digest, disk usage of a chainstate.

    Read only: it works beside a process writing the datadir (an import or a node)."""
    from .chainstate import Chainstate, read_network

    try:
        network = read_network(datadir)
        with Chainstate(datadir, network, jobs=1, readonly=True) as cs:
            info = cs.info()
    except (PacketFSError, OSError, ValueError, lmdb.Error) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_ERROR)
    if as_json:
        click.echo(json.dumps(info, indent=1))
    else:
        _print_info(info)


def _print_info(info: dict) -> None:
    table = Table(title="Chain", show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")  # hashes are printed whole, wrapped if the terminal is narrow
    for k, v in info.items():
        if isinstance(v, int) and not isinstance(v, bool) and k != "height":
            v = f"{v:,}"
        table.add_row(k, str(v))
    Console().print(table)


COMMANDS = [import_command, chain_info_command, *CODEC_COMMANDS]
