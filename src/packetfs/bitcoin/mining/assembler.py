"""Block templates from the mempool, as Core's BlockAssembler (node/miner.cpp): transactions chosen
by ancestor feerate (a package at a time, with ancestors already chosen taken off the rest of their
packages), the block weight limit less 4,000 reserved for the coinbase, the sigop limit, a coinbase
with the BIP34 height and the BIP141 witness commitment; and regtest proof of work.

The assembler reads the mempool's cached ancestor aggregates and never changes the pool.
"""

from __future__ import annotations

import heapq
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..consensus.block_rules import bip34_height_prefix
from ..consensus.constants import MAX_BLOCK_SIGOPS_COST, MAX_BLOCK_WEIGHT, WITNESS_SCALE_FACTOR
from ..consensus.params import block_subsidy
from ..consensus.pow import check_proof_of_work
from ..mempool.policy import FeeRate
from ..primitives.block import Block, BlockHeader, bits_to_target, merkle_root, witness_commitment_hash
from ..primitives.encoding import compact_size
from ..primitives.hashes import sha256d
from ..primitives.transaction import COINBASE_PREV_INDEX, COINBASE_PREV_TXID, Transaction, TxIn, TxOut

COINBASE_RESERVED_WEIGHT = 4_000
DEFAULT_BLOCK_MAX_WEIGHT = MAX_BLOCK_WEIGHT - COINBASE_RESERVED_WEIGHT
COINBASE_RESERVED_SIGOPS = 400
DEFAULT_BLOCK_MIN_TX_FEE = 1  # sat/kvB (Core 30: 0.001 sat/vB)
MAX_CONSECUTIVE_FAILURES = 1_000
BLOCK_VERSION = 0x20000000
WITNESS_RESERVED_VALUE = bytes(32)


class MiningError(ValueError):
    """A template or block could not be made (no nonce found, bad options)."""


@dataclass
class TemplateTx:
    tx: Transaction
    fee: int
    sigop_cost: int
    depends: list[int] = field(default_factory=list)  # indexes into the template's list


@dataclass
class BlockTemplate:
    """What getblocktemplate describes: the block's context and the chosen transactions in order."""

    height: int
    prev_hash: bytes
    version: int
    bits: int
    time: int
    mintime: int
    transactions: list[TemplateTx]
    coinbase_value: int
    weight: int  # of the chosen transactions plus the reserved coinbase weight
    sigop_cost: int
    segwit: bool = True

    @property
    def fees(self) -> int:
        return sum(t.fee for t in self.transactions)

    def witness_commitment_script(self) -> bytes:
        """The coinbase output that commits to the witness merkle root (BIP141)."""
        wroot = merkle_root([bytes(32)] + [t.tx.wtxid for t in self.transactions])[0]
        return b"\x6a\x24\xaa\x21\xa9\xed" + witness_commitment_hash(wroot, WITNESS_RESERVED_VALUE)

    def coinbase(self, script_pubkey: bytes, extra_nonce: bytes = b"", always_commit: bool = True) -> Transaction:
        """Core's coinbase: scriptSig = height, OP_0 (or the extra nonce); one output paying subsidy
        plus fees; the witness commitment; locktime height-1 with a non-final sequence (Core 30).
        ``always_commit=False`` leaves the commitment out of a block without witness data (valid,
        and what chains for a node without segwit need)."""
        script_sig = bip34_height_prefix(self.height) + (
            bytes((len(extra_nonce),)) + extra_nonce if extra_nonce else b"\x00"
        )
        outputs = [TxOut(self.coinbase_value, script_pubkey)]
        witness = None
        if self.segwit and (always_commit or any(t.tx.has_witness for t in self.transactions)):
            outputs.append(TxOut(0, self.witness_commitment_script()))
            witness = [(WITNESS_RESERVED_VALUE,)]
        return Transaction(
            2,
            [TxIn(COINBASE_PREV_TXID, COINBASE_PREV_INDEX, script_sig, 0xFFFFFFFE)],
            outputs,
            max(self.height - 1, 0),
            witness,
        )

    def block(self, script_pubkey: bytes, extra_nonce: bytes = b"", nonce: int = 0, always_commit: bool = True) -> Block:
        cb = self.coinbase(script_pubkey, extra_nonce, always_commit)
        txs = [cb] + [t.tx for t in self.transactions]
        root = merkle_root([t.txid for t in txs])[0]
        header = BlockHeader(self.version, self.prev_hash, root, self.time, self.bits, nonce)
        return Block(header, txs)


def _ancestor_score(fees: int, size: int, own_fee: int, own_size: int) -> float:
    # Core's CompareTxMemPoolEntryByAncestorFee: the lower of the ancestor feerate and the own feerate.
    return min(fees / size, own_fee / own_size)


def assemble(
    chainstate: object,
    mempool: object | None,
    *,
    max_weight: int = DEFAULT_BLOCK_MAX_WEIGHT,
    min_fee_rate: FeeRate = FeeRate(DEFAULT_BLOCK_MIN_TX_FEE),
    now: int | None = None,
) -> BlockTemplate:
    """BlockAssembler::CreateNewBlock on top of ``chainstate``'s tip, filling from ``mempool``."""
    cs = chainstate
    tip = cs.tip  # type: ignore[attr-defined]
    tree = cs.tree  # type: ignore[attr-defined]
    params = cs.params  # type: ignore[attr-defined]
    height = tip.height + 1
    mtp = tree.median_time_past(tip)
    block_time = max(mtp + 1, int(_time.time()) if now is None else now)
    bits = tree.expected_bits(tip, block_time)
    chosen: list = []
    weight = COINBASE_RESERVED_WEIGHT
    sigops = COINBASE_RESERVED_SIGOPS
    if mempool is not None and len(mempool):  # type: ignore[arg-type]
        chosen, weight, sigops = _add_package_txs(mempool, max_weight, min_fee_rate, weight, sigops, height, mtp)
    index = {e.txid: i for i, e in enumerate(chosen)}
    txs = [
        TemplateTx(e.tx, e.fee, e.sigop_cost, sorted(index[p] + 1 for p in e.parents if p in index)) for e in chosen
    ]
    fees = sum(e.fee for e in chosen)
    return BlockTemplate(
        height, tip.hash, BLOCK_VERSION, bits, block_time, mtp + 1, txs,
        block_subsidy(height, params) + fees, weight, sigops, height >= params.segwit_height,
    )  # fmt: skip


def _add_package_txs(mempool, max_weight, min_fee_rate, weight, sigops, height, mtp):
    """addPackageTxs: take the best package by (modified) ancestor score until nothing fits."""
    from ..consensus.tx_rules import is_final_tx

    entries = mempool.entries
    in_block: set[bytes] = set()
    failed: set[bytes] = set()
    chosen = []
    # Entries whose ancestors were partly chosen, with the remaining package's (fee, size, sigops).
    modified: dict[bytes, tuple[int, int, int]] = {}
    heap: list[tuple[float, int, bytes]] = []
    modified_version: dict[bytes, int] = {}  # a heap item is current only with the latest version
    order = sorted(
        entries.values(),
        key=lambda e: (-_ancestor_score(e.anc_fees, e.anc_size, e.modified_fee, e.vsize), e.sequence),
    )
    pos = 0
    failures = 0
    seq = 0
    while pos < len(order) or heap:
        # Skip entries already handled or superseded by a modified version.
        while pos < len(order) and (order[pos].txid in in_block or order[pos].txid in failed or order[pos].txid in modified):
            pos += 1
        while heap and (
            heap[0][2] in in_block or heap[0][2] not in modified or heap[0][1] != modified_version.get(heap[0][2])
        ):
            heapq.heappop(heap)
        cand = order[pos] if pos < len(order) else None
        use_modified = False
        if heap:
            mtxid = heap[0][2]
            mfee, msize, msig = modified[mtxid]
            me = entries[mtxid]
            mscore = _ancestor_score(mfee, msize, me.modified_fee, me.vsize)
            if cand is None or mscore > _ancestor_score(cand.anc_fees, cand.anc_size, cand.modified_fee, cand.vsize):
                use_modified = True
        if use_modified:
            heapq.heappop(heap)
            entry = entries[mtxid]
            pkg_fee, pkg_size, pkg_sigops = modified[mtxid]
        else:
            if cand is None:
                break
            entry = cand
            pos += 1
            pkg_fee, pkg_size, pkg_sigops = entry.anc_fees, entry.anc_size, entry.anc_sigops
        if pkg_fee < min_fee_rate.fee(pkg_size):
            break  # everything after pays less
        if weight + WITNESS_SCALE_FACTOR * pkg_size >= max_weight or sigops + pkg_sigops >= MAX_BLOCK_SIGOPS_COST:
            if use_modified:
                del modified[entry.txid]
                failed.add(entry.txid)
            failures += 1
            if failures > MAX_CONSECUTIVE_FAILURES and weight > max_weight - 4000:
                break
            continue
        package = {entry.txid} | {a for a in mempool.ancestors(entry.txid) if a not in in_block}
        members = [entries[t] for t in package]
        if not all(is_final_tx(m.tx, height, mtp) for m in members):
            if use_modified:
                del modified[entry.txid]
                failed.add(entry.txid)
            continue
        failures = 0
        members.sort(key=lambda m: (m.anc_count, m.sequence))
        for m in members:
            chosen.append(m)
            in_block.add(m.txid)
            modified.pop(m.txid, None)
        weight += WITNESS_SCALE_FACTOR * pkg_size
        sigops += pkg_sigops
        # UpdatePackagesForAdded: descendants of what was added lose those ancestors from their package.
        for m in members:
            for d in mempool.descendants(m.txid):
                if d in in_block:
                    continue
                de = entries[d]
                f, s, g = modified.get(d, (de.anc_fees, de.anc_size, de.anc_sigops))
                modified[d] = (f - m.modified_fee, s - m.vsize, g - m.sigop_cost)
                seq += 1
                modified_version[d] = seq
                heapq.heappush(heap, (-_ancestor_score(modified[d][0], modified[d][1], de.modified_fee, de.vsize), seq, d))
    return chosen, weight, sigops


def grind(block: Block, params: object, max_tries: int = 1 << 32) -> Block:
    """Find a nonce meeting the block's target (regtest: a couple of tries)."""
    h = block.header
    prefix = h.serialize()[:76]
    target = bits_to_target(h.bits)
    for nonce in range(min(max_tries, 1 << 32)):
        digest = sha256d(prefix + nonce.to_bytes(4, "little"))
        if int.from_bytes(digest, "little") <= target:
            header = BlockHeader(h.version, h.prev_hash, h.merkle_root, h.time, h.bits, nonce)
            assert check_proof_of_work(header.hash, header.bits, params)  # type: ignore[arg-type]
            return Block(header, block.transactions)
    raise MiningError("no nonce meets the target; change the time or the extra nonce")


def serialize_block(block: Block) -> bytes:
    return b"".join([block.header.serialize(), compact_size(len(block.transactions))] + [t.serialize() for t in block.transactions])


def mine_block(
    chainstate: object,
    mempool: object | None,
    script_pubkey: bytes,
    *,
    transactions: Sequence[Transaction] | None = None,
    now: int | None = None,
    extra_nonce: bytes = b"",
    always_commit: bool = True,
) -> Block:
    """A solved block on the tip: from the mempool, or exactly ``transactions`` (generateblock)."""
    template = assemble(chainstate, mempool if transactions is None else None, now=now)
    if transactions is not None:
        template.transactions = [TemplateTx(t, 0, 0) for t in transactions]
        template.coinbase_value = block_subsidy(template.height, chainstate.params) + _fees_of(chainstate, transactions)
    return grind(template.block(script_pubkey, extra_nonce, always_commit=always_commit), chainstate.params)


def _fees_of(chainstate: object, txs: Sequence[Transaction]) -> int:
    """Fees of ``txs`` spending chain coins or each other's outputs (0 for inputs not found)."""
    made: dict[tuple[bytes, int], int] = {}
    fees = 0
    for tx in txs:
        value_in = 0
        for txin in tx.inputs:
            key = (txin.prev_txid, txin.prev_index)
            if key in made:
                value_in += made.pop(key)
            else:
                c = chainstate.utxo.get(*key)  # type: ignore[attr-defined]
                if c is None:
                    return 0
                value_in += c.value
        for i, o in enumerate(tx.outputs):
            made[(tx.txid, i)] = o.value
        fees += value_in - sum(o.value for o in tx.outputs)
    return max(fees, 0)  # type: ignore[attr-defined]
