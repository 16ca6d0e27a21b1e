"""Reliable datagrams over UDP on loopback: the local backend's packet transport.

A datagram is a 32-byte header and a payload of whole records (packets in the 208-byte wire layout, or EMIT
records). Each data datagram carries a per-sender sequence number; the receiver acknowledges every one,
processes each sequence number at most once and drops duplicates; the sender retransmits what is not
acknowledged after a timeout (exponential backoff, capped), with a window that bounds the bytes in flight.
In-order delivery is not needed: a program's result does not depend on packet arrival order.

``decode_header`` / ``encode`` are pure functions (fuzzed in the tests); ``Link`` owns the socket and the
per-peer state of one endpoint.
"""

from __future__ import annotations

import random
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field

from ..packet import WIRE_SIZE
from ..runtime.records import EMIT_DTYPE

MAGIC = b"PFSC"
VERSION = 1
HEADER = struct.Struct("<4sBBHIIIIQ")  # magic, version, kind, sender, run, seq, count, aux, token
HEADER_SIZE = HEADER.size  # 32
MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4
MAX_PACKETS_PER_DATAGRAM = 300  # 300 * 208 + 32 = 62,432 bytes
DRIVER = 0xFFFF  # sender id of the origin (the process that injects packets and collects results)

KIND_DATA = 1  # packets for the receiver to execute
KIND_DONE = 2  # terminal packets (HALT / ERROR) for the origin
KIND_EMIT = 3  # EMIT records for the origin
KIND_ACK = 4  # seq = the sequence number acknowledged
RECORD_SIZE = {KIND_DATA: WIRE_SIZE, KIND_DONE: WIRE_SIZE, KIND_EMIT: EMIT_DTYPE.itemsize, KIND_ACK: 0}
MAX_RECORDS = {k: (MAX_DATAGRAM - HEADER_SIZE) // s if s else 0 for k, s in RECORD_SIZE.items()}

RTO_INITIAL = 0.1  # a receiver busy executing a large batch reads (and acks) only between rounds
RTO_MAX = 1.0
GIVE_UP_AFTER = 30.0  # seconds of unacknowledged retransmission before the peer is declared lost


class TransportError(ValueError):
    """A datagram that is not ours or is malformed (dropped and counted, never raised past the Link)."""


@dataclass(frozen=True)
class Header:
    kind: int
    sender: int
    run: int
    seq: int
    count: int
    aux: int
    token: int


def encode(h: Header, payload: bytes = b"") -> bytes:
    return HEADER.pack(MAGIC, VERSION, h.kind, h.sender, h.run, h.seq, h.count, h.aux, h.token) + payload


def decode_header(data: bytes | memoryview) -> Header:
    """The header of a datagram, checked: magic, version, kind, and that the payload is exactly ``count``
    records of the kind's size. Raises TransportError."""
    if len(data) < HEADER_SIZE:
        raise TransportError(f"datagram of {len(data)} bytes is shorter than the {HEADER_SIZE}-byte header")
    magic, version, kind, sender, run, seq, count, aux, token = HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise TransportError("not a packetfs compute datagram (magic/version)")
    if kind not in RECORD_SIZE:
        raise TransportError(f"unknown datagram kind {kind}")
    if count > MAX_RECORDS[kind] or len(data) - HEADER_SIZE != count * RECORD_SIZE[kind]:
        raise TransportError(f"payload of {len(data) - HEADER_SIZE} bytes is not {count} records of kind {kind}")
    return Header(kind, sender, run, seq, count, aux, token)


@dataclass
class LinkStats:
    sent: int = 0
    bytes_sent: int = 0
    received: int = 0
    retransmits: int = 0
    duplicates: int = 0
    rejected: int = 0
    acks_sent: int = 0


@dataclass
class _Unacked:
    datagram: bytes
    dest: int
    sent_at: float
    first_sent: float
    rto: float
    tries: int = 1


@dataclass
class _Peer:
    next_seq: int = 1
    in_flight: int = 0  # bytes
    unacked: dict[int, _Unacked] = field(default_factory=dict)
    waiting: deque = field(default_factory=deque)  # (seq, datagram) not yet sent: window full
    recv_base: int = 0  # every seq <= recv_base has been received
    recv_above: set[int] = field(default_factory=set)


class FaultInjector:
    """Drops and duplicates outgoing datagrams on purpose (tests): each send is dropped with probability
    ``drop_rate``, else sent twice with probability ``dup_rate``."""

    def __init__(self, drop_rate: float = 0.0, dup_rate: float = 0.0, seed: int = 0):
        if not (0 <= drop_rate < 1 and 0 <= dup_rate <= 1):
            raise ValueError("drop_rate must be in [0, 1) and dup_rate in [0, 1]")
        self.drop_rate, self.dup_rate = drop_rate, dup_rate
        self.rng = random.Random(seed)
        self.dropped = self.duplicated = 0

    def copies(self) -> int:
        if not (self.drop_rate or self.dup_rate):
            return 1
        r = self.rng.random()
        if r < self.drop_rate:
            self.dropped += 1
            return 0
        if r < self.drop_rate + self.dup_rate:
            self.duplicated += 1
            return 2
        return 1


class PeerLost(RuntimeError):
    """A peer stopped acknowledging for GIVE_UP_AFTER seconds."""


class Link:
    """One endpoint: a non-blocking UDP socket on 127.0.0.1 and reliable delivery to known peers."""

    def __init__(self, me: int, token: int, faults: FaultInjector | None = None, buffer_bytes: int = 4 << 20):
        self.me = me
        self.token = token
        self.faults = faults or FaultInjector()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, opt, buffer_bytes)
            except OSError:
                pass  # the kernel keeps its own cap; the window adapts below
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.addr = self.sock.getsockname()
        self.rcvbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        self.peers_addr: dict[int, tuple[str, int]] = {}
        self.by_addr: dict[tuple[str, int], int] = {}
        self.state: dict[int, _Peer] = {}
        self.run = 0
        self.window = 1 << 20
        self.stats = LinkStats()

    def set_peers(self, peers: dict[int, tuple[str, int]]) -> None:
        self.peers_addr = dict(peers)
        self.by_addr = {tuple(a): i for i, a in peers.items()}
        # Several senders share one receive buffer, and the kernel charges a datagram about twice its size
        # (getsockopt reports the doubled figure too): keep each sender's bytes in flight within its share.
        self.window = max(2 * MAX_DATAGRAM, self.rcvbuf // 4 // max(1, len(peers)))

    def reset(self, run: int) -> None:
        """Start a new run: forget every sequence number and unacknowledged datagram of the last one."""
        self.run = run
        self.state = {i: _Peer() for i in self.peers_addr}
        self.stats = LinkStats()

    def close(self) -> None:
        self.sock.close()

    # sending ---------------------------------------------------------------------------------------------
    def _sendto(self, datagram: bytes, dest: int) -> None:
        for _ in range(self.faults.copies()):
            try:
                self.sock.sendto(datagram, self.peers_addr[dest])
            except (BlockingIOError, InterruptedError):
                pass  # the socket buffer is full: same as a loss, the retransmit timer covers it
            except OSError:
                pass  # peer's port gone (ICMP unreachable surfaced here); the process watcher reports it

    def send(self, dest: int, kind: int, payload: bytes, count: int) -> None:
        """Queue ``count`` records for reliable delivery to ``dest``."""
        peer = self.state[dest]
        seq = peer.next_seq
        peer.next_seq += 1
        dgram = encode(Header(kind, self.me, self.run, seq, count, 0, self.token), payload)
        peer.waiting.append((seq, dgram))
        self._pump(dest, time.monotonic())

    def send_records(self, dest: int, kind: int, buf: bytes) -> None:
        """Split ``buf`` (whole records of ``kind``) into datagrams and queue them."""
        size = RECORD_SIZE[kind]
        per = MAX_PACKETS_PER_DATAGRAM if kind in (KIND_DATA, KIND_DONE) else MAX_RECORDS[kind]
        step = per * size
        for off in range(0, len(buf), step):
            chunk = buf[off : off + step]
            self.send(dest, kind, chunk, len(chunk) // size)

    def _pump(self, dest: int, now: float) -> None:
        peer = self.state[dest]
        while peer.waiting and (peer.in_flight + len(peer.waiting[0][1]) <= self.window or not peer.unacked):
            seq, dgram = peer.waiting.popleft()
            peer.unacked[seq] = _Unacked(dgram, dest, now, now, RTO_INITIAL)
            peer.in_flight += len(dgram)
            self._sendto(dgram, dest)
            self.stats.sent += 1
            self.stats.bytes_sent += len(dgram)

    def busy(self) -> bool:
        """Something is not yet acknowledged or not yet sent."""
        return any(p.unacked or p.waiting for p in self.state.values())

    def tick(self) -> float:
        """Retransmit what timed out; return seconds until the next deadline (or 0.5 when idle).
        Raises PeerLost when a peer has not acknowledged for GIVE_UP_AFTER seconds."""
        now = time.monotonic()
        nxt = 0.5
        for dest, peer in self.state.items():
            for u in peer.unacked.values():
                due = u.sent_at + u.rto
                if due <= now:
                    if now - u.first_sent > GIVE_UP_AFTER:
                        raise PeerLost(f"peer {dest} acknowledged nothing for {GIVE_UP_AFTER:.0f} s")
                    self._sendto(u.datagram, dest)
                    u.sent_at, u.rto, u.tries = now, min(u.rto * 2, RTO_MAX), u.tries + 1
                    self.stats.retransmits += 1
                    due = now + u.rto
                nxt = min(nxt, due - now)
            self._pump(dest, now)
        return max(nxt, 0.0)

    # receiving -------------------------------------------------------------------------------------------
    def receive(self, limit: int = 1 << 30) -> list[tuple[int, int, memoryview]]:
        """Read every waiting datagram (up to ``limit``): new data as (kind, sender, payload); ACKs and
        duplicates are handled here. Malformed or foreign datagrams are dropped and counted."""
        out = []
        for _ in range(limit):
            try:
                data, addr = self.sock.recvfrom(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue  # an ICMP error from an earlier send; nothing to read
            item = self.on_datagram(data, addr)
            if item is not None:
                out.append(item)
        return out

    def on_datagram(self, data: bytes, addr) -> tuple[int, int, memoryview] | None:
        try:
            h = decode_header(data)
        except TransportError:
            self.stats.rejected += 1
            return None
        sender = self.by_addr.get(tuple(addr))
        if h.token != self.token or sender is None or sender != h.sender or h.run != self.run:
            self.stats.rejected += 1
            return None
        peer = self.state[sender]
        if h.kind == KIND_ACK:
            u = peer.unacked.pop(h.seq, None)
            if u is not None:
                peer.in_flight -= len(u.datagram)
                self._pump(sender, time.monotonic())
            return None
        self._sendto(encode(Header(KIND_ACK, self.me, self.run, h.seq, 0, 0, self.token)), sender)
        self.stats.acks_sent += 1
        if h.seq <= peer.recv_base or h.seq in peer.recv_above:
            self.stats.duplicates += 1
            return None
        peer.recv_above.add(h.seq)
        while peer.recv_base + 1 in peer.recv_above:
            peer.recv_base += 1
            peer.recv_above.discard(peer.recv_base)
        self.stats.received += 1
        return h.kind, sender, memoryview(data)[HEADER_SIZE:]
