"""Where blocks below the hints' height are validated: this process, local processes, or Ray.

Every executor runs the same pure function (``validate.validate_range``) on the same tasks and hands
back the results as they finish; the importer sums them, so the verdict and the UTXO set cannot depend
on the executor, the number of workers or the order tasks finished in.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence

from ..errors import PacketFSError
from .validate import RangeResult, RangeTask, validate_range


class ExecutorError(PacketFSError):
    """An executor could not run the validation work (a worker died, Ray unreachable)."""


class _Inherited:
    """The tasks a forked worker inherited from its parent (process-local; set before the fork)."""

    tasks: Sequence[RangeTask] = ()


def _run_inherited(index: int) -> RangeResult:
    return validate_range(_Inherited.tasks[index])


class LocalExecutor:
    """``jobs`` local processes (forked, so the blocks already read are shared, not pickled); with one
    job, validation runs in this process."""

    name = "local"

    def __init__(self, jobs: int | None = None):
        self.jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))

    def run(self, tasks: Sequence[RangeTask]) -> Iterator[RangeResult]:
        if self.jobs == 1 or len(tasks) <= 1 or os.name != "posix":
            for task in tasks:
                yield validate_range(task)
            return
        _Inherited.tasks = tasks
        ctx = multiprocessing.get_context("fork")
        try:
            # Pool forks its workers in the constructor, before it starts its own threads.
            with ctx.Pool(min(self.jobs, len(tasks))) as pool:
                # Largest tasks first, one at a time per worker, so no worker is left with a long tail.
                order = sorted(range(len(tasks)), key=lambda i: -sum(len(b.raw) for b in tasks[i].blocks))
                try:
                    yield from pool.imap_unordered(_run_inherited, order, chunksize=1)
                except OSError as e:
                    raise ExecutorError(f"a validation worker failed: {e}") from e
        finally:
            _Inherited.tasks = ()


class RayExecutor:
    """Ray tasks: on the cluster at ``address``, or on a Ray instance started here for ``jobs`` CPUs
    (and stopped again when the run is over). Each task's blocks travel with it, so workers on other
    machines need no access to the blocks directory."""

    name = "ray"

    def __init__(self, jobs: int | None = None, address: str | None = None):
        self.jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
        self.address = address

    def run(self, tasks: Sequence[RangeTask]) -> Iterator[RangeResult]:
        try:
            import ray
        except ImportError as e:
            raise ExecutorError("the ray executor needs the 'ray' package (pip install 'packetfs[ray]')") from e
        started_here = False
        if not ray.is_initialized():
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=False)
                else:
                    ray.init(num_cpus=self.jobs, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ExecutorError(f"cannot start or reach Ray ({self.address or 'local'}): {e}") from e
            started_here = True
        try:
            remote = ray.remote(num_cpus=1, max_retries=0)(validate_range)
            pending = [remote.remote(task) for task in tasks]
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    yield ray.get(done[0])
                except ray.exceptions.RayError as e:
                    raise ExecutorError(f"a Ray validation task failed: {e}") from e
        finally:
            if started_here:
                ray.shutdown()


def make_executor(kind: str, jobs: int | None, ray_address: str | None = None) -> LocalExecutor | RayExecutor:
    if kind == "local":
        return LocalExecutor(jobs)
    if kind == "ray":
        return RayExecutor(jobs, ray_address)
    raise ValueError(f"unknown executor {kind!r} (local or ray)")
