"""The one place the workloads meet the compute fabric: open a backend once, run Programs on it, turn fabric
failures into WorkloadError. Everything else in this package speaks numpy arrays and Programs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backends import BACKENDS, Backend, get_backend
from ..runtime.program import Program
from ..runtime.records import FabricError, RunResult, RunStats
from .errors import WorkloadError

MAX_NODES = 64


@dataclass(frozen=True)
class FabricConfig:
    """Which backend runs the packets and on how many nodes (``--backend``, ``--nodes``)."""

    backend: str = "inline"
    nodes: int = 1
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise WorkloadError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if not 1 <= self.nodes <= MAX_NODES:
            raise WorkloadError(f"--nodes must be 1..{MAX_NODES}, got {self.nodes}")


class Fabric:
    """A backend held open across runs (local workers and a Ray instance start once), plus the sum of the
    runs' counters. Use as a context manager."""

    def __init__(self, config: FabricConfig) -> None:
        self.config = config
        self.totals = RunStats()
        self.runs = 0
        options = {"address": config.ray_address} if config.backend == "ray" and config.ray_address else {}
        try:
            self.backend: Backend = get_backend(config.backend, nodes=config.nodes, **options)
        except FabricError as e:
            raise WorkloadError(f"cannot open the {config.backend} fabric: {e}") from None
        except ImportError as e:
            raise WorkloadError(f"the {config.backend} backend needs a package that is not installed: {e.name}") from None

    def run(self, program: Program, packets: np.ndarray, *, collect_memory: bool = False) -> RunResult:
        """Run ``packets`` through ``program``; a fabric failure or an ERROR packet becomes WorkloadError (the
        workloads' programs never fault on valid input, so a fault is a bug or a broken transport)."""
        try:
            result = self.backend.run(program, packets, collect_memory=collect_memory)
            result.raise_for_faults()
        except FabricError as e:
            raise WorkloadError(f"the {self.config.backend} fabric failed: {e}") from None
        s, t = result.stats, self.totals
        for name in ("packets", "steps", "hops", "messages", "bytes_moved", "retransmits", "duplicates", "seconds"):
            setattr(t, name, getattr(t, name) + getattr(s, name))
        self.runs += 1
        return result

    def close(self) -> None:
        try:
            self.backend.close()
        except FabricError as e:
            raise WorkloadError(f"the {self.config.backend} fabric did not shut down cleanly: {e}") from None

    def __enter__(self) -> Fabric:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
