"""Transaction rules: Core's CheckTransaction (context-free), IsFinalTx with BIP113, BIP68
sequence locks, and CheckTxInputs (coinbase maturity, value ranges, inputs >= outputs, fee)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Protocol

from ..primitives.transaction import COINBASE_PREV_INDEX, COINBASE_PREV_TXID, Transaction
from .constants import (
    COINBASE_MATURITY,
    LOCKTIME_THRESHOLD,
    MAX_BLOCK_WEIGHT,
    MAX_COINBASE_SCRIPT_SIZE,
    MAX_MONEY,
    MIN_COINBASE_SCRIPT_SIZE,
    SEQUENCE_FINAL,
    SEQUENCE_LOCKTIME_DISABLE_FLAG,
    SEQUENCE_LOCKTIME_GRANULARITY,
    SEQUENCE_LOCKTIME_MASK,
    SEQUENCE_LOCKTIME_TYPE_FLAG,
    WITNESS_SCALE_FACTOR,
)
from .errors import ValidationError

_SIGN_BIT = 1 << 63
_UINT64_RANGE = 1 << 64
_outpoint_of = itemgetter(0, 1)  # TxIn -> (prev_txid, prev_index)
_NULL_OUTPOINT = (COINBASE_PREV_TXID, COINBASE_PREV_INDEX)


class SpentCoin(Protocol):
    """What an input spends. ``height``/``coinbase`` (undo data has them) enable the maturity and
    BIP68 checks; a bare TxOut has only value and script."""

    value: int
    script_pubkey: bytes


def money_range(value: int) -> bool:
    return 0 <= value <= MAX_MONEY


def signed_amount(value: int) -> int:
    """Amounts are int64 on the wire; the parser reads them unsigned, so reinterpret the sign bit."""
    return value - (1 << 64) if value >= 1 << 63 else value


def check_transaction(tx: Transaction) -> None:
    """Core's CheckTransaction: rules that need nothing but the transaction. Raises ValidationError."""
    # Runs on every transaction of every block, so the loops are kept tight (the rules and their
    # order are Core's).
    if tx.input_count == 0:
        raise ValidationError("bad-txns-vin-empty")
    if tx.output_count == 0:
        raise ValidationError("bad-txns-vout-empty")
    # Size limit on the witness-stripped serialization, scaled as weight.
    if tx.base_size * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT:
        raise ValidationError("bad-txns-oversize")
    total = 0
    for out in tx.outputs:
        value = out.value
        if value >= _SIGN_BIT:  # signed_amount
            value -= _UINT64_RANGE
        if value < 0:
            raise ValidationError("bad-txns-vout-negative")
        if value > MAX_MONEY:
            raise ValidationError("bad-txns-vout-toolarge")
        total += value
        if total > MAX_MONEY:  # money_range (total is never negative here)
            raise ValidationError("bad-txns-txouttotal-toolarge")
    inputs = tx.inputs
    # Duplicate inputs would let one coin be spent twice inside a tx (CVE-2018-17144).
    outpoints = set(map(_outpoint_of, inputs)) if len(inputs) > 1 else None
    if outpoints is not None and len(outpoints) != len(inputs):
        raise ValidationError("bad-txns-inputs-duplicate")
    if tx.is_coinbase():
        n = len(inputs[0].script_sig)
        if n < MIN_COINBASE_SCRIPT_SIZE or n > MAX_COINBASE_SCRIPT_SIZE:
            raise ValidationError("bad-cb-length")
    elif outpoints is not None:
        if _NULL_OUTPOINT in outpoints:
            raise ValidationError("bad-txns-prevout-null")
    else:
        i = inputs[0]
        if i.prev_txid == COINBASE_PREV_TXID and i.prev_index == COINBASE_PREV_INDEX:
            raise ValidationError("bad-txns-prevout-null")


def is_final_tx(tx: Transaction, height: int, time: int) -> bool:
    """Core's IsFinalTx. ``time`` is the block's median time past once BIP113 (CSV) is active,
    the block's own time before."""
    locktime = tx.locktime
    if locktime == 0:
        return True
    if locktime < (height if locktime < LOCKTIME_THRESHOLD else time):
        return True
    # A lock time in the future is ignored when every input opts out with a final sequence.
    return all(i.sequence == SEQUENCE_FINAL for i in tx.inputs)


def calculate_sequence_locks(
    tx: Transaction,
    enforce_bip68: bool,
    prev_heights: Sequence[int],
    mtp_at: Callable[[int], int] | None = None,
) -> tuple[int, int]:
    """Core's CalculateSequenceLocks: the (min height, min time) the spending block must exceed.

    ``prev_heights``: height of the block that created each input's coin. ``mtp_at(h)``: median time
    past of the block at height h on this chain; needed only for time-based locks. (-1, -1) when
    nothing is locked.
    """
    min_height, min_time = -1, -1
    # Core compares the version as unsigned: negative versions count as >= 2.
    if not enforce_bip68 or (tx.version & 0xFFFFFFFF) < 2:
        return min_height, min_time
    if len(prev_heights) != tx.input_count:
        raise ValueError("one previous height per input")
    for txin, coin_height in zip(tx.inputs, prev_heights, strict=True):
        seq = txin.sequence
        if seq & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            continue
        if seq & SEQUENCE_LOCKTIME_TYPE_FLAG:
            if mtp_at is None:
                raise ValueError("a time-based sequence lock needs median times past (mtp_at)")
            # Measured from the median time past of the block before the coin's block.
            coin_time = mtp_at(max(coin_height - 1, 0))
            min_time = max(
                min_time, coin_time + ((seq & SEQUENCE_LOCKTIME_MASK) << SEQUENCE_LOCKTIME_GRANULARITY) - 1
            )
        else:
            min_height = max(min_height, coin_height + (seq & SEQUENCE_LOCKTIME_MASK) - 1)
    return min_height, min_time


def evaluate_sequence_locks(height: int, prev_mtp: int, lock: tuple[int, int]) -> bool:
    """Core's EvaluateSequenceLocks: may a block at ``height``, whose parent has median time past
    ``prev_mtp``, include a tx with these locks?"""
    min_height, min_time = lock
    return not (min_height >= height or min_time >= prev_mtp)


def sequence_locks_satisfied(
    tx: Transaction,
    enforce_bip68: bool,
    prev_heights: Sequence[int],
    height: int,
    prev_mtp: int,
    mtp_at: Callable[[int], int] | None = None,
) -> bool:
    return evaluate_sequence_locks(
        height, prev_mtp, calculate_sequence_locks(tx, enforce_bip68, prev_heights, mtp_at)
    )


def check_tx_inputs(tx: Transaction, coins: Sequence[SpentCoin], spend_height: int) -> int:
    """Core's Consensus::CheckTxInputs for a non-coinbase tx; returns the fee.

    Coinbase maturity is checked for coins that carry ``height`` and ``coinbase`` attributes.
    """
    if len(coins) != tx.input_count:
        raise ValidationError(
            "bad-txns-inputs-missingorspent", f"{len(coins)} coins for {tx.input_count} inputs"
        )
    value_in = 0
    for index, coin in enumerate(coins):
        if getattr(coin, "coinbase", False) and spend_height - coin.height < COINBASE_MATURITY:
            raise ValidationError(
                "bad-txns-premature-spend-of-coinbase",
                f"tried to spend coinbase at depth {spend_height - coin.height}",
                input=index,
            )
        value = coin.value
        if value >= _SIGN_BIT:  # signed_amount
            value -= _UINT64_RANGE
        value_in += value
        if not (0 <= value <= MAX_MONEY and 0 <= value_in <= MAX_MONEY):  # money_range of both
            raise ValidationError("bad-txns-inputvalues-outofrange", input=index)
    value_out = 0
    for o in tx.outputs:
        value = o.value
        value_out += value - _UINT64_RANGE if value >= _SIGN_BIT else value
    if value_in < value_out:
        raise ValidationError("bad-txns-in-belowout", f"value in ({value_in}) < value out ({value_out})")
    fee = value_in - value_out
    if not money_range(fee):
        raise ValidationError("bad-txns-fee-outofrange")
    return fee
