"""Where blocks below the hints' height are validated: this process, local processes, or Ray.

Every executor runs the same pure function (``validate.validate_range``) on the same tasks and hands
back the results as they finish; the importer sums them, so the verdict and the UTXO set cannot depend
on the executor, the number of workers or the order tasks finished in.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from ..errors import PacketFSError
from .validate import RangeResult, RangeTask, validate_range


class ExecutorError(PacketFSError):
    """An executor could not run the validation work (a worker died, Ray unreachable)."""


class _Inherited:
    """The tasks a forked worker inherited from its parent (process-local; set before the fork)."""

    tasks: Sequence[RangeTask] = ()


def _die_with_parent(parent: int) -> None:
    """Worker initializer: on Linux, be killed when the importer dies (PR_SET_PDEATHSIG), so a killed
    import leaves no worker blocked on its task queue, holding the datadir's lock it inherited."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: the executor's broken-pool detection still covers a dead worker
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _run_inherited(index: int) -> RangeResult:
    return validate_range(_Inherited.tasks[index])


class LocalExecutor:
    """``jobs`` local processes (forked: they inherit the tasks, and read their blocks themselves); with
    one job, validation runs in this process."""

    name = "local"

    def __init__(self, jobs: int | None = None):
        self.jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))

    def run(self, tasks: Sequence[RangeTask], started: Callable[[], None] | None = None) -> Iterator[RangeResult]:
        """Results as tasks finish. ``started()``, if given, is called in this process once every task
        has been handed out (the workers are busy with them), before the first result is waited for:
        work of the caller's that overlaps validation (in-process: before the first task)."""
        if self.jobs == 1 or len(tasks) <= 1 or os.name != "posix":
            if started is not None:
                started()
            for task in tasks:
                yield validate_range(task)
            return
        _Inherited.tasks = tasks
        # Fork, so the workers inherit the tasks (and the parsed modules); the executor forks all its
        # workers before it starts its own thread. A worker that dies (killed, out of memory) breaks
        # the pool, which is reported, never waited on forever.
        ctx = multiprocessing.get_context("fork")
        try:
            with ProcessPoolExecutor(min(self.jobs, len(tasks)), mp_context=ctx, initializer=_die_with_parent,
                                     initargs=(os.getpid(),)) as pool:  # fmt: skip
                # Largest tasks first, so no worker is left with a long tail.
                order = sorted(range(len(tasks)), key=lambda i: -sum(b.size for b in tasks[i].blocks))
                futures = [pool.submit(_run_inherited, i) for i in order]
                try:
                    if started is not None:
                        started()
                    for fut in as_completed(futures):
                        yield fut.result()
                except (BrokenProcessPool, OSError) as e:
                    raise ExecutorError(f"a validation worker failed: {e or type(e).__name__}") from e
                finally:
                    for fut in futures:
                        fut.cancel()
        finally:
            _Inherited.tasks = ()


class RayExecutor:
    """Ray tasks: on the cluster at ``address``, or on a Ray instance started here for ``jobs`` CPUs
    (and stopped again when the run is over). On a cluster each task's blocks travel with it (read
    here as the task is submitted), so workers on other machines need no access to the blocks
    directory; a local instance's workers read them from the files, as local processes do."""

    name = "ray"

    def __init__(self, jobs: int | None = None, address: str | None = None, ship_bytes: bool | None = None):
        self.jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
        self.address = address
        # Send the blocks' bytes with the tasks (default: on a cluster, i.e. when an address is given).
        self.ship_bytes = bool(address) if ship_bytes is None else ship_bytes

    def run(self, tasks: Sequence[RangeTask], started: Callable[[], None] | None = None) -> Iterator[RangeResult]:
        """As LocalExecutor.run; ``started()`` is called once the first window of tasks is submitted."""
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
            # At most two tasks per CPU in flight, so a cluster's object store holds a bounded window.
            window = 2 * self.jobs
            queue = list(tasks)
            pending: list = []
            while queue or pending:
                while queue and len(pending) < window:
                    task = queue.pop(0)
                    pending.append(remote.remote(task.with_bytes() if self.ship_bytes else task))
                if not pending:
                    break
                if started is not None:
                    started()
                    started = None
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
