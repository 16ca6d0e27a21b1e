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


# ---------------------------------------------------------------- download window, cached path
def _reference_next_blocks(d, peer_id, tip, peer_best):
    """FindNextBlocksToDownload written the plain way (walk back from the window's top every time), to
    check the cached-path version in node/download.py against."""
    from packetfs.bitcoin.chain.headers import HAVE_DATA, HeaderTree

    free = d.per_peer - d.count(peer_id)
    if free <= 0 or peer_best is None or peer_best.failed or peer_best.chainwork <= tip.chainwork:
        return [], None
    fork = HeaderTree.fork_point(tip, peer_best)
    window_end = fork.height + d.window
    top = peer_best
    while top.height > window_end:
        top = top.prev
    path = []
    e = top
    while e is not None and e is not fork:
        path.append(e)
        e = e.prev
    path.reverse()
    out, waiting_for = [], None
    for e in path:
        if e.failed:
            break
        if e.status & HAVE_DATA:
            continue
        holder = d.in_flight.get(e.hash)
        if holder is not None:
            waiting_for = holder[0] if waiting_for is None else waiting_for
            continue
        out.append(e)
        if len(out) >= free:
            return out, None
    staller = None
    if not out and top.height == window_end and peer_best.height > window_end and waiting_for is not None \
            and waiting_for != peer_id:
        staller = waiting_for
    return out, staller


def test_next_blocks_with_cached_path_equals_the_plain_walk() -> None:
    """Random trees (forks, reorgs of tip and peers' best headers, blocks arriving out of order, failed
    blocks, small windows): every answer of the cached version equals the plain walk's."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from packetfs.bitcoin.chain.headers import FAILED, HAVE_DATA, HeaderTree
    from packetfs.bitcoin.consensus.params import get_params
    from packetfs.bitcoin.node.download import BlockDownload
    from packetfs.bitcoin.primitives.block import BlockHeader

    step = st.tuples(st.integers(0, 7), st.integers(0, 10**6), st.integers(1, 3))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(step, min_size=1, max_size=60), st.integers(2, 40), st.integers(1, 6))
    def check(steps, window, per_peer) -> None:
        tree = HeaderTree(get_params("regtest"))
        entries = [tree.genesis]
        nonce = [0]

        def grow(base, n):
            e = base
            for _ in range(n):
                nonce[0] += 1
                h = BlockHeader(0x20000000, e.hash, bytes(32), e.header.time + 1, 0x207FFFFF, nonce[0])
                e = tree.insert(h, e)
                entries.append(e)
            return e

        grow(tree.genesis, 12)
        d = BlockDownload(per_peer=per_peer, window=window)
        tip, best = tree.genesis, {1: entries[-1], 2: entries[-1]}
        for op, r, n in steps:
            pick = entries[r % len(entries)]
            if op == 0:
                grow(pick, n * 4)  # a fork or an extension
            elif op == 1:
                best[1 + r % 2] = pick
            elif op == 2:
                tip = pick if pick.height <= tip.height + 3 else tip
            elif op == 3:
                pick.status |= HAVE_DATA
            elif op == 4 and r % 5 == 0:
                pick.status |= FAILED
            elif op == 5:
                d.received(pick.hash)
            elif op == 6:
                d.peer_gone(1 + r % 2)
            for peer in (1, 2):
                want = _reference_next_blocks(d, peer, tip, best[peer])
                got = d.next_blocks(peer, tip, best[peer])
                assert (got.blocks, got.staller) == want
                for e in got.blocks:
                    d.request(peer, e.hash)

    check()
