"""Transaction rules: CheckTransaction reasons, finality (BIP113), BIP68 sequence locks, CheckTxInputs."""

from __future__ import annotations

import pytest
from consensus_helpers import make_tx

from packetfs.bitcoin.consensus.constants import MAX_MONEY
from packetfs.bitcoin.consensus.errors import ValidationError
from packetfs.bitcoin.consensus.tx_rules import (
    calculate_sequence_locks,
    check_transaction,
    check_tx_inputs,
    evaluate_sequence_locks,
    is_final_tx,
    sequence_locks_satisfied,
)
from packetfs.bitcoin.primitives.transaction import Transaction, TxIn, TxOut
from packetfs.bitcoin.storage.undo import Coin

NULL = bytes(32)


def reason(fn, *args) -> str:
    with pytest.raises(ValidationError) as e:
        fn(*args)
    return e.value.reason


def test_valid_transaction_passes():
    check_transaction(make_tx())
    coinbase = Transaction(1, [TxIn(NULL, 0xFFFFFFFF, b"\x03\x01\x02\x03", 0xFFFFFFFF)], [TxOut(50, b"")])
    check_transaction(coinbase)


def test_empty_inputs_and_outputs():
    assert reason(check_transaction, Transaction(1, [], [TxOut(1, b"")])) == "bad-txns-vin-empty"
    assert reason(check_transaction, make_tx(values=())) == "bad-txns-vout-empty"


def test_oversize():
    big = make_tx(script_pubkey=b"\x6a" + bytes(1_000_001))
    assert reason(check_transaction, big) == "bad-txns-oversize"
    # Exactly at the limit (base size * 4 == 4,000,000) is fine.
    base = make_tx(script_pubkey=b"")
    exact = make_tx(script_pubkey=bytes(1_000_000 - base.base_size - 4))
    assert exact.base_size == 1_000_000
    check_transaction(exact)


def test_output_values():
    assert reason(check_transaction, make_tx(values=(-1,))) == "bad-txns-vout-negative"
    assert reason(check_transaction, make_tx(values=(MAX_MONEY + 1,))) == "bad-txns-vout-toolarge"
    check_transaction(make_tx(values=(MAX_MONEY,)))
    assert reason(check_transaction, make_tx(values=(MAX_MONEY, 1))) == "bad-txns-txouttotal-toolarge"
    # A negative amount as it arrives from the wire (the parser reads it unsigned) is still negative.
    raw = make_tx(values=(-5,)).serialize()
    assert reason(check_transaction, Transaction.from_bytes(raw)) == "bad-txns-vout-negative"


def test_duplicate_inputs():
    tx = make_tx(inputs=[(b"\x01" * 32, 0), (b"\x01" * 32, 0)])
    assert reason(check_transaction, tx) == "bad-txns-inputs-duplicate"
    check_transaction(make_tx(inputs=[(b"\x01" * 32, 0), (b"\x01" * 32, 1)]))


@pytest.mark.parametrize("size, ok", [(1, False), (2, True), (100, True), (101, False)])
def test_coinbase_script_length(size, ok):
    cb = Transaction(1, [TxIn(NULL, 0xFFFFFFFF, b"\x51" * size, 0xFFFFFFFF)], [TxOut(50, b"")])
    if ok:
        check_transaction(cb)
    else:
        assert reason(check_transaction, cb) == "bad-cb-length"


def test_null_prevout_in_non_coinbase():
    tx = make_tx(inputs=[(b"\x01" * 32, 0), (NULL, 0xFFFFFFFF)])
    assert reason(check_transaction, tx) == "bad-txns-prevout-null"
    # A null txid with another index is not "null" (COutPoint::IsNull needs both).
    check_transaction(make_tx(inputs=[(NULL, 0)]))


# ------------------------------------------------------------------------------------------ finality


def test_is_final_tx():
    assert is_final_tx(make_tx(locktime=0, sequences=[0]), 100, 0)
    # Height locks: final once the block height is above the lock.
    tx = make_tx(locktime=100, sequences=[0])
    assert not is_final_tx(tx, 100, 2_000_000_000)
    assert is_final_tx(tx, 101, 0)
    # Time locks compare with the time given (the MTP under BIP113).
    tx = make_tx(locktime=500_000_000, sequences=[0])
    assert not is_final_tx(tx, 10**6, 500_000_000)
    assert is_final_tx(tx, 0, 500_000_001)
    # All-final sequences disable the lock time entirely.
    assert is_final_tx(make_tx(locktime=10**6, sequences=[0xFFFFFFFF]), 1, 0)
    assert not is_final_tx(
        make_tx(
            inputs=[(b"\x01" * 32, 0), (b"\x02" * 32, 0)], locktime=10**6, sequences=[0xFFFFFFFF, 0xFFFFFFFE]
        ),
        1,
        0,
    )


# ------------------------------------------------------------------------------------------ BIP68


def test_sequence_locks_height():
    tx = make_tx(sequences=[10])
    lock = calculate_sequence_locks(tx, True, [1000])
    assert lock == (1009, -1)
    # The coin must be 10 blocks deep: spendable at height 1010, not 1009.
    assert not evaluate_sequence_locks(1009, 0, lock)
    assert evaluate_sequence_locks(1010, 0, lock)


def test_sequence_locks_disabled_cases():
    # Version 1, the disable flag, or BIP68 not yet active: no lock.
    assert calculate_sequence_locks(make_tx(version=1, sequences=[10]), True, [1000]) == (-1, -1)
    assert calculate_sequence_locks(make_tx(sequences=[(1 << 31) | 10]), True, [1000]) == (-1, -1)
    assert calculate_sequence_locks(make_tx(sequences=[10]), False, [1000]) == (-1, -1)
    # Core compares the version unsigned: a negative version enforces BIP68.
    assert calculate_sequence_locks(make_tx(version=-1, sequences=[10]), True, [1000]) == (1009, -1)


def test_sequence_locks_time():
    # 3 units of 512 s from the MTP of the block before the coin's block.
    tx = make_tx(sequences=[(1 << 22) | 3])
    mtps = {999: 1_600_000_000}
    lock = calculate_sequence_locks(tx, True, [1000], mtps.__getitem__)
    assert lock == (-1, 1_600_000_000 + 3 * 512 - 1)
    assert not evaluate_sequence_locks(2000, 1_600_000_000 + 3 * 512 - 1, lock)
    assert evaluate_sequence_locks(2000, 1_600_000_000 + 3 * 512, lock)
    with pytest.raises(ValueError):
        calculate_sequence_locks(tx, True, [1000])  # a time lock needs the MTPs


def test_sequence_locks_combine_inputs():
    tx = make_tx(
        inputs=[(b"\x01" * 32, 0), (b"\x02" * 32, 0), (b"\x03" * 32, 0)], sequences=[5, 20, (1 << 22) | 1]
    )
    lock = calculate_sequence_locks(tx, True, [100, 90, 50], lambda h: 1000 * h)
    assert lock == (109, 49_000 + 511)
    assert sequence_locks_satisfied(tx, True, [100, 90, 50], 110, 49_512, lambda h: 1000 * h)
    assert not sequence_locks_satisfied(tx, True, [100, 90, 50], 110, 49_511, lambda h: 1000 * h)


# ------------------------------------------------------------------------------------------ inputs


def test_check_tx_inputs_fee_and_errors():
    tx = make_tx(values=(700, 200))
    assert check_tx_inputs(tx, [TxOut(1000, b"")], 500) == 100
    e = pytest.raises(ValidationError, check_tx_inputs, tx, [TxOut(899, b"")], 500)
    assert e.value.reason == "bad-txns-in-belowout"
    e = pytest.raises(ValidationError, check_tx_inputs, tx, [TxOut(MAX_MONEY + 1, b"")], 500)
    assert e.value.reason == "bad-txns-inputvalues-outofrange"
    two = make_tx(inputs=[(b"\x01" * 32, 0), (b"\x02" * 32, 0)], values=(1,))
    e = pytest.raises(ValidationError, check_tx_inputs, two, [TxOut(MAX_MONEY, b""), TxOut(1, b"")], 500)
    assert (e.value.reason, e.value.input) == ("bad-txns-inputvalues-outofrange", 1)
    e = pytest.raises(ValidationError, check_tx_inputs, tx, [], 500)
    assert e.value.reason == "bad-txns-inputs-missingorspent"


def test_coinbase_maturity():
    tx = make_tx(values=(1,))
    assert check_tx_inputs(tx, [Coin(400, True, 10, b"")], 500) == 9  # 100 deep: mature
    e = pytest.raises(ValidationError, check_tx_inputs, tx, [Coin(401, True, 10, b"")], 500)
    assert (e.value.reason, e.value.input) == ("bad-txns-premature-spend-of-coinbase", 0)
    assert check_tx_inputs(tx, [Coin(499, False, 10, b"")], 500) == 9  # not a coinbase: no wait
