"""One connection: handshake under a timeout, then a reader loop, pings, and bounded sends.

The peer answers link-level messages itself (version, verack, ping, pong, feature flags) and hands every
other message to its owner (the node) one at a time: while a message is handled nothing more is read from
the socket, so a peer sending faster than we process only fills the kernel's buffers and a 64 KiB stream
buffer, and the transport never buffers more than one frame. Sends go to the asyncio transport; a peer
whose unsent bytes pass ``max_send_buffer`` is disconnected, and handlers that send a lot await ``drain``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..chain.headers import IndexEntry
from ..net.addr import NetAddress
from ..net.errors import FrameError, MessageError
from ..net.limits import (
    MIN_PEER_PROTO_VERSION,
    NODE_NETWORK,
    NODE_WITNESS,
    PROTOCOL_VERSION,
    SHORT_IDS_BLOCKS_VERSION,
    WTXID_RELAY_VERSION,
)
from ..net.message import Message, UnknownMessage
from ..net.ping import Ping, Pong
from ..net.transport import V1Transport
from ..net.version import SendAddrV2, Verack, Version, VersionAddress, WtxidRelay

log = logging.getLogger("packetfs.node")

USER_AGENT = "/PacketFS:0.1.0/"
# While corked (serving a getdata), queued frames go to the socket in writes of about this size: a few
# syscalls for hundreds of blocks instead of one each, and one copy of each block's bytes.
CORK_FLUSH_BYTES = 256 << 10


class ConnectionType(enum.Enum):
    INBOUND = "inbound"
    OUTBOUND_FULL_RELAY = "outbound-full-relay"
    BLOCK_RELAY = "block-relay-only"
    MANUAL = "manual"  # --connect / --addnode

    @property
    def outbound(self) -> bool:
        return self is not ConnectionType.INBOUND


@dataclass
class PeerTimeouts:
    handshake: float = 60.0
    ping_interval: float = 120.0
    ping_timeout: float = 1200.0  # Core's TIMEOUT_INTERVAL (20 min)
    drain: float = 120.0


class PeerDisconnect(Exception):  # noqa: N818 - a control-flow signal, not an error to report
    """Raised inside a peer's tasks to close it; ``reason`` goes to the log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class PeerState:
    """What we learned about the peer and what it asked of us (net_processing's per-peer state)."""

    version: Version | None = None
    verack_received: bool = False
    wtxid_relay: bool = False
    send_addrv2: bool = False
    send_headers: bool = False
    compact_version: int = 0  # 2 once it sent sendcmpct version 2
    compact_high_bandwidth: bool = False  # it wants cmpctblock announcements
    fee_filter: int = 0  # sat/kvB: announce to it only transactions paying at least this (BIP133)
    fee_filter_sent: int = 0  # the last feefilter we sent it
    next_fee_filter: float = 0.0  # monotonic time of our next feefilter check (node/feefilter.py)
    best_known: IndexEntry | None = None  # the best block we know the peer has
    best_header_sent: IndexEntry | None = None  # the best header we told it about (headers, inv, cmpctblock)
    last_block_announced: bytes | None = None
    hash_continue: bytes | None = None  # getblocks: tell it about our tip when it fetches this block
    unconnecting_headers: int = 0
    sent_getaddr: bool = False
    answered_getaddr: bool = False
    addr_tokens: float = 1000.0
    addr_token_time: float = field(default_factory=time.monotonic)
    known_blocks: set[bytes] = field(default_factory=set)  # announced to or by it, bounded by the owner
    syncing_headers: bool = False
    misbehavior: str | None = None  # set by Misbehaving; acted on once, after the handler returns
    blocks_received: int = 0


class Peer:
    """A handshaken or handshaking connection. ``run()`` owns it until it closes."""

    _next_id = 0

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        magic: bytes,
        conn_type: ConnectionType,
        address: NetAddress,
        our_height: Callable[[], int],
        local_nonce: int,
        services: int = NODE_NETWORK | NODE_WITNESS,
        timeouts: PeerTimeouts | None = None,
        max_send_buffer: int = 64 << 20,
        relay: bool = True,
    ):
        Peer._next_id += 1
        self.id = Peer._next_id
        self.reader = reader
        self.writer = writer
        self.transport = V1Transport(magic)
        self.conn_type = conn_type
        self.address = address
        self.our_height = our_height
        self.local_nonce = local_nonce
        self.services = services
        self.timeouts = timeouts or PeerTimeouts()
        self.max_send_buffer = max_send_buffer
        self.relay = relay and conn_type is not ConnectionType.BLOCK_RELAY
        self.state = PeerState()
        self.connected_at = time.monotonic()
        self.handshake_done = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_reason = ""
        self._ping_nonce: int | None = None
        self._ping_sent = 0.0
        self.ping_time: float | None = None
        self.last_recv = time.monotonic()
        self._cork: list[bytes] | None = None
        self._cork_bytes = 0

    def __repr__(self) -> str:
        return f"peer={self.id} {self.host}:{self.address.port} ({self.conn_type.value})"

    @property
    def host(self) -> str:
        return self.address.host or "?"

    @property
    def outbound(self) -> bool:
        return self.conn_type.outbound

    @property
    def user_agent(self) -> str:
        return self.state.version.user_agent if self.state.version else ""

    @property
    def unsent_bytes(self) -> int:
        t = self.writer.transport
        return t.get_write_buffer_size() if t is not None and not t.is_closing() else 0

    # ------------------------------------------------------------------ sending
    def send(self, msg: Message) -> None:
        """Queue a message; never blocks. Over the send-buffer cap the peer is closed instead."""
        if self.closed.is_set() or self.writer.is_closing():
            return
        if self._cork is not None:
            header, payload = self.transport.encode_parts(msg)
            self._cork += (header, payload)
            self._cork_bytes += len(header) + len(payload)
            if self._cork_bytes >= CORK_FLUSH_BYTES:
                self.flush()
            return
        self._write(self.transport.encode(msg))

    def _write(self, data: bytes) -> None:
        self.writer.write(data)
        if self.unsent_bytes > self.max_send_buffer:
            self.close(f"send buffer above {self.max_send_buffer} bytes (peer not reading)")

    def cork(self) -> None:
        """Batch the following sends (in order) until ``uncork``; ``flush`` writes what is batched."""
        if self._cork is None:
            self._cork, self._cork_bytes = [], 0

    def flush(self) -> None:
        if self._cork:
            data = b"".join(self._cork)
            self._cork.clear()
            self._cork_bytes = 0
            if not self.closed.is_set() and not self.writer.is_closing():
                self._write(data)

    def uncork(self) -> None:
        self.flush()
        self._cork = None

    async def drain(self) -> None:
        """Wait until the socket took our bytes (backpressure for handlers that send a lot)."""
        self.flush()
        try:
            await asyncio.wait_for(self.writer.drain(), self.timeouts.drain)
        except TimeoutError:
            raise PeerDisconnect(f"send stalled for {self.timeouts.drain}s") from None
        except (ConnectionError, OSError) as e:
            raise PeerDisconnect(f"connection lost while sending: {e}") from None

    def close(self, reason: str) -> None:
        if not self.close_reason:
            self.close_reason = reason
        self.closed.set()
        with contextlib.suppress(Exception):
            self.writer.close()

    # ------------------------------------------------------------------ lifecycle
    async def run(self, handle: Callable[[Peer, Message], Awaitable[None]],
                  on_ready: Callable[[Peer], Awaitable[None]]) -> None:
        """Handshake, then read and dispatch until closed. Always closes the socket before returning."""
        tasks: list[asyncio.Task] = []
        try:
            if self.outbound:
                self._send_version()
            await self._handshake(handle)
            await on_ready(self)
            tasks.append(asyncio.create_task(self._ping_loop()))
            tasks.append(asyncio.create_task(self._wait_closed()))
            await self._read_loop(handle)
        except PeerDisconnect as e:
            self.close(e.reason)
        except FrameError as e:
            self.misbehaving(f"bad frame: {e}")
            self.close(f"bad frame: {e}")
        except MessageError as e:
            self.misbehaving(f"malformed {e.command or 'message'}: {e}")
            self.close(self.state.misbehavior or str(e))
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as e:
            self.close(f"connection lost: {e or type(e).__name__}")
        except Exception as e:  # noqa: BLE001 - our bug, not the peer's fault: log it, drop only this peer
            log.exception("internal error while handling %r", self)
            self.close(f"internal error: {type(e).__name__}: {e}")
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(BaseException):
                    await t
            self.close(self.close_reason or "closed")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.writer.wait_closed(), 2)

    async def _wait_closed(self) -> None:
        await self.closed.wait()
        # Wake the reader so run() unwinds promptly.
        self.reader.feed_eof()

    async def _recv(self) -> list[Message | UnknownMessage]:
        data = await self.reader.read(max(1, min(1 << 16, self.transport.wanted)))
        if not data:
            raise PeerDisconnect(self.close_reason or "peer closed the connection")
        self.last_recv = time.monotonic()
        return self.transport.feed(data)

    async def _handshake(self, handle: Callable[[Peer, Message], Awaitable[None]]) -> None:
        try:
            async with asyncio.timeout(self.timeouts.handshake):
                while not (self.state.version is not None and self.state.verack_received):
                    for msg in await self._recv():
                        await self._handshake_message(msg, handle)
        except TimeoutError:
            raise PeerDisconnect(f"no handshake within {self.timeouts.handshake}s") from None
        self.handshake_done.set()

    async def _handshake_message(self, msg: Message | UnknownMessage,
                                 handle: Callable[[Peer, Message], Awaitable[None]]) -> None:
        st = self.state
        if isinstance(msg, Version):
            if st.version is not None:
                self.misbehaving("duplicate version")
                raise PeerDisconnect("duplicate version")
            if msg.version < MIN_PEER_PROTO_VERSION:
                raise PeerDisconnect(f"protocol version {msg.version} too old")
            if not self.outbound and msg.nonce == self.local_nonce:
                raise PeerDisconnect("connected to self")
            st.version = msg
            if not self.outbound:
                self._send_version()
            if msg.version >= WTXID_RELAY_VERSION:
                self.send(WtxidRelay())
                self.send(SendAddrV2())
            self.send(Verack())
        elif st.version is None:
            self.misbehaving(f"{getattr(msg, 'command', '?')} before version")
            raise PeerDisconnect("message before version")
        elif isinstance(msg, Verack):
            st.verack_received = True
        elif isinstance(msg, WtxidRelay):
            st.wtxid_relay = True
        elif isinstance(msg, SendAddrV2):
            st.send_addrv2 = True
        elif isinstance(msg, UnknownMessage):
            return
        else:
            # Core ignores (and bcoin sends) some messages before verack, e.g. sendcmpct, feefilter; keep
            # them for after the handshake only if harmless to handle now.
            await handle(self, msg)

    def _send_version(self) -> None:
        self.send(Version(
            version=PROTOCOL_VERSION,
            services=self.services,
            timestamp=int(time.time()),
            addr_recv=VersionAddress(0, self.address.ipv6_bytes() or bytes(16), self.address.port),
            addr_from=VersionAddress(self.services),
            nonce=self.local_nonce,
            user_agent=USER_AGENT,
            start_height=self.our_height(),
            relay=self.relay,
        ))

    async def _read_loop(self, handle: Callable[[Peer, Message], Awaitable[None]]) -> None:
        while not self.closed.is_set():
            for msg in await self._recv():
                if self.closed.is_set():
                    return
                if isinstance(msg, UnknownMessage):
                    continue
                if isinstance(msg, Ping):
                    self.send(Pong(msg.nonce))
                elif isinstance(msg, Pong):
                    self._on_pong(msg)
                elif isinstance(msg, (Version, Verack)):
                    self.misbehaving(f"duplicate {msg.command}")
                else:
                    await handle(self, msg)
                if self.state.misbehavior is not None:
                    raise PeerDisconnect(f"misbehaving: {self.state.misbehavior}")
                # One read can hold dozens of blocks, each validated on this event loop: let the other
                # peers' requests (getdata, ping) in between messages, so an answer waits for at most one
                # message's handling instead of a whole burst.
                await asyncio.sleep(0)

    def _on_pong(self, msg: Pong) -> None:
        if self._ping_nonce is not None and msg.nonce == self._ping_nonce:
            self.ping_time = time.monotonic() - self._ping_sent
            self._ping_nonce = None

    async def _ping_loop(self) -> None:
        while not self.closed.is_set():
            if self._ping_nonce is not None and time.monotonic() - self._ping_sent > self.timeouts.ping_timeout:
                self.close(f"ping timeout ({self.timeouts.ping_timeout}s)")
                return
            if self._ping_nonce is None:
                self._ping_nonce = random.getrandbits(64)
                self._ping_sent = time.monotonic()
                self.send(Ping(self._ping_nonce))
            await asyncio.sleep(min(self.timeouts.ping_interval, self.timeouts.ping_timeout / 2))

    # ------------------------------------------------------------------ misbehaviour
    def misbehaving(self, reason: str) -> None:
        """Note it now; the read loop disconnects after the current message and the owner discourages."""
        if self.state.misbehavior is None:
            self.state.misbehavior = reason

    def supports_compact(self) -> bool:
        v = self.state.version
        return v is not None and v.version >= SHORT_IDS_BLOCKS_VERSION and self.state.compact_version == 2
