"""Block rules: each one passes on the real blocks and fails on a real block mutated to break it.

Mutated blocks get a recomputed merkle root (so only the rule under test breaks) and are checked with
check_pow=False, since changing a block invalidates its proof of work. Context-free verdicts are
compared with libbitcoinkernel's CheckBlock (pbk.Block.check).
"""

from __future__ import annotations

import pbk
import pytest
from consensus_helpers import make_tx, rebuild, recommit_witness, replace_tx

from packetfs.bitcoin.consensus.block_rules import (
    bip34_height_prefix,
    check_bip30,
    check_block,
    check_block_header,
    check_coinbase_amount,
    check_witness_commitment,
    coinbase_height,
    contextual_check_block,
    contextual_check_block_header,
)
from packetfs.bitcoin.consensus.errors import ValidationError
from packetfs.bitcoin.consensus.params import block_subsidy
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.primitives.transaction import Transaction, TxIn, TxOut

HEIGHTS = {
    "mainnet-300025": 300025, "mainnet-367891": 367891, "mainnet-426884": 426884, "mainnet-514485": 514485,
    "mainnet-540107": 540107, "mainnet-574200": 574200, "mainnet-696394": 696394, "mainnet-757739": 757739,
    "mainnet-758200": 758200, "mainnet-866342": 866342,
}  # fmt: skip
SEGWIT = "mainnet-757739"  # small, has segwit spends and a witness commitment
PRE_SEGWIT = "mainnet-367891"


@pytest.fixture(scope="module")
def kernel_params():
    return pbk.ChainParameters(pbk.ChainType.MAINNET).consensus_params


def kernel_verdict(block: Block, kernel_params, check_pow: bool) -> tuple[bool, bool]:
    """(valid, mutated) by libbitcoinkernel's CheckBlock."""
    flags = pbk.BlockCheckFlags.MERKLE | (pbk.BlockCheckFlags.POW if check_pow else 0)
    state = pbk.Block(block.serialize()).check(kernel_params, flags)
    valid = state.validation_mode == pbk.ValidationMode.VALID
    return valid, state.block_validation_result == pbk.BlockValidationResult.MUTATED


def our_check(block: Block, check_pow: bool = False) -> str | None:
    try:
        check_block(block, "mainnet", check_pow=check_pow)
    except ValidationError as e:
        return e.reason
    return None


def assert_agrees_with_kernel(block: Block, kernel_params, expected: str | None, check_pow: bool = False):
    ours = our_check(block, check_pow)
    assert ours == expected
    valid, mutated = kernel_verdict(block, kernel_params, check_pow)
    assert valid == (expected is None)
    if expected is not None:
        assert mutated == (expected in ("bad-txnmrklroot", "bad-txns-duplicate"))


@pytest.fixture(scope="module")
def blocks(real_blocks):
    return {name: Block.from_bytes(raw) for name, raw in real_blocks.items()}


# --------------------------------------------------------------------------- the real blocks pass


@pytest.mark.parametrize("name", sorted(HEIGHTS))
def test_real_blocks_pass_every_context_free_and_contextual_rule(name, blocks, kernel_params):
    block = blocks[name]
    height = HEIGHTS[name]
    assert_agrees_with_kernel(block, kernel_params, None, check_pow=True)
    contextual_check_block_header(block.header, height, "mainnet")
    contextual_check_block(block, height, "mainnet")
    assert coinbase_height(block) == height


# ------------------------------------------------------------------------------- header rules


def test_high_hash(blocks, kernel_params):
    block = blocks[SEGWIT]
    bad = rebuild(block, block.transactions, nonce=block.header.nonce ^ 1)
    with pytest.raises(ValidationError, match="high-hash"):
        check_block_header(bad.header, "mainnet")
    assert_agrees_with_kernel(bad, kernel_params, "high-hash", check_pow=True)
    # Bits above the pow limit are refused even for a hash that would meet them.
    easy = rebuild(block, block.transactions, bits=0x1E00FFFF)
    assert our_check(easy, check_pow=True) == "high-hash"


def test_contextual_header_rules(blocks):
    h = blocks[SEGWIT].header
    with pytest.raises(ValidationError, match="bad-diffbits"):
        contextual_check_block_header(h, 757739, "mainnet", expected_bits=h.bits + 1)
    contextual_check_block_header(h, 757739, "mainnet", expected_bits=h.bits, prev_mtp=h.time - 1, now=h.time)
    with pytest.raises(ValidationError, match="time-too-old"):
        contextual_check_block_header(h, 757739, "mainnet", prev_mtp=h.time)
    with pytest.raises(ValidationError, match="time-too-new"):
        contextual_check_block_header(h, 757739, "mainnet", now=h.time - 2 * 3600 - 1)


@pytest.mark.parametrize(
    "version, height, reason",
    [
        (1, 227_931, "bad-version(0x00000001)"),
        (1, 227_930, None),
        (2, 363_725, "bad-version(0x00000002)"),
        (3, 388_381, "bad-version(0x00000003)"),
        (3, 388_380, None),
        (4, 388_381, None),
        (-1, 800_000, "bad-version(0xffffffff)"),  # negative versions are below 4
        (0x20000000, 800_000, None),
    ],
)
def test_version_minimums(blocks, version, height, reason):
    h = rebuild(blocks[SEGWIT], blocks[SEGWIT].transactions, version=version).header
    if reason is None:
        contextual_check_block_header(h, height, "mainnet")
    else:
        with pytest.raises(ValidationError) as e:
            contextual_check_block_header(h, height, "mainnet")
        assert e.value.reason == reason


# -------------------------------------------------------------------------- context-free body


def test_bad_merkle_root(blocks, kernel_params):
    block = blocks[SEGWIT]
    bad = rebuild(block, block.transactions, fix_merkle=False, merkle_root=bytes(32))
    assert_agrees_with_kernel(bad, kernel_params, "bad-txnmrklroot")
    # Reordering transactions changes the root too.
    txs = block.transactions
    swapped = rebuild(block, [txs[0], txs[2], txs[1]] + txs[3:], fix_merkle=False)
    assert_agrees_with_kernel(swapped, kernel_params, "bad-txnmrklroot")


def test_duplicated_transactions_are_a_mutation(blocks, kernel_params):
    # CVE-2012-2459: repeating the last tx of an odd-length list leaves the merkle root unchanged.
    block = blocks[SEGWIT]
    txs = block.transactions
    assert len(txs) % 2 == 1
    dup = rebuild(block, txs + [txs[-1]], fix_merkle=False)
    assert dup.header.merkle_root == block.header.merkle_root
    assert_agrees_with_kernel(dup, kernel_params, "bad-txns-duplicate")


def test_missing_and_extra_coinbase(blocks, kernel_params):
    block = blocks[SEGWIT]
    txs = block.transactions
    assert_agrees_with_kernel(rebuild(block, txs[1:]), kernel_params, "bad-cb-missing")
    extra = Transaction(1, [TxIn(bytes(32), 0xFFFFFFFF, b"\x01\x02", 0xFFFFFFFF)], [TxOut(0, b"")])
    bad = rebuild(block, txs + [extra])
    with pytest.raises(ValidationError) as e:
        check_block(bad, "mainnet", check_pow=False)
    assert (e.value.reason, e.value.tx) == ("bad-cb-multiple", len(txs))
    assert_agrees_with_kernel(bad, kernel_params, "bad-cb-multiple")


def test_transaction_check_failure_inside_block(blocks, kernel_params):
    block = blocks[SEGWIT]
    txs = list(block.transactions)
    victim = txs[5]
    txs[5] = replace_tx(victim, inputs=list(victim.inputs) + [victim.inputs[0]])
    bad = rebuild(block, txs)
    with pytest.raises(ValidationError) as e:
        check_block(bad, "mainnet", check_pow=False)
    assert (e.value.reason, e.value.tx) == ("bad-txns-inputs-duplicate", 5)
    assert_agrees_with_kernel(bad, kernel_params, "bad-txns-inputs-duplicate")
    # A coinbase scriptSig of one byte.
    cb = txs[0]
    short = rebuild(
        block, [replace_tx(cb, inputs=[cb.inputs[0]._replace(script_sig=b"\x01")])] + block.transactions[1:]
    )
    assert_agrees_with_kernel(short, kernel_params, "bad-cb-length")


def test_block_size_limit(blocks, kernel_params):
    block = blocks[SEGWIT]
    # A tx padding the stripped size over 1,000,000 bytes (but itself under the tx limit).
    pad = make_tx(script_pubkey=b"\x6a" + bytes(990_000))
    bad = rebuild(block, block.transactions + [pad])
    assert_agrees_with_kernel(bad, kernel_params, "bad-blk-length")


def test_legacy_sigop_limit(blocks, kernel_params):
    block = blocks[SEGWIT]
    base = sum(
        sum(i.script_sig.count(b"\xac") for i in t.inputs) for t in block.transactions
    )  # only a rough guide; the exact count is what check_block returns
    del base
    current = check_block(block, "mainnet", check_pow=False)
    # One output script of CHECKSIGs bringing the count to exactly 20,000 passes, one more fails.
    need = 20_000 - current
    ok = rebuild(block, block.transactions + [make_tx(script_pubkey=b"\xac" * need)])
    assert_agrees_with_kernel(ok, kernel_params, None)
    bad = rebuild(block, block.transactions + [make_tx(script_pubkey=b"\xac" * (need + 1))])
    assert_agrees_with_kernel(bad, kernel_params, "bad-blk-sigops")


# ---------------------------------------------------------------------------- contextual body


def test_bip34_height(blocks):
    block = blocks[SEGWIT]
    assert bip34_height_prefix(757739) == bytes.fromhex("03eb8f0b")
    assert bip34_height_prefix(1) == b"\x51" and bip34_height_prefix(16) == b"\x60"
    assert bip34_height_prefix(17) == b"\x01\x11" and bip34_height_prefix(128) == b"\x02\x80\x00"
    with pytest.raises(ValidationError) as e:
        contextual_check_block(block, 757740, "mainnet")
    assert e.value.reason == "bad-cb-height"
    cb = block.transactions[0]
    other = replace_tx(
        cb, inputs=[cb.inputs[0]._replace(script_sig=b"\x02\x00\x00" + cb.inputs[0].script_sig)]
    )
    pre = rebuild(block, [other] + block.transactions[1:])
    with pytest.raises(ValidationError, match="bad-cb-height"):
        contextual_check_block(pre, 757739, "mainnet")
    check_witness_commitment(Block(pre.header, recommit_witness(pre.transactions)), True)


def test_witness_commitment_rules(blocks):
    block = blocks[SEGWIT]
    txs = list(block.transactions)
    check_witness_commitment(block, True)
    # Changing a witness (not the txid) breaks the commitment but not the merkle root.
    victim, j = next(
        (i, j) for i, t in enumerate(txs) if i for j, st in enumerate(t.witnesses) if st and st[0]
    )
    w = [list(s) for s in txs[victim].witnesses]
    w[j][0] = w[j][0][:-1] + bytes((w[j][0][-1] ^ 1,))
    txs[victim] = replace_tx(txs[victim], witnesses=w)
    bad = Block(block.header, txs)
    assert bad.compute_merkle_root()[0] == block.header.merkle_root
    with pytest.raises(ValidationError) as e:
        check_witness_commitment(bad, True)
    assert e.value.reason == "bad-witness-merkle-match" and e.value.mutated
    # Re-committing makes it valid again.
    fixed = rebuild(block, recommit_witness(txs))
    check_witness_commitment(fixed, True)
    # The reserved value must be exactly one 32-byte item.
    cb = block.transactions[0]
    for stack in ([bytes(31)], [bytes(32), b""], []):
        odd = rebuild(block, [replace_tx(cb, witnesses=[stack])] + block.transactions[1:])
        with pytest.raises(ValidationError) as e:
            check_witness_commitment(odd, True)
        assert e.value.reason == "bad-witness-nonce-size"


def test_unexpected_witness(blocks):
    block = blocks[SEGWIT]
    txs = list(block.transactions)
    cb = txs[0]
    # Drop the commitment output: the witnesses become unexpected.
    outs = [o for o in cb.outputs if not o.script_pubkey.startswith(bytes.fromhex("6a24aa21a9ed"))]
    no_commit = rebuild(block, [replace_tx(cb, outputs=outs, witnesses=[()])] + txs[1:])
    with pytest.raises(ValidationError) as e:
        check_witness_commitment(no_commit, True)
    first_witness_tx = next(i for i, t in enumerate(txs) if t.has_witness and i)
    assert (e.value.reason, e.value.tx) == ("unexpected-witness", first_witness_tx)
    # Before segwit, witness data is unexpected even with a commitment.
    with pytest.raises(ValidationError, match="unexpected-witness"):
        check_witness_commitment(block, False)
    # A pre-segwit block without witnesses passes either way.
    check_witness_commitment(blocks[PRE_SEGWIT], False)
    check_witness_commitment(blocks[PRE_SEGWIT], True)


def test_block_weight_limit(blocks):
    block = blocks[SEGWIT]
    txs = list(block.transactions)
    # Witness data adds weight without touching the stripped size: 4,000,000 weight via one big witness.
    victim = next(i for i, t in enumerate(txs) if t.has_witness and i)
    w = [list(s) for s in txs[victim].witnesses]
    w[0].append(bytes(4_000_000 - block.weight))
    txs[victim] = replace_tx(txs[victim], witnesses=w)
    heavy = rebuild(block, recommit_witness(txs))
    assert heavy.weight > 4_000_000
    check_block(heavy, "mainnet", check_pow=False)  # the context-free size check still passes
    with pytest.raises(ValidationError, match="bad-blk-weight"):
        contextual_check_block(heavy, 757739, "mainnet")


def test_nonfinal_transaction(blocks):
    block = blocks[SEGWIT]
    txs = list(block.transactions)
    txs[3] = replace_tx(txs[3], locktime=757739, inputs=[i._replace(sequence=0) for i in txs[3].inputs])
    bad = rebuild(block, recommit_witness(txs))
    with pytest.raises(ValidationError) as e:
        contextual_check_block(bad, 757739, "mainnet", prev_mtp=block.header.time - 1)
    assert (e.value.reason, e.value.tx) == ("bad-txns-nonfinal", 3)
    # BIP113: a time lock is judged against the parent's median time past, not the block's time.
    t = block.header.time
    txs[3] = replace_tx(txs[3], locktime=t - 100)
    timed = rebuild(block, recommit_witness(txs))
    contextual_check_block(timed, 757739, "mainnet", prev_mtp=t - 99)
    with pytest.raises(ValidationError, match="bad-txns-nonfinal"):
        contextual_check_block(timed, 757739, "mainnet", prev_mtp=t - 100)
    # Without the MTP the case cannot be decided, and says so.
    unchecked: list[str] = []
    contextual_check_block(timed, 757739, "mainnet", unchecked=unchecked)
    assert any("tx 3" in u for u in unchecked)
    # Before CSV (mainnet height 419,328) the block's own time is the cutoff, not the MTP.
    old = blocks[PRE_SEGWIT]
    otxs = list(old.transactions)
    t = old.header.time
    for locktime, final in ((t - 1, True), (t, False)):
        otxs[2] = replace_tx(
            otxs[2], locktime=locktime, inputs=[i._replace(sequence=0) for i in otxs[2].inputs]
        )
        candidate = rebuild(old, otxs)
        if final:
            contextual_check_block(candidate, 367891, "mainnet", prev_mtp=t - 10_000)
        else:
            with pytest.raises(ValidationError, match="bad-txns-nonfinal"):
                contextual_check_block(candidate, 367891, "mainnet", prev_mtp=t - 10_000)


# ------------------------------------------------------------------------------ against coins


def test_bip30(blocks):
    block = blocks[SEGWIT]
    target = block.transactions[7].txid
    with pytest.raises(ValidationError) as e:
        check_bip30(block, 100_000, "mainnet", lambda txid, i: txid == target and i == 0)
    assert (e.value.reason, e.value.tx) == ("bad-txns-BIP30", 7)
    check_bip30(block, 100_000, "mainnet", lambda txid, i: False)
    # Between the BIP34 height and 1,983,702 Core skips the lookups on the main chain.
    check_bip30(block, 757739, "mainnet", lambda txid, i: True)


def test_coinbase_amount(blocks):
    block = blocks[SEGWIT]
    paid = sum(o.value for o in block.transactions[0].outputs)
    fees = paid - block_subsidy(757739, "mainnet")
    check_coinbase_amount(block, 757739, fees, "mainnet")
    with pytest.raises(ValidationError) as e:
        check_coinbase_amount(block, 757739, fees - 1, "mainnet")
    assert (e.value.reason, e.value.tx) == ("bad-cb-amount", 0)
