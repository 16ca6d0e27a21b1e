"""The script-check pool: both start methods, batching, cancellation, error texts."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.consensus.errors import (
    SCRIPT_ERROR_MESSAGES,
    script_error_message,
    script_failure_reason,
)
from packetfs.bitcoin.consensus.params import script_flags_for_block
from packetfs.bitcoin.consensus.pool import ScriptCheckPool, ScriptJob, _make_batches
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.primitives.transaction import TxOut
from packetfs.bitcoin.script import SCRIPT_ERRORS
from packetfs.bitcoin.storage.undo import decode_block_undo

NAME = "mainnet-757739"


@pytest.fixture(scope="module")
def jobs(real_blocks, real_undo):
    block = Block.from_bytes(real_blocks[NAME])
    undo = decode_block_undo(real_undo[NAME])
    flags = script_flags_for_block(757739, block.header.hash, "mainnet")
    return [
        ScriptJob(i, block.transactions[i], [TxOut(c.value, c.script_pubkey) for c in coins], flags)
        for i, coins in enumerate(undo, start=1)
    ]


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_start_methods(jobs, method):
    with ScriptCheckPool(2, start_method=method, batch_inputs=10) as pool:
        result = pool.submit(jobs).result()
    assert result.failure is None and result.inputs_verified == 91


def test_batches_cover_every_input_once(jobs):
    for size, pieces in ((1, 2), (5, 2), (1000, 1), (3, 4)):
        batches = _make_batches(jobs, size, portable=True, max_pieces=pieces)
        covered = sorted((item[0], i) for b in batches for item in b for i in range(item[4], item[5]))
        assert covered == sorted((j.tx_index, i) for j in jobs for i in range(len(j.spent_outputs)))


def test_big_transaction_split_no_finer_than_the_processes(jobs):
    biggest = max(jobs, key=lambda j: len(j.spent_outputs))
    batches = _make_batches([biggest], 1, portable=True, max_pieces=2)
    assert len(batches) == min(2, len(biggest.spent_outputs))


def test_cancelled_checks_cannot_be_read(jobs):
    with ScriptCheckPool(1) as pool:
        pending = pool.submit(jobs)
        pending.cancel()
        with pytest.raises(RuntimeError):
            pending.result()


def test_every_script_error_has_cores_text():
    api_codes = {"TX_INDEX", "TX_DESERIALIZE", "SPENT_OUTPUTS_MISMATCH", "INVALID_FLAGS", "SCRIPTNUM"}
    missing = [c for c in SCRIPT_ERRORS if c not in SCRIPT_ERROR_MESSAGES and c not in api_codes]
    assert missing == []
    assert script_error_message("SIG_DER") == "Non-canonical DER signature"
    assert script_error_message("no such code") == "unknown error"
    assert script_failure_reason("EQUALVERIFY") == (
        "mandatory-script-verify-flag-failed (Script failed an OP_EQUALVERIFY operation)"
    )


def _with_bad_amount(jobs):
    """The jobs with the first witness input's spent amount off by one (its signature then fails)."""
    k = next(k for k, j in enumerate(jobs) if any(j.tx.witnesses[0]))
    job = jobs[k]
    outs = list(job.spent_outputs)
    outs[0] = TxOut(outs[0].value + 1, outs[0].script_pubkey)
    return jobs[:k] + [ScriptJob(job.tx_index, job.tx, outs, job.flags)] + jobs[k + 1 :], (job.tx_index, 0)


def test_standing_workers_serve_block_after_block(jobs):
    bad_jobs, where = _with_bad_amount(jobs)
    with ScriptCheckPool(2, start_method="fork", batch_inputs=5) as pool:
        pool.warm_up()
        pid = pool._crew.workers[0][0].pid
        for _ in range(3):
            assert pool.submit(jobs).result() == pool.submit(jobs).result()
            failure = pool.submit(bad_jobs).result().failure
            assert (failure.tx, failure.input) == where
            pool.submit(jobs).cancel()  # cancelled checks leave the workers ready for the next block
            # Checks queued behind another block's can be cancelled before that block's are collected
            # (a chainstate's early checks for a block that never came).
            first, queued = pool.submit(bad_jobs), pool.submit(jobs)
            queued.cancel()
            failure = first.result().failure
            assert (failure.tx, failure.input) == where
        both = [pool.submit(jobs), pool.submit(jobs)]
        assert [p.result().inputs_verified for p in both] == [91, 91]
        assert pool._crew.workers[0][0].pid == pid and not pool._crew.busy  # the same process all along


def test_a_killed_standing_worker_is_reported_and_replaced(jobs):
    import os
    import signal

    with ScriptCheckPool(2, start_method="fork", batch_inputs=5) as pool:
        pool.warm_up()
        proc = pool._crew.workers[0][0]
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        with pytest.raises(RuntimeError, match="worker died"):
            pool.submit(jobs).result()
        result = pool.submit(jobs).result()  # a new worker takes over
        assert result.failure is None and result.inputs_verified == 91
        assert pool._crew.workers[0][0].pid != proc.pid


def test_checks_submitted_while_the_standing_workers_are_busy(jobs):
    # The next block's checks queue behind the current block's on the standing workers; a third
    # block while both are in flight gets workers forked for it alone. Every verdict is right,
    # whatever order they are collected in.
    bad_jobs, where = _with_bad_amount(jobs)
    with ScriptCheckPool(2, start_method="fork", batch_inputs=5) as pool:
        first = pool.submit(jobs)
        second = pool.submit(bad_jobs)
        third = pool.submit(bad_jobs)
        assert first._crew is not None and second._crew is first._crew and third._crew is None
        failure = second.result().failure
        assert (failure.tx, failure.input) == where
        failure = third.result().failure
        assert (failure.tx, failure.input) == where
        assert first.result().inputs_verified == 91
        assert pool.submit(jobs).result().failure is None  # the standing workers are free again


def test_a_worker_dying_with_two_blocks_queued_fails_both_and_the_pool_recovers(jobs):
    import os
    import signal

    with ScriptCheckPool(2, start_method="fork", batch_inputs=5) as pool:
        pool.warm_up()
        proc = pool._crew.workers[0][0]
        os.kill(proc.pid, signal.SIGSTOP)  # so it dies with both blocks still in hand
        first, queued = pool.submit(jobs), pool.submit(jobs)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        with pytest.raises(RuntimeError, match="worker died"):
            first.result()
        queued.cancel()  # no error: there is nothing to collect from a dead worker
        with pytest.raises(RuntimeError, match="cancelled"):
            queued.result()
        result = pool.submit(jobs).result()  # a new crew takes over
        assert result.failure is None and result.inputs_verified == 91
