"""The block store: exact round trips of real blocks and undo data, corruption detection, crash tails,
and export to Core's blk/rev format compared byte for byte with files Bitcoin Core itself wrote."""

from __future__ import annotations

import hashlib
import os

import brotli
import pytest

from packetfs.bitcoin.storage import iter_blk_file, iter_rev_file, open_blocks_dir, read_xor_key
from packetfs.bitcoin.storage.blockstore import (
    BlockLocation,
    BlockStore,
    BlockStoreError,
    UndoLocation,
    measure_ratios,
)


def _hash(raw: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(raw[:80]).digest()).digest()


def _codec_available() -> bool:
    try:
        from packetfs.bitcoin.codec import decode_block, encode_block  # noqa: F401
    except ImportError:
        return False
    return True


needs_codec = pytest.mark.skipif(not _codec_available(), reason="packetfs.bitcoin.codec is not installed yet")


# Encoding through the (pure Python) codec costs ~2 s per MB: default tests use the two small blocks
# (one with undo data); the slow variants run every shared block.
SMALL = ("mainnet-757739", "mainnet-300025")


def _subset(real_blocks, real_undo, small: bool):
    if not small:
        return real_blocks, real_undo
    return {n: real_blocks[n] for n in SMALL}, {n: real_undo[n] for n in SMALL if n in real_undo}


def _fill(store: BlockStore, real_blocks, real_undo):
    locs = {}
    for name, raw in real_blocks.items():
        bloc = store.put_block(raw)
        uloc = None
        if name in real_undo:
            uloc = store.put_undo(_hash(raw), raw[4:36], real_undo[name])
        locs[name] = (bloc, uloc)
    return locs


@pytest.mark.parametrize(
    ("mode", "small"),
    [
        ("raw", False),
        pytest.param("codec", True, marks=needs_codec),
        pytest.param("codec", False, marks=[needs_codec, pytest.mark.slow]),
    ],
)
def test_round_trip_shared_blocks(tmp_path, real_blocks, real_undo, mode, small):
    real_blocks, real_undo = _subset(real_blocks, real_undo, small)
    store = BlockStore(tmp_path / "blocks", network="mainnet", mode=mode)
    locs = _fill(store, real_blocks, real_undo)
    for name, (bloc, uloc) in locs.items():
        assert store.get_block(bloc) == real_blocks[name]
        if uloc is not None:
            assert store.get_undo(uloc) == real_undo[name]
            rec = store.get_undo_record(uloc)
            assert rec.block_hash == _hash(real_blocks[name]) and rec.prev_hash == real_blocks[name][4:36]
    modes = {store.block_record_info(b)["mode"] for b, _ in locs.values()}
    if mode == "raw":
        assert modes == {"raw"}
    else:
        assert "codec-isolated" in modes  # the codec did compress real blocks
        stored = sum(store.block_record_info(b)["record_bytes"] for b, _ in locs.values())
        assert stored < sum(len(r) for r in real_blocks.values())
    store.close()
    # reopen: everything still readable, and new appends go on after it
    store = BlockStore(tmp_path / "blocks", network="mainnet", mode=mode)
    for name, (bloc, _) in locs.items():
        assert store.get_block(bloc) == real_blocks[name]
    again = store.put_block(real_blocks["mainnet-757739"])
    assert again.offset >= max(b.offset + b.size for b, _ in locs.values() if b.file == again.file)
    assert store.get_block(again) == real_blocks["mainnet-757739"]
    assert list(store.iter_block_locations()) == [b for b, _ in locs.values()] + [again]
    assert list(store.iter_undo_locations()) == [u for _, u in locs.values() if u is not None]
    store.close()


def test_locations_are_plain_int_tuples(tmp_path, real_blocks):
    # the chainstate serializes locations field by field and rebuilds them with block_location(*ints)
    store = BlockStore(tmp_path / "b", network="mainnet", mode="raw")
    loc = store.put_block(real_blocks["mainnet-757739"])
    assert store.get_block(store.block_location(*(int(v) for v in loc))) == real_blocks["mainnet-757739"]
    assert isinstance(loc, BlockLocation) and all(isinstance(v, int) for v in loc)
    assert store.block_location is BlockLocation and store.undo_location is UndoLocation
    store.close()


def test_file_rollover(tmp_path, real_blocks):
    store = BlockStore(tmp_path / "b", network="mainnet", mode="raw", max_file_size=3_000_000)
    locs = [(store.put_block(raw), raw) for raw in real_blocks.values()]
    assert len({loc.file for loc, _ in locs}) >= 4
    for n in {loc.file for loc, _ in locs}:
        size = (tmp_path / "b" / f"blk{n:05d}.pfs").stat().st_size
        # only a file holding a single record may exceed the bound (2.2 MB block alone)
        assert size <= 3_000_000
    for loc, raw in locs:
        assert store.get_block(loc) == raw
    store.close()


def _flip(path, offset: int, bit: int = 0) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes((b ^ (1 << bit),)))


@pytest.mark.parametrize(
    ("mode", "small"),
    [
        ("raw", False),
        pytest.param("codec", True, marks=needs_codec),
        pytest.param("codec", False, marks=[needs_codec, pytest.mark.slow]),
    ],
)
def test_bit_flip_detected_and_named(tmp_path, real_blocks, real_undo, mode, small):
    real_blocks, real_undo = _subset(real_blocks, real_undo, small)
    store = BlockStore(tmp_path / "b", network="mainnet", mode=mode)
    locs = _fill(store, real_blocks, real_undo)
    store.sync()
    import random

    rng = random.Random(7)
    checked = 0
    for name, (bloc, uloc) in locs.items():
        targets = [("block", bloc, store.get_block, "blk")]
        if uloc is not None:
            targets.append(("undo", uloc, store.get_undo, "rev"))
        for what, loc, getter, prefix in targets:
            path = tmp_path / "b" / f"{prefix}{loc.file:05d}.pfs"
            # header fields, the hash, the payload start/middle/end and the checksum
            positions = {
                0,
                4,
                8,
                12,
                20,
                50,
                70,
                loc.size // 2,
                loc.size - 17,
                loc.size - 1,
                rng.randrange(loc.size),
            }
            for rel in sorted(positions):
                bit = rng.randrange(8)
                _flip(path, loc.offset + rel, bit)
                with pytest.raises(
                    BlockStoreError, match=f"{what} record at {prefix}{loc.file:05d}.pfs:{loc.offset}"
                ):
                    getter(loc)
                _flip(path, loc.offset + rel, bit)  # restore
                checked += 1
            assert getter(loc) in (real_blocks[name], real_undo.get(name))
    assert checked >= 11 * len(real_blocks)
    store.close()


def test_bad_locations(tmp_path, real_blocks):
    store = BlockStore(tmp_path / "b", network="mainnet", mode="raw")
    loc = store.put_block(real_blocks["mainnet-757739"])
    with pytest.raises(BlockStoreError, match="past the end"):
        store.get_block(BlockLocation(loc.file, loc.offset, 10**12))  # never allocates 1 TB
    with pytest.raises(BlockStoreError, match="no such file"):
        store.get_block(BlockLocation(7, 0, 100))
    with pytest.raises(BlockStoreError):
        store.get_block(BlockLocation(loc.file, loc.offset + 1, loc.size - 1))
    with pytest.raises(BlockStoreError, match="payload bytes"):
        store.get_block(BlockLocation(loc.file, loc.offset, loc.size - 1))
    with pytest.raises(BlockStoreError):
        store.put_block(b"\x00" * 79)
    store.close()


def test_torn_tail_after_crash(tmp_path, real_blocks):
    d = tmp_path / "b"
    store = BlockStore(d, network="mainnet", mode="raw")
    a = store.put_block(real_blocks["mainnet-757739"])
    b = store.put_block(real_blocks["mainnet-300025"])
    store.close()
    # a crash in the middle of the second append
    os.truncate(d / "blk00000.pfs", b.offset + b.size // 2)
    store = BlockStore(d, network="mainnet", mode="raw")
    assert store.get_block(a) == real_blocks["mainnet-757739"]
    with pytest.raises(BlockStoreError):
        store.get_block(b)
    c = store.put_block(real_blocks["mainnet-300025"])
    assert c.file == 1 and c.offset == 0  # the torn file is left alone
    assert store.get_block(c) == real_blocks["mainnet-300025"]
    assert list(store.iter_block_locations()) == [a, c]
    store.close()


def test_sync_fsyncs_appended_files(tmp_path, real_blocks, monkeypatch):
    store = BlockStore(tmp_path / "b", network="mainnet", mode="raw")
    store.put_block(real_blocks["mainnet-757739"])
    store.put_undo(b"\x01" * 32, b"\x02" * 32, b"\x00")
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd)))
    store.sync()
    assert len(calls) == 3  # blk file, rev file, and the directory (new files)
    calls.clear()
    store.sync()
    assert calls == []  # nothing new
    store.close()


def test_export_to_core_files_reads_back(tmp_path, real_blocks, real_undo):
    store = BlockStore(tmp_path / "b", network="mainnet", mode="raw")
    locs = _fill(store, real_blocks, real_undo)
    out = tmp_path / "export"
    store.export_core(locs.values(), out, max_file_size=4_000_000)
    d = open_blocks_dir(out)
    assert d.network == "mainnet" and len(d.blk_files) > 1
    got = list(d.iter_blocks_with_undo())  # pairs undo with blocks by Core's checksum
    assert [raw for raw, _ in got] == list(real_blocks.values())
    assert {_hash(raw): u for raw, u in got if u is not None} == {
        _hash(real_blocks[n]): u for n, u in real_undo.items()
    }
    store.close()


def test_export_matches_files_core_wrote(tmp_path, core_blocks_dir):
    """Store what libbitcoinkernel stored, export it with Core's xor key: the blk and rev files must equal
    Core's own, byte for byte, up to Core's zero preallocation."""
    d = open_blocks_dir(core_blocks_dir.blocks_dir)
    blocks = list(d.iter_blocks())
    undo_by_hash = {}
    for raw, undo in d.iter_blocks_with_undo():
        if undo is not None:
            undo_by_hash[_hash(raw)] = undo
    store = BlockStore(tmp_path / "b", network="regtest", mode="raw")
    entries = []
    for raw in blocks:
        bloc = store.put_block(raw)
        h = _hash(raw)
        uloc = store.put_undo(h, raw[4:36], undo_by_hash[h]) if h in undo_by_hash else None
        entries.append((bloc, uloc))
    key = read_xor_key(core_blocks_dir.blocks_dir)
    out = tmp_path / "export"
    store.export_core(entries, out, xor_key=key)
    for name in ("blk00000.dat", "rev00000.dat", "xor.dat"):
        ours = (out / name).read_bytes()
        core = (core_blocks_dir.blocks_dir / name).read_bytes()
        assert len(ours) > 0
        assert core[: len(ours)] == ours, name
        assert not core[len(ours) :].strip(b"\x00"), f"{name}: Core has more than zeros after our data"
    # and our readers agree with Core's view of the records
    assert [r.raw for r in iter_blk_file(out / "blk00000.dat")] == blocks
    assert len(list(iter_rev_file(out / "rev00000.dat"))) == len(undo_by_hash)
    store.close()


def test_export_refuses_mismatched_undo(tmp_path, real_blocks, real_undo):
    store = BlockStore(tmp_path / "b", network="mainnet", mode="raw")
    a = store.put_block(real_blocks["mainnet-757739"])
    u = store.put_undo(
        _hash(real_blocks["mainnet-866342"]), real_blocks["mainnet-866342"][4:36], real_undo["mainnet-866342"]
    )
    with pytest.raises(BlockStoreError, match="belongs to block"):
        store.export_core([(a, u)], tmp_path / "x")
    store.close()


@needs_codec
def test_chain_context_records_need_the_context(tmp_path, regtest_chain):
    from packetfs.bitcoin.codec import TxIndex

    ctx = TxIndex()
    store = BlockStore(tmp_path / "b", network="regtest", mode="codec", codec_context=ctx)
    locs = []
    for h, raw in enumerate(regtest_chain.blocks, start=1):
        locs.append(store.put_block(raw))
        ctx.add_block(raw, h)
    for loc, raw in zip(locs, regtest_chain.blocks, strict=True):
        assert store.get_block(loc) == raw
    store.close()
    modes = set()
    blind = BlockStore(tmp_path / "b", network="regtest", mode="codec")
    for loc, raw in zip(locs, regtest_chain.blocks, strict=True):
        info = blind.block_record_info(loc)
        modes.add(info["mode"])
        if info["mode"] == "codec-context":
            with pytest.raises(BlockStoreError, match="chain-context"):
                blind.get_block(loc)
        else:
            assert blind.get_block(loc) == raw
    assert "codec-context" in modes
    blind.close()


@needs_codec
def test_measure_ratios_isolated_and_brotli(real_blocks):
    blocks = [real_blocks["mainnet-757739"]]
    r = measure_ratios(blocks)
    raw = sum(len(b) for b in blocks)
    assert r["raw_bytes"] == raw
    assert r["isolated"]["mismatches"] == 0 and r["isolated"]["bytes"] < raw
    per_block = sum(len(brotli.compress(b, quality=11)) for b in blocks)
    assert r["brotli11"]["bytes"] == per_block
    assert r["brotli11"]["ratio"] == pytest.approx(raw / per_block)
    assert "context" not in r


@needs_codec
def test_measure_ratios_chain_context(regtest_chain):
    blocks = regtest_chain.blocks
    r = measure_ratios(blocks, heights=range(1, len(blocks) + 1))
    assert r["context"]["mismatches"] == 0 and r["isolated"]["mismatches"] == 0
    assert r["context"]["bytes"] <= r["isolated"]["bytes"]
