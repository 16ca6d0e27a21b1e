"""One writing process per datadir: the `.lock` file, its message, and release when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from packetfs.bitcoin.errors import PacketFSError
from packetfs.bitcoin.storage.datadir_lock import DatadirInUseError, DatadirLock

_HOLDER = textwrap.dedent(
    """
    import sys, time
    from packetfs.bitcoin.storage.datadir_lock import DatadirLock
    lock = DatadirLock(sys.argv[1]).acquire()
    print("locked", flush=True)
    time.sleep(60)
    """
)


def _start_holder(datadir) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(datadir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture
def holder(tmp_path):
    procs: list[subprocess.Popen] = []

    def start(datadir):
        p = _start_holder(datadir)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def test_second_process_is_refused_with_the_holders_pid(tmp_path, holder):
    d = tmp_path / "node"
    proc = holder(d)
    with pytest.raises(DatadirInUseError) as info:
        DatadirLock(d).acquire()
    assert str(info.value) == f"datadir {d} is in use by process {proc.pid}"
    assert info.value.pid == proc.pid
    assert isinstance(info.value, PacketFSError)
    assert (d / ".lock").read_text().strip() == str(proc.pid)


def test_lock_is_released_when_the_holder_is_killed(tmp_path, holder):
    d = tmp_path / "node"
    proc = holder(d)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # The stale file stays; the kernel dropped the lock with the process.
    assert (d / ".lock").exists()
    with DatadirLock(d) as lock:
        assert lock.held
        assert (d / ".lock").read_text().strip() == str(os.getpid())


def test_release_lets_another_process_in(tmp_path):
    d = tmp_path / "node"
    lock = DatadirLock(d).acquire()
    probe = [sys.executable, "-c", "import sys\nfrom packetfs.bitcoin.storage.datadir_lock import DatadirLock\n"
             "DatadirLock(sys.argv[1]).acquire()", str(d)]  # fmt: skip
    refused = subprocess.run(probe, capture_output=True, text=True)
    assert refused.returncode != 0 and f"datadir {d} is in use by process {os.getpid()}" in refused.stderr
    lock.release()
    assert not lock.held
    assert subprocess.run(probe, capture_output=True).returncode == 0


def test_reentrant_within_a_process(tmp_path):
    d = tmp_path / "node"
    outer = DatadirLock(d).acquire()
    inner = DatadirLock(d).acquire()  # a command holding the lock opens a Chainstate, which takes it too
    inner.release()
    # Still held by `outer`: another process is refused.
    code = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom packetfs.bitcoin.storage.datadir_lock import DatadirLock\n"
         "DatadirLock(sys.argv[1]).acquire()", str(d)], capture_output=True  # fmt: skip
    ).returncode
    assert code != 0
    outer.release()


def test_forked_child_does_not_inherit_the_right_to_write(tmp_path):
    d = tmp_path / "node"
    with DatadirLock(d):
        pid = os.fork()
        if pid == 0:  # child: must be refused, and must not unlock the parent's lock
            try:
                DatadirLock(d).acquire()
                os._exit(0)
            except DatadirInUseError as e:
                os._exit(3 if e.pid == os.getppid() else 4)
            except BaseException:
                os._exit(5)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 3
        # The child's exit closed its copy of the descriptor; the lock is still the parent's.
        code = subprocess.run(
            [sys.executable, "-c", "import sys\nfrom packetfs.bitcoin.storage.datadir_lock import DatadirLock\n"
             "DatadirLock(sys.argv[1]).acquire()", str(d)], capture_output=True  # fmt: skip
        ).returncode
        assert code != 0
