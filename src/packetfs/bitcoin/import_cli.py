"""`packetfs bitcoin import [--swiftsync F.hints]`: the ordinary import and the SwiftSync import as one command.

chain/ knows nothing of swiftsync/ (data flows one way: swiftsync builds on chain), so the command that
offers both lives here, above both. It takes every option of chain/cli.py's ``import`` (the same option
objects, so the two cannot drift apart) and adds the SwiftSync ones; without ``--swiftsync`` it runs the
chain's command unchanged.

It **replaces** chain/cli.py's ``import`` under ``packetfs bitcoin``: src/packetfs/cli.py registers this
module after ``packetfs.bitcoin.chain.cli``, and click keeps the last command added under a name.
``REPLACES`` names the command replaced; tests/bitcoin/swiftsync/test_import_command.py checks the
registered ``import`` is this one and offers every option of the one it replaces.
"""

from __future__ import annotations

from pathlib import Path

import click

from .chain.cli import import_command as chain_import_command

REPLACES = chain_import_command

_SWIFTSYNC_OPTIONS = [
    click.Option(["--swiftsync", "hints_path"], type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 default=None, help="Hints file (`packetfs bitcoin hints`): validate blocks up to its height with "
                                    "SwiftSync (in parallel, no UTXO lookups, spent coins from the rev files "
                                    "checked by a salted aggregate), the rest the ordinary way."),
    click.Option(["--executor"], type=click.Choice(["local", "ray"]), default="local", show_default=True,
                 help="--swiftsync: validate in local processes (--jobs) or as Ray tasks."),
    click.Option(["--ray-address"], default=None, help="--swiftsync: Ray cluster (default: a local instance)."),
    click.Option(["--strict"], is_flag=True, help="--swiftsync: exit 3 if SwiftSync failed (after the fallback)."),
]  # fmt: skip


def _import(hints_path: Path | None, executor: str, ray_address: str | None, strict: bool, **options) -> None:
    if hints_path is None:
        if executor != "local" or ray_address or strict:
            raise click.UsageError("--executor, --ray-address and --strict go with --swiftsync")
        return chain_import_command.callback(**options)
    if options["assumevalid"] is not None:
        raise click.UsageError("--assumevalid does not go with --swiftsync (SwiftSync checks every script)")
    from .swiftsync.cli import run_swiftsync_import

    run_swiftsync_import(
        options["blocks_dir"], hints_path, options["network"], options["datadir"], options["jobs"], executor,
        ray_address, options["store"], options["dbcache"], strict, options["as_json"],
        flush_every=options["flush_every"], progress_bar=options["progress"], digest=options["digest"],
    )  # fmt: skip


import_command = click.Command(
    "import",
    callback=_import,
    params=[*chain_import_command.params, *_SWIFTSYNC_OPTIONS],
    help=(chain_import_command.help or "").rstrip()
    + "\n\nWith --swiftsync HINTS, blocks up to the hints' height are validated by SwiftSync (exit 3 with "
    "--strict if it fell back); `packetfs bitcoin swiftsync-import` is the same.",
    short_help="Import a Bitcoin Core blocks directory (optionally with SwiftSync).",
)

COMMANDS: list[click.Command] = [import_command]
