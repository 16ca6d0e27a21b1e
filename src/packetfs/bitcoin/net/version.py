"""Handshake family: version, verack, and the feature announcements sent between them (wtxidrelay, sendaddrv2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .limits import MAX_SUBVERSION_LENGTH
from .message import EmptyMessage, Message
from .reader import Reader


@dataclass(frozen=True, slots=True)
class VersionAddress:
    """The services/IPv6/port triple embedded in version (no timestamp)."""

    services: int = 0
    ip: bytes = bytes(10) + b"\xff\xff" + bytes(4)
    port: int = 0

    def encode(self) -> bytes:
        return self.services.to_bytes(8, "little") + self.ip + self.port.to_bytes(2, "big")

    @classmethod
    def read(cls, r: Reader) -> VersionAddress:
        return cls(r.u64(), r.take(16), r.u16be())


@dataclass(frozen=True, slots=True)
class Version(Message):
    command: ClassVar[str] = "version"
    max_payload: ClassVar[int] = 4 + 8 + 8 + 26 + 26 + 8 + 9 + MAX_SUBVERSION_LENGTH + 4 + 1

    version: int
    services: int
    timestamp: int
    addr_recv: VersionAddress
    addr_from: VersionAddress
    nonce: int
    user_agent: str
    start_height: int
    relay: bool = True

    def encode(self) -> bytes:
        ua = self.user_agent.encode()
        return b"".join((
            self.version.to_bytes(4, "little", signed=True),
            self.services.to_bytes(8, "little"),
            self.timestamp.to_bytes(8, "little", signed=True),
            self.addr_recv.encode(),
            self.addr_from.encode(),
            self.nonce.to_bytes(8, "little"),
            bytes((len(ua),)) if len(ua) < 0xFD else b"\xfd" + len(ua).to_bytes(2, "little"),
            ua,
            self.start_height.to_bytes(4, "little", signed=True),
            b"\x01" if self.relay else b"\x00",
        ))

    @classmethod
    def read(cls, r: Reader) -> Version:
        version, services, timestamp = r.i32(), r.u64(), r.i64()
        addr_recv, addr_from = VersionAddress.read(r), VersionAddress.read(r)
        nonce = r.u64()
        # Core treats the user agent as opaque bytes; keep it printable for logs.
        user_agent = r.var_bytes(MAX_SUBVERSION_LENGTH).decode("utf-8", "replace")
        start_height = r.i32()
        relay = True
        if r.left:  # the relay flag is optional (BIP37); older peers omit it
            relay = r.u8() != 0
        return cls(version, services, timestamp, addr_recv, addr_from, nonce, user_agent, start_height, relay)


class Verack(EmptyMessage):
    command: ClassVar[str] = "verack"


class WtxidRelay(EmptyMessage):
    """BIP339: announce transactions by wtxid (sent between version and verack)."""

    command: ClassVar[str] = "wtxidrelay"


class SendAddrV2(EmptyMessage):
    """BIP155: send addresses as addrv2 (sent between version and verack)."""

    command: ClassVar[str] = "sendaddrv2"
