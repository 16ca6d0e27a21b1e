"""Summing the workers' gradients on the fabric, two ways, both exact on fixed-point integers.

Gradients are quantized to 32-bit fixed point (``FRACTION_BITS`` fractional bits, round half to even), as
SwitchML quantizes to 32-bit integers so a switch can add them, and two values share each 64-bit slot
(``(hi << 32) + lo``): a wrapping 64-bit add of packed words adds both halves, the low half's carry
landing in the high half, and as long as each sum fits in 31 bits both are recovered exactly
(``unpack_pairs``). Integer addition is associative, so the sum, and with it the whole training run, is the
same whatever the order packets arrive in, the backend or the number of processes.

* ``aggregate`` (SwitchML style, an in-network aggregator): logical nodes 0..K-1 are the workers, node K
  the aggregator. Worker k sends its gradient as packets of 16 values; each packet's first instruction runs
  at the worker (where it was made), its second, RADD into accumulators 16c..16c+15, at the aggregator.
  The aggregator's sums then travel back to every worker as packets (HOP to the worker, HALT there).
* ``ring`` (the baseline, ring all-reduce over the same transport): each worker's gradient sits in the
  fabric memory of its own node; one packet per 8 values starts at worker c mod K, LOADs that worker's
  values and goes round the ring adding the next worker's (each LOAD runs where the data is, so each is a
  hop), then goes round again STOREing the sum into every worker's memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...isa import ANY, IMM, Op
from ...runtime.program import Instruction, Program
from ..errors import VerificationError
from ..fabric import Fabric

FRACTION_BITS = 20
LANES = 16  # u64 slots per aggregator packet: 32 gradient values
RING_LANES = 8  # u64 slots per ring packet (the other 8 hold what it loads): 16 values
RING_BLOCK_SHIFT = 12  # 4 KiB shard blocks: 512 values per block
_VALUES_PER_BLOCK = (1 << RING_BLOCK_SHIFT) // 8


def quantize(g: np.ndarray, workers: int) -> np.ndarray:
    """float64 gradient -> int64 holding 32-bit fixed point; refuses values whose K-fold sum could leave
    31 bits (the packed halves would then no longer separate)."""
    scaled = np.rint(g * float(1 << FRACTION_BITS))
    limit = float(1 << 31) / max(workers, 1)
    if not np.all(np.abs(scaled) < limit):
        raise VerificationError("a gradient is too large for the 32-bit fixed-point format (training diverged?)")
    return scaled.astype(np.int64)


def pack_pairs(q: np.ndarray, words: int) -> np.ndarray:
    """int values (|v| < 2**31) -> ``words`` uint64 words, value 2i in the low half of word i, 2i+1 high."""
    padded = np.zeros(2 * words, dtype=np.int64)
    padded[: len(q)] = q
    lo, hi = padded[0::2], padded[1::2]
    return ((hi << np.int64(32)) + lo).view(np.uint64)


def unpack_pairs(words: np.ndarray, n: int) -> np.ndarray:
    """Inverse of pack_pairs on a sum of packed words (each half's sum within 31 bits)."""
    w = words.view(np.int64)
    lo = (w << np.int64(32)) >> np.int64(32)  # sign-extend the low half
    hi = (w - lo) >> np.int64(32)
    out = np.empty(2 * len(w), dtype=np.int64)
    out[0::2], out[1::2] = lo, hi
    return out[:n]


def dequantize(q: np.ndarray) -> np.ndarray:
    return q.astype(np.float64) / float(1 << FRACTION_BITS)


@dataclass
class ReduceStats:
    packets: int = 0
    hops: int = 0
    bytes_moved: int = 0


class Aggregator:
    """The SwitchML-style sum: worker packets -> RADD at the aggregator node -> broadcast back."""

    def __init__(self, size: int, workers: int) -> None:
        self.size = size
        self.workers = workers
        self.words = -(-size // 2)
        self.chunks = -(-self.words // LANES)
        agg = workers
        c = self.chunks
        # pc 0 runs at the worker and jumps to its chunk's RADD (pc 1 + chunk, held in s20), which runs at
        # the aggregator: one instruction per 16-slot accumulator range, since a REDUCE's range is its
        # immediate.
        code = [Instruction(Op.RET, a=20, node=ANY)]
        code += [Instruction(Op.RADD, a=0, imm=LANES * k, count=LANES, node=agg, next=c + 1) for k in range(c)]
        code.append(Instruction(Op.HALT, a=IMM, imm=0, node=ANY))
        self.reduce_program = Program(code, num_nodes=workers + 1, name="switchml-aggregate")
        self.broadcast_program = Program(
            [Instruction(Op.HOP, a=16, node=ANY), Instruction(Op.HALT, a=IMM, imm=0, node=ANY)],
            num_nodes=workers + 1, name="switchml-broadcast",
        )
        self._chunk_of = np.tile(np.arange(c, dtype=np.uint32), workers)
        self._worker_of = np.repeat(np.arange(workers, dtype=np.uint32), c)

    def allreduce(self, fabric: Fabric, grads: list[np.ndarray], stats: ReduceStats) -> np.ndarray:
        """The exact sum of the workers' int64 gradients, as every worker receives it."""
        k, c = self.workers, self.chunks
        inputs = np.zeros((k * c, 21), dtype=np.uint64)
        for w, g in enumerate(grads):
            inputs[w * c : (w + 1) * c, :LANES] = pack_pairs(g, c * LANES).reshape(c, LANES)
        inputs[:, 20] = self._chunk_of + 1
        p = self.reduce_program.packets(k * c, inputs=inputs, nodes=self._worker_of)
        r = fabric.run(self.reduce_program, p)
        total = np.array([r.accumulators.get(i, 0) for i in range(c * LANES)], dtype=np.uint64)
        down = np.zeros((k * c, 17), dtype=np.uint64)
        down[:, :LANES] = np.tile(total.reshape(c, LANES), (k, 1))
        down[:, 16] = self._worker_of
        b = fabric.run(self.broadcast_program,
                       self.broadcast_program.packets(k * c, inputs=down, nodes=np.full(k * c, k, dtype=np.uint32)))
        received = b.packets["input_data"].reshape(k, c * LANES)
        if not (b.packets["next_node_id"] == self._worker_of).all():
            raise VerificationError("a broadcast packet did not finish at its worker")
        if not (received == received[0]).all():
            raise VerificationError("the workers received different sums")
        for res in (r, b):
            stats.packets += res.stats.packets
            stats.hops += res.stats.hops
            stats.bytes_moved += res.stats.bytes_moved
        return unpack_pairs(received[0], self.size)


class Ring:
    """Ring all-reduce as a packet program over the workers' memory shards (the baseline)."""

    def __init__(self, size: int, workers: int) -> None:
        self.size = size
        self.workers = workers
        self.words = -(-size // 2)
        self.chunks = -(-self.words // RING_LANES)
        self.blocks = -(-self.words // _VALUES_PER_BLOCK)
        k = workers
        code = [
            Instruction(Op.SHL, dst=16, a=17, b=IMM, imm=RING_BLOCK_SHIFT),  # 0: addr = base + w * block
            Instruction(Op.ADD, dst=16, a=16, b=19),  # 1
            Instruction(Op.LOAD, dst=0, a=16, count=RING_LANES),  # 2: at worker w: sum = its values
            Instruction(Op.BR, a=18, alt=4, next=11),  # 3: while hops left
            Instruction(Op.ADD, dst=17, a=17, b=IMM, imm=1),  # 4: w = (w + 1) mod K
            Instruction(Op.MODU, dst=17, a=17, b=IMM, imm=k),  # 5
            Instruction(Op.SHL, dst=16, a=17, b=IMM, imm=RING_BLOCK_SHIFT),  # 6
            Instruction(Op.ADD, dst=16, a=16, b=19),  # 7
            Instruction(Op.LOAD, dst=8, a=16, count=RING_LANES),  # 8: hop to worker w, read its values
            Instruction(Op.ADD, dst=0, a=0, b=8, count=RING_LANES),  # 9
            Instruction(Op.SUB, dst=18, a=18, b=IMM, imm=1, next=3),  # 10
            Instruction(Op.MOV, dst=18, a=IMM, imm=k),  # 11: all-gather: K stores
            Instruction(Op.ADD, dst=17, a=17, b=IMM, imm=1),  # 12
            Instruction(Op.MODU, dst=17, a=17, b=IMM, imm=k),  # 13
            Instruction(Op.SHL, dst=16, a=17, b=IMM, imm=RING_BLOCK_SHIFT),  # 14
            Instruction(Op.ADD, dst=16, a=16, b=19),  # 15
            Instruction(Op.STORE, a=16, b=0, count=RING_LANES),  # 16: hop to worker w, write the sum
            Instruction(Op.SUB, dst=18, a=18, b=IMM, imm=1),  # 17
            Instruction(Op.BR, a=18, alt=12, next=19),  # 18
            Instruction(Op.HALT, a=IMM, imm=0),  # 19
        ]
        self.code = code
        c = np.arange(self.chunks, dtype=np.uint64)
        element = c * np.uint64(RING_LANES)
        row = element // np.uint64(_VALUES_PER_BLOCK)
        # worker w's block i is global block w + K*i (block b belongs to node b mod K)
        self._base = (row * np.uint64(k) << np.uint64(RING_BLOCK_SHIFT)) + (element % np.uint64(_VALUES_PER_BLOCK)) * np.uint64(8)
        self._start = (c % np.uint64(k)).astype(np.uint32)

    def _image(self, grads: list[np.ndarray]) -> bytes:
        k = self.workers
        mem = np.zeros((self.blocks, k, _VALUES_PER_BLOCK), dtype=np.int64)  # block row, worker, value
        for w, g in enumerate(grads):
            mem[:, w, :] = pack_pairs(g, self.blocks * _VALUES_PER_BLOCK).view(np.int64).reshape(self.blocks, -1)
        return mem.tobytes()

    def allreduce(self, fabric: Fabric, grads: list[np.ndarray], stats: ReduceStats) -> np.ndarray:
        k = self.workers
        program = Program(self.code, num_nodes=k, memory=self._image(grads), block_shift=RING_BLOCK_SHIFT,
                          name="ring-allreduce")
        inputs = np.zeros((self.chunks, 20), dtype=np.uint64)  # s16 address, s17 worker, s18 hops, s19 base
        inputs[:, 17] = self._start
        inputs[:, 18] = k - 1
        inputs[:, 19] = self._base
        r = fabric.run(program, program.packets(self.chunks, inputs=inputs, nodes=self._start), collect_memory=True)
        mem = np.frombuffer(r.memory, dtype=np.int64).reshape(self.blocks, k, _VALUES_PER_BLOCK)
        if not (mem == mem[:, :1, :]).all():
            raise VerificationError("the ring left different sums at different workers")
        stats.packets += r.stats.packets
        stats.hops += r.stats.hops
        stats.bytes_moved += r.stats.bytes_moved
        return unpack_pairs(mem[:, 0, :].reshape(-1).view(np.uint64), self.size)
