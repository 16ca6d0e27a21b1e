"""Block headers, blocks, merkle roots and the BIP141 witness commitment."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ParseError
from .encoding import compact_size
from .hashes import _sha256, hash_to_hex
from .transaction import Transaction, _read_size

HEADER_SIZE = 80
# Core's MAX_BLOCK_WEIGHT / WITNESS_SCALE_FACTOR: no valid block serializes larger, so the
# parser refuses anything bigger before it looks at the transactions.
MAX_BLOCK_SERIALIZED_SIZE = 4_000_000
MIN_TX_SIZE = 10  # version + 1-byte in count + 1-byte out count + locktime
WITNESS_COMMITMENT_HEADER = bytes.fromhex("6a24aa21a9ed")


class BlockHeader:
    """The 80-byte header; the hash is computed once and cached."""

    __slots__ = ("version", "prev_hash", "merkle_root", "time", "bits", "nonce", "_hash", "_raw")

    def __init__(self, version: int, prev_hash: bytes, merkle_root: bytes, time: int, bits: int, nonce: int):
        self.version = version
        self.prev_hash = prev_hash
        self.merkle_root = merkle_root
        self.time = time
        self.bits = bits
        self.nonce = nonce
        self._hash = None
        self._raw = None

    @classmethod
    def parse(cls, buf: bytes | memoryview, offset: int = 0) -> BlockHeader:
        if offset + HEADER_SIZE > len(buf):
            raise ParseError("truncated block header", offset, "80 bytes")
        raw = bytes(buf[offset : offset + HEADER_SIZE])
        h = cls(
            int.from_bytes(raw[0:4], "little", signed=True),
            raw[4:36],
            raw[36:68],
            int.from_bytes(raw[68:72], "little"),
            int.from_bytes(raw[72:76], "little"),
            int.from_bytes(raw[76:80], "little"),
        )
        h._raw = raw
        return h

    def serialize(self) -> bytes:
        if self._raw is None:
            self._raw = b"".join(
                (
                    self.version.to_bytes(4, "little", signed=True),
                    self.prev_hash,
                    self.merkle_root,
                    self.time.to_bytes(4, "little"),
                    self.bits.to_bytes(4, "little"),
                    self.nonce.to_bytes(4, "little"),
                )
            )
        return self._raw

    @property
    def hash(self) -> bytes:
        if self._hash is None:
            self._hash = _sha256(_sha256(self.serialize()).digest()).digest()
        return self._hash

    @property
    def hash_hex(self) -> str:
        return hash_to_hex(self.hash)

    def target(self) -> int:
        """The target ``bits`` encodes; raises ValueError for a negative or overflowing encoding."""
        return bits_to_target(self.bits)

    def __setattr__(self, name: str, value: object) -> None:
        # Changing a field invalidates the cached encoding and hash (used by miners and tests).
        object.__setattr__(self, name, value)
        if name not in ("_hash", "_raw"):
            object.__setattr__(self, "_hash", None)
            object.__setattr__(self, "_raw", None)

    def __repr__(self) -> str:
        return f"BlockHeader({self.hash_hex})"


def bits_to_target(bits: int) -> int:
    """Decode the compact target as Core's arith_uint256::SetCompact, rejecting negative/overflow."""
    exponent = bits >> 24
    mantissa = bits & 0x007FFFFF
    if exponent <= 3:
        target = mantissa >> (8 * (3 - exponent))
    else:
        target = mantissa << (8 * (exponent - 3))
    negative = mantissa != 0 and (bits & 0x00800000) != 0
    overflow = mantissa != 0 and (
        exponent > 34 or (mantissa > 0xFF and exponent > 33) or (mantissa > 0xFFFF and exponent > 32)
    )
    if negative or overflow:
        raise ValueError(f"invalid compact target 0x{bits:08x}")
    return target


def target_to_bits(target: int) -> int:
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        compact = target << (8 * (3 - size))
    else:
        compact = target >> (8 * (size - 3))
    if compact & 0x00800000:
        compact >>= 8
        size += 1
    return compact | (size << 24)


def merkle_root(hashes: Sequence[bytes]) -> tuple[bytes, bool]:
    """Merkle root of ``hashes`` and whether the tree is mutated (CVE-2012-2459).

    A level with two identical adjacent nodes means a different, shorter transaction list has the
    same root, so a block with that property is treated as possibly-mutated by Core.
    """
    if not hashes:
        return bytes(32), False
    level = list(hashes)
    mutated = False
    while len(level) > 1:
        for i in range(0, len(level) - 1, 2):
            if level[i] == level[i + 1]:
                mutated = True
        if len(level) & 1:
            level.append(level[-1])
        level = [_sha256(_sha256(level[i] + level[i + 1]).digest()).digest() for i in range(0, len(level), 2)]
    return level[0], mutated


class Block:
    """A block: header plus transactions, parsed lazily over one buffer."""

    __slots__ = ("header", "transactions", "_raw", "_size")

    def __init__(self, header: BlockHeader, transactions: Sequence[Transaction]):
        self.header = header
        self.transactions = list(transactions)
        self._raw = None
        self._size = None

    @classmethod
    def parse(cls, buf: bytes | memoryview, offset: int = 0, end: int | None = None) -> Block:
        """Parse one block at ``offset``; the buffer is kept, not copied."""
        if end is None:
            end = len(buf)
        header = BlockHeader.parse(buf, offset)
        n_tx, o = _read_size(buf, offset + HEADER_SIZE, end)
        if n_tx * MIN_TX_SIZE > end - o:
            raise ParseError(f"transaction count {n_tx} exceeds the remaining bytes", offset + HEADER_SIZE)
        parse_tx = Transaction.parse
        txs = [None] * n_tx
        for i in range(n_tx):
            try:
                tx = parse_tx(buf, o, end)
            except ParseError as e:
                raise ParseError(f"transaction {i}: {e.reason}", e.offset, e.expected) from None
            txs[i] = tx
            o = tx._end
        block = cls.__new__(cls)
        block.header = header
        block.transactions = txs
        block._raw = buf if (offset == 0 and o == len(buf) and isinstance(buf, bytes)) else None
        block._size = o - offset
        return block

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> Block:
        if len(data) > MAX_BLOCK_SERIALIZED_SIZE:
            raise ParseError(f"block of {len(data)} bytes above {MAX_BLOCK_SERIALIZED_SIZE}", 0)
        block = cls.parse(data)
        if block._size != len(data):
            raise ParseError("trailing bytes after block", block._size, "end of data")
        return block

    @property
    def size(self) -> int:
        return self._size if self._size is not None else len(self.serialize())

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def hash_hex(self) -> str:
        return self.header.hash_hex

    def serialize(self) -> bytes:
        if self._raw is not None:
            return self._raw
        return b"".join(
            [self.header.serialize(), compact_size(len(self.transactions))] + [t.serialize() for t in self.transactions]
        )

    def txids(self) -> list[bytes]:
        return [t.txid for t in self.transactions]

    def compute_merkle_root(self) -> tuple[bytes, bool]:
        return merkle_root(self.txids())

    def compute_witness_merkle_root(self) -> bytes:
        # The coinbase's wtxid is defined as zero.
        hashes = [bytes(32)] + [t.wtxid for t in self.transactions[1:]]
        return merkle_root(hashes)[0]

    def witness_commitment(self) -> bytes | None:
        """The BIP141 commitment in the coinbase (last matching output), or None."""
        if not self.transactions:
            return None
        return find_witness_commitment(self.transactions[0])

    @property
    def weight(self) -> int:
        return sum(t.weight for t in self.transactions) + (HEADER_SIZE + len(compact_size(len(self.transactions)))) * 4

    def __repr__(self) -> str:
        return f"Block({self.hash_hex}, {len(self.transactions)} txs)"


def find_witness_commitment(coinbase: Transaction) -> bytes | None:
    found = None
    for out in coinbase.outputs:
        spk = out.script_pubkey
        if len(spk) >= 38 and spk[:6] == WITNESS_COMMITMENT_HEADER:
            found = spk[6:38]
    return found


def witness_commitment_hash(witness_root: bytes, reserved_value: bytes) -> bytes:
    return _sha256(_sha256(witness_root + reserved_value).digest()).digest()
