"""Monte Carlo integration as packet programs (``packetfs deploy --operation MONTE_CARLO``).

The samples are the words of one Philox4x64-10 stream (numpy's Philox bit generator), keyed by the seed, at
counters (i, "MONTECAR", 0, 0) for i = 0, 1, 2, ...: block i gives samples 4i..4i+3. A sample therefore
belongs to its index, not to the packet, node or backend that drew it, and every sum is an exact integer,
so one seed gives one estimate for every backend, node count and packet size.

Two ways to run the same stream on the fabric (``method``):

* ``block`` (default): a packet carries a range of blocks (its first counter and a block count, up to
  ``DEFAULT_PACKET_BLOCKS`` = 2^18 blocks, a million samples) and one MCSUM instruction generates and
  tests them vectorised at the node (numpy's Philox at a counter offset, chunks that stay in cache), then
  EMITs the packet's two integer sums. Per-packet overhead (routing, transport, a Philox set-up) is paid
  once per million samples. Packets are cut into contiguous shares, one per node, ``RUN_PACKETS_PER_NODE``
  per node per fabric run, so every node is busy and each sends back 2 words per packet.
* ``sample``: one packet per block through the fabric's fine-grained instructions (RNG, integer or float
  lane ops, RADD/RFSUM): the ISA's own Philox and arithmetic, used as the independent cross-check of the
  block path and to show what per-packet overhead costs.

Integrands:

* ``pi`` (default): the quarter-disc indicator. Each 64-bit word gives one point (x, y) with 31-bit integer
  coordinates (high and low halves); x^2 + y^2 < 2^62 is tested in integers. The estimate is 4 * hits / n
  (the 31-bit grid biases it by under 2^-29, far below any standard error here).
* float integrands of one variable on [0, 1): U01 turns each word into a double in [0, 1) exactly as numpy
  does; f(x) is correctly rounded float64 arithmetic. ``block`` sums round(f * 2^32) and round(f^2 * 2^32)
  as integers (each sample off by at most 2^-33: the estimate by at most that, far below its standard
  error); ``sample`` sums f and f^2 with RFSUM (correctly rounded per fabric run of ``DEFAULT_CHUNK_PACKETS``
  packets, then math.fsum).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..isa import IMM, MC_FIXED_BITS, MC_INTEGRANDS, MC_MAX_BLOCKS, Op, float_bits
from ..runtime.program import Instruction, Program
from .errors import InputError, VerificationError
from .fabric import Fabric, FabricConfig

LANES = 4  # Philox4x64 gives 4 words per block; one sample per word
MAX_SAMPLES = 1 << 40
METHODS = ("block", "sample")
DEFAULT_CHUNK_PACKETS = 1 << 13  # sample method: packets per fabric run (a 1.8 MB batch stays in cache; 2^18 ran 3x slower)
DEFAULT_PACKET_BLOCKS = 1 << 18  # block method: blocks per packet (2^20 samples, ~10 ms of work at a node)
assert DEFAULT_PACKET_BLOCKS <= MC_MAX_BLOCKS
RUN_PACKETS_PER_NODE = 8  # block method: packets per node per fabric run (a run's fixed cost is ~1% of it)
_STREAM_WORD = 0x4D4F4E5445434152  # "MONTECAR": counter word 1, so these streams differ from other users'


@dataclass(frozen=True)
class Integrand:
    name: str
    description: str
    exact: float
    scale: float  # estimate = scale * mean(f)
    body: Callable[[], list[Instruction]] | None  # f lane-wise from x in s8..s11 into s8..s11; None = pi
    code: int = 0  # MCSUM's integrand code (isa.MC_INTEGRANDS)


def _f(op: int, dst: int = 8, a: int = 8, b: int = 8, imm: float | None = None) -> Instruction:
    if imm is not None:
        return Instruction(op, dst=dst, a=a, b=IMM, imm=float_bits(imm), count=LANES)
    return Instruction(op, dst=dst, a=a, b=b, count=LANES)


INTEGRANDS: dict[str, Integrand] = {
    "pi": Integrand("pi", "4 * P(x^2 + y^2 < 1), (x, y) uniform in the unit square", math.pi, 4.0, None,
                     MC_INTEGRANDS.index("quarter-disc")),
    "quarter-circle": Integrand(
        "quarter-circle", "4 * integral_0^1 sqrt(1 - x^2) dx", math.pi, 4.0,
        lambda: [_f(Op.FMUL), Instruction(Op.FSUB, dst=8, a=IMM, b=8, imm=float_bits(1.0), count=LANES),
                 Instruction(Op.FSQRT, dst=8, a=8, count=LANES)],
        MC_INTEGRANDS.index("quarter-circle"),
    ),
    "arctan": Integrand(
        "arctan", "integral_0^1 4 / (1 + x^2) dx", math.pi, 1.0,
        lambda: [_f(Op.FMUL), _f(Op.FADD, imm=1.0),
                 Instruction(Op.FDIV, dst=8, a=IMM, b=8, imm=float_bits(4.0), count=LANES)],
        MC_INTEGRANDS.index("arctan"),
    ),
    "x2": Integrand("x2", "integral_0^1 x^2 dx", 1.0 / 3.0, 1.0, lambda: [_f(Op.FMUL)], MC_INTEGRANDS.index("x2")),
    "sqrt": Integrand("sqrt", "integral_0^1 sqrt(x) dx", 2.0 / 3.0, 1.0,
                      lambda: [Instruction(Op.FSQRT, dst=8, a=8, count=LANES)], MC_INTEGRANDS.index("sqrt")),
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
    """Sample method: counters of blocks ``first .. first+count-1``, one per packet: (count, 4) uint64
    (index, stream word, 0, 0)."""
    x = np.zeros((count, 4), dtype=np.uint64)
    x[:, 0] = np.arange(first, first + count, dtype=np.uint64)
    x[:, 1] = _STREAM_WORD
    return x


def build_block_program(seed: int, nodes: int) -> Program:
    """Block method: s0..s3 the first block's counter, s4 the block count, s5 the integrand code; MCSUM
    writes (sum f, sum f^2) to s8, s9, which the packet EMITs to the origin."""
    code = [
        Instruction(Op.MCSUM, dst=8, a=0, b=4, imm=seed & (2**64 - 1)),
        Instruction(Op.EMIT, a=8, count=2),
        Instruction(Op.HALT, a=IMM, imm=0),
    ]
    return Program(code, num_nodes=nodes, name="monte-carlo-blocks")


def block_inputs(first_block: int, total_blocks: int, per_packet: int, code: int) -> np.ndarray:
    """Block method: packets covering blocks ``first_block .. total_blocks-1`` (at most ``per_packet``
    each): (count, 6) uint64 slots."""
    starts = np.arange(first_block, total_blocks, per_packet, dtype=np.uint64)
    x = np.zeros((len(starts), 6), dtype=np.uint64)
    x[:, 0] = starts
    x[:, 1] = _STREAM_WORD
    x[:, 4] = np.minimum(np.uint64(per_packet), np.uint64(total_blocks) - starts)
    x[:, 5] = code
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
    method: str = "block"
    fixed_sums: tuple[int, int] | None = None  # block method, float integrands: sum round(f * 2^32), of f^2
    startup_seconds: float = 0.0
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
            "method": self.method, "seconds": self.seconds, "samples_per_s": self.samples_per_s,
            "startup_seconds": self.startup_seconds, "packets": self.packets,
            "samples_per_packet": self.samples / self.packets if self.packets else 0,
            "bytes_moved": self.bytes_moved, "bytes_per_packet": self.bytes_moved / self.packets if self.packets else 0,
            "hits": self.hits, **self.extra,
        }  # fmt: skip


def estimate(
    samples: int,
    seed: int,
    config: FabricConfig | Fabric,
    integrand: str = "pi",
    chunk_packets: int = DEFAULT_CHUNK_PACKETS,
    progress: Callable[[int, int], None] | None = None,
    method: str = "block",
    packet_blocks: int = DEFAULT_PACKET_BLOCKS,
) -> MonteCarloResult:
    """Estimate ``integrand`` from ``samples`` draws (rounded up to a multiple of 4) on the fabric.

    A fabric that has not run yet is started (worker processes, a Ray instance) before the clock starts;
    that time is ``startup_seconds``. ``chunk_packets`` applies to the sample method, ``packet_blocks``
    (blocks per packet) to the block method; neither changes the pi estimate."""
    spec = _integrand(integrand)
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if not 1 <= samples <= MAX_SAMPLES:
        raise InputError(f"--samples must be 1..{MAX_SAMPLES}, got {samples}")
    if chunk_packets < 1:
        raise InputError("chunk size must be at least one packet")
    if not 1 <= packet_blocks <= MC_MAX_BLOCKS:
        raise InputError(f"blocks per packet must be 1..{MC_MAX_BLOCKS}, got {packet_blocks}")
    if isinstance(config, Fabric):
        return _estimate(samples, seed, config, spec, method, chunk_packets, packet_blocks, progress)
    with Fabric(config) as fabric:
        return _estimate(samples, seed, fabric, spec, method, chunk_packets, packet_blocks, progress)


def _warm_up(fabric: Fabric, seed: int) -> float:
    """Start the fabric's workers with one tiny run (not timed as sampling); returns its seconds."""
    if fabric.runs:
        return 0.0
    t0 = time.perf_counter()
    program = build_block_program(seed, fabric.config.nodes)
    fabric.run(program, program.packets(1, inputs=block_inputs(0, 1, 1, 0)))
    return time.perf_counter() - t0


def _estimate(samples: int, seed: int, fabric: Fabric, spec: Integrand, method: str, chunk_packets: int,
              packet_blocks: int, progress: Callable[[int, int], None] | None) -> MonteCarloResult:
    startup = _warm_up(fabric, seed)
    n_blocks = -(-samples // LANES)
    if method == "sample":
        out = _run_samples(seed, fabric, spec, n_blocks, chunk_packets, progress)
    else:
        out = _run_blocks(seed, fabric, spec, n_blocks, packet_blocks, progress)
    out.startup_seconds = startup
    return out


def _run_blocks(seed: int, fabric: Fabric, spec: Integrand, n_blocks: int, packet_blocks: int,
                progress: Callable[[int, int], None] | None) -> MonteCarloResult:
    nodes = fabric.config.nodes
    program = build_block_program(seed, nodes)
    # small runs: smaller packets, so that every node still gets some (the sums do not depend on it)
    per_packet = max(1, min(packet_blocks, -(-n_blocks // nodes)))
    per_run = per_packet * RUN_PACKETS_PER_NODE * nodes
    sum_f = sum_f2 = 0
    moved = packets = 0
    started = time.perf_counter()
    done = 0
    while done < n_blocks:
        end = min(n_blocks, done + per_run)
        inputs = block_inputs(done, end, per_packet, spec.code)
        m = len(inputs)
        share = (np.arange(m, dtype=np.uint64) * np.uint64(nodes) // np.uint64(m)).astype(np.uint32)
        result = fabric.run(program, program.packets(m, inputs=inputs, nodes=share))
        values = result.emits["value"]
        lane = result.emits["lane"]
        if len(values) != 2 * m:
            raise VerificationError(f"{len(values)} Monte Carlo sums came back for {m} packets")
        sum_f += sum(map(int, values[lane == 0]))
        sum_f2 += sum(map(int, values[lane == 1]))
        moved += result.stats.bytes_moved
        packets += m
        done = end
        if progress is not None:
            progress(done * LANES, n_blocks * LANES)
    seconds = time.perf_counter() - started
    n = n_blocks * LANES
    if spec.body is None:
        return _pi_result(spec, sum_f, n, seed, fabric, seconds, packets, moved, "block")
    scale = float(1 << MC_FIXED_BITS)
    mean = sum_f / scale / n  # sum_f / 2^32 is exact up to 2^53 * 2^-32; the division rounds once more
    var = max(sum_f2 / scale / n - mean * mean, 0.0) * n / max(n - 1, 1)
    return MonteCarloResult(spec.name, spec.scale * mean, spec.scale * math.sqrt(var / n), spec.exact, n, seed,
                            fabric.config.backend, nodes, seconds, packets, moved, sum_f / scale, sum_f2 / scale,
                            None, "block", (sum_f, sum_f2))


def _pi_result(spec: Integrand, hits: int, n: int, seed: int, fabric: Fabric, seconds: float, packets: int,
               moved: int, method: str) -> MonteCarloResult:
    p = hits / n
    return MonteCarloResult(spec.name, spec.scale * p, spec.scale * math.sqrt(max(p * (1 - p), 0.0) / n),
                            spec.exact, n, seed, fabric.config.backend, fabric.config.nodes, seconds, packets,
                            moved, 0.0, 0.0, hits, method)


def _run_samples(seed: int, fabric: Fabric, spec: Integrand, n_packets: int, chunk_packets: int,
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
            progress(done * LANES, n_packets * LANES)
    seconds = time.perf_counter() - started
    n = n_packets * LANES
    if spec.body is None:
        return _pi_result(spec, hits, n, seed, fabric, seconds, n_packets, moved, "sample")
    sf, sf2 = math.fsum(sum_f), math.fsum(sum_f2)
    mean = sf / n
    var = max(sf2 / n - mean * mean, 0.0) * n / max(n - 1, 1)
    return MonteCarloResult(spec.name, spec.scale * mean, spec.scale * math.sqrt(var / n), spec.exact, n, seed,
                            config.backend, config.nodes, seconds, n_packets, moved, sf, sf2, None, "sample")


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
