"""Compact size integers and little-endian fields, with limits checked before anything is allocated."""

from __future__ import annotations

from ..errors import ParseError

# Core refuses any compact size above this when deserializing (serialize.h MAX_SIZE).
MAX_SIZE = 0x02000000


def read_compact_size(buf: bytes | memoryview, offset: int, limit: int = MAX_SIZE) -> tuple[int, int]:
    """Decode a compact size at ``offset``; return (value, offset after it).

    Non-canonical encodings and values above ``limit`` raise ParseError, as Core does.
    """
    try:
        first = buf[offset]
    except IndexError:
        raise ParseError("truncated compact size", offset, "1 byte") from None
    if first < 0xFD:
        return first, offset + 1
    width = 2 if first == 0xFD else 4 if first == 0xFE else 8
    end = offset + 1 + width
    if end > len(buf):
        raise ParseError("truncated compact size", offset, f"{width + 1} bytes")
    value = int.from_bytes(buf[offset + 1 : end], "little")
    if value < (0xFD if width == 2 else 0x10000 if width == 4 else 0x100000000):
        raise ParseError("non-canonical compact size", offset, "the shortest encoding")
    if value > limit:
        raise ParseError(f"compact size {value} above limit {limit}", offset)
    return value, end


def compact_size(n: int) -> bytes:
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def compact_size_len(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5 if n <= 0xFFFFFFFF else 9
