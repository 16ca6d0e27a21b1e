"""Proof of work: checking a hash against its compact target, and the difficulty retarget
(Core's pow.cpp: CheckProofOfWork, GetNextWorkRequired, CalculateNextWorkRequired)."""

from __future__ import annotations

from collections.abc import Callable

from ..primitives.block import bits_to_target, target_to_bits
from .params import ChainParams, get_params

_U256 = (1 << 256) - 1


def decode_target(bits: int, pow_limit: int) -> int | None:
    """The target ``bits`` encodes, or None where Core refuses it (negative, zero, overflowing or
    easier than the network's limit)."""
    try:
        target = bits_to_target(bits)
    except ValueError:
        return None
    if target == 0 or target > pow_limit:
        return None
    return target


def check_proof_of_work(block_hash: bytes, bits: int, network: str | ChainParams) -> bool:
    """Does ``block_hash`` (internal byte order) meet the target ``bits`` encodes?"""
    target = decode_target(bits, get_params(network).pow_limit)
    return target is not None and int.from_bytes(block_hash, "little") <= target


def calculate_next_work_required(
    last_bits: int, last_time: int, first_time: int, network: str | ChainParams, first_bits: int | None = None
) -> int:
    """The bits for the first block of a new period, from the period's first and last block times.

    ``first_bits`` (the bits of the period's first block) is used instead of the last block's on
    networks enforcing BIP94 (testnet4), where the min-difficulty exception cannot lower it.
    """
    p = get_params(network)
    if p.pow_no_retargeting:
        return last_bits
    timespan = last_time - first_time
    timespan = max(p.pow_target_timespan // 4, min(timespan, p.pow_target_timespan * 4))
    base = first_bits if p.enforce_bip94 else last_bits
    if base is None:
        raise ValueError("BIP94 retargeting needs the bits of the period's first block")
    # Core's arith_uint256 arithmetic wraps at 256 bits; keep that behaviour.
    target = ((bits_to_target(base) * timespan) & _U256) // p.pow_target_timespan
    target = min(target, p.pow_limit)
    return target_to_bits(target)


def next_work_required(
    last_height: int,
    new_block_time: int,
    header_at: Callable[[int], tuple[int, int]],
    network: str | ChainParams,
) -> int:
    """Core's GetNextWorkRequired for the block after ``last_height``.

    ``header_at(h)`` returns (time, bits) of the block at height h on this chain.
    """
    p = get_params(network)
    interval = p.difficulty_adjustment_interval
    limit_bits = target_to_bits(p.pow_limit)
    last_time, last_bits = header_at(last_height)
    if (last_height + 1) % interval != 0:
        if p.pow_allow_min_difficulty_blocks:
            # Test networks: after 20 minutes without a block, a minimum-difficulty block is allowed;
            # otherwise the difficulty is that of the last block not mined under that exception.
            if new_block_time > last_time + p.pow_target_spacing * 2:
                return limit_bits
            h, bits = last_height, last_bits
            while h > 0 and h % interval != 0 and bits == limit_bits:
                h -= 1
                bits = header_at(h)[1]
            return bits
        return last_bits
    first_height = last_height - (interval - 1)
    first_time, first_bits = header_at(first_height)
    return calculate_next_work_required(last_bits, last_time, first_time, p, first_bits)
