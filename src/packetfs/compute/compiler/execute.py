"""Run a compiled C program on a fabric backend: load it (one memory lane per instance of main), inject
one packet per instance, and turn each packet's EMIT stream and final state into stdout and exit status."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import run_program
from ..isa import IMM, Op, Status
from ..packet import NUM_SLOTS, SLOT_RUNTIME
from ..runtime.records import RunResult
from .codegen import TRAP_STACK, Compiled, generate
from .errors import CompileError
from .interp import TRAP_TEXT
from .ir import Module
from .layout import DATA_BASE, DEFAULT_MEM, DEFAULT_STACK
from .link import link
from .render import render

DEFAULT_MAX_STEPS = 1 << 31
BATCH_LANE = 1 << 16          # memory per instance with --batch (64 KiB: data, heap, 16 KiB of stack)
BATCH_STACK = 1 << 14


@dataclass
class Outcome:
    stdout: bytes
    status: int          # main's return value (or exit's argument) & 0xFF; None after a fault
    fault: str | None    # why the program was stopped, if it was


def build(module: Module | list[Module], lane_size: int = DEFAULT_MEM, stack_size: int = DEFAULT_STACK
          ) -> Compiled:
    """Link with the C runtime and generate fabric code for instances of `lane_size` bytes. Several
    modules give one image holding several programs (each packet runs the one its lane names)."""
    if lane_size & (lane_size - 1) or not (1 << 13) <= lane_size <= (1 << 30):
        raise CompileError(f"memory per program instance must be a power of two from 8 KiB to 1 GiB, got {lane_size}")
    if not 4096 <= stack_size <= lane_size // 2:
        raise CompileError(f"stack size must be 4 KiB .. half the instance memory, got {stack_size}")
    modules = module if isinstance(module, list) else [module]
    return generate([link(m, lane_size - stack_size - DATA_BASE) for m in modules], lane_size, stack_size)


def run(compiled: Compiled, argvs: list[list[bytes]], backend: str = "inline", nodes: int = 1,
        placement: str = "function", max_steps: int = DEFAULT_MAX_STEPS, backend_obj=None,
        lane_units: list[int] | None = None, **backend_options) -> tuple[list[Outcome], RunResult]:
    """Run one instance of main per argv list, all as parallel packets of one fabric run (instance k
    runs program lane_units[k] of a multi-program image)."""
    prog, lanes = compiled.program(len(argvs), nodes, placement, argvs, lane_units)
    n = len(argvs)
    inputs = np.zeros((n, 22), dtype=np.uint64)
    for k, (gb, fp, argc, argv_addr, _stub) in enumerate(lanes):
        inputs[k, 0] = argc
        inputs[k, 1] = argv_addr
        inputs[k, 20] = gb
        inputs[k, 21] = fp
    nodes_of = None
    if n > 1:
        nodes_of = (np.arange(n) % nodes).astype(np.uint32)
    packets = prog.packets(n, inputs=inputs, nodes=nodes_of)
    packets["operation_code"] = np.array([lane[4] for lane in lanes], dtype=np.uint32)  # stubs start with NOP
    if backend_obj is not None:
        result = backend_obj.run(prog, packets, max_steps=max_steps)
    else:
        result = run_program(prog, packets, backend=backend, nodes=nodes, max_steps=max_steps, **backend_options)
    return outcomes(result, n, compiled), result


def function_at(compiled: Compiled, pc: int) -> str | None:
    """The C function whose code holds instruction ``pc`` (None for the entry stubs)."""
    for unit in compiled.units:
        for name, lo, hi in unit.code_map.ranges:
            if lo <= pc < hi:
                return name
    return None


def _access_pc(compiled: Compiled, packet) -> int:
    """The LOAD/STORE a packet faulted with BAD_ADDRESS at. The packet executor checks an access while
    routing into it, so the packet finished at the instruction before (its runtime word's pc): the access
    is that one's successor, in the same function but after a CALL (alt, the callee) or a RET (the target
    in its slot a)."""
    pc = int(packet["state"][SLOT_RUNTIME - 16]) >> 32
    if pc >= len(compiled.code):
        return pc
    ins = compiled.code[pc]
    if ins.op == Op.CALL:
        return ins.alt
    if ins.op == Op.RET and ins.a != IMM and ins.a < NUM_SLOTS:
        slots_ = list(packet["input_data"]) + list(packet["state"])
        return int(slots_[ins.a])
    return pc


def fault_text(status: int, detail: int, null_page: bool | None = None, where: str | None = None) -> str:
    """Why a faulted instance stopped, as one sentence. ``null_page``: whether a BAD_ADDRESS detail is in
    the instance's unmapped first DATA_BASE bytes (default: the address is below DATA_BASE); ``where``:
    the function that made the access, when known."""
    if status == Status.TRAP:
        return "stack overflow" if detail == TRAP_STACK else TRAP_TEXT.get(detail, f"trap {detail}")
    if status == Status.BAD_ADDRESS:
        at = f" in {where}" if where else ""
        if detail < DATA_BASE if null_page is None else null_page:
            return f"NULL or small-pointer dereference at address {detail:#x}{at} (the first {DATA_BASE:#x} bytes are not mapped)"
        return f"bad address {detail:#x}{at}: outside the instance's memory (or an access across a shard block)"
    return f"{Status(status).name.lower().replace('_', ' ')} (detail {detail})"


def outcomes(result: RunResult, n: int, compiled: Compiled | None = None) -> list[Outcome]:
    emits = result.emits
    cids = emits["computation_id"]
    bounds = np.searchsorted(cids, np.arange(n + 1, dtype=np.uint64))
    tags = emits["tag"].tolist()
    values = emits["value"].tolist()
    status = result.status
    exits = result.exit_values
    out = []
    for k in range(n):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        text = render(zip(tags[lo:hi], values[lo:hi], strict=True))
        st = int(status[k])
        if st == Status.HALTED:
            out.append(Outcome(text, int(exits[k]) & 0xFF, None))
        else:
            where = None
            if st == Status.BAD_ADDRESS and compiled is not None:
                where = function_at(compiled, _access_pc(compiled, result.packets[k]))
            out.append(Outcome(text, None, fault_text(st, int(exits[k]), where=where)))
    return out
