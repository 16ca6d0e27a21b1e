"""The scalar path: packets run one at a time with plain Python ints, for the lone packet (a C program's
control flow) and small batches of packets at different pcs, where the vectorized round (executor.py)
pays ~20 µs of numpy overhead per instruction.

Two tiers, as a JIT has:

- the interpreter (``ScalarRunner.step``): one instruction decoded from a tuple of ints, ~2 µs a step,
  nothing to prepare, for code that runs a few times (most of a short program, a fuzz case's body);
- compiled blocks: once a packet has entered a pc HOT (16) times, the straight-line run of instructions
  from there (following ``next``, jumps and calls, the fall-through side of BR, until a return, a halt,
  a node change, a loop back or 32 instructions) becomes the Python source of one function, with every
  operand, width, mask and target a literal, compiled once per (Program, pc, node) and cached. A packet
  step then costs a few bytecodes (~0.1-0.3 µs) instead of a dozen numpy calls.

The semantics are the vectorized path's, bit for bit (tests/compute/test_scalar_path.py checks every
opcode, width, signedness, lane count and fault against isa.py's kernels run by the vectorized round):

- a step that starts at a pc outside the program or at a node not hosted here makes an ERROR packet
  without counting as an executed step; a statically bad instruction, a misrouted packet or a bad address
  faults and counts;
- after an instruction, routing to the next one faults with (by precedence) BAD_PC, STEP_LIMIT, BAD_NODE,
  BAD_ADDRESS, as Program.route does; a packet routed to another node is one hop;
- the runtime word (slot 23) is ``(pc << 32) | steps`` after every step, so an instruction reading slot 23
  sees what it would see in the vectorized path (blocks write it before such a read);
- instructions without a scalar form here (float64, HASH, RNG, MCSUM, REDUCE) run isa.py's own kernel on a
  one-row array: the same code, so the same bits, at numpy's cost.

A fused block runs only when every one of its instructions fits in the run's step limit and in the
caller's round budget; otherwise the packet advances by the interpreter, which checks the step limit after
each step. So step counts, STEP_LIMIT faults and ``max_rounds`` (the local backend's poll
interval) are exactly those of the vectorized path.

Packets of one batch run one after another (each for up to ``max_rounds`` steps): the vectorized path
interleaves them round by round, which only matters to packets that race on one memory address (the
fabric leaves such races unordered; see docs/compute-fabric.md), so the executor takes this path only
for batches whose computation ids are distinct (the emit order is by (computation id, seq)).
"""

from __future__ import annotations

import struct
import weakref
from types import CodeType, FunctionType

import numpy as np

from ..isa import ANY, HALT_MARK, IMM, SIGNED, SPEC, Ctx, Op, Status
from ..packet import NUM_SLOTS, SLOT_RESULT, SLOT_RUNTIME, TERMINAL
from .records import EMIT_DTYPE

M64 = (1 << 64) - 1
M32 = 0xFFFFFFFF
MAX_BLOCK = 32
HOT = 16  # a block is compiled when a packet enters it for the 16th time; until then the interpreter runs it
_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: M64}
_SIGN = {1: 0x80, 2: 0x8000, 4: 0x80000000, 8: 1 << 63}
_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}

_BIN = {Op.ADD: "+", Op.SUB: "-", Op.MUL: "*", Op.AND: "&", Op.OR: "|", Op.XOR: "^"}
_CMP = {Op.EQ: ("==", False), Op.NE: ("!=", False), Op.LTU: ("<", False), Op.LEU: ("<=", False),
        Op.GTU: (">", False), Op.GEU: (">=", False), Op.LTS: ("<", True), Op.LES: ("<=", True),
        Op.GTS: (">", True), Op.GES: (">=", True)}  # fmt: skip
_DIV = {Op.DIVU, Op.DIVS, Op.MODU, Op.MODS}
_SHIFT = {Op.SHL, Op.SHR, Op.SAR}
# opcodes with a Python form here; every other one runs its isa.py kernel on a one-row array
NATIVE = (set(_BIN) | set(_CMP) | _DIV | _SHIFT
          | {Op.MOV, Op.NOT, Op.NEG, Op.NOP, Op.HALT, Op.TRAP, Op.BR, Op.CALL, Op.RET, Op.HOP, Op.EMIT,
             Op.NODEID, Op.CID, Op.LOAD, Op.STORE})  # fmt: skip
NATIVE = frozenset(int(o) for o in NATIVE)
_TERMINATORS = frozenset(int(o) for o in (Op.BR, Op.RET, Op.HOP, Op.HALT, Op.TRAP))

# compiled function code per (program, pc, node): shared by every NodeGroup of a program
_CODE_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Cx:
    """One packet's run state outside the slots: where it is, and how it finished."""

    __slots__ = ("cid", "node", "status", "detail", "s1", "em", "arrays")

    def __init__(self) -> None:
        self.em: list[tuple] = []  # EMIT records as tuples (EMIT_DTYPE's fields)
        self.arrays: list[np.ndarray] = []  # EMIT records from kernels run on a one-row array

    def fin(self, S: list, status: int, detail: int, pc: int, s1: int, loc: int) -> int:
        """The packet finished at ``pc`` after ``s1`` steps: status, detail in s22, runtime word."""
        S[SLOT_RUNTIME] = (pc << 32) | (s1 & M32)
        S[SLOT_RESULT] = detail
        self.status = status
        self.detail = detail
        self.s1 = s1
        self.node = loc
        return -1


def _zx(e: str, w: int) -> str:
    return e if w == 8 else f"({e} & {_MASK[w]})"


def _sx(e: str, w: int) -> str:
    """The width-byte value of e as a signed Python int."""
    if w == 8:
        return f"(({e} ^ {_SIGN[8]}) - {_SIGN[8]})"
    return f"((({e} & {_MASK[w]}) ^ {_SIGN[w]}) - {_SIGN[w]})"


def _ext(e: str, w: int, signed: bool, in_range: bool = False) -> str:
    """Ctx.write: truncate to width, extend per the SIGNED flag; e may be any Python int."""
    if signed and w < 8:
        return f"((((({e}) & {_MASK[w]}) ^ {_SIGN[w]}) - {_SIGN[w]}) & {M64})"
    if w < 8:
        return f"(({e}) & {_MASK[w]})"
    return f"({e})" if in_range else f"(({e}) & {M64})"


def _ext_int(v: int, w: int, signed: int) -> int:
    """Ctx.write for one value: truncate to width, extend per the SIGNED flag."""
    v &= _MASK[w]
    if signed and v & _SIGN[w]:
        v |= M64 ^ _MASK[w]
    return v


_PY_BIN = {int(Op.ADD): lambda x, y: x + y, int(Op.SUB): lambda x, y: x - y, int(Op.MUL): lambda x, y: x * y,
           int(Op.AND): lambda x, y: x & y, int(Op.OR): lambda x, y: x | y, int(Op.XOR): lambda x, y: x ^ y}
_PY_CMP = {int(Op.EQ): lambda x, y: x == y, int(Op.NE): lambda x, y: x != y, int(Op.LTU): lambda x, y: x < y,
           int(Op.LEU): lambda x, y: x <= y, int(Op.GTU): lambda x, y: x > y, int(Op.GEU): lambda x, y: x >= y,
           int(Op.LTS): lambda x, y: x < y, int(Op.LES): lambda x, y: x <= y, int(Op.GTS): lambda x, y: x > y,
           int(Op.GES): lambda x, y: x >= y}


def _fdiv(x: float, y: float) -> float:
    return x / y


_PY_FLOAT = {int(Op.FADD): lambda x, y: x + y, int(Op.FSUB): lambda x, y: x - y, int(Op.FMUL): lambda x, y: x * y,
             int(Op.FDIV): _fdiv}
_EXP, _FRAC, _QUIET = 0x7FF0000000000000, 0x000FFFFFFFFFFFFF, 0x0008000000000000
_U64, _F64 = struct.Struct("<Q"), struct.Struct("<d")


def _const_zx(v: int, w: int) -> int:
    return v & _MASK[w]


def _const_sx(v: int, w: int) -> int:
    v &= _MASK[w]
    return v - (1 << (8 * w)) if v & _SIGN[w] else v


class ScalarRunner:
    """Runs packets of one NodeGroup with plain ints (see the module doc)."""

    def __init__(self, group) -> None:
        prog = group.program
        self.group = group
        self.prog = prog
        code = prog.code
        self.ncode = len(code)
        self.f = {name: code[name].tolist() for name in code.dtype.names}
        self.code_t = list(zip(*(self.f[k] for k in ("op", "dst", "a", "b", "width", "flags", "count", "node", "next",
                                                      "alt", "imm")), strict=True))
        self.static_fault = prog.static_fault.tolist()
        self.fast: list = [None] * self.ncode  # step()'s decoded short-path tuples, made on first use
        # routing to q is "stay here, nothing to check" (but the step limit)
        self.trivial = ((code["node"] == np.uint32(ANY)) & (~prog.is_memory | (prog.static_fault != 0))).tolist()
        self.static_detail = prog.static_detail.tolist()
        self.is_memory = prog.is_memory.tolist()
        self.nn = prog.num_nodes
        self.hosted = [bool(h) for h in group.hosted_mask]
        self.max_steps = group.max_steps
        sh = prog.shard
        self.size, self.shift, self.block = sh.size, sh.block_shift, sh.block
        self.low = sh.low  # the unmapped low addresses (NULL page): the lower bound of every access check
        self.env: dict = {"RX": self.route_exit, "STEP": self.step}
        for n, mem in group.memory.items():
            self.env[f"MV{n}"] = memoryview(mem.data)
        for w, ch in _FMT.items():
            for cnt in range(1, 17):
                self.env[f"U{w}_{cnt}"] = struct.Struct("<" + ch * cnt)
        self.fused: dict[tuple[int, int], tuple] = {}
        self.counts: dict[tuple[int, int], int] = {}
        self.hot = HOT
        self.codes = _CODE_CACHE.setdefault(prog, {})

    # routing ------------------------------------------------------------------------------------------
    def route(self, q: int, loc: int, S: list, s1: int) -> tuple[int, int, int]:
        """Program.route for one packet: (status, detail, dest)."""
        if q >= self.ncode:
            return Status.BAD_PC, q, loc
        st = det = 0
        nq = self.f["node"][q]
        dest = loc if nq == ANY else nq
        if self.is_memory[q] and not self.static_fault[q]:
            a, imm = self.f["a"][q], self.f["imm"][q]
            addr = ((S[a] if a != IMM else 0) + imm) & M64
            nb = self.f["width"][q] * self.f["count"][q]
            if self._valid(addr, nb):
                dest = (addr >> self.shift) % self.nn
            else:
                st, det = Status.BAD_ADDRESS, addr
        if dest >= self.nn:
            st, det = Status.BAD_NODE, dest
        if s1 >= self.max_steps:
            st, det = Status.STEP_LIMIT, s1
        return st, det, dest

    def _valid(self, addr: int, nb: int) -> bool:
        if nb > self.block or nb > self.size - self.low:
            return False
        return self.low <= addr <= self.size - nb and (addr >> self.shift) == ((addr + nb - 1) >> self.shift)

    def route_exit(self, S: list, cx: Cx, q: int, loc: int, pc: int, s1: int, k: int) -> int:
        """Leave a block towards a pc known only at run time (RET, HOP, a kernel's next_pc)."""
        st, det, dest = self.route(q, loc, S, s1)
        if st:
            return cx.fin(S, int(st), det, pc, s1, loc)
        S[SLOT_RUNTIME] = (pc << 32) | (s1 & M32)
        cx.node = dest
        return q | (k << 32)

    def slow(self, S: list, cx: Cx, s: int, pc: int, nd: int) -> int:
        """One instruction by its isa.py kernel on a one-row array (float64, HASH, RNG, REDUCE, ...)."""
        g = self.group
        ins = g._ins(pc)
        A = np.array(S, dtype=np.uint64).reshape(1, NUM_SLOTS)
        c = Ctx(A, ins, nd, np.array([cx.cid], dtype=np.uint64), np.array([s], dtype=np.uint64),
                g.memory.get(nd), g.acc.get(nd), self.nn)  # fmt: skip
        SPEC[ins.op].kernel(c)
        S[:] = A[0].tolist()
        if c.emits:
            cx.arrays.extend(c.emits)
        loc = int(np.asarray(c.hop).reshape(-1)[0]) if c.hop is not None else nd
        st = int(c.status[0]) if c.status is not None else 0
        if st:
            return cx.fin(S, Status.HALTED if st == HALT_MARK else st, int(c.detail[0]), pc, s + 1, loc)
        npc = int(np.asarray(c.next_pc).reshape(-1)[0])
        return self.route_exit(S, cx, npc, loc, pc, s + 1, 1)

    # the interpreter: one instruction, for code run too few times to be worth compiling -----------------
    def _fast_decode(self, pc: int):
        """The common one-lane, any-node instructions as (kind, fn, dst, a, b, mask, sign, signed, next, alt,
        imm) for step()'s short path; False for everything else."""
        op, d, a, b, w, fl, n, node, nxt, alt, imm = self.code_t[pc]
        if self.static_fault[pc] or node != ANY or n != 1:
            return False
        signed = fl & SIGNED
        if op in _PY_BIN:
            kind, fn = 0, _PY_BIN[op]
        elif op in _PY_CMP:
            kind, fn, signed = 1, _PY_CMP[op], _CMP[op][1]
        elif op == Op.MOV:
            kind, fn = 2, None
        elif op == Op.BR:
            kind, fn = 3, None
        elif op in (Op.NOP, Op.CALL):
            kind, fn, a = (4 if op == Op.NOP else 5), None, IMM  # a is not an operand: never read it
        elif op in _PY_FLOAT:
            kind, fn, b = 8, _PY_FLOAT[op], b
        elif op in (Op.LOAD, Op.STORE) and self.nn == 1 and w <= self.block and w <= self.size - self.low:
            # one node: every valid address is node 0's, at offset = address
            kind = 6 if op == Op.LOAD else 7
            fn = (self.env[f"U{w}_1"], self.env["MV0"], self.low, self.size - w, self.block - 1, self.block - w)
        else:
            return False
        return kind, fn, d, a, b, _MASK[w], _SIGN[w], signed, nxt, alt, imm

    def step(self, S: list, cx: Cx, s: int, pc: int, nd: int) -> int:
        """Run instruction ``pc`` at node ``nd`` (a hosted node; pc inside the program), then route: the
        block protocol (``next pc | 1 << 32``, or -1 when the packet finished), the step limit checked."""
        ft = self.fast[pc]
        if ft is None:
            ft = self.fast[pc] = self._fast_decode(pc)
        if ft:
            kind, fn, d, a, b, mask, sign, signed, q, alt, imm = ft
            x = imm if a == IMM else S[a]
            if kind == 0:
                v = fn(x, imm if b == IMM else S[b]) & mask
                if signed and v & sign:
                    v |= M64 ^ mask
                S[d] = v
            elif kind == 1:
                x &= mask
                y = (imm if b == IMM else S[b]) & mask
                if signed:
                    x = x - (sign << 1) if x & sign else x
                    y = y - (sign << 1) if y & sign else y
                S[d] = 1 if fn(x, y) else 0
            elif kind == 2:
                v = x & mask
                if signed and v & sign:
                    v |= M64 ^ mask
                S[d] = v
            elif kind == 3:
                if x & mask:
                    q = alt
            elif kind == 5:
                S[d] = q
                q = alt
            elif kind == 8:  # float64 + - * /: x86's NaN rule (a's NaN, else b's, quieted), as isa._fbinary
                y = imm if b == IMM else S[b]
                if (x & _EXP) == _EXP and x & _FRAC:
                    S[d] = x | _QUIET
                elif (y & _EXP) == _EXP and y & _FRAC:
                    S[d] = y | _QUIET
                else:
                    fy = _F64.unpack(_U64.pack(y))[0]
                    if fy == 0.0 and fn is _fdiv:
                        return self.slow(S, cx, s, pc, nd)  # x / 0: IEEE's inf or NaN, as numpy makes it
                    S[d] = _U64.unpack(_F64.pack(fn(_F64.unpack(_U64.pack(x))[0], fy)))[0]
            elif kind >= 6:
                U, mv, low, lim, bmask, blim = fn
                ad = ((0 if a == IMM else x) + imm) & M64
                if ad > lim or ad < low or (ad & bmask) > blim:
                    return cx.fin(S, Status.BAD_ADDRESS, ad, pc, s + 1, nd)
                if kind == 6:
                    v = U.unpack_from(mv, ad)[0]
                    if signed and v & sign:
                        v |= M64 ^ mask
                    S[d] = v
                else:
                    U.pack_into(mv, ad, S[b] & mask)
            s1 = s + 1
            if q < self.ncode and self.trivial[q]:
                if s1 >= self.max_steps:
                    return cx.fin(S, Status.STEP_LIMIT, s1, pc, s1, nd)
                S[SLOT_RUNTIME] = (pc << 32) | (s1 & M32)
                return q | (1 << 32)
            return self.route_exit(S, cx, q, nd, pc, s1, 1)
        sf = self.static_fault[pc]
        if sf:
            return cx.fin(S, sf, self.static_detail[pc], pc, s + 1, nd)
        op, d, a, b, w, fl, n, node, nxt, alt, imm = self.code_t[pc]
        if node != ANY and node != nd:
            return cx.fin(S, Status.MISROUTED, nd, pc, s + 1, nd)
        s1 = s + 1
        if op not in NATIVE:
            return self.slow(S, cx, s, pc, nd)
        mask, sign = _MASK[w], _SIGN[w]
        signed = fl & SIGNED
        if self.is_memory[pc]:
            ad = ((S[a] if a != IMM else 0) + imm) & M64
            nb = w * n
            if not self._valid(ad, nb):
                return cx.fin(S, Status.BAD_ADDRESS, ad, pc, s1, nd)
            if (ad >> self.shift) % self.nn != nd:
                return cx.fin(S, Status.MISROUTED, nd, pc, s1, nd)
            off = ad if self.nn == 1 else ((((ad >> self.shift) // self.nn) << self.shift) | (ad & (self.block - 1)))
            mv = self.env[f"MV{nd}"]
            if op == Op.LOAD:
                vals = self.env[f"U{w}_{n}"].unpack_from(mv, off)
                S[d:d + n] = [_ext_int(v, w, signed) for v in vals]
            else:
                self.env[f"U{w}_{n}"].pack_into(mv, off, *[S[b + j] & mask for j in range(n)])
            return self.route_exit(S, cx, nxt, nd, pc, s1, 1)

        def raw(x: int, j: int) -> int:
            return imm if x == IMM else S[x + j]

        def sx(v: int) -> int:
            v &= mask
            return v - (sign << 1) if v & sign else v

        if op in _PY_BIN:
            fn = _PY_BIN[op]
            S[d:d + n] = [_ext_int(fn(raw(a, j), raw(b, j)), w, signed) for j in range(n)]
        elif op in _CMP:
            fn, sg = _PY_CMP[op], _CMP[op][1]
            get = (lambda x, j: sx(raw(x, j))) if sg else (lambda x, j: raw(x, j) & mask)
            S[d:d + n] = [1 if fn(get(a, j), get(b, j)) else 0 for j in range(n)]
        elif op in _DIV:
            sg = op in (Op.DIVS, Op.MODS)
            zero = False
            vals = []
            for j in range(n):
                x, y = (sx(raw(a, j)), sx(raw(b, j))) if sg else (raw(a, j) & mask, raw(b, j) & mask)
                if y == 0:
                    y, zero = 1, True
                if op == Op.DIVU:
                    r = x // y
                elif op == Op.MODU:
                    r = x % y
                elif op == Op.DIVS:
                    r = abs(x) // abs(y)
                    r = -r if (x < 0) != (y < 0) else r
                else:
                    r = abs(x) % abs(y)
                    r = -r if x < 0 else r
                vals.append(_ext_int(r, w, signed))
            S[d:d + n] = vals
            if zero:
                return cx.fin(S, Status.DIV_BY_ZERO, 0, pc, s1, nd)
        elif op in _SHIFT:
            bits = w * 8 - 1
            vals = []
            for j in range(n):
                c = raw(b, j) & mask & bits
                x = raw(a, j)
                r = (x << c) if op == Op.SHL else ((x & mask) >> c) if op == Op.SHR else (sx(x) >> c)
                vals.append(_ext_int(r, w, signed))
            S[d:d + n] = vals
        elif op == Op.MOV:
            S[d:d + n] = [_ext_int(raw(a, j) & mask, w, signed) for j in range(n)]
        elif op == Op.NOT:
            S[d:d + n] = [_ext_int(~raw(a, j), w, signed) for j in range(n)]
        elif op == Op.NEG:
            S[d:d + n] = [_ext_int(-raw(a, j), w, signed) for j in range(n)]
        elif op == Op.CALL:
            S[d] = nxt
            nxt = alt
        elif op == Op.NODEID:
            S[d] = nd
        elif op == Op.CID:
            S[d] = cx.cid
        elif op == Op.HALT:
            return cx.fin(S, Status.HALTED, imm if a == IMM else S[a] & mask, pc, s1, nd)
        elif op == Op.TRAP:
            return cx.fin(S, Status.TRAP, raw(a, 0) & mask, pc, s1, nd)
        elif op == Op.BR:
            if raw(a, 0) & mask:
                nxt = alt
        elif op == Op.RET:
            t = raw(a, 0) & mask
            if t > 0xFFFEFFFF:
                return cx.fin(S, Status.BAD_PC, t, pc, s1, nd)
            nxt = t
        elif op == Op.HOP:
            t = raw(a, 0) & mask
            if t >= self.nn:
                return cx.fin(S, Status.BAD_NODE, t, pc, s1, nd)
            return self.route_exit(S, cx, nxt, t, pc, s1, 1)
        elif op == Op.EMIT:
            for j in range(n):
                cx.em.append((cx.cid, s, j, d, w, raw(a, j) & mask, nd))
        return self.route_exit(S, cx, nxt, nd, pc, s1, 1)

    # code generation ------------------------------------------------------------------------------------
    def function(self, pc: int, nd: int):
        key = (pc, nd)
        fcode = self.codes.get(key)
        length = None
        if fcode is None:
            src, length = self._source(pc, nd)
            mod = compile(src, f"<packet block pc={pc} node={nd}>", "exec")
            fcode = next(c for c in mod.co_consts if isinstance(c, CodeType))
            self.codes[key] = fcode
            self.codes[key + ("len",)] = length
        return FunctionType(fcode, self.env), self.codes[key + ("len",)]

    def _continuable(self, q: int, nd: int) -> bool:
        return (q < self.ncode and not self.static_fault[q] and self.f["node"][q] in (ANY, nd)
                and (self.f["op"][q] in NATIVE))  # fmt: skip

    def _reads(self, pc: int) -> set[int]:
        op = self.f["op"][pc]
        spec = SPEC.get(op)
        out: set[int] = set()
        if spec is None:
            return out
        for name, fixed in (("a", spec.a_lanes), ("b", spec.b_lanes)):
            v = self.f[name][pc]
            if name in spec.reads and v != IMM:
                out.update(range(v, v + (fixed or self.f["count"][pc])))
        return out

    def _addr(self, pc: int) -> str:
        a, imm = self.f["a"][pc], self.f["imm"][pc]
        if a == IMM:
            return str(imm)
        return f"S[{a}]" if imm == 0 else f"((S[{a}] + {imm}) & {M64})"

    def _valid_expr(self, v: str, nb: int) -> str:
        if nb > self.block or nb > self.size - self.low:
            return "False"
        cond = f"{self.low} <= {v} <= {self.size - nb}" if self.low else f"{v} <= {self.size - nb}"
        if nb > 1:
            cond += f" and ({v} & {self.block - 1}) <= {self.block - nb}"
        return cond

    def _offset(self, v: str) -> str:
        if self.nn == 1:
            return v
        return f"(((({v}) >> {self.shift}) // {self.nn}) << {self.shift}) | (({v}) & {self.block - 1})"

    def _source(self, pc0: int, nd: int) -> tuple[str, int]:
        L: list[str] = ["def blk(S, cx, s):"]
        f = self.f
        out = L.append
        i0 = "    "
        # entry checks of the first instruction (later ones were checked by the routing into them)
        if self.static_fault[pc0]:
            out(f"{i0}return cx.fin(S, {self.static_fault[pc0]}, {self.static_detail[pc0]}, {pc0}, s + 1, {nd})")
            return "\n".join(L) + "\n", 1
        if f["node"][pc0] not in (ANY, nd):
            out(f"{i0}return cx.fin(S, {int(Status.MISROUTED)}, {nd}, {pc0}, s + 1, {nd})")
            return "\n".join(L) + "\n", 1
        if self.is_memory[pc0]:
            nb = f["width"][pc0] * f["count"][pc0]
            out(f"{i0}ad = {self._addr(pc0)}")
            out(f"{i0}if not ({self._valid_expr('ad', nb)}):")
            out(f"{i0}    return cx.fin(S, {int(Status.BAD_ADDRESS)}, ad, {pc0}, s + 1, {nd})")
            if self.nn > 1:
                out(f"{i0}if (ad >> {self.shift}) % {self.nn} != {nd}:")
                out(f"{i0}    return cx.fin(S, {int(Status.MISROUTED)}, {nd}, {pc0}, s + 1, {nd})")
        if f["op"][pc0] not in NATIVE:  # the interpreter's step: its float short path, else the kernel
            out(f"{i0}return STEP(S, cx, s, {pc0}, {nd})")
            return "\n".join(L) + "\n", 1
        pc, pc_prev, i, seen = pc0, pc0, 0, set()
        while True:
            seen.add(pc)
            if i and SLOT_RUNTIME in self._reads(pc):
                out(f"{i0}S[{SLOT_RUNTIME}] = {pc_prev << 32} | (s + {i})")
            nxt = self._body(pc, i, nd, L)
            if nxt is None:
                break
            cont = i + 1 < MAX_BLOCK and nxt not in seen and self._continuable(nxt, nd)
            if not self._goto(nxt, pc, i, nd, cont, L, i0):
                break
            pc_prev, pc, i = pc, nxt, i + 1
        return "\n".join(L) + "\n", i + 1

    def _goto(self, q: int, pc: int, i: int, nd: int, cont: bool, L: list[str], ind: str) -> bool:
        """Routing from instruction ``pc`` (the block's i-th) to ``q``: fault, leave the block, or (when
        ``cont`` and the packet stays here) fall through to generate q's body next. True: fall through."""
        k = i + 1
        out = L.append
        f = self.f
        ret = f"{q | (k << 32)}"
        word = f"S[{SLOT_RUNTIME}] = {pc << 32} | ((s + {k}) & {M32})"
        if q >= self.ncode:
            out(f"{ind}return cx.fin(S, {int(Status.BAD_PC)}, {q}, {pc}, s + {k}, {nd})")
            return False
        nq = f["node"][q]
        if self.is_memory[q] and not self.static_fault[q]:
            nb = f["width"][q] * f["count"][q]
            out(f"{ind}ad = {self._addr(q)}")
            out(f"{ind}if not ({self._valid_expr('ad', nb)}):")
            out(f"{ind}    return cx.fin(S, {int(Status.BAD_ADDRESS)}, ad, {pc}, s + {k}, {nd})")
            if self.nn > 1:
                out(f"{ind}dn = (ad >> {self.shift}) % {self.nn}")
                out(f"{ind}if dn != {nd}:")
                out(f"{ind}    cx.node = dn")
                out(f"{ind}    {word}")
                out(f"{ind}    return {ret}")
            elif nd != 0:  # one node: every address is node 0's
                out(f"{ind}cx.node = 0")
                out(f"{ind}{word}")
                out(f"{ind}return {ret}")
                return False
        else:
            dest = nd if nq == ANY else nq
            if dest >= self.nn:
                out(f"{ind}return cx.fin(S, {int(Status.BAD_NODE)}, {dest}, {pc}, s + {k}, {nd})")
                return False
            if dest != nd:
                out(f"{ind}cx.node = {dest}")
                out(f"{ind}{word}")
                out(f"{ind}return {ret}")
                return False
        if cont:
            return True
        out(f"{ind}{word}")
        out(f"{ind}return {ret}")
        return False

    def _body(self, pc: int, i: int, nd: int, L: list[str]) -> int | None:
        """The instruction's effect; returns the static next pc, or None when the code returns on every path."""
        f = self.f
        op, d, a, b = f["op"][pc], f["dst"][pc], f["a"][pc], f["b"][pc]
        w, signed, n, imm = f["width"][pc], bool(f["flags"][pc] & SIGNED), f["count"][pc], f["imm"][pc]
        nxt, alt = f["next"][pc], f["alt"][pc]
        ind = "    "
        out = L.append
        k = i + 1

        def opnd(x: int, j: int) -> str:
            return str(imm) if x == IMM else f"S[{x + j}]"

        def zx(x: int, j: int) -> str:
            return str(_const_zx(imm, w)) if x == IMM else _zx(f"S[{x + j}]", w)

        def sx(x: int, j: int) -> str:
            return str(_const_sx(imm, w)) if x == IMM else _sx(f"S[{x + j}]", w)

        def assign(values: list[str]) -> None:
            if len(values) == 1:
                out(f"{ind}S[{d}] = {values[0]}")
            else:  # every lane from the operands as they were (lanes may overlap dst)
                out(f"{ind}S[{d}:{d + len(values)}] = [{', '.join(values)}]")

        def fin(status: int, detail: str) -> None:
            out(f"{ind}return cx.fin(S, {status}, {detail}, {pc}, s + {k}, {nd})")

        if op in _BIN:
            sym = _BIN[op]
            in_range = op in (Op.AND, Op.OR, Op.XOR)
            assign([_ext(f"{opnd(a, j)} {sym} {opnd(b, j)}", w, signed, in_range) for j in range(n)])
        elif op in _CMP:
            sym, sg = _CMP[op]
            get = sx if sg else zx
            assign([f"(1 if {get(a, j)} {sym} {get(b, j)} else 0)" for j in range(n)])
        elif op in _DIV:
            sg = op in (Op.DIVS, Op.MODS)
            get = sx if sg else zx
            out(f"{ind}z = 0")
            vals = []
            for j in range(n):
                out(f"{ind}a{j} = {get(a, j)}")
                out(f"{ind}b{j} = {get(b, j)}")
                out(f"{ind}if b{j} == 0:")
                out(f"{ind}    b{j} = 1")
                out(f"{ind}    z = 1")
                if op == Op.DIVU:
                    vals.append(_ext(f"a{j} // b{j}", w, signed, True))
                elif op == Op.MODU:
                    vals.append(_ext(f"a{j} % b{j}", w, signed, True))
                elif op == Op.DIVS:  # C truncates toward zero
                    out(f"{ind}q{j} = abs(a{j}) // abs(b{j})")
                    vals.append(_ext(f"(-q{j} if (a{j} < 0) != (b{j} < 0) else q{j})", w, signed))
                else:  # the remainder has the dividend's sign
                    out(f"{ind}q{j} = abs(a{j}) % abs(b{j})")
                    vals.append(_ext(f"(-q{j} if a{j} < 0 else q{j})", w, signed))
            assign(vals)
            out(f"{ind}if z:")
            out(f"{ind}    return cx.fin(S, {int(Status.DIV_BY_ZERO)}, 0, {pc}, s + {k}, {nd})")
        elif op in _SHIFT:
            bits = w * 8 - 1
            vals = []
            for j in range(n):
                cnt = str(_const_zx(imm, w) & bits) if b == IMM else f"({_zx(f'S[{b + j}]', w)} & {bits})"
                if op == Op.SHL:
                    vals.append(_ext(f"{opnd(a, j)} << {cnt}", w, signed))
                elif op == Op.SHR:
                    vals.append(_ext(f"{zx(a, j)} >> {cnt}", w, signed, True))
                else:
                    vals.append(_ext(f"{sx(a, j)} >> {cnt}", w, signed))
            assign(vals)
        elif op == Op.MOV:
            if a == IMM:
                v = _const_sx(imm, w) & M64 if signed else _const_zx(imm, w)
                assign([str(v)] * n)
            else:
                assign([_ext(zx(a, j), w, signed, True) if signed else zx(a, j) for j in range(n)])
        elif op == Op.NOT:
            assign([_ext(f"~{opnd(a, j)}", w, signed) for j in range(n)])
        elif op == Op.NEG:
            assign([_ext(f"-{opnd(a, j)}", w, signed) for j in range(n)])
        elif op == Op.NOP:
            pass
        elif op == Op.CALL:
            out(f"{ind}S[{d}] = {nxt}")
            return alt
        elif op == Op.NODEID:
            out(f"{ind}S[{d}] = {nd}")
        elif op == Op.CID:
            out(f"{ind}S[{d}] = cx.cid")
        elif op == Op.HALT:
            fin(int(Status.HALTED), str(imm) if a == IMM else _zx(f"S[{a}]", w))
            return None
        elif op == Op.TRAP:
            fin(int(Status.TRAP), zx(a, 0))
            return None
        elif op == Op.BR:
            cond = zx(a, 0)
            out(f"{ind}if {cond}:")
            self._goto(alt, pc, i, nd, False, L, ind + "    ")
            return nxt
        elif op == Op.RET:
            out(f"{ind}t = {zx(a, 0)}")
            out(f"{ind}if t > {0xFFFEFFFF}:")
            out(f"{ind}    return cx.fin(S, {int(Status.BAD_PC)}, t, {pc}, s + {k}, {nd})")
            out(f"{ind}return RX(S, cx, t, {nd}, {pc}, s + {k}, {k})")
            return None
        elif op == Op.HOP:
            out(f"{ind}t = {zx(a, 0)}")
            out(f"{ind}if t >= {self.nn}:")
            out(f"{ind}    return cx.fin(S, {int(Status.BAD_NODE)}, t, {pc}, s + {k}, {nd})")
            out(f"{ind}return RX(S, cx, {nxt}, t, {pc}, s + {k}, {k})")
            return None
        elif op == Op.EMIT:
            for j in range(n):
                out(f"{ind}cx.em.append((cx.cid, s + {i}, {j}, {d}, {w}, {zx(a, j)}, {nd}))")
        elif op == Op.LOAD:
            out(f"{ind}o = {self._offset(self._addr(pc))}")
            if n == 1 and w == 1:
                vals = [f"MV{nd}[o]"]
            elif n == 1:
                vals = [f"U{w}_1.unpack_from(MV{nd}, o)[0]"]
            else:
                out(f"{ind}v = U{w}_{n}.unpack_from(MV{nd}, o)")
                vals = [f"v[{j}]" for j in range(n)]
            assign([_ext(v, w, signed, True) if signed else v for v in vals])
        elif op == Op.STORE:
            out(f"{ind}o = {self._offset(self._addr(pc))}")
            vals = [_zx(f"S[{b + j}]", w) for j in range(n)]
            if n == 1 and w == 1:
                out(f"{ind}MV{nd}[o] = {vals[0]}")
            else:
                out(f"{ind}U{w}_{n}.pack_into(MV{nd}, o, {', '.join(vals)})")
        else:  # pragma: no cover - _continuable keeps other opcodes out of blocks
            raise AssertionError(f"opcode {op} has no scalar form")
        return nxt

    # running ----------------------------------------------------------------------------------------------
    def run_packet(self, cx: Cx, pc: int, S: list, budget: int) -> tuple[str, int, int, int]:
        """Run one packet (cx.cid, at node cx.node, pc ``pc``, slots S) for up to ``budget`` rounds.
        Returns (outcome, pc, executed, hops): outcome 'done' (cx.status/detail/node set), 'local' (the
        budget ran out at a hosted node) or 'away' (it moved to a node hosted elsewhere)."""
        s = S[SLOT_RUNTIME] & M32
        node = cx.node
        rounds = executed = hops = 0
        ncode, hosted, limit = self.ncode, self.hosted, self.max_steps
        fused_fns, counts, step = self.fused, self.counts, self.step
        while rounds < budget:
            if pc >= ncode or node >= self.nn or not hosted[node]:
                # not executed, but the round counts and the runtime word advances
                st, det = (Status.BAD_PC, pc) if pc >= ncode else (Status.BAD_NODE, node)
                cx.fin(S, int(st), det, pc, s + 1, node)
                return "done", pc, executed, hops
            key = (pc, node)
            ent = fused_fns.get(key)
            if ent is None:
                c = counts.get(key, 0) + 1
                counts[key] = c
                if c >= self.hot:
                    ent = fused_fns[key] = self.function(pc, node)
            if ent is not None and s + ent[1] < limit and rounds + ent[1] <= budget:
                r = ent[0](S, cx, s)
            else:
                r = step(S, cx, s, pc, node)
            if r < 0:
                k = cx.s1 - s
                executed += k
                return "done", pc, executed, hops
            k = r >> 32
            pc = r & M32
            s += k
            rounds += k
            executed += k
            if cx.node != node:
                hops += 1
                node = cx.node
                if node >= self.nn or not hosted[node]:
                    return "away", pc, executed, hops
        return "local", pc, executed, hops


def execute_scalar(group, b, max_rounds: int):
    """NodeGroup.execute_batch on the scalar path: (local, away, done, emits, steps, hops) as Batches."""
    from .executor import Batch

    runner = group._scalar
    if runner is None:
        runner = group._scalar = ScalarRunner(group)
    n = b.n
    rows = b.T.T.tolist()
    cids, pcs, nodes = b.cid.tolist(), b.pc.tolist(), b.node.tolist()
    groups: dict[str, list[int]] = {"local": [], "away": [], "done": []}
    out_pc = [0] * n
    out_node = [0] * n
    steps = hops = 0
    cx = Cx()
    for j in range(n):
        cx.cid = cids[j]
        cx.node = nodes[j]
        S = rows[j]
        kind, pc, ex, hp = runner.run_packet(cx, pcs[j], S, max_rounds)
        steps += ex
        hops += hp
        groups[kind].append(j)
        out_node[j] = cx.node
        out_pc[j] = (TERMINAL | cx.status) if kind == "done" else pc
    T = np.array(rows, dtype=np.uint64).reshape(n, NUM_SLOTS).T if n else b.T
    pcs_a = np.array(out_pc, dtype=np.uint32)
    nodes_a = np.array(out_node, dtype=np.uint32)

    def part(idx: list[int]) -> Batch:
        if len(idx) == n:
            return Batch(b.cid, pcs_a, nodes_a, np.ascontiguousarray(T))
        ix = np.array(idx, dtype=np.int64)
        return Batch(b.cid[ix], pcs_a[ix], nodes_a[ix], np.ascontiguousarray(T[:, ix]))

    emits = list(cx.arrays)
    if cx.em:
        emits.append(np.array(cx.em, dtype=EMIT_DTYPE))
    return part(groups["local"]), part(groups["away"]), part(groups["done"]), emits, steps, hops
