"""Where every block and its undo data sit in a Core blocks directory, without keeping their bytes.

The importer needs the headers up front (to know the chain) but the blocks themselves only where they
are validated: one pass reads each blk and rev file once and keeps, per block, its header and the
locations of its block and undo records. Workers then read their own blocks (``RecordRef.read``), so
the parent's memory does not grow with the chain and nothing is pickled to local workers.

Undo records are matched to blocks as Core's files allow without its block index: a record's
checksum is sha256d(parent hash || CBlockUndo), and a rev file holds the undo data of the blocks of
the blk file with the same number. Core writes both mostly in the same order, so the search starts
after the last match (one hash per record in the usual case).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParseError
from ..primitives.block import BlockHeader
from ..primitives.hashes import sha256d
from ..storage.blockfiles import BlocksDir, file_number, iter_blk_file, iter_rev_file, read_record_at
from ..storage.undo import undo_checksum


@dataclass(frozen=True)
class RecordRef:
    """A record's payload in a blk or rev file: path, Core's data offset (nPos), size and the xor key."""

    path: str
    offset: int
    size: int
    xor_key: bytes

    def read(self) -> bytes:
        data = read_record_at(self.path, self.offset, self.xor_key)
        if len(data) != self.size:
            raise ParseError(f"{Path(self.path).name}: record at {self.offset} changed size", self.offset)
        return data


@dataclass(frozen=True)
class ScannedBlock:
    header: BlockHeader
    block_hash: bytes
    block: RecordRef
    undo: RecordRef | None


def scan_blocks_dir(source: BlocksDir) -> list[ScannedBlock]:
    """Every block record of ``source`` in file order, with the location of its undo record if any.

    Raises ParseError for malformed files, or an undo record that matches no block of its blk file."""
    key = source.xor_key if source.xor_key is not None else b""
    magic = source.detect_magic()
    revs = {file_number(p): p for p in source.rev_files}
    out: list[ScannedBlock] = []
    for blk in source.blk_files:
        blocks: list[tuple[BlockHeader, bytes, RecordRef]] = []
        for rec in iter_blk_file(blk, magic, key):
            header = BlockHeader.parse(rec.raw[:80])
            blocks.append((header, sha256d(rec.raw[:80]), RecordRef(str(blk), rec.data_offset, len(rec.raw), key)))
        undo_of: dict[int, RecordRef] = {}
        rev = revs.get(file_number(blk))
        if rev is not None:
            cursor = 0
            for urec in iter_rev_file(rev, magic, key):
                for i in _from(cursor, len(blocks)):
                    if i not in undo_of and undo_checksum(blocks[i][0].prev_hash, urec.undo_raw) == urec.checksum:
                        undo_of[i] = RecordRef(str(rev), urec.data_offset, len(urec.undo_raw), key)
                        cursor = i + 1
                        break
                else:
                    raise ParseError(f"{Path(rev).name}: undo record matches no block of {blk.name}", urec.offset,
                                     "a checksum over the parent hash of a block in the blk file")  # fmt: skip
        out.extend(ScannedBlock(h, bh, ref, undo_of.get(i)) for i, (h, bh, ref) in enumerate(blocks))
    return out


def _from(cursor: int, n: int) -> Iterator[int]:
    yield from range(cursor, n)
    yield from range(cursor)
