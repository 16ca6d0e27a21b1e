"""`packetfs bitcoin sync`: sync a datadir to one peer's tip and report where the time and bytes went.

Modes: ``plain`` (getdata/block, as with any peer), ``lightning`` (compressed relay: the peer's blocks as
codec frames, decoded in a process pool; falls back to plain blocks if the peer does not offer it),
``swiftsync`` (blocks up to the hints' height fetched from the peer with their spent coins (getbspent) and
validated with SwiftSync, swiftsync/netsync.py; or, with --blocks-dir, from a local Core blocks directory and
its rev files; then the rest from the peer by lightning).
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from ..errors import PacketFSError
from ..primitives.hashes import hash_to_hex
from ..script import sigcache
from .cli import parse_hostport
from .lightning import attach_lightning
from .node import Node, NodeConfig, NodeError

EXIT_ERROR = 2
EXIT_TIMEOUT = 4
# The chainstate is flushed (block files fsynced, UTXO changes committed, on the event loop) every this
# many seconds while syncing, and at the end. A node's default, 0.5 s, put ~100 fsyncs and LMDB commits on
# the loop of a 1,000-block sync (profiled under load: 1.4 s of its wall time). A sync killed in between
# resumes from the last flush.
SYNC_FLUSH_INTERVAL = 10.0
NETWORKS = ("mainnet", "testnet3", "testnet4", "signet", "regtest")


@dataclass
class SyncReport:
    mode: str
    height: int
    best_block_hash: str
    utxo_digest: str
    wall_s: float
    cpu_s: float
    bytes_received: int
    bytes_sent: int
    blocks: int
    peer_pfs: bool
    stages: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


async def sync_from_peer(datadir: Path, network: str, host: str, port: int, mode: str, *, jobs: int = 1,
                         decode_jobs: int | None = None, timeout: float = 3600.0,
                         progress: bool = False) -> SyncReport:
    """Connect to host:port only, sync to its tip (its height at the handshake, or later), stop; the report
    counts this run only (bytes on the wire both ways, this process's and its children's CPU)."""
    cpu0 = _cpu_seconds()
    answered0 = sigcache.COUNTS[1]
    t0 = time.monotonic()
    config = NodeConfig(network, datadir, listen=False, connect=[(host, port)], store_mode="raw", jobs=jobs,
                        progress_interval=3600.0, flush_interval=SYNC_FLUSH_INTERVAL)
    node = Node(config)
    relay = attach_lightning(node, serve=False, fetch=mode != "plain", decode_jobs=1 if decode_jobs is None else decode_jobs)
    if mode != "plain":
        relay.decoder()  # started now, before the first frame arrives
    await node.start()
    start_height = node.cs.tip.height
    peer_pfs = False
    ticker = asyncio.create_task(_progress(node, relay)) if progress else None
    try:
        deadline = t0 + timeout
        while True:
            await asyncio.sleep(0.05)
            if time.monotonic() > deadline:
                raise TimeoutError(f"not synced after {timeout:.0f} s (height {node.cs.tip.height})")
            peers = [p for p in node.peers.values() if p.handshake_done.is_set()]
            if not peers:
                continue
            peer = peers[0]
            peer_pfs = peer_pfs or peer.id in relay.pfs_peers
            target = max(peer.state.version.start_height, peer.state.best_known.height
                         if peer.state.best_known is not None else 0)
            cs = node.cs
            if (not peer.state.syncing_headers and cs.tip.height >= target
                    and cs.tip is cs.tree.best_header and not node.download.in_flight):
                break
        wall = time.monotonic() - t0
        rx = node.stats["rx"] + sum(p.transport.stats.bytes_received for p in node.peers.values())
        tx = node.stats["tx"] + sum(p.transport.stats.bytes_sent for p in node.peers.values())
    finally:
        if ticker is not None:
            ticker.cancel()
        cs = node.cs
        tip = (cs.tip.height, cs.tip.hash_hex) if cs is not None else (0, "")
        digest = hash_to_hex(cs.utxo_digest()) if cs is not None else ""
        await node.stop()
        relay.close()
    st = relay.stats
    stages = {k: st.as_dict()[k] for k in ("frames", "frame_bytes", "decoded_bytes", "plain_blocks", "plain_bytes",
                                           "decode_s", "decode_cpu_s", "accept_s", "backpressure_s", "parked_s", "bad_frames",
                                           "inflight_locations", "held_locations", "decoder_misses",
                                           "proven_checks")}
    stages["bottleneck"] = st.bottleneck()
    stages["sigcache_answered"] = sigcache.COUNTS[1] - answered0  # curve checks recovery made unnecessary
    # Decoding processes are the fork server's children, not ours: their CPU is added from their own count
    # (inline decoding, --decode-jobs 0, is already in ours).
    cpu = _cpu_seconds() - cpu0 + (st.decode_cpu_s if relay.decode_jobs else 0.0)
    return SyncReport(mode, tip[0], tip[1], digest, wall, cpu, rx, tx,
                      tip[0] - start_height, peer_pfs, stages)


async def _progress(node: Node, relay) -> None:
    """A rich progress bar on stderr: height against the peer's, blocks/s, MB/s on the wire and decoded,
    and the stage with the most time so far (the bottleneck)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("sync"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("{task.fields[rates]}"), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("sync", total=None, rates="")
        last = (time.monotonic(), 0, 0, 0)
        while True:
            await asyncio.sleep(1.0)
            cs = node.cs
            if cs is None:
                return
            st = relay.stats
            rx = node.stats["rx"] + sum(p.transport.stats.bytes_received for p in node.peers.values())
            decoded = st.decoded_bytes + st.plain_bytes
            now = time.monotonic()
            dt = max(1e-6, now - last[0])
            rates = (f"{(cs.tip.height - last[1]) / dt:.0f} blk/s  wire {(rx - last[2]) / dt / 1e6:.2f} MB/s  "
                     f"decoded {(decoded - last[3]) / dt / 1e6:.2f} MB/s  bottleneck {st.bottleneck()}")
            last = (now, cs.tip.height, rx, decoded)
            bar.update(task, completed=cs.tip.height, total=cs.tree.best_header.height, rates=rates)


def _swiftsync_local(datadir: Path, network: str, blocks_dir: Path, hints_path: Path, jobs: int) -> dict:
    from ..chain.chainstate import Chainstate
    from ..storage.blockfiles import open_blocks_dir
    from ..swiftsync.executor import make_executor
    from ..swiftsync.hints import Hints
    from ..swiftsync.importer import swiftsync_import

    source = open_blocks_dir(blocks_dir)
    if not source.blk_files:
        raise PacketFSError(f"{blocks_dir}: no blk?????.dat files (not a Bitcoin Core blocks directory)")
    hints = Hints.read(hints_path)
    ex = make_executor("local", jobs, None)
    t0 = time.monotonic()
    with Chainstate(datadir, network, jobs=ex.jobs, store_mode="raw") as cs:
        result = swiftsync_import(cs, source, hints, ex)
    return {"mode": result.mode, "fallback_reason": result.fallback_reason, "hints_height": result.hints_height,
            "blocks_swiftsync": result.blocks_swiftsync, "wall_s": time.monotonic() - t0}


FRAMES = {"auto": "auto", "always": True, "never": False}  # --frames -> swiftsync_from_peers(frames=...)


def _swiftsync_network(datadir: Path, network: str, host: str, port: int, hints_path: Path, jobs: int,
                       progress: bool, frames: str = "auto", decode_jobs: int | None = None) -> dict:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ..swiftsync.hints import Hints
    from ..swiftsync.netsync import swiftsync_from_peers

    hints = Hints.read(hints_path)
    t0 = time.monotonic()
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True, disable=not progress) as bar:  # fmt: skip
        tasks: dict[str, int] = {}

        def advance(stage: str, n: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"swiftsync {stage}", total=total)
            bar.update(tasks[stage], completed=n)

        r = asyncio.run(swiftsync_from_peers(datadir, network, [(host, port)], hints, jobs=jobs, progress=advance,
                                             frames=FRAMES[frames], decode_jobs=1 if decode_jobs is None else decode_jobs))
    return {"mode": r.mode, "fallback_reason": r.fallback_reason, "hints_height": r.hints_height,
            "blocks_swiftsync": r.blocks_swiftsync, "wall_s": time.monotonic() - t0, "source": "peer (getbspent)",
            "bytes_received": r.bytes_received, "bytes_sent": r.bytes_sent, "discouraged": r.discouraged,
            "seconds": r.seconds, "worker_cpu_s": r.worker_cpu_s, "frames": r.frames, "plain_blocks": r.plain_blocks,
            "coins_derived": r.coins_derived, "coins_served": r.coins_served}


def format_table(report: SyncReport) -> str:
    s = report.stages
    rows = [
        ("mode", report.mode + ("" if report.mode == "plain" or report.peer_pfs else " (peer has no PFS: plain)")),
        ("height", f"{report.height} ({report.blocks} new blocks)"),
        ("wall time", f"{report.wall_s:.2f} s"),
        ("CPU (this process + decoding processes)", f"{report.cpu_s:.2f} s"),
        ("bytes received on the wire", f"{report.bytes_received:,}"),
        ("bytes sent on the wire", f"{report.bytes_sent:,}"),
        ("frames / frame bytes", f"{s['frames']:,} / {s['frame_bytes']:,} -> {s['decoded_bytes']:,} decoded"),
        ("plain blocks / bytes", f"{s['plain_blocks']:,} / {s['plain_bytes']:,}"),
        ("decode (wall / CPU)", f"{s['decode_s']:.2f} s / {s.get('decode_cpu_s', 0.0):.2f} s"),
        ("validate + connect + index", f"{s['accept_s']:.2f} s"),
        ("readers waiting for a decode slot", f"{s['backpressure_s']:.2f} s"),
        ("frames waiting for ancestors", f"{s['parked_s']:.2f} s"),
        ("locations resolved by the decoder", f"{s.get('inflight_locations', 0):,} ({s.get('held_locations', 0):,} on "
                                               "parents it decoded earlier, the rest on parents in flight; "
                                               f"{s.get('decoder_misses', 0)} misses)"),
        ("ECDSA checks proven by recovery", f"{s.get('proven_checks', 0):,} ({s.get('sigcache_answered', 0):,} "
                                            "answered from the signature cache)"),
        ("bottleneck", s["bottleneck"]),
        ("utxo_digest", report.utxo_digest),
    ]
    if "swiftsync" in s:
        sw = s["swiftsync"]
        rows.insert(3, (f"swiftsync ({sw.get('source', 'local blocks dir')})", f"{sw['mode']} to {sw['hints_height']}, "
                                                        f"{sw['blocks_swiftsync']} blocks, {sw['wall_s']:.2f} s"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


@click.command("sync")
@click.option("--mode", type=click.Choice(["plain", "lightning", "swiftsync"]), default="lightning",
              show_default=True, help="How blocks travel and are validated.")
@click.option("--connect", "connect", required=True, metavar="HOST:PORT", help="The peer to sync from (only it).")
@click.option("--datadir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Where the chainstate lives (created if missing).")
@click.option("--network", type=click.Choice(NETWORKS), default="regtest", show_default=True)
@click.option("--hints", "hints_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="SwiftSync hints file (--mode swiftsync).")
@click.option("--blocks-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="--mode swiftsync: take blocks up to the hints' height and their spent coins from this Core "
                   "blocks directory (blk and rev files) instead of the peer.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Script-check processes.")
@click.option("--decode-jobs", type=click.IntRange(min=0), default=None,
              help="Frame decoding processes (default 1: it keeps ahead of validation, and one process can decode "
                   "a frame whose parent is still being decoded); 0 decodes in the syncing process itself.")
@click.option("--frames", type=click.Choice(list(FRAMES)), default="auto", show_default=True,
              help="--mode swiftsync from a peer offering the compressed relay: ask blocks as frames always, never, "
                   "or (auto) only while the link, not decoding or validation, holds the sync up.")
@click.option("--timeout", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="Give up (exit 4) if not synced within this many seconds.")
@click.option("--progress/--no-progress", default=False,
              help="Progress bar on stderr: blocks/s, MB/s on the wire and decoded, the bottleneck stage.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def sync_command(mode: str, connect: str, datadir: Path, network: str, hints_path: Path | None,
                 blocks_dir: Path | None, jobs: int, decode_jobs: int | None, frames: str, timeout: float,
                 progress: bool, as_json: bool) -> None:
    """Sync DATADIR to the tip of one peer, print a table for this run (time, bytes on the wire, CPU,
    stage times) and exit. Every mode validates fully and ends with the same utxo_digest."""
    try:
        host, port = parse_hostport(connect, 18444)
    except click.BadParameter as e:
        click.echo(f"error: {e.message}", err=True)
        sys.exit(EXIT_ERROR)
    if mode == "swiftsync" and hints_path is None:
        click.echo("error: --mode swiftsync needs --hints (a hints file from `packetfs bitcoin hints`)", err=True)
        sys.exit(EXIT_ERROR)
    if as_json:
        logging.getLogger("packetfs").setLevel(logging.ERROR)
    else:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(message)s")
    swift = None
    cpu0 = _cpu_seconds()
    try:
        if mode == "swiftsync" and blocks_dir is not None:
            swift = _swiftsync_local(datadir, network, blocks_dir, hints_path, jobs)
        elif mode == "swiftsync":
            swift = _swiftsync_network(datadir, network, host, port, hints_path, jobs, progress, frames, decode_jobs)
        report = asyncio.run(sync_from_peer(datadir, network, host, port, mode, jobs=jobs, decode_jobs=decode_jobs,
                                            timeout=timeout, progress=progress))
    except TimeoutError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_TIMEOUT)
    except (NodeError, PacketFSError, OSError, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_ERROR)
    if swift is not None:
        report.stages["swiftsync"] = swift
        report.wall_s += swift["wall_s"]
        report.bytes_received += swift.get("bytes_received", 0)
        report.bytes_sent += swift.get("bytes_sent", 0)
        # Fork-server workers are not our children's rusage: their CPU comes back with their results.
        report.cpu_s = _cpu_seconds() - cpu0 + swift.get("worker_cpu_s", 0.0)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=1))
    else:
        click.echo(format_table(report))


COMMANDS: list[click.Command] = [sync_command]
