"""Differential tests against libbitcoinkernel (pbk): generated scripts (bare, P2SH, P2WSH,
tapscript) and mutated real spends (flipped bits, random opcodes, changed amounts and hash types,
truncated witnesses) must get the same verdict from us and from the kernel.

`make test` runs a few thousand cases. The long mode runs ``PACKETFS_DIFF_CASES`` cases (e.g.
1000000) of each kind with a plain PRNG: ``PACKETFS_DIFF_CASES=1000000 pytest -m slow -k long``.
"""

from __future__ import annotations

import os
import random
import time

import pytest
import script_util as U
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.primitives import Transaction, TxIn, TxOut
from packetfs.bitcoin.primitives.encoding import compact_size
from packetfs.bitcoin.primitives.hashes import hash160, sha256
from packetfs.bitcoin.script import ScriptError, ScriptFlags, verify_tx_input

F = ScriptFlags
_PBK_BITS = [
    F.P2SH,
    F.DERSIG,
    F.NULLDUMMY,
    F.CHECKLOCKTIMEVERIFY,
    F.CHECKSEQUENCEVERIFY,
    F.WITNESS,
    F.TAPROOT,
]
_PUBKEY = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
_XONLY = _PUBKEY[1:]
_SIG = bytes.fromhex(
    "3044022079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f8179802201234567890abcdef"
    "1234567890abcdef1234567890abcdef1234567890abcdef01"
)


def _push(data: bytes) -> bytes:
    return U._push(data)


def random_flags(rng: random.Random) -> int:
    f = 0
    for bit in _PBK_BITS:
        if rng.random() < 0.6:
            f |= int(bit)
    if f & F.WITNESS:
        f |= int(F.P2SH)  # the kernel (like VerifyScript) requires P2SH with WITNESS
    return f


def random_item(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.25:
        return U._scriptnum(
            rng.choice([0, 1, 2, 3, 16, 17, -1, -2, 127, 128, 255, 256, 2**31 - 1, 2**31, -(2**31)])
        )
    if r < 0.35:
        return rng.choice(
            [_PUBKEY, _XONLY, _SIG, _SIG[:-1] + b"\x81", bytes(64), b"\x80", b"\x00", b"\x00\x80"]
        )
    if r < 0.4:
        return rng.randbytes(rng.choice([520, 521]))
    return rng.randbytes(rng.choice([0, 1, 1, 2, 3, 4, 5, 20, 32, 33]))


def random_script(rng: random.Random, length: int, push_only: bool = False) -> bytes:
    out = bytearray()
    for _ in range(length):
        r = rng.random()
        if r < 0.35 or push_only and r < 0.9:
            item = random_item(rng)
            if rng.random() < 0.1 and len(item) < 0x4C:
                out += bytes((0x4C, len(item))) + item  # non-minimal push
            else:
                out += _push(item)
        elif push_only:
            out.append(rng.choice([0x00, 0x4F, *range(0x51, 0x61)]))
        elif r < 0.55:
            out.append(rng.choice([0x00, 0x4F, 0x51, 0x52, 0x53, 0x60]))
        elif r < 0.7:
            out.append(
                rng.choice([0x63, 0x64, 0x67, 0x68, 0x69, 0x6A, 0x76, 0x87, 0x88, 0xAC, 0xAD, 0xAE, 0xBA])
            )
        elif r < 0.73:
            out.append(rng.choice([0x4C, 0x4D, 0x4E]))  # truncated push
            out += rng.randbytes(rng.randrange(3))
        else:
            out.append(rng.randrange(0x4F, 0x100))
    return bytes(out)


def _one_input_tx(script_sig: bytes, witness: list[bytes], rng: random.Random) -> Transaction:
    version = rng.choice([1, 2, 2, -1])
    seq = rng.choice([0xFFFFFFFF, 0xFFFFFFFE, 0, 10, 1 << 22 | 5, 1 << 31])
    locktime = rng.choice([0, 100, 499_999_999, 500_000_001])
    return Transaction(
        version, [TxIn(rng.randbytes(32), rng.randrange(4), script_sig, seq)], [TxOut(1000, b"\x51")], locktime,
        [witness],
    )  # fmt: skip


def generated_case(rng: random.Random) -> tuple[bytes, int, list[TxOut], int]:
    """(tx bytes, index, spent outputs, flags) for a random script spend of one of four shapes."""
    kind = rng.randrange(4)
    flags = random_flags(rng)
    amount = rng.choice([0, 1, 50_000])
    witness: list[bytes] = []
    if kind == 0:  # bare
        script_sig = random_script(rng, rng.randrange(4), push_only=rng.random() < 0.8)
        spk = random_script(rng, rng.randrange(1, 8))
    elif kind == 1:  # P2SH
        redeem = random_script(rng, rng.randrange(1, 6))
        script_sig = random_script(rng, rng.randrange(3), push_only=True) + _push(redeem)
        spk = b"\xa9\x14" + hash160(redeem) + b"\x87"
    elif kind == 2:  # P2WSH, sometimes nested in P2SH
        ws = random_script(rng, rng.randrange(1, 8))
        witness = [random_item(rng) for _ in range(rng.randrange(4))] + [ws]
        program = b"\x00\x20" + sha256(ws)
        if rng.random() < 0.3:
            script_sig, spk = _push(program), b"\xa9\x14" + hash160(program) + b"\x87"
        else:
            script_sig, spk = b"", program
    else:  # tapscript (sometimes an unknown leaf version, sometimes an annex)
        leaf = random_script(rng, rng.randrange(1, 8))
        control, key = U.single_leaf_taproot(leaf)
        witness = [random_item(rng) for _ in range(rng.randrange(4))] + [leaf, control]
        if rng.random() < 0.1:
            witness.append(b"\x50" + rng.randbytes(rng.randrange(3)))
        script_sig, spk = b"", b"\x51\x20" + key
    tx = _one_input_tx(script_sig, witness, rng)
    return tx.serialize(), 0, [TxOut(amount, spk)], flags


def _ours(raw: bytes, index: int, spent: list[TxOut], flags: int) -> bool:
    tx = Transaction.from_bytes(raw)
    try:
        verify_tx_input(tx, index, spent, flags)
        return True
    except ScriptError:
        return False


def _agree(case) -> tuple[bool, bool]:
    raw, index, spent, flags = case
    return _ours(raw, index, spent, flags), U.pbk_verify(raw, index, spent, flags)


# --------------------------------------------------------------------- mutated real spends
_REAL: list[tuple[Transaction, list[TxOut], int, int]] = []


def _real_spends(real_blocks, real_undo, manifest) -> list:
    if not _REAL:
        rng = random.Random(7)
        for name in ("mainnet-367891", "mainnet-757739", "mainnet-866342"):
            flags = U.mainnet_flags(next(m["height"] for m in manifest if m["name"] == name))
            spends = [(tx, spent, i, flags) for tx, spent in U.block_spends(real_blocks[name], real_undo[name])
                      for i in range(tx.input_count)]  # fmt: skip
            # Skip huge transactions (the 20,000 OP_TRUE spends, 1,000-input batches): they only slow the kernel calls.
            spends = [s for s in spends if s[0].input_count < 200]
            _REAL.extend(rng.sample(spends, min(400, len(spends))))
    return _REAL


def _flip(b: bytes, rng: random.Random) -> bytes:
    if not b:
        return bytes((rng.randrange(256),))
    pos = rng.randrange(len(b))
    return b[:pos] + bytes((b[pos] ^ (1 << rng.randrange(8)),)) + b[pos + 1 :]


def mutated_case(spend, rng: random.Random):
    tx, spent, i, flags = spend
    inputs, witnesses, spent = list(tx.inputs), [list(w) for w in tx.witnesses], list(spent)
    txin, wit = inputs[i], witnesses[i]
    ss = txin.script_sig
    kind = rng.randrange(8)
    if kind == 0 and wit:  # flip a witness bit
        k = rng.randrange(len(wit))
        wit[k] = _flip(wit[k], rng)
    elif kind == 1 and ss:  # flip a scriptSig bit
        ss = _flip(ss, rng)
    elif kind == 2:  # insert a random opcode in scriptSig or witness script
        if wit and rng.random() < 0.5:
            k = rng.randrange(len(wit))
            p = rng.randrange(len(wit[k]) + 1)
            wit[k] = wit[k][:p] + bytes((rng.randrange(256),)) + wit[k][p:]
        else:
            p = rng.randrange(len(ss) + 1)
            ss = ss[:p] + bytes((rng.randrange(0x4F, 0x100),)) + ss[p:]
    elif kind == 3:  # change the amount
        spent[i] = TxOut(
            max(0, spent[i].value + rng.choice([-1, 1, 1000, -(1 << 20)])), spent[i].script_pubkey
        )
    elif kind == 4:  # change a signature's hash type byte
        new_type = rng.choice([0, 1, 2, 3, 0x81, 0x82, 0x83, 0x40, rng.randrange(256)])
        for k, item in enumerate(wit):
            if len(item) in (64, 65) or (item[:1] == b"\x30" and 9 <= len(item) <= 73):
                wit[k] = (item[:64] if len(item) in (64, 65) and item[:1] != b"\x30" else item[:-1]) + bytes(
                    (new_type,)
                )
                break
        else:
            if ss[:1] and 9 <= ss[0] <= 73 and len(ss) > ss[0]:
                ss = ss[: ss[0]] + bytes((new_type,)) + ss[ss[0] + 1 :]
    elif kind == 5 and wit:  # truncate the witness (drop items or cut one short)
        if rng.random() < 0.5:
            wit = wit[: rng.randrange(len(wit))]
        else:
            k = rng.randrange(len(wit))
            wit[k] = wit[k][: rng.randrange(len(wit[k]) + 1)]
    elif kind == 6:  # flip a scriptPubKey bit
        spent[i] = TxOut(spent[i].value, _flip(spent[i].script_pubkey, rng))
    else:  # flip a bit of another part of the transaction the signature may cover
        j = rng.randrange(len(inputs))
        o = inputs[j]
        inputs[j] = TxIn(o.prev_txid, o.prev_index, o.script_sig, o.sequence ^ (1 << rng.randrange(32)))
        txin = inputs[i]
    inputs[i] = TxIn(txin.prev_txid, txin.prev_index, ss, inputs[i].sequence)
    witnesses[i] = wit
    m = Transaction(tx.version, inputs, tx.outputs, tx.locktime, witnesses)
    f = flags if rng.random() < 0.8 else random_flags(rng)
    return m.serialize(), i, spent, f


# ---------------------------------------------------------------------------- quick mode
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_generated_scripts_match_kernel(rng):
    case = generated_case(rng)
    ours, ref = _agree(case)
    assert ours == ref, (case[0].hex(), case[2][0].script_pubkey.hex(), hex(case[3]), ours, ref)


def test_mutated_real_spends_match_kernel(real_blocks, real_undo, manifest):
    spends = _real_spends(real_blocks, real_undo, manifest)
    rng = random.Random(2024)
    disagreements = []
    valid = 0
    for _ in range(2000):
        case = mutated_case(rng.choice(spends), rng)
        ours, ref = _agree(case)
        valid += ref
        if ours != ref:
            disagreements.append(
                (case[0].hex(), case[1], [(o.value, o.script_pubkey.hex()) for o in case[2]], case[3])
            )
    assert not disagreements, disagreements[:3]
    assert 0 < valid < 2000  # both verdicts occur


def test_generated_witness_stack_mutations_tapscript_success():
    """Tapscript leaves that succeed must also agree (random scripts mostly fail)."""
    rng = random.Random(5)
    for leaf in (b"\x51", b"\x00\x87", b"\x51\x63\x51\x68", b"\x50", b"\x20" + _XONLY + b"\xac\x91", b"\xbb"):
        control, key = U.single_leaf_taproot(leaf)
        for extra in ([], [b"\x01"], [b""]):
            tx = _one_input_tx(b"", [*extra, leaf, control], rng)
            for flags in (int(U.PBK_FLAGS), int(F.P2SH | F.WITNESS)):
                case = (tx.serialize(), 0, [TxOut(5, b"\x51\x20" + key)], flags)
                ours, ref = _agree(case)
                assert ours == ref, (leaf.hex(), extra, flags)


# ----------------------------------------------------------------------------- long mode
LONG_CASES = int(os.environ.get("PACKETFS_DIFF_CASES", "0"))


@pytest.mark.slow
@pytest.mark.skipif(
    LONG_CASES <= 0, reason="set PACKETFS_DIFF_CASES=N (e.g. 1000000) to run the long differential"
)
def test_long_differential(real_blocks, real_undo, manifest):
    spends = _real_spends(real_blocks, real_undo, manifest)
    seed = int(os.environ.get("PACKETFS_DIFF_SEED", "1"))
    rng = random.Random(seed)
    disagreements = []
    t0 = time.time()
    for n in range(LONG_CASES):
        case = generated_case(rng) if n % 2 == 0 else mutated_case(rng.choice(spends), rng)
        ours, ref = _agree(case)
        if ours != ref:
            disagreements.append(
                (n, case[0].hex(), [(o.value, o.script_pubkey.hex()) for o in case[2]], case[3])
            )
            if len(disagreements) >= 20:
                break
    print(f"long differential: {n + 1} cases in {time.time() - t0:.0f}s, {len(disagreements)} disagreements")
    assert not disagreements, disagreements[:5]


def test_compact_size_helper_is_consistent():
    # The generator's taproot helper relies on the same compact size encoding as the leaf hash.
    assert compact_size(0x4B) == b"\x4b"
