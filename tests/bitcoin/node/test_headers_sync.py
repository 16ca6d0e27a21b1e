"""The low-work headers sync state machine (node/headers_sync.py), offline: commitments and their bounds,
the two phases, release only after the redownload buffer, and a chain swapped between phases caught."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.chain.headers import HeaderTree
from packetfs.bitcoin.consensus.params import get_params
from packetfs.bitcoin.node.headers_sync import (
    HEADERS_SYNC_PARAMS,
    MINIMUM_CHAIN_WORK,
    HeadersSync,
    HeadersSyncParams,
    SyncResult,
    SyncState,
    anti_dos_work_threshold,
    permitted_difficulty_transition,
)
from packetfs.bitcoin.primitives.block import BlockHeader

from .headerchain import REGTEST_BLOCK_WORK, REGTEST_GENESIS_TIME, mine_chain, mine_header

REGTEST = get_params("regtest")
NOW = REGTEST_GENESIS_TIME + 10**8  # far enough after genesis that the clock cap does not bind


def _headers(raws: list[bytes]) -> list[BlockHeader]:
    return [BlockHeader.parse(r) for r in raws]


@pytest.fixture(scope="module")
def chain_a() -> list[BlockHeader]:
    return _headers(mine_chain(1000, tag=1))


def _sync(tree: HeaderTree, min_blocks: int, period: int = 7, buffer: int = 100, offset: int = 3,
          now: int = NOW) -> HeadersSync:
    return HeadersSync(REGTEST, HeadersSyncParams(period, buffer), tree.genesis,
                       (min_blocks + 1) * REGTEST_BLOCK_WORK, now=now, salt=b"s" * 16, offset=offset)


def test_threshold_is_min_chain_work_or_tip_less_144_blocks() -> None:
    tree = HeaderTree("regtest")
    for raw in mine_chain(200, tag=9):
        tree.add_header(BlockHeader.parse(raw), now=NOW)
    tip = tree.best_header
    assert tip.height == 200 and tip.chainwork == 201 * REGTEST_BLOCK_WORK
    assert anti_dos_work_threshold(tip, 0) == (201 - 144) * REGTEST_BLOCK_WORK
    assert anti_dos_work_threshold(tip, 10**9) == 10**9
    assert anti_dos_work_threshold(tree.genesis, 0) == 0
    assert MINIMUM_CHAIN_WORK["regtest"] == 0
    assert {"mainnet", "testnet4", "signet"} <= {k for k, v in MINIMUM_CHAIN_WORK.items() if v > 0}
    assert set(HEADERS_SYNC_PARAMS) >= {"mainnet", "testnet4", "signet", "regtest"}


def test_presync_keeps_only_commitment_bits(chain_a) -> None:
    tree = HeaderTree("regtest")
    sync = _sync(tree, min_blocks=10_000)
    for i in range(0, 1000, 250):
        r = sync.process(chain_a[i : i + 250], full_message=True)
        assert r.error is None and r.request_more and not r.released
    assert sync.state is SyncState.PRESYNC and sync.height == 1000 and sync.buffered == 0
    # One bit per height == offset (mod period): heights 3, 10, ..., 997.
    assert sync.commitments == len(range(3, 1001, 7)) == 143
    assert len(sync._bits) == (143 + 7) // 8
    assert sync.locator([tree.genesis.hash]) == [chain_a[-1].hash, tree.genesis.hash]
    # A short message ends it: the chain has too little work, and nothing is kept.
    r = sync.process(_headers(mine_chain(5, prev=chain_a[-1].hash, start_time=REGTEST_GENESIS_TIME + 2000)), False)
    assert r.error is not None and not r.misbehaving and not r.released
    assert sync.state is SyncState.FINAL and len(sync._bits) == 0


def test_commitments_are_capped_by_the_clock_before_allocation(chain_a) -> None:
    tree = HeaderTree("regtest")
    # 6 headers a second since the chain start's MTP, allowing 2 h of future time: with the clock 100 s past
    # (MTP - 2 h) that is 600 headers, 85 commitments at period 7; chain_a would need 143.
    now = REGTEST_GENESIS_TIME - 7200 + 100
    sync = _sync(tree, min_blocks=10**6, period=7, now=now)
    assert sync.max_commitments == 6 * 100 // 7 == 85
    error = None
    for i in range(0, 1000, 250):
        r = sync.process(chain_a[i : i + 250], True)
        if r.error:
            error = r
            break
        assert sync.commitments <= 85 and len(sync._bits) <= 11
    assert error is not None and error.misbehaving and "clock" in error.error
    assert sync.commitments == 85  # the one over the cap was refused before it was stored
    assert sync.state is SyncState.FINAL


def test_full_sync_releases_only_after_the_buffer_then_everything(chain_a) -> None:
    tree = HeaderTree("regtest")
    sync = _sync(tree, min_blocks=900, period=7, buffer=100)
    released: list[BlockHeader] = []
    for i in range(0, 1000, 250):
        r = sync.process(chain_a[i : i + 250], True)
        assert r.error is None and not r.released
    assert sync.state is SyncState.REDOWNLOAD and sync.expected_prev == tree.genesis.hash
    r = sync.process(chain_a[:250], True)
    assert [h.hash for h in r.released] == [h.hash for h in chain_a[:150]]  # 100 stay buffered
    released += r.released
    for i in range(250, 1000, 250):
        r = sync.process(chain_a[i : i + 250], i + 250 < 1000)
        assert r.error is None
        released += r.released
    assert [h.hash for h in released] == [h.hash for h in chain_a]
    assert sync.state is SyncState.FINAL and sync.buffered == 0
    # Every released header is then valid for the tree (what the node does with them).
    for h in released:
        tree.add_header(h, now=NOW)
    assert tree.best_header.height == 1000


def test_a_chain_swapped_between_phases_is_caught_before_any_is_released(chain_a) -> None:
    tree = HeaderTree("regtest")
    sync = _sync(tree, min_blocks=900, period=7, buffer=100, offset=3)
    for i in range(0, 1000, 250):
        sync.process(chain_a[i : i + 250], True)
    assert sync.state is SyncState.REDOWNLOAD
    # The same chain up to height 16, then at height 17 (a commitment height: 17 % 7 == 3) a header
    # whose commitment bit differs, and a new chain after it.
    h = 17
    t = REGTEST_GENESIS_TIME + 5000
    nonce = 0
    while True:
        swapped = BlockHeader.parse(mine_header(chain_a[h - 2].hash, t, 99, nonce=nonce))
        if sync.commitment_bit(swapped) != sync.commitment_bit(chain_a[h - 1]):
            break
        nonce = swapped.nonce + 1
    rest = _headers(mine_chain(300, prev=swapped.hash, start_time=t, tag=3))
    lie = chain_a[: h - 1] + [swapped] + rest
    r = sync.process(lie[:250], True)
    assert r.misbehaving and "does not match" in r.error and not r.released
    assert sync.state is SyncState.FINAL and sync.buffered == 0


def test_invalid_headers_in_presync_are_misbehaviour(chain_a) -> None:
    tree = HeaderTree("regtest")
    sync = _sync(tree, min_blocks=10_000)
    bad = BlockHeader(chain_a[0].version, chain_a[0].prev_hash, chain_a[0].merkle_root, chain_a[0].time,
                      chain_a[0].bits, chain_a[0].nonce)
    nonce = 0
    while True:  # a header that misses regtest's target
        bad = BlockHeader(bad.version, bad.prev_hash, bad.merkle_root, bad.time, bad.bits, nonce)
        if int.from_bytes(bad.hash, "little") > (0x7FFFFF << 232):
            break
        nonce += 1
    r = sync.process([bad], True)
    assert r.misbehaving and "proof of work" in r.error
    sync = _sync(tree, min_blocks=10_000)
    r = sync.process(chain_a[1:10], True)  # does not start at the chain start
    assert r.misbehaving and "non-continuous" in r.error


def test_permitted_difficulty_transition_mainnet() -> None:
    main = get_params("mainnet")
    # Outside a retarget height the bits cannot change.
    assert permitted_difficulty_transition(main, 2017, 0x1B0404CB, 0x1B0404CB)
    assert not permitted_difficulty_transition(main, 2017, 0x1B0404CB, 0x1B0404CA)
    # At a retarget at most 4x either way (hand-computed compact values of 4x and 1/4 of 0x0404cb<<192).
    assert permitted_difficulty_transition(main, 4032, 0x1B0404CB, 0x1B10132C)
    assert not permitted_difficulty_transition(main, 4032, 0x1B0404CB, 0x1B10132D)
    assert permitted_difficulty_transition(main, 4032, 0x1B0404CB, 0x1B010132)
    assert not permitted_difficulty_transition(main, 4032, 0x1B0404CB, 0x1B010131)
    # Test networks allow any change (min-difficulty blocks).
    assert permitted_difficulty_transition(REGTEST, 5, 0x207FFFFF, 0x1D00FFFF)


def test_params_are_checked() -> None:
    with pytest.raises(ValueError):
        HeadersSyncParams(0, 10)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_sequence_of_messages_gives_a_result_never_an_exception(chain_a, data) -> None:
    """Random slices of the chain (in or out of order, full or not), random min work and buffer: the state
    machine only returns results, keeps its bounds, and releases only a prefix of the chain."""
    tree = HeaderTree("regtest")
    sync = _sync(tree, min_blocks=data.draw(st.integers(0, 1200)), period=data.draw(st.integers(1, 50)),
                 buffer=data.draw(st.integers(0, 300)), offset=data.draw(st.integers(0, 49)))
    released: list[BlockHeader] = []
    for _ in range(data.draw(st.integers(1, 12))):
        start = data.draw(st.integers(0, 999))
        n = data.draw(st.integers(0, 300))
        r = sync.process(chain_a[start : start + n], data.draw(st.booleans()))
        assert isinstance(r, SyncResult)
        released += r.released
        assert sync.commitments <= sync.max_commitments
        assert sync.buffered <= sync.sync_params.redownload_buffer_size + 300
        if sync.state is SyncState.FINAL:
            break
    assert [h.hash for h in released] == [h.hash for h in chain_a[: len(released)]]
