"""Public-key recovery: the key a signature was made with, found again from (r, s) and the signed
message (libsecp256k1 through coincurve), so that a key the signature commits to need not be stored."""

from __future__ import annotations

from coincurve._libsecp256k1 import ffi as _ffi
from coincurve._libsecp256k1 import lib as _lib
from coincurve.context import GLOBAL_CONTEXT as _SECP

from .forms import (
    der_to_rs,
)


class _Recoverer:
    """Public-key recovery through libsecp256k1 (coincurve's cffi binding) with buffers reused across
    calls: the PublicKey-object route costs several allocations and Python calls per key, which is a
    measurable share of decoding. One instance per encoder/decoder (cffi releases the GIL during the
    calls, so the buffers must not be shared between threads)."""

    __slots__ = ("sig", "pub", "out", "outlen")

    def __init__(self) -> None:
        self.sig = _ffi.new("secp256k1_ecdsa_recoverable_signature *")
        self.pub = _ffi.new("secp256k1_pubkey *")
        self.out = _ffi.new("unsigned char[65]")
        self.outlen = _ffi.new("size_t *")

    def __call__(self, rs: bytes, recid: int, msg: bytes, compressed: bool) -> bytes | None:
        """The serialized key recovered from (r||s, recid) over the 32-byte ``msg``, or None."""
        ctx = _SECP.ctx
        if not _lib.secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, self.sig, rs, recid):
            return None
        if not _lib.secp256k1_ecdsa_recover(ctx, self.pub, self.sig, msg):
            return None
        self.outlen[0] = 65
        _lib.secp256k1_ec_pubkey_serialize(
            ctx, self.out, self.outlen, self.pub, _EC_COMPRESSED if compressed else _EC_UNCOMPRESSED
        )
        return _ffi.buffer(self.out, self.outlen[0])[:]


_EC_COMPRESSED = _lib.SECP256K1_EC_COMPRESSED
_EC_UNCOMPRESSED = _lib.SECP256K1_EC_UNCOMPRESSED


def _find_recid(recover: _Recoverer, rs: bytes, msg: bytes, key: bytes, memo: dict | None = None) -> int | None:
    """The recovery id that gives ``key`` back, recorded in ``memo`` as the recovery's result (see
    :class:`_MemoRecoverer`)."""
    compressed = len(key) == 33
    for recid in range(4):
        if recover(rs, recid, msg, compressed) == key:
            if memo is not None:
                memo[(rs, recid, msg, compressed)] = key
            return recid
    return None


class _MemoRecoverer:
    """The self-check decode's recovery: a recovery the encoder already ran, with exactly these inputs,
    answers from its result; any other is run. Recovery is a function of (r||s, recid, message,
    compressed), so this gives the decoder's result exactly: a message the decoder computed
    differently from the encoder is a miss, recovered for real, and the check still sees the difference."""

    __slots__ = ("memo", "rec")

    def __init__(self, memo: dict) -> None:
        self.memo = memo
        self.rec = _Recoverer()

    def __call__(self, rs: bytes, recid: int, msg: bytes, compressed) -> bytes | None:
        key = self.memo.get((rs, recid, msg, bool(compressed)))
        return key if key is not None else self.rec(rs, recid, msg, compressed)


def _parse_sig_item(d: bytes) -> tuple[bytes, int] | None:
    """(r||s, sighash byte) for a DER signature plus sighash byte that re-encodes exactly."""
    if len(d) < 9 or d[0] != 0x30:
        return None
    rs = der_to_rs(d[:-1])
    if rs is None:
        return None
    return rs, d[-1]


def _is_key(d: bytes) -> bool:
    n = len(d)
    return (n == 33 and d[0] in (2, 3)) or (n == 65 and d[0] == 4)




class RecordingRecoverer(_Recoverer):
    """The decoder's recovery, noting each key it recovers as a proven ECDSA check
    (script/sigcache.py: recovering Q from (r||s, recid, msg) proves (r||s) valid under Q for msg), so
    that validating the decoded block can skip the curve check it would repeat."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[bytes] = []

    def __call__(self, rs: bytes, recid: int, msg: bytes, compressed: bool) -> bytes | None:
        # The entry is sigcache.entry(rs, key, msg) (tests/bitcoin/codec/test_decode_parts.py checks it).
        key = _Recoverer.__call__(self, rs, recid, msg, compressed)
        if key is not None:
            self.entries.append(rs + msg + key)
        return key


class NotingRecoverer(_Recoverer):
    """The decoder's recovery, noting each recovery that gave a key: ``known[(r||s, msg, compressed)] =
    (recid, key)``, for :class:`KnownRecoverer` when the same block is encoded again (relay)."""

    __slots__ = ("known",)

    def __init__(self, known: dict) -> None:
        super().__init__()
        self.known = known

    def __call__(self, rs: bytes, recid: int, msg: bytes, compressed: bool) -> bytes | None:
        key = _Recoverer.__call__(self, rs, recid, msg, compressed)
        if key is not None:
            self.known[(rs, msg, bool(compressed))] = (recid, key)
        return key


class KnownRecoverer(_Recoverer):
    """The encoder's recovery when the block's recoveries are already known (noted by
    :class:`NotingRecoverer` while decoding it): the noted recovery id gives the noted key; any other id
    gives None, which is what the encoder's search needs (``_find_recid`` only compares with the key, and
    another recovery id never recovers the same key: it names another point R, and r^-1(sR - eG)
    differs). Anything not noted is recovered for real. ``known`` must come from real recoveries."""

    __slots__ = ("known",)

    def __init__(self, known: dict) -> None:
        super().__init__()
        self.known = known

    def __call__(self, rs: bytes, recid: int, msg: bytes, compressed: bool) -> bytes | None:
        hit = self.known.get((rs, msg, bool(compressed)))
        if hit is not None:
            return hit[1] if hit[0] == recid else None
        return _Recoverer.__call__(self, rs, recid, msg, compressed)
