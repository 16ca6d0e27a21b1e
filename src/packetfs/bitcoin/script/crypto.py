"""Signature checks through libsecp256k1 (coincurve's bundled build): ECDSA with Core's lax DER
parsing and low-S normalisation, BIP340 Schnorr, and the BIP341 tweak check. No curve math here.

coincurve's high-level classes allocate and re-parse on every call; block validation calls these
hundreds of thousands of times, so we call the same libsecp256k1 functions through coincurve's cffi
module directly, and keep parsed public keys in a small cache (a key is often reused within a block,
and parsing an uncompressed or compressed key costs a field square root).

``STATS`` counts the time spent inside libsecp256k1 when ``enable_stats(True)`` (the benchmark uses
it to report how much of a verification is crypto); off by default, so it costs one branch.
"""

from __future__ import annotations

import time

from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

from .sigcache import PROVEN as _PROVEN
from .sigcache import take as _proven_take

_CTX = GLOBAL_CONTEXT.ctx
_ecdsa_verify = lib.secp256k1_ecdsa_verify
_parse_compact = lib.secp256k1_ecdsa_signature_parse_compact
_normalize = lib.secp256k1_ecdsa_signature_normalize
_pubkey_parse = lib.secp256k1_ec_pubkey_parse
_xonly_parse = lib.secp256k1_xonly_pubkey_parse
_schnorr_verify = lib.secp256k1_schnorrsig_verify
_tweak_check = lib.secp256k1_xonly_pubkey_tweak_add_check
_perf = time.perf_counter

_ZERO64 = bytes(64)
_new = ffi.new
_SIG_T = ffi.typeof("secp256k1_ecdsa_signature *")
_PUBKEY_T = ffi.typeof("secp256k1_pubkey *")
# (n - 1) / 2 as 32 big-endian bytes: an S above it needs normalising (bytes compare as numbers here).
_HALF_ORDER = bytes.fromhex("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0")
_MISS = object()

_PUBKEY_CACHE: dict[bytes, object] = {}
_XONLY_CACHE: dict[bytes, object] = {}
_CACHE_LIMIT = 1 << 16  # keys; about 100 bytes each in cffi, cleared wholesale when full

# [enabled, seconds inside libsecp256k1, number of calls]
STATS: list = [False, 0.0, 0]


def enable_stats(on: bool = True) -> None:
    STATS[0] = on
    STATS[1] = 0.0
    STATS[2] = 0


def stats() -> tuple[float, int]:
    """(seconds spent in libsecp256k1 verification calls, number of calls) since enable_stats."""
    return STATS[1], STATS[2]


def parse_der_lax(der: bytes) -> bytes | None:
    """Core's ecdsa_signature_parse_der_lax (pubkey.cpp), reimplemented: accept any BER-ish
    ``30 len 02 lenR R 02 lenS S`` the historical chain contains, ignoring the sequence length,
    allowing long-form lengths and excess zero padding, and return r||s as 64 bytes.

    Returns None where Core's parser returns failure. An R or S too large for 32 bytes, or not
    below the group order, yields the all-zero signature (which never verifies), as in Core."""
    n = len(der)
    # Short-form lengths throughout (every strict-DER signature, and nearly every other): the same
    # result as the general walk below, in a few slices.
    if n >= 8 and der[0] == 0x30 and der[1] < 0x80 and der[2] == 0x02:
        lr = der[3]
        if lr < 0x80 and 6 + lr <= n and der[4 + lr] == 0x02:
            ls = der[5 + lr]
            if ls < 0x80 and 6 + lr + ls <= n:
                r = der[4 : 4 + lr].lstrip(b"\x00")
                s = der[6 + lr : 6 + lr + ls].lstrip(b"\x00")
                if len(r) > 32 or len(s) > 32:
                    return _ZERO64
                return r.rjust(32, b"\x00") + s.rjust(32, b"\x00")
    pos = 0
    if pos == n or der[pos] != 0x30:
        return None
    pos += 1
    if pos == n:
        return None
    lenbyte = der[pos]
    pos += 1
    if lenbyte & 0x80:
        lenbyte -= 0x80
        if lenbyte > n - pos:
            return None
        pos += lenbyte  # the sequence length itself is not checked
    ints = []
    for _ in range(2):
        if pos == n or der[pos] != 0x02:
            return None
        pos += 1
        if pos == n:
            return None
        lenbyte = der[pos]
        pos += 1
        if lenbyte & 0x80:
            lenbyte -= 0x80
            if lenbyte > n - pos:
                return None
            while lenbyte > 0 and der[pos] == 0:
                pos += 1
                lenbyte -= 1
            if lenbyte >= 4:
                return None
            ilen = 0
            while lenbyte > 0:
                ilen = (ilen << 8) + der[pos]
                pos += 1
                lenbyte -= 1
        else:
            ilen = lenbyte
        if ilen > n - pos:
            return None
        ints.append((pos, ilen))
        pos += ilen
    out = []
    for ipos, ilen in ints:
        while ilen > 0 and der[ipos] == 0:
            ipos += 1
            ilen -= 1
        if ilen > 32:
            return _ZERO64
        out.append(der[ipos : ipos + ilen].rjust(32, b"\x00"))
    return out[0] + out[1]


def _load_compact(compact: bytes):
    """A libsecp256k1 signature from r||s; values not below the group order become the zero
    signature. Allocated per call: cffi releases the GIL, so a shared buffer would race in threads."""
    sig = _new(_SIG_T)
    if not _parse_compact(_CTX, sig, compact):
        _parse_compact(_CTX, sig, _ZERO64)
    return sig


def _pubkey(data: bytes):
    pk = _PUBKEY_CACHE.get(data, _MISS)
    if pk is _MISS:
        pk = _new(_PUBKEY_T)
        if not _pubkey_parse(_CTX, pk, data, len(data)):
            pk = None
        if len(_PUBKEY_CACHE) >= _CACHE_LIMIT:
            _PUBKEY_CACHE.clear()
        _PUBKEY_CACHE[data] = pk
    return pk


def is_low_s(der: bytes) -> bool:
    """CPubKey::CheckLowS: the lax-parsed signature is already in lower-S form."""
    compact = parse_der_lax(der)
    if compact is None:
        return False
    return not _normalize(_CTX, ffi.NULL, _load_compact(compact))


def verify_ecdsa(der: bytes, pubkey: bytes, msg32: bytes) -> bool:
    """CPubKey::Verify: ``der`` without the hash-type byte. Key must be a valid 33/65-byte encoding
    (hybrid 0x06/0x07 included, as libsecp256k1 parses them); the signature is parsed laxly and
    normalised to low S before verifying, since consensus accepts either S."""
    n = len(pubkey)
    if not n:
        return False
    h = pubkey[0]
    if n != (33 if h == 2 or h == 3 else 65 if h == 4 or h == 6 or h == 7 else -1):
        return False
    compact = parse_der_lax(der)
    if compact is None:
        return False
    return verify_ecdsa_compact(compact, pubkey, msg32)


def verify_ecdsa_compact(compact: bytes, pubkey: bytes, msg32: bytes) -> bool:
    """verify_ecdsa after its encoding checks, for a caller that has already checked the key's length
    and header byte and parsed a strict-DER signature to r||s itself (the fast paths: under DERSIG the
    lax parser's short-form case gives exactly those r||s slices). Same signature-cache hook, stats
    and curve check as verify_ecdsa."""
    if _PROVEN and _proven_take(compact, pubkey, msg32):  # sigcache.py: recovery already proved it
        return True
    if STATS[0]:
        t = _perf()
        ok = _verify_compact(compact, pubkey, msg32)
        STATS[1] += _perf() - t
        STATS[2] += 1
        return ok
    return _verify_compact(compact, pubkey, msg32)


def _verify_compact(compact: bytes, pubkey: bytes, msg32: bytes) -> bool:
    pk = _PUBKEY_CACHE.get(pubkey, _MISS)
    if pk is _MISS:
        pk = _pubkey(pubkey)
    if pk is None:
        return False
    sig = _new(_SIG_T)
    if not _parse_compact(_CTX, sig, compact):
        return False  # r or s not below the group order: Core's zero signature, which never verifies
    if compact[32:] > _HALF_ORDER:  # normalising a low S is a no-op: skip the call
        _normalize(_CTX, sig, sig)
    return bool(_ecdsa_verify(_CTX, sig, msg32, pk))


def _xonly(data: bytes):
    pk = _XONLY_CACHE.get(data)
    if pk is None:
        if data in _XONLY_CACHE:
            return None
        pk = ffi.new("secp256k1_xonly_pubkey *")
        if not _xonly_parse(_CTX, pk, data):
            pk = None
        if len(_XONLY_CACHE) >= _CACHE_LIMIT:
            _XONLY_CACHE.clear()
        _XONLY_CACHE[data] = pk
    return pk


def verify_schnorr(sig64: bytes, xonly32: bytes, msg32: bytes) -> bool:
    """BIP340 verification of a 64-byte signature under a 32-byte x-only key."""
    if STATS[0]:
        t = _perf()
        pk = _xonly(xonly32)
        ok = pk is not None and _schnorr_verify(_CTX, sig64, msg32, 32, pk)
        STATS[1] += _perf() - t
        STATS[2] += 1
        return bool(ok)
    pk = _xonly(xonly32)
    if pk is None:
        return False
    return bool(_schnorr_verify(_CTX, sig64, msg32, 32, pk))


def check_tap_tweak(output_key: bytes, internal_key: bytes, tweak: bytes, parity: int) -> bool:
    """XOnlyPubKey::CheckTapTweak: ``output_key`` == internal_key + tweak*G with the given parity."""
    t = _perf() if STATS[0] else 0.0
    pk = _xonly(internal_key)
    ok = pk is not None and bool(_tweak_check(_CTX, output_key, parity, pk, tweak))
    if STATS[0]:
        STATS[1] += _perf() - t
        STATS[2] += 1
    return ok
