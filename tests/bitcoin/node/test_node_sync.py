"""PacketFS nodes syncing from each other (raw and codec stores), and resuming after kill -9."""

from __future__ import annotations

import time

import pytest


def _tip(tools, datadir):
    return tools.chain_info(datadir)["best_block_hash"]


def test_three_nodes_sync_in_a_line_through_a_codec_stored_node(nodes, tools, synced_datadir, tmp_path) -> None:
    summary = synced_datadir(460, "raw", tmp_path / "a")
    a = nodes("a")
    b = nodes("b", "--store", "codec", "--connect", f"127.0.0.1:{a.p2p_port}")
    tools.wait_until(lambda: _tip(tools, b.datadir) == summary["tip"], 120, "b to sync from a", interval=0.5,
                     on_fail=b.log_text)
    # c syncs from b only: every block it gets was decoded from b's codec store.
    c = nodes("c", "--connect", f"localhost:{b.p2p_port}")  # a host name, resolved when dialling
    tools.wait_until(lambda: _tip(tools, c.datadir) == summary["tip"], 120, "c to sync from b", interval=0.5,
                     on_fail=c.log_text)
    digests = {tools.chain_info(n.datadir)["utxo_digest"] for n in (a, b, c)}
    assert len(digests) == 1


@pytest.mark.slow  # ~35-45 s: several nodes and bcoins (make test-slow)
def test_kill_9_during_sync_then_restart_resumes_to_the_same_utxo_digest(nodes, tools, synced_datadir,
                                                                         tmp_path) -> None:
    summary = synced_datadir(1500, "raw", tmp_path / "src")
    src = nodes("src")
    want = tools.chain_info(src.datadir)
    victim = nodes("victim", "--connect", f"127.0.0.1:{src.p2p_port}")
    tools.wait_until(lambda: "tip 300 " in victim.log_text(), 60, "sync under way", interval=0.02,
                     on_fail=victim.log_text)
    victim.kill9()
    mid = tools.chain_info(victim.datadir)["height"]
    assert mid < summary["height"], "the kill should land mid-sync"
    restarted = nodes("victim", "--connect", f"127.0.0.1:{src.p2p_port}")
    tools.wait_until(lambda: _tip(tools, restarted.datadir) == summary["tip"], 120, "resumed sync", interval=0.5,
                     on_fail=restarted.log_text)
    assert tools.chain_info(restarted.datadir)["utxo_digest"] == want["utxo_digest"]
    assert f"chainstate regtest: height {mid}," in restarted.log_text()


def test_second_node_in_same_datadir_is_refused(nodes, tmp_path) -> None:
    a = nodes("a")
    b = nodes("a", start=False)
    b.datadir = a.datadir
    try:
        b.start(timeout=20)
    except RuntimeError as e:
        assert "exited with 3" in str(e) and "in use" in str(e)
    else:
        raise AssertionError("a second node on the same datadir started")
    time.sleep(0)
