"""The unmapped low addresses (a compiled C program's NULL page, layout.DATA_BASE bytes): every executor a
program runs on (the vectorized round, the scalar path's interpreter and compiled blocks, the lane
executor, the local backend's workers) finishes an access touching them with BAD_ADDRESS, detail the
address, as it does an access past the end of memory; an access just at the limit works. gcc's binary of
the same C program dies with SIGSEGV (the anchor)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from packetfs.compute import IMM, Instruction, Op, Program, run_program
from packetfs.compute.compiler.batch import run_batch
from packetfs.compute.compiler.cli import EXIT_FAULT
from packetfs.compute.compiler.driver import compile_source
from packetfs.compute.compiler.execute import BATCH_LANE, BATCH_STACK, build, run
from packetfs.compute.compiler.layout import DATA_BASE
from packetfs.compute.isa import Status
from packetfs.compute.runtime.lanes import LaneMachine, Rel
from packetfs.compute.runtime.records import ProgramError

I = Instruction  # noqa: E741
LOW = 0x1000
SIZE = 0x4000


def _access(op: int, width: int, count: int = 1, nodes: int = 1) -> Program:
    """s0 = the address; STORE s1 there or LOAD it into s2; HALT with s2."""
    code = [I(Op.MOV, dst=1, a=IMM, imm=0xAB, count=1), I(Op.MOV, dst=2, a=IMM, imm=7),
            I(op, dst=2, a=0, b=1, imm=0, width=width, count=count), I(Op.HALT, a=2)]  # fmt: skip
    return Program(code, num_nodes=nodes, memory=bytes(range(256)) * (SIZE // 256), memory_size=SIZE,
                   unmapped_below=LOW)


FAULTS = [(0, 1), (0, 8), (8, 4), (LOW - 1, 1), (LOW - 4, 8), (LOW - 8, 8), (2**64 - 1, 1), (SIZE - 4, 8)]
WORKS = [(LOW, 1), (LOW, 8), (LOW + 8, 4), (SIZE - 8, 8), (SIZE - 1, 1)]


@pytest.mark.parametrize("scalar", ["0", "1"])
@pytest.mark.parametrize("op", [Op.LOAD, Op.STORE])
def test_low_addresses_fault_on_the_packet_executor(monkeypatch, scalar, op):
    """The vectorized round (PACKETFS_SCALAR=0) and the scalar path; a batch of packets, one address each."""
    monkeypatch.setenv("PACKETFS_SCALAR", scalar)
    for width in (1, 4, 8):
        prog = _access(op, width)
        cases = [(a, w) for a, w in FAULTS + WORKS if w == width] + [(LOW - width, width), (LOW - 1, width)]
        addrs = np.array([a for a, _ in cases], dtype=np.uint64)
        r = run_program(prog, prog.packets(len(addrs), inputs=addrs[:, None]), backend="inline", max_steps=100)
        for k, a in enumerate(addrs.tolist()):
            bad = a < LOW or a > SIZE - width
            assert int(r.status[k]) == (Status.BAD_ADDRESS if bad else Status.HALTED), (hex(a), width)
            if bad:
                assert int(r.exit_values[k]) == a


def test_low_addresses_fault_in_compiled_blocks(monkeypatch):
    """A loop hot enough for the scalar path to compile its block walks a pointer down to the limit and below."""
    code = [I(Op.MOV, dst=0, a=IMM, imm=LOW + 64), I(Op.MOV, dst=1, a=IMM, imm=0),
            I(Op.SUB, dst=0, a=0, b=IMM, imm=8), I(Op.LOAD, dst=2, a=0, width=8), I(Op.ADD, dst=1, a=1, b=2),
            I(Op.BR, a=IMM, imm=1, alt=2, next=2)]  # fmt: skip
    for scalar in ("0", "1"):
        monkeypatch.setenv("PACKETFS_SCALAR", scalar)
        for low, fault_at in ((LOW, LOW - 8), (0, 2**64 - 8)):
            prog = Program(code, memory_size=SIZE, unmapped_below=low)
            r = run_program(prog, prog.packets(1), backend="inline", max_steps=10_000)
            assert int(r.status[0]) == Status.BAD_ADDRESS and int(r.exit_values[0]) == fault_at


def test_low_addresses_fault_on_the_local_backend():
    prog = _access(Op.STORE, 8, nodes=2)
    addrs = np.array([0, LOW - 8, LOW, LOW + 4096], dtype=np.uint64)
    r = run_program(prog, prog.packets(4, inputs=addrs[:, None]), backend="local", nodes=2, max_steps=100)
    assert r.status.tolist() == [Status.BAD_ADDRESS, Status.BAD_ADDRESS, Status.HALTED, Status.HALTED]
    assert r.exit_values[:2].tolist() == [0, LOW - 8]


def test_program_field_checked_and_kept_in_the_file():
    prog = _access(Op.LOAD, 8)
    again = Program.from_bytes(prog.to_bytes())
    assert again.unmapped_below == LOW and again.digest() == prog.digest()
    plain = Program([I(Op.HALT, a=IMM)], memory_size=64)
    assert b"unmapped_below" not in plain.to_bytes() and Program.from_bytes(plain.to_bytes()).unmapped_below == 0
    with pytest.raises(ProgramError, match="unmapped_below"):
        Program([I(Op.HALT, a=IMM)], memory_size=64, unmapped_below=65)
    # a plain program with no NULL page may use address 0
    r = run_program(plain := _plain(), plain.packets(1), backend="inline", max_steps=10)
    assert r.ok and int(r.exit_values[0]) == 0x1122


def _plain() -> Program:
    return Program([I(Op.LOAD, dst=0, a=IMM, imm=0, width=2), I(Op.HALT, a=0)], memory=b"\x22\x11", memory_size=64)


@pytest.mark.parametrize("fast", [True, False])
def test_lane_executor_faults_below_each_lanes_limit(fast):
    """Lane-relative (Rel) addresses, a uniform NULL and per-lane vectors, through the converged fast
    handlers and through step()."""
    L, n = 1 << 14, 3
    base = np.arange(n, dtype=np.uint64) * np.uint64(L)
    code = Program([I(Op.LOAD, dst=2, a=0, width=8), I(Op.HALT, a=2)]).code

    def go(addr):
        m = LaneMachine(code, L, base, np.arange(n, dtype=np.uint64), np.zeros(n, dtype=np.uint32), 100,
                        low=LOW)
        if not fast:
            m.fast = [None] * len(m.fast)
        m.regs[0] = addr
        return m.run(0)

    r = go(Rel(LOW - 8))
    assert r.status.tolist() == [Status.BAD_ADDRESS] * n and r.detail.tolist() == (base + np.uint64(LOW - 8)).tolist()
    assert go(Rel(LOW)).status.tolist() == [Status.HALTED] * n
    r = go(np.uint64(0))  # NULL: absolute 0, in lane 0's NULL page and outside the others' lanes
    assert r.status.tolist() == [Status.BAD_ADDRESS] * n and r.detail.tolist() == [0] * n
    r = go(base + np.array([4, LOW, LOW - 1], dtype=np.uint64))
    assert r.status.tolist() == [Status.BAD_ADDRESS, Status.HALTED, Status.BAD_ADDRESS]
    with pytest.raises(ProgramError):
        LaneMachine(code, L, base, np.arange(n, dtype=np.uint64), np.zeros(n, dtype=np.uint32), 100, low=L + 1)


# compiled C -------------------------------------------------------------------------------------------
NUL_C = r"""
#include <stdio.h>
int main(void) { int *p = 0; *p = 5; printf("%d\n", *p); return 0; }
"""
MEMBER_C = r"""
#include <stdio.h>
struct s { long a; int field; };
int main(void) { struct s *p = 0; printf("%d\n", p->field); return 0; }
"""
LIMIT_C = r"""
#include <stdio.h>
int main(int argc, char **argv) {
    volatile char *lim = (char *)0x1000;
    char c = lim[0];
    lim[0] = c;
    if (argc > 1) { volatile char *below = lim - 1; return *below; }
    printf("ok\n");
    return 0;
}
"""
SHARE_C = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    int *p = 0;
    if (atoi(argv[1]) == 0) { *p = 5; return 0; }
    printf("%d\n", *p);
    return 1;
}
"""
NULL_TEXT = "NULL or small-pointer dereference at address "


def _compiled(src: str, batch: bool = False):
    m = compile_source(src, "t.c")
    return build(m, lane_size=BATCH_LANE, stack_size=BATCH_STACK) if batch else build(m)


@pytest.mark.parametrize("scalar", ["0", "1"])
@pytest.mark.parametrize("backend", ["inline", "local"])
def test_c_null_dereference_faults(monkeypatch, backend, scalar):
    monkeypatch.setenv("PACKETFS_SCALAR", scalar)
    for src, addr in ((NUL_C, 0), (MEMBER_C, 8)):
        (o,), _ = run(_compiled(src), [[b"t"]], backend=backend, nodes=2 if backend == "local" else 1)
        assert o.status is None and o.stdout == b"" and o.fault.startswith(f"{NULL_TEXT}{addr:#x} in main "), o.fault


def test_c_access_at_the_limit_works_and_below_faults():
    c = _compiled(LIMIT_C)
    (ok, below), _ = run(c, [[b"t"], [b"t", b"x"]])
    assert (ok.stdout, ok.status, ok.fault) == (b"ok\n", 0, None)
    assert below.status is None and below.fault.startswith(f"{NULL_TEXT}{DATA_BASE - 1:#x}")


def test_c_batch_instances_each_fault_on_null():
    """Instance 0 writes *NULL, the others read it: on the lane executor and on the packet executor
    (one fabric run, --placement function) every instance faults; none reads instance 0's write."""
    c = _compiled(SHARE_C, batch=True)
    argvs = [[b"t", str(k).encode()] for k in range(4)]
    got = run_batch(c, argvs)
    assert got.stdout == b"" and set(got.faults) == set(range(4))
    assert all(t.startswith(f"{NULL_TEXT}0x0") for t in got.faults.values())
    for placement in ("function", "any"):
        outs, _ = run(c, argvs, placement=placement, nodes=2)
        assert [o.stdout for o in outs] == [b""] * 4
        assert all(o.status is None and o.fault.startswith(f"{NULL_TEXT}0x0") for o in outs)
        assert [o.fault for o in outs] == [got.faults[k] for k in range(4)]


WHERE_C = r"""
#include <stdio.h>
#include <string.h>
struct s { long a; int field; };
static int get(struct s *p) { return p->field; }
static struct s *none(void) { return 0; }
int main(int argc, char **argv) {
    char *str = argc > 3 ? 0 : argv[0];
    switch (argc) {
    case 1: return get(0);
    case 2: return none()->field;
    case 3: return (int)strlen(str + (argc - 3));
    default: return (int)strlen(str);
    }
}
"""


def test_fault_names_the_function_on_both_executors():
    """The function that made the access: a helper, main right after a call returned, libc's strlen; the
    same sentence from the packet executor (which stops a packet at the instruction routing into the
    access) and the lane executor (which stops it at the access)."""
    c = _compiled(WHERE_C, batch=True)
    argvs = [[b"t"], [b"t", b"1"], [b"t", b"1", b"2"], [b"t", b"1", b"2", b"3"]]
    want = [("0x8", "get"), ("0x8", "main"), (None, None), ("0x0", "strlen")]
    got = run_batch(c, argvs)
    outs, _ = run(c, argvs, placement="function", nodes=2)
    for k, (addr, where) in enumerate(want):
        if addr is None:
            assert outs[k].fault is None and int(got.status[k]) == outs[k].status == 1  # strlen("t")
            continue
        assert outs[k].fault.startswith(f"{NULL_TEXT}{addr} in {where} "), outs[k].fault
        assert got.faults[k] == outs[k].fault


def test_cli_reports_the_null_dereference(tmp_path):
    from packetfs.compute.compiler.cli import COMMANDS

    main = next(c for c in COMMANDS if c.name == "run")
    src = tmp_path / "nul.c"
    src.write_text(NUL_C)
    r = CliRunner().invoke(main, [str(src)])
    assert r.exit_code == EXIT_FAULT
    assert "NULL or small-pointer dereference at address 0x0 in main" in r.output
    batch = tmp_path / "b.txt"
    batch.write_text("a\nb\nc\n")
    for extra in ([], ["--placement", "function"]):
        r = CliRunner().invoke(main, [str(src), "--batch", str(batch), *extra])
        assert r.exit_code == EXIT_FAULT and "at address 0x0" in r.output and "2 more instances" in r.output


def test_gcc_binary_segfaults_on_the_same_programs(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: the NULL fault is checked against gcc's binary")
    for name, src in (("nul", NUL_C), ("member", MEMBER_C)):
        (tmp_path / f"{name}.c").write_text(src)
        subprocess.run(["gcc", "-O0", "-w", "-o", str(tmp_path / name), str(tmp_path / f"{name}.c")], check=True,
                       timeout=120)
        p = subprocess.run([str(tmp_path / name)], capture_output=True, timeout=30)
        assert p.returncode == -11 and p.stdout == b""
