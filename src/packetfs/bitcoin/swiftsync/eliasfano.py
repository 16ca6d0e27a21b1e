"""Elias-Fano coding of one block's unspent output indices, as the SwiftSync hints-file draft defines it.

A strictly increasing list ``i_0 < ... < i_{n-1} = m`` is stored as ``n`` and ``m`` (CompactSize each), then
the low ``l = floor(log2((m + 1) / n))`` bits of every element packed one after another (``L``, ceil(n*l/8)
bytes), then the high parts ``i >> l`` as unary gaps from the previous high part (``0`` repeated gap
times, then ``1``; ``H``, ceil((n + (m >> l)) / 8) bytes). Bits fill each byte from its most significant
bit; an element's low bits go least significant first (the draft's reference crate does the same; the
draft's worked example cannot tell the two orders apart). An empty list is the single byte ``0x00``.

Decoding is exact: sizes are checked against the bytes left before anything is allocated, the padding
bits must be zero, the list must be strictly increasing and end at ``m``. See docs/swiftsync-hints.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ParseError
from ..primitives.encoding import compact_size, read_compact_size

# No block holds more outputs than this: an output is at least 9 bytes (value and an empty script's
# length) of non-witness data, 36 weight units, in at most 4,000,000 weight units.
MAX_BLOCK_OUTPUTS = 4_000_000 // 36


def low_bits(m: int, n: int) -> int:
    """The draft's l(m, n) = floor(log2((m + 1) / n)) for n >= 1, in integers."""
    return ((m + 1) // n).bit_length() - 1


def encode(indices: Sequence[int]) -> bytes:
    """The Elias-Fano serialization of strictly increasing, non-negative ``indices``."""
    n = len(indices)
    if n == 0:
        return b"\x00"
    prev = -1
    for i in indices:
        if not isinstance(i, int) or i <= prev:
            raise ValueError("indices must be strictly increasing non-negative integers")
        prev = i
    m = indices[-1]
    if m >= MAX_BLOCK_OUTPUTS:
        raise ValueError(f"index {m} is beyond any block's outputs ({MAX_BLOCK_OUTPUTS})")
    ell = low_bits(m, n)
    low = 0  # the L bitstring, as an integer, first bit most significant
    mask = (1 << ell) - 1
    for i in indices:
        v = i & mask
        for shift in range(ell):
            low = (low << 1) | ((v >> shift) & 1)
    low_len = n * ell
    high = 0
    high_len = 0
    prev_high = 0
    for i in indices:
        h = i >> ell
        gap = h - prev_high
        prev_high = h
        high = (((high << gap) << 1) | 1)
        high_len += gap + 1
    out = bytearray(compact_size(n) + compact_size(m))
    out += _pack(low, low_len)
    out += _pack(high, high_len)
    return bytes(out)


def _pack(bits: int, nbits: int) -> bytes:
    nbytes = -(-nbits // 8)
    return (bits << (nbytes * 8 - nbits)).to_bytes(nbytes, "big") if nbytes else b""


def decode(buf: bytes | memoryview, pos: int = 0) -> tuple[list[int], int]:
    """Decode one Elias-Fano list at ``buf[pos:]``; returns (indices, position after it).

    Raises ParseError (with the offset) for a truncated, oversized or non-canonical encoding."""
    start = pos
    # Both counts are bounded by what a block can hold before anything is sized from them.
    n, pos = read_compact_size(buf, pos, MAX_BLOCK_OUTPUTS)
    if n == 0:
        return [], pos
    m, pos = read_compact_size(buf, pos, MAX_BLOCK_OUTPUTS - 1)
    if n > m + 1:
        raise ParseError(f"{n} distinct indices cannot all be <= {m}", start, "n <= m + 1")
    ell = low_bits(m, n)
    low_bytes = -(-(n * ell) // 8)
    high_bits = n + (m >> ell)
    high_bytes = -(-high_bits // 8)
    if low_bytes + high_bytes > len(buf) - pos:
        raise ParseError(
            f"Elias-Fano list needs {low_bytes + high_bytes} bytes, {len(buf) - pos} left", pos, "L and H"
        )
    low = int.from_bytes(buf[pos : pos + low_bytes], "big")
    pos += low_bytes
    pad = low_bytes * 8 - n * ell
    if low & ((1 << pad) - 1):
        raise ParseError("non-zero padding after the low bits", pos - 1, "zero bits")
    low >>= pad
    high_raw = int.from_bytes(buf[pos : pos + high_bytes], "big")
    high_pos = pos
    pos += high_bytes
    if high_raw & ((1 << (high_bytes * 8 - high_bits)) - 1):
        raise ParseError("non-zero padding after the high bits", pos - 1, "zero bits")
    high_str = format(high_raw >> (high_bytes * 8 - high_bits), f"0{high_bits}b") if high_bits else ""
    mask_l = (1 << ell) - 1
    out: list[int] = []
    h = 0
    bit = 0
    low_total = n * ell
    for k in range(n):
        one = high_str.find("1", bit)
        if one < 0:
            raise ParseError(f"high bits end after {k} of {n} elements", high_pos, "a terminating 1 bit")
        h += one - bit
        bit = one + 1
        v = 0
        if ell:
            chunk = (low >> (low_total - (k + 1) * ell)) & mask_l
            # The chunk holds the element's bits least significant first: reverse them.
            for shift in range(ell):
                v |= ((chunk >> (ell - 1 - shift)) & 1) << shift
        value = (h << ell) | v
        if out and value <= out[-1]:
            raise ParseError("hint indices are not strictly increasing", high_pos, "increasing indices")
        out.append(value)
    if bit != high_bits or out[-1] != m:
        raise ParseError("Elias-Fano list does not end at its maximum index", high_pos, f"last index {m}")
    return out, pos
