"""Standard-template fast paths: P2PKH, P2WPKH, P2SH-P2WPKH, P2TR key path, and multisig (bare, P2SH,
P2WSH, P2SH-P2WSH).

Each recognises its template, performs exactly the checks the interpreter would perform on that
shape (same encodings, same sighash, same signature checks) and returns True only when the spend is
valid. Anything unusual (an unexpected shape, a failed check) returns False and the caller runs the
full interpreter, so a failure is always reported by the interpreter with its exact error name:
the fast path can only ever turn a slow "valid" into a fast "valid".
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..primitives.script import push_data
from . import crypto
from .errors import ScriptError
from .interpreter import (
    DERSIG,
    LOW_S,
    P2SH,
    STRICTENC,
    TAPROOT,
    WITNESS,
    check_flags,
    check_pubkey_encoding,
    check_signature_encoding,
    is_valid_signature_encoding,
)
from .sighash import (
    BIG_TX,
    SIGVERSION_BASE,
    SIGVERSION_WITNESS_V0,
    PrecomputedTxData,
    legacy_all_big,
    legacy_sighash,
    segwit_v0_sighash,
    taproot_sighash,
)

_sha256 = hashlib.sha256
# Copying a fresh ripemd160 object is about twice as fast as looking the algorithm up by name.
_RIPEMD160 = hashlib.new("ripemd160")
_verify_ecdsa = crypto.verify_ecdsa
_verify_ecdsa_compact = crypto.verify_ecdsa_compact
_EVEN_ODD = (2, 3)  # header bytes of a 33-byte key verify_ecdsa accepts
_FULL_HYBRID = (4, 6, 7)  # and of a 65-byte one
_SIGHASH_BASE_MASK = 0x9F  # ANYONECANPAY bit and the 5 low bits: what selects the legacy sighash mode


def _hash160(b: bytes) -> bytes:
    r = _RIPEMD160.copy()
    r.update(_sha256(b).digest())
    return r.digest()


def _pushes(script: bytes) -> list[bytes] | None:
    """The items a push-only script pushes, if every push is a minimal direct/PUSHDATA1/2 push of
    at most 520 bytes (OP_0 included, OP_1..16 not); else None."""
    out = []
    pc, n = 0, len(script)
    while pc < n:
        op = script[pc]
        pc += 1
        if op < 0x4C:
            size = op
        elif op == 0x4C:
            if pc >= n:
                return None
            size = script[pc]
            pc += 1
            if size < 0x4C:
                return None
        elif op == 0x4D:
            if n - pc < 2:
                return None
            size = int.from_bytes(script[pc : pc + 2], "little")
            pc += 2
            if size <= 0xFF:
                return None
        else:
            return None
        if n - pc < size or size > 520:
            return None
        item = script[pc : pc + size]
        if size == 1 and (1 <= item[0] <= 16 or item[0] == 0x81):
            return None  # minimal form is OP_n / OP_1NEGATE
        out.append(item)
        pc += size
    return out


# Hash-type bytes whose legacy sighash covers every input and output (SIGHASH_ALL and the undefined
# types Core treats like it): base type not NONE (2) or SINGLE (3), no ANYONECANPAY.
_ALL_LIKE = frozenset(b for b in range(0x20) if b not in (2, 3))
_HT = [bytes((b, 0, 0, 0)) for b in range(256)]


def _multisig_template(script: bytes) -> tuple[int, list[bytes]] | None:
    """OP_m <33/65-byte key>*n OP_n OP_CHECKMULTISIG with 0 < m <= n <= 16 -> (m, keys)."""
    n = len(script)
    if n < 37 or script[-1] != 0xAE:
        return None
    m = script[0] - 0x50
    k = script[-2] - 0x50
    if not (1 <= m <= 16 and 1 <= k <= 16 and m <= k):
        return None
    keys = []
    pc = 1
    end = n - 2
    while pc < end:
        size = script[pc]
        if size != 33 and size != 65:
            return None
        keys.append(script[pc + 1 : pc + 1 + size])
        pc += 1 + size
    if pc != end or len(keys) != k:
        return None
    return m, keys


def _multisig_ok(
    sigs: Sequence[bytes], keys: Sequence[bytes], code: bytes, flags: int, sigversion: int,
    tx, index: int, amount: int, cache: PrecomputedTxData,
) -> bool:  # fmt: skip
    """Core's CHECKMULTISIG matching loop for a successful spend (no side effects on failure)."""
    if sigversion == SIGVERSION_BASE:
        for s in sigs:
            if push_data(s) in code:  # FindAndDelete would change the script code
                return False
    nsigs, nkeys = len(sigs), len(keys)
    isig = ikey = 0
    # hash type -> signature hash: every key tried against a signature, and every signature of the
    # same hash type, signs the same hash (one input, one script code, one amount).
    hashes: dict[int, bytes] = {}
    try:
        while nsigs > 0:
            sig, pub = sigs[isig], keys[ikey]
            check_signature_encoding(sig, flags)
            check_pubkey_encoding(pub, flags, sigversion)
            if sig and _ecdsa(sig, pub, code, sigversion, tx, index, amount, cache, hashes):
                isig += 1
                nsigs -= 1
            ikey += 1
            nkeys -= 1
            if nsigs > nkeys:
                return False
    except ScriptError:
        return False
    return True


def _ecdsa(sig, pub, code, sigversion, tx, index, amount, cache, hashes: dict | None = None) -> bool:
    ht = sig[-1]
    h = hashes.get(ht) if hashes is not None else None
    if h is None:
        if sigversion == SIGVERSION_BASE:
            h = legacy_sighash(code, tx, index, ht, cache)
        else:
            h = segwit_v0_sighash(code, tx, index, ht, amount, cache)
        if hashes is not None:
            hashes[ht] = h
    return crypto.verify_ecdsa(sig[:-1], pub, h)


def _p2wpkh(program, witness, flags, tx, index, amount, cache) -> bool:
    if len(witness) != 2:
        return False
    sig, pub = witness
    if not sig or len(sig) > 520 or len(pub) > 520 or _hash160(pub) != program:
        return False
    try:
        check_signature_encoding(sig, flags)
        check_pubkey_encoding(pub, flags, SIGVERSION_WITNESS_V0)
    except ScriptError:
        return False
    code = b"\x76\xa9\x14" + program + b"\x88\xac"
    return _ecdsa(sig, pub, code, SIGVERSION_WITNESS_V0, tx, index, amount, cache)


def _p2wsh_multisig(program, witness, flags, tx, index, amount, cache) -> bool:
    if len(witness) < 3 or witness[0]:
        return False
    ws = witness[-1]
    if len(ws) > 520 or _sha256(ws).digest() != program:
        return False
    t = _multisig_template(ws)
    if t is None:
        return False
    m, keys = t
    sigs = witness[1:-1]
    if len(sigs) != m or any(len(s) > 520 for s in sigs):
        return False
    return _multisig_ok(sigs, keys, ws, flags, SIGVERSION_WITNESS_V0, tx, index, amount, cache)


def fast_verify(
    tx, index: int, script_sig: bytes, spk: bytes, witness: Sequence[bytes], amount: int, flags: int,
    cache: PrecomputedTxData,
) -> bool:  # fmt: skip
    """True when ``spk`` is a template handled here and the spend verifies under ``flags``."""
    n = len(spk)
    if n == 25:
        if spk[0] != 0x76 or spk[1] != 0xA9 or spk[2] != 0x14 or spk[23] != 0x88 or spk[24] != 0xAC:
            return False
        # P2PKH: scriptSig is exactly <sig> <pubkey>, both direct pushes.
        if witness or not script_sig:
            return False
        ls = script_sig[0]
        if ls < 9 or ls > 75 or len(script_sig) < ls + 2:
            return False
        lp = script_sig[ls + 1]
        if (lp != 33 and lp != 65) or len(script_sig) != ls + 2 + lp:
            return False
        sig = script_sig[1 : ls + 1]
        pub = script_sig[ls + 2 :]
        r = _RIPEMD160.copy()
        r.update(_sha256(pub).digest())
        if r.digest() != spk[3:23] or script_sig[: ls + 1] in spk:
            return False
        if flags & (LOW_S | STRICTENC):
            try:
                check_signature_encoding(sig, flags)  # strict DER under either flag
                check_pubkey_encoding(pub, flags, SIGVERSION_BASE)
            except ScriptError:
                return False
            strict = True
        elif flags & DERSIG:
            if not is_valid_signature_encoding(sig):
                return False  # the only encoding rule left under these flags (the signature is not empty)
            strict = True
        else:
            strict = False
        ht = sig[-1]
        if (ht & _SIGHASH_BASE_MASK) in _ALL_LIKE and cache.tx is tx:
            # Legacy SIGHASH_ALL (legacy_sighash's own fast cases, inlined): the P2PKH script has no
            # OP_CODESEPARATOR, so its script code is the script itself.
            if tx.input_count < BIG_TX:
                full, off = cache._legacy_full or cache.legacy_full()
                off += 41 * index
                h = _sha256(_sha256(full[:off] + b"\x19" + spk + full[off + 1 :] + _HT[ht]).digest()).digest()
            else:
                h = legacy_all_big(cache, index, b"\x19" + spk, _HT[ht])
        else:
            h = legacy_sighash(spk, tx, index, ht, cache)
        if strict and (pub[0] in _EVEN_ODD if lp == 33 else pub[0] in _FULL_HYBRID):
            # Strict DER: the lax parser's short-form case is exactly these slices (all lengths
            # below 0x80, S running to the hash-type byte), and the key's encoding is one
            # verify_ecdsa accepts, so go straight to the curve check (signature-cache hook included).
            lr = sig[3]
            r = sig[4 : 4 + lr].lstrip(b"\0")
            s = sig[6 + lr : -1].lstrip(b"\0")
            if len(r) <= 32 and len(s) <= 32:
                return _verify_ecdsa_compact(r.rjust(32, b"\0") + s.rjust(32, b"\0"), pub, h)
        return _verify_ecdsa(sig[:-1], pub, h)
    if n == 22:
        if spk[0] != 0 or spk[1] != 0x14 or not flags & WITNESS or script_sig:
            return False
        return _p2wpkh(spk[2:], witness, flags, tx, index, amount, cache)
    if n == 34:
        if spk[1] != 0x20 or not flags & WITNESS or script_sig:
            return False
        if spk[0] == 0x51:
            if not flags & TAPROOT:
                return False
            return _p2tr_key(spk[2:], witness, tx, index, cache)
        if spk[0] == 0:
            return _p2wsh_multisig(spk[2:], witness, flags, tx, index, amount, cache)
        return False
    if n == 23:
        if spk[0] != 0xA9 or spk[1] != 0x14 or spk[22] != 0x87 or not flags & P2SH:
            return False
        items = _pushes(script_sig)
        if not items:
            return False
        redeem = items[-1]
        if _hash160(redeem) != spk[2:22]:
            return False
        rn = len(redeem)
        if rn == 22 and redeem[0] == 0 and redeem[1] == 0x14:
            if len(items) != 1 or not flags & WITNESS:
                return False
            return _p2wpkh(redeem[2:], witness, flags, tx, index, amount, cache)
        if rn == 34 and redeem[0] == 0 and redeem[1] == 0x20:
            if len(items) != 1 or not flags & WITNESS:
                return False
            return _p2wsh_multisig(redeem[2:], witness, flags, tx, index, amount, cache)
        if witness and flags & WITNESS:
            return False
        t = _multisig_template(redeem)
        if t is None or len(items) < 2 or items[0]:
            return False
        m, keys = t
        if len(items) != m + 2:
            return False
        return _multisig_ok(items[1:-1], keys, redeem, flags, SIGVERSION_BASE, tx, index, amount, cache)
    if spk and spk[-1] == 0xAE:
        # Bare multisig: scriptSig is OP_0 <sig>*m.
        if witness:
            return False
        t = _multisig_template(spk)
        if t is None:
            return False
        items = _pushes(script_sig)
        if not items or items[0]:
            return False
        m, keys = t
        if len(items) != m + 1:
            return False
        return _multisig_ok(items[1:], keys, spk, flags, SIGVERSION_BASE, tx, index, amount, cache)
    return False


def _p2tr_key(program, witness, tx, index, cache) -> bool:
    nw = len(witness)
    annex_hash = None
    if nw == 2:
        annex = witness[1]
        if not annex or annex[0] != 0x50:
            return False
        annex_hash = _sha256(_compact(len(annex)) + annex).digest()
    elif nw != 1:
        return False
    sig = witness[0]
    if len(sig) == 64:
        hash_type = 0
    elif len(sig) == 65 and sig[64]:
        hash_type = sig[64]
        sig = sig[:64]
    else:
        return False
    h = taproot_sighash(tx, index, hash_type, cache, annex_hash)
    return h is not None and crypto.verify_schnorr(sig, program, h)


def _compact(n: int) -> bytes:
    from ..primitives.encoding import compact_size

    return compact_size(n)


# From this many inputs, verify_p2pkh_run hashes each input's legacy preimage from a running hash state
# of the inputs before it (a state copy and the rest), instead of one copy of the whole preimage.
_RUNNING_FROM = 8


def verify_p2pkh_run(tx, outs: Sequence, flags: int, cache: PrecomputedTxData, first: int, end: int) -> int:
    """Verify inputs ``first``, ``first + 1``, ... < ``end`` of ``tx`` for as long as each is a P2PKH
    spend that fast_verify's own checks prove valid under block-validation flags (DERSIG, neither of
    the policy flags LOW_S and STRICTENC), with a SIGHASH_ALL-like hash type. Returns the first input
    it has not proven valid (``end`` once it proved them all): that one is for ``verify_tx_input``,
    which proves it or names its error. It never raises and never reports a failure itself.

    The same checks as fast_verify's P2PKH case under those flags (template, scriptSig shape, key hash,
    FindAndDelete, strict DER, the key's header byte, the same legacy preimage, the signature-cache
    hook, the same libsecp256k1 calls as crypto._verify_compact), in one loop over a tx's inputs: no
    per-input calls, and a tx's legacy preimages hashed from a running state of the inputs before the
    one signed (the bytes after it cannot be shared). ``cache`` is the tx's PrecomputedTxData for
    ``outs``; the per-tx checks verify_tx_input makes (one output per input, known flags) are made
    and noted on it as verify_tx_input does; where they fail, ``first`` is returned (for
    verify_tx_input to report).
    """
    if (cache.tx is not tx or cache.spent_outputs is not outs or not flags & DERSIG
            or flags & (LOW_S | STRICTENC) or crypto.STATS[0]):  # fmt: skip
        return first
    if cache.checked_flags != flags:
        # What verify_tx_input checks and notes on a tx's first input (one spent output per input,
        # known flags), so that a tx's first input is no special case.
        if len(outs) != tx.input_count:
            return first
        try:
            check_flags(flags)
        except ScriptError:
            return first
        cache.txins = tx.inputs
        cache.witnesses = tx.witnesses
        cache.checked_flags = flags
    txins, witnesses = cache.txins, cache.witnesses
    n_in = len(txins)
    if len(outs) != n_in or not 0 <= first <= end <= n_in:
        return first
    full, off = cache._legacy_full or cache.legacy_full()
    start = off - 36  # input 0's outpoint, after the version and the input count
    running = n_in >= _RUNNING_FROM
    mv = memoryview(full)
    run = None
    run_at = -1
    proven = crypto._PROVEN
    for i in range(first, end):
        if witnesses[i]:
            return i
        spk = outs[i][1]
        if (
            len(spk) != 25
            or spk[0] != 0x76
            or spk[1] != 0xA9
            or spk[2] != 0x14
            or spk[23] != 0x88
            or spk[24] != 0xAC
        ):
            return i
        script_sig = txins[i][2]
        if not script_sig:
            return i
        ls = script_sig[0]
        if ls < 9 or ls > 75 or len(script_sig) < ls + 2:
            return i
        lp = script_sig[ls + 1]
        if len(script_sig) != ls + 2 + lp:
            return i
        pub = script_sig[ls + 2 :]
        if lp == 33:
            if pub[0] != 2 and pub[0] != 3:
                return i
        elif lp != 65 or pub[0] not in _FULL_HYBRID:
            return i
        r160 = _RIPEMD160.copy()
        r160.update(_sha256(pub).digest())
        if r160.digest() != spk[3:23] or script_sig[: ls + 1] in spk:
            return i
        sig = script_sig[1 : ls + 1]
        if not is_valid_signature_encoding(sig):
            return i
        ht = sig[-1]
        if (ht & _SIGHASH_BASE_MASK) not in _ALL_LIKE:
            return i
        at = start + 41 * i
        if running:
            if run_at != i:
                run = _sha256(mv[:at])
            h = run.copy()  # type: ignore[union-attr]
            run.update(mv[at : at + 41])  # type: ignore[union-attr]
            run_at = i + 1
            h.update(full[at : at + 36] + b"\x19" + spk)
            h.update(mv[at + 37 :])
            h.update(_HT[ht])
        else:
            h = _sha256(full[: at + 36] + b"\x19" + spk + full[at + 37 :] + _HT[ht])
        msg = _sha256(h.digest()).digest()
        lr = sig[3]
        r = sig[4 : 4 + lr].lstrip(b"\0")
        s = sig[6 + lr : -1].lstrip(b"\0")
        if len(r) > 32 or len(s) > 32:
            return i
        compact = r.rjust(32, b"\0") + s.rjust(32, b"\0")
        if proven and crypto._proven_take(compact, pub, msg):
            continue
        if not crypto._verify_compact(compact, pub, msg):
            return i
    return end
