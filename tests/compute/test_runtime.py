"""Packets, programs, routing, memory, REDUCE, EMIT and ERROR packets on the reference (inline) backend."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.compute import (
    ANY,
    IMM,
    INSTR,
    PACKET_C,
    PACKET_WIRE,
    Instruction,
    Op,
    Program,
    ProgramError,
    Status,
    decode,
    encode,
    float_bits,
    run_program,
    slots,
    to_c,
    to_wire,
)  # fmt: skip
from packetfs.compute.packet import TERMINAL, PacketError

I = Instruction  # noqa: E741


def test_packet_layouts_match_the_pitch_struct():
    assert PACKET_WIRE.itemsize == 208 and PACKET_C.itemsize == 216
    assert [PACKET_WIRE.fields[f][1] for f in PACKET_WIRE.names] == [0, 8, 12, 140, 204]
    assert [PACKET_C.fields[f][1] for f in PACKET_C.names] == [0, 8, 16, 144, 208]
    # the C layout is what a C compiler produces for the pitch's struct (x86-64 SysV alignment rules)
    import ctypes

    class CPacket(ctypes.Structure):
        _fields_ = [("computation_id", ctypes.c_uint64), ("operation_code", ctypes.c_uint32),
                    ("input_data", ctypes.c_uint64 * 16), ("state", ctypes.c_uint64 * 8),
                    ("next_node_id", ctypes.c_uint32)]  # fmt: skip

    assert ctypes.sizeof(CPacket) == 216
    assert [getattr(CPacket, f).offset for f in PACKET_C.names] == [0, 8, 16, 144, 208]


def test_wire_round_trip_and_slots_view():
    rng = np.random.default_rng(1)
    p = np.zeros(7, dtype=PACKET_C)
    p["computation_id"] = rng.integers(0, 2**63, 7)
    p["operation_code"] = rng.integers(0, 2**32 - 1, 7)
    p["input_data"] = rng.integers(0, 2**63, (7, 16))
    p["state"] = rng.integers(0, 2**63, (7, 8))
    p["next_node_id"] = rng.integers(0, 2**32 - 1, 7)
    buf = encode(p)
    assert len(buf) == 7 * 208
    back = decode(buf)
    assert back.dtype == PACKET_WIRE and (to_c(back) == p).all()
    assert (to_c(to_wire(p)) == p).all()
    s = slots(p)
    s[:, 20] = 99
    assert (p["state"][:, 4] == 99).all()
    assert (slots(to_wire(p).copy())[:, :16] == p["input_data"]).all()


@given(st.binary(max_size=2000))
@settings(max_examples=200, deadline=None)
def test_decode_fuzz_whole_packets_or_a_clear_error(buf):
    try:
        batch = decode(buf)
    except PacketError:
        assert len(buf) % 208
        return
    assert len(batch) * 208 == len(buf) and batch.tobytes() == buf


@given(st.binary(min_size=208, max_size=208 * 4).filter(lambda b: len(b) % 208 == 0))
@settings(max_examples=150, deadline=None)
def test_arbitrary_injected_packets_end_halted_or_as_error_packets(buf):
    """Any bytes injected as packets run to an end: never a crash or a hang (step limit bounds loops)."""
    prog = Program(
        [I(Op.ADD, dst=0, a=0, b=1), I(Op.LOAD, dst=2, a=0, width=4), I(Op.BR, a=2, alt=0), I(Op.HALT, a=0)],
        num_nodes=3, memory=bytes(range(256)) * 4, block_shift=8,
    )  # fmt: skip
    pkts = to_c(decode(buf)).copy()
    pkts["state"][:, 7] = 0  # the runtime word starts at 0 for injected packets
    res = run_program(prog, pkts, max_steps=200)
    assert len(res.packets) == len(pkts)
    assert (res.packets["operation_code"] >= TERMINAL).all()


def test_error_packets_for_every_fault_kind():
    code = np.zeros(2, dtype=INSTR)
    code[0] = (0x7777, 0, 0, 0, 8, 0, 1, ANY, 1, 0, 0)  # an opcode nobody defined
    code[1] = (int(Op.HALT), 0, IMM, 0, 8, 0, 1, ANY, 2, 0, 0)
    with pytest.raises(ProgramError):
        Program(code)
    res = run_program(Program(code, strict=False), 2)
    assert [f.status for f in res.faults()] == [Status.UNKNOWN_OPCODE] * 2 and res.faults()[0].detail == 0x7777

    hop = Program([I(Op.HOP, a=0), I(Op.HALT, a=IMM)], num_nodes=2)
    res = run_program(hop, hop.packets(3, inputs=np.array([1, 2, 7], dtype=np.uint64)))
    assert res.status.tolist() == [Status.HALTED, Status.BAD_NODE, Status.BAD_NODE]
    assert res.exit_values[1:].tolist() == [2, 7]

    load = Program([I(Op.LOAD, dst=1, a=0, width=8), I(Op.HALT, a=1)], num_nodes=2, memory=bytes(100), block_shift=5)
    res = run_program(load, load.packets(4, inputs=np.array([0, 88, 93, 30], dtype=np.uint64)))
    # 93..100 leaves memory; 30..37 crosses the 32-byte block boundary
    assert res.status.tolist() == [0, 0, Status.BAD_ADDRESS, Status.BAD_ADDRESS]

    div = Program([I(Op.DIVS, dst=2, a=0, b=1), I(Op.HALT, a=2)])
    res = run_program(div, div.packets(2, inputs=np.array([[7, 0], [7, 2]], dtype=np.uint64)))
    assert res.status.tolist() == [Status.DIV_BY_ZERO, 0] and res.exit_values[1] == 3

    loop = Program([I(Op.NOP, next=0)])
    res = run_program(loop, 1, max_steps=1000)
    assert res.faults()[0].status == Status.STEP_LIMIT

    ret = Program([I(Op.RET, a=0)])
    res = run_program(ret, ret.packets(1, inputs=np.array([55], dtype=np.uint64)))
    assert res.faults()[0].status == Status.BAD_PC and res.faults()[0].detail == 55

    trap = Program([I(Op.TRAP, a=IMM, imm=42)])
    assert run_program(trap, 1).faults()[0].detail == 42

    fixed = Program([I(Op.NOP, node=1), I(Op.HALT, a=IMM)], num_nodes=2)
    p = fixed.packets(1)
    p["next_node_id"] = 0  # forged: the instruction runs on node 1
    assert run_program(fixed, p).faults()[0].status == Status.MISROUTED
    p["next_node_id"] = 9
    assert run_program(fixed, p).faults()[0].status == Status.BAD_NODE
    p["next_node_id"], p["operation_code"] = 1, 1000
    assert run_program(fixed, p).faults()[0].status == Status.BAD_PC


def test_program_validation():
    with pytest.raises(ProgramError):
        Program([I(Op.ADD, dst=22, a=0, b=0, count=2)])  # would write the runtime word
    with pytest.raises(ProgramError):
        Program([I(Op.HASH, dst=0, a=20, b=IMM)])  # block would run past the slots
    with pytest.raises(ProgramError):
        Program([I(Op.NOP, node=5)], num_nodes=2)
    with pytest.raises(ProgramError):
        Program([I(Op.BR, a=0, alt=9), I(Op.HALT, a=IMM)])
    with pytest.raises(ProgramError):
        Program([I(Op.RADD, a=0, imm=1), I(Op.RXOR, a=0, imm=1), I(Op.HALT, a=IMM)])
    with pytest.raises(ProgramError):
        Program([I(Op.HALT, a=IMM)], memory_size=2**40)
    with pytest.raises(ProgramError):
        Program.from_bytes(b'{"format": "packetfs-program/1"}\n')
    prog = Program([I(Op.ADD, dst=0, a=0, b=IMM, imm=5), I(Op.HALT, a=0)], num_nodes=3, memory=b"abc", memory_size=64)
    again = Program.from_bytes(prog.to_bytes())
    assert again.digest() == prog.digest() and "ADD" in again.listing()


@given(st.binary(max_size=400))
@settings(max_examples=150, deadline=None)
def test_program_file_decoder_fuzz(data):
    try:
        Program.from_bytes(data, strict=False)
    except ProgramError:
        pass


_HEAD_VALUES = st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=5), st.none(), st.lists(st.integers(), max_size=2))


@given(st.fixed_dictionaries({}, optional={k: _HEAD_VALUES for k in (
    "num_nodes", "entry", "memory_size", "block_shift", "code_len", "image_len", "name")}), st.binary(max_size=120))
@settings(max_examples=200, deadline=None)
def test_program_file_header_fuzz(head, body):
    """Well-formed JSON with any field values: a program or ProgramError, nothing else."""
    import json

    head["format"] = "packetfs-program/1"
    try:
        Program.from_bytes(json.dumps(head).encode() + b"\n" + body, strict=False)
    except ProgramError:
        pass


def test_loop_over_sharded_memory_with_loads_and_stores():
    data = np.arange(1, 101, dtype="<u4")
    prog = Program(
        [
            I(Op.MOV, dst=0, a=IMM, imm=0),
            I(Op.MOV, dst=1, a=IMM, imm=0),
            I(Op.LOAD, dst=2, a=0, width=4),
            I(Op.ADD, dst=1, a=1, b=2),
            I(Op.STORE, a=0, b=1, imm=400, width=4),  # running sums after the data
            I(Op.ADD, dst=0, a=0, b=IMM, imm=4),
            I(Op.LTU, dst=3, a=0, b=IMM, imm=400),
            I(Op.BR, a=3, alt=2),
            I(Op.HALT, a=1),
        ],
        num_nodes=4, memory=data.tobytes(), memory_size=800, block_shift=6,
    )  # fmt: skip
    res = run_program(prog, 1, collect_memory=True)
    assert res.exit_values[0] == 5050 and res.stats.hops > 4
    mem = np.frombuffer(res.memory, dtype="<u4")
    assert (mem[:100] == data).all() and (mem[100:200] == np.cumsum(data)).all()


def test_signed_loads_and_narrow_stores():
    image = np.array([-5, 7, -32768, 1], dtype="<i2").tobytes()
    prog = Program(
        [I(Op.LOAD, dst=0, a=IMM, imm=0, width=2, signed=True, count=4), I(Op.STORE, a=IMM, b=0, imm=8, width=1, count=4),
         I(Op.LOAD, dst=4, a=IMM, imm=8, width=4), I(Op.HALT, a=IMM)],
        memory=image, memory_size=16,
    )  # fmt: skip
    res = run_program(prog, 1)
    assert res.packets["input_data"][0, :4].view(np.int64).tolist() == [-5, 7, -32768, 1]
    assert int(res.packets["input_data"][0, 4]) == int.from_bytes(bytes([0xFB, 7, 0, 1]), "little")


def test_reduce_emit_call_ret_and_accumulators():
    n = 500
    x = np.random.default_rng(4).standard_normal(n)
    prog = Program(
        [
            I(Op.CALL, dst=5, alt=4),  # 0: call the "function" at 4, return to 1
            I(Op.RFSUM, a=0, imm=0, node=1),  # 1: sum of squares at the accumulator node 1
            I(Op.RADD, a=IMM, imm=1, node=1),  # 2: a = IMM adds the immediate, which is also the index (1)
            I(Op.HALT, a=IMM, imm=0),
            I(Op.FMUL, dst=0, a=0, b=0),  # 4: square
            I(Op.EMIT, dst=3, a=0),
            I(Op.RET, a=5),
        ],
        num_nodes=3,
    )  # fmt: skip
    res = run_program(prog, prog.packets(n, inputs=x[:, None]))
    assert res.ok
    assert res.accumulators[0] == math.fsum((x * x).tolist())
    assert res.accumulators[1] == n * 1  # RADD of the immediate (imm doubles as the accumulator index: 1)
    assert (res.emitted(17, tag=3).view(np.float64) == x[17] ** 2).all()


def test_emit_bytes_in_program_order_across_nodes():
    text = b"hello, fabric"
    code = []
    for i, ch in enumerate(text):
        code.append(I(Op.EMIT, a=IMM, imm=ch, width=1, node=i % 3))
    code.append(I(Op.HALT, a=IMM))
    prog = Program(code, num_nodes=3)
    res = run_program(prog, 2)
    assert res.output(0) == text and res.output(1) == text


def test_min_max_reduce_signed_and_float_bits_helper():
    vals = np.array([5, -3, 12, -40, 7], dtype=np.int64).view(np.uint64)
    prog = Program([I(Op.RMIN, a=0, imm=0, signed=True), I(Op.RMAX, a=0, imm=1), I(Op.RXOR, a=0, imm=2),
                    I(Op.HALT, a=IMM)], num_nodes=2)  # fmt: skip
    res = run_program(prog, prog.packets(5, inputs=vals))
    assert res.accumulators[0] == (-40) % 2**64
    assert res.accumulators[1] == max(vals.tolist())
    assert res.accumulators[2] == int(np.bitwise_xor.reduce(vals))
    assert float_bits(1.0) == 0x3FF0000000000000
