"""The block store: blocks and their undo data in append-only, checksummed files.

Like Core's blk/rev files, records are appended to numbered files of bounded size (``blk00000.pfs``,
``rev00000.pfs``, ... — not Core's names, so nothing mistakes them for a Core blocks directory). A
record is found again by its location (file number, offset, size), which the chainstate keeps in its
block index. Blocks are stored through the PacketFS codec when it is available (chain-context mode when
the store has a context, isolated mode otherwise) and raw as a fallback; the mode is recorded per
record, so a store may mix them.

Block record (all integers little-endian)::

    0   magic        b"PFB1"
    4   mode         0 raw | 1 codec, isolated | 2 codec, chain context
    5   reserved     3 zero bytes
    8   payload size uint32
    12  raw size     uint32 (the block as serialized on the wire)
    16  block hash   32 bytes (internal order)
    48  raw digest   sha256(block)[:16]: checks what the codec gives back, context lookups included
    64  payload
    ..  checksum     sha256(bytes 0..end of payload)[:16]

Undo record::

    0   magic        b"PFU1"
    4   mode         0 raw (CBlockUndo bytes as Core writes them)
    5   reserved     3 zero bytes
    8   payload size uint32
    12  raw size     uint32
    16  block hash   32 bytes: the block this undo data belongs to
    48  prev hash    32 bytes: its parent (Core's rev-file checksum commits to it)
    80  payload
    ..  checksum     sha256(bytes 0..end of payload)[:16]

Every read verifies the checksum before it decodes anything, so a flipped bit gives a BlockStoreError
naming the record, never a wrong block. Durability: ``sync()`` fsyncs everything appended so far; the
chainstate calls it before it flushes the UTXO set and block index, so the index never points at data
that is not on disk. A crash can leave a torn record at the end of a file: it is never referenced, and
on reopening, appends go to a new file so nothing already written is touched.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import brotli

from ..errors import PacketFSError
from ..primitives.hashes import sha256d
from .blockfiles import MAX_BLOCKFILE_SIZE, BlockPos, network_magic, write_blocks_dir

__all__ = [
    "MODE_CODEC_CONTEXT", "MODE_CODEC_ISOLATED", "MODE_NAMES", "MODE_RAW", "BlockLocation", "BlockStore",
    "BlockStoreError", "UndoLocation", "encode_block_payload", "measure_ratios",
]  # fmt: skip

MODE_RAW = 0
MODE_CODEC_ISOLATED = 1
MODE_CODEC_CONTEXT = 2
MODE_NAMES = {MODE_RAW: "raw", MODE_CODEC_ISOLATED: "codec-isolated", MODE_CODEC_CONTEXT: "codec-context"}

BLOCK_MAGIC = b"PFB1"
UNDO_MAGIC = b"PFU1"
BLOCK_HEADER_SIZE = 64
UNDO_HEADER_SIZE = 80
CHECKSUM_SIZE = 16
# A serialized block is at most 4,000,000 bytes (MAX_BLOCK_SERIALIZED_SIZE); a codec payload may be a
# little larger than the block in the worst case. Undo data has no consensus bound of its own: 256 MiB
# is far above anything a real block can spend, and bounds what a corrupt size field can make us read.
MAX_BLOCK_RAW = 4_000_000
MAX_BLOCK_PAYLOAD = 8_000_000
MAX_UNDO_PAYLOAD = 256 << 20
DEFAULT_MAX_FILE_SIZE = MAX_BLOCKFILE_SIZE
_FILE_RE = re.compile(r"^(blk|rev)(\d{5,})\.pfs$")


class BlockStoreError(PacketFSError):
    """A block store record that cannot be read back exactly (corrupt, truncated, missing), or a bad call."""


class BlockLocation(NamedTuple):
    """Where a block record lives: file number, offset of the record, record size in bytes."""

    file: int
    offset: int
    size: int


class UndoLocation(NamedTuple):
    """Where an undo record lives: file number, offset of the record, record size in bytes."""

    file: int
    offset: int
    size: int


class UndoRecord(NamedTuple):
    block_hash: bytes
    prev_hash: bytes
    undo_raw: bytes


def _digest(data: bytes | memoryview) -> bytes:
    # sha256 runs on the CPU's SHA extensions here (~1 GB/s), faster than blake2b in CPython.
    return hashlib.sha256(data).digest()[:CHECKSUM_SIZE]


def _load_codec() -> tuple[Callable[..., bytes], Callable[..., bytes]] | None:
    try:
        from ..codec import decode_block, encode_block  # type: ignore[attr-defined]
    except ImportError:
        return None
    return encode_block, decode_block


def encode_block_payload(raw: bytes, context: Any = None) -> tuple[int, bytes, str | None]:
    """(mode, payload, fallback reason) of a block record: the codec's encoding (chain-context mode if
    ``context`` is given), or the raw block where the codec refuses it or does not make it smaller.

    A pure function of the block and the context's answers, so it may run in another process with a
    context that answers the same lookups (the chainstate ships a snapshot of its tx index). The codec
    decodes its own output and compares before returning it, so a payload returned here is exact.
    """
    codec = _load_codec()
    if codec is None:
        return MODE_RAW, raw, None
    try:
        payload = codec[0](raw, context)
    except PacketFSError as e:
        # The codec refuses what it cannot encode exactly (it never guesses); keep the block raw.
        return MODE_RAW, raw, str(e)
    if len(payload) > MAX_BLOCK_PAYLOAD or len(payload) >= len(raw):
        return MODE_RAW, raw, None  # the codec did not help: raw is smaller and needs no context
    return (MODE_CODEC_CONTEXT if context is not None else MODE_CODEC_ISOLATED), payload, None


class _Kind:
    """One family of numbered files (blk or rev): the file being appended to and read handles."""

    def __init__(self, directory: Path, prefix: str, magic: bytes, header_size: int, max_file_size: int):
        self.dir = directory
        self.prefix = prefix
        self.magic = magic
        self.header_size = header_size
        self.max_file_size = max_file_size
        self.read_fds: dict[int, int] = {}
        self.write_fd: int | None = None
        self.unsynced: set[int] = set()
        self.new_file = False  # a file was created since the last sync: the directory needs an fsync too
        numbers = sorted(
            int(m.group(2))
            for e in (directory.iterdir() if directory.is_dir() else ())
            if (m := _FILE_RE.match(e.name)) and m.group(1) == prefix
        )
        self.numbers = numbers
        if not numbers:
            self.current, self.size = 0, 0
        else:
            last = numbers[-1]
            self.current, self.size = last, self.path(last).stat().st_size
            if not self._clean_tail(last):
                # A torn record from a crash ends this file: leave it as it is (no record it holds is
                # referenced by a durable index, but nothing before it is touched either) and move on.
                self.current, self.size = last + 1, 0

    def path(self, n: int) -> Path:
        return self.dir / f"{self.prefix}{n:05d}.pfs"

    def name(self, n: int) -> str:
        return f"{self.prefix}{n:05d}.pfs"

    def _clean_tail(self, n: int) -> bool:
        """True if file ``n`` is a whole number of well-formed records (the last one checksummed)."""
        last = None
        for off, size, ok in self.scan(n):
            if not ok:
                return False
            last = (off, size)
        if last is None:
            return True
        raw = self.pread(n, last[0], last[1])
        return _digest(memoryview(raw)[: last[1] - CHECKSUM_SIZE]) == raw[-CHECKSUM_SIZE:]

    def scan(self, n: int) -> Iterator[tuple[int, int, bool]]:
        """(offset, size, header well-formed) for each record of file ``n``, hopping header to header."""
        size = self.path(n).stat().st_size
        pos = 0
        while pos < size:
            hdr = self.pread(n, pos, min(self.header_size, size - pos))
            if len(hdr) < self.header_size or hdr[:4] != self.magic:
                yield pos, size - pos, False
                return
            payload = int.from_bytes(hdr[8:12], "little")
            total = self.header_size + payload + CHECKSUM_SIZE
            if pos + total > size:
                yield pos, size - pos, False
                return
            yield pos, total, True
            pos += total

    def fd(self, n: int) -> int:
        fd = self.read_fds.get(n)
        if fd is None:
            try:
                fd = os.open(self.path(n), os.O_RDONLY)
            except FileNotFoundError:
                raise BlockStoreError(f"{self.name(n)}: no such file in {self.dir}") from None
            self.read_fds[n] = fd
        return fd

    def pread(self, n: int, offset: int, size: int) -> bytes:
        return os.pread(self.fd(n), size, offset)

    def file_size(self, n: int) -> int:
        return os.fstat(self.fd(n)).st_size

    def append(self, record: bytes) -> tuple[int, int]:
        if self.size and self.size + len(record) > self.max_file_size:
            self.close_writer()
            self.current += 1
            self.size = 0
        if self.write_fd is None:
            if self.current not in self.numbers:
                self.numbers.append(self.current)
                self.new_file = True
            self.write_fd = os.open(self.path(self.current), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        offset = self.size
        view = memoryview(record)
        while view:
            written = os.write(self.write_fd, view)
            view = view[written:]
        self.size += len(record)
        self.unsynced.add(self.current)
        return self.current, offset

    def sync(self) -> bool:
        """fsync every file appended to since the last sync; True if any was."""
        if not self.unsynced:
            return False
        for n in sorted(self.unsynced):
            if n == self.current and self.write_fd is not None:
                os.fsync(self.write_fd)
            else:
                fd = os.open(self.path(n), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        self.unsynced.clear()
        return True

    def close_writer(self) -> None:
        if self.write_fd is not None:
            if self.current in self.unsynced:
                os.fsync(self.write_fd)
                self.unsynced.discard(self.current)
            os.close(self.write_fd)
            self.write_fd = None

    def close(self) -> None:
        self.close_writer()
        for fd in self.read_fds.values():
            os.close(fd)
        self.read_fds.clear()

    def disk_bytes(self) -> int:
        return sum(self.path(n).stat().st_size for n in self.numbers if self.path(n).exists())

    def truncate_after(self, file: int, end: int) -> int:
        """Drop every byte after offset ``end`` of file ``file`` and every later file; appends go on
        at that point. Returns the bytes removed."""
        self.close()
        removed = 0
        for n in [n for n in self.numbers if n > file]:
            path = self.path(n)
            if path.exists():
                removed += path.stat().st_size
                path.unlink()
            self.numbers.remove(n)
        path = self.path(file)
        size = path.stat().st_size if path.exists() else 0
        if size > end:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.ftruncate(fd, end)
                os.fsync(fd)
            finally:
                os.close(fd)
            removed += size - end
        if removed:
            _fsync_dir(self.dir)
        self.current, self.size = file, min(size, end)
        return removed


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlockStore:
    """Append-only block and undo storage; see the module docstring for the record layouts.

    ``mode``: "codec" stores blocks through the PacketFS codec (chain-context mode if ``codec_context``
    is given, isolated otherwise), falling back to raw for a block the codec refuses or when the codec
    is not installed; "raw" stores every block as is. Reading a chain-context record needs a context
    that answers the lookups it was written with (the chainstate's tx index).
    """

    block_location = BlockLocation
    undo_location = UndoLocation

    def __init__(
        self,
        directory: str | Path,
        *,
        network: str,
        mode: str = "codec",
        codec_context: Any = None,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        readonly: bool = False,
    ):
        """``readonly``: only read (the directory is not created; a missing one reads as empty)."""
        if mode not in ("codec", "raw"):
            raise ValueError(f"mode must be 'codec' or 'raw', not {mode!r}")
        if max_file_size < 1 << 16:
            raise ValueError("max_file_size below 64 KiB")
        self.network = network
        self.magic = network_magic(network)
        self.mode = mode
        self.codec_context = codec_context
        self.dir = Path(directory)
        if not readonly:
            self.dir.mkdir(parents=True, exist_ok=True)
        self._codec = _load_codec() if mode == "codec" else None
        self._blk = _Kind(self.dir, "blk", BLOCK_MAGIC, BLOCK_HEADER_SIZE, max_file_size)
        self._rev = _Kind(self.dir, "rev", UNDO_MAGIC, UNDO_HEADER_SIZE, max_file_size)
        # Per-mode record counts and bytes written by this instance, and codec fallbacks with reasons.
        self.written: dict[str, list[int]] = {name: [0, 0, 0] for name in MODE_NAMES.values()}
        self.fallbacks: list[tuple[bytes, str]] = []

    @property
    def codec_available(self) -> bool:
        return self._codec is not None

    # ------------------------------------------------------------------ blocks
    def put_block(self, raw: bytes) -> BlockLocation:
        """Append a block; return where it is."""
        raw = bytes(raw)
        if not 80 <= len(raw) <= MAX_BLOCK_RAW:
            raise BlockStoreError(f"a {len(raw)}-byte block is outside [80, {MAX_BLOCK_RAW}] bytes")
        if self._codec is None:
            return self.put_encoded(raw, MODE_RAW, raw)
        mode, payload, fallback = encode_block_payload(raw, self.codec_context)
        if fallback is not None:
            self.fallbacks.append((sha256d(raw[:80]), fallback))
        return self.put_encoded(raw, mode, payload)

    def put_encoded(self, raw: bytes, mode: int, payload: bytes) -> BlockLocation:
        """Append a block already encoded by :func:`encode_block_payload` (e.g. in another process,
        with a context answering as this store's context does); return where it is."""
        raw = bytes(raw)
        if not 80 <= len(raw) <= MAX_BLOCK_RAW:
            raise BlockStoreError(f"a {len(raw)}-byte block is outside [80, {MAX_BLOCK_RAW}] bytes")
        if mode not in MODE_NAMES:
            raise BlockStoreError(f"unknown storage mode {mode}")
        if mode == MODE_RAW and payload != raw:
            raise BlockStoreError("a raw record's payload must be the block itself")
        block_hash = sha256d(raw[:80])
        raw_digest = _digest(raw) if mode != MODE_RAW else bytes(CHECKSUM_SIZE)
        header = b"".join(
            (
                BLOCK_MAGIC,
                bytes((mode, 0, 0, 0)),
                len(payload).to_bytes(4, "little"),
                len(raw).to_bytes(4, "little"),
                block_hash,
                raw_digest,
            )
        )
        body = header + payload
        record = body + _digest(body)
        file, offset = self._blk.append(record)
        stat = self.written[MODE_NAMES[mode]]
        stat[0] += 1
        stat[1] += len(raw)
        stat[2] += len(record)
        return BlockLocation(file, offset, len(record))

    def _read(self, kind: _Kind, loc: tuple[int, int, int], what: str) -> bytes:
        if len(loc) != 3:
            raise BlockStoreError(f"{what} location {loc!r} is not (file, offset, size)")
        n, offset, size = (int(v) for v in loc)
        where = f"{what} record at {kind.name(n)}:{offset}"
        if n < 0 or offset < 0 or size < kind.header_size + CHECKSUM_SIZE:
            raise BlockStoreError(f"{where}: invalid location (size {size})")
        file_size = kind.file_size(n)
        if offset + size > file_size:
            raise BlockStoreError(f"{where}: {size} bytes run past the end of the file ({file_size} bytes)")
        rec = kind.pread(n, offset, size)
        if len(rec) != size:
            raise BlockStoreError(f"{where}: short read ({len(rec)} of {size} bytes)")
        if rec[:4] != kind.magic:
            raise BlockStoreError(f"{where}: bad magic {rec[:4].hex()} (expected {kind.magic.hex()})")
        payload = int.from_bytes(rec[8:12], "little")
        if kind.header_size + payload + CHECKSUM_SIZE != size:
            raise BlockStoreError(
                f"{where}: header says {payload} payload bytes, location says {size} in all"
            )
        view = memoryview(rec)
        if _digest(view[: size - CHECKSUM_SIZE]) != rec[size - CHECKSUM_SIZE :]:
            raise BlockStoreError(
                f"{where}: checksum mismatch (record claims block {rec[16:48][::-1].hex()})"
            )
        return rec

    def get_block(self, loc: tuple[int, int, int]) -> bytes:
        """The block stored at ``loc``, exactly as it was put; BlockStoreError if the record is not intact."""
        rec = self._read(self._blk, loc, "block")
        mode = rec[4]
        raw_size = int.from_bytes(rec[12:16], "little")
        block_hash = rec[16:48]
        where = f"block record at {self._blk.name(int(loc[0]))}:{int(loc[1])} ({block_hash[::-1].hex()})"
        payload = rec[BLOCK_HEADER_SIZE:-CHECKSUM_SIZE]
        if mode == MODE_RAW:
            raw = payload
        elif mode in (MODE_CODEC_ISOLATED, MODE_CODEC_CONTEXT):
            codec = self._codec or _load_codec()
            if codec is None:
                raise BlockStoreError(f"{where}: stored with the codec, which is not installed")
            ctx = self.codec_context if mode == MODE_CODEC_CONTEXT else None
            if mode == MODE_CODEC_CONTEXT and ctx is None:
                raise BlockStoreError(
                    f"{where}: stored in chain-context mode; this store has no codec context"
                )
            try:
                raw = codec[1](payload, ctx)
            except PacketFSError as e:
                raise BlockStoreError(f"{where}: the codec cannot decode it: {e}") from e
            if _digest(raw) != rec[48:64]:
                raise BlockStoreError(
                    f"{where}: decoded block differs from the one stored (context changed?)"
                )
        else:
            raise BlockStoreError(f"{where}: unknown storage mode {mode}")
        if len(raw) != raw_size or sha256d(raw[:80]) != block_hash:
            raise BlockStoreError(f"{where}: stored block does not match its header")
        return raw

    def block_record_info(self, loc: tuple[int, int, int]) -> dict:
        """Mode, sizes and hash of a block record (checksum verified, payload not decoded)."""
        rec = self._read(self._blk, loc, "block")
        return {
            "mode": MODE_NAMES.get(rec[4], str(rec[4])),
            "payload_bytes": int.from_bytes(rec[8:12], "little"),
            "raw_bytes": int.from_bytes(rec[12:16], "little"),
            "hash": rec[16:48][::-1].hex(),
            "record_bytes": len(rec),
        }

    # ------------------------------------------------------------------ recovery
    def reclaim_unreferenced(
        self, block_locations: Iterable[tuple[int, int, int]], undo_locations: Iterable[tuple[int, int, int]]
    ) -> int:
        """Give back the bytes after the last record that ``*_locations`` (everything the durable
        index references) point at: records appended after the last flush by a process that was
        killed, torn or whole, which nothing will ever read. Appends go on from there, so a crash
        wastes no space for good. Call it on opening, before anything is appended. Returns bytes freed."""
        freed = 0
        for kind, locs in ((self._blk, block_locations), (self._rev, undo_locations)):
            last = (0, 0)
            for loc in locs:
                end = (int(loc[0]), int(loc[1]) + int(loc[2]))
                if end > last:
                    last = end
            freed += kind.truncate_after(*last)
        return freed

    # ------------------------------------------------------------------ undo
    def put_undo(self, block_hash: bytes, prev_hash: bytes, undo_raw: bytes) -> UndoLocation:
        """Append the undo data (Core's CBlockUndo bytes) of block ``block_hash``, child of ``prev_hash``."""
        if len(block_hash) != 32 or len(prev_hash) != 32:
            raise BlockStoreError("block hashes are 32 bytes")
        undo_raw = bytes(undo_raw)
        if len(undo_raw) > MAX_UNDO_PAYLOAD:
            raise BlockStoreError(f"{len(undo_raw)} bytes of undo data exceed {MAX_UNDO_PAYLOAD}")
        body = b"".join(
            (
                UNDO_MAGIC,
                bytes((MODE_RAW, 0, 0, 0)),
                len(undo_raw).to_bytes(4, "little"),
                len(undo_raw).to_bytes(4, "little"),
                bytes(block_hash),
                bytes(prev_hash),
                undo_raw,
            )
        )
        record = body + _digest(body)
        file, offset = self._rev.append(record)
        return UndoLocation(file, offset, len(record))

    def get_undo_record(self, loc: tuple[int, int, int]) -> UndoRecord:
        rec = self._read(self._rev, loc, "undo")
        where = f"undo record at {self._rev.name(int(loc[0]))}:{int(loc[1])}"
        if rec[4] != MODE_RAW:
            raise BlockStoreError(f"{where}: unknown storage mode {rec[4]}")
        undo_raw = rec[UNDO_HEADER_SIZE:-CHECKSUM_SIZE]
        if int.from_bytes(rec[12:16], "little") != len(undo_raw):
            raise BlockStoreError(f"{where}: size fields disagree")
        return UndoRecord(rec[16:48], rec[48:80], undo_raw)

    def get_undo(self, loc: tuple[int, int, int]) -> bytes:
        """The CBlockUndo bytes stored at ``loc``; BlockStoreError if the record is not intact."""
        return self.get_undo_record(loc).undo_raw

    # ------------------------------------------------------------------ scanning
    def iter_block_locations(self) -> Iterator[BlockLocation]:
        """Every well-formed block record in file order (for reindexing); a torn tail ends its file."""
        for n in list(self._blk.numbers):
            for off, size, ok in self._blk.scan(n):
                if not ok:
                    break
                yield BlockLocation(n, off, size)

    def iter_undo_locations(self) -> Iterator[UndoLocation]:
        for n in list(self._rev.numbers):
            for off, size, ok in self._rev.scan(n):
                if not ok:
                    break
                yield UndoLocation(n, off, size)

    # ------------------------------------------------------------------ durability, export, info
    def sync(self) -> None:
        """Make every record appended so far durable (fsync files, and the directory for new files)."""
        self._blk.sync()
        self._rev.sync()
        if self._blk.new_file or self._rev.new_file:
            fd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._blk.new_file = self._rev.new_file = False

    def export_core(
        self,
        entries: Iterable[tuple[tuple[int, int, int], tuple[int, int, int] | None]],
        out_dir: str | Path,
        *,
        xor_key: bytes | None = None,
        max_file_size: int = MAX_BLOCKFILE_SIZE,
    ) -> list[tuple[BlockPos, BlockPos | None]]:
        """Write blocks (with their undo data, if given) as Core's blk/rev files, in the order given.

        Each block and undo record is byte-exact; the files are laid out as Core's writer does (rollover,
        rev file numbered like its block's blk file, checksum over the parent hash), without Core's zero
        preallocation. Refuses a directory that already has blk or rev files.
        """

        def pairs() -> Iterator[tuple[bytes, bytes | None]]:
            for bloc, uloc in entries:
                raw = self.get_block(bloc)
                if uloc is None:
                    yield raw, None
                    continue
                rec = self.get_undo_record(uloc)
                if rec.block_hash != sha256d(raw[:80]) or rec.prev_hash != raw[4:36]:
                    raise BlockStoreError(
                        f"undo record at {self._rev.name(int(uloc[0]))}:{int(uloc[1])} belongs to block "
                        f"{rec.block_hash[::-1].hex()}, not {sha256d(raw[:80])[::-1].hex()}"
                    )
                yield raw, rec.undo_raw

        return write_blocks_dir(pairs(), out_dir, self.magic, max_file_size, xor_key)

    def disk_usage(self) -> dict[str, int]:
        return {"blocks": self._blk.disk_bytes(), "undo": self._rev.disk_bytes()}

    def close(self) -> None:
        """fsync and close every file."""
        self.sync()
        self._blk.close()
        self._rev.close()

    def __enter__(self) -> BlockStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------- compression ratios


def measure_ratios(
    blocks: Sequence[bytes],
    context: Any = None,
    *,
    heights: Sequence[int] | None = None,
    brotli_quality: int = 11,
) -> dict[str, Any]:
    """Compressed sizes of ``blocks`` (in chain order): codec isolated, codec chain-context, brotli.

    Chain-context numbers come from ``context`` if given (it must answer for every earlier block), else,
    if ``heights`` is given, from a TxIndex built as the blocks go by (block i sees blocks 0..i-1, as a
    node storing blocks in order would). Every codec encoding is decoded back and compared with the block
    (mismatches are counted, never hidden). Brotli is per block, like the codec, plus once over the whole
    concatenation for scale. Ratios are raw bytes / compressed bytes (higher is better).
    """
    codec = _load_codec()
    if codec is None:
        raise BlockStoreError("packetfs.bitcoin.codec (encode_block/decode_block) is not available yet")
    encode, decode = codec
    raw_total = sum(len(b) for b in blocks)
    out: dict[str, Any] = {"blocks": len(blocks), "raw_bytes": raw_total}

    def run(label: str, ctx_for: Callable[[int], Any], after: Callable[[int], None] | None = None) -> None:
        size = 0
        mismatches = 0
        t_enc = t_dec = 0.0
        encoded = []
        for i, raw in enumerate(blocks):
            ctx = ctx_for(i)
            t0 = time.perf_counter()
            enc = encode(raw, ctx)
            t_enc += time.perf_counter() - t0
            encoded.append((enc, ctx))
            size += len(enc)
            if after is not None:
                after(i)
        for i, (enc, ctx) in enumerate(encoded):
            t0 = time.perf_counter()
            dec = decode(enc, ctx)
            t_dec += time.perf_counter() - t0
            mismatches += dec != blocks[i]
        out[label] = {
            "bytes": size,
            "ratio": raw_total / size if size else float("inf"),
            "encode_s": t_enc,
            "decode_s": t_dec,
            "mismatches": mismatches,
        }

    run("isolated", lambda i: None)
    if context is not None:
        run("context", lambda i: context)
    elif heights is not None:
        from ..codec.context import TxIndex

        if len(heights) != len(blocks):
            raise ValueError("one height per block")
        index = TxIndex()
        run("context", lambda i: index, lambda i: index.add_block(blocks[i], heights[i]))
    t0 = time.perf_counter()
    per_block = sum(len(brotli.compress(b, quality=brotli_quality)) for b in blocks)
    t_b = time.perf_counter() - t0
    out[f"brotli{brotli_quality}"] = {"bytes": per_block, "ratio": raw_total / per_block, "encode_s": t_b}
    whole = len(brotli.compress(b"".join(blocks), quality=brotli_quality))
    out[f"brotli{brotli_quality}_whole"] = {"bytes": whole, "ratio": raw_total / whole}
    return out
