"""Signature hashes against Core's sighash.json (legacy) and BIP341's wallet vectors (taproot)."""

from __future__ import annotations

import script_util as U
from coincurve import PublicKeyXOnly

from packetfs.bitcoin.primitives import Transaction, TxOut
from packetfs.bitcoin.primitives.hashes import tagged_hash
from packetfs.bitcoin.script import PrecomputedTxData, legacy_sighash, taproot_sighash
from packetfs.bitcoin.script.crypto import verify_schnorr
from packetfs.bitcoin.script.interpreter import verify_taproot_commitment
from packetfs.bitcoin.script.sighash import tapleaf_hash


def test_sighash_json(vectors_dir):
    rows = [r for r in U.load_json(vectors_dir / "bitcoin-core" / "sighash.json") if len(r) == 5]
    assert len(rows) >= 500
    bad = []
    for raw, script, index, hash_type, expected in rows:
        tx = Transaction.from_hex(raw)
        got = legacy_sighash(bytes.fromhex(script), tx, index, hash_type)
        if got[::-1].hex() != expected:
            bad.append((raw[:40], script, index, hash_type))
    assert not bad, f"{len(bad)}/{len(rows)} sighash.json cases differ: {bad[:5]}"


def _bip341(vectors_dir):
    return U.load_json(vectors_dir / "bitcoin-core" / "bip341_wallet_vectors.json")


def test_bip341_key_path_sighashes_and_signatures(vectors_dir):
    data = _bip341(vectors_dir)
    checked = 0
    for case in data["keyPathSpending"]:
        tx = Transaction.from_hex(case["given"]["rawUnsignedTx"])
        spent = [
            TxOut(u["amountSats"], bytes.fromhex(u["scriptPubKey"])) for u in case["given"]["utxosSpent"]
        ]
        cache = PrecomputedTxData(tx, spent)
        inter = case["intermediary"]
        assert cache.sha_amounts().hex() == inter["hashAmounts"]
        assert cache.sha_outputs().hex() == inter["hashOutputs"]
        assert cache.sha_prevouts().hex() == inter["hashPrevouts"]
        assert cache.sha_scripts().hex() == inter["hashScriptPubkeys"]
        assert cache.sha_sequences().hex() == inter["hashSequences"]
        for spend in case["inputSpending"]:
            given, mid, exp = spend["given"], spend["intermediary"], spend["expected"]
            idx, hash_type = given["txinIndex"], given["hashType"]
            sighash = taproot_sighash(tx, idx, hash_type, cache)
            assert sighash.hex() == mid["sigHash"], (idx, hash_type)
            # Key tweak (libsecp256k1 via coincurve) reproduces the output key in the spent script.
            internal = bytes.fromhex(mid["internalPubkey"])
            root = bytes.fromhex(given["merkleRoot"]) if given["merkleRoot"] else b""
            tweak = tagged_hash("TapTweak", internal + root)
            assert tweak.hex() == mid["tweak"]
            key = PublicKeyXOnly(internal)
            key.tweak_add(tweak)
            output_key = spent[idx].script_pubkey[2:]
            assert key.format() == output_key
            sig = bytes.fromhex(exp["witness"][0])
            assert len(sig) == (64 if hash_type == 0 else 65)
            assert verify_schnorr(sig[:64], output_key, sighash)
            assert not verify_schnorr(sig[:64], output_key, bytes([sighash[0] ^ 1]) + sighash[1:])
            checked += 1
    assert checked >= 7


def _tree_root(tree, leaves: dict[int, bytes]) -> bytes:
    if isinstance(tree, dict):
        h = tapleaf_hash(tree["leafVersion"], bytes.fromhex(tree["script"]))
        leaves[tree["id"]] = h
        return h
    a, b = (_tree_root(t, leaves) for t in tree)
    return tagged_hash("TapBranch", a + b if a < b else b + a)


def test_bip341_script_trees_and_control_blocks(vectors_dir):
    data = _bip341(vectors_dir)
    controls = 0
    for case in data["scriptPubKey"]:
        given, mid, exp = case["given"], case["intermediary"], case["expected"]
        internal = bytes.fromhex(given["internalPubkey"])
        leaves: dict[int, bytes] = {}
        root = _tree_root(given["scriptTree"], leaves) if given["scriptTree"] else None
        if root is None:
            assert mid["merkleRoot"] is None
        else:
            assert root.hex() == mid["merkleRoot"]
            assert [leaves[i].hex() for i in sorted(leaves)] == mid["leafHashes"]
        tweak = tagged_hash("TapTweak", internal + (root or b""))
        assert tweak.hex() == mid["tweak"]
        key = PublicKeyXOnly(internal)
        key.tweak_add(tweak)
        assert key.format().hex() == mid["tweakedPubkey"]
        assert exp["scriptPubKey"] == "5120" + mid["tweakedPubkey"]
        program = key.format()
        for i, cb_hex in enumerate(exp.get("scriptPathControlBlocks", [])):
            control = bytes.fromhex(cb_hex)
            leaf = leaves[i]
            assert verify_taproot_commitment(control, program, leaf)
            # Wrong parity bit, wrong leaf, or a flipped path byte must not verify.
            assert not verify_taproot_commitment(bytes([control[0] ^ 1]) + control[1:], program, leaf)
            assert not verify_taproot_commitment(control, program, bytes([leaf[0] ^ 1]) + leaf[1:])
            if len(control) > 33:
                assert not verify_taproot_commitment(control[:-1] + bytes([control[-1] ^ 1]), program, leaf)
            controls += 1
    assert controls >= 10
