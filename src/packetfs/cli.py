"""The one `packetfs` command. Each concern contributes its subcommands from its own `cli` module."""

from __future__ import annotations

import importlib

import click

from . import __version__

# Where each subcommand lives: a module that defines COMMANDS: list[click.Command]. A module is imported
# only when one of its commands runs (or --help lists them all), so `packetfs cli getblockcount` does not
# pay for numpy, aiohttp, the compiler and the node (~0.6 s of imports), and neither does each worker
# process a command starts. tests/test_cli.py checks these tables against the modules' COMMANDS.
BITCOIN_COMMANDS = {
    "patterns": "packetfs.bitcoin.patterns.cli",
    "verify-block": "packetfs.bitcoin.consensus.cli",
    "codec-bench": "packetfs.bitcoin.codec.cli",
    "blocks-dir-info": "packetfs.bitcoin.storage.cli",
    "chain-info": "packetfs.bitcoin.chain.cli",
    "compress": "packetfs.bitcoin.chain.cli",
    "decompress": "packetfs.bitcoin.chain.cli",
    "gen-chain": "packetfs.bitcoin.chain.generator_cli",
    "sync": "packetfs.bitcoin.node.sync_cli",
    "sync-bench": "packetfs.bitcoin.sync_bench_cli",
    "hints": "packetfs.bitcoin.swiftsync.cli",
    "swiftsync-import": "packetfs.bitcoin.swiftsync.cli",
    # chain.cli also defines an `import`; this one (chain/ or swiftsync/ by --swiftsync) replaces it
    "import": "packetfs.bitcoin.import_cli",
}
TOP_LEVEL_COMMANDS = {
    "node": "packetfs.bitcoin.node.cli",
    "cli": "packetfs.bitcoin.rpc.cli",
    "compute": "packetfs.compute.cli",
    "meter": "packetfs.compute.cli",
    "compile": "packetfs.compute.compiler.cli",
    "run": "packetfs.compute.compiler.cli",
    "deploy": "packetfs.compute.workloads.cli",
    "mine": "packetfs.compute.workloads.cli",
    "fold": "packetfs.compute.workloads.cli",
    "train": "packetfs.compute.workloads.cli",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported from ``lazy`` (name -> module) when first asked for."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy:
            module = importlib.import_module(self.lazy[cmd_name])
            command = next(c for c in module.COMMANDS if c.name == cmd_name)
            self.add_command(command)
        return command


@click.group(cls=LazyGroup, lazy=TOP_LEVEL_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="packetfs")
def main() -> None:
    """PacketFS: a Bitcoin block engine and a measured packet-compute fabric."""


@main.group(cls=LazyGroup, lazy=BITCOIN_COMMANDS)
def bitcoin() -> None:
    """Bitcoin: parse, analyse, validate and compress real chain data."""


if __name__ == "__main__":
    main()
