"""The lane executor: many independent instances of one program (a ``--batch`` run) advance together,
SIMD style, each packet instruction applied once to numpy columns over the lanes.

Why a second executor: the packet executor (executor.py) pays routing, shard checks and a gather from a
lane-major memory on every step, so one batch of 544-step instances ran ~3 M packet-steps/s. Here the
per-instruction interpretation cost is paid once per group of lanes at the same pc, and most of it not
at all, because:

- A register (packet slot) holds one of three things: a **uniform** value (an ``np.uint64``, the same in
  every lane: loop counters, constants, return addresses), a **lane-relative** value ``Rel(c)`` (the
  lane's memory base + c, the same offset in every lane: frame and global pointers), or a **vector**
  (an ndarray, one value per lane). Uniform and lane-relative arithmetic is one scalar operation; a
  LOAD/STORE through a lane-relative address touches one memory row.
- Memory is transposed: ``M[word, lane]`` holds the 8-byte word at lane offset ``8 * word`` of each lane,
  so the same offset in every lane is one contiguous row. The array is allocated with calloc, so only rows
  a program touches take memory. ``shadow[word]`` remembers a row known to hold one uniform or
  lane-relative value (the data image, values stored by every lane), so a load from it is a scalar again
  (format strings, saved return addresses).
- Lanes that diverge at a branch are split by pc; each step runs the group with the lowest pc (loops
  jump back, so lanes still looping run first and the ones that left wait at the exit) and the lanes
  re-converge when they meet at one pc. Finished lanes leave the arrays (compaction).

Every operation is the ISA's (the same numpy expressions as isa.py's kernels, on scalars or columns; the
rarer ones run isa.py's kernel itself on the group), so each lane computes the bits the packet executor
computes. Differences (documented): a lane's memory is its own lane only (an access outside it is
BAD_ADDRESS, where the packet executor would let an out-of-bounds C access read the neighbouring
instance; with ``low``, each lane's first ``low`` bytes are unmapped too, where the packet executor's
``Program.unmapped_below`` is one range at address 0), and a fault found at a LOAD/STORE is reported at
that instruction.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from ..isa import IMM, SIGNED, SPEC, Ctx, Op, Status, zext
from ..isa import sext as _isa_sext
from ..packet import NUM_SLOTS, SLOT_RESULT, SLOT_RUNTIME
from .lanes_fast import _BIN as _BIN_FN  # one table of the integer binary ops for both paths
from .lanes_fast import handlers
from .node import Accumulators
from .records import EMIT_DTYPE, ProgramError

_U64 = np.uint64
# opcodes and statuses as plain ints: an IntEnum member lookup (Op.MOV) costs ~180 ns, and the
# interpreter compares a few per instruction
_op = SimpleNamespace(**{m.name: int(m) for m in Op})
_st = SimpleNamespace(**{m.name: int(m) for m in Status})
M64 = (1 << 64) - 1
DEAD_PC = 0xFFFFFFFF
_RET_LIMIT = 0xFFFEFFFF


class Rel:
    """A lane-relative value: lane base + c (mod 2**64) in every lane."""

    __slots__ = ("c",)

    def __init__(self, c: int):
        self.c = c & M64

    def __eq__(self, other) -> bool:
        return isinstance(other, Rel) and other.c == self.c

    def __hash__(self) -> int:
        return hash(("rel", self.c))

    def __repr__(self) -> str:
        return f"Rel({self.c:#x})"


@dataclass
class LaneResult:
    """What a lane run hands back, per lane in input order."""

    status: np.ndarray  # uint16 Status per lane
    detail: np.ndarray  # uint64: HALT's value or the fault detail
    last_pc: np.ndarray  # uint32
    steps: np.ndarray  # uint64 instructions each lane executed
    slots: np.ndarray  # (n, 24) uint64 final slots
    events: list = field(default_factory=list)  # EMIT events: (lanes, seq, tag, width, values)
    accumulators: dict = field(default_factory=dict)
    total_steps: int = 0

    def emits(self, cids: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Every EMIT as isa records, sorted by (computation_id, seq, lane)."""
        parts = []
        for lanes, seq, tag, width, values in self.events:
            m = len(lanes)
            n = values.shape[1] if isinstance(values, np.ndarray) and values.ndim == 2 else 1
            rec = np.empty(m * n, dtype=EMIT_DTYPE)
            rec["computation_id"] = np.repeat(cids[lanes], n)
            rec["seq"] = np.repeat(np.broadcast_to(seq, (m,)), n)
            rec["lane"] = np.tile(np.arange(n, dtype=np.uint16), m)
            rec["tag"] = tag
            rec["width"] = width
            rec["value"] = np.broadcast_to(values, (m, n) if n > 1 else (m,)).reshape(-1)
            rec["node"] = np.repeat(nodes[lanes], n)
            parts.append(rec)
        if not parts:
            return np.zeros(0, dtype=EMIT_DTYPE)
        e = np.concatenate(parts)
        return e[np.lexsort((e["lane"], e["seq"], e["computation_id"]))]


class LaneMemory:
    """Transposed lane memory: M[word, lane]; only touched rows are backed by real pages.

    Rows written are remembered (``rows``, ``spans``) so that release() can zero them and hand the
    buffer to the next machine: the first touch of a calloc'd row costs page faults that are many
    times the cost of clearing it."""

    _pool: dict[tuple[int, int], np.ndarray] = {}

    def __init__(self, lane_size: int, n: int, pool_width: int | None = None):
        self.words = lane_size // 8
        width = max(n, pool_width or n)
        buf = LaneMemory._pool.pop((self.words + 1, width), None)
        if buf is None:
            buf = np.zeros((self.words + 1, width), dtype=np.uint64)  # +1: a spill row for the last word's pair
        self._buf = buf
        self.M = buf[:, :n]
        self.shadow: dict[int, object] = {}
        self.pending: set[int] = set()
        self.rows: set[int] = set()
        self.spans: list[tuple[int, int]] = []

    def load_rows(self, first: int, values: np.ndarray) -> None:
        """Rows first.. := values ((rows, lanes) uint64), as a loader writes an image."""
        self.M[first:first + len(values)] = values
        self.spans.append((first, first + len(values)))

    def mark_array(self, w: np.ndarray) -> None:
        """Rows written by a per-lane scatter."""
        lo, hi = int(w.min()), int(w.max()) + 2
        if hi - lo <= 64:
            self.spans.append((lo, hi))
        else:
            self.rows.update(np.unique(w).tolist())
            self.rows.update((np.unique(w) + 1).tolist())

    def release(self) -> None:
        """Zero every row written (only this machine's columns were) and keep the buffer for the next
        LaneMemory of this shape."""
        M = self.M
        for w in self.rows:
            M[w] = 0
        for lo, hi in self.spans:
            M[lo:hi] = 0
        LaneMemory._pool.clear()  # one buffer kept: machines of a batch run one after another
        LaneMemory._pool[self._buf.shape] = self._buf
        self.M = self._buf = None

    def fill(self, w: int, value) -> None:
        """Row w := a uniform or lane-relative value in every current lane. Only the shadow records it:
        the row is written to M when something reads M there (settle), which most such rows (saved
        return addresses, frame pointers, argv pointers) never are; a row never written costs neither
        the write nor release()'s clearing (each a pass over the whole row, 8 bytes per lane)."""
        self.shadow[w] = value
        self.pending.add(w)

    def preset(self, w: int, value) -> None:
        """Row w holds ``value`` in every lane, written to M only when something reads M there
        (the loader's data image: most of it is read, if at all, through the shadow)."""
        self.shadow[w] = value
        self.pending.add(w)

    def settle(self, words, base: np.ndarray, col) -> None:
        """Write the preset rows among ``words`` (an iterable of row numbers) into M."""
        for w in words:
            if w in self.pending:
                self.pending.discard(w)
                v = self.shadow[w]
                self.M[w, col] = (base + _U64(v.c)) if isinstance(v, Rel) else v
                self.rows.add(w)

    def settle_array(self, w: np.ndarray, base: np.ndarray, col) -> None:
        if self.pending:
            lo, hi = int(w.min()), int(w.max()) + 1
            near = [x for x in self.pending if lo <= x <= hi]
            if near:
                self.settle(set(np.unique(np.concatenate([w, w + 1])).tolist()) & set(near), base, col)


UNIFORM_INT = {_op.ADD, _op.SUB, _op.MUL, _op.AND, _op.OR, _op.XOR}
_CMP_FN = {_op.EQ: (np.equal, False), _op.NE: (np.not_equal, False), _op.LTU: (np.less, False),
           _op.LEU: (np.less_equal, False), _op.GTU: (np.greater, False), _op.GEU: (np.greater_equal, False),
           _op.LTS: (np.less, True), _op.LES: (np.less_equal, True), _op.GTS: (np.greater, True),
           _op.GES: (np.greater_equal, True)}
_NATIVE = (set(_BIN_FN) | set(_CMP_FN) | {_op.SHL, _op.SHR, _op.SAR, _op.MOV, _op.NOT, _op.NEG, _op.NOP, _op.BR,
                                          _op.CALL, _op.RET, _op.HALT, _op.TRAP, _op.EMIT, _op.LOAD, _op.STORE,
                                          _op.CID, _op.NODEID})
UNSUPPORTED = {_op.HOP}


class _Ins:
    __slots__ = ("op", "dst", "a", "b", "width", "flags", "count", "node", "next", "alt", "imm", "signed",
                 "spec", "native", "pc", "uimm", "fast", "fn")

    def __init__(self, rec, pc: int):
        for f in ("op", "dst", "a", "b", "width", "flags", "count", "node", "next", "alt", "imm"):
            setattr(self, f, int(rec[f]))
        self.signed = bool(self.flags & SIGNED)
        self.spec = SPEC.get(self.op)
        self.native = self.op in _NATIVE and (self.count == 1 or self.op in (_op.LOAD, _op.STORE, _op.EMIT))
        self.pc = pc
        self.uimm = _U64(self.imm)
        # the converged-lanes fast path in step(): 1 a full-width +,-,*,&,|,^ (when no operand is a Rel),
        # 2 a full-width MOV
        self.fast = 0
        if self.count == 1 and self.width == 8 and self.op in _BIN_FN:
            self.fast = 1
        elif self.count == 1 and self.width == 8 and self.op == _op.MOV:
            self.fast = 2
        self.fn = _BIN_FN.get(self.op)


class _Decoded(list):
    """Decoded instructions, and ``fast``: each one's handler for converged lanes (lanes_fast.py) or None."""

    fast: list


_DECODED: dict[bytes, _Decoded] = {}


def decode(code: np.ndarray) -> _Decoded:
    """Decoded instructions, cached by the code's bytes (a batch loads many machines of one program)."""
    key = code.tobytes()
    got = _DECODED.get(key)
    if got is None:
        got = _Decoded(_Ins(code[pc], pc) for pc in range(len(code)))
        for ins in got:
            if ins.op in UNSUPPORTED:
                raise ProgramError(f"the lane executor does not run {Op(ins.op).name} (instruction {ins.pc})")
        got.fast = handlers(got, Rel, min(_RET_LIMIT, len(got) - 1))
        if len(_DECODED) > 8:
            _DECODED.clear()
        _DECODED[key] = got
    return got


_NARROW_S = {1: np.int8, 2: np.int16, 4: np.int32}
_NARROW_U = {1: np.uint8, 2: np.uint16, 4: np.uint32}


def sext(x, width: int):
    """isa.sext, and for a column one cast of its low bytes (a little-endian view) instead of three
    passes of mask, xor and subtract: the same bits."""
    if width == 8 or not isinstance(x, np.ndarray):
        return _isa_sext(x, width)
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    return x.view(_NARROW_S[width])[:: 8 // width].astype(np.int64).view(np.uint64)


def _ext(v, width: int, signed: bool):
    return sext(v, width) if signed else zext(v, width)


# the values a width-byte extension produces (as int64): what a column is known to hold after one
_EXT_RANGE = {(w, s): ((-(1 << (8 * w - 1)), (1 << (8 * w - 1)) - 1) if s else (0, (1 << (8 * w)) - 1))
              for w in (1, 2, 4) for s in (False, True)}


class LaneMachine:
    """Runs ``n`` lanes of one program: code (INSTR array), per-lane memory of ``lane_size`` bytes at lane
    base ``base[k]`` (addresses base[k] .. base[k] + lane_size - 1), registers and memory as loaded."""

    def __init__(self, code: np.ndarray, lane_size: int, base: np.ndarray, cids: np.ndarray,
                 nodes: np.ndarray, max_steps: int, block: int | None = None,
                 static_fault: np.ndarray | None = None, static_detail: np.ndarray | None = None,
                 keep_slots: bool = False, pool_width: int | None = None, low: int = 0):
        self.code = decode(code)  # raises ProgramError for an instruction it does not run
        self.fast = self.code.fast
        if static_fault is not None and static_fault.any():  # a faulting pc goes through step(), which reports it
            self.fast = [None if static_fault[pc] else h for pc, h in enumerate(self.fast)]
        self.static_fault = static_fault
        self.keep_slots = keep_slots  # record every slot of a finished lane (as its final packet), not only s22/s23
        self.static_detail = static_detail
        self.L = lane_size
        self.block = block or lane_size
        # lane offsets below low are not mapped (each instance's NULL page): the lower bound of every access
        if not 0 <= low <= lane_size:
            raise ProgramError(f"the unmapped low bytes must be 0..{lane_size}, got {low}")
        self.low = low
        n = len(base)
        self.n0 = n
        self.mem = LaneMemory(lane_size, n, pool_width)
        self.max_steps = int(max_steps)
        # per current lane (compacted as lanes finish)
        self.base = np.asarray(base, dtype=np.uint64)
        self.ids = np.arange(n)  # index into the result arrays (input order)
        self.col: np.ndarray | None = None  # memory column of each current lane (None: identity)
        self.cids = np.asarray(cids, dtype=np.uint64)
        self.nodes = np.asarray(nodes, dtype=np.uint32)
        self.regs: list = [_U64(0)] * NUM_SLOTS
        # value ranges known for recent columns: id -> (weak reference to the column, lo, hi), every lane's
        # value read as int64 in [lo, hi]; an extension to a width the range already fits is then the
        # column itself
        self.known: dict[int, tuple] = {}
        self.steps_base = 0
        self.steps_extra = np.zeros(n, dtype=np.uint64)
        self.any_extra = False
        self.acc = Accumulators()
        self.res = LaneResult(
            np.zeros(n, dtype=np.uint16), np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint32),
            np.zeros(n, dtype=np.uint64), np.zeros((n if keep_slots else 0, NUM_SLOTS), dtype=np.uint64),
        )
        self.total_steps = 0

    # values --------------------------------------------------------------------------------------------
    def vec(self, v, rows):
        """v as a column over the group's lanes."""
        if isinstance(v, np.ndarray):
            return v if rows is None else v[rows]
        if isinstance(v, Rel):
            b = self.base if rows is None else self.base[rows]
            return b + _U64(v.c)
        m = len(self.base) if rows is None else len(rows)
        return np.full(m, v, dtype=np.uint64)

    def gcol(self, v, rows):
        """A group value (what read() returns) as a column over the group's lanes."""
        if isinstance(v, np.ndarray):
            return v
        return self.vec(v, rows)

    def read(self, which: int, ins: _Ins, rows):
        if which == IMM:
            return ins.uimm
        v = self.regs[which]
        if isinstance(v, np.ndarray) and rows is not None:
            return v[rows]
        return v

    def put(self, slot: int, value, rows) -> None:
        """Write a group's result into a slot (never in place: slot arrays may be shared by MOV)."""
        if rows is None:
            self.regs[slot] = value
            return
        old = self.regs[slot]
        if not isinstance(old, np.ndarray) and not isinstance(value, np.ndarray) and type(old) is type(value) and old == value:
            return
        new = self.vec(old, None).copy() if isinstance(old, np.ndarray) else self.vec(old, None)
        new[rows] = self.vec(value, None)[rows] if isinstance(value, Rel) else value
        self.regs[slot] = new

    def steps_of(self, rows):
        """Instructions each lane of the group has run (a scalar while no lane ran one alone)."""
        if not self.any_extra:
            return _U64(self.steps_base)
        s = self.steps_extra if rows is None else self.steps_extra[rows]
        return s + _U64(self.steps_base)

    # the run -------------------------------------------------------------------------------------------
    def run(self, entry: int) -> LaneResult:
        pc: int | None = entry  # the common pc while every lane is at one (converged)
        pcv: np.ndarray | None = None  # else each lane's pc
        extra_max = 0  # upper bound of steps_extra (steps run by partial groups)
        step = self.step
        ndarray = np.ndarray
        fast, ncode = self.fast, len(self.code)
        live = len(self.base)
        with np.errstate(all="ignore"):
            while live:
                if pc is not None:
                    # every lane at one pc (the common case): no per-lane bookkeeping. First the fast
                    # handlers, as long as each step leaves the lanes under the step limit; then step()
                    k = 0
                    room = self.max_steps - extra_max - self.steps_base - 1
                    regs = self.regs
                    while k < room and pc < ncode:
                        h = fast[pc]
                        if h is None:
                            break
                        nxt = h(self, regs)
                        if nxt is None:
                            break
                        pc = nxt
                        k += 1
                    if k:
                        self.steps_base += k
                        self.total_steps += k * live
                        continue
                    self.total_steps += live
                    nxt, finished = step(pc, None)
                    self.steps_base += 1
                    p = pc
                    if isinstance(nxt, ndarray):
                        pcv, pc = nxt, None
                    else:
                        pc = nxt
                    if self.steps_base + extra_max >= self.max_steps:
                        finished = self._step_limit(None, finished)
                    if finished is not None and len(finished[0]):
                        keep = self.finish(p, *finished)
                        if pcv is not None:
                            pcv = pcv[keep]
                        live = len(self.base)
                    continue
                p = int(pcv.min())
                rows = np.flatnonzero(pcv == p)
                if len(rows) == len(pcv):
                    rows, pc, pcv = None, p, None
                m = len(self.base) if rows is None else len(rows)
                self.total_steps += m
                nxt, finished = step(p, rows)
                if rows is None:
                    self.steps_base += 1
                    if isinstance(nxt, np.ndarray):
                        pcv, pc = nxt, None
                    else:
                        pc = nxt
                else:
                    self.steps_extra[rows] += _U64(1)
                    self.any_extra = True
                    extra_max += 1
                    pcv[rows] = nxt
                if self.steps_base + extra_max >= self.max_steps:
                    finished = self._step_limit(rows, finished)
                if finished is not None and len(finished[0]):
                    keep = self.finish(p, *finished)
                    if pcv is not None:
                        pcv = pcv[keep]
                live = len(self.base)
        self.res.accumulators = self.acc.final()
        self.res.total_steps = self.total_steps
        self.known.clear()
        self.mem.release()
        return self.res

    def _step_limit(self, rows, finished):
        """The packet executor's route(): a lane that has now run max_steps instructions (and did not
        just finish) stops with STEP_LIMIT."""
        g = self._group_rows(rows)
        st = np.broadcast_to(self.steps_of(g), g.shape)
        over = g[st >= _U64(self.max_steps)]
        if finished is not None:
            over = np.setdiff1d(over, finished[0])
        if not len(over):
            return finished
        parts = [(over, np.full(len(over), _st.STEP_LIMIT, np.uint16),
                  np.broadcast_to(self.steps_of(over), over.shape).astype(np.uint64))]
        if finished is not None:
            parts.insert(0, finished)
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))

    def finish(self, pc: int, rows: np.ndarray, status: np.ndarray, detail: np.ndarray) -> np.ndarray:
        """Record finished lanes (their slots now), drop them; returns the kept lanes' indices."""
        ids = self.ids[rows]
        r = self.res
        r.status[ids] = status
        r.detail[ids] = detail
        r.last_pc[ids] = pc
        r.steps[ids] = np.broadcast_to(self.steps_of(rows), ids.shape)
        if self.keep_slots:
            S = np.empty((NUM_SLOTS, len(rows)), dtype=np.uint64)
            for s in range(NUM_SLOTS):
                S[s] = self.vec(self.regs[s], rows) if s != SLOT_RUNTIME else 0
            r.slots[ids] = S.T
            r.slots[ids, SLOT_RESULT] = detail
            r.slots[ids, SLOT_RUNTIME] = (_U64(pc) << _U64(32)) | (r.steps[ids] & _U64(0xFFFFFFFF))
        if len(rows) == len(self.base):  # the last lanes: nothing to keep
            self.base = self.base[:0]
            return np.zeros(0, dtype=np.int64)
        keep_mask = np.ones(len(self.base), dtype=bool)
        keep_mask[rows] = False
        keep = np.flatnonzero(keep_mask)
        self.base = self.base[keep]
        self.col = keep if self.col is None else self.col[keep]
        self.ids = self.ids[keep]
        self.cids = self.cids[keep]
        self.nodes = self.nodes[keep]
        self.steps_extra = self.steps_extra[keep]
        self.regs = [v[keep] if isinstance(v, np.ndarray) else v for v in self.regs]
        return keep

    # one instruction for one group -------------------------------------------------------------------
    def step(self, p: int, rows):
        """Run instruction p on the group; returns (next pc: int or per-row array, finished or None) where
        finished is (group-relative... current-lane rows, status, detail)."""
        if p >= len(self.code):
            return 0, self._fault_all(rows, _st.BAD_PC, p)
        if self.static_fault is not None and self.static_fault[p]:
            return 0, self._fault_all(rows, int(self.static_fault[p]), int(self.static_detail[p]))
        ins = self.code[p]
        if rows is None and ins.fast:  # every lane at p: the two commonest instructions without the general path
            regs = self.regs
            a = ins.uimm if ins.a == IMM else regs[ins.a]
            if ins.fast == 2:
                regs[ins.dst] = a
                return ins.next, None
            b = ins.uimm if ins.b == IMM else regs[ins.b]
            if a.__class__ is not Rel and b.__class__ is not Rel:
                regs[ins.dst] = ins.fn(a, b)
                return ins.next, None
        op = ins.op
        if ins.native:
            if op in _BIN_FN:
                self.binary(ins, rows)
                return ins.next, None
            if op == _op.MOV:
                a = self.read(ins.a, ins, rows)
                if ins.width == 8 and not isinstance(a, Rel):
                    self.put(ins.dst, a, rows)
                elif ins.width == 8:
                    self.put(ins.dst, a, rows)
                else:
                    # sext and zext read only the low width bytes: no mask first
                    self.put(ins.dst, self.ext(self.val(a, rows), ins.width, ins.signed), rows)
                return ins.next, None
            if op == _op.BR:
                return self.branch(ins, rows), None
            if op in _CMP_FN:
                self.compare(ins, rows)
                return ins.next, None
            if op == _op.LOAD:
                return ins.next, self.load(ins, rows)
            if op == _op.STORE:
                return ins.next, self.store(ins, rows)
            if op == _op.CALL:
                self.put(ins.dst, _U64(ins.next), rows)
                return ins.alt, None
            if op == _op.RET:
                return self.ret(ins, rows)
            if op == _op.NOP:
                return ins.next, None
            if op in (_op.SHL, _op.SHR, _op.SAR):
                self.shift(ins, rows)
                return ins.next, None
            if op == _op.NOT:
                self.put(ins.dst, _ext(~zext(self.val(self.read(ins.a, ins, rows), rows), ins.width), ins.width, ins.signed), rows)
                return ins.next, None
            if op == _op.NEG:
                self.put(ins.dst, _ext(_U64(0) - zext(self.val(self.read(ins.a, ins, rows), rows), ins.width), ins.width, ins.signed), rows)
                return ins.next, None
            if op == _op.EMIT:
                self.emit(ins, rows)
                return ins.next, None
            if op == _op.HALT:
                v = _U64(ins.imm) if ins.a == IMM else zext(self.val(self.read(ins.a, ins, rows), rows), ins.width)
                return ins.next, self._finish_all(rows, _st.HALTED, v)
            if op == _op.TRAP:
                v = zext(self.val(self.read(ins.a, ins, rows), rows), ins.width)
                return ins.next, self._finish_all(rows, _st.TRAP, v)
            if op == _op.CID:
                self.put(ins.dst, self.cids if rows is None else self.cids[rows], rows)
                return ins.next, None
            if op == _op.NODEID:
                self.put(ins.dst, (self.nodes if rows is None else self.nodes[rows]).astype(np.uint64), rows)
                return ins.next, None
        return self.generic(ins, rows)

    def val(self, v, rows):
        """A uniform value stays a scalar; a lane-relative one becomes its column."""
        return self.vec(v, rows) if isinstance(v, Rel) else v

    # value ranges: a column's lanes known to lie in [lo, hi] (as int64) skip extensions they fit -------
    def _range(self, v):
        """(lo, hi) holding every lane's value of v read as int64, when known: a uniform value's own, a
        column's if recorded for that very column (columns are never written in place), else None."""
        if isinstance(v, np.ndarray):
            k = self.known.get(id(v))
            return (k[1], k[2]) if k is not None and k[0]() is v else None
        if isinstance(v, Rel):
            return None
        x = int(v)
        x = x - (1 << 64) if x >> 63 else x
        return x, x

    def _note(self, col, lo: int, hi: int):
        """Record that every lane of the column ``col`` lies in [lo, hi] (a few recent columns are kept)."""
        if isinstance(col, np.ndarray) and -(1 << 63) <= lo <= hi < (1 << 63):
            known = self.known
            known[id(col)] = (weakref.ref(col), lo, hi)  # weak: a range never keeps a column alive
            if len(known) > 64:
                del known[next(iter(known))]
        return col

    def ext(self, v, width: int, signed: bool):
        """_ext (the low width bytes of v, sign- or zero-extended), and the column itself when its known
        range already fits: extension then changes no lane's value."""
        if width == 8 or not isinstance(v, np.ndarray):
            return _ext(v, width, signed)
        lo, hi = _EXT_RANGE[width, signed]
        r = self._range(v)
        if r is not None and lo <= r[0] and r[1] <= hi:
            return v
        return self._note(_ext(v, width, signed), lo, hi)

    def _binary_range(self, op: int, a, b):
        """The range of a (+, -, *, &, |, ^) b over 64-bit values as integers, from the operands' ranges
        (None when unknown); _note keeps it only when it lies in int64 (the op then did not wrap)."""
        ra, rb = self._range(a), self._range(b)
        if op == _op.AND:
            his = [r[1] for r in (ra, rb) if r is not None and r[0] >= 0]
            return (0, min(his)) if his else None  # x & y lies in [0, y] for y >= 0, whatever x is
        if ra is None or rb is None:
            return None
        if op == _op.ADD:
            return ra[0] + rb[0], ra[1] + rb[1]
        if op == _op.SUB:
            return ra[0] - rb[1], ra[1] - rb[0]
        if op == _op.MUL:
            c = (ra[0] * rb[0], ra[0] * rb[1], ra[1] * rb[0], ra[1] * rb[1])
            return min(c), max(c)
        if ra[0] >= 0 and rb[0] >= 0:  # | and ^ of values below 2**k stay below 2**k
            return 0, (1 << max(ra[1], rb[1]).bit_length()) - 1
        return None

    def _group_rows(self, rows) -> np.ndarray:
        return np.arange(len(self.base)) if rows is None else rows

    def _finish_all(self, rows, status: int, detail):
        g = self._group_rows(rows)
        return g, np.full(len(g), status, dtype=np.uint16), np.broadcast_to(np.asarray(detail, dtype=np.uint64), (len(g),)).copy()

    _fault_all = _finish_all

    def binary(self, ins: _Ins, rows) -> None:
        a = self.read(ins.a, ins, rows)
        b = self.read(ins.b, ins, rows)
        op = ins.op
        if ins.width == 8 and (isinstance(a, Rel) or isinstance(b, Rel)):
            ra, rb = isinstance(a, Rel), isinstance(b, Rel)
            if op == _op.ADD and ra != rb and not isinstance(b if ra else a, np.ndarray):
                self.put(ins.dst, Rel((a.c if ra else b.c) + int(b if ra else a)), rows)
                return
            if op == _op.SUB and ra and not rb and not isinstance(b, np.ndarray):
                self.put(ins.dst, Rel(a.c - int(b)), rows)
                return
            if op == _op.SUB and ra and rb:
                self.put(ins.dst, _U64((a.c - b.c) & M64), rows)
                return
        a, b = self.val(a, rows), self.val(b, rows)
        r = _BIN_FN[op](a, b)
        if isinstance(r, np.ndarray):
            rng = self._binary_range(op, a, b)
            if rng is not None:
                self._note(r, *rng)
        if ins.width == 8:
            self.put(ins.dst, r, rows)
        else:  # +, -, *, &, |, ^: the result's low bytes depend only on the operands' low bytes
            self.put(ins.dst, self.ext(r, ins.width, ins.signed), rows)

    def compare(self, ins: _Ins, rows) -> None:
        a = self.read(ins.a, ins, rows)
        b = self.read(ins.b, ins, rows)
        fn, signed = _CMP_FN[ins.op]
        if isinstance(a, Rel) and isinstance(b, Rel) and ins.width == 8 and not signed and a.c < 2**62 and b.c < 2**62:
            # base + c never wraps for lane bases under 2**62: the order is the offsets' order in every lane
            self.put(ins.dst, _U64(int(fn(a.c, b.c))), rows)
            return
        a, b = self.val(a, rows), self.val(b, rows)
        if signed:
            a, b = self.ext(a, ins.width, True), self.ext(b, ins.width, True)
            a = a.view(np.int64) if isinstance(a, np.ndarray) else np.int64(np.asarray(a).view(np.int64))
            b = b.view(np.int64) if isinstance(b, np.ndarray) else np.int64(np.asarray(b).view(np.int64))
        else:
            a, b = self.ext(a, ins.width, False), self.ext(b, ins.width, False)
        r = fn(a, b)
        # 0 or 1: already what extension from any width gives
        self.put(ins.dst, self._note(r.astype(np.uint64), 0, 1) if isinstance(r, np.ndarray)
                 else _U64(int(r)), rows)

    def shift(self, ins: _Ins, rows) -> None:
        a = self.val(self.read(ins.a, ins, rows), rows)
        b = self.val(self.read(ins.b, ins, rows), rows)
        n = zext(b, ins.width) & _U64(ins.width * 8 - 1)
        if ins.op == _op.SHL:
            r = zext(a, ins.width) << n
        elif ins.op == _op.SHR:
            r = zext(a, ins.width) >> n
        else:
            sa = sext(a, ins.width)
            sa = sa.view(np.int64) if isinstance(sa, np.ndarray) else np.int64(np.asarray(sa).view(np.int64))
            nn = n.astype(np.int64) if isinstance(n, np.ndarray) else np.int64(int(n))
            r = sa >> nn
            r = r.view(np.uint64) if isinstance(r, np.ndarray) else _U64(int(r) & M64)
        self.put(ins.dst, self.ext(r, ins.width, ins.signed), rows)

    def branch(self, ins: _Ins, rows):
        a = self.read(ins.a, ins, rows)
        if isinstance(a, Rel):
            a = self.vec(a, rows)
        if not isinstance(a, np.ndarray):
            return ins.alt if int(zext(a, ins.width)) != 0 else ins.next
        a = self.ext(a, ins.width, False)
        k = int(np.count_nonzero(a))  # one pass; the mask only when the lanes split
        if k == 0:
            return ins.next
        if k == len(a):
            return ins.alt
        return np.where(a != 0, ins.alt, ins.next).astype(np.int64)

    def ret(self, ins: _Ins, rows):
        a = self.read(ins.a, ins, rows)
        if isinstance(a, Rel):
            a = self.vec(a, rows)
        t = zext(a, ins.width)
        # a target past the program is BAD_PC too (the packet executor finds it routing to the target)
        limit = min(_RET_LIMIT, len(self.code) - 1)
        if not isinstance(t, np.ndarray):
            if int(t) > limit:
                return 0, self._fault_all(rows, _st.BAD_PC, t)
            return int(t), None
        first = t[0]
        if (t == first).all():
            if int(first) > limit:
                return 0, self._fault_all(rows, _st.BAD_PC, first)
            return int(first), None
        bad = t > _U64(limit)
        fin = None
        if bad.any():
            g = self._group_rows(rows)
            fin = (g[bad], np.full(int(bad.sum()), _st.BAD_PC, np.uint16), t[bad])
        return np.where(bad, 0, t).astype(np.int64), fin

    def emit(self, ins: _Ins, rows) -> None:
        if ins.count == 1:
            v = zext(self.val(self.read(ins.a, ins, rows), rows), ins.width)
        else:
            m = len(self.base) if rows is None else len(rows)
            v = np.stack([np.broadcast_to(zext(self.val(self.read(ins.a + i, ins, rows) if ins.a != IMM
                                                            else _U64(ins.imm), rows), ins.width), (m,))
                          for i in range(ins.count)], axis=1)
        lanes = self.ids if rows is None else self.ids[rows]
        seq = self.steps_of(rows)
        if not isinstance(v, np.ndarray):
            v = _U64(v)
        self.res.events.append((lanes, seq, ins.dst, ins.width, v))

    # memory ------------------------------------------------------------------------------------------
    def _cols(self, rows):
        if self.col is None:
            return slice(None) if rows is None else rows
        return self.col if rows is None else self.col[rows]

    def _addr(self, ins: _Ins, rows):
        """(uniform lane offset or None, per-lane absolute address or None)."""
        if ins.a == IMM:
            return None, np.full(len(self.base) if rows is None else len(rows), ins.imm, dtype=np.uint64)
        a = self.read(ins.a, ins, rows)
        if isinstance(a, Rel):
            return (a.c + ins.imm) & M64, None
        return None, self.gcol(a, rows) + _U64(ins.imm)

    def _ok_offset(self, off: int, nbytes: int) -> bool:
        return self.low <= off <= self.L - nbytes and (off // self.block) == (off + nbytes - 1) // self.block

    def load(self, ins: _Ins, rows):
        off, addr = self._addr(ins, rows)
        nbytes = ins.width * ins.count
        if off is not None:
            if not self._ok_offset(off, nbytes):
                g = self._group_rows(rows)
                return self._bad_address(g, self.base[g] + _U64(off))
            for i in range(ins.count):
                v = self._load_uniform(off + i * ins.width, ins.width, rows, ins.signed)
                # a column comes back extended as the instruction asks; a scalar or Rel is extended here
                if isinstance(v, np.ndarray):
                    if ins.width < 8:
                        self._note(v, *_EXT_RANGE[ins.width, ins.signed])
                elif not (ins.width == 8 and isinstance(v, Rel)):
                    v = _ext(self.val(v, rows), ins.width, ins.signed)
                self.put(ins.dst + i, v, rows)
            return None
        return self._gather(ins, rows, addr, nbytes)

    def _load_uniform(self, off: int, width: int, rows, signed: bool = False):
        """The width bytes at lane offset off of each lane of the group: a column zero-extended, or
        sign-extended when ``signed``; a scalar (from the shadow) zero-extended, a Rel as stored."""
        w, sh = off >> 3, (off & 7) * 8
        mem = self.mem
        sv = mem.shadow.get(w)
        if sv is not None and sh + width * 8 <= 64:
            if sh == 0 and width == 8:
                return sv
            if not isinstance(sv, Rel):
                return zext(_U64(int(sv) >> sh), width)
        cols = self._cols(rows)
        if mem.pending:
            mem.settle((w, w + 1), self.base, self._cols(None))
        if rows is None and self.col is None and sh + width * 8 <= 64:
            row = mem.M[w]  # a contiguous row: read the width bytes at sh of every lane as one cast
            if width == 8:
                return row.copy()
            nar = row.view(_NARROW_S[width] if signed else _NARROW_U[width])[sh // (8 * width)::8 // width] \
                if sh % (8 * width) == 0 else None
            if nar is not None:
                return nar.astype(np.int64).view(np.uint64) if signed else nar.astype(np.uint64)
        lo = mem.M[w, cols]
        if sh:
            lo = lo >> _U64(sh)
            if sh + width * 8 > 64:
                lo = lo | (mem.M[w + 1, cols] << _U64(64 - sh))
        elif width == 8:
            return lo.copy() if not isinstance(cols, np.ndarray) else lo  # a fancy-indexed read is a copy already
        return _ext(lo, width, signed)

    def _bad_address(self, g: np.ndarray, addr: np.ndarray):
        return g, np.full(len(g), _st.BAD_ADDRESS, np.uint16), np.asarray(addr, dtype=np.uint64)

    def _split_valid(self, rows, addr: np.ndarray, nbytes: int):
        """Per-lane offsets; lanes whose access leaves their lane (or crosses a block) fault."""
        g = self._group_rows(rows)
        off = addr - (self.base if rows is None else self.base[rows])
        if nbytes > self.L - self.low:
            ok = np.zeros(len(off), dtype=bool)
        elif self.low:  # low <= off <= L - nbytes as one unsigned comparison (an offset below low wraps)
            ok = (off - _U64(self.low)) <= _U64(self.L - nbytes - self.low)
        else:
            ok = off <= _U64(self.L - nbytes)
        if self.block < self.L:
            ok &= (off // _U64(self.block)) == ((off + _U64(nbytes - 1)) // _U64(self.block))
        fin = None
        if not ok.all():
            fin = self._bad_address(g[~ok], addr[~ok])
        return g, off, ok, fin

    def _gather(self, ins: _Ins, rows, addr, nbytes: int):
        g, off, ok, fin = self._split_valid(rows, addr, nbytes)
        cols_all = self._cols(rows)
        cols_all = np.arange(len(self.base)) if isinstance(cols_all, slice) else cols_all
        offv = np.where(ok, off, 0)
        if self.mem.pending:
            self.mem.settle_array((offv >> _U64(3)).astype(np.int64) + np.int64(0), self.base, self._cols(None))
            if ins.count > 1:
                self.mem.settle_array((offv + _U64(nbytes - 1) >> _U64(3)).astype(np.int64), self.base, self._cols(None))
        for i in range(ins.count):
            o = offv + _U64(i * ins.width)
            w = (o >> _U64(3)).astype(np.int64)
            sh = (o & _U64(7)) * _U64(8)
            lo = self.mem.M[w, cols_all] >> sh
            span = sh + _U64(ins.width * 8) > _U64(64)
            if span.any():
                hi = self.mem.M[w + 1, cols_all] << ((_U64(64) - sh) & _U64(63))
                lo = np.where(span, lo | hi, lo)
            self.put(ins.dst + i, self.ext(lo, ins.width, ins.signed), rows)
        return fin

    def store(self, ins: _Ins, rows):
        off, addr = self._addr(ins, rows)
        nbytes = ins.width * ins.count
        if off is not None:
            if not self._ok_offset(off, nbytes):
                g = self._group_rows(rows)
                return self._bad_address(g, self.base[g] + _U64(off))
            for i in range(ins.count):
                v = self.read(ins.b + i, ins, rows) if ins.b != IMM else _U64(ins.imm)
                self._store_uniform(off + i * ins.width, ins.width, v, rows)
            return None
        g, offs, ok, fin = self._split_valid(rows, addr, nbytes)
        sel = np.flatnonzero(ok)
        cols_all = self._cols(rows)
        cols_all = np.arange(len(self.base)) if isinstance(cols_all, slice) else cols_all
        cols = cols_all[sel]
        M = self.mem.M
        if self.mem.pending and len(sel):
            self.mem.settle_array((offs[sel] >> _U64(3)).astype(np.int64), self.base, self._cols(None))
            self.mem.settle_array((offs[sel] + _U64(nbytes - 1) >> _U64(3)).astype(np.int64), self.base, self._cols(None))
        for i in range(ins.count):
            v = self.read(ins.b + i, ins, rows) if ins.b != IMM else _U64(ins.imm)
            v = self.gcol(v, rows)[sel]
            o = offs[sel] + _U64(i * ins.width)
            w = (o >> _U64(3)).astype(np.int64)
            sh = (o & _U64(7)) * _U64(8)
            mask = _U64(M64) if ins.width == 8 else _U64((1 << (8 * ins.width)) - 1)
            vv = v & mask
            if len(w):
                self.mem.mark_array(w)
            M[w, cols] = (M[w, cols] & ~(mask << sh)) | (vv << sh)
            span = sh + _U64(ins.width * 8) > _U64(64)
            if span.any():
                s = np.flatnonzero(span)
                rsh = _U64(64) - sh[s]
                M[w[s] + 1, cols[s]] = (M[w[s] + 1, cols[s]] & ~(mask >> rsh)) | (vv[s] >> rsh)
            if self.mem.shadow:
                for word in np.unique(np.concatenate([w, w + 1])).tolist():
                    self.mem.shadow.pop(word, None)
        return fin

    def _store_uniform(self, off: int, width: int, v, rows) -> None:
        mem = self.mem
        w, sh = off >> 3, (off & 7) * 8
        cols = self._cols(rows)
        full = rows is None
        if width == 8 and sh == 0:
            if full and not isinstance(v, np.ndarray):
                mem.fill(w, v)  # every current lane (settle writes the current lanes' columns)
                return
            if mem.pending:
                mem.settle((w,), self.base, self._cols(None))
            mem.shadow.pop(w, None)
            mem.M[w, cols] = self.vec(v, rows) if isinstance(v, Rel) else v
            mem.rows.add(w)
            return
        mask = (1 << (8 * width)) - 1
        old = mem.shadow.get(w)
        if full and self.col is None and sh + 8 * width <= 64 and old is not None and not isinstance(old, Rel) \
                and not isinstance(v, (np.ndarray, Rel)):
            mem.fill(w, _U64((int(old) & ~(mask << sh) & M64) | ((int(v) & mask) << sh)))
            return
        if mem.pending:
            mem.settle((w, w + 1), self.base, self._cols(None))
        mem.shadow.pop(w, None)
        mem.shadow.pop(w + 1, None)
        vv = self.val(v, rows) & _U64(mask)
        m_lo = _U64((mask << sh) & M64)
        mem.rows.add(w)
        mem.rows.add(w + 1)
        mem.M[w, cols] = (mem.M[w, cols] & ~m_lo) | (vv << _U64(sh))
        if sh + 8 * width > 64:
            rsh = _U64(64 - sh)
            mem.M[w + 1, cols] = (mem.M[w + 1, cols] & ~(_U64(mask) >> rsh)) | (vv >> rsh)

    # everything else: the ISA's own kernel on the group ----------------------------------------------
    def generic(self, ins: _Ins, rows):
        spec = ins.spec
        m = len(self.base) if rows is None else len(rows)
        S = np.zeros((NUM_SLOTS, m), dtype=np.uint64).T
        reads = []
        for f, fixed in (("a", spec.a_lanes), ("b", spec.b_lanes)):
            v = getattr(ins, f)
            if f in spec.reads and v != IMM:
                reads += range(v, min(NUM_SLOTS, v + (fixed or ins.count)))
        dst_n = spec.dst_lanes or ins.count
        writes = list(range(ins.dst, ins.dst + dst_n)) if spec.writes_dst else []
        for s in set(reads) | set(writes):
            S[:, s] = self.vec(self.regs[s], rows)
        c = Ctx(S, ins, int(self.nodes[0]) if len(self.nodes) else 0, self.cids if rows is None else self.cids[rows],
                np.broadcast_to(self.steps_of(rows), (m,)), None, self.acc, 1)
        spec.kernel(c)
        for s in writes:
            col = S[:, s].copy()
            self.put(s, col, rows)
        fin = None
        if c.status is not None and c.status.any():
            g = self._group_rows(rows)
            bad = c.status != 0
            st = c.status[bad]
            st = np.where(st == 0x100, _st.HALTED, st).astype(np.uint16)
            fin = (g[bad], st, c.detail[bad])
        nxt = c.next_pc
        if isinstance(nxt, np.ndarray):
            nxt = nxt.astype(np.int64)
            if (nxt == nxt[0]).all():
                nxt = int(nxt[0])
        return nxt, fin
