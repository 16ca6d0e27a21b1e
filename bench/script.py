"""Script verification: every input of the three real blocks with undo data, ours on all cores
(a fork-based process pool fed with batches of inputs) against libbitcoinkernel's
``ScriptPubkey.verify`` looped over the same inputs, in the same run.

Both sides start from the same in-memory data: raw transaction bytes and the spent outputs decoded
from the undo files (pbk's output objects are built before timing, as ours are). Timed on each
side: deserializing each transaction, its precomputed signature-hash data, and verifying every
input with the mainnet flags for the block's height. Our process-local caches (parsed keys) are
cleared at the start of every timed run so repeats do not warm each other.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import time
from pathlib import Path

from packetfs.bitcoin.primitives import Block, Transaction, TxOut
from packetfs.bitcoin.script import PrecomputedTxData, ScriptError, ScriptFlags, crypto, verify_tx_input
from packetfs.bitcoin.storage.undo import decode_block_undo

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "blocks"
BLOCKS = {"mainnet-367891": 367891, "mainnet-757739": 757739, "mainnet-866342": 866342}
BATCH_INPUTS = 256
REPEATS = 5


def mainnet_flags(height: int) -> int:
    f = ScriptFlags.P2SH
    for h, bit in ((363725, ScriptFlags.DERSIG), (388381, ScriptFlags.CHECKLOCKTIMEVERIFY),
                   (419328, ScriptFlags.CHECKSEQUENCEVERIFY), (481824, ScriptFlags.WITNESS | ScriptFlags.NULLDUMMY),
                   (709632, ScriptFlags.TAPROOT)):  # fmt: skip
        if height >= h:
            f |= bit
    return int(f)


# Filled before the pool forks, so workers inherit it without pickling: (raw tx, spent, flags).
TXS: list[tuple[bytes, list[TxOut], int]] = []


def load() -> None:
    for name, height in BLOCKS.items():
        block = Block.from_bytes((DATA / f"{name}.block").read_bytes())
        undo = decode_block_undo((DATA / f"{name}.undo").read_bytes())
        flags = mainnet_flags(height)
        for tx, coins in zip(block.transactions[1:], undo, strict=True):
            TXS.append((tx.serialize(), [TxOut(c.value, c.script_pubkey) for c in coins], flags))


def batches() -> list[tuple[int, int, int]]:
    """(tx number, first input, end input): whole small txs grouped, big txs split."""
    out = []
    for k, (_raw, spent, _) in enumerate(TXS):
        n = len(spent)
        for start in range(0, n, BATCH_INPUTS):
            out.append((k, start, min(n, start + BATCH_INPUTS)))
    return out


_RUN = [-1]
_PARSED: dict[int, tuple[Transaction, PrecomputedTxData]] = {}


def _work(task: tuple[int, list[tuple[int, int, int]]]) -> tuple[int, int, float, float]:
    run, jobs = task
    if _RUN[0] != run:  # a new timed run: start cold
        _RUN[0] = run
        crypto._PUBKEY_CACHE.clear()
        crypto._XONLY_CACHE.clear()
        _PARSED.clear()
        crypto.enable_stats(True)
    secp0 = crypto.STATS[1]
    t0 = time.perf_counter()
    n = bad = 0
    for k, start, end in jobs:
        raw, spent, flags = TXS[k]
        # A big transaction is split over several batches: parse it once per worker per run.
        got = _PARSED.get(k)
        if got is None:
            tx = Transaction.from_bytes(raw)
            got = _PARSED[k] = (tx, PrecomputedTxData(tx, spent))
        tx, cache = got
        for i in range(start, end):
            try:
                verify_tx_input(tx, i, spent, flags, cache)
            except ScriptError:
                bad += 1
            n += 1
    return n, bad, crypto.STATS[1] - secp0, time.perf_counter() - t0


def _chunks(jobs, size):
    """Group small batches so each task carries about BATCH_INPUTS inputs."""
    out, cur, count = [], [], 0
    for j in jobs:
        cur.append(j)
        count += j[2] - j[1]
        if count >= size:
            out.append(cur)
            cur, count = [], 0
    if cur:
        out.append(cur)
    return out


def run_ours(pool, tasks, run: int):
    t0 = time.perf_counter()
    results = pool.map(_work, [(run, t) for t in tasks], chunksize=1)
    wall = time.perf_counter() - t0
    n = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    secp = sum(r[2] for r in results)
    busy = sum(r[3] for r in results)
    return wall, n, bad, secp, busy


def pbk_prepare():
    import pbk
    from pbk.script import PrecomputedTransactionData

    prepared = []
    for raw, spent, flags in TXS:
        outs = [pbk.TransactionOutput(pbk.ScriptPubkey(o.script_pubkey), o.value) for o in spent]
        spks = [o.script_pubkey for o in outs]
        prepared.append((raw, outs, spks, [o.value for o in spent], pbk.ScriptVerificationFlags(flags)))
    return prepared, pbk, PrecomputedTransactionData


def run_pbk(prepared, pbk, Precomputed) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    n = bad = 0
    for raw, outs, spks, values, flags in prepared:
        tx = pbk.Transaction(raw)
        pre = Precomputed(tx, outs)
        for i, spk in enumerate(spks):
            try:
                ok = spk.verify(values[i], tx, pre, i, flags)
            except pbk.ScriptVerifyException:
                ok = False
            bad += not ok
            n += 1
    return time.perf_counter() - t0, n, bad


def _measure(pool, tasks, prepared, pbk, precomputed, total_inputs, cores, label, run_base):
    ours_times, secp_shares, single, pbk_times = [], [], [], []
    for run in range(REPEATS):
        wall, n, bad, secp, busy = run_ours(pool, tasks, run_base + run)
        assert n == total_inputs and bad == 0, (n, bad)
        ours_times.append(wall)
        secp_shares.append(secp / busy if busy else 0.0)
    for run in range(3):  # our single-process throughput too, to show what the pool adds
        t0 = time.perf_counter()
        sum(_work((run_base + 100 + run, t))[0] for t in tasks)
        single.append(time.perf_counter() - t0)
    for _ in range(REPEATS):
        wall, n, bad = run_pbk(prepared, pbk, precomputed)
        assert n == total_inputs and bad == 0, (n, bad)
        pbk_times.append(wall)
    ours, one, ref = (statistics.median(x) for x in (ours_times, single, pbk_times))
    print(f"-- {label}: {total_inputs} inputs")
    print(
        f"ours ({cores} processes): {total_inputs / ours:12,.0f} inputs/s  (median {ours:.3f}s of {REPEATS})"
    )
    print(f"ours (1 process):    {total_inputs / one:12,.0f} inputs/s  (median {one:.3f}s of 3)")
    print(f"pbk verify loop:     {total_inputs / ref:12,.0f} inputs/s  (median {ref:.3f}s of {REPEATS})")
    print(f"ratio ours/pbk: {ref / ours:.2f}x all cores, {ref / one:.2f}x one process")
    print(f"share of our worker time inside libsecp256k1: {statistics.median(secp_shares):.0%}")


def main() -> None:
    if not DATA.exists():
        print(f"skipped: {DATA} is missing (the real blocks live in ../shared/data)")
        return
    load()
    cores = os.cpu_count() or 1
    print(
        f"{sum(len(s) for _, s, _ in TXS)} inputs in {len(TXS)} transactions of {len(BLOCKS)} blocks; {cores} cores"
    )
    prepared, pbk, precomputed = pbk_prepare()
    # Block 367891 holds one 20,000-input transaction of OP_TRUE spends on which the kernel's
    # per-call cost grows with the transaction; report with and without it so neither hides.
    big = {k for k, (_, spent, _) in enumerate(TXS) if len(spent) >= 10_000}
    ctx = mp.get_context("fork")
    with ctx.Pool(cores) as pool:
        first = _chunks(batches(), BATCH_INPUTS)[0]
        pool.map(_work, [(-2, first)] * cores)  # start the workers (imports done) before timing
        for label, keep, base in (
            ("all inputs", lambda k: True, 0),
            ("without the 20,000-input tx", lambda k: k not in big, 1000),
        ):
            jobs = [j for j in batches() if keep(j[0])]
            total = sum(j[2] - j[1] for j in jobs)
            sub = [p for k, p in enumerate(prepared) if keep(k)]
            _measure(pool, _chunks(jobs, BATCH_INPUTS), sub, pbk, precomputed, total, cores, label, base)
    crypto.enable_stats(False)


if __name__ == "__main__":
    main()
