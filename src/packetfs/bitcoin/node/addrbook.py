"""The address book and the ban list, both kept in the datadir across restarts.

``peers.json`` holds addresses learned from addr/addrv2 and from successful connections (bounded: the
oldest-seen entries are evicted past ``max_entries``). ``banlist.json`` holds bans and discouragements
(Core keeps discouragement in memory only; we persist it with its expiry so a restart does not forgive a
peer that just sent us garbage). Files are written atomically (temp file + rename).
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..net.addr import NetAddress

DISCOURAGE_SECONDS = 24 * 3600
DEFAULT_BAN_SECONDS = 24 * 3600


def _atomic_write(path: Path, data: object) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _read_json(path: Path) -> object | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        # A torn or foreign file is not worth refusing to start over: start empty, keep a copy.
        try:
            os.replace(path, path.with_suffix(path.suffix + ".corrupt"))
        except OSError:
            pass
        return None


@dataclass
class AddressEntry:
    network: int
    addr: str  # hex
    port: int
    services: int
    time: int
    attempts: int = 0
    last_try: float = 0.0
    last_success: float = 0.0

    @property
    def net_address(self) -> NetAddress:
        return NetAddress(self.network, bytes.fromhex(self.addr), self.port, self.services, self.time)


class AddressBook:
    def __init__(self, path: Path, max_entries: int = 20_000):
        self.path = path
        self.max_entries = max_entries
        self.entries: dict[str, AddressEntry] = {}
        data = _read_json(path)
        if isinstance(data, list):
            for row in data:
                try:
                    e = AddressEntry(**row)
                    self.entries[e.net_address.key] = e
                except (TypeError, ValueError):
                    continue
        self.dirty = False

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, addresses: list[NetAddress] | tuple[NetAddress, ...], now: int | None = None) -> int:
        """Learn addresses (as relayed); returns how many were new. Times in the future are clamped."""
        now = int(time.time()) if now is None else now
        added = 0
        for a in addresses:
            if a.port == 0 or a.host is None:
                continue
            key = a.key
            t = min(a.time, now) if a.time else now - 5 * 24 * 3600
            e = self.entries.get(key)
            if e is None:
                self.entries[key] = AddressEntry(a.network, a.addr.hex(), a.port, a.services, t)
                added += 1
            elif t > e.time:
                e.time, e.services = t, a.services
        if added:
            self._evict()
        self.dirty = self.dirty or added > 0
        return added

    def _evict(self) -> None:
        over = len(self.entries) - self.max_entries
        if over > 0:
            for key, _ in sorted(self.entries.items(), key=lambda kv: kv[1].time)[:over]:
                del self.entries[key]

    def attempt(self, a: NetAddress) -> None:
        e = self.entries.get(a.key)
        if e is not None:
            e.attempts += 1
            e.last_try = time.time()
            self.dirty = True

    def good(self, a: NetAddress) -> None:
        """A connection to it completed its handshake."""
        self.add([a])
        e = self.entries[a.key] if a.key in self.entries else None
        if e is not None:
            e.attempts = 0
            e.last_success = e.time = int(time.time())
            self.dirty = True

    def select(self, exclude: set[str], is_banned: callable) -> NetAddress | None:  # type: ignore[valid-type]
        """A random dialable address, preferring ones not tried recently and with few failures."""
        now = time.time()
        pool = [e for k, e in self.entries.items()
                if k not in exclude and not is_banned(e.net_address.host) and now - e.last_try > 60 * min(
                    2 ** e.attempts, 64)]
        if not pool:
            return None
        weights = [1.0 / (1 + e.attempts) for e in pool]
        return random.choices(pool, weights)[0].net_address

    def sample(self, n: int) -> list[NetAddress]:
        entries = list(self.entries.values())
        return [e.net_address for e in random.sample(entries, min(n, len(entries)))]

    def save(self) -> None:
        if self.dirty:
            _atomic_write(self.path, [asdict(e) for e in self.entries.values()])
            self.dirty = False


@dataclass
class BanEntry:
    until: float
    reason: str
    kind: str  # "ban" (manual) or "discouraged" (misbehaviour)


class BanList:
    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, BanEntry] = {}
        data = _read_json(path)
        if isinstance(data, dict):
            for host, row in data.items():
                try:
                    self.entries[host] = BanEntry(**row)
                except TypeError:
                    continue

    def ban(self, host: str, seconds: float = DEFAULT_BAN_SECONDS, reason: str = "manual") -> None:
        self.entries[host] = BanEntry(time.time() + seconds, reason, "ban")
        self.save()

    def discourage(self, host: str, reason: str) -> None:
        self.entries[host] = BanEntry(time.time() + DISCOURAGE_SECONDS, reason, "discouraged")
        self.save()

    def is_banned(self, host: str | None) -> bool:
        if host is None:
            return False
        e = self.entries.get(host)
        if e is None:
            return False
        if e.until < time.time():
            del self.entries[host]
            self.save()
            return False
        return True

    def save(self) -> None:
        _atomic_write(self.path, {h: asdict(e) for h, e in self.entries.items()})
