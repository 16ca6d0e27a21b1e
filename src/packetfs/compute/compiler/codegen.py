"""Back end: a linked IR module -> a fabric Program (docs/compiler.md, "Back end").

Registers: IR registers get packet slots s0..s15 by linear scan over live intervals; the rest live in
spill slots of the function's frame (memory, so a spilled operand is a LOAD routed to the node owning
that stack address). Registers defined once by `const`, `ga` or `fa` are not allocated: they become
immediates, or fold into a LOAD/STORE as base slot + offset.

Fixed slots: s16, s17 scratch; s18 return address (CALL's dst) and scratch; s19 return value;
s20 GB, the base address of this program instance's memory (0 for a single run, lane k * lane size
with --batch); s21 FP, the frame pointer. s22 receives the exit status at HALT.

Frame (F bytes, FP = lowest address): [FP, FP+8) saved return address; then spill slots; then a
save area for the 16 allocatable slots (caller-saved around calls); then the IR's frame objects; the top
8 * nparams bytes hold the incoming arguments (the caller stores argument i at its FP - 8 * (i + 1),
which is the callee's FP + F - 8 * (i + 1)). Calls are CALL (direct) or MOV s18, return pc + RET through
a function-pointer slot (indirect): routing, since each function's code sits on its node.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..isa import ANY, IMM, Op
from ..runtime.program import Instruction, Program
from .errors import CompileError
from .interp import relocated_image  # the loader is shared with the IR interpreter
from .ir import FLOAT_BINARY, INT_BINARY, LOADS, STORES, Function, Module
from .layout import DATA_BASE, write_argv
from .link import HEAP_END

NREGS = 16
T0, T1, RA, RV, GB, FP = 16, 17, 18, 19, 20, 21
TRAP_STACK = 5

_INT_OPS = {"add": Op.ADD, "sub": Op.SUB, "mul": Op.MUL, "divs": Op.DIVS, "divu": Op.DIVU, "mods": Op.MODS,
            "modu": Op.MODU, "and": Op.AND, "or": Op.OR, "xor": Op.XOR, "shl": Op.SHL, "shr": Op.SHR,
            "sar": Op.SAR, "eq": Op.EQ, "ne": Op.NE, "lts": Op.LTS, "ltu": Op.LTU, "les": Op.LES, "leu": Op.LEU}
_FLOAT_OPS = {"fadd": Op.FADD, "fsub": Op.FSUB, "fmul": Op.FMUL, "fdiv": Op.FDIV, "feq": Op.FEQ, "fne": Op.FNE,
              "flt": Op.FLT, "fle": Op.FLE}
_UNARY = {"neg": (Op.NEG, 8, False), "not": (Op.NOT, 8, False), "fneg": (Op.FNEG, 8, False),
          "f32r": (Op.FROUND32, 8, False), "i2f": (Op.I2F, 8, False), "u2f": (Op.U2F, 8, False),
          "f2i": (Op.F2I, 8, False), "f2u": (Op.F2U, 8, False), "fsqrt": (Op.FSQRT, 8, False),
          "sext8": (Op.MOV, 1, True), "sext16": (Op.MOV, 2, True), "sext32": (Op.MOV, 4, True),
          "zext8": (Op.MOV, 1, False), "zext16": (Op.MOV, 2, False), "zext32": (Op.MOV, 4, False),
          "mov": (Op.MOV, 8, False)}
_FUSABLE = {"add", "sub", "mul", "and", "or", "xor", "neg", "not"}
_EXTEND = {"sext8", "sext16", "sext32", "zext8", "zext16", "zext32"}
F2_149 = 0x4940000000000000   # 2**149 as a double
F2_M149 = 0x36A0000000000000  # 2**-149


@dataclass
class CodeMap:
    """Where each function's code landed (for listings, placement and function pointers)."""
    entry: dict[str, int]
    ranges: list[tuple[str, int, int]]


def _successors(code: list[tuple], pc: int) -> tuple[int, ...]:
    ins = code[pc]
    op = ins[0]
    if op == "jmp":
        return (ins[1],)
    if op == "br":
        return (ins[2], ins[3])
    if op in ("ret", "halt", "trap"):
        return ()
    return (pc + 1,) if pc + 1 < len(code) else ()


def _uses_defs(ins: tuple) -> tuple[list[int], int | None]:
    op = ins[0]
    if op in INT_BINARY or op in FLOAT_BINARY:
        return [ins[2], ins[3]], ins[1]
    if op in LOADS or op in _UNARY:
        return [ins[2]], ins[1]
    if op in STORES:
        return [ins[1], ins[2]], None
    if op in ("const", "ga", "fa", "fn"):
        return [], ins[1]
    if op == "memcpy":
        return [ins[1], ins[2]], None
    if op == "br":
        return [ins[1]], None
    if op == "call":
        return list(ins[3]), ins[1]
    if op == "calli":
        return [ins[2], *ins[3]], ins[1]
    if op == "ret" or op == "halt" or op == "trap":
        return ([ins[1]] if ins[1] is not None else []), None
    if op == "emit":
        return [ins[2]], None
    if op == "jmp":
        return [], None
    raise CompileError(f"back end: unknown IR op {op}")


def liveness(fn: Function, uses_defs: list[tuple[list[int], int | None]] | None = None) -> list[int]:
    """live-out bitset (int) per instruction (uses_defs: _uses_defs of each instruction, if known)."""
    live = block_liveness(fn, uses_defs, every_pc=True)[0]
    return [live[pc] for pc in range(len(fn.code))]


def block_liveness(fn: Function, uses_defs: list[tuple[list[int], int | None]] | None = None,
                   every_pc: bool = False) -> tuple[dict[int, int], list[tuple[int, int, int, int]]]:
    """Liveness solved over basic blocks (the fixpoint iterates over blocks, not instructions). Returns
    the live-out bitsets of the instructions code generation asks about (calls; every pc with
    every_pc), spread from their block's live-out by a backward pass, and the blocks as (start pc, end
    pc, live-in bitset, live-out bitset)."""
    code = fn.code
    n = len(code)
    use = [0] * n
    dfn = [0] * n
    leaders = {0}
    for pc, (u, d) in enumerate(uses_defs or [_uses_defs(ins) for ins in code]):
        m = 0
        for r in u:
            m |= 1 << r
        use[pc] = m
        dfn[pc] = (1 << d) if d is not None else 0
        op = code[pc][0]
        if op == "jmp":
            leaders.add(code[pc][1])
            leaders.add(pc + 1)
        elif op == "br":
            leaders.update((code[pc][2], code[pc][3], pc + 1))
        elif op in ("ret", "halt", "trap"):
            leaders.add(pc + 1)
    starts = sorted(p for p in leaders if p < n)
    ends = starts[1:] + [n]
    index = {p: i for i, p in enumerate(starts)}
    nb = len(starts)
    gen = [0] * nb
    kill = [0] * nb
    succ: list[list[int]] = []
    for b in range(nb):
        g = k = 0
        for pc in range(ends[b] - 1, starts[b] - 1, -1):
            g = use[pc] | (g & ~dfn[pc])
            k |= dfn[pc]
        gen[b], kill[b] = g, k
        succ.append([index[s] for s in _successors(code, ends[b] - 1)] if ends[b] > starts[b] else [])
    live_in = [0] * nb
    live_out = [0] * nb
    changed = True
    while changed:
        changed = False
        for b in range(nb - 1, -1, -1):
            out = 0
            for s in succ[b]:
                out |= live_in[s]
            inn = gen[b] | (out & ~kill[b])
            if out != live_out[b] or inn != live_in[b]:
                live_out[b] = out
                live_in[b] = inn
                changed = True
    per_pc: dict[int, int] = {}
    for b in range(nb):
        if not (every_pc or any(code[pc][0] in ("call", "calli") for pc in range(starts[b], ends[b]))):
            continue
        out = live_out[b]
        for pc in range(ends[b] - 1, starts[b] - 1, -1):
            per_pc[pc] = out
            out = use[pc] | (out & ~dfn[pc])
    return per_pc, [(starts[b], ends[b], live_in[b], live_out[b]) for b in range(nb)]


def _bits(m: int):
    while m:
        low = m & -m
        yield low.bit_length() - 1
        m ^= low


class FunctionCodegen:
    def __init__(self, fn: Function, out: list[Instruction], node: int, module: Module, fixups: list) -> None:
        self.fn = fn
        self.out = out
        self.node = node
        self.m = module
        self.fixups = fixups  # (instruction index, field, function name) resolved after all functions

    # -------------------------------------------------------------- analysis
    def analyse(self) -> None:
        fn = self.fn
        code = fn.code
        uds = [_uses_defs(ins) for ins in code]
        defs: dict[int, list[tuple]] = {}
        for ins, (_, d) in zip(code, uds, strict=True):
            if d is not None:
                defs.setdefault(d, []).append(ins)
        self.remat: dict[int, tuple] = {}
        for r, ds in defs.items():
            if len(ds) == 1 and r >= fn.nparams and ds[0][0] in ("const", "ga", "fa"):
                self.remat[r] = ds[0]
        self.live_out, blocks = block_liveness(fn, uds)
        self.uses: dict[int, int] = {}
        self.targets: set[int] = set()
        for ins, (u, _) in zip(code, uds, strict=True):
            for r in u:
                self.uses[r] = self.uses.get(r, 0) + 1
            if ins[0] == "jmp":
                self.targets.add(ins[1])
            elif ins[0] == "br":
                self.targets.update((ins[2], ins[3]))
        # live intervals
        start: dict[int, int] = {r: -1 for r in range(fn.nparams)}
        end: dict[int, int] = {}
        for pc, (u, d) in enumerate(uds):
            for r in u:
                end[r] = max(end.get(r, pc), pc)
                start.setdefault(r, pc)
            if d is not None:
                start[d] = min(start.get(d, pc), pc)
                end[d] = max(end.get(d, pc), pc)
        # a register live out of pc is live over [pc, pc + 1]. With its uses and defs counted above, the
        # first such pc is the start of the first block it is live into, the last such pc + 1 the end of
        # the last block it is live out of: visit each register once from each end of the block list
        seen = 0
        for b_start, _, b_in, _ in blocks:
            new = b_in & ~seen
            if new:
                seen |= new
                for r in _bits(new):
                    start[r] = min(start.get(r, b_start), b_start)
        seen = 0
        for _, b_end, _, b_out in reversed(blocks):
            new = b_out & ~seen
            if new:
                seen |= new
                for r in _bits(new):
                    end[r] = max(end.get(r, b_end), b_end)
        # loops: a register live into a loop header stays live to the back edge (covered by live_out)
        intervals = sorted((s, end.get(r, s), r) for r, s in start.items() if r not in self.remat)
        self.slot: dict[int, int] = {}
        self.spill: dict[int, int] = {}
        free = list(range(NREGS - 1, -1, -1))
        active: list[tuple[int, int]] = []  # (end, reg)
        for s, e, r in intervals:
            active.sort()
            while active and active[0][0] < s:
                _, old = active.pop(0)
                free.append(self.slot[old])
            if free:
                self.slot[r] = free.pop()
                active.append((e, r))
            else:
                active.sort()
                last_end, victim = active[-1]
                if last_end > e:
                    self.slot[r] = self.slot.pop(victim)
                    self.spill[victim] = 0
                    active[-1] = (e, r)
                else:
                    self.spill[r] = 0
        # frame layout
        for i, r in enumerate(sorted(self.spill)):
            self.spill[r] = 8 + 8 * i
        self.save_base = 8 + 8 * len(self.spill)
        self.ir_base = self.save_base + 8 * NREGS
        self.args_bytes = 8 * fn.nparams
        self.F = (self.ir_base + fn.frame_size + self.args_bytes + 15) & ~15
        for i in range(fn.nparams):
            if i in self.spill:  # a spilled parameter lives where the caller put it
                self.spill[i] = self.F - 8 * (i + 1)

    # -------------------------------------------------------------- emission helpers
    def put(self, op: int, **kw) -> int:
        node = kw.pop("node", self.node)
        if op in (Op.LOAD, Op.STORE):
            node = ANY  # memory instructions run where the address lives
        self.out.append(Instruction(op, node=node, **kw))
        return len(self.out) - 1

    def frame_offset(self, ir_off: int) -> int:
        return self.F - self.args_bytes + ir_off

    def src(self, r: int, scratch: int, allow_imm: bool = True) -> tuple[int, int | None]:
        """Operand for IR register r: (slot, None) or (IMM, value)."""
        d = self.remat.get(r)
        if d is not None:
            if d[0] == "const":
                if allow_imm:
                    return IMM, d[2]
                self.put(Op.MOV, dst=scratch, a=IMM, imm=d[2])
                return scratch, None
            base, off = self.address_const(d)
            self.put(Op.ADD, dst=scratch, a=base, b=IMM, imm=off)
            return scratch, None
        if r in self.slot:
            return self.slot[r], None
        if r in self.spill:
            self.put(Op.LOAD, dst=scratch, a=FP, imm=self.spill[r])
            return scratch, None
        # never defined (read of an uninitialised variable): reads as 0, as a fresh slot would
        if allow_imm:
            return IMM, 0
        self.put(Op.MOV, dst=scratch, a=IMM, imm=0)
        return scratch, None

    def src_slot(self, r: int, scratch: int) -> int:
        return self.src(r, scratch, allow_imm=False)[0]

    def address_const(self, d: tuple) -> tuple[int, int]:
        if d[0] == "ga":
            return GB, DATA_BASE + self.m.symbols[d[2]] + d[3]
        return FP, self.frame_offset(d[2])

    def address(self, r: int, scratch: int) -> tuple[int, int]:
        """(base slot, offset) for a memory operand."""
        d = self.remat.get(r)
        if d is not None and d[0] in ("ga", "fa"):
            return self.address_const(d)
        return self.src_slot(r, scratch), 0

    def dst(self, r: int | None) -> int:
        """Slot to compute IR register r into (a scratch when r is spilled; call `commit` after)."""
        if r is None:
            return T0
        if r in self.slot:
            return self.slot[r]
        return RA

    def commit(self, r: int | None, slot: int) -> None:
        if r is not None and r not in self.slot and r in self.spill:
            self.put(Op.STORE, a=FP, b=slot, imm=self.spill[r])

    def binary(self, op: int, d: int, a: int, b: int, width: int = 8, signed: bool = False) -> None:
        sa, ia = self.src(a, T0)
        sb, ib = self.src(b, T1)
        imm = 0
        if ia is not None and ib is not None:
            self.put(Op.MOV, dst=T0, a=IMM, imm=ia)
            sa, ia = T0, None
        if ia is not None:
            imm = ia
        if ib is not None:
            imm = ib
        t = self.dst(d)
        self.put(op, dst=t, a=sa, b=sb, imm=imm & 0xFFFFFFFFFFFFFFFF, width=width, signed=signed)
        self.commit(d, t)

    # -------------------------------------------------------------- the function
    def generate(self, labels: dict[int, int]) -> None:
        """labels: IR pc -> fabric pc, filled as we go; jumps patched by the caller."""
        fn = self.fn
        self.analyse()
        floor = DATA_BASE + self.m.symbols[HEAP_END]
        entry = len(self.out)
        self.entry = entry
        self.put(Op.SUB, dst=FP, a=FP, b=IMM, imm=self.F)
        self.put(Op.ADD, dst=T0, a=GB, b=IMM, imm=floor)
        self.put(Op.LTU, dst=T0, a=FP, b=T0)
        self.fixups.append((self.put(Op.BR, a=T0), "alt", "__trap_stack"))
        self.put(Op.STORE, a=FP, b=RA, imm=0)
        for i in range(fn.nparams):
            if i in self.slot:
                self.put(Op.LOAD, dst=self.slot[i], a=FP, imm=self.F - 8 * (i + 1))
        self.jumps: list[tuple[int, str, int]] = []
        code = fn.code
        skip = False
        for pc, ins in enumerate(code):
            labels[pc] = len(self.out)
            if skip:
                skip = False
                continue
            nxt = code[pc + 1] if pc + 1 < len(code) else None
            if (nxt is not None and ins[0] in _FUSABLE and nxt[0] in _EXTEND and nxt[2] == ins[1]
                    and self.uses.get(ins[1], 0) == 1 and pc + 1 not in self.targets and ins[1] not in self.remat):
                # `add d, a, b; sext32 e, d` -> one ADD of width 4, SIGNED, into e (the ISA truncates and
                # extends its result)
                _, width, signed = _UNARY[nxt[0]]
                if ins[0] in _INT_OPS:
                    self.binary(_INT_OPS[ins[0]], nxt[1], ins[2], ins[3], width=width, signed=signed)
                else:
                    fop = _UNARY[ins[0]][0]
                    sa, ia = self.src(ins[2], T0)
                    t = self.dst(nxt[1])
                    self.put(fop, dst=t, a=sa, imm=(ia or 0) & 0xFFFFFFFFFFFFFFFF, width=width, signed=signed)
                    self.commit(nxt[1], t)
                skip = True
                continue
            self.instr(pc, ins)
        for idx, field, target in self.jumps:
            setattr(self.out[idx], field, labels[target])

    def instr(self, pc: int, ins: tuple) -> None:
        op = ins[0]
        if op in ("const", "ga", "fa"):
            if ins[1] in self.remat:
                return
            t = self.dst(ins[1])
            if op == "const":
                self.put(Op.MOV, dst=t, a=IMM, imm=ins[2])
            else:
                base, off = self.address_const(ins)
                self.put(Op.ADD, dst=t, a=base, b=IMM, imm=off)
            self.commit(ins[1], t)
        elif op in _INT_OPS:
            self.binary(_INT_OPS[op], ins[1], ins[2], ins[3])
        elif op in _FLOAT_OPS:
            self.binary(_FLOAT_OPS[op], ins[1], ins[2], ins[3])
        elif op in _UNARY:
            fop, width, signed = _UNARY[op]
            sa, ia = self.src(ins[2], T0)
            t = self.dst(ins[1])
            if op == "mov" and sa == t and ia is None:
                return
            self.put(fop, dst=t, a=sa, imm=(ia or 0) & 0xFFFFFFFFFFFFFFFF, width=width, signed=signed)
            self.commit(ins[1], t)
        elif op in LOADS:
            base, off = self.address(ins[2], T0)
            t = self.dst(ins[1])
            if op == "ldf32":
                self.put(Op.LOAD, dst=T1, a=base, imm=off & 0xFFFFFFFFFFFFFFFF, width=4)
                self.f32_to_f64(T1, t)
            else:
                width, signed = LOADS[op]
                self.put(Op.LOAD, dst=t, a=base, imm=off & 0xFFFFFFFFFFFFFFFF, width=width, signed=bool(signed))
            self.commit(ins[1], t)
        elif op in STORES:
            v = self.src_slot(ins[2], T1)
            if op == "stf32":
                self.f64_to_f32(v, 22)
                v = 22
            base, off = self.address(ins[1], T0)
            self.put(Op.STORE, a=base, b=v, imm=off & 0xFFFFFFFFFFFFFFFF, width=STORES[op])
        elif op == "memcpy":
            self.memcpy(ins)
        elif op == "fn":
            t = self.dst(ins[1])
            self.fixups.append((self.put(Op.MOV, dst=t, a=IMM), "imm", ins[2]))
            self.commit(ins[1], t)
        elif op == "jmp":
            self.jumps.append((self.put(Op.NOP), "next", ins[1]))
        elif op == "br":
            s = self.src_slot(ins[1], T0)
            idx = self.put(Op.BR, a=s)
            self.jumps.append((idx, "alt", ins[2]))
            self.jumps.append((idx, "next", ins[3]))
        elif op in ("call", "calli"):
            self.call(pc, ins)
        elif op == "ret":
            if ins[1] is not None:
                sa, ia = self.src(ins[1], T0)
                self.put(Op.MOV, dst=RV, a=sa, imm=(ia or 0) & 0xFFFFFFFFFFFFFFFF)
            self.put(Op.LOAD, dst=RA, a=FP, imm=0)
            self.put(Op.ADD, dst=FP, a=FP, b=IMM, imm=self.F)
            self.put(Op.RET, a=RA)
        elif op == "emit":
            s = self.src_slot(ins[2], T0)
            self.put(Op.EMIT, dst=ins[1], a=s, width=ins[3])
        elif op == "halt":
            s = self.src_slot(ins[1], T0)
            self.put(Op.HALT, a=s)
        elif op == "trap":
            s = self.src_slot(ins[1], T0)
            self.put(Op.TRAP, a=s)
        else:
            raise CompileError(f"back end: unknown IR op {op}")

    def call(self, pc: int, ins: tuple) -> None:
        d = ins[1]
        saved = [r for r in _bits(self.live_out[pc]) if r in self.slot and r != d]
        for r in saved:
            self.put(Op.STORE, a=FP, b=self.slot[r], imm=self.save_base + 8 * self.slot[r])
        for i, a in enumerate(ins[3]):
            s = self.src_slot(a, T0)
            self.put(Op.STORE, a=FP, b=s, imm=(-8 * (i + 1)) & 0xFFFFFFFFFFFFFFFF)
        if ins[0] == "call":
            self.fixups.append((self.put(Op.CALL, dst=RA), "alt", ins[2]))
        else:
            target = self.src_slot(ins[2], T1)
            if target != T1:
                self.put(Op.MOV, dst=T1, a=target)
            here = len(self.out)
            self.put(Op.MOV, dst=RA, a=IMM, imm=here + 2)
            self.put(Op.RET, a=T1)
        for r in saved:
            self.put(Op.LOAD, dst=self.slot[r], a=FP, imm=self.save_base + 8 * self.slot[r])
        if d is not None:
            t = self.dst(d)
            self.put(Op.MOV, dst=t, a=RV)
            self.commit(d, t)

    def memcpy(self, ins: tuple) -> None:
        n, align = ins[3], ins[4]
        chunk = 8
        while chunk > 1 and (align % chunk or n % chunk):
            chunk //= 2
        db, doff = self.address(ins[1], T0)
        if db == T0:  # keep the destination address while T0 is reused
            self.put(Op.MOV, dst=RV, a=T0)
            db = RV
        sb, soff = self.address(ins[2], T1)
        count = n // chunk
        if count <= 16:
            for k in range(count):
                self.put(Op.LOAD, dst=T0, a=sb, imm=(soff + k * chunk) & 0xFFFFFFFFFFFFFFFF, width=chunk)
                self.put(Op.STORE, a=db, b=T0, imm=(doff + k * chunk) & 0xFFFFFFFFFFFFFFFF, width=chunk)
            return
        # a loop: RV = dst cursor, T1 = src cursor, RA = bytes left
        if db != RV:
            self.put(Op.ADD, dst=RV, a=db, b=IMM, imm=doff & 0xFFFFFFFFFFFFFFFF)
        elif doff:
            self.put(Op.ADD, dst=RV, a=RV, b=IMM, imm=doff & 0xFFFFFFFFFFFFFFFF)
        self.put(Op.ADD, dst=T1, a=sb, b=IMM, imm=soff & 0xFFFFFFFFFFFFFFFF)
        self.put(Op.MOV, dst=RA, a=IMM, imm=n)
        top = len(self.out)
        self.put(Op.LOAD, dst=T0, a=T1, width=chunk)
        self.put(Op.STORE, a=RV, b=T0, width=chunk)
        self.put(Op.ADD, dst=T1, a=T1, b=IMM, imm=chunk)
        self.put(Op.ADD, dst=RV, a=RV, b=IMM, imm=chunk)
        self.put(Op.SUB, dst=RA, a=RA, b=IMM, imm=chunk)
        self.put(Op.BR, a=RA, alt=top)

    def f32_to_f64(self, b: int, t: int) -> None:
        """binary32 bits in slot b (zero-extended) -> binary64 bits in slot t (T0, T1, RA, RV as scratch)."""
        P = self.put
        # normal/inf/nan: sign<<63 | (e + 896 + 896*(e==255)) << 52 | m << 29
        P(Op.SHR, dst=T0, a=b, b=IMM, imm=23)
        P(Op.AND, dst=T0, a=T0, b=IMM, imm=0xFF)                     # e
        P(Op.EQ, dst=RV, a=T0, b=IMM, imm=255)
        P(Op.MUL, dst=RV, a=RV, b=IMM, imm=896)
        P(Op.ADD, dst=RV, a=RV, b=T0)
        P(Op.ADD, dst=RV, a=RV, b=IMM, imm=896)
        P(Op.SHL, dst=RV, a=RV, b=IMM, imm=52)
        P(Op.AND, dst=RA, a=b, b=IMM, imm=0x7FFFFF)
        P(Op.SHL, dst=RA, a=RA, b=IMM, imm=29)
        P(Op.OR, dst=RV, a=RV, b=RA)                                # exponent and mantissa
        # zero/subnormal: m * 2**-149 (exact)
        P(Op.AND, dst=RA, a=b, b=IMM, imm=0x7FFFFF)
        P(Op.I2F, dst=RA, a=RA)
        P(Op.FMUL, dst=RA, a=RA, b=IMM, imm=F2_M149)
        P(Op.EQ, dst=T0, a=T0, b=IMM, imm=0)                        # e == 0
        P(Op.NEG, dst=T0, a=T0)                                     # all ones when subnormal
        P(Op.AND, dst=RA, a=RA, b=T0)
        P(Op.NOT, dst=T0, a=T0)
        P(Op.AND, dst=RV, a=RV, b=T0)
        P(Op.OR, dst=RV, a=RV, b=RA)
        P(Op.SHR, dst=T0, a=b, b=IMM, imm=31)
        P(Op.SHL, dst=T0, a=T0, b=IMM, imm=63)
        P(Op.OR, dst=t, a=RV, b=T0)

    def f64_to_f32(self, v: int, t: int) -> None:
        """binary64 bits in slot v (a value a float holds exactly) -> binary32 bits in slot t (= X).
        Scratch: X (s22, written by HALT only at the end), T0, T1, RA, RV."""
        P = self.put
        X = 22
        P(Op.MOV, dst=X, a=v)
        P(Op.SHR, dst=T0, a=X, b=IMM, imm=52)
        P(Op.AND, dst=T0, a=T0, b=IMM, imm=0x7FF)                   # E
        # normal (E >= 897) or inf/nan (E == 2047): (E - 896, or 255) << 23 | top 23 mantissa bits
        P(Op.SUB, dst=RA, a=T0, b=IMM, imm=896)
        P(Op.EQ, dst=T1, a=T0, b=IMM, imm=2047)
        P(Op.MUL, dst=T1, a=T1, b=IMM, imm=(255 - 1151) & 0xFFFFFFFFFFFFFFFF)
        P(Op.ADD, dst=RA, a=RA, b=T1)
        P(Op.SHL, dst=RA, a=RA, b=IMM, imm=23)
        P(Op.SHR, dst=T1, a=X, b=IMM, imm=29)
        P(Op.AND, dst=T1, a=T1, b=IMM, imm=0x7FFFFF)
        P(Op.OR, dst=RA, a=RA, b=T1)
        P(Op.AND, dst=T1, a=X, b=IMM, imm=0x1FFFFFFF)               # a NaN keeps a payload bit
        P(Op.NE, dst=T1, a=T1, b=IMM, imm=0)
        P(Op.EQ, dst=RV, a=T0, b=IMM, imm=2047)
        P(Op.AND, dst=T1, a=T1, b=RV)
        P(Op.SHL, dst=T1, a=T1, b=IMM, imm=22)
        P(Op.OR, dst=RA, a=RA, b=T1)
        P(Op.GEU, dst=T0, a=T0, b=IMM, imm=897)                     # normal or inf/nan?
        P(Op.NEG, dst=T0, a=T0)
        P(Op.AND, dst=RA, a=RA, b=T0)
        # subnormal or zero: |x| * 2**149 is the integer mantissa
        P(Op.AND, dst=T1, a=X, b=IMM, imm=0x7FFFFFFFFFFFFFFF)
        P(Op.FMUL, dst=T1, a=T1, b=IMM, imm=F2_149)
        P(Op.F2I, dst=T1, a=T1)
        P(Op.NOT, dst=T0, a=T0)
        P(Op.AND, dst=T1, a=T1, b=T0)
        P(Op.OR, dst=RA, a=RA, b=T1)
        P(Op.SHR, dst=T1, a=X, b=IMM, imm=63)
        P(Op.SHL, dst=T1, a=T1, b=IMM, imm=31)
        P(Op.OR, dst=t, a=RA, b=T1)


@dataclass
class Unit:
    """One linked program inside a compiled image: its module, entry stub and code map."""
    module: Module
    stub: int
    code_map: CodeMap


@dataclass
class Compiled:
    """Compiled code for one or more programs (units) plus what the loader needs to lay out memory."""
    code: list[Instruction]
    units: list[Unit]
    lane_size: int
    stack_size: int

    @property
    def module(self) -> Module:
        return self.units[0].module

    @property
    def code_map(self) -> CodeMap:
        return self.units[0].code_map

    def program(self, lanes: int = 1, nodes: int = 1, placement: str = "function",
                argv: list[list[bytes]] | None = None, lane_units: list[int] | None = None
                ) -> tuple[Program, list[tuple[int, int, int, int, int]]]:
        """A Program for `lanes` independent instances of main (lane k runs unit lane_units[k]); returns
        it with each lane's (GB, initial FP, argc, argv address, entry pc)."""
        argv = argv or [[b"prog"]] * lanes
        lane_units = lane_units or [0] * lanes
        size = self.lane_size * lanes
        if size > (1 << 30):
            raise CompileError(f"{lanes} instances of {self.lane_size} bytes exceed the fabric's 1 GiB memory")
        image = _Image(size)
        inputs = []
        for k in range(lanes):
            unit = self.units[lane_units[k]]
            base = k * self.lane_size
            func_addr = {name: unit.code_map.entry[name] for name in unit.module.func_ids}
            data = relocated_image(unit.module, base, func_addr)
            image.write(base + DATA_BASE, bytes(data))
            argc, argv_addr, sp = load_image_args(image, argv[k], base, self.lane_size)
            inputs.append((base, sp & ~15, argc, argv_addr, unit.stub))
        code = []
        for ins in self.code:
            node = ins.node
            if placement == "any" or nodes == 1:
                node = ANY
            elif node != ANY:
                node = node % nodes
            code.append(Instruction(ins.op, ins.dst, ins.a, ins.b, ins.imm, ins.width, ins.signed, ins.count,
                                    node, ins.next, ins.alt))
        block_shift = 12 if lanes == 1 else max(12, (self.lane_size - 1).bit_length())
        prog = Program(code, num_nodes=nodes, entry=self.units[0].stub, memory=image.bytes(), memory_size=size,
                       block_shift=block_shift, name=self.module.source_name, unmapped_below=DATA_BASE)
        return prog, inputs


class _Image:
    def __init__(self, size: int) -> None:
        self.buf = bytearray()
        self.size = size

    def write(self, addr: int, data: bytes) -> None:
        end = addr + len(data)
        if end > self.size:
            raise CompileError("program image does not fit its memory")
        if end > len(self.buf):
            self.buf.extend(b"\0" * (end - len(self.buf)))
        self.buf[addr:end] = data

    def bytes(self) -> bytes:
        return bytes(self.buf)


def load_image_args(image: _Image, argv: list[bytes], base: int, lane_size: int) -> tuple[int, int, int]:
    """argv strings and the pointer array at the top of the lane; returns (argc, argv addr, stack top)."""
    return write_argv(image, argv, base, lane_size)


def _thread_jumps(out: list[Instruction], start: int) -> None:
    """Point every `next`/`alt` that lands on a NOP (a jump) at where the NOP goes, so jumps cost no
    packet step. The unit's entry NOP is kept (packets are injected there)."""
    def nxt(pc: int) -> int:
        n = out[pc].next
        return pc + 1 if n is None else n

    def final(pc: int) -> int:
        for _ in range(64):
            if pc >= len(out) or out[pc].op != Op.NOP or nxt(pc) == pc:
                break
            pc = nxt(pc)
        return pc

    for pc in range(start, len(out)):
        ins = out[pc]
        if ins.op not in (Op.HALT, Op.TRAP, Op.RET):
            target = final(nxt(pc))
            if target != nxt(pc):
                ins.next = target
        if ins.op in (Op.BR, Op.CALL):
            ins.alt = final(ins.alt)


def generate(modules: list[Module], lane_size: int, stack_size: int) -> Compiled:
    """modules: linked (link.link), one unit each. Every function's code is placed on a node (its index
    in its module; mapped modulo the node count when loaded)."""
    out: list[Instruction] = []
    units = []
    for module in modules:
        fixups: list[tuple[int, str, str]] = []
        # entry stub: packets start here with s20 = GB, s21 = FP, s0 = argc, s1 = argv
        stub = len(out)
        out.append(Instruction(Op.NOP))
        out.append(Instruction(Op.STORE, a=FP, b=0, imm=(-8) & 0xFFFFFFFFFFFFFFFF))
        out.append(Instruction(Op.STORE, a=FP, b=1, imm=(-16) & 0xFFFFFFFFFFFFFFFF))
        fixups.append((len(out), "alt", "main"))
        out.append(Instruction(Op.CALL, dst=RA))
        out.append(Instruction(Op.HALT, a=RV))
        trap_stack = len(out)
        out.append(Instruction(Op.TRAP, a=IMM, imm=TRAP_STACK))
        entry: dict[str, int] = {"__trap_stack": trap_stack}
        ranges = []
        for idx, (name, fn) in enumerate(module.functions.items()):
            g = FunctionCodegen(fn, out, idx, module, fixups)
            start = len(out)
            g.generate({})
            entry[name] = g.entry
            ranges.append((name, start, len(out)))
        for i, field, name in fixups:
            if name not in entry:
                raise CompileError(f"undefined reference to function '{name}'")
            setattr(out[i], field, entry[name])
        _thread_jumps(out, stub + 1)
        units.append(Unit(module, stub, CodeMap(entry, ranges)))
    return Compiled(out, units, lane_size, stack_size)


# ------------------------------------------------------------------------------------------ .pfx files

PFX_FORMAT = "packetfs-c/1"
MAX_PFX_BYTES = 1 << 30


def to_bytes(c: Compiled) -> bytes:
    """A .pfx file: one JSON header line, the INSTR array (node = the function's index), the data image."""
    import json

    from ..runtime.program import assemble
    if len(c.units) != 1:
        raise CompileError("a .pfx file holds one program")
    m = c.module
    head = {
        "format": PFX_FORMAT, "source": m.source_name, "stub": c.units[0].stub, "lane_size": c.lane_size, "stack_size": c.stack_size,
        "entry": c.code_map.entry, "ranges": c.code_map.ranges, "symbols": m.symbols,
        "relocs": m.relocs, "functions": list(m.func_ids), "code_len": len(c.code), "data_len": len(m.data),
    }
    code = assemble(c.code)
    return json.dumps(head).encode() + b"\n" + code.tobytes() + bytes(m.data)


def from_bytes(data: bytes) -> Compiled:
    import json

    import numpy as np

    from ..isa import INSTR
    line, sep, rest = data.partition(b"\n")
    try:
        head = json.loads(line)
        if not sep or not isinstance(head, dict) or head.get("format") != PFX_FORMAT:
            raise ValueError(f"not a {PFX_FORMAT} file")
        n_code, n_data = int(head["code_len"]), int(head["data_len"])
        if n_code <= 0 or n_data < 0 or len(rest) != n_code * INSTR.itemsize + n_data:
            raise ValueError("length mismatch")
        lane, stack = int(head["lane_size"]), int(head["stack_size"])
        if lane & (lane - 1) or not (1 << 13) <= lane <= (1 << 30) or not 0 < stack < lane:
            raise ValueError("bad memory layout")
        arr = np.frombuffer(rest[: n_code * INSTR.itemsize], dtype=INSTR)
        code = [Instruction(int(r["op"]), int(r["dst"]), int(r["a"]), int(r["b"]), int(r["imm"]), int(r["width"]),
                            bool(r["flags"] & 1), int(r["count"]), int(r["node"]), int(r["next"]), int(r["alt"]))
                for r in arr]
        entry = {str(k): int(v) for k, v in head["entry"].items()}
        funcs = [str(f) for f in head["functions"]]
        if any(f not in entry or not 0 <= entry[f] < n_code for f in funcs) or "main" not in funcs:
            raise ValueError("bad function table")
        symbols = {str(k): int(v) for k, v in head["symbols"].items()}
        relocs = [(int(o), str(k), str(s), int(a)) for o, k, s, a in head["relocs"]]
        for off, kind, sym, _ in relocs:
            if not 0 <= off <= n_data - 8 or (kind == "data" and sym not in symbols) or (
                    kind == "func" and sym not in entry) or kind not in ("data", "func"):
                raise ValueError("bad relocation")
        if any(not 0 <= v < lane for v in symbols.values()):
            raise ValueError("bad symbol")
        # Every header field is read inside the try: a missing or ill-typed one is a clear error too.
        ranges = [(str(n), int(a), int(b)) for n, a, b in head["ranges"]]
        stub = int(head["stub"])
        if not 0 <= stub < n_code:
            raise ValueError("bad entry stub")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CompileError(f"not a valid compiled program: {e}") from None
    module = Module({}, bytearray(rest[n_code * INSTR.itemsize:]), symbols, relocs,
                    {f: entry[f] for f in funcs}, set(), str(head.get("source", "")))
    return Compiled(code, [Unit(module, stub, CodeMap(entry, ranges))], lane, stack)
