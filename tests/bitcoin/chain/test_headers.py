"""Header tree on regtest: acceptance, the contextual header rules, chainwork and forks."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.chain.headers import HeaderTree, block_work
from packetfs.bitcoin.consensus.errors import ValidationError
from packetfs.bitcoin.consensus.pow import check_proof_of_work
from packetfs.bitcoin.primitives import BlockHeader

REGTEST_BITS = 0x207FFFFF
NOW = 1_800_000_000


def mine(prev: BlockHeader, time: int, tag: int = 0, bits: int = REGTEST_BITS, version: int = 4) -> BlockHeader:
    header = BlockHeader(version, prev.hash, tag.to_bytes(32, "little"), time, bits, 0)
    while not check_proof_of_work(header.hash, bits, "regtest"):
        header.nonce += 1
    return header


def build(tree: HeaderTree, start: BlockHeader, count: int, tag: int = 0, t0: int | None = None) -> list[BlockHeader]:
    out = []
    prev = start
    t = (t0 or start.time) + 1
    for i in range(count):
        h = mine(prev, t + i * 600, tag=tag * 1000 + i)
        tree.add_header(h, now=NOW)
        out.append(h)
        prev = h
    return out


def test_chain_grows_and_tracks_best_header():
    tree = HeaderTree("regtest")
    headers = build(tree, tree.genesis.header, 20)
    best = tree.best_header
    assert best.height == 20 and best.hash == headers[-1].hash
    assert best.chainwork == 21 * block_work(REGTEST_BITS)
    assert tree.ancestor(best, 5).hash == headers[4].hash


def test_fork_with_more_work_wins_and_fork_point():
    tree = HeaderTree("regtest")
    main = build(tree, tree.genesis.header, 10, tag=1)
    side = build(tree, main[4], 8, tag=2)  # 5 + 8 = 13 > 10
    assert tree.best_header.hash == side[-1].hash
    fork = tree.fork_point(tree.get(main[-1].hash), tree.get(side[-1].hash))
    assert fork.hash == main[4].hash


@pytest.mark.parametrize("rule", ["high-hash", "bad-diffbits", "time-too-old", "time-too-new", "prev-blk-not-found"])
def test_contextual_rules(rule):
    tree = HeaderTree("regtest")
    chain = build(tree, tree.genesis.header, 12)
    tip = chain[-1]
    if rule == "high-hash":
        bad = mine(tip, tip.time + 600)
        while check_proof_of_work(bad.hash, REGTEST_BITS, "regtest"):
            bad.nonce += 1
    elif rule == "bad-diffbits":
        bad = mine(tip, tip.time + 600, bits=0x200FFFFF)
    elif rule == "time-too-old":
        mtp = tree.median_time_past(tree.get(tip.hash))
        bad = mine(tip, mtp)
    elif rule == "time-too-new":
        bad = mine(tip, NOW + 2 * 3600 + 1)
    else:
        bad = mine(BlockHeader(4, bytes(32), bytes(32), 0, REGTEST_BITS, 0), tip.time + 600)
    with pytest.raises(ValidationError) as exc:
        tree.add_header(bad, now=NOW)
    assert exc.value.reason == rule
    # The boundary cases just inside each rule are accepted.
    if rule == "time-too-old":
        tree.add_header(mine(tip, tree.median_time_past(tree.get(tip.hash)) + 1), now=NOW)
    if rule == "time-too-new":
        tree.add_header(mine(tip, NOW + 2 * 3600, tag=7), now=NOW)


def test_failed_block_taints_descendants_and_best_header_moves():
    tree = HeaderTree("regtest")
    main = build(tree, tree.genesis.header, 6, tag=1)
    side = build(tree, main[1], 3, tag=2)  # height 5, less work than main (6)
    bad = tree.get(main[3].hash)
    tree.mark_failed(bad)
    assert tree.get(main[5].hash).failed and tree.get(main[4].hash).failed
    assert not tree.get(main[2].hash).failed
    assert tree.best_header.hash == side[-1].hash
    with pytest.raises(ValidationError, match="bad-prevblk"):
        tree.add_header(mine(main[5], main[5].time + 600), now=NOW)
