"""The import's timeline and what overlaps validation: blocks and undo records are appended to the
block store while the workers validate (raw store), so a fallback after they were written, and a
process killed after they were written, must both leave exactly what an ordinary import leaves."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.storage.blockfiles import open_blocks_dir
from packetfs.bitcoin.swiftsync import Hints, LocalExecutor, swiftsync_import

from .conftest import HINTS_HEIGHT, chain_info, packetfs


def _store_files(datadir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((datadir / "blocks").iterdir())}


def test_records_written_while_workers_validate(chain, tmp_path):
    proc = packetfs("import", str(chain.blocks_dir), "--swiftsync", str(chain.hints), "--network", "regtest",
                    "--datadir", str(tmp_path / "ss"), "-j", "2", "--store", "raw", "--json", "--strict")  # fmt: skip
    out = json.loads(proc.stdout)
    tl = out["timeline"]
    assert out["mode"] == "swiftsync"
    order = ["command", "opened", "entered", "scanned", "headers", "workers_started", "validated", "written",
             "done", "info", "closed"]  # fmt: skip
    assert [tl[k] for k in order] == sorted(tl[k] for k in order)
    # The records were appended after the tasks were handed out and before the results were in.
    assert tl["workers_started"] <= tl["records_written"] <= tl["validated"]
    assert tl["first_task_started"] <= tl["first_block_validated"] <= tl["last_block_validated"] <= tl["validated"]
    assert len(out["workers"]) == 2 and sum(w["tasks"] for w in out["workers"].values()) > 2
    for w in out["workers"].values():
        assert 0 < w["busy"] <= w["end"] - w["start"] + 1e-3
    assert chain_info(tmp_path / "ss") == chain.reference
    # Same block store bytes as the ordinary import (same records, same order, same files).
    assert _store_files(tmp_path / "ss") == _store_files(chain.reference_datadir)


def test_fallback_after_records_were_written_leaves_an_ordinary_import(chain, tmp_path):
    # Wrong hints (one unspent output marked spent): known only when the aggregate is summed at H,
    # long after every block and undo record was appended.
    hints = Hints.read(chain.hints)
    h = next(h for h in range(HINTS_HEIGHT, 0, -1) if len(hints.for_block(h)) >= 2)
    bad = Hints(hints.height, [*hints.unspent[: h - 1], list(hints.for_block(h))[1:], *hints.unspent[h:]])
    with Chainstate(tmp_path / "ss", "regtest", jobs=1, store_mode="raw") as cs:
        result = swiftsync_import(cs, open_blocks_dir(chain.blocks_dir), bad, LocalExecutor(2))
    assert result.mode == "fallback" and "aggregate" in result.fallback_reason
    assert "records_written" in result.timeline
    assert chain_info(tmp_path / "ss") == chain.reference
    # The early records were given back: the fallback stored every block where an ordinary import does.
    assert _store_files(tmp_path / "ss") == _store_files(chain.reference_datadir)


KILL_AFTER_WRITE = r"""
import os, signal, sys
from packetfs.bitcoin.swiftsync import importer
write = importer.EarlyRecords.write
def write_then_die(self):
    write(self)  # every record appended and fsynced, nothing durable refers to them yet
    os.kill(os.getpid(), signal.SIGKILL)
importer.EarlyRecords.write = write_then_die
from packetfs.cli import main
sys.argv = ["packetfs", "bitcoin", *sys.argv[1:]]
main()
"""


def test_killed_after_records_were_written_leaves_a_usable_datadir(chain, tmp_path):
    datadir = tmp_path / "ss"
    args = ["import", str(chain.blocks_dir), "--swiftsync", str(chain.hints), "--network", "regtest", "--datadir",
            str(datadir), "-j", "2", "--store", "raw"]  # fmt: skip
    # Its own process group, stopped whole below whatever happens.
    log = tmp_path / "stderr"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", KILL_AFTER_WRITE, *args], stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)  # fmt: skip
    try:
        assert proc.wait(timeout=120) == -signal.SIGKILL, log.read_text()[-2000:]
        # The validation workers die with the importer (they would otherwise hold the datadir's lock,
        # inherited across the fork, waiting for tasks forever).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _group_alive(proc.pid):
            time.sleep(0.02)
        assert not _group_alive(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    written = sum(p.stat().st_size for p in (datadir / "blocks").iterdir())
    with Chainstate(datadir, "regtest", jobs=1, store_mode="raw") as cs:
        assert cs.tip.height == 0  # nothing below H is trusted before the aggregate is zero
        assert cs.reclaimed_bytes > 0 and cs.reclaimed_bytes >= written - 1000  # the records given back
    # Re-running finishes the job, and ends where an ordinary import does.
    out = json.loads(packetfs(*args, "--json", "--strict").stdout)
    assert out["mode"] == "swiftsync"
    assert chain_info(datadir) == chain.reference
    assert _store_files(datadir) == _store_files(chain.reference_datadir)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
