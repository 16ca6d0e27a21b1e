"""Bitcoin Core's VARINT (serialize.h), the integer encoding of its disk formats (undo data, chainstate).

Not the network's compact size: this one is big-endian base-128 where every continuation byte carries
the high bit and the value it stands for is decremented by one when written. The decrement makes the
encoding a bijection: each integer has exactly one encoding, so there is nothing "non-canonical" to
reject, and decoding then re-encoding any accepted input gives the same bytes back.
"""

from __future__ import annotations

from ..errors import ParseError

UINT32_MAX = 0xFFFFFFFF
UINT64_MAX = 0xFFFFFFFFFFFFFFFF


def read_varint(buf: bytes | memoryview, offset: int, max_value: int = UINT64_MAX) -> tuple[int, int]:
    """Decode a VARINT at ``offset``; return (value, offset after it).

    ``max_value`` is the largest value of the C++ type Core reads into (2**32-1 for ``uint32_t``,
    2**64-1 for ``uint64_t``); Core throws "ReadVarInt(): size too large" as soon as the value would
    overflow that type, and so do we, which also bounds the loop to 10 bytes.
    """
    n = 0
    pos = offset
    end = len(buf)
    limit = max_value >> 7
    while True:
        if pos >= end:
            raise ParseError("truncated VARINT", pos, "a VARINT byte")
        byte = buf[pos]
        pos += 1
        if n > limit:
            raise ParseError(f"VARINT above {max_value}", offset, f"a value <= {max_value}")
        n = (n << 7) | (byte & 0x7F)
        if byte & 0x80:
            if n == max_value:
                raise ParseError(f"VARINT above {max_value}", offset, f"a value <= {max_value}")
            n += 1
        else:
            return n, pos


def varint(n: int) -> bytes:
    """Encode a non-negative integer as Core's VARINT."""
    if n < 0:
        raise ValueError("VARINT encodes non-negative integers only")
    if n <= 0x7F:  # the common case: one byte, no work
        return bytes((n,))
    out = bytearray()
    out.append(n & 0x7F)
    while n > 0x7F:
        n = (n >> 7) - 1
        out.append((n & 0x7F) | 0x80)
    out.reverse()
    return bytes(out)


def varint_len(n: int) -> int:
    """Length in bytes of ``varint(n)`` without building it."""
    length = 1
    while n > 0x7F:
        n = (n >> 7) - 1
        length += 1
    return length
