"""SwiftSync from peers: the phase a node runs before its ordinary sync (``packetfs node --swiftsync``).

1. Connect to the given peers (the node's ``Peer``: handshake, pings, bounded sends) and sync their
   headers into a header tree of our own (proof of work, difficulty, times checked), so the chainstate
   is untouched until the result is known. Peers that do not advertise ``NODE_BLOCK_UNDO`` are left.
2. For blocks 1..H of the best header chain (H: the hints' height) ask each peer, up to a window, for
   the block and its spent coins (``getbspent``), lowest heights first. The block comes as a codec frame
   of the compressed relay (``getpfsblks``/``pfsblock``, docs/pfs-relay.md) from a peer that offers it
   (``NODE_PFS``, ``sendpfs`` answered), else as a plain ``block`` (``getdata``). A chain-context frame
   names the transactions its inputs spend as (height, position) on the sender's chain; we have no
   chainstate yet, but we hold every block below it (decoded or received here): the txids and outputs
   of the last ``TXS_KEEP`` blocks stay in memory, older ones are read back from the spool, and a
   frame naming a block not here yet waits (parked, bounded) until it is, or until that block's frame
   is with the decoding process (one process, decoding in submission order, which keeps the blocks it
   decoded last, as the relay's decoder does). A block's txids are used only
   once its merkle root matches its header. A frame that does not decode, or decodes to another block,
   gets its sender discouraged and the block asked of another peer (none left: fallback). A block must
   be one we asked that peer for; its coins must cover exactly its inputs (else the peer is discouraged:
   a missing or extra coin is a lie we can see at once; the block and its coins are asked of another
   peer that serves spent coins, and with none left the phase falls back). Block and coins (as
   CBlockUndo) go to a spool file in the datadir. The ECDSA checks that decoding proved by key recovery go with the block to its
   validation worker's signature cache (script/sigcache.py), so recovery replaces verification there.
   A block asked as a frame is not asked with getbspent: once decoded (and its merkle root matches) its
   spent coins are derived from the blocks we hold (``derive_spent_coins``: same-block spends and the
   frame's locations), and only the coins we cannot derive are asked with ``getbspentsel``. With
   ``frames="auto"`` (the default) a frame peer is asked for frames only while the link is the
   bottleneck (no decoding or validation backlog), else for plain blocks, which cost no decoding CPU.
3. As blocks arrive, groups of them are validated in worker processes (validate.py: every consensus
   rule with the served coins, no UTXO lookups, the salted aggregate), in any order, while the
   download goes on; with ``--executor ray`` they run as Ray tasks once downloaded.
4. At H the aggregate must be zero, every block valid, no coinbase txid repeated: then the blocks, their
   undo data and the UTXO set the hints mark unspent are written (importer.install) and the tip is H.

Anything else (wrong hints, a wrong or missing coin, an invalid block, peers gone) falls back: the
spooled blocks are validated the ordinary way from genesis (the last point we can trust: nothing
below H is proven until the aggregate is), stopping at the first invalid one, whose sender is
discouraged; then every served coin is compared with the undo data that ordinary validation made, and
a peer that served a wrong one is discouraged. If every coin was right and every block valid, the
hints were wrong. Either way the node then carries on with its ordinary sync from that tip, and ends
with the same UTXO set (and ``utxo_digest``) as a node that never tried SwiftSync.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import multiprocessing
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from ..chain.chainstate import Chainstate
from ..chain.headers import HeaderTree, IndexEntry
from ..consensus.errors import ValidationError
from ..net.addr import NetAddress
from ..net.block import BlockMessage
from ..net.bspent import MAX_BSPENT_COINS, NODE_BLOCK_UNDO, BSpent, GetBSpent, GetBSpentSel, SpentCoin
from ..net.headers import GetHeaders, Headers
from ..net.inv import GetData, InvVector
from ..net.limits import MAX_HEADERS_RESULTS, MSG_WITNESS_BLOCK, NODE_NETWORK, NODE_WITNESS
from ..net.message import Message
from ..net.pfs import MODE_CHAIN, NODE_PFS, PFS_VERSION, GetPfsBlocks, PfsBlock, SendPfs
from ..node.addrbook import BanList
from ..node.lightning import decode_frame_job, decoder_warmup, take_location
from ..node.node import block_locator
from ..node.peer import ConnectionType, Peer, PeerTimeouts
from ..primitives.block import Block
from ..primitives.hashes import hash_to_hex
from ..script import sigcache
from ..storage.undo import Coin, decode_block_undo, encode_block_undo
from .aggregate import new_salt
from .executor import ExecutorError, RayExecutor
from .hints import Hints
from .importer import install, verdict
from .scan import RecordRef
from .validate import BlockWork, RangeResult, RangeTask, merge, validate_range

log = logging.getLogger("packetfs.node.swiftsync")

WINDOW_PER_PEER = 16  # blocks (each with its coins) in flight per peer, as the node's download window
CHUNK_BLOCKS = 8  # blocks per validation task
MAX_UNCONNECTING_HEADERS = 10  # as the node
MAX_TREE_EXTRA = 10 * MAX_HEADERS_RESULTS  # headers kept beyond H (side branches included)
SPOOL_MAGIC = b"SSPL"
TXS_KEEP = 1024  # blocks whose txids and outputs stay in memory for resolving frames' locations (LRU)
MAX_PARKED_BYTES = 64 << 20  # frames waiting for an ancestor; past this only lower blocks are asked for
MAX_DECODING = 32  # frames handed to the decoding process and not back yet
MAX_SELECTING = 4 * WINDOW_PER_PEER  # blocks held here waiting for a getbspentsel answer; no new asks past it
# frames="auto": a frame peer is asked for frames only while the link is what holds the phase up, i.e.
# while neither CPU stage has work queued: fewer than this many frames wait for or in the decoding
# process, and fewer than this many validation tasks per validation process are submitted and not done
# (each process runs one at a time: 2 means a full round waits). Otherwise plain blocks (getdata +
# getbspent), which cost no decoding CPU.
AUTO_DECODE_BACKLOG = WINDOW_PER_PEER
AUTO_VALIDATE_BACKLOG = 2


def derive_spent_coins(block: Block, height: int,
                       located: dict[bytes, tuple[int, int, tuple] | None]) -> list[SpentCoin | None]:
    """The coin each non-coinbase input of ``block`` (at ``height`` on our header chain) spends, in
    bspent's numbering, where blocks we hold name it; None where they do not (the coin must be asked
    for). ``located``: txid -> (height, position, outputs) of the transactions a chain-context frame's
    locations resolved to on our own blocks (None: that txid is at two locations, so ambiguous).

    An input spending output ``vout`` of an earlier transaction of the same block gets (height, that
    transaction is the coinbase, its output); one spending a located transaction gets (the location's
    height, position 0, its output). Everything else is None: a txid of neither, an output index past the
    transaction's outputs, a txid both in this block and located, or a txid twice among the block's
    earlier transactions. Nothing here is trusted more than a peer's coin: the SwiftSync aggregate and
    the script checks judge both the same way."""
    coins: list[SpentCoin | None] = []
    inside: dict[bytes, int | None] = {}
    txs = block.transactions
    index = 0
    for i, tx in enumerate(txs):
        if i:
            for txin in tx.inputs:
                ptx, vout = txin.prev_txid, txin.prev_index
                j = inside.get(ptx, -1)
                where = located.get(ptx, ())
                coin = None
                if j is not None and j >= 0 and where == ():
                    outs = txs[j].outputs
                    if vout < len(outs):
                        o = outs[vout]
                        coin = SpentCoin(index, height, j == 0, o.value, o.script_pubkey)
                elif j == -1 and where:
                    h, pos, outs = where
                    if vout < len(outs):
                        value, script = outs[vout]
                        coin = SpentCoin(index, h, pos == 0, value, script)
                coins.append(coin)
                index += 1
        txid = tx.txid
        inside[txid] = None if txid in inside else i
    return coins


def _validate_proven(task: RangeTask, proven: list[bytes]) -> tuple[RangeResult, int]:
    """``validate_range`` in a worker whose signature cache first takes the ECDSA checks that decoding
    the blocks' frames proved (script/sigcache.py: an exact (signature, message, key) match answers the
    curve check once; everything else in the script check still runs). Also: how many it answered."""
    answered = sigcache.COUNTS[1]
    if proven:
        sigcache.admit(proven)
    return validate_range(task), sigcache.COUNTS[1] - answered


class _Fallback(Exception):
    """SwiftSync cannot vouch for the chain. args: (why, detail dict or None)."""


@dataclass
class NetSwiftSyncResult:
    """``mode``: "swiftsync" (blocks 1..H by SwiftSync), "fallback" (``fallback_reason`` says why; the
    spooled blocks were validated the ordinary way up to ``tip_height``) or "skipped" (not applicable,
    e.g. a chainstate that is not at genesis, or peers whose chain is shorter than the hints)."""

    mode: str
    hints_height: int
    executor: str
    jobs: int
    tip_height: int = 0
    blocks_swiftsync: int = 0
    inputs_script_checked: int = 0
    utxos_from_hints: int = 0
    blocks_downloaded: int = 0
    blocks_ordinary: int = 0
    fallback_reason: str | None = None
    failure: dict | None = None
    discouraged: dict[str, str] = field(default_factory=dict)
    bytes_received: int = 0
    bytes_sent: int = 0
    frames: int = 0  # blocks received as pfsblock frames (the rest came as plain blocks)
    frame_bytes: int = 0
    plain_blocks: int = 0
    bad_frames: int = 0
    coins_rerequested: int = 0  # blocks whose coins did not match their inputs, asked of another peer
    coins_derived: int = 0  # spent coins derived from blocks we hold (frames' locations, same-block spends)
    coins_served: int = 0  # spent coins peers sent (getbspent, getbspentsel)
    selections: int = 0  # getbspentsel requests (blocks with coins we could not derive)
    derived_wrong: int = 0  # derived coins that ordinary validation found different (fallback only)
    auto_plain_asks: int = 0  # frames="auto": requests to a frame peer sent as getdata (CPU the bottleneck)
    proven_checks: int = 0  # ECDSA checks proven by the decoder's key recoveries, sent to the workers
    proven_answered: int = 0  # of those, checks the workers answered from their signature cache
    decode_cpu_s: float = 0.0  # CPU of decoding frames (in the decoding process: not in our rusage)
    worker_cpu_s: float = 0.0  # CPU of the validation workers (fork-server children: not in our rusage)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class _Item:
    """One block of 1..H on its way: who was asked, what came back, where it was spooled."""

    entry: IndexEntry
    peer_id: int | None = None
    asked_at: float = 0.0
    raw: bytes | None = None
    frame: PfsBlock | None = None  # a frame received, not decoded yet
    counts: tuple[int, ...] = ()  # inputs per non-coinbase transaction (known once the block is here)
    good: bool = False  # the block is here and its merkle root matches the header: its txids can be used
    proven: list | None = None  # ECDSA checks proven while decoding its frame
    wait: int = -1  # the ancestor height a parked frame waits for
    queued: bool = False
    coins: tuple | None = None
    block_from: str | None = None
    coins_from: str | None = None
    work: BlockWork | None = None
    derive: bool = False  # asked of a frame peer: coins derived here, the rest asked with getbspentsel
    arrived: bool = False  # the block or its frame came (it may be decoded and spooled since)
    derived: list | None = None  # derived coins (None where not derivable) while the selection is asked
    sel: tuple[int, ...] = ()  # input indexes asked with getbspentsel
    sel_peer: int | None = None
    served: frozenset | None = None  # indexes whose coins a peer served (None: all of them)


class _Spool:
    """Blocks and their CBlockUndo as received, appended to one file in Core's record framing (magic,
    u32 size, data), so workers and the install or fallback read them back by location."""

    def __init__(self, path: Path):
        self.path = path
        self._f = path.open("wb")
        self._pos = 0

    def put(self, data: bytes) -> RecordRef:
        self._f.write(SPOOL_MAGIC + len(data).to_bytes(4, "little"))
        self._f.write(data)
        ref = RecordRef(str(self.path), self._pos + 8, len(data), b"")
        self._pos += 8 + len(data)
        return ref

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class _Phase:
    def __init__(self, cs: Chainstate, hints: Hints, peers: list[tuple[str, int]], jobs: int, executor: str,
                 ray_address: str | None, result: NetSwiftSyncResult, timeout: float, request_timeout: float,
                 progress: Callable[[str, int, int], None] | None, salt: bytes | None, frames: bool | str = True,
                 decode_jobs: int = 1, derive: bool = True):
        self.cs = cs
        self.frames = frames
        self.derive = derive  # coins of blocks asked as frames: derived here, only the rest asked
        self.decode_jobs = 1 if decode_jobs else 0  # one process decodes in submission order, or inline
        self.dpool: ProcessPoolExecutor | None = None
        self.decoding: dict[bytes, _Item] = {}  # handed to the decoding process, result not handled yet
        self.decode_closed = False  # the phase is over: no more decoding
        self.params = cs.params
        self.hints = hints
        self.targets = peers
        self.jobs = jobs
        self.executor = executor
        self.ray_address = ray_address
        self.result = result
        self.timeout = timeout
        self.request_timeout = request_timeout
        self.progress = progress
        self.salt = salt or new_salt()
        self.tree = HeaderTree(self.params)
        self.bans = BanList(cs.datadir / "banlist.json")
        self.peers: dict[int, Peer] = {}
        self.headers_done: set[int] = set()
        self.headers_asked: dict[int, float] = {}  # peer id -> when we last asked it for headers
        self.unconnecting: dict[int, int] = {}
        self.serving: set[int] = set()
        self.changed = asyncio.Event()
        self.items: dict[bytes, _Item] = {}
        self.by_height: list[_Item | None] = [None]  # index = height (0: genesis, not fetched)
        self.queue: list[tuple[int, _Item]] = []  # heap: the lowest height is asked for first
        self.in_flight: dict[int, set[bytes]] = {}  # per peer: asked, not yet fully delivered
        self.sel_flight: dict[int, set[bytes]] = {}  # per peer: blocks whose getbspentsel it has not answered
        # Frame peers whose last frame needing coins had no chain context (e.g. a sender without a tx
        # index): their blocks' coins are asked with the request (getbspent) instead of after decoding.
        self.no_context: set[int] = set()
        self.pfs_asked: set[int] = set()  # peers we sent sendpfs to
        self.pfs_peers: set[int] = set()  # ... and that answered it: blocks are asked as frames
        self.parked: dict[bytes, _Item] = {}  # frames received, waiting for an ancestor's txids
        self.parked_bytes = 0
        self.txs: OrderedDict[int, tuple[bytes, tuple]] = OrderedDict()  # height -> (txids, outputs per tx)
        self.ready: list[BlockWork] = []
        self.ready_proven: list[bytes] = []
        self.partial: list[RangeResult] = []
        self.tasks_pending = 0
        self.all_tasks: list[RangeTask] = []
        self.failed: tuple[str, dict | None] | None = None
        self.spool = _Spool(cs.datadir / "swiftsync-spool.dat")
        self.pool: ProcessPoolExecutor | None = None
        self.mtp: tuple[int, ...] = ()
        self._peer_tasks: list[asyncio.Task] = []
        self._closed_rx = 0
        self._closed_tx = 0

    # ------------------------------------------------------------------ peers
    def discourage(self, peer_or_host: Peer | str, reason: str) -> None:
        host = peer_or_host if isinstance(peer_or_host, str) else peer_or_host.host
        if isinstance(peer_or_host, Peer):
            peer_or_host.misbehaving(reason)
            peer_or_host.close(reason)
        if host not in self.result.discouraged:
            self.result.discouraged[host] = reason
            self.bans.discourage(host, reason)
            log.warning("SwiftSync: discouraged %s: %s", host, reason)

    async def _connect(self, host: str, port: int) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        except (OSError, TimeoutError) as e:
            log.info("SwiftSync: cannot connect to %s:%d: %s", host, port, e)
            return
        peername = writer.get_extra_info("peername") or (host, port)
        peer = Peer(reader, writer, magic=self.params.magic, conn_type=ConnectionType.OUTBOUND_FULL_RELAY,
                    address=NetAddress.from_host(peername[0], port), our_height=lambda: 0,
                    local_nonce=random.getrandbits(64), services=NODE_WITNESS,
                    timeouts=PeerTimeouts(handshake=10.0), relay=False)
        self.peers[peer.id] = peer
        self.in_flight[peer.id] = set()
        self.sel_flight[peer.id] = set()
        try:
            await peer.run(self.handle, self.on_ready)
        finally:
            log.info("SwiftSync: %s closed: %s", peer.host, peer.close_reason or "by the peer")
            if peer.state.misbehavior is not None:  # e.g. a malformed message, caught by the peer itself
                self.discourage(peer.host, peer.state.misbehavior)
            self._closed_rx += peer.transport.stats.bytes_received
            self._closed_tx += peer.transport.stats.bytes_sent
            self.peers.pop(peer.id, None)
            self.headers_done.discard(peer.id)
            self.serving.discard(peer.id)
            for h in self.in_flight.pop(peer.id, set()):
                item = self.items[h]
                if item.work is None:
                    self._requeue(item)
            self.pfs_asked.discard(peer.id)
            self.pfs_peers.discard(peer.id)
            self.no_context.discard(peer.id)
            for h in self.sel_flight.pop(peer.id, set()):
                item = self.items[h]
                if item.work is None and item.sel_peer == peer.id:
                    self._ask_selection(item)
            self.changed.set()

    async def on_ready(self, peer: Peer) -> None:
        v = peer.state.version
        if v is None or not v.services & NODE_BLOCK_UNDO or not v.services & NODE_NETWORK:
            peer.close("does not serve blocks and spent coins (NODE_NETWORK, NODE_BLOCK_UNDO)")
            return
        self.serving.add(peer.id)
        if self.frames and v.services & NODE_PFS:
            # Before getheaders: its answer (sendpfs) then arrives before the headers, so blocks are
            # asked as frames from the first request on.
            peer.send(SendPfs(PFS_VERSION))
            self.pfs_asked.add(peer.id)
        self.headers_asked[peer.id] = time.monotonic()
        peer.send(GetHeaders(tuple(block_locator(self.tree.best_header)), bytes(32)))

    async def handle(self, peer: Peer, msg: Message) -> None:
        if isinstance(msg, Headers):
            self.on_headers(peer, msg)
        elif isinstance(msg, BlockMessage):
            self.on_block(peer, msg)
        elif isinstance(msg, BSpent):
            self.on_bspent(peer, msg)
        elif isinstance(msg, PfsBlock):
            self.on_pfsblock(peer, msg)
        elif isinstance(msg, SendPfs):
            if msg.version == PFS_VERSION and peer.id in self.pfs_asked:
                self.pfs_peers.add(peer.id)
                self._decoder()  # started now, while headers sync, so the first frame does not wait for it
        # Everything else (announcements, feefilter, requests to us) is for the node that follows.

    def on_headers(self, peer: Peer, msg: Headers) -> None:
        """Headers answering our getheaders. The phase needs the chain to H only: once a peer's headers
        reach past H (or the tree holds a bounded number beyond it) it is not asked for more, and
        anything after that is ignored, so a peer cannot grow our header tree without bound."""
        headers = msg.headers
        if peer.id in self.headers_done:
            return
        if len(self.tree) > self.hints.height + MAX_TREE_EXTRA:
            self.headers_done.add(peer.id)  # enough headers: the phase goes on with what it has
            self.changed.set()
            return
        now = int(time.time())
        try:
            for h in headers:
                if self.tree.get(h.hash) is None:
                    if self.tree.get(h.prev_hash) is None:
                        # As the node: not a lie by itself (a race with an announcement); ask again, but a
                        # peer that keeps doing it is misbehaving.
                        self.unconnecting[peer.id] = self.unconnecting.get(peer.id, 0) + 1
                        if self.unconnecting[peer.id] > MAX_UNCONNECTING_HEADERS:
                            self.discourage(peer, f"{MAX_UNCONNECTING_HEADERS} headers messages that do not connect")
                        else:
                            peer.send(GetHeaders(tuple(block_locator(self.tree.best_header)), bytes(32)))
                        return
                    self.tree.add_header(h, now=now)
        except ValidationError as e:
            self.discourage(peer, f"invalid header: {e.reason}")
            return
        self.headers_asked[peer.id] = time.monotonic()
        last = self.tree.get(headers[-1].hash) if headers else None
        if len(headers) == MAX_HEADERS_RESULTS and last is not None and last.height < self.hints.height + MAX_HEADERS_RESULTS:
            peer.send(GetHeaders(tuple(block_locator(last)), bytes(32)))
        else:
            self.headers_done.add(peer.id)
        self.changed.set()

    def on_block(self, peer: Peer, msg: BlockMessage) -> None:
        """A plain block (asked with getdata, or the answer to getpfsblks of a sender that could not
        encode it)."""
        h = msg.block.hash
        if h not in self.in_flight.get(peer.id, ()):
            self.discourage(peer, f"unrequested block {hash_to_hex(h)}")
            return
        item = self.items[h]
        if not item.arrived:
            item.arrived = True
            self.result.plain_blocks += 1
            self._have_block(item, msg.raw, msg.block, peer.host)
            if item.derive:  # asked as a frame, sent plain: only same-block spends can be derived
                self._derive(item, msg.block, {})
            self._decode_parked()
        self._delivered(peer, item)

    def on_pfsblock(self, peer: Peer, msg: PfsBlock) -> None:
        """A frame: parked until every block it names is here, then decoded (``_decode_parked``)."""
        h = msg.block_hash
        if h not in self.in_flight.get(peer.id, ()):
            return  # not asked of this peer: ignored, as the relay ignores unrequested frames
        item = self.items[h]
        if item.arrived:
            return
        self.result.frames += 1
        self.result.frame_bytes += len(msg.frame)
        item.arrived = True
        if msg.mode == MODE_CHAIN:
            self.no_context.discard(peer.id)  # it sends context (again): its coins are derived
        item.frame, item.block_from = msg, peer.host
        self.parked[h] = item
        self.parked_bytes += len(msg.frame)
        self._decode_parked()
        self._delivered(peer, item)

    def on_bspent(self, peer: Peer, msg: BSpent) -> None:
        h = msg.block_hash
        if h in self.sel_flight.get(peer.id, ()):
            self._on_selection(peer, self.items[h], msg)
            return
        item = self.items.get(h)
        if h not in self.in_flight.get(peer.id, ()) or item is None or item.derive:
            self.discourage(peer, f"unrequested bspent for {hash_to_hex(h)}")
            return
        if item.coins is None:
            item.coins, item.coins_from, item.served = msg.coins, peer.host, None
            self.result.coins_served += len(msg.coins)
            self._delivered(peer, item)

    def _delivered(self, peer: Peer, item: _Item) -> None:
        """Once the block (or its frame) and its coins are both here, the peer has done its part: the
        request leaves its window (a frame may still wait here for an ancestor from another peer). Coins
        we derive are not the peer's part: a selection of the rest is a request of its own."""
        if not item.arrived or (item.coins is None and item.work is None and not item.derive):
            return
        self.in_flight[peer.id].discard(item.entry.hash)
        self._complete(item)
        self.changed.set()

    def _requeue(self, item: _Item) -> None:
        """Ask for ``item`` again (its peer left, or sent a bad frame): whatever it delivered is dropped."""
        if item.frame is not None and self.parked.pop(item.entry.hash, None) is not None:
            self.parked_bytes -= len(item.frame.frame)
        if item.sel_peer is not None:
            self.sel_flight.get(item.sel_peer, set()).discard(item.entry.hash)
        item.peer_id = item.sel_peer = None
        item.raw = item.coins = item.frame = item.proven = item.derived = item.served = None
        item.good = item.derive = item.arrived = False
        item.sel = ()
        if not item.queued:
            item.queued = True
            heapq.heappush(self.queue, (item.entry.height, item))

    # ------------------------------------------------------------------ frames
    def _have_block(self, item: _Item, raw: bytes, block: Block, host: str) -> None:
        """The block of ``item`` is here (plain, or decoded from a frame; its header hash checked). Its
        txids become usable for later frames' locations only if its merkle root matches the header
        (the header commits to them, outputs included); a block that does not match is still spooled
        and fails validation there, as a bad block always has."""
        item.raw, item.block_from = raw, host
        item.counts = tuple(tx.input_count for tx in block.transactions[1:])
        root, mutated = block.compute_merkle_root()
        item.good = root == block.header.merkle_root and not mutated
        if item.good:
            self._remember(item.entry.height, block)

    def _remember(self, height: int, block: Block) -> tuple[bytes, tuple]:
        got = (b"".join(tx.txid for tx in block.transactions),
               tuple(tuple((o.value, o.script_pubkey) for o in tx.outputs) for tx in block.transactions))
        self.txs[height] = got
        while len(self.txs) > TXS_KEEP:
            self.txs.popitem(last=False)
        return got

    def _txs_at(self, height: int) -> tuple[bytes, tuple] | None:
        """(concatenated txids, outputs per tx) of our block at ``height``, or None if not here yet."""
        got = self.txs.get(height)
        if got is not None:
            self.txs.move_to_end(height)
            return got
        if height == 0:
            return self._remember(0, self.params.genesis)
        item = self.by_height[height] if height < len(self.by_height) else None
        if item is None or not item.good:
            return None
        if item.raw is not None:
            raw = item.raw
        elif item.work is not None:
            self.spool.flush()
            raw = item.work.block.read()  # type: ignore[union-attr]
        else:
            return None
        return self._remember(height, Block.from_bytes(raw))

    def _decoding_at(self, height: int) -> bytes | None:
        """The hash of our block at ``height`` if its frame is with the decoding process right now."""
        anc = self.by_height[height] if 0 < height < len(self.by_height) else None
        return anc.entry.hash if anc is not None and anc.entry.hash in self.decoding else None

    def _resolve(self, item: _Item) -> tuple[dict, dict, dict] | str | None:
        """({location: txid}, {txid: outputs}, {location: ancestor hash}) for the frame of ``item``, from
        our own blocks below it; the third names ancestors whose frames are with the decoding process
        (it decodes in submission order and resolves those itself). None while a block it names is not
        here (``item.wait`` says which); a string: the frame is bad."""
        msg = item.frame
        assert msg is not None
        at: dict[tuple[int, int], bytes] = {}
        outs: dict[bytes, tuple] = {}
        inflight: dict[tuple[int, int], bytes] = {}
        if msg.mode != MODE_CHAIN:
            return at, outs, inflight
        for height, pos in msg.locations:
            if height >= item.entry.height:
                return f"location at height {height} not below the block's {item.entry.height}"
            txs = self._txs_at(height)
            if txs is None:
                ancestor = self._decoding_at(height)
                if ancestor is not None:
                    inflight[(height, pos)] = ancestor
                    continue
                item.wait = height
                return None
            bad = take_location(txs, height, pos, at, outs)
            if bad is not None:
                return bad
        return at, outs, inflight

    def _decoder(self) -> ProcessPoolExecutor | None:
        """The decoding process (fork server: this process holds sockets), started with the codec
        imported; None when frames are decoded inline."""
        if self.dpool is None and self.decode_jobs:
            self.dpool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"))
            self.dpool.submit(decoder_warmup)
        return self.dpool

    def _decode_parked(self) -> None:
        """Decode every parked frame whose locations can now be resolved, lowest first (a decoded block,
        or one handed to the decoding process just before, may be what the next one waits for)."""
        progress = not self.decode_closed
        while progress and self.parked:
            progress = False
            for item in sorted(self.parked.values(), key=lambda i: i.entry.height):
                if self.decode_jobs and len(self.decoding) >= MAX_DECODING:
                    return  # back-pressure: resumed as results come back
                if item.wait >= 0 and self._txs_at(item.wait) is None and self._decoding_at(item.wait) is None:
                    continue
                got = self._resolve(item)
                if got is None:
                    continue
                msg = item.frame
                assert msg is not None
                del self.parked[item.entry.hash]
                self.parked_bytes -= len(msg.frame)
                progress = True
                if isinstance(got, str):
                    self._bad_frame(item, got)
                    continue
                at, outs, inflight = got
                ctx = at if msg.mode == MODE_CHAIN else None
                pool = self._decoder()
                if pool is None:
                    self._decoded(item, msg, decode_frame_job(msg.frame, ctx, outs, inflight))
                    continue
                try:
                    fut = asyncio.wrap_future(pool.submit(decode_frame_job, msg.frame, ctx, outs, inflight))
                except BrokenProcessPool:
                    self._renew_decoder()
                    self._park(item, msg)
                    continue
                self.decoding[item.entry.hash] = item
                fut.add_done_callback(lambda f, i=item, m=msg, p=pool: self._decode_done(i, m, p, f))

    def _park(self, item: _Item, msg: PfsBlock) -> None:
        item.frame = msg
        self.parked[item.entry.hash] = item
        self.parked_bytes += len(msg.frame)

    def _renew_decoder(self) -> None:
        old, self.dpool = self.dpool, None
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    def _decode_done(self, item: _Item, msg: PfsBlock, pool: ProcessPoolExecutor, fut: asyncio.Future) -> None:
        self.decoding.pop(item.entry.hash, None)
        if self.decode_closed:
            return
        if item.frame is not msg:  # the item was asked for again meanwhile (its peer left): stale
            self._decode_parked()
            return
        if fut.cancelled():  # its pool was replaced (below): decoded again by the new one
            result: tuple = ("missing", b"")
        else:
            try:
                result = fut.result()
            except BrokenProcessPool:
                # Our decoding process died: not the peer's fault; a new one decodes the frame again.
                if pool is self.dpool:
                    self._renew_decoder()
                result = ("missing", b"")
            except Exception as e:  # noqa: BLE001 - a job that raised: the frame does not decode
                result = ("error", f"frame does not decode ({type(e).__name__}: {e})")
        self._decoded(item, msg, result)
        self._decode_parked()
        self.changed.set()

    def _decoded(self, item: _Item, msg: PfsBlock, result: tuple) -> None:
        """A decoding result for ``item``'s frame: ('ok', raw, hash, ...), ('missing', ancestor) when an
        ancestor it named was not decoded there (its frame failed: wait for it again), or ('error', why)."""
        if result[0] == "missing":
            self._park(item, msg)
            return
        if result[0] != "ok":
            self._bad_frame(item, result[1])
            return
        _, raw, block_hash, _txids, _outputs, seconds, proven, cpu = result
        self.result.seconds["decode"] = self.result.seconds.get("decode", 0.0) + seconds
        self.result.decode_cpu_s += cpu
        if block_hash != item.entry.hash:
            self._bad_frame(item, f"decodes to another block {hash_to_hex(block_hash)}")
            return
        item.frame = None
        item.proven = proven
        self.result.proven_checks += len(proven)
        block = Block.from_bytes(raw)
        self._have_block(item, raw, block, item.block_from or "")
        if item.derive:
            self._derive(item, block, self._located(msg))
        self._complete(item)

    # ------------------------------------------------------------------ spent coins from our own blocks
    def _located(self, msg: PfsBlock) -> dict[bytes, tuple[int, int, tuple] | None]:
        """txid -> (height, position, outputs) for the frame's locations on our blocks (the frame decoded,
        so each resolved: its ancestors are here, or were decoded just before it); a txid at two
        locations maps to None. A location whose block is not usable here is left out (its coins are
        asked for)."""
        located: dict[bytes, tuple[int, int, tuple] | None] = {}
        if msg.mode != MODE_CHAIN:
            return located
        for height, pos in msg.locations:
            txs = self._txs_at(height)
            if txs is None or (pos + 1) * 32 > len(txs[0]):
                continue
            txid = txs[0][pos * 32 : pos * 32 + 32]
            located[txid] = None if txid in located else (height, pos, txs[1][pos])
        return located

    def _derive(self, item: _Item, block: Block, located: dict) -> None:
        """Derive the block's spent coins (``derive_spent_coins``); the rest are asked with getbspentsel.
        A block whose merkle root does not match its header fails validation on that before any coin is
        used (and is its sender's fault): nothing is asked for it, its inputs get empty placeholder coins
        so it reaches validation, fails there, and the phase falls back as for any bad block. The same for
        a block with more inputs than a block of 4,000,000 weight units can hold (it fails the weight
        check; a selection that long would be a malformed getbspentsel)."""
        if not item.good or sum(item.counts) > MAX_BSPENT_COINS:
            item.coins = tuple(SpentCoin(i, 0, False, 0, b"") for i in range(sum(item.counts)))
            item.served = frozenset()
            return
        coins = derive_spent_coins(block, item.entry.height, located)
        missing = tuple(i for i, c in enumerate(coins) if c is None)
        self.result.coins_derived += len(coins) - len(missing)
        if not missing:
            item.coins, item.served = tuple(coins), frozenset()  # type: ignore[arg-type]
            return
        if not located and item.peer_id is not None:
            # No context to derive from: one more round trip per block for nothing; ask this peer's next
            # blocks' coins up front until a frame with context comes from it.
            self.no_context.add(item.peer_id)
        item.derived, item.sel = coins, missing
        self._ask_selection(item)

    def _ask_selection(self, item: _Item) -> None:
        """Ask the coins we could not derive of a peer that speaks getbspentsel (a frame peer: the one that
        sent the block if it still can); with none left, the block is asked again as a whole."""
        item.sel_peer = None
        peers = [p for p in self.peers.values()
                 if p.id in self.pfs_peers and p.id in self.serving and not p.closed.is_set()]
        if not peers:
            self._requeue(item)
            self.changed.set()
            return
        peer = next((p for p in peers if p.id == item.peer_id), peers[0])
        item.sel_peer, item.asked_at = peer.id, time.monotonic()
        self.sel_flight[peer.id].add(item.entry.hash)
        self.result.selections += 1
        peer.send(GetBSpentSel(item.entry.hash, item.sel))

    def _on_selection(self, peer: Peer, item: _Item, msg: BSpent) -> None:
        """The coins asked with getbspentsel: exactly the inputs asked, else the peer lied (seen at once:
        discouraged, the selection asked of another peer)."""
        self.sel_flight[peer.id].discard(item.entry.hash)
        if item.derived is None or item.sel_peer != peer.id:
            return
        if tuple(c.input_index for c in msg.coins) != item.sel:
            self.result.coins_rerequested += 1
            self.discourage(peer, f"bspent for block {item.entry.height} has {len(msg.coins)} coins for "
                                  f"{len(item.sel)} inputs asked")
            self._ask_selection(item)
            self.changed.set()
            return
        coins = item.derived
        for c in msg.coins:
            coins[c.input_index] = c
        self.result.coins_served += len(msg.coins)
        item.coins, item.coins_from, item.served = tuple(coins), peer.host, frozenset(item.sel)
        item.derived, item.sel_peer = None, None
        self._complete(item)
        self.changed.set()

    def _bad_frame(self, item: _Item, reason: str) -> None:
        """A frame that is not the block asked for: its sender is discouraged (and disconnected), and the
        block asked of another peer (the sender's other requests too, when its connection closes)."""
        self.result.bad_frames += 1
        peer = self.peers.get(item.peer_id) if item.peer_id is not None else None
        if peer is not None:
            self.in_flight.get(peer.id, set()).discard(item.entry.hash)
        host = item.block_from or (peer.host if peer is not None else "")
        self._requeue(item)
        self.discourage(peer if peer is not None and peer.host == host else host,
                        f"bad pfsblock for block {item.entry.height}: {reason}")
        self.changed.set()

    def _complete(self, item: _Item) -> None:
        """Block and coins are both here: check the coins cover exactly the inputs, spool, queue for
        validation."""
        if item.raw is None or item.coins is None or item.work is not None:
            return
        counts = item.counts
        n = sum(counts)
        coins = item.coins
        if len(coins) != n or (n and coins[-1].input_index != n - 1):
            # Indexes are strictly ascending (the decoder checks), so n coins ending at n - 1 are 0..n-1.
            # A lie seen at once (block and coins came from the same peer, so it is that peer's): it is
            # discouraged and disconnected, and the block and its coins are asked of another peer that
            # serves spent coins (none left: the phase falls back, "no peer left").
            peer = self.peers.get(item.peer_id) if item.peer_id is not None else None
            liar = peer if peer is not None and peer.host == item.coins_from else (item.coins_from or "")
            self.result.coins_rerequested += 1
            self._requeue(item)
            self.discourage(liar, f"bspent for block {item.entry.height} has {len(coins)} coins for {n} inputs")
            self.changed.set()
            return
        undo: list[list[Coin]] = []
        pos = 0
        for c in counts:
            undo.append([Coin(x.height, x.coinbase, x.value, x.script_pubkey) for x in coins[pos : pos + c]])
            pos += c
        block_ref = self.spool.put(item.raw)
        undo_ref = self.spool.put(encode_block_undo(undo)) if counts else None
        e = item.entry
        item.work = BlockWork(e.height, e.hash, block_ref, undo_ref, len(item.raw),
                              tuple(self.hints.for_block(e.height)))
        item.raw = item.coins = None  # spooled: memory stays bounded by the windows
        self.result.blocks_downloaded += 1
        self.ready.append(item.work)
        if item.proven:
            self.ready_proven.extend(item.proven)
        item.proven = None
        # A block whose merkle root is wrong fails validation at once, not after the chunk fills: frames
        # naming it wait for it and would never fill the chunk.
        if len(self.ready) >= CHUNK_BLOCKS or not item.good:
            self._submit()
        if self.progress:
            self.progress("download", self.result.blocks_downloaded, self.hints.height)
        self.changed.set()

    # ------------------------------------------------------------------ validation
    def _submit(self) -> None:
        if not self.ready:
            return
        task = RangeTask(self.params.name, self.salt, tuple(sorted(self.ready, key=lambda w: w.height)), 0, self.mtp)
        proven, self.ready_proven = self.ready_proven, []
        self.ready = []
        self.spool.flush()
        if self.executor == "ray":
            self.all_tasks.append(task)
            return
        if self.pool is None:
            # Not fork: this process holds peer sockets, and a forked worker would keep them open.
            self.pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("forkserver"))
        fut = asyncio.wrap_future(self.pool.submit(_validate_proven, task, proven))
        self.tasks_pending += 1
        fut.add_done_callback(self._validated)

    def _validated(self, fut: asyncio.Future) -> None:
        self.tasks_pending -= 1
        if fut.cancelled():  # the pool was shut down (fallback, or the phase is over)
            return
        try:
            r, answered = fut.result()
        except Exception as e:  # noqa: BLE001 - a dead worker (BrokenProcessPool, killed): fall back
            if self.failed is None:
                self.failed = (f"a validation worker failed: {e or type(e).__name__}", None)
        else:
            self.result.proven_answered += answered
            self.partial.append(r)
            if self.progress:
                self.progress("validate", sum(p.blocks for p in self.partial), self.hints.height)
            if r.failure is not None and self.failed is None:
                f = r.failure
                self.failed = (f"block {f.height} failed: {f.reason}", f.__dict__)
        self.changed.set()

    # ------------------------------------------------------------------ the phase
    async def run(self) -> list[IndexEntry]:
        deadline = time.monotonic() + self.timeout
        t = time.perf_counter()
        self._peer_tasks = [asyncio.create_task(self._connect(h, p)) for h, p in self.targets]
        await asyncio.sleep(0)
        # Headers: until every connected serving peer has sent its last headers message.
        while True:
            await self._wait(deadline)
            live = [p for p in self.peers.values() if not p.closed.is_set()]
            handshaking = [p for p in live if not p.handshake_done.is_set()]
            if not live and all(t.done() for t in self._peer_tasks):
                raise _Fallback("no peer to SwiftSync from (none reachable, or none serves spent coins)", None)
            serving = [p for p in live if p.id in self.serving]
            now = time.monotonic()
            for p in serving:
                if p.id not in self.headers_done and now - self.headers_asked[p.id] > self.request_timeout:
                    p.close(f"headers not delivered within {self.request_timeout:.0f} s")
            if serving and not handshaking and all(p.id in self.headers_done for p in serving):
                break
        self.result.seconds["headers"] = time.perf_counter() - t
        best = self.tree.best_header
        height = self.hints.height
        if best.height < height:
            self.result.mode = "skipped"
            raise _Fallback(f"the peers' best header chain ends at {best.height}, below the hints' {height}", None)
        chain = list(reversed(list(self.tree.path(self.tree.ancestor(best, height), self.tree.genesis))))
        self.mtp = tuple(self.tree.median_time_past(e) for e in [self.tree.genesis, *chain])
        for e in chain:
            item = _Item(e, queued=True)
            self.items[e.hash] = item
            self.by_height.append(item)
            self.queue.append((e.height, item))  # ascending: already a heap

        t = time.perf_counter()
        while True:
            if self.failed is not None:
                raise _Fallback(*self.failed)
            serving = [p for p in self.peers.values() if p.id in self.serving and not p.closed.is_set()]
            if self.queue and not serving:
                raise _Fallback("no peer left that serves blocks and spent coins", None)
            now = time.monotonic()
            for peer in serving:
                flight = self.in_flight[peer.id]
                if any(now - self.items[h].asked_at > self.request_timeout
                       for h in (*flight, *self.sel_flight[peer.id])):
                    peer.close(f"block or spent coins not delivered within {self.request_timeout:.0f} s")
                    continue
                asks = []
                # Frames parked past the cap: only blocks below the lowest parked one (what it waits for).
                below = (min(i.entry.height for i in self.parked.values())
                         if self.parked_bytes > MAX_PARKED_BYTES else None)
                if sum(map(len, self.sel_flight.values())) >= MAX_SELECTING:
                    below = -1  # blocks wait here for their coins: ask no more until they are answered
                while self.queue and len(flight) < WINDOW_PER_PEER and (below is None or self.queue[0][0] < below):
                    _, item = heapq.heappop(self.queue)
                    item.queued = False
                    item.peer_id, item.asked_at = peer.id, now
                    flight.add(item.entry.hash)
                    asks.append(item.entry.hash)
                if asks:
                    as_frames = peer.id in self.pfs_peers and self._frames_now()
                    if as_frames:
                        peer.send(GetPfsBlocks(tuple(asks)))
                    else:
                        peer.send(GetData(tuple(InvVector(MSG_WITNESS_BLOCK, h) for h in asks)))
                    derive = self.derive and as_frames and peer.id not in self.no_context
                    for h in asks:
                        self.items[h].derive = derive
                        if not derive:
                            peer.send(GetBSpent(h))
            if not self.queue and all(i.work is not None for i in self.items.values()):
                self._submit()
                if self.tasks_pending == 0:
                    break
            await self._wait(deadline)
        self.result.seconds["download"] = time.perf_counter() - t
        return chain

    def _frames_now(self) -> bool:
        """Whether to ask a frame peer for frames now (``frames`` True: always; "auto": while the link is
        the bottleneck, see AUTO_DECODE_BACKLOG; with Ray, whose tasks start once every block is here,
        only the decoding backlog counts)."""
        if self.frames != "auto":
            return bool(self.frames)
        if len(self.decoding) + len(self.parked) >= AUTO_DECODE_BACKLOG:
            self.result.auto_plain_asks += 1
            return False
        if self.executor != "ray" and self.tasks_pending >= AUTO_VALIDATE_BACKLOG * self.jobs:
            self.result.auto_plain_asks += 1
            return False
        return True

    async def _wait(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Fallback(f"SwiftSync did not finish within {self.timeout:.0f} s", None)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), min(0.5, left))
        self.changed.clear()

    async def close_peers(self) -> None:
        for p in list(self.peers.values()):
            p.close("SwiftSync phase over")
        for task in self._peer_tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 5)
        self.result.bytes_received = self._closed_rx
        self.result.bytes_sent = self._closed_tx

    def close_pool(self) -> None:
        self.decode_closed = True
        for pool in (self.pool, self.dpool):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        self.pool = self.dpool = None

    def validated_works(self) -> list[BlockWork]:
        return [i.work for i in sorted(self.items.values(), key=lambda i: i.entry.height) if i.work is not None]

    # ------------------------------------------------------------------ fallback
    def ordinary(self) -> None:
        """Validate the spooled blocks the ordinary way, in height order from genesis, stopping at the
        first one missing or invalid (its sender discouraged); then discourage whoever served a coin that
        differs from the undo data this made."""
        cs = self.cs
        self.spool.flush()  # blocks spooled since the last validation task was submitted
        items = sorted(self.items.values(), key=lambda i: i.entry.height)
        cs.process_headers(i.entry.header for i in items)
        connected: list[_Item] = []
        for item in items:
            if item.work is None:
                break
            raw = item.work.block.read()  # type: ignore[union-attr]
            try:
                cs.process_block(raw)
            except ValidationError as e:
                self._blame_block(item, e.reason)
                break
            if cs.tip.hash != item.entry.hash:
                self._blame_block(item, cs.last_error.reason if cs.last_error else "not connected")
                break
            connected.append(item)
            self.result.blocks_ordinary += 1
            if self.progress:
                self.progress("ordinary", len(connected), len(items))
        cs.flush()
        for item in connected:
            e = cs.tree.get(item.entry.hash)
            truth = decode_block_undo(cs.store.get_undo(e.undo_pos)) if e.undo_pos else []
            used = decode_block_undo(item.work.undo.read()) if item.work.undo is not None else []  # type: ignore[union-attr]
            if used == truth:
                continue
            flat_used = [c for tx in used for c in tx]
            flat_truth = [c for tx in truth for c in tx]
            wrong = {i for i in range(max(len(flat_used), len(flat_truth)))
                     if i >= len(flat_used) or i >= len(flat_truth) or flat_used[i] != flat_truth[i]}
            served = wrong if item.served is None else wrong & item.served
            # A derived coin differs only where a txid is on our chain twice (the location named the
            # other one): the frame's block was right, so nobody is blamed for it.
            self.result.derived_wrong += len(wrong - served)
            if served and item.coins_from:
                self.discourage(item.coins_from, f"served wrong spent coins for block {item.entry.height}")

    def _blame_block(self, item: _Item, reason: str) -> None:
        if item.block_from:
            self.discourage(item.block_from, f"sent invalid block {item.entry.height} ({reason})")


async def swiftsync_from_peers(
    datadir: Path, network: str, peers: list[tuple[str, int]], hints: Hints, *, jobs: int = 1,
    executor: str = "local", ray_address: str | None = None, store_mode: str = "raw", timeout: float = 3600.0,
    request_timeout: float = 60.0, progress: Callable[[str, int, int], None] | None = None,
    salt: bytes | None = None, frames: bool | str = "auto", decode_jobs: int = 1, derive: bool = True,
) -> NetSwiftSyncResult:
    """Run the SwiftSync phase on ``datadir`` (see the module docstring) and close it again, so the
    node can open it for its ordinary sync. Returns what happened; never raises for what peers or
    hints did wrong (that is a fallback), only for a datadir that cannot be opened. ``frames``: ask
    peers that offer the compressed relay for codec frames (True: always; "auto": while the link, not
    decoding or validation, holds the phase up, else plain blocks; False: plain blocks from everyone);
    ``decode_jobs``: 1 decodes them in a decoding process, 0 in this process; ``derive``: the spent
    coins of blocks asked as frames are derived from the blocks we hold and only the rest asked
    (``getbspentsel``; False: every coin asked with ``getbspent``, as of plain-block peers)."""
    if executor not in ("local", "ray"):
        raise ValueError(f"unknown executor {executor!r} (local or ray)")
    result = NetSwiftSyncResult("swiftsync", hints.height, executor, jobs)
    t0 = time.perf_counter()
    # The chainstate's script-check workers (the fallback's) come from the fork server: a forked worker
    # would keep the peer sockets this process holds open.
    with Chainstate(datadir, network, jobs=jobs, store_mode=store_mode, mp_start_method="forkserver") as cs:
        if cs.tip.height != 0:
            result.mode = "skipped"
            result.fallback_reason = f"the chainstate is at height {cs.tip.height}; SwiftSync starts from genesis"
            result.tip_height = cs.tip.height
            return result
        phase = _Phase(cs, hints, peers, jobs, executor, ray_address, result, timeout, request_timeout,
                       progress, salt, frames, decode_jobs, derive)
        try:
            try:
                chain = await phase.run()
            finally:
                await phase.close_peers()
            if executor == "ray":
                t = time.perf_counter()
                try:
                    phase.partial = list(RayExecutor(jobs, ray_address).run(phase.all_tasks))
                except ExecutorError as e:
                    raise _Fallback(f"the ray executor failed: {e}", None) from None
                result.seconds["validate"] = time.perf_counter() - t
            total = merge(phase.partial)
            result.worker_cpu_s = total.cpu_s
            result.blocks_swiftsync = total.blocks
            result.inputs_script_checked = total.inputs_verified
            bad = verdict(total, len(chain))
            if bad is not None:
                raise _Fallback(*bad)
            t = time.perf_counter()
            install(cs, chain, phase.validated_works(), total, 1)
            result.utxos_from_hints = len(total.unspent)
            result.seconds["write"] = time.perf_counter() - t
        except _Fallback as e:
            if result.mode != "skipped":
                result.mode = "fallback"
            result.fallback_reason, result.failure = e.args[0], e.args[1]
            log.warning("SwiftSync %s: %s", result.mode, result.fallback_reason)
            phase.close_pool()
            if result.mode == "fallback":
                t = time.perf_counter()
                phase.ordinary()
                result.seconds["ordinary"] = time.perf_counter() - t
                if not result.discouraged and "aggregate" in (result.fallback_reason or ""):
                    result.fallback_reason += " (every served coin and block was right: the hints are wrong)"
        finally:
            phase.close_pool()
            phase.spool.close()
        result.tip_height = cs.tip.height
    result.seconds["total"] = time.perf_counter() - t0
    return result


@dataclass
class SwiftSyncPhase:
    """``packetfs node --swiftsync F.hints``: the phase, configured from the node's options, run before
    the node starts (the node then opens the datadir and carries on from the phase's tip)."""

    hints: Hints
    datadir: Path
    network: str
    peers: list[tuple[str, int]]
    jobs: int
    executor: str
    ray_address: str | None
    store_mode: str
    result: NetSwiftSyncResult | None = None

    @classmethod
    def from_cli(cls, hints_path: Path, config, executor: str, ray_address: str | None) -> SwiftSyncPhase:
        """From the node's config; click.UsageError (exit 2) for a bad hints file or no peers to ask."""
        import click

        from .hints import SwiftSyncError

        peers = [*config.connect, *config.addnode]
        if not peers:
            raise click.UsageError("--swiftsync needs peers to fetch blocks and spent coins from (--connect or --addnode)")
        try:
            hints = Hints.read(hints_path)
        except (SwiftSyncError, OSError) as e:
            raise click.UsageError(str(e)) from None
        return cls(hints, config.datadir, config.network, peers, max(1, config.jobs or 1), executor, ray_address,
                   config.store_mode)

    async def run(self) -> int:
        """Run the phase; 0 to let the node carry on, or the node's exit code for a datadir in use."""
        from ..storage.datadir_lock import DatadirInUseError

        done: dict[str, int] = {}
        last = [time.monotonic()]

        def progress(stage: str, n: int, total: int) -> None:  # a log line every 5 s (the node logs, no bar)
            done[stage] = n
            if time.monotonic() - last[0] >= 5:
                last[0] = time.monotonic()
                log.info("SwiftSync: %s", ", ".join(f"{k} {v}/{total}" for k, v in done.items()))

        try:
            self.result = await swiftsync_from_peers(
                self.datadir, self.network, self.peers, self.hints, jobs=self.jobs, executor=self.executor,
                ray_address=self.ray_address, store_mode=self.store_mode, progress=progress)  # fmt: skip
        except DatadirInUseError as e:
            log.error("error: %s", e)
            return 3
        r = self.result
        if r.mode == "swiftsync":
            log.info("SwiftSync: blocks 1..%d validated (%d inputs script-checked, %d coins from the hints) in "
                     "%.1f s", r.hints_height, r.inputs_script_checked, r.utxos_from_hints, r.seconds["total"])
        else:
            log.warning("SwiftSync %s: %s; ordinary validation to height %d, the node carries on from there",
                        r.mode, r.fallback_reason, r.tip_height)
        return 0
