"""The instruction set: ONE table gives the opcode IntEnum, the operand format, the documented effect and
the reference (vectorized numpy) semantics. docs/compute-isa.md is generated from it
(``python -c "from packetfs.compute.isa import markdown; print(markdown(), end='')" > docs/compute-isa.md``;
a test checks the file is current).

An instruction (``INSTR`` record, 28 bytes) has the fields::

    op u16, dst u8, a u8, b u8, width u8 (1, 2, 4 or 8 bytes), flags u8 (bit 0: SIGNED),
    count u8 (lanes), node u32 (ANY = run where the packet is), next u32, alt u32, imm u64

Operands ``dst``, ``a``, ``b`` are slot numbers 0..23 (slot i < 16 is input_data[i], 16+j is state[j]);
an ``a`` or ``b`` of 255 (``IMM``) reads the immediate ``imm`` instead. With ``count`` = n > 1 an operation
applies lane-wise to n consecutive slots (``dst..dst+n-1`` from ``a..a+n-1`` and ``b..b+n-1``; an
immediate is broadcast). Slot 23 (the runtime word) is never written by an instruction.

Integer semantics are C's on two's-complement machines with wrapping: operands are read as ``width``-byte
values (zero-extended, or sign-extended for the signed operations DIVS, MODS, SAR, LTS, LES, GTS, GES), the
operation runs on 64 bits and the result is truncated to ``width`` bytes and written zero-extended, or
sign-extended when the SIGNED flag is set. So ``MOV width=4 SIGNED`` is C's ``(int32_t)x`` widened again,
and a compiler keeps every value canonical in its slot. Shift counts are taken modulo the width in bits (as
x86 does). Division by zero is a fault (ERROR packet), INT_MIN / -1 wraps to INT_MIN.

Float operations read and write slots as IEEE-754 binary64 bit patterns (numpy float64 ops are correctly
rounded, so every backend and every node gives the same bits).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .packet import NUM_SLOTS, SLOT_RUNTIME

IMM = 255  # operand number meaning "the instruction's immediate"
ANY = 0xFFFFFFFF  # instruction node meaning "run at the node the packet is at"
SIGNED = 1  # flags bit

INSTR = np.dtype(
    [
        ("op", "<u2"),
        ("dst", "u1"),
        ("a", "u1"),
        ("b", "u1"),
        ("width", "u1"),
        ("flags", "u1"),
        ("count", "u1"),
        ("node", "<u4"),
        ("next", "<u4"),
        ("alt", "<u4"),
        ("imm", "<u8"),
    ]
)

SHA256_IV = (
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
)  # fmt: skip
_SHA_K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
        0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
        0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
        0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
        0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
        0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
        0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
    ],
    dtype=np.uint32,
)  # fmt: skip


class Status(enum.IntEnum):
    """Why a packet finished: HALTED, or the fault an ERROR packet reports to the origin."""

    HALTED = 0
    UNKNOWN_OPCODE = 1
    BAD_NODE = 2
    BAD_ADDRESS = 3
    BAD_PC = 4
    DIV_BY_ZERO = 5
    STEP_LIMIT = 6
    TRAP = 7
    MISROUTED = 8
    BAD_OPERAND = 9


STATUS_TEXT = {
    Status.HALTED: "halted",
    Status.UNKNOWN_OPCODE: "unknown opcode (detail: the opcode)",
    Status.BAD_NODE: "bad node id (detail: the node id)",
    Status.BAD_ADDRESS: "address outside memory, in its unmapped low bytes (a C program's NULL page) or access across a shard block (detail: the address)",
    Status.BAD_PC: "program counter outside the program (detail: the pc)",
    Status.DIV_BY_ZERO: "integer division or remainder by zero",
    Status.STEP_LIMIT: "the packet ran more instructions than the run's step limit (detail: steps)",
    Status.TRAP: "the program trapped (TRAP; detail: its operand)",
    Status.MISROUTED: "the packet arrived at a node that does not run its instruction (detail: the node)",
    Status.BAD_OPERAND: "operand slot, lane count or width out of range (detail: the opcode)",
}

_MASK = {1: np.uint64(0xFF), 2: np.uint64(0xFFFF), 4: np.uint64(0xFFFFFFFF), 8: np.uint64(2**64 - 1)}
_SIGN = {1: np.uint64(0x80), 2: np.uint64(0x8000), 4: np.uint64(0x80000000), 8: np.uint64(2**63)}
_U64 = np.uint64


def zext(x, width: int):
    """Low ``width`` bytes of uint64 ``x``, zero-extended."""
    return x if width == 8 else x & _MASK[width]


def sext(x, width: int):
    """Low ``width`` bytes of uint64 ``x``, sign-extended to 64 bits (as uint64)."""
    if width == 8:
        return x
    s = _SIGN[width]
    return ((x & _MASK[width]) ^ s) - s


class Ctx:
    """What a kernel sees: one group of packets at one node running one instruction, and what it produces.

    ``S`` is an (m, 24) uint64 array of the group's slots (written in place). Kernels set ``next_pc``
    (scalar or per-packet array; default: the instruction's ``next``), ``hop`` (the node the packet moves
    to; default: where it is), ``fault(...)``, ``finish(...)`` and append emit records.
    """

    __slots__ = (
        "S", "ins", "node", "cids", "steps", "memory", "acc", "next_pc", "hop", "status", "detail", "emits",
        "num_nodes",
    )  # fmt: skip

    def __init__(self, S, ins, node, cids, steps, memory, acc, num_nodes):
        self.S = S
        self.ins = ins
        self.node = node
        self.cids = cids
        self.steps = steps
        self.memory = memory
        self.acc = acc
        self.num_nodes = num_nodes
        self.next_pc = ins.next
        self.hop = None
        self.status = None  # per-packet uint16 status (0 = still running) once anything finishes
        self.detail = None
        self.emits: list[np.ndarray] = []

    # operands -------------------------------------------------------------------------------------------
    def raw(self, which: int):
        """Operand lanes as uint64: an (m, count) array, or a uint64 scalar for an immediate."""
        if which == IMM:
            return _U64(self.ins.imm)
        return self.S[:, which : which + self.ins.count]

    def opnd(self, which: int, signed: bool):
        x = self.raw(which)
        return sext(x, self.ins.width) if signed else zext(x, self.ins.width)

    def write(self, value) -> None:
        """Store lanes into dst, truncated to width and extended per the SIGNED flag."""
        ins = self.ins
        v = sext(value, ins.width) if ins.flags & SIGNED else zext(value, ins.width)
        self.S[:, ins.dst : ins.dst + ins.count] = v

    def fval(self, which: int):
        x = self.raw(which)
        if isinstance(x, np.generic):
            return np.array(x, dtype=np.uint64).view(np.float64)[()]
        return x.view(np.float64)

    def fwrite(self, value) -> None:
        ins = self.ins
        self.S[:, ins.dst : ins.dst + ins.count] = np.asarray(value, dtype=np.float64).view(np.uint64)

    # outcomes -------------------------------------------------------------------------------------------
    def _status_arrays(self):
        if self.status is None:
            m = len(self.S)
            self.status = np.zeros(m, dtype=np.uint16)
            self.detail = np.zeros(m, dtype=np.uint64)

    def fault(self, mask, status: Status, detail) -> None:
        """Finish the masked packets with ``status`` (an ERROR packet to the origin) and ``detail``."""
        self._status_arrays()
        mask = np.asarray(mask, dtype=bool) & (self.status == 0)
        self.status[mask] = status
        self.detail[mask] = np.broadcast_to(np.asarray(detail, dtype=np.uint64), mask.shape)[mask]

    def finish(self, values) -> None:
        """HALT every packet of the group with exit ``values``."""
        self._status_arrays()
        running = self.status == 0
        self.detail[running] = np.broadcast_to(np.asarray(values, dtype=np.uint64), running.shape)[running]
        self.status[running] = Status.HALTED + 0x100  # marked; the runtime maps it back to HALTED


HALT_MARK = 0x100


@dataclass(frozen=True)
class OpSpec:
    """One row of the instruction table."""

    code: int
    name: str
    group: str
    operands: str
    effect: str
    route: str
    kernel: Callable[[Ctx], None]
    writes_dst: bool = True  # dst..dst+count-1 are written (checked against slot 23)
    reads: str = "ab"  # which of a, b are slot operands (checked against the slot range)
    memory: bool = False  # LOAD/STORE: the packet is routed to the node owning the address
    dst_lanes: int = 0  # fixed lane count written (HASH 4, RNG 4); 0 = count
    a_lanes: int = 0  # fixed lane count read from a (HASH 8, RNG 4)
    b_lanes: int = 0  # fixed lane count read from b (HASH 4, RNG 2)


# kernels ------------------------------------------------------------------------------------------------
def _in_place_ok(ins) -> bool:
    """Writing the result straight into dst is safe when each slot operand is dst itself or disjoint from it
    (a dst shifted against an operand by a lane would read lanes already overwritten)."""
    n = ins.count
    return all(x == IMM or x == ins.dst or x + n <= ins.dst or ins.dst + n <= x for x in (ins.a, ins.b))


def _binary(fn, signed_operands: bool = False):
    def kernel(c: Ctx) -> None:
        ins = c.ins
        if ins.width == 8 and _in_place_ok(ins):  # no truncation: compute straight into dst
            fn(c.raw(ins.a), c.raw(ins.b), out=c.S[:, ins.dst : ins.dst + ins.count])
            return
        c.write(fn(c.opnd(ins.a, signed_operands), c.opnd(ins.b, signed_operands)))

    return kernel


def _unary(fn):
    def kernel(c: Ctx) -> None:
        c.write(fn(c.opnd(c.ins.a, False)))

    return kernel


def _compare(fn, signed_operands: bool):
    def kernel(c: Ctx) -> None:
        a = c.opnd(c.ins.a, signed_operands)
        b = c.opnd(c.ins.b, signed_operands)
        if signed_operands:
            a, b = np.asarray(a).view(np.int64), np.asarray(b).view(np.int64)
        c.write(np.asarray(fn(a, b), dtype=np.uint64))

    return kernel


def _divide(kind: str):
    signed = kind in ("DIVS", "MODS")

    def kernel(c: Ctx) -> None:
        a = np.broadcast_to(c.opnd(c.ins.a, signed), (len(c.S), c.ins.count))
        b = np.broadcast_to(c.opnd(c.ins.b, signed), (len(c.S), c.ins.count))
        zero = b == 0
        if zero.any():
            c.fault(zero.any(axis=1), Status.DIV_BY_ZERO, 0)
            b = np.where(zero, _U64(1), b)
        if not signed:
            c.write(a // b if kind == "DIVU" else a % b)
            return
        neg_a = (a >> _U64(63)).astype(bool)
        neg_b = (b >> _U64(63)).astype(bool)
        ua = np.where(neg_a, _U64(0) - a, a)  # magnitudes as uint64: |INT64_MIN| = 2**63 fits
        ub = np.where(neg_b, _U64(0) - b, b)
        if kind == "DIVS":
            q = ua // ub
            c.write(np.where(neg_a ^ neg_b, _U64(0) - q, q))  # C truncates toward zero
        else:
            r = ua % ub
            c.write(np.where(neg_a, _U64(0) - r, r))  # the remainder has the dividend's sign

    return kernel


def _shift(kind: str):
    def kernel(c: Ctx) -> None:
        bits = _U64(c.ins.width * 8 - 1)
        n = c.opnd(c.ins.b, False) & bits
        if kind == "SHL":
            c.write(c.opnd(c.ins.a, False) << n)
        elif kind == "SHR":
            c.write(c.opnd(c.ins.a, False) >> n)
        else:
            a = np.asarray(c.opnd(c.ins.a, True)).view(np.int64)
            c.write(np.asarray(a >> np.asarray(n).astype(np.int64)).view(np.uint64))

    return kernel


_QUIET = _U64(0x0008000000000000)


def _fbinary(fn):
    """IEEE arithmetic is exact, but which NaN comes out of NaN op NaN is not: numpy's loops (SIMD or
    scalar, by array length and layout) propagate different operands. The rule here is x86 SSE's: a NaN
    operand a gives a quieted, else a NaN b gives b quieted; a NaN produced from numbers is the
    hardware's default NaN. So every backend and batch split gives the same bits."""

    def kernel(c: Ctx) -> None:
        ins = c.ins
        a, b = c.fval(ins.a), c.fval(ins.b)
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        if not (nan_a.any() or nan_b.any()):
            if _in_place_ok(ins):  # straight into dst, viewed as float64
                fn(a, b, out=c.S[:, ins.dst : ins.dst + ins.count].view(np.float64))
            else:
                c.fwrite(fn(a, b))
            return
        bits_a = np.asarray(a).view(np.uint64) | _QUIET
        bits_b = np.asarray(b).view(np.uint64) | _QUIET
        r = np.asarray(fn(a, b)).view(np.uint64)
        c.S[:, ins.dst : ins.dst + ins.count] = np.where(nan_a, bits_a, np.where(nan_b, bits_b, r))

    return kernel


def _fplain(fn):
    def kernel(c: Ctx) -> None:
        c.fwrite(fn(c.fval(c.ins.a), c.fval(c.ins.b)))

    return kernel


def _funary(fn):
    def kernel(c: Ctx) -> None:
        c.fwrite(fn(c.fval(c.ins.a)))

    return kernel


def _fcompare(fn):
    def kernel(c: Ctx) -> None:
        c.S[:, c.ins.dst : c.ins.dst + c.ins.count] = np.asarray(
            fn(c.fval(c.ins.a), c.fval(c.ins.b)), dtype=np.uint64
        )

    return kernel


def _fminmax(is_max: bool):
    """C's fmin/fmax, bit-exact for every input: numpy's np.fmin/np.fmax answer differently for signaling
    NaNs depending on the array length (scalar vs SIMD loop), so the rule is spelled out: a NaN operand
    loses; of two equal values (+0 and -0) max takes +0 and min takes -0."""

    def fn(a, b):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        ab, bb = a.view(np.uint64), b.view(np.uint64)
        tie = (ab & bb) if is_max else (ab | bb)
        pick = np.where(a > b, ab, bb) if is_max else np.where(a < b, ab, bb)
        out = np.where(a == b, tie, pick)
        out = np.where(np.isnan(b), ab, out)
        return np.where(np.isnan(a), bb, out).view(np.float64)

    return fn


_INDEFINITE = _U64(2**63)  # what x86's cvttsd2si returns for NaN and out-of-range doubles


def _f2i(c: Ctx) -> None:
    f = np.asarray(c.fval(c.ins.a), dtype=np.float64)
    ok = (f >= -(2.0**63)) & (f < 2.0**63)  # False for NaN
    safe = np.where(ok, f, 0.0)
    c.S[:, c.ins.dst : c.ins.dst + c.ins.count] = np.where(ok, np.trunc(safe).astype(np.int64).view(np.uint64), _INDEFINITE)


def _f2u(c: Ctx) -> None:
    f = np.asarray(c.fval(c.ins.a), dtype=np.float64)
    ok = (f > -1.0) & (f < 2.0**64)
    safe = np.where(ok, f, 0.0)
    c.S[:, c.ins.dst : c.ins.dst + c.ins.count] = np.where(ok, np.trunc(safe).astype(np.uint64), _INDEFINITE)


def _i2f(c: Ctx) -> None:
    c.fwrite(np.asarray(c.opnd(c.ins.a, True)).view(np.int64).astype(np.float64))


def _u2f(c: Ctx) -> None:
    c.fwrite(np.asarray(c.opnd(c.ins.a, False)).astype(np.float64))


def _u01(c: Ctx) -> None:
    # numpy's random_standard_uniform conversion: the top 53 bits times 2**-53, in [0, 1)
    c.fwrite((np.asarray(c.raw(c.ins.a)) >> _U64(11)).astype(np.float64) * (1.0 / 9007199254740992.0))


def _mov(c: Ctx) -> None:
    c.write(c.opnd(c.ins.a, False))


def _nop(c: Ctx) -> None:
    pass


def _halt(c: Ctx) -> None:
    c.finish(np.asarray(c.opnd(c.ins.a, False)).reshape(len(c.S), -1)[:, 0] if c.ins.a != IMM else c.ins.imm)


def _first_lane(c: Ctx, which: int):
    x = c.opnd(which, False)
    return np.broadcast_to(np.asarray(x), (len(c.S), c.ins.count))[:, 0]


def _trap(c: Ctx) -> None:
    c.fault(np.ones(len(c.S), dtype=bool), Status.TRAP, _first_lane(c, c.ins.a))


def _br(c: Ctx) -> None:
    taken = _first_lane(c, c.ins.a) != 0
    c.next_pc = np.where(taken, np.uint32(c.ins.alt), np.uint32(c.ins.next))


def _call(c: Ctx) -> None:
    c.S[:, c.ins.dst] = _U64(c.ins.next)
    c.next_pc = c.ins.alt


def _ret(c: Ctx) -> None:
    target = _first_lane(c, c.ins.a)
    bad = target > _U64(0xFFFEFFFF)
    if bad.any():
        c.fault(bad, Status.BAD_PC, target)
    c.next_pc = np.where(bad, _U64(0), target).astype(np.uint32)


def _hop(c: Ctx) -> None:
    target = _first_lane(c, c.ins.a)
    bad = target >= _U64(c.num_nodes)
    if bad.any():
        c.fault(bad, Status.BAD_NODE, target)
    c.hop = np.where(bad, _U64(c.node), target).astype(np.uint32)


def _emit(c: Ctx) -> None:
    from .runtime.records import EMIT_DTYPE  # records are a runtime concern; imported lazily (no cycle)

    m, n = len(c.S), c.ins.count
    values = np.broadcast_to(np.asarray(zext(c.raw(c.ins.a), c.ins.width)), (m, n))
    rec = np.empty(m * n, dtype=EMIT_DTYPE)
    rec["computation_id"] = np.repeat(c.cids, n)
    rec["seq"] = np.repeat(c.steps, n)
    rec["lane"] = np.tile(np.arange(n, dtype=np.uint16), m)
    rec["tag"] = c.ins.dst
    rec["width"] = c.ins.width
    rec["value"] = values.reshape(-1)
    rec["node"] = c.node
    c.emits.append(rec)


def _nodeid(c: Ctx) -> None:
    c.S[:, c.ins.dst] = _U64(c.node)


def _cid(c: Ctx) -> None:
    c.S[:, c.ins.dst] = c.cids


def _load(c: Ctx) -> None:
    ins = c.ins
    addr = c.S[:, ins.a] + _U64(ins.imm) if ins.a != IMM else np.full(len(c.S), ins.imm, dtype=np.uint64)
    raw = c.memory.read(addr, ins.width, ins.count)  # (m, count) uint64, zero-extended
    c.write(raw)


def _store(c: Ctx) -> None:
    ins = c.ins
    addr = c.S[:, ins.a] + _U64(ins.imm) if ins.a != IMM else np.full(len(c.S), ins.imm, dtype=np.uint64)
    c.memory.write(addr, ins.width, ins.count, c.S[:, ins.b : ins.b + ins.count])


def _reduce(kind: str):
    def kernel(c: Ctx) -> None:
        signed = bool(c.ins.flags & SIGNED)
        values = np.broadcast_to(np.asarray(c.opnd(c.ins.a, signed and kind in ("MIN", "MAX"))), (len(c.S), c.ins.count))
        for lane in range(c.ins.count):
            c.acc.combine(c.ins.imm + lane, kind, signed, values[:, lane])

    return kernel


# SHA-256 compression, vectorized over packets ------------------------------------------------------------
def _rotr(x, n: int):
    return (x >> np.uint32(n)) | (x << np.uint32(32 - n))


def sha256_compress(state: np.ndarray, block: np.ndarray) -> np.ndarray:
    """SHA-256 compression of (m, 16) big-endian-word blocks into (m, 8) uint32 states; returns new states."""
    w = [block[:, i].astype(np.uint32) for i in range(16)]
    for t in range(16, 64):
        s0 = _rotr(w[t - 15], 7) ^ _rotr(w[t - 15], 18) ^ (w[t - 15] >> np.uint32(3))
        s1 = _rotr(w[t - 2], 17) ^ _rotr(w[t - 2], 19) ^ (w[t - 2] >> np.uint32(10))
        w.append(w[t - 16] + s0 + w[t - 7] + s1)
    a, b, c, d, e, f, g, h = (state[:, i].astype(np.uint32) for i in range(8))
    for t in range(64):
        t1 = h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _SHA_K[t] + w[t]
        t2 = (_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
        h, g, f, e, d, c, b, a = g, f, e, d + t1, c, b, a, t1 + t2
    return np.stack([a, b, c, d, e, f, g, h], axis=1) + state.astype(np.uint32)


def _hash(c: Ctx) -> None:
    m = len(c.S)
    block = np.ascontiguousarray(c.S[:, c.ins.a : c.ins.a + 8]).astype("<u8").view(">u4").astype(np.uint32)
    if c.ins.b == IMM:
        state = np.broadcast_to(np.array(SHA256_IV, dtype=np.uint32), (m, 8))
    else:
        state = np.ascontiguousarray(c.S[:, c.ins.b : c.ins.b + 4]).astype("<u8").view(">u4").astype(np.uint32)
    out = sha256_compress(state, block)
    c.S[:, c.ins.dst : c.ins.dst + 4] = np.ascontiguousarray(out.astype(">u4")).view("<u8")


# Philox4x64-10 (Salmon et al. 2011; numpy's Philox bit generator), vectorized ----------------------------
_PHILOX_M0 = _U64(0xD2E7470EE14C6C93)
_PHILOX_M1 = _U64(0xCA5A826395121157)
_PHILOX_W0 = _U64(0x9E3779B97F4A7C15)
_PHILOX_W1 = _U64(0xBB67AE8584CAA73B)
_LO32 = _U64(0xFFFFFFFF)
_S32 = _U64(32)


def _mulhilo(a: np.ndarray, m: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    ml, mh = m & _LO32, m >> _S32
    al, ah = a & _LO32, a >> _S32
    t = al * ml
    u = ah * ml + (t >> _S32)
    v = al * mh + (u & _LO32)
    hi = ah * mh + (u >> _S32) + (v >> _S32)
    return hi, a * m


def philox4x64(ctr: np.ndarray, key: np.ndarray, rounds: int = 10) -> np.ndarray:
    """Philox4x64-``rounds`` of (m, 4) counters under (m, 2) keys: (m, 4) uint64 outputs."""
    c0, c1, c2, c3 = (ctr[:, i].astype(np.uint64) for i in range(4))
    k0, k1 = key[:, 0].astype(np.uint64), key[:, 1].astype(np.uint64)
    for r in range(rounds):
        if r:
            k0 = k0 + _PHILOX_W0
            k1 = k1 + _PHILOX_W1
        hi0, lo0 = _mulhilo(c0, _PHILOX_M0)
        hi1, lo1 = _mulhilo(c2, _PHILOX_M1)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return np.stack([c0, c1, c2, c3], axis=1)


def _rng(c: Ctx) -> None:
    m = len(c.S)
    ctr = c.S[:, c.ins.a : c.ins.a + 4]
    if c.ins.b == IMM:
        key = np.zeros((m, 2), dtype=np.uint64)
        key[:, 0] = c.ins.imm
    else:
        key = c.S[:, c.ins.b : c.ins.b + 2]
    c.S[:, c.ins.dst : c.ins.dst + 4] = philox4x64(ctr, key)


# Monte Carlo blocks: many samples per packet, generated and tested at the node -------------------------
MC_INTEGRANDS = ("quarter-disc", "quarter-circle", "arctan", "x2", "sqrt")  # MCSUM's integrand codes 0..4
MC_FIXED_BITS = 32  # float integrands are summed as round(f * 2**32) in integers: exact, any order
MC_MAX_BLOCKS = 1 << 20  # Philox blocks (4 samples each) per MCSUM: keeps every fixed-point sum below 2**59
_MC_CHUNK = 1 << 14  # blocks generated at a time: 512 KiB of words stays in L2 (and keeps float sums exact)


def _mc_fixed(code: int, words: np.ndarray) -> tuple[int, int]:
    """(sum f, sum f^2) over one chunk of Philox words, exact integers (see MCSUM)."""
    if code == 0:  # (x, y) = (high 31 bits, low 31 bits); x^2 + y^2 < 2^62 in uint64
        x = words >> _U64(33)
        y = words & _U64(0x7FFFFFFF)
        np.multiply(x, x, out=x)
        np.multiply(y, y, out=y)
        np.add(x, y, out=x)
        hits = int(np.count_nonzero(x < _U64(1 << 62)))
        return hits, hits
    f = (words >> _U64(11)).astype(np.float64)
    f *= 1.0 / 9007199254740992.0  # U01: numpy's conversion
    if code == 1:  # sqrt(1 - u^2)
        np.multiply(f, f, out=f)
        np.subtract(1.0, f, out=f)
        np.sqrt(f, out=f)
    elif code == 2:  # 4 / (1 + u^2)
        np.multiply(f, f, out=f)
        np.add(f, 1.0, out=f)
        np.divide(4.0, f, out=f)
    elif code == 3:  # u^2
        np.multiply(f, f, out=f)
    else:  # sqrt(u)
        np.sqrt(f, out=f)
    scale = float(1 << MC_FIXED_BITS)
    f2 = np.multiply(f, f)
    f2 *= scale  # times a power of two: exact
    f *= scale
    # round(f * 2^32) <= 2^34 and round(f^2 * 2^32) <= 2^36, at most 2^16 words a chunk: every partial sum is
    # an integer below 2^53, so the float64 sums are exact in any order
    return int(np.rint(f, out=f).sum()), int(np.rint(f2, out=f2).sum())


def _mcsum(c: Ctx) -> None:
    ins = c.ins
    out = np.zeros((len(c.S), 2), dtype=np.uint64)
    key = np.array([ins.imm, 0], dtype=np.uint64)
    for row in range(len(c.S)):
        ctr = [int(v) for v in c.S[row, ins.a : ins.a + 4]]
        n, code = int(c.S[row, ins.b]), int(c.S[row, ins.b + 1])
        if n > MC_MAX_BLOCKS or code >= len(MC_INTEGRANDS):
            c.fault(np.arange(len(c.S)) == row, Status.BAD_OPERAND, ins.op)
            continue
        # numpy's Philox (C) increments its 256-bit counter before each block: start it one below
        start = (ctr[0] | ctr[1] << 64 | ctr[2] << 128 | ctr[3] << 192) - 1
        start %= 1 << 256
        bg = np.random.Philox(counter=np.array([(start >> s) & (2**64 - 1) for s in (0, 64, 128, 192)],
                                               dtype=np.uint64), key=key)
        total = total2 = 0
        for first in range(0, n, _MC_CHUNK):
            s1, s2 = _mc_fixed(code, bg.random_raw(4 * min(_MC_CHUNK, n - first)))
            total += s1
            total2 += s2
        out[row] = (total, total2)
    c.S[:, ins.dst : ins.dst + 2] = out


# THE table -------------------------------------------------------------------------------------------
_W = "width, SIGNED"
_LANES = "lanes"

TABLE: tuple[OpSpec, ...] = (
    OpSpec(0x00, "NOP", "control", "", "nothing (a jump: `next` is the target)", "next", _nop, False, ""),
    OpSpec(0x01, "HALT", "control", "a", "s22 = a; the packet finishes (status HALTED) and returns to the origin", "origin", _halt, False, "a"),
    OpSpec(0x02, "TRAP", "control", "a", "the packet finishes with status TRAP, detail a (C's abort/assert)", "origin", _trap, False, "a"),
    OpSpec(0x03, "BR", "control", "a", "conditional route: if a != 0 (low width bytes) go to alt else next", "alt or next", _br, False, "a"),
    OpSpec(0x04, "CALL", "control", "dst", "dst = next (the return address); go to alt", "alt", _call, True, ""),
    OpSpec(0x05, "RET", "control", "a", "go to the pc in a (indirect jump; returns, function pointers)", "a", _ret, False, "a"),
    OpSpec(0x06, "HOP", "control", "a", "move to node a (its next ANY-node instruction runs there)", "node a, next", _hop, False, "a"),
    OpSpec(0x07, "EMIT", "control", "tag=dst, a, " + _W + ", " + _LANES, "send the low width bytes of a (each lane) to the origin, tagged, in program order", "next", _emit, False, "a"),
    OpSpec(0x08, "NODEID", "control", "dst", "dst = the id of the node running the packet", "next", _nodeid),
    OpSpec(0x09, "CID", "control", "dst", "dst = computation_id", "next", _cid),
    OpSpec(0x10, "ADD", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a + b (wrapping)", "next", _binary(np.add)),
    OpSpec(0x11, "SUB", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a - b (wrapping)", "next", _binary(np.subtract)),
    OpSpec(0x12, "MUL", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a * b (low 64 bits)", "next", _binary(np.multiply)),
    OpSpec(0x13, "DIVU", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a / b unsigned; b == 0 faults", "next", _divide("DIVU")),
    OpSpec(0x14, "DIVS", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a / b signed, toward zero; b == 0 faults", "next", _divide("DIVS")),
    OpSpec(0x15, "MODU", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a % b unsigned; b == 0 faults", "next", _divide("MODU")),
    OpSpec(0x16, "MODS", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a % b signed (sign of a); b == 0 faults", "next", _divide("MODS")),
    OpSpec(0x17, "AND", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a & b", "next", _binary(np.bitwise_and)),
    OpSpec(0x18, "OR", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a | b", "next", _binary(np.bitwise_or)),
    OpSpec(0x19, "XOR", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a ^ b", "next", _binary(np.bitwise_xor)),
    OpSpec(0x1A, "SHL", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a << (b mod width bits)", "next", _shift("SHL")),
    OpSpec(0x1B, "SHR", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a >> (b mod width bits), logical", "next", _shift("SHR")),
    OpSpec(0x1C, "SAR", "integer", "dst, a, b, " + _W + ", " + _LANES, "dst = a >> (b mod width bits), arithmetic", "next", _shift("SAR")),
    OpSpec(0x20, "MOV", "integer", "dst, a, " + _W + ", " + _LANES, "dst = a (truncate / zero- or sign-extend per width, SIGNED; a = IMM loads a constant)", "next", _mov, True, "a"),
    OpSpec(0x21, "NOT", "integer", "dst, a, " + _W + ", " + _LANES, "dst = ~a", "next", _unary(lambda a: ~a), True, "a"),
    OpSpec(0x22, "NEG", "integer", "dst, a, " + _W + ", " + _LANES, "dst = -a (wrapping)", "next", _unary(lambda a: _U64(0) - a), True, "a"),
    OpSpec(0x30, "EQ", "compare", "dst, a, b, width, " + _LANES, "dst = a == b ? 1 : 0", "next", _compare(np.equal, False)),
    OpSpec(0x31, "NE", "compare", "dst, a, b, width, " + _LANES, "dst = a != b", "next", _compare(np.not_equal, False)),
    OpSpec(0x32, "LTU", "compare", "dst, a, b, width, " + _LANES, "dst = a < b unsigned", "next", _compare(np.less, False)),
    OpSpec(0x33, "LEU", "compare", "dst, a, b, width, " + _LANES, "dst = a <= b unsigned", "next", _compare(np.less_equal, False)),
    OpSpec(0x34, "GTU", "compare", "dst, a, b, width, " + _LANES, "dst = a > b unsigned", "next", _compare(np.greater, False)),
    OpSpec(0x35, "GEU", "compare", "dst, a, b, width, " + _LANES, "dst = a >= b unsigned", "next", _compare(np.greater_equal, False)),
    OpSpec(0x36, "LTS", "compare", "dst, a, b, width, " + _LANES, "dst = a < b signed", "next", _compare(np.less, True)),
    OpSpec(0x37, "LES", "compare", "dst, a, b, width, " + _LANES, "dst = a <= b signed", "next", _compare(np.less_equal, True)),
    OpSpec(0x38, "GTS", "compare", "dst, a, b, width, " + _LANES, "dst = a > b signed", "next", _compare(np.greater, True)),
    OpSpec(0x39, "GES", "compare", "dst, a, b, width, " + _LANES, "dst = a >= b signed", "next", _compare(np.greater_equal, True)),
    OpSpec(0x40, "FADD", "float64", "dst, a, b, " + _LANES, "dst = a + b (a NaN result is a's NaN, else b's, quieted: x86's rule)", "next", _fbinary(np.add)),
    OpSpec(0x41, "FSUB", "float64", "dst, a, b, " + _LANES, "dst = a - b", "next", _fbinary(np.subtract)),
    OpSpec(0x42, "FMUL", "float64", "dst, a, b, " + _LANES, "dst = a * b", "next", _fbinary(np.multiply)),
    OpSpec(0x43, "FDIV", "float64", "dst, a, b, " + _LANES, "dst = a / b (IEEE: x/0 is inf or NaN, no fault)", "next", _fbinary(np.divide)),
    OpSpec(0x44, "FMIN", "float64", "dst, a, b, " + _LANES, "dst = fmin(a, b) (C's fmin: a NaN operand loses)", "next", _fplain(_fminmax(False))),
    OpSpec(0x45, "FMAX", "float64", "dst, a, b, " + _LANES, "dst = fmax(a, b)", "next", _fplain(_fminmax(True))),
    OpSpec(0x46, "FNEG", "float64", "dst, a, " + _LANES, "dst = -a", "next", _funary(np.negative), True, "a"),
    OpSpec(0x47, "FABS", "float64", "dst, a, " + _LANES, "dst = |a|", "next", _funary(np.abs), True, "a"),
    OpSpec(0x48, "FSQRT", "float64", "dst, a, " + _LANES, "dst = sqrt(a) (correctly rounded)", "next", _funary(np.sqrt), True, "a"),
    OpSpec(0x49, "FEQ", "float64", "dst, a, b, " + _LANES, "dst = a == b (0 with a NaN)", "next", _fcompare(np.equal)),
    OpSpec(0x4A, "FNE", "float64", "dst, a, b, " + _LANES, "dst = a != b (1 with a NaN)", "next", _fcompare(np.not_equal)),
    OpSpec(0x4B, "FLT", "float64", "dst, a, b, " + _LANES, "dst = a < b", "next", _fcompare(np.less)),
    OpSpec(0x4C, "FLE", "float64", "dst, a, b, " + _LANES, "dst = a <= b", "next", _fcompare(np.less_equal)),
    OpSpec(0x4D, "I2F", "float64", "dst, a, width, " + _LANES, "dst = (double) a, a signed width-byte integer", "next", _i2f, True, "a"),
    OpSpec(0x4E, "U2F", "float64", "dst, a, width, " + _LANES, "dst = (double) a, a unsigned width-byte integer", "next", _u2f, True, "a"),
    OpSpec(0x4F, "F2I", "float64", "dst, a, " + _LANES, "dst = (int64) a toward zero; NaN / out of range give 2**63 (x86's indefinite)", "next", _f2i, True, "a"),
    OpSpec(0x50, "F2U", "float64", "dst, a, " + _LANES, "dst = (uint64) a toward zero; NaN / out of range give 2**63", "next", _f2u, True, "a"),
    OpSpec(0x51, "FROUND32", "float64", "dst, a, " + _LANES, "dst = (double)(float) a: round to binary32 (C's float)", "next", _funary(lambda x: np.asarray(x).astype(np.float32).astype(np.float64)), True, "a"),
    OpSpec(0x52, "U01", "float64", "dst, a, " + _LANES, "dst = (a >> 11) * 2**-53, a double in [0, 1) (numpy's conversion)", "next", _u01, True, "a"),
    OpSpec(0x60, "LOAD", "memory", "dst, a, imm, " + _W + ", " + _LANES, "dst[i] = mem[a + imm + i*width], width bytes little-endian, extended per SIGNED", "owner of a + imm, then next", _load, True, "a", True),
    OpSpec(0x61, "STORE", "memory", "a, b, imm, width, " + _LANES, "mem[a + imm + i*width] = low width bytes of b[i]", "owner of a + imm, then next", _store, False, "ab", True),
    OpSpec(0x70, "HASH", "crypto", "dst, a, b", "dst..dst+3 = SHA-256 compression of the 64-byte block in a..a+7 from the chaining value in b..b+3 (b = IMM: the SHA-256 IV); bytes in slot order, little-endian slots", "next", _hash, True, "ab", False, 4, 8, 4),
    OpSpec(0x71, "RNG", "crypto", "dst, a, b", "dst..dst+3 = Philox4x64-10(counter a..a+3, key b..b+1; b = IMM: key (imm, 0))", "next", _rng, True, "ab", False, 4, 4, 2),
    OpSpec(0x80, "RADD", "reduce", "a, imm, width, " + _LANES, "accumulator[imm+i] += a[i] (wrapping) at this node; merged over nodes at the end", "next", _reduce("ADD"), False, "a"),
    OpSpec(0x81, "RXOR", "reduce", "a, imm, width, " + _LANES, "accumulator[imm+i] ^= a[i]", "next", _reduce("XOR"), False, "a"),
    OpSpec(0x82, "RMIN", "reduce", "a, imm, " + _W + ", " + _LANES, "accumulator[imm+i] = min (signed with SIGNED)", "next", _reduce("MIN"), False, "a"),
    OpSpec(0x83, "RMAX", "reduce", "a, imm, " + _W + ", " + _LANES, "accumulator[imm+i] = max (signed with SIGNED)", "next", _reduce("MAX"), False, "a"),
    OpSpec(0x84, "RFSUM", "reduce", "a, imm, " + _LANES, "accumulator[imm+i] = exactly rounded sum (math.fsum) of every a[i] contributed: independent of order", "next", _reduce("FSUM"), False, "a"),
    OpSpec(0x72, "MCSUM", "crypto", "dst, a, b, imm", "Monte Carlo block: the 4n Philox4x64-10 words of counters a..a+3 onward (key (imm, 0); n = b, at most 2**20) give 4n samples of integrand b+1 (0: (x, y) = (w >> 33, w & (2**31 - 1)) in the quarter disc x^2 + y^2 < 2^62, counted; 1..4: sqrt(1 - u^2), 4 / (1 + u^2), u^2, sqrt(u) of u = U01(w), summed as round(f * 2^32)); dst = sum f, dst+1 = sum f^2, exact integers", "next", _mcsum, True, "ab", False, 2, 4, 2),
)  # fmt: skip

Op = enum.IntEnum("Op", [(s.name, s.code) for s in TABLE])
Op.__doc__ = "Opcodes, generated from TABLE."
SPEC: dict[int, OpSpec] = {s.code: s for s in TABLE}
MAX_LANES = 16


def static_check(ins) -> tuple[Status, int] | None:
    """Why this instruction (an INSTR record) cannot run, as (status, detail), or None."""
    op = int(ins["op"])
    spec = SPEC.get(op)
    if spec is None:
        return Status.UNKNOWN_OPCODE, op
    bad = (Status.BAD_OPERAND, op)
    width, n = int(ins["width"]), int(ins["count"])
    if width not in (1, 2, 4, 8) or not 1 <= n <= MAX_LANES:
        return bad
    for field, fixed in (("a", spec.a_lanes), ("b", spec.b_lanes)):
        if field not in spec.reads:
            continue
        v = int(ins[field])
        if v == IMM and not (spec.memory and field == "b"):
            if fixed and (field == "a" or spec.name == "MCSUM"):
                return bad  # HASH/RNG/MCSUM read these lanes from slots: an immediate there has no meaning
            continue
        if v + (fixed or n) > NUM_SLOTS:
            return bad
    if spec.writes_dst and int(ins["dst"]) + (spec.dst_lanes or n) > SLOT_RUNTIME:
        return bad  # would write the runtime word (slot 23) or past the slots
    return None


def markdown() -> str:
    """The instruction table as Markdown (docs/compute-isa.md)."""
    doc = __doc__.strip()
    head = doc[doc.index("An instruction") :].splitlines()
    lines = [
        "# The packet instruction set",
        "",
        "Generated from `packetfs.compute.isa.TABLE` (`packetfs.compute.isa.markdown()`); a test checks",
        "this file is current. See docs/compute-fabric.md for the packet, routing and the backends.",
        "",
        *head,
        "",
        "| opcode | name | group | operands | effect | next hop |",
        "|---|---|---|---|---|---|",
    ]
    for s in TABLE:
        eff = s.effect.replace("|", "\\|")
        lines.append(f"| 0x{s.code:02X} | {s.name} | {s.group} | {s.operands} | {eff} | {s.route} |")
    lines += ["", "## Packet status (ERROR packets)", "", "| status | name | meaning |", "|---|---|---|"]
    for st in Status:
        lines.append(f"| {int(st)} | {st.name} | {STATUS_TEXT[st]} |")
    lines += [
        "",
        "A finished packet has operation_code = 0xFFFF0000 | status, the detail (or the exit value) in s22,",
        "and `(last pc << 32) | steps` in s23.",
        "",
    ]
    return "\n".join(lines)


def float_bits(x: float) -> int:
    """The uint64 bit pattern of a double (for float immediates)."""
    return int(np.array(x, dtype=np.float64).view(np.uint64))


def bits_float(x: int) -> float:
    """The double whose bit pattern is the uint64 ``x``."""
    return float(np.array(x & (2**64 - 1), dtype=np.uint64).view(np.float64))


