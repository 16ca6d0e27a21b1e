"""Instruction semantics against independent anchors: numpy fixed-width arithmetic, Python integers with C's
division rules, numpy float64, hashlib's SHA-256 and numpy's Philox generator."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from packetfs.compute import IMM, Instruction, Op, Program, run_program
from packetfs.compute.isa import TABLE, markdown

REPO = Path(__file__).resolve().parents[2]
WIDTH_DTYPES = {(1, False): np.uint8, (1, True): np.int8, (2, False): np.uint16, (2, True): np.int16,
                (4, False): np.uint32, (4, True): np.int32, (8, False): np.uint64, (8, True): np.int64}  # fmt: skip


def one_op(op, *, width=8, signed=False, count=1, b=1, imm=0) -> Program:
    return Program(
        [Instruction(op, dst=2, a=0, b=b, width=width, signed=signed, count=count, imm=imm), Instruction(Op.HALT, a=IMM)]
    )


def run_inputs(prog, inputs, **kw):
    return run_program(prog, prog.packets(len(inputs), inputs=inputs), **kw)


def test_docs_table_is_generated_from_the_one_table():
    assert (REPO / "docs" / "compute-isa.md").read_text() == markdown()
    assert len({s.code for s in TABLE}) == len(TABLE) and len({s.name for s in TABLE}) == len(TABLE)


def _samples(rng, n=4000):
    edge = np.array([0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 2**31 - 1, 2**31, 2**32 - 1, 2**63 - 1,
                     2**63, 2**64 - 1, 2**64 - 2], dtype=np.uint64)  # fmt: skip
    a = np.concatenate([rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True), np.repeat(edge, len(edge))])
    b = np.concatenate([rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True), np.tile(edge, len(edge))])
    return a, b


NUMPY_BINARY = {Op.ADD: np.add, Op.SUB: np.subtract, Op.MUL: np.multiply, Op.AND: np.bitwise_and,
                Op.OR: np.bitwise_or, Op.XOR: np.bitwise_xor}  # fmt: skip


@pytest.mark.parametrize("width", [1, 2, 4, 8])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("op", list(NUMPY_BINARY))
def test_wrapping_integer_ops_match_numpy_fixed_width(op, width, signed):
    a, b = _samples(np.random.default_rng(width * 7 + signed))
    res = run_inputs(one_op(op, width=width, signed=signed), np.stack([a, b], axis=1))
    dt = WIDTH_DTYPES[(width, signed)]
    with np.errstate(over="ignore"):
        want = NUMPY_BINARY[op](a.astype(dt), b.astype(dt)).astype(np.int64 if signed else np.uint64).astype(np.uint64)
    assert (res.packets["input_data"][:, 2] == want).all()


def _c_div(x: int, y: int, bits: int, signed: bool) -> tuple[int, int]:
    m = 2**bits
    x, y = x % m, y % m
    if signed:
        x = x - m if x >= m // 2 else x
        y = y - m if y >= m // 2 else y
        q = abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
        r = x - q * y
        return q % m, r % m
    return x // y, x % y


@pytest.mark.parametrize("width", [1, 2, 4, 8])
@pytest.mark.parametrize("op", [Op.DIVU, Op.DIVS, Op.MODU, Op.MODS])
def test_division_has_c_semantics(op, width):
    a, b = _samples(np.random.default_rng(3 + width), n=600)
    signed = op in (Op.DIVS, Op.MODS)
    keep = (b & np.uint64(2 ** (8 * width) - 1)) != 0
    a, b = a[keep], b[keep]
    res = run_inputs(one_op(op, width=width, signed=signed), np.stack([a, b], axis=1))
    assert res.ok
    bits = 8 * width
    for x, y, got in zip(a.tolist(), b.tolist(), res.packets["input_data"][:, 2].tolist(), strict=True):
        q, r = _c_div(x, y, bits, signed)
        v = q if op in (Op.DIVU, Op.DIVS) else r
        if signed and v >= 2 ** (bits - 1):
            v = v - 2**bits
        assert got == v % 2**64, (x, y)


@pytest.mark.parametrize("width", [1, 2, 4, 8])
def test_shifts_and_compares_match_numpy(width):
    rng = np.random.default_rng(11)
    a, b = _samples(rng, n=2000)
    n = b % np.uint64(8 * width)
    for signed, dt in ((False, WIDTH_DTYPES[(width, False)]), (True, WIDTH_DTYPES[(width, True)])):
        x = a.astype(dt)
        ext = (lambda v: v.astype(np.int64).astype(np.uint64)) if signed else (lambda v: v.astype(np.uint64))
        cases = {
            Op.SHL: ext(x << n.astype(dt)),
            (Op.SAR if signed else Op.SHR): ext(x >> n.astype(dt)),
        }
        for op, want in cases.items():
            res = run_inputs(one_op(op, width=width, signed=signed), np.stack([a, b], axis=1))
            assert (res.packets["input_data"][:, 2] == want).all(), op
        y = b.astype(dt)
        cmps = {Op.LTS: np.less, Op.LES: np.less_equal, Op.GTS: np.greater, Op.GES: np.greater_equal} if signed else {
            Op.LTU: np.less, Op.LEU: np.less_equal, Op.GTU: np.greater, Op.GEU: np.greater_equal,
            Op.EQ: np.equal, Op.NE: np.not_equal}  # fmt: skip
        for op, fn in cmps.items():
            res = run_inputs(one_op(op, width=width), np.stack([a, b], axis=1))
            assert (res.packets["input_data"][:, 2] == fn(x, y).astype(np.uint64)).all(), op


def test_mov_truncates_and_extends_like_c_casts():
    a = np.array([0x1_8000_0000, 0xFFFF_FF80, 0x1234_5678_9ABC_DEF0], dtype=np.uint64)
    for width, signed in WIDTH_DTYPES:
        res = run_inputs(one_op(Op.MOV, width=width, signed=signed), a[:, None])
        want = a.astype(WIDTH_DTYPES[(width, signed)]).astype(np.int64 if signed else np.uint64).astype(np.uint64)
        assert (res.packets["input_data"][:, 2] == want).all()


def test_lanes_and_immediates():
    x = np.arange(16 * 5, dtype=np.uint64).reshape(5, 16)
    prog = Program([Instruction(Op.MUL, dst=0, a=0, b=IMM, imm=3, count=16), Instruction(Op.HALT, a=IMM)])
    # dst 0 with 16 lanes is fine; the runtime word (s23) is never reachable by a write
    res = run_inputs(prog, x)
    assert (res.packets["input_data"] == x * np.uint64(3)).all()


FLOAT_OPS = {Op.FADD: np.add, Op.FSUB: np.subtract, Op.FMUL: np.multiply, Op.FDIV: np.divide, Op.FMIN: np.fmin,
             Op.FMAX: np.fmax}  # fmt: skip (quiet NaNs only here: numpy's fmin/fmax vary on signaling NaNs)


def _fsamples(rng, n=3000):
    special = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308, 2.0**63,
                        -(2.0**63), 2.0**64, 0.5, -0.5, 1e-300])  # fmt: skip
    a = np.concatenate([rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n), np.repeat(special, len(special))])
    b = np.concatenate([rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n), np.tile(special, len(special))])
    return a, b


@pytest.mark.parametrize("op", list(FLOAT_OPS))
def test_float_ops_bit_identical_to_numpy(op):
    a, b = _fsamples(np.random.default_rng(5))
    res = run_inputs(one_op(op), np.stack([a, b], axis=1))
    with np.errstate(all="ignore"):
        want = FLOAT_OPS[op](a, b)
    keep = ~((a == 0) & (b == 0)) if op in (Op.FMIN, Op.FMAX) else np.ones(len(a), dtype=bool)  # +-0 ties: below
    assert (res.packets["input_data"][:, 2][keep] == want.view(np.uint64)[keep]).all()


def test_float_unary_compare_and_conversions():
    a, b = _fsamples(np.random.default_rng(6))
    with np.errstate(all="ignore"):
        unary = {Op.FNEG: -a, Op.FABS: np.abs(a), Op.FSQRT: np.sqrt(a), Op.FROUND32: a.astype(np.float32).astype(np.float64)}
        for op, want in unary.items():
            res = run_inputs(one_op(op), a[:, None])
            assert (res.packets["input_data"][:, 2] == want.view(np.uint64)).all(), op
        for op, fn in {Op.FEQ: np.equal, Op.FNE: np.not_equal, Op.FLT: np.less, Op.FLE: np.less_equal}.items():
            res = run_inputs(one_op(op), np.stack([a, b], axis=1))
            assert (res.packets["input_data"][:, 2] == fn(a, b)).all(), op
        res = run_inputs(one_op(Op.F2I), a[:, None])
        got = res.packets["input_data"][:, 2]
        inrange = (a >= -(2.0**63)) & (a < 2.0**63)
        assert (got[inrange] == np.trunc(a[inrange]).astype(np.int64).view(np.uint64)).all()
        assert (got[~inrange] == np.uint64(2**63)).all()
    ints = np.array([0, 1, 2**53 + 1, 2**63, 2**64 - 1, 12345], dtype=np.uint64)
    res = run_inputs(one_op(Op.I2F), ints[:, None])
    assert (res.packets["input_data"][:, 2] == ints.view(np.int64).astype(np.float64).view(np.uint64)).all()
    res = run_inputs(one_op(Op.U2F), ints[:, None])
    assert (res.packets["input_data"][:, 2] == ints.astype(np.float64).view(np.uint64)).all()
    res = run_inputs(one_op(Op.I2F, width=4), ints[:, None])
    assert (res.packets["input_data"][:, 2] == ints.astype(np.int32).astype(np.float64).view(np.uint64)).all()


def _block_slots(block: bytes) -> np.ndarray:
    return np.frombuffer(block, dtype="<u8")


def _pad(msg: bytes) -> bytes:
    bitlen = len(msg) * 8
    msg += b"\x80" + b"\0" * ((55 - len(msg)) % 64)
    return msg + struct.pack(">Q", bitlen)


def test_hash_is_sha256_compression_checked_against_hashlib():
    rng = np.random.default_rng(9)
    msgs = [rng.bytes(int(n)) for n in rng.integers(0, 56, 200)]  # one block each after padding
    blocks = np.stack([_block_slots(_pad(m)) for m in msgs])
    prog = Program([Instruction(Op.HASH, dst=8, a=0, b=IMM), Instruction(Op.HALT, a=IMM)])
    res = run_inputs(prog, blocks)
    for m, row in zip(msgs, res.packets["input_data"], strict=True):
        assert row[8:12].astype("<u8").tobytes() == hashlib.sha256(m).digest()
    # two blocks: the chaining value comes from slots
    long_msgs = [rng.bytes(int(n)) for n in rng.integers(64, 120, 50)]
    padded = [_pad(m) for m in long_msgs]
    inputs = np.stack([np.concatenate([_block_slots(p[:64]), _block_slots(p[64:])]) for p in padded])
    prog = Program([
        Instruction(Op.HASH, dst=16, a=0, b=IMM),
        Instruction(Op.HASH, dst=16, a=8, b=16),
        Instruction(Op.HALT, a=IMM),
    ])  # fmt: skip
    res = run_inputs(prog, inputs)
    for m, row in zip(long_msgs, res.packets, strict=True):
        assert row["state"][0:4].astype("<u8").tobytes() == hashlib.sha256(m).digest()


def test_rng_is_philox4x64_10_like_numpy_and_u01_like_numpy_random():
    rng = np.random.default_rng(2)
    ctr = rng.integers(1, 2**64 - 1, (100, 4), dtype=np.uint64)
    key = rng.integers(0, 2**64 - 1, (100, 2), dtype=np.uint64)
    prog = Program([Instruction(Op.RNG, dst=8, a=0, b=4), Instruction(Op.U01, dst=12, a=8, count=4), Instruction(Op.HALT, a=IMM)])
    res = run_inputs(prog, np.concatenate([ctr, key], axis=1))
    for c, k, row in zip(ctr, key, res.packets["input_data"], strict=True):
        c0 = c.copy()
        c0[0] -= np.uint64(1)  # numpy increments the counter before each block of four
        bg = np.random.Philox(counter=c0, key=k)
        assert (row[8:12] == bg.random_raw(4)).all()
        want = np.random.Generator(np.random.Philox(counter=c0, key=k)).random(4)
        assert (row[12:16].view(np.float64) == want).all()


def test_fmin_fmax_follow_c_for_signaling_nans_and_signed_zeros():
    snan = np.array(0x7FF472063454E7E2, dtype=np.uint64).view(np.float64)
    a = np.array([snan, 1.0, -0.0, 0.0, np.nan, 3.0])
    b = np.array([-5.5, snan, 0.0, -0.0, np.nan, 2.0])
    for n in (1, len(a)):  # a batch of one runs numpy's scalar path, a longer one its vector path
        for op, want in ((Op.FMAX, [-5.5, 1.0, 0.0, 0.0, np.nan, 3.0]), (Op.FMIN, [-5.5, 1.0, -0.0, -0.0, np.nan, 2.0])):
            got = run_inputs(one_op(op), np.stack([a, b], axis=1)[:n]).packets["input_data"][:, 2].view(np.float64)
            w = np.array(want[:n])
            assert ((got == w) & (np.signbit(got) == np.signbit(w)) | (np.isnan(got) & np.isnan(w))).all()
            if n > 1:
                break


def test_nan_propagation_is_x86s_rule_for_any_batch_size():
    """numpy's loops propagate different NaN operands by array length; the fabric's rule is fixed."""
    na = np.array(0x7FF4000000000001, dtype=np.uint64)  # signaling, payload 1
    nb = np.array(0xFFF8000000000002, dtype=np.uint64)  # quiet, negative, payload 2
    one = np.array(1.0).view(np.uint64)
    rows = np.array([[na, nb], [one, nb], [na, one], [one, one]], dtype=np.uint64)
    want = [0x7FFC000000000001, 0xFFF8000000000002, 0x7FFC000000000001, None]
    for op in (Op.FADD, Op.FSUB, Op.FMUL, Op.FDIV):
        for reps in (1, 37):
            got = run_inputs(one_op(op), np.repeat(rows, reps, axis=0)).packets["input_data"][:, 2].reshape(4, reps)
            for w, g in zip(want, got, strict=True):
                if w is not None:
                    assert (g == np.uint64(w)).all(), (op, reps)
