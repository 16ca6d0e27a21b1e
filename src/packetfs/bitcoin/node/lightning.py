"""Compressed block relay between PacketFS nodes ("lightning sync"), on top of the node (docs/pfs-relay.md).

Attached to a :class:`Node` with :func:`attach_lightning`, it

- advertises ``NODE_PFS`` and sends ``sendpfs`` to peers that advertise it; blocks are asked of such a peer
  with ``getpfsblks`` instead of ``getdata`` (everyone else, bcoin included, gets ``getdata`` as before);
- serves ``getpfsblks``: each block is encoded by the codec in a process pool, in chain-context mode
  (prevout txids as (height, position) on our active chain) when the chainstate keeps a tx index, else
  isolated; a block whose frame would not fit a message goes out as a plain ``block``;
- receives ``pfsblock``: pipeline receive -> resolve locations on our own header chain -> decode in a
  process pool (bounded: a peer's reader waits while ``max_pending`` decodes are queued, so memory stays
  bounded and the socket pushes back) -> block hash checked against the header asked for -> the node's
  ``_accept_block`` (context-free checks, scripts on the chainstate's pool, connect, index). A frame that
  fails any step is misbehaviour: the peer is disconnected (and discouraged unless it is a manual
  connection) and the block goes back to the download pool, to be fetched from another peer.

Frames that reference blocks we have not decoded yet (their ancestors, still in flight) wait in a bounded
parking area; they never block the peer's reader, which may be about to deliver those very ancestors.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import struct
import time
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import lmdb

from ..chain.headers import HAVE_DATA, IndexEntry
from ..codec import encode_block
from ..codec.model import noting_recoveries
from ..errors import PacketFSError
from ..net.block import BlockMessage
from ..net.inv import GetData, InvVector, NotFound
from ..net.limits import MSG_WITNESS_BLOCK
from ..net.pfs import (
    MAX_PFS_FRAME,
    MAX_PFS_REQUEST,
    MODE_CHAIN,
    MODE_ISOLATED,
    NODE_PFS,
    PFS_VERSION,
    GetPfsBlocks,
    PfsBlock,
    SendPfs,
)
from ..primitives.block import Block
from ..primitives.hashes import hash_to_hex
from ..script import sigcache
from ..storage.undo import decode_block_undo
from .decoder_process import (  # noqa: F401 - decode_frame_job, decoder_warmup: public here too (swiftsync)
    DECODED_KEEP,
    DecoderProcess,
    RelayContext,
    _outputs,
    decode_frame_job,
    decoder_warmup,
    take_location,
)
from .download import MAX_BLOCKS_IN_TRANSIT_PER_PEER
from .node import Node, NodeConfig
from .peer import Peer

log = logging.getLogger("packetfs.node.lightning")

TXID_CACHE_BLOCKS = 1024  # blocks whose txids and outputs we keep for resolving locations (LRU)
SEQ_CACHE = 200_000
FRAME_CACHE_BYTES = 64 << 20  # encoded frames kept in memory for serving (read-ahead and repeated requests)
FRAME_STORE_BYTES = 512 << 20  # encoded frames kept on disk (datadir/pfs-frames), emptied when full
NEGOTIATION_WAIT = 2.0  # seconds a request waits for the answer to our sendpfs before going out as getdata
READ_AHEAD = 32  # blocks of the active chain encoded before a syncing peer asks for them


# ---------------------------------------------------------------------- worker side (process pool)
def _encode_job(raw: bytes, loc_of: dict[bytes, tuple[int, int]], spent: dict[bytes, dict] | None = None,
                known: dict | None = None) -> tuple[bytes, tuple, float]:
    """(frame, locations, seconds). ``known``: the key recoveries noted when the block was read from a
    codec store, so the encoder finds each key's recovery id without recovering again."""
    t0 = time.perf_counter()
    if loc_of:
        ctx = RelayContext(loc_of, {v: k for k, v in loc_of.items()}, spent)
        frame = encode_block(raw, ctx, known=known)
        locations = tuple(sorted(set(loc_of.values())))
    else:
        frame, locations = encode_block(raw, known=known), ()
    return frame, locations, time.perf_counter() - t0


# ---------------------------------------------------------------------- statistics
@dataclass
class StageStats:
    """Per-stage totals for the sync table: what moved, and where the time went."""

    frames: int = 0
    frame_bytes: int = 0  # pfsblock payloads received
    decoded_bytes: int = 0  # their blocks' size
    plain_blocks: int = 0
    plain_bytes: int = 0  # block payloads received
    decode_s: float = 0.0  # time spent decoding (wall, in the decoding process)
    decode_cpu_s: float = 0.0  # CPU time of that decoding
    accept_s: float = 0.0  # checks, scripts, connect, index (the node's _accept_block)
    backpressure_s: float = 0.0  # readers waiting for a decode slot
    parked_s: float = 0.0  # frames waiting for their ancestors' txids
    bad_frames: int = 0
    served_frames: int = 0
    served_frame_bytes: int = 0
    stored_frames: int = 0  # served from the on-disk frame store, not encoded
    inflight_locations: int = 0  # locations the decoding process resolved on an ancestor it decoded just before
    held_locations: int = 0  # of those, on ancestors already handled here (sent as a hash, not txids and outputs)
    decoder_misses: int = 0  # frames sent again with the txids and outputs: the process no longer held them
    proven_checks: int = 0  # ECDSA checks proven by the decoder's key recoveries (signature cache entries)
    encode_s: float = 0.0
    first_s: float | None = None
    last_s: float | None = None
    extra: dict = field(default_factory=dict)

    def mark(self) -> None:
        now = time.monotonic()
        if self.first_s is None:
            self.first_s = now
        self.last_s = now

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("extra", "first_s", "last_s")}
        d.update(self.extra)
        return d

    def bottleneck(self) -> str:
        stages = {"decode": self.decode_s, "validate+connect": self.accept_s, "wire": self.backpressure_s}
        return max(stages, key=stages.get) if any(stages.values()) else "-"


class FrameStore:
    """Frames this node encoded for serving, kept on disk (an LMDB in ``datadir/pfs-frames``) so that
    every later peer syncing the same blocks, after a restart too, gets them without encoding again:
    encoding (key recovery, sighashes, entropy coding) costs several times what reading costs.

    A frame depends only on its block and the block's own ancestors (locations name heights below it on
    the chain it was on when encoded), so a stored frame stays right whatever the active chain does.
    Bounded: past ``max_bytes`` of frames the store is emptied and starts again. A cache: written
    without fsync (a crash may lose the last frames, never the database's consistency), and a record
    that does not parse is dropped and the frame encoded again."""

    _LOC = struct.Struct("<II")

    def __init__(self, path: Path, max_bytes: int = FRAME_STORE_BYTES):
        self.max_bytes = max_bytes
        self.env = lmdb.open(str(path), map_size=max_bytes + (max_bytes >> 2) + (16 << 20), subdir=True,
                             sync=False, metasync=False, max_dbs=0)
        st = self.env.stat()
        self.bytes = st["psize"] * (st["leaf_pages"] + st["overflow_pages"])
        self.hits = 0

    @staticmethod
    def key(block_hash: bytes) -> bytes:
        return bytes((PFS_VERSION,)) + block_hash  # another relay version: other frames

    def get(self, block_hash: bytes) -> tuple[bytes, tuple] | None:
        """(frame, locations) stored for the block, or None."""
        with self.env.begin() as txn:
            value = txn.get(self.key(block_hash))
        if value is None:
            return None
        n = int.from_bytes(value[:4], "little")
        end = 4 + 8 * n
        if len(value) <= end:
            self.delete(block_hash)
            return None
        locations = tuple(self._LOC.unpack_from(value, 4 + 8 * i) for i in range(n))
        self.hits += 1
        return value[end:], locations

    def put(self, block_hash: bytes, frame: bytes, locations: tuple) -> None:
        value = b"".join((len(locations).to_bytes(4, "little"), *(self._LOC.pack(h, p) for h, p in locations),
                          frame))
        if self.bytes + len(value) > self.max_bytes:
            with self.env.begin(write=True) as txn:
                txn.drop(self.env.open_db(), delete=False)
            self.bytes = 0
        try:
            with self.env.begin(write=True) as txn:
                txn.put(self.key(block_hash), value)
        except lmdb.MapFullError:
            return
        self.bytes += len(value) + 64

    def delete(self, block_hash: bytes) -> None:
        with self.env.begin(write=True) as txn:
            txn.delete(self.key(block_hash))

    def close(self) -> None:
        self.env.close()


@dataclass
class _Parked:
    peer: Peer
    msg: PfsBlock
    entry: IndexEntry
    since: float


class LightningRelay:
    """Compressed block relay on one node. ``serve``: answer getpfsblks; ``fetch``: ask PFS peers for frames."""

    def __init__(self, node: Node, *, serve: bool = True, fetch: bool = True, jobs: int | None = None,
                 decode_jobs: int = 1, max_pending: int | None = None, frame_store: bool = True):
        self.node = node
        self._store_wanted = serve and frame_store
        self._store: FrameStore | None = None
        self.serve = serve
        self.fetch = fetch
        self.jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
        # One decoding process by default: decoding (~3 ms a block) keeps ahead of validation, and one
        # process decodes in submission order, which lets a frame name an ancestor still being decoded.
        self.decode_jobs = max(0, decode_jobs)  # 0: decode in the node's own process, no hand-over
        self.max_pending = max_pending if max_pending is not None else max(8, 4 * self.decode_jobs)
        self._decoders: list[DecoderProcess] = []
        self._next_decoder = 0
        self._decoding: set[bytes] = set()  # blocks submitted to the decoder, result not handled yet
        # Blocks the current decoding process decoded, newest last, as many as it surely still keeps
        # (decoder_process.DECODED_KEEP, less what it may decode before a frame submitted now): a frame
        # naming them sends their block hashes, not their txids and outputs, which that process has.
        self._held_there: OrderedDict[bytes, None] = OrderedDict()
        self._held_there_max = max(0, DECODED_KEEP - 2 * self.max_pending - 8)
        self.stats = StageStats()
        self.pfs_peers: set[int] = set()  # peers we fetch frames from
        self._clients: set[int] = set()  # peers that sent us sendpfs (we serve them getpfsblks)
        self._sent_to: set[int] = set()  # peers we sent sendpfs to
        self._plain: set[int] = set()  # peers that did not answer our sendpfs in time
        self._held: dict[int, list[bytes]] = {}  # block requests waiting for a peer's sendpfs answer
        self._txids: OrderedDict[bytes, bytes] = OrderedDict()
        self._seq_hash: OrderedDict[int, bytes] = OrderedDict()
        self._pool: ProcessPoolExecutor | None = None
        self._pending: set[asyncio.Future] = set()
        self._parked: dict[bytes, _Parked] = {}
        self._tick_task: asyncio.Task | None = None
        self._frames: OrderedDict[bytes, asyncio.Future] = OrderedDict()  # block hash -> encoding/encoded
        self._frame_bytes = 0
        self._encodings = 0  # frames being encoded in the pool now
        # The highest active-chain block read ahead so far: the next request (one or a few hashes past
        # the last) continues from there instead of checking the next 32 heights again.
        self._ahead: IndexEntry | None = None
        if serve:
            node.services |= NODE_PFS
        if fetch:
            # A frame's block counts as in flight until it is decoded (a plain block's, until it arrives):
            # the per-peer window is widened by the decode queue, so that as many blocks are on the wire
            # from a PFS peer as from a plain one while frames wait for the decoder.
            node.download.per_peer = max(node.download.per_peer, MAX_BLOCKS_IN_TRANSIT_PER_PEER + self.max_pending)
        node.set_handler(SendPfs, self.on_sendpfs)
        node.set_handler(GetPfsBlocks, self.on_getpfsblks)
        node.set_handler(PfsBlock, self.on_pfsblock)
        self._plain_block = node.set_handler(BlockMessage, self.on_plain_block)
        node.ready_hooks.append(self.on_ready)
        node.block_requester = self.request_blocks

    # ------------------------------------------------------------------ pool
    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Not fork: this pool lives in the node, and a forked worker would inherit every peer socket
            # open at that moment and keep it open after the node closes it (the peer never sees EOF).
            # The fork server's children come from a clean process.
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("forkserver"))
        return self._pool

    def decoder(self) -> list[DecoderProcess]:
        """The decoding processes (``decode_jobs``, fed from the event loop without threads, see
        node/decoder_process.py), started now if they are not (or were replaced after dying); frames
        are decoded inline until they have started (``decoder_ready``)."""
        for dead in [d for d in self._decoders if d.broken]:
            self._decoders.remove(dead)
            dead.close()
            self._held_there.clear()
        while len(self._decoders) < self.decode_jobs:
            self._decoders.append(DecoderProcess(decode_frame_job))
        return self._decoders

    def decoder_pids(self) -> list[int]:
        """Process ids of the decoding processes that have started."""
        return [d.pid for d in self._decoders if d.pid is not None]

    def decoder_ready(self) -> bool:
        """Whether the decoding processes are up (have imported the codec). Until then frames are decoded
        here, inline: starting a process costs a few hundred milliseconds, which would otherwise be the
        first frames' wait at the start of a sync."""
        return all(d.ready and not d.broken for d in self.decoder())

    def close(self) -> None:
        if self._tick_task is not None:
            self._tick_task.cancel()
            self._tick_task = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        for d in self._decoders:
            d.close()
        self._decoders = []
        if self._store is not None:
            self._store.close()
            self._store = None

    def frame_store(self) -> FrameStore | None:
        """The on-disk frame store (opened on first use); None if disabled or it cannot be opened."""
        if self._store is None and self._store_wanted:
            try:
                self._store = FrameStore(self.node.config.datadir / "pfs-frames")
            except (lmdb.Error, OSError) as e:
                log.warning("no on-disk frame store (frames are encoded for every peer): %s", e)
                self._store_wanted = False
        return self._store

    def _submit(self, fn, *args, pool: ProcessPoolExecutor | None = None) -> asyncio.Future:
        fut: Future = (pool or self.pool()).submit(fn, *args)
        return asyncio.wrap_future(fut)

    def _renew_decoder(self) -> None:
        """Replace decoding processes that died (started again on next use)."""
        self._held_there.clear()
        for dead in [d for d in self._decoders if d.broken]:
            self._decoders.remove(dead)
            dead.close(timeout=0.5)

    # ------------------------------------------------------------------ negotiation
    def on_ready(self, peer: Peer) -> None:
        """A fetcher announces, to a peer advertising NODE_PFS, the frame version it decodes."""
        live = self.node.peers.keys()
        for ids in (self.pfs_peers, self._clients, self._sent_to, self._plain):  # forget gone peers
            ids.intersection_update(live)
        for gone in self._held.keys() - live:
            del self._held[gone]
        v = peer.state.version
        if self.fetch and v is not None and v.services & NODE_PFS:
            peer.send(SendPfs(PFS_VERSION))
            self._sent_to.add(peer.id)

    async def on_sendpfs(self, peer: Peer, msg: SendPfs) -> None:  # type: ignore[override]
        """From a fetcher: we serve it (and answer with our own sendpfs once). From a server we announced
        ourselves to: its answer, so we fetch from it. Another version: ignored, plain blocks it is."""
        if msg.version != PFS_VERSION:
            return
        if self.serve:
            self._clients.add(peer.id)
            if peer.id not in self._sent_to:
                peer.send(SendPfs(PFS_VERSION))
                self._sent_to.add(peer.id)
        v = peer.state.version
        if (self.fetch and peer.id in self._sent_to and peer.id not in self._plain and v is not None
                and v.services & NODE_PFS):
            self.pfs_peers.add(peer.id)
            held = self._held_for(peer)
            for i in range(0, len(held), MAX_PFS_REQUEST):
                peer.send(GetPfsBlocks(held[i : i + MAX_PFS_REQUEST]))

    def _is_pfs(self, peer: Peer) -> bool:
        if peer.id not in self.pfs_peers:
            return False
        if peer.closed.is_set():
            self.pfs_peers.discard(peer.id)
            return False
        return True

    def request_blocks(self, peer: Peer, entries: list[IndexEntry]) -> bool:
        if not self.fetch:
            return False
        if self._is_pfs(peer):
            peer.send(GetPfsBlocks(tuple(e.hash for e in entries)))
            return True
        if peer.id in self._sent_to and peer.id not in self._plain and not peer.closed.is_set():
            # Our sendpfs is unanswered yet (one round trip): hold the request, at most NEGOTIATION_WAIT.
            if peer.id not in self._held:
                asyncio.get_running_loop().call_later(NEGOTIATION_WAIT, self._release, peer)
            self._held.setdefault(peer.id, []).extend(e.hash for e in entries)
            return True
        return False

    def _held_for(self, peer: Peer) -> tuple[bytes, ...]:
        in_flight = self.node.download.in_flight
        return tuple(h for h in self._held.pop(peer.id, []) if in_flight.get(h, (None,))[0] == peer.id)

    def _release(self, peer: Peer) -> None:
        """No sendpfs answer in time: the held blocks go out as getdata, and this peer stays plain."""
        if peer.id in self.pfs_peers or peer.closed.is_set():
            return
        self._plain.add(peer.id)
        held = self._held_for(peer)
        if held:
            peer.send(GetData(tuple(InvVector(MSG_WITNESS_BLOCK, h) for h in held)))

    # ------------------------------------------------------------------ serving
    def _hash_of_seq(self, seq: int) -> bytes | None:
        h = self._seq_hash.get(seq)
        if h is not None:
            return h
        cs = self.node.cs
        index = cs.txindex
        pending = getattr(index, "_pending_seq", {})
        key = seq.to_bytes(4, "big")
        value = pending.get(key)
        if value is None:
            seq_db = cs.env.open_db(b"seq_block")
            with cs.env.begin(db=seq_db) as txn:
                value = txn.get(key)
        if value is None:
            return None
        self._seq_hash[seq] = bytes(value)
        while len(self._seq_hash) > SEQ_CACHE:
            self._seq_hash.popitem(last=False)
        return bytes(value)

    def _sender_locations(self, block: Block, below: int) -> dict[bytes, tuple[int, int]]:
        """Prevout txid -> (height, position) on our active chain, for txids confirmed below ``below``."""
        cs = self.node.cs
        index = cs.txindex
        active_at = self.node.active_at
        inside = {tx.txid for tx in block.transactions}
        out: dict[bytes, tuple[int, int]] = {}
        for tx in block.transactions[1:]:
            for txin in tx.inputs:
                ptx = txin.prev_txid
                if ptx in inside or ptx in out:
                    continue
                where = index.locate(ptx)
                if where is None:
                    continue
                block_hash = self._hash_of_seq(where[0])
                e = cs.tree.get(block_hash) if block_hash is not None else None
                if e is None or e.height >= below or active_at(e.height) is not e:
                    continue
                out[ptx] = (e.height, where[1])
        return out

    def _encode(self, e: IndexEntry) -> asyncio.Future:
        """The frame of block ``e`` (frame, locations, raw size): cached, being encoded, or submitted now.

        A chain-context frame names only ``e``'s own ancestors (heights below it on the chain it was on
        when encoded), so a cached frame stays right for ``e`` whatever the active chain does later."""
        got = self._frames.get(e.hash)
        if got is not None:
            self._frames.move_to_end(e.hash)
            return got
        store = self.frame_store()
        kept = store.get(e.hash) if store is not None else None
        if kept is not None:
            done: asyncio.Future = asyncio.get_running_loop().create_future()
            done.set_result((kept[0], kept[1], 0.0))
            self._frames[e.hash] = done
            self._frame_bytes += len(kept[0])
            self.stats.stored_frames += 1
            self._trim()
            return done
        node, cs = self.node, self.node.cs
        with noting_recoveries() as known:  # a codec store decodes the block: keep its key recoveries
            raw = node.read_block(e)
        on_active = node.active_at(e.height) is e
        loc_of: dict = {}
        spent: dict = {}
        if cs.txindex is not None and on_active:
            block = Block.from_bytes(raw)
            loc_of = self._sender_locations(block, e.height)
            spent = self._sender_spent(block, e, loc_of)
        fut = self._submit(_encode_job, raw, loc_of, spent, known)
        self._encodings += 1
        self._frames[e.hash] = fut
        fut.add_done_callback(lambda f, size=len(raw): self._encoded(e.hash, f, size))
        return fut

    def _encoded(self, block_hash: bytes, fut: asyncio.Future, raw_size: int) -> None:
        self._encodings -= 1
        if fut.cancelled() or fut.exception() is not None:
            self._frames.pop(block_hash, None)
            return
        frame, locations, seconds = fut.result()
        self._frame_bytes += len(frame)
        self.stats.encode_s += seconds
        store = self.frame_store()
        if store is not None and frame and len(frame) <= MAX_PFS_FRAME:
            store.put(block_hash, frame, locations)
        self._trim()

    def _trim(self) -> None:
        """Drop the oldest finished frames past FRAME_CACHE_BYTES from memory."""
        while self._frame_bytes > FRAME_CACHE_BYTES and self._frames:
            h, old = next(iter(self._frames.items()))
            if not old.done():
                break
            del self._frames[h]
            if not old.cancelled() and old.exception() is None:
                self._frame_bytes -= len(old.result()[0])

    def _read_ahead(self, after: IndexEntry) -> None:
        """Encode the next blocks of the active chain before they are asked for (a syncing peer asks in
        chain order), at most READ_AHEAD blocks and ``jobs`` encodings beyond those being served. (Counted,
        not found by scanning the frame cache, and continued from the last block read ahead: per request
        of a warm server these were half its CPU.)"""
        active_at = self.node.active_at
        busy = self._encodings
        h = after.height + 1
        mark = self._ahead
        if mark is not None and h <= mark.height <= after.height + READ_AHEAD and active_at(mark.height) is mark:
            h = mark.height + 1  # (a peer far behind or ahead of the mark: read ahead from its own block)
        while h <= after.height + READ_AHEAD and busy < 2 * self.jobs:
            e = active_at(h)
            if e is None:
                break
            if e.hash not in self._frames and e.status & HAVE_DATA:
                self._encode(e)
                busy += 1
            self._ahead = e
            h += 1

    def _sender_spent(self, block: Block, e: IndexEntry, loc_of: dict) -> dict[bytes, dict]:
        """The outputs ``block`` spends from located transactions, from its undo data: txid -> {vout:
        (value, scriptPubKey)}. Empty (frames a little larger) if the undo data cannot be read."""
        if e.undo_pos is None or not loc_of:
            return {}
        try:
            undo = decode_block_undo(self.node.cs.store.get_undo(e.undo_pos))
        except (PacketFSError, ValueError, OSError) as err:
            log.debug("no undo data for %s: %s", e.hash_hex, err)
            return {}
        out: dict[bytes, dict] = {}
        for tx, coins in zip(block.transactions[1:], undo, strict=False):
            for txin, coin in zip(tx.inputs, coins, strict=False):
                if txin.prev_txid in loc_of:
                    out.setdefault(txin.prev_txid, {})[txin.prev_index] = (coin.value, coin.script_pubkey)
        return out

    async def on_getpfsblks(self, peer: Peer, msg: GetPfsBlocks) -> None:  # type: ignore[override]
        node, cs = self.node, self.node.cs
        if not self.serve or peer.id not in self._clients:
            peer.misbehaving("getpfsblks without negotiating compressed relay (sendpfs)")
            return
        jobs: list[tuple[IndexEntry, asyncio.Future]] = []
        not_found = []
        for h in msg.hashes:
            e = cs.tree.get(h)
            if e is None or not e.status & HAVE_DATA or e.failed:
                not_found.append(InvVector(MSG_WITNESS_BLOCK, h))
                continue
            jobs.append((e, self._encode(e)))
        if jobs:
            self._read_ahead(max((e for e, _ in jobs), key=lambda x: x.height))
        for e, fut in jobs:
            try:
                frame, locations, _ = await asyncio.shield(fut)
            except Exception as err:  # noqa: BLE001 - the encoder failing on our own block: send it plain
                log.warning("cannot encode block %s for relay: %s", e.hash_hex, err)
                frame, locations = b"", ()
            if peer.closed.is_set():
                return
            if frame and len(frame) <= MAX_PFS_FRAME:
                mode = MODE_CHAIN if locations else MODE_ISOLATED
                peer.send(PfsBlock(e.hash, mode, locations, frame))
                self.stats.served_frames += 1
                self.stats.served_frame_bytes += len(frame)
            else:
                peer.send(BlockMessage(node.read_block(e)))
            node.note_peer_has(peer, e)
            if peer.unsent_bytes > (4 << 20):
                await peer.drain()
        if not_found:
            peer.send(NotFound(tuple(not_found)))

    # ------------------------------------------------------------------ receiving
    async def on_plain_block(self, peer: Peer, msg: BlockMessage) -> None:
        """A plain ``block``: the node's own handler, timed for the sync table."""
        t0 = time.perf_counter()
        self.stats.plain_blocks += 1
        self.stats.plain_bytes += len(msg.raw)
        self.stats.mark()
        await self._plain_block(peer, msg)
        self.stats.accept_s += time.perf_counter() - t0

    def _txs_of(self, e: IndexEntry) -> tuple[bytes, tuple] | None:
        """(concatenated txids, outputs per tx) of block ``e``: decoded recently, or read from our store."""
        got = self._txids.get(e.hash)
        if got is not None:
            self._txids.move_to_end(e.hash)
            return got
        if not e.status & HAVE_DATA:
            return None
        block = Block.from_bytes(self.node.read_block(e))
        got = (b"".join(tx.txid for tx in block.transactions), _outputs(block))
        self._remember(e.hash, got)
        return got

    def _remember(self, block_hash: bytes, txs: tuple[bytes, tuple]) -> None:
        self._txids[block_hash] = txs
        while len(self._txids) > TXID_CACHE_BLOCKS:
            self._txids.popitem(last=False)

    def _resolve(self, msg: PfsBlock, entry: IndexEntry, there: bool = True) -> tuple[dict, dict, dict] | str | None:
        """({location: txid}, {txid: outputs}, {location: ancestor hash}) on our chain (the frame's block's
        ancestors): the third names ancestors submitted to the (single) decoding process but not handled
        here yet, and (``there``: the frame goes to that process) ancestors it decoded recently, which
        that process resolves itself. None: an ancestor is not decoded yet (wait); a string: the frame
        is bad."""
        if msg.mode == MODE_ISOLATED:
            return {}, {}, {}
        at: dict[tuple[int, int], bytes] = {}
        outs: dict[bytes, tuple] = {}
        inflight: dict[tuple[int, int], bytes] = {}
        in_order = self.decode_jobs == 1
        held_there = self._held_there if there and in_order else ()
        anc: IndexEntry | None = entry
        for height, pos in reversed(msg.locations):  # highest first: walk back down the chain once
            if height >= entry.height:
                return f"location at height {height} not below the block's {entry.height}"
            while anc is not None and anc.height > height:
                anc = anc.prev
            if anc is None:
                return f"location at height {height} not on our chain"
            if anc.hash in held_there:
                inflight[(height, pos)] = anc.hash
                continue
            txs = self._txs_of(anc)
            if txs is None:
                if in_order and anc.hash in self._decoding:
                    inflight[(height, pos)] = anc.hash
                    continue
                return None
            bad = take_location(txs, height, pos, at, outs)
            if bad is not None:
                return bad
        return at, outs, inflight

    def _bad_frame(self, peer: Peer, block_hash: bytes, reason: str) -> None:
        self.stats.bad_frames += 1
        log.warning("bad pfsblock %s from %r: %s", hash_to_hex(block_hash), peer, reason)
        peer.misbehaving(f"bad pfsblock {hash_to_hex(block_hash)}: {reason}")
        peer.close(f"bad pfsblock: {reason}")

    async def on_pfsblock(self, peer: Peer, msg: PfsBlock) -> None:  # type: ignore[override]
        node = self.node
        holder = node.download.in_flight.get(msg.block_hash)
        if holder is None or holder[0] != peer.id:
            return  # not asked of this peer (or already delivered): ignored, as unrequested blocks are
        if self._tick_task is None:
            self._tick_task = asyncio.create_task(self.tick())
        self.stats.mark()
        self.stats.frames += 1
        self.stats.frame_bytes += len(msg.frame)
        entry = node.cs.tree.get(msg.block_hash)
        if entry is None:
            self._bad_frame(peer, msg.block_hash, "a block whose header we do not have")
            return
        t0 = time.monotonic()
        while len(self._pending) >= self.max_pending:  # back-pressure: this peer's reader waits
            await asyncio.wait(self._pending, return_when=asyncio.FIRST_COMPLETED)
        self.stats.backpressure_s += time.monotonic() - t0
        if not peer.closed.is_set():
            self._start(peer, msg, entry, time.monotonic())

    def _decode_args(self, peer: Peer, msg: PfsBlock, entry: IndexEntry, since: float, there: bool) -> tuple | None:
        """decode_frame_job's arguments for the frame, its locations resolved (``there``: ancestors the
        decoding process holds may be named by hash); None after refusing it (bad location) or parking it
        (an ancestor not decoded yet)."""
        at = self._resolve(msg, entry, there)
        if isinstance(at, str):
            self._bad_frame(peer, msg.block_hash, at)
            return None
        if at is None:
            self._parked[msg.block_hash] = _Parked(peer, msg, entry, since)
            return None
        at, outs, inflight = at
        return (msg.frame, at if msg.mode == MODE_CHAIN else None, outs, inflight)

    def _start(self, peer: Peer, msg: PfsBlock, entry: IndexEntry, since: float) -> None:
        """Resolve the frame's locations and hand it to a decoding process, or park it until the
        ancestors it names are decoded (never waiting here: the reader may be about to deliver them)."""
        there = bool(self.decode_jobs) and self.decoder_ready()
        args = self._decode_args(peer, msg, entry, since, there)
        if args is None:
            return
        self.stats.parked_s += time.monotonic() - since
        fut = None
        if there:
            decoders = self.decoder()
            self._next_decoder = (self._next_decoder + 1) % len(decoders)
            try:
                fut = decoders[self._next_decoder].submit(*args)
            except BrokenProcessPool:
                self._renew_decoder()
                args = self._decode_args(peer, msg, entry, since, False)  # inline now: nothing is held there
                if args is None:
                    return
        if fut is None:
            # Inline: decoded here and now, then validated (no process to hand frames to, or it is still
            # starting or being replaced; on a machine whose cores are all busy, one process that never
            # waits for another can be the faster). An ancestor it names that a process is decoding gives
            # 'missing': the frame is parked until that ancestor is handled.
            fut = asyncio.get_running_loop().create_future()
            fut.set_result(decode_frame_job(*args))
            self._pending.add(fut)
            self._decoding.add(msg.block_hash)
            self._decoded(peer, msg, entry, fut, since)
            return
        self._pending.add(fut)
        self._decoding.add(msg.block_hash)
        inflight = args[3]
        self.stats.inflight_locations += len(inflight)
        self.stats.held_locations += sum(1 for a in inflight.values() if a not in self._decoding)
        fut.add_done_callback(lambda f: self._decoded(peer, msg, entry, f, since, there=True))

    def _decoded(self, peer: Peer, msg: PfsBlock, entry: IndexEntry, fut: asyncio.Future, since: float,
                 there: bool = False) -> None:
        self._pending.discard(fut)
        self._decoding.discard(msg.block_hash)
        node = self.node
        if node.cs is None or fut.cancelled():
            return
        try:
            result = fut.result()
        except BrokenProcessPool:
            # Our decoding process died (killed, out of memory): not the peer's fault. A new one is
            # started and the frame waits (parked) to be decoded again.
            result = ("missing", b"")
            self._renew_decoder()
        except Exception as e:  # noqa: BLE001 - a job that raised: treat the frame as undecodable, not fatal
            result = ("error", f"decoder process failed: {e}")
        if result[0] == "missing":
            # An ancestor it named failed to decode (its frame was bad): wait for it from elsewhere. (Or,
            # should it ever happen, the process no longer holds one we thought it did: asked here next.)
            if self._held_there.pop(result[1], 1) is None:
                self.stats.decoder_misses += 1
            if not peer.closed.is_set():
                self._parked[msg.block_hash] = _Parked(peer, msg, entry, since)
            return
        if result[0] != "ok":
            self._bad_frame(peer, msg.block_hash, result[1])
            node.schedule_downloads()
            return
        _, raw, block_hash, txids, outputs, seconds, proven, cpu = result
        self.stats.decode_s += seconds
        self.stats.decode_cpu_s += cpu
        if block_hash != msg.block_hash:
            self._bad_frame(peer, msg.block_hash, f"decodes to another block {hash_to_hex(block_hash)}")
            node.schedule_downloads()
            return
        self.stats.decoded_bytes += len(raw)
        self._remember(block_hash, (txids, outputs))
        # Frames waiting for this block's txids go to the decoders now, while this block is validated.
        self._wake()
        t0 = time.perf_counter()
        # Recovering the frame's keys proved their signatures: the script checks take those answers
        # from the signature cache instead of repeating the curve checks (exact; see script/sigcache).
        sigcache.admit(proven)
        self.stats.proven_checks += len(proven)
        node.download.received(block_hash, peer.id)
        node.accept_block(peer, raw, block_hash)
        self.stats.accept_s += time.perf_counter() - t0
        if there and node.cs is not None:
            stored = node.cs.tree.get(block_hash)
            if stored is not None and stored.status & HAVE_DATA and not stored.failed:  # a block we took
                held = self._held_there
                held[block_hash] = None
                while len(held) > self._held_there_max:
                    held.popitem(last=False)
        if peer.state.misbehavior is not None:
            peer.close(f"misbehaving: {peer.state.misbehavior}")

    def _wake(self) -> None:
        """Retry parked frames (an ancestor was decoded); drop those of peers that are gone."""
        for block_hash, p in list(self._parked.items()):
            if self._parked.get(block_hash) is not p:
                continue
            if p.peer.closed.is_set() or self.node.download.in_flight.get(block_hash, (None,))[0] != p.peer.id:
                del self._parked[block_hash]
                continue
            if self._resolve(p.msg, p.entry) is None:
                continue
            del self._parked[block_hash]
            self._start(p.peer, p.msg, p.entry, p.since)

    async def tick(self) -> None:
        """Periodic: parked frames whose ancestors arrived by another path (a plain block)."""
        while True:
            await asyncio.sleep(0.2)
            if self._parked:
                self._wake()


def attach_lightning(node: Node, **kwargs) -> LightningRelay:
    """Compressed relay on ``node`` (serve and fetch); see :class:`LightningRelay` for the options."""
    relay = LightningRelay(node, **kwargs)
    node.lightning = relay  # type: ignore[attr-defined]
    return relay


def demo(out_dir: Path, blocks: int = 150) -> None:
    """`make run` part: node A (codec store) serves a generated chain; B syncs it twice, with plain blocks
    and with compressed relay, and the two runs' bytes on the wire and utxo_digests are printed."""
    import shutil

    from rich.console import Console

    from ..chain.chainstate import Chainstate
    from ..chain.generator import ChainGenerator
    from .sync_cli import sync_from_peer

    console = Console()
    out_dir = Path(out_dir)
    a_dir = out_dir / "lightning-a"
    for d in (a_dir, out_dir / "lightning-plain", out_dir / "lightning-frames"):
        shutil.rmtree(d, ignore_errors=True)
    gen = ChainGenerator("make-run-lightning", "2016", txs_per_block=10, min_kind_share=0.1, bcoin_compatible=True)
    with Chainstate(a_dir, "regtest", jobs=1, store_mode="codec") as cs:
        for b in gen.blocks(blocks):
            cs.process_block(b.raw)
    console.print(f"[bold]lightning[/bold]: node A holds a {blocks}-block 2016-profile chain (codec store)")
    logging.getLogger("packetfs.node").setLevel(logging.ERROR)

    async def run() -> list:
        a = Node(NodeConfig("regtest", a_dir, port=0, bind="127.0.0.1", store_mode="codec", progress_interval=3600))
        relay = attach_lightning(a, fetch=False, jobs=1)
        await a.start()
        try:
            return [await sync_from_peer(out_dir / f"lightning-{m}", "regtest", "127.0.0.1", a.port, mode,
                                         decode_jobs=1, timeout=120)
                    for m, mode in (("plain", "plain"), ("frames", "lightning"))]
        finally:
            await a.stop()
            relay.close()

    plain, light = asyncio.run(run())
    for r in (plain, light):
        console.print(f"      B --mode {r.mode:9s}: {r.blocks} blocks in {r.wall_s:.1f} s, "
                      f"{r.bytes_received:,} bytes received, utxo_digest {r.utxo_digest[:16]}…")
    console.print(f"      compressed relay moved {light.bytes_received / plain.bytes_received:.2f} of plain's bytes "
                  f"({light.stages['frames']} chain-context frames); digests "
                  f"{'equal' if light.utxo_digest == plain.utxo_digest else 'DIFFER'}")
