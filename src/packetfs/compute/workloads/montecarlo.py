"""Monte Carlo integration as packet programs (``packetfs deploy --operation MONTE_CARLO``).

Every packet draws its random numbers with the fabric's RNG instruction, Philox4x64-10 keyed by the seed
with the packet's global index as the counter. A sample therefore belongs to its index, not to the node or
backend that drew it, and the sums are exact (integer RADD, or RFSUM's correctly rounded sum), so one
seed gives one estimate for every backend and node count.

Integrands:

* ``pi`` (default): the quarter-disc indicator. Each 64-bit RNG word gives one point (x, y) with 31-bit
  integer coordinates (high and low halves); x^2 + y^2 < 2^62 is tested in integers; 4 points per packet.
  The estimate is 4 * hits / n (the 31-bit grid biases it by under 2^-29, far below any standard error
  here).
* float integrands of one variable on [0, 1): U01 turns each word into a double in [0, 1) exactly as
  numpy does; f(x) is evaluated lane-wise with the fabric's float64 instructions; sum f and sum f^2 are
  RFSUM-reduced (correctly rounded per fabric run of ``DEFAULT_CHUNK_PACKETS`` packets, a constant, then
  combined with math.fsum). 4 samples per packet.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..isa import IMM, Op, float_bits
from ..runtime.program import Instruction, Program
from .errors import InputError
from .fabric import Fabric, FabricConfig

LANES = 4  # Philox4x64 gives 4 words per RNG instruction; one sample per word
MAX_SAMPLES = 1 << 40
DEFAULT_CHUNK_PACKETS = 1 << 13  # packets per fabric run: small enough that a batch (1.8 MB) stays in cache (2^18 ran 3x slower)
_STREAM_WORD = 0x4D4F4E5445434152  # "MONTECAR": counter word 1, so these streams differ from other users'


@dataclass(frozen=True)
class Integrand:
    name: str
    description: str
    exact: float
    scale: float  # estimate = scale * mean(f)
    body: Callable[[], list[Instruction]] | None  # f lane-wise from x in s8..s11 into s8..s11; None = pi


def _f(op: int, dst: int = 8, a: int = 8, b: int = 8, imm: float | None = None) -> Instruction:
    if imm is not None:
        return Instruction(op, dst=dst, a=a, b=IMM, imm=float_bits(imm), count=LANES)
    return Instruction(op, dst=dst, a=a, b=b, count=LANES)


INTEGRANDS: dict[str, Integrand] = {
    "pi": Integrand("pi", "4 * P(x^2 + y^2 < 1), (x, y) uniform in the unit square", math.pi, 4.0, None),
    "quarter-circle": Integrand(
        "quarter-circle", "4 * integral_0^1 sqrt(1 - x^2) dx", math.pi, 4.0,
        lambda: [_f(Op.FMUL), Instruction(Op.FSUB, dst=8, a=IMM, b=8, imm=float_bits(1.0), count=LANES),
                 Instruction(Op.FSQRT, dst=8, a=8, count=LANES)],
    ),
    "arctan": Integrand(
        "arctan", "integral_0^1 4 / (1 + x^2) dx", math.pi, 1.0,
        lambda: [_f(Op.FMUL), _f(Op.FADD, imm=1.0),
                 Instruction(Op.FDIV, dst=8, a=IMM, b=8, imm=float_bits(4.0), count=LANES)],
    ),
    "x2": Integrand("x2", "integral_0^1 x^2 dx", 1.0 / 3.0, 1.0, lambda: [_f(Op.FMUL)]),
    "sqrt": Integrand("sqrt", "integral_0^1 sqrt(x) dx", 2.0 / 3.0, 1.0,
                      lambda: [Instruction(Op.FSQRT, dst=8, a=8, count=LANES)]),
}  # fmt: skip


def build_program(integrand: str, seed: int, nodes: int) -> Program:
    """The packet program for one integrand. Packet slots: s0..s3 Philox counter (index, stream, 0, 0);
    RNG writes s4..s7; the sample lanes live in s8..s11 (and s12..s15 for f^2)."""
    spec = _integrand(integrand)
    key = seed & (2**64 - 1)
    code = [Instruction(Op.RNG, dst=4, a=0, b=IMM, imm=key)]
    if spec.body is None:
        code += [
            Instruction(Op.SHR, dst=8, a=4, b=IMM, imm=33, count=LANES),  # x: high 31 bits
            Instruction(Op.AND, dst=12, a=4, b=IMM, imm=0x7FFFFFFF, count=LANES),  # y: low 31 bits
            Instruction(Op.MUL, dst=8, a=8, b=8, count=2 * LANES),  # x^2 and y^2 in one 8-lane op
            Instruction(Op.ADD, dst=8, a=8, b=12, count=LANES),
            Instruction(Op.LTU, dst=8, a=8, b=IMM, imm=1 << 62, count=LANES),
            Instruction(Op.RADD, a=8, imm=0, count=LANES),
        ]
    else:
        code += [Instruction(Op.U01, dst=8, a=4, count=LANES)]
        code += spec.body()
        code += [
            Instruction(Op.RFSUM, a=8, imm=0, count=LANES),
            Instruction(Op.FMUL, dst=12, a=8, b=8, count=LANES),
            Instruction(Op.RFSUM, a=12, imm=LANES, count=LANES),
        ]
    code.append(Instruction(Op.HALT, a=IMM, imm=0))
    return Program(code, num_nodes=nodes, name=f"monte-carlo-{spec.name}")


def _integrand(name: str) -> Integrand:
    spec = INTEGRANDS.get(name)
    if spec is None:
        raise InputError(f"unknown integrand {name!r}; one of {', '.join(INTEGRANDS)}")
    return spec


def packet_inputs(first: int, count: int) -> np.ndarray:
    """Counters of packets ``first .. first+count-1``: (count, 4) uint64 (index, stream word, 0, 0)."""
    x = np.zeros((count, 4), dtype=np.uint64)
    x[:, 0] = np.arange(first, first + count, dtype=np.uint64)
    x[:, 1] = _STREAM_WORD
    return x


@dataclass
class MonteCarloResult:
    integrand: str
    estimate: float
    stderr: float
    exact: float
    samples: int
    seed: int
    backend: str
    nodes: int
    seconds: float
    packets: int
    bytes_moved: int
    sum_f: float = 0.0
    sum_f2: float = 0.0
    hits: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")

    def as_dict(self) -> dict:
        return {
            "operation": "MONTE_CARLO", "integrand": self.integrand, "estimate": self.estimate,
            "stderr": self.stderr, "exact": self.exact, "error": self.estimate - self.exact,
            "error_in_stderr": (self.estimate - self.exact) / self.stderr if self.stderr > 0 else None,
            "samples": self.samples, "seed": self.seed, "backend": self.backend, "nodes": self.nodes,
            "seconds": self.seconds, "samples_per_s": self.samples_per_s, "packets": self.packets,
            "bytes_moved": self.bytes_moved, "hits": self.hits, **self.extra,
        }  # fmt: skip


def estimate(
    samples: int,
    seed: int,
    config: FabricConfig | Fabric,
    integrand: str = "pi",
    chunk_packets: int = DEFAULT_CHUNK_PACKETS,
    progress: Callable[[int, int], None] | None = None,
) -> MonteCarloResult:
    """Estimate ``integrand`` from ``samples`` draws (rounded up to a multiple of 4) on the fabric."""
    spec = _integrand(integrand)
    if not 1 <= samples <= MAX_SAMPLES:
        raise InputError(f"--samples must be 1..{MAX_SAMPLES}, got {samples}")
    if chunk_packets < 1:
        raise InputError("chunk size must be at least one packet")
    n_packets = -(-samples // LANES)
    if isinstance(config, Fabric):
        return _estimate(samples, seed, config, spec, n_packets, chunk_packets, progress)
    with Fabric(config) as fabric:
        return _estimate(samples, seed, fabric, spec, n_packets, chunk_packets, progress)


def _estimate(samples: int, seed: int, fabric: Fabric, spec: Integrand, n_packets: int, chunk_packets: int,
              progress: Callable[[int, int], None] | None) -> MonteCarloResult:
    config = fabric.config
    program = build_program(spec.name, seed, config.nodes)
    hits = 0
    sum_f: list[float] = []
    sum_f2: list[float] = []
    moved = 0
    started = time.perf_counter()
    done = 0
    while done < n_packets:
        count = min(chunk_packets, n_packets - done)
        packets = program.packets(count, inputs=packet_inputs(done, count),
                                  computation_ids=np.arange(done, done + count, dtype=np.uint64))
        result = fabric.run(program, packets)
        acc = result.accumulators
        if spec.body is None:
            hits += sum(int(acc.get(k, 0)) for k in range(LANES))
        else:
            sum_f += [float(acc.get(k, 0.0)) for k in range(LANES)]
            sum_f2 += [float(acc.get(LANES + k, 0.0)) for k in range(LANES)]
        moved += result.stats.bytes_moved
        done += count
        if progress is not None:
            progress(done, n_packets)
    seconds = time.perf_counter() - started
    n = n_packets * LANES
    if spec.body is None:
        p = hits / n
        est = spec.scale * p
        err = spec.scale * math.sqrt(max(p * (1 - p), 0.0) / n)
        sf = sf2 = 0.0
    else:
        sf, sf2 = math.fsum(sum_f), math.fsum(sum_f2)
        mean = sf / n
        var = max(sf2 / n - mean * mean, 0.0) * n / max(n - 1, 1)
        est = spec.scale * mean
        err = spec.scale * math.sqrt(var / n)
    return MonteCarloResult(spec.name, est, err, spec.exact, n, seed, config.backend, config.nodes, seconds,
                            n_packets, moved, sf, sf2, hits if spec.body is None else None)


def numpy_pi(samples: int, seed: int) -> float:
    """The anchor: numpy's default_rng float64 points in the unit square, one process."""
    rng = np.random.default_rng(seed)
    inside = 0
    left = samples
    while left:
        n = min(left, 1 << 22)
        xy = rng.random((2, n))
        inside += int(np.count_nonzero(xy[0] * xy[0] + xy[1] * xy[1] < 1.0))
        left -= n
    return 4.0 * inside / samples
