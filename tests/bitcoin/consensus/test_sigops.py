"""Sigop counting: hand cases for Core's rules, python-bitcoinlib as an independent count, real blocks."""

from __future__ import annotations

from bitcoin.core.script import CScript
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.consensus.sigops import (
    legacy_sigop_count,
    p2sh_sigop_count,
    tx_legacy_sigop_count,
    witness_sigop_count,
)
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.primitives.hashes import hash160, sha256
from packetfs.bitcoin.primitives.script import push_data
from packetfs.bitcoin.script.flags import ScriptFlags

CHECKSIG, CHECKSIGVERIFY, CHECKMULTISIG, CHECKMULTISIGVERIFY = b"\xac", b"\xad", b"\xae", b"\xaf"
KEY = b"\x02" + bytes(32)


def multisig(m: int, n: int) -> bytes:
    return (
        bytes((0x50 + m,)) + b"".join(push_data(KEY) for _ in range(n)) + bytes((0x50 + n,)) + CHECKMULTISIG
    )


def test_legacy_counts():
    assert legacy_sigop_count(b"") == 0
    assert legacy_sigop_count(CHECKSIG + CHECKSIGVERIFY) == 2
    ms = multisig(2, 3)
    assert legacy_sigop_count(ms) == 20  # inaccurate: every CHECKMULTISIG is 20
    assert legacy_sigop_count(ms, accurate=True) == 3  # accurate: the preceding OP_3
    assert legacy_sigop_count(b"\x00" + CHECKMULTISIGVERIFY, accurate=True) == 20  # OP_0 is not OP_1..16
    # Pushed bytes are data, not opcodes.
    assert legacy_sigop_count(push_data(CHECKSIG * 10)) == 0
    # Counting stops at a push that runs past the end (Core's GetOp fails there).
    assert legacy_sigop_count(CHECKSIG + b"\x4c\x05ab" + CHECKSIG) == 1
    assert legacy_sigop_count(CHECKSIG + b"\x4d\x01") == 1


def test_p2sh_counts():
    redeem = multisig(2, 3)
    spk = b"\xa9\x14" + hash160(redeem) + b"\x87"
    script_sig = b"\x00" + push_data(b"\x30" * 71) + push_data(redeem)
    assert p2sh_sigop_count(spk, script_sig) == 3
    # Not push-only: no redeem script, zero.
    assert p2sh_sigop_count(spk, script_sig + CHECKSIG) == 0
    # Last op OP_1 pushes no data: an empty redeem script.
    assert p2sh_sigop_count(spk, push_data(redeem) + b"\x51") == 0
    # A non-P2SH output counts itself accurately.
    assert p2sh_sigop_count(multisig(1, 2), b"") == 2


def test_witness_counts():
    flags = ScriptFlags.P2SH | ScriptFlags.WITNESS
    p2wpkh = b"\x00\x14" + bytes(20)
    assert witness_sigop_count(b"", p2wpkh, [b"sig", KEY], flags) == 1
    ws = multisig(2, 3)
    p2wsh = b"\x00\x20" + sha256(ws)
    assert witness_sigop_count(b"", p2wsh, [b"", b"s1", b"s2", ws], flags) == 3
    assert witness_sigop_count(b"", p2wsh, [], flags) == 0
    # Wrapped in P2SH.
    wrapped = b"\xa9\x14" + hash160(p2wpkh) + b"\x87"
    assert witness_sigop_count(push_data(p2wpkh), wrapped, [b"sig", KEY], flags) == 1
    # Taproot and unknown versions count nothing; nothing without the WITNESS flag.
    assert witness_sigop_count(b"", b"\x51\x20" + bytes(32), [b"x" * 64], flags) == 0
    assert witness_sigop_count(b"", p2wpkh, [b"sig", KEY], ScriptFlags.P2SH) == 0


_ops = st.one_of(
    st.sampled_from([b"\xac", b"\xad", b"\xae", b"\xaf", b"\x00", b"\x76", b"\x87", b"\x69"]),
    st.integers(0x51, 0x60).map(lambda n: bytes((n,))),
    st.binary(max_size=80).map(push_data),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ops, max_size=30))
def test_legacy_count_matches_python_bitcoinlib(parts):
    # Only the inaccurate count: python-bitcoinlib's accurate mode crashes on OP_n (a bug of theirs).
    script = b"".join(parts)
    assert legacy_sigop_count(script) == CScript(script).GetSigOpCount(False)


def test_real_blocks_legacy_counts_match_python_bitcoinlib(real_blocks):
    raw = real_blocks["mainnet-757739"]
    for tx in Block.from_bytes(raw).transactions:
        theirs = sum(CScript(i.script_sig).GetSigOpCount(False) for i in tx.inputs)
        theirs += sum(CScript(o.script_pubkey).GetSigOpCount(False) for o in tx.outputs)
        assert tx_legacy_sigop_count(tx) == theirs
