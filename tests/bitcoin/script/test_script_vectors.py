"""Bitcoin Core's script_tests.json: every case, with the exact expected error name."""

from __future__ import annotations

import pytest
import script_util as U

from packetfs.bitcoin.script import PrecomputedTxData, ScriptError
from packetfs.bitcoin.script.interpreter import TxChecker, verify_script


def _cases(vectors_dir):
    rows = U.load_json(vectors_dir / "bitcoin-core" / "script_tests.json")
    return [r for r in rows if len(r) >= 4]


def _run(row) -> str:
    witness, amount, script_sig, spk, flags, expected, text = U.script_test_case(row)
    credit = U.crediting_tx(spk, amount)
    spend = U.spending_tx(script_sig, witness, credit)
    cache = PrecomputedTxData(spend, [credit.outputs[0]])
    try:
        verify_script(script_sig, spk, witness, flags, TxChecker(spend, 0, amount, cache))
    except ScriptError as e:
        return e.code
    return "OK"


def test_script_tests_json(vectors_dir):
    cases = _cases(vectors_dir)
    assert len(cases) > 1200
    failures = []
    for row in cases:
        expected = U.script_test_case(row)[5]
        got = _run(row)
        if got != expected:
            failures.append(f"expected {expected}, got {got}: {row}")
    assert not failures, f"{len(failures)}/{len(cases)} script_tests.json cases differ:\n" + "\n".join(
        failures[:30]
    )


def test_error_names_are_cores(vectors_dir):
    """Every error name the vectors use is one ScriptError knows (no typos on either side)."""
    from packetfs.bitcoin.script import SCRIPT_ERRORS

    names = {U.script_test_case(r)[5] for r in _cases(vectors_dir)} - {"OK"}
    assert names <= set(SCRIPT_ERRORS), names - set(SCRIPT_ERRORS)


@pytest.mark.parametrize("extra", [0x1FFFFF, 0x155555, 0x0AAAAA])
def test_flag_monotonicity(vectors_dir, extra):
    """As Core's DoTest: removing flags from a passing case keeps it passing, adding flags to a
    failing case keeps it failing (for valid flag combinations)."""
    from packetfs.bitcoin.script.flags import ScriptFlags as F

    bad = []
    for row in _cases(vectors_dir):
        witness, amount, script_sig, spk, flags, expected, _ = U.script_test_case(row)
        combined = (flags & ~extra) if expected == "OK" else (flags | extra)
        if combined & F.CLEANSTACK and ~combined & (F.P2SH | F.WITNESS):
            continue
        if combined & F.WITNESS and ~combined & F.P2SH:
            continue
        credit = U.crediting_tx(spk, amount)
        spend = U.spending_tx(script_sig, witness, credit)
        cache = PrecomputedTxData(spend, [credit.outputs[0]])
        try:
            verify_script(script_sig, spk, witness, combined, TxChecker(spend, 0, amount, cache))
            ok = True
        except ScriptError:
            ok = False
        if ok != (expected == "OK"):
            bad.append(row)
    assert not bad, bad[:5]
