"""The packet compute fabric: execution packets carry a program counter and 24 register slots from node to
node; each node runs the packet's instruction and forwards it to the node that runs the next one.

    from packetfs.compute import Program, Instruction as I, Op, IMM, run_program

    prog = Program([I(Op.ADD, dst=0, a=0, b=8, count=8), I(Op.EMIT, a=0, count=8), I(Op.HALT, a=IMM)])
    res = run_program(prog, prog.packets(1000, inputs=data), backend="inline")

See docs/compute-fabric.md (packet, routing, transport) and docs/compute-isa.md (instruction table).
"""

from __future__ import annotations

import numpy as np

from .backends import BACKENDS, Backend, get_backend
from .isa import ANY, IMM, INSTR, SIGNED, TABLE, Op, Status, bits_float, float_bits
from .packet import PACKET_C, PACKET_WIRE, decode, encode, slots, to_c, to_wire
from .runtime.executor import DEFAULT_MAX_STEPS
from .runtime.program import Instruction, Program, assemble
from .runtime.records import (
    EMIT_DTYPE,
    BackendError,
    FabricError,
    Fault,
    ProgramError,
    RunResult,
    RunStats,
)


def run_program(
    program: Program,
    packets: np.ndarray | int = 1,
    *,
    backend: str | Backend = "inline",
    nodes: int | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    collect_memory: bool = False,
    **backend_options,
) -> RunResult:
    """Run ``packets`` (a PACKET_C/PACKET_WIRE batch, or a count of fresh packets at the entry) through
    ``program`` on ``backend`` (a name, or a Backend you keep open across runs)."""
    batch = program.packets(packets) if isinstance(packets, int) else packets
    if isinstance(backend, Backend):
        return backend.run(program, batch, max_steps=max_steps, collect_memory=collect_memory)
    with get_backend(backend, nodes=nodes, **backend_options) as b:
        return b.run(program, batch, max_steps=max_steps, collect_memory=collect_memory)


__all__ = [
    "ANY", "BACKENDS", "Backend", "BackendError", "DEFAULT_MAX_STEPS", "EMIT_DTYPE", "FabricError", "Fault",
    "IMM", "INSTR", "Instruction", "Op", "PACKET_C", "PACKET_WIRE", "Program", "ProgramError", "RunResult",
    "RunStats", "SIGNED", "Status", "TABLE", "assemble", "bits_float", "decode", "encode", "float_bits",
    "get_backend", "run_program", "slots", "to_c", "to_wire",
]  # fmt: skip
