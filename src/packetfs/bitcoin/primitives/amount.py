"""Core's compressed amount form (compressor.cpp): the encoding undo data, the UTXO set and the
codec share. Trailing decimal zeros are folded into the number, so round amounts become small."""

from __future__ import annotations

UINT64_MAX = (1 << 64) - 1


def compress_amount(n: int) -> int:
    """Core's CompressAmount: strip up to nine trailing decimal zeros and fold the last digit in.

    ``n`` is taken modulo 2**64, as Core converts the (signed) CAmount to uint64_t.
    """
    n &= UINT64_MAX
    if n == 0:
        return 0
    e = 0
    while n % 10 == 0 and e < 9:
        n //= 10
        e += 1
    if e < 9:
        d = n % 10
        n //= 10
        return 1 + (n * 9 + d - 1) * 10 + e
    return 1 + (n - 1) * 10 + 9


def decompress_amount(x: int) -> int:
    """Core's DecompressAmount, the exact inverse of compress_amount for every amount it can produce.

    Returns the mathematical result; a result that does not fit a uint64 (only possible for inputs Core
    never writes) is the caller's to reject.
    """
    if x == 0:
        return 0
    x -= 1
    e = x % 10
    x //= 10
    if e < 9:
        d = x % 9 + 1
        x //= 9
        n = x * 10 + d
    else:
        n = x + 1
    return n * 10**e
