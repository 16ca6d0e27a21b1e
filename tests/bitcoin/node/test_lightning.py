"""Compressed block relay between in-process nodes: negotiation, chain-context frames, fallback to plain
blocks, and bad frames (corrupt, wrong block, oversized) that get the sender dropped and the block fetched
from another peer. The expected chain is the generator's (tip hash and utxo_digest of the chainstate that
imported its blocks directly, apart from any network code)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.chain.generator import ChainGenerator, write_chain
from packetfs.bitcoin.net.pfs import MODE_CHAIN, NODE_PFS, PfsBlock
from packetfs.bitcoin.node.lightning import LightningRelay, attach_lightning
from packetfs.bitcoin.node.node import Node, NodeConfig
from packetfs.bitcoin.node.peer import ConnectionType
from packetfs.bitcoin.node.sync_cli import sync_from_peer
from packetfs.bitcoin.primitives.hashes import hash_to_hex

PACKETFS = str(Path(sys.executable).parent / "packetfs")
SWIFT_H = 120
N = 130  # past coinbase maturity, so blocks spend earlier blocks' outputs (chain-context references)


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("lightning")
    gen = ChainGenerator("lightning-tests", "2016", txs_per_block=8, min_kind_share=0.1, max_inputs_per_tx=3,
                         max_outputs_per_tx=4, bcoin_compatible=True)
    src = root / "codec"
    blocks = list(gen.blocks(N))
    with Chainstate(src, "regtest", jobs=1, store_mode="codec") as cs:
        for b in blocks:
            cs.process_block(b.raw)
        want = {"tip": cs.tip.hash_hex, "height": cs.tip.height, "digest": hash_to_hex(cs.utxo_digest())}
    # A Core blocks directory (blk + rev files) of the first SWIFT_H blocks, for --mode swiftsync.
    write_chain(blocks[:SWIFT_H], root / "core-blocks")
    return {"src": src, "core_blocks": root / "core-blocks", **want}


def _copy(chain: dict, dest: Path) -> Path:
    shutil.copytree(chain["src"], dest)
    return dest


def _server(datadir: Path, lightning: bool = True, relay_cls=LightningRelay) -> tuple[Node, LightningRelay | None]:
    node = Node(NodeConfig("regtest", datadir, port=0, bind="127.0.0.1", store_mode="codec",
                           progress_interval=3600))
    relay = relay_cls(node, fetch=False, jobs=1) if lightning else None
    return node, relay


async def _with_server(datadir: Path, body, lightning: bool = True, relay_cls=LightningRelay):
    node, relay = _server(datadir, lightning, relay_cls)
    await node.start()
    try:
        return await body(node, relay)
    finally:
        await node.stop()
        if relay is not None:
            relay.close()


def test_lightning_sync_uses_chain_context_frames_and_ends_in_the_same_state(chain, tmp_path) -> None:
    async def body(server: Node, relay: LightningRelay):
        assert server.services & NODE_PFS
        light = await sync_from_peer(tmp_path / "light", "regtest", "127.0.0.1", server.port, "lightning",
                                     decode_jobs=1, timeout=120)
        plain = await sync_from_peer(tmp_path / "plain", "regtest", "127.0.0.1", server.port, "plain",
                                     timeout=120)
        return light, plain, relay.stats

    light, plain, served = asyncio.run(_with_server(_copy(chain, tmp_path / "a"), body))
    for r in (light, plain):
        assert (r.height, r.best_block_hash, r.utxo_digest) == (chain["height"], chain["tip"], chain["digest"])
    assert light.peer_pfs and light.stages["frames"] > 0 and light.stages["bad_frames"] == 0
    assert light.stages["frames"] + light.stages["plain_blocks"] == N
    assert plain.stages["frames"] == 0 and plain.stages["plain_blocks"] == N
    # Frames are smaller than the blocks they carry, and the wire carried less in total.
    assert light.stages["frame_bytes"] < light.stages["decoded_bytes"]
    assert light.bytes_received < plain.bytes_received
    assert served.served_frames == light.stages["frames"]
    # Blocks here spend their parents' outputs: the decoding process resolved those on parents it had just
    # decoded (no round trip per block), and the keys it recovered answered the script checks' curve checks.
    assert light.stages["inflight_locations"] > 0
    # ... and on ancestors it decoded earlier, sent as their hashes instead of their txids and outputs.
    assert light.stages["held_locations"] > 0 and light.stages["decoder_misses"] == 0
    assert light.stages["proven_checks"] > 0
    assert 0 < light.stages["sigcache_answered"] <= light.stages["proven_checks"]
    assert plain.stages["sigcache_answered"] == 0


def test_inline_decoding_reaches_the_same_state(chain, tmp_path) -> None:
    """--decode-jobs 0: frames decoded in the syncing process itself, no decoding process; same state, the
    signature cache answers the checks, and the decoding CPU is this process's own."""
    async def body(server: Node, relay: LightningRelay):
        return await sync_from_peer(tmp_path / "inline", "regtest", "127.0.0.1", server.port, "lightning",
                                    decode_jobs=0, timeout=120)

    r = asyncio.run(_with_server(_copy(chain, tmp_path / "a"), body))
    assert (r.height, r.utxo_digest) == (chain["height"], chain["digest"])
    assert r.stages["frames"] == N and r.stages["bad_frames"] == 0
    assert 0 < r.stages["sigcache_answered"] <= r.stages["proven_checks"]
    assert 0 < r.stages["decode_cpu_s"] <= r.cpu_s


def test_frames_are_served_from_the_frame_store_after_a_restart(chain, tmp_path) -> None:
    """The first sync's frames are encoded and kept on disk; after a restart of the server, a second peer
    gets the very same frames from the store, none encoded, and ends in the same state."""
    datadir = _copy(chain, tmp_path / "a")
    got: list[list[PfsBlock]] = []

    class Recording(LightningRelay):
        async def on_getpfsblks(self, peer, msg):
            real = peer.send

            def send(m):
                if isinstance(m, PfsBlock):
                    got[-1].append(m)
                real(m)
            peer.send = send
            try:
                await super().on_getpfsblks(peer, msg)
            finally:
                peer.send = real

    async def body(server, relay):
        got.append([])
        r = await sync_from_peer(tmp_path / f"b{len(got)}", "regtest", "127.0.0.1", server.port, "lightning",
                                 decode_jobs=1, timeout=120)
        return r, relay.stats

    first, st1 = asyncio.run(_with_server(datadir, body, relay_cls=Recording))
    assert (datadir / "pfs-frames").is_dir()
    second, st2 = asyncio.run(_with_server(datadir, body, relay_cls=Recording))
    for r in (first, second):
        assert (r.height, r.utxo_digest) == (chain["height"], chain["digest"])
    assert st1.stored_frames == 0 and st1.encode_s > 0
    assert st2.stored_frames == st2.served_frames == N and st2.encode_s == 0
    assert [(m.block_hash, m.mode, m.locations, m.frame) for m in got[0]] == \
        [(m.block_hash, m.mode, m.locations, m.frame) for m in got[1]]


def test_chain_context_frames_name_earlier_heights(chain, tmp_path) -> None:
    """The server's frames for blocks that spend earlier outputs carry (height, position) locations."""
    seen: list[PfsBlock] = []

    class Recording(LightningRelay):
        async def on_getpfsblks(self, peer, msg):
            real = peer.send

            def send(m):
                if isinstance(m, PfsBlock):
                    seen.append(m)
                real(m)
            peer.send = send
            try:
                await super().on_getpfsblks(peer, msg)
            finally:
                peer.send = real

    async def body(server, relay):
        return await sync_from_peer(tmp_path / "b", "regtest", "127.0.0.1", server.port, "lightning",
                                    decode_jobs=1, timeout=120)

    r = asyncio.run(_with_server(_copy(chain, tmp_path / "a"), body, relay_cls=Recording))
    assert r.utxo_digest == chain["digest"]
    chained = [m for m in seen if m.mode == MODE_CHAIN]
    assert chained and all(m.locations for m in chained)
    assert all(h < N for m in chained for h, _ in m.locations)


def test_a_peer_without_the_service_bit_is_synced_with_plain_blocks(chain, tmp_path) -> None:
    async def body(server, relay):
        assert not server.services & NODE_PFS
        return await sync_from_peer(tmp_path / "b", "regtest", "127.0.0.1", server.port, "lightning",
                                    decode_jobs=1, timeout=120)

    r = asyncio.run(_with_server(_copy(chain, tmp_path / "a"), body, lightning=False))
    assert not r.peer_pfs and r.stages["frames"] == 0 and r.stages["plain_blocks"] == N
    assert r.utxo_digest == chain["digest"]


def _tampering(kind: str):
    """A server relay that answers getpfsblks with one bad frame (for a block past height 100)."""

    class Tampering(LightningRelay):
        done = False
        sent: list[PfsBlock] = []  # every frame served so far (the wrong block's frame comes from here)

        async def on_getpfsblks(self, peer, msg):
            cs = self.node.cs
            if Tampering.done or not any(cs.tree.get(h).height > 100 for h in msg.hashes):
                real = peer.send
                peer.send = lambda m: (Tampering.sent.append(m) if isinstance(m, PfsBlock) else None, real(m))
                try:
                    return await super().on_getpfsblks(peer, msg)
                finally:
                    peer.send = real
            target = next((h for h in msg.hashes if cs.tree.get(h).height > 100), None)
            if target is None or Tampering.done:
                return await super().on_getpfsblks(peer, msg)
            Tampering.done = True
            if kind == "oversized":  # a frame header above the protocol cap: dropped before any payload
                peer.writer.write(cs.params.magic + b"pfsblock".ljust(12, b"\0") + (4_000_001).to_bytes(4, "little")
                                  + bytes(4))
                return
            real = peer.send
            sent = Tampering.sent

            def send(m):
                if isinstance(m, PfsBlock) and m.block_hash == target:
                    if kind == "corrupt":
                        f = bytearray(m.frame)
                        f[len(f) // 2] ^= 0x40
                        m = PfsBlock(m.block_hash, m.mode, m.locations, bytes(f))
                    elif kind == "wrong":  # another block's frame under the asked-for hash
                        other = next(x for x in sent if x.block_hash != target)
                        m = PfsBlock(target, other.mode, other.locations, other.frame)
                sent.append(m)
                real(m)
            peer.send = send
            try:
                await super().on_getpfsblks(peer, msg)
            finally:
                peer.send = real

    return Tampering


@pytest.mark.parametrize("kind", ["corrupt", "wrong", "oversized"])
def test_a_bad_frame_discourages_the_sender_and_the_block_comes_from_another_peer(chain, tmp_path, kind) -> None:
    async def body(bad: Node, bad_relay):
        good, good_relay = _server(_copy(chain, tmp_path / "good"))
        await good.start()
        b = Node(NodeConfig("regtest", tmp_path / "b", listen=False, store_mode="raw", progress_interval=3600))
        relay = attach_lightning(b, serve=False, jobs=1)
        await b.start()
        try:
            # The bad server as an ordinary outbound peer (manual connections are never discouraged).
            dial = asyncio.create_task(b._dial("127.0.0.1", bad.port, ConnectionType.OUTBOUND_FULL_RELAY))
            deadline = time.monotonic() + 60
            while not b.bans.is_banned("127.0.0.1"):
                assert time.monotonic() < deadline, "the bad peer was not discouraged"
                await asyncio.sleep(0.05)
            await dial
            assert b.cs.tip.height <= 101  # stuck at the bad block until another peer serves it
            b._manual[("127.0.0.1", good.port)] = {"next_try": 0.0, "attempts": 0, "peer": None}
            while b.cs.tip.hash_hex != chain["tip"]:
                assert time.monotonic() < deadline, f"no sync from the good peer (height {b.cs.tip.height})"
                await asyncio.sleep(0.05)
            return hash_to_hex(b.cs.utxo_digest()), relay.stats, b.bans.entries["127.0.0.1"].reason
        finally:
            await b.stop()
            relay.close()
            await good.stop()
            good_relay.close()

    digest, stats, reason = asyncio.run(_with_server(_copy(chain, tmp_path / "bad"), body, relay_cls=_tampering(kind)))
    assert digest == chain["digest"]
    if kind == "oversized":
        assert "bad frame" in reason and "pfsblock" in reason
    else:
        assert stats.bad_frames == 1 and "bad pfsblock" in reason
        assert ("does not decode" if kind == "corrupt" else "another block") in reason


def test_a_killed_decoding_process_is_replaced_and_blames_nobody(chain, tmp_path) -> None:
    """Our decoding process dying mid-sync (SIGKILL) is our failure, not the peer's: a new process decodes
    the frames that were in it, the peer is neither disconnected nor discouraged, same final state."""
    import os
    import signal

    async def body(server: Node, _relay):
        b = Node(NodeConfig("regtest", tmp_path / "b", listen=False, store_mode="raw", progress_interval=3600,
                            connect=[("127.0.0.1", server.port)]))
        relay = attach_lightning(b, serve=False, jobs=1)
        await b.start()
        killed = False
        try:
            deadline = time.monotonic() + 90
            while b.cs.tip.hash_hex != chain["tip"]:
                assert time.monotonic() < deadline, f"no sync after the kill (height {b.cs.tip.height})"
                if not killed and b.cs.tip.height >= 105 and relay.decoder_pids():
                    for pid in relay.decoder_pids():
                        os.kill(pid, signal.SIGKILL)
                    killed = True
                await asyncio.sleep(0.01)
            return killed, hash_to_hex(b.cs.utxo_digest()), relay.stats, b.bans.is_banned("127.0.0.1"), \
                [p.id for p in b.peers.values()]
        finally:
            await b.stop()
            relay.close()

    killed, digest, stats, banned, _ = asyncio.run(_with_server(_copy(chain, tmp_path / "a"), body))
    assert killed and digest == chain["digest"]
    assert stats.bad_frames == 0 and not banned


def test_an_ancestor_the_decoding_process_does_not_hold_is_sent_again(chain, tmp_path) -> None:
    """The node names ancestors by hash when it believes the decoding process still holds them. Here it
    is made to believe that of every ancestor, including the first blocks, which it decoded inline (the
    process held back as not ready): those come back 'missing', the frame goes again with their txids
    and outputs, nobody is blamed, same final state."""

    class Believing(LightningRelay):
        inline_first = 25

        def decoder_ready(self) -> bool:
            if self.stats.frames <= self.inline_first:
                return False
            return super().decoder_ready()

        believed: set = set()

        def _resolve(self, msg, entry, there=True):
            e = entry.prev
            while e is not None and e.hash not in self.believed:  # each once (a miss forgets it)
                self.believed.add(e.hash)
                self._held_there[e.hash] = None
                e = e.prev
            return super()._resolve(msg, entry, there)

    async def body(server: Node, _relay):
        b = Node(NodeConfig("regtest", tmp_path / "b", listen=False, store_mode="raw", progress_interval=3600,
                            connect=[("127.0.0.1", server.port)]))
        relay = Believing(b, serve=False, jobs=1)
        b.lightning = relay
        relay.decoder()
        await b.start()
        try:
            deadline = time.monotonic() + 90
            while b.cs.tip.hash_hex != chain["tip"]:
                assert time.monotonic() < deadline, f"no sync (height {b.cs.tip.height})"
                await asyncio.sleep(0.01)
            return hash_to_hex(b.cs.utxo_digest()), relay.stats, b.bans.is_banned("127.0.0.1")
        finally:
            await b.stop()
            relay.close()

    digest, stats, banned = asyncio.run(_with_server(_copy(chain, tmp_path / "a"), body))
    assert digest == chain["digest"] and stats.bad_frames == 0 and not banned
    assert stats.decoder_misses > 0 and stats.held_locations > 0


def _packetfs(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PACKETFS, "bitcoin", *args], capture_output=True, text=True, timeout=timeout)


def test_sync_command_against_a_packetfs_node_process(chain, nodes, tmp_path) -> None:
    """`packetfs node` (compressed relay on by default) serves `packetfs bitcoin sync` in both modes."""
    _copy(chain, tmp_path / "server")
    server = nodes("server", "--store", "codec", "--no-rpc")
    target = f"127.0.0.1:{server.p2p_port}"
    out = _packetfs("sync", "--mode", "lightning", "--connect", target, "--datadir", str(tmp_path / "l"), "--json")
    assert out.returncode == 0, out.stderr
    light = json.loads(out.stdout)
    assert light["peer_pfs"] and light["stages"]["frames"] > 0
    assert (light["height"], light["best_block_hash"], light["utxo_digest"]) == (N, chain["tip"], chain["digest"])
    out = _packetfs("sync", "--mode", "plain", "--connect", target, "--datadir", str(tmp_path / "p"), "--progress")
    assert out.returncode == 0, out.stderr
    assert ["utxo_digest", chain["digest"]] in [line.split() for line in out.stdout.splitlines()]
    assert "bytes received on the wire" in out.stdout and "validate + connect + index" in out.stdout


def test_sync_command_errors_are_one_sentence_with_distinct_exit_codes(tmp_path) -> None:
    out = _packetfs("sync", "--connect", "127.0.0.1:notaport", "--datadir", str(tmp_path / "x"))
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    out = _packetfs("sync", "--mode", "swiftsync", "--connect", "127.0.0.1:1", "--datadir", str(tmp_path / "x"))
    assert out.returncode == 2 and "--hints" in out.stderr
    # Nobody listens on port 1: the node redials until the timeout, which is exit 4.
    out = _packetfs("sync", "--connect", "127.0.0.1:1", "--datadir", str(tmp_path / "y"), "--timeout", "2")
    assert out.returncode == 4 and "not synced after 2 s" in out.stderr


def test_swiftsync_mode_validates_the_local_blocks_dir_then_syncs_the_rest_from_the_peer(chain, nodes,
                                                                                        tmp_path) -> None:
    _copy(chain, tmp_path / "server")
    hints = tmp_path / "h.hints"
    out = _packetfs("hints", "--datadir", str(tmp_path / "server"), "--height", str(SWIFT_H), "-o", str(hints))
    assert out.returncode == 0, out.stderr
    server = nodes("server", "--store", "codec", "--no-rpc")
    out = _packetfs("sync", "--mode", "swiftsync", "--connect", f"127.0.0.1:{server.p2p_port}", "--datadir",
                    str(tmp_path / "s"), "--hints", str(hints), "--blocks-dir", str(chain["core_blocks"]), "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    sw = r["stages"]["swiftsync"]
    assert sw["mode"] == "swiftsync" and sw["hints_height"] == SWIFT_H and sw["blocks_swiftsync"] == SWIFT_H
    assert r["blocks"] == N - SWIFT_H and r["stages"]["frames"] > 0  # the rest came as frames
    assert (r["height"], r["best_block_hash"], r["utxo_digest"]) == (N, chain["tip"], chain["digest"])


@pytest.mark.parametrize("frames", ["always", "never"])
def test_swiftsync_mode_from_the_peer_takes_frames_as_told(chain, nodes, tmp_path, frames) -> None:
    """--frames always: every block up to H as a frame, its spent coins derived from the blocks held;
    --frames never: plain blocks, every coin asked; both end in the server's state."""
    _copy(chain, tmp_path / "server")
    hints = tmp_path / "h.hints"
    assert _packetfs("hints", "--datadir", str(tmp_path / "server"), "--height", str(SWIFT_H), "-o",
                     str(hints)).returncode == 0  # fmt: skip
    server = nodes("server", "--store", "codec", "--no-rpc")
    out = _packetfs("sync", "--mode", "swiftsync", "--connect", f"127.0.0.1:{server.p2p_port}", "--datadir",
                    str(tmp_path / "s"), "--hints", str(hints), "-j", "2", "--frames", frames, "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    sw = json.loads(out.stdout)["stages"]["swiftsync"]
    assert sw["mode"] == "swiftsync" and sw["blocks_swiftsync"] == SWIFT_H
    if frames == "always":
        assert (sw["frames"], sw["plain_blocks"]) == (SWIFT_H, 0) and sw["coins_derived"] > 0
    else:
        assert (sw["frames"], sw["coins_derived"]) == (0, 0) and sw["plain_blocks"] == SWIFT_H
    r = json.loads(out.stdout)
    assert (r["height"], r["best_block_hash"], r["utxo_digest"]) == (N, chain["tip"], chain["digest"])


def test_demo_prints_both_runs_with_equal_digests(tmp_path, capsys) -> None:
    from packetfs.bitcoin.node.lightning import demo

    demo(tmp_path, blocks=110)
    out = capsys.readouterr().out
    assert "--mode plain" in out and "--mode lightning" in out and "digests equal" in out


@pytest.mark.slow  # ~20 s with bcoin (make test-slow); test_interop_bcoin.py runs bcoin against `packetfs node`,
# which has compressed relay on, in the fast suite
def test_bcoin_syncs_from_a_node_with_compressed_relay_on_and_we_sync_from_bcoin(chain, nodes, tmp_path) -> None:
    """bcoin (no NODE_PFS) is unaffected both ways: it syncs from our relay-enabled node with getdata/block,
    and `sync --mode lightning` from bcoin falls back to plain blocks."""
    from bcoin_harness import BcoinNode

    _copy(chain, tmp_path / "server")
    server = nodes("server", "--store", "codec", "--no-rpc")
    with BcoinNode() as bcoin:
        bcoin.connect("127.0.0.1", server.p2p_port)
        bcoin.wait_for(lambda: bcoin.rpc("getbestblockhash") == chain["tip"], 120, "bcoin to sync from our node")
        out = _packetfs("sync", "--mode", "lightning", "--connect", f"127.0.0.1:{bcoin.p2p_port}", "--datadir",
                        str(tmp_path / "from-bcoin"), "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert not r["peer_pfs"] and r["stages"]["frames"] == 0 and r["stages"]["plain_blocks"] == N
    assert (r["best_block_hash"], r["utxo_digest"]) == (chain["tip"], chain["digest"])


def test_decode_job_turns_any_bytes_into_an_error_never_an_exception() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from packetfs.bitcoin.node.lightning import decode_frame_job

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=400), st.booleans())
    def check(frame: bytes, chain_mode: bool) -> None:
        result = decode_frame_job(frame, {(1, 0): bytes(32)} if chain_mode else None, {})
        assert result[0] in ("ok", "error")
        if result[0] == "error":
            assert isinstance(result[1], str) and result[1]

    check()


def test_relay_context_answers_only_for_located_transactions_and_pickles() -> None:
    import pickle

    from packetfs.bitcoin.node.lightning import RelayContext

    t1, t2 = b"\x01" * 32, b"\x02" * 32
    sender = RelayContext({t1: (5, 0)}, {(5, 0): t1}, {t1: {1: (50, b"\x51")}})
    receiver = pickle.loads(pickle.dumps(RelayContext({}, {(5, 0): t1}, {t1: ((10, b"\x00"), (50, b"\x51"))})))
    assert sender.locate(t1) == (5, 0) and sender.locate(t2) is None
    assert sender.output(t1, 1) == receiver.output(t1, 1) == (50, b"\x51")
    assert sender.output(t2, 0) is None and receiver.output(t2, 0) is None and receiver.output(t1, 2) is None
    assert receiver.txid_at(5, 0) == t1 and receiver.txid_at(5, 1) is None
