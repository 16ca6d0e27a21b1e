"""The decoding process channel (node/decoder_process.py): jobs answered in order from the event loop,
failures reported per job, a killed worker fails what it held, close leaves no process behind."""

from __future__ import annotations

import asyncio
import operator
import os
import signal
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from packetfs.bitcoin.node.decoder_process import DecoderProcess


async def _until(cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:  # a zombie not reaped yet counts as gone
        return f.read().split(") ", 1)[1].startswith("Z")


def test_jobs_answered_in_order_with_errors_per_job() -> None:
    async def body():
        d = DecoderProcess(operator.truediv)
        try:
            # Submitted before the worker has started: they wait in the pipe.
            futs = [d.submit(i, 4) for i in range(50)]
            bad = d.submit(1, 0)
            after = d.submit(9, 3)
            results = [await f for f in futs]
            assert results == [i / 4 for i in range(50)]
            with pytest.raises(RuntimeError, match="ZeroDivisionError"):
                await bad
            assert await after == 3.0  # a failing job does not stop the worker
            assert d.ready
        finally:
            d.close()
        assert d.pid is not None and _gone(d.pid)

    asyncio.run(body())


def test_large_jobs_and_results_cross_the_pipes() -> None:
    """Payloads far above a pipe's buffer (64 KiB) go through the non-blocking writer and reader."""

    async def body():
        d = DecoderProcess(operator.add)
        try:
            a, b = os.urandom(3 << 20), os.urandom(1 << 20)
            futs = [d.submit(a, b), d.submit(b, a), d.submit(b"", b"z")]
            assert await futs[0] == a + b
            assert await futs[1] == b + a
            assert await futs[2] == b"z"
        finally:
            d.close()

    asyncio.run(body())


def test_many_results_in_one_read_are_each_answered_in_order() -> None:
    """Hundreds of results of a few hundred bytes to ~40 KiB, many to one 1 MiB read, some split across
    reads: each future gets its own result, in order."""

    async def body():
        d = DecoderProcess(operator.mul)
        try:
            sizes = [(i * 7919) % 40_000 for i in range(400)]
            futs = [d.submit(bytes([i % 256]), n) for i, n in enumerate(sizes)]
            for i, (f, n) in enumerate(zip(futs, sizes, strict=True)):
                assert await f == bytes([i % 256]) * n
        finally:
            d.close()

    asyncio.run(body())


def test_killed_worker_fails_pending_jobs_and_refuses_more() -> None:
    async def body():
        d = DecoderProcess(time.sleep)
        try:
            await _until(lambda: d.ready)
            pending = [d.submit(5.0), d.submit(0.0)]
            os.kill(d.pid, signal.SIGKILL)
            for f in pending:
                with pytest.raises(BrokenProcessPool):
                    await asyncio.wait_for(f, 30)
            assert d.broken
            with pytest.raises(BrokenProcessPool):
                d.submit(0.0)
        finally:
            d.close()
        assert _gone(d.pid)

    asyncio.run(body())


def test_close_stops_a_busy_worker() -> None:
    async def body():
        d = DecoderProcess(time.sleep)
        await _until(lambda: d.ready)
        fut = d.submit(30.0)
        t0 = time.monotonic()
        d.close(timeout=0.5)
        assert time.monotonic() - t0 < 10
        assert fut.cancelled()
        assert _gone(d.pid)

    asyncio.run(body())


def test_a_decoded_block_whose_body_does_not_match_its_header_is_not_used_for_later_frames() -> None:
    """decode_frame_job keeps a decoded block's txids and outputs for frames that name it as an in-flight
    ancestor, but only when its transactions are the ones its header commits to: a block with the right
    header and another body must not make an honest sender's frame of a child fail (the child gets
    'missing' and its caller resolves the ancestor from blocks whose merkle root matched)."""
    from pathlib import Path

    import packetfs
    from packetfs.bitcoin.codec import encode_block
    from packetfs.bitcoin.node import decoder_process
    from packetfs.bitcoin.primitives.block import Block

    raw = (Path(packetfs.__file__).parent / "data" / "mainnet-757739.block").read_bytes()
    good = Block.from_bytes(raw)
    mutated = bytearray(raw)
    mutated[-1] ^= 1  # the last transaction's locktime: its txid, so the merkle root, change
    bad = Block.from_bytes(bytes(mutated))
    assert bad.hash == good.hash and bad.compute_merkle_root()[0] != bad.header.merkle_root
    decoder_process._DECODED.clear()
    try:
        for block_raw in (raw, bytes(mutated)):
            result = decoder_process.decode_frame_job(encode_block(block_raw), None)
            assert result[0] == "ok" and result[1] == block_raw
            # A child frame naming this block in flight: resolved here for the true block, 'missing' for the
            # mutated one (the frame's bytes do not matter for that answer).
            child = decoder_process.decode_frame_job(b"\x00" * 8, {}, {}, {(757739, 1): good.hash})
            if block_raw == raw:
                assert child[0] != "missing"
                decoder_process._DECODED.clear()
            else:
                assert child == ("missing", good.hash)
    finally:
        decoder_process._DECODED.clear()
