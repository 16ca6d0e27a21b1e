"""Worker processes driven over pipes: the one way the local backend and the training cluster stop them."""

from __future__ import annotations

from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess


def stop_workers(conns: list[Connection], procs: list[BaseProcess], grace_s: float = 2.0) -> None:
    """Ask every worker to stop, wait ``grace_s`` for each, kill the ones still alive, close the pipes.

    A worker that already died (its pipe broken) is only joined: stopping must never raise, as it also
    runs on error paths."""
    for conn in conns:
        try:
            conn.send(("stop",))
        except (BrokenPipeError, OSError):
            pass
    for proc in procs:
        proc.join(timeout=grace_s)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=grace_s)
    for conn in conns:
        conn.close()
