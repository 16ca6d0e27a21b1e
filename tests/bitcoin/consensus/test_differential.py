"""Randomly damaged real blocks: our parse + CheckBlock verdict equals libbitcoinkernel's, and
nothing but our own error types ever comes out of validation."""

from __future__ import annotations

import pbk
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.consensus.block_rules import check_block
from packetfs.bitcoin.consensus.errors import ValidationError
from packetfs.bitcoin.consensus.validate import validate_block
from packetfs.bitcoin.errors import ParseError
from packetfs.bitcoin.primitives.block import Block

NAME = "mainnet-757739"


@pytest.fixture(scope="module")
def raw(real_blocks):
    return real_blocks[NAME]


@pytest.fixture(scope="module")
def kernel_params():
    return pbk.ChainParameters(pbk.ChainType.MAINNET).consensus_params


def kernel_check(data: bytes, params, pow_check: bool = True) -> str:
    try:
        block = pbk.Block(data)
    except Exception:
        return "unparseable"
    flags = pbk.BlockCheckFlags.ALL if pow_check else pbk.BlockCheckFlags.MERKLE
    state = block.check(params, flags)
    if state.validation_mode == pbk.ValidationMode.VALID:
        return "valid"
    return "mutated" if state.block_validation_result == pbk.BlockValidationResult.MUTATED else "invalid"


def our_check(data: bytes) -> str:
    # Block.parse, not from_bytes: libbitcoinkernel's block constructor ignores trailing bytes (a
    # flipped tx count leaves some), so judge the same prefix it does.
    try:
        block = Block.parse(data)
    except ParseError:
        return "unparseable"
    try:
        check_block(block, "mainnet")
    except ValidationError as e:
        return "mutated" if e.mutated else "invalid"
    return "valid"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_bit_flips_agree_with_kernel(raw, kernel_params, data):
    # Half the flips land in the header, tx count and coinbase, where the structural rules live.
    anywhere = st.integers(0, len(raw) * 8 - 1)
    front = st.integers(0, 400 * 8 - 1)
    flips = data.draw(st.lists(st.one_of(anywhere, front), min_size=1, max_size=3))
    b = bytearray(raw)
    for f in flips:
        b[f // 8] ^= 1 << (f % 8)
    mutated = bytes(b)
    assert our_check(mutated) == kernel_check(mutated, kernel_params)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_truncations_and_garbage_give_our_errors(raw, data):
    cut = data.draw(st.integers(0, len(raw)))
    junk = data.draw(st.binary(max_size=200))
    for candidate in (raw[:cut], junk, raw[:cut] + junk):
        try:
            validate_block(candidate, None, 757739, "mainnet")
        except (ParseError, ValidationError):
            pass


_TXIDS = [bytes(32), b"\x01" * 32, b"\x02" * 32]
_VALUES = [0, 1, 2_100_000_000_000_000, 2_100_000_000_000_001, 10**18, -1, -(2**63), 2**63 - 1]


@st.composite
def _transactions(draw):
    from packetfs.bitcoin.primitives.transaction import Transaction, TxIn, TxOut

    n_in = draw(st.integers(1, 3))
    inputs = [
        TxIn(draw(st.sampled_from(_TXIDS)), draw(st.sampled_from([0, 1, 0xFFFFFFFF])), b"", 0xFFFFFFFF)
        for _ in range(n_in)
    ]
    outputs = [TxOut(draw(st.sampled_from(_VALUES)), b"\x51") for _ in range(draw(st.integers(0, 3)))]
    return Transaction(2, inputs, outputs, 0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tx=_transactions(), cb_len=st.integers(0, 102), raw_tx=st.booleans())
def test_transaction_rules_agree_with_kernel(raw, kernel_params, tx, cb_len, raw_tx):
    """CheckTransaction inside CheckBlock: a real block's coinbase (with a scriptSig of the drawn
    length) plus one generated transaction; same verdict as libbitcoinkernel."""
    from consensus_helpers import rebuild, replace_tx

    block = Block.from_bytes(raw)
    cb = block.transactions[0]
    script = (cb.inputs[0].script_sig * 4)[:cb_len]
    cb = replace_tx(cb, inputs=[cb.inputs[0]._replace(script_sig=script)])
    candidate = rebuild(block, [cb, tx])
    data = candidate.serialize()
    assert our_check_no_pow(data) == kernel_check(data, kernel_params, pow_check=False)


def our_check_no_pow(data: bytes) -> str:
    try:
        block = Block.parse(data)
        check_block(block, "mainnet", check_pow=False)
    except ParseError:
        return "unparseable"
    except ValidationError as e:
        return "mutated" if e.mutated else "invalid"
    return "valid"
