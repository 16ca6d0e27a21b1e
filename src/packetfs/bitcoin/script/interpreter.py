"""The script interpreter: Core's EvalScript / VerifyScript / VerifyWitnessProgram semantics, opcode
for opcode, with every verification flag, segwit v0, P2SH, and taproot (BIP341/342).

Failures raise ScriptError with Core's error name. The evaluation order of checks follows Core's so
that the *first* error Core would report is the one we report (the test vectors check the name).

Speed notes: the script is walked as bytes with an integer program counter; stack items are bytes;
the hot cases (pushes, DUP/HASH160/EQUALVERIFY/CHECKSIG) come first in the dispatch chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..primitives.encoding import compact_size
from ..primitives.hashes import tagged_hash
from ..primitives.script import push_data
from ..primitives.transaction import Transaction
from . import crypto
from .errors import ScriptError
from .flags import ScriptFlags
from .sighash import (
    SIGVERSION_BASE,
    SIGVERSION_TAPROOT,
    SIGVERSION_TAPSCRIPT,
    SIGVERSION_WITNESS_V0,
    PrecomputedTxData,
    legacy_sighash,
    segwit_v0_sighash,
    tapleaf_hash,
    taproot_sighash,
)

_sha256 = hashlib.sha256
_sha1 = hashlib.sha1


def _ripemd160(b: bytes) -> bytes:
    return hashlib.new("ripemd160", b).digest()


def _hash160(b: bytes) -> bytes:
    return hashlib.new("ripemd160", _sha256(b).digest()).digest()


# Flag bits as plain ints (faster to test in the hot loop than the IntFlag members they come from).
P2SH = ScriptFlags.P2SH.value
STRICTENC = ScriptFlags.STRICTENC.value
DERSIG = ScriptFlags.DERSIG.value
LOW_S = ScriptFlags.LOW_S.value
NULLDUMMY = ScriptFlags.NULLDUMMY.value
SIGPUSHONLY = ScriptFlags.SIGPUSHONLY.value
MINIMALDATA = ScriptFlags.MINIMALDATA.value
DISCOURAGE_UPGRADABLE_NOPS = ScriptFlags.DISCOURAGE_UPGRADABLE_NOPS.value
CLEANSTACK = ScriptFlags.CLEANSTACK.value
CHECKLOCKTIMEVERIFY = ScriptFlags.CHECKLOCKTIMEVERIFY.value
CHECKSEQUENCEVERIFY = ScriptFlags.CHECKSEQUENCEVERIFY.value
WITNESS = ScriptFlags.WITNESS.value
DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM = ScriptFlags.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM.value
MINIMALIF = ScriptFlags.MINIMALIF.value
NULLFAIL = ScriptFlags.NULLFAIL.value
WITNESS_PUBKEYTYPE = ScriptFlags.WITNESS_PUBKEYTYPE.value
CONST_SCRIPTCODE = ScriptFlags.CONST_SCRIPTCODE.value
TAPROOT = ScriptFlags.TAPROOT.value
DISCOURAGE_UPGRADABLE_TAPROOT_VERSION = ScriptFlags.DISCOURAGE_UPGRADABLE_TAPROOT_VERSION.value
DISCOURAGE_OP_SUCCESS = ScriptFlags.DISCOURAGE_OP_SUCCESS.value
DISCOURAGE_UPGRADABLE_PUBKEYTYPE = ScriptFlags.DISCOURAGE_UPGRADABLE_PUBKEYTYPE.value

# Limits (script/script.h, policy-independent).
MAX_SCRIPT_SIZE = 10000
MAX_SCRIPT_ELEMENT_SIZE = 520
MAX_OPS_PER_SCRIPT = 201
MAX_PUBKEYS_PER_MULTISIG = 20
MAX_STACK_SIZE = 1000
LOCKTIME_THRESHOLD = 500_000_000
SEQUENCE_FINAL = 0xFFFFFFFF
SEQUENCE_LOCKTIME_DISABLE_FLAG = 1 << 31
SEQUENCE_LOCKTIME_TYPE_FLAG = 1 << 22
SEQUENCE_LOCKTIME_MASK = 0x0000FFFF
VALIDATION_WEIGHT_PER_SIGOP_PASSED = 50
VALIDATION_WEIGHT_OFFSET = 50
ANNEX_TAG = 0x50
TAPROOT_LEAF_MASK = 0xFE
TAPROOT_LEAF_TAPSCRIPT = 0xC0
TAPROOT_CONTROL_BASE_SIZE = 33
TAPROOT_CONTROL_NODE_SIZE = 32
TAPROOT_CONTROL_MAX_SIZE = 33 + 32 * 128

_DISABLED = frozenset(
    (0x7E, 0x7F, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x8D, 0x8E, 0x95, 0x96, 0x97, 0x98, 0x99)
)
# BIP342 OP_SUCCESSx: 80, 98, 126-129, 131-134, 137-138, 141-142, 149-153, 187-254.
_OP_SUCCESS = frozenset(
    [80, 98, *range(126, 130), *range(131, 135), 137, 138, 141, 142, *range(149, 154), *range(187, 255)]
)

_TRUE = b"\x01"
_FALSE = b""


def _err(code: str) -> ScriptError:
    return ScriptError(code)


# ------------------------------------------------------------------------------ numbers
def decode_num(b: bytes, minimal: int, max_size: int = 4) -> int:
    """CScriptNum(vch, fRequireMinimal, nMaxNumSize): little-endian sign-magnitude."""
    n = len(b)
    if n > max_size:
        raise ScriptError("SCRIPTNUM", "script number overflow")
    if n == 0:
        return 0
    last = b[-1]
    if minimal and (last & 0x7F) == 0 and (n == 1 or not (b[-2] & 0x80)):
        raise ScriptError("SCRIPTNUM", "non-minimally encoded script number")
    v = int.from_bytes(b, "little")
    if last & 0x80:
        return -(v & ~(0x80 << (8 * (n - 1))))
    return v


def encode_num(v: int) -> bytes:
    """CScriptNum::serialize."""
    if v == 0:
        return b""
    neg = v < 0
    a = -v if neg else v
    r = bytearray(a.to_bytes((a.bit_length() + 7) // 8, "little"))
    if r[-1] & 0x80:
        r.append(0x80 if neg else 0)
    elif neg:
        r[-1] |= 0x80
    return bytes(r)


_SMALL = {v: encode_num(v) for v in range(-1, 17)}


def _num(v: int) -> bytes:
    r = _SMALL.get(v)
    return encode_num(v) if r is None else r


def cast_to_bool(b: bytes) -> bool:
    """Any non-zero byte is true, except a lone sign bit in the last byte (negative zero)."""
    for i, c in enumerate(b):
        if c:
            return not (i == len(b) - 1 and c == 0x80)
    return False


def check_minimal_push(data: bytes, op: int) -> bool:
    n = len(data)
    if n == 0:
        return op == 0
    if n == 1 and 1 <= data[0] <= 16:
        return op == 0x50 + data[0]
    if n == 1 and data[0] == 0x81:
        return op == 0x4F
    if n <= 75:
        return op == n
    if n <= 255:
        return op == 0x4C
    if n <= 65535:
        return op == 0x4D
    return True


def _get_op_end(script: bytes, pc: int) -> int:
    """Position after the op at ``pc``, or -1 where Core's GetOp fails (a push past the end)."""
    n = len(script)
    op = script[pc]
    pc += 1
    if op > 0x4E:
        return pc
    if op < 0x4C:
        size = op
    else:
        width = 1 if op == 0x4C else 2 if op == 0x4D else 4
        if n - pc < width:
            return -1
        size = int.from_bytes(script[pc : pc + width], "little")
        pc += width
    if n - pc < size:
        return -1
    return pc + size


def is_push_only(script: bytes) -> bool:
    pc, n = 0, len(script)
    while pc < n:
        if script[pc] > 0x60:
            return False
        pc = _get_op_end(script, pc)
        if pc < 0:
            return False
    return True


def find_and_delete(script: bytes, pattern: bytes) -> tuple[bytes, int]:
    """Core's FindAndDelete: remove every occurrence of ``pattern`` that starts at an op boundary
    (repeatedly, at the same boundary). Returns (new script, number removed)."""
    if not pattern or pattern not in script:
        return script, 0
    n, m = len(script), len(pattern)
    result = []
    found = 0
    pc = pc2 = 0
    while True:
        result.append(script[pc2:pc])
        while n - pc >= m and script.startswith(pattern, pc):
            pc += m
            found += 1
        pc2 = pc
        if pc >= n:
            break
        pc = _get_op_end(script, pc)
        if pc < 0:
            break
    if not found:
        return script, 0
    result.append(script[pc2:])
    return b"".join(result), found


# --------------------------------------------------------------------------- encodings
def is_valid_signature_encoding(sig: bytes) -> bool:
    """BIP66 strict DER (with the trailing hash-type byte)."""
    n = len(sig)
    if n < 9 or n > 73 or sig[0] != 0x30 or sig[1] != n - 3:
        return False
    len_r = sig[3]
    if 5 + len_r >= n:
        return False
    len_s = sig[5 + len_r]
    if len_r + len_s + 7 != n:
        return False
    if sig[2] != 0x02 or len_r == 0 or sig[4] & 0x80:
        return False
    if len_r > 1 and sig[4] == 0 and not (sig[5] & 0x80):
        return False
    if sig[len_r + 4] != 0x02 or len_s == 0 or sig[len_r + 6] & 0x80:
        return False
    if len_s > 1 and sig[len_r + 6] == 0 and not (sig[len_r + 7] & 0x80):
        return False
    return True


def check_signature_encoding(sig: bytes, flags: int) -> None:
    if not sig:
        return
    if flags & (DERSIG | LOW_S | STRICTENC) and not is_valid_signature_encoding(sig):
        raise _err("SIG_DER")
    if flags & LOW_S:
        if not is_valid_signature_encoding(sig):
            raise _err("SIG_DER")
        if not crypto.is_low_s(sig[:-1]):
            raise _err("SIG_HIGH_S")
    if flags & STRICTENC:
        t = sig[-1] & ~0x80
        if t < 1 or t > 3:
            raise _err("SIG_HASHTYPE")


def check_pubkey_encoding(pub: bytes, flags: int, sigversion: int) -> None:
    if flags & STRICTENC:
        n = len(pub)
        if n < 33:
            raise _err("PUBKEYTYPE")
        h = pub[0]
        if h == 4:
            if n != 65:
                raise _err("PUBKEYTYPE")
        elif h == 2 or h == 3:
            if n != 33:
                raise _err("PUBKEYTYPE")
        else:
            raise _err("PUBKEYTYPE")
    if flags & WITNESS_PUBKEYTYPE and sigversion == SIGVERSION_WITNESS_V0:
        if len(pub) != 33 or pub[0] not in (2, 3):
            raise _err("WITNESS_PUBKEYTYPE")


# ----------------------------------------------------------------------------- checker
class ExecData:
    """Per-input taproot execution data (Core's ScriptExecutionData)."""

    __slots__ = ("annex_hash", "tapleaf_hash", "codesep_pos", "weight_left")

    def __init__(self) -> None:
        self.annex_hash: bytes | None = None
        self.tapleaf_hash: bytes | None = None
        self.codesep_pos = 0xFFFFFFFF
        self.weight_left = 0


class TxChecker:
    """Signature, locktime and sequence checks against input ``index`` of ``tx``."""

    __slots__ = ("tx", "index", "amount", "cache")

    def __init__(self, tx: Transaction, index: int, amount: int, cache: PrecomputedTxData):
        self.tx = tx
        self.index = index
        self.amount = amount
        self.cache = cache

    def check_ecdsa(self, sig: bytes, pub: bytes, script_code: bytes, sigversion: int) -> bool:
        # Cheap rejections first: an unparseable key or empty signature cannot verify, and a
        # legacy sighash can be expensive (quadratic in inputs).
        n = len(pub)
        if not n or n != (33 if pub[0] in (2, 3) else 65 if pub[0] in (4, 6, 7) else -1) or not sig:
            return False
        hash_type = sig[-1]
        if sigversion == SIGVERSION_BASE:
            h = legacy_sighash(script_code, self.tx, self.index, hash_type, self.cache)
        else:
            h = segwit_v0_sighash(script_code, self.tx, self.index, hash_type, self.amount, self.cache)
        return crypto.verify_ecdsa(sig[:-1], pub, h)

    def check_schnorr(self, sig: bytes, pub: bytes, sigversion: int, execdata: ExecData) -> None:
        """Raises on failure (every Schnorr failure is an error, unlike ECDSA's false)."""
        n = len(sig)
        if n == 64:
            hash_type = 0
        elif n == 65:
            hash_type = sig[64]
            if hash_type == 0:
                raise _err("SCHNORR_SIG_HASHTYPE")
            sig = sig[:64]
        else:
            raise _err("SCHNORR_SIG_SIZE")
        if sigversion == SIGVERSION_TAPSCRIPT:
            h = taproot_sighash(
                self.tx, self.index, hash_type, self.cache, execdata.annex_hash,
                execdata.tapleaf_hash, execdata.codesep_pos,
            )  # fmt: skip
        else:
            h = taproot_sighash(self.tx, self.index, hash_type, self.cache, execdata.annex_hash)
        if h is None:
            raise _err("SCHNORR_SIG_HASHTYPE")
        if not crypto.verify_schnorr(sig, pub, h):
            raise _err("SCHNORR_SIG")

    def check_locktime(self, lock: int) -> bool:
        tx_lock = self.tx.locktime
        if (tx_lock < LOCKTIME_THRESHOLD) != (lock < LOCKTIME_THRESHOLD):
            return False
        if lock > tx_lock:
            return False
        # A final input would let the locktime be bypassed, so it cannot satisfy CLTV.
        return self.tx.inputs[self.index].sequence != SEQUENCE_FINAL

    def check_sequence(self, seq: int) -> bool:
        tx_seq = self.tx.inputs[self.index].sequence
        if (self.tx.version & 0xFFFFFFFF) < 2:
            return False
        if tx_seq & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            return False
        mask = SEQUENCE_LOCKTIME_TYPE_FLAG | SEQUENCE_LOCKTIME_MASK
        tx_m, m = tx_seq & mask, seq & mask
        if (tx_m < SEQUENCE_LOCKTIME_TYPE_FLAG) != (m < SEQUENCE_LOCKTIME_TYPE_FLAG):
            return False
        return m <= tx_m


# --------------------------------------------------------------------------- evaluation
def _checksig_pre_tapscript(
    sig: bytes, pub: bytes, code: bytes, flags: int, checker: TxChecker, sigversion: int
) -> bool:
    if sigversion == SIGVERSION_BASE:
        # Pre-segwit scripts drop the signature from the code they sign (FindAndDelete).
        code, found = find_and_delete(code, push_data(sig))
        if found and flags & CONST_SCRIPTCODE:
            raise _err("SIG_FINDANDDELETE")
    check_signature_encoding(sig, flags)
    check_pubkey_encoding(pub, flags, sigversion)
    ok = checker.check_ecdsa(sig, pub, code, sigversion)
    if not ok and flags & NULLFAIL and sig:
        raise _err("NULLFAIL")
    return ok


def _checksig_tapscript(sig: bytes, pub: bytes, flags: int, checker: TxChecker, execdata: ExecData) -> bool:
    success = bool(sig)
    if success:
        execdata.weight_left -= VALIDATION_WEIGHT_PER_SIGOP_PASSED
        if execdata.weight_left < 0:
            raise _err("TAPSCRIPT_VALIDATION_WEIGHT")
    n = len(pub)
    if n == 0:
        raise _err("TAPSCRIPT_EMPTY_PUBKEY")
    if n == 32:
        if success:
            checker.check_schnorr(sig, pub, SIGVERSION_TAPSCRIPT, execdata)
    elif flags & DISCOURAGE_UPGRADABLE_PUBKEYTYPE:
        raise _err("DISCOURAGE_UPGRADABLE_PUBKEYTYPE")
    return success


def eval_script(
    stack: list[bytes],
    script: bytes,
    flags: int,
    checker: TxChecker,
    sigversion: int,
    execdata: ExecData | None = None,
) -> None:
    """EvalScript: run ``script`` on ``stack`` (modified in place). Raises ScriptError."""
    n = len(script)
    pre_tap = sigversion <= SIGVERSION_WITNESS_V0
    if pre_tap and n > MAX_SCRIPT_SIZE:
        raise _err("SCRIPT_SIZE")
    minimal = flags & MINIMALDATA
    altstack: list[bytes] = []
    vfexec: list[bool] = []
    nfalse = 0  # number of False entries in vfexec: executing iff zero
    op_count = 0
    pc = 0
    begincode = 0
    opcode_pos = -1
    if execdata is not None:
        execdata.codesep_pos = 0xFFFFFFFF
    push = stack.append
    try:
        while pc < n:
            opcode_pos += 1
            op = script[pc]
            pc += 1
            # ---- pushes
            if op <= 0x4E:
                if op < 0x4C:
                    size = op
                else:
                    width = 1 if op == 0x4C else 2 if op == 0x4D else 4
                    if n - pc < width:
                        raise _err("BAD_OPCODE")
                    size = int.from_bytes(script[pc : pc + width], "little")
                    pc += width
                if n - pc < size:
                    raise _err("BAD_OPCODE")
                if size > MAX_SCRIPT_ELEMENT_SIZE:
                    raise _err("PUSH_SIZE")
                if not nfalse:
                    data = script[pc : pc + size]
                    if minimal and not check_minimal_push(data, op):
                        raise _err("MINIMALDATA")
                    push(data)
                    if len(stack) + len(altstack) > MAX_STACK_SIZE:
                        raise _err("STACK_SIZE")
                pc += size
                continue
            if pre_tap and op > 0x60:
                op_count += 1
                if op_count > MAX_OPS_PER_SCRIPT:
                    raise _err("OP_COUNT")
            if op in _DISABLED:
                raise _err("DISABLED_OPCODE")
            if op == 0xAB and sigversion == SIGVERSION_BASE and flags & CONST_SCRIPTCODE:
                raise _err("OP_CODESEPARATOR")
            if nfalse and not (0x63 <= op <= 0x68):
                continue

            # ---- the common standard-script ops first
            if op == 0x76:  # DUP
                if not stack:
                    raise _err("INVALID_STACK_OPERATION")
                push(stack[-1])
            elif op == 0xA9:  # HASH160
                if not stack:
                    raise _err("INVALID_STACK_OPERATION")
                stack[-1] = _hash160(stack[-1])
            elif op == 0x87 or op == 0x88:  # EQUAL, EQUALVERIFY
                if len(stack) < 2:
                    raise _err("INVALID_STACK_OPERATION")
                eq = stack[-2] == stack[-1]
                del stack[-2:]
                if op == 0x88:
                    if not eq:
                        raise _err("EQUALVERIFY")
                else:
                    push(_TRUE if eq else _FALSE)
            elif op == 0xAC or op == 0xAD:  # CHECKSIG, CHECKSIGVERIFY
                if len(stack) < 2:
                    raise _err("INVALID_STACK_OPERATION")
                sig, pub = stack[-2], stack[-1]
                if pre_tap:
                    ok = _checksig_pre_tapscript(sig, pub, script[begincode:], flags, checker, sigversion)
                else:
                    ok = _checksig_tapscript(sig, pub, flags, checker, execdata)
                del stack[-2:]
                if op == 0xAD:
                    if not ok:
                        raise _err("CHECKSIGVERIFY")
                else:
                    push(_TRUE if ok else _FALSE)
            elif 0x4F <= op <= 0x60:  # 1NEGATE, RESERVED, 1..16
                if op == 0x50:
                    raise _err("BAD_OPCODE")
                push(_SMALL[op - 0x50])
            # ---- control
            elif 0x63 <= op <= 0x68:
                if op == 0x63 or op == 0x64:  # IF, NOTIF
                    value = False
                    if not nfalse:
                        if not stack:
                            raise _err("INVALID_STACK_OPERATION")
                        top = stack[-1]
                        if sigversion == SIGVERSION_TAPSCRIPT:
                            # Tapscript requires minimal IF arguments as a consensus rule.
                            if len(top) > 1 or (len(top) == 1 and top[0] != 1):
                                raise _err("TAPSCRIPT_MINIMALIF")
                        elif sigversion == SIGVERSION_WITNESS_V0 and flags & MINIMALIF:
                            if len(top) > 1 or (len(top) == 1 and top[0] != 1):
                                raise _err("MINIMALIF")
                        value = cast_to_bool(top)
                        if op == 0x64:
                            value = not value
                        stack.pop()
                    vfexec.append(value)
                    if not value:
                        nfalse += 1
                elif op == 0x67:  # ELSE
                    if not vfexec:
                        raise _err("UNBALANCED_CONDITIONAL")
                    v = vfexec[-1]
                    vfexec[-1] = not v
                    nfalse += 1 if v else -1
                elif op == 0x68:  # ENDIF
                    if not vfexec:
                        raise _err("UNBALANCED_CONDITIONAL")
                    if not vfexec.pop():
                        nfalse -= 1
                else:  # VERIF, VERNOTIF: invalid even when not executed
                    raise _err("BAD_OPCODE")
            elif op == 0x69:  # VERIFY
                if not stack:
                    raise _err("INVALID_STACK_OPERATION")
                if not cast_to_bool(stack[-1]):
                    raise _err("VERIFY")
                stack.pop()
            elif op == 0x61:  # NOP
                pass
            elif op == 0x6A:
                raise _err("OP_RETURN")
            elif op == 0x62:  # VER
                raise _err("BAD_OPCODE")
            # ---- stack ops
            elif 0x6B <= op <= 0x82:
                _stack_op(op, stack, altstack, minimal)
            elif op == 0x89 or op == 0x8A:  # RESERVED1, RESERVED2
                raise _err("BAD_OPCODE")
            # ---- arithmetic
            elif 0x8B <= op <= 0xA5:
                _arith_op(op, stack, minimal)
            # ---- crypto
            elif 0xA6 <= op <= 0xAA:
                if not stack:
                    raise _err("INVALID_STACK_OPERATION")
                top = stack[-1]
                if op == 0xA6:
                    stack[-1] = _ripemd160(top)
                elif op == 0xA7:
                    stack[-1] = _sha1(top).digest()
                elif op == 0xA8:
                    stack[-1] = _sha256(top).digest()
                else:
                    stack[-1] = _sha256(_sha256(top).digest()).digest()
            elif op == 0xAB:  # CODESEPARATOR
                begincode = pc
                if execdata is not None:
                    execdata.codesep_pos = opcode_pos
            elif op == 0xAE or op == 0xAF:
                if sigversion == SIGVERSION_TAPSCRIPT:
                    raise _err("TAPSCRIPT_CHECKMULTISIG")
                op_count = _checkmultisig(op, stack, script[begincode:], flags, checker, sigversion, op_count)
            elif op == 0xBA:  # CHECKSIGADD
                if pre_tap:
                    raise _err("BAD_OPCODE")
                if len(stack) < 3:
                    raise _err("INVALID_STACK_OPERATION")
                sig, num, pub = stack[-3], decode_num(stack[-2], minimal), stack[-1]
                ok = _checksig_tapscript(sig, pub, flags, checker, execdata)
                del stack[-3:]
                push(_num(num + 1 if ok else num))
            # ---- locktime and upgradable NOPs
            elif op == 0xB1:
                if not flags & CHECKLOCKTIMEVERIFY:
                    if flags & DISCOURAGE_UPGRADABLE_NOPS:
                        raise _err("DISCOURAGE_UPGRADABLE_NOPS")
                else:
                    if not stack:
                        raise _err("INVALID_STACK_OPERATION")
                    # 5-byte operands so lock times up to 2**39-1 fit (nLockTime is uint32).
                    lock = decode_num(stack[-1], minimal, 5)
                    if lock < 0:
                        raise _err("NEGATIVE_LOCKTIME")
                    if not checker.check_locktime(lock):
                        raise _err("UNSATISFIED_LOCKTIME")
            elif op == 0xB2:
                if not flags & CHECKSEQUENCEVERIFY:
                    if flags & DISCOURAGE_UPGRADABLE_NOPS:
                        raise _err("DISCOURAGE_UPGRADABLE_NOPS")
                else:
                    if not stack:
                        raise _err("INVALID_STACK_OPERATION")
                    seq = decode_num(stack[-1], minimal, 5)
                    if seq < 0:
                        raise _err("NEGATIVE_LOCKTIME")
                    if not seq & SEQUENCE_LOCKTIME_DISABLE_FLAG and not checker.check_sequence(seq):
                        raise _err("UNSATISFIED_LOCKTIME")
            elif op == 0xB0 or 0xB3 <= op <= 0xB9:
                if flags & DISCOURAGE_UPGRADABLE_NOPS:
                    raise _err("DISCOURAGE_UPGRADABLE_NOPS")
            else:
                raise _err("BAD_OPCODE")

            if len(stack) + len(altstack) > MAX_STACK_SIZE:
                raise _err("STACK_SIZE")
    except IndexError:  # pragma: no cover - every access is guarded; Core maps such faults here
        raise _err("UNKNOWN_ERROR") from None
    if vfexec:
        raise _err("UNBALANCED_CONDITIONAL")


def _stack_op(op: int, stack: list[bytes], altstack: list[bytes], minimal: int) -> None:
    size = len(stack)
    if op == 0x6B:  # TOALTSTACK
        if size < 1:
            raise _err("INVALID_STACK_OPERATION")
        altstack.append(stack.pop())
    elif op == 0x6C:  # FROMALTSTACK
        if not altstack:
            raise _err("INVALID_ALTSTACK_OPERATION")
        stack.append(altstack.pop())
    elif op == 0x6D:  # 2DROP
        if size < 2:
            raise _err("INVALID_STACK_OPERATION")
        del stack[-2:]
    elif op == 0x6E:  # 2DUP
        if size < 2:
            raise _err("INVALID_STACK_OPERATION")
        stack.extend(stack[-2:])
    elif op == 0x6F:  # 3DUP
        if size < 3:
            raise _err("INVALID_STACK_OPERATION")
        stack.extend(stack[-3:])
    elif op == 0x70:  # 2OVER
        if size < 4:
            raise _err("INVALID_STACK_OPERATION")
        stack.extend(stack[-4:-2])
    elif op == 0x71:  # 2ROT
        if size < 6:
            raise _err("INVALID_STACK_OPERATION")
        x = stack[-6:-4]
        del stack[-6:-4]
        stack.extend(x)
    elif op == 0x72:  # 2SWAP
        if size < 4:
            raise _err("INVALID_STACK_OPERATION")
        stack[-4:] = stack[-2:] + stack[-4:-2]
    elif op == 0x73:  # IFDUP
        if size < 1:
            raise _err("INVALID_STACK_OPERATION")
        if cast_to_bool(stack[-1]):
            stack.append(stack[-1])
    elif op == 0x74:  # DEPTH
        stack.append(_num(size))
    elif op == 0x75:  # DROP
        if size < 1:
            raise _err("INVALID_STACK_OPERATION")
        stack.pop()
    elif op == 0x77:  # NIP
        if size < 2:
            raise _err("INVALID_STACK_OPERATION")
        del stack[-2]
    elif op == 0x78:  # OVER
        if size < 2:
            raise _err("INVALID_STACK_OPERATION")
        stack.append(stack[-2])
    elif op == 0x79 or op == 0x7A:  # PICK, ROLL
        if size < 2:
            raise _err("INVALID_STACK_OPERATION")
        k = decode_num(stack[-1], minimal)
        stack.pop()
        if k < 0 or k >= len(stack):
            raise _err("INVALID_STACK_OPERATION")
        v = stack[-k - 1]
        if op == 0x7A:
            del stack[-k - 1]
        stack.append(v)
    elif op == 0x7B:  # ROT
        if size < 3:
            raise _err("INVALID_STACK_OPERATION")
        stack.append(stack.pop(-3))
    elif op == 0x7C:  # SWAP
        if size < 2:
            raise _err("INVALID_STACK_OPERATION")
        stack[-1], stack[-2] = stack[-2], stack[-1]
    elif op == 0x7D:  # TUCK
        if size < 2:
            raise _err("INVALID_STACK_OPERATION")
        stack.insert(-2, stack[-1])
    elif op == 0x82:  # SIZE
        if size < 1:
            raise _err("INVALID_STACK_OPERATION")
        stack.append(_num(len(stack[-1])))
    else:  # 0x76 is handled inline; the rest of the range are disabled ops, rejected earlier
        raise _err("BAD_OPCODE")


def _arith_op(op: int, stack: list[bytes], minimal: int) -> None:
    if op <= 0x92:  # unary: 1ADD 1SUB (2MUL 2DIV disabled) NEGATE ABS NOT 0NOTEQUAL
        if not stack:
            raise _err("INVALID_STACK_OPERATION")
        a = decode_num(stack[-1], minimal)
        if op == 0x8B:
            r = a + 1
        elif op == 0x8C:
            r = a - 1
        elif op == 0x8F:
            r = -a
        elif op == 0x90:
            r = -a if a < 0 else a
        elif op == 0x91:
            r = int(a == 0)
        elif op == 0x92:
            r = int(a != 0)
        else:  # pragma: no cover - disabled, rejected before dispatch
            raise _err("DISABLED_OPCODE")
        stack[-1] = _num(r)
        return
    if op == 0xA5:  # WITHIN
        if len(stack) < 3:
            raise _err("INVALID_STACK_OPERATION")
        x = decode_num(stack[-3], minimal)
        lo = decode_num(stack[-2], minimal)
        hi = decode_num(stack[-1], minimal)
        del stack[-3:]
        stack.append(_TRUE if lo <= x < hi else _FALSE)
        return
    if len(stack) < 2:
        raise _err("INVALID_STACK_OPERATION")
    a = decode_num(stack[-2], minimal)
    b = decode_num(stack[-1], minimal)
    if op == 0x93:
        r = a + b
    elif op == 0x94:
        r = a - b
    elif op == 0x9A:
        r = int(a != 0 and b != 0)
    elif op == 0x9B:
        r = int(a != 0 or b != 0)
    elif op == 0x9C or op == 0x9D:
        r = int(a == b)
    elif op == 0x9E:
        r = int(a != b)
    elif op == 0x9F:
        r = int(a < b)
    elif op == 0xA0:
        r = int(a > b)
    elif op == 0xA1:
        r = int(a <= b)
    elif op == 0xA2:
        r = int(a >= b)
    elif op == 0xA3:
        r = a if a < b else b
    elif op == 0xA4:
        r = a if a > b else b
    else:  # pragma: no cover - MUL/DIV/MOD/LSHIFT/RSHIFT are disabled, rejected before dispatch
        raise _err("DISABLED_OPCODE")
    del stack[-2:]
    stack.append(_num(r))
    if op == 0x9D:
        if not r:
            raise _err("NUMEQUALVERIFY")
        stack.pop()


def _checkmultisig(
    op: int, stack: list[bytes], code: bytes, flags: int, checker: TxChecker, sigversion: int, op_count: int
) -> int:
    minimal = flags & MINIMALDATA
    i = 1
    if len(stack) < i:
        raise _err("INVALID_STACK_OPERATION")
    nkeys = decode_num(stack[-i], minimal)
    if nkeys < 0 or nkeys > MAX_PUBKEYS_PER_MULTISIG:
        raise _err("PUBKEY_COUNT")
    op_count += nkeys
    if op_count > MAX_OPS_PER_SCRIPT:
        raise _err("OP_COUNT")
    i += 1
    ikey = i
    ikey2 = nkeys + 2  # where the keys start, for the NULLFAIL cleanup below
    i += nkeys
    if len(stack) < i:
        raise _err("INVALID_STACK_OPERATION")
    nsigs = decode_num(stack[-i], minimal)
    if nsigs < 0 or nsigs > nkeys:
        raise _err("SIG_COUNT")
    i += 1
    isig = i
    i += nsigs
    if len(stack) < i:
        raise _err("INVALID_STACK_OPERATION")
    if sigversion == SIGVERSION_BASE:
        for k in range(nsigs):
            code, found = find_and_delete(code, push_data(stack[-isig - k]))
            if found and flags & CONST_SCRIPTCODE:
                raise _err("SIG_FINDANDDELETE")
    success = True
    while success and nsigs > 0:
        sig = stack[-isig]
        pub = stack[-ikey]
        # Encodings are checked only for the pairs actually tried, in this order (consensus).
        check_signature_encoding(sig, flags)
        check_pubkey_encoding(pub, flags, sigversion)
        if checker.check_ecdsa(sig, pub, code, sigversion):
            isig += 1
            nsigs -= 1
        ikey += 1
        nkeys -= 1
        # More signatures left than keys means it can no longer succeed.
        if nsigs > nkeys:
            success = False
    # Pop everything but the dummy; with NULLFAIL any failed non-empty signature is an error.
    while i > 1:
        i -= 1
        if not success and flags & NULLFAIL and not ikey2 and stack[-1]:
            raise _err("NULLFAIL")
        if ikey2 > 0:
            ikey2 -= 1
        stack.pop()
    # The extra item (a historical off-by-one) must be present, and empty under NULLDUMMY.
    if not stack:
        raise _err("INVALID_STACK_OPERATION")
    if flags & NULLDUMMY and stack[-1]:
        raise _err("SIG_NULLDUMMY")
    stack.pop()
    if op == 0xAF:
        if not success:
            raise _err("CHECKMULTISIGVERIFY")
    else:
        stack.append(_TRUE if success else _FALSE)
    return op_count


# ------------------------------------------------------------------------- verification
def witness_program(script: bytes) -> tuple[int, bytes] | None:
    n = len(script)
    if n < 4 or n > 42:
        return None
    v = script[0]
    if v != 0 and not 0x51 <= v <= 0x60:
        return None
    if script[1] + 2 != n:
        return None
    return (0 if v == 0 else v - 0x50), script[2:]


def _execute_witness_script(
    stack: list[bytes], script: bytes, flags: int, sigversion: int, checker: TxChecker, execdata: ExecData
) -> None:
    if sigversion == SIGVERSION_TAPSCRIPT:
        # OP_SUCCESSx anywhere (even unreachable) makes the script succeed, before any other rule.
        pc, n = 0, len(script)
        while pc < n:
            op = script[pc]
            end = _get_op_end(script, pc)
            if end < 0:
                raise _err("BAD_OPCODE")
            if op in _OP_SUCCESS:
                if flags & DISCOURAGE_OP_SUCCESS:
                    raise _err("DISCOURAGE_OP_SUCCESS")
                return
            pc = end
        if len(stack) > MAX_STACK_SIZE:
            raise _err("STACK_SIZE")
    for item in stack:
        if len(item) > MAX_SCRIPT_ELEMENT_SIZE:
            raise _err("PUSH_SIZE")
    eval_script(stack, script, flags, checker, sigversion, execdata)
    # Witness scripts must leave exactly one true element.
    if len(stack) != 1:
        raise _err("CLEANSTACK")
    if not cast_to_bool(stack[-1]):
        raise _err("EVAL_FALSE")


def _witness_size(witness: Sequence[bytes]) -> int:
    return len(compact_size(len(witness))) + sum(len(compact_size(len(w))) + len(w) for w in witness)


def verify_taproot_commitment(control: bytes, program: bytes, leaf_hash: bytes) -> bool:
    k = leaf_hash
    for off in range(33, len(control), 32):
        node = control[off : off + 32]
        k = tagged_hash("TapBranch", k + node if k < node else node + k)
    tweak = tagged_hash("TapTweak", control[1:33] + k)
    return crypto.check_tap_tweak(program, control[1:33], tweak, control[0] & 1)


def verify_witness_program(
    witness: Sequence[bytes], version: int, program: bytes, flags: int, checker: TxChecker, is_p2sh: bool
) -> None:
    stack = list(witness)
    execdata = ExecData()
    if version == 0:
        if len(program) == 32:
            if not stack:
                raise _err("WITNESS_PROGRAM_WITNESS_EMPTY")
            script = stack.pop()
            if _sha256(script).digest() != program:
                raise _err("WITNESS_PROGRAM_MISMATCH")
            _execute_witness_script(stack, script, flags, SIGVERSION_WITNESS_V0, checker, execdata)
        elif len(program) == 20:
            if len(stack) != 2:
                raise _err("WITNESS_PROGRAM_MISMATCH")
            script = b"\x76\xa9\x14" + program + b"\x88\xac"
            _execute_witness_script(stack, script, flags, SIGVERSION_WITNESS_V0, checker, execdata)
        else:
            raise _err("WITNESS_PROGRAM_WRONG_LENGTH")
        return
    if version == 1 and len(program) == 32 and not is_p2sh:
        if not flags & TAPROOT:
            return
        if not stack:
            raise _err("WITNESS_PROGRAM_WITNESS_EMPTY")
        if len(stack) >= 2 and stack[-1] and stack[-1][0] == ANNEX_TAG:
            annex = stack.pop()
            execdata.annex_hash = _sha256(compact_size(len(annex)) + annex).digest()
        if len(stack) == 1:
            checker.check_schnorr(stack[0], program, SIGVERSION_TAPROOT, execdata)
            return
        control = stack.pop()
        script = stack.pop()
        nc = len(control)
        if nc < TAPROOT_CONTROL_BASE_SIZE or nc > TAPROOT_CONTROL_MAX_SIZE or (nc - 33) % 32:
            raise _err("TAPROOT_WRONG_CONTROL_SIZE")
        leaf_version = control[0] & TAPROOT_LEAF_MASK
        execdata.tapleaf_hash = tapleaf_hash(leaf_version, script)
        if not verify_taproot_commitment(control, program, execdata.tapleaf_hash):
            raise _err("WITNESS_PROGRAM_MISMATCH")
        if leaf_version == TAPROOT_LEAF_TAPSCRIPT:
            execdata.weight_left = _witness_size(witness) + VALIDATION_WEIGHT_OFFSET
            _execute_witness_script(stack, script, flags, SIGVERSION_TAPSCRIPT, checker, execdata)
            return
        if flags & DISCOURAGE_UPGRADABLE_TAPROOT_VERSION:
            raise _err("DISCOURAGE_UPGRADABLE_TAPROOT_VERSION")
        return
    if version == 1 and program == b"\x4e\x73" and not is_p2sh:
        return  # pay-to-anchor: standard, so not "upgradable"
    if flags & DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM:
        raise _err("DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM")


def check_flags(flags: int) -> None:
    """Core asserts these (VerifyScript): CLEANSTACK needs P2SH and WITNESS, WITNESS needs P2SH."""
    if flags & CLEANSTACK and (flags & (P2SH | WITNESS)) != (P2SH | WITNESS):
        raise ScriptError("INVALID_FLAGS", "CLEANSTACK requires P2SH and WITNESS")
    if flags & WITNESS and not flags & P2SH:
        raise ScriptError("INVALID_FLAGS", "WITNESS requires P2SH")


def verify_script(
    script_sig: bytes, script_pubkey: bytes, witness: Sequence[bytes], flags: int, checker: TxChecker
) -> None:
    """VerifyScript. Raises ScriptError; returns None when the spend is valid."""
    check_flags(flags)
    if flags & SIGPUSHONLY and not is_push_only(script_sig):
        raise _err("SIG_PUSHONLY")
    stack: list[bytes] = []
    eval_script(stack, script_sig, flags, checker, SIGVERSION_BASE)
    stack_copy = list(stack) if flags & P2SH else None
    eval_script(stack, script_pubkey, flags, checker, SIGVERSION_BASE)
    if not stack or not cast_to_bool(stack[-1]):
        raise _err("EVAL_FALSE")
    had_witness = False
    if flags & WITNESS:
        wp = witness_program(script_pubkey)
        if wp is not None:
            had_witness = True
            if script_sig:
                raise _err("WITNESS_MALLEATED")
            verify_witness_program(witness, wp[0], wp[1], flags, checker, False)
            del stack[1:]  # bypass CLEANSTACK: the witness ran on its own stack
    if (
        flags & P2SH
        and len(script_pubkey) == 23
        and script_pubkey[0] == 0xA9
        and script_pubkey[1] == 0x14
        and script_pubkey[22] == 0x87
    ):
        if not is_push_only(script_sig):
            raise _err("SIG_PUSHONLY")
        stack = stack_copy
        redeem = stack.pop()
        eval_script(stack, redeem, flags, checker, SIGVERSION_BASE)
        if not stack or not cast_to_bool(stack[-1]):
            raise _err("EVAL_FALSE")
        if flags & WITNESS:
            wp = witness_program(redeem)
            if wp is not None:
                had_witness = True
                if script_sig != push_data(redeem):
                    raise _err("WITNESS_MALLEATED_P2SH")
                verify_witness_program(witness, wp[0], wp[1], flags, checker, True)
                del stack[1:]
    if flags & CLEANSTACK and len(stack) != 1:
        raise _err("CLEANSTACK")
    if flags & WITNESS and not had_witness and witness:
        raise _err("WITNESS_UNEXPECTED")
