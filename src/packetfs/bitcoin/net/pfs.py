"""PacketFS compressed block relay: sendpfs, getpfsblks, pfsblock (docs/pfs-relay.md).

A peer that sets ``NODE_PFS`` (service bit 24, in the experimental range 24-31) and sends ``sendpfs`` after
verack may be asked for blocks with ``getpfsblks``; it answers each hash with a ``pfsblock`` (the block as a
codec frame) or, if it cannot encode one, a plain ``block``; a hash it does not have goes in ``notfound``.

A chain-context frame names the transactions its inputs spend as (height, position) on the sender's active
chain; the message lists those locations beside the frame, so the receiver resolves them on its own chain
before handing the frame to a decoding process. The list is a hint the receiver never trusts: a frame that
needs a location the list lacks, or a location that resolves to the wrong txid, fails to decode (the codec
checks a CRC of the block) and the block hash is checked against the header that was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..primitives.encoding import compact_size
from .limits import MAX_PROTOCOL_MESSAGE_LENGTH
from .message import Message
from .reader import Reader

NODE_PFS = 1 << 24
PFS_VERSION = 1
MAX_PFS_REQUEST = 128  # hashes per getpfsblks (the download window asks at most 16 per peer)
MAX_PFS_LOCATIONS = 100_000  # a 4 MB block holds at most ~97,500 inputs (41 bytes each)
MAX_PFS_FRAME = MAX_PROTOCOL_MESSAGE_LENGTH - 64  # the frame, with the rest, fits one protocol message
MAX_PFS_HEIGHT = (1 << 31) - 1
MAX_PFS_POSITION = 1 << 20  # a 4 MB block holds fewer than 2^20 transactions

MODE_ISOLATED = 0  # the frame decodes with no context
MODE_CHAIN = 1  # prevouts as (height, position) on the sender's active chain


@dataclass(frozen=True, slots=True)
class SendPfs(Message):
    """``sendpfs``: the sender accepts getpfsblks for frames of this relay version."""

    command: ClassVar[str] = "sendpfs"
    max_payload: ClassVar[int] = 4

    version: int = PFS_VERSION

    def encode(self) -> bytes:
        return self.version.to_bytes(4, "little")

    @classmethod
    def read(cls, r: Reader) -> SendPfs:
        return cls(r.u32())


@dataclass(frozen=True, slots=True)
class GetPfsBlocks(Message):
    """``getpfsblks``: these blocks, please, as codec frames (witness data included)."""

    command: ClassVar[str] = "getpfsblks"
    max_payload: ClassVar[int] = 9 + MAX_PFS_REQUEST * 32

    hashes: tuple[bytes, ...]

    def encode(self) -> bytes:
        return compact_size(len(self.hashes)) + b"".join(self.hashes)

    @classmethod
    def read(cls, r: Reader) -> GetPfsBlocks:
        n = r.count(MAX_PFS_REQUEST, 32)
        if n == 0:
            raise r.fail("empty getpfsblks", "at least one hash")
        return cls(tuple(r.hash() for _ in range(n)))


@dataclass(frozen=True, slots=True)
class PfsBlock(Message):
    """``pfsblock``: block hash | mode (u8) | locations | frame (var bytes).

    Locations (MODE_CHAIN only; empty otherwise): a count, then per location, sorted by (height, position)
    and distinct, the height as a compact size delta from the previous location's height (the first from 0)
    and the position as a compact size.
    """

    command: ClassVar[str] = "pfsblock"
    max_payload: ClassVar[int] = MAX_PROTOCOL_MESSAGE_LENGTH

    block_hash: bytes
    mode: int
    locations: tuple[tuple[int, int], ...]
    frame: bytes

    def encode(self) -> bytes:
        parts = [self.block_hash, bytes((self.mode,)), compact_size(len(self.locations))]
        prev = 0
        for height, pos in self.locations:
            parts.append(compact_size(height - prev))
            parts.append(compact_size(pos))
            prev = height
        parts.append(compact_size(len(self.frame)))
        parts.append(self.frame)
        return b"".join(parts)

    @classmethod
    def read(cls, r: Reader) -> PfsBlock:
        block_hash = r.hash()
        mode = r.u8()
        if mode not in (MODE_ISOLATED, MODE_CHAIN):
            raise r.fail(f"unknown frame mode {mode}", "0 or 1")
        n = r.count(MAX_PFS_LOCATIONS, 2)
        if n and mode != MODE_CHAIN:
            raise r.fail("locations in an isolated frame", "no locations")
        locations = []
        height = 0
        last = (-1, -1)
        for _ in range(n):
            height += r.compact(MAX_PFS_HEIGHT)
            pos = r.compact(MAX_PFS_POSITION)
            if height > MAX_PFS_HEIGHT:
                raise r.fail(f"location height {height} above {MAX_PFS_HEIGHT}")
            if (height, pos) <= last:
                raise r.fail("locations not sorted and distinct", "ascending (height, position)")
            last = (height, pos)
            locations.append(last)
        frame = r.var_bytes(MAX_PFS_FRAME)
        if not frame:
            raise r.fail("empty frame", "a codec frame")
        return cls(block_hash, mode, tuple(locations), frame)

    def __repr__(self) -> str:
        return f"PfsBlock({self.block_hash[::-1].hex()}, mode {self.mode}, {len(self.frame)} bytes)"


PFS_MESSAGES: tuple[type[Message], ...] = (SendPfs, GetPfsBlocks, PfsBlock)
