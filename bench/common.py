"""Timing helpers shared by the benchmarks: repeated runs, medians, no lone absolute numbers."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], repeat: int = 5, min_time: float = 0.0) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs (more if they finish under ``min_time``)."""
    times = []
    start = time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - start) < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 50:
            break
    return statistics.median(times)


def process_tree_usage(pid: int, rss: str = "sum") -> tuple[float, int]:
    """(CPU seconds, peak RSS bytes) of a live process and its live descendants, read from /proc.

    Worker pools count: a node's script or codec workers are part of what syncing costs. ``rss="sum"``
    adds the processes' peaks (an upper bound of the tree's peak), ``rss="max"`` takes the largest one."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    cpu, peaks, todo = 0.0, [], [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, ()))
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += sum(int(x) for x in fields[11:15]) / ticks  # utime, stime, cutime, cstime
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) * 1024)
        except OSError:
            continue
    return cpu, (sum(peaks) if rss == "sum" else max(peaks, default=0))


def compile_packetfs_bytecode() -> None:
    """Write packetfs's bytecode (__pycache__, git-ignored) before anything is timed.

    An installed package has its .pyc files (pip compiles on install; the kernel's wheel ships its code
    compiled), but a source checkout run with PYTHONDONTWRITEBYTECODE=1 (as on this machine) compiles
    every module again in every process it starts, ~0.03-0.07 CPU-s each: a cost of the checkout, not of
    the code being measured. Existing .pyc files are still read with that variable set."""
    import compileall
    from pathlib import Path

    import packetfs

    compileall.compile_dir(Path(packetfs.__file__).parent, quiet=1, workers=1)
