"""The public entry points: packetfs.bitcoin.verify_input (bytes in, ScriptError out), its misuse
errors, and robustness of the interpreter on arbitrary bytes (only ScriptError ever escapes)."""

from __future__ import annotations

import pytest
import script_util as U
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import packetfs.bitcoin as btc
from packetfs.bitcoin.errors import PacketFSError
from packetfs.bitcoin.primitives import TxOut
from packetfs.bitcoin.script import PrecomputedTxData, ScriptError, ScriptFlags, verify_tx_input
from packetfs.bitcoin.script.interpreter import TxChecker, decode_num, encode_num, verify_script


def _real_input(real_blocks, real_undo, name="mainnet-866342", want_witness=True):
    for tx, spent in U.block_spends(real_blocks[name], real_undo[name]):
        for i in range(tx.input_count):
            if bool(tx.witnesses[i]) == want_witness:
                return tx, spent, i
    raise AssertionError("no such input")


def test_verify_input_public_api(real_blocks, real_undo):
    tx, spent, i = _real_input(real_blocks, real_undo)
    outs = [(o.value, o.script_pubkey) for o in spent]
    flags = "P2SH,DERSIG,NULLDUMMY,CHECKLOCKTIMEVERIFY,CHECKSEQUENCEVERIFY,WITNESS,TAPROOT"
    assert btc.verify_input(tx.serialize(), i, outs, flags) is None
    # Cross-check the same input with the kernel, then break the amount: both reject.
    assert U.pbk_verify(tx.serialize(), i, spent, U.PBK_FLAGS)
    outs[i] = (outs[i][0] + 1, outs[i][1])
    with pytest.raises(btc.ScriptError) as e:
        btc.verify_input(tx.serialize(), i, outs, flags)
    assert e.value.code in ("SCHNORR_SIG", "EVAL_FALSE", "NULLFAIL")
    assert isinstance(e.value, PacketFSError)


def test_verify_input_misuse(real_blocks, real_undo):
    tx, spent, i = _real_input(real_blocks, real_undo)
    outs = [(o.value, o.script_pubkey) for o in spent]
    raw = tx.serialize()
    cases = [
        ((raw[:-3], i, outs, "P2SH"), "TX_DESERIALIZE"),
        ((raw, tx.input_count, outs, "P2SH"), "TX_INDEX"),
        ((raw, -1, outs, "P2SH"), "TX_INDEX"),
        ((raw, i, outs[:-1] if len(outs) > 1 else [], "P2SH"), "SPENT_OUTPUTS_MISMATCH"),
        ((raw, i, outs, "P2SH,NOT_A_FLAG"), "INVALID_FLAGS"),
        ((raw, i, outs, "WITNESS"), "INVALID_FLAGS"),  # WITNESS requires P2SH, as Core asserts
        ((raw, i, outs, "P2SH,CLEANSTACK"), "INVALID_FLAGS"),  # CLEANSTACK requires WITNESS
    ]
    for args, code in cases:
        with pytest.raises(ScriptError) as e:
            btc.verify_input(*args)
        assert e.value.code == code, (args[1:], e.value.code)


def test_scriptnum_round_trip():
    for v in [0, 1, -1, 127, 128, -128, 255, 256, 2**31 - 1, -(2**31 - 1), 2**39 - 1]:
        assert decode_num(encode_num(v), True, 5) == v
    assert encode_num(128) == b"\x80\x00" and encode_num(-128) == b"\x80\x80" and encode_num(-1) == b"\x81"
    with pytest.raises(ScriptError) as e:
        decode_num(b"\x01\x00", True)
    assert e.value.code == "SCRIPTNUM"
    assert decode_num(b"\x01\x00", False) == 1


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script_sig=st.binary(max_size=60),
    spk=st.binary(max_size=60),
    witness=st.lists(st.binary(max_size=80), max_size=4),
    flags=st.integers(0, (1 << 21) - 1),
)
def test_arbitrary_bytes_only_raise_script_error(script_sig, spk, witness, flags):
    if flags & ScriptFlags.WITNESS:
        flags |= ScriptFlags.P2SH
    if flags & ScriptFlags.CLEANSTACK:
        flags |= ScriptFlags.P2SH | ScriptFlags.WITNESS
    credit = U.crediting_tx(spk, 1000)
    spend = U.spending_tx(script_sig, witness, credit)
    try:
        verify_tx_input(spend, 0, [TxOut(1000, spk)], flags)
    except ScriptError:
        pass
    try:
        verify_script(
            script_sig,
            spk,
            witness,
            flags,
            TxChecker(spend, 0, 1000, PrecomputedTxData(spend, [TxOut(1000, spk)])),
        )
    except ScriptError:
        pass


def test_limits():
    """Script size, element size, op count and stack size limits, with Core's error names."""
    credit = U.crediting_tx(b"", 0)

    def run(script_sig: bytes, spk: bytes, flags: int = int(ScriptFlags.P2SH)) -> str:
        spend = U.spending_tx(script_sig, [], credit)
        try:
            verify_script(
                script_sig, spk, [], flags, TxChecker(spend, 0, 0, PrecomputedTxData(spend, [TxOut(0, spk)]))
            )
        except ScriptError as e:
            return e.code
        return "OK"

    big = (b"\x4d\x08\x02" + bytes(520) + b"\x75") * 19 + b"\x29" + bytes(41) + b"\x75" + b"\x51"
    assert len(big) == 10000
    assert run(b"", big) == "OK"
    assert run(b"", b"\x61" + big) == "SCRIPT_SIZE"
    assert run(b"", b"\x4d\x08\x02" + bytes(520) + b"\x75\x51") == "OK"
    assert run(b"", b"\x4d\x09\x02" + bytes(521) + b"\x75\x51") == "PUSH_SIZE"
    assert run(b"", b"\x51" + b"\x61" * 201) == "OK"
    assert run(b"", b"\x51" + b"\x61" * 202) == "OP_COUNT"
    assert run(b"", b"\x51" * 1000) == "OK"
    assert run(b"", b"\x51" * 1001) == "STACK_SIZE"
