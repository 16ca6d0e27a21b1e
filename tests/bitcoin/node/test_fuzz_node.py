"""Hypothesis drives a live node (in a thread) with well-framed messages whose payloads are random or
mutations of valid ones: whatever arrives, the node answers or disconnects the sender, never crashes, and
keeps serving an honest peer afterwards."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.consensus.params import get_params
from packetfs.bitcoin.net.messages import MESSAGE_TYPES
from packetfs.bitcoin.node.node import Node, NodeConfig

_sources = itertools.count(1)


@pytest.fixture(scope="module")
def live_node(tmp_path_factory, synced_datadir):
    datadir = tmp_path_factory.mktemp("fuzz") / "node"
    synced_datadir(460, "raw", datadir)  # a node with a chain: getheaders/getblocks/getdata have answers
    loop = asyncio.new_event_loop()
    node = Node(NodeConfig("regtest", datadir, port=0, bind="127.0.0.1", progress_interval=3600))
    started = threading.Event()
    errors: list[BaseException] = []
    internal: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = internal.append  # type: ignore[method-assign]
    logging.getLogger("packetfs.node").addHandler(handler)
    node.internal_errors = internal  # type: ignore[attr-defined]

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(node.start())
            started.set()
            loop.run_until_complete(node._stop.wait())
            loop.run_until_complete(node.stop())
        except BaseException as e:  # noqa: BLE001 - reported to the test
            errors.append(e)
            started.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert started.wait(30) and not errors, errors
    yield node
    loop.call_soon_threadsafe(node._stop.set)
    t.join(30)
    logging.getLogger("packetfs.node").removeHandler(handler)
    assert not t.is_alive() and not errors, errors


def _sample_payloads() -> dict[str, bytes]:
    g = get_params("regtest").genesis
    return {
        "block": g.serialize(), "headers": b"\x01" + g.header.serialize() + b"\x00",
        "inv": b"\x01" + (2).to_bytes(4, "little") + g.header.hash, "getdata": b"\x01" + (4).to_bytes(4, "little") + g.header.hash,
        "getheaders": (70016).to_bytes(4, "little") + b"\x01" + g.header.hash + bytes(32),
        "getblocks": (70016).to_bytes(4, "little") + b"\x01" + bytes(32) + bytes(32),
        "getblocktxn": g.header.hash + b"\x02\x00\x00",
        "cmpctblock": g.header.serialize() + bytes(8) + b"\x01" + bytes(6) + b"\x01\x00" + g.transactions[0].serialize(),
        "blocktxn": g.header.hash + b"\x01" + g.transactions[0].serialize(),
        "sendcmpct": b"\x01" + (2).to_bytes(8, "little"), "addr": b"\x00", "addrv2": b"\x00",
        "tx": g.transactions[0].serialize(), "notfound": b"\x00", "feefilter": bytes(8), "ping": bytes(8),
    }


SAMPLES = _sample_payloads()


@st.composite
def messages(draw):
    command = draw(st.sampled_from(sorted(MESSAGE_TYPES)))
    base = SAMPLES.get(command, b"")
    if draw(st.booleans()) or not base:
        payload = draw(st.binary(max_size=200))
    else:
        b = bytearray(base)
        for _ in range(draw(st.integers(0, 4))):
            if b:
                b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
        payload = bytes(b[: draw(st.integers(0, len(b)))]) if draw(st.booleans()) else bytes(b)
    return command, payload




@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(messages(), min_size=1, max_size=4))
def test_random_messages_never_crash_the_node(live_node, raw_peer, frame, batch) -> None:
    n = next(_sources)
    source = f"127.1.{n // 250}.{n % 250 + 1}"
    p = raw_peer(live_node.port, source)
    try:
        p.handshake()
        for command, payload in batch:
            p.send(frame(command.encode(), payload))
        p.send(frame(b"ping", b"\x01" * 8))
        p.sock.settimeout(5)
        try:
            while p.recv_msg()[0] != "pong":
                pass
        except (ConnectionError, OSError):
            pass  # disconnected for misbehaving: fine
    except (ConnectionError, OSError):
        pass
    finally:
        p.close()
    assert not live_node._stop.is_set()
    assert not live_node.internal_errors, [r.getMessage() for r in live_node.internal_errors]


def test_node_still_serves_after_the_fuzzing(live_node, raw_peer, frame) -> None:
    p = raw_peer(live_node.port, "127.0.0.1")
    p.handshake()
    p.send(frame(b"ping", b"\x07" * 8))
    assert p.wait_for("pong") == b"\x07" * 8
