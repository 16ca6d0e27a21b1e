"""What a node owns: its shard of memory and its REDUCE accumulators.

Memory is one flat byte address space of ``size`` bytes, cut into blocks of ``2**block_shift`` bytes; block
``k`` belongs to node ``k % num_nodes`` (interleaved, so arrays spread over every node). An access of n
bytes must lie inside memory and inside one block; otherwise the packet faults with BAD_ADDRESS. The first
``low`` bytes (a compiled C program's NULL page, 0 for plain programs) are not mapped: an access touching
them faults the same way.
"""

from __future__ import annotations

import math

import numpy as np

from .records import ProgramError

_U64 = np.uint64


class ShardMap:
    """Address -> owning node, and the node-local offset."""

    def __init__(self, size: int, block_shift: int, num_nodes: int, low: int = 0):
        self.size = size
        self.low = low  # addresses below it are not mapped (the NULL page)
        self.block_shift = block_shift
        self.block = 1 << block_shift
        self.num_nodes = num_nodes
        self.num_blocks = -(-size // self.block)

    def valid(self, addr: np.ndarray, nbytes: int) -> np.ndarray:
        addr = np.asarray(addr, dtype=np.uint64)
        if nbytes > self.block or nbytes > self.size - self.low:
            return np.zeros(addr.shape, dtype=bool)
        # low <= addr <= size - nbytes as one unsigned comparison: an address below low wraps to a huge one
        if self.low:
            inside = (addr - _U64(self.low)) <= _U64(self.size - nbytes - self.low)
        else:
            inside = addr <= _U64(self.size - nbytes)
        if nbytes == 1:  # a byte never crosses a block
            return inside
        # inside one block: the offset in the block leaves room for nbytes (an address near 2**64 is not
        # inside anyway, so nothing wraps that matters)
        return inside & ((addr & _U64(self.block - 1)) <= _U64(self.block - nbytes))

    def owner(self, addr: np.ndarray) -> np.ndarray:
        return ((np.asarray(addr, dtype=np.uint64) >> _U64(self.block_shift)) % _U64(self.num_nodes)).astype(np.uint32)

    def local_offset(self, addr: np.ndarray) -> np.ndarray:
        addr = np.asarray(addr, dtype=np.uint64)
        blk = addr >> _U64(self.block_shift)
        return ((blk // _U64(self.num_nodes)) << _U64(self.block_shift)) | (addr & _U64(self.block - 1))

    def blocks_of(self, node: int) -> range:
        return range(node, self.num_blocks, self.num_nodes)


class NodeMemory:
    """One node's shard: the blocks it owns, back to back."""

    def __init__(self, shard: ShardMap, node: int, image: bytes | memoryview = b""):
        self.shard = shard
        self.node = node
        blocks = shard.blocks_of(node)
        self.data = np.zeros(len(blocks) * shard.block, dtype=np.uint8)
        img = np.frombuffer(image, dtype=np.uint8)
        for i, k in enumerate(blocks):
            lo = k * shard.block
            if lo >= len(img):
                break
            chunk = img[lo : lo + shard.block]
            self.data[i * shard.block : i * shard.block + len(chunk)] = chunk

    def read(self, addr: np.ndarray, width: int, count: int) -> np.ndarray:
        """(m, count) uint64 values of ``width`` bytes each, little-endian, zero-extended."""
        n = width * count
        idx = self.shard.local_offset(addr).astype(np.int64)[:, None] + np.arange(n)
        raw = self.data[idx].reshape(len(addr), count, width)
        out = np.zeros((len(addr), count, 8), dtype=np.uint8)
        out[:, :, :width] = raw
        return out.view("<u8").reshape(len(addr), count)

    def write(self, addr: np.ndarray, width: int, count: int, values: np.ndarray) -> None:
        n = width * count
        idx = self.shard.local_offset(addr).astype(np.int64)[:, None] + np.arange(n)
        b = np.ascontiguousarray(values, dtype="<u8").reshape(len(addr), count, 1).view(np.uint8)
        self.data[idx] = b.reshape(len(addr), count, 8)[:, :, :width].reshape(len(addr), n)

    def blocks(self) -> list[tuple[int, np.ndarray]]:
        """(global block index, bytes) for every block this node owns."""
        b = self.shard.block
        return [(k, self.data[i * b : (i + 1) * b]) for i, k in enumerate(self.shard.blocks_of(self.node))]


def assemble_memory(shard: ShardMap, parts: list[tuple[int, bytes]]) -> bytes:
    """The whole image from (block index, block bytes) pairs of every node."""
    out = bytearray(shard.num_blocks * shard.block)
    for k, data in parts:
        out[k * shard.block : (k + 1) * shard.block] = bytes(data)
    return bytes(out[: shard.size])


def exact_sum(values: np.ndarray) -> float:
    """The correctly rounded sum of float64 ``values`` (math.fsum), with IEEE results where fsum raises:
    NaN for a NaN term or inf + -inf, the infinity itself, and a signed infinity on overflow."""
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v).all():
        pos, neg = bool(np.isposinf(v).any()), bool(np.isneginf(v).any())
        if np.isnan(v).any() or (pos and neg):
            return math.nan
        return math.inf if pos else -math.inf
    try:
        return math.fsum(v.tolist())
    except OverflowError:
        return math.copysign(math.inf, math.fsum((v * 2.0**-64).tolist()))


class Accumulators:
    """REDUCE accumulators of one node (or merged over nodes). Every kind is order-independent: wrapping
    add, xor, min, max exactly; float sums keep their terms and are summed once with math.fsum (correctly
    rounded), so the result never depends on which node or in what order packets arrived."""

    def __init__(self) -> None:
        self.kind: dict[int, tuple[str, bool]] = {}
        self.value: dict[int, int] = {}
        self.terms: dict[int, list[np.ndarray]] = {}

    def combine(self, index: int, kind: str, signed: bool, values: np.ndarray) -> None:
        prev = self.kind.setdefault(index, (kind, signed))
        if prev != (kind, signed):
            raise ProgramError(f"accumulator {index} reduced with {prev} and {(kind, signed)}")
        values = np.asarray(values, dtype=np.uint64)
        if kind == "FSUM":
            self.terms.setdefault(index, []).append(values.view(np.float64).copy())
            return
        if kind == "ADD":
            v = int(values.sum(dtype=np.uint64))
        elif kind == "XOR":
            v = int(np.bitwise_xor.reduce(values)) if len(values) else 0
        elif kind in ("MIN", "MAX"):
            vv = values.view(np.int64) if signed else values
            v = int(vv.min() if kind == "MIN" else vv.max()) & (2**64 - 1)
        else:
            raise ProgramError(f"unknown reduce kind {kind}")
        self._fold(index, kind, signed, v)

    def _fold(self, index: int, kind: str, signed: bool, v: int) -> None:
        if index not in self.value:
            self.value[index] = v
            return
        old = self.value[index]
        if kind == "ADD":
            self.value[index] = (old + v) & (2**64 - 1)
        elif kind == "XOR":
            self.value[index] = old ^ v
        else:
            key = (lambda x: x - 2**64 if x >= 2**63 else x) if signed else (lambda x: x)
            pick = min if kind == "MIN" else max
            self.value[index] = pick(old, v, key=key)

    def merge(self, other: Accumulators) -> None:
        for index, (kind, signed) in other.kind.items():
            prev = self.kind.setdefault(index, (kind, signed))
            if prev != (kind, signed):
                raise ProgramError(f"accumulator {index} reduced with {prev} and {(kind, signed)}")
            if kind == "FSUM":
                self.terms.setdefault(index, []).extend(other.terms.get(index, []))
            elif index in other.value:
                self._fold(index, kind, signed, other.value[index])

    def export(self) -> dict:
        """Plain data (for pipes and Ray): {index: [kind, signed, value or float64 bytes]}."""
        out = {}
        for index, (kind, signed) in self.kind.items():
            if kind == "FSUM":
                terms = self.terms.get(index, [])
                out[index] = [kind, signed, (np.concatenate(terms) if terms else np.zeros(0)).tobytes()]
            else:
                out[index] = [kind, signed, self.value.get(index, 0)]
        return out

    @classmethod
    def from_export(cls, data: dict) -> Accumulators:
        acc = cls()
        for index, (kind, signed, v) in data.items():
            acc.kind[int(index)] = (kind, bool(signed))
            if kind == "FSUM":
                acc.terms[int(index)] = [np.frombuffer(v, dtype=np.float64)]
            else:
                acc.value[int(index)] = int(v)
        return acc

    def final(self) -> dict[int, int | float]:
        out: dict[int, int | float] = {}
        for index, (kind, _signed) in sorted(self.kind.items()):
            if kind == "FSUM":
                terms = self.terms.get(index, [])
                out[index] = exact_sum(np.concatenate(terms)) if terms else 0.0
            else:
                out[index] = self.value.get(index, 0)
        return out
