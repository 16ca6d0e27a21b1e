"""Block rules, in the order Core applies them:

- header: proof of work (CheckBlockHeader); difficulty, time and version against the chain
  (ContextualCheckBlockHeader);
- context-free body: merkle root and mutation, size, coinbase placement, each transaction's
  CheckTransaction, legacy sigops (CheckBlock);
- contextual body: finality, BIP34 height, BIP141 witness commitment, weight (ContextualCheckBlock);
- against the coins being spent: BIP30 and the coinbase value (part of ConnectBlock; the per-input
  rules are applied in validate.py).
"""

from __future__ import annotations

from collections.abc import Callable

from ..primitives.block import HEADER_SIZE, Block, BlockHeader, merkle_root, witness_commitment_hash
from ..primitives.encoding import compact_size
from ..primitives.hashes import hash_to_hex
from .constants import (
    MAX_BLOCK_SIGOPS_COST,
    MAX_BLOCK_WEIGHT,
    MAX_FUTURE_BLOCK_TIME,
    MAX_TIMEWARP,
    MINIMUM_WITNESS_COMMITMENT,
    WITNESS_COMMITMENT_HEADER,
    WITNESS_SCALE_FACTOR,
)
from .errors import ValidationError
from .params import ChainParams, block_subsidy, enforce_bip30, get_params
from .pow import check_proof_of_work
from .sigops import tx_legacy_sigop_count
from .tx_rules import check_transaction, is_final_tx, signed_amount

# ----------------------------------------------------------------------------------- header


def check_block_header(header: BlockHeader, network: str | ChainParams, check_pow: bool = True) -> None:
    """Core's CheckBlockHeader: the hash meets the target its bits encode (within the pow limit)."""
    if check_pow and not check_proof_of_work(header.hash, header.bits, network):
        raise ValidationError("high-hash", "proof of work failed")


def contextual_check_block_header(
    header: BlockHeader,
    height: int,
    network: str | ChainParams,
    *,
    expected_bits: int | None = None,
    prev_mtp: int | None = None,
    prev_time: int | None = None,
    now: int | None = None,
) -> None:
    """Core's ContextualCheckBlockHeader. Checks needing chain context run when it is given:
    ``expected_bits`` (from next_work_required), ``prev_mtp`` (median time past of the parent),
    ``prev_time`` (the parent's time, for BIP94), ``now`` (the validating node's adjusted clock)."""
    p = get_params(network)
    if expected_bits is not None and header.bits != expected_bits:
        raise ValidationError("bad-diffbits", "incorrect proof of work")
    if prev_mtp is not None and header.time <= prev_mtp:
        raise ValidationError("time-too-old", "block's timestamp is too early")
    if (
        p.enforce_bip94
        and prev_time is not None
        and height % p.difficulty_adjustment_interval == 0
        and header.time < prev_time - MAX_TIMEWARP
    ):
        raise ValidationError(
            "time-timewarp-attack", "block's timestamp is too early on diff adjustment block"
        )
    if now is not None and header.time > now + MAX_FUTURE_BLOCK_TIME:
        raise ValidationError("time-too-new", "block timestamp too far in the future")
    check_block_version(header.version, height, p)


def check_block_version(version: int, height: int, network: str | ChainParams) -> None:
    """Reject versions below what BIP34 (v2), BIP66 (v3) and BIP65 (v4) require once active."""
    p = get_params(network)
    if (
        (version < 2 and height >= p.bip34_height)
        or (version < 3 and height >= p.bip66_height)
        or (version < 4 and height >= p.bip65_height)
    ):
        v = version & 0xFFFFFFFF
        raise ValidationError(f"bad-version(0x{v:08x})", f"rejected nVersion=0x{v:08x} block")


# ------------------------------------------------------------------------ context-free body


def stripped_size(block: Block) -> int:
    """Serialized size without witness data."""
    n = len(block.transactions)
    return HEADER_SIZE + len(compact_size(n)) + sum(t.base_size for t in block.transactions)


def check_merkle_root(block: Block) -> None:
    root, mutated = merkle_root(block.txids())
    if root != block.header.merkle_root:
        raise ValidationError("bad-txnmrklroot", "hashMerkleRoot mismatch", mutated=True)
    # Equal adjacent hashes mean another (shorter) transaction list has the same root.
    if mutated:
        raise ValidationError("bad-txns-duplicate", "duplicate transaction", mutated=True)


def check_block(
    block: Block, network: str | ChainParams, *, check_pow: bool = True, check_merkle: bool = True
) -> int:
    """Core's CheckBlock: context-free block checks. Returns the block's legacy sigop count."""
    check_block_header(block.header, network, check_pow)
    if check_merkle:
        check_merkle_root(block)
    txs = block.transactions
    if (
        not txs
        or len(txs) * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT
        or stripped_size(block) * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT
    ):
        raise ValidationError("bad-blk-length", "size limits failed")
    if not txs[0].is_coinbase():
        raise ValidationError("bad-cb-missing", "first tx is not coinbase", tx=0)
    for i in range(1, len(txs)):
        if txs[i].is_coinbase():
            raise ValidationError("bad-cb-multiple", "more than one coinbase", tx=i)
    for i, tx in enumerate(txs):
        try:
            check_transaction(tx)
        except ValidationError as e:
            raise ValidationError(
                e.reason, f"transaction check failed (tx hash {tx.txid_hex})", tx=i
            ) from None
    sigops = 0
    for tx in txs:
        sigops += tx_legacy_sigop_count(tx)
    if sigops * WITNESS_SCALE_FACTOR > MAX_BLOCK_SIGOPS_COST:
        raise ValidationError("bad-blk-sigops", "out-of-bounds SigOpCount")
    return sigops


# -------------------------------------------------------------------------- contextual body


def script_num_bytes(n: int) -> bytes:
    """Minimal little-endian sign-magnitude encoding of a script number (CScriptNum::serialize)."""
    if n == 0:
        return b""
    neg = n < 0
    a = abs(n)
    out = bytearray()
    while a:
        out.append(a & 0xFF)
        a >>= 8
    if out[-1] & 0x80:
        out.append(0x80 if neg else 0)
    elif neg:
        out[-1] |= 0x80
    return bytes(out)


def bip34_height_prefix(height: int) -> bytes:
    """The bytes a BIP34 coinbase scriptSig starts with: ``CScript() << height``."""
    if height == 0:
        return b"\x00"
    if 1 <= height <= 16 or height == -1:
        return bytes((0x50 + height,))
    data = script_num_bytes(height)
    return bytes((len(data),)) + data


def coinbase_height(block: Block) -> int | None:
    """The height a coinbase scriptSig starts with (BIP34), or None if it starts with no number."""
    if not block.transactions or not block.transactions[0].inputs:
        return None
    script = block.transactions[0].inputs[0].script_sig
    if not script:
        return None
    op = script[0]
    if op == 0:
        return 0
    if 0x51 <= op <= 0x60:
        return op - 0x50
    if 1 <= op <= 8 and len(script) > op:
        data = script[1 : 1 + op]
        value = int.from_bytes(data, "little")
        if data[-1] & 0x80:
            value = -(value & ~(0x80 << (8 * (len(data) - 1))))
        return value
    return None


def check_witness_commitment(block: Block, segwit_active: bool) -> None:
    """Core's CheckWitnessMalleation: with segwit active and a commitment present, the coinbase
    witness is one 32-byte reserved value and the commitment matches the witness merkle root;
    without one, no transaction may carry witness data."""
    if segwit_active and block.transactions:
        coinbase = block.transactions[0]
        commitment = None
        for out in coinbase.outputs:
            spk = out.script_pubkey
            if len(spk) >= MINIMUM_WITNESS_COMMITMENT and spk[:6] == WITNESS_COMMITMENT_HEADER:
                commitment = spk[6:38]
        if commitment is not None:
            stack = coinbase.witnesses[0] if coinbase.input_count else ()
            if len(stack) != 1 or len(stack[0]) != 32:
                raise ValidationError(
                    "bad-witness-nonce-size",
                    "invalid witness reserved value size",
                    tx=0,
                    input=0,
                    mutated=True,
                )
            if witness_commitment_hash(block.compute_witness_merkle_root(), stack[0]) != commitment:
                raise ValidationError(
                    "bad-witness-merkle-match", "witness merkle commitment mismatch", mutated=True
                )
            return
    for i, tx in enumerate(block.transactions):
        if tx.has_witness:
            raise ValidationError("unexpected-witness", "unexpected witness data found", tx=i, mutated=True)


def contextual_check_block(
    block: Block,
    height: int,
    network: str | ChainParams,
    *,
    prev_mtp: int | None = None,
    unchecked: list[str] | None = None,
) -> None:
    """Core's ContextualCheckBlock. With CSV active, finality is judged against the parent's median
    time past (BIP113); without ``prev_mtp`` a time-locked tx that cannot be decided is listed in
    ``unchecked`` (a tx locked past the block's own time is still refused: the parent's MTP is
    always below it)."""
    p = get_params(network)
    txs = block.transactions
    use_mtp = height >= p.csv_height
    if not use_mtp:
        cutoff: int | None = block.header.time
    else:
        cutoff = prev_mtp
    for i, tx in enumerate(txs):
        if cutoff is not None:
            final = is_final_tx(tx, height, cutoff)
        else:
            # MTP unknown: it is below this block's time, so a lock at or past that time fails for sure.
            final = is_final_tx(tx, height, block.header.time)
            if final and not is_final_tx(tx, height, 0):
                if unchecked is not None:
                    unchecked.append(f"bip113-finality(tx {i}): needs prev_mtp")
                continue
        if not final:
            raise ValidationError("bad-txns-nonfinal", "non-final transaction", tx=i)
    if height >= p.bip34_height:
        prefix = bip34_height_prefix(height)
        if not txs[0].inputs[0].script_sig.startswith(prefix):
            raise ValidationError("bad-cb-height", "block height mismatch in coinbase", tx=0)
    check_witness_commitment(block, height >= p.segwit_height)
    # Only now can weight be judged: before the commitment check, a padded coinbase witness (which
    # leaves the block hash unchanged) could make a valid block look too heavy.
    if block.weight > MAX_BLOCK_WEIGHT:
        raise ValidationError("bad-blk-weight", "weight limit failed")


# ------------------------------------------------------------------------- against the coins


def check_bip30(
    block: Block, height: int, network: str | ChainParams, output_exists: Callable[[bytes, int], bool]
) -> None:
    """No transaction may create an output that already exists unspent (BIP30), where Core
    enforces it. ``output_exists(txid, index)`` asks the UTXO set (txid in internal byte order)."""
    if not enforce_bip30(height, block.header.hash, network):
        return
    for i, tx in enumerate(block.transactions):
        txid = tx.txid
        for o in range(tx.output_count):
            if output_exists(txid, o):
                raise ValidationError(
                    "bad-txns-BIP30", f"tried to overwrite transaction {hash_to_hex(txid)}:{o}", tx=i
                )


def check_coinbase_amount(block: Block, height: int, fees: int, network: str | ChainParams) -> None:
    limit = fees + block_subsidy(height, network)
    actual = sum(signed_amount(o.value) for o in block.transactions[0].outputs)
    if actual > limit:
        raise ValidationError(
            "bad-cb-amount", f"coinbase pays too much (actual={actual} vs limit={limit})", tx=0
        )
