"""Canonical forms the codec models: DER signatures as (r, s) and back, minimal pushes, canonical
script tokens, standard output scripts, and the small hashing and cost helpers encoder and decoder share."""

from __future__ import annotations

import hashlib

from ..primitives.encoding import compact_size

# --------------------------------------------------------------------------------- small helpers
_RIPEMD160 = hashlib.new("ripemd160")  # copied per use: hashlib.new's name lookup costs as much as the hash


def _hash160(b: bytes) -> bytes:
    h = _RIPEMD160.copy()
    h.update(hashlib.sha256(b).digest())
    return h.digest()


def _sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def _sha256d(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def _canon_int(x: bytes) -> bytes | None:
    """A strict-DER INTEGER body as 32 big-endian bytes, or None if it is not the canonical encoding."""
    if not x or x[0] & 0x80:
        return None
    if x[0] == 0:
        if len(x) > 1 and not x[1] & 0x80:
            return None
        x = x[1:]
    if len(x) > 32:
        return None
    return bytes(32 - len(x)) + x


def der_to_rs(sig: bytes) -> bytes | None:
    """(r, s) as 64 bytes if ``sig`` (without sighash byte) is the canonical DER encoding of them."""
    n = len(sig)
    if n < 8 or n > 72 or sig[0] != 0x30 or sig[1] != n - 2 or sig[2] != 2:
        return None
    rl = sig[3]
    if 6 + rl > n or sig[4 + rl] != 2:
        return None
    sl = sig[5 + rl]
    if 6 + rl + sl != n:
        return None
    # Nearly every real signature: r and s of 32 significant bytes, each with the zero pad exactly
    # when its top bit is set (what strict DER demands); their bytes then are r||s as they stand.
    if rl == 32 and 0 < sig[4] < 0x80:
        r = sig[4:36]
    elif rl == 33 and sig[4] == 0 and sig[5] >= 0x80:
        r = sig[5:37]
    else:
        r = _canon_int(sig[4 : 4 + rl])
        if r is None:
            return None
    so = 6 + rl
    if sl == 32 and 0 < sig[so] < 0x80:
        return r + sig[so:]
    if sl == 33 and sig[so] == 0 and sig[so + 1] >= 0x80:
        return r + sig[so + 1 :]
    s = _canon_int(sig[so:])
    if s is None:
        return None
    return r + s


def rs_to_der(rs: bytes) -> bytes:
    """Strict DER of the 64-byte (r, s): shortest big-endian integers, a zero byte where the top bit is set."""
    r0 = rs[0]
    s0 = rs[32]
    if r0 and s0:
        # Both integers a full 32 bytes (nearly every real signature): a fixed layout.
        return _DER_FULL[(r0 >= 0x80) | ((s0 >= 0x80) << 1)] % (rs[:32], rs[32:])
    r = rs[:32].lstrip(b"\x00") or b"\x00"
    if r[0] & 0x80:
        r = b"\x00" + r
    s = rs[32:].lstrip(b"\x00") or b"\x00"
    if s[0] & 0x80:
        s = b"\x00" + s
    lr = len(r)
    ls = len(s)
    return b"".join((bytes((0x30, lr + ls + 4, 2, lr)), r, bytes((2, ls)), s))


# DER of (r, s) with 32-byte r and s, indexed by (r needs a zero pad) | (s needs a zero pad) << 1.
_DER_FULL = (
    b"\x30\x44\x02\x20%b\x02\x20%b",
    b"\x30\x45\x02\x21\x00%b\x02\x20%b",
    b"\x30\x45\x02\x20%b\x02\x21\x00%b",
    b"\x30\x46\x02\x21\x00%b\x02\x21\x00%b",
)


# One-byte encodings 0..252, shared by compact sizes, direct pushes and sighash bytes (a hot path).
_CS = [bytes((i,)) for i in range(256)]  # index 253-255 only as plain bytes, never as sizes
_ZERO32 = bytes(32)


def _cs(n: int) -> bytes:
    return _CS[n] if n < 0xFD else compact_size(n)


def _push(data: bytes) -> bytes:
    n = len(data)
    if n < 0x4C:
        return _CS[n] + data
    if n <= 0xFF:
        return b"\x4c" + bytes((n,)) + data
    if n <= 0xFFFF:
        return b"\x4d" + n.to_bytes(2, "little") + data
    return b"\x4e" + n.to_bytes(4, "little") + data


def _minimal_push_opcode(n: int) -> int:
    return n if n < 0x4C else 0x4C if n <= 0xFF else 0x4D if n <= 0xFFFF else 0x4E


def tokenize_canonical(script: bytes, max_tokens: int | None = None) -> list[tuple[int, bytes | None]] | None:
    """(opcode, data) tokens if the script re-serializes exactly with the shortest push for each datum
    (and, where ``max_tokens`` is given, has at most that many tokens); else None.

    Pushes are (push opcode, data), OP_0 included (empty data); other opcodes are (opcode, None). A
    direct loop rather than ``iter_script``: this runs on every script and push of every block encoded."""
    n = len(script)
    limit = n if max_tokens is None else max_tokens
    out: list[tuple[int, bytes | None]] = []
    append = out.append
    i = 0
    while i < n:
        op = script[i]
        i += 1
        if op < 0x4C:  # direct push of ``op`` bytes (OP_0 pushes nothing): always the shortest form
            e = i + op
            if e > n:
                return None
            append((op, script[i:e]))
            i = e
        elif op <= 0x4E:  # OP_PUSHDATA1/2/4: canonical only where no shorter push fits the size
            width = 1 if op == 0x4C else 2 if op == 0x4D else 4
            if i + width > n:
                return None
            size = int.from_bytes(script[i : i + width], "little")
            if op != _minimal_push_opcode(size):
                return None
            i += width
            e = i + size
            if e > n:
                return None
            append((op, script[i:e]))
            i = e
        else:
            append((op, None))
        if len(out) > limit:
            return None
    return out


def p2pkh_script(h160: bytes) -> bytes:
    """The P2PKH scriptPubKey, which is also the scriptCode a P2PKH or P2WPKH signature hash commits to."""
    return b"\x76\xa9\x14" + h160 + b"\x88\xac"


def _legacy_cost(n_in: int, outputs_size: int) -> int:
    """Bytes hashed for one legacy signature hash of a transaction (about): the bound both sides apply."""
    return 41 * n_in + outputs_size + 40


def _signed64(n: int) -> int:
    """A stored unsigned 64-bit amount read back as the signed wire value it was written from."""
    return n - (1 << 64) if n >= 1 << 63 else n


def _bip34_hint(coinbase_script_sig: bytes) -> int:
    """The height a BIP34 coinbase announces (any first push of 1-4 bytes, as a number), else 0.

    Only a prediction for locktimes and context references: a wrong hint costs bytes, never exactness."""
    if not coinbase_script_sig:
        return 0
    n = coinbase_script_sig[0]
    if 1 <= n <= 4 and len(coinbase_script_sig) > n:
        return int.from_bytes(coinbase_script_sig[1 : 1 + n], "little")
    return 0


