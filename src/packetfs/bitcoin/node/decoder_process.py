"""A worker process fed through two pipes straight from the event loop, for compressed relay's frame
decoding (node/lightning.py).

Why not a ``ProcessPoolExecutor``: its hand-over runs on two threads of the node's process (the manager
thread, which forwards jobs and unpickles results, and the call queue's feeder thread, which pickles and
writes them). On a machine with as many busy processes as cores, each job then costs the event loop
GIL hand-overs to threads that the OS may have preempted, and the profile of a 1,000-block sync showed
the loop waiting on them in every ``send`` and pipe write (seconds under load). Here jobs and results
are written and read by the loop itself, non-blocking, with no thread in the node's process; the
process decodes jobs in the order they were submitted (so a frame may name an ancestor submitted just
before it) and answers them in that order.

Messages use multiprocessing's connection framing (a 4-byte big-endian length, then a pickle), so the
worker side is a plain blocking ``Connection``. The worker first answers ``("ready",)`` once it has
imported the job function's module; a worker that dies (killed, out of memory) fails every job not yet
answered with ``BrokenProcessPool``, as an executor would.

The compressed relay's job (:func:`decode_frame_job`, with what it needs: :class:`RelayContext`,
:func:`take_location`) lives here too, not in node/lightning.py: the decoding process imports the module of
the function it runs, and this one needs only the codec and the block parser, not the node, so a new
decoding process is ready sooner (it imports about a third as much).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import os
import pickle
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool

from ..chain.txindex import ResolvedContext
from ..codec import CodecError, decode_block
from ..primitives.block import Block, merkle_root

log = logging.getLogger("packetfs.node.lightning")

_LEN = struct.Struct("!i")  # multiprocessing.connection's length header (messages < 2 GiB)
READ_CHUNK = 1 << 20


def _serve(jobs, results, fn: Callable) -> None:
    """The worker: answer each job ``args`` with ("ok", fn(*args)) or ("raised", message), in order,
    until the job pipe is closed."""
    results.send_bytes(pickle.dumps(("ready",)))
    while True:
        try:
            data = jobs.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            answer = ("ok", fn(*pickle.loads(data)))
        except Exception as e:  # noqa: BLE001 - reported to the caller as the job's failure
            answer = ("raised", f"{type(e).__name__}: {e}")
        results.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))


class DecoderProcess:
    """One worker process running ``fn`` on submitted argument tuples (picklable), from the fork server
    (a forked worker would keep the node's peer sockets open). ``ready`` turns True once it has started;
    jobs submitted before wait in the pipe."""

    def __init__(self, fn: Callable):
        self.loop = asyncio.get_running_loop()
        ctx = multiprocessing.get_context("forkserver")
        self._job_r, self._job_w = ctx.Pipe(duplex=False)
        self._res_r, self._res_w = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_serve, args=(self._job_r, self._res_w, fn), daemon=True,
                                name="packetfs-decoder")
        self.ready = False
        self.broken = False
        self._started = False  # seen by the loop: the worker's pipe ends closed here
        self._proc_started = False  # set by the launcher thread
        self._out = bytearray()
        self._in = bytearray()
        self._writing = False
        self._futures: collections.deque[asyncio.Future] = collections.deque()
        self._wfd, self._rfd = self._job_w.fileno(), self._res_r.fileno()
        os.set_blocking(self._wfd, False)
        os.set_blocking(self._rfd, False)
        self.loop.add_reader(self._rfd, self._readable)
        # Starting a process from the fork server blocks until the server has forked it (the first time,
        # until the server itself has started): done on a short-lived thread, the loop goes on meanwhile.
        self._launcher = threading.Thread(target=self._start_worker, name="packetfs-decoder-start", daemon=True)
        self._launcher.start()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self._proc_started else None

    def _start_worker(self) -> None:
        err: BaseException | None = None
        try:
            self.proc.start()
            self._proc_started = True
        except Exception as e:  # noqa: BLE001 - reported on the loop, the jobs fail over to inline decoding
            err = e
        try:
            self.loop.call_soon_threadsafe(self._launched, err)
        except RuntimeError:  # the loop is closed: close() cleans up
            pass

    def _launched(self, err: BaseException | None) -> None:
        if err is not None:
            log.warning("decoding process did not start: %s", err)
            self._fail()
            return
        if self.broken:  # closed while starting: close() stops it
            return
        self._started = True
        # The worker's ends belong to it now; ours closed, so its death reads as EOF here.
        self._job_r.close()
        self._res_w.close()

    def submit(self, *args) -> asyncio.Future:
        """The job's result (a future of this loop), answered in submission order."""
        if self.broken:
            raise BrokenProcessPool("the decoding process is gone")
        data = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)
        self._out += _LEN.pack(len(data))
        self._out += data
        fut = self.loop.create_future()
        self._futures.append(fut)
        self._flush()
        return fut

    def _flush(self) -> None:
        while self._out and not self.broken:
            try:
                n = os.write(self._wfd, self._out)
            except BlockingIOError:
                break
            except OSError:
                self._fail()
                return
            del self._out[:n]
        want = bool(self._out) and not self.broken
        if want and not self._writing:
            self.loop.add_writer(self._wfd, self._flush)
        elif not want and self._writing:
            self.loop.remove_writer(self._wfd)
        self._writing = want

    def _readable(self) -> None:
        try:
            chunk = os.read(self._rfd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._fail()
            return
        buf = self._in
        buf += chunk
        # Every whole message in the buffer, unpickled in place; the buffer is shifted once at the end
        # (deleting each message from its front moved the rest of a 1 MiB read every time).
        pos, end = 0, len(buf)
        answers = []
        with memoryview(buf) as view:
            while end - pos >= 4:
                (n,) = _LEN.unpack_from(buf, pos)
                if n < 0:
                    self._fail()  # a length header we never write
                    return
                if end - pos < 4 + n:
                    break
                answers.append(pickle.loads(view[pos + 4 : pos + 4 + n]))
                pos += 4 + n
        del buf[:pos]
        for answer in answers:
            self._answer(answer)

    def _answer(self, answer: tuple) -> None:
        if answer[0] == "ready":
            self.ready = True
            return
        if not self._futures:
            self._fail()
            return
        fut = self._futures.popleft()
        if fut.done():
            return
        if answer[0] == "ok":
            fut.set_result(answer[1])
        else:
            fut.set_exception(RuntimeError(answer[1]))

    def _fail(self) -> None:
        """The worker is gone (or talks nonsense): every job not answered fails; nothing more is sent."""
        if self.broken:
            return
        self.broken = True
        self._stop_io()
        while self._futures:
            fut = self._futures.popleft()
            if not fut.done():
                fut.set_exception(BrokenProcessPool("the decoding process died"))
        if self._started and self.proc.is_alive():
            self.proc.kill()

    def _stop_io(self) -> None:
        self.loop.remove_reader(self._rfd)
        if self._writing:
            self.loop.remove_writer(self._wfd)
            self._writing = False
        self._out.clear()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker: its job pipe closed (it exits when it reads EOF), killed if it has not
        within ``timeout``; jobs not answered are cancelled."""
        if not self.broken:
            self.broken = True
            self._stop_io()
        while self._futures:
            self._futures.popleft().cancel()
        self._launcher.join()  # at most the fork server's start
        for conn in (self._job_w, self._res_r, self._job_r, self._res_w):
            conn.close()
        if self._proc_started:
            self.proc.join(timeout)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(1.0)


# ---------------------------------------------------------------------- compressed relay's decode job
class RelayContext(ResolvedContext):
    """A codec context for one frame: its locations, and the outputs of the transactions at them (the
    spent outputs the codec may use to recover keys). Both ends answer only for located transactions: the
    sender from its undo data, the receiver from the ancestors it decoded, so they agree on what is known."""

    __slots__ = ("_outs",)

    def __init__(self, loc: dict, at: dict, outs: dict[bytes, tuple] | None = None):
        super().__init__(loc, at)
        self._outs = outs or {}

    def __getstate__(self) -> tuple:
        return self._loc, self._at, self._outs

    def __setstate__(self, state: tuple) -> None:
        self._loc, self._at, self._outs = state

    def output(self, txid: bytes, index: int) -> tuple[int, bytes] | None:
        outs = self._outs.get(txid)
        if outs is None:
            return None
        if isinstance(outs, dict):  # sender: only the outputs this block spends
            return outs.get(index)
        return outs[index] if index < len(outs) else None


def take_location(txs: tuple[bytes, tuple], height: int, pos: int, at: dict, outs: dict) -> str | None:
    """Resolve chain-context location (height, pos) on that block's (concatenated txids, outputs per tx):
    the txid goes to ``at`` and its outputs to ``outs``; a string when the block has no such transaction."""
    txids, outputs = txs
    if (pos + 1) * 32 > len(txids):
        return f"no transaction {pos} in our block at height {height}"
    txid = txids[pos * 32 : pos * 32 + 32]
    at[(height, pos)] = txid
    outs[txid] = outputs[pos]
    return None


def _outputs(block: Block) -> tuple:
    """Each transaction's outputs as (value, scriptPubKey) pairs."""
    return tuple(tuple((o.value, o.script_pubkey) for o in tx.outputs) for tx in block.transactions)


def decoder_warmup() -> bool:
    """A no-op job: a new worker process has imported this module (and the codec) once it ran."""
    return True


# The decoding process's own record of the blocks it decoded last (block hash -> (txids, outputs per tx)):
# with one decoding process, frames are decoded in the order they were submitted, so a frame may name
# transactions of an ancestor submitted just before it, still in flight as far as the node knows, and
# the decoder resolves them here without a round trip through the node (a chain whose blocks spend
# their parents' outputs would otherwise decode one block per round trip).
_DECODED: OrderedDict[bytes, tuple[bytes, tuple]] = OrderedDict()
DECODED_KEEP = 256


def decode_frame_job(frame: bytes, at: dict[tuple[int, int], bytes] | None, outs: dict | None = None,
                inflight: dict[tuple[int, int], bytes] | None = None) -> tuple:
    """('ok', raw, block hash, concatenated txids, outputs per tx, seconds, proven checks), ('missing',
    ancestor hash) when an in-flight ancestor was not decoded here, or ('error', reason). ``inflight``:
    locations naming ancestors submitted before this frame, by block hash. Proven checks: the ECDSA checks
    the key recoveries proved (script/sigcache.py)."""
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    proven: list[bytes] = []
    if inflight:
        at, outs = dict(at or {}), dict(outs or {})
        for (height, pos), ancestor in inflight.items():
            got = _DECODED.get(ancestor)
            if got is None:
                return ("missing", ancestor)
            bad = take_location(got, height, pos, at, outs)
            if bad is not None:
                return ("error", bad)
    parts: list = []
    try:
        raw = decode_block(frame, RelayContext({}, at, outs) if at is not None else None, proven=proven,
                           parts=parts)
        # Parsed here too: what goes to the node must be a block it can parse (a frame could decode to
        # bytes that are not one, e.g. a segwit marker with every witness empty).
        block = Block.from_bytes(raw)
    except (CodecError, ValueError) as e:
        return ("error", f"frame does not decode: {e}")
    except Exception as e:  # noqa: BLE001 - a frame must never take the node down; it is just bad
        return ("error", f"frame does not decode ({type(e).__name__}: {e})")
    if parts:  # the txids and outputs the decoder computed while rebuilding the block
        txids, outputs = b"".join(parts[0]), parts[1]
    else:
        txids, outputs = b"".join(tx.txid for tx in block.transactions), _outputs(block)
    # Kept for later frames that name this block only if its transactions are the ones its header commits
    # to: a block with the right header and another body (a mutated or lying sender's) must fail on its
    # own, not make an honest sender's frame of a child fail to decode. Such a child then gets 'missing'
    # and its ancestor's outputs come from the caller, which uses only blocks whose merkle root matched.
    root, mutated = merkle_root([txids[i:i + 32] for i in range(0, len(txids), 32)])
    if root == block.header.merkle_root and not mutated:
        _DECODED[block.hash] = (txids, outputs)
        while len(_DECODED) > DECODED_KEEP:
            _DECODED.popitem(last=False)
    return ("ok", raw, block.hash, txids, outputs, time.perf_counter() - t0, proven, time.process_time() - cpu0)
