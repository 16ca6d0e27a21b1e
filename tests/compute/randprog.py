"""Random programs for the cross-backend property tests (imported by path from the test modules)."""

from __future__ import annotations

import numpy as np

from packetfs.compute import IMM, Instruction, Op, Program

I = Instruction  # noqa: E741
REGION = 64  # each packet's own memory cell block: no two packets touch the same address (no races)
BINARY = [Op.ADD, Op.SUB, Op.MUL, Op.DIVU, Op.DIVS, Op.MODU, Op.MODS, Op.AND, Op.OR, Op.XOR, Op.SHL, Op.SHR, Op.SAR,
          Op.EQ, Op.NE, Op.LTU, Op.LEU, Op.GTU, Op.GEU, Op.LTS, Op.LES, Op.GTS, Op.GES,
          Op.FADD, Op.FSUB, Op.FMUL, Op.FDIV, Op.FMIN, Op.FMAX, Op.FEQ, Op.FNE, Op.FLT, Op.FLE]  # fmt: skip
UNARY = [Op.MOV, Op.NOT, Op.NEG, Op.FNEG, Op.FABS, Op.FSQRT, Op.I2F, Op.U2F, Op.F2I, Op.F2U, Op.FROUND32, Op.U01]
REDUCE_INDEX = {Op.RADD: 0, Op.RXOR: 1, Op.RMIN: 2, Op.RMAX: 3, Op.RFSUM: 4}


def random_program(seed: int, length: int | None = None) -> tuple[Program, np.ndarray]:
    """A random program over every instruction family, and inputs for a batch of packets."""
    rng = np.random.default_rng(seed)
    num_nodes = int(rng.integers(1, 5))
    n_packets = int(rng.integers(1, 60))
    length = length or int(rng.integers(4, 40))

    def node():
        return int(rng.integers(0, num_nodes)) if rng.random() < 0.5 else 0xFFFFFFFF

    def slot(top=20):
        return int(rng.integers(0, top))

    def opnd():
        return IMM if rng.random() < 0.2 else slot()

    imm_choices = [0, 1, 2, 7, 63, 64, 2**31, 2**63, 2**64 - 1, 0x3FF0000000000000, 0x7FF8000000000000]

    def imm():
        return int(rng.choice(imm_choices)) if rng.random() < 0.5 else int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))

    code = [I(Op.CID, dst=20), I(Op.MUL, dst=20, a=20, b=IMM, imm=REGION)]  # s20: this packet's memory block
    body_start = len(code)
    for _pc in range(body_start, body_start + length):
        r = rng.random()
        w = int(rng.choice([1, 2, 4, 8]))
        sg = bool(rng.random() < 0.5)
        if r < 0.45:
            n = int(rng.integers(1, 4))
            dst = slot(20 - n + 1)
            a, b = (slot(20 - n + 1) if rng.random() > 0.2 else IMM), (slot(20 - n + 1) if rng.random() > 0.2 else IMM)
            code.append(I(int(rng.choice(BINARY)), dst=dst, a=a, b=b, imm=imm(), width=w, signed=sg, count=n, node=node()))
        elif r < 0.6:
            code.append(I(int(rng.choice(UNARY)), dst=slot(), a=opnd(), imm=imm(), width=w, signed=sg, node=node()))
        elif r < 0.68:  # memory at s20 + offset: inside this packet's own block, so no two packets race
            off = int(rng.integers(0, REGION // w)) * w
            if rng.random() < 0.5:
                code.append(I(Op.LOAD, dst=slot(), a=20, imm=off, width=w, signed=sg))
            else:
                code.append(I(Op.STORE, a=20, b=slot(), imm=off, width=w))
        elif r < 0.73:
            op = int(rng.choice(list(REDUCE_INDEX)))
            code.append(I(op, a=opnd(), imm=REDUCE_INDEX[op], signed=op in (Op.RMIN, Op.RMAX), width=8, node=node()))
        elif r < 0.78:
            code.append(I(Op.EMIT, dst=int(rng.integers(0, 4)), a=opnd(), imm=imm(), width=w, count=1, node=node()))
        elif r < 0.82:
            code.append(I(Op.HOP, a=IMM, imm=int(rng.integers(0, num_nodes + (rng.random() < 0.1)))))
        elif r < 0.85:
            code.append(I(Op.HASH, dst=slot(17), a=slot(13), b=IMM if rng.random() < 0.5 else slot(17)))
        elif r < 0.88:
            code.append(I(Op.RNG, dst=slot(17), a=slot(17), b=IMM if rng.random() < 0.5 else slot(19), imm=imm()))
        elif r < 0.92:
            code.append(I(Op.NODEID if rng.random() < 0.5 else Op.CID, dst=slot(), node=node()))
        elif r < 0.98:
            code.append(I(Op.BR, a=slot(), alt=-1, node=node()))  # target fixed below
        else:
            code.append(I(Op.TRAP, a=opnd(), imm=imm()))
    code.append(I(Op.EMIT, dst=9, a=0, count=8))
    code.append(I(Op.HALT, a=opnd(), imm=imm()))
    for ins in code:
        if ins.op == Op.BR and ins.alt == -1:
            ins.alt = int(rng.integers(body_start, len(code)))  # backward branches loop until the step limit
    inputs = rng.integers(0, 2**64 - 1, (n_packets, 20), dtype=np.uint64, endpoint=True)
    inputs[:, 8:12] = np.random.default_rng(seed + 1).standard_normal((n_packets, 4)).view(np.uint64)
    prog = Program(code, num_nodes=num_nodes, memory_size=REGION * n_packets, block_shift=6)
    return prog, inputs


def fingerprint(res) -> tuple:
    """Everything a run returns, in a form where NaNs compare by their bits."""
    acc = tuple(sorted((k, np.float64(v).view(np.uint64).item() if isinstance(v, float) else v) for k, v in res.accumulators.items()))
    em = res.emits[["computation_id", "seq", "lane", "tag", "width", "value"]]
    return res.packets.tobytes(), em.tobytes(), acc, res.memory
