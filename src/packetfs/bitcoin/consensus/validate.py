"""Full validation of one block given the coins it spends: every rule Core applies when it accepts
and connects a block, in Core's order, with script checks on a process pool overlapping the rest.

Precedence is Core's with parallel script checking: a failure of any other rule is reported before a
script failure, and among script failures the lowest (tx, input) is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from ..primitives.block import Block
from ..primitives.transaction import TxOut
from ..script.flags import format_flags
from .block_rules import (
    check_bip30,
    check_block,
    check_block_header,
    check_coinbase_amount,
    contextual_check_block,
    contextual_check_block_header,
)
from .constants import MAX_BLOCK_SIGOPS_COST, SEQUENCE_LOCKTIME_DISABLE_FLAG, SEQUENCE_LOCKTIME_TYPE_FLAG
from .errors import ContextError, ValidationError, script_failure_reason
from .params import ChainParams, enforce_bip30, get_params, script_flags_for_block
from .pool import PendingScriptChecks, ScriptCheckPool, ScriptJob
from .sigops import tx_sigop_cost
from .tx_rules import calculate_sequence_locks, check_tx_inputs, evaluate_sequence_locks, money_range


@dataclass
class BlockValidationResult:
    block_hash: str
    height: int
    network: str
    flags: str
    txs: int
    inputs: int  # inputs of non-coinbase transactions
    inputs_verified: int  # inputs whose scripts were verified
    fees: int | None
    sigop_cost: int | None
    weight: int
    seconds: float
    # Rules that could not be judged for lack of context (e.g. no median time past given).
    unchecked: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _has_heights(coins: Sequence) -> bool:
    # Judged per class where the class has the fields (NamedTuples such as undo Coins): one check per
    # type instead of two per coin.
    types = set(map(type, coins))
    if all(hasattr(t, "height") and hasattr(t, "coinbase") for t in types):
        return True
    return all(hasattr(c, "height") and hasattr(c, "coinbase") for c in coins)


_new_tuple = tuple.__new__


def _as_txouts(coins: Sequence) -> list[TxOut]:
    return [c if type(c) is TxOut else _new_tuple(TxOut, (c.value, c.script_pubkey)) for c in coins]


def script_jobs(block: Block, spent_outputs: Sequence[Sequence], flags: int) -> list[ScriptJob]:
    """The script checks of every non-coinbase input of ``block`` (one job per transaction)."""
    txs = block.transactions
    return [ScriptJob(i, txs[i], _as_txouts(coins), flags) for i, coins in enumerate(spent_outputs, start=1)]


def validate_block(
    block: Block | bytes,
    spent_outputs: Sequence[Sequence[TxOut]] | None,
    height: int,
    network: str | ChainParams,
    *,
    prev_mtp: int | None = None,
    mtp_at: Callable[[int], int] | None = None,
    expected_bits: int | None = None,
    prev_time: int | None = None,
    now: int | None = None,
    output_exists: Callable[[bytes, int], bool] | None = None,
    check_pow: bool = True,
    check_merkle: bool = True,
    check_scripts: bool = True,
    pool: ScriptCheckPool | None = None,
    jobs: int | None = None,
    context_free_checked: bool = False,
    while_scripts_run: Callable[[], object] | None = None,
    scripts: PendingScriptChecks | None = None,
) -> BlockValidationResult:
    """Validate ``block`` at ``height`` on ``network``; raise ValidationError naming the broken rule.

    ``spent_outputs``: per non-coinbase tx, per input, the output it spends (TxOut, or undo Coins
    whose ``height``/``coinbase`` also enable coinbase-maturity and BIP68 checks). None skips every
    rule that needs them (listed in ``unchecked``).
    Optional chain context: ``prev_mtp`` (parent's median time past: BIP113 finality, time-too-old,
    BIP68), ``mtp_at(h)`` (median time past at any height: time-based BIP68 locks), ``expected_bits``
    (bad-diffbits), ``prev_time`` (BIP94), ``now`` (time-too-new), ``output_exists`` (BIP30).
    Scripts run on ``pool``, or on a temporary pool of ``jobs`` workers, or in this process.
    ``context_free_checked``: the caller already ran ``check_block`` on this block (a chainstate does,
    before storing it), so it is not repeated.
    ``while_scripts_run``: called once every rule but the scripts has passed, before waiting for the
    script verdict, so a caller's own work (which must not depend on the verdict) overlaps the script
    workers instead of following them. Not called if a rule fails; its exceptions propagate.
    ``scripts``: these very checks, already submitted by the caller (``script_jobs(block,
    spent_outputs, flags)`` with this block's flags, on ``pool``); they are used instead of submitting
    again, and cancelled if another rule fails.
    """
    started = time.perf_counter()
    if not isinstance(block, Block):
        block = Block.from_bytes(block)
    p = get_params(network)
    header = block.header
    flags = script_flags_for_block(height, header.hash, p)
    txs = block.transactions
    unchecked: list[str] = []

    if spent_outputs is not None:
        try:
            if len(spent_outputs) != max(len(txs) - 1, 0):
                raise ContextError(
                    f"spent outputs given for {len(spent_outputs)} txs, the block has {len(txs) - 1} non-coinbase txs"
                )
            for i, coins in enumerate(spent_outputs, start=1):
                if len(coins) != txs[i].input_count:
                    raise ContextError(f"tx {i}: {len(coins)} spent outputs for {txs[i].input_count} inputs")
        except ContextError:
            if scripts is not None:
                scripts.cancel()
            raise

    own_pool = None
    pending: PendingScriptChecks | None = None
    if scripts is not None and not (check_scripts and spent_outputs is not None):
        scripts.cancel()  # not wanted after all
    elif check_scripts and spent_outputs is not None:
        if scripts is not None:
            pending = scripts
        else:
            if pool is None:
                pool = own_pool = ScriptCheckPool(jobs if jobs is not None else 1)
            # Start the scripts now; every other rule is checked while the workers run.
            pending = pool.submit(script_jobs(block, spent_outputs, flags))
    elif check_scripts:
        unchecked.append("scripts: no spent outputs")
    try:
        fees, sigop_cost = _check_rules(
            block, spent_outputs, height, p, flags, unchecked,
            prev_mtp=prev_mtp, mtp_at=mtp_at, expected_bits=expected_bits, prev_time=prev_time, now=now,
            output_exists=output_exists, check_pow=check_pow, check_merkle=check_merkle,
            context_free_checked=context_free_checked,
        )  # fmt: skip
        if while_scripts_run is not None:
            while_scripts_run()
        verified = 0
        if pending is not None:
            outcome = pending.result()
            if outcome.failure is not None:
                f = outcome.failure
                raise ValidationError(
                    script_failure_reason(f.code),
                    f"input {f.input} of tx {txs[f.tx].txid_hex} fails under {format_flags(flags)}",
                    tx=f.tx,
                    input=f.input,
                    script_error=f.code,
                )
            verified = outcome.inputs_verified
    finally:
        if pending is not None:
            pending.cancel()
        if own_pool is not None:
            own_pool.close()
    return BlockValidationResult(
        block_hash=header.hash_hex,
        height=height,
        network=p.name,
        flags=format_flags(flags),
        txs=len(txs),
        inputs=sum(t.input_count for t in txs[1:]),
        inputs_verified=verified,
        fees=fees,
        sigop_cost=sigop_cost,
        weight=block.weight,
        seconds=time.perf_counter() - started,
        unchecked=unchecked,
    )


def _check_rules(
    block: Block,
    spent_outputs: Sequence[Sequence] | None,
    height: int,
    p: ChainParams,
    flags: int,
    unchecked: list[str],
    *,
    prev_mtp: int | None,
    mtp_at: Callable[[int], int] | None,
    expected_bits: int | None,
    prev_time: int | None,
    now: int | None,
    output_exists: Callable[[bytes, int], bool] | None,
    check_pow: bool,
    check_merkle: bool,
    context_free_checked: bool = False,
) -> tuple[int | None, int | None]:
    """Every rule but the scripts; returns (fees, sigop cost), None where coins were not given."""
    header = block.header
    txs = block.transactions
    if prev_mtp is None and mtp_at is not None and height > 0:
        prev_mtp = mtp_at(height - 1)
    # Header (AcceptBlockHeader), then body (CheckBlock, ContextualCheckBlock), then ConnectBlock.
    check_block_header(header, p, check_pow)
    contextual_check_block_header(
        header, height, p, expected_bits=expected_bits, prev_mtp=prev_mtp, prev_time=prev_time, now=now
    )
    for name, given in (("bad-diffbits", expected_bits), ("time-too-old", prev_mtp), ("time-too-new", now)):
        if given is None:
            unchecked.append(f"{name}: no chain context")
    if not context_free_checked:
        check_block(block, p, check_pow=False, check_merkle=check_merkle)
    contextual_check_block(block, height, p, prev_mtp=prev_mtp, unchecked=unchecked)

    if output_exists is not None:
        check_bip30(block, height, p, output_exists)
    elif enforce_bip30(height, header.hash, p):
        unchecked.append("bad-txns-BIP30: no UTXO lookup")

    if spent_outputs is None:
        unchecked.append("inputs, fees, sigop cost, coinbase amount: no spent outputs")
        return None, None

    enforce_bip68 = height >= p.csv_height
    fees = 0
    sigop_cost = 0
    missing_heights = False
    for i, tx in enumerate(txs):
        coins = spent_outputs[i - 1] if i else None
        if i:
            try:
                fee = check_tx_inputs(tx, coins, height)
            except ValidationError as e:
                raise ValidationError(
                    e.reason,
                    f"{e.debug + ' ' if e.debug else ''}in transaction {tx.txid_hex}",
                    tx=i,
                    input=e.input,
                ) from None
            fees += fee
            if not money_range(fees):
                raise ValidationError(
                    "bad-txns-accumulated-fee-outofrange", "accumulated fee in the block out of range", tx=i
                )
            if not _has_heights(coins):
                missing_heights = True
            elif enforce_bip68:
                _check_sequence_locks(tx, i, coins, height, prev_mtp, mtp_at, unchecked)
        sigop_cost += tx_sigop_cost(tx, coins, flags)
        if sigop_cost > MAX_BLOCK_SIGOPS_COST:
            raise ValidationError("bad-blk-sigops", "too many sigops", tx=i)
    if missing_heights:
        unchecked.append("coinbase maturity, BIP68: spent outputs carry no heights")
    check_coinbase_amount(block, height, fees, p)
    return fees, sigop_cost


def _check_sequence_locks(tx, i, coins, height, prev_mtp, mtp_at, unchecked) -> None:
    heights = [c.height for c in coins]
    timed = (tx.version & 0xFFFFFFFF) >= 2 and any(
        not txin.sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG and txin.sequence & SEQUENCE_LOCKTIME_TYPE_FLAG
        for txin in tx.inputs
    )
    if timed and (mtp_at is None or prev_mtp is None):
        # Judge the height locks alone: an MTP far in the past makes every time lock drop out.
        unchecked.append(f"BIP68 time locks (tx {i}): need mtp_at and prev_mtp")
        lock = calculate_sequence_locks(tx, True, heights, lambda _h: -(1 << 62))
    else:
        lock = calculate_sequence_locks(tx, True, heights, mtp_at)
    if not evaluate_sequence_locks(height, prev_mtp if prev_mtp is not None else 0, lock):
        raise ValidationError(
            "bad-txns-nonfinal", f"contains a non-BIP68-final transaction {tx.txid_hex}", tx=i
        )
