"""Every case of Core's taproot script-assets test (script_assets_cases.json): each ``success``
spend verifies under its flags and each ``failure`` spend does not."""

from __future__ import annotations

import script_util as U

from packetfs.bitcoin.primitives import Transaction, TxIn, TxOut
from packetfs.bitcoin.primitives.encoding import read_compact_size
from packetfs.bitcoin.script import ScriptError, parse_flags, verify_tx_input


def _txout(raw: bytes) -> TxOut:
    n, off = read_compact_size(raw, 8)
    assert off + n == len(raw)
    return TxOut(int.from_bytes(raw[:8], "little", signed=True), raw[off:])


def with_input(tx: Transaction, index: int, script_sig: bytes, witness: list[bytes]) -> Transaction:
    inputs = list(tx.inputs)
    i = inputs[index]
    inputs[index] = TxIn(i.prev_txid, i.prev_index, script_sig, i.sequence)
    witnesses = list(tx.witnesses)
    witnesses[index] = tuple(witness)
    return Transaction(tx.version, inputs, tx.outputs, tx.locktime, witnesses)


def run_case(case: dict, which: str) -> str:
    tx = Transaction.from_hex(case["tx"])
    spent = [_txout(bytes.fromhex(p)) for p in case["prevouts"]]
    spend = case[which]
    tx = with_input(
        tx, case["index"], bytes.fromhex(spend["scriptSig"]), [bytes.fromhex(w) for w in spend["witness"]]
    )
    try:
        verify_tx_input(tx, case["index"], spent, int(parse_flags(case["flags"])))
    except ScriptError as e:
        return e.code
    return "OK"


def test_script_assets_cases(vectors_dir):
    cases = U.load_json(vectors_dir / "taproot" / "script_assets_cases.json")
    assert len(cases) == 1388
    wrong_success, wrong_failure = [], []
    n_success = n_failure = 0
    for case in cases:
        if "success" in case:
            n_success += 1
            got = run_case(case, "success")
            if got != "OK":
                wrong_success.append((case["comment"], got))
        if "failure" in case:
            n_failure += 1
            if run_case(case, "failure") == "OK":
                wrong_failure.append(case["comment"])
    assert n_success > 1000 and n_failure > 500
    assert not wrong_success, (
        f"{len(wrong_success)}/{n_success} success spends rejected: {wrong_success[:10]}"
    )
    assert not wrong_failure, (
        f"{len(wrong_failure)}/{n_failure} failure spends accepted: {wrong_failure[:10]}"
    )
