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
