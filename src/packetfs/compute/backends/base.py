"""The one backend interface (inline, local, ray) and the registry behind ``get_backend(name)``."""

from __future__ import annotations

import abc
import os
import time

import numpy as np

from ..packet import PACKET_C, PACKET_WIRE, to_c
from ..runtime.executor import DEFAULT_MAX_STEPS
from ..runtime.node import Accumulators, assemble_memory
from ..runtime.program import Program
from ..runtime.records import FabricError, RunResult, RunStats, sort_emits, sort_packets


class Backend(abc.ABC):
    """Runs batches of packets through a program. Use as a context manager (workers are started lazily
    and stopped by ``close``). ``run`` is a pure function of (program, packets): no state survives a run.
    """

    name = "?"

    def __init__(self, nodes: int | None = None):
        self.nodes = nodes

    @abc.abstractmethod
    def run(
        self,
        program: Program,
        packets: np.ndarray,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        collect_memory: bool = False,
    ) -> RunResult:
        """Run every packet to HALT or an ERROR; return the final packets, emits, accumulators."""

    def worker_count(self, program: Program) -> int:
        """How many workers a multi-process backend starts: ``nodes`` if given, else one per fabric node
        up to the machine's CPUs."""
        return self.nodes or max(1, min(program.num_nodes, os.cpu_count() or 1))

    def close(self) -> None:  # noqa: B027  (a backend without workers has nothing to stop)
        """Stop workers (idempotent)."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_batch(packets: np.ndarray) -> np.ndarray:
    """The batch in the C layout, validated. Backends never write to it (the executor works on its own
    structure-of-arrays copy and builds fresh packets, padding zeroed)."""
    if not isinstance(packets, np.ndarray) or packets.dtype not in (PACKET_C, PACKET_WIRE) or packets.ndim != 1:
        raise FabricError("packets must be a 1-d numpy array of PACKET_C or PACKET_WIRE records")
    return to_c(packets)


def finish_result(
    program: Program,
    done: list[np.ndarray],
    emits: list[np.ndarray],
    acc: Accumulators,
    blocks: list[tuple[int, bytes]] | None,
    stats: RunStats,
    t0: float,
) -> RunResult:
    stats.seconds = time.perf_counter() - t0
    memory = assemble_memory(program.shard, blocks) if blocks is not None else None
    return RunResult(sort_packets(done), sort_emits(emits), acc.final(), memory, stats)
