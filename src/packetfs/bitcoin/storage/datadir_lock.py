"""One writing process per datadir, as Core's ``.lock`` file.

Every command that writes a datadir holds an exclusive ``flock`` on ``D/.lock`` for as long as it runs;
the file holds the holder's pid (for the message a second writer gets). The kernel drops a ``flock``
when the last descriptor of it closes, so a process that dies, however it dies, releases the lock:
a stale ``.lock`` file left behind is harmless and is simply locked again.

Readers never take the lock: LMDB readers work beside a writer in another process, and the block
store's records are append-only, so ``chain-info`` runs next to a running import or node.

The lock is held per process, not per object: taking it again in the process that already holds it
(a command that holds it and then opens a Chainstate, which takes it too) only counts a reference.
It guards against other processes, not against two writers inside one program.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from ..errors import PacketFSError

__all__ = ["DatadirInUseError", "DatadirLock", "LOCK_FILE_NAME"]

LOCK_FILE_NAME = ".lock"


class DatadirInUseError(PacketFSError):
    """Another process holds the datadir's lock."""

    def __init__(self, datadir: Path, pid: int | None):
        self.datadir = datadir
        self.pid = pid
        super().__init__(f"datadir {datadir} is in use by process {pid if pid is not None else 'unknown'}")


# Locks this process holds: resolved datadir -> [fd, references, pid]. A registry, not per-object
# state, because flock locks conflict between two descriptors of one process as well. A forked child
# inherits the registry and the descriptors, but not the right to write: it sees a foreign pid and
# drops the entry without touching the descriptor (unlocking it would unlock the parent's lock).
_held: dict[Path, list[int]] = {}
_held_guard = threading.Lock()


def _read_pid(fd: int) -> int | None:
    # The holder writes its pid right after it locks; a reader arriving in between sees an empty file.
    for _ in range(20):
        data = os.pread(fd, 32, 0).strip()
        if data:
            try:
                return int(data)
            except ValueError:
                return None
        time.sleep(0.01)
    return None


class DatadirLock:
    """``with DatadirLock(datadir):`` holds the exclusive lock of ``datadir`` (created if missing).

    ``acquire()`` raises DatadirInUseError at once (no waiting) if another process holds it.
    """

    def __init__(self, datadir: str | Path):
        self.datadir = Path(datadir)
        self._key: Path | None = None

    @property
    def path(self) -> Path:
        return self.datadir / LOCK_FILE_NAME

    @property
    def held(self) -> bool:
        return self._key is not None

    def acquire(self) -> DatadirLock:
        if self._key is not None:
            return self
        self.datadir.mkdir(parents=True, exist_ok=True)
        key = self.datadir.resolve()
        with _held_guard:
            entry = _held.get(key)
            if entry is not None and entry[2] != os.getpid():
                del _held[key]
                entry = None
            if entry is not None:
                entry[1] += 1
                self._key = key
                return self
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                raise DatadirInUseError(self.datadir, pid) from None
            except BaseException:
                os.close(fd)
                raise
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _held[key] = [fd, 1, os.getpid()]
            self._key = key
        return self

    def release(self) -> None:
        key, self._key = self._key, None
        if key is None:
            return
        with _held_guard:
            entry = _held.get(key)
            if entry is None:
                return
            if entry[2] != os.getpid():
                del _held[key]
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _held[key]
            fd = entry[0]
            # Empty the pid first, so nobody reads a stale one; the file itself stays (as Core's).
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> DatadirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown: the kernel drops the lock anyway
            pass
