"""The consensus layer's error: which rule a block or transaction broke, and where.

``reason`` is Bitcoin Core's reject reason wherever Core has one (the string a node logs and peers
see), so our verdicts can be compared with Core's one to one.
"""

from __future__ import annotations

from ..errors import PacketFSError

# Core's ScriptErrorString texts, keyed by the error names the script test vectors use. The block
# reject reason embeds them ("mandatory-script-verify-flag-failed (<text>)"), so they are part of
# the observable verdict and must match Core word for word.
SCRIPT_ERROR_MESSAGES: dict[str, str] = {
    "OK": "No error",
    "UNKNOWN_ERROR": "unknown error",
    "EVAL_FALSE": "Script evaluated without error but finished with a false/empty top stack element",
    "OP_RETURN": "OP_RETURN was encountered",
    "SCRIPT_SIZE": "Script is too big",
    "PUSH_SIZE": "Push value size limit exceeded",
    "OP_COUNT": "Operation limit exceeded",
    "STACK_SIZE": "Stack size limit exceeded",
    "SIG_COUNT": "Signature count negative or greater than pubkey count",
    "PUBKEY_COUNT": "Pubkey count negative or limit exceeded",
    "VERIFY": "Script failed an OP_VERIFY operation",
    "EQUALVERIFY": "Script failed an OP_EQUALVERIFY operation",
    "CHECKMULTISIGVERIFY": "Script failed an OP_CHECKMULTISIGVERIFY operation",
    "CHECKSIGVERIFY": "Script failed an OP_CHECKSIGVERIFY operation",
    "NUMEQUALVERIFY": "Script failed an OP_NUMEQUALVERIFY operation",
    "BAD_OPCODE": "Opcode missing or not understood",
    "DISABLED_OPCODE": "Attempted to use a disabled opcode",
    "INVALID_STACK_OPERATION": "Operation not valid with the current stack size",
    "INVALID_ALTSTACK_OPERATION": "Operation not valid with the current altstack size",
    "UNBALANCED_CONDITIONAL": "Invalid OP_IF construction",
    "NEGATIVE_LOCKTIME": "Negative locktime",
    "UNSATISFIED_LOCKTIME": "Locktime requirement not satisfied",
    "SIG_HASHTYPE": "Signature hash type missing or not understood",
    "SIG_DER": "Non-canonical DER signature",
    "MINIMALDATA": "Data push larger than necessary",
    "SIG_PUSHONLY": "Only push operators allowed in signatures",
    "SIG_HIGH_S": "Non-canonical signature: S value is unnecessarily high",
    "SIG_NULLDUMMY": "Dummy CHECKMULTISIG argument must be zero",
    "PUBKEYTYPE": "Public key is neither compressed or uncompressed",
    "CLEANSTACK": "Stack size must be exactly one after execution",
    "MINIMALIF": "OP_IF/NOTIF argument must be minimal",
    "NULLFAIL": "Signature must be zero for failed CHECK(MULTI)SIG operation",
    "SIG_NULLFAIL": "Signature must be zero for failed CHECK(MULTI)SIG operation",
    "DISCOURAGE_UPGRADABLE_NOPS": "NOPx reserved for soft-fork upgrades",
    "DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM": "Witness version reserved for soft-fork upgrades",
    "DISCOURAGE_UPGRADABLE_TAPROOT_VERSION": "Taproot version reserved for soft-fork upgrades",
    "DISCOURAGE_OP_SUCCESS": "OP_SUCCESSx reserved for soft-fork upgrades",
    "DISCOURAGE_UPGRADABLE_PUBKEYTYPE": "Public key version reserved for soft-fork upgrades",
    "WITNESS_PROGRAM_WRONG_LENGTH": "Witness program has incorrect length",
    "WITNESS_PROGRAM_WITNESS_EMPTY": "Witness program was passed an empty witness",
    "WITNESS_PROGRAM_MISMATCH": "Witness program hash mismatch",
    "WITNESS_MALLEATED": "Witness requires empty scriptSig",
    "WITNESS_MALLEATED_P2SH": "Witness requires only-redeemscript scriptSig",
    "WITNESS_UNEXPECTED": "Witness provided for non-witness script",
    "WITNESS_PUBKEYTYPE": "Using non-compressed keys in segwit",
    "SCHNORR_SIG_SIZE": "Invalid Schnorr signature size",
    "SCHNORR_SIG_HASHTYPE": "Invalid Schnorr signature hash type",
    "SCHNORR_SIG": "Invalid Schnorr signature",
    "TAPROOT_WRONG_CONTROL_SIZE": "Invalid Taproot control block size",
    "TAPSCRIPT_VALIDATION_WEIGHT": "Too much signature validation relative to witness weight",
    "TAPSCRIPT_CHECKMULTISIG": "OP_CHECKMULTISIG(VERIFY) is not available in tapscript",
    "TAPSCRIPT_MINIMALIF": "OP_IF/NOTIF argument must be minimal in tapscript",
    "TAPSCRIPT_EMPTY_PUBKEY": "Empty public key in tapscript",
    "OP_CODESEPARATOR": "Using OP_CODESEPARATOR in non-witness script",
    "SIG_FINDANDDELETE": "Signature is found in scriptCode",
}


def script_error_message(code: str) -> str:
    """Core's human text for a script error name (``unknown error`` for names Core does not have)."""
    return SCRIPT_ERROR_MESSAGES.get(code, SCRIPT_ERROR_MESSAGES["UNKNOWN_ERROR"])


def script_failure_reason(code: str) -> str:
    """The block reject reason Core gives when an input's script fails under the block's flags."""
    return f"mandatory-script-verify-flag-failed ({script_error_message(code)})"


class ValidationError(PacketFSError):
    """A consensus rule was broken.

    ``reason``: Core's reject reason (``bad-txnmrklroot``, ``bad-blk-sigops``, ...);
    ``tx``: index of the offending transaction in the block (None for block-level rules);
    ``input``: index of the offending input within that transaction (None when not about one input);
    ``debug``: extra detail for people; ``script_error``: the script error name for script failures;
    ``mutated``: True where Core classes the failure as BLOCK_MUTATED (the block's data does not match
    what its proof of work commits to, so the same header may still be valid with other data).
    """

    def __init__(
        self,
        reason: str,
        debug: str | None = None,
        *,
        tx: int | None = None,
        input: int | None = None,
        script_error: str | None = None,
        mutated: bool = False,
    ):
        self.reason = reason
        self.debug = debug
        self.tx = tx
        self.input = input
        self.script_error = script_error
        self.mutated = mutated
        where = []
        if tx is not None:
            where.append(f"tx {tx}")
        if input is not None:
            where.append(f"input {input}")
        text = reason
        if debug:
            text += f": {debug}"
        if where:
            text += f" ({', '.join(where)})"
        super().__init__(text)

    def to_dict(self) -> dict:
        return {"error": self.reason, "tx": self.tx, "input": self.input, "debug": self.debug}


class ContextError(PacketFSError, ValueError):
    """The context given with a block does not fit it (e.g. undo data for another block): a problem
    with the caller's input, not a verdict on the block."""
