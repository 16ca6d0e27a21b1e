"""Verifying one transaction input: the entry points other layers and tools call."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ParseError
from ..primitives.transaction import Transaction, TxOut
from .errors import ScriptError
from .fastpath import fast_verify
from .flags import parse_flags
from .interpreter import TxChecker, check_flags, verify_script
from .sighash import PrecomputedTxData


def verify_tx_input(
    tx: Transaction,
    index: int,
    spent_outputs: Sequence[TxOut],
    flags: int,
    precomputed: PrecomputedTxData | None = None,
) -> None:
    """Check that input ``index`` of ``tx`` validly spends ``spent_outputs[index]`` under ``flags``.

    ``spent_outputs`` has one TxOut (value, script_pubkey) per input of ``tx``, in order (taproot
    signatures commit to all of them). Pass the same ``precomputed`` for every input of one
    transaction to hash the shared parts once. Raises ScriptError; returns None when valid.
    """
    flags = int(flags)
    pre = precomputed
    if pre is not None and pre.checked_flags == flags and pre.tx is tx and pre.spent_outputs is spent_outputs:
        # A later input of a tx already checked below with these outputs and flags: skip the
        # per-tx checks and property lookups (the length check stays: the list is the caller's).
        txins = pre.txins
        if 0 <= index < len(txins) and len(spent_outputs) == len(txins):
            script_sig = txins[index][2]
            witness = pre.witnesses[index]
            amount, spk = spent_outputs[index]
            if fast_verify(tx, index, script_sig, spk, witness, amount, flags, pre):
                return
            verify_script(script_sig, spk, witness, flags, TxChecker(tx, index, amount, pre))
            return
    n_in = tx.input_count
    if not 0 <= index < n_in:
        raise ScriptError("TX_INDEX", f"input {index} of a transaction with {n_in}")
    if len(spent_outputs) != n_in:
        raise ScriptError("SPENT_OUTPUTS_MISMATCH", f"{len(spent_outputs)} spent outputs for {n_in} inputs")
    check_flags(flags)
    if precomputed is None:
        precomputed = PrecomputedTxData(tx, spent_outputs)
    elif precomputed.spent_outputs is None:
        precomputed.spent_outputs = spent_outputs
    if precomputed.tx is tx and precomputed.spent_outputs is spent_outputs:
        precomputed.txins = tx.inputs
        precomputed.witnesses = tx.witnesses
        precomputed.checked_flags = flags
    txin = tx.inputs[index]
    witness = tx.witnesses[index]
    spent = spent_outputs[index]
    if fast_verify(tx, index, txin.script_sig, spent[1], witness, spent[0], flags, precomputed):
        return
    verify_script(txin.script_sig, spent[1], witness, flags, TxChecker(tx, index, spent[0], precomputed))


def verify_input(tx: bytes, index: int, spent_outputs: Sequence[tuple[int, bytes]], flags: str) -> None:
    """Public API: verify input ``index`` of the serialized transaction ``tx``.

    ``spent_outputs`` are (amount in satoshis, scriptPubKey) for every input of the transaction;
    ``flags`` is a comma-separated list of Core's flag names ("P2SH,DERSIG,WITNESS", "" for none).
    Raises ScriptError (``.code`` is Core's error name); returns None when the input is valid.
    """
    try:
        parsed = Transaction.from_bytes(bytes(tx))
    except ParseError as e:
        raise ScriptError("TX_DESERIALIZE", str(e)) from e
    try:
        flag_bits = int(parse_flags(flags))
    except ValueError as e:
        raise ScriptError("INVALID_FLAGS", str(e)) from e
    outs = [TxOut(int(v), bytes(s)) for v, s in spent_outputs]
    verify_tx_input(parsed, index, outs, flag_bits)
