"""blk/rev file framing, xor.dat, padding, rollover, and the any-input entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from packetfs.bitcoin.errors import ParseError
from packetfs.bitcoin.storage import (
    NETWORK_MAGIC,
    block_sources,
    iter_blk_file,
    iter_blocks,
    iter_rev_file,
    open_blocks_dir,
    write_blk_files,
    write_blocks_dir,
    write_rev_files,
)
from packetfs.bitcoin.storage.blockfiles import read_record_at
from packetfs.bitcoin.storage.xor import xor_at

KEY = bytes.fromhex("a1b2c3d4e5f60718")


def test_network_magics():
    # chainparams.cpp pchMessageStart, as the bytes appear on disk
    assert {k: v.hex() for k, v in NETWORK_MAGIC.items()} == {
        "mainnet": "f9beb4d9",
        "testnet3": "0b110907",
        "testnet4": "1c163f28",
        "signet": "0a03cf40",
        "regtest": "fabfb5da",
    }


@pytest.fixture(scope="module")
def some_blocks(real_blocks) -> list[bytes]:
    return [real_blocks[n] for n in ("mainnet-300025", "mainnet-757739", "mainnet-426884", "mainnet-866342")]


def _record_bytes(magic: bytes, payload: bytes) -> bytes:
    return magic + len(payload).to_bytes(4, "little") + payload


@pytest.mark.parametrize("key", [None, bytes(8), KEY])
def test_write_then_read_blk(tmp_path, some_blocks, key):
    pos = write_blk_files(some_blocks, tmp_path, "mainnet", xor_key=key)
    path = tmp_path / "blk00000.dat"
    plain = b"".join(_record_bytes(NETWORK_MAGIC["mainnet"], b) for b in some_blocks)
    on_disk = path.read_bytes()
    if key is None or key == bytes(8):
        assert on_disk == plain
    else:
        assert on_disk != plain
        # byte i of the file is plain[i] ^ key[i % 8]: checked byte by byte, independently of xor_at
        assert all(on_disk[i] == plain[i] ^ key[i % 8] for i in range(0, len(plain), 997))
    recs = list(iter_blk_file(path))
    assert [r.raw for r in recs] == some_blocks
    assert [(0, r.data_offset, len(r.raw)) for r in recs] == [tuple(p) for p in pos]
    for r in recs:
        assert read_record_at(path, r.data_offset) == r.raw
    assert (tmp_path / "xor.dat").exists() == (key is not None)


def test_rollover_follows_core_rule(tmp_path, some_blocks):
    # Core's FindNextBlockPos moves to a new file when size + record would *reach* the maximum.
    three = some_blocks[:3]
    exact = sum(len(b) + 8 for b in three)
    assert [p.file for p in write_blk_files(three, tmp_path / "a", "mainnet", max_file_size=exact)] == [
        0,
        0,
        1,
    ]
    assert [p.file for p in write_blk_files(three, tmp_path / "b", "mainnet", max_file_size=exact + 1)] == [
        0,
        0,
        0,
    ]
    pos = write_blk_files(some_blocks, tmp_path / "c", "mainnet", max_file_size=1_600_000)
    assert [p.file for p in pos] == [0, 0, 0, 1]
    for f in sorted((tmp_path / "c").glob("blk*.dat")):
        assert f.stat().st_size < 1_600_000
    assert list(iter_blocks(tmp_path / "c")) == some_blocks
    with pytest.raises(ValueError):
        write_blk_files(some_blocks, tmp_path / "tiny", "mainnet", max_file_size=1_000_000)


def test_zero_padding_is_skipped_but_garbage_after_it_is_not(tmp_path, some_blocks):
    write_blk_files(some_blocks[:2], tmp_path, "mainnet", xor_key=KEY)
    path = tmp_path / "blk00000.dat"
    data = path.read_bytes()
    # Core preallocates: raw zeros (not key bytes) after the last record
    path.write_bytes(data + bytes(70_000))
    assert [r.raw for r in iter_blk_file(path)] == some_blocks[:2]
    path.write_bytes(data + bytes(70_000) + b"\x01" + bytes(10))
    with pytest.raises(ParseError) as e:
        list(iter_blk_file(path))
    assert e.value.offset == len(data) + 70_000
    path.write_bytes(data + bytes(3))  # a short zero tail is padding too
    assert len(list(iter_blk_file(path))) == 2


def test_bad_records_raise_with_offsets(tmp_path, some_blocks):
    magic = NETWORK_MAGIC["mainnet"]
    first = _record_bytes(magic, some_blocks[1])
    path = tmp_path / "blk00000.dat"

    path.write_bytes(first + b"\xde\xad\xbe\xef" + (100).to_bytes(4, "little") + bytes(100))
    with pytest.raises(ParseError) as e:
        list(iter_blk_file(path))
    assert e.value.offset == len(first) and "magic" in str(e.value)

    path.write_bytes(first + magic + (0xFFFFFFFF).to_bytes(4, "little") + bytes(100))
    with pytest.raises(ParseError) as e:
        list(iter_blk_file(path))
    assert e.value.offset == len(first) + 4

    path.write_bytes(first + magic + (79).to_bytes(4, "little") + bytes(79))
    with pytest.raises(ParseError):
        list(iter_blk_file(path))

    path.write_bytes(first[:-1])
    with pytest.raises(ParseError) as e:
        list(iter_blk_file(path))
    assert e.value.offset == 4 and "past the end" in str(e.value)

    path.write_bytes(first + magic[:3])
    with pytest.raises(ParseError):
        list(iter_blk_file(path))

    path.write_bytes(first)
    with pytest.raises(ParseError):
        list(iter_blk_file(path, magic="testnet4"))
    assert len(list(iter_blk_file(path, magic="mainnet"))) == 1
    assert len(list(iter_blk_file(path, magic=magic))) == 1

    path.write_bytes(_record_bytes(b"\x01\x02\x03\x04", some_blocks[1]))
    with pytest.raises(ParseError):  # an unknown magic is refused unless asked for
        list(iter_blk_file(path))
    assert [r.raw for r in iter_blk_file(path, magic=b"\x01\x02\x03\x04")] == [some_blocks[1]]

    path.write_bytes(first + _record_bytes(NETWORK_MAGIC["regtest"], some_blocks[1]))
    with pytest.raises(ParseError):  # one file, one network
        list(iter_blk_file(path))


def test_wrong_xor_key_is_a_parse_error(tmp_path, some_blocks):
    write_blk_files(some_blocks[:1], tmp_path, "mainnet", xor_key=KEY)
    with pytest.raises(ParseError):
        list(iter_blk_file(tmp_path / "blk00000.dat", xor_key=b""))
    (tmp_path / "xor.dat").write_bytes(KEY[:7])
    with pytest.raises(ParseError):
        list(iter_blk_file(tmp_path / "blk00000.dat"))


def test_rev_files_and_pairing(tmp_path, some_blocks, real_undo, real_blocks):
    # Real blocks with their real undo data, laid out as Core would, with a key.
    names = ["mainnet-757739", "mainnet-367891", "mainnet-866342"]
    entries = [(real_blocks[n], real_undo[n]) for n in names] + [(some_blocks[0], None)]
    out = write_blocks_dir(entries, tmp_path, "mainnet", max_file_size=2_000_000, xor_key=KEY)
    assert [(b.file, u.file if u else None) for b, u in out] == [(0, 0), (0, 0), (1, 1), (1, None)]
    d = open_blocks_dir(tmp_path)
    assert d.network == "mainnet" and d.xor_key == KEY and len(d.rev_files) == 2
    revs = list(iter_rev_file(d.rev_files[0]))
    assert [r.undo_raw for r in revs] == [real_undo[n] for n in names[:2]]
    pairs = list(d.iter_blocks_with_undo())
    assert pairs == [(b, u) for b, u in entries]
    s = d.summary()
    assert s["blocks"] == 4 and s["undo_records"] == 3 and s["obfuscated"] is True
    assert s["block_bytes"] == sum(len(b) for b, _ in entries)


def test_pairing_without_file_order(tmp_path, real_undo, real_blocks):
    # Undo records written in another order than the blocks still pair by checksum.
    names = ["mainnet-757739", "mainnet-866342", "mainnet-367891"]
    write_blk_files([real_blocks[n] for n in names], tmp_path, "mainnet")
    recs = [(0, real_blocks[n][4:36], real_undo[n]) for n in reversed(names)]
    write_rev_files(recs, tmp_path, "mainnet")
    pairs = list(open_blocks_dir(tmp_path).iter_blocks_with_undo())
    assert pairs == [(real_blocks[n], real_undo[n]) for n in names]
    # an undo record that belongs to no block is an error, not a silent drop
    (tmp_path / "rev00000.dat").unlink()
    write_rev_files([(0, bytes(32), real_undo[names[0]])], tmp_path, "mainnet")
    with pytest.raises(ParseError):
        list(open_blocks_dir(tmp_path).iter_blocks_with_undo())


def test_rev_record_errors(tmp_path, real_undo):
    raw = real_undo["mainnet-757739"]
    path = tmp_path / "rev00000.dat"
    rec = _record_bytes(NETWORK_MAGIC["mainnet"], raw) + bytes(32)
    path.write_bytes(rec)
    assert [r.undo_raw for r in iter_rev_file(path)] == [raw]
    path.write_bytes(rec[:-1])  # checksum cut short
    with pytest.raises(ParseError):
        list(iter_rev_file(path))


def test_writer_refuses_to_overwrite(tmp_path, some_blocks):
    write_blk_files(some_blocks[:1], tmp_path, "mainnet", xor_key=KEY)
    with pytest.raises(FileExistsError):
        write_blk_files(some_blocks[:1], tmp_path, "mainnet")
    with pytest.raises(ValueError):  # rev files must use the blk files' key
        write_rev_files([(0, bytes(32), b"\x00")], tmp_path, "mainnet", xor_key=None)
    write_rev_files([(0, bytes(32), b"\x00")], tmp_path, "mainnet", xor_key=KEY)
    assert [r.undo_raw for r in iter_rev_file(tmp_path / "rev00000.dat")] == [b"\x00"]


def test_iter_blocks_inputs(tmp_path, blocks_dir, real_blocks, manifest):
    names = [m["name"] for m in manifest]
    # the shared folder: .block files in name order, .undo and manifest.json ignored
    assert list(iter_blocks(blocks_dir)) == [real_blocks[n] for n in names]
    one = blocks_dir / "mainnet-757739.block"
    assert list(iter_blocks(one)) == [real_blocks["mainnet-757739"]]
    # a folder holding a blocks dir and raw block files
    write_blk_files([real_blocks[n] for n in names[:2]], tmp_path / "node" / "blocks", "mainnet", xor_key=KEY)
    (tmp_path / "b.block").write_bytes(real_blocks[names[2]])
    (tmp_path / "notes.txt").write_text("not a block")
    srcs = block_sources(tmp_path)
    assert [(s.path.name, s.kind) for s in srcs] == [("b.block", "raw"), ("blk00000.dat", "blk")]
    assert list(iter_blocks(tmp_path)) == [
        real_blocks[names[2]],
        real_blocks[names[0]],
        real_blocks[names[1]],
    ]
    assert list(iter_blocks(tmp_path / "node")) == [real_blocks[n] for n in names[:2]]  # a datadir
    with pytest.raises(FileNotFoundError):
        list(iter_blocks(tmp_path / "missing"))


def test_iter_blocks_refuses_non_blocks(tmp_path, real_undo):
    rev = tmp_path / "rev00000.dat"
    rev.write_bytes(_record_bytes(NETWORK_MAGIC["mainnet"], real_undo["mainnet-757739"]) + bytes(32))
    with pytest.raises(ParseError):
        list(iter_blocks(rev))
    big = tmp_path / "big.block"
    with big.open("wb") as f:
        f.truncate(4_000_001)  # sparse: no real disk use
    with pytest.raises(ParseError):
        list(iter_blocks(big))
    bad = tmp_path / "blk00000.dat"
    bad.write_bytes(b"\x01\x02\x03\x04" + bytes(100))
    with pytest.raises(ParseError):
        list(iter_blocks(bad))


def test_xor_at_matches_definition():
    data = bytes(range(256)) * 3
    for off in (0, 1, 7, 8, 13):
        assert xor_at(data, KEY, off) == bytes(b ^ KEY[(off + i) % 8] for i, b in enumerate(data))
    assert xor_at(data, None, 5) == data and xor_at(data, bytes(8), 5) == data


def test_open_blocks_dir_rejects_files(tmp_path: Path):
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(ParseError):
        open_blocks_dir(tmp_path / "f")
