"""Validating blocks below the hints' height, independently of each other (the executors' work).

A block needs only itself, its undo data (the coins its inputs spend), its hints and the chain's
median times past: no UTXO set. Everything Core checks when it connects the block is checked here
(``validate_block`` with the undo coins: scripts under the block's flags, fees and amounts, sigops,
coinbase amount and maturity, BIP68/BIP113 locks, the witness commitment, signet solutions), plus
what only SwiftSync needs: each undo coin was created before it is spent (an earlier block, or an
earlier transaction of this block). Whether each coin really exists, with exactly that height, flag,
amount and script, and is spent once, is what the aggregate settles at the end.
"""

from __future__ import annotations

import gc
import os
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import repeat

from ..chain.signet import check_signet_solution
from ..consensus.errors import ContextError, ValidationError
from ..consensus.params import get_params
from ..consensus.validate import validate_block
from ..errors import PacketFSError
from ..primitives.block import Block
from ..script.interpreter import MAX_SCRIPT_SIZE
from ..storage.undo import Coin, decode_block_undo
from ..storage.utxo import encode_coin_value, outpoint_key
from .aggregate import COIN_FIELDS, MODULUS, CoinHasher
from .scan import RecordRef

# Rules validate_block leaves to others here: the header tree checks difficulty and future times when
# the headers are added, and BIP30 is the duplicate-coinbase check over the whole range (importer.py).
_CHECKED_ELSEWHERE = ("bad-diffbits", "time-too-new", "bad-txns-BIP30")
_OP_RETURN = 0x6A
_from_bytes = int.from_bytes


@dataclass(frozen=True)
class BlockWork:
    """One block to validate: its height and expected hash, where its block and undo records are (or
    their bytes, for workers that cannot read the blocks directory; undo None if there is none), its
    size in bytes and the hints' unspent output numbers."""

    height: int
    block_hash: bytes
    block: RecordRef | bytes
    undo: RecordRef | bytes | None
    size: int
    unspent: tuple[int, ...]

    def load(self) -> tuple[bytes, bytes | None]:
        raw = self.block if isinstance(self.block, bytes) else self.block.read()
        undo = self.undo if self.undo is None or isinstance(self.undo, bytes) else self.undo.read()
        return raw, undo

    def with_bytes(self) -> BlockWork:
        raw, undo = self.load()
        return replace(self, block=raw, undo=undo)


@dataclass(frozen=True)
class RangeTask:
    """Consecutive blocks for one worker, and what every block needs from the chain: the network, the
    salt, and ``mtp[h]`` = median time past of the block at height h, for h from ``mtp_base``."""

    network: str
    salt: bytes
    blocks: tuple[BlockWork, ...]
    mtp_base: int
    mtp: tuple[int, ...]

    def with_bytes(self) -> RangeTask:
        """This task with every block's bytes inside (for workers on other machines)."""
        return replace(self, blocks=tuple(b.with_bytes() for b in self.blocks))


@dataclass
class BlockFailure:
    height: int
    block_hash: str
    reason: str
    detail: str


# What a worker does per block, in order: read its block and undo records, parse the block, decode the
# undo data, the one pass for the aggregate (which also builds the txs' inputs and outputs), every
# rule but the scripts (validate_block until its scripts are started and the rest judged), the scripts.
PHASES = ("read", "parse", "undo", "aggregate", "rules", "scripts")


@dataclass
class RangeResult:
    """A task's outcome: the partial aggregate (mod 2**256), the coins the hints mark unspent, as
    (height, txid, vout, Coin) in block order, each block's coinbase txid (for the duplicate-coinbase
    check BIP30 needs), counts, and the first failure if any (then the rest is incomplete)."""

    first_height: int
    aggregate: int = 0
    unspent: list[tuple[bytes, int, Coin]] = field(default_factory=list)
    # (database key, encoded coin) of each of those, in the same order: made here, in the workers, so
    # writing the UTXO set at H does not encode every coin again in the importer's one process.
    unspent_encoded: list[tuple[bytes, bytes]] = field(default_factory=list)
    coinbase_txids: list[tuple[int, bytes]] = field(default_factory=list)
    blocks: int = 0
    txs: int = 0
    inputs: int = 0
    inputs_verified: int = 0
    added: int = 0
    cpu_s: float = 0.0  # CPU seconds the worker spent (a fork server's workers escape the parent's rusage)
    # CPU seconds per phase of the blocks' validation (see PHASES), summed over the blocks
    phase_cpu: dict[str, float] = field(default_factory=dict)
    failure: BlockFailure | None = None
    # For the run's timeline: the worker's pid and when (time.monotonic(), one clock for every process
    # of the machine) the task started, its first block was validated, and it finished.
    pid: int = 0
    started: float = 0.0
    first_done: float = 0.0
    finished: float = 0.0


def validate_range(task: RangeTask) -> RangeResult:
    """Validate every block of ``task``, stopping at the first failure.

    Python's cyclic collector is paused meanwhile (as the ordinary importer does): validation makes
    almost no reference cycles, and its passes would otherwise keep walking every parsed block."""
    was_enabled = gc.isenabled()
    gc.disable()
    started = time.monotonic()
    cpu = time.process_time()
    try:
        result = _validate_range(task)
        result.cpu_s = time.process_time() - cpu
        result.pid, result.started, result.finished = os.getpid(), started, time.monotonic()
        return result
    finally:
        if was_enabled:
            gc.enable()


def _validate_range(task: RangeTask) -> RangeResult:
    params = get_params(task.network)
    hasher = CoinHasher(task.salt)
    result = RangeResult(first_height=task.blocks[0].height if task.blocks else 0)
    base, mtp = task.mtp_base, task.mtp

    def mtp_at(h: int) -> int:
        return mtp[h - base]

    for work in task.blocks:
        try:
            _validate_one(work, params, hasher, mtp_at, result)
        except (ValidationError, ContextError, PacketFSError, ValueError, ArithmeticError, struct.error) as e:
            result.failure = BlockFailure(
                work.height, work.block_hash[::-1].hex(), getattr(e, "reason", type(e).__name__), str(e)
            )
            break
        if not result.first_done:
            result.first_done = time.monotonic()
    result.aggregate %= MODULUS
    return result


def _validate_one(work: BlockWork, params, hasher: CoinHasher, mtp_at, result: RangeResult) -> None:
    clock = time.process_time
    phase = result.phase_cpu
    t0 = clock()
    height = work.height
    raw, undo_raw = work.load()
    t1 = clock()
    block = Block.from_bytes(raw)
    if block.hash != work.block_hash:
        raise ValidationError("swiftsync-wrong-block", "block bytes do not hash to the header chain's block")
    txs = block.transactions
    if len(txs) > 1 and undo_raw is None:
        raise ValidationError("swiftsync-missing-undo", "no undo data for a block that spends coins")
    t2 = clock()
    spent = decode_block_undo(undo_raw) if undo_raw is not None else []
    t3 = clock()
    if len(spent) != len(txs) - 1:
        raise ValidationError("swiftsync-bad-undo", f"undo data for {len(spent)} txs, the block has {len(txs) - 1}")
    # One pass over the block: every created coin the hints say gets spent is added to the aggregate,
    # every coin an input spends is subtracted, and each spent coin must exist before it is spent (from
    # an earlier block, or an earlier tx of this block). hasher.coin inlined (it is the reference; the
    # sums are checked equal to it in the tests): one copy of the salted state, one update and one
    # digest per coin; the digests are summed at the end of the block in one call.
    unspent = work.unspent
    u = 0
    n_unspent = len(unspent)
    number = 0
    added: list[bytes] = []
    removed: list[bytes] = []
    add_digest = added.append
    remove_digest = removed.append
    keep = result.unspent.append
    keep_encoded = result.unspent_encoded.append
    fresh = hasher.salted_copy
    pack = COIN_FIELDS.pack
    earlier: set[bytes] = set()
    for tx_index, tx in enumerate(txs):
        txid = tx.txid
        if tx_index:
            coins = spent[tx_index - 1]
            if len(coins) != tx.input_count:
                raise ValidationError("swiftsync-bad-undo", f"tx {tx_index}: {len(coins)} coins for {tx.input_count} inputs")
            for (prev_txid, prev_index, _, _), (c_height, c_coinbase, c_value, c_script) in zip(
                tx.inputs, coins, strict=False
            ):
                if c_height >= height and (c_height > height or prev_txid not in earlier):
                    raise ValidationError(
                        "swiftsync-coin-not-yet-created", f"undo coin of height {c_height} spent at {height}",
                        tx=tx_index, input=_first_not_yet_created(tx, coins, height, earlier),
                    )  # fmt: skip
                h = fresh()
                h.update(prev_txid + pack(prev_index, c_height * 2 + c_coinbase, c_value) + c_script)
                remove_digest(h.digest())
            created = height * 2
        else:
            created = height * 2 + 1
        earlier.add(txid)
        for vout, (value, script) in enumerate(tx.outputs):
            if (script and script[0] == _OP_RETURN) or len(script) > MAX_SCRIPT_SIZE:
                continue  # unspendable (is_unspendable, inlined): never a coin, never numbered
            if u < n_unspent and unspent[u] == number:
                coin = Coin(height, not tx_index, value, script)
                keep((txid, vout, coin))
                keep_encoded((outpoint_key(txid, vout), encode_coin_value(coin)))
                u += 1
            else:
                h = fresh()
                h.update(txid + pack(vout, created, value) + script)
                add_digest(h.digest())
            number += 1
    t4 = clock()
    if params.signet_challenge is not None:
        check_signet_solution(block, params.signet_challenge)
    rules_done = [t4]
    checked = validate_block(
        block, spent, height, params,
        prev_mtp=mtp_at(height - 1), mtp_at=mtp_at,
        check_pow=False,  # the header chain was checked (proof of work, difficulty, times) up front
        output_exists=None,  # BIP30: duplicate coinbase txids are checked across all blocks instead
        jobs=1,  # in this process: the scripts run once every other rule has passed (after the hook)
        while_scripts_run=lambda: rules_done.append(clock()),
    )  # fmt: skip
    t6 = clock()
    t5 = rules_done[-1]
    for name, seconds in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5), strict=True):
        phase[name] = phase.get(name, 0.0) + seconds
    if u != n_unspent:
        raise ValidationError("swiftsync-bad-hints", f"hint {unspent[u]} is beyond the block's {number} outputs")
    little = repeat("little")
    result.aggregate += sum(map(_from_bytes, added, little)) - sum(map(_from_bytes, removed, little))
    result.added += len(added)
    result.coinbase_txids.append((height, txs[0].txid))
    result.blocks += 1
    result.txs += len(txs)
    result.inputs += checked.inputs
    result.inputs_verified += checked.inputs_verified
    left = [u for u in checked.unchecked if not u.startswith(_CHECKED_ELSEWHERE)]
    if left:
        raise ValidationError("swiftsync-unchecked", f"rules left unchecked: {left}")


def _first_not_yet_created(tx, coins, height: int, earlier: set[bytes]) -> int:
    for in_index, (txin, coin) in enumerate(zip(tx.inputs, coins, strict=False)):
        if coin.height > height or (coin.height == height and txin.prev_txid not in earlier):
            return in_index
    raise AssertionError("no such input")


def merge(results: Sequence[RangeResult]) -> RangeResult:
    """Sum partial results (in height order) into one."""
    total = RangeResult(first_height=min((r.first_height for r in results), default=0))
    for r in sorted(results, key=lambda r: r.first_height):
        total.aggregate = (total.aggregate + r.aggregate) % MODULUS
        total.unspent.extend(r.unspent)
        total.unspent_encoded.extend(r.unspent_encoded)
        total.coinbase_txids.extend(r.coinbase_txids)
        for name in ("blocks", "txs", "inputs", "inputs_verified", "added", "cpu_s"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        for name, seconds in r.phase_cpu.items():
            total.phase_cpu[name] = total.phase_cpu.get(name, 0.0) + seconds
        if r.failure is not None and (total.failure is None or r.failure.height < total.failure.height):
            total.failure = r.failure
    return total
