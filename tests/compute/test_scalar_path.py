"""The scalar path (runtime/scalar.py) against the vectorized round (executor.py running isa.py's numpy
kernels, the reference): random instructions of every opcode, width, signedness, lane count, immediate and
placement, on random slots, memory and node layouts, give the same final packets, slots, emits, step and
hop counts, accumulators and memory, including every fault (division by zero, INT_MIN / -1, shift counts,
bad address, an access to the unmapped low addresses (a compiled C program's NULL page), bad node, bad pc,
misrouting, the step limit) and the round budget."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from packetfs.compute import IMM, Instruction, Op, Program, get_backend, run_program
from packetfs.compute.isa import ANY, INSTR, SPEC, Status, static_check
from packetfs.compute.packet import PACKET_C, SLOT_RUNTIME, slots
from packetfs.compute.runtime.executor import Batch, NodeGroup
from packetfs.compute.runtime.records import ProgramError
from packetfs.compute.runtime.scalar import NATIVE, ScalarRunner, execute_scalar

_spec = importlib.util.spec_from_file_location("randprog", Path(__file__).with_name("randprog.py"))
randprog = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(randprog)

OPCODES = sorted(SPEC)
TIERS = (1, 1 << 40)  # compiled blocks, the interpreter
MEM = 256  # bytes of memory, blocks of 64 (block_shift 6)
EDGE = [0, 1, 2, 3, 7, 8, 31, 32, 63, 64, 65, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF,
        0x80000000, 0xFFFFFFFF, 2**32, 2**63 - 1, 2**63, 2**64 - 1, 2**64 - 2, 0x3FF0000000000000,
        0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0x7FF0000000000001, 0x8000000000000000,
        0x43E0000000000000, 0xC3E0000000000000, 0x47EFFFFFE0000000, 0x3CB0000000000000, 0x7FEFFFFFFFFFFFFF,
        0x0010000000000000, 0x000FFFFFFFFFFFFF, 0xFFF4000000000000, 0x7FF4000000000001, 0xBFF8000000000000,
        MEM - 8, MEM - 1, MEM, 60, 62, 120, 128, 192]  # fmt: skip

word = st.one_of(st.sampled_from(EDGE), st.integers(0, 2**64 - 1), st.integers(0, MEM + 8),
                 st.integers(0, 2**64 - 1).map(lambda x: x | 0x7FF0000000000000))


@st.composite
def instruction(draw, ncode: int, nodes: int):
    op = draw(st.one_of(st.sampled_from(OPCODES), st.sampled_from(sorted(NATIVE)), st.just(0x99)))
    count = draw(st.one_of(st.just(1), st.integers(1, 4), st.integers(0, 17)))
    slot = st.one_of(st.integers(0, 23), st.just(IMM), st.integers(0, 8))
    width = draw(st.one_of(st.sampled_from([1, 2, 4, 8]), st.just(3)))
    node = draw(st.one_of(st.just(ANY), st.just(ANY), st.integers(0, nodes)))
    target = st.one_of(st.integers(0, ncode - 1), st.integers(0, ncode + 1), st.just(2**32 - 1))
    return (op, draw(st.integers(0, 23)), draw(slot), draw(slot), width, draw(st.sampled_from([0, 1, 1, 3])),
            count, node, draw(target), draw(target), draw(word))


@st.composite
def case(draw):
    nodes = draw(st.integers(1, 3))
    ncode = draw(st.integers(1, 5))
    code = np.array([draw(instruction(ncode, nodes)) for _ in range(ncode)], dtype=INSTR)
    low = draw(st.one_of(st.just(0), st.sampled_from([1, 8, 63, 64, 65]), st.integers(0, MEM)))  # the NULL page
    try:
        prog = Program(code, num_nodes=nodes, memory=bytes(draw(st.binary(min_size=0, max_size=MEM))),
                       memory_size=MEM, block_shift=6, strict=False, unmapped_below=low)
    except ProgramError:  # one accumulator reduced two ways: refused even when not strict
        assume(False)
    p = np.zeros(1, dtype=PACKET_C)
    p["computation_id"] = draw(st.integers(0, 2**64 - 1))
    p["operation_code"] = draw(st.one_of(st.integers(0, ncode - 1), st.integers(0, ncode + 1)))
    p["next_node_id"] = draw(st.one_of(st.integers(0, nodes - 1), st.integers(0, nodes)))
    S = slots(p)
    S[0] = [draw(word) for _ in range(SLOT_RUNTIME)] + [draw(st.one_of(st.integers(0, 4), st.integers(0, 2**64 - 1)))]
    hosted = draw(st.one_of(st.none(), st.lists(st.integers(0, nodes - 1), min_size=1, max_size=nodes, unique=True)))
    max_steps = draw(st.one_of(st.integers(1, 6), st.just(300)))  # loops end at the limit: keep it small
    max_rounds = draw(st.one_of(st.integers(1, 5), st.just(1 << 30)))
    return prog, p, hosted, max_steps, max_rounds


def _outcome(prog, packets, hosted, max_steps, max_rounds, scalar: bool, force: bool = False, hot: int = 1):
    """Everything one NodeGroup run gives. ``hot``: entries before a block is compiled (1: compiled blocks
    run everything they can; a huge number: the interpreter runs everything)."""
    g = NodeGroup(prog, hosted, max_steps, scalar=scalar)
    if scalar:
        g._scalar = ScalarRunner(g)
        g._scalar.hot = hot
    b = Batch.from_packets(packets)
    with np.errstate(all="ignore"):
        r = execute_scalar(g, b, max_rounds) if force else g.execute_batch(b, max_rounds)
    local, away, done, emits, steps, hops = r
    em = np.concatenate(emits) if emits else np.zeros(0)
    if len(em):
        em = em[np.lexsort((em["lane"], em["seq"], em["computation_id"]))]
    parts = []
    for part in (local, away, done):
        order = np.argsort(part.cid, kind="stable")
        parts.append(tuple(np.ascontiguousarray(x).tobytes() for x in (part.cid[order], part.pc[order], part.node[order],
                                                                      part.T[:, order])))
    acc = {k: (np.float64(v).view(np.uint64).item() if isinstance(v, float) else v)
           for k, v in g.accumulators().final().items()}  # fmt: skip
    mem = [(k, bytes(v)) for k, v in g.memory_blocks()]
    return parts, em.tobytes() if len(em) else b"", steps, hops, acc, mem


@given(case())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_instructions_scalar_equals_vectorized(c):
    prog, p, hosted, max_steps, max_rounds = c
    for pc, rec in enumerate(prog.code):  # Program's per-pc fault table is static_check's, instruction by instruction
        why = static_check(rec)
        if why is None and rec["node"] != ANY and rec["node"] >= prog.num_nodes:
            why = (Status.BAD_NODE, int(rec["node"]))
        assert (int(prog.static_fault[pc]), int(prog.static_detail[pc])) == ((int(why[0]), int(why[1])) if why else (0, 0))
    ref = _outcome(prog, p, hosted, max_steps, max_rounds, scalar=False)
    for hot in TIERS:
        assert _outcome(prog, p, hosted, max_steps, max_rounds, scalar=True, hot=hot) == ref


@pytest.mark.slow
@given(case())
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_many_random_instructions_scalar_equals_vectorized(c):
    prog, p, hosted, max_steps, max_rounds = c
    ref = _outcome(prog, p, hosted, max_steps, max_rounds, scalar=False)
    for hot in TIERS:
        assert _outcome(prog, p, hosted, max_steps, max_rounds, scalar=True, hot=hot) == ref


def _every_op_cases():
    """Every native opcode x width x signedness x lane count, each on operand slots and an immediate."""
    for op in sorted(NATIVE | {int(Op.FADD), int(Op.FSUB), int(Op.FMUL), int(Op.FDIV)}):  # + the interpreter's floats
        for width in (1, 2, 4, 8):
            for signed in (False, True):
                for count in (1, 3):
                    for b_imm in (False, True):
                        yield op, width, signed, count, b_imm


@pytest.mark.parametrize("op,width,signed,count,b_imm", list(_every_op_cases()))
def test_every_native_opcode_width_sign_and_lanes(op, width, signed, count, b_imm):
    rng = np.random.default_rng(op * 1000 + width * 100 + signed * 10 + count + b_imm)
    for trial in range(4):
        imm = int(rng.choice(EDGE)) if trial % 2 else int(rng.integers(0, 2**63)) * 2 + 1
        mem_ops = op in (Op.LOAD, Op.STORE)
        a = 8 if mem_ops else int(rng.choice([0, 4, 6, IMM]))
        code = [Instruction(op, dst=int(rng.choice([2, 4, 5])), a=a, b=IMM if b_imm and not mem_ops else 12,
                            imm=imm % 200 if mem_ops else imm, width=width, signed=signed, count=count,
                            next=1, alt=2),
                Instruction(Op.EMIT, a=0, count=16, dst=1), Instruction(Op.HALT, a=2)]  # fmt: skip
        low = 64 if mem_ops and trial >= 2 else 0  # the last two trials with an unmapped first block
        prog = Program(code, memory=bytes(rng.integers(0, 256, MEM, dtype=np.uint8)), memory_size=MEM, block_shift=6,
                       strict=False, unmapped_below=low)
        vals = rng.choice(np.array(EDGE, dtype=np.uint64), 22)
        vals[8] = rng.integers(0, MEM)
        p = prog.packets(1, inputs=vals[None, :])
        ref = _outcome(prog, p, None, 100, 1 << 30, scalar=False)
        for hot in TIERS:
            assert _outcome(prog, p, None, 100, 1 << 30, scalar=True, hot=hot) == ref


@given(st.integers(0, 2**31))
@settings(max_examples=60, deadline=None)
def test_random_programs_batches_scalar_equals_vectorized(seed):
    """randprog's programs (every instruction family, loops, HOPs across nodes, per-packet memory) with
    their batches, forced through the scalar path, and with a random subset of nodes hosted."""
    prog, inputs = randprog.random_program(seed)
    packets = prog.packets(len(inputs), inputs=inputs)
    rng = np.random.default_rng(seed)
    hosted = None if rng.random() < 0.5 else sorted(set(rng.integers(0, prog.num_nodes, 2).tolist()))
    packets = packets[np.isin(packets["next_node_id"], hosted)] if hosted else packets
    max_rounds = int(rng.choice([3, 16, 1 << 30]))
    ref = _outcome(prog, packets, hosted, 300, max_rounds, scalar=False)
    for hot in (1, 3, 1 << 40):
        assert _outcome(prog, packets, hosted, 300, max_rounds, scalar=True, force=True, hot=hot) == ref


def test_backends_use_the_scalar_path_with_identical_results(monkeypatch):
    """A lone packet on inline (scalar and vectorized) and on the local backend (2 workers, the scalar
    path in each worker): the same packets, emits, accumulators, memory and counters."""
    prog, inputs = randprog.random_program(7, length=30)
    packets = prog.packets(1, inputs=inputs[:1])
    results = []
    for flag in ("0", "1"):
        monkeypatch.setenv("PACKETFS_SCALAR", flag)
        results.append(run_program(prog, packets, backend="inline", max_steps=400, collect_memory=True))
    with get_backend("local", nodes=2) as local:
        results.append(run_program(prog, packets, backend=local, max_steps=400, collect_memory=True))
    ref = randprog.fingerprint(results[0])
    for r in results[1:]:
        assert randprog.fingerprint(r) == ref
        assert (r.stats.steps, r.stats.hops) == (results[0].stats.steps, results[0].stats.hops)


def test_step_limit_and_long_loop_counts():
    """A 30,000-step loop: the same steps, runtime word and exit; and STEP_LIMIT at exactly max_steps."""
    code = [Instruction(Op.MOV, dst=0, a=IMM, imm=0), Instruction(Op.ADD, dst=0, a=0, b=IMM, imm=1),
            Instruction(Op.LTU, dst=1, a=0, b=IMM, imm=10_000), Instruction(Op.BR, a=1, alt=1),
            Instruction(Op.HALT, a=0)]  # fmt: skip
    prog = Program(code)
    for max_steps in (30_003, 30_002, 30_001, 1_234):
        ref = _outcome(prog, prog.packets(1), None, max_steps, 1 << 30, scalar=False)
        for hot in (1, 16, 1 << 40):
            assert _outcome(prog, prog.packets(1), None, max_steps, 1 << 30, scalar=True, hot=hot) == ref
    r = run_program(prog, prog.packets(1), max_steps=1 << 24)
    assert r.ok and int(r.exit_values[0]) == 10_000 and r.stats.steps == 30_002
