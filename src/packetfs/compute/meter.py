"""What the fabric measures on this machine, beside what the pitch claimed and what a link can physically carry.

The workload: every packet runs a chain of 8-lane ADDs placed on alternating nodes (node i mod K), so each
step is one hop and 8 useful operations. For each backend and batch size it reports packet-ops/s (steps),
hops/s, useful ops/s and bytes moved per useful op; single-packet runs give the per-hop latency (p50/p99
over pairs of runs: the time difference of a 220-step and a 20-step run, per extra hop). The link table is arithmetic: a link of B bit/s carries B / (8 × 208)
packets of 208 bytes per second (more framing per packet makes it fewer), and a packet carries at most 16
input words, so at best 8 two-operand ops: that bounds ops/s by bandwidth, whatever the nodes can compute.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .backends import Backend, get_backend
from .isa import Op
from .packet import WIRE_SIZE
from .runtime.program import Instruction, Program

LATENCY_LONG, LATENCY_SHORT = 220, 20
USEFUL_OPS_PER_STEP = 8  # one 8-lane ADD per step
ETHERNET_UDP_OVERHEAD = 8 + 20 + 14 + 4 + 8 + 12  # UDP, IPv4, Ethernet header, FCS, preamble, inter-frame gap
LINKS_GBPS = (1, 10, 100, 400)

# The pitch's bandwidth -> computation claims, as stated (1 Gb/s = 1 TFLOPS, scaled linearly by the pitch).
PITCH = {
    "claim": "1 Gb/s = 1 TFLOPS; operations_per_second: 1T+; latency < 1 ms",
    "ops_per_gbps": 1e12,
    "latency_s": 1e-3,
}


def link_limits(ops_per_packet: int = USEFUL_OPS_PER_STEP) -> list[dict]:
    """Physical limits of links for 208-byte packets, beside the pitch's claim for the same bandwidth."""
    rows = []
    for g in LINKS_GBPS:
        bps = g * 1e9
        pps = bps / 8 / WIRE_SIZE
        pps_framed = bps / 8 / (WIRE_SIZE + ETHERNET_UDP_OVERHEAD)
        claim = g * PITCH["ops_per_gbps"]
        rows.append(
            {
                "link_gbps": g,
                "packets_per_s": pps,
                "packets_per_s_one_per_frame": pps_framed,
                "max_ops_per_s": pps * ops_per_packet,
                "pitch_claim_ops_per_s": claim,
                "claim_over_limit": claim / (pps * ops_per_packet),
            }
        )
    return rows


def hop_program(nodes: int, steps: int) -> Program:
    code = [Instruction(Op.ADD, dst=0, a=0, b=8, count=8, node=i % nodes) for i in range(steps)]
    code.append(Instruction(Op.HALT, a=0))
    return Program(code, num_nodes=nodes, name="meter")


@dataclass
class Measurement:
    backend: str
    nodes: int
    batch: int
    steps_per_packet: int
    seconds: float
    packet_ops: int
    hops: int
    bytes_moved: int

    def as_dict(self) -> dict:
        useful = self.packet_ops * USEFUL_OPS_PER_STEP
        return {
            "backend": self.backend, "nodes": self.nodes, "batch": self.batch,
            "steps_per_packet": self.steps_per_packet, "seconds": self.seconds,
            "packet_ops_per_s": self.packet_ops / self.seconds, "hops_per_s": self.hops / self.seconds,
            "useful_ops_per_s": useful / self.seconds, "packets_per_s": self.batch / self.seconds,
            "bytes_moved": self.bytes_moved, "bytes_per_useful_op": self.bytes_moved / useful if useful else 0.0,
            "wire_bytes_per_useful_op": WIRE_SIZE / USEFUL_OPS_PER_STEP,
        }  # fmt: skip


@dataclass
class MeterReport:
    rows: list[dict] = field(default_factory=list)
    latency: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=link_limits)
    pitch: dict = field(default_factory=lambda: dict(PITCH))

    def as_dict(self) -> dict:
        return {"measured": self.rows, "latency": self.latency, "links": self.links, "pitch": self.pitch}


def hop_latency_samples(backend: Backend, nodes: int, runs: int) -> list[float]:
    """``runs`` single-packet per-hop times on ``backend``, sorted. Each is two runs of one packet,
    LATENCY_LONG and LATENCY_SHORT steps: the difference divided by the extra hops is the per-hop time
    without the run's fixed cost (loading the program, collecting results)."""
    long_p, short_p = hop_program(nodes, LATENCY_LONG), hop_program(nodes, LATENCY_SHORT)
    per_hop = []
    for _ in range(runs):
        times = []
        for prog in (long_p, short_p):
            t0 = time.perf_counter()
            backend.run(prog, prog.packets(1))
            times.append(time.perf_counter() - t0)
        per_hop.append(max(times[0] - times[1], 0.0) / (LATENCY_LONG - LATENCY_SHORT))
    per_hop.sort()
    return per_hop


def measure(
    backends: tuple[str, ...] = ("inline", "local"),
    nodes: int = 2,
    batch_sizes: tuple[int, ...] = (1, 64, 1024, 16384),
    total_steps: int = 400_000,
    latency_runs: int = 20,
    backend_options: dict | None = None,
    progress: Callable[[str], None] | None = None,
) -> MeterReport:
    """Run the hop workload on each backend and batch size (see module doc)."""
    report = MeterReport()
    for name in backends:
        opts = dict(backend_options or {}) if name == "ray" else {}
        with get_backend(name, nodes=nodes, **opts) as backend:
            backend.run(hop_program(nodes, 4), hop_program(nodes, 4).packets(4))  # start workers
            for batch in batch_sizes:
                steps = int(max(8, min(2000, total_steps // max(batch, 1))))
                prog = hop_program(nodes, steps)
                packets = prog.packets(batch, inputs=np.ones((batch, 16), dtype=np.uint64))
                if progress:
                    progress(f"{name}: batch {batch} x {steps} steps")
                t0 = time.perf_counter()
                res = backend.run(prog, packets)
                dt = time.perf_counter() - t0
                res.raise_for_faults()
                report.rows.append(
                    Measurement(name, nodes, batch, steps, dt, res.stats.steps, res.stats.hops, res.stats.bytes_moved).as_dict()
                )
            if progress:
                progress(f"{name}: single-packet latency")
            per_hop = hop_latency_samples(backend, nodes, latency_runs)
            report.latency.append(
                {
                    "backend": name, "nodes": nodes, "runs": latency_runs,
                    "hop_p50_s": statistics.median(per_hop),
                    "hop_p99_s": per_hop[min(len(per_hop) - 1, int(round(0.99 * (len(per_hop) - 1))))],
                    "what": f"(time of a {LATENCY_LONG}-step run - a {LATENCY_SHORT}-step run) / {LATENCY_LONG - LATENCY_SHORT}, one packet; every step is a hop between nodes",
                }  # fmt: skip
            )
    return report


def plot(report: MeterReport, path) -> None:
    """A PNG: measured useful ops/s per backend and batch size, the links' limits and the pitch's claim."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for name in sorted({r["backend"] for r in report.rows}):
        rows = [r for r in report.rows if r["backend"] == name]
        ax.plot([r["batch"] for r in rows], [r["useful_ops_per_s"] for r in rows], marker="o", label=f"measured: {name}")
    colors = ("tab:gray", "tab:olive", "tab:cyan", "tab:purple")
    for link, color in zip(report.links, colors, strict=False):
        ax.axhline(link["max_ops_per_s"], linestyle="--", color=color, label=f"{link['link_gbps']} Gb/s limit (8 ops/packet)")
    ax.axhline(report.links[0]["pitch_claim_ops_per_s"], color="red", label="pitch: 1 Gb/s = 1 TFLOPS")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("packets per batch")
    ax.set_ylabel("useful operations per second")
    ax.set_title("PacketFS compute fabric: measured vs link limits vs the pitch")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
