"""ECDSA checks already proven by public-key recovery (Core's signature cache, filled by recovery).

A receiver decoding a codec frame recovers each elided public key Q from (r, s, recid) and the
signature hash e it computed: Q = r^-1 (s R - e G), with R the point of x-coordinate r (+ n for
recid 2, 3) and y-parity given by recid. ECDSA verification of (r, s) under Q for e computes
u1 G + u2 Q = (e/s) G + (r/s) r^-1 (s R - e G) = R, whose x is r mod n: the check passes. With S
negated (n - s, what Core's low-S normalisation may do) the point is -R, same x: it passes too. So
"libsecp256k1 recovered key Q from (r||s, recid, e)" proves "verify_ecdsa(r||s, Q, e) is True", and
the later script check can take that answer instead of running the curve check a second time.

Only the curve check is answered here. The script interpreter still does everything else exactly as
without the cache: signature encoding rules (strict DER, low S, hash type), key encoding rules, which
key and which signature hash the script asks for. An entry is keyed by the exact (r||s, key bytes,
message) triple, so a check that differs in any of them (another sighash type, another amount in a
BIP143 hash, a hybrid or differently encoded key) misses and is verified for real. Entries are added
only with :func:`admit`, from what the codec's recording recoverer noted (a recovery libsecp256k1
performed, codec/recovery.py ``RecordingRecoverer``, possibly in a worker process); a hit is consumed (each signature is checked once per
block), and the cache keeps at most ``MAX_ENTRIES``, dropping the oldest.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_ENTRIES = 1 << 18  # ~40 MB at most: several blocks' worth of the largest blocks' signatures

# entry bytes (r||s, message, key) -> None; insertion-ordered, so the oldest go first when full.
PROVEN: dict[bytes, None] = {}
# [entries admitted, checks answered] since the process started (or ``clear``)
COUNTS = [0, 0]


def entry(compact: bytes, pubkey: bytes, msg32: bytes) -> bytes:
    """The cache key of ``verify_ecdsa(compact, pubkey, msg32)``: fixed offsets, the key last."""
    return compact + msg32 + pubkey


def admit(entries: Iterable[bytes]) -> None:
    """Record proven checks (:func:`entry` of a key libsecp256k1 recovered from r||s over msg32)."""
    before = len(PROVEN)
    PROVEN.update(dict.fromkeys(entries))
    COUNTS[0] += len(PROVEN) - before
    excess = len(PROVEN) - MAX_ENTRIES
    if excess > 0:
        it = iter(PROVEN)
        for old in [next(it) for _ in range(excess)]:
            del PROVEN[old]


def take(compact: bytes, pubkey: bytes, msg32: bytes) -> bool:
    """True (once) if recovery proved this exact check valid; the check's one hook (script/crypto.py)."""
    if PROVEN.pop(compact + msg32 + pubkey, 1) is None:
        COUNTS[1] += 1
        return True
    return False


def clear() -> None:
    PROVEN.clear()
    COUNTS[:] = [0, 0]
