"""Round trip of every message, limits enforced, and every decoder fuzzed: only MessageError comes out."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.consensus.params import get_params
from packetfs.bitcoin.net.addr import NET_IPV4, NET_TORV3, Addr, AddrV2, GetAddr, NetAddress
from packetfs.bitcoin.net.block import BlockMessage, TxMessage
from packetfs.bitcoin.net.bspent import BSpent, GetBSpent, GetBSpentSel, SpentCoin
from packetfs.bitcoin.net.compact import (
    BlockTxn,
    CmpctBlock,
    GetBlockTxn,
    PrefilledTx,
    SendCmpct,
    short_id,
    shortid_keys,
)
from packetfs.bitcoin.net.errors import MessageError
from packetfs.bitcoin.net.headers import GetBlocks, GetHeaders, Headers, SendHeaders
from packetfs.bitcoin.net.inv import GetData, Inv, InvVector, NotFound
from packetfs.bitcoin.net.limits import (
    MAX_ADDR_TO_SEND,
    MAX_HEADERS_RESULTS,
    MAX_INV_SZ,
    MAX_LOCATOR_SZ,
    MSG_BLOCK,
)
from packetfs.bitcoin.net.messages import MESSAGE_TYPES
from packetfs.bitcoin.net.pfs import MODE_CHAIN, GetPfsBlocks, PfsBlock, SendPfs
from packetfs.bitcoin.net.ping import FeeFilter, MempoolRequest, Ping, Pong
from packetfs.bitcoin.net.siphash import siphash24
from packetfs.bitcoin.net.version import SendAddrV2, Verack, Version, VersionAddress, WtxidRelay
from packetfs.bitcoin.primitives.encoding import compact_size

GENESIS = get_params("regtest").genesis
COINBASE = GENESIS.transactions[0]
H1, H2 = bytes(range(32)), bytes(range(32, 64))


def _samples() -> list:
    return [
        Version(70016, 1033, 1_700_000_000, VersionAddress(1, bytes(15) + b"\x01", 8333), VersionAddress(),
                0x1122334455667788, "/PacketFS:0.1/", 123, False),
        Verack(), WtxidRelay(), SendAddrV2(), Ping(7), Pong(2**64 - 1), FeeFilter(1000), MempoolRequest(),
        GetAddr(),
        Addr((NetAddress.from_host("127.0.0.1", 18444, 9, 1_700_000_000), NetAddress.from_host("::1", 1, 0, 5))),
        AddrV2((NetAddress.from_host("10.0.0.1", 8333, 2**40, 3), NetAddress(NET_TORV3, bytes(32), 9050, 1, 2))),
        Inv((InvVector(MSG_BLOCK, H1), InvVector(1, H2))), GetData((InvVector(2, H2),)), NotFound(()),
        GetHeaders((H1, H2), bytes(32)), GetBlocks((H2,), H1, 70015),
        Headers((GENESIS.header, GENESIS.header)), SendHeaders(),
        BlockMessage(GENESIS.serialize()), TxMessage(COINBASE),
        SendCmpct(True, 2), CmpctBlock(GENESIS.header, 42, [1, 2**48 - 1], [PrefilledTx(0, COINBASE)]),
        GetBlockTxn(H1, (0, 1, 5, 300)), BlockTxn(H1, [COINBASE, COINBASE]),
        SendPfs(1), GetPfsBlocks((H1, H2)), PfsBlock(H1, MODE_CHAIN, ((3, 0), (7, 2)), b"frame"),  # net/pfs.py
        GetBSpent(H1, 100),  # net/bspent.py (SwiftSync's spent coins)
        GetBSpentSel(H1, (0, 1, 7, 300, 24_389)),
        BSpent(H2, (SpentCoin(0, 5, True, 5_000_000_000, bytes.fromhex("76a914" + "11" * 20 + "88ac")),
                    SpentCoin(3, 7, False, 1234, b"\x51"))),
    ]


def test_every_command_has_a_sample() -> None:
    assert {type(m).command for m in _samples()} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("msg", _samples(), ids=lambda m: type(m).command)
def test_round_trip(msg) -> None:
    payload = msg.encode()
    assert len(payload) <= type(msg).max_payload
    back = MESSAGE_TYPES[type(msg).command].decode(payload)
    assert back == msg
    assert back.encode() == payload
    with pytest.raises(MessageError, match="trailing"):
        MESSAGE_TYPES[type(msg).command].decode(payload + b"\x00")
    if payload and not isinstance(msg, Version):  # version's last byte (relay) is optional
        with pytest.raises(MessageError):
            MESSAGE_TYPES[type(msg).command].decode(payload[:-1])


def test_known_encodings() -> None:
    # Hand-written bytes (not produced by our encoders).
    assert Ping.decode(bytes.fromhex("0100000000000000")) == Ping(1)
    inv = Inv.decode(bytes.fromhex("01" + "02000000" + "ab" * 32))
    assert inv.items == (InvVector(2, b"\xab" * 32),)
    a = Addr.decode(bytes.fromhex("01" + "01000000" + "0900000000000000" + "00" * 10 + "ffff7f000001" + "479d"))
    assert a.addresses[0].host == "127.0.0.1" and a.addresses[0].port == 18333 and a.addresses[0].services == 9
    assert SendCmpct.decode(bytes.fromhex("000200000000000000")) == SendCmpct(False, 2)


def test_version_without_relay_flag_defaults_to_relay() -> None:
    v = _samples()[0]
    assert Version.decode(v.encode()[:-1]).relay is True


def test_counts_over_the_caps_are_rejected_before_reading_items() -> None:
    cases = [
        (Inv, compact_size(MAX_INV_SZ + 1)),
        (GetData, compact_size(MAX_INV_SZ + 1)),
        (Headers, compact_size(MAX_HEADERS_RESULTS + 1)),
        (GetHeaders, bytes(4) + compact_size(MAX_LOCATOR_SZ + 1)),
        (Addr, compact_size(MAX_ADDR_TO_SEND + 1)),
        (AddrV2, compact_size(MAX_ADDR_TO_SEND + 1)),
    ]
    for cls, payload in cases:
        with pytest.raises(MessageError, match="above the limit"):
            cls.decode(payload)
    # Under the cap but more items than the bytes left could hold: refused before allocating.
    with pytest.raises(MessageError, match="exceeds"):
        Inv.decode(compact_size(MAX_INV_SZ) + bytes(36))
    with pytest.raises(MessageError, match="exceeds"):
        CmpctBlock.decode(GENESIS.header.serialize() + bytes(8) + b"\xfe\x00\x00\x01\x00")


def test_malformed_fields() -> None:
    with pytest.raises(MessageError, match="non-zero transaction count"):
        Headers.decode(b"\x01" + GENESIS.header.serialize() + b"\x01")
    with pytest.raises(MessageError, match="non-canonical"):
        Inv.decode(b"\xfd\x01\x00" + bytes(36))
    with pytest.raises(MessageError, match="boolean"):
        SendCmpct.decode(b"\x02" + bytes(8))
    with pytest.raises(MessageError, match="network 1 address"):
        AddrV2.decode(b"\x01" + bytes(4) + b"\x00" + bytes((NET_IPV4,)) + b"\x05" + bytes(5) + bytes(2))
    with pytest.raises(MessageError, match="above 65535"):
        GetBlockTxn.decode(H1 + b"\x02" + b"\xfd\xff\xff" + b"\x00")
    with pytest.raises(MessageError, match="block"):
        BlockMessage.decode(GENESIS.serialize()[:-3])


def test_siphash_reference_vectors() -> None:
    # From the SipHash paper's test vectors (key 00..0f).
    k0 = int.from_bytes(bytes(range(8)), "little")
    k1 = int.from_bytes(bytes(range(8, 16)), "little")
    assert siphash24(k0, k1, b"") == 0x726FDB47DD0E0E31
    assert siphash24(k0, k1, bytes(range(15))) == 0xA129CA6149BE45E5
    assert siphash24(k0, k1, bytes(range(8))) == 0x93F5F5799A932462


def test_short_ids_are_48_bits_and_keyed_by_nonce() -> None:
    wtxid = COINBASE.wtxid
    a = short_id(shortid_keys(GENESIS.header, 1), wtxid)
    b = short_id(shortid_keys(GENESIS.header, 2), wtxid)
    assert a < 2**48 and b < 2**48 and a != b


@pytest.mark.parametrize("command", sorted(MESSAGE_TYPES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_decoder_raises_only_message_error(command: str, data) -> None:
    cls = MESSAGE_TYPES[command]
    sample = next(m for m in _samples() if type(m).command == command).encode()
    # Mix pure noise with mutations of a valid payload (which reach deeper into the decoder).
    payload = data.draw(st.one_of(
        st.binary(max_size=300),
        st.builds(lambda cut, flips, tail: _mutate(sample, cut, flips, tail),
                  st.integers(0, max(len(sample), 1)), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                               max_size=4), st.binary(max_size=8)),
    ))
    try:
        msg = cls.decode(payload)
    except MessageError:
        return
    assert type(msg) is cls
    assert cls.decode(msg.encode()) == msg


def _mutate(sample: bytes, cut: int, flips: list[tuple[int, int]], tail: bytes) -> bytes:
    b = bytearray(sample[:cut] + tail)
    for pos, val in flips:
        if b:
            b[pos % len(b)] = val
    return bytes(b)
