"""SwiftSync from a peer (getbspent/bspent) against the ordinary import of the same chain: same tip and
UTXO digest once the node has synced the rest; wrong hints, a peer lying about a coin, a peer leaving a
coin out and a peer sending a bad block are each detected, fall back to ordinary validation, get the
liar discouraged (never whoever told the truth) and end with the same utxo_digest.

The serving nodes run in this process on free loopback ports, inside the test's own event loop, and are
stopped in ``finally``; the client's validation workers come from a fork server that the phase shuts
down before returning."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from process_group import stop_process_group

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.node.addrbook import BanList
from packetfs.bitcoin.node.node import Node, NodeConfig
from packetfs.bitcoin.node.sync_cli import sync_from_peer
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.storage.undo import Coin
from packetfs.bitcoin.swiftsync import Hints
from packetfs.bitcoin.swiftsync.netsync import swiftsync_from_peers
from packetfs.bitcoin.swiftsync.serve import SpentCoinServer, attach_bspent_server

from .conftest import CHAIN_BLOCKS, HINTS_HEIGHT, chain_info

LIE_HEIGHT = 105  # a block with spends (transactions start after 100)


def serving_node(chain, root: Path, name: str) -> Node:
    datadir = root / name
    shutil.copytree(chain.reference_datadir, datadir)
    node = Node(NodeConfig("regtest", datadir, port=0, bind="127.0.0.1", listen=True, jobs=1))
    return node


def block_hash_at(chain, height: int) -> bytes:
    return Block.from_bytes(chain.records[height][0]).hash


async def run_phase(servers: list[Node], client: Path, hints: Hints, **kw):
    for s in servers:
        await s.start()
    try:
        return await swiftsync_from_peers(client, "regtest", [("127.0.0.1", s.port) for s in servers], hints,
                                          jobs=2, timeout=120, request_timeout=20, **kw)  # fmt: skip
    finally:
        for s in servers:
            await s.stop()


async def finish_sync(chain, root: Path, client: Path) -> str:
    """The node's ordinary sync from an honest peer, after the phase: the utxo_digest it ends with."""
    honest = serving_node(chain, root, "honest")
    await honest.start()
    try:
        report = await sync_from_peer(client, "regtest", "127.0.0.1", honest.port, "plain", timeout=120)
    finally:
        await honest.stop()
    return report.utxo_digest


def test_swiftsync_from_a_peer_equals_ordinary_sync(chain, tmp_path):
    server = serving_node(chain, tmp_path, "server")
    served = attach_bspent_server(server)
    hints = Hints.read(chain.hints)
    result = asyncio.run(run_phase([server], tmp_path / "client", hints))
    assert result.mode == "swiftsync", result.fallback_reason
    assert result.blocks_swiftsync == HINTS_HEIGHT == result.tip_height
    assert result.inputs_script_checked > 500 and result.utxos_from_hints > 0
    assert served.served == HINTS_HEIGHT and not result.discouraged
    assert result.bytes_received > 0
    digest = asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client"))
    info = chain_info(tmp_path / "client")
    assert info["height"] == CHAIN_BLOCKS and digest == chain.reference["utxo_digest"]
    assert info == chain.reference
    assert not (tmp_path / "client" / "swiftsync-spool.dat").exists()


def test_wrong_hints_fall_back_and_blame_nobody(chain, tmp_path):
    server = serving_node(chain, tmp_path, "server")
    attach_bspent_server(server)
    good = Hints.read(chain.hints)
    wrong = Hints(good.height, [*good.unspent[:-1], good.unspent[-1][1:]])  # one unspent output left out
    result = asyncio.run(run_phase([server], tmp_path / "client", wrong))
    assert result.mode == "fallback" and "hints are wrong" in result.fallback_reason
    assert not result.discouraged and result.blocks_ordinary == HINTS_HEIGHT == result.tip_height
    assert asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client")) == chain.reference["utxo_digest"]


class _LyingCoins(SpentCoinServer):
    """Serves the coins of one block altered by ``change``."""

    def __init__(self, node, target: bytes, change):
        super().__init__(node)
        self.target, self.change = target, change

    def undo_for(self, block_hash):
        undo = super().undo_for(block_hash)
        if undo is not None and block_hash == self.target:
            undo = self.change([list(tx) for tx in undo])
        return undo


def _wrong_value(undo: list[list[Coin]]) -> list[list[Coin]]:
    c = undo[-1][-1]
    undo[-1][-1] = c._replace(value=c.value - 1)
    return undo


def _missing_coin(undo: list[list[Coin]]) -> list[list[Coin]]:
    undo[-1] = undo[-1][:-1]
    return undo


# A missing coin beside an honest peer is asked of that peer instead (no fallback):
# test_netsync_frames.py's test_a_missing_or_extra_coin_is_asked_of_another_peer.
@pytest.mark.parametrize("change, why", [(_wrong_value, "served wrong spent coins")])
def test_lying_peer_is_discouraged_and_the_honest_one_is_not(chain, tmp_path, change, why):
    liar = serving_node(chain, tmp_path, "liar")
    _LyingCoins(liar, block_hash_at(chain, LIE_HEIGHT), change)
    honest = serving_node(chain, tmp_path, "honest0")
    attach_bspent_server(honest)
    result = asyncio.run(run_phase([liar, honest], tmp_path / "client", Hints.read(chain.hints)))
    assert result.mode == "fallback"
    assert list(result.discouraged) == ["127.0.0.1"] and why in result.discouraged["127.0.0.1"]
    assert BanList(tmp_path / "client" / "banlist.json").is_banned("127.0.0.1")
    # Ordinary validation from genesis over the spooled blocks; the rest comes from the node's sync.
    assert result.tip_height >= 1
    assert asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client")) == chain.reference["utxo_digest"]


def test_bad_block_is_detected_and_its_sender_discouraged(chain, tmp_path):
    bad = serving_node(chain, tmp_path, "bad")
    attach_bspent_server(bad)
    target = block_hash_at(chain, LIE_HEIGHT)
    read = bad._read_block

    def mutated(entry):
        raw = read(entry)
        if entry.hash != target:
            return raw
        b = bytearray(raw)
        b[-10] ^= 1  # inside the last transaction: its txid, so the merkle root, no longer match
        return bytes(b)

    bad._read_block = mutated
    result = asyncio.run(run_phase([bad], tmp_path / "client", Hints.read(chain.hints)))
    assert result.mode == "fallback" and f"block {LIE_HEIGHT} failed" in result.fallback_reason
    assert "invalid block" in result.discouraged["127.0.0.1"]
    # The last trusted point: every block below the bad one, validated the ordinary way.
    assert result.tip_height == LIE_HEIGHT - 1
    with Chainstate(tmp_path / "client", "regtest", readonly=True) as cs:
        assert cs.tip.hash == block_hash_at(chain, LIE_HEIGHT - 1)
    assert asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client")) == chain.reference["utxo_digest"]


def test_sync_command_swiftsync_mode_fetches_spent_coins_from_the_peer(chain, tmp_path):
    """`packetfs bitcoin sync --mode swiftsync --hints F` (no --blocks-dir): the network path, end to end."""
    import threading

    server = serving_node(chain, tmp_path, "server")
    served = attach_bspent_server(server)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
        proc = subprocess.run([sys.executable, "-m", "packetfs.cli", "bitcoin", "sync", "--mode", "swiftsync",
                               "--connect", f"127.0.0.1:{server.port}", "--datadir", str(tmp_path / "client"),
                               "--hints", str(chain.hints), "-j", "2", "--timeout", "120", "--json", "--progress"],
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    sw = r["stages"]["swiftsync"]
    assert sw["mode"] == "swiftsync" and sw["blocks_swiftsync"] == HINTS_HEIGHT and sw["source"] == "peer (getbspent)"
    assert served.served == HINTS_HEIGHT and sw["bytes_received"] > 0
    assert (r["height"], r["utxo_digest"]) == (CHAIN_BLOCKS, chain.reference["utxo_digest"])



def _start(datadir: Path, *args: str) -> subprocess.Popen:
    datadir.mkdir(parents=True, exist_ok=True)
    with open(datadir / "stderr.txt", "ab") as out:
        return subprocess.Popen([str(Path(sys.executable).parent / "packetfs"), "node", "--network", "regtest",
                                 "--datadir", str(datadir), "--bind", "127.0.0.1", "--no-rpc", *args],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip


def _wait_for(predicate, proc: subprocess.Popen, datadir: Path, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        assert proc.poll() is None, (datadir / "stderr.txt").read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"timed out; log: {(datadir / 'stderr.txt').read_text()[-3000:]}")


def test_node_swiftsync_option_then_carries_on_normally(chain, tmp_path):
    """`packetfs node --swiftsync F --connect P`: the phase, then the ordinary node up to the peer's tip."""
    shutil.copytree(chain.reference_datadir, tmp_path / "server")
    server = _start(tmp_path / "server", "--port", "0")
    client = None
    try:
        log = tmp_path / "server" / "debug.log"
        port = _wait_for(lambda: log.exists() and (m := re.search(r"listening on [\d.]+:(\d+)", log.read_text()))
                         and int(m.group(1)), server, tmp_path / "server")  # fmt: skip
        client = _start(tmp_path / "client", "--no-listen", "--connect", f"127.0.0.1:{port}",
                        "--swiftsync", str(chain.hints), "--jobs", "2")  # fmt: skip
        status = tmp_path / "client" / "node-status.json"

        def synced() -> bool:
            try:
                return json.loads(status.read_text())["height"] == CHAIN_BLOCKS
            except (OSError, ValueError, KeyError):
                return False

        _wait_for(synced, client, tmp_path / "client")
        assert f"SwiftSync: blocks 1..{HINTS_HEIGHT} validated" in (tmp_path / "client" / "debug.log").read_text()
    finally:
        if client is not None:
            assert stop_process_group(client, timeout=20) == 0
        stop_process_group(server, timeout=20)
    assert chain_info(tmp_path / "client") == chain.reference


@pytest.fixture
def local_ray():
    """One local Ray instance for the test (the executor uses it and leaves it), always shut down."""
    ray = pytest.importorskip("ray", reason="the ray executor needs the 'ray' extra")
    assert not ray.is_initialized()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow  # a Ray start (~12 s); test_executors.py keeps Ray in the fast suite for the import path
def test_ray_executor_gives_the_same_verdict_as_local_processes(chain, tmp_path, local_ray):
    salt = bytes(range(64))
    good = Hints.read(chain.hints)
    wrong = Hints(good.height, [*good.unspent[:-1], []])
    outcomes = {}
    for executor in ("local", "ray"):
        for name, hints in (("good", good), ("wrong", wrong)):
            server = serving_node(chain, tmp_path / executor, name + "-server")
            attach_bspent_server(server)
            client = tmp_path / executor / name
            r = asyncio.run(run_phase([server], client, hints, executor=executor, salt=salt))
            outcomes[executor, name] = (r.mode, r.failure, r.tip_height, chain_info(client)["utxo_digest"])
    assert outcomes["local", "good"] == outcomes["ray", "good"] and outcomes["ray", "good"][0] == "swiftsync"
    assert outcomes["local", "wrong"] == outcomes["ray", "wrong"] and outcomes["ray", "wrong"][0] == "fallback"
    assert int(outcomes["ray", "wrong"][1]["aggregate"], 16) != 0


class _Silent(SpentCoinServer):
    """Advertises NODE_BLOCK_UNDO but never answers getbspent."""

    async def on_getbspent(self, peer, msg):
        return


def test_peers_that_cannot_or_do_not_serve_coins_end_in_a_clean_fallback(chain, tmp_path):
    plain = serving_node(chain, tmp_path, "plain")  # no NODE_BLOCK_UNDO
    result = asyncio.run(run_phase([plain], tmp_path / "a", Hints.read(chain.hints)))
    assert result.mode == "fallback" and "none serves spent coins" in result.fallback_reason
    assert result.tip_height == 0 and not result.discouraged
    silent = serving_node(chain, tmp_path, "silent")
    _Silent(silent)

    async def short_deadline():
        await silent.start()
        try:
            return await swiftsync_from_peers(tmp_path / "b", "regtest", [("127.0.0.1", silent.port)],
                                              Hints.read(chain.hints), jobs=1, timeout=60, request_timeout=2)
        finally:
            await silent.stop()

    result = asyncio.run(short_deadline())
    assert result.mode == "fallback" and "no peer left" in result.fallback_reason
    assert result.tip_height == 0 and not result.discouraged  # slow is not a lie
    assert not (tmp_path / "b" / "swiftsync-spool.dat").exists()


class _FakePeer:
    id = 999
    host = "10.0.0.9"

    def __init__(self):
        self.sent = []

    def send(self, msg):
        self.sent.append(msg)


def test_headers_bounds_unconnecting_and_done_past_h(chain, tmp_path):
    from packetfs.bitcoin.net.headers import GetHeaders, Headers
    from packetfs.bitcoin.swiftsync.netsync import MAX_UNCONNECTING_HEADERS, NetSwiftSyncResult, _Phase

    headers = [Block.from_bytes(raw).header for raw, _ in chain.records[1:]]
    short = Hints(3, [[], [], []])
    with Chainstate(tmp_path / "d", "regtest", jobs=1, store_mode="raw") as cs:
        async def body():
            phase = _Phase(cs, short, [], 1, "local", None, NetSwiftSyncResult("swiftsync", 3, "local", 1), 10, 10,
                           None, None)  # fmt: skip
            peer = _FakePeer()
            try:
                for _ in range(MAX_UNCONNECTING_HEADERS):
                    phase.on_headers(peer, Headers(tuple(headers[5:8])))  # parent unknown: asked again
                assert isinstance(peer.sent[-1], GetHeaders) and not phase.result.discouraged
                phase.on_headers(peer, Headers(tuple(headers[5:8])))
                assert "do not connect" in phase.result.discouraged[peer.host]
                other = _FakePeer()
                other.id, other.host = 1000, "10.0.0.10"
                phase.on_headers(other, Headers(tuple(headers)))  # fewer than 2000: done
                assert other.id in phase.headers_done and len(phase.tree) == len(headers) + 1
                phase.on_headers(other, Headers(tuple(headers)))  # after done: ignored
                assert not other.sent
            finally:
                phase.spool.close()

        asyncio.run(body())
    assert BanList(tmp_path / "d" / "banlist.json").is_banned("10.0.0.9")
