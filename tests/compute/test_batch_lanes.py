"""The lane executor (runtime/lanes.py) and `--batch` on it (compiler/batch.py), checked against the
packet executor (every lane's stdout, exit status and fault; for random instruction programs every final
slot and emit) and against gcc (the differential fuzz generator's programs, all different, as lanes of one
batch that diverge from the first instruction)."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.compute import IMM, Instruction, Op, Program, run_program
from packetfs.compute.compiler import cli as ccli
from packetfs.compute.compiler.batch import (
    NUL_PADDED,
    ArgvTable,
    _Decimal,
    _decimal,
    _join_columns,
    run_batch,
)
from packetfs.compute.compiler.driver import compile_source
from packetfs.compute.compiler.execute import BATCH_LANE, BATCH_STACK, build, run
from packetfs.compute.compiler.printf import format_c
from packetfs.compute.runtime.lanes import LaneMachine, Rel

sys.path.insert(0, str(Path(__file__).parent / "compiler"))
import ccgen  # noqa: E402

I = Instruction  # noqa: E741


def _scalar(compiled, argvs, max_steps=5_000_000):
    outs, _ = run(compiled, argvs, placement="any", max_steps=max_steps)
    return outs


def _same(compiled, argvs, max_steps=5_000_000, nodes=1, backend="inline"):
    """run_batch and the packet executor agree on every lane; returns the batch outcome."""
    got = run_batch(compiled, argvs, nodes=nodes, backend=backend, max_steps=max_steps)
    want = _scalar(compiled, argvs, max_steps)
    for k, o in enumerate(want):
        assert got.output(k) == o.stdout, (k, argvs[k], got.output(k), o.stdout)
        assert got.faults.get(k) == o.fault, (k, argvs[k], got.faults.get(k), o.fault)
        if o.fault is None:
            assert int(got.status[k]) == o.status, (k, argvs[k])
    assert got.stdout == b"".join(o.stdout for o in want)
    return got


def _build(src: str):
    return build(compile_source(src, "t.c"), lane_size=BATCH_LANE, stack_size=BATCH_STACK)


DIVERGENT_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct P { int x; long y; char tag[6]; };
static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
static unsigned collatz(unsigned long n) { unsigned s = 0; while (n != 1) { n = n % 2 ? 3 * n + 1 : n / 2; s++; } return s; }
static double avg(const int *v, int n) { double s = 0; for (int i = 0; i < n; i++) s += v[i]; return n ? s / n : 0.0; }
int main(int argc, char **argv) {
    if (argc < 2) { puts("no args"); return 3; }
    int n = atoi(argv[1]);
    int *v = malloc(sizeof(int) * (n > 0 ? n : 1));
    for (int i = 0; i < n; i++) v[i] = (i * 7919 + n) % 101 - 50;
    struct P p = { n, (long)n * -123456789L, "ab" };
    if (argc > 2) strncpy(p.tag, argv[2], 5);
    switch (n % 5) {
    case 0: printf("fib %d = %d\n", n % 20, fib(n % 20)); break;
    case 1: printf("collatz %lu: %u\n", (unsigned long)n, collatz(n + 1));
    case 2: printf("fall %x %5d|%-4s|%c\n", n, -n, p.tag, 'a' + n % 26); break;
    case 3: printf("avg %.3f %ld\n", avg(v, n), p.y); break;
    default: if (n == 9) abort(); if (n == 14) exit(n); printf("%d/%d=%d\n", 1000, n - 4, 1000 / (n - 4));
    }
    for (int i = 0; i < n % 4; i++) putchar('0' + i);
    if (n % 4) putchar('\n');
    free(v);
    return n % 7;
}
"""


def test_divergent_batch_matches_the_packet_executor():
    """Every lane takes its own path: recursion depth, loop counts, switch fall-through, floats, malloc,
    abort, exit, division by zero (n == 4), argv of different lengths (several lane machines)."""
    compiled = _build(DIVERGENT_C)
    argvs = [[b"t", str(n).encode()] + ([b"xyz" * (n % 3)] if n % 2 else []) for n in range(0, 30)]
    argvs.append([b"t"])
    got = _same(compiled, argvs)
    assert got.machines > 1
    assert "abort" in got.faults[9] or "trap" in got.faults[9]
    assert got.faults[4].startswith("div by zero")
    assert int(got.status[14]) == 14


def test_lockstep_batch_and_nodes():
    """The benchmark's kind of batch (every lane the same path), on one node and split over two worker
    processes (local backend): the same bytes, and the mixer's values equal a Python recomputation."""
    src = r"""#include <stdio.h>
static unsigned long mix(unsigned long x) { for (int r = 0; r < 3; r++) { x ^= x >> 33; x *= 0xff51afd7ed558ccdUL; } return x; }
int main(int argc, char **argv) { unsigned long x = 0; for (const char *p = argv[1]; *p; p++) x = x * 10 + (unsigned long)(*p - '0');
  printf("%lu %d\n", mix(x), (int)(x % 1000) - 500); return 0; }"""
    compiled = _build(src)
    xs = [10**11 + k * 7919 for k in range(300)]
    argvs = [[b"b", str(x).encode()] for x in xs]
    one = _same(compiled, argvs)

    def mix(x):
        for _ in range(3):
            x ^= x >> 33
            x = (x * 0xFF51AFD7ED558CCD) & (2**64 - 1)
        return x

    assert one.stdout == "".join(f"{mix(x)} {x % 1000 - 500}\n" for x in xs).encode()
    from packetfs.compute.compiler.batch import close_workers

    try:
        two = run_batch(compiled, argvs, nodes=2, backend="local")
        assert two.stdout == one.stdout and (two.status == one.status).all()
        again = run_batch(compiled, argvs[:7], nodes=2, backend="local")  # the same workers, another batch
        assert again.stdout == b"".join(one.output(k) for k in range(7))
        # a batch file of equal-length lines: a regular table, sent to the workers as row 0 and the stride
        table = ArgvTable.from_text(b"".join(a[1] + b"\n" for a in argvs), b"b")
        assert table.stride is not None
        regular = run_batch(compiled, table, nodes=2, backend="local")
        assert regular.stdout == one.stdout and (regular.status == one.status).all()
        assert run_batch(compiled, table, wave=64).stdout == one.stdout  # several machines inline
    finally:
        close_workers()


def test_step_limit_and_stack_overflow_per_lane():
    src = r"""#include <stdio.h>
#include <stdlib.h>
static int deep(int n) { volatile char pad[512]; pad[0] = (char)n; return n ? deep(n - 1) + pad[0] : 0; }
int main(int argc, char **argv) { int n = atoi(argv[1]); if (n < 0) for (;;) ; printf("%d\n", deep(n)); return 0; }"""
    compiled = _build(src)
    argvs = [[b"t", b"3"], [b"t", b"-1"], [b"t", b"100000"], [b"t", b"20"]]
    got = _same(compiled, argvs, max_steps=200_000)
    assert got.faults[1].startswith("step limit")
    assert got.faults[2] == "stack overflow"
    assert got.output(3) == b"210\n"


@pytest.mark.parametrize("chunk", range(2))
def test_fuzz_programs_as_one_diverging_batch(gcc, chunk, tmp_path):
    """40 random programs of the compiler's differential fuzz generator in one C file: lane k runs program
    k % 40 (a switch on argv[1], so lanes split at once and meet again at the end); each lane's output
    equals gcc's binary's and the packet executor's."""
    seeds = list(range(70_000 + chunk * 40, 70_000 + (chunk + 1) * 40))
    source = ccgen.combined(seeds)
    (tmp_path / "c.c").write_text(source)
    subprocess.run([gcc, "-O0", "-w", "-o", str(tmp_path / "c"), str(tmp_path / "c.c")], check=True)
    compiled = build(compile_source(source, "combined.c"), lane_size=BATCH_LANE, stack_size=BATCH_STACK)
    argvs = [[b"c", str(k % len(seeds)).encode()] for k in range(2 * len(seeds))]
    got = _same(compiled, argvs)
    for k, argv in enumerate(argvs):
        p = subprocess.run([str(tmp_path / "c"), argv[1].decode()], capture_output=True, timeout=60)
        assert got.output(k) == p.stdout and int(got.status[k]) == p.returncode, (k, argv)


@pytest.fixture(scope="module")
def gcc():
    path = shutil.which("gcc")
    if path is None:
        pytest.skip("gcc is not installed: the batch programs are checked against gcc")
    return path


# ------------------------------------------------------------------ instruction level, against executor.py

INT_OPS = [Op.ADD, Op.SUB, Op.MUL, Op.DIVU, Op.DIVS, Op.MODU, Op.MODS, Op.AND, Op.OR, Op.XOR, Op.SHL, Op.SHR,
           Op.SAR, Op.EQ, Op.NE, Op.LTU, Op.LEU, Op.GTU, Op.GEU, Op.LTS, Op.LES, Op.GTS, Op.GES,
           Op.FADD, Op.FSUB, Op.FMUL, Op.FDIV, Op.FMIN, Op.FMAX, Op.FLT]
UN_OPS = [Op.MOV, Op.NOT, Op.NEG, Op.I2F, Op.U2F, Op.F2I, Op.FSQRT]
LANE = 1 << 12
IMMS = [0, 1, 7, 63, 64, 255, 2**31, 2**63, 2**64 - 1, 0x3FF0000000000000, 2**32 + 5]


def _random_lane_program(seed: int):
    """Straight-line and forward-branching code over slots 0..11 (uniform, lane-relative and per-lane
    values), memory through s20 (the lane base) at aligned and unaligned offsets, EMIT and HALT."""
    rng = np.random.default_rng(seed)

    def slot():
        return int(rng.integers(0, 12))

    def opnd():
        return IMM if rng.random() < 0.25 else slot()

    code = []
    length = int(rng.integers(5, 60))
    for pc in range(length):
        r = rng.random()
        w = int(rng.choice([1, 2, 4, 8]))
        sg = bool(rng.random() < 0.4)
        imm = IMMS[int(rng.integers(len(IMMS)))] if rng.random() < 0.6 else int(rng.integers(0, 2**63))
        if r < 0.45:
            code.append(I(int(rng.choice(INT_OPS)), dst=slot(), a=opnd(), b=opnd(), imm=imm, width=w, signed=sg))
        elif r < 0.6:
            code.append(I(int(rng.choice(UN_OPS)), dst=slot(), a=opnd(), imm=imm, width=w, signed=sg))
        elif r < 0.72:
            off = int(rng.integers(0, 64)) * (8 if rng.random() < 0.5 else 1)
            base = 20 if rng.random() < 0.8 else 12  # s12: a per-lane address inside the lane
            code.append(I(Op.LOAD, dst=int(rng.integers(0, 11)), a=base, imm=off, width=w, signed=sg,
                          count=int(rng.integers(1, 3))))  # never over s12 (the address stays in the lane)
        elif r < 0.84:
            off = int(rng.integers(0, 64)) * (8 if rng.random() < 0.5 else 1)
            base = 20 if rng.random() < 0.8 else 12
            code.append(I(Op.STORE, a=base, b=slot(), imm=off, width=w, count=int(rng.integers(1, 3))))
        elif r < 0.92 and pc + 2 < length:
            code.append(I(Op.BR, a=slot(), width=w, alt=int(rng.integers(pc + 1, length))))
        else:
            code.append(I(Op.EMIT, dst=int(rng.integers(0, 5)), a=opnd(), imm=imm, width=w))
    code.append(I(Op.HALT, a=slot()))
    n = int(rng.integers(1, 40))
    kinds = rng.integers(0, 3, size=12)  # 0 uniform, 1 lane-relative, 2 per lane
    vals = []
    for s in range(12):
        if kinds[s] == 0:
            vals.append(("u", IMMS[int(rng.integers(len(IMMS)))] if rng.random() < 0.7 else int(rng.integers(0, 2**63))))
        elif kinds[s] == 1:
            vals.append(("r", int(rng.integers(0, 256))))
        else:
            vals.append(("v", rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64) * np.uint64(2)
                         + rng.integers(0, 2, size=n).astype(np.uint64)))
    vals[2] = ("v", rng.integers(0, 2, size=n).astype(np.uint64))  # a branchy per-lane flag
    addr = rng.integers(0, 512, size=n).astype(np.uint64)
    image = rng.integers(0, 256, size=n * LANE, dtype=np.uint8)
    return code, n, vals, addr, image


# values at the edges of every width, signed and unsigned (as uint64): where an extension changes a value
EDGES = [0, 1, 2, 0x7E, 0x7F, 0x80, 0x81, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
         0xFFFFFFFF, 2**32, 2**63 - 1, 2**63, 2**64 - 1, 2**64 - 0x80, 2**64 - 0x81, 2**64 - 0x8000, 2**64 - 2**31]
RANGE_OPS = [Op.ADD, Op.SUB, Op.MUL, Op.AND, Op.OR, Op.XOR, Op.SHR, Op.SAR, Op.SHL, Op.LTS, Op.GES, Op.LTU,
             Op.EQ]


def _ranged_lane_program(seed: int):
    """Chains of narrow loads (bytes at the edges of every width) and +, -, *, &, |, ^, shifts and
    compares at every width with immediates at the edges: the values whose ranges the lane executor
    tracks to skip extensions, with the lanes that leave a width's range and the ones that stay in it."""
    code, n, vals, addr, image = _random_lane_program(seed)
    rng = np.random.default_rng(seed ^ 0x5A5A)
    code = []
    length = int(rng.integers(8, 50))
    recent = [3, 4]  # slots written last: operands are mostly these, so values flow through chains
    w, sg = 1, True
    for pc in range(length):
        r = rng.random()
        if rng.random() < 0.4:  # mostly the width and sign of the instruction before
            w, sg = int(rng.choice([1, 2, 4, 8])), bool(rng.random() < 0.5)
        dst = int(rng.integers(0, 12)) if rng.random() < 0.3 else int(rng.choice([0, 1, 3, 4, 5]))

        def src():
            return recent[-1 - int(rng.integers(0, 2))] if rng.random() < 0.7 else int(rng.integers(0, 12))

        if r < 0.3:
            code.append(I(Op.LOAD, dst=dst, a=20 if rng.random() < 0.8 else 12, imm=int(rng.integers(0, 64)),
                          width=w, signed=sg))
        elif r < 0.85:
            b = IMM if rng.random() < 0.6 else src()
            code.append(I(int(rng.choice(RANGE_OPS)), dst=dst, a=src(), b=b, width=w, signed=sg,
                          imm=EDGES[int(rng.integers(len(EDGES)))]))
        elif r < 0.93:
            code.append(I(Op.MOV, dst=dst, a=src(), width=w, signed=sg))
        elif pc + 2 < length:
            code.append(I(Op.BR, a=src(), width=w, alt=int(rng.integers(pc + 1, length))))
            continue
        else:
            code.append(I(Op.EMIT, dst=0, a=src(), width=w))
            continue
        recent.append(dst)
    code.append(I(Op.HALT, a=src()))
    edge_bytes = np.array([0, 1, 0x7F, 0x80, 0x81, 0xFF, 0xFE], dtype=np.uint8)
    image = np.where(rng.random(len(image)) < 0.7, edge_bytes[rng.integers(0, len(edge_bytes), len(image))], image)
    vals[3] = ("v", np.array(EDGES, dtype=np.uint64)[rng.integers(0, len(EDGES), n)])
    return code, n, vals, addr, image.astype(np.uint8)


UNIFORM_OPS = [Op.ADD, Op.SUB, Op.MUL, Op.AND, Op.OR, Op.XOR, Op.SHL, Op.SHR, Op.EQ, Op.NE, Op.LTU, Op.LEU,
               Op.GTU, Op.GEU, Op.LTS, Op.LES, Op.GTS, Op.GES, Op.MOV]


def _uniform_lane_program(seed: int):
    """Lanes that stay together: every slot uniform or lane-relative (frame pointers, counters), stores
    of them to lane-relative addresses and loads back, compares and branches on them, arithmetic on
    lane-relative values (pointer differences, offsets): the steps the converged fast handlers
    (runtime/lanes_fast.py) take instead of step()."""
    _code, n, vals, addr, image = _random_lane_program(seed)
    rng = np.random.default_rng(seed ^ 0xA5A5)
    length = int(rng.integers(8, 60))
    code, stored = [], [0]

    def slot():
        return int(rng.integers(0, 12))

    for pc in range(length):
        r = rng.random()
        w = int(rng.choice([1, 2, 4, 8, 8, 8]))
        sg = bool(rng.random() < 0.4)
        imm = EDGES[int(rng.integers(len(EDGES)))] if rng.random() < 0.5 else int(rng.integers(0, 300))
        b = IMM if rng.random() < 0.3 else slot()
        if r < 0.25:  # pointer arithmetic: a lane-relative value plus or minus a uniform, or two of them
            code.append(I(int(rng.choice([Op.ADD, Op.SUB])), dst=slot(), a=slot(), b=b, imm=imm,
                          width=8 if rng.random() < 0.8 else w, signed=sg))
        elif r < 0.5:
            code.append(I(int(rng.choice(UNIFORM_OPS)), dst=slot(), a=slot(), b=b, imm=imm, width=w, signed=sg))
        elif r < 0.65:
            off = int(rng.integers(0, 16)) * 8
            if rng.random() < 0.8:
                stored.append(off)
                code.append(I(Op.STORE, a=20, b=slot(), imm=off, width=8))
            else:
                code.append(I(Op.STORE, a=20, b=slot(), imm=off + int(rng.integers(0, 8)), width=w))
        elif r < 0.82:  # mostly a word stored before (its shadow), at any width and byte
            off = stored[int(rng.integers(len(stored)))] + (int(rng.integers(0, 8)) if rng.random() < 0.3 else 0)
            code.append(I(Op.LOAD, dst=slot(), a=20, imm=off, width=w, signed=sg))
        elif r < 0.93 and pc + 2 < length:
            code.append(I(Op.BR, a=slot(), width=w, alt=int(rng.integers(pc + 1, length))))
        else:
            code.append(I(Op.EMIT, dst=int(rng.integers(0, 5)), a=slot(), width=w))
    code.append(I(Op.HALT, a=slot()))
    for s in range(12):
        if vals[s][0] == "v" or s == 2:
            vals[s] = ("u", EDGES[int(rng.integers(len(EDGES)))]) if rng.random() < 0.5 else ("r", int(rng.integers(0, 256)))
    return code, n, vals, addr, image


FLAVOURS = {"random": _random_lane_program, "ranged": _ranged_lane_program, "uniform": _uniform_lane_program}


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(sorted(FLAVOURS)), st.booleans())
def test_random_instruction_programs_match_the_packet_executor(seed, flavour, fast):
    """Every final slot, status and emit of every lane equals the packet executor's; with the converged
    fast handlers (``fast``) and without them (every step through LaneMachine.step)."""
    code, n, vals, addr, image = FLAVOURS[flavour](seed)
    prog = Program(code, memory=image.tobytes(), memory_size=n * LANE, block_shift=12)
    base = np.arange(n, dtype=np.uint64) * np.uint64(LANE)
    inputs = np.zeros((n, 22), dtype=np.uint64)
    for s, (kind, v) in enumerate(vals):
        inputs[:, s] = np.uint64(v) if kind == "u" else (base + np.uint64(v) if kind == "r" else v)
    inputs[:, 12] = base + addr
    inputs[:, 20] = base
    packets = prog.packets(n, inputs=inputs, nodes=np.zeros(n, dtype=np.uint32))
    want = run_program(prog, packets, backend="inline", nodes=1, max_steps=10_000)

    m = LaneMachine(prog.code, LANE, base, np.arange(n, dtype=np.uint64), np.zeros(n, dtype=np.uint32), 10_000,
                    block=LANE, keep_slots=True)
    img = image.reshape(n, LANE // 8, 8).view("<u8").reshape(n, LANE // 8)
    m.mem.load_rows(0, img.T)
    for s, (kind, v) in enumerate(vals):
        m.regs[s] = np.uint64(v) if kind == "u" else (Rel(v) if kind == "r" else v)
    m.regs[12] = base + addr
    m.regs[20] = Rel(0)
    if not fast:
        m.fast = [None] * len(m.fast)
    got = m.run(0)
    assert (got.status == want.status).all()
    assert (got.detail == want.exit_values).all()
    live = want.packets["state"][:, :6]  # s16..s21 and the inputs: every slot but the runtime word
    assert (got.slots[:, :16] == want.packets["input_data"]).all()
    assert (got.slots[:, 16:22] == live).all()
    e = got.emits(np.arange(n, dtype=np.uint64), np.zeros(n, dtype=np.uint32))
    w = want.emits
    for f in ("computation_id", "seq", "lane", "tag", "width", "value"):
        assert (e[f] == w[f]).all(), f


# ------------------------------------------------------------------ output rendering and the CLI

@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=20),
       st.sampled_from(["d", "i", "u"]), st.sampled_from(["", "hh", "h", "l", "ll", "z"]))
def test_decimal_columns_equal_format_c(values, conv, length):
    spec = f"%{length}{conv}".encode()
    bits = {"hh": 8, "h": 16, "": 32}.get(length, 64)
    chars, lengths = _decimal(np.array(values, dtype=np.uint64), bits, conv in "di")
    for k, v in enumerate(values):
        text = chars[k][chars[k] != 0].tobytes()
        assert text == format_c(spec, iter([v]).__next__, lambda a, lim: b"")
        assert lengths[k] == len(text)


_EDGES = [0, 1, 9, 10, 99, 100, 9999, 10_000, 99_999_999, 10**8, 10**16 - 1, 10**16, 10**19 - 1, 10**19,
          2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 1]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 2**64 - 1), st.sampled_from(_EDGES),
                          st.integers(-(2**63), -1).map(lambda v: v + 2**64)), min_size=1, max_size=64),
       st.sampled_from([8, 16, 32, 64]), st.booleans())
def test_decimal_columns_equal_python_formatting(values, bits, signed):
    """Python's own int formatting of the value read as a bits-wide (signed) integer, over the whole
    int64/uint64 range (the table path, leading-zero NULs and the sign byte)."""
    chars, lengths = _decimal(np.array(values, dtype=np.uint64), bits, signed)
    for k, v in enumerate(values):
        x = v & ((1 << bits) - 1)
        if signed and x >> (bits - 1):
            x -= 1 << bits
        text = chars[k][chars[k] != 0].tobytes()
        assert text == str(x).encode()
        assert lengths[k] == len(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(0, 2**64 - 1), st.integers(0, 255)),
                min_size=1, max_size=40), st.booleans(), st.booleans(), st.sampled_from([8, 16, 32, 64]))
def test_column_join_equals_python_formatting(rows, with_char, lazy, bits):
    """The joined printf output of lockstep lanes (constant text, a signed 64-bit and an unsigned bits-wide
    decimal column, and optionally a %c column that may be NUL, which must take the masked path) equals
    Python's; decimals given unformatted (written straight into the aligned output) or as NUL-padded
    columns."""
    n = len(rows)
    a = np.array([r[0] & (2**64 - 1) for r in rows], dtype=np.uint64)
    b = np.array([r[1] for r in rows], dtype=np.uint64)
    c = np.array([r[2] for r in rows], dtype=np.uint8)
    if lazy:
        pieces = [b"a=", _Decimal(a, 64, True), b" b=", _Decimal(b, bits, False)]
    else:
        ca, la = _decimal(a, 64, True)
        cb, lb = _decimal(b, bits, False)
        pieces = [b"a=", (ca, NUL_PADDED, la), b" b=", (cb, NUL_PADDED, lb)]
    if with_char:
        pieces += [b" c=", (c[:, None], None, None)]
    pieces.append(b"\n")
    out, lens = _join_columns(pieces, n)
    want = [f"a={x} b={y & ((1 << bits) - 1)}".encode() + (b" c=" + bytes([z]) if with_char else b"") + b"\n" for x, y, z in rows]
    assert out == b"".join(want)
    assert lens.tolist() == [len(w) for w in want]


def test_cli_batch_runs_on_lanes(tmp_path):
    from click.testing import CliRunner

    src = tmp_path / "sq.c"
    src.write_text('#include <stdio.h>\n#include <stdlib.h>\nint main(int c, char **v) { long x = atol(v[1]); '
                   'printf("%ld %s\\n", x * x, c > 2 ? v[2] : "-"); return 0; }\n')
    lines = tmp_path / "in.txt"
    lines.write_text("3\n-12 'a b'\n\n7 x\n")
    r = CliRunner().invoke(ccli.run_cmd, [str(src), "--batch", str(lines)])
    assert r.exit_code == 0, r.output
    assert r.output == "9 -\n144 a b\n49 x\n"
    r = CliRunner().invoke(ccli.run_cmd, [str(src), "--batch", str(lines), "--json", "--stats"])
    assert r.exit_code == 0
    assert '"executor": "lanes"' in r.output


def test_args_of_line_is_shlex():
    import shlex

    for line in ["1 2 3", "  a\tb  ", "x 'y z'", 'a "b\\" c"', "a\\ b", "q#r s", "\u00e9t\u00e9 1"]:
        assert ccli.args_of_line(line) == [a.encode() for a in shlex.split(line)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=" \t\r\x0b\"'\\#ab1-é", max_size=12), max_size=8))
def test_batch_text_tokeniser_equals_the_shell_split(lines):
    """ArgvTable.from_text (numpy) gives the argv lists the CLI's line-by-line split gives, or declines."""
    data = "\n".join(lines).encode()
    table = ArgvTable.from_text(data, b"prog")
    try:
        want = [[b"prog"] + ccli.args_of_line(line) for line in data.decode().splitlines() if line.strip()]
    except ValueError:
        assert table is None  # an unclosed quote: only the shell split can say so
        return
    if table is not None:
        assert table.lists() == want
        for lo in range(len(want)):  # what a node worker is sent: the same argvs, fewer bytes
            assert table.take(slice(lo, len(want))).compact().lists() == want[lo:]
    assert ArgvTable.from_lists(want).lists() == want


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.lists(st.text(alphabet="ab1-\n ", min_size=0, max_size=14), max_size=10),
       st.booleans())
def test_equal_length_lines_tokenise_as_the_split(k, words, trailing_newline):
    """A file of lines of one length (the fast path: newlines at multiples of the line length) or
    nearly so (a line of another length, a space, a newline inside, no trailing newline: the general
    path) gives the argvs the CLI's split gives."""
    lines = [(w * k)[:k].ljust(k, "a") if i % 3 else w for i, w in enumerate(words)]
    data = ("\n".join(lines) + ("\n" if trailing_newline and lines else "")).encode()
    table = ArgvTable.from_text(data, b"prog")
    want = [[b"prog"] + ccli.args_of_line(line) for line in data.decode().splitlines() if line.strip()]
    assert table is not None and table.lists() == want
    uniform = ("\n".join(["7" * k] * len(words)) + "\n").encode()
    assert ArgvTable.from_text(uniform, b"prog").lists() == [[b"prog", b"7" * k]] * len(words)
    # what a node worker is sent (compacted, pickled) is the same argvs, for every block of rows
    for lo in range(len(want)):
        for hi in range(lo + 1, len(want) + 1):
            part = pickle.loads(pickle.dumps(table.take(slice(lo, hi)).compact()))
            assert part.lists() == want[lo:hi] and len(part) == hi - lo


def test_batch_demo(tmp_path, capsys):
    from packetfs.compute.compiler.batch_demo import demo, mix_python

    demo(tmp_path, n=300)
    inputs = (tmp_path / "inputs.txt").read_bytes()
    assert (tmp_path / "outputs.txt").read_bytes() == mix_python(inputs)
    assert "outputs equal: True" in capsys.readouterr().out
