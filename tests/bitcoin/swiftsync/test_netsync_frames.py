"""SwiftSync from peers that offer the compressed relay: blocks 1..H come as chain-context codec frames
(``getpfsblks``/``pfsblock``), resolved on the blocks this client already holds (it has no chainstate
yet), and end in the same chainstate as the ordinary import (expected values from conftest's ordinary
import of the generator's blocks, apart from any network code). A frame that does not decode, or decodes
to another block, gets its sender discouraged and the block fetched from another peer (none left: the
phase falls back); a frame of a bad block and a peer lying about a coin are caught as with plain blocks;
a coin count that does not match the block is asked of another peer that serves spent coins. The spent
coins of blocks that come as frames are derived from the blocks the client holds (the client's undo data
afterwards equals the ordinary import's); only coins it cannot derive are asked (``getbspentsel``), and
the lying-peer cases run both on those and with every coin asked (``derive=False``).

Serving nodes run in this process on free loopback ports, inside the test's event loop, and are stopped
in ``finally``; their relays' process pools are shut down there too."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

import pytest

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.codec import encode_block
from packetfs.bitcoin.net.bspent import BSpent, SpentCoin
from packetfs.bitcoin.net.pfs import MODE_CHAIN, MODE_ISOLATED, PfsBlock
from packetfs.bitcoin.node.lightning import LightningRelay
from packetfs.bitcoin.node.node import Node, NodeConfig
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.storage.undo import Coin, decode_block_undo
from packetfs.bitcoin.swiftsync import Hints, netsync
from packetfs.bitcoin.swiftsync.netsync import swiftsync_from_peers
from packetfs.bitcoin.swiftsync.serve import SpentCoinServer, attach_bspent_server, selected_coins

from .conftest import CHAIN_BLOCKS, HINTS_HEIGHT, chain_info
from .test_netsync import LIE_HEIGHT, _LyingCoins, _missing_coin, _wrong_value, block_hash_at, finish_sync


@pytest.fixture(scope="module")
def codec_datadir(chain, tmp_path_factory) -> Path:
    """The test chain in a codec-store chainstate (it keeps a tx index: frames in chain-context mode)."""
    d = tmp_path_factory.mktemp("swiftsync-frames") / "codec"
    with Chainstate(d, "regtest", jobs=1, store_mode="codec") as cs:
        for raw, _ in chain.records[1:]:
            cs.process_block(raw)
        assert cs.tip.height == CHAIN_BLOCKS
    return d


class Recording(LightningRelay):
    """Serves frames as usual and keeps a copy of each one sent."""

    def __init__(self, node, **kw):
        super().__init__(node, **kw)
        self.seen: list[PfsBlock] = []

    def tamper(self, msg: PfsBlock) -> PfsBlock:
        return msg

    async def on_getpfsblks(self, peer, msg):
        real = peer.send

        def send(m):
            if isinstance(m, PfsBlock):
                m = self.tamper(m)
                self.seen.append(m)
            real(m)

        peer.send = send
        try:
            await super().on_getpfsblks(peer, msg)
        finally:
            peer.send = real


class Tampering(Recording):
    """Bad frames: a flipped bit, or another block's frame under the asked-for hash; for the block
    ``target`` only, or (target None) for every block (so a peer asked for any block sends one)."""

    kind = "corrupt"
    target: bytes | None = None

    def tamper(self, msg: PfsBlock) -> PfsBlock:
        if self.target is not None and msg.block_hash != self.target:
            return msg
        if self.kind == "corrupt":
            f = bytearray(msg.frame)
            f[len(f) // 2] ^= 0x40
            return PfsBlock(msg.block_hash, msg.mode, msg.locations, bytes(f))
        other = next((x for x in reversed(self.seen) if x.block_hash != msg.block_hash), None)
        if other is None:  # nothing else sent yet: this one goes out right, the next one wrong
            return msg
        return PfsBlock(msg.block_hash, other.mode, other.locations, other.frame)


class Isolating(Recording):
    """Frames without chain context (as a sender without a tx index sends them) for the blocks in
    ``targets`` (None: every block): the client can derive only their same-block spends and must ask
    for the other coins (getbspentsel)."""

    raws: dict[bytes, bytes] = {}
    targets: set[bytes] | None = None

    def tamper(self, msg: PfsBlock) -> PfsBlock:
        if self.targets is not None and msg.block_hash not in self.targets:
            return msg
        return PfsBlock(msg.block_hash, MODE_ISOLATED, (), encode_block(self.raws[msg.block_hash]))


def isolating(chain, targets: set[bytes] | None) -> type[Isolating]:
    raws = {Block.from_bytes(raw).hash: raw for raw, _ in chain.records}
    return type("Iso", (Isolating,), {"raws": raws, "targets": targets})


def undo_by_height(datadir: Path, upto: int) -> list:
    with Chainstate(datadir, "regtest", readonly=True) as cs:
        out = []
        for h in range(1, upto + 1):
            e = cs.tree.ancestor(cs.tip, h)
            out.append(decode_block_undo(cs.store.get_undo(e.undo_pos)) if e.undo_pos else [])
        return out


def frame_server(src: Path, root: Path, name: str, relay_cls=Recording, coins=True) -> tuple[Node, LightningRelay | None]:
    """A node serving the codec datadir's chain: frames with ``relay_cls`` (None: plain blocks only),
    spent coins unless ``coins`` is False."""
    datadir = root / name
    shutil.copytree(src, datadir)
    node = Node(NodeConfig("regtest", datadir, port=0, bind="127.0.0.1", listen=True, jobs=1, store_mode="codec",
                           progress_interval=3600))
    if coins:
        attach_bspent_server(node)
    return node, relay_cls(node, fetch=False, jobs=1) if relay_cls is not None else None


async def run(servers: list[tuple[Node, LightningRelay | None]], client: Path, hints: Hints, **kw):
    kw.setdefault("frames", True)  # always frames (the default, "auto", may choose plain blocks on loopback)
    for node, _ in servers:
        await node.start()
    try:
        return await swiftsync_from_peers(client, "regtest", [("127.0.0.1", n.port) for n, _ in servers], hints,
                                          jobs=2, timeout=120, request_timeout=20, **kw)  # fmt: skip
    finally:
        for node, relay in servers:
            await node.stop()
            if relay is not None:
                relay.close()


def test_frames_from_two_peers_equal_the_ordinary_import_and_move_fewer_bytes(chain, codec_datadir, tmp_path,
                                                                              monkeypatch):
    # Tiny caps, so the paths a long chain takes are taken here: ancestors' txids read back from the spool
    # (only 2 blocks kept in memory), and frames parked past the cap (only lower blocks asked meanwhile).
    monkeypatch.setattr(netsync, "TXS_KEEP", 2)
    monkeypatch.setattr(netsync, "MAX_PARKED_BYTES", 1)
    hints = Hints.read(chain.hints)
    servers = [frame_server(codec_datadir, tmp_path, n) for n in ("a", "b")]
    r = asyncio.run(run(servers, tmp_path / "client", hints))
    assert r.mode == "swiftsync", r.fallback_reason
    assert r.blocks_swiftsync == HINTS_HEIGHT == r.tip_height and not r.discouraged
    assert r.frames == HINTS_HEIGHT and r.plain_blocks == 0 and r.bad_frames == 0
    seen = [m for _, relay in servers for m in relay.seen]
    assert len(seen) == HINTS_HEIGHT and len({relay.seen != [] for _, relay in servers}) == 1  # both served
    chained = [m for m in seen if m.mode == MODE_CHAIN and m.locations]
    assert len(chained) >= HINTS_HEIGHT - 100  # every block past coinbase maturity spends earlier outputs
    # Every spent coin derived from blocks the client holds (the server keeps a tx index: every prevout
    # is located), none asked; what the client stored as undo data is the ordinary import's.
    assert r.coins_derived == r.inputs_script_checked > 0 and r.coins_served == 0 and r.selections == 0
    assert undo_by_height(tmp_path / "client", HINTS_HEIGHT) == undo_by_height(chain.reference_datadir, HINTS_HEIGHT)
    # The keys the decoder recovered answered the workers' curve checks.
    assert 0 < r.proven_answered <= r.proven_checks
    digest = asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client"))
    assert digest == chain.reference["utxo_digest"] and chain_info(tmp_path / "client") == chain.reference

    # The same server asked for plain blocks: more bytes on the wire for the same result.
    plain = asyncio.run(run([frame_server(codec_datadir, tmp_path, "c")], tmp_path / "plain", hints, frames=False))
    assert plain.mode == "swiftsync" and plain.frames == 0 and plain.plain_blocks == HINTS_HEIGHT
    assert plain.coins_served == plain.inputs_script_checked and plain.coins_derived == 0
    assert r.bytes_received < plain.bytes_received


@pytest.mark.parametrize("backlog", [0, 10**6])
def test_auto_asks_frames_only_while_no_cpu_stage_has_a_backlog(chain, codec_datadir, tmp_path, monkeypatch, backlog):
    """frames="auto": with a validation backlog threshold of 0 tasks every request finds the CPU behind
    and goes out as getdata; with an unreachable one (and no decoding threshold) every block comes as a
    frame. Either way the same chainstate."""
    monkeypatch.setattr(netsync, "AUTO_VALIDATE_BACKLOG", backlog)
    monkeypatch.setattr(netsync, "AUTO_DECODE_BACKLOG", 10**6)
    r = asyncio.run(run([frame_server(codec_datadir, tmp_path, "a")], tmp_path / "client", Hints.read(chain.hints),
                        frames="auto"))
    assert r.mode == "swiftsync" and r.tip_height == HINTS_HEIGHT, r.fallback_reason
    if backlog:
        assert r.frames == HINTS_HEIGHT and r.plain_blocks == 0 and r.auto_plain_asks == 0
    else:
        assert r.frames == 0 and r.plain_blocks == HINTS_HEIGHT and r.auto_plain_asks > 0
        assert r.coins_served == r.inputs_script_checked
    assert asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client")) == chain.reference["utxo_digest"]


def test_coins_of_frames_without_context_are_asked_for(chain, codec_datadir, tmp_path, monkeypatch):
    """Every frame isolated (no locations, as from a sender without a tx index): only same-block spends
    are derived, the rest asked with getbspentsel; after the first such block the client asks that
    peer's coins up front (getbspent with the request) instead of a round trip after each decode. The
    result is still the ordinary import's, undo data included. (One block asked at a time, decoded
    inline, no new request while a selection is open: so exactly the first block with spends needs one.)"""
    monkeypatch.setattr(netsync, "WINDOW_PER_PEER", 1)
    monkeypatch.setattr(netsync, "MAX_SELECTING", 1)
    r = asyncio.run(run([frame_server(codec_datadir, tmp_path, "a", isolating(chain, None))], tmp_path / "client",
                        Hints.read(chain.hints), decode_jobs=0))
    assert r.mode == "swiftsync" and r.tip_height == HINTS_HEIGHT, r.fallback_reason
    assert r.selections == 1 and r.coins_served > 0
    assert r.coins_served + r.coins_derived == r.inputs_script_checked
    assert undo_by_height(tmp_path / "client", HINTS_HEIGHT) == undo_by_height(chain.reference_datadir, HINTS_HEIGHT)


@pytest.mark.parametrize("decode_jobs", [1, 0])
def test_a_plain_peer_beside_a_frame_peer(chain, codec_datadir, tmp_path, decode_jobs):
    """One peer without the relay (plain blocks) and one with it: frames resolve on blocks that came
    plain from the other peer, and the result is the ordinary import's; frames decoded in the decoding
    process, or (0) in the phase's own process."""
    plain = frame_server(codec_datadir, tmp_path, "plain", relay_cls=None)
    r = asyncio.run(run([plain, frame_server(codec_datadir, tmp_path, "frames")], tmp_path / "client",
                        Hints.read(chain.hints), decode_jobs=decode_jobs))
    assert r.mode == "swiftsync", r.fallback_reason
    assert r.frames > 0 and r.plain_blocks > 0 and r.frames + r.plain_blocks == HINTS_HEIGHT
    assert r.decode_cpu_s > 0
    with Chainstate(tmp_path / "client", "regtest", readonly=True) as cs:
        assert cs.tip.hash == block_hash_at(chain, HINTS_HEIGHT)


def test_the_decoding_process_killed_midway_is_replaced_and_nobody_blamed(chain, codec_datadir, tmp_path,
                                                                          monkeypatch):
    done = netsync._Phase._decode_done
    killed: list[int] = []

    def kill_once(self, item, msg, pool, fut):
        if not killed and item.entry.height >= 40 and self.dpool is not None:
            for pid in list(self.dpool._processes):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        return done(self, item, msg, pool, fut)

    monkeypatch.setattr(netsync._Phase, "_decode_done", kill_once)
    r = asyncio.run(run([frame_server(codec_datadir, tmp_path, "a")], tmp_path / "client", Hints.read(chain.hints)))
    assert killed
    assert r.mode == "swiftsync" and r.tip_height == HINTS_HEIGHT, r.fallback_reason
    assert r.bad_frames == 0 and not r.discouraged and r.frames == HINTS_HEIGHT
    with Chainstate(tmp_path / "client", "regtest", readonly=True) as cs:
        assert cs.tip.hash == block_hash_at(chain, HINTS_HEIGHT)


@pytest.mark.parametrize("kind", ["corrupt", "wrong"])
def test_a_bad_frame_discourages_its_sender_and_another_peer_serves_the_block(chain, codec_datadir, tmp_path, kind):
    bad_cls = type("Bad", (Tampering,), {"kind": kind})
    bad = frame_server(codec_datadir, tmp_path, "bad", bad_cls)
    good = frame_server(codec_datadir, tmp_path, "good")
    r = asyncio.run(run([bad, good], tmp_path / "client", Hints.read(chain.hints)))
    assert r.mode == "swiftsync", r.fallback_reason
    why = "frame does not decode" if kind == "corrupt" else "decodes to another block"
    assert r.bad_frames >= 1 and why in r.discouraged["127.0.0.1"] and bad[1].seen
    # Every block came from the honest peer in the end, as a frame.
    assert r.frames - r.bad_frames >= HINTS_HEIGHT and r.plain_blocks == 0
    assert r.tip_height == HINTS_HEIGHT
    assert asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client")) == chain.reference["utxo_digest"]


def test_a_bad_frame_from_the_only_peer_falls_back(chain, codec_datadir, tmp_path):
    bad_cls = type("Bad", (Tampering,), {"kind": "corrupt", "target": block_hash_at(chain, LIE_HEIGHT)})
    r = asyncio.run(run([frame_server(codec_datadir, tmp_path, "bad", bad_cls)], tmp_path / "client",
                        Hints.read(chain.hints)))
    assert r.mode == "fallback" and "no peer left" in r.fallback_reason
    assert "frame does not decode" in r.discouraged["127.0.0.1"]
    assert 0 < r.tip_height < LIE_HEIGHT  # ordinary validation of what came before the bad frame
    assert asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client")) == chain.reference["utxo_digest"]


def test_a_frame_of_a_bad_block_is_caught_as_a_bad_block(chain, codec_datadir, tmp_path):
    """The sender encodes a block whose body does not match its header (right hash, wrong merkle root):
    the frame decodes to it, its txids are never used to resolve other frames, it fails validation, and
    the phase falls back to the last trusted point with the sender discouraged, as for a plain bad block."""
    node, relay = frame_server(codec_datadir, tmp_path, "bad")
    target = block_hash_at(chain, LIE_HEIGHT)
    read = node._read_block

    def mutated(entry):
        raw = read(entry)
        if entry.hash != target:
            return raw
        b = bytearray(raw)
        b[-10] ^= 1  # inside the last transaction: its txid, so the merkle root, no longer match
        return bytes(b)

    node._read_block = mutated
    r = asyncio.run(run([(node, relay)], tmp_path / "client", Hints.read(chain.hints)))
    assert r.mode == "fallback" and f"block {LIE_HEIGHT} failed" in r.fallback_reason, r.fallback_reason
    assert r.frames >= LIE_HEIGHT and "invalid block" in r.discouraged["127.0.0.1"]
    assert r.tip_height == LIE_HEIGHT - 1
    assert asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client")) == chain.reference["utxo_digest"]


@pytest.mark.parametrize("derive", [True, False])
def test_a_frame_peer_lying_about_a_coin_is_caught(chain, codec_datadir, tmp_path, derive):
    """Blocks as frames, one coin's amount a lie (alone, so its lie is surely used; the two-peer blame is
    test_netsync.py's): the block fails its script check, the phase falls back, ordinary validation of
    the received blocks finds the served coin differs from the true undo data and blames the liar. With
    derivation the lying block comes without context, so its coins are asked (getbspentsel)."""
    target = block_hash_at(chain, LIE_HEIGHT)
    liar = frame_server(codec_datadir, tmp_path, "liar", isolating(chain, {target}), coins=False)
    _LyingCoins(liar[0], target, _wrong_value)
    r = asyncio.run(run([liar], tmp_path / "client", Hints.read(chain.hints), derive=derive))
    assert r.mode == "fallback" and r.frames == HINTS_HEIGHT, r.fallback_reason
    assert (r.selections == 1) if derive else (r.coins_derived == 0)
    assert list(r.discouraged) == ["127.0.0.1"] and "served wrong spent coins" in r.discouraged["127.0.0.1"]
    assert r.tip_height == HINTS_HEIGHT  # every block is valid: only the coin was wrong
    assert asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client")) == chain.reference["utxo_digest"]


class _ExtraCoin(SpentCoinServer):
    """Serves one coin too many for every block (so whichever block it is asked for, it lies), also when
    asked for some coins only."""

    def undo_for(self, block_hash):
        undo = super().undo_for(block_hash)
        return None if undo is None else [*undo, [Coin(1, False, 1, b"\x51")]]

    async def on_getbspentsel(self, peer, msg):
        coins = selected_coins(self.undo_for(msg.block_hash), msg.indexes)
        peer.send(BSpent(msg.block_hash, (*coins, SpentCoin(msg.indexes[-1] + 1, 1, False, 1, b"\x51"))))


class _ShortSelection(SpentCoinServer):
    """Answers getbspentsel with the last coin asked for left out."""

    async def on_getbspentsel(self, peer, msg):
        coins = selected_coins(self.undo_for(msg.block_hash), msg.indexes)
        peer.send(BSpent(msg.block_hash, coins[:-1]))


@pytest.mark.parametrize("derive", [True, False])
def test_a_missing_or_extra_coin_is_asked_of_another_peer(chain, codec_datadir, tmp_path, derive):
    """A coin count that does not match the block's inputs (or the inputs asked) is a lie seen at once:
    the liar is discouraged and the block with its coins (or the coins asked) is asked of the other peer
    serving spent coins; SwiftSync still ends at H, and the state is the ordinary import's."""
    liar = frame_server(codec_datadir, tmp_path, "liar", isolating(chain, None), coins=False)
    _ExtraCoin(liar[0])
    honest = frame_server(codec_datadir, tmp_path, "honest0")
    r = asyncio.run(run([liar, honest], tmp_path / "client", Hints.read(chain.hints), derive=derive))
    assert r.mode == "swiftsync", r.fallback_reason
    assert r.coins_rerequested >= 1 and "coins for" in r.discouraged["127.0.0.1"]
    assert r.tip_height == HINTS_HEIGHT
    assert asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client")) == chain.reference["utxo_digest"]


@pytest.mark.parametrize("derive", [True, False])
def test_a_missing_coin_from_the_only_peer_falls_back(chain, codec_datadir, tmp_path, derive):
    target = block_hash_at(chain, LIE_HEIGHT)
    liar = frame_server(codec_datadir, tmp_path, "liar", isolating(chain, {target}), coins=False)
    if derive:
        _ShortSelection(liar[0])
    else:
        _LyingCoins(liar[0], target, _missing_coin)
    r = asyncio.run(run([liar], tmp_path / "client", Hints.read(chain.hints), derive=derive))
    assert r.mode == "fallback" and "no peer left" in r.fallback_reason
    assert r.coins_rerequested == 1 and "coins for" in r.discouraged["127.0.0.1"]
    assert 0 < r.tip_height < LIE_HEIGHT
    assert asyncio.run(finish_sync(chain, tmp_path, tmp_path / "client")) == chain.reference["utxo_digest"]
