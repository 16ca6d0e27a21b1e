"""`--batch`: one compiled program run once per argv line, all instances as lanes of the lane executor
(runtime/lanes.py), and their outputs rendered column-wise.

The loader writes what compiled.program() writes for each instance (the relocated data image at the
lane's base, argv at the top of the lane, GB/FP/argc/argv in the slots) straight into the transposed
lane memory, vectorised: instances whose argv has the same layout (argc and the 16-byte-rounded size
of the strings, which fix the initial stack pointer) share one lane machine, so their frame pointers are
one lane-relative value. Instance k's memory base is k * lane_size, as in a one-wave packet run, so
even pointer values print the same.

Output: printf arrives as EMIT records (runtime_c: chars, spec chars, arguments, end). When every lane
of a machine emitted the same record sequence (lockstep, no lane finished early), the spec is uniform
and only argument values differ: integer conversions are formatted as digit columns in numpy and the
pieces joined with one mask; anything else is formatted per lane by printf.format_c. Otherwise each
lane's records are rendered on their own (render.render), exactly as the packet path does.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing
import time
from dataclasses import dataclass, field

import numpy as np

from ..isa import Status
from ..runtime.lanes import LaneMachine, Rel
from ..runtime.records import BackendError
from .codegen import Compiled, to_bytes
from .errors import CompileError
from .execute import fault_text, function_at
from .interp import relocated_image
from .layout import DATA_BASE
from .printf import _SPEC, format_c
from .render import OutputError, render
from .runtime_c import TAG_ARG, TAG_CHAR, TAG_END, TAG_SPEC, TAG_STR

DEFAULT_WAVE = 32768  # lanes per machine: per-instruction overhead shared by this many; columns of 256 KiB stay in cache
MACHINE_ADDRESS_SPACE = 2 << 30  # bytes of lane memory one machine reserves (calloc: only rows touched use RAM)
_U64 = np.uint64


@dataclass
class BatchOutcome:
    """Every instance's result, in input order."""

    stdout: bytes  # all instances' output, concatenated in input order
    ends: np.ndarray  # instance k printed stdout[ends[k-1]:ends[k]] (int64)
    status: np.ndarray  # int16: main's return value & 0xFF, or -1 after a fault
    faults: dict[int, str] = field(default_factory=dict)  # instance -> why it was stopped
    steps: int = 0  # packet instructions executed, over all lanes
    machines: int = 0  # lane machines run (groups of instances sharing one argv layout)
    seconds: float = 0.0
    # CPU seconds by phase, summed over the machines (and node workers): load (the lanes' memory and
    # registers), run (the lane executor), render (printf's text), merge (outputs in input order)
    cpu: dict[str, float] = field(default_factory=dict)

    def output(self, k: int) -> bytes:
        lo = int(self.ends[k - 1]) if k else 0
        return self.stdout[lo:int(self.ends[k])]

    def __len__(self) -> int:
        return len(self.status)


def _fault_text(compiled: Compiled, status: int, detail: int, base: int, pc: int) -> str:
    """execute.fault_text for the lane at ``base`` that finished at ``pc`` (a bad access: the LOAD/STORE
    itself): its NULL page is the first DATA_BASE bytes of its lane (the lane executor faults there,
    lane-relative) or of memory (a NULL pointer, absolute 0)."""
    null_page = detail < DATA_BASE or (detail - base) % (1 << 64) < DATA_BASE
    where = function_at(compiled, pc) if status == Status.BAD_ADDRESS else None
    return fault_text(status, detail, null_page=null_page, where=where)


# ------------------------------------------------------------------------------------------ the loader

class _Image:
    """The instance-independent part of the lane image: uniform words and lane-relative pointer words."""

    def __init__(self, compiled: Compiled):
        unit = compiled.units[0]
        L = compiled.lane_size
        func_addr = {name: unit.code_map.entry[name] for name in unit.module.func_ids}
        a = bytes(relocated_image(unit.module, 0, func_addr))
        b = bytes(relocated_image(unit.module, L, func_addr))
        pad = (-len(a)) % 8
        wa = np.frombuffer(a + b"\0" * pad, dtype="<u8")
        wb = np.frombuffer(b + b"\0" * pad, dtype="<u8")
        moved = np.flatnonzero(wa != wb)
        if len(moved) and not ((wb[moved] - wa[moved]) == _U64(L)).all():
            raise CompileError("the data image has a pointer that is not 8-byte aligned; run it without --batch")
        self.first = DATA_BASE // 8
        self.words = wa
        self.rel = set(moved.tolist())
        # what every machine's memory starts with, made once: each word's value in every lane (the
        # shadow) and the non-zero words, written to lane memory only when something reads memory there
        self.shadow = {self.first + i: (Rel(w) if i in self.rel else _U64(w)) for i, w in enumerate(wa.tolist())}
        self.pending = {self.first + i for i, w in enumerate(wa.tolist()) if w or i in self.rel}


class ArgvTable:
    """Every instance's argv without a Python object per argument: the bytes of all arguments in
    ``buf``, and per instance ``argc`` and the (n, max argc) ``start`` / ``length`` of each argument.

    A regular table (a file of equal-length lines) is ``row0`` (row 0's starts and lengths) and
    ``stride``: every row has row 0's argc and lengths, and argument i of row k starts at
    row0[0][i] + k * stride[i]; ``start`` and ``length`` are then made only if something asks for them
    (the loader does not: it copies each argument's bytes with the stride)."""

    def __init__(self, buf: np.ndarray, argc: np.ndarray, start: np.ndarray | None = None,
                 length: np.ndarray | None = None, stride: tuple[int, ...] | None = None,
                 row0: tuple[tuple[int, ...], tuple[int, ...]] | None = None):
        self.buf = buf  # uint8
        self.argc = argc  # int64 (n,)
        self._start = start  # int64 (n, width)
        self._length = length  # int64 (n, width); 0 past argc
        self.stride = stride
        self.row0 = row0
        if (start is None or length is None) and (stride is None or row0 is None):
            raise ValueError("an ArgvTable needs start and length, or row 0 and the stride")

    @property
    def start(self) -> np.ndarray:
        if self._start is None:
            k = np.arange(len(self), dtype=np.int64)[:, None]
            self._start = np.asarray(self.row0[0], dtype=np.int64) + k * np.asarray(self.stride, dtype=np.int64)
        return self._start

    @property
    def length(self) -> np.ndarray:
        if self._length is None:
            row = np.asarray(self.row0[1], dtype=np.int64)
            self._length = np.broadcast_to(row, (len(self), len(row)))
        return self._length

    def __len__(self) -> int:
        return len(self.argc)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if self.stride is not None and self.row0 is not None:  # regular: argc is one value, the rest derived
            state["argc"] = (len(self), len(self.row0[0]))
            state["_start"] = state["_length"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state["argc"], tuple):
            n, argc = state["argc"]
            state["argc"] = np.broadcast_to(np.int64(argc), (n,))
        self.__dict__.update(state)

    @classmethod
    def from_lists(cls, argvs: list[list[bytes]]) -> ArgvTable:
        n = len(argvs)
        argc = np.fromiter(map(len, argvs), dtype=np.int64, count=n)
        width = int(argc.max()) if n else 0
        flat = [a for argv in argvs for a in argv]
        lens = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
        starts = np.cumsum(lens) - lens
        length = np.zeros((n, width), dtype=np.int64)
        start = np.zeros((n, width), dtype=np.int64)
        row = np.repeat(np.arange(n), argc)
        pos = np.arange(len(flat)) - np.repeat(np.cumsum(argc) - argc, argc)
        length[row, pos] = lens
        start[row, pos] = starts
        return cls(np.frombuffer(b"".join(flat), dtype=np.uint8), argc, start, length)

    @classmethod
    def from_text(cls, data: bytes, name: bytes) -> ArgvTable | None:
        """The lines of a batch file (argv[0] = name, then the line's words), tokenised in numpy, or
        None when a line needs a shell-style split (quotes, backslashes) or non-ASCII handling."""
        rest = data.translate(None, _WORD_BYTES)  # the separators and any byte that needs the shell split
        if rest.translate(None, b"\t\n "):  # some byte needs shlex or str.split's wider whitespace
            return None
        newlines = rest.count(b"\n")
        one_word = newlines == len(rest)  # no space or tab: one word per line
        arr = np.frombuffer(data, dtype=np.uint8)
        step = data.find(b"\n") + 1
        if (one_word and step > 1 and len(data) % step == 0 and newlines == len(data) // step
                and (arr[step - 1::step] == 10).all()):
            # lines of one length, one word each (a generated batch file): every newline is at a multiple
            # of the line length, so the words are where they are without searching, and the table is
            # two constant columns and one arithmetic one (written once each, into uninitialised arrays)
            n = len(data) // step
            buf = np.concatenate([arr, np.frombuffer(name, dtype=np.uint8)])
            return cls(buf, np.broadcast_to(np.int64(2), (n,)), stride=(0, step),
                       row0=((len(arr), 0), (len(name), step - 1)))
        if one_word:  # one word per line (the usual batch file)
            nl = np.flatnonzero(arr == 10)
            begins = np.concatenate([[0], nl + 1])
            ends = np.append(nl, len(arr))
            word = ends > begins
            begins, ends = begins[word], ends[word]
            first = np.arange(len(begins))
            counts = np.ones(len(begins), dtype=np.int64)
        else:
            sep = _SEPARATOR[arr]
            edge = np.diff(sep.view(np.int8), prepend=np.int8(1), append=np.int8(1))  # -1: a word begins, +1: it ends
            begins = np.flatnonzero(edge[:-1] == -1)
            ends = np.flatnonzero(edge[1:] == 1) + 1
            line = np.searchsorted(np.flatnonzero(arr == 10), begins)  # the line each word is on
            first = np.flatnonzero(np.diff(line, prepend=-1)) if len(line) else line
            counts = np.diff(np.append(first, len(line)))
        n = len(first)
        argc = counts.astype(np.int64) + 1
        width = int(argc.max()) if n else 1
        buf = np.concatenate([arr, np.frombuffer(name, dtype=np.uint8)])
        start = np.zeros((n, width), dtype=np.int64)
        length = np.zeros((n, width), dtype=np.int64)
        start[:, 0] = len(arr)
        length[:, 0] = len(name)
        if width == 2:  # one word per line
            start[:, 1] = begins
            length[:, 1] = ends - begins
        else:
            row = np.repeat(np.arange(n), counts)
            pos = np.arange(len(begins)) - np.repeat(first, counts) + 1
            start[row, pos] = begins
            length[row, pos] = ends - begins
        return cls(buf, argc, start, length)

    def take(self, idx) -> ArgvTable:
        if self.stride is not None and isinstance(idx, slice) and idx.step in (None, 1):
            # a run of consecutive rows of a regular table is regular: its row 0 is row lo
            lo = idx.indices(len(self))[0]
            starts = tuple(s + lo * st for s, st in zip(self.row0[0], self.stride, strict=True))
            return ArgvTable(self.buf, self.argc[idx], stride=self.stride, row0=(starts, self.row0[1]))
        return ArgvTable(self.buf, self.argc[idx], self.start[idx], self.length[idx])

    def compact(self) -> ArgvTable:
        """The same argvs with only the bytes they use (argv[0], shared, and the span of the others) and
        32-bit offsets: what a node worker is sent (a regular table stays regular: row 0 and the stride,
        no per-row arrays to pickle)."""
        n = len(self)
        if n and self.stride is not None:
            (s0, *starts), (l0, *lens) = self.row0
            st0, *strides = self.stride
            if st0 == 0 and all(lens):  # argv[0] the same in every row, every other argument non-empty
                lo = min(starts)
                hi = max(s + (n - 1) * st + k for s, st, k in zip(starts, strides, lens, strict=True))
                buf = np.concatenate([self.buf[s0:s0 + l0], self.buf[lo:hi]])
                row0 = ((0, *(s - lo + l0 for s in starts)), self.row0[1])
                return ArgvTable(buf, self.argc, stride=self.stride, row0=row0)
        if not n or self.start.shape[1] < 2 or int(self.start[:, 0].min()) != int(self.start[:, 0].max()):
            return self
        a0, l0 = int(self.start[0, 0]), int(self.length[0, 0])
        rest = self.length[:, 1:] > 0
        if not rest.any():
            return self
        lo = int(self.start[:, 1:][rest].min())
        hi = int((self.start[:, 1:] + self.length[:, 1:])[rest].max())
        if hi - lo + l0 >= 2**31:
            return self
        buf = np.concatenate([self.buf[a0:a0 + l0], self.buf[lo:hi]])
        start = np.empty(self.start.shape, dtype=np.int32)
        start[:, 0] = 0
        start[:, 1:] = np.where(rest, self.start[:, 1:] - lo + l0, 0)
        return ArgvTable(buf, self.argc.astype(np.int32), start, self.length.astype(np.int32))

    def lists(self) -> list[list[bytes]]:
        b = self.buf.tobytes()
        return [[b[s:s + ln] for s, ln in zip(self.start[k, :c].tolist(), self.length[k, :c].tolist(), strict=True)]
                for k, c in enumerate(self.argc.tolist())]


# bytes that need shlex (quotes, backslash) or that str.split/splitlines treat as whitespace or a
# line break where the simple tokeniser would not
_SEPARATOR = np.zeros(256, dtype=bool)
_SEPARATOR[[9, 10, 32]] = True
_NOT_SHELLISH = bytes(b for b in range(256) if b not in (34, 39, 92, 11, 12, 13, 28, 29, 30, 31) and b < 127)
_WORD_BYTES = bytes(b for b in _NOT_SHELLISH if b not in (9, 10, 32))  # bytes that are part of a plain word


def _layout(table: ArgvTable, L: int) -> np.ndarray:
    """Each instance's argv array offset in its lane (as layout.write_argv computes it)."""
    total = table.argc.astype(np.int64)  # each string's bytes and its NUL (column by column: rows are short)
    for i in range(table.length.shape[1]):
        total = total + table.length[:, i]
    argv_off = (L - total - 8 * (table.argc + 1)) & ~15
    if len(table) and int(argv_off.min()) < DATA_BASE + 4096:
        raise CompileError("an argv line does not fit the instance memory")
    return argv_off


def _load_machine(compiled: Compiled, image: _Image, table: ArgvTable, ids: np.ndarray,
                  argc: int, argv_off: int, node: int, max_steps: int, single: bool, wave: int) -> LaneMachine:
    """One machine for instances ``ids`` (global numbers); table row i is instance ids[i]'s argv."""
    L = compiled.lane_size
    n = len(ids)
    base = ids.astype(np.uint64) * _U64(L)
    code = _code(compiled)
    m = LaneMachine(code, L, base, ids.astype(np.uint64), np.full(n, node, dtype=np.uint32), max_steps,
                    block=min(L, 4096) if single else L, pool_width=wave, low=DATA_BASE)
    mem = m.mem
    mem.shadow.update(image.shadow)  # the data image (LaneMemory.preset of every word, in two C-level copies)
    mem.pending.update(image.pending)
    # argv: the pointer array, then the strings (as layout.write_argv lays them out)
    s0 = argv_off + 8 * (argc + 1)
    buf = table.buf
    mem.shadow[argv_off // 8 + argc] = _U64(0)
    if table.stride is not None and n:  # regular: the plan is row 0 and the stride
        plan = [(k, s, st if n > 1 and k else 0)
                for k, s, st in zip(table.row0[1][:argc], table.row0[0][:argc], table.stride[:argc], strict=True)]
    else:
        lens = table.length[:, :argc]
        src = table.start[:, :argc]
        plan = _string_plan(lens, src, n) if n else None
    if plan is not None:
        # every argument has one length in every lane (so one place), its bytes the same in every lane or
        # evenly spaced in the file: argv[i] is one lane-relative pointer, and each byte column is written
        # straight into its lane-memory row (a strided copy of n bytes), no (lanes, bytes) matrix and no
        # transpose
        at = 0
        for i, (k, _first, _step) in enumerate(plan):
            mem.fill(argv_off // 8 + i, Rel(s0 + at))
            at += k + 1
        rows = mem.M[s0 // 8:L // 8]  # zero: a new buffer, or one whose written rows release() cleared
        mem.spans.append((s0 // 8, L // 8))
        rb = rows.view(np.uint8)  # rb[t // 8, 8 * lane + t % 8]: byte s0 + t of each lane
        at = 0
        for k, first, step in plan:
            for c in range(k):
                t = at + c
                dst = rb[t >> 3, t & 7::8]
                if step == 0:
                    dst[...] = buf[first + c]
                else:
                    dst[...] = buf[first + c:first + c + step * (n - 1) + 1:step]
            at += k + 1
        return _registers(m, argc, argv_off)
    lens = lens.astype(np.int64)
    src = src.astype(np.int64)
    starts = np.empty((n, argc), dtype=np.int64)  # column by column: a cumsum along rows of 2 is per-row work
    if argc:
        starts[:, 0] = s0
    for i in range(1, argc):
        np.add(starts[:, i - 1], lens[:, i - 1] + 1, out=starts[:, i])
    for i in range(argc):
        col = starts[:, i]
        if (col == col[0]).all():
            mem.fill(argv_off // 8 + i, Rel(int(col[0])))
        else:
            mem.M[argv_off // 8 + i] = m.base + col.astype(np.uint64)
            mem.rows.add(argv_off // 8 + i)
    width = L - s0
    strings = np.zeros((n, width + (-width) % 8), dtype=np.uint8)
    for i in range(argc):
        li = lens[:, i]
        if not n or not int(li.max()):
            continue
        at = starts[:, i] - s0
        if int(li.min()) == int(li.max()) and int(at.min()) == int(at.max()):  # every lane: same length, same place
            k, a = int(li[0]), int(at[0])
            si = src[:, i]
            strings[:, a:a + k] = buf[si[:, None] + np.arange(k)]
            continue
        r = np.repeat(np.arange(n), li)
        j = np.arange(int(li.sum())) - np.repeat(np.cumsum(li) - li, li)
        strings[r, at[r] + j] = buf[src[r, i] + j]
    words = strings.view("<u8")
    mem.load_rows(s0 // 8, words.T)
    return _registers(m, argc, argv_off)


def _registers(m: LaneMachine, argc: int, argv_off: int) -> LaneMachine:
    m.regs[0] = _U64(argc)
    m.regs[1] = Rel(argv_off)
    m.regs[20] = Rel(0)
    m.regs[21] = Rel((argv_off - 64) & ~15)
    return m


def _string_plan(lens: np.ndarray, src: np.ndarray, n: int) -> list | None:
    """[(length, first source byte, source step)] per argument when every argument has one length in
    every lane (then one place too: the strings follow each other) and its bytes are the same in every
    lane (step 0) or evenly spaced in the buffer (a batch file of equal-length lines); else None."""
    first_row = lens[0]
    if not (lens == first_row).all():
        return None
    plan = []
    for i in range(lens.shape[1]):
        k = int(first_row[i])
        si = src[:, i]
        s_first = int(si[0])
        step = int(si[1]) - s_first if n > 1 and k else 0
        if k and (step < 0 or int(si[-1]) - s_first != step * (n - 1) or (n > 2 and not (np.diff(si) == step).all())):
            return None
        plan.append((k, s_first, step))
    return plan


_CACHE: list = []  # [(compiled, its assembled code, its _Image)]: the last program run (held, so never an id reused)


def _cached(compiled: Compiled) -> tuple[np.ndarray, _Image]:
    """The program's instruction array and data image, made once per program (a batch's machines and
    the next batch of the same program share them)."""
    if _CACHE and _CACHE[0][0] is compiled:
        return _CACHE[0][1], _CACHE[0][2]
    from ..isa import ANY
    from ..runtime.program import assemble
    code = assemble(compiled.code)
    code["node"] = ANY
    made = _Image(compiled)
    _CACHE[:] = [(compiled, code, made)]
    return code, made


def _code(compiled: Compiled) -> np.ndarray:
    return _cached(compiled)[0]


# ------------------------------------------------------------------------------------------ running

_HEAP_KEPT = False


def _keep_heap() -> None:
    """Ask glibc's malloc to keep freed memory for reuse (this process, from the first batch on).

    A lane machine and the output columns allocate and free arrays of 0.25-8 MiB at every instruction;
    with malloc's defaults the freed top of the heap goes back to the kernel and the next array of that
    size page-faults it in again (~50 ns per input of system time at 1M inputs, more than the
    tokeniser). A 32 MiB mmap threshold (glibc's ceiling), a 512 MiB trim threshold and a 64 MiB top pad
    keep those pages. Elsewhere than glibc (no mallopt) nothing changes."""
    global _HEAP_KEPT
    if _HEAP_KEPT:
        return
    _HEAP_KEPT = True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    for param, value in ((-3, 32 << 20), (-1, 512 << 20), (-2, 64 << 20)):  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_TOP_PAD
        mallopt(param, value)


def run_batch(compiled: Compiled, argvs: list[list[bytes]] | ArgvTable, nodes: int = 1, backend: str = "inline",
              max_steps: int = 1 << 31, wave: int = DEFAULT_WAVE) -> BatchOutcome:
    """Run main once per argv (a list per instance, or an ArgvTable) on the lane executor: 'inline' in
    this process (``nodes`` then only names the run); 'local': the instances cut into ``nodes``
    contiguous blocks, each node a worker process running its block's lanes (so one node is one worker
    too, and 1 -> 2 nodes compares like with like)."""
    if len(compiled.units) != 1:
        raise CompileError("a batch runs one program")
    _keep_heap()
    t0 = time.perf_counter()
    if not isinstance(argvs, ArgvTable):
        argvs = ArgvTable.from_lists(argvs)
    n = len(argvs)
    try:
        if backend == "local" and n > 1:
            parts = _run_nodes(compiled, argvs, nodes, max_steps, wave)
        else:
            parts = [_run_part(compiled, argvs, np.arange(n), 0, max_steps, wave, n == 1)]
    except MemoryError:
        raise BackendError(f"not enough memory for {min(n, wave)} lanes of {compiled.lane_size} bytes; "
                           "use a smaller --lane-memory when compiling") from None
    c0 = time.process_time()
    out = _merge(parts, n)
    out.cpu = {k: sum(p["cpu"][k] for p in parts) for k in ("load", "run", "render")}
    out.cpu["merge"] = time.process_time() - c0
    out.seconds = time.perf_counter() - t0
    return out


def _run_part(compiled: Compiled, argvs: ArgvTable, ids: np.ndarray, node: int, max_steps: int,
              wave: int, single: bool) -> dict:
    """Instances ``ids`` (global numbers, a contiguous range; table row i is instance ids[i]'s): their
    rendered output in machine chunks, status, faults and steps."""
    if len(ids) and int(ids[-1]) - int(ids[0]) + 1 != len(ids):
        raise ValueError("a part's instances are a contiguous range")
    L = compiled.lane_size
    wave = max(1, min(wave, MACHINE_ADDRESS_SPACE // L))
    image = _cached(compiled)[1]
    n = len(argvs)
    if n and (argvs.stride is not None
              or ((argvs.argc == argvs.argc[0]).all() and (argvs.length == argvs.length[0]).all())):
        # every argv of one shape (a file of equal-length lines): one layout, from the first row
        argc = np.broadcast_to(np.int64(argvs.argc[0]), (n,))
        argv_off = np.broadcast_to(_layout(argvs.take(slice(0, 1)), L)[0], (n,))
        key = None
    else:
        argc = argvs.argc.astype(np.int64)
        argv_off = _layout(argvs, L)
        key = argc * (1 << 40) + argv_off
    if key is None or (len(key) and int(key.min()) == int(key.max())):
        groups = [np.arange(n)]  # one layout: no sort
    else:
        order = np.argsort(key, kind="stable")
        ks = key[order]
        groups = np.split(order, np.flatnonzero(ks[1:] != ks[:-1]) + 1)
    status = np.zeros(len(ids), dtype=np.int16)
    faults: dict[int, str] = {}
    blobs, lens_all, which = [], np.zeros(len(ids), dtype=np.int32), []
    steps = machines = 0
    cpu = {"load": 0.0, "run": 0.0, "render": 0.0}
    for grp in groups:
        for lo in range(0, len(grp), wave):
            local = grp[lo:lo + wave]
            gids = ids[local]
            first, last = int(local[0]), int(local[-1])
            if last - first + 1 == len(local) and (len(local) < 3 or (np.diff(local) == 1).all()):
                sub_range = slice(first, last + 1)
                sub = argvs.take(sub_range)  # consecutive instances: views
            else:
                sub_range = None
                sub = argvs.take(local)
            c0 = time.process_time()
            m = _load_machine(compiled, image, sub, gids, int(argc[local[0]]),
                              int(argv_off[local[0]]), node, max_steps, single, wave)
            c1 = time.process_time()
            res = m.run(compiled.units[0].stub)
            c2 = time.process_time()
            steps += res.total_steps
            machines += 1
            blob, out_lens = render_lanes(res, len(local), gids)
            c3 = time.process_time()
            cpu["load"] += c1 - c0
            cpu["run"] += c2 - c1
            cpu["render"] += c3 - c2
            blobs.append(blob)
            at = local if sub_range is None else sub_range  # a slice where the instances are consecutive
            lens_all[at] = out_lens
            which.append(slice(first, last + 1) if isinstance(sub_range, slice) else local)  # small to pickle
            st = res.status
            ok = st == Status.HALTED
            all_ok = bool(ok.all())
            code = (res.detail & _U64(0xFF)).astype(np.int16)
            status[at] = code if all_ok else np.where(ok, code, np.int16(-1))
            for r in ([] if all_ok else np.flatnonzero(~ok).tolist()):
                faults[int(gids[r])] = _fault_text(compiled, int(st[r]), int(res.detail[r]), int(gids[r]) * L,
                                                   int(res.last_pc[r]))
    return {"ids": ids, "blobs": blobs, "which": which, "lens": lens_all, "status": status, "faults": faults,
            "steps": steps, "machines": machines, "cpu": cpu}


def _merge(parts: list[dict], n: int) -> BatchOutcome:
    """Outputs back in input order: one gather over the concatenated machine outputs."""
    status = np.empty(n, dtype=np.int16)
    lens = np.empty(n, dtype=np.int64)
    chunks = []
    pos = 0
    faults: dict[int, str] = {}
    steps = machines = 0
    for part in parts:
        ids = part["ids"]  # a contiguous range of instances (what run_batch and _run_nodes hand out)
        lo = int(ids[0]) if len(ids) else 0
        status[lo:lo + len(ids)] = part["status"]
        lens[lo:lo + len(ids)] = part["lens"]
        chunks.extend(part["blobs"])
        faults.update(part["faults"])
        steps += part["steps"]
        machines += part["machines"]
    ends = np.cumsum(lens)
    runs = []  # (first instance, count, chunk index) of machines that ran consecutive instances
    k = 0
    for part in parts:
        for local in part["which"]:
            if isinstance(local, slice):
                gl = part["ids"][local]
                if len(gl) and int(gl[-1]) - int(gl[0]) + 1 == len(gl):
                    runs.append((int(gl[0]), len(gl), k))
                k += 1
                continue
            gl = part["ids"][local]
            if len(gl) and int(gl[-1]) - int(gl[0]) + 1 == len(gl) and (len(gl) < 3 or (np.diff(gl) == 1).all()):
                runs.append((int(gl[0]), len(gl), k))
            k += 1
    runs.sort()
    if len(runs) == len(chunks) and all(a[0] + a[1] == b[0] for a, b in zip(runs, runs[1:], strict=False)):
        # machines (on any node) ran consecutive blocks of instances: their outputs follow each other
        return BatchOutcome(b"".join(chunks[i] for _f, _c, i in runs), ends, status, dict(sorted(faults.items())),
                            steps, machines)
    src_start = np.zeros(n, dtype=np.int64)
    for part in parts:  # where each instance's output starts in the concatenated machine outputs
        for blob, local in zip(part["blobs"], part["which"], strict=True):
            gl = part["ids"][local]
            if isinstance(local, slice):
                local = np.arange(local.start, local.stop)
            ln = part["lens"][local]
            src_start[gl] = pos + np.concatenate([[0], np.cumsum(ln)[:-1]]).astype(np.int64)
            pos += len(blob)
    src = np.frombuffer(b"".join(chunks), dtype=np.uint8)
    total = int(ends[-1]) if n else 0
    if total == 0:
        stdout = b""
    else:
        starts = ends - lens
        idx = np.repeat(src_start - starts, lens) + np.arange(total)
        stdout = src[idx].tobytes()
    return BatchOutcome(stdout, ends, status, dict(sorted(faults.items())), steps, machines)


def _run_nodes(compiled: Compiled, argvs, nodes: int, max_steps: int, wave: int) -> list[dict]:
    """One worker process per node; node j holds the j-th of ``nodes`` contiguous blocks of instances
    (so each node's outputs come back as one piece in input order)."""
    pfx = to_bytes(compiled)
    n = len(argvs)
    bounds = [n * j // nodes for j in range(nodes + 1)]
    jobs = [(pfx, argvs.take(slice(lo, hi)).compact(), np.arange(lo, hi), j, max_steps, wave)
            for j, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)) if hi > lo]
    return _workers(len(jobs)).map(_node_worker, jobs)


_POOL: list = []  # [(size, pool)]: node workers kept between batches (their lane memory stays mapped)


def _workers(size: int):
    """The node worker pool (forkserver: never a fork of a process that holds threads or sockets; the
    fork server imports numpy and the executor once, workers fork from it)."""
    if _POOL and _POOL[0][0] >= size:  # a bigger pool serves fewer nodes (idle workers wait)
        return _POOL[0][1]
    close_workers()
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    pool = ctx.Pool(size)
    _POOL.append((size, pool))
    return pool


def close_workers() -> None:
    """Stop the node worker processes (also done at exit)."""
    while _POOL:
        _size, pool = _POOL.pop()
        pool.terminate()
        pool.join()


atexit.register(close_workers)


def _node_worker(args) -> dict:
    pfx, argvs, ids, node, max_steps, wave = args
    _keep_heap()
    from .codegen import from_bytes
    return _run_part(from_bytes(pfx), argvs, ids, node, max_steps, wave, False)


# ------------------------------------------------------------------------------------------ output

def render_lanes(res, n: int, gids: np.ndarray) -> tuple[bytes, np.ndarray]:
    """(all lanes' stdout concatenated in lane order, each lane's length)."""
    events = res.events
    if all(len(ev[0]) == n for ev in events):
        try:
            got = _render_columns(events, n)
        except (OutputError, _NotColumnar):
            got = None
        if got is not None:
            return got
    emits = res.emits(np.arange(n, dtype=np.uint64), np.zeros(n, dtype=np.uint32)) if events else None
    outs = []
    if emits is None or not len(emits):
        return b"", np.zeros(n, dtype=np.int64)
    lanes = emits["computation_id"]
    bounds = np.searchsorted(lanes, np.arange(n + 1, dtype=np.uint64))
    tags = emits["tag"].tolist()
    values = emits["value"].tolist()
    for k in range(n):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        outs.append(render(zip(tags[lo:hi], values[lo:hi], strict=True)))
    return b"".join(outs), np.fromiter((len(o) for o in outs), dtype=np.int64, count=n)


NUL_PADDED = "NUL-padded"  # a column piece whose dropped characters are exactly its NUL bytes


@dataclass
class _Decimal:
    """A decimal column not yet formatted: _join_columns writes it straight into the joined output."""

    values: np.ndarray
    bits: int
    signed: bool

    def piece(self) -> tuple:
        chars, lens = _decimal(self.values, self.bits, self.signed)
        return chars, NUL_PADDED, lens


class _NotColumnar(Exception):
    pass


def _render_columns(events, n: int):
    pieces: list = []  # bytes (the same in every lane) or (chars (n, w) uint8, keep (n, w) bool, None: all, or
    #                    NUL_PADDED: the non-NUL bytes, lengths (n,) or None: w)
    const = bytearray()
    spec = bytearray()
    args: list = []
    text = bytearray()

    def flush():
        if const:
            pieces.append(bytes(const))
            const.clear()

    for _lanes, _seq, tag, _width, v in events:
        vec = isinstance(v, np.ndarray)
        if vec and v.ndim != 1:
            raise _NotColumnar
        if tag == TAG_CHAR:
            if vec:
                flush()
                pieces.append(((v & _U64(0xFF)).astype(np.uint8)[:, None], None, None))
            else:
                const.append(int(v) & 0xFF)
        elif tag == TAG_SPEC:
            if vec:
                raise _NotColumnar
            spec.append(int(v) & 0xFF)
        elif tag == TAG_ARG:
            args.append(v)
        elif tag == TAG_STR:
            if vec:
                raise _NotColumnar
            text.append(int(v) & 0xFF)
        elif tag == TAG_END:
            conv = bytes(spec)
            if not any(isinstance(a, np.ndarray) for a in args):
                it = iter([int(a) for a in args])
                t = bytes(text)
                try:
                    const.extend(format_c(conv, lambda it=it: next(it), lambda _addr, lim, t=t: t if lim is None else t[:lim]))
                except StopIteration as e:
                    raise OutputError(f"printf spec {conv!r} arrived without its arguments") from e
            else:
                flush()
                pieces.extend(_format_columns(conv, args, bytes(text), n))
            spec.clear()
            args.clear()
            text.clear()
        else:
            raise OutputError(f"unknown output tag {tag}")
    flush()
    if not pieces:
        return b"", np.zeros(n, dtype=np.int64)
    if len(pieces) == 1 and isinstance(pieces[0], bytes):
        return pieces[0] * n, np.full(n, len(pieces[0]), dtype=np.int64)
    return _join_columns(pieces, n)


def _join_columns(pieces: list, n: int) -> tuple[bytes, np.ndarray]:
    """Lane k's output is its kept characters of every piece, in order: the pieces side by side as one
    (lanes, width) matrix. When the only dropped characters are NUL padding (decimal columns) and no kept
    one is NUL, the output is that matrix's bytes with the NULs deleted (bytes.translate, one C pass);
    otherwise one boolean selection of it in row-major order."""
    if all(isinstance(p, _Decimal) or (isinstance(p, bytes) and b"\0" not in p) for p in pieces):
        return _join_aligned(pieces, n)
    pieces = [p.piece() if isinstance(p, _Decimal) else p for p in pieces]
    mats, keeps = [], []
    lens = np.zeros(n, dtype=np.int64)
    nul_free = True  # no kept character is a NUL byte
    for p in pieces:
        if isinstance(p, bytes):
            mats.append(np.broadcast_to(np.frombuffer(p, dtype=np.uint8), (n, len(p))))
            keeps.append(None)
            lens += len(p)
            nul_free = nul_free and b"\0" not in p
        else:
            mats.append(p[0])
            keeps.append(p[1])
            lens += p[0].shape[1] if p[2] is None else p[2]
            nul_free = nul_free and p[1] is NUL_PADDED
    chars = np.concatenate(mats, axis=1) if len(mats) > 1 else mats[0]
    if all(k is None for k in keeps):
        return chars.tobytes(), lens
    if nul_free:
        return chars.tobytes().translate(None, b"\0"), lens
    keep = np.concatenate([np.ones(m.shape, dtype=bool) if k is None else (m != 0) if k is NUL_PADDED else k
                           for m, k in zip(mats, keeps, strict=True)], axis=1)
    return chars[keep].tobytes(), lens


def _join_aligned(pieces: list, n: int) -> tuple[bytes, np.ndarray]:
    """Constant text without NUL bytes and decimal columns: one (lanes, words) uint32 matrix, each piece in
    whole 4-byte words (text padded with NULs), decimals formatted straight into their columns; the
    output is its bytes with the NULs deleted."""
    spans, width = [], 0
    for p in pieces:
        w = decimal_words(p.bits, p.signed) if isinstance(p, _Decimal) else (len(p) + 3) // 4
        spans.append((width, width + w))
        width += w
    out = np.empty((n, width), dtype=np.uint32)
    lens = np.zeros(n, dtype=np.int64)
    for p, (lo, hi) in zip(pieces, spans, strict=True):
        if isinstance(p, _Decimal):
            lens += _decimal(p.values, p.bits, p.signed, out=out[:, lo:hi])[1]
        else:
            out[:, lo:hi] = np.frombuffer(p.ljust(4 * (hi - lo), b"\0"), dtype=np.uint32)
            lens += len(p)
    return out.tobytes().translate(None, b"\0"), lens


def _format_columns(conv: bytes, args: list, text: bytes, n: int) -> list:
    """printf(conv, args) where some args differ per lane: integer conversions without flags, width or
    precision as digit columns; any other spec formatted lane by lane with format_c."""
    pieces: list = []
    pos = 0
    ai = 0
    simple = True
    plan = []
    while True:
        i = conv.find(b"%", pos)
        if i < 0:
            plan.append(conv[pos:])
            break
        plan.append(conv[pos:i])
        m = _SPEC.match(conv, i)
        if m is None:
            plan.append(conv[i:i + 1])
            pos = i + 1
            continue
        pos = m.end()
        flags, width, prec, length, c = m.groups()
        if c == b"%":
            plan.append(b"%")
            continue
        if flags or width or prec is not None or c not in b"diu" or ai >= len(args):
            simple = False
            break
        plan.append((c, (length or b"").decode(), ai))
        ai += 1
    if simple and ai == len(args):
        for item in plan:
            if isinstance(item, bytes):
                if item:
                    pieces.append(item)
                continue
            c, length, k = item
            bits = {"hh": 8, "h": 16, "": 32}.get(length, 64)
            v = args[k]
            v = v if isinstance(v, np.ndarray) else np.full(n, v, dtype=np.uint64)
            pieces.append(_Decimal(v, bits, c in b"di"))
        return pieces
    # lane by lane
    outs = []
    cols = [a if isinstance(a, np.ndarray) else np.full(n, a, dtype=np.uint64) for a in args]
    rows = np.stack(cols, axis=1).tolist() if cols else [[]] * n
    for k in range(n):
        it = iter(rows[k])
        try:
            outs.append(format_c(conv, lambda it=it: next(it), lambda _addr, lim: text if lim is None else text[:lim]))
        except StopIteration as e:
            raise OutputError(f"printf spec {conv!r} arrived without its arguments") from e
    w = max((len(o) for o in outs), default=0)
    chars = np.zeros((n, max(w, 1)), dtype=np.uint8)
    keep = np.zeros((n, max(w, 1)), dtype=bool)
    for k, o in enumerate(outs):
        chars[k, :len(o)] = np.frombuffer(o, dtype=np.uint8)
        keep[k, :len(o)] = True
    return [(chars, keep, np.fromiter(map(len, outs), dtype=np.int64, count=n))]


_10K = _U64(10_000)


def _digit_table() -> np.ndarray:
    """Three tables of 10,000 four-byte words, indexed by a group's value + 10,000 * kind: kind 0, all four
    digits ('0042'); kind 1, a top group (leading zeros are NUL bytes; 0 is four NULs); kind 2, the lowest
    group of a number below 10,000 (as kind 1, but 0 is '\\0\\0\\00')."""
    full = "".join(f"{k:04d}" for k in range(10_000)).encode()
    top = b"".join(f"{k:d}".encode().rjust(4, b"\0") if k else b"\0" * 4 for k in range(10_000))
    low = b"\0\0\0" + b"0" + top[4:]
    return np.frombuffer(full + top + low, dtype=np.uint32)


_DIGITS4 = _digit_table()
_POWERS = [_U64(10**k) for k in range(20)]
DECIMAL_WIDTH = 24  # bytes per lane: a sign slot (4 bytes) and five groups of four digits


def _groups(bits: int) -> int:
    return 5 if bits > 32 else 3 if bits > 16 else 2  # 2**64 has 20 digits, 2**32 10, 2**16 5


def decimal_words(bits: int, signed: bool) -> int:
    """4-byte words per lane of a decimal column: a sign word when signed, one per group of four digits."""
    return _groups(bits) + (1 if signed else 0)


def _decimal(v: np.ndarray, bits: int, signed: bool, out: np.ndarray | None = None):
    """Decimal text of each value read as a bits-wide (signed) integer, as a NUL-padded column:
    (chars (n, 4 * decimal_words) uint8, lengths); lane k's text is chars[k] without its NUL bytes (when
    signed, a '-' or NUL in byte 0; then the digits right-aligned after NUL bytes). ``out``: the
    (n, decimal_words) uint32 array to write (e.g. columns of the joined output).

    Groups of four digits by floor division by the constant 10,000 (numpy divides uint64 by a scalar with
    libdivide; its divmod and remainder do not, and are ~30 times slower), each group one 4-byte word
    from a table, the table chosen by whether the group is the number's top one (its quotient is 0), so
    leading zeros come out as NUL bytes with no per-lane mask."""
    groups = _groups(bits)
    xm = v if bits >= 64 else v & _U64((1 << bits) - 1)
    n = len(xm)
    words = np.empty((n, decimal_words(bits, signed)), dtype=np.uint32) if out is None else out
    shift = 1 if signed else 0  # digit group j is word j - 1 + shift
    if signed:
        words[:, 0] = 0
    x = xm
    neg = None
    if signed and n:
        neg = (xm >> _U64(bits - 1)).view(np.int64)  # 0 or 1
        if neg.any():
            mag = _U64(0) - xm  # two's complement: the magnitude in the low bits (2**(bits-1) for the minimum)
            if bits < 64:
                mag &= _U64((1 << bits) - 1)
            x = np.where(neg.astype(bool), mag, xm)
            words.view(np.uint8)[:, 0] = neg.astype(np.uint8) * np.uint8(45)  # '-'
        else:
            neg = None
    low = int(x.min()) if n else 0
    # every temporary allocated once (fresh arrays of this size cost page faults that outweigh the arithmetic)
    qa, qb, idx = np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64)
    flag = np.empty(n, dtype=bool)
    q = x
    for j in range(groups, 0, -1):
        q2 = qa if q is not qa else qb
        np.floor_divide(q, _10K, out=q2)
        np.multiply(q2, _10K, out=idx)
        np.subtract(q, idx, out=idx)  # the group's value
        if low < 10 ** (4 * (groups + 1 - j)):  # some lane's number has no digits above this group
            np.equal(q2, _U64(0), out=flag)
            np.add(idx, _U64(20_000 if j == groups else 10_000), out=idx, where=flag)
        np.take(_DIGITS4, idx.view(np.int64), out=words[:, j - 1 + shift], mode="clip")  # indices < 30,000 by construction
        q = q2
    # digits: 1, plus one for each power of ten a lane's number reaches (the powers every lane reaches,
    # those at or below the smallest number, counted once for all lanes)
    ndig = np.full(n, 1 + sum(1 for p in range(1, 20) if low >= 10**p), dtype=np.int64)
    for p in range(1, 20):
        if low < 10**p < (1 << bits):
            np.greater_equal(x, _POWERS[p], out=flag)
            ndig += flag
    if neg is not None:
        ndig += neg
    return words.view(np.uint8), ndig
