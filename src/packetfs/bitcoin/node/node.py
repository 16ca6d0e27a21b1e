"""The node: connections, per-peer message handling, headers-first sync, block download, serving and
announcements, over one Chainstate that only this module's event loop touches (so no locks).

Layers, as Core: ``Peer`` (connection and link-level messages) -> ``Node`` (one handler method per message,
the download window, misbehaviour) -> ``Chainstate`` (validation, which never sees a peer).
Misbehaviour is noted on the peer (``Peer.misbehaving``) and acted on in one place (``_peer_closed``):
disconnect, and discourage the address unless the connection was made by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..chain.chainstate import Chainstate
from ..chain.headers import HAVE_DATA, IndexEntry
from ..consensus.errors import ValidationError
from ..consensus.tx_rules import MAX_MONEY
from ..errors import PacketFSError
from ..net.addr import Addr, AddrV2, GetAddr, NetAddress
from ..net.block import BlockMessage, TxMessage
from ..net.compact import BlockTxn, CmpctBlock, GetBlockTxn, PrefilledTx, SendCmpct, short_id, shortid_keys
from ..net.headers import GetBlocks, GetHeaders, Headers, SendHeaders
from ..net.inv import GetData, Inv, InvVector, NotFound
from ..net.limits import (
    DEFAULT_PORTS,
    MAX_ADDR_TO_SEND,
    MAX_BLOCKS_TO_ANNOUNCE,
    MAX_GETBLOCKS_RESULTS,
    MAX_HEADERS_RESULTS,
    MSG_BLOCK,
    MSG_CMPCT_BLOCK,
    MSG_TX,
    MSG_WITNESS_BLOCK,
    MSG_WITNESS_FLAG,
    MSG_WITNESS_TX,
    MSG_WTX,
    NODE_NETWORK,
    NODE_WITNESS,
    SENDHEADERS_VERSION,
    SHORT_IDS_BLOCKS_VERSION,
)
from ..net.message import Message
from ..net.pfs import SendPfs
from ..net.ping import FeeFilter, MempoolRequest
from ..primitives.block import Block, BlockHeader
from ..primitives.encoding import compact_size
from ..primitives.hashes import hash_to_hex
from ..primitives.transaction import Transaction
from .addrbook import AddressBook, BanList
from .download import BlockDownload
from .feefilter import FeeFilterSender
from .headers_sync import (
    HEADERS_SYNC_PARAMS,
    MINIMUM_CHAIN_WORK,
    HeadersSync,
    HeadersSyncParams,
    SyncState,
    anti_dos_work_threshold,
    claimed_work,
)
from .peer import ConnectionType, Peer, PeerTimeouts

log = logging.getLogger("packetfs.node")

RECENT_HEADER_SECONDS = 24 * 3600
MAX_UNCONNECTING_HEADERS = 10
# Core: a getdata for a compact block deeper than 5 below the tip gets the full block (MAX_CMPCTBLOCK_DEPTH);
# getblocktxn is answered within 10 (MAX_BLOCKTXN_DEPTH). Deeper, the peer lacks the transactions anyway and
# a compact block would only cost it a getblocktxn round trip.
MAX_CMPCTBLOCK_DEPTH = 5
MAX_BLOCKTXN_DEPTH = 10
MAX_HIGH_BANDWIDTH_PEERS = 3
ADDR_TOKENS_PER_SECOND = 0.1
MAX_ADDR_TOKENS = float(MAX_ADDR_TO_SEND)
ADDR_RELAY_MAX_ENTRIES = 10  # Core relays only from addr messages this small (not getaddr answers)
ADDR_RELAY_MAX_AGE = 600
ADDR_RELAY_PEERS = 2
SEND_PAUSE_BYTES = 4 << 20  # serving getdata: wait for the socket above this many unsent bytes


class NodeError(PacketFSError):
    """The node cannot start or run (datadir in use, port taken, bad configuration)."""


@dataclass
class NodeConfig:
    network: str
    datadir: Path
    port: int | None = None  # None: the network's default; 0: any free port
    bind: str = "0.0.0.0"
    connect: list[tuple[str, int]] = field(default_factory=list)
    addnode: list[tuple[str, int]] = field(default_factory=list)
    listen: bool = True
    max_inbound: int = 125
    max_outbound_full_relay: int = 8
    max_block_relay: int = 2
    store_mode: str = "raw"
    jobs: int | None = 1
    stall_timeout: float = 2.0  # Core's BLOCK_STALLING_TIMEOUT_DEFAULT
    block_timeout: float = 60.0  # a block asked for and not delivered within this: the peer is dropped
    flush_interval: float = 0.5  # seconds between chainstate flushes (block files fsynced, UTXO committed)
    progress_interval: float = 5.0
    timeouts: PeerTimeouts = field(default_factory=PeerTimeouts)
    max_send_buffer: int = 64 << 20
    # Core's -minimumchainwork: None is the network's value (node/headers_sync.py); tests lower or raise it.
    minimum_chain_work: int | None = None
    headers_sync: HeadersSyncParams | None = None  # None: the network's (Core's) commitment parameters

    @property
    def listen_port(self) -> int:
        return DEFAULT_PORTS[self.network] if self.port is None else self.port


def block_locator(entry: IndexEntry) -> list[bytes]:
    """Hashes back from ``entry``: the last 10 one by one, then doubling steps, and genesis (Core's)."""
    out: list[bytes] = []
    step = 1
    e: IndexEntry | None = entry
    while e is not None:
        out.append(e.hash)
        if e.height == 0:
            break
        if len(out) >= 10:
            step *= 2
        target = max(0, e.height - step)
        while e is not None and e.height > target:
            e = e.prev
    return out


def _fee_for(sat_per_kvb: int, vsize: int) -> int:
    """CFeeRate::GetFee: the fee at this rate for ``vsize`` vbytes, rounded up, at least 1."""
    fee = -(-sat_per_kvb * vsize // 1000)
    return 1 if fee == 0 and sat_per_kvb > 0 and vsize > 0 else fee


def strip_witness(raw: bytes) -> bytes:
    block = Block.from_bytes(raw)
    return b"".join([block.header.serialize(), compact_size(len(block.transactions))]
                    + [t.serialize_legacy() for t in block.transactions])


@dataclass
class PartialBlock:
    """A compact block being reconstructed from one peer."""

    header: BlockHeader
    txs: list[Transaction | None]
    missing: list[int]


class Node:
    def __init__(self, config: NodeConfig):
        self.config = config
        self.cs: Chainstate | None = None
        self.peers: dict[int, Peer] = {}
        self.download = BlockDownload()
        self.minimum_chain_work = (MINIMUM_CHAIN_WORK.get(config.network, 0) if config.minimum_chain_work is None
                                   else config.minimum_chain_work)
        self.headers_sync_params = config.headers_sync or HEADERS_SYNC_PARAMS.get(config.network,
                                                                                  HEADERS_SYNC_PARAMS["regtest"])
        self._headers_sync: dict[int, HeadersSync] = {}  # peer id -> its low-work headers sync
        self.local_nonce = random.getrandbits(64)
        self.services = NODE_NETWORK | NODE_WITNESS
        self.port: int | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task] = []
        self._peer_tasks: set[asyncio.Task] = set()
        self._stop = asyncio.Event()
        self._active: list[IndexEntry] = []
        self._flushed_tip: bytes | None = None
        self._announce_scheduled = False
        self._block_source: OrderedDict[bytes, int] = OrderedDict()  # block hash -> peer id that sent it
        self._partial: dict[int, tuple[bytes, PartialBlock]] = {}
        self._high_bandwidth: list[int] = []
        self._manual: dict[tuple[str, int], dict] = {}
        self._lock = None
        self.addrbook: AddressBook | None = None
        self.bans: BanList | None = None
        self.stats = {"blocks": 0, "bytes": 0, "rx": 0, "tx": 0}
        # Hooks for the mempool / RPC issue: a transaction from a peer, and lookups for serving.
        self.on_transaction: Callable[[Peer, Transaction], Awaitable[None] | None] | None = None
        self.tx_lookup: Callable[[bytes], Transaction | None] | None = None
        self.mempool_txs: Callable[[], Iterable[Transaction]] | None = None
        # (base fee, vsize) of a transaction about to be announced, to honour the peers' feefilters
        # (None: unknown, announced to every tx-relay peer); and what sends our own feefilter.
        self.tx_fee: Callable[[Transaction], tuple[int, int] | None] | None = None
        self.fee_filter: FeeFilterSender | None = None
        # Hooks for compressed block relay (node/lightning.py): called when a peer is ready, and asked to
        # request blocks from a peer itself (True: it did; else the node sends getdata).
        self.ready_hooks: list[Callable[[Peer], None]] = []
        # Listeners (mempool, RPC services): after the active tip changed (old tip, the peer that sent the
        # block or None), and after a peer closed and its state was cleaned up.
        self._tip_listeners: list[Callable[[IndexEntry, Peer | None], None]] = []
        self._peer_closed_listeners: list[Callable[[Peer], None]] = []
        self.block_requester: Callable[[Peer, list[IndexEntry]], bool] | None = None
        self._handlers: dict[type, Callable[[Peer, Message], Awaitable[None]]] = {
            Headers: self.on_headers, GetHeaders: self.on_getheaders, GetBlocks: self.on_getblocks,
            Inv: self.on_inv, GetData: self.on_getdata, NotFound: self.on_notfound,
            BlockMessage: self.on_block, TxMessage: self.on_tx, SendHeaders: self.on_sendheaders,
            SendCmpct: self.on_sendcmpct, CmpctBlock: self.on_cmpctblock, GetBlockTxn: self.on_getblocktxn,
            BlockTxn: self.on_blocktxn, Addr: self.on_addr, AddrV2: self.on_addr, GetAddr: self.on_getaddr,
            FeeFilter: self.on_feefilter, MempoolRequest: self.on_ignored,
        }

    # ================================================================== lifecycle
    async def start(self) -> None:
        from ..storage.datadir_lock import DatadirInUseError, DatadirLock

        cfg = self.config
        cfg.datadir.mkdir(parents=True, exist_ok=True)
        try:
            self._lock = DatadirLock(cfg.datadir).acquire()
        except DatadirInUseError as e:
            raise NodeError(str(e)) from None
        try:
            # Workers from the fork server, never forked from this process: a forked worker would keep
            # every peer socket open at that moment, so a peer we disconnect would never see EOF.
            self.cs = Chainstate(cfg.datadir, cfg.network, jobs=cfg.jobs, store_mode=cfg.store_mode,
                                 mp_start_method="forkserver")
        except ValueError as e:
            self._lock.release()
            raise NodeError(f"cannot open the chainstate in {cfg.datadir}: {e}") from None
        # Blocks stored before a crash but not yet connected (the tip is the last flushed one): connect
        # them now, or the download window, which skips blocks we have, would never reach them.
        try:
            self.cs.activate_best_chain()
        except ValidationError as e:
            log.warning("a stored block failed to connect at startup: %s", e)
        self._flushed_tip = self.cs.tip.hash
        self._refresh_active()
        self.addrbook = AddressBook(cfg.datadir / "peers.json")
        self.bans = BanList(cfg.datadir / "banlist.json")
        log.info("chainstate %s: height %d, tip %s, headers %d", cfg.network, self.cs.tip.height,
                 self.cs.tip.hash_hex, self.cs.tree.best_header.height)
        if cfg.listen:
            try:
                self._server = await asyncio.start_server(self._accept, cfg.bind, cfg.listen_port,
                                                          reuse_address=True)
            except OSError as e:
                await self._close_chainstate()
                raise NodeError(f"cannot listen on {cfg.bind}:{cfg.listen_port}: {e.strerror or e}") from None
            self.port = self._server.sockets[0].getsockname()[1]
            log.info("listening on %s:%d", cfg.bind, self.port)
        for target in [*cfg.connect, *cfg.addnode]:
            self._manual[target] = {"next_try": 0.0, "attempts": 0, "peer": None}
        self._tasks = [asyncio.create_task(self._connection_loop()), asyncio.create_task(self._housekeeping())]

    async def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.close()
        for t in self._tasks:
            t.cancel()
        for peer in list(self.peers.values()):
            peer.close("shutting down")
        if self._peer_tasks:
            await asyncio.wait(self._peer_tasks, timeout=5)
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        if self.addrbook is not None:
            self.addrbook.save()
        if self.cs is not None:
            self._write_status()
        await self._close_chainstate()

    async def _close_chainstate(self) -> None:
        if self.cs is not None:
            self.cs.close()
            log.info("chainstate flushed at height %d (%s)", self.cs.tip.height, self.cs.tip.hash_hex)
            self.cs = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    async def run(self) -> None:
        await self.start()
        try:
            await self._stop.wait()
        finally:
            await self.stop()

    def request_stop(self) -> None:
        self._stop.set()

    async def wait_stop_requested(self) -> None:
        """Return once ``request_stop`` was called (a signal, the RPC ``stop``) or ``stop`` began."""
        await self._stop.wait()

    # ================================================================== hooks for the services on top
    def add_tip_listener(self, listener: Callable[[IndexEntry, Peer | None], None]) -> None:
        """Call ``listener(old_tip, source_peer_or_None)`` after each change of the active tip, once the
        node itself has handled it (announcements scheduled)."""
        self._tip_listeners.append(listener)

    def add_peer_closed_listener(self, listener: Callable[[Peer], None]) -> None:
        """Call ``listener(peer)`` after a peer closed and the node handed back its requests."""
        self._peer_closed_listeners.append(listener)

    def notify_tip_changed(self, old_tip: IndexEntry) -> None:
        """Blocks were connected or disconnected outside the node (RPC mining, invalidateblock): if the
        tip moved from ``old_tip``, announce it and tell the listeners, as for a block from a peer."""
        if self.cs is not None and self.cs.tip is not old_tip:
            self._tip_changed(old_tip, None)

    def add_manual_peer(self, host: str, port: int) -> bool:
        """Keep a connection to this address (addnode add); False if it was already added."""
        if (host, port) in self._manual:
            return False
        self._manual[(host, port)] = {"next_try": 0.0, "attempts": 0, "peer": None}
        return True

    def remove_manual_peer(self, host: str, port: int) -> bool:
        """Stop keeping a connection to this address (addnode remove); False if it was never added."""
        return self._manual.pop((host, port), None) is not None

    def connect_once(self, host: str, port: int, conn_type: ConnectionType = ConnectionType.MANUAL) -> None:
        """Try one connection in the background (addnode onetry); failures are only logged."""
        self._peer_tasks.add(asyncio.ensure_future(self._dial_quietly(host, port, conn_type)))

    # ================================================================== hooks for block-relay extensions
    # (compressed relay, node/lightning.py; owned by the relay engineer: the node's own paths, made public)
    def set_handler(self, msg_type: type, handler: Callable[[Peer, Message], Awaitable[None]]
                    ) -> Callable[[Peer, Message], Awaitable[None]] | None:
        """Handle messages of ``msg_type`` with ``handler``; returns the handler it replaces (or None)."""
        old = self._handlers.get(msg_type)
        self._handlers[msg_type] = handler
        return old

    def accept_block(self, peer: Peer, raw: bytes, block_hash: bytes) -> None:
        """A block ``peer`` delivered (raw bytes, hash already computed): validated, stored and connected
        exactly as a ``block`` message; failures are the peer's misbehaviour as there."""
        self._accept_block(peer, raw, block_hash, reconstructed=False)

    def read_block(self, entry: IndexEntry) -> bytes:
        """The raw block of ``entry`` from our store (which must have its data)."""
        return self._read_block(entry)

    def active_at(self, height: int) -> IndexEntry | None:
        """The block at ``height`` on the active chain (refreshed from the chainstate), or None."""
        self._refresh_active()
        return self._active[height] if 0 <= height < len(self._active) else None

    def note_peer_has(self, peer: Peer, entry: IndexEntry) -> None:
        """``peer`` has block ``entry`` (it served it): best-known bookkeeping, as for blocks and inv."""
        self._update_best_known(peer, entry)

    def schedule_downloads(self) -> None:
        """Hand out block requests to peers with free slots (after a delivery failed, for instance)."""
        self._schedule_downloads()
    # ================================================================== end of block-relay hooks

    # ================================================================== connections
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        try:
            address = NetAddress.from_host(peername[0], peername[1])
        except (ValueError, TypeError, IndexError):
            writer.close()
            return
        assert self.bans is not None
        if self.bans.is_banned(address.host):
            log.info("refused inbound %s:%d: discouraged or banned", address.host, address.port)
            writer.close()
            return
        inbound = sum(1 for p in self.peers.values() if not p.outbound)
        if inbound >= self.config.max_inbound:
            log.info("refused inbound %s:%d: %d inbound slots full", address.host, address.port, inbound)
            writer.close()
            return
        await self._run_peer(reader, writer, ConnectionType.INBOUND, address)

    async def _dial(self, host: str, port: int, conn_type: ConnectionType) -> bool:
        """Connect and run the peer until it closes; True if it completed the handshake cleanly."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        except (OSError, TimeoutError) as e:
            log.info("cannot connect to %s:%d: %s", host, port, e)
            raise
        # The address actually connected to (a --connect target may be a host name).
        peername = writer.get_extra_info("peername") or (host, port)
        peer = await self._run_peer(reader, writer, conn_type, NetAddress.from_host(peername[0], port))
        return peer.handshake_done.is_set() and peer.state.misbehavior is None

    async def _run_peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        conn_type: ConnectionType, address: NetAddress) -> Peer:
        peer = Peer(reader, writer, magic=self.cs.params.magic, conn_type=conn_type, address=address,  # type: ignore[union-attr]
                    our_height=lambda: self.cs.tip.height if self.cs else 0, local_nonce=self.local_nonce,
                    services=self.services, timeouts=self.config.timeouts,
                    max_send_buffer=self.config.max_send_buffer)
        self.peers[peer.id] = peer
        task = asyncio.current_task()
        if task is not None:
            self._peer_tasks.add(task)
        log.info("connected %r", peer)
        try:
            await peer.run(self._dispatch, self._on_ready)
        finally:
            self._peer_closed(peer)
            if task is not None:
                self._peer_tasks.discard(task)
        return peer

    def _peer_closed(self, peer: Peer) -> None:
        """The one place misbehaviour is acted on, and a gone peer's requests are handed back."""
        self.peers.pop(peer.id, None)
        self.stats["rx"] += peer.transport.stats.bytes_received
        self.stats["tx"] += peer.transport.stats.bytes_sent
        reason = peer.state.misbehavior
        if reason is not None and self.bans is not None:
            if peer.conn_type is ConnectionType.MANUAL:
                log.warning("disconnected %r: %s (manual connection: not discouraged)", peer, reason)
            else:
                self.bans.discourage(peer.host, reason)
                log.warning("disconnected and discouraged %r: %s", peer, reason)
        else:
            log.info("disconnected %r: %s", peer, peer.close_reason)
        returned = self.download.peer_gone(peer.id)
        self._partial.pop(peer.id, None)
        self._headers_sync.pop(peer.id, None)
        if peer.id in self._high_bandwidth:
            self._high_bandwidth.remove(peer.id)
        if returned and not self._stop.is_set():
            log.info("re-requesting %d blocks %r had in flight", len(returned), peer)
        if not self._stop.is_set() and self.cs is not None:
            self._schedule_downloads()
        for listener in self._peer_closed_listeners:
            listener(peer)

    async def _on_ready(self, peer: Peer) -> None:
        v = peer.state.version
        assert v is not None and self.cs is not None
        log.info("handshake with %r: version %d %s height %d services %x", peer, v.version, v.user_agent,
                 v.start_height, v.services)
        self.stats.setdefault("first_handshake_time", time.time())
        if peer.outbound and self.addrbook is not None:
            self.addrbook.good(peer.address)
            if peer.conn_type is not ConnectionType.BLOCK_RELAY:
                peer.send(GetAddr())
                peer.state.sent_getaddr = True
        if v.version >= SENDHEADERS_VERSION:
            peer.send(SendHeaders())
        if v.version >= SHORT_IDS_BLOCKS_VERSION:
            peer.send(SendCmpct(False, 2))
        best = self.cs.tree.best_header
        if peer.outbound or best.time > time.time() - RECENT_HEADER_SECONDS:
            self._send_getheaders(peer, best)
        self._send_feefilter(peer, time.monotonic())
        for hook in self.ready_hooks:
            hook(peer)

    async def _connection_loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for target, st in self._manual.items():
                p = st["peer"]
                if p is not None and not p.done():
                    continue
                if now < st["next_try"]:
                    continue
                st["peer"] = asyncio.create_task(self._manual_connect(target, st))
            if not self.config.connect:
                self._fill_outbound()
            await asyncio.sleep(0.5)

    async def _manual_connect(self, target: tuple[str, int], st: dict) -> None:
        try:
            handshaken = await self._dial(target[0], target[1], ConnectionType.MANUAL)
            # A peer that closed before or right at the handshake (wrong network, not a node, misbehaving)
            # is retried with the same backoff as an unreachable one.
            st["attempts"] = 0 if handshaken else st["attempts"] + 1
            st["next_try"] = time.monotonic() + (1.0 if handshaken else min(2 ** st["attempts"], 60))
        except (OSError, TimeoutError):
            st["attempts"] += 1
            st["next_try"] = time.monotonic() + min(2 ** st["attempts"], 60)

    def _fill_outbound(self) -> None:
        assert self.addrbook is not None and self.bans is not None
        full = sum(1 for p in self.peers.values() if p.conn_type is ConnectionType.OUTBOUND_FULL_RELAY)
        relay = sum(1 for p in self.peers.values() if p.conn_type is ConnectionType.BLOCK_RELAY)
        want = [(ConnectionType.OUTBOUND_FULL_RELAY, self.config.max_outbound_full_relay - full),
                (ConnectionType.BLOCK_RELAY, self.config.max_block_relay - relay)]
        connected = {p.address.key for p in self.peers.values()}
        for conn_type, n in want:
            for _ in range(max(0, n)):
                addr = self.addrbook.select(connected, self.bans.is_banned)
                if addr is None or addr.host is None:
                    return
                connected.add(addr.key)
                self.addrbook.attempt(addr)
                task = asyncio.create_task(self._dial_quietly(addr.host, addr.port, conn_type))
                self._tasks.append(task)

    async def _dial_quietly(self, host: str, port: int, conn_type: ConnectionType) -> None:
        with contextlib.suppress(OSError, TimeoutError, asyncio.TimeoutError):
            await self._dial(host, port, conn_type)

    # ================================================================== housekeeping
    async def _housekeeping(self) -> None:
        last_progress = last_flush = time.monotonic()
        last_blocks = 0
        tty = sys.stderr.isatty()
        while not self._stop.is_set():
            await asyncio.sleep(min(0.5, self.config.flush_interval))
            now = time.monotonic()
            self._check_stalls(now)
            cs = self.cs
            if cs is None:
                return
            for peer in list(self.peers.values()):
                self._send_feefilter(peer, now)
            if cs.tip.hash != self._flushed_tip and now - last_flush >= self.config.flush_interval:
                cs.flush()  # block files fsynced, index and UTXO changes committed: blocks the loop
                self._flushed_tip = cs.tip.hash
                last_flush = now
            if self.addrbook is not None:
                self.addrbook.save()
            self._write_status()
            if now - last_progress >= self.config.progress_interval:
                rate = (self.stats["blocks"] - last_blocks) / (now - last_progress)
                line = (f"height={cs.tip.height} headers={cs.tree.best_header.height} "
                        f"blocks/s={rate:.1f} peers={len(self.peers)} in_flight={len(self.download.in_flight)}")
                if tty:
                    sys.stderr.write("\r" + line + "   ")
                    sys.stderr.flush()
                    logging.getLogger("packetfs.node.progress").debug(line)
                else:
                    log.info(line)
                last_progress, last_blocks = now, self.stats["blocks"]

    def _write_status(self) -> None:
        """D/node-status.json: height, headers, peers and traffic, rewritten atomically each tick (for
        scripts and benchmarks; chain-info reads the chainstate itself)."""
        status = self.info()
        status["bytes_received"] = self.stats["rx"] + sum(p.transport.stats.bytes_received
                                                          for p in self.peers.values())
        status["bytes_sent"] = self.stats["tx"] + sum(p.transport.stats.bytes_sent for p in self.peers.values())
        status["blocks_accepted"] = self.stats["blocks"]
        status["first_handshake_time"] = self.stats.get("first_handshake_time")
        status["last_tip_time"] = self.stats.get("last_tip_time")
        path = self.config.datadir / "node-status.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status))
        os.replace(tmp, path)

    def _check_stalls(self, now: float) -> None:
        for peer_id, since in list(self.download.stalling_since.items()):
            peer = self.peers.get(peer_id)
            if peer is not None and now - since > self.config.stall_timeout:
                peer.close(f"stalling block download (window blocked for {self.config.stall_timeout}s)")
        for peer_id in list(self.download.by_peer):
            oldest = self.download.oldest_request(peer_id)
            peer = self.peers.get(peer_id)
            if peer is not None and oldest is not None and now - oldest > self.config.block_timeout:
                peer.close(f"block download timeout ({self.config.block_timeout}s)")

    # ================================================================== dispatch
    async def _dispatch(self, peer: Peer, msg: Message) -> None:
        handler = self._handlers.get(type(msg))
        if handler is None:
            return
        if not peer.handshake_done.is_set() and not isinstance(msg, (SendCmpct, SendHeaders, FeeFilter, SendPfs)):
            return  # Core ignores everything else before verack
        await handler(peer, msg)

    async def on_ignored(self, peer: Peer, msg: Message) -> None:
        return

    async def on_feefilter(self, peer: Peer, msg: FeeFilter) -> None:  # type: ignore[override]
        if 0 <= msg.fee_rate <= MAX_MONEY:  # as Core: an out-of-range filter is ignored
            peer.state.fee_filter = msg.fee_rate

    def in_initial_download(self) -> bool:
        """Our tip is more than a day old (Core's IsInitialBlockDownload, simplified)."""
        return self.cs is None or self.cs.tip.header.time < time.time() - RECENT_HEADER_SECONDS

    def _send_feefilter(self, peer: Peer, now: float) -> None:
        if self.fee_filter is not None and peer.handshake_done.is_set() and not peer.closed.is_set():
            self.fee_filter.maybe_send(peer, now, self.in_initial_download())

    async def on_sendheaders(self, peer: Peer, msg: Message) -> None:
        peer.state.send_headers = True

    async def on_sendcmpct(self, peer: Peer, msg: SendCmpct) -> None:  # type: ignore[override]
        if msg.version == 2:
            peer.state.compact_version = 2
            peer.state.compact_high_bandwidth = msg.high_bandwidth

    # ------------------------------------------------------------------ headers
    def _send_getheaders(self, peer: Peer, start: IndexEntry) -> None:
        # From the parent of our best header, as Core: the reply then holds at least that header if the
        # peer has it, which tells us the peer's best block even when we know every header already.
        peer.state.syncing_headers = True
        peer.send(GetHeaders(tuple(block_locator(start.prev or start)), bytes(32)))

    async def on_headers(self, peer: Peer, msg: Headers) -> None:  # type: ignore[override]
        cs = self.cs
        assert cs is not None
        headers: list[BlockHeader] | tuple[BlockHeader, ...] = msg.headers
        full = len(headers) == MAX_HEADERS_RESULTS
        if not headers:
            peer.state.syncing_headers = False
            sync = self._headers_sync.pop(peer.id, None)
            if sync is not None:
                log.info("headers presync with %r ended: it has no more headers (too little work)", peer)
            return
        for a, b in zip(headers, headers[1:], strict=False):
            if b.prev_hash != a.hash:
                peer.misbehaving("non-continuous headers sequence")
                return
        sync = self._headers_sync.get(peer.id)
        if sync is not None and headers[0].prev_hash == sync.expected_prev:
            released = self._continue_headers_sync(peer, sync, headers, full)
            if not released:
                return
            headers = released
        else:
            if sync is not None:
                # Something else (an announcement, a reply to another getheaders): the low-work sync is
                # abandoned and this message handled on its own, as Core does.
                del self._headers_sync[peer.id]
                log.info("headers presync with %r abandoned: unrelated headers message", peer)
            prev = cs.tree.get(headers[0].prev_hash)
            if prev is None:
                peer.state.unconnecting_headers += 1
                if peer.state.unconnecting_headers > MAX_UNCONNECTING_HEADERS:
                    peer.misbehaving(f"{MAX_UNCONNECTING_HEADERS} headers messages that do not connect")
                    return
                self._send_getheaders(peer, cs.tree.best_header)
                return
            peer.state.unconnecting_headers = 0
            if not self._enough_work(prev, headers):
                if full:
                    self._start_headers_sync(peer, prev, headers)
                else:
                    log.info("ignored %d low-work headers from %r (chain work below the anti-DoS threshold)",
                             len(headers), peer)
                    peer.state.syncing_headers = False
                return
        try:
            cs.process_headers(headers)
        except ValidationError as e:
            peer.misbehaving(f"invalid header: {e.reason}")
            return
        last = cs.tree.get(headers[-1].hash)
        if last is None:
            return
        self._update_best_known(peer, last)
        if peer.id in self._headers_sync:
            pass  # the sync asked for its next batch itself
        elif full:
            self._send_getheaders(peer, last)
        else:
            peer.state.syncing_headers = False
        if not self._try_compact_fetch(peer, last, len(headers)):
            self._schedule_downloads()

    # ------------------------------------------------------------------ low-work headers anti-DoS
    def anti_dos_threshold(self) -> int:
        """Least chainwork a peer's chain needs for its headers to be stored (node/headers_sync.py)."""
        assert self.cs is not None
        return anti_dos_work_threshold(self.cs.tip, self.minimum_chain_work)

    def _enough_work(self, prev: IndexEntry, headers: Sequence[BlockHeader]) -> bool:
        """Do these headers (connecting to ``prev``) lead to a chain worth storing? Headers we already have
        were checked when first stored."""
        assert self.cs is not None
        known = self.cs.tree.get(headers[-1].hash)
        if known is not None and not known.failed:
            return True
        return prev.chainwork + claimed_work(headers) >= self.anti_dos_threshold()

    def _start_headers_sync(self, peer: Peer, chain_start: IndexEntry, headers: Sequence[BlockHeader]) -> None:
        sync = HeadersSync(self.cs.params, self.headers_sync_params, chain_start,  # type: ignore[union-attr]
                           self.anti_dos_threshold())
        log.info("headers presync with %r from height %d: its chain has too little work so far to store "
                 "(threshold %x)", peer, chain_start.height, sync.minimum_work)
        self._headers_sync[peer.id] = sync
        released = self._continue_headers_sync(peer, sync, headers, True)
        if released:  # cannot happen on the first message (the buffer holds more), kept for safety
            self._headers_sync.pop(peer.id, None)

    def _continue_headers_sync(self, peer: Peer, sync: HeadersSync, headers: Sequence[BlockHeader],
                               full: bool) -> list[BlockHeader]:
        """Feed one message to the peer's sync; returns the headers it proved (to be stored now)."""
        phase = sync.state
        result = sync.process(headers, full)
        if result.error is not None:
            self._headers_sync.pop(peer.id, None)
            peer.state.syncing_headers = False
            if result.misbehaving:
                peer.misbehaving(f"headers {phase.value}: {result.error}")
            else:
                log.info("headers %s with %r ended: %s", phase.value, peer, result.error)
            return []
        if sync.state is SyncState.REDOWNLOAD and phase is SyncState.PRESYNC:
            log.info("headers presync with %r reached the work threshold at height %d: redownloading to "
                     "check against the commitments", peer, sync.height)
        elif phase is SyncState.PRESYNC and sync.height // 10_000 != (sync.height - len(headers)) // 10_000:
            log.info("headers presync with %r at height %d (nothing stored yet)", peer, sync.height)
        if result.request_more:
            peer.state.syncing_headers = True
            peer.send(GetHeaders(tuple(sync.locator(block_locator(sync.chain_start))), bytes(32)))
        else:
            self._headers_sync.pop(peer.id, None)
            log.info("headers sync with %r: redownload checked, storing up to height %d", peer,
                     sync.redownload_height)
        return result.released

    def _update_best_known(self, peer: Peer, entry: IndexEntry) -> None:
        best = peer.state.best_known
        if best is None or entry.chainwork > best.chainwork:
            peer.state.best_known = entry
        peer.state.known_blocks.add(entry.hash)
        if len(peer.state.known_blocks) > 5000:
            peer.state.known_blocks.clear()

    async def on_getheaders(self, peer: Peer, msg: GetHeaders) -> None:  # type: ignore[override]
        cs = self.cs
        assert cs is not None
        self._refresh_active()
        if not msg.locator:
            e = cs.tree.get(msg.hash_stop)
            if e is not None and e.status & HAVE_DATA:
                peer.send(Headers((e.header,)))
            return
        fork = self._find_fork(msg.locator)
        out = []
        for h in range(fork.height + 1, min(len(self._active), fork.height + 1 + MAX_HEADERS_RESULTS)):
            e = self._active[h]
            out.append(e.header)
            if e.hash == msg.hash_stop:
                break
        self._update_best_known(peer, fork)
        peer.state.best_header_sent = self._active[fork.height + len(out)]
        peer.send(Headers(tuple(out)))

    async def on_getblocks(self, peer: Peer, msg: GetBlocks) -> None:  # type: ignore[override]
        self._refresh_active()
        fork = self._find_fork(msg.locator)
        items = []
        for h in range(fork.height + 1, len(self._active)):
            e = self._active[h]
            if e.hash == msg.hash_stop:
                break
            items.append(InvVector(MSG_BLOCK, e.hash))
            if len(items) >= MAX_GETBLOCKS_RESULTS:
                peer.state.hash_continue = e.hash
                break
        if items:
            peer.send(Inv(tuple(items)))

    def _find_fork(self, locator: Iterable[bytes]) -> IndexEntry:
        assert self.cs is not None
        for h in locator:
            e = self.cs.tree.get(h)
            if e is not None and e.height < len(self._active) and self._active[e.height] is e:
                return e
        return self.cs.tree.genesis

    def _refresh_active(self) -> None:
        """Keep ``_active`` (active chain by height) equal to the chainstate's, updating only what moved."""
        assert self.cs is not None
        tip = self.cs.tip
        chain = self._active
        if len(chain) == tip.height + 1 and chain[-1] is tip:
            return
        new = []
        e: IndexEntry | None = tip
        while e is not None and not (e.height < len(chain) and chain[e.height] is e):
            new.append(e)
            e = e.prev
        keep = e.height + 1 if e is not None else 0
        del chain[keep:]
        chain.extend(reversed(new))

    # ------------------------------------------------------------------ inventory
    async def on_inv(self, peer: Peer, msg: Inv) -> None:  # type: ignore[override]
        cs = self.cs
        assert cs is not None
        unknown_block = None
        want_tx = []
        for item in msg.items:
            kind = item.type & ~MSG_WITNESS_FLAG
            if kind == MSG_BLOCK:
                e = cs.tree.get(item.hash)
                if e is not None:
                    self._update_best_known(peer, e)
                else:
                    unknown_block = item.hash
                peer.state.last_block_announced = item.hash
            elif kind in (MSG_TX, MSG_WTX) and self.on_transaction is not None and peer.relay:
                if self.tx_lookup is None or self.tx_lookup(item.hash) is None:
                    want_tx.append(InvVector(MSG_WTX if kind == MSG_WTX else MSG_WITNESS_TX, item.hash))
        if unknown_block is not None:
            self._send_getheaders(peer, cs.tree.best_header)
        else:
            self._schedule_downloads()
        if want_tx:
            peer.send(GetData(tuple(want_tx)))

    async def on_getdata(self, peer: Peer, msg: GetData) -> None:  # type: ignore[override]
        not_found: list[InvVector] = []
        peer.cork()  # the answers go out in a few large writes (Peer.cork), in order
        try:
            await self._serve_getdata(peer, msg, not_found)
        finally:
            peer.uncork()

    async def _serve_getdata(self, peer: Peer, msg: GetData, not_found: list[InvVector]) -> None:
        cs = self.cs
        assert cs is not None
        for item in msg.items:
            if peer.closed.is_set():
                return
            kind = item.type & ~MSG_WITNESS_FLAG
            if kind in (MSG_BLOCK, MSG_CMPCT_BLOCK):
                e = cs.tree.get(item.hash)
                if e is None or not e.status & HAVE_DATA or e.failed:
                    not_found.append(item)
                    continue
                raw = self._read_block(e)
                if kind == MSG_CMPCT_BLOCK and cs.tip.height - e.height < MAX_CMPCTBLOCK_DEPTH:
                    peer.send(self._compact_block(Block.from_bytes(raw)))
                elif item.type & MSG_WITNESS_FLAG or kind == MSG_CMPCT_BLOCK:
                    peer.send(BlockMessage(raw))
                else:
                    peer.send(BlockMessage(strip_witness(raw)))
                self._update_best_known(peer, e)
                if peer.state.hash_continue == item.hash:
                    peer.state.hash_continue = None
                    peer.send(Inv((InvVector(MSG_BLOCK, cs.tip.hash),)))
                if peer.unsent_bytes > SEND_PAUSE_BYTES:
                    await peer.drain()
            elif kind in (MSG_TX, MSG_WTX):
                tx = self.tx_lookup(item.hash) if self.tx_lookup is not None else None
                if tx is None:
                    not_found.append(item)
                else:
                    peer.send(TxMessage(tx))
            else:
                not_found.append(item)
        if not_found:
            peer.send(NotFound(tuple(not_found)))

    def _read_block(self, e: IndexEntry) -> bytes:
        assert self.cs is not None
        if e.block_pos is None:
            self.cs.flush()  # a codec-stored block still being encoded gets its record
        return self.cs.store.get_block(e.block_pos)  # codec records are decoded by the store

    async def on_notfound(self, peer: Peer, msg: NotFound) -> None:  # type: ignore[override]
        released = [i.hash for i in msg.items if self.download.received(i.hash, peer.id)]
        if released:
            log.info("%r does not have %d blocks we asked for", peer, len(released))
            self._schedule_downloads(exclude=peer.id)

    # ------------------------------------------------------------------ blocks
    def _schedule_downloads(self, exclude: int | None = None) -> None:
        cs = self.cs
        if cs is None:
            return
        now = time.monotonic()
        for peer in list(self.peers.values()):
            if peer.id == exclude or not peer.handshake_done.is_set() or peer.closed.is_set():
                continue
            if peer.state.version is None or not peer.state.version.services & NODE_NETWORK:
                continue
            nxt = self.download.next_blocks(peer.id, cs.tip, peer.state.best_known)
            if nxt.staller is not None:
                self.download.stalling_since.setdefault(nxt.staller, now)
            if nxt.blocks:
                for e in nxt.blocks:
                    self.download.request(peer.id, e.hash, now)
                if self.block_requester is None or not self.block_requester(peer, nxt.blocks):
                    peer.send(GetData(tuple(InvVector(MSG_WITNESS_BLOCK, e.hash) for e in nxt.blocks)))

    def _try_compact_fetch(self, peer: Peer, entry: IndexEntry, n_new: int) -> bool:
        """A single new block on our tip from a compact-capable peer: ask for it as a compact block."""
        cs = self.cs
        assert cs is not None
        if (n_new != 1 or entry.prev is not cs.tip or entry.status & HAVE_DATA or not peer.supports_compact()
                or entry.hash in self.download.in_flight
                or self.download.count(peer.id) >= self.download.per_peer):
            return False
        self.download.request(peer.id, entry.hash)
        peer.send(GetData((InvVector(MSG_CMPCT_BLOCK, entry.hash),)))
        return True

    async def on_block(self, peer: Peer, msg: BlockMessage) -> None:  # type: ignore[override]
        requested = self.download.received(msg.block.hash, peer.id)
        cs = self.cs
        assert cs is not None
        if not requested and msg.block.hash not in cs.tree:
            # An unrequested block on a chain we have no header for: stored only if that chain has enough
            # work (Core's min_pow_checked), else a peer could fill the store with cheap blocks.
            prev = cs.tree.get(msg.block.header.prev_hash)
            if prev is not None and not self._enough_work(prev, [msg.block.header]):
                log.info("ignored unrequested low-work block %s from %r", msg.block.hash_hex, peer)
                return
        self._accept_block(peer, msg.raw, msg.block.hash, reconstructed=False)

    def _accept_block(self, peer: Peer, raw: bytes, block_hash: bytes, reconstructed: bool) -> None:
        cs = self.cs
        assert cs is not None
        old_tip = cs.tip
        before = cs.last_error
        known = cs.tree.get(block_hash)
        if known is not None and known.status & HAVE_DATA:
            self._update_best_known(peer, known)
            self._schedule_downloads()
            return
        try:
            entry = cs.process_block(raw)
        except ValidationError as e:
            if e.reason == "prev-blk-not-found":
                self._send_getheaders(peer, cs.tree.best_header)  # a block on headers we lack: ask for them
            elif reconstructed and e.mutated:
                # A short-id collision can rebuild the wrong block: fetch the real one, blame nobody.
                self.download.request(peer.id, block_hash)
                peer.send(GetData((InvVector(MSG_WITNESS_BLOCK, block_hash),)))
            else:
                peer.misbehaving(f"invalid block {hash_to_hex(block_hash)}: {e.reason}"
                                 + (f" ({e.debug})" if e.debug else ""))
            self._schedule_downloads()
            return
        self.stats["blocks"] += 1
        self.stats["bytes"] += len(raw)
        peer.state.blocks_received += 1
        self._update_best_known(peer, entry)
        self._block_source[block_hash] = peer.id
        while len(self._block_source) > 4096:
            self._block_source.popitem(last=False)
        if cs.last_error is not before and cs.last_error is not None:
            self._punish_failed_sources(cs.last_error)
        if cs.tip is not old_tip:
            self._tip_changed(old_tip, peer)
        self._schedule_downloads()

    def _punish_failed_sources(self, error: ValidationError) -> None:
        """A stored block failed when connected: its sender misbehaved (Core's mapBlockSource)."""
        assert self.cs is not None
        for h, peer_id in list(self._block_source.items()):
            e = self.cs.tree.get(h)
            if e is not None and e.failed and not e.status & 32:  # FAILED itself, not only a failed parent
                del self._block_source[h]
                peer = self.peers.get(peer_id)
                if peer is not None:
                    peer.misbehaving(f"invalid block {e.hash_hex}: {error.reason}")
                    peer.close(f"sent invalid block {e.hash_hex}")

    def _tip_changed(self, old_tip: IndexEntry, source: Peer | None) -> None:
        assert self.cs is not None
        self._refresh_active()
        tip = self.cs.tip
        self.stats["last_tip_time"] = time.time()
        if not self._ancestor_is(tip, old_tip):
            fork = self.cs.tree.fork_point(tip, old_tip)
            log.info("reorg: %d %s -> %d %s (fork at %d)", old_tip.height, old_tip.hash_hex, tip.height,
                     tip.hash_hex, fork.height)
        elif tip.height // 100 != old_tip.height // 100:
            log.info("tip %d %s", tip.height, tip.hash_hex)
        if (source is not None and source.supports_compact() and source.outbound
                and source.id not in self._high_bandwidth):
            self._high_bandwidth.append(source.id)
            source.send(SendCmpct(True, 2))
            while len(self._high_bandwidth) > MAX_HIGH_BANDWIDTH_PEERS:
                old = self.peers.get(self._high_bandwidth.pop(0))
                if old is not None:
                    old.send(SendCmpct(False, 2))
        if not self._announce_scheduled:
            self._announce_scheduled = True
            asyncio.get_running_loop().call_soon(self._announce)
        for listener in self._tip_listeners:
            listener(old_tip, source)
        if self.fee_filter is not None:
            # Leaving initial block download: replace the "send me nothing" filter at once, not at the
            # next housekeeping tick, so no announcement is withheld meanwhile.
            now = time.monotonic()
            for peer in list(self.peers.values()):
                self._send_feefilter(peer, now)

    def _announce(self) -> None:
        """Tell each peer about our new tip: cmpctblock (high-bandwidth peers), headers (sendheaders peers,
        up to 8 new blocks), else an inv of the tip (bcoin takes inv only)."""
        self._announce_scheduled = False
        cs = self.cs
        if cs is None:
            return
        tip = cs.tip
        compact_msg = None
        for peer in list(self.peers.values()):
            if not peer.handshake_done.is_set() or peer.closed.is_set():
                continue
            best = peer.state.best_known
            sent = peer.state.best_header_sent
            if sent is not None and (best is None or sent.chainwork > best.chainwork):
                best = sent
            if best is not None and self._ancestor_is(best, tip):
                continue
            new = []
            e: IndexEntry | None = tip
            while e is not None and len(new) <= MAX_BLOCKS_TO_ANNOUNCE:
                if best is not None and e is best:
                    break
                if best is not None and e.height <= best.height and self._ancestor_is(best, e):
                    break
                new.append(e)
                e = e.prev
            if peer.state.compact_high_bandwidth and peer.supports_compact() and len(new) == 1:
                if compact_msg is None:
                    compact_msg = self._compact_block(Block.from_bytes(self._read_block(tip)))
                peer.send(compact_msg)
            elif peer.state.send_headers and len(new) <= MAX_BLOCKS_TO_ANNOUNCE and best is not None:
                peer.send(Headers(tuple(x.header for x in reversed(new))))
            else:
                peer.send(Inv((InvVector(MSG_BLOCK, tip.hash),)))
            peer.state.best_header_sent = tip

    @staticmethod
    def _ancestor_is(entry: IndexEntry, maybe_ancestor: IndexEntry) -> bool:
        e: IndexEntry | None = entry
        while e is not None and e.height > maybe_ancestor.height:
            e = e.prev
        return e is maybe_ancestor

    # ------------------------------------------------------------------ compact blocks (BIP152)
    def _compact_block(self, block: Block) -> CmpctBlock:
        nonce = random.getrandbits(64)
        keys = shortid_keys(block.header, nonce)
        txs = block.transactions
        return CmpctBlock(block.header, nonce, [short_id(keys, t.wtxid) for t in txs[1:]],
                          [PrefilledTx(0, txs[0])])

    async def on_cmpctblock(self, peer: Peer, msg: CmpctBlock) -> None:  # type: ignore[override]
        cs = self.cs
        assert cs is not None
        header = msg.header
        prev = cs.tree.get(header.prev_hash)
        if prev is None:
            self._send_getheaders(peer, cs.tree.best_header)
            return
        if not self._enough_work(prev, [header]):
            log.info("ignored low-work compact block %s from %r", header.hash_hex, peer)
            return
        try:
            cs.process_headers([header])
        except ValidationError as e:
            peer.misbehaving(f"invalid compact block header: {e.reason}")
            return
        entry = cs.tree.get(header.hash)
        if entry is None:
            return
        self._update_best_known(peer, entry)
        if entry.status & HAVE_DATA:
            self.download.received(header.hash, peer.id)
            return
        n = len(msg.short_ids) + len(msg.prefilled)
        txs: list[Transaction | None] = [None] * n
        for p in msg.prefilled:
            txs[p.index] = p.tx
        slots = [i for i in range(n) if txs[i] is None]
        if len(slots) != len(msg.short_ids):
            peer.misbehaving("compact block with inconsistent prefilled indexes")
            return
        if len(set(msg.short_ids)) != len(msg.short_ids):
            # Core: a short-id collision inside one block, fetch the whole block.
            self.download.request(peer.id, header.hash)
            peer.send(GetData((InvVector(MSG_WITNESS_BLOCK, header.hash),)))
            return
        by_id = dict(zip(msg.short_ids, slots, strict=True))
        if self.mempool_txs is not None:
            keys = shortid_keys(header, msg.nonce)
            for tx in self.mempool_txs():
                slot = by_id.get(short_id(keys, tx.wtxid))
                if slot is not None and txs[slot] is None:
                    txs[slot] = tx
        missing = [i for i in range(n) if txs[i] is None]
        partial = PartialBlock(header, txs, missing)
        if not missing:
            self._finish_compact(peer, partial)
            return
        if header.hash not in self.download.in_flight:
            self.download.request(peer.id, header.hash)
        self._partial[peer.id] = (header.hash, partial)
        peer.send(GetBlockTxn(header.hash, tuple(missing)))

    async def on_blocktxn(self, peer: Peer, msg: BlockTxn) -> None:  # type: ignore[override]
        pending = self._partial.get(peer.id)
        if pending is None or pending[0] != msg.block_hash:
            return  # not asked for (or superseded): ignore, as Core
        partial = pending[1]
        if len(msg.transactions) != len(partial.missing):
            peer.misbehaving("blocktxn with the wrong number of transactions")
            return
        del self._partial[peer.id]
        for i, tx in zip(partial.missing, msg.transactions, strict=True):
            partial.txs[i] = tx
        self._finish_compact(peer, partial)

    def _finish_compact(self, peer: Peer, partial: PartialBlock) -> None:
        raw = b"".join([partial.header.serialize(), compact_size(len(partial.txs))]
                       + [t.serialize() for t in partial.txs if t is not None])
        self.download.received(partial.header.hash, peer.id)
        self._accept_block(peer, raw, partial.header.hash, reconstructed=True)

    async def on_getblocktxn(self, peer: Peer, msg: GetBlockTxn) -> None:  # type: ignore[override]
        cs = self.cs
        assert cs is not None
        e = cs.tree.get(msg.block_hash)
        if e is None or not e.status & HAVE_DATA:
            peer.misbehaving("getblocktxn for a block we never announced")
            return
        raw = self._read_block(e)
        if cs.tip.height - e.height >= MAX_BLOCKTXN_DEPTH:
            peer.send(BlockMessage(raw))
            return
        block = Block.from_bytes(raw)
        if msg.indexes and msg.indexes[-1] >= len(block.transactions):
            peer.misbehaving("getblocktxn index out of range")
            return
        peer.send(BlockTxn(msg.block_hash, [block.transactions[i] for i in msg.indexes]))

    # ------------------------------------------------------------------ transactions (hook only)
    async def on_tx(self, peer: Peer, msg: TxMessage) -> None:  # type: ignore[override]
        if self.on_transaction is not None:
            result = self.on_transaction(peer, msg.tx)
            if asyncio.iscoroutine(result):
                await result

    def relay_transaction(self, tx: Transaction) -> None:
        """Announce a transaction (the mempool's hook): by wtxid to wtxidrelay peers, by txid otherwise;
        not to a peer whose feefilter is above the transaction's fee rate (Core: base fee below the
        filter's fee for the tx's vsize, rounded up)."""
        fee = self.tx_fee(tx) if self.tx_fee is not None else None
        for peer in self.peers.values():
            if peer.handshake_done.is_set() and peer.relay and (peer.state.version is None
                                                                or peer.state.version.relay):
                if fee is not None and peer.state.fee_filter and fee[0] < _fee_for(peer.state.fee_filter, fee[1]):
                    continue
                item = InvVector(MSG_WTX, tx.wtxid) if peer.state.wtxid_relay else InvVector(MSG_TX, tx.txid)
                peer.send(Inv((item,)))

    # ------------------------------------------------------------------ addresses
    async def on_addr(self, peer: Peer, msg: Addr | AddrV2) -> None:  # type: ignore[override]
        st = peer.state
        now = time.monotonic()
        st.addr_tokens = min(MAX_ADDR_TOKENS, st.addr_tokens + (now - st.addr_token_time) * ADDR_TOKENS_PER_SECOND)
        st.addr_token_time = now
        take = int(min(len(msg.addresses), st.addr_tokens))
        st.addr_tokens -= take
        accepted = list(msg.addresses[:take])
        if accepted and self.addrbook is not None:
            self.addrbook.add(accepted)
        if len(msg.addresses) <= ADDR_RELAY_MAX_ENTRIES:
            self._relay_addresses(peer, accepted)

    def _relay_addresses(self, source: Peer, addresses: list[NetAddress]) -> None:
        """Forward fresh addresses from small (unsolicited) addr messages to up to two other full-relay
        peers, as Core's RelayAddress does."""
        now = time.time()
        fresh = [a for a in addresses if a.host is not None and abs(now - a.time) < ADDR_RELAY_MAX_AGE]
        if not fresh:
            return
        targets = [p for p in self.peers.values() if p is not source and p.handshake_done.is_set()
                   and p.relay and not p.closed.is_set()]
        for p in random.sample(targets, min(ADDR_RELAY_PEERS, len(targets))):
            if p.state.send_addrv2:
                p.send(AddrV2(tuple(fresh)))
            else:
                p.send(Addr(tuple(a for a in fresh if a.ipv6_bytes() is not None)))

    async def on_getaddr(self, peer: Peer, msg: GetAddr) -> None:  # type: ignore[override]
        if peer.outbound or peer.state.answered_getaddr or self.addrbook is None:
            return  # Core answers inbound peers once, to avoid fingerprinting
        peer.state.answered_getaddr = True
        sample = self.addrbook.sample(MAX_ADDR_TO_SEND)
        if peer.state.send_addrv2:
            peer.send(AddrV2(tuple(sample)))
        else:
            peer.send(Addr(tuple(a for a in sample if a.ipv6_bytes() is not None)))

    # ------------------------------------------------------------------ queries (CLI, tests)
    def info(self) -> dict:
        cs = self.cs
        return {
            "height": cs.tip.height if cs else None,
            "best_block_hash": cs.tip.hash_hex if cs else None,
            "headers": cs.tree.best_header.height if cs else None,
            "peers": [{"id": p.id, "address": f"{p.host}:{p.address.port}", "type": p.conn_type.value,
                       "user_agent": p.user_agent} for p in self.peers.values()],
            "port": self.port,
            "header_tree_size": len(cs.tree) if cs else None,
            "headers_presync": {str(pid): {"state": s.state.value, "height": s.height, "commitments": s.commitments,
                                           "redownload_height": s.redownload_height, "buffered": s.buffered}
                                for pid, s in self._headers_sync.items()},
        }
