"""The tolerant blk reader (import's, as Core's reindex): damage is stepped over and reported, never
raised, and every clean record after it is still read."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.storage.blockfiles import NETWORK_MAGIC, iter_blk_file_tolerant
from packetfs.bitcoin.storage.xor import xor_at

MAGIC = NETWORK_MAGIC["regtest"]


def _record(payload: bytes) -> bytes:
    return MAGIC + len(payload).to_bytes(4, "little") + payload


def _read(tmp_path, data: bytes, key: bytes | None = None, padding: int = 0):
    p = tmp_path / "blk00000.dat"
    # Core's preallocated tail is zeros on disk, not obfuscated.
    p.write_bytes((xor_at(data, key, 0) if key else data) + bytes(padding))
    skipped = []
    got = [(r.offset, r.raw) for r in iter_blk_file_tolerant(p, MAGIC, key, skipped.append)]
    return got, skipped


def _blocks(n: int) -> list[bytes]:
    from packetfs.bitcoin.chain.generator import ChainGenerator

    return [b.raw for b in ChainGenerator(seed=5, profile="2024", txs_per_block=3).blocks(n)]


def test_damage_between_records_is_skipped_and_reported(tmp_path):
    a, b, c = _blocks(3)
    data = _record(a) + b"\x13\x37garbage" + _record(b) + MAGIC + (10**9).to_bytes(4, "little") + _record(c)
    for key in (None, bytes(range(3, 11))):
        got, skipped = _read(tmp_path, data, key, padding=5000)  # zero padding at the end is not damage
        assert [raw for _, raw in got] == [a, b, c]
        first = 8 + len(a)
        assert [(s.offset, s.size) for s in skipped] == [(first, 9), (first + 9 + 8 + len(b), 8)]
        assert skipped[1].reason == "record size 1000000000 out of range"


def test_a_size_that_lies_is_cut_to_the_block_as_core_does(tmp_path):
    a, b, c = _blocks(3)
    longer = MAGIC + (len(a) + 50).to_bytes(4, "little") + a  # claims 50 bytes of b's record
    got, skipped = _read(tmp_path, longer + _record(b) + _record(c))
    # a is cut to the block it holds, and b's record, which the lie covered, is read as it is.
    assert [raw for _, raw in got] == [a, b, c] and skipped == []
    shorter = MAGIC + (len(a) - 10).to_bytes(4, "little") + a
    got, skipped = _read(tmp_path, shorter + _record(b) + _record(c))
    assert [raw for _, raw in got] == [b, c] and skipped[0].offset == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=80, max_size=300), min_size=1, max_size=6), st.data())
def test_any_damage_never_raises_and_clean_records_after_it_survive(tmp_path_factory, payloads, data):
    tmp_path = tmp_path_factory.mktemp("t")
    clean = b"".join(_record(p) for p in payloads)
    cut = data.draw(st.integers(0, len(clean)))
    junk = data.draw(st.binary(max_size=40))
    tail = _record(bytes([7]) * 81)
    blob = clean[:cut] + junk + tail
    got, skipped = _read(tmp_path, blob)
    for off, raw in got:
        assert blob[off : off + 4] == MAGIC and 80 <= len(raw) <= int.from_bytes(blob[off + 4 : off + 8], "little")
        assert blob[off + 8 : off + 8 + len(raw)] == raw
    # Every byte is either in a record read or in a stretch reported: contiguous, no overlap.
    spans = sorted([(off, 8 + len(raw)) for off, raw in got] + [(s.offset, s.size) for s in skipped])
    pos = 0
    for off, size in spans:
        assert off == pos and size > 0
        pos += size
    assert pos == len(blob)
