"""Stopping a server a test started in its own session (``start_new_session=True``): the signal goes
to the whole process group, so nothing it started outlives the test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_process_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int | None:
    """Send ``sig`` to ``proc``'s process group and wait up to ``timeout`` s, then SIGKILL the group
    (whatever is left of it) and reap ``proc``; returns its exit code (None if it could not be reaped)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    return proc.returncode
