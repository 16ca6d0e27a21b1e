"""The transaction memory pool with Bitcoin Core 30's acceptance policy (validation.cpp MemPoolAccept,
txmempool.cpp, policy/rbf.cpp, policy/truc_policy.cpp, policy/ephemeral_policy.cpp).

Contracts:
- ``Mempool`` is owned by one thread (the node's event loop); nothing in it blocks on I/O except
  the chain view's coin lookups.
- It reads the chain through a ``ChainView`` (tip height, median time past, coins); it never
  changes the chain. The node tells it about blocks: ``remove_for_block`` after a block is
  connected, ``add_disconnected`` after a reorg (see ``sync.MempoolChainSync``).
- Every refusal raises/returns Core's reject reason string exactly; ``AcceptResult.reason``.
- Entries keep Core's cached ancestor and descendant aggregates (count, vsize, modified fees,
  sigops), updated on every add and removal, so block assembly and eviction read them in O(1).
"""

from __future__ import annotations

import heapq
import sys
import time as _time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from ..consensus.errors import ValidationError, script_error_message
from ..consensus.params import ChainParams
from ..consensus.sigops import tx_sigop_cost
from ..consensus.tx_rules import (
    calculate_sequence_locks,
    check_transaction,
    check_tx_inputs,
    evaluate_sequence_locks,
    is_final_tx,
)
from ..primitives.hashes import hash_to_hex
from ..primitives.transaction import Transaction, TxOut
from ..script.api import verify_tx_input
from ..script.errors import ScriptError
from ..script.sighash import PrecomputedTxData
from ..storage.undo import Coin
from .errors import MempoolReject, PackageReject, TxResult
from .policy import (
    MAX_PACKAGE_COUNT,
    MAX_PACKAGE_WEIGHT,
    MAX_REPLACEMENT_CANDIDATES,
    MAX_STANDARD_TX_SIGOPS_COST,
    MIN_STANDARD_TX_NONWITNESS_SIZE,
    ROLLING_FEE_HALFLIFE,
    STANDARD_SCRIPT_VERIFY_FLAGS,
    TRUC_ANCESTOR_LIMIT,
    TRUC_CHILD_MAX_VSIZE,
    TRUC_DESCENDANT_LIMIT,
    TRUC_MAX_VSIZE,
    TRUC_VERSION,
    FeeRate,
    PolicyOptions,
    check_standard_tx,
    dust_outputs,
    format_amount,
    inputs_standard,
    virtual_size,
    witness_standard,
)

EXTRA_DESCENDANT_TX_SIZE_LIMIT = 10_000  # the CPFP carve-out's size allowance
MEMPOOL_HEIGHT = 0x7FFFFFFF  # the height Core gives coins created by mempool transactions
_ENTRY_OVERHEAD = 400  # bytes of bookkeeping per entry beyond the transaction (see usage_of)


def usage_of(tx: Transaction) -> int:
    """Estimated memory a mempool entry costs, in the spirit of Core's DynamicMemoryUsage: the
    serialized transaction plus per-input, per-output and per-entry bookkeeping. The size limit
    (-maxmempool) is enforced against the sum of these."""
    return tx.size + 96 * tx.input_count + 64 * tx.output_count + _ENTRY_OVERHEAD


class ChainView(Protocol):
    """What the mempool needs to know about the active chain."""

    params: ChainParams

    def tip_height(self) -> int: ...

    def tip_hash(self) -> bytes: ...

    def median_time_past(self) -> int: ...

    def mtp_at(self, height: int) -> int: ...

    def coin(self, txid: bytes, vout: int) -> Coin | None: ...


class ChainstateView:
    """A ChainView over a ``packetfs.bitcoin.chain.chainstate.Chainstate``."""

    def __init__(self, chainstate: object):
        self.cs = chainstate
        self.params = chainstate.params  # type: ignore[attr-defined]
        self._mtp: tuple[object, int] | None = None  # (tip entry, its median time past)

    def tip_height(self) -> int:
        return self.cs.tip.height  # type: ignore[attr-defined]

    def tip_hash(self) -> bytes:
        return self.cs.tip.hash  # type: ignore[attr-defined]

    def median_time_past(self) -> int:
        tip = self.cs.tip  # type: ignore[attr-defined]
        if self._mtp is None or self._mtp[0] is not tip:
            self._mtp = (tip, self.cs.tree.median_time_past(tip))  # type: ignore[attr-defined]
        return self._mtp[1]

    def mtp_at(self, height: int) -> int:
        cs = self.cs
        return cs.tree.median_time_past(cs.tree.ancestor(cs.tip, height))  # type: ignore[attr-defined]

    def coin(self, txid: bytes, vout: int) -> Coin | None:
        return self.cs.utxo.get(txid, vout)  # type: ignore[attr-defined]


@dataclass(eq=False)
class MempoolEntry:
    """One transaction in the pool, with Core's cached ancestor/descendant aggregates (self included)."""

    tx: Transaction
    txid: bytes
    wtxid: bytes
    fee: int
    vsize: int
    weight: int
    sigop_cost: int
    time: int
    height: int
    sequence: int
    spends_coinbase: bool
    lock: tuple[int, int]
    usage: int
    delta: int = 0
    score_version: int = 0  # bumped when the eviction score may have changed (see Mempool._rescore)
    parents: set[bytes] = field(default_factory=set)
    children: set[bytes] = field(default_factory=set)
    anc_count: int = 1
    anc_size: int = 0
    anc_fees: int = 0
    anc_sigops: int = 0
    desc_count: int = 1
    desc_size: int = 0
    desc_fees: int = 0

    @property
    def modified_fee(self) -> int:
        return self.fee + self.delta

    @property
    def feerate(self) -> FeeRate:
        return FeeRate.from_fee(self.modified_fee, self.vsize)

    def descendant_score(self) -> tuple[int, int]:
        """Core's eviction key (CompareTxMemPoolEntryByDescendantScore): the higher of the entry's own
        feerate and its feerate with descendants, as (fee, size) for exact cross-multiplication."""
        own, with_desc = (self.modified_fee, self.vsize), (self.desc_fees, self.desc_size)
        return own if own[0] * with_desc[1] > with_desc[0] * own[1] else with_desc


@dataclass
class AcceptResult:
    """The verdict on one transaction (Core's MempoolAcceptResult)."""

    txid: bytes
    wtxid: bytes
    accepted: bool
    reason: str = ""
    debug: str = ""
    result: TxResult | None = None
    vsize: int = 0
    fee: int = 0
    effective_feerate: FeeRate | None = None
    effective_includes: list[bytes] = field(default_factory=list)
    replaced: list[Transaction] = field(default_factory=list)
    already_in_mempool: bool = False
    other_wtxid: bytes | None = None

    @property
    def reject_string(self) -> str:
        """Core's TxValidationState::ToString: 'reason, debug'."""
        return f"{self.reason}, {self.debug}" if self.debug else self.reason


@dataclass
class PackageResult:
    """The verdict on a package: ``message`` is Core's package_msg ("success" when all is well)."""

    message: str
    results: dict[bytes, AcceptResult]  # by wtxid, in package order
    debug: str = ""
    replaced: list[Transaction] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.message == "success"


@dataclass
class _Work:
    """Everything PreChecks learns about one transaction (Core's Workspace)."""

    tx: Transaction
    txid: bytes
    wtxid: bytes
    coins: list[Coin] = field(default_factory=list)
    fee: int = 0
    delta: int = 0
    vsize: int = 0
    sigop_cost: int = 0
    spends_coinbase: bool = False
    lock: tuple[int, int] = (-1, -1)
    conflicts: set[bytes] = field(default_factory=set)
    all_conflicts: set[bytes] = field(default_factory=set)
    ancestors: set[bytes] = field(default_factory=set)
    parents: set[bytes] = field(default_factory=set)
    sibling_eviction: bool = False
    package_parents: set[bytes] = field(default_factory=set)

    @property
    def modified_fee(self) -> int:
        return self.fee + self.delta


def _hex(h: bytes) -> str:
    return hash_to_hex(h)


def _parents(entry: MempoolEntry) -> set[bytes]:
    return entry.parents


def _children(entry: MempoolEntry) -> set[bytes]:
    return entry.children


class Mempool:
    """Core's CTxMemPool with MemPoolAccept's policy. See the module docstring."""

    def __init__(
        self,
        chain: ChainView,
        options: PolicyOptions | None = None,
        *,
        now: Callable[[], float] | None = None,
    ):
        self.chain = chain
        self.opts = options or PolicyOptions()
        self.now = now or _time.time
        self.entries: dict[bytes, MempoolEntry] = {}
        self.by_wtxid: dict[bytes, bytes] = {}
        self.spenders: dict[tuple[bytes, int], bytes] = {}
        self.deltas: dict[bytes, int] = {}
        self.total_vsize = 0
        self.total_fee = 0
        self.usage = 0
        self.updates = 0  # transactions added or removed so far (Core's GetTransactionsUpdated)
        self._sequence = 1
        self.rolling_min_fee = 0.0  # sat/kvB
        self._last_rolling_update = int(self.now())
        self._block_since_bump = False
        self.listeners: list[Callable[[str, Transaction], None]] = []  # ("added"|"removed:<why>", tx)
        # (entry time, txid) of every entry, for expiry without a scan; stale items are skipped.
        self._by_time: list[tuple[int, bytes]] = []
        # (descendant score, -sequence, txid, score_version): eviction order without a scan; an item
        # whose version is not the entry's current one is stale and skipped.
        self._by_score: list[tuple[float, int, bytes, int]] = []

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, txid: bytes) -> bool:
        return txid in self.entries

    def get(self, txid: bytes) -> MempoolEntry | None:
        return self.entries.get(txid)

    def get_by_wtxid(self, wtxid: bytes) -> MempoolEntry | None:
        txid = self.by_wtxid.get(wtxid)
        return self.entries.get(txid) if txid is not None else None

    def spender_of(self, txid: bytes, vout: int) -> bytes | None:
        return self.spenders.get((txid, vout))

    def _reachable(self, start: Iterable[bytes], links: Callable[[MempoolEntry], set[bytes]]) -> set[bytes]:
        """``start`` and every in-mempool entry reached from it along ``links`` (parents or children)."""
        out: set[bytes] = set()
        todo = list(start)
        while todo:
            t = todo.pop()
            if t not in out:
                out.add(t)
                todo.extend(links(self.entries[t]))
        return out

    def ancestors(self, txid: bytes) -> set[bytes]:
        """All in-mempool ancestors of an entry (not itself)."""
        return self._reachable(self.entries[txid].parents, _parents)

    def descendants(self, txid: bytes) -> set[bytes]:
        """All in-mempool descendants of an entry (not itself)."""
        return self._reachable(self.entries[txid].children, _children)

    def _ancestors_of_parents(self, parents: Iterable[bytes]) -> set[bytes]:
        return self._reachable(parents, _parents)

    def min_fee(self) -> FeeRate:
        """GetMinFee: the rolling minimum fee rate after evictions, decaying back towards zero
        (half-life 12 h, faster while the pool is small), never below zero, and zero once it falls
        under half the incremental relay fee."""
        if not self._block_since_bump or self.rolling_min_fee == 0:
            return FeeRate(round(self.rolling_min_fee))
        now = int(self.now())
        if now > self._last_rolling_update + 10:
            halflife = ROLLING_FEE_HALFLIFE
            if self.usage < self.opts.max_size_bytes / 4:
                halflife /= 4
            elif self.usage < self.opts.max_size_bytes / 2:
                halflife /= 2
            self.rolling_min_fee /= 2 ** ((now - self._last_rolling_update) / halflife)
            self._last_rolling_update = now
            if self.rolling_min_fee < self.opts.incremental_relay_fee.sat_per_kvb / 2:
                self.rolling_min_fee = 0
                return FeeRate(0)
        return FeeRate(max(round(self.rolling_min_fee), self.opts.incremental_relay_fee.sat_per_kvb))

    def _coin(self, txid: bytes, vout: int, temp: dict[tuple[bytes, int], Coin] | None) -> Coin | None:
        if temp is not None:
            c = temp.get((txid, vout))
            if c is not None:
                return c
        e = self.entries.get(txid)
        if e is not None:
            outs = e.tx.outputs
            if vout < len(outs):
                o = outs[vout]
                return Coin(MEMPOOL_HEIGHT, False, o.value, o.script_pubkey)
            return None
        return self.chain.coin(txid, vout)

    # ------------------------------------------------------------------ single transaction
    def accept(
        self,
        tx: Transaction,
        *,
        test_accept: bool = False,
        bypass_limits: bool = False,
        accept_time: int | None = None,
        max_fee_rate: FeeRate | None = None,
    ) -> AcceptResult:
        """AcceptToMemoryPool: check ``tx`` against policy and consensus and (unless ``test_accept``)
        add it, replacing conflicts as RBF allows and trimming the pool to its size limit.
        ``max_fee_rate``: the client's ceiling (sendrawtransaction's maxfeerate); a tx paying more is
        refused with "max-fee-exceeded" before its scripts are checked."""
        ws = _Work(tx, tx.txid, tx.wtxid)
        try:
            self._pre_checks(ws, bypass_limits=bypass_limits, allow_replacement=True, sibling_eviction=True,
                             package_feerates=False, temp=None)
            if max_fee_rate is not None and max_fee_rate.sat_per_kvb and ws.fee > max_fee_rate.fee(ws.vsize):
                raise MempoolReject("max-fee-exceeded", f"{ws.fee} > {max_fee_rate.fee(ws.vsize)}")
            if ws.conflicts:
                self._replacement_checks(ws)
            self._policy_script_checks(ws)
        except MempoolReject as r:
            return self._reject_result(ws, r)
        result = self._accepted_result(ws)
        if test_accept:
            return result
        result.replaced = self._finalize(ws, int(self.now()) if accept_time is None else accept_time, bypass_limits)
        if not bypass_limits:
            self.limit_size()
            if ws.txid not in self.entries:
                return self._reject_result(ws, MempoolReject("mempool full", "", TxResult.RECONSIDERABLE))
        return result

    def _reject_result(self, ws: _Work, r: MempoolReject) -> AcceptResult:
        return AcceptResult(ws.txid, ws.wtxid, False, r.reason, r.debug, r.result, ws.vsize, ws.fee)

    def _accepted_result(self, ws: _Work) -> AcceptResult:
        return AcceptResult(
            ws.txid, ws.wtxid, True, vsize=ws.vsize, fee=ws.fee,
            effective_feerate=FeeRate.from_fee(ws.modified_fee, ws.vsize), effective_includes=[ws.wtxid],
        )  # fmt: skip

    def _pre_checks(
        self,
        ws: _Work,
        *,
        bypass_limits: bool,
        allow_replacement: bool,
        sibling_eviction: bool,
        package_feerates: bool,
        temp: dict[tuple[bytes, int], Coin] | None,
    ) -> None:
        tx = ws.tx
        opts = self.opts
        try:
            check_transaction(tx)
        except ValidationError as e:
            raise MempoolReject(e.reason, e.debug or "", TxResult.CONSENSUS) from None
        if tx.is_coinbase():
            raise MempoolReject("coinbase", "", TxResult.CONSENSUS)
        dust = dust_outputs(tx, opts.dust_relay_fee)
        if opts.require_standard:
            reason = check_standard_tx(tx, opts, dust)
            if reason is not None:
                raise MempoolReject(reason, "", TxResult.NOT_STANDARD)
        if tx.base_size < MIN_STANDARD_TX_NONWITNESS_SIZE:
            raise MempoolReject("tx-size-small", "", TxResult.NOT_STANDARD)
        height = self.chain.tip_height() + 1
        mtp = self.chain.median_time_past()
        if not is_final_tx(tx, height, mtp):
            raise MempoolReject("non-final", "", TxResult.PREMATURE_SPEND)
        if ws.wtxid in self.by_wtxid:
            raise MempoolReject("txn-already-in-mempool", "", TxResult.CONFLICT)
        if ws.txid in self.entries:
            raise MempoolReject("txn-same-nonwitness-data-in-mempool", "", TxResult.CONFLICT)
        for txin in tx.inputs:
            spender = self.spenders.get((txin.prev_txid, txin.prev_index))
            if spender is not None:
                if not allow_replacement:
                    raise MempoolReject("bip125-replacement-disallowed", "", TxResult.MEMPOOL_POLICY)
                ws.conflicts.add(spender)
        coins: list[Coin] = []
        for txin in tx.inputs:
            c = self._coin(txin.prev_txid, txin.prev_index, temp)
            if c is None:
                for vout in range(tx.output_count):
                    if self.chain.coin(ws.txid, vout) is not None:
                        raise MempoolReject("txn-already-known", "", TxResult.CONFLICT)
                raise MempoolReject("bad-txns-inputs-missingorspent", "", TxResult.MISSING_INPUTS)
            coins.append(c)
        ws.coins = coins
        prev_heights = [height if c.height == MEMPOOL_HEIGHT else c.height for c in coins]
        lock = calculate_sequence_locks(tx, True, prev_heights, self.chain.mtp_at)
        if not evaluate_sequence_locks(height, mtp, lock):
            raise MempoolReject("non-BIP68-final", "", TxResult.PREMATURE_SPEND)
        ws.lock = lock
        try:
            ws.fee = check_tx_inputs(tx, coins, height)
        except ValidationError as e:
            raise MempoolReject(e.reason, e.debug or "", TxResult.CONSENSUS) from None
        spent = [TxOut(c.value, c.script_pubkey) for c in coins]
        if opts.require_standard and not inputs_standard(tx, spent):
            raise MempoolReject("bad-txns-nonstandard-inputs", "", TxResult.INPUTS_NOT_STANDARD)
        if tx.has_witness and opts.require_standard and not witness_standard(tx, spent):
            raise MempoolReject("bad-witness-nonstandard", "", TxResult.WITNESS_MUTATED)
        ws.sigop_cost = tx_sigop_cost(tx, coins, int(STANDARD_SCRIPT_VERIFY_FLAGS))
        ws.spends_coinbase = any(c.coinbase for c in coins)
        ws.vsize = virtual_size(tx.weight, ws.sigop_cost)
        ws.delta = self.deltas.get(ws.txid, 0)
        if opts.require_standard and (ws.fee != 0 or ws.modified_fee != 0) and dust:
            raise MempoolReject("dust", "tx with dust output must be 0-fee", TxResult.NOT_STANDARD)
        if ws.sigop_cost > MAX_STANDARD_TX_SIGOPS_COST:
            raise MempoolReject("bad-txns-too-many-sigops", str(ws.sigop_cost), TxResult.NOT_STANDARD)
        if not bypass_limits and tx.version != TRUC_VERSION:
            need = opts.min_relay_fee.fee(ws.vsize)
            if ws.modified_fee < need:
                raise MempoolReject("min relay fee not met", f"{ws.modified_fee} < {need}", TxResult.MEMPOOL_POLICY)
        if not bypass_limits and not package_feerates:
            self._check_fee_rate(ws.vsize, ws.modified_fee)
        # In-mempool parents and ancestors (package parents are not in the pool yet).
        parents = {txin.prev_txid for txin in tx.inputs if txin.prev_txid in self.entries}
        ws.parents = parents
        ws.ancestors = self._ancestors_of_parents(parents)
        if ws.conflicts:
            ws.all_conflicts = self._all_conflicts(ws.conflicts)
        if not bypass_limits:
            try:
                self._check_ancestor_limits(ws)
            except MempoolReject:
                # CPFP carve-out (Core <= 30): a small non-TRUC tx with a single unconfirmed ancestor
                # may take one descendant slot (and 10 kvB) beyond its parent's limits.
                if ws.vsize > EXTRA_DESCENDANT_TX_SIZE_LIMIT or tx.version == TRUC_VERSION or len(ws.ancestors) > 1:
                    raise
                original = sys.exc_info()[1]
                try:
                    self._check_ancestor_limits(ws, carve_out=True)
                except MempoolReject:
                    raise original from None
            self._truc_checks(ws, sibling_eviction)
        if ws.ancestors & ws.conflicts or ws.ancestors & ws.all_conflicts:
            bad = next(iter(ws.ancestors & ws.all_conflicts))
            raise MempoolReject(
                "bad-txns-spends-conflicting-tx",
                f"{_hex(ws.txid)} spends conflicting transaction {_hex(bad)}",
                TxResult.CONSENSUS,
            )

    def _check_fee_rate(self, vsize: int, fee: int) -> None:
        """CheckFeeRate: the mempool's rolling minimum, then the minimum relay fee (reconsiderable:
        a package may pay for it)."""
        reject_fee = self.min_fee().fee(vsize)
        if reject_fee > 0 and fee < reject_fee:
            raise MempoolReject("mempool min fee not met", f"{fee} < {reject_fee}", TxResult.RECONSIDERABLE)
        need = self.opts.min_relay_fee.fee(vsize)
        if fee < need:
            raise MempoolReject("min relay fee not met", f"{fee} < {need}", TxResult.RECONSIDERABLE)

    def _all_conflicts(self, direct: set[bytes]) -> set[bytes]:
        out = set(direct)
        for t in direct:
            out |= self.descendants(t)
        return out

    def _check_ancestor_limits(self, ws: _Work, extra_count: int = 0, extra_size: int = 0, carve_out: bool = False) -> None:
        """CalculateMemPoolAncestors with Core's limits. Entries the tx would replace do not count
        towards their ancestors' descendant totals (Core's RBF carve-out, generalised). ``carve_out``:
        the CPFP carve-out's limits (descendants + 1 and + 10 kvB)."""
        o = self.opts
        if carve_out:
            o = replace(o, descendant_count=o.descendant_count + 1,
                        descendant_size_vbytes=o.descendant_size_vbytes + EXTRA_DESCENDANT_TX_SIZE_LIMIT)
        anc = ws.ancestors
        count = len(anc) + 1 + extra_count
        size = sum(self.entries[a].vsize for a in anc) + ws.vsize + extra_size
        if count > o.ancestor_count:
            raise MempoolReject("too-long-mempool-chain", f"too many unconfirmed ancestors [limit: {o.ancestor_count}]")
        if size > o.ancestor_size_vbytes:
            raise MempoolReject("too-long-mempool-chain", f"exceeds ancestor size limit [limit: {o.ancestor_size_vbytes}]")
        for a in anc:
            e = self.entries[a]
            gone = self.descendants(a) & ws.all_conflicts if ws.all_conflicts else ()
            d_count = e.desc_count - len(gone)
            d_size = e.desc_size - sum(self.entries[g].vsize for g in gone)
            if d_count + 1 + extra_count > o.descendant_count:
                raise MempoolReject(
                    "too-long-mempool-chain", f"too many descendants for tx {_hex(a)} [limit: {o.descendant_count}]"
                )
            if d_size + ws.vsize + extra_size > o.descendant_size_vbytes:
                raise MempoolReject(
                    "too-long-mempool-chain",
                    f"exceeds descendant size limit for tx {_hex(a)} [limit: {o.descendant_size_vbytes}]",
                )

    def _truc_checks(self, ws: _Work, sibling_eviction: bool) -> None:
        """SingleTRUCChecks (BIP431) on the in-mempool ancestors; may turn an existing child of the
        parent into a conflict (sibling eviction)."""
        tx = ws.tx
        truc = tx.version == TRUC_VERSION
        txid_s, wtxid_s = _hex(ws.txid), _hex(ws.wtxid)
        for a in sorted(ws.ancestors):
            e = self.entries[a]
            other_truc = e.tx.version == TRUC_VERSION
            if not truc and other_truc:
                raise MempoolReject("TRUC-violation", f"non-version=3 tx {txid_s} (wtxid={wtxid_s}) cannot spend from version=3 tx {_hex(a)} (wtxid={_hex(e.wtxid)})")
            if truc and not other_truc:
                raise MempoolReject("TRUC-violation", f"version=3 tx {txid_s} (wtxid={wtxid_s}) cannot spend from non-version=3 tx {_hex(a)} (wtxid={_hex(e.wtxid)})")
        if not truc:
            return
        if ws.vsize > TRUC_MAX_VSIZE:
            raise MempoolReject("TRUC-violation", f"version=3 tx {txid_s} (wtxid={wtxid_s}) is too big: {ws.vsize} > {TRUC_MAX_VSIZE} virtual bytes")
        n_anc = len(ws.ancestors) + len(ws.package_parents)
        if n_anc + 1 > TRUC_ANCESTOR_LIMIT:
            raise MempoolReject("TRUC-violation", f"tx {txid_s} (wtxid={wtxid_s}) would have too many ancestors")
        if n_anc == 0:
            return
        if ws.vsize > TRUC_CHILD_MAX_VSIZE:
            raise MempoolReject("TRUC-violation", f"version=3 child tx {txid_s} (wtxid={wtxid_s}) is too big: {ws.vsize} > {TRUC_CHILD_MAX_VSIZE} virtual bytes")
        if not ws.ancestors:
            return  # the parent is in the package, so it has no other child yet
        parent = self.entries[next(iter(ws.ancestors))]
        children = parent.children
        child_replaced = any(c in ws.conflicts for c in children)
        if parent.desc_count + 1 > TRUC_DESCENDANT_LIMIT and not child_replaced:
            msg = f"tx {_hex(parent.txid)} (wtxid={_hex(parent.wtxid)}) would exceed descendant count limit"
            sibling = next(iter(children)) if len(children) == 1 else None
            if (
                sibling_eviction
                and parent.desc_count == 2
                and sibling is not None
                and self.entries[sibling].anc_count == 2
            ):
                ws.conflicts.add(sibling)
                ws.all_conflicts = self._all_conflicts(ws.conflicts)
                ws.sibling_eviction = True
                return
            raise MempoolReject("TRUC-violation", msg)

    # ------------------------------------------------------------------ replacement (BIP125 rules, full RBF)
    def _replacement_checks(self, ws: _Work) -> None:
        suffix = " (including sibling eviction)" if ws.sibling_eviction else ""
        new_rate = FeeRate.from_fee(ws.modified_fee, ws.vsize)
        # Rule 6: a higher feerate than every directly conflicting transaction.
        for c in sorted(ws.conflicts):
            e = self.entries[c]
            old = FeeRate.from_fee(e.modified_fee, e.vsize)
            if ws.modified_fee * e.vsize <= e.modified_fee * ws.vsize:
                raise MempoolReject(
                    "insufficient fee" + suffix,
                    f"rejecting replacement {_hex(ws.txid)}; new feerate {new_rate} <= old feerate {old}",
                    TxResult.RECONSIDERABLE,
                )
        # Rule 5: at most 100 transactions evicted.
        n = sum(self.entries[c].desc_count for c in ws.conflicts)
        if n > MAX_REPLACEMENT_CANDIDATES:
            raise MempoolReject(
                "too many potential replacements" + suffix,
                f"rejecting replacement {_hex(ws.txid)}; too many potential replacements ({n} > {MAX_REPLACEMENT_CANDIDATES})",
            )
        # Rule 2: no new unconfirmed inputs.
        parents_of_conflicts = {txin.prev_txid for c in ws.conflicts for txin in self.entries[c].tx.inputs}
        for j, txin in enumerate(ws.tx.inputs):
            if txin.prev_txid not in parents_of_conflicts and txin.prev_txid in self.entries:
                raise MempoolReject("replacement-adds-unconfirmed", f"replacement {_hex(ws.txid)} adds unconfirmed input, idx {j}")
        # Rules 3 and 4: pays at least the fees it removes, plus its own relay at the incremental rate.
        original = sum(self.entries[c].modified_fee for c in ws.all_conflicts)
        err = self._pays_for_rbf(original, ws.modified_fee, ws.vsize, ws.txid)
        if err is not None:
            raise MempoolReject("insufficient fee" + suffix, err, TxResult.RECONSIDERABLE)

    def _pays_for_rbf(self, original_fees: int, replacement_fees: int, vsize: int, txid: bytes) -> str | None:
        if replacement_fees < original_fees:
            return (
                f"rejecting replacement {_hex(txid)}, less fees than conflicting txs; "
                f"{_money(replacement_fees)} < {_money(original_fees)}"
            )
        additional = replacement_fees - original_fees
        relay = self.opts.incremental_relay_fee.fee(vsize)
        if additional < relay:
            return (
                f"rejecting replacement {_hex(txid)}, not enough additional fees to relay; "
                f"{_money(additional)} < {_money(relay)}"
            )
        return None

    # ------------------------------------------------------------------ many transactions, scripts in parallel
    def accept_batch(self, txs: Sequence[Transaction], pool: object, *, max_group: int = 2_000) -> list[AcceptResult]:
        """Accept ``txs`` in order, verifying their scripts on ``pool`` (a consensus
        ``ScriptCheckPool``) instead of one by one in this process.

        Runs of independent transactions (none spends another's output or an outpoint another spends,
        none conflicts with the pool) are pre-checked in order, their scripts checked together, then
        added in order; any other transaction goes through ``accept`` alone. Verdicts are those of
        calling ``accept`` on each in turn, except that the pool is trimmed to its size limit once per
        run rather than after every transaction (as a package submission is)."""
        from ..consensus.pool import ScriptJob

        txs = list(txs)
        results: list[AcceptResult | None] = [None] * len(txs)
        flags = int(STANDARD_SCRIPT_VERIFY_FLAGS)
        i = 0
        while i < len(txs):
            group: list[int] = []
            spent: set[tuple[bytes, int]] = set()
            made: set[bytes] = set()
            for j in range(i, min(len(txs), i + max_group)):
                ins = {(txin.prev_txid, txin.prev_index) for txin in txs[j].inputs}
                if (ins & spent) or any(p in made for p, _ in ins) or any(k in self.spenders for k in ins):
                    break
                spent |= ins
                made.add(txs[j].txid)
                group.append(j)
            if not group:  # a dependent or conflicting tx: alone
                results[i] = self.accept(txs[i])
                i += 1
                continue
            i = group[-1] + 1
            works: list[tuple[int, _Work]] = []
            for j in group:
                ws = _Work(txs[j], txs[j].txid, txs[j].wtxid)
                try:
                    self._pre_checks(ws, bypass_limits=False, allow_replacement=True, sibling_eviction=True,
                                     package_feerates=False, temp=None)
                except MempoolReject as r:
                    results[j] = self._reject_result(ws, r)
                    continue
                works.append((j, ws))
            while works:
                jobs = [ScriptJob(k, ws.tx, [TxOut(c.value, c.script_pubkey) for c in ws.coins], flags)
                        for k, (_, ws) in enumerate(works)]
                verdict = pool.submit(jobs).result()  # type: ignore[attr-defined]
                good = works if verdict.failure is None else works[: verdict.failure.tx]
                now = int(self.now())
                for j, ws in good:
                    self._add(ws, now)
                    results[j] = self._accepted_result(ws)
                if verdict.failure is None:
                    break
                j, ws = works[verdict.failure.tx]
                txin = ws.tx.inputs[verdict.failure.input]
                results[j] = self._reject_result(ws, MempoolReject(
                    f"mempool-script-verify-flag-failed ({script_error_message(verdict.failure.code)})",
                    f"input {verdict.failure.input} of {_hex(ws.txid)} (wtxid {_hex(ws.wtxid)}), spending "
                    f"{_hex(txin.prev_txid)}:{txin.prev_index}", TxResult.CONSENSUS))
                works = works[verdict.failure.tx + 1 :]
            self.limit_size()
            for j in group:
                r = results[j]
                if r is not None and r.accepted and r.txid not in self.entries:
                    results[j] = AcceptResult(r.txid, r.wtxid, False, "mempool full", "", TxResult.RECONSIDERABLE)
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------ scripts
    def _policy_script_checks(self, ws: _Work) -> None:
        tx = ws.tx
        spent = [TxOut(c.value, c.script_pubkey) for c in ws.coins]
        pre = PrecomputedTxData(tx, spent)
        flags = int(STANDARD_SCRIPT_VERIFY_FLAGS)
        for i in range(tx.input_count):
            try:
                verify_tx_input(tx, i, spent, flags, pre)
            except ScriptError as e:
                txin = tx.inputs[i]
                raise MempoolReject(
                    f"mempool-script-verify-flag-failed ({script_error_message(e.code)})",
                    f"input {i} of {_hex(ws.txid)} (wtxid {_hex(ws.wtxid)}), spending {_hex(txin.prev_txid)}:{txin.prev_index}",
                    TxResult.CONSENSUS,
                ) from None

    # ------------------------------------------------------------------ adding and removing
    def _finalize(self, ws: _Work, accept_time: int, bypass_limits: bool) -> list[Transaction]:
        replaced = [self.entries[t].tx for t in ws.all_conflicts]
        if ws.all_conflicts:
            self._remove(ws.all_conflicts, "replaced")
        self._add(ws, accept_time, sequence=0 if bypass_limits else None)
        return replaced

    def _add(self, ws: _Work, accept_time: int, sequence: int | None = None) -> MempoolEntry:
        tx = ws.tx
        if sequence is None:
            sequence = self._sequence
            self._sequence += 1
        e = MempoolEntry(
            tx, ws.txid, ws.wtxid, ws.fee, ws.vsize, tx.weight, ws.sigop_cost, accept_time,
            self.chain.tip_height(), sequence, ws.spends_coinbase, ws.lock, usage_of(tx), ws.delta,
        )  # fmt: skip
        e.parents = {txin.prev_txid for txin in tx.inputs if txin.prev_txid in self.entries}
        ancestors = self._ancestors_of_parents(e.parents)
        mod = e.modified_fee
        e.anc_count = 1 + len(ancestors)
        e.anc_size = e.vsize + sum(self.entries[a].vsize for a in ancestors)
        e.anc_fees = mod + sum(self.entries[a].modified_fee for a in ancestors)
        e.anc_sigops = e.sigop_cost + sum(self.entries[a].sigop_cost for a in ancestors)
        e.desc_size, e.desc_fees = e.vsize, mod
        for a in ancestors:
            ae = self.entries[a]
            ae.desc_count += 1
            ae.desc_size += e.vsize
            ae.desc_fees += mod
            self._rescore(ae)
        for p in e.parents:
            self.entries[p].children.add(e.txid)
        # A transaction returned by a reorg may already have children in the pool.
        for vout in range(tx.output_count):
            child = self.spenders.get((e.txid, vout))
            if child is not None:
                e.children.add(child)
        self.entries[e.txid] = e
        self.by_wtxid[e.wtxid] = e.txid
        heapq.heappush(self._by_time, (e.time, e.txid))
        self._rescore(e)
        for txin in tx.inputs:
            self.spenders[(txin.prev_txid, txin.prev_index)] = e.txid
        if e.children:
            self._relink_children(e)
        self.total_vsize += e.vsize
        self.total_fee += e.fee
        self.usage += e.usage
        self.updates += 1
        for cb in self.listeners:
            cb("added", tx)
        return e

    def _relink_children(self, e: MempoolEntry) -> None:
        """UpdateTransactionsFromBlock: a re-added tx gains its in-pool descendants."""
        for c in e.children:
            self.entries[c].parents.add(e.txid)
        # Recompute the aggregates of everything connected to it from scratch (rare: reorgs only).
        for t in self.descendants(e.txid) | self.ancestors(e.txid) | {e.txid}:
            self._recompute(t)

    def _recompute(self, txid: bytes) -> None:
        e = self.entries[txid]
        anc = self.ancestors(txid)
        desc = self.descendants(txid)
        e.anc_count = 1 + len(anc)
        e.anc_size = e.vsize + sum(self.entries[a].vsize for a in anc)
        e.anc_fees = e.modified_fee + sum(self.entries[a].modified_fee for a in anc)
        e.anc_sigops = e.sigop_cost + sum(self.entries[a].sigop_cost for a in anc)
        e.desc_count = 1 + len(desc)
        e.desc_size = e.vsize + sum(self.entries[d].vsize for d in desc)
        e.desc_fees = e.modified_fee + sum(self.entries[d].modified_fee for d in desc)
        self._rescore(e)

    def _rescore(self, e: MempoolEntry) -> None:
        e.score_version += 1
        fee, size = e.descendant_score()
        heapq.heappush(self._by_score, (fee / size, -e.sequence, e.txid, e.score_version))
        if len(self._by_score) > 4 * len(self.entries) + 4096:  # drop stale items now and then
            self._by_score = [it for it in self._by_score
                              if (x := self.entries.get(it[2])) is not None and x.score_version == it[3]]
            heapq.heapify(self._by_score)

    def _remove(self, txids: set[bytes], why: str) -> list[Transaction]:
        """Remove a set of entries, keeping the aggregates of those that stay exact."""
        removed = []
        stay_anc_updates: dict[bytes, list[MempoolEntry]] = {}
        for t in txids:
            e = self.entries[t]
            for a in self.ancestors(t):
                if a not in txids:
                    ae = self.entries[a]
                    ae.desc_count -= 1
                    ae.desc_size -= e.vsize
                    ae.desc_fees -= e.modified_fee
                    self._rescore(ae)
            for d in self.descendants(t):
                if d not in txids:
                    stay_anc_updates.setdefault(d, []).append(e)
        for d, gone in stay_anc_updates.items():
            de = self.entries[d]
            for e in gone:
                de.anc_count -= 1
                de.anc_size -= e.vsize
                de.anc_fees -= e.modified_fee
                de.anc_sigops -= e.sigop_cost
        for t in txids:
            e = self.entries.pop(t)
            del self.by_wtxid[e.wtxid]
            for txin in e.tx.inputs:
                key = (txin.prev_txid, txin.prev_index)
                if self.spenders.get(key) == t:
                    del self.spenders[key]
            for p in e.parents:
                pe = self.entries.get(p)
                if pe is not None:
                    pe.children.discard(t)
            for c in e.children:
                ce = self.entries.get(c)
                if ce is not None:
                    ce.parents.discard(t)
            self.total_vsize -= e.vsize
            self.total_fee -= e.fee
            self.usage -= e.usage
            self.updates += 1
            removed.append(e.tx)
            for cb in self.listeners:
                cb("removed:" + why, e.tx)
        return removed

    def remove_recursive(self, txid: bytes, why: str) -> list[Transaction]:
        """Remove a transaction and everything that spends it."""
        if txid in self.entries:
            return self._remove({txid} | self.descendants(txid), why)
        # Not in the pool (e.g. a disconnected tx that failed to re-enter): remove its spenders.
        kids: set[bytes] = set()
        for (prev, _), spender in list(self.spenders.items()):
            if prev == txid:
                kids.add(spender)
                kids |= self.descendants(spender)
        return self._remove(kids, why) if kids else []

    def prioritise(self, txid: bytes, fee_delta: int) -> None:
        """prioritisetransaction: add ``fee_delta`` to the fee the pool ranks ``txid`` by."""
        self.deltas[txid] = self.deltas.get(txid, 0) + fee_delta
        if self.deltas[txid] == 0:
            del self.deltas[txid]
        e = self.entries.get(txid)
        if e is not None:
            e.delta = self.deltas.get(txid, 0)
            for t in self.ancestors(txid) | self.descendants(txid) | {txid}:
                self._recompute(t)

    # ------------------------------------------------------------------ size, expiry
    def expire(self, cutoff: int | None = None) -> int:
        """Remove entries accepted before ``cutoff`` (default: now - expiry) and their descendants."""
        if cutoff is None:
            cutoff = int(self.now()) - self.opts.expiry_seconds
        old = set()
        heap = self._by_time
        while heap and heap[0][0] < cutoff:
            t_time, t = heapq.heappop(heap)
            e = self.entries.get(t)
            if e is not None and e.time == t_time:
                old.add(t)
        if len(heap) > 2 * len(self.entries) + 1024:  # drop items of removed entries now and then
            self._by_time = [(e.time, t) for t, e in self.entries.items()]
            heapq.heapify(self._by_time)
        if not old:
            return 0
        every = set(old)
        for t in old:
            every |= self.descendants(t)
        self._remove(every, "expiry")
        return len(every)

    def trim_to_size(self, limit: int) -> list[Transaction]:
        """TrimToSize: evict the entry with the lowest descendant score, with its descendants, until
        the pool fits; raise the rolling minimum fee to the evicted rate plus the incremental fee."""
        removed: list[Transaction] = []
        max_removed_rate = 0
        while self.entries and self.usage > limit:
            worst = self._lowest_score()
            fee, size = worst.descendant_score()
            rate = fee * 1000 // size + self.opts.incremental_relay_fee.sat_per_kvb
            self._track_removed(rate)
            max_removed_rate = max(max_removed_rate, rate)
            removed += self._remove({worst.txid} | self.descendants(worst.txid), "sizelimit")
        return removed

    def _lowest_score(self) -> MempoolEntry:
        """The entry Core's TrimToSize evicts next: lowest descendant score, newest among equals."""
        heap = self._by_score
        while heap:
            _, _, txid, version = heap[0]
            e = self.entries.get(txid)
            if e is not None and e.score_version == version:
                return e
            heapq.heappop(heap)
        return min(self.entries.values(), key=_score_key)  # unreachable while every entry is scored

    def _track_removed(self, rate: int) -> None:
        if rate > self.rolling_min_fee:
            self.rolling_min_fee = float(rate)
            self._block_since_bump = False

    def limit_size(self) -> None:
        """LimitMempoolSize: expire, then trim."""
        self.expire()
        self.trim_to_size(self.opts.max_size_bytes)

    # ------------------------------------------------------------------ blocks and reorgs
    def remove_for_block(self, txs: Sequence[Transaction]) -> list[Transaction]:
        """removeForBlock: drop the block's transactions and everything conflicting with them.
        Returns the conflicted (not confirmed) transactions removed."""
        confirmed: set[bytes] = set()
        conflicted: set[bytes] = set()
        for tx in txs:
            t = tx.txid
            if t in self.entries:
                confirmed.add(t)
            if tx.is_coinbase():
                continue
            for txin in tx.inputs:
                s = self.spenders.get((txin.prev_txid, txin.prev_index))
                if s is not None and s != t:
                    conflicted.add(s)
        if confirmed:
            self._remove(confirmed, "block")
        out: list[Transaction] = []
        for c in conflicted:
            if c in self.entries:
                out += self.remove_recursive(c, "conflict")
        self._last_rolling_update = int(self.now())
        self._block_since_bump = True
        return out

    def add_disconnected(self, disconnected: Sequence[Transaction]) -> None:
        """MaybeUpdateMempoolForReorg: put the transactions of disconnected blocks back (oldest first,
        without fee limits), then drop what the new tip makes invalid (non-final, immature coinbase
        spends, missing inputs), then trim. Call after the chain view shows the new tip."""
        for tx in disconnected:
            if tx.is_coinbase():
                continue
            r = self.accept(tx, bypass_limits=True)
            if not r.accepted and r.reason not in ("txn-already-in-mempool", "txn-same-nonwitness-data-in-mempool"):
                self.remove_recursive(tx.txid, "reorg")
        self.remove_invalid_for_tip()
        self.limit_size()

    def remove_invalid_for_tip(self) -> list[Transaction]:
        """removeForReorg: entries that could not be mined in the next block any more."""
        height = self.chain.tip_height() + 1
        mtp = self.chain.median_time_past()
        bad: set[bytes] = set()
        for t, e in self.entries.items():
            tx = e.tx
            if not is_final_tx(tx, height, mtp):
                bad.add(t)
                continue
            prev_heights = []
            ok = True
            for txin in tx.inputs:
                if txin.prev_txid in self.entries:
                    prev_heights.append(height)
                    continue
                c = self.chain.coin(txin.prev_txid, txin.prev_index)
                if c is None or (c.coinbase and height - c.height < 100):
                    ok = False
                    break
                prev_heights.append(c.height)
            if not ok:
                bad.add(t)
                continue
            lock = calculate_sequence_locks(tx, True, prev_heights, self.chain.mtp_at)
            if not evaluate_sequence_locks(height, mtp, lock):
                bad.add(t)
        every = set(bad)
        for t in bad:
            every |= self.descendants(t)
        return self._remove(every, "reorg") if every else []

    # ------------------------------------------------------------------ packages
    def accept_package(self, txs: Sequence[Transaction], *, test_accept: bool = False) -> PackageResult:
        """ProcessNewPackage for a child with its parents (submitpackage, 1p1c relay): each tx alone
        first; those refused only for their fee are then judged by the package's feerate, with
        package RBF for a one-parent-one-child package."""
        txs = list(txs)
        try:
            _check_well_formed(txs)
            if len(txs) > 1:
                _check_child_with_parents(txs)
        except PackageReject as p:
            return PackageResult(p.reason, {}, p.debug)
        if test_accept:
            return self._test_accept_package(txs)
        results: dict[bytes, AcceptResult] = {}
        pending: list[Transaction] = []
        replaced: list[Transaction] = []
        quit_early = False
        for tx in txs:
            wtxid, txid = tx.wtxid, tx.txid
            if wtxid in self.by_wtxid or txid in self.entries:
                e = self.entries[txid]
                results[wtxid] = AcceptResult(
                    txid, wtxid, True, vsize=e.vsize, fee=e.fee, already_in_mempool=True,
                    other_wtxid=None if e.wtxid == wtxid else e.wtxid,
                )  # fmt: skip
                continue
            if quit_early:
                continue
            r = self._accept_in_package(tx)
            if r.accepted:
                results[wtxid] = r
                replaced += r.replaced
            elif r.result in (TxResult.RECONSIDERABLE, TxResult.MISSING_INPUTS) or (
                r.result == TxResult.MEMPOOL_POLICY and r.reason == "min relay fee not met" and tx.version == TRUC_VERSION
            ):
                results[wtxid] = r
                pending.append(tx)
            else:
                results[wtxid] = r
                quit_early = True
        if quit_early or (pending and any(not results[t.wtxid].accepted for t in txs if t not in pending)):
            self.limit_size()
            return PackageResult("transaction failed", results, replaced=replaced)
        message, debug = "success", ""
        if pending:
            try:
                multi = self._accept_multiple(pending)
            except PackageReject as p:
                message, debug = p.reason, p.debug
                if p.failure is not None:
                    ws, r = p.failure
                    results[ws.wtxid] = self._reject_result(ws, r)
            else:
                for tx in pending:
                    results[tx.wtxid] = multi[tx.wtxid]
                    replaced += multi[tx.wtxid].replaced
        self.limit_size()
        for tx in txs:
            r = results.get(tx.wtxid)
            if r is not None and r.accepted and tx.txid not in self.entries:
                results[tx.wtxid] = AcceptResult(tx.txid, tx.wtxid, False, "mempool full", "", TxResult.RECONSIDERABLE)
                message = "transaction failed"
        return PackageResult(message, results, debug, replaced)

    def _accept_in_package(self, tx: Transaction) -> AcceptResult:
        ws = _Work(tx, tx.txid, tx.wtxid)
        try:
            self._pre_checks(ws, bypass_limits=False, allow_replacement=True, sibling_eviction=True,
                             package_feerates=False, temp=None)
            if ws.conflicts:
                self._replacement_checks(ws)
            self._policy_script_checks(ws)
        except MempoolReject as r:
            return self._reject_result(ws, r)
        result = self._accepted_result(ws)
        result.replaced = self._finalize(ws, int(self.now()), False)
        return result

    def _accept_multiple(self, txs: list[Transaction], test_accept: bool = False) -> dict[bytes, AcceptResult]:
        """AcceptMultipleTransactions with package feerates: all or nothing."""
        temp: dict[tuple[bytes, int], Coin] = {}
        in_package: set[bytes] = set()
        works: list[_Work] = []
        for tx in txs:
            ws = _Work(tx, tx.txid, tx.wtxid)
            ws.package_parents = {txin.prev_txid for txin in tx.inputs if txin.prev_txid in in_package}
            try:
                self._pre_checks(ws, bypass_limits=False, allow_replacement=True, sibling_eviction=False,
                                 package_feerates=True, temp=temp)
            except MempoolReject as r:
                raise PackageReject("transaction failed", failure=(ws, r)) from None
            for vout, o in enumerate(tx.outputs):
                temp[(ws.txid, vout)] = Coin(MEMPOOL_HEIGHT, False, o.value, o.script_pubkey)
            in_package.add(ws.txid)
            works.append(ws)
        total_fee = sum(w.modified_fee for w in works)
        total_vsize = sum(w.vsize for w in works)
        try:
            self._check_fee_rate(total_vsize, total_fee)
        except MempoolReject:
            raise PackageReject("transaction failed") from None
        self._check_ephemeral_spends(works)
        self._package_mempool_checks(works, total_fee, total_vsize)
        for ws in works:
            try:
                self._policy_script_checks(ws)
            except MempoolReject as r:
                raise PackageReject("transaction failed", failure=(ws, r)) from None
        rate = FeeRate.from_fee(total_fee, total_vsize)
        out: dict[bytes, AcceptResult] = {}
        wtxids = [w.wtxid for w in works]
        now = int(self.now())
        all_conflicts: set[bytes] = set()
        for w in works:
            all_conflicts |= w.all_conflicts
        if test_accept:
            for w in works:
                out[w.wtxid] = AcceptResult(w.txid, w.wtxid, True, vsize=w.vsize, fee=w.fee,
                                            effective_feerate=rate, effective_includes=wtxids)
            return out
        replaced = [self.entries[t].tx for t in all_conflicts if t in self.entries]
        if all_conflicts:
            self._remove({t for t in all_conflicts if t in self.entries}, "replaced")
        for i, w in enumerate(works):
            self._add(w, now)
            out[w.wtxid] = AcceptResult(w.txid, w.wtxid, True, vsize=w.vsize, fee=w.fee, effective_feerate=rate,
                                        effective_includes=wtxids, replaced=replaced if i == 0 else [])
        return out

    def _check_ephemeral_spends(self, works: list[_Work]) -> None:
        """CheckEphemeralSpends: a child must spend every dust output of its unconfirmed parents."""
        in_package = {w.txid: w.tx for w in works}
        for w in works:
            spent = {(txin.prev_txid, txin.prev_index) for txin in w.tx.inputs}
            for p in {txin.prev_txid for txin in w.tx.inputs}:
                ptx = in_package.get(p) or (self.entries[p].tx if p in self.entries else None)
                if ptx is None:
                    continue
                for i in dust_outputs(ptx, self.opts.dust_relay_fee):
                    if (p, i) not in spent:
                        raise PackageReject(
                            "missing-ephemeral-spends",
                            f"tx {_hex(w.txid)} (wtxid={_hex(w.wtxid)}) did not spend parent's ephemeral dust",
                        )

    def _package_mempool_checks(self, works: list[_Work], total_fee: int, total_vsize: int) -> None:
        # Package ancestor/descendant limits: the package counts as one chain.
        last = works[-1]
        anc: set[bytes] = set()
        for w in works:
            anc |= w.ancestors
        ws = _Work(last.tx, last.txid, last.wtxid)
        ws.ancestors = anc
        ws.vsize = total_vsize
        ws.all_conflicts = set().union(*(w.all_conflicts for w in works))
        try:
            self._check_ancestor_limits(ws, extra_count=len(works) - 1)
        except MempoolReject as r:
            raise PackageReject("package-mempool-limits", r.debug) from None
        conflicts = set().union(*(w.conflicts for w in works))
        if not conflicts:
            return
        if len(works) != 2:
            raise PackageReject("package RBF failed: package must be 1-parent-1-child")
        if any(w.parents for w in works):
            raise PackageReject("package RBF failed: new transaction cannot have mempool ancestors")
        all_conflicts = self._all_conflicts(conflicts)
        n = sum(self.entries[c].desc_count for c in conflicts)
        if n > MAX_REPLACEMENT_CANDIDATES:
            raise PackageReject(
                "package RBF failed: too many potential replacements",
                f"rejecting replacement {_hex(last.txid)}; too many potential replacements ({n} > {MAX_REPLACEMENT_CANDIDATES})",
            )
        original = sum(self.entries[c].modified_fee for c in all_conflicts)
        err = self._pays_for_rbf(original, total_fee, total_vsize, last.txid)
        if err is not None:
            raise PackageReject("package RBF failed: insufficient anti-DoS fees", err)
        parent = works[0]
        if total_fee * parent.vsize <= parent.modified_fee * total_vsize:
            raise PackageReject(
                "package RBF failed: package feerate is less than or equal to parent feerate",
                f"package feerate {FeeRate.from_fee(total_fee, total_vsize)} <= parent feerate is {FeeRate.from_fee(parent.modified_fee, parent.vsize)}",
            )
        # Every cluster touched must be at most two transactions (Core 30's limit for package RBF).
        for c in sorted(all_conflicts):
            e = self.entries[c]
            if e.anc_count == 2 and e.desc_count == 2:
                raise PackageReject(f"package RBF failed: {_hex(c)} has both ancestor and descendant, exceeding cluster limit of 2")
            if e.anc_count > 2:
                raise PackageReject(f"package RBF failed: {_hex(c)} has {e.anc_count - 1} ancestors, max 1 allowed")
            if e.desc_count > 2:
                raise PackageReject(f"package RBF failed: {_hex(c)} has {e.desc_count - 1} descendants, max 1 allowed")
        old_chunks = self._cluster_chunks(all_conflicts)
        remaining = self._cluster_members(all_conflicts) - all_conflicts
        new_chunks = [(total_fee, total_vsize)]  # one chunk: its feerate beats the parent's (checked above)
        new_chunks += [(self.entries[t].modified_fee, self.entries[t].vsize) for t in remaining]
        if not _improves_diagram(old_chunks, new_chunks):
            raise PackageReject("package RBF failed: insufficient feerate: does not improve feerate diagram")

    def _cluster_members(self, txids: set[bytes]) -> set[bytes]:
        out: set[bytes] = set()
        for t in txids:
            out |= {t} | self.ancestors(t) | self.descendants(t)
        return out

    def _cluster_chunks(self, txids: set[bytes]) -> list[tuple[int, int]]:
        """Chunks (fee, vsize) of the clusters (at most two transactions each) holding ``txids``."""
        chunks = []
        seen: set[bytes] = set()
        for t in sorted(self._cluster_members(txids)):
            if t in seen:
                continue
            e = self.entries[t]
            if e.parents:
                continue  # handled with its parent
            members = [e] + [self.entries[c] for c in e.children]
            seen |= {m.txid for m in members}
            if len(members) == 1:
                chunks.append((e.modified_fee, e.vsize))
            else:
                child = members[1]
                pair = (e.modified_fee + child.modified_fee, e.vsize + child.vsize)
                if pair[0] * e.vsize > e.modified_fee * pair[1]:
                    chunks.append(pair)
                else:
                    chunks += [(e.modified_fee, e.vsize), (child.modified_fee, child.vsize)]
        return chunks

    def _test_accept_package(self, txs: list[Transaction]) -> PackageResult:
        """testmempoolaccept with several transactions: each judged on its own feerate, later ones
        seeing earlier ones' outputs, no replacements; nothing is added."""
        results: dict[bytes, AcceptResult] = {}
        temp: dict[tuple[bytes, int], Coin] = {}
        failed = False
        for tx in txs:
            ws = _Work(tx, tx.txid, tx.wtxid)
            if failed:
                results[tx.wtxid] = AcceptResult(tx.txid, tx.wtxid, False, "", "", None)
                continue
            try:
                self._pre_checks(ws, bypass_limits=False, allow_replacement=False, sibling_eviction=False,
                                 package_feerates=False, temp=temp)
                self._policy_script_checks(ws)
            except MempoolReject as r:
                results[tx.wtxid] = self._reject_result(ws, r)
                failed = True
                continue
            for vout, o in enumerate(tx.outputs):
                temp[(ws.txid, vout)] = Coin(MEMPOOL_HEIGHT, False, o.value, o.script_pubkey)
            results[tx.wtxid] = self._accepted_result(ws)
        return PackageResult("transaction failed" if failed else "success", results)

    # ------------------------------------------------------------------ info
    def info(self) -> dict:
        """getmempoolinfo's fields (amounts in BTC, as Core)."""
        return {
            "loaded": True,
            "size": len(self.entries),
            "bytes": self.total_vsize,
            "usage": self.usage,
            "total_fee": self.total_fee / 1e8,
            "maxmempool": self.opts.max_size_bytes,
            "mempoolminfee": max(self.min_fee().sat_per_kvb, self.opts.min_relay_fee.sat_per_kvb) / 1e8,
            "minrelaytxfee": self.opts.min_relay_fee.sat_per_kvb / 1e8,
            "incrementalrelayfee": self.opts.incremental_relay_fee.sat_per_kvb / 1e8,
            "unbroadcastcount": 0,
            "fullrbf": True,
            "permitbaremultisig": self.opts.permit_bare_multisig,
            "maxdatacarriersize": self.opts.max_datacarrier_bytes or 0,
        }


def _score_key(e: MempoolEntry) -> tuple[float, int]:
    fee, size = e.descendant_score()
    return (fee / size, -e.sequence)  # lowest rate first; among equals the newest goes first


def _money(sat: int) -> str:
    """Core's FormatMoney: trailing zeros trimmed, at least two decimals."""
    s = format_amount(sat)
    whole, frac = s.split(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac.ljust(2, '0')}"


def _improves_diagram(old: list[tuple[int, int]], new: list[tuple[int, int]]) -> bool:
    """CompareChunks: the new fee-size diagram is nowhere below the old and somewhere above."""

    def points(chunks: list[tuple[int, int]]) -> list[tuple[int, int]]:
        chunks = sorted(chunks, key=lambda c: -c[0] / c[1] if c[1] else 0)
        pts = [(0, 0)]
        for fee, size in chunks:
            pts.append((pts[-1][0] + size, pts[-1][1] + fee))
        return pts

    def fee_at(pts: list[tuple[int, int]], x: int) -> float:
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            if x0 <= x <= x1:
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else y1
        return pts[-1][1]

    po, pn = points(old), points(new)
    xs = sorted({x for x, _ in po} | {x for x, _ in pn})
    better = False
    for x in xs:
        a, b = fee_at(po, x), fee_at(pn, x)
        if b < a - 1e-9:
            return False
        if b > a + 1e-9:
            better = True
    return better


def _check_well_formed(txs: list[Transaction]) -> None:
    """IsWellFormedPackage (policy/packages.cpp)."""
    if len(txs) > MAX_PACKAGE_COUNT:
        raise PackageReject("package-too-many-transactions")
    if sum(t.weight for t in txs) > MAX_PACKAGE_WEIGHT:
        raise PackageReject("package-too-large")
    txids = [t.txid for t in txs]
    if len(set(txids)) != len(txids):
        raise PackageReject("package-contains-duplicates")
    later = set(txids)
    for t in txs:
        later.discard(t.txid)
        if any(txin.prev_txid in later for txin in t.inputs):
            raise PackageReject("package-not-sorted")
    spent: set[tuple[bytes, int]] = set()
    for t in txs:
        for txin in t.inputs:
            key = (txin.prev_txid, txin.prev_index)
            if key in spent:
                raise PackageReject("conflict-in-package")
            spent.add(key)


def _check_child_with_parents(txs: list[Transaction]) -> None:
    """IsChildWithParents: the last tx spends an output of every other one."""
    child = txs[-1]
    inputs = {txin.prev_txid for txin in child.inputs}
    if not all(t.txid in inputs for t in txs[:-1]):
        raise PackageReject("package-not-child-with-parents")
