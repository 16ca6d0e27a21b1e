"""`packetfs node`: run a Bitcoin P2P node in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import click

from ..net.limits import DEFAULT_PORTS
from ..swiftsync.serve import attach_bspent_server
from .lightning import attach_lightning
from .node import Node, NodeConfig, NodeError
from .peer import PeerTimeouts

NODE_NETWORKS = ("mainnet", "testnet4", "signet", "regtest")
EXIT_DATADIR_IN_USE = 3
EXIT_CANNOT_START = 4


def parse_hostport(value: str, default_port: int) -> tuple[str, int]:
    """HOST, HOST:PORT or [IPv6]:PORT."""
    v = value.strip()
    if v.startswith("["):
        host, _, rest = v[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif v.count(":") == 1:
        host, port = v.split(":")
    else:
        host, port = v, ""
    if not host:
        raise click.BadParameter(f"{value!r} has no host")
    try:
        p = int(port) if port else default_port
    except ValueError:
        raise click.BadParameter(f"{value!r}: port is not a number") from None
    if not 0 < p < 65536:
        raise click.BadParameter(f"{value!r}: port out of range")
    return host, p


def setup_logging(datadir: Path, verbose: bool) -> None:
    fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    fmt.converter = __import__("time").gmtime
    logger = logging.getLogger("packetfs.node")
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(fmt)
    datadir.mkdir(parents=True, exist_ok=True)
    file = logging.FileHandler(datadir / "debug.log")
    file.setFormatter(fmt)
    logger.addHandler(err)
    logger.addHandler(file)


@click.command("node")
@click.option("--network", type=click.Choice(NODE_NETWORKS), default="mainnet", show_default=True)
@click.option("--datadir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Chainstate, blocks, peers.json, banlist.json and debug.log live here (one node per datadir).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="P2P port [default: 8333, 48333 testnet4, 38333 signet, 18444 regtest]; 0 picks a free one.")
@click.option("--bind", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--connect", multiple=True, metavar="HOST:PORT",
              help="Connect only to this peer (repeatable); no other outbound connections.")
@click.option("--addnode", multiple=True, metavar="HOST:PORT", help="Also keep a connection to this peer (repeatable).")
@click.option("--maxconnections", type=click.IntRange(0), default=125, show_default=True,
              help="Most inbound connections.")
@click.option("--max-outbound", type=click.IntRange(0), default=8, show_default=True,
              help="Outbound full-relay connections from the address book.")
@click.option("--max-block-relay", type=click.IntRange(0), default=2, show_default=True,
              help="Outbound block-relay-only connections from the address book.")
@click.option("--no-listen", is_flag=True, help="Accept no inbound connections.")
@click.option("--store", type=click.Choice(["raw", "codec"]), default="raw", show_default=True,
              help="Keep blocks raw or through the PacketFS codec (served decoded either way).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Script-check processes.")
@click.option("--stall-timeout", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds a peer may hold up the download window before it is dropped.")
@click.option("--block-timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds a requested block may take before its peer is dropped.")
@click.option("--handshake-timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True)
@click.option("--ping-interval", type=click.FloatRange(min=0.1), default=120.0, show_default=True)
@click.option("--ping-timeout", type=click.FloatRange(min=0.1), default=1200.0, show_default=True)
@click.option("--minimum-chain-work", "minimum_chain_work", default=None, metavar="HEX",
              help="Least total work (hex) a peer's chain needs before its headers are stored without the "
                   "two-phase presync [default: Core's value for the network; 0 on regtest].")
@click.option("--rpcbind", default="127.0.0.1", show_default=True, help="Address the JSON-RPC server listens on.")
@click.option("--rpcport", type=click.IntRange(0, 65535), default=None,
              help="JSON-RPC port [default: 8332, 48332 testnet4, 38332 signet, 18443 regtest; free with --port 0]; "
                   "0 picks a free one.")
@click.option("--rpcuser", default=None, help="JSON-RPC user (with --rpcpassword; otherwise DATADIR/.cookie).")
@click.option("--rpcpassword", default=None, help="JSON-RPC password for --rpcuser.")
@click.option("--no-rpc", is_flag=True, help="No JSON-RPC server, mempool or transaction relay.")
@click.option("--swiftsync", "swiftsync_hints", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Hints file: first SwiftSync blocks up to its height from the --connect/--addnode "
                                 "peers (blocks and spent coins), then sync on as usual.")
@click.option("--swiftsync-executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where --swiftsync validates blocks (--jobs processes, or Ray tasks).")
@click.option("--ray-address", default=None, help="Ray cluster for --swiftsync-executor ray (default: a local one).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def node_command(network: str, datadir: Path, port: int | None, bind: str, connect: tuple[str, ...],
                 addnode: tuple[str, ...], maxconnections: int, max_outbound: int, max_block_relay: int,
                 no_listen: bool, store: str, jobs: int, stall_timeout: float, block_timeout: float,
                 handshake_timeout: float, ping_interval: float, ping_timeout: float, rpcbind: str,
                 rpcport: int | None, rpcuser: str | None, rpcpassword: str | None, no_rpc: bool,
                 verbose: bool, minimum_chain_work: str | None = None, swiftsync_hints: Path | None = None,
                 swiftsync_executor: str = "local", ray_address: str | None = None) -> None:
    """Run a Bitcoin node (P2P protocol 70016, v1 transport): headers-first sync from peers, block download
    in parallel, serving headers and blocks, compact blocks (BIP152).

    Runs until SIGINT/SIGTERM, then disconnects peers, flushes the chainstate and exits 0. Logs go to
    stderr and DATADIR/debug.log. Exit codes: 3 the datadir is in use by another process, 4 cannot start
    (port in use, chainstate of another network).
    """
    default_port = DEFAULT_PORTS[network]
    min_work = None
    if minimum_chain_work is not None:
        try:
            min_work = int(minimum_chain_work.removeprefix("0x"), 16)
        except ValueError:
            raise click.BadParameter(f"{minimum_chain_work!r} is not a hex number",
                                     param_hint="--minimum-chain-work") from None
        if not 0 <= min_work < 1 << 256:
            raise click.BadParameter("must fit 256 bits", param_hint="--minimum-chain-work")
    config = NodeConfig(
        network=network, datadir=datadir, port=port, bind=bind,
        connect=[parse_hostport(c, default_port) for c in connect],
        addnode=[parse_hostport(a, default_port) for a in addnode],
        listen=not no_listen, max_inbound=maxconnections, max_outbound_full_relay=max_outbound,
        max_block_relay=max_block_relay, store_mode=store, jobs=jobs, stall_timeout=stall_timeout,
        block_timeout=block_timeout,
        timeouts=PeerTimeouts(handshake=handshake_timeout, ping_interval=ping_interval, ping_timeout=ping_timeout),
        minimum_chain_work=min_work,
    )
    if rpcpassword is not None and not rpcuser:
        raise click.BadParameter("--rpcpassword needs --rpcuser")
    setup_logging(datadir, verbose)
    if rpcport is None and port == 0:
        rpcport = 0  # --port 0 picks free ports for both
    rpc = None if no_rpc else {"rpc_bind": rpcbind, "rpc_port": rpcport, "rpcuser": rpcuser, "rpcpassword": rpcpassword}
    swiftsync = None
    if swiftsync_hints is not None:
        from ..swiftsync.netsync import SwiftSyncPhase

        swiftsync = SwiftSyncPhase.from_cli(swiftsync_hints, config, swiftsync_executor, ray_address)
    code = asyncio.run(_main(config, rpc, swiftsync))
    sys.exit(code)


async def _main(config: NodeConfig, rpc: dict | None = None, swiftsync=None) -> int:
    if swiftsync is not None:  # SwiftSync phase first (swiftsync/netsync.py), then the ordinary node
        code = await swiftsync.run()
        if code:
            return code
    node = Node(config)
    relay = attach_lightning(node)  # compressed block relay with peers that offer it (node/lightning.py)
    attach_bspent_server(node)  # serve spent coins to SwiftSync peers (swiftsync/serve.py)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.request_stop)
    try:
        if rpc is None:
            await node.run()
        else:  # mempool, tx relay and JSON-RPC (packetfs.bitcoin.rpc.daemon)
            from ..rpc.daemon import run_with_services

            await run_with_services(node, **rpc)
    except NodeError as e:
        click.echo(f"error: {e}", err=True)
        return EXIT_DATADIR_IN_USE if "in use" in str(e) else EXIT_CANNOT_START
    finally:
        relay.close()
    logging.getLogger("packetfs.node").info("stopped")
    return 0


COMMANDS: list[click.Command] = [node_command]
