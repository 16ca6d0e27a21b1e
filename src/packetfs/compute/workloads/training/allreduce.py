"""The gradients' wire format: fixed-point integers, two to a 64-bit word, so that sums are exact.

Gradients are quantized to 32-bit fixed point (``FRACTION_BITS`` fractional bits, round half to even), as
SwitchML quantizes to 32-bit integers so a switch can add them, and two values share each 64-bit slot
(``(hi << 32) + lo``): a wrapping 64-bit add of packed words adds both halves, the low half's carry
landing in the high half, and as long as each sum fits in 31 bits both are recovered exactly
(``unpack_pairs``). Integer addition is associative, so the sum, and with it the whole training run, is the
same whatever the order packets arrive in, the backend or the number of processes.

The nodes that add these words (a SwitchML-style aggregator, a ring) are in nodes.py.
"""

from __future__ import annotations

import numpy as np

from ..errors import VerificationError

FRACTION_BITS = 20


def quantize(g: np.ndarray, workers: int) -> np.ndarray:
    """float64 gradient -> int64 holding 32-bit fixed point; refuses values whose K-fold sum could leave
    31 bits (the packed halves would then no longer separate)."""
    scaled = np.rint(g * float(1 << FRACTION_BITS))
    limit = float(1 << 31) / max(workers, 1)
    if not np.all(np.abs(scaled) < limit):
        raise VerificationError("a gradient is too large for the 32-bit fixed-point format (training diverged?)")
    return scaled.astype(np.int64)


def pack_pairs(q: np.ndarray, words: int) -> np.ndarray:
    """int values (|v| < 2**31) -> ``words`` uint64 words, value 2i in the low half of word i, 2i+1 high."""
    padded = np.zeros(2 * words, dtype=np.int64)
    padded[: len(q)] = q
    lo, hi = padded[0::2], padded[1::2]
    return ((hi << np.int64(32)) + lo).view(np.uint64)


def unpack_pairs(words: np.ndarray, n: int) -> np.ndarray:
    """Inverse of pack_pairs on a sum of packed words (each half's sum within 31 bits)."""
    w = words.view(np.int64)
    lo = (w << np.int64(32)) >> np.int64(32)  # sign-extend the low half
    hi = (w - lo) >> np.int64(32)
    out = np.empty(2 * len(w), dtype=np.int64)
    out[0::2], out[1::2] = lo, hi
    return out[:n]


def dequantize(q: np.ndarray) -> np.ndarray:
    return q.astype(np.float64) / float(1 << FRACTION_BITS)
