"""Core's tx_valid.json and tx_invalid.json: every input of every valid case verifies with all flags
but the excluded ones; every invalid case fails CheckTransaction or some input. As in Core's
transaction_tests.cpp, the flags are also checked to be tight: setting any excluded flag breaks a
valid case, and clearing any flag makes an invalid case valid."""

from __future__ import annotations

import script_util as U

from packetfs.bitcoin.errors import PacketFSError
from packetfs.bitcoin.primitives import Transaction, TxOut
from packetfs.bitcoin.primitives.hashes import hex_to_hash
from packetfs.bitcoin.script import PrecomputedTxData, ScriptError, ScriptFlags, parse_flags, verify_tx_input

ALL = 0
for _f in ScriptFlags:
    ALL |= int(_f)


def _cases(path):
    for row in U.load_json(path):
        if isinstance(row[0], list):
            yield row


def _prepare(row):
    prevouts = {}
    for p in row[0]:
        txid = hex_to_hash(p[0])
        index = p[1] & 0xFFFFFFFF  # -1 in the vectors means the coinbase index
        amount = p[3] if len(p) > 3 else 0
        prevouts[(txid, index)] = TxOut(amount, U.parse_asm(p[2]))
    tx = Transaction.from_hex(row[1])
    spent = [prevouts[(i.prev_txid, i.prev_index)] for i in tx.inputs]
    return tx, spent


def _check_inputs(tx, spent, flags) -> str:
    """'OK' or the first failing input's error code."""
    cache = PrecomputedTxData(tx, spent)
    for i in range(tx.input_count):
        try:
            verify_tx_input(tx, i, spent, flags, cache)
        except ScriptError as e:
            return e.code
    return "OK"


def _trim(flags: int) -> int:
    # Core's TrimFlags: WITNESS requires P2SH, CLEANSTACK requires WITNESS.
    if not flags & ScriptFlags.P2SH:
        flags &= ~ScriptFlags.WITNESS
    if not flags & ScriptFlags.WITNESS:
        flags &= ~ScriptFlags.CLEANSTACK
    return flags


def _exclude_individual(flags: int) -> set[int]:
    out = set()
    for f in ScriptFlags:
        x = _trim(flags & ~int(f))
        if x != flags:
            out.add(x)
    return out


def test_tx_valid(vectors_dir):
    from packetfs.bitcoin.consensus.tx_rules import check_transaction

    rows = list(_cases(vectors_dir / "bitcoin-core" / "tx_valid.json"))
    assert len(rows) > 100
    bad, loose = [], []
    for row in rows:
        tx, spent = _prepare(row)
        check_transaction(tx)  # every valid case passes the context-free checks
        excluded = int(parse_flags(row[2]))
        got = _check_inputs(tx, spent, ALL & ~excluded)
        if got != "OK":
            bad.append((got, row))
            continue
        # Flags are maximal: also enforcing any excluded flag must make the case fail.
        for x in _exclude_individual(excluded):
            got = _check_inputs(tx, spent, ALL & ~x)
            if got == "OK" or got == "INVALID_FLAGS":
                loose.append((got, row[2], row[1][:60]))
    assert not bad, f"{len(bad)}/{len(rows)} valid cases rejected: {bad[:5]}"
    assert not loose, loose[:5]


def test_tx_invalid(vectors_dir):
    from packetfs.bitcoin.consensus.tx_rules import check_transaction

    rows = list(_cases(vectors_dir / "bitcoin-core" / "tx_invalid.json"))
    assert len(rows) > 80
    accepted, not_minimal = [], []
    badtx = 0
    for row in rows:
        tx, spent = _prepare(row)
        try:
            check_transaction(tx)
        except PacketFSError:
            badtx += 1
            assert row[2] == "BADTX", row
            continue
        assert row[2] != "BADTX", f"CheckTransaction should reject {row}"
        flags = int(parse_flags(row[2]))
        got = _check_inputs(tx, spent, flags)
        if got == "OK" or got == "INVALID_FLAGS":
            accepted.append((got, row))
            continue
        # Flags are minimal: dropping any one of them makes the case valid.
        for x in _exclude_individual(flags):
            if _check_inputs(tx, spent, x) != "OK":
                not_minimal.append((row[2], row[1][:60]))
    assert badtx >= 5
    assert not accepted, f"{len(accepted)}/{len(rows)} invalid cases accepted: {accepted[:5]}"
    assert not not_minimal, not_minimal[:5]
