"""Signature-operation counting: legacy (accurate and inaccurate), P2SH and witness, as Core's
CScript::GetSigOpCount, GetP2SHSigOpCount, CountWitnessSigOps and GetTransactionSigOpCost.

Counting walks raw script bytes (no token objects): it runs over every script of every block.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..primitives.transaction import Transaction
from ..script.flags import ScriptFlags
from .constants import MAX_PUBKEYS_PER_MULTISIG, WITNESS_SCALE_FACTOR
from .tx_rules import SpentCoin

_OP_PUSHDATA1, _OP_PUSHDATA2, _OP_PUSHDATA4 = 0x4C, 0x4D, 0x4E
_SIGOP_BYTE = re.compile(rb"[\xac-\xaf]")
_OP_1, _OP_16 = 0x51, 0x60
_OP_CHECKSIG, _OP_CHECKSIGVERIFY = 0xAC, 0xAD
_OP_CHECKMULTISIG, _OP_CHECKMULTISIGVERIFY = 0xAE, 0xAF
_WITNESS = int(ScriptFlags.WITNESS)
_P2SH = int(ScriptFlags.P2SH)


def _next_op(script: bytes, i: int, n: int) -> tuple[int, int, int] | None:
    """(opcode, data start, next offset) of the op at ``i``; None where Core's GetOp fails
    (a push that runs past the end). Data ends where the next op starts."""
    op = script[i]
    i += 1
    if op > _OP_PUSHDATA4:
        return op, i, i
    if op < _OP_PUSHDATA1:
        size = op
    else:
        width = 1 if op == _OP_PUSHDATA1 else 2 if op == _OP_PUSHDATA2 else 4
        if i + width > n:
            return None
        size = int.from_bytes(script[i : i + width], "little")
        i += width
    if i + size > n:
        return None
    return op, i, i + size


def legacy_sigop_count(script: bytes, accurate: bool = False) -> int:
    """Core's GetSigOpCount(fAccurate): CHECKSIG counts 1, CHECKMULTISIG counts 20, or the
    preceding OP_1..OP_16 when ``accurate``. Counting stops at a push that runs past the end."""
    n = len(script)
    # Shortcuts that give the loop's answer without it: no byte that could be a CHECKSIG-family
    # opcode (the loop would count 0), and the P2PKH template (exactly one CHECKSIG).
    if not _SIGOP_BYTE.search(script):
        return 0
    if n == 25 and script[0] == 0x76 and script[1] == 0xA9 and script[2] == 0x14 and script[23] == 0x88 and script[24] == 0xAC:
        return 1
    count = 0
    last = 0xFF
    i = 0
    while i < n:
        op = script[i]
        if op <= _OP_PUSHDATA4:
            step = _next_op(script, i, n)
            if step is None:
                break
            i = step[2]
        else:
            i += 1
            if op == _OP_CHECKSIG or op == _OP_CHECKSIGVERIFY:
                count += 1
            elif op == _OP_CHECKMULTISIG or op == _OP_CHECKMULTISIGVERIFY:
                if accurate and _OP_1 <= last <= _OP_16:
                    count += last - 0x50
                else:
                    count += MAX_PUBKEYS_PER_MULTISIG
        last = op
    return count


def is_pay_to_script_hash(script: bytes) -> bool:
    return len(script) == 23 and script[0] == 0xA9 and script[1] == 0x14 and script[22] == 0x87


def witness_program(script: bytes) -> tuple[int, bytes] | None:
    """Core's CScript::IsWitnessProgram: (version, program) or None."""
    n = len(script)
    if n < 4 or n > 42:
        return None
    v = script[0]
    if v != 0 and not (_OP_1 <= v <= _OP_16):
        return None
    if script[1] + 2 != n:
        return None
    return (0 if v == 0 else v - 0x50), script[2:]


def _last_push_if_push_only(script: bytes) -> bytes | None:
    """The data of the last op if every op is a push (opcode <= OP_16; non-data pushes such as
    OP_1 give empty data), else None. Mirrors how Core extracts a P2SH redeem script."""
    data = b""
    i, n = 0, len(script)
    while i < n:
        step = _next_op(script, i, n)
        if step is None:
            return None
        op, start, i = step
        if op > _OP_16:
            return None
        data = script[start:i] if op <= _OP_PUSHDATA4 else b""
    return data


def p2sh_sigop_count(script_pubkey: bytes, script_sig: bytes) -> int:
    """Core's CScript::GetSigOpCount(scriptSig): for a P2SH output, accurate count of the redeem
    script (the last push of a push-only scriptSig, 0 otherwise)."""
    if not is_pay_to_script_hash(script_pubkey):
        return legacy_sigop_count(script_pubkey, accurate=True)
    redeem = _last_push_if_push_only(script_sig)
    if redeem is None:
        return 0
    return legacy_sigop_count(redeem, accurate=True)


def _witness_program_sigops(version: int, program: bytes, witness: Sequence[bytes]) -> int:
    if version == 0:
        if len(program) == 20:
            return 1
        if len(program) == 32 and witness:
            return legacy_sigop_count(witness[-1], accurate=True)
    # Taproot and future versions are limited by the validation weight budget instead.
    return 0


def witness_sigop_count(script_sig: bytes, script_pubkey: bytes, witness: Sequence[bytes], flags: int) -> int:
    """Core's CountWitnessSigOps: sigops of a native or P2SH-wrapped v0 witness program."""
    if not flags & _WITNESS:
        return 0
    wp = witness_program(script_pubkey)
    if wp is not None:
        return _witness_program_sigops(wp[0], wp[1], witness)
    if is_pay_to_script_hash(script_pubkey):
        redeem = _last_push_if_push_only(script_sig)
        if redeem is not None:
            wp = witness_program(redeem)
            if wp is not None:
                return _witness_program_sigops(wp[0], wp[1], witness)
    return 0


def tx_legacy_sigop_count(tx: Transaction) -> int:
    """Core's GetLegacySigOpCount: inaccurate count over every scriptSig and scriptPubKey."""
    # Transactions are immutable, so the count is remembered on the tx (CheckBlock and the sigop
    # cost both need it).
    count = getattr(tx, "_legacy_sigops", None)
    if count is None:
        count = 0
        for i in tx.inputs:
            script = i.script_sig
            # Fast path: a scriptSig of direct pushes (OP_0 and 1..75-byte pushes) that ends exactly
            # at the script's end has no sigops; anything else is counted in full.
            n = len(script)
            k = 0
            while k < n:
                op = script[k]
                if op >= _OP_PUSHDATA1:
                    break
                k += 1 + op
            if k != n:
                count += legacy_sigop_count(script)
        for o in tx.outputs:
            script = o.script_pubkey
            n = len(script)
            # The standard templates, whose counts the loop would give: P2PKH 1; P2SH, P2WPKH,
            # P2WSH and P2TR none (their only non-push opcodes are HASH160/EQUAL, OP_0 or OP_1).
            if n == 25:
                if (
                    script[0] == 0x76 and script[1] == 0xA9 and script[2] == 0x14
                    and script[23] == 0x88 and script[24] == 0xAC
                ):  # fmt: skip
                    count += 1
                    continue
            elif n == 22:
                if script[0] == 0 and script[1] == 0x14:
                    continue
            elif n == 34:
                if (script[0] == 0 or script[0] == _OP_1) and script[1] == 0x20:
                    continue
            elif n == 23:
                if script[0] == 0xA9 and script[1] == 0x14 and script[22] == 0x87:
                    continue
            count += legacy_sigop_count(script)
        try:
            tx._legacy_sigops = count  # type: ignore[attr-defined]
        except AttributeError:
            pass  # not a primitives Transaction: nothing to remember it on
    return count


def tx_p2sh_sigop_count(tx: Transaction, coins: Sequence[SpentCoin]) -> int:
    """Core's GetP2SHSigOpCount: redeem-script sigops of inputs spending P2SH outputs."""
    if tx.is_coinbase():
        return 0
    total = 0
    for txin, coin in zip(tx.inputs, coins, strict=True):
        if is_pay_to_script_hash(coin.script_pubkey):
            total += p2sh_sigop_count(coin.script_pubkey, txin.script_sig)
    return total


def tx_sigop_cost(tx: Transaction, coins: Sequence[SpentCoin] | None, flags: int) -> int:
    """Core's GetTransactionSigOpCost: legacy and P2SH sigops weigh 4, witness sigops 1."""
    cost = tx_legacy_sigop_count(tx) * WITNESS_SCALE_FACTOR
    if tx.is_coinbase():
        return cost
    if coins is None:
        raise ValueError("the sigop cost of a non-coinbase tx needs the coins it spends")
    flags = int(flags)  # plain int arithmetic: IntFlag's & is a Python-level call per input
    p2sh = flags & _P2SH
    witness = flags & _WITNESS
    inputs = tx.inputs
    if len(coins) != len(inputs):
        raise ValueError(f"{len(coins)} coins for {len(inputs)} inputs")
    witnesses = None  # built only if an input needs them
    for index, coin in enumerate(coins):
        spk = coin.script_pubkey
        n = len(spk)
        # The usual spends, answered without the general functions: P2PKH has no P2SH or witness
        # sigops; P2WPKH counts 1 witness sigop when witness is enforced.
        if n == 25 and spk[0] == 0x76:
            if spk[1] == 0xA9 and spk[2] == 0x14 and spk[23] == 0x88 and spk[24] == 0xAC:
                continue
        elif n == 22 and spk[0] == 0 and spk[1] == 0x14:
            if witness:
                cost += 1
            continue
        script_sig = inputs[index].script_sig
        if p2sh and is_pay_to_script_hash(spk):
            cost += p2sh_sigop_count(spk, script_sig) * WITNESS_SCALE_FACTOR
        if witness:
            if witnesses is None:
                witnesses = tx.witnesses
            cost += witness_sigop_count(script_sig, spk, witnesses[index], flags)
    return cost
