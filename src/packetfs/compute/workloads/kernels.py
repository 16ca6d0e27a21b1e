"""Host kernels at fabric nodes: for work no instruction of the ISA expresses (a pull move of a lattice
chain), a node runs a named Python function over the packet batch it holds.

The batches are fabric packets in the wire layout (``packet.encode``/``decode``); the kernel is a pure
function of (batch, argument), so which node or backend runs it cannot change the answer. Backends:

* ``inline``: every node in this process, one after the other;
* ``local``: one worker process per node (a process pool; batches travel as wire bytes through its pipes);
* ``ray``: one Ray task per node and round (batches travel through Ray's object store).

This is the fabric's node model with a coarser instruction; the transport is the pool's, not the fabric's
UDP transport, which only carries ISA programs.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable
from typing import Any

from .errors import WorkloadError
from .fabric import FabricConfig

Kernel = Callable[[bytes, Any], bytes]


def _ray_call(fn: Kernel, batch: bytes, arg: Any) -> bytes:
    return fn(batch, arg)


class KernelPool:
    """Runs ``fn(batch, arg)`` for one batch per node; counts the bytes that travel."""

    def __init__(self, config: FabricConfig) -> None:
        self.config = config
        self.bytes_moved = 0
        self.rounds = 0
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._ray = None
        self._ray_started = False
        self._ray_fn = None
        if config.backend == "local" and config.nodes > 1:
            ctx = multiprocessing.get_context("spawn")  # no inherited threads or sockets from the parent
            self._pool = concurrent.futures.ProcessPoolExecutor(max_workers=config.nodes, mp_context=ctx)
        elif config.backend == "ray":
            try:
                import ray
            except ImportError:
                raise WorkloadError("the ray backend needs the 'ray' package (pip install packetfs[ray])") from None
            if not ray.is_initialized():
                kwargs = {"address": config.ray_address} if config.ray_address else {"num_cpus": config.nodes}
                ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
                self._ray_started = True
            self._ray = ray
            self._ray_fn = ray.remote(_ray_call)

    def map(self, fn: Kernel, batches: list[bytes], arg: Any) -> list[bytes]:
        """One result per batch, in order; batch i runs at node i."""
        if len(batches) > self.config.nodes:
            raise WorkloadError(f"{len(batches)} batches for {self.config.nodes} nodes")
        self.rounds += 1
        travels = self._pool is not None or self._ray is not None  # inline: nothing leaves the process
        if travels:
            self.bytes_moved += sum(map(len, batches))
        try:
            if self._pool is not None:
                out = list(self._pool.map(fn, batches, [arg] * len(batches)))
            elif self._ray is not None:
                out = self._ray.get([self._ray_fn.remote(fn, b, arg) for b in batches])
            else:
                out = [fn(b, arg) for b in batches]
        except WorkloadError:
            raise
        except concurrent.futures.process.BrokenProcessPool:
            raise WorkloadError("a local node process died during the run") from None
        except Exception as e:  # a Ray task failure arrives as RayTaskError wrapping the cause
            raise WorkloadError(f"a node kernel failed on the {self.config.backend} backend: {e}") from None
        if travels:
            self.bytes_moved += sum(map(len, out))
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._ray is not None and self._ray_started:
            self._ray.shutdown()
        self._ray = None

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
