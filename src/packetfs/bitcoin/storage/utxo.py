"""The UTXO set: coins in LMDB behind a write-back cache, flushed atomically (Core's CCoinsViewCache/DB).

On disk (one LMDB named database, ``coins`` by default)::

    key   = txid (32 bytes, internal order) || VARINT(vout)
    value = VARINT(height*2 + coinbase) || VARINT(CompressAmount(value)) || compressed script

which is Core's chainstate coin encoding (without Core's 'C' key prefix and without the obfuscation
xor). A second named database (``<name>_meta``) holds the best block hash and the coin count and total
amount; it is written in the same LMDB transaction as the coins, so all three always agree.

The cache is a dict ``key -> Coin | None`` (None: spent, to be deleted at the next flush) with two sets
beside it, as Core keeps flags per entry: DIRTY (differs from disk) and FRESH (not on disk at all). A
FRESH coin that is spent before the next flush is simply dropped, so it never costs a disk write.

``flush()`` writes every dirty entry, the meta values and whatever the caller's ``extra`` callback writes
(the block index) in ONE write transaction. LMDB commits by switching a meta page after the data pages
are written, so a process killed at any moment leaves either the previous or the new state on disk.

Not thread-safe: one UtxoSet is used by one thread at a time (lookups reuse one long-lived read
transaction; py-lmdb opens environments with MDB_NOTLS, so that transaction may move between threads,
but must never be used by two at once).
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import lmdb

from ..errors import PacketFSError, ParseError
from ..primitives.encoding import compact_size
from .compressor import (
    MAX_SCRIPT_SIZE,
    read_compressed_amount,
    read_compressed_script,
    write_compressed_amount,
    write_compressed_script,
)
from .undo import Coin
from .varint import UINT32_MAX, read_varint, varint

__all__ = [
    "VOUT_SUFFIX", "Coin", "UtxoError", "UtxoSet", "UtxoStats", "decode_coin", "decode_outpoint_key", "encode_coin_value",
    "is_unspendable", "open_env", "outpoint_key",
]  # fmt: skip

_OP_RETURN = 0x6A
_MAX_HEIGHT = UINT32_MAX >> 1
_MAX_MONEY_BITS = 63
_MONEY_LIMIT = 1 << _MAX_MONEY_BITS
_META_BEST = b"best_block"
_META_COUNT = b"coin_count"
_META_TOTAL = b"coin_total"
# Precomputed VARINT(vout) suffixes: a warm lookup then builds its key with one concatenation.
_SUFFIX_CACHE = 4096
_VOUT_SUFFIX: dict[int, bytes] = {i: varint(i) for i in range(_SUFFIX_CACHE)}
# For callers that build keys in bulk (the chainstate's spent-coin gather): vout -> VARINT(vout), for
# vout < 4096. Read only.
VOUT_SUFFIX = _VOUT_SUFFIX
_MISSING = object()
_POW10 = tuple(10**e for e in range(10))
_new_tuple = tuple.__new__
_COIN_HEAD = struct.Struct("<IIq")  # vout, height*2 + coinbase, value (Core's TxOutSer)
# Approximate CPython bytes per cache entry beyond the script: key object, Coin tuple, value int, script
# bytes header, dict slot and dirty/fresh set slots (~370 measured with tracemalloc on 3.11 for a fresh
# coin; a clean coin read from disk costs less). Tests check it within a factor of 2.
ENTRY_OVERHEAD = 360
SPENT_ENTRY_OVERHEAD = 160
# Growth step when a flush finds the map full: the map size is a reservation of address space, not disk.
_MAP_GROWTH = 2


class UtxoError(PacketFSError):
    """A UTXO set operation that cannot be done: spending a missing coin, overwriting one, bad keys, bad data."""


class UtxoStats(NamedTuple):
    count: int
    total_amount: int


def is_unspendable(script: bytes) -> bool:
    """Core's CScript::IsUnspendable: such outputs never enter the UTXO set."""
    return (len(script) > 0 and script[0] == _OP_RETURN) or len(script) > MAX_SCRIPT_SIZE


def outpoint_key(txid: bytes, vout: int) -> bytes:
    """The database key of an outpoint: txid || VARINT(vout)."""
    if len(txid) != 32:
        raise UtxoError(f"a txid is 32 bytes, got {len(txid)}")
    if not 0 <= vout <= UINT32_MAX:
        raise UtxoError(f"output index {vout} out of range [0, 2**32-1]")
    s = _VOUT_SUFFIX.get(vout)
    return bytes(txid) + (s if s is not None else varint(vout))


def decode_outpoint_key(key: bytes) -> tuple[bytes, int]:
    if len(key) < 33:
        raise ParseError(f"outpoint key of {len(key)} bytes", 0, "32-byte txid and a VARINT")
    vout, end = read_varint(key, 32, UINT32_MAX)
    if end != len(key):
        raise ParseError("bytes after the outpoint's VARINT", end, "end of key")
    return bytes(key[:32]), vout


def encode_coin_value(coin: Coin) -> bytes:
    """Core's chainstate coin encoding (no undo-format version dummy)."""
    height, coinbase, value, script = coin
    if not 0 <= height <= _MAX_HEIGHT:
        raise UtxoError(f"coin height {height} out of range")
    if not 0 <= value < (1 << _MAX_MONEY_BITS):
        raise UtxoError(f"coin value {value} out of range")
    return (
        varint(height * 2 + (1 if coinbase else 0))
        + write_compressed_amount(value)
        + write_compressed_script(script)
    )


def _decode_coin_checked(raw: bytes) -> Coin:
    code, pos = read_varint(raw, 0, UINT32_MAX)
    value, pos = read_compressed_amount(raw, pos)
    script, pos = read_compressed_script(raw, pos)
    if pos != len(raw):
        raise ParseError(f"{len(raw) - pos} bytes after the coin", pos, "end of coin")
    return Coin(code >> 1, bool(code & 1), value, script)


def decode_coin(raw: bytes) -> Coin:
    """Inverse of encode_coin_value; ParseError on truncated, oversized or trailing bytes.

    Every cold lookup decodes one coin, so the usual shapes (codes and amounts of at most 5 VARINT
    bytes, a P2PKH/P2SH special form or a plain script) are decoded inline; anything else, including
    every malformed input, goes through the checked readers of varint.py/compressor.py.
    """
    n = len(raw)
    try:
        b = raw[0]
        code = b & 0x7F
        pos = 1
        while b & 0x80:
            b = raw[pos]
            pos += 1
            code = ((code + 1) << 7) | (b & 0x7F)
        b = raw[pos]
        pos += 1
        x = b & 0x7F
        while b & 0x80:
            b = raw[pos]
            pos += 1
            x = ((x + 1) << 7) | (b & 0x7F)
        kind = raw[pos]
    except IndexError:
        return _decode_coin_checked(raw)  # raises the precise ParseError
    if pos > 11 or code > UINT32_MAX or x > 0xFFFFFFFFFFFF:
        return _decode_coin_checked(raw)
    if x:
        # Core's DecompressAmount, inlined.
        x -= 1
        e = x % 10
        x //= 10
        if e < 9:
            value = ((x // 9) * 10 + x % 9 + 1) * _POW10[e]
        else:
            value = (x + 1) * _POW10[e]
    else:
        value = 0
    pos += 1
    if kind == 0 and n == pos + 20:
        script = b"\x76\xa9\x14" + raw[pos:] + b"\x88\xac"
    elif kind == 1 and n == pos + 20:
        script = b"\xa9\x14" + raw[pos:] + b"\x87"
    elif 6 <= kind < 0x80 and n == pos + kind - 6:
        script = raw[pos:]
    else:
        return _decode_coin_checked(raw)
    # tuple.__new__ skips NamedTuple's Python-level __new__ (a third of the decode time).
    return _new_tuple(Coin, (code >> 1, code & 1 == 1, value, script))


def open_env(path: str, *, map_size: int = 1 << 30, max_dbs: int = 8, **kwargs: object) -> lmdb.Environment:
    """An LMDB environment as the UTXO set expects it: named databases allowed, durable commits.

    ``sync``/``metasync`` stay on (LMDB's defaults): a commit is on disk when flush() returns. A process
    crash cannot tear a commit either way; only an OS crash needs the fsync.
    """
    opts: dict[str, object] = {"map_size": map_size, "max_dbs": max_dbs, "subdir": True, "readahead": False}
    opts.update(kwargs)
    return lmdb.open(path, **opts)


def _decode_stored(key: bytes, raw: bytes) -> Coin:
    try:
        return decode_coin(raw)
    except ParseError as e:
        txid, vout = decode_outpoint_key(key)
        raise UtxoError(f"coin {txid[::-1].hex()}:{vout} is corrupt on disk: {e}") from e


def _entry_cost(coin: Coin | None) -> int:
    return SPENT_ENTRY_OVERHEAD if coin is None else ENTRY_OVERHEAD + len(coin.script_pubkey)


class UtxoSet:
    """Coins keyed by outpoint, cached in memory and flushed to LMDB atomically."""

    def __init__(
        self,
        env: lmdb.Environment,
        *,
        db_name: bytes = b"coins",
        cache_bytes: int = 256 << 20,
        snapshot: lmdb.Transaction | None = None,
    ):
        """``snapshot``: a read transaction of ``env`` that every read uses (a read-only view of one
        committed state, e.g. while another process writes the environment); such a set is not flushed."""
        if cache_bytes <= 0:
            raise ValueError("cache_bytes must be positive")
        self.env = env
        try:
            self._db = env.open_db(db_name)
            self._meta = env.open_db(db_name + b"_meta")
        except lmdb.DbsFullError as e:
            raise UtxoError("the LMDB environment needs max_dbs >= 2 for the UTXO set (see open_env)") from e
        self.cache_bytes = cache_bytes
        self._cache: dict[bytes, Coin | None] = {}
        self._dirty: set[bytes] = set()
        self._fresh: set[bytes] = set()
        # key -> (coin, its encoding made elsewhere): used by flush while the cached coin is that very object
        self._encoded: dict[bytes, tuple[Coin, bytes]] = {}
        self._usage = 0
        self._rtxn: lmdb.Transaction | None = None
        self._rget: Callable[[bytes], bytes | None] | None = None
        self._snapshot = snapshot
        if snapshot is not None:
            best = snapshot.get(_META_BEST, db=self._meta)
            count = snapshot.get(_META_COUNT, db=self._meta)
            total = snapshot.get(_META_TOTAL, db=self._meta)
        else:
            with env.begin(db=self._meta) as txn:
                best = txn.get(_META_BEST)
                count = txn.get(_META_COUNT)
                total = txn.get(_META_TOTAL)
        self._best_disk: bytes | None = best
        self._best: bytes | None = best
        self._count: int | None = int.from_bytes(count, "little") if count is not None else None
        self._total: int | None = int.from_bytes(total, "little") if total is not None else None

    # ------------------------------------------------------------------ reads
    def _reader(self) -> Callable[[bytes], bytes | None]:
        # One read transaction for all lookups until the next flush: beginning one per lookup would
        # cost more than the lookup itself.
        if self._rget is None:
            if self._snapshot is not None:
                snap, db = self._snapshot, self._db
                self._rget = lambda key: snap.get(key, db=db)
            else:
                self._rtxn = self.env.begin(db=self._db, buffers=False)
                self._rget = self._rtxn.get
        return self._rget

    def refresh(self) -> None:
        """Drop the read snapshot, so the next disk lookup sees the latest commit (done after each flush)."""
        if self._rtxn is not None:
            self._rtxn.abort()
        self._rtxn = None
        self._rget = None

    def _load(self, key: bytes) -> Coin | None:
        """Cache miss: read the coin from disk (and remember it, clean, if found)."""
        rget = self._rget if self._rget is not None else self._reader()
        raw = rget(key)
        if raw is None:
            return None
        coin = _decode_stored(key, raw)
        self._cache[key] = coin
        self._usage += ENTRY_OVERHEAD + len(coin.script_pubkey)
        return coin

    def get(self, txid: bytes, vout: int) -> Coin | None:
        """The unspent coin at (txid, vout), or None."""
        s = _VOUT_SUFFIX.get(vout)
        if s is None or len(txid) != 32:
            key = outpoint_key(txid, vout)
        else:
            key = txid + s
        c = self._cache.get(key, _MISSING)
        if c is not _MISSING:
            return c  # type: ignore[return-value]
        return self._load(key)

    def get_key(self, key: bytes) -> Coin | None:
        """``get`` by database key (``outpoint_key(txid, vout)``), for callers that built it already."""
        c = self._cache.get(key, _MISSING)
        if c is not _MISSING:
            return c  # type: ignore[return-value]
        return self._load(key)

    def have(self, txid: bytes, vout: int) -> bool:
        s = _VOUT_SUFFIX.get(vout)
        if s is None or len(txid) != 32:
            return self.get(txid, vout) is not None
        key = txid + s
        c = self._cache.get(key, _MISSING)
        if c is _MISSING:
            c = self._load(key)
        return c is not None

    def __contains__(self, outpoint: tuple[bytes, int]) -> bool:
        return self.get(*outpoint) is not None

    # ------------------------------------------------------------------ writes
    def _set(self, key: bytes, coin: Coin | None) -> None:
        old = self._cache.get(key, _MISSING)
        if old is not _MISSING:
            self._usage -= _entry_cost(old)  # type: ignore[arg-type]
        self._cache[key] = coin
        self._usage += _entry_cost(coin)

    def add(self, txid: bytes, vout: int, coin: Coin, *, overwrite: bool = False) -> None:
        """Add an unspent coin. Without ``overwrite``, an unspent coin already there is an error (Core's
        AddCoin logic_error). Unspendable scripts are ignored, as Core ignores them."""
        key = outpoint_key(txid, vout)
        height, coinbase, value, script = coin
        if not 0 <= height <= _MAX_HEIGHT:
            raise UtxoError(f"coin height {height} out of range")
        if not 0 <= value < (1 << _MAX_MONEY_BITS):
            raise UtxoError(f"coin value {value} out of range")
        if is_unspendable(script):
            return
        if not isinstance(coin, Coin) or not isinstance(script, bytes):
            coin = Coin(int(height), bool(coinbase), int(value), bytes(script))
        old = self._cache.get(key, _MISSING)
        if old is _MISSING:
            # Not cached: ask the disk. Core trusts the caller here and marks the coin FRESH blind; one
            # B-tree lookup per output is cheap next to validation, and it keeps a wrong caller from
            # leaving a stale coin on disk under a FRESH entry.
            rget = self._rget if self._rget is not None else self._reader()
            raw = rget(key)
            on_disk = None if raw is None else _decode_stored(key, raw)
            fresh = on_disk is None
            old = on_disk
        else:
            # A clean cached coin is on disk; a cached spent entry (None) is a pending delete of a coin
            # on disk (a FRESH coin is dropped outright when spent). Only FRESH entries stay FRESH.
            fresh = key in self._fresh
        if old is not None:
            if not overwrite:
                raise UtxoError(
                    f"coin {txid[::-1].hex()}:{vout} is unspent; adding it again needs overwrite=True"
                )
            self._count_delta(0, value - old.value)  # type: ignore[union-attr]
        else:
            self._count_delta(1, value)
        self._set(key, coin)
        self._dirty.add(key)
        if fresh:
            self._fresh.add(key)

    def load_new_coins(self, coins: Sequence[tuple[bytes, bytes, Coin]]) -> None:
        """Add many coins to a set that holds none (a new chainstate being given its whole UTXO set,
        as SwiftSync does at its height): (database key, encoded value, coin) each, key and encoding
        made elsewhere by ``outpoint_key`` and ``encode_coin_value`` (e.g. in worker processes; they are
        not made again here, so they must come from those functions). UtxoError if the set has any coin,
        on disk or cached, if a key repeats, or for a key, height or value out of range, an unspendable
        script or a coin that is not a Coin of bytes; the set is then unchanged. Nothing is looked up on disk per coin (there is
        nothing there), and flush writes the given encodings instead of making them again."""
        if any(c is not None for c in self._cache.values()):
            raise UtxoError("load_new_coins needs an empty UTXO set: coins are cached")
        with self.env.begin(db=self._db) as txn:
            if txn.stat(self._db)["entries"]:
                raise UtxoError("load_new_coins needs an empty UTXO set: coins are on disk")
        entries: dict[bytes, tuple[Coin, bytes]] = {}
        total = 0
        for key, value, coin in coins:
            height, coinbase, amount, script = coin
            if len(key) < 33 or not 0 <= height <= _MAX_HEIGHT or not 0 <= amount < (1 << _MAX_MONEY_BITS):
                raise UtxoError(f"coin {key[:32][::-1].hex()} has a bad key, height or value")
            if is_unspendable(script) or type(script) is not bytes or type(coin) is not Coin:
                raise UtxoError(f"coin {key[:32][::-1].hex()} is unspendable or not a Coin of bytes")
            if key in entries or key in self._cache:
                raise UtxoError(f"coin {key[:32][::-1].hex()} given twice")
            entries[key] = (coin, value)
            total += amount
        cache, dirty, fresh, made = self._cache, self._dirty, self._fresh, self._encoded
        usage = 0
        for key, entry in entries.items():
            coin = entry[0]
            cache[key] = coin
            usage += ENTRY_OVERHEAD + len(coin.script_pubkey)
        self._usage += usage
        dirty.update(entries)
        fresh.update(entries)
        made.update(entries)
        self._count_delta(len(entries), total)

    def spend(self, txid: bytes, vout: int) -> Coin:
        """Remove the unspent coin at (txid, vout) and return it; UtxoError if there is none."""
        return self.spend_key(outpoint_key(txid, vout))

    def spend_key(self, key: bytes) -> Coin:
        """``spend`` by database key (``outpoint_key(txid, vout)``)."""
        cache = self._cache
        coin = cache.get(key, _MISSING)
        if coin is _MISSING:
            coin = self._load(key)
        if coin is None:
            txid, vout = decode_outpoint_key(key)
            raise UtxoError(f"no unspent coin at {txid[::-1].hex()}:{vout}")
        if self._count is not None:
            self._count -= 1
            self._total -= coin.value  # type: ignore[union-attr,operator]
        fresh = self._fresh
        if key in fresh:
            # FRESH: the disk never saw it, so forgetting it is the whole spend.
            fresh.discard(key)
            self._dirty.discard(key)
            self._usage -= ENTRY_OVERHEAD + len(coin.script_pubkey)  # type: ignore[union-attr]
            del cache[key]
        else:
            # Was clean or dirty on disk (a cached None cannot reach here: it reads as missing above).
            cache[key] = None
            self._usage += SPENT_ENTRY_OVERHEAD - ENTRY_OVERHEAD - len(coin.script_pubkey)  # type: ignore[union-attr]
            self._dirty.add(key)
        return coin  # type: ignore[return-value]

    def add_tx_outputs(self, tx: object, height: int, coinbase: bool, *, absent: bool = False) -> int:
        """Add every spendable output of ``tx`` (a primitives Transaction); return how many were added.

        Like Core's AddCoins, a coinbase may overwrite (the duplicate coinbases of BIP30's two
        exceptions), other transactions may not. ``absent``: the caller has just asked this set
        (``get``/``have``, nothing flushed since) and none of these outputs exists, as a passed BIP30
        check tells; an output not in the cache is then known not to be on disk, so it is added
        FRESH without the disk lookup ``add`` would make."""
        txid = tx.txid  # type: ignore[attr-defined]
        added = 0
        if absent and len(txid) == 32 and 0 <= height <= _MAX_HEIGHT:
            cache = self._cache
            dirty_add = self._dirty.add
            fresh_add = self._fresh.add
            suffixes = _VOUT_SUFFIX
            coinbase = bool(coinbase)
            usage = 0
            total = 0
            fast = 0
            for vout, out in enumerate(tx.outputs):  # type: ignore[attr-defined]
                value = out.value
                script = out.script_pubkey
                s = suffixes.get(vout)
                if (
                    s is None
                    or not 0 <= value < _MONEY_LIMIT
                    or type(script) is not bytes
                    or txid + s in cache
                ):
                    # Unusual shapes and outputs the cache knows of take the general path.
                    if not is_unspendable(script):
                        self.add(txid, vout, Coin(height, coinbase, value, bytes(script)), overwrite=coinbase)
                        added += 1
                    continue
                n = len(script)
                if (n and script[0] == _OP_RETURN) or n > MAX_SCRIPT_SIZE:
                    continue
                key = txid + s
                cache[key] = _new_tuple(Coin, (height, coinbase, value, script))
                usage += ENTRY_OVERHEAD + n
                total += value
                dirty_add(key)
                fresh_add(key)
                fast += 1
            # Totals once per tx (the general path above keeps its own books as it goes).
            self._usage += usage
            if self._count is not None:
                self._count += fast
                self._total += total  # type: ignore[operator]
            return added + fast
        for vout, out in enumerate(tx.outputs):  # type: ignore[attr-defined]
            script = out.script_pubkey
            if is_unspendable(script):
                continue
            self.add(txid, vout, Coin(height, coinbase, out.value, bytes(script)), overwrite=coinbase)
            added += 1
        return added

    def _count_delta(self, dn: int, dv: int) -> None:
        if self._count is not None:
            self._count += dn
            self._total += dv  # type: ignore[operator]

    # ------------------------------------------------------------------ best block
    @property
    def best_block(self) -> bytes | None:
        """Hash of the block the set reflects (pending until the next flush), or None for an empty set."""
        return self._best

    @best_block.setter
    def best_block(self, value: bytes | None) -> None:
        if value is not None and len(value) != 32:
            raise UtxoError("a block hash is 32 bytes")
        self._best = None if value is None else bytes(value)

    @property
    def best_block_on_disk(self) -> bytes | None:
        return self._best_disk

    # ------------------------------------------------------------------ flushing
    def cache_usage(self) -> int:
        """Approximate bytes of memory the cache holds."""
        return self._usage

    def should_flush(self) -> bool:
        return self._usage > self.cache_bytes

    @property
    def dirty_count(self) -> int:
        return len(self._dirty)

    def flush(
        self, extra: Callable[[lmdb.Transaction], None] | None = None, *, keep_cache: bool | None = None
    ) -> int:
        """Write every dirty entry, the best block, the coin stats and ``extra``'s writes in one transaction.

        Returns the number of entries written. If anything fails (``extra`` raises, the disk is full) the
        transaction is aborted and the cache is left as it was, still dirty. ``extra`` may run more than
        once: if the LMDB map is full, the map is grown and the whole transaction redone. ``keep_cache``: keep clean
        entries in memory afterwards (default: keep them unless the cache is over its budget).
        """
        if self._snapshot is not None:
            raise UtxoError("a UTXO set opened on a read snapshot cannot be flushed")
        dirty = self._dirty
        cache = self._cache
        encoded: list[tuple[bytes, bytes | None]] = []
        made = self._encoded
        for key in dirty:
            coin = cache[key]
            if coin is None:
                encoded.append((key, None))
                continue
            m = made.get(key)
            encoded.append((key, m[1] if m is not None and m[0] is coin else encode_coin_value(coin)))
        # Sorted keys make the B-tree writes sequential: fewer page touches per commit.
        encoded.sort(key=lambda kv: kv[0])
        count = self._count
        if count is None:
            count, total = self._scan_stats()
            self._count, self._total = count, total
        self.refresh()
        while True:
            try:
                self._write(encoded, extra)
                break
            except lmdb.MapFullError:
                # The map is only a reservation; grow it (possible only with no transaction open in
                # this process) and redo the whole transaction.
                try:
                    self.env.set_mapsize(self.env.info()["map_size"] * _MAP_GROWTH)
                except lmdb.Error as e:
                    raise UtxoError(f"LMDB map is full and could not be grown: {e}") from e
        self._best_disk = self._best
        for key in dirty:
            if cache[key] is None:
                del cache[key]
                self._usage -= SPENT_ENTRY_OVERHEAD
        dirty.clear()
        self._fresh.clear()
        made.clear()
        if keep_cache is None:
            keep_cache = self._usage <= self.cache_bytes
        if not keep_cache:
            cache.clear()
            self._usage = 0
        return len(encoded)

    def _write(
        self, encoded: list[tuple[bytes, bytes | None]], extra: Callable[[lmdb.Transaction], None] | None
    ) -> None:
        db = self._db
        with self.env.begin(write=True) as txn:
            cur = txn.cursor(db)
            for key, value in encoded:
                if value is None:
                    if cur.set_key(key):
                        cur.delete()
                else:
                    cur.put(key, value)
            meta = self._meta
            if self._best is None:
                txn.delete(_META_BEST, db=meta)
            else:
                txn.put(_META_BEST, self._best, db=meta)
            txn.put(_META_COUNT, self._count.to_bytes(8, "little"), db=meta)  # type: ignore[union-attr]
            txn.put(_META_TOTAL, self._total.to_bytes(16, "little"), db=meta)  # type: ignore[union-attr]
            if extra is not None:
                extra(txn)

    # ------------------------------------------------------------------ whole-set views
    def _read_txn(self) -> contextlib.AbstractContextManager[lmdb.Transaction]:
        if self._snapshot is not None:
            return contextlib.nullcontext(self._snapshot)
        return self.env.begin(db=self._db, buffers=False)

    def items(self) -> Iterator[tuple[bytes, Coin]]:
        """Every unspent coin as (database key, coin) in key order, pending changes included: the disk
        cursor merged with the cache's new coins, cached spends and changes overlaid."""
        dirty = self._dirty
        cache = self._cache
        db = self._db

        def from_disk() -> Iterator[tuple[bytes, Coin]]:
            with self._read_txn() as txn:
                for key, raw in txn.cursor(db=db):
                    if key in dirty:
                        continue
                    yield key, _decode_stored(key, raw)

        pending = sorted((k, cache[k]) for k in dirty)
        for key, coin in heapq.merge(from_disk(), pending, key=lambda kv: kv[0]):
            if coin is not None:
                yield key, coin

    def __iter__(self) -> Iterator[tuple[bytes, int, Coin]]:
        """Every unspent coin as (txid, vout, coin), in database key order, pending changes included."""
        for key, coin in self.items():
            txid, vout = decode_outpoint_key(key)
            yield txid, vout, coin

    def digest(self) -> bytes:
        """A hash of the whole UTXO set, as Core's ``gettxoutsetinfo`` hash_serialized_3 builds it:
        sha256d over, for each coin in outpoint order (txid bytes, then vout as a number),
        txid || uint32 vout || uint32 (height*2 + coinbase) || int64 value || CompactSize(len(script))
        || script, all little-endian. Returned in hash byte order (display it reversed, as Core
        does). Pending changes are included. See docs/utxo-digest.md."""
        h = hashlib.sha256()
        update = h.update
        pack = _COIN_HEAD.pack
        group: list[tuple[int, Coin]] = []
        group_txid = b""

        def emit() -> None:
            # Database keys order vouts by their VARINT bytes, which is not numeric order past 16511.
            if len(group) > 1:
                group.sort(key=lambda vc: vc[0])
            for vout, (height, coinbase, value, script) in group:
                update(group_txid)
                update(pack(vout, height * 2 + (1 if coinbase else 0), value))
                update(compact_size(len(script)))
                update(script)
            group.clear()

        for key, coin in self.items():
            txid = key[:32]
            if txid != group_txid:
                emit()
                group_txid = txid
            group.append((read_varint(key, 32, UINT32_MAX)[0], coin))
        emit()
        return hashlib.sha256(h.digest()).digest()

    def _scan_stats(self) -> tuple[int, int]:
        n = 0
        total = 0
        for _, _, coin in self:
            n += 1
            total += coin.value
        return n, total

    def stats(self, *, scan: bool = False) -> UtxoStats:
        """(count, total amount) of unspent coins, pending changes included.

        Kept incrementally and stored with each flush; ``scan=True`` recomputes by reading every coin."""
        if scan or self._count is None:
            count, total = self._scan_stats()
            if self._count is None:
                self._count, self._total = count, total
            return UtxoStats(count, total)
        return UtxoStats(self._count, self._total)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.stats().count

    def disk_count(self) -> int:
        """Entries in the LMDB database now (flushed state only)."""
        with self._read_txn() as txn:
            return txn.stat(self._db)["entries"]

    def close(self) -> None:
        """Release the read snapshot (does not flush; the environment stays open: the caller owns it)."""
        self.refresh()
