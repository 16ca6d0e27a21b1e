"""Fast handlers for the lane executor's converged steps (every live lane at one pc).

runtime/lanes.py interprets an instruction through LaneMachine.step(): a few checks, a dispatch on the
opcode, then methods that read, convert and write operands for any group of lanes. Most steps of a
lockstep batch need none of that generality: the loop counters, frame pointers, calls and returns are
uniform (one scalar for all lanes) or lane-relative, and the arithmetic on per-lane columns is a full
64-bit numpy operation. For those, ``handlers(code)`` makes one small function per instruction, once per
program, that does exactly what step() does for that instruction when every lane is at it, and returns
the next pc; it returns None, having changed nothing, when its operands need the general path (then
step() runs the instruction). LaneMachine.run() calls them in a tight loop and counts the steps in bulk.

Each handler computes the bits step() computes (the same numpy operations, or the same integer
arithmetic mod 2**64 on uniform values); the lane executor's differential tests against the packet
executor run through them.
"""

from __future__ import annotations

import operator
from types import SimpleNamespace

import numpy as np

from ..isa import IMM, Op
from ..isa import sext as _isa_sext
from ..isa import zext as _isa_zext

_U64 = np.uint64
_op = SimpleNamespace(**{m.name: int(m) for m in Op})
M64 = (1 << 64) - 1
_ZERO, _ONE = _U64(0), _U64(1)
_SHIFT_MASK = _U64(63)

_BIN = {_op.ADD: np.add, _op.SUB: np.subtract, _op.MUL: np.multiply, _op.AND: np.bitwise_and,
        _op.OR: np.bitwise_or, _op.XOR: np.bitwise_xor}
# compares on Python ints: (function, signed)
_CMP = {_op.EQ: (operator.eq, False), _op.NE: (operator.ne, False), _op.LTU: (operator.lt, False),
        _op.LEU: (operator.le, False), _op.GTU: (operator.gt, False), _op.GEU: (operator.ge, False),
        _op.LTS: (operator.lt, True), _op.LES: (operator.le, True), _op.GTS: (operator.gt, True),
        _op.GES: (operator.ge, True)}


def _ext(v, width: int, signed: bool):
    return _isa_sext(v, width) if signed else _isa_zext(v, width)


def _getter(slot: int, imm):
    """A function regs -> the operand (the immediate for IMM)."""
    if slot == IMM:
        return lambda regs: imm
    return operator.itemgetter(slot)


def handlers(code: list, rel: type, ret_limit: int) -> list:
    """One handler (or None) per decoded instruction of ``code`` (lanes._Ins); ``rel``: the Rel class."""
    return [_handler(ins, rel, ret_limit) for ins in code]


def _handler(ins, Rel, ret_limit: int):  # noqa: C901 - one case per opcode family
    op, dst, w, nxt = ins.op, ins.dst, ins.width, ins.next
    if ins.count != 1:
        return None
    imm = ins.uimm
    get_a, get_b = _getter(ins.a, imm), _getter(ins.b, imm)
    signed = ins.signed
    mask = (1 << (8 * w)) - 1

    if op == _op.NOP:
        return lambda m, regs: nxt

    if op == _op.MOV:
        if w == 8:  # any value, as step()'s fast path: a MOV shares the column (never written in place)
            def mov(m, regs):
                regs[dst] = get_a(regs)
                return nxt
            return mov

        def mov_narrow(m, regs):
            a = get_a(regs)
            if a.__class__ is not _U64:
                return None
            regs[dst] = _ext(a, w, signed)
            return nxt
        return mov_narrow

    if op in _BIN:
        fn = _BIN[op]
        if w == 8:
            if op == _op.ADD:
                def add(m, regs):
                    a, b = get_a(regs), get_b(regs)
                    if a.__class__ is Rel:
                        if b.__class__ is not _U64:
                            return None
                        regs[dst] = Rel(a.c + int(b))
                    elif b.__class__ is Rel:
                        if a.__class__ is not _U64:
                            return None
                        regs[dst] = Rel(b.c + int(a))
                    else:
                        regs[dst] = fn(a, b)
                    return nxt
                return add
            if op == _op.SUB:
                def sub(m, regs):
                    a, b = get_a(regs), get_b(regs)
                    if a.__class__ is Rel:
                        if b.__class__ is _U64:
                            regs[dst] = Rel(a.c - int(b))
                        elif b.__class__ is Rel:
                            regs[dst] = _U64((a.c - b.c) & M64)
                        else:
                            return None
                    elif b.__class__ is Rel:
                        return None
                    else:
                        regs[dst] = fn(a, b)
                    return nxt
                return sub

            def binary(m, regs):
                a, b = get_a(regs), get_b(regs)
                if a.__class__ is Rel or b.__class__ is Rel:
                    return None
                regs[dst] = fn(a, b)
                return nxt
            return binary

        def binary_narrow(m, regs):  # uniform operands only (columns: step() tracks their ranges)
            a, b = get_a(regs), get_b(regs)
            if a.__class__ is not _U64 or b.__class__ is not _U64:
                return None
            regs[dst] = _ext(fn(a, b), w, signed)
            return nxt
        return binary_narrow

    if op in (_op.SHL, _op.SHR) and w == 8:
        left = op == _op.SHL

        def shift(m, regs):
            a, b = get_a(regs), get_b(regs)
            if a.__class__ is Rel or b.__class__ is Rel:
                return None
            n = b & _SHIFT_MASK
            regs[dst] = (a << n) if left else (a >> n)
            return nxt
        return shift

    if op in _CMP:
        fn, sgn = _CMP[op]
        top = 1 << (8 * w - 1)

        def compare(m, regs):
            a, b = get_a(regs), get_b(regs)
            ca, cb = a.__class__, b.__class__
            if ca is _U64 and cb is _U64:
                x, y = int(a) & mask, int(b) & mask
                if sgn:
                    x, y = (x ^ top) - top, (y ^ top) - top
                regs[dst] = _ONE if fn(x, y) else _ZERO
                return nxt
            if ca is Rel and cb is Rel and w == 8 and not sgn and a.c < 2**62 and b.c < 2**62:
                # base + c never wraps for lane bases under 2**62: the offsets' order in every lane
                regs[dst] = _ONE if fn(a.c, b.c) else _ZERO
                return nxt
            return None
        return compare

    if op == _op.BR:
        alt = ins.alt

        def branch(m, regs):
            a = get_a(regs)
            if a.__class__ is not _U64:
                return None
            return alt if int(a) & mask else nxt
        return branch

    if op == _op.CALL:
        ret_pc, target = _U64(nxt), ins.alt

        def call(m, regs):
            regs[dst] = ret_pc
            return target
        return call

    if op == _op.LOAD and ins.a != IMM:
        off_imm = int(ins.imm)
        whole = w == 8

        def load(m, regs):  # a uniform word through a lane-relative address, from the memory's shadow
            a = get_a(regs)
            if a.__class__ is not Rel:
                return None
            off = (a.c + off_imm) & M64
            sh = (off & 7) * 8
            if sh + 8 * w > 64 or not m._ok_offset(off, w):
                return None
            v = m.mem.shadow.get(off >> 3)
            if v is None:
                return None
            if whole and sh == 0:
                if v.__class__ is not _U64 and v.__class__ is not Rel:
                    return None
                regs[dst] = v
                return nxt
            if v.__class__ is not _U64:
                return None
            regs[dst] = _ext(_U64(int(v) >> sh), w, signed)
            return nxt
        return load

    if op == _op.STORE and ins.a != IMM and w == 8:
        off_imm = int(ins.imm)

        def store(m, regs):  # a uniform or lane-relative word to a lane-relative, aligned address
            a, v = get_a(regs), get_b(regs)
            if a.__class__ is not Rel or (v.__class__ is not _U64 and v.__class__ is not Rel):
                return None
            off = (a.c + off_imm) & M64
            if off & 7 or not m._ok_offset(off, 8):
                return None
            m.mem.fill(off >> 3, v)
            return nxt
        return store

    if op == _op.RET:
        def ret(m, regs):
            a = get_a(regs)
            if a.__class__ is not _U64:
                return None
            t = int(a) & mask
            return t if t <= ret_limit else None  # a bad target: step() reports it
        return ret

    return None
