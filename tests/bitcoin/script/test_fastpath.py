"""The standard-template fast paths give exactly the interpreter's answer: freshly signed spends of
every template (P2PKH, P2WPKH, P2SH-P2WPKH, P2TR key path, bare/P2SH/P2WSH multisig) and mutated
ones (flipped bits, wrong amounts, other hash types, other flags) get the same verdict and the
same error name from ``verify_tx_input`` (fast path first) as from the bare interpreter."""

from __future__ import annotations

import random

from coincurve import PrivateKey, PublicKeyXOnly
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.primitives import Transaction, TxIn, TxOut
from packetfs.bitcoin.primitives.hashes import hash160, sha256
from packetfs.bitcoin.script import (
    PrecomputedTxData,
    ScriptError,
    ScriptFlags,
    crypto,
    legacy_sighash,
    segwit_v0_sighash,
    taproot_sighash,
    verify_tx_input,
)
from packetfs.bitcoin.script.fastpath import fast_verify
from packetfs.bitcoin.script.interpreter import TxChecker, push_data, verify_script

F = ScriptFlags
STANDARD = int(
    F.P2SH | F.STRICTENC | F.DERSIG | F.LOW_S | F.NULLDUMMY | F.MINIMALDATA | F.DISCOURAGE_UPGRADABLE_NOPS
    | F.CLEANSTACK | F.CHECKLOCKTIMEVERIFY | F.CHECKSEQUENCEVERIFY | F.WITNESS | F.MINIMALIF | F.NULLFAIL
    | F.WITNESS_PUBKEYTYPE | F.CONST_SCRIPTCODE | F.TAPROOT
)  # fmt: skip
TEMPLATES = [
    "p2pkh",
    "p2pkh_u",
    "p2wpkh",
    "p2sh_p2wpkh",
    "p2tr",
    "bare_ms",
    "p2sh_ms",
    "p2wsh_ms",
    "p2sh_p2wsh_ms",
]
KEYS = [PrivateKey(bytes(31) + bytes((i,))) for i in range(1, 6)]


def _multisig_script(m: int, pubs: list[bytes]) -> bytes:
    return bytes((0x50 + m,)) + b"".join(push_data(p) for p in pubs) + bytes((0x50 + len(pubs), 0xAE))


def build_spend(template: str, rng: random.Random, hash_type: int = 1):
    """A 2-input transaction whose input 0 spends ``template`` with valid signatures; input 1 is a
    P2TR key-path spend too (so BIP341 hashes commit to two spent outputs)."""
    amount = rng.randrange(1, 10**9)
    other_key = KEYS[4]
    other_spk = b"\x51\x20" + PublicKeyXOnly.from_secret(other_key.secret).format()
    inputs = [
        TxIn(rng.randbytes(32), rng.randrange(3), b"", 0xFFFFFFFD),
        TxIn(rng.randbytes(32), 0, b"", 0xFFFFFFFF),
    ]
    outputs = [TxOut(rng.randrange(10**8), b"\x00\x14" + rng.randbytes(20)), TxOut(5000, b"\x51")]
    key = KEYS[0]
    compressed = template != "p2pkh_u"
    pub = key.public_key.format(compressed=compressed)
    ms_m, ms_keys = rng.choice([(1, 2), (2, 3), (1, 1), (3, 3)])
    ms_pubs = [k.public_key.format() for k in KEYS[:ms_keys]]
    ms_script = _multisig_script(ms_m, ms_pubs)
    if template in ("p2pkh", "p2pkh_u"):
        spk = b"\x76\xa9\x14" + hash160(pub) + b"\x88\xac"
    elif template == "p2wpkh":
        spk = b"\x00\x14" + hash160(pub)
    elif template == "p2sh_p2wpkh":
        redeem = b"\x00\x14" + hash160(pub)
        spk = b"\xa9\x14" + hash160(redeem) + b"\x87"
    elif template == "p2tr":
        spk = b"\x51\x20" + PublicKeyXOnly.from_secret(key.secret).format()
    elif template == "bare_ms":
        spk = ms_script
    elif template == "p2sh_ms":
        spk = b"\xa9\x14" + hash160(ms_script) + b"\x87"
    elif template == "p2wsh_ms":
        spk = b"\x00\x20" + sha256(ms_script)
    else:
        redeem = b"\x00\x20" + sha256(ms_script)
        spk = b"\xa9\x14" + hash160(redeem) + b"\x87"
    spent = [TxOut(amount, spk), TxOut(7777, other_spk)]
    unsigned = Transaction(2, inputs, outputs, 0, [(), ()])
    cache = PrecomputedTxData(unsigned, spent)

    def ecdsa(k, code, v0):
        h = (segwit_v0_sighash(code, unsigned, 0, hash_type, amount, cache) if v0
             else legacy_sighash(code, unsigned, 0, hash_type, cache))  # fmt: skip
        return k.sign(h, hasher=None) + bytes((hash_type,))

    script_sig, witness = b"", ()
    if template in ("p2pkh", "p2pkh_u"):
        script_sig = push_data(ecdsa(key, spk, False)) + push_data(pub)
    elif template == "p2wpkh":
        witness = (ecdsa(key, b"\x76\xa9\x14" + hash160(pub) + b"\x88\xac", True), pub)
    elif template == "p2sh_p2wpkh":
        witness = (ecdsa(key, b"\x76\xa9\x14" + hash160(pub) + b"\x88\xac", True), pub)
        script_sig = push_data(b"\x00\x14" + hash160(pub))
    elif template == "p2tr":
        tt = hash_type if hash_type in (0, 1, 2, 3, 0x81, 0x82, 0x83) else 0
        sig = key.sign_schnorr(taproot_sighash(unsigned, 0, tt, cache), rng.randbytes(32))
        witness = (sig + (bytes((tt,)) if tt else b""),)
    else:
        v0 = template in ("p2wsh_ms", "p2sh_p2wsh_ms")
        sigs = [ecdsa(k, ms_script, v0) for k in KEYS[:ms_m]]
        if v0:
            witness = (b"", *sigs, ms_script)
            if template == "p2sh_p2wsh_ms":
                script_sig = push_data(b"\x00\x20" + sha256(ms_script))
        else:
            script_sig = b"\x00" + b"".join(push_data(s) for s in sigs)
            if template == "p2sh_ms":
                script_sig += push_data(ms_script)
    tx = Transaction(2, [TxIn(*inputs[0][:2], script_sig, inputs[0].sequence), inputs[1]], outputs, 0,
                     [witness, (b"\x00" * 64,)])  # fmt: skip
    return tx, spent


def _interp(tx, spent, flags) -> str:
    try:
        verify_script(tx.inputs[0].script_sig, spent[0].script_pubkey, tx.witnesses[0], flags,
                      TxChecker(tx, 0, spent[0].value, PrecomputedTxData(tx, spent)))  # fmt: skip
    except ScriptError as e:
        return e.code
    return "OK"


def _full(tx, spent, flags) -> str:
    try:
        verify_tx_input(tx, 0, spent, flags)
    except ScriptError as e:
        return e.code
    return "OK"


def _fast(tx, spent, flags) -> bool:
    return fast_verify(tx, 0, tx.inputs[0].script_sig, spent[0].script_pubkey, tx.witnesses[0], spent[0].value,
                       flags, PrecomputedTxData(tx, spent))  # fmt: skip


def test_every_template_takes_the_fast_path_and_verifies():
    rng = random.Random(1)
    for template in TEMPLATES:
        for hash_type in (1, 2, 3, 0x81, 0x83):
            tx, spent = build_spend(template, rng, hash_type)
            assert _fast(tx, spent, STANDARD), (template, hash_type)
            assert _interp(tx, spent, STANDARD) == "OK", (template, hash_type)
            assert _full(tx, spent, STANDARD) == "OK"


def _mutate(tx: Transaction, spent: list[TxOut], rng: random.Random, kind: int):
    inputs, witnesses, spent = list(tx.inputs), [list(w) for w in tx.witnesses], list(spent)
    ss, wit = inputs[0].script_sig, witnesses[0]

    def flip(b: bytes) -> bytes:
        if not b:
            return b"\x01"
        p = rng.randrange(len(b))
        return b[:p] + bytes((b[p] ^ (1 << rng.randrange(8)),)) + b[p + 1 :]

    if kind == 0 and wit:
        k = rng.randrange(len(wit))
        wit[k] = flip(wit[k])
    elif kind == 1 and ss:
        ss = flip(ss)
    elif kind == 2:
        spent[0] = TxOut(spent[0].value + rng.choice([1, -1, 1 << 20]), spent[0].script_pubkey)
    elif kind == 3:
        spent[0] = TxOut(spent[0].value, flip(spent[0].script_pubkey))
    elif kind == 4 and wit:
        wit = wit[: rng.randrange(len(wit))] if rng.random() < 0.5 else [*wit, b""]
    elif kind == 5:  # high-S / other hash type / uncompressed-key variants via a byte change at the end
        if wit:
            wit[0] = wit[0][:-1] + bytes((rng.choice([0, 1, 2, 3, 0x80, 0x81, 0x84]),))
        elif ss:
            p = ss[0]
            if 0 < p < len(ss):
                ss = ss[:p] + bytes((rng.choice([0, 1, 2, 3, 0x80, 0x81, 0x84]),)) + ss[p + 1 :]
    elif kind == 6:  # non-minimal push of the first scriptSig item
        if ss and 0 < ss[0] < 0x4C and len(ss) > ss[0]:
            ss = bytes((0x4C, ss[0])) + ss[1:]
    inputs[0] = TxIn(inputs[0].prev_txid, inputs[0].prev_index, ss, inputs[0].sequence)
    witnesses[0] = tuple(wit)
    return Transaction(tx.version, inputs, tx.outputs, tx.locktime, witnesses), spent


_ALL_FLAGS = [int(f) for f in ScriptFlags if f]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    template=st.sampled_from(TEMPLATES),
    hash_type=st.sampled_from([1, 2, 3, 0x81, 0x82, 0x83, 0, 4, 0x41]),
    mutation=st.integers(-1, 6),
    flag_mask=st.integers(0, (1 << 21) - 1),
    seed=st.integers(0, 2**32),
)
def test_fast_path_equals_interpreter(template, hash_type, mutation, flag_mask, seed):
    rng = random.Random(seed)
    tx, spent = build_spend(template, rng, hash_type)
    if mutation >= 0:
        tx, spent = _mutate(tx, spent, rng, mutation)
    flags = STANDARD & flag_mask if flag_mask & 1 else STANDARD
    if flags & F.CLEANSTACK and (flags & (F.P2SH | F.WITNESS)) != (F.P2SH | F.WITNESS):
        flags &= ~int(F.CLEANSTACK)
    if flags & F.WITNESS and not flags & F.P2SH:
        flags &= ~int(F.WITNESS)
    interp = _interp(tx, spent, flags)
    assert _full(tx, spent, flags) == interp
    if _fast(tx, spent, flags):
        assert interp == "OK", (template, hash_type, mutation, hex(flags))


# ---------------------------------------------------------------- P2PKH in big transactions
# legacy_sighash switches to cached prefix states from BIG_TX inputs on; the P2PKH fast path computes
# that case itself (sighash.legacy_all_big) and parses strict-DER signatures straight to r||s.


def _big_p2pkh_spend(rng: random.Random, n_in: int, index: int, hash_type: int, key_form: str):
    key = KEYS[rng.randrange(4)]
    pub = key.public_key.format(compressed=key_form == "compressed")
    if key_form == "hybrid":  # 0x06/0x07 by y's parity: parsed by libsecp256k1, rejected by STRICTENC
        pub = bytes((6 + (pub[-1] & 1),)) + pub[1:]
    spk = b"\x76\xa9\x14" + hash160(pub) + b"\x88\xac"
    inputs = [
        TxIn(rng.randbytes(32), rng.randrange(4), b"", rng.choice([0, 0xFFFFFFFF])) for _ in range(n_in)
    ]
    outputs = [
        TxOut(rng.randrange(10**8), rng.randbytes(rng.randrange(40))) for _ in range(rng.randrange(1, 4))
    ]
    spent = [TxOut(rng.randrange(10**8), spk) for _ in range(n_in)]
    unsigned = Transaction(1, inputs, outputs, rng.randrange(2**32), [()] * n_in)
    h = legacy_sighash(spk, unsigned, index, hash_type, PrecomputedTxData(unsigned, spent))
    sig = key.sign(h, hasher=None) + bytes((hash_type,))
    script_sig = push_data(sig) + push_data(pub)
    inputs[index] = TxIn(
        inputs[index].prev_txid, inputs[index].prev_index, script_sig, inputs[index].sequence
    )
    return Transaction(1, inputs, outputs, unsigned.locktime, [()] * n_in), spent


def _verdicts(tx, spent, index, flags):
    try:
        verify_script(tx.inputs[index].script_sig, spent[index].script_pubkey, (), flags,
                      TxChecker(tx, index, spent[index].value, PrecomputedTxData(tx, spent)))  # fmt: skip
        interp = "OK"
    except ScriptError as e:
        interp = e.code
    try:
        verify_tx_input(tx, index, spent, flags, PrecomputedTxData(tx, spent))
        full = "OK"
    except ScriptError as e:
        full = e.code
    fast = fast_verify(tx, index, tx.inputs[index].script_sig, spent[index].script_pubkey, (), spent[index].value,
                       flags, PrecomputedTxData(tx, spent))  # fmt: skip
    return interp, full, fast


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_in=st.sampled_from([127, 128, 129, 160, 300]),
    hash_type=st.sampled_from([1, 0, 4, 0x1F, 0x41, 0x81, 2, 3, 0x83]),
    key_form=st.sampled_from(["compressed", "uncompressed", "hybrid"]),
    mutation=st.sampled_from(["none", "sig", "hash_type", "high_s", "pad_r", "index"]),
    flags=st.sampled_from(
        [
            0,
            int(F.P2SH),
            int(F.P2SH | F.DERSIG),
            int(F.P2SH | F.DERSIG | F.WITNESS | F.NULLDUMMY),
            int(F.DERSIG | F.LOW_S),
            int(F.DERSIG | F.STRICTENC),
            STANDARD,
        ]
    ),  # fmt: skip
    seed=st.integers(0, 2**32),
)
def test_big_tx_p2pkh_fast_path_equals_interpreter(n_in, hash_type, key_form, mutation, flags, seed):
    rng = random.Random(seed)
    index = rng.choice([0, 1, 15, 16, 17, n_in // 2, n_in - 1])
    tx, spent = _big_p2pkh_spend(rng, n_in, index, hash_type, key_form)
    ss = tx.inputs[index].script_sig
    ls = ss[0]
    sig, rest = ss[1 : 1 + ls], ss[1 + ls :]
    if mutation == "sig":
        p = rng.randrange(len(sig))
        sig = sig[:p] + bytes((sig[p] ^ (1 << rng.randrange(8)),)) + sig[p + 1 :]
    elif mutation == "hash_type":
        sig = sig[:-1] + bytes(((sig[-1] + 1) & 0xFF,))
    elif mutation == "high_s":  # S -> n - S: valid under consensus, rejected by LOW_S
        n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
        compact = crypto.parse_der_lax(sig[:-1])
        r, s = int.from_bytes(compact[:32], "big"), n - int.from_bytes(compact[32:], "big")
        sig = _der(r, s) + sig[-1:]
    elif mutation == "pad_r":  # a non-minimal (BER) R: only the lax parser takes it
        lr = sig[3]
        sig = bytes((0x30, sig[1] + 1, 0x02, lr + 1, 0)) + sig[4:-1] + sig[-1:]
    ss = push_data(sig) + rest
    inputs = list(tx.inputs)
    inputs[index] = TxIn(inputs[index].prev_txid, inputs[index].prev_index, ss, inputs[index].sequence)
    if mutation == "index":  # the same signature moved to another input: another sighash
        other = (index + 1) % n_in
        inputs[other], inputs[index] = TxIn(inputs[other].prev_txid, inputs[other].prev_index, ss,
                                            inputs[other].sequence), inputs[other]  # fmt: skip
        index = other
    tx = Transaction(tx.version, inputs, tx.outputs, tx.locktime, tx.witnesses)
    interp, full, fast = _verdicts(tx, spent, index, flags)
    assert full == interp
    if fast:
        assert interp == "OK"
    strictenc_ok = key_form != "hybrid" and 1 <= hash_type & 0x7F <= 3
    if mutation == "none" and (strictenc_ok or not flags & F.STRICTENC):
        assert interp == "OK" and fast  # valid spends take the fast path, SIGHASH_ALL-like or not


def _der(r: int, s: int) -> bytes:
    def integer(v: int) -> bytes:
        b = v.to_bytes((v.bit_length() + 8) // 8, "big")  # a leading 0 when the top bit is set
        return b"\x02" + bytes((len(b),)) + b

    body = integer(r) + integer(s)
    return b"\x30" + bytes((len(body),)) + body


def test_legacy_all_big_equals_legacy_sighash():
    from packetfs.bitcoin.script.sighash import BIG_TX, legacy_all_big

    rng = random.Random(7)
    for n_in in (BIG_TX, BIG_TX + 1, 257):
        tx, spent = _big_p2pkh_spend(rng, n_in, 0, 1, "compressed")
        code = spent[0].script_pubkey
        cache = PrecomputedTxData(tx, spent)
        for index in sorted(
            {0, 1, 15, 16, 17, 31, 32, 100, n_in - 2, n_in - 1, *rng.sample(range(n_in), 20)}
        ):
            for ht in (0, 1, 4, 0x1F, 0x41):
                want = legacy_sighash(
                    code, tx, index, ht, PrecomputedTxData(tx, spent)
                )  # fresh: no shared state
                assert legacy_all_big(cache, index, b"\x19" + code, bytes((ht, 0, 0, 0))) == want


def test_strict_der_p2pkh_goes_straight_to_the_curve_check(monkeypatch):
    """Under DERSIG a valid P2PKH spend is verified from r||s sliced out of the strict-DER signature
    (R with and without its sign-padding zero), never through the lax parser's fallback."""
    from packetfs.bitcoin.script import fastpath

    def fallback(*_):
        raise AssertionError("lax-parser fallback used for a strict-DER signature")

    monkeypatch.setattr(fastpath, "_verify_ecdsa", fallback)
    rng = random.Random(3)
    padded = 0
    for i in range(60):
        n_in = rng.choice([2, 130])
        tx, spent = _big_p2pkh_spend(
            rng, n_in, i % n_in, rng.choice([1, 0x81, 2, 3]), rng.choice(["compressed", "uncompressed"])
        )
        ss = tx.inputs[i % n_in].script_sig
        padded += ss[1 + 4] == 0  # R's first byte is a sign-padding zero
        for flags in (int(F.DERSIG), STANDARD):
            assert fast_verify(tx, i % n_in, ss, spent[i % n_in].script_pubkey, (), spent[i % n_in].value, flags,
                               PrecomputedTxData(tx, spent))  # fmt: skip
    assert 10 < padded < 50


# ------------------------------------------------- runs of P2PKH inputs (consensus.pool.verify_batch)
# verify_p2pkh_run proves consecutive P2PKH inputs of a tx in one loop (block-validation flags only);
# verify_batch hands every input it does not prove to verify_tx_input. Whatever the mix of valid,
# broken and other inputs, the batch's verdict (inputs verified, first failing input, error name) must
# be exactly the interpreter's, input by input.

BLOCK_FLAGS = int(F.P2SH | F.DERSIG | F.CHECKLOCKTIMEVERIFY | F.CHECKSEQUENCEVERIFY | F.WITNESS | F.NULLDUMMY
                  | F.TAPROOT)  # fmt: skip
_RUN_MUTATIONS = ["none", "none", "none", "sig", "hash_type", "high_s", "pad_r", "swap", "wrong_key",
                  "empty", "witness", "not_p2pkh", "codesep_in_sig"]  # fmt: skip


def _p2pkh_tx(rng: random.Random, n_in: int, hash_types, key_forms):
    keys = [KEYS[rng.randrange(4)] for _ in range(n_in)]
    pubs = []
    for key in keys:
        form = rng.choice(key_forms)
        pub = key.public_key.format(compressed=form == "compressed")
        if form == "hybrid":
            pub = bytes((6 + (pub[-1] & 1),)) + pub[1:]
        pubs.append(pub)
    spent = [TxOut(rng.randrange(10**8), b"\x76\xa9\x14" + hash160(p) + b"\x88\xac") for p in pubs]
    inputs = [TxIn(rng.randbytes(32), rng.randrange(4), b"", rng.choice([0, 0xFFFFFFFF])) for _ in range(n_in)]
    outputs = [TxOut(rng.randrange(10**8), rng.randbytes(rng.randrange(40))) for _ in range(rng.randrange(1, 4))]
    unsigned = Transaction(1, inputs, outputs, rng.randrange(2**32), [()] * n_in)
    pre = PrecomputedTxData(unsigned, spent)
    sigs = []
    for i in range(n_in):
        ht = rng.choice(hash_types)
        h = legacy_sighash(spent[i].script_pubkey, unsigned, i, ht, pre)
        sigs.append(keys[i].sign(h, hasher=None) + bytes((ht,)))
    return unsigned, spent, sigs, pubs


def _run_case(rng: random.Random, n_in: int, mutated: float, flags: int, first: int, end: int):
    from packetfs.bitcoin.consensus.pool import verify_batch

    tx, spent, sigs, pubs = _p2pkh_tx(rng, n_in, [1, 1, 1, 0x81, 2, 3, 0, 4, 0x41], ["compressed", "compressed",
                                      "uncompressed", "hybrid"])  # fmt: skip
    inputs, witnesses = list(tx.inputs), [()] * n_in
    for i in range(n_in):
        sig, pub, spk = sigs[i], pubs[i], spent[i].script_pubkey
        kind = rng.choice(_RUN_MUTATIONS) if rng.random() < mutated else "none"
        if kind == "sig":
            p = rng.randrange(len(sig))
            sig = sig[:p] + bytes((sig[p] ^ (1 << rng.randrange(8)),)) + sig[p + 1 :]
        elif kind == "hash_type":
            sig = sig[:-1] + bytes(((sig[-1] + 1) & 0xFF,))
        elif kind == "high_s":
            n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
            compact = crypto.parse_der_lax(sig[:-1])
            sig = _der(int.from_bytes(compact[:32], "big"), n - int.from_bytes(compact[32:], "big")) + sig[-1:]
        elif kind == "pad_r":
            sig = bytes((0x30, sig[1] + 1, 0x02, sig[3] + 1, 0)) + sig[4:-1] + sig[-1:]
        elif kind == "swap":
            sig = sigs[(i + 1) % n_in]
        elif kind == "wrong_key":
            pub = KEYS[4].public_key.format()
            spent[i] = TxOut(spent[i].value, b"\x76\xa9\x14" + hash160(pub) + b"\x88\xac")
        elif kind == "witness":
            witnesses[i] = (b"\x01",)
        elif kind == "not_p2pkh":  # P2PK: another template, for the interpreter
            spent[i] = TxOut(spent[i].value, push_data(pub) + b"\xac")
        elif kind == "codesep_in_sig":  # the signature push appears in the scriptPubKey: FindAndDelete
            spent[i] = TxOut(spent[i].value, spk[:-2] + push_data(sig) + b"\x75" + spk[-2:])
        ss = b"" if kind == "empty" else push_data(sig) + push_data(pub)
        inputs[i] = TxIn(inputs[i].prev_txid, inputs[i].prev_index, ss, inputs[i].sequence)
    tx = Transaction(tx.version, inputs, tx.outputs, tx.locktime, witnesses)
    want_verified, want_failure = end - first, None
    for i in range(first, end):
        try:
            verify_script(inputs[i].script_sig, spent[i].script_pubkey, witnesses[i], flags,
                          TxChecker(tx, i, spent[i].value, PrecomputedTxData(tx, spent)))  # fmt: skip
        except ScriptError as e:
            want_verified, want_failure = i - first, (0, i, e.code)
            break
    got = verify_batch(object(), [(0, tx, spent, flags, first, end)])
    assert got == (want_verified, want_failure), (n_in, first, end, hex(flags))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_in=st.sampled_from([1, 2, 7, 8, 9, 33, 130]),
    mutated=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
    flags=st.sampled_from([BLOCK_FLAGS, BLOCK_FLAGS, int(F.P2SH | F.DERSIG), int(F.P2SH), 0, STANDARD,
                           int(F.DERSIG | F.LOW_S)]),  # fmt: skip
    seed=st.integers(0, 2**32),
)
def test_p2pkh_runs_in_verify_batch_equal_the_interpreter(n_in, mutated, flags, seed):
    rng = random.Random(seed)
    first = rng.choice([0, 0, n_in // 2])
    end = rng.choice([n_in, n_in, max(first, n_in - 1)])
    _run_case(rng, n_in, mutated, flags, first, end)


def test_p2pkh_run_proves_valid_inputs_in_one_loop():
    """Under block flags a valid all-P2PKH tx is proven by the run, first input included (the per-tx
    checks verify_tx_input makes are made and noted), with and without the running hash state."""
    from packetfs.bitcoin.script.fastpath import _RUNNING_FROM, verify_p2pkh_run

    rng = random.Random(5)
    for n_in in (2, _RUNNING_FROM - 1, _RUNNING_FROM, 40, 140):
        tx, spent, sigs, pubs = _p2pkh_tx(rng, n_in, [1, 0x81 & 0x1F, 0, 4, 0x41], ["compressed", "uncompressed"])
        inputs = [TxIn(t.prev_txid, t.prev_index, push_data(s) + push_data(p), t.sequence)
                  for t, s, p in zip(tx.inputs, sigs, pubs, strict=True)]  # fmt: skip
        tx = Transaction(tx.version, inputs, tx.outputs, tx.locktime, tx.witnesses)
        pre = PrecomputedTxData(tx, spent)
        bad_flags = int(F.DERSIG | F.WITNESS)  # WITNESS without P2SH: verify_tx_input's INVALID_FLAGS
        assert verify_p2pkh_run(tx, spent, bad_flags, pre, 0, n_in) == 0 and pre.checked_flags == -1
        assert verify_p2pkh_run(tx, spent, BLOCK_FLAGS, pre, 0, n_in) == n_in
        assert pre.checked_flags == BLOCK_FLAGS
        assert verify_p2pkh_run(tx, spent, STANDARD, pre, 1, n_in) == 1  # policy flags: not its case
        assert verify_p2pkh_run(tx, list(spent), BLOCK_FLAGS, pre, 0, n_in) == 0  # not the cache's outputs
        # a flipped bit in the last signature: proven up to it, not beyond
        last = inputs[-1]
        sig = sigs[-1][:10] + bytes((sigs[-1][10] ^ 1,)) + sigs[-1][11:]
        inputs[-1] = TxIn(last.prev_txid, last.prev_index, push_data(sig) + push_data(pubs[-1]), last.sequence)
        bad = Transaction(tx.version, inputs, tx.outputs, tx.locktime, tx.witnesses)
        assert verify_p2pkh_run(bad, spent, BLOCK_FLAGS, PrecomputedTxData(bad, spent), 0, n_in) == n_in - 1


def test_p2pkh_run_takes_checks_proven_by_key_recovery(monkeypatch):
    """The one-loop P2PKH path keeps the signature-cache hook (script/sigcache.py): a check admitted as
    proven is answered without the curve (and consumed); any other check still goes to libsecp256k1."""
    from packetfs.bitcoin.consensus.pool import verify_batch
    from packetfs.bitcoin.script import fastpath, sigcache

    rng = random.Random(11)
    tx, spent, sigs, pubs = _p2pkh_tx(rng, 3, [1], ["compressed"])
    inputs = [TxIn(t.prev_txid, t.prev_index, push_data(s) + push_data(p), t.sequence)
              for t, s, p in zip(tx.inputs, sigs, pubs, strict=True)]  # fmt: skip
    tx = Transaction(tx.version, inputs, tx.outputs, tx.locktime, tx.witnesses)
    pre = PrecomputedTxData(tx, spent)
    entries = [sigcache.entry(crypto.parse_der_lax(sigs[i][:-1]), pubs[i],
                              legacy_sighash(spent[i].script_pubkey, tx, i, 1, pre)) for i in range(3)]  # fmt: skip
    sigcache.clear()
    try:
        # the curve says no to everything (the run and verify_tx_input's path both check through crypto)
        monkeypatch.setattr(crypto, "_ecdsa_verify", lambda *a: 0)
        assert verify_batch(object(), [(0, tx, spent, BLOCK_FLAGS, 0, 3)])[0] < 3
        sigcache.admit(entries)
        assert fastpath.verify_p2pkh_run(tx, spent, BLOCK_FLAGS, PrecomputedTxData(tx, spent), 0, 3) == 3
        assert sigcache.COUNTS[1] == 3 and not sigcache.PROVEN  # each answered once, then consumed
        assert verify_batch(object(), [(0, tx, spent, BLOCK_FLAGS, 0, 3)])[0] < 3
        sigcache.admit(entries)
        assert verify_batch(object(), [(0, tx, spent, BLOCK_FLAGS, 0, 3)]) == (3, None)
    finally:
        sigcache.clear()
