"""Bitcoin Core's flat block files: blk?????.dat (blocks), rev?????.dat (undo data), xor.dat.

Both file kinds are a sequence of records ``magic (4) | uint32 LE size | payload`` (rev records add a
32-byte checksum after the payload, see undo.py). Core appends blocks in the order it receives them, so
blk files are not in height order, and it preallocates files in chunks (16 MiB for blk, 1 MiB for rev),
leaving zeros after the last record of the file it is still filling. Undo data for a block always goes
to the rev file with the same number as the blk file holding the block, in the order blocks are
connected.

Readers here check every size against the bytes actually present and against Core's own limits before
reading, so a corrupt file gives a ParseError with its file offset, never a huge allocation.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from ..errors import ParseError
from .undo import undo_checksum
from .xor import NO_XOR_KEY, XOR_KEY_SIZE, is_active, read_xor_key, write_xor_key, xor_at

# chainparams.cpp pchMessageStart for each network (signet: the default signet's; a custom signet
# derives its own from the challenge and must be passed explicitly).
NETWORK_MAGIC: dict[str, bytes] = {
    "mainnet": bytes.fromhex("f9beb4d9"),
    "testnet3": bytes.fromhex("0b110907"),
    "testnet4": bytes.fromhex("1c163f28"),
    "signet": bytes.fromhex("0a03cf40"),
    "regtest": bytes.fromhex("fabfb5da"),
}
MAGIC_NETWORK: dict[bytes, str] = {v: k for k, v in NETWORK_MAGIC.items()}

RECORD_HEADER_SIZE = 8  # magic + size (Core's STORAGE_HEADER_BYTES)
UNDO_CHECKSUM_SIZE = 32
MAX_BLOCKFILE_SIZE = 0x8000000  # 128 MiB: Core starts a new blk file before one would reach this
BLOCKFILE_CHUNK_SIZE = 0x1000000  # 16 MiB preallocation steps
UNDOFILE_CHUNK_SIZE = 0x100000  # 1 MiB
# A block record larger than Core's MAX_BLOCK_SERIALIZED_SIZE or smaller than a header is corrupt;
# Core's reindex skips such records by the same bounds.
MAX_BLOCK_RECORD_SIZE = 4_000_000
MIN_BLOCK_RECORD_SIZE = 80
_FILE_RE = re.compile(r"^(blk|rev)(\d{5,})\.dat$")
_ZERO_CHUNK = 1 << 20


class BlkRecord(NamedTuple):
    """One block in a blk file: ``offset`` is where its record (the magic) starts, ``raw`` the block."""

    offset: int
    raw: bytes

    @property
    def data_offset(self) -> int:
        """Where the block itself starts: Core's FlatFilePos.nPos for this block."""
        return self.offset + RECORD_HEADER_SIZE


class RevRecord(NamedTuple):
    """One undo record in a rev file: record offset, CBlockUndo bytes and the checksum after them."""

    offset: int
    undo_raw: bytes
    checksum: bytes

    @property
    def data_offset(self) -> int:
        return self.offset + RECORD_HEADER_SIZE


class BlockPos(NamedTuple):
    """Where a writer put a record: file number, payload offset (Core's nPos) and payload size."""

    file: int
    data_offset: int
    size: int


def network_magic(network: str | bytes) -> bytes:
    """Magic bytes for a network name, or the 4 bytes themselves."""
    if isinstance(network, bytes | bytearray):
        if len(network) != 4:
            raise ValueError("a network magic is 4 bytes")
        return bytes(network)
    try:
        return NETWORK_MAGIC[network]
    except KeyError:
        raise ValueError(f"unknown network {network!r}; known: {', '.join(NETWORK_MAGIC)}") from None


def _resolve_magic(magic: str | bytes | None) -> bytes | None:
    return None if magic is None else network_magic(magic)


def _resolve_key(path: Path, xor_key: bytes | None) -> bytes | None:
    # None means "as Core would": use the xor.dat that sits beside the file, if any.
    if xor_key is None:
        return read_xor_key(path.parent)
    if len(xor_key) not in (0, XOR_KEY_SIZE):
        raise ValueError("an xor key is 8 bytes")
    return bytes(xor_key)


def _check_zero_tail(f: BinaryIO, path: Path, pos: int, size: int) -> None:
    """Core's unused preallocated space is zeros on disk; anything else after it is not a blk/rev file."""
    f.seek(pos)
    while pos < size:
        chunk = f.read(min(_ZERO_CHUNK, size - pos))
        if not chunk:
            break
        stripped = chunk.lstrip(b"\x00")
        if stripped:
            where = pos + len(chunk) - len(stripped)
            raise ParseError(f"{path.name}: data after zero padding", where, "zeros to the end of the file")
        pos += len(chunk)


def _iter_records(
    path: Path,
    magic: bytes | None,
    key: bytes | None,
    *,
    min_size: int,
    max_size: int,
    trailer: int,
    head: int | None = None,
) -> Iterator[tuple[int, bytes, bytes, int]]:
    """Yield (record offset, payload, trailer bytes, payload size) from a blk or rev file.

    With ``head``, only the first ``head`` bytes of each payload are read (the rest is skipped).
    """
    size = path.stat().st_size
    expected = magic
    with path.open("rb") as f:
        pos = 0
        while pos < size:
            raw_hdr = f.read(RECORD_HEADER_SIZE)
            hdr = xor_at(raw_hdr, key, pos)
            if not raw_hdr[:4].strip(b"\x00") and hdr[:4] != expected:
                _check_zero_tail(f, path, pos, size)
                return
            if len(raw_hdr) < RECORD_HEADER_SIZE:
                raise ParseError(f"{path.name}: truncated record header", pos, "magic and size (8 bytes)")
            rec_magic = hdr[:4]
            if expected is None:
                if rec_magic not in MAGIC_NETWORK:
                    raise ParseError(
                        f"{path.name}: unknown network magic {rec_magic.hex()}", pos, "a known network magic"
                    )
                expected = rec_magic
            elif rec_magic != expected:
                raise ParseError(f"{path.name}: bad magic {rec_magic.hex()}", pos, f"magic {expected.hex()}")
            n = int.from_bytes(hdr[4:8], "little")
            available = size - pos - RECORD_HEADER_SIZE - trailer
            if n < min_size or n > max_size:
                raise ParseError(
                    f"{path.name}: record size {n} out of range",
                    pos + 4,
                    f"a size in [{min_size}, {max_size}]",
                )
            if n > available:
                raise ParseError(
                    f"{path.name}: record of {n} bytes runs past the end of the file", pos + 4,
                    f"at most {max(available, 0)} bytes",
                )  # fmt: skip
            data_at = pos + RECORD_HEADER_SIZE
            if head is not None:
                payload = xor_at(f.read(min(n, head)), key, data_at)
                f.seek(data_at + n)
            else:
                payload = xor_at(f.read(n), key, data_at)
            tail = xor_at(f.read(trailer), key, data_at + n) if trailer else b""
            yield pos, payload, tail, n
            pos = data_at + n + trailer


def iter_blk_file(
    path: str | Path, magic: str | bytes | None = None, xor_key: bytes | None = None
) -> Iterator[BlkRecord]:
    """Blocks of one blk?????.dat, in file order.

    ``magic``: a network name or 4 bytes; None accepts the first record's magic if it is a known network
    and then requires every record to match. ``xor_key``: None reads xor.dat beside the file (no file:
    no obfuscation); pass bytes to override (b"" or 8 zero bytes for none).
    """
    path = Path(path)
    key = _resolve_key(path, xor_key)
    for off, payload, _, _ in _iter_records(
        path,
        _resolve_magic(magic),
        key,
        min_size=MIN_BLOCK_RECORD_SIZE,
        max_size=MAX_BLOCK_RECORD_SIZE,
        trailer=0,
    ):
        yield BlkRecord(off, payload)


class SkippedBytes(NamedTuple):
    """A stretch of a blk file that holds no readable record (what a tolerant read stepped over)."""

    path: Path
    offset: int
    size: int
    reason: str


def _find_magic(mm: mmap.mmap | bytes, magic: bytes, key: bytes | None, start: int) -> int:
    """First position >= ``start`` where ``magic`` sits (XORed as the file is), or -1."""
    if not is_active(key):
        return mm.find(magic, start)
    best = -1
    # On disk the magic looks different at each position modulo the key length.
    for r in range(XOR_KEY_SIZE):
        pattern = xor_at(magic, key, r)
        at = mm.find(pattern, start)
        while at != -1 and at % XOR_KEY_SIZE != r:
            at = mm.find(pattern, at + 1)
        if at != -1 and (best == -1 or at < best):
            best = at
    return best


def _zeros_to_end(mm: mmap.mmap, pos: int, size: int) -> bool:
    """True if every byte from ``pos`` to the end of the file is zero (Core's preallocated space)."""
    while pos < size:
        if mm[pos : pos + _ZERO_CHUNK].strip(b"\x00"):
            return False
        pos += _ZERO_CHUNK
    return True


def _block_length(payload: bytes) -> int | None:
    """Bytes of the block at the start of ``payload`` (which may hold more), or None if none parses."""
    from ..primitives.block import Block  # storage reads blocks only here, for damaged records

    try:
        return Block.parse(payload)._size
    except ParseError:
        return None


def iter_blk_file_tolerant(
    path: str | Path, magic: bytes, xor_key: bytes | None, on_skip: Callable[[SkippedBytes], None]
) -> Iterator[BlkRecord]:
    """Blocks of one blk file, stepping over damage as Core's -reindex / -loadblock do: where a record
    header is not ``magic`` with a size in range that fits the file, the bytes up to the next
    occurrence of the magic are reported to ``on_skip`` and reading goes on from there. Zero padding
    at the end is not damage. A record that does not end where another begins (its size may lie) is
    cut to the block it really holds, and reading goes on right after that block; a record that holds
    no block is skipped as damage. The caller still parses every record it gets.
    """
    path = Path(path)
    key = xor_key if is_active(xor_key) else None
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        pos = 0
        while pos < size:
            raw_hdr = mm[pos : pos + RECORD_HEADER_SIZE]
            if not raw_hdr.strip(b"\x00") and _zeros_to_end(mm, pos, size):
                return  # Core's preallocated tail
            hdr = xor_at(raw_hdr, key, pos)
            if len(hdr) < RECORD_HEADER_SIZE:
                reason = "truncated record header"
            elif hdr[:4] != magic:
                reason = f"bad magic {hdr[:4].hex()}"
            else:
                n = int.from_bytes(hdr[4:8], "little")
                if not MIN_BLOCK_RECORD_SIZE <= n <= MAX_BLOCK_RECORD_SIZE:
                    reason = f"record size {n} out of range"
                elif pos + RECORD_HEADER_SIZE + n > size:
                    reason = f"record of {n} bytes runs past the end of the file"
                else:
                    data_at = pos + RECORD_HEADER_SIZE
                    payload = xor_at(mm[data_at : data_at + n], key, data_at)
                    end = data_at + n
                    if end == size or xor_at(mm[end : end + 4], key, end) == magic or _zeros_to_end(mm, end, size):
                        yield BlkRecord(pos, payload)
                        pos = end
                        continue
                    # The record does not end where the next one starts: its size may lie. As Core's
                    # LoadExternalBlockFile, take the block the bytes really hold and go on right after
                    # it; if there is none, search for the next magic.
                    actual = _block_length(payload)
                    if actual is not None:
                        yield BlkRecord(pos, payload[:actual])
                        pos = data_at + actual
                        continue
                    reason = f"record of {n} bytes holds no block"
            nxt = _find_magic(mm, magic, key, pos + 1)
            end = size if nxt == -1 else nxt
            on_skip(SkippedBytes(path, pos, end - pos, reason))
            pos = end


def iter_rev_file(
    path: str | Path, magic: str | bytes | None = None, xor_key: bytes | None = None
) -> Iterator[RevRecord]:
    """Undo records of one rev?????.dat: (offset, CBlockUndo bytes, checksum). Same options as iter_blk_file.

    The checksum needs the previous block's hash to verify: see undo.verify_undo_checksum.
    """
    path = Path(path)
    key = _resolve_key(path, xor_key)
    # Undo data has no consensus size limit of its own; the bytes present in the file bound it.
    for off, payload, checksum, _ in _iter_records(
        path, _resolve_magic(magic), key, min_size=1, max_size=0xFFFFFFFF, trailer=UNDO_CHECKSUM_SIZE
    ):
        yield RevRecord(off, payload, checksum)


def read_record_at(path: str | Path, data_offset: int, xor_key: bytes | None = None) -> bytes:
    """The payload whose data starts at ``data_offset`` (Core's nPos) in a blk or rev file."""
    path = Path(path)
    key = _resolve_key(path, xor_key)
    size = path.stat().st_size
    if data_offset < RECORD_HEADER_SIZE or data_offset > size:
        raise ParseError(f"{path.name}: no record at {data_offset}", data_offset, "a record's data offset")
    with path.open("rb") as f:
        f.seek(data_offset - RECORD_HEADER_SIZE)
        hdr = xor_at(f.read(RECORD_HEADER_SIZE), key, data_offset - RECORD_HEADER_SIZE)
        n = int.from_bytes(hdr[4:8], "little")
        if n > size - data_offset:
            raise ParseError(f"{path.name}: record runs past the end of the file", data_offset - 4)
        return xor_at(f.read(n), key, data_offset)


# --- blocks directories ---------------------------------------------------------------------------


def _numbered(directory: Path, kind: str) -> list[Path]:
    found = []
    for entry in directory.iterdir():
        m = _FILE_RE.match(entry.name)
        if m and m.group(1) == kind and entry.is_file():
            found.append((int(m.group(2)), entry))
    return [p for _, p in sorted(found)]


def is_blocks_dir(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and bool(_numbered(path, "blk"))


def file_number(path: str | Path) -> int:
    m = _FILE_RE.match(Path(path).name)
    if not m:
        raise ValueError(f"{path} is not named blk?????.dat or rev?????.dat")
    return int(m.group(2))


@dataclass
class BlocksDir:
    """A Core blocks directory: its xor key and its blk/rev files, in numeric order."""

    path: Path
    xor_key: bytes | None
    blk_files: list[Path]
    rev_files: list[Path]
    magic: bytes | None = None

    @property
    def obfuscated(self) -> bool:
        return is_active(self.xor_key)

    @property
    def network(self) -> str | None:
        """Network name from the first block record's magic (None for no blocks or an unknown magic)."""
        magic = self.detect_magic()
        return MAGIC_NETWORK.get(magic) if magic else None

    def detect_magic(self) -> bytes | None:
        if self.magic is None:
            for p in self.blk_files:
                for rec in iter_blk_file(p, None, self._key()):
                    self.magic = _record_magic(p, rec.offset, self.xor_key)
                    return self.magic
        return self.magic

    def _key(self) -> bytes:
        return self.xor_key if self.xor_key is not None else NO_XOR_KEY

    def iter_blk_records(self) -> Iterator[tuple[Path, BlkRecord]]:
        magic = self.detect_magic()
        for p in self.blk_files:
            for rec in iter_blk_file(p, magic, self._key()):
                yield p, rec

    def iter_blocks(self) -> Iterator[bytes]:
        for _, rec in self.iter_blk_records():
            yield rec.raw

    def iter_blocks_tolerant(self, magic: bytes, on_skip: Callable[[SkippedBytes], None]) -> Iterator[bytes]:
        """Every readable block record, stepping over damaged stretches (see iter_blk_file_tolerant)."""
        for p in self.blk_files:
            for rec in iter_blk_file_tolerant(p, magic, self._key(), on_skip):
                yield rec.raw

    def iter_rev_records(self) -> Iterator[tuple[Path, RevRecord]]:
        magic = self.detect_magic()
        for p in self.rev_files:
            for rec in iter_rev_file(p, magic, self._key()):
                yield p, rec

    def iter_blocks_with_undo(self) -> Iterator[tuple[bytes, bytes | None]]:
        """Each block in file order with its CBlockUndo bytes (None for genesis or a block not connected).

        See iter_blk_file_with_undo; a rev file only holds undo data for the blk file of the same number.
        """
        revs = {file_number(p): p for p in self.rev_files}
        magic = self.detect_magic()
        for blk in self.blk_files:
            yield from iter_blk_file_with_undo(blk, revs.get(file_number(blk)), magic, self._key())

    def summary(self, on_file: Callable[[Path], None] | None = None) -> dict:
        """Files, key, block count and bytes: what `blocks-dir-info` prints.

        Reads only the 8-byte record headers (checking magic and sizes), so it is fast on a full node.
        ``on_file`` is called after each file (for progress).
        """
        magic = self.detect_magic()
        key = self._key()
        blk = []
        for p in self.blk_files:
            sizes = [
                n
                for *_, n in _iter_records(
                    p,
                    magic,
                    key,
                    min_size=MIN_BLOCK_RECORD_SIZE,
                    max_size=MAX_BLOCK_RECORD_SIZE,
                    trailer=0,
                    head=0,
                )
            ]
            blk.append(
                {"name": p.name, "bytes": p.stat().st_size, "blocks": len(sizes), "block_bytes": sum(sizes)}
            )
            if on_file:
                on_file(p)
        rev = []
        for p in self.rev_files:
            n = sum(
                1
                for _ in _iter_records(
                    p, magic, key, min_size=1, max_size=0xFFFFFFFF, trailer=UNDO_CHECKSUM_SIZE, head=0
                )
            )
            rev.append({"name": p.name, "bytes": p.stat().st_size, "undo_records": n})
            if on_file:
                on_file(p)
        return {
            "path": str(self.path),
            "network": MAGIC_NETWORK.get(magic) if magic else None,
            "magic": magic.hex() if magic else None,
            "xor_key": self.xor_key.hex() if self.xor_key is not None else None,
            "obfuscated": self.obfuscated,
            "blk_files": blk,
            "rev_files": rev,
            "blocks": sum(f["blocks"] for f in blk),
            "block_bytes": sum(f["block_bytes"] for f in blk),
            "undo_records": sum(f["undo_records"] for f in rev),
            "file_bytes": sum(f["bytes"] for f in blk) + sum(f["bytes"] for f in rev),
        }


def iter_blk_file_with_undo(
    blk_path: str | Path,
    rev_path: str | Path | None,
    magic: str | bytes | None = None,
    xor_key: bytes | None = None,
) -> Iterator[tuple[bytes, bytes | None]]:
    """Blocks of one blk file, each with its undo data from the matching rev file (or None).

    Pairs without Core's block index: an undo record's checksum commits to the parent's hash, so each
    record belongs to the block whose ``prev_hash`` makes it verify. Core connects blocks mostly in file
    order, so the search starts after the last match: linear for Core's files, quadratic at worst.
    Memory: one block and one undo record at a time (a first pass reads only the headers).
    """
    blk_path = Path(blk_path)
    key = _resolve_key(blk_path, xor_key)
    magic = _resolve_magic(magic)
    matched: dict[int, int] = {}  # block index -> data offset of its undo record
    if rev_path is not None:
        rev_path = Path(rev_path)
        prevs = [
            payload[4:36]
            for _, payload, _, _ in _iter_records(
                blk_path, magic, key, min_size=MIN_BLOCK_RECORD_SIZE, max_size=MAX_BLOCK_RECORD_SIZE,
                trailer=0, head=80,
            )
        ]  # fmt: skip
        cursor = 0
        for urec in iter_rev_file(rev_path, magic, key if key is not None else NO_XOR_KEY):
            for i in (*range(cursor, len(prevs)), *range(cursor)):
                if i not in matched and undo_checksum(prevs[i], urec.undo_raw) == urec.checksum:
                    matched[i] = urec.data_offset
                    cursor = i + 1
                    break
            else:
                raise ParseError(
                    f"{rev_path.name}: undo record matches no block of {blk_path.name}", urec.offset,
                    "a checksum over the parent hash of a block in the blk file",
                )  # fmt: skip
    for i, rec in enumerate(iter_blk_file(blk_path, magic, key if key is not None else NO_XOR_KEY)):
        at = matched.get(i)
        yield (
            rec.raw,
            (
                read_record_at(rev_path, at, key if key is not None else NO_XOR_KEY)
                if at is not None
                else None
            ),
        )


def _peek(path: Path, n: int, offset: int = 0) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(n)


def _record_magic(path: Path, offset: int, key: bytes | None) -> bytes:
    return xor_at(_peek(path, 4, offset), key, offset)


def open_blocks_dir(path: str | Path, magic: str | bytes | None = None) -> BlocksDir:
    """Open a Core blocks directory, or a datadir whose ``blocks/`` is one."""
    path = Path(path)
    if not path.is_dir():
        raise ParseError(f"{path} is not a directory")
    if not is_blocks_dir(path) and is_blocks_dir(path / "blocks"):
        path = path / "blocks"
    return BlocksDir(
        path, read_xor_key(path), _numbered(path, "blk"), _numbered(path, "rev"), _resolve_magic(magic)
    )


# --- any input: files, blocks dirs, folders --------------------------------------------------------


@dataclass(frozen=True)
class BlockSource:
    """One unit of block input: a blk file (with its xor key) or a file holding one raw block.

    Picklable, so callers can spread sources over worker processes.
    """

    path: Path
    kind: str  # "blk" or "raw"
    xor_key: bytes | None = None

    def iter_blocks(self) -> Iterator[bytes]:
        if self.kind == "blk":
            for rec in iter_blk_file(
                self.path, None, self.xor_key if self.xor_key is not None else NO_XOR_KEY
            ):
                yield rec.raw
        else:
            yield read_raw_block_file(self.path)

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def read_raw_block_file(path: str | Path) -> bytes:
    """A file holding exactly one serialized block (as ``.block`` files do)."""
    path = Path(path)
    size = path.stat().st_size
    if size < MIN_BLOCK_RECORD_SIZE or size > MAX_BLOCK_RECORD_SIZE:
        raise ParseError(
            f"{path.name}: {size} bytes is not a block size", 0,
            f"between {MIN_BLOCK_RECORD_SIZE} and {MAX_BLOCK_RECORD_SIZE} bytes",
        )  # fmt: skip
    return path.read_bytes()


def _classify_file(path: Path) -> BlockSource | None:
    m = _FILE_RE.match(path.name)
    if m and m.group(1) == "rev":
        return None  # undo data, not blocks
    key = read_xor_key(path.parent) if m else None
    head = xor_at(_peek(path, 4), key, 0)
    if head in MAGIC_NETWORK:
        return BlockSource(path, "blk", key)
    if m:
        raise ParseError(
            f"{path.name}: starts with {head.hex()}, not a network magic", 0, "a blk file record"
        )
    return BlockSource(path, "raw")


_MAX_DEPTH = 4


def block_sources(path: str | Path) -> list[BlockSource]:
    """Every block source under ``path``, in a stable order.

    ``path`` may be a blk file, a raw block file, a Core blocks dir (or datadir), or a folder holding any
    of those: in a folder, blocks dirs are taken whole (blk files in numeric order) and other files ending
    in ``.block`` or named ``blk?????.dat`` are taken one by one, then subfolders (up to 4 levels).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if path.is_file():
        src = _classify_file(path)
        if src is None:
            raise ParseError(f"{path.name} is a rev (undo) file, not blocks")
        return [src]
    return _dir_sources(path, 0)


def _dir_sources(path: Path, depth: int) -> list[BlockSource]:
    if is_blocks_dir(path):
        d = open_blocks_dir(path)
        return [BlockSource(p, "blk", d._key()) for p in d.blk_files]
    if depth == 0 and is_blocks_dir(path / "blocks"):
        return _dir_sources(path / "blocks", depth + 1)
    out: list[BlockSource] = []
    entries = sorted(path.iterdir(), key=lambda p: _natural_key(p.name))
    for entry in entries:
        if entry.is_file() and entry.suffix == ".block":
            out.append(BlockSource(entry, "raw"))
    if depth < _MAX_DEPTH:
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith(".") and not entry.is_symlink():
                out.extend(_dir_sources(entry, depth + 1))
    return out


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def iter_blocks(path: str | Path) -> Iterator[bytes]:
    """Raw blocks from a blk file, a raw block file, a Core blocks dir or a folder of either."""
    for src in block_sources(path):
        yield from src.iter_blocks()


# --- writing ---------------------------------------------------------------------------------------


class BlocksDirWriter:
    """Writes blk/rev files the way Core lays them out (record framing, file rollover, xor.dat).

    Files are written complete, without Core's zero preallocation. Refuses a directory that already
    holds files of a kind it is asked to write (``kinds``), so it never appends to or overwrites a
    node's data, and an xor.dat whose key differs from ``xor_key``.
    """

    def __init__(
        self,
        out_dir: str | Path,
        network: str | bytes = "mainnet",
        max_file_size: int = MAX_BLOCKFILE_SIZE,
        xor_key: bytes | None = None,
        kinds: tuple[str, ...] = ("blk", "rev"),
    ):
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        for kind in kinds:
            if _numbered(self.dir, kind):
                raise FileExistsError(f"{self.dir} already holds {kind} files")
        if xor_key is not None and len(xor_key) != XOR_KEY_SIZE:
            raise ValueError("an xor key is 8 bytes")
        existing = read_xor_key(self.dir)
        if existing is not None and existing != (xor_key or NO_XOR_KEY):
            raise ValueError(f"{self.dir}/xor.dat holds another key ({existing.hex()})")
        if xor_key is not None and existing is None:
            write_xor_key(self.dir, xor_key)
        self.magic = network_magic(network)
        self.max_file_size = max_file_size
        self.xor_key = xor_key
        self._file = 0
        self._sizes: dict[tuple[str, int], int] = {}

    def _path(self, kind: str, n: int) -> Path:
        return self.dir / f"{kind}{n:05d}.dat"

    def _append(self, kind: str, n: int, payload: bytes, trailer: bytes = b"") -> BlockPos:
        pos = self._sizes.get((kind, n), 0)
        record = self.magic + len(payload).to_bytes(4, "little") + payload + trailer
        with self._path(kind, n).open("ab") as f:
            f.write(xor_at(record, self.xor_key, pos))
        self._sizes[(kind, n)] = pos + len(record)
        return BlockPos(n, pos + RECORD_HEADER_SIZE, len(payload))

    def add_block(self, raw: bytes) -> BlockPos:
        add = len(raw) + RECORD_HEADER_SIZE
        if add >= self.max_file_size:
            raise ValueError(f"a {len(raw)}-byte block cannot fit a {self.max_file_size}-byte blk file")
        # Core's FindNextBlockPos: move on while the current file plus this record would reach the max.
        if self._sizes.get(("blk", self._file), 0) + add >= self.max_file_size:
            self._file += 1
        return self._append("blk", self._file, bytes(raw))

    def add_undo(self, file: int, prev_block_hash: bytes, undo_raw: bytes) -> BlockPos:
        """Append undo data for a block stored in blk file ``file``, with Core's checksum."""
        return self._append("rev", file, bytes(undo_raw), undo_checksum(prev_block_hash, undo_raw))


def write_blk_files(
    blocks: Iterable[bytes],
    out_dir: str | Path,
    network: str | bytes = "mainnet",
    max_file_size: int = MAX_BLOCKFILE_SIZE,
    xor_key: bytes | None = None,
) -> list[BlockPos]:
    """Write blocks into blk00000.dat, blk00001.dat, ... (and xor.dat if a key is given); return positions."""
    w = BlocksDirWriter(out_dir, network, max_file_size, xor_key, kinds=("blk",))
    return [w.add_block(b) for b in blocks]


def write_rev_files(
    records: Iterable[tuple[int, bytes, bytes]],
    out_dir: str | Path,
    network: str | bytes = "mainnet",
    xor_key: bytes | None = None,
) -> list[BlockPos]:
    """Write undo records ``(blk file number, previous block hash, CBlockUndo bytes)`` into rev files.

    Meant to sit beside blk files written by write_blk_files: ``xor_key`` must match their xor.dat.
    """
    w = BlocksDirWriter(out_dir, network, MAX_BLOCKFILE_SIZE, xor_key, kinds=("rev",))
    return [w.add_undo(n, prev, undo) for n, prev, undo in records]


def write_blocks_dir(
    entries: Iterable[tuple[bytes, bytes | None]],
    out_dir: str | Path,
    network: str | bytes = "mainnet",
    max_file_size: int = MAX_BLOCKFILE_SIZE,
    xor_key: bytes | None = None,
) -> list[tuple[BlockPos, BlockPos | None]]:
    """Write ``(block, undo or None)`` pairs as Core would: undo goes to the rev file numbered like the block's blk file."""
    w = BlocksDirWriter(out_dir, network, max_file_size, xor_key)
    out = []
    for raw, undo in entries:
        bpos = w.add_block(raw)
        upos = w.add_undo(bpos.file, bytes(raw[4:36]), undo) if undo is not None else None
        out.append((bpos, upos))
    return out


def total_size(paths: Iterable[Path]) -> int:
    return sum(os.path.getsize(p) for p in paths)
