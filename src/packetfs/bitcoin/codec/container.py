"""The .pfs archive: a header, one checksummed frame per block, and an index for random access.

Layout (all integers little-endian; full specification in docs/pfs-format.md):

    file header  16 bytes: magic b"PFS\\x89", u16 format version, u16 mode flags, 8 reserved zero bytes
    frame        16-byte frame header: b"PFBK", u32 block number, u32 payload length, u32 CRC32(payload),
                 then the payload (one ``encode_block`` result)
    index        b"PFIX", u32 count, count x (u64 frame offset, u32 payload length, u32 raw block size,
                 32-byte block hash)
    trailer      24 bytes: b"PFTR", u64 index offset, u32 count, u32 CRC32(index), b"PFND"

A writer streams frames out as blocks come and writes the index and trailer on close, so an archive cut
short still reads sequentially up to the last complete frame (and says which frame is truncated).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from .errors import CodecError
from .model import (
    F_CTX_OUTPUTS,
    F_CTX_TXIDS,
    FORMAT_MODELLED,
    FORMAT_MODELLED_V1,
    CodecOptions,
    decode_block,
    encode_block_with_stats,
)

MAGIC = b"PFS\x89"
FORMAT_VERSION = 1
FRAME_MAGIC = b"PFBK"
INDEX_MAGIC = b"PFIX"
TRAILER_MAGIC = b"PFTR"
END_MAGIC = b"PFND"
HEADER_SIZE = 16
FRAME_HEADER_SIZE = 16
INDEX_ENTRY_SIZE = 48
TRAILER_SIZE = 24
MAX_FRAME_PAYLOAD = 8 * 1024 * 1024  # an encoded block never exceeds its 4 MB raw size by much

MODE_CHAIN_CONTEXT = 0x0001  # some block needs the chain context (tx index) to decode
_KNOWN_MODES = MODE_CHAIN_CONTEXT


class ContextMismatchError(CodecError):
    """A chain-context frame, intact, that the given context cannot resolve to the block written: the
    context holds another chain (or lacks the blocks the frame refers to)."""

    def __init__(self, archive: str, frame: int, detail: str):
        self.archive = archive
        self.frame = frame
        self.detail = detail
        super().__init__(f"{archive}: frame {frame} refers to a chain the context does not have ({detail})")


class IndexEntry(NamedTuple):
    offset: int  # of the frame header
    length: int  # payload bytes
    raw_size: int
    block_hash: bytes  # internal byte order


def _block_hash(raw: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(hashlib.sha256(raw[:80]).digest()).digest()


class PfsWriter:
    """Streaming writer: ``add_block`` encodes and appends a frame; ``close`` writes index and trailer.

    ``context`` switches on chain-context mode for the whole archive (recorded in the header)."""

    def __init__(self, path: str | Path, context=None, options: CodecOptions | None = None):
        self.path = Path(path)
        self.context = context
        self.options = options
        self._f: BinaryIO = open(self.path, "wb")
        mode = MODE_CHAIN_CONTEXT if context is not None else 0
        self._f.write(MAGIC + struct.pack("<HH", FORMAT_VERSION, mode) + bytes(8))
        self._pos = HEADER_SIZE
        self.entries: list[IndexEntry] = []
        self.stats: list = []
        self._closed = False

    def add_block(self, raw: bytes, spent=None) -> IndexEntry:
        payload, st = encode_block_with_stats(raw, self.context, self.options, spent)
        self.stats.append(st)
        return self.add_encoded(payload, raw)

    def add_encoded(self, payload: bytes, raw: bytes) -> IndexEntry:
        n = len(self.entries)
        hdr = FRAME_MAGIC + struct.pack("<III", n, len(payload), zlib.crc32(payload))
        self._f.write(hdr)
        self._f.write(payload)
        entry = IndexEntry(self._pos, len(payload), len(raw), _block_hash(raw))
        self.entries.append(entry)
        self._pos += FRAME_HEADER_SIZE + len(payload)
        return entry

    def close(self) -> None:
        if self._closed:
            return
        index = bytearray(INDEX_MAGIC + struct.pack("<I", len(self.entries)))
        for e in self.entries:
            index += struct.pack("<QII", e.offset, e.length, e.raw_size) + e.block_hash
        self._f.write(index)
        self._f.write(TRAILER_MAGIC + struct.pack("<QII", self._pos, len(self.entries), zlib.crc32(index)) + END_MAGIC)
        self._f.close()
        self._closed = True

    def __enter__(self) -> PfsWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_archive(path: str | Path, blocks: Iterable[bytes], context=None, options: CodecOptions | None = None) -> int:
    """Encode every block into a new archive; returns the number of blocks."""
    with PfsWriter(path, context, options) as w:
        for raw in blocks:
            w.add_block(raw)
        return len(w.entries)


class PfsReader:
    """Reads an archive: ``len()``, ``[n]`` / ``block(n)`` via the index, iteration in order.

    Every failure is a CodecError that names the frame (block number) and what is wrong."""

    def __init__(self, path: str | Path, context=None):
        self.path = Path(path)
        self.context = context
        self._f: BinaryIO = open(self.path, "rb")
        self.size = self.path.stat().st_size
        head = self._f.read(HEADER_SIZE)
        if len(head) < HEADER_SIZE or head[:4] != MAGIC:
            self._f.close()
            raise CodecError(f"{self.path.name}: not a .pfs archive (bad magic)")
        self.version, self.mode = struct.unpack("<HH", head[4:8])
        if head[8:] != bytes(8):
            self._f.close()
            raise CodecError(f"{self.path.name}: corrupt archive header (reserved bytes not zero)")
        if self.version != FORMAT_VERSION:
            self._f.close()
            raise CodecError(f"{self.path.name}: .pfs format version {self.version}, this reader knows {FORMAT_VERSION}")
        if self.mode & ~_KNOWN_MODES:
            self._f.close()
            raise CodecError(f"{self.path.name}: unknown mode flags 0x{self.mode:04x}")
        self._index: list[IndexEntry] | None = None

    @property
    def needs_context(self) -> bool:
        return bool(self.mode & MODE_CHAIN_CONTEXT)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> PfsReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # index ---------------------------------------------------------------------------------------
    @property
    def index(self) -> list[IndexEntry]:
        if self._index is None:
            self._index = self._read_index()
        return self._index

    def _read_index(self) -> list[IndexEntry]:
        name = self.path.name
        if self.size < HEADER_SIZE + TRAILER_SIZE:
            raise CodecError(f"{name}: archive truncated: no index trailer (read it sequentially instead)")
        self._f.seek(self.size - TRAILER_SIZE)
        tr = self._f.read(TRAILER_SIZE)
        if tr[:4] != TRAILER_MAGIC or tr[20:] != END_MAGIC:
            raise CodecError(f"{name}: archive truncated or corrupt: no valid index trailer at the end")
        off, count, crc = struct.unpack("<QII", tr[4:20])
        need = 8 + count * INDEX_ENTRY_SIZE
        if off < HEADER_SIZE or off + need != self.size - TRAILER_SIZE:
            raise CodecError(f"{name}: index trailer points outside the archive (corrupt trailer)")
        self._f.seek(off)
        idx = self._f.read(need)
        if zlib.crc32(idx) != crc:
            raise CodecError(f"{name}: index fails its checksum (corrupt index)")
        if idx[:4] != INDEX_MAGIC or struct.unpack("<I", idx[4:8])[0] != count:
            raise CodecError(f"{name}: index header corrupt")
        entries = []
        expect = HEADER_SIZE
        for i in range(count):
            o = 8 + i * INDEX_ENTRY_SIZE
            offset, length, raw_size = struct.unpack("<QII", idx[o : o + 16])
            if offset != expect or length > MAX_FRAME_PAYLOAD:
                raise CodecError(f"{name}: index entry for frame {i} is inconsistent")
            expect = offset + FRAME_HEADER_SIZE + length
            entries.append(IndexEntry(offset, length, raw_size, idx[o + 16 : o + 48]))
        if expect != off:
            raise CodecError(f"{name}: index does not cover the frames exactly")
        return entries

    def __len__(self) -> int:
        return len(self.index)

    # frames --------------------------------------------------------------------------------------
    def _read_frame_at(self, offset: int, n: int) -> tuple[bytes, int]:
        """Payload of frame ``n`` at ``offset`` (checked) and the offset after it."""
        name = self.path.name
        self._f.seek(offset)
        hdr = self._f.read(FRAME_HEADER_SIZE)
        if len(hdr) < FRAME_HEADER_SIZE:
            raise CodecError(f"{name}: frame {n} truncated (header at byte {offset})")
        if hdr[:4] != FRAME_MAGIC:
            raise CodecError(f"{name}: frame {n} at byte {offset}: bad frame magic (corrupt archive)")
        num, length, crc = struct.unpack("<III", hdr[4:])
        if num != n:
            raise CodecError(f"{name}: frame {n} at byte {offset} says it is frame {num} (corrupt archive)")
        if length > MAX_FRAME_PAYLOAD:
            raise CodecError(f"{name}: frame {n}: payload length {length} above {MAX_FRAME_PAYLOAD} (corrupt)")
        payload = self._f.read(length)
        if len(payload) < length:
            raise CodecError(f"{name}: frame {n} truncated: {len(payload)} of {length} payload bytes")
        if zlib.crc32(payload) != crc:
            raise CodecError(f"{name}: frame {n} fails its checksum (corrupt archive)")
        return payload, offset + FRAME_HEADER_SIZE + length

    def _decode(self, payload: bytes, n: int, expect: IndexEntry | None = None) -> bytes:
        uses_context = bool(
            payload and payload[0] in (FORMAT_MODELLED_V1, FORMAT_MODELLED) and len(payload) > 1
            and payload[1] & (F_CTX_TXIDS | F_CTX_OUTPUTS)
        )  # fmt: skip
        if uses_context and self.context is None:
            raise CodecError(f"{self.path.name}: frame {n} needs the chain context to decode")
        try:
            raw = decode_block(payload, self.context)
        except CodecError as e:
            if uses_context:
                # The frame passed its checksum, so its bytes are as written: the context's answers are
                # what differ (another chain, or one missing the referenced blocks).
                raise ContextMismatchError(self.path.name, n, str(e)) from None
            raise CodecError(f"{self.path.name}: frame {n}: {e}") from None
        if expect is not None and (len(raw) != expect.raw_size or _block_hash(raw) != expect.block_hash):
            if uses_context:
                raise ContextMismatchError(self.path.name, n, "decodes to a block the index does not list")
            raise CodecError(f"{self.path.name}: frame {n} decodes to a block the index does not list")
        return raw

    def payload(self, n: int) -> bytes:
        idx = self.index
        if not 0 <= n < len(idx):
            raise IndexError(f"block {n} not in archive of {len(idx)} blocks")
        return self._read_frame_at(idx[n].offset, n)[0]

    def block(self, n: int) -> bytes:
        """Block ``n`` (0-based, archive order) via the index."""
        return self._decode(self.payload(n), n, self.index[n])

    __getitem__ = block

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_blocks()

    def iter_payloads(self) -> Iterator[bytes]:
        """Frames in order without the index (works on an archive whose end is missing)."""
        offset = HEADER_SIZE
        n = 0
        while True:
            self._f.seek(offset)
            magic = self._f.read(4)
            if not magic:
                raise CodecError(f"{self.path.name}: archive truncated after frame {n - 1}: no index")
            if magic == INDEX_MAGIC:
                # The frames ended: the index must agree, so damage there is reported too.
                if len(self.index) != n or (n and self.index[-1].offset + FRAME_HEADER_SIZE + self.index[-1].length != offset):
                    raise CodecError(f"{self.path.name}: index lists {len(self.index)} frames, the archive has {n}")
                return
            payload, offset = self._read_frame_at(offset, n)
            yield payload
            n += 1

    def iter_blocks(self) -> Iterator[bytes]:
        for n, payload in enumerate(self.iter_payloads()):
            yield self._decode(payload, n)
