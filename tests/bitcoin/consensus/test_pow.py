"""Proof of work and retargeting, against Core's pow_tests vectors and the real blocks."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.consensus.pow import (
    calculate_next_work_required,
    check_proof_of_work,
    decode_target,
    next_work_required,
)
from packetfs.bitcoin.primitives.block import Block


@pytest.mark.parametrize(
    "first_time, last_height, last_time, last_bits, expected",
    [
        # Core's pow_tests.cpp: get_next_work, _pow_limit, _lower_limit_actual, _upper_limit_actual.
        (1261130161, 32255, 1262152739, 0x1D00FFFF, 0x1D00D86A),
        (1231006505, 2015, 1233061996, 0x1D00FFFF, 0x1D00FFFF),
        (1279008237, 68543, 1279297671, 0x1C05A3F4, 0x1C0168FD),
        (1263163443, 46367, 1269211443, 0x1C387F6F, 0x1D00E1FD),
    ],
)
def test_core_retarget_vectors(first_time, last_height, last_time, last_bits, expected):
    assert calculate_next_work_required(last_bits, last_time, first_time, "mainnet") == expected

    # The same through next_work_required, with a chain that only knows those two headers.
    def header_at(h):
        return {last_height: (last_time, last_bits), last_height - 2015: (first_time, last_bits)}[h]

    assert next_work_required(last_height, last_time + 600, header_at, "mainnet") == expected


def test_no_retarget_inside_a_period_on_mainnet():
    assert next_work_required(100, 10**9, lambda h: (5, 0x1C05A3F4), "mainnet") == 0x1C05A3F4


def test_testnet_min_difficulty_rules():
    limit = 0x1D00FFFF
    chain = {h: (1_000_000 + 600 * h, 0x1C05A3F4 if h <= 2020 else limit) for h in range(2016, 2030)}
    # More than 20 minutes after the last block: a minimum-difficulty block is allowed.
    assert next_work_required(2025, chain[2025][0] + 1201, chain.__getitem__, "testnet3") == limit
    # Otherwise: the last block not mined under that exception.
    assert next_work_required(2025, chain[2025][0] + 1200, chain.__getitem__, "testnet3") == 0x1C05A3F4
    # Regtest never retargets.
    assert calculate_next_work_required(0x207FFFFF, 10, 0, "regtest") == 0x207FFFFF


def test_bip94_uses_first_block_bits():
    # testnet4 retargets from the period's first block, which cannot use the min-difficulty exception.
    got = calculate_next_work_required(0x1D00FFFF, 2 * 14 * 24 * 3600, 0, "testnet4", first_bits=0x1C05A3F4)
    assert got == calculate_next_work_required(0x1C05A3F4, 2 * 14 * 24 * 3600, 0, "mainnet")


def test_decode_target_refuses_bad_encodings():
    limit = (1 << 224) - 1
    assert decode_target(0x1D00FFFF, limit) == 0xFFFF << 208
    assert decode_target(0x1D800000 | 1, limit) is None  # negative
    assert decode_target(0xFF123456, limit) is None  # overflow
    assert decode_target(0x1D000000, limit) is None  # zero
    assert decode_target(0x1E00FFFF, limit) is None  # easier than the limit


def test_real_blocks_meet_their_target(real_blocks):
    for name, raw in real_blocks.items():
        header = Block.from_bytes(raw).header
        assert check_proof_of_work(header.hash, header.bits, "mainnet"), name
        # A different nonce breaks it (with overwhelming probability for these targets).
        header.nonce ^= 1
        assert not check_proof_of_work(header.hash, header.bits, "mainnet"), name
