"""The one `packetfs` command. Each concern contributes its subcommands from its own `cli` module."""

from __future__ import annotations

import importlib
import importlib.util

import click

from . import __version__

# Modules that define COMMANDS: list[click.Command], added under `packetfs bitcoin`.
BITCOIN_COMMAND_MODULES = (
    "packetfs.bitcoin.patterns.cli",
    "packetfs.bitcoin.consensus.cli",
    "packetfs.bitcoin.codec.cli",
    "packetfs.bitcoin.storage.cli",
    "packetfs.bitcoin.chain.cli",
    "packetfs.bitcoin.chain.generator_cli",
    "packetfs.bitcoin.node.sync_cli",
    "packetfs.bitcoin.swiftsync.cli",
    "packetfs.bitcoin.import_cli",  # after chain.cli: its `import` (with --swiftsync) replaces chain's
)

# Modules that define COMMANDS: list[click.Command], added at the top level (`packetfs node`,
# `packetfs cli`, `packetfs compute`, ...). A module not written yet is skipped.
TOP_LEVEL_COMMAND_MODULES = (
    "packetfs.bitcoin.node.cli",
    "packetfs.bitcoin.rpc.cli",
    "packetfs.compute.cli",
    "packetfs.compute.compiler.cli",
    "packetfs.compute.workloads.cli",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="packetfs")
def main() -> None:
    """PacketFS: a Bitcoin block engine and a measured packet-compute fabric."""


@main.group()
def bitcoin() -> None:
    """Bitcoin: parse, analyse, validate and compress real chain data."""


def _exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent package is not written yet
        return False


def _register() -> None:
    for modules, group in ((BITCOIN_COMMAND_MODULES, bitcoin), (TOP_LEVEL_COMMAND_MODULES, main)):
        for name in modules:
            if not _exists(name):
                continue  # that concern has no commands yet
            for command in importlib.import_module(name).COMMANDS:
                group.add_command(command)


_register()

if __name__ == "__main__":
    main()
