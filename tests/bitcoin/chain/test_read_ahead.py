"""The importer's read-ahead (the next block checked context-free, and its scripts queued, while this
block's scripts run) and the standing script workers: same results as a plain one-process import,
invalid blocks included."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.chain.generator import ChainGenerator, mutate_block, regrind
from packetfs.bitcoin.chain.importer import import_blocks
from packetfs.bitcoin.consensus.errors import ValidationError
from packetfs.bitcoin.primitives import Block, BlockHeader

NOW = 4_000_000_000
GEN = {"txs_per_block": 6, "min_kind_share": 0.1}


def state(cs: Chainstate) -> tuple:
    cs.flush()
    return cs.tip.hash, sorted((t, v, c) for t, v, c in cs.utxo), cs.utxo.stats()


@pytest.fixture(scope="module")
def good() -> tuple[ChainGenerator, list[bytes]]:
    gen = ChainGenerator(seed=21, profile="2024", **GEN)
    return gen, [b.raw for b in gen.blocks(106)]


def test_a_prechecked_hash_does_not_vouch_for_other_bytes(tmp_path, good):
    _, blocks = good
    # Same header hash as a good block, other bytes: its last tx repeated (CVE-2012-2459; the merkle
    # root stays the same when the count is odd), which check_block refuses as mutated.
    m = next(m for m in range(len(blocks) - 1, 0, -1) if len(Block.from_bytes(blocks[m]).transactions) % 2)
    block = Block.from_bytes(blocks[m])
    bad = Block(block.header, [*block.transactions, block.transactions[-1]]).serialize()
    assert bad[:80] == blocks[m][:80] and bad != blocks[m]
    with Chainstate(tmp_path / "node", "regtest", jobs=1, now=lambda: NOW, store_mode="raw") as cs:
        for raw in blocks[: m - 1]:
            cs.process_block(raw)
        cs.hint_next(blocks[m])
        cs.process_block(blocks[m - 1])  # checks the hinted block while the scripts run
        assert block.hash in cs._prechecked
        before = state(cs)
        with pytest.raises(ValidationError) as e:
            cs.process_block(bad)
        assert e.value.reason == "bad-txns-duplicate"
        assert state(cs) == before
        for raw in blocks[m:]:
            cs.process_block(raw)
        assert cs.tip.hash == Block.from_bytes(blocks[-1]).hash


@pytest.mark.parametrize("kind", ["bad_signature", "bad_merkle_root", "too_much_coinbase_value"])
def test_import_with_workers_and_read_ahead_equals_plain_import(tmp_path, good, kind):
    gen, blocks = good
    k = 103
    bad = mutate_block(blocks[k - 1], kind)
    feed = blocks[: k - 1] + [bad] + blocks[k - 1 :]
    with Chainstate(tmp_path / "a", "regtest", jobs=2, now=lambda: NOW, store_mode="raw") as cs:
        result = import_blocks(cs, feed)
        assert cs.stats.inputs_script_checked == cs.stats.inputs > 0
        # Most blocks' scripts were checked while their parent connected (not the first block, nor
        # one whose parent is not the block before it in the feed).
        assert cs.stats.scripts_used_early >= len(feed) - 10
        if kind == "bad_merkle_root":
            # Refused before storing; reported by the importer.
            assert [r["error"] for r in result.invalid] == ["bad-txnmrklroot"]
        else:
            # Stored, then failed to connect: reported all the same; the chain went on with the
            # honest sibling.
            reason = {"bad_signature": "mandatory-script-verify-flag-failed", "too_much_coinbase_value": "bad-cb-amount"}
            assert cs.last_error is not None
            assert [(r["hash"], r["error"].split(" ")[0]) for r in result.invalid] == [
                (Block.from_bytes(bad).hash_hex, reason[kind])]  # fmt: skip
        got = state(cs)
    with Chainstate(tmp_path / "b", "regtest", jobs=1, now=lambda: NOW, store_mode="raw") as cs:
        for raw in blocks:
            cs.process_block(raw)
        assert state(cs) == got


def reparent(raw: bytes, parent: bytes) -> bytes:
    """``raw`` moved on top of ``parent`` (same transactions, new proof of work)."""
    block = Block.from_bytes(raw)
    h = block.header
    header = regrind(BlockHeader(h.version, Block.from_bytes(parent).hash, h.merkle_root, h.time, h.bits, 0))
    return header.serialize() + raw[80:]


def test_child_checked_early_under_a_parent_that_fails_its_scripts(tmp_path, good):
    # Block k's scripts fail while its child's scripts are already queued behind them: the child's
    # checks are dropped, neither block is connected, and the chain goes on from the honest block k.
    gen, blocks = good
    k = 102
    bad = mutate_block(blocks[k], "bad_signature")
    child = reparent(blocks[k + 1], bad)
    with Chainstate(tmp_path / "a", "regtest", jobs=2, now=lambda: NOW, store_mode="raw") as cs:
        import_blocks(cs, blocks[:k])
        before = state(cs)
        started = cs.stats.scripts_started_early
        import_blocks(cs, [bad, child])
        assert cs.stats.scripts_started_early == started + 1  # the child's, while the bad block connected
        assert cs.last_error is not None and cs.last_error.reason.startswith("mandatory-script-verify-flag-failed")
        assert state(cs) == before
        assert cs._ahead is None and (cs.pool._crew is None or not cs.pool._crew.busy)  # nothing left in flight
        import_blocks(cs, blocks[k:])
        got = state(cs)
    with Chainstate(tmp_path / "b", "regtest", jobs=1, now=lambda: NOW, store_mode="raw") as cs:
        for raw in blocks:
            cs.process_block(raw)
        assert state(cs) == got


def test_early_checks_of_a_block_that_does_not_come_next_are_dropped(tmp_path, good):
    # The hinted block is not the one handed over next (a sibling comes instead): its early checks
    # are cancelled and the sibling is checked on its own.
    gen, blocks = good
    k = 103
    sibling = mutate_block(blocks[k], "bad_signature")
    with Chainstate(tmp_path / "a", "regtest", jobs=2, now=lambda: NOW, store_mode="raw") as cs:
        import_blocks(cs, blocks[: k - 1])
        cs.hint_next(blocks[k])
        cs.process_block(blocks[k - 1])
        assert cs._ahead is not None and cs._ahead.block.hash == Block.from_bytes(blocks[k]).hash
        before = state(cs)
        used = cs.stats.scripts_used_early
        cs.process_block(sibling)  # same parent, fails its scripts
        assert cs.stats.scripts_used_early == used and cs._ahead is None
        assert cs.last_error is not None and state(cs) == before
        for raw in blocks[k:]:
            cs.process_block(raw)
        assert cs.tip.hash == Block.from_bytes(blocks[-1]).hash


def test_import_pauses_the_cyclic_collector_and_leaves_it_little(tmp_path, good, monkeypatch):
    # The importer turns Python's cyclic GC off while it works (its passes over the UTXO cache cost
    # much and find almost nothing) and back on at the end, even when the import fails.
    import gc

    _, blocks = good
    enabled_during = []
    with Chainstate(tmp_path / "a", "regtest", jobs=2, now=lambda: NOW, store_mode="raw") as cs:
        real = cs.process_block
        monkeypatch.setattr(cs, "process_block", lambda raw: (enabled_during.append(gc.isenabled()), real(raw))[1])
        gc.collect()
        assert gc.isenabled()
        import_blocks(cs, blocks[:60])
        assert gc.isenabled() and enabled_during and not any(enabled_during)
        # What the paused collector would have had to find: next to nothing (no cycles per block).
        left = gc.collect()
        import_blocks(cs, blocks[60:])
        assert gc.collect() < 2000, "connecting blocks now makes reference cycles; reconsider cyclic_gc_paused"
        assert left < 2000


    def boom(raw):
        raise RuntimeError("disk full")

    with Chainstate(tmp_path / "b", "regtest", jobs=1, now=lambda: NOW, store_mode="raw") as cs:
        monkeypatch.setattr(cs, "process_block", boom)
        with pytest.raises(RuntimeError, match="disk full"):
            import_blocks(cs, blocks[:2])
        assert gc.isenabled()
