"""Whole-array operations as packet programs (what `packetfs compute --operation OP` runs), each with its
numpy/hashlib anchor.

* Elementwise (ADD, SUB, MUL, AND, OR, XOR on uint64; FADD, FSUB, FMUL, FDIV on float64): a packet carries
  8 elements of each operand (s0..s7, s8..s15), runs one 8-lane instruction and EMITs the 8 results. The
  data is split into K contiguous shares, one per node; packets start at their share's node and never hop.
* HASH: SHA-256 of messages of at most 55 bytes (one block after padding): a packet carries the padded
  block, runs HASH from the IV, EMITs the 32-byte digest. Anchor: hashlib.sha256.
* MATMUL (float64, or uint64 with wrapping): A (n×m) @ B (m×p). Node r's memory block holds a copy of Bᵀ and
  the rows of A it owns; packet (i, j) starts at the node owning row i and loops over m in chunks of 4: two
  4-lane LOADs, a 4-lane multiply and a 4-lane accumulate, then sums its 4 lanes and EMITs C[i, j]. Every
  load is local, so packets never hop. Anchor: numpy's matmul (exact for uint64; for float64 the summation
  order differs from BLAS, so the check is np.allclose and the largest difference is reported).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .isa import IMM, Op
from .runtime.program import MAX_MEMORY, Instruction, Program
from .runtime.records import FabricError, RunResult

I = Instruction  # noqa: E741

ELEMENTWISE = {
    "ADD": (Op.ADD, np.uint64, np.add), "SUB": (Op.SUB, np.uint64, np.subtract),
    "MUL": (Op.MUL, np.uint64, np.multiply), "AND": (Op.AND, np.uint64, np.bitwise_and),
    "OR": (Op.OR, np.uint64, np.bitwise_or), "XOR": (Op.XOR, np.uint64, np.bitwise_xor),
    "FADD": (Op.FADD, np.float64, np.add), "FSUB": (Op.FSUB, np.float64, np.subtract),
    "FMUL": (Op.FMUL, np.float64, np.multiply), "FDIV": (Op.FDIV, np.float64, np.divide),
}  # fmt: skip
OPERATIONS = (*ELEMENTWISE, "HASH", "MATMUL")
LANES = 8
MAX_ELEMENTS = 1 << 26
MAX_MATMUL_SIDE = 2048


@dataclass
class Job:
    """A program, its packets, how to read the result back, and the anchor that checks it."""

    operation: str
    program: Program
    packets: np.ndarray
    collect: Callable[[RunResult], np.ndarray]
    anchor: Callable[[], np.ndarray]
    anchor_name: str
    useful_ops: int  # element operations (MATMUL: 2*n*m*p flops; HASH: compressions)
    exact: bool  # True: the result must equal the anchor bit for bit


def generate(operation: str, size: int, seed: int) -> list[np.ndarray]:
    """Inputs for ``operation`` when none are given: ``size`` elements (MATMUL: size×size matrices)."""
    rng = np.random.default_rng(seed)
    op = operation.upper()
    if not 1 <= size <= (MAX_MATMUL_SIDE if op == "MATMUL" else MAX_ELEMENTS):
        limit = MAX_MATMUL_SIDE if op == "MATMUL" else MAX_ELEMENTS
        raise FabricError(f"{op}: --size must be 1..{limit:,}")
    if op in ELEMENTWISE:
        dt = ELEMENTWISE[op][1]
        if dt == np.uint64:
            return [rng.integers(0, 2**64 - 1, size, dtype=np.uint64, endpoint=True) for _ in range(2)]
        return [rng.standard_normal(size), rng.standard_normal(size)]
    if op == "HASH":
        return [rng.integers(0, 256, (size, 55), dtype=np.uint8)]
    if op == "MATMUL":
        return [rng.standard_normal((size, size)), rng.standard_normal((size, size))]
    raise FabricError(f"unknown operation {operation!r}; choose one of {', '.join(OPERATIONS)}")


def build(operation: str, inputs: list[np.ndarray], nodes: int) -> Job:
    op = operation.upper()
    if nodes < 1:
        raise FabricError("nodes must be >= 1")
    if op in ELEMENTWISE:
        return _elementwise(op, inputs, nodes)
    if op == "HASH":
        return _hash(inputs, nodes)
    if op == "MATMUL":
        return _matmul(inputs, nodes)
    raise FabricError(f"unknown operation {operation!r}; choose one of {', '.join(OPERATIONS)}")


def _shares(npackets: int, nodes: int) -> np.ndarray:
    """Node of each packet: K contiguous shares."""
    return (np.arange(npackets, dtype=np.uint64) * np.uint64(nodes) // np.uint64(max(npackets, 1))).astype(np.uint32)


def _elementwise(op: str, inputs: list[np.ndarray], nodes: int) -> Job:
    code, dt, fn = ELEMENTWISE[op]
    if len(inputs) != 2:
        raise FabricError(f"{op} takes two input arrays")
    a, b = (np.asarray(x) for x in inputs)
    if a.shape != b.shape:
        raise FabricError(f"{op}: input shapes differ: {a.shape} vs {b.shape}")
    if a.dtype != dt or b.dtype != dt:
        raise FabricError(f"{op} works on {np.dtype(dt).name} arrays; got {a.dtype} and {b.dtype}")
    if a.size > MAX_ELEMENTS:
        raise FabricError(f"{op}: at most {MAX_ELEMENTS} elements")
    shape, n = a.shape, a.size
    npk = -(-n // LANES)
    slots = np.zeros((npk, 2 * LANES), dtype=np.uint64)
    for half, x in ((slice(0, LANES), a), (slice(LANES, 2 * LANES), b)):
        flat = np.zeros(npk * LANES, dtype=np.uint64)
        flat[:n] = np.ascontiguousarray(x).reshape(-1).view(np.uint64)
        slots[:, half] = flat.reshape(npk, LANES)
    prog = Program(
        [I(code, dst=0, a=0, b=LANES, count=LANES), I(Op.EMIT, a=0, count=LANES), I(Op.HALT, a=IMM)],
        num_nodes=nodes, name=f"elementwise {op}",
    )  # fmt: skip
    packets = prog.packets(npk, inputs=slots, nodes=_shares(npk, nodes))

    def collect(res: RunResult) -> np.ndarray:
        return res.emits["value"][:n].copy().view(dt).reshape(shape)

    def anchor() -> np.ndarray:
        with np.errstate(all="ignore"):
            return fn(a, b)

    return Job(op, prog, packets, collect, anchor, f"numpy.{fn.__name__}", n, True)


def pad_message(msg: bytes) -> bytes:
    """SHA-256 padding of a message of at most 55 bytes: one 64-byte block."""
    if len(msg) > 55:
        raise FabricError("HASH takes messages of at most 55 bytes (one SHA-256 block)")
    return msg + b"\x80" + b"\0" * (55 - len(msg)) + struct.pack(">Q", 8 * len(msg))


def _hash(inputs: list[np.ndarray], nodes: int) -> Job:
    if len(inputs) != 1:
        raise FabricError("HASH takes one input array: uint8, one message per row (at most 55 bytes)")
    msgs = np.asarray(inputs[0])
    if msgs.dtype != np.uint8 or msgs.ndim != 2 or msgs.shape[1] > 55:
        raise FabricError("HASH input must be a uint8 array of shape (N, L) with L <= 55")
    if len(msgs) > MAX_ELEMENTS:
        raise FabricError(f"HASH: at most {MAX_ELEMENTS} messages")
    n, length = msgs.shape
    blocks = np.zeros((n, 64), dtype=np.uint8)
    blocks[:, :length] = msgs
    blocks[:, length] = 0x80
    blocks[:, 56:] = np.frombuffer(struct.pack(">Q", 8 * length), dtype=np.uint8)
    prog = Program([I(Op.HASH, dst=8, a=0, b=IMM), I(Op.EMIT, a=8, count=4), I(Op.HALT, a=IMM)], num_nodes=nodes, name="sha256")
    packets = prog.packets(n, inputs=blocks.view("<u8"), nodes=_shares(n, nodes))

    def collect(res: RunResult) -> np.ndarray:
        return res.emits["value"].astype("<u8").view(np.uint8).reshape(n, 32)

    def anchor() -> np.ndarray:
        return np.frombuffer(b"".join(hashlib.sha256(m.tobytes()).digest() for m in msgs), dtype=np.uint8).reshape(n, 32)

    return Job("HASH", prog, packets, collect, anchor, "hashlib.sha256", n, True)


def _matmul(inputs: list[np.ndarray], nodes: int) -> Job:
    if len(inputs) != 2:
        raise FabricError("MATMUL takes two input matrices")
    a, b = (np.asarray(x) for x in inputs)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise FabricError(f"MATMUL: shapes {a.shape} and {b.shape} do not multiply")
    if a.dtype != b.dtype or a.dtype not in (np.float64, np.uint64):
        raise FabricError("MATMUL works on two float64 or two uint64 matrices")
    is_float = a.dtype == np.float64
    n, m = a.shape
    p = b.shape[1]
    m4 = -(-m // 4) * 4
    if n * p > MAX_ELEMENTS or (p + n) * m4 * 8 > (1 << 24):  # checked before anything is allocated
        raise FabricError(f"MATMUL of {a.shape} by {b.shape} is larger than the fabric allows (16 MiB of A and B per node)")
    a_pad = np.zeros((n, m4), dtype=a.dtype)
    a_pad[:, :m] = a
    bt = np.zeros((p, m4), dtype=a.dtype)
    bt[:, :m] = b.T
    row_node = _shares(n, nodes)
    rows_per = np.bincount(row_node, minlength=nodes).max() if n else 0
    need = bt.nbytes + int(rows_per) * m4 * 8
    shift = max(12, int(need - 1).bit_length())
    if nodes << shift > MAX_MEMORY or shift > 24:
        raise FabricError(f"MATMUL of {a.shape} by {b.shape} needs more node memory than the fabric allows")
    block = 1 << shift
    image = np.zeros(nodes * block, dtype=np.uint8)
    a_addr = np.zeros(n, dtype=np.uint64)
    for r in range(nodes):
        base = r * block  # node r owns block r: a copy of Bᵀ, then its rows of A
        image[base : base + bt.nbytes] = bt.view(np.uint8).reshape(-1)
        mine = np.flatnonzero(row_node == r)
        off = base + bt.nbytes
        image[off : off + len(mine) * m4 * 8] = a_pad[mine].view(np.uint8).reshape(-1)
        a_addr[mine] = off + np.arange(len(mine), dtype=np.uint64) * np.uint64(m4 * 8)
    mul, add = (Op.FMUL, Op.FADD) if is_float else (Op.MUL, Op.ADD)
    code = [
        I(Op.MOV, dst=8, a=IMM, imm=0, count=4),       # 0: 4 partial sums (0.0 and 0 have the same bits)
        I(Op.LOAD, dst=0, a=16, count=4),              # 1: A[i, k:k+4]   (local: this node's block)
        I(Op.LOAD, dst=4, a=17, count=4),              # 2: Bᵀ[j, k:k+4]
        I(mul, dst=0, a=0, b=4, count=4),              # 3
        I(add, dst=8, a=8, b=0, count=4),              # 4
        I(Op.ADD, dst=16, a=16, b=IMM, imm=32),        # 5
        I(Op.ADD, dst=17, a=17, b=IMM, imm=32),        # 6
        I(Op.LTU, dst=19, a=16, b=18),                 # 7
        I(Op.BR, a=19, alt=1),                         # 8: while the A pointer is before the row's end
        I(add, dst=8, a=8, b=9),                       # 9: (s8 + s9) + (s10 + s11)
        I(add, dst=10, a=10, b=11),
        I(add, dst=8, a=8, b=10),
        I(Op.EMIT, a=8),
        I(Op.HALT, a=IMM),
    ]  # fmt: skip
    prog = Program(code, num_nodes=nodes, memory=image.tobytes(), block_shift=shift, name="matmul")
    ii, jj = np.divmod(np.arange(n * p, dtype=np.uint64), np.uint64(p))
    slots = np.zeros((n * p, 20), dtype=np.uint64)
    node_of = row_node[ii.astype(np.int64)] if n else np.zeros(0, dtype=np.uint32)
    slots[:, 16] = a_addr[ii.astype(np.int64)] if n else 0
    slots[:, 17] = node_of.astype(np.uint64) * np.uint64(block) + jj * np.uint64(m4 * 8)
    slots[:, 18] = slots[:, 16] + np.uint64(m4 * 8)
    packets = prog.packets(n * p, inputs=slots, nodes=node_of)
    if m4 == 0:
        raise FabricError("MATMUL needs at least one column in A")

    def collect(res: RunResult) -> np.ndarray:
        return res.emits["value"].copy().view(a.dtype).reshape(n, p)

    def anchor() -> np.ndarray:
        with np.errstate(all="ignore"):
            return a @ b

    return Job("MATMUL", prog, packets, collect, anchor, "numpy.matmul", 2 * n * m * p, not is_float)


def check(job: Job, got: np.ndarray, want: np.ndarray) -> tuple[bool, float]:
    """(matches, largest absolute difference). Exact jobs compare bits; float MATMUL uses np.allclose."""
    if got.shape != want.shape:
        return False, float("inf")
    if job.exact:
        same = got.tobytes() == want.tobytes()
        if not same and got.dtype == np.float64:  # NaNs compare by bits above; equal values may differ in NaN bits
            same = bool(np.array_equal(got, want, equal_nan=True))
        diff = 0.0 if same else float("nan")
        return same, diff
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    return bool(np.allclose(got, want, rtol=1e-10, atol=1e-10)), diff
