"""The signature cache filled by public-key recovery (script/sigcache.py) changes no verdict.

- Core's script_tests.json: every case is first run with the signature-encoding flags (DERSIG, LOW_S,
  STRICTENC) removed, and every ECDSA check that reaches the curve is turned into cache entries the only
  way production makes them: recovering keys from (r, s, recid) over the message (the keys libsecp256k1
  recovers, whichever they are). Then every case runs with its own flags and the cache full: each verdict
  must be the vector's, and the cache must have answered checks.
- Real mainnet blocks with undo data: each block is encoded with the codec and decoded with proven checks
  recorded (as a receiver of compressed relay does), the checks admitted, and every input verified: all
  valid, most curve checks answered by the cache. Then, cache still full, the signature bit, the spent
  amount and the hash type of inputs with a cached check are mutated: our verdict equals
  libbitcoinkernel's on each.
"""

from __future__ import annotations

import random

import pytest
import script_util as U

from packetfs.bitcoin.codec import decode_block, encode_block
from packetfs.bitcoin.codec.recovery import RecordingRecoverer
from packetfs.bitcoin.primitives import Block, Transaction, TxIn, TxOut
from packetfs.bitcoin.script import PrecomputedTxData, ScriptError, crypto, sigcache, verify_tx_input
from packetfs.bitcoin.script.flags import ScriptFlags as F
from packetfs.bitcoin.script.interpreter import TxChecker, verify_script

ENCODING_FLAGS = int(F.DERSIG | F.LOW_S | F.STRICTENC)


@pytest.fixture(autouse=True)
def empty_cache():
    sigcache.clear()
    yield
    sigcache.clear()


@pytest.fixture
def curve_checks(monkeypatch):
    """Every (r||s, key, message) that reaches libsecp256k1's verification (cache misses only)."""
    seen: list[tuple[bytes, bytes, bytes]] = []
    real = crypto._verify_compact

    def spy(compact: bytes, pubkey: bytes, msg32: bytes) -> bool:
        seen.append((compact, pubkey, msg32))
        return real(compact, pubkey, msg32)

    monkeypatch.setattr(crypto, "_verify_compact", spy)
    return seen


def _prove_by_recovery(checks) -> int:
    """Admit what recovering keys from each check's signature and message proves; returns the count."""
    rec = RecordingRecoverer()
    for compact, pubkey, msg in checks:
        for recid in range(4):
            rec(compact, recid, msg, len(pubkey) == 33)
    sigcache.admit(rec.entries)
    return len(rec.entries)


def test_entries_are_exact_and_consumed():
    from coincurve import PrivateKey

    key = PrivateKey(bytes(range(1, 33)))
    msg = bytes(range(32))
    der = key.sign(msg, hasher=None)
    compact = crypto.parse_der_lax(der)
    pub = key.public_key.format(True)
    rec = RecordingRecoverer()
    keys = [rec(compact, recid, msg, True) for recid in range(4)]
    assert pub in keys  # one recovery id gives the signer's key back
    sigcache.admit(rec.entries)
    other = bytes(31) + b"\x01"
    assert not sigcache.take(compact, pub, other)  # another message
    assert not sigcache.take(compact, key.public_key.format(False), msg)  # the same point, other bytes
    assert not sigcache.take(compact[:63] + bytes([compact[63] ^ 1]), pub, msg)  # another signature
    assert sigcache.take(compact, pub, msg)
    assert not sigcache.take(compact, pub, msg)  # consumed
    # A wrong signature never gets an entry for the signer's key, so it is verified and fails.
    sigcache.admit(rec.entries)
    assert not crypto.verify_ecdsa(der, pub, other)
    assert crypto.verify_ecdsa(der, pub, msg)


def test_bounded(monkeypatch):
    monkeypatch.setattr(sigcache, "MAX_ENTRIES", 10)
    sigcache.admit(bytes([i]) * 129 for i in range(25))
    assert len(sigcache.PROVEN) == 10
    assert next(iter(sigcache.PROVEN)) == bytes([15]) * 129  # the oldest went first


def _script_case(row, flags: int) -> str:
    witness, amount, script_sig, spk, _, _, _ = U.script_test_case(row)
    credit = U.crediting_tx(spk, amount)
    spend = U.spending_tx(script_sig, witness, credit)
    cache = PrecomputedTxData(spend, [credit.outputs[0]])
    try:
        verify_script(script_sig, spk, witness, flags, TxChecker(spend, 0, amount, cache))
    except ScriptError as e:
        return e.code
    return "OK"


def test_core_script_vectors_with_a_full_cache(vectors_dir, curve_checks):
    rows = [r for r in U.load_json(vectors_dir / "bitcoin-core" / "script_tests.json") if len(r) >= 4]
    for row in rows:  # what reaches the curve when signature encodings are not enforced
        flags = U.script_test_case(row)[4] & ~ENCODING_FLAGS
        if flags & F.CLEANSTACK and ~flags & (F.P2SH | F.WITNESS):
            flags &= ~F.CLEANSTACK
        _script_case(row, flags)
    entries = _prove_by_recovery(set(curve_checks))
    assert entries > 100
    curve_checks.clear()
    failures = []
    for row in rows:
        expected = U.script_test_case(row)[5]
        got = _script_case(row, U.script_test_case(row)[4])
        if got != expected:
            failures.append((expected, got, row))
    assert not failures, failures[:10]
    answered = entries - len(sigcache.PROVEN)
    assert answered > 50, answered  # the cache did answer checks (else this test proves nothing)


# 367891 (20,817 inputs, large legacy transactions: ~2 min) only in the slow suite.
BLOCKS = ["mainnet-757739", "mainnet-866342", pytest.param("mainnet-367891", marks=pytest.mark.slow)]


def _with_input(tx: Transaction, i: int, script_sig: bytes, witness: tuple[bytes, ...]) -> Transaction:
    inputs = list(tx.inputs)
    old = inputs[i]
    inputs[i] = TxIn(old.prev_txid, old.prev_index, script_sig, old.sequence)
    witnesses = list(tx.witnesses)
    witnesses[i] = witness
    return Transaction(tx.version, inputs, tx.outputs, tx.locktime, witnesses)


def _flip_sig(tx: Transaction, i: int, rng: random.Random, hash_type: bool) -> Transaction | None:
    """The input with one bit of its first DER signature flipped (or its hash-type byte changed)."""
    ss, wit = tx.inputs[i].script_sig, tuple(tx.witnesses[i]) if tx.witnesses else ()
    if wit and wit[0][:1] == b"\x30":
        sig = bytearray(wit[0])
        if hash_type:
            sig[-1] ^= 0x80  # ANYONECANPAY: another sighash
        else:
            sig[rng.randrange(5, len(sig) - 1)] ^= 1 << rng.randrange(8)
        return _with_input(tx, i, ss, (bytes(sig), *wit[1:]))
    if len(ss) > 10 and ss[1] == 0x30 and ss[0] < 0x4C:
        n = ss[0]
        sig = bytearray(ss[1 : 1 + n])
        if hash_type:
            sig[-1] ^= 0x80
        else:
            sig[rng.randrange(5, n - 1)] ^= 1 << rng.randrange(8)
        return _with_input(tx, i, bytes([n]) + bytes(sig) + ss[1 + n :], wit)
    return None


@pytest.mark.parametrize("name", BLOCKS)
def test_real_block_decoded_then_validated_agrees_with_kernel(name, real_blocks, real_undo, manifest,
                                                               curve_checks):
    raw = real_blocks[name]
    spends = list(U.block_spends(raw, real_undo[name]))
    flags = U.mainnet_flags(next(m["height"] for m in manifest if m["name"] == name))
    hints = [[(o.value, o.script_pubkey) for o in spent] for _, spent in spends]
    proven: list[bytes] = []
    assert decode_block(encode_block(raw, spent=hints), proven=proven) == raw
    sigcache.admit(proven)
    n_inputs = sum(tx.input_count for tx, _ in spends)
    assert len(proven) >= 20  # the codec recovered keys here (else nothing is tested)
    failures = []
    for tx, spent in spends:
        cache = PrecomputedTxData(tx, spent)
        for i in range(tx.input_count):
            try:
                verify_tx_input(tx, i, spent, flags, cache)
            except ScriptError as e:
                failures.append((tx.txid_hex, i, e.code))
    assert not failures, failures[:10]
    answered = len(proven) - len(sigcache.PROVEN)
    assert answered >= len(proven) * 9 // 10, (answered, len(proven))
    assert len(curve_checks) <= n_inputs * 3 - answered  # answered checks never reached the curve

    # Mutations, with every proven check back in the cache: the kernel's verdict, each time.
    sigcache.admit(proven)
    rng = random.Random(name)
    keyed = {e[64:96] for e in proven}  # messages with a cached check
    picked = []
    for tx, spent in spends:
        cache = PrecomputedTxData(tx, spent)
        for i in range(tx.input_count):
            picked.append((tx, spent, i))
    rng.shuffle(picked)
    disagreements, checked = [], 0
    for tx, spent, i in picked[:120]:
        cases = [_flip_sig(tx, i, rng, False), _flip_sig(tx, i, rng, True)]
        spent2 = list(spent)
        spent2[i] = TxOut(spent[i].value + 1, spent[i].script_pubkey)
        cases.append((tx, spent2))
        for case in cases:
            if case is None:
                continue
            mtx, mspent = case if isinstance(case, tuple) else (case, spent)
            try:
                verify_tx_input(mtx, i, mspent, flags, PrecomputedTxData(mtx, mspent))
                ours = True
            except ScriptError:
                ours = False
            ref = U.pbk_verify(mtx.serialize(), i, mspent, flags & U.PBK_FLAGS)
            checked += 1
            if ours != ref:
                disagreements.append((tx.txid_hex, i, ours, ref))
    assert checked > 100 and keyed
    assert not disagreements, disagreements[:10]
    # And the unmutated block still verifies in full with the cache (nothing was poisoned).
    for tx, spent in spends[:50]:
        cache = PrecomputedTxData(tx, spent)
        for i in range(tx.input_count):
            verify_tx_input(tx, i, spent, flags, cache)


def test_decoded_block_without_recovery_records_nothing():
    # A block whose inputs are all coinbase (genesis) has no recoverable key: nothing is proven.
    from packetfs.bitcoin.chain.generator import genesis_block

    raw = genesis_block("regtest").serialize()
    proven: list[bytes] = []
    assert decode_block(encode_block(raw), proven=proven) == raw
    assert proven == []
    assert Block.from_bytes(raw).hash
