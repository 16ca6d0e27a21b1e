"""`packetfs bitcoin gen-chain`: write a deterministic regtest chain as a Core blocks directory."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..errors import PacketFSError
from .generator import ChainGenerator, GeneratedBlock, GeneratorError, write_chain
from .profiles import available_profiles


@click.command("gen-chain")
@click.option("--blocks", "n_blocks", type=click.IntRange(min=0), required=True, help="Blocks after genesis.")
@click.option(
    "--seed", default="0", show_default=True, help="Any string; the same seed gives the same bytes."
)
@click.option(
    "--profile", default="2024", show_default=True,
    help=f"A shipped profile ({', '.join(available_profiles())}) or a profile JSON file.",
)  # fmt: skip
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Blocks directory to create (must not hold blk/rev files yet).")  # fmt: skip
@click.option("--txs-per-block", type=click.IntRange(min=0), default=None,
              help="Transactions per block once coins have matured [default: the profile's, as in real blocks].")  # fmt: skip
@click.option("--min-kind-share", type=click.FloatRange(0.0, 0.125), default=0.0, show_default=True,
              help="Raise every input/output kind to at least this share (exercise all kinds in short chains).")  # fmt: skip
@click.option("--max-inputs-per-tx", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--max-outputs-per-tx", type=click.IntRange(min=2), default=500, show_default=True)
@click.option("--no-undo", is_flag=True, help="Do not write rev?????.dat files.")
@click.option("--bcoin-compatible", is_flag=True,
              help="Valid under bcoin 1.0.2's regtest too: every block signals bit 1 (segwit active at 432 "
                   "there) and no witness data before height 432.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def gen_chain_command(
    n_blocks: int, seed: str, profile: str, out_dir: Path, txs_per_block: int | None, min_kind_share: float,
    max_inputs_per_tx: int, max_outputs_per_tx: int, no_undo: bool, bcoin_compatible: bool, as_json: bool,
) -> None:  # fmt: skip
    """Generate a regtest chain of real, correctly signed transactions drawn from a profile.

    Blocks 1-100 only pay coinbases to the wallet; from 101 on, transactions of every kind the profile
    uses (P2PKH, P2SH multisig, P2SH-P2WPKH, P2SH-P2WSH, P2WPKH, P2WSH multisig, P2TR key and script
    path, OP_RETURN) spend them. Writes genesis and the blocks to blk?????.dat and their undo data to
    rev?????.dat. JSON keys: path, blocks, height, tip, block_bytes, blk_files, rev_files, file_bytes,
    profile, seed, transactions, inputs, outputs, seconds, blocks_per_s, inputs_per_s.
    """
    err = Console(stderr=True)
    try:
        gen = ChainGenerator(
            seed, profile, txs_per_block=txs_per_block, min_kind_share=min_kind_share,
            max_inputs_per_tx=max_inputs_per_tx, max_outputs_per_tx=max_outputs_per_tx,
            bcoin_compatible=bcoin_compatible,
        )  # fmt: skip
    except (PacketFSError, GeneratorError) as e:
        err.print(f"[red]error:[/red] {e}")
        sys.exit(2)
    start = time.perf_counter()
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(), console=err,
            disable=as_json and not err.is_terminal,
        ) as progress:  # fmt: skip
            task = progress.add_task("generating blocks", total=n_blocks, rate="")

            def on_block(b: GeneratedBlock) -> None:
                elapsed = time.perf_counter() - start
                rate = f"{gen.stats['inputs'] / elapsed:,.0f} inputs/s" if elapsed > 0 else ""
                progress.update(task, advance=1, rate=rate)

            summary = write_chain(gen.blocks(n_blocks), out_dir, undo=not no_undo, on_block=on_block)
    except FileExistsError as e:
        err.print(f"[red]error:[/red] {e}")
        sys.exit(2)
    except (PacketFSError, OSError, ValueError) as e:
        err.print(f"[red]error:[/red] {e}")
        sys.exit(2)
    seconds = time.perf_counter() - start
    summary.update(
        profile=gen.profile.get("name"), seed=seed, transactions=gen.stats["transactions"],
        inputs=gen.stats["inputs"], outputs=gen.stats["outputs"], seconds=round(seconds, 3),
        blocks_per_s=round(n_blocks / seconds, 2) if seconds > 0 else None,
        inputs_per_s=round(gen.stats["inputs"] / seconds, 1) if seconds > 0 else None,
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    table = Table(show_header=False)
    for key in ("path", "profile", "seed", "blocks", "height", "tip", "transactions", "inputs", "outputs",
                "block_bytes", "file_bytes", "seconds", "blocks_per_s", "inputs_per_s"):  # fmt: skip
        value = summary[key]
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    table.add_row("files", ", ".join(summary["blk_files"] + summary["rev_files"]))
    Console().print(table)


COMMANDS: list[click.Command] = [gen_chain_command]
