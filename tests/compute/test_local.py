"""The local backend: worker processes over loopback UDP give exactly the inline backend's results, also
when datagrams are dropped and duplicated on purpose; a killed worker fails the run fast and clearly."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.compute import IMM, BackendError, Instruction, Op, Program, get_backend, run_program
from packetfs.compute.backends import transport

I = Instruction  # noqa: E741


def mixed_program(num_nodes: int = 4) -> Program:
    """Touches every routing path: fixed nodes, ANY, HOP, loads/stores to sharded memory, REDUCE, EMIT."""
    return Program(
        [
            I(Op.CID, dst=10),                                   # 0
            I(Op.MUL, dst=11, a=10, b=IMM, imm=8),               # 1: own 8-byte cell at 8*cid
            I(Op.LOAD, dst=12, a=11, width=8),                   # 2: initial value from the image
            I(Op.ADD, dst=12, a=12, b=0, node=1),                # 3
            I(Op.STORE, a=11, b=12, width=8),                    # 4
            I(Op.HOP, a=IMM, imm=2),                             # 5
            I(Op.NODEID, dst=13),                                # 6: runs on node 2
            I(Op.RADD, a=12, imm=0, node=3),                     # 7
            I(Op.I2F, dst=14, a=12, width=4, signed=True),       # 8
            I(Op.RFSUM, a=14, imm=1),                            # 9: ANY: partial sums on node 2, merged
            I(Op.EMIT, dst=1, a=12, count=2),                    # 10
            I(Op.MODU, dst=15, a=10, b=IMM, imm=7),
            I(Op.BR, a=15, alt=14),                              # 12: cid % 7 == 0 -> trap
            I(Op.TRAP, a=10),                                    # 13
            I(Op.HALT, a=13),                                    # 14
        ],
        num_nodes=num_nodes, memory=np.arange(4096, dtype="<u8").tobytes(), block_shift=7,
    )  # fmt: skip


def assert_same(a, b) -> None:
    assert (a.packets == b.packets).all()
    assert (a.emits[["computation_id", "seq", "lane", "tag", "width", "value"]] == b.emits[["computation_id", "seq", "lane", "tag", "width", "value"]]).all()
    assert a.accumulators == b.accumulators
    assert a.memory == b.memory


def test_local_matches_inline_exactly():
    prog = mixed_program()
    x = np.random.default_rng(0).integers(0, 2**40, (2000, 1), dtype=np.uint64)
    ref = run_program(prog, prog.packets(2000, inputs=x), collect_memory=True)
    assert not ref.ok and len(ref.faults()) == len(range(0, 2000, 7))  # the TRAPs are ERROR packets
    with get_backend("local", nodes=3) as b:
        got = b.run(prog, prog.packets(2000, inputs=x), collect_memory=True)
        assert_same(ref, got)
        assert got.stats.messages > 0 and got.stats.hops == ref.stats.hops
        again = b.run(prog, prog.packets(2000, inputs=x), collect_memory=True)  # workers are reused
        assert_same(ref, again)


def test_dropped_and_duplicated_datagrams_change_nothing():
    prog = mixed_program()
    x = np.random.default_rng(1).integers(0, 2**40, (3000, 1), dtype=np.uint64)
    ref = run_program(prog, prog.packets(3000, inputs=x), collect_memory=True)
    with get_backend("local", nodes=2, drop_rate=0.25, dup_rate=0.25, seed=7) as b:
        got = b.run(prog, prog.packets(3000, inputs=x), collect_memory=True)
    assert_same(ref, got)
    assert got.stats.retransmits > 0 and got.stats.duplicates > 0  # the faults really happened


def test_killed_worker_fails_fast_with_a_clear_error():
    prog = Program([I(Op.ADD, dst=0, a=0, b=IMM, imm=1, node=i % 2) for i in range(50)] + [I(Op.NOP, next=0)], num_nodes=2)
    b = get_backend("local", nodes=2)
    try:
        b.run(prog, prog.packets(10), max_steps=200)  # start the workers
        victim = b.procs[1]
        threading.Timer(0.5, os.kill, (victim.pid, signal.SIGKILL)).start()
        t0 = time.monotonic()
        with pytest.raises(BackendError, match="worker 1 .* died"):
            b.run(prog, prog.packets(100), max_steps=2**31)  # would loop for a very long time
        assert time.monotonic() - t0 < 10
        assert not victim.is_alive() and not b.procs  # everything stopped
        with pytest.raises(BackendError, match="unusable"):
            b.run(prog, prog.packets(1))
    finally:
        b.close()


def test_foreign_and_malformed_datagrams_are_dropped():
    a = transport.Link(0, token=1)
    c = transport.Link(1, token=1)
    peers = {0: a.addr, 1: c.addr}
    a.set_peers(peers)
    c.set_peers(peers)
    a.reset(5)
    c.reset(5)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        stranger.sendto(b"garbage", c.addr)
        good = transport.encode(transport.Header(transport.KIND_DATA, 0, 5, 1, 0, 0, 1))
        stranger.sendto(good, c.addr)  # right format, wrong source address
        a.sock.sendto(transport.encode(transport.Header(transport.KIND_DATA, 0, 5, 1, 0, 0, 2)), c.addr)  # wrong token
        a.send(1, transport.KIND_DATA, b"", 0)
        time.sleep(0.05)
        got = c.receive()
        assert len(got) == 1 and c.stats.rejected == 3
    finally:
        stranger.close()
        a.close()
        c.close()


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_datagram_header_decoder_fuzz(data):
    try:
        h = transport.decode_header(data)
    except transport.TransportError:
        return
    assert len(data) == transport.HEADER_SIZE + h.count * transport.RECORD_SIZE[h.kind]
    assert transport.encode(h, data[transport.HEADER_SIZE :]) == data
