"""Crash safety: an import killed with SIGKILL at random moments restarts to a consistent chainstate
(exactly the UTXO set of some prefix of the chain, tip included) and finishes where it stopped."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.chain.generator import ChainGenerator, write_chain
from packetfs.bitcoin.primitives import Block

from .test_chainstate import model_utxo, utxo_of


def _import_cmd(blocks_dir, datadir) -> list[str]:
    # Flushing after every block gives a kill the most flush points to land in.
    return [sys.executable, "-m", "packetfs.cli", "bitcoin", "import", str(blocks_dir), "--network", "regtest",
            "--datadir", str(datadir), "--jobs", "1", "--flush-every", "1"]  # fmt: skip


def _check_consistent(datadir, blocks: list[bytes]) -> int:
    with Chainstate(datadir, "regtest", jobs=1) as cs:
        h = cs.tip.height
        assert h == 0 or cs.tip.hash == Block.from_bytes(blocks[h - 1]).hash
        assert utxo_of(cs) == model_utxo(blocks[:h])
        assert cs.utxo.stats() == cs.utxo.stats(scan=True)
        return h


def _run_kills(tmp_path, kills: int, seed: int, blocks_n: int, max_wait: float) -> None:
    gen = ChainGenerator(seed=seed, profile="2024", txs_per_block=20, min_kind_share=0.1)
    generated = list(gen.blocks(blocks_n))
    blocks = [b.raw for b in generated]
    write_chain(generated, tmp_path / "core")
    datadir = tmp_path / "node"
    rng = random.Random(seed)
    heights = []
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for _ in range(kills):
        proc = subprocess.Popen(_import_cmd(tmp_path / "core", datadir), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        # Wait out the interpreter's start (seconds on a loaded machine) before the random delay, so
        # the kill lands inside the import, not before it.
        started = time.monotonic()
        while proc.poll() is None and time.monotonic() - started < 60:
            try:  # the importer holds the datadir's lock (it writes its pid there once it has it)
                if (datadir / ".lock").read_text().strip() == str(proc.pid):
                    break
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        time.sleep(rng.uniform(0.05, max_wait))
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL, "the import ended before the kill: lengthen the chain"
        heights.append(_check_consistent(datadir, blocks))
    done = subprocess.run(_import_cmd(tmp_path / "core", datadir), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _check_consistent(datadir, blocks) == len(blocks)
    # Kills landed at many different points of the import, not all before it started.
    assert len(set(heights)) >= kills // 2 and max(heights) > 0, heights


def test_kill_during_import_then_resume(tmp_path):
    # Long enough that five kills (each resuming where the last stopped) land before the import ends, with a
    # wide margin: at ~65 blocks/s (2 cores, --flush-every 1) the five waits cover at most ~450 blocks.
    _run_kills(tmp_path, kills=5, seed=21, blocks_n=1200, max_wait=1.4)


@pytest.mark.slow
def test_kill_during_import_many_times(tmp_path):
    _run_kills(tmp_path, kills=60, seed=22, blocks_n=4000, max_wait=1.0)
