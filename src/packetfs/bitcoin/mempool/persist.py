"""mempool.dat: the pool saved at shutdown and re-checked at start (Core's format version 1:
uint64 version, uint64 count, then per tx: the tx with witness, int64 time, int64 fee delta;
then the fee deltas of transactions not in the pool; then the unbroadcast set).

Loading feeds every saved tx through the full acceptance checks against the current chain, so a
file from another chain, a stale file or a tampered one can only add valid transactions.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import PacketFSError, ParseError
from ..primitives.encoding import compact_size, read_compact_size
from ..primitives.transaction import Transaction
from .pool import Mempool

MEMPOOL_DUMP_VERSION = 1
_MIN_TX_BYTES = 10
_MAX_FILE_BYTES = 2 << 30


class MempoolFileError(PacketFSError):
    """mempool.dat is unreadable: wrong version, truncated, or a count larger than the file."""


@dataclass
class LoadStats:
    accepted: int = 0
    failed: int = 0
    expired: int = 0
    already_there: int = 0


def dump_mempool(mempool: Mempool, path: str | Path) -> int:
    """Write the pool to ``path`` atomically (temp file, fsync, rename); returns the tx count."""
    path = Path(path)
    entries = sorted(mempool.entries.values(), key=lambda e: (e.anc_count, e.sequence))  # parents first
    parts = [struct.pack("<QQ", MEMPOOL_DUMP_VERSION, len(entries))]
    in_pool = set()
    for e in entries:
        parts.append(e.tx.serialize())
        parts.append(struct.pack("<qq", e.time, e.delta))
        in_pool.add(e.txid)
    others = {t: d for t, d in mempool.deltas.items() if t not in in_pool}
    parts.append(compact_size(len(others)))
    for t, d in sorted(others.items()):
        parts.append(t + struct.pack("<q", d))
    parts.append(compact_size(0))  # unbroadcast set: we keep none
    tmp = path.with_name(path.name + ".new")
    with open(tmp, "wb") as f:
        f.write(b"".join(parts))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return len(entries)


def read_mempool_file(data: bytes) -> tuple[list[tuple[Transaction, int, int]], dict[bytes, int]]:
    """Parse mempool.dat bytes: ([(tx, time, fee delta)], {txid: delta}). Raises MempoolFileError."""
    n = len(data)
    if n < 16:
        raise MempoolFileError("mempool file is truncated (no header)")
    version, count = struct.unpack_from("<QQ", data, 0)
    if version != MEMPOOL_DUMP_VERSION:
        raise MempoolFileError(f"mempool file has version {version}, expected {MEMPOOL_DUMP_VERSION}")
    if count * (_MIN_TX_BYTES + 16) > n - 16:
        raise MempoolFileError(f"mempool file claims {count} transactions, more than its {n} bytes can hold")
    off = 16
    txs = []
    try:
        for _ in range(count):
            tx = Transaction.parse(data, off)
            off += tx.size
            if off + 16 > n:
                raise MempoolFileError("mempool file is truncated")
            t, d = struct.unpack_from("<qq", data, off)
            off += 16
            txs.append((tx, t, d))
        k, off = read_compact_size(data, off)
        if k * 40 > n - off:
            raise MempoolFileError("mempool file's fee delta count is larger than the file")
        deltas = {}
        for _ in range(k):
            deltas[bytes(data[off : off + 32])] = struct.unpack_from("<q", data, off + 32)[0]
            off += 40
        k, off = read_compact_size(data, off)
        if k * 32 > n - off:
            raise MempoolFileError("mempool file's unbroadcast count is larger than the file")
        off += 32 * k
    except ParseError as e:
        raise MempoolFileError(f"mempool file is corrupt: {e}") from None
    except struct.error:
        raise MempoolFileError("mempool file is truncated") from None
    if off != n:
        raise MempoolFileError(f"mempool file has {n - off} bytes of trailing data")
    return txs, deltas


def load_mempool(mempool: Mempool, path: str | Path) -> LoadStats:
    """Re-accept the saved transactions (expired ones are skipped); a missing file loads nothing."""
    path = Path(path)
    stats = LoadStats()
    if not path.exists():
        return stats
    if path.stat().st_size > _MAX_FILE_BYTES:
        raise MempoolFileError(f"{path} is larger than {_MAX_FILE_BYTES} bytes")
    txs, deltas = read_mempool_file(path.read_bytes())
    cutoff = int(mempool.now()) - mempool.opts.expiry_seconds
    for txid, d in deltas.items():
        mempool.prioritise(txid, d)
    for tx, t, d in txs:
        if d:
            mempool.prioritise(tx.txid, d)
        if t < cutoff:
            stats.expired += 1
            continue
        r = mempool.accept(tx, accept_time=t)
        if r.accepted:
            stats.accepted += 1
        elif r.reason == "txn-already-in-mempool":
            stats.already_there += 1
        else:
            stats.failed += 1
    return stats
