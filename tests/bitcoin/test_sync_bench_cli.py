"""`packetfs bitcoin sync-bench`: issue 13's measurement as one command, running the checkout's
bench/sync_relay.py with the options turned into its environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from packetfs.bitcoin import sync_bench_cli
from packetfs.cli import main


def test_options_become_the_harness_environment(monkeypatch) -> None:
    seen: dict = {}

    def fake_run(argv, cwd, env):
        seen.update(argv=argv, cwd=cwd, env=env)
        return subprocess.CompletedProcess(argv, 3)

    monkeypatch.setattr(sync_bench_cli.subprocess, "run", fake_run)
    out = CliRunner().invoke(main, ["bitcoin", "sync-bench", "--quick", "--links", "loopback, 20mbit",
                                    "--repeat", "3", "--blocks", "200", "--no-bcoin"])  # fmt: skip
    assert out.exit_code == 3  # the harness's exit status is the command's
    assert seen["argv"][1:] == ["-m", "bench.sync_relay", "--quick"]
    assert (Path(seen["cwd"]) / "bench" / "sync_relay.py").is_file()
    env = seen["env"]
    assert (env["PACKETFS_BENCH_RELAY_LINKS"], env["PACKETFS_BENCH_REPEAT"], env["PACKETFS_BENCH_RELAY_BLOCKS"],
            env["PACKETFS_BENCH_RELAY_BCOIN"]) == ("loopback,20mbit", "3", "200", "0")  # fmt: skip


def test_bad_options_and_a_missing_harness_are_one_sentence_errors(monkeypatch) -> None:
    out = CliRunner().invoke(main, ["bitcoin", "sync-bench", "--links", "loopback,5g"])
    assert out.exit_code == 2 and "comma-separated subset" in out.output
    monkeypatch.setattr(sync_bench_cli, "checkout_root", lambda: None)
    out = CliRunner().invoke(main, ["bitcoin", "sync-bench"])
    assert out.exit_code == 2 and "source checkout" in out.output and "Traceback" not in out.output


@pytest.mark.slow  # ~1-2 min: generates a 110-block chain and syncs it in every mode on loopback
def test_sync_bench_runs_every_mode_on_loopback() -> None:
    proc = subprocess.run([sys.executable, "-m", "packetfs.cli", "bitcoin", "sync-bench", "--links", "loopback",
                           "--blocks", "110", "--no-bcoin"], capture_output=True, text=True, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "final state equal in every run: yes" in proc.stdout
    for mode in ("plain", "lightning", "swiftsync", "kernel"):
        assert mode in proc.stdout
