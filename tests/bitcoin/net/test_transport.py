"""The v1 transport: framing checked before the payload, bad checksums dropped, any split of the stream."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.net.errors import FrameError, MessageError
from packetfs.bitcoin.net.inv import Inv
from packetfs.bitcoin.net.message import UnknownMessage
from packetfs.bitcoin.net.ping import Ping, Pong
from packetfs.bitcoin.net.transport import V1Transport
from packetfs.bitcoin.net.version import Verack

MAGIC = bytes.fromhex("fabfb5da")


def _frame(command: bytes, payload: bytes, length: int | None = None, magic: bytes = MAGIC) -> bytes:
    # Built by hand (hashlib), independent of transport.frame.
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = len(payload) if length is None else length
    return magic + command.ljust(12, b"\x00") + n.to_bytes(4, "little") + checksum + payload


def test_ping_frame_matches_hand_built_bytes() -> None:
    assert V1Transport(MAGIC).encode(Ping(1)) == _frame(b"ping", (1).to_bytes(8, "little"))


def test_oversized_length_disconnects_before_the_payload() -> None:
    t = V1Transport(MAGIC)
    with pytest.raises(FrameError, match="above the 4000000-byte cap"):
        t.feed(_frame(b"unknowncmd", b"", length=4_000_001))
    # A known message above its own cap is refused from the header as well.
    with pytest.raises(FrameError, match="ping payload of 9 bytes"):
        V1Transport(MAGIC).feed(_frame(b"ping", bytes(9)))


def test_wrong_magic_and_bad_command_disconnect() -> None:
    with pytest.raises(FrameError, match="magic"):
        V1Transport(MAGIC).feed(_frame(b"ping", bytes(8), magic=b"\xf9\xbe\xb4\xd9"))
    with pytest.raises(FrameError, match="malformed command"):
        V1Transport(MAGIC).feed(_frame(b"pi\x00ng", bytes(8)))
    with pytest.raises(FrameError, match="malformed command"):
        V1Transport(MAGIC).feed(_frame(b"p\x01ng", bytes(8)))


def test_bad_checksum_is_dropped_and_the_stream_continues() -> None:
    t = V1Transport(MAGIC)
    bad = bytearray(_frame(b"ping", bytes(8)))
    bad[20] ^= 1
    msgs = t.feed(bytes(bad) + _frame(b"pong", (5).to_bytes(8, "little")))
    assert msgs == [Pong(5)]
    assert t.stats.bad_checksums == 1


def test_unknown_commands_pass_through_and_bad_payloads_raise() -> None:
    t = V1Transport(MAGIC)
    assert t.feed(_frame(b"foo", b"xyz")) == [UnknownMessage("foo", b"xyz")]
    with pytest.raises(MessageError) as info:
        t.feed(_frame(b"inv", b"\x05"))
    assert info.value.command == "inv"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_any_split_of_the_stream_gives_the_same_messages(cuts: list[int]) -> None:
    sender = V1Transport(MAGIC)
    msgs = [Verack(), Ping(3), Inv(()), Pong(9)]
    stream = b"".join(sender.encode(m) for m in msgs)
    t = V1Transport(MAGIC)
    got, pos = [], 0
    for c in cuts:
        got += t.feed(stream[pos : pos + c])
        pos += c
    got += t.feed(stream[pos:])
    assert got == msgs


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_stream_raises_only_typed_errors(data: bytes) -> None:
    t = V1Transport(MAGIC)
    try:
        t.feed(MAGIC + data)
    except MessageError:
        pass
    assert t.wanted <= 4_000_000 + 24


def test_encode_parts_is_the_frame_in_two_pieces() -> None:
    t = V1Transport(MAGIC)
    for msg in (Ping(7), Verack(), UnknownMessage("block", b"\x01" * 1000)):
        header, payload = t.encode_parts(msg)
        assert len(header) == 24 and header + payload == t.encode(msg)
        # hashlib, not our sha256d: the checksum of the payload.
        assert header[20:24] == hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
