"""Hostile input: truncations, bit flips and random bytes give ParseError or an exact round trip,
never another exception, a hang or a huge allocation."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.primitives import Block, ParseError, Transaction, iter_script, serialize_tokens
from packetfs.bitcoin.primitives.encoding import compact_size, read_compact_size
from packetfs.bitcoin.primitives.script import classify_output

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SMALL_BLOCK = "mainnet-757739"


def _parse_or_parse_error(raw: bytes) -> None:
    try:
        block = Block.from_bytes(raw)
    except ParseError as e:
        assert e.offset is None or 0 <= e.offset <= len(raw) + 9
        return
    # Whatever parsed must be exact.
    assert block.serialize() == raw
    for tx in block.transactions:
        # Materializing fields never fails once the boundaries parsed.
        assert len(tx.inputs) == len(tx.witnesses) == tx.input_count
        assert len(tx.outputs) == tx.output_count
        assert Transaction.from_bytes(tx.serialize()).serialize() == tx.serialize()


@FUZZ
@given(data=st.data())
def test_truncated_blocks_raise_parse_error(real_blocks, data):
    raw = real_blocks[data.draw(st.sampled_from(sorted(real_blocks)))]
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(ParseError):
        Block.from_bytes(raw[:cut])


@FUZZ
@given(data=st.data())
def test_bit_flipped_blocks(real_blocks, data):
    raw = bytearray(real_blocks[data.draw(st.sampled_from([SMALL_BLOCK, "mainnet-300025"]))])
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] ^= 1 << data.draw(st.integers(0, 7))
    _parse_or_parse_error(bytes(raw))


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_as_block_and_tx(raw):
    _parse_or_parse_error(raw)
    try:
        tx = Transaction.from_bytes(raw)
    except ParseError:
        return
    assert tx.serialize() == raw


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_with_valid_header_prefix(real_blocks, tail):
    _parse_or_parse_error(real_blocks[SMALL_BLOCK][:80] + tail)


def test_lying_counts_fail_before_allocating():
    tracemalloc.start()
    try:
        # A tx claiming 2^25 inputs, a block claiming 2^25 transactions, a witness claiming 2^25 items.
        lying_tx = b"\x01\x00\x00\x00" + compact_size(0x02000000) + bytes(50)
        lying_block = bytes(80) + compact_size(0x02000000) + bytes(50)
        for raw in (lying_tx, lying_block):
            with pytest.raises(ParseError, match="exceeds the remaining bytes"):
                (Transaction.from_bytes if raw is lying_tx else Block.from_bytes)(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_segwit_witness_item_count_lie():
    tx = Transaction.from_hex(
        "02000000000101" + "11" * 32 + "00000000" + "00" + "ffffffff" + "01" + "e803000000000000" + "00"
        + "01" + "01aa" + "00000000"
    )
    raw = bytearray(tx.serialize())
    wit = raw.index(bytes.fromhex("0101aa"))
    raw[wit : wit + 1] = compact_size(0x01000000)
    with pytest.raises(ParseError, match="witness item count"):
        Transaction.from_bytes(bytes(raw))


@pytest.mark.parametrize(
    "raw,reason",
    [
        ("fd0100", "non-canonical"),
        ("fe00010000", "non-canonical"),
        ("ffffffffff00000000", "non-canonical"),
        ("fe00000002", "above limit"),
        ("fd01", "truncated"),
    ],
)
def test_compact_size_errors(raw, reason):
    data = bytes.fromhex(raw)
    if reason == "above limit":
        assert read_compact_size(data, 0)[0] == 0x02000000  # exactly MAX_SIZE is fine
        data = bytes.fromhex("fe01000002")
    with pytest.raises(ParseError, match=reason):
        read_compact_size(data, 0)


def test_superfluous_witness_and_unknown_flag():
    base = "01000000" + "0001" + "01" + "22" * 32 + "00000000" + "00" + "ffffffff" + "01" + "00" * 8 + "00"
    with pytest.raises(ParseError, match="superfluous witness"):
        Transaction.from_hex(base + "00" + "00000000")
    with pytest.raises(ParseError, match="unknown transaction optional data"):
        Transaction.from_hex(base.replace("0001", "0002", 1) + "00" + "00000000")


@FUZZ
@given(st.binary(max_size=200))
def test_script_tokenizer_round_trips_any_bytes(script):
    tokens = list(iter_script(script))
    assert serialize_tokens(tokens) == script
    assert classify_output(script) in {
        "p2pk", "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "p2a", "multisig", "op_return", "witness_unknown",
        "nonstandard",
    }  # fmt: skip


def _fields_by_hand(raw: bytes, tx: Transaction) -> tuple[list, list]:
    """Every input's and output's fields read with read_compact_size and int.from_bytes alone, from
    the offsets the parser found (independent of the unpacking the inputs/outputs properties do)."""
    ins = []
    for o in tx._in_offsets:
        n, p = read_compact_size(raw, o + 36)
        ins.append((raw[o : o + 32], int.from_bytes(raw[o + 32 : o + 36], "little"), raw[p : p + n],
                    int.from_bytes(raw[p + n : p + n + 4], "little")))  # fmt: skip
    outs = []
    for o in tx._out_offsets:
        n, p = read_compact_size(raw, o + 8)
        outs.append((int.from_bytes(raw[o : o + 8], "little", signed=True), raw[p : p + n]))
    return ins, outs


def test_inputs_and_outputs_same_from_bytes_and_from_views(real_blocks):
    # bytes buffers take the unpacking path, memoryviews (of a bytearray, so nothing can alias) the
    # field-by-field one; both give bytes fields equal to the ones read by hand.
    for name, raw in real_blocks.items():
        from_bytes = Block.from_bytes(raw).transactions
        from_view = Block.from_bytes(memoryview(bytearray(raw))).transactions
        for a, b in zip(from_bytes, from_view, strict=True):
            ins, outs = _fields_by_hand(raw, a)
            assert [tuple(i) for i in a.inputs] == [tuple(i) for i in b.inputs] == ins, name
            assert [tuple(o) for o in a.outputs] == [tuple(o) for o in b.outputs] == outs, name
            assert all(type(f) is bytes for i in (*a.inputs, *b.inputs) for f in (i.prev_txid, i.script_sig))
            assert all(type(o.script_pubkey) is bytes for o in (*a.outputs, *b.outputs))
            _check_serialized_pieces(a)
            _check_serialized_pieces(b)


def _check_serialized_pieces(tx: Transaction) -> None:
    # outpoint_bytes/sequence_bytes/output_bytes (slices of the parsed bytes) equal the pieces
    # serialized from the fields, and the outputs joined are exactly the tx's own output section.
    ins, outs = tx.inputs, tx.outputs
    assert tx.outpoint_bytes() == [i.prev_txid + i.prev_index.to_bytes(4, "little") for i in ins]
    assert tx.sequence_bytes() == [i.sequence.to_bytes(4, "little") for i in ins]
    serialized = [o.value.to_bytes(8, "little", signed=True) + compact_size(len(o.script_pubkey)) + o.script_pubkey
                  for o in outs]  # fmt: skip
    assert tx.output_bytes() == serialized
    legacy = tx.serialize_legacy()
    section = compact_size(len(outs)) + b"".join(serialized)
    assert legacy[-4 - len(section) : -4] == section
    assert all(type(p) is bytes for p in (*tx.outpoint_bytes(), *tx.sequence_bytes(), *tx.output_bytes()))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.binary(min_size=32, max_size=32), st.integers(0, 2**32 - 1), st.binary(max_size=300),
                       st.integers(0, 2**32 - 1)), min_size=1, max_size=5),  # fmt: skip
    st.lists(st.tuples(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=300)), max_size=5),
)
def test_inputs_and_outputs_round_trip(ins, outs):
    from packetfs.bitcoin.primitives.transaction import TxIn, TxOut

    built = Transaction(2, [TxIn(*i) for i in ins], [TxOut(*o) for o in outs], 7)
    raw = built.serialize()
    _check_serialized_pieces(built)
    for buf in (raw, memoryview(bytearray(raw))):
        tx = Transaction.from_bytes(buf)
        assert tx.inputs == built.inputs and tx.outputs == built.outputs
        _check_serialized_pieces(tx)


def test_serialized_pieces_with_many_and_no_outputs():
    from packetfs.bitcoin.primitives.transaction import TxIn, TxOut

    ins = [TxIn(bytes([i % 256]) * 32, i, bytes(i % 5), 0xFFFFFFFF - i) for i in range(300)]
    for outs in ([], [TxOut(i, bytes(i % 7)) for i in range(300)]):  # 3-byte counts, no outputs
        for witnesses in (None, [(b"\x01",)] * len(ins)):
            built = Transaction(1, ins, outs, 0, witnesses)
            _check_serialized_pieces(built)
            _check_serialized_pieces(Transaction.from_bytes(built.serialize()))
