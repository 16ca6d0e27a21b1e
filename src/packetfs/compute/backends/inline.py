"""The reference backend: one process, every node hosted, vectorized rounds (see runtime.executor)."""

from __future__ import annotations

import time

import numpy as np

from ..runtime.executor import DEFAULT_MAX_STEPS, NodeGroup
from ..runtime.program import Program
from ..runtime.records import RunResult, RunStats
from .base import Backend, check_batch, finish_result


class InlineBackend(Backend):
    """All packets at one node with the same instruction run as one numpy operation. The reference: the
    other backends run the same NodeGroup code on their share of the nodes."""

    name = "inline"

    def run(
        self,
        program: Program,
        packets: np.ndarray,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        collect_memory: bool = False,
    ) -> RunResult:
        t0 = time.perf_counter()
        batch = check_batch(packets)
        group = NodeGroup(program, None, max_steps)
        out = group.execute(batch)
        # every node is hosted here, so nothing is ever "away" and nothing is left after execute
        stats = RunStats(packets=len(batch), steps=out.steps, hops=out.hops)
        blocks = group.memory_blocks() if collect_memory else None
        return finish_result(program, [out.done], out.emits, group.accumulators(), blocks, stats, t0)
