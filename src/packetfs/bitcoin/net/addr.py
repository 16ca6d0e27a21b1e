"""Address relay: getaddr, addr (v1, IPv6-mapped) and addrv2 (BIP155), at most 1000 entries each."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import ClassVar

from .limits import MAX_ADDR_TO_SEND, MAX_ADDRV2_SIZE
from .message import EmptyMessage, Message
from .reader import Reader

IPV4_MAPPED_PREFIX = bytes(10) + b"\xff\xff"

# BIP155 network ids and their fixed address lengths.
NET_IPV4, NET_IPV6, NET_TORV2, NET_TORV3, NET_I2P, NET_CJDNS = 1, 2, 3, 4, 5, 6
ADDRV2_LENGTHS = {NET_IPV4: 4, NET_IPV6: 16, NET_TORV2: 10, NET_TORV3: 32, NET_I2P: 32, NET_CJDNS: 16}


@dataclass(frozen=True, slots=True)
class NetAddress:
    """One address as the node keeps it: a BIP155 network id with its raw bytes, port, services, last seen."""

    network: int
    addr: bytes
    port: int
    services: int = 0
    time: int = 0

    @classmethod
    def from_host(cls, host: str, port: int, services: int = 0, time: int = 0) -> NetAddress:
        ip = ipaddress.ip_address(host)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if isinstance(ip, ipaddress.IPv4Address):
            return cls(NET_IPV4, ip.packed, port, services, time)
        return cls(NET_IPV6, ip.packed, port, services, time)

    @property
    def host(self) -> str | None:
        """A dialable IP literal, or None for networks we cannot reach (Tor, I2P, CJDNS)."""
        if self.network == NET_IPV4:
            return str(ipaddress.IPv4Address(self.addr))
        if self.network == NET_IPV6:
            return str(ipaddress.IPv6Address(self.addr))
        return None

    @property
    def key(self) -> str:
        return f"{self.network}:{self.addr.hex()}:{self.port}"

    def ipv6_bytes(self) -> bytes | None:
        """The 16-byte v1 form (IPv4 mapped into IPv6), or None if this network has none."""
        if self.network == NET_IPV4:
            return IPV4_MAPPED_PREFIX + self.addr
        if self.network == NET_IPV6:
            return self.addr
        return None

    @classmethod
    def from_ipv6_bytes(cls, ip16: bytes, port: int, services: int, time: int) -> NetAddress:
        if ip16[:12] == IPV4_MAPPED_PREFIX:
            return cls(NET_IPV4, ip16[12:], port, services, time)
        return cls(NET_IPV6, ip16, port, services, time)


class GetAddr(EmptyMessage):
    command: ClassVar[str] = "getaddr"


@dataclass(frozen=True, slots=True)
class Addr(Message):
    command: ClassVar[str] = "addr"
    max_payload: ClassVar[int] = 3 + MAX_ADDR_TO_SEND * 30
    addresses: tuple[NetAddress, ...]

    def encode(self) -> bytes:
        from ..primitives.encoding import compact_size

        parts = [compact_size(len(self.addresses))]
        for a in self.addresses:
            ip16 = a.ipv6_bytes()
            if ip16 is None:
                raise ValueError("addr (v1) carries only IPv4/IPv6 addresses; use addrv2")
            parts.append(a.time.to_bytes(4, "little") + a.services.to_bytes(8, "little") + ip16
                         + a.port.to_bytes(2, "big"))
        return b"".join(parts)

    @classmethod
    def read(cls, r: Reader) -> Addr:
        n = r.count(MAX_ADDR_TO_SEND, 30)
        out = []
        for _ in range(n):
            time, services, ip16, port = r.u32(), r.u64(), r.take(16), r.u16be()
            out.append(NetAddress.from_ipv6_bytes(ip16, port, services, time))
        return cls(tuple(out))


@dataclass(frozen=True, slots=True)
class AddrV2(Message):
    command: ClassVar[str] = "addrv2"
    max_payload: ClassVar[int] = 3 + MAX_ADDR_TO_SEND * (4 + 9 + 1 + 3 + MAX_ADDRV2_SIZE + 2)
    addresses: tuple[NetAddress, ...]

    def encode(self) -> bytes:
        from ..primitives.encoding import compact_size

        parts = [compact_size(len(self.addresses))]
        for a in self.addresses:
            parts.append(a.time.to_bytes(4, "little") + compact_size(a.services) + bytes((a.network,))
                         + compact_size(len(a.addr)) + a.addr + a.port.to_bytes(2, "big"))
        return b"".join(parts)

    @classmethod
    def read(cls, r: Reader) -> AddrV2:
        n = r.count(MAX_ADDR_TO_SEND, 9)
        out = []
        for _ in range(n):
            time = r.u32()
            services = r.compact()
            network = r.u8()
            addr = r.var_bytes(MAX_ADDRV2_SIZE)
            want = ADDRV2_LENGTHS.get(network)
            if want is not None and len(addr) != want:
                raise r.fail(f"network {network} address of {len(addr)} bytes", f"{want} bytes")
            out.append(NetAddress(network, addr, r.u16be(), services, time))
        return cls(tuple(out))
