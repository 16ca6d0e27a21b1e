"""Compressed relay messages (sendpfs, getpfsblks, pfsblock): exact bytes, limits, fuzzed decoders."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.net.errors import FrameError, MessageError
from packetfs.bitcoin.net.messages import MESSAGE_TYPES
from packetfs.bitcoin.net.pfs import (
    MAX_PFS_FRAME,
    MAX_PFS_LOCATIONS,
    MAX_PFS_REQUEST,
    MODE_CHAIN,
    MODE_ISOLATED,
    NODE_PFS,
    GetPfsBlocks,
    PfsBlock,
    SendPfs,
)
from packetfs.bitcoin.net.transport import V1Transport

MAGIC = bytes.fromhex("fabfb5da")
H = bytes(range(32))


def test_registered_in_the_command_table_and_service_bit_is_experimental() -> None:
    assert MESSAGE_TYPES["sendpfs"] is SendPfs
    assert MESSAGE_TYPES["getpfsblks"] is GetPfsBlocks
    assert MESSAGE_TYPES["pfsblock"] is PfsBlock
    assert NODE_PFS == 1 << 24  # bits 24-31 are Core's experimental range


def test_exact_encodings_written_out_by_hand() -> None:
    assert SendPfs(1).encode() == b"\x01\x00\x00\x00"
    assert GetPfsBlocks((H, H[::-1])).encode() == b"\x02" + H + H[::-1]
    # locations (5, 1), (5, 7), (300, 0): heights delta-coded (5, 0, 295) as compact sizes
    msg = PfsBlock(H, MODE_CHAIN, ((5, 1), (5, 7), (300, 0)), b"frame")
    want = H + b"\x01" + b"\x03" + b"\x05\x01" + b"\x00\x07" + b"\xfd\x27\x01" + b"\x00" + b"\x05frame"
    assert msg.encode() == want
    assert PfsBlock.decode(want) == msg
    iso = PfsBlock(H, MODE_ISOLATED, (), b"\x00")
    assert PfsBlock.decode(iso.encode()) == iso


@pytest.mark.parametrize("payload, why", [
    (H + b"\x02\x00\x01x", "unknown frame mode"),
    (H + b"\x00\x01\x05\x01\x01x", "locations in an isolated frame"),
    (H + b"\x01\x02\x05\x01\x00\x01\x01x", "not sorted"),  # (5,1) then (5,1)
    (H + b"\x01\x00\x00", "empty frame"),
    (H + b"\x01\x00\x05abc", "bytes left"),
    (H + b"\x01\x00\x01x!", "trailing"),
    (H + b"\x01\xfe" + (MAX_PFS_LOCATIONS + 1).to_bytes(4, "little"), "above the limit"),
    (H + b"\x01\x00\xfe" + (MAX_PFS_FRAME + 1).to_bytes(4, "little"), "above the limit"),
    (H + b"\x01\x01\x05\xfe\x00\x00\x20\x00\x01x", "above the limit"),  # position 2^21
])
def test_bad_pfsblock_payloads_are_message_errors(payload: bytes, why: str) -> None:
    with pytest.raises(MessageError, match=why):
        PfsBlock.decode(payload)


def test_getpfsblks_limits() -> None:
    with pytest.raises(MessageError, match="empty"):
        GetPfsBlocks.decode(b"\x00")
    with pytest.raises(MessageError, match="above the limit"):
        GetPfsBlocks.decode(b"\x81" + H * (MAX_PFS_REQUEST + 1))
    with pytest.raises(MessageError, match="bytes left"):
        GetPfsBlocks.decode(b"\x03" + H * 2)
    full = GetPfsBlocks((H,) * MAX_PFS_REQUEST)
    assert GetPfsBlocks.decode(full.encode()) == full


def test_transport_refuses_an_oversized_frame_header_before_its_payload() -> None:
    t = V1Transport(MAGIC)
    over = MAGIC + b"getpfsblks".ljust(12, b"\0") + (GetPfsBlocks.max_payload + 1).to_bytes(4, "little") + bytes(4)
    with pytest.raises(FrameError):
        t.feed(over)
    t = V1Transport(MAGIC)
    over = MAGIC + b"pfsblock".ljust(12, b"\0") + (4_000_001).to_bytes(4, "little") + bytes(4)
    with pytest.raises(FrameError):
        t.feed(over)


def test_round_trip_through_the_transport() -> None:
    t = V1Transport(MAGIC)
    msgs = [SendPfs(1), GetPfsBlocks((H,)), PfsBlock(H, MODE_CHAIN, ((1, 0), (2, 3)), b"xyz")]
    wire = b"".join(t.encode(m) for m in msgs)
    assert V1Transport(MAGIC).feed(wire) == msgs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([SendPfs, GetPfsBlocks, PfsBlock]), st.binary(max_size=300))
def test_fuzzed_decoders_raise_only_message_error(cls, data: bytes) -> None:
    try:
        msg = cls.decode(data)
    except MessageError:
        return
    assert cls.decode(msg.encode()) == msg


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1 << 31 - 1), st.integers(0, 1 << 20)), max_size=50, unique=True),
       st.binary(min_size=1, max_size=64))
def test_any_sorted_location_list_round_trips(locs, frame) -> None:
    msg = PfsBlock(H, MODE_CHAIN, tuple(sorted(locs)), frame)
    assert PfsBlock.decode(msg.encode()) == msg
