"""`packetfs cli`: bitcoin-cli for a PacketFS node (or any bitcoind-compatible RPC server).

Arguments are passed as strings except where the method's parameter is a number, bool, array or
object, where they are parsed as JSON (bitcoin-cli's conversion table, derived from our method
list). ``-named`` takes ``name=value`` arguments. Results print as bitcoin-cli prints them: strings
bare, null as nothing, everything else as indented JSON. An RPC error prints ``error code: N`` and
``error message:`` to stderr and exits with abs(N); connection and auth failures exit 1.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import click

from ..consensus.params import NETWORKS, get_params
from .client import RpcAuthError, RpcClient, RpcConnectionError, read_cookie
from .errors import RPCError
from .jsonfmt import dumps
from .methods import METHODS
from .server import DEFAULT_RPC_PORTS


def _convert(method: str, name_or_index: str | int, value: str):
    m = METHODS.get(method)
    kind = "str"
    if m is not None:
        if isinstance(name_or_index, int):
            if name_or_index < len(m.params):
                kind = m.params[name_or_index].kind
        else:
            kind = next((p.kind for p in m.params if p.name == name_or_index), "str")
    if kind in ("str",):
        return value
    try:
        return json.loads(value, parse_float=Decimal)
    except ValueError:
        if kind in ("numstr", "amount", "any"):
            return value
        raise click.UsageError(f"Error parsing JSON: {value}") from None


def _print_result(result) -> None:
    if result is None:
        return
    if isinstance(result, str):
        click.echo(result)
    else:
        click.echo(dumps(result, indent=2))


@click.command(
    "cli",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False, "help_option_names": ["--help"]},
)
@click.option("--datadir", type=click.Path(file_okay=False, path_type=Path), help="Node datadir (reads its .cookie).")
@click.option("--network", type=click.Choice(list(NETWORKS)), default=None, help="Network (sets the default port).")
@click.option("--regtest", "regtest", is_flag=True, help="Same as --network regtest.")
@click.option("--rpcconnect", default="127.0.0.1", show_default=True, help="Server address.")
@click.option("--rpcport", type=int, default=None, help="Server port (default: the network's, as Core).")
@click.option("--rpcuser", default=None, help="User name (instead of the cookie).")
@click.option("--rpcpassword", default=None, help="Password for --rpcuser.")
@click.option("--rpccookiefile", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Cookie file.")
@click.option("--rpcclienttimeout", type=float, default=900.0, show_default=True, help="Seconds to wait.")
@click.option("-named", "--named", "named", is_flag=True, help="Arguments are name=value pairs.")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read extra arguments from standard input, one per line.")
@click.argument("method")
@click.argument("args", nargs=-1)
def cli(datadir, network, regtest, rpcconnect, rpcport, rpcuser, rpcpassword, rpccookiefile, rpcclienttimeout,
        named, from_stdin, method, args) -> None:
    """Send one JSON-RPC call (METHOD ARGS...) to a node, like bitcoin-cli.

    Exit status: 0 on success, abs(error code) mod 256 for an RPC error, 1 when the server cannot
    be reached or refuses the credentials."""
    if regtest:
        network = "regtest"
    if network is None and datadir is not None:
        try:
            from ..chain.chainstate import read_network

            network = read_network(datadir)
        except Exception:  # no chainstate there, or its database is held open by this very process
            network = None
    network = get_params(network).name if network else "mainnet"
    port = rpcport if rpcport is not None else DEFAULT_RPC_PORTS.get(network, 8332)
    if rpcpassword is not None:
        user, password = rpcuser or "", rpcpassword
    else:
        cookie = rpccookiefile or ((datadir / ".cookie") if datadir is not None else None)
        if cookie is None:
            click.echo("error: no --datadir, --rpccookiefile or --rpcuser/--rpcpassword given", err=True)
            sys.exit(1)
        try:
            user, password = read_cookie(cookie)
        except (OSError, RpcAuthError) as e:
            click.echo(f"error: Could not locate RPC credentials. No authentication cookie could be found ({e})", err=True)
            sys.exit(1)
    args = list(args)
    if from_stdin:
        args += [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if named:
        params: list | dict = {}
        for a in args:
            key, sep, value = a.partition("=")
            if not sep:
                raise click.UsageError(f"No '=' in named argument '{a}', this needs to be present for every argument")
            params[key] = _convert(method, key, value)
    else:
        params = [_convert(method, i, a) for i, a in enumerate(args)]
    client = RpcClient(rpcconnect, port, user, password, rpcclienttimeout)
    try:
        result = client.call(method, params)
    except RPCError as e:
        click.echo(f"error code: {e.code}\nerror message:\n{e.message}", err=True)
        sys.exit(abs(e.code) % 256 or 1)  # bitcoin-cli exits with abs(code), which the OS takes mod 256
    except RpcAuthError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except RpcConnectionError as e:
        click.echo(f"error: {e}\n\nMake sure the node is running with its RPC server enabled.", err=True)
        sys.exit(1)
    _print_result(result)


COMMANDS = [cli]
