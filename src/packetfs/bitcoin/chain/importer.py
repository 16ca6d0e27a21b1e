"""Import a Bitcoin Core blocks directory into a chainstate, validating everything.

Core writes blocks to blk files in the order they arrive, not by height, so a block whose parent
has not been seen yet waits (keyed by its parent's hash) until the parent is accepted. Blocks
already stored are skipped, which makes an interrupted import resumable.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..consensus.errors import ValidationError
from ..errors import ParseError
from ..primitives.hashes import hash_to_hex, sha256d
from .chainstate import Chainstate
from .headers import HAVE_DATA


@dataclass
class ImportResult:
    blocks_seen: int = 0
    blocks_accepted: int = 0
    blocks_skipped: int = 0  # already stored (resumed import)
    bytes: int = 0
    invalid: list[dict] = field(default_factory=list)
    orphans_left: int = 0
    # Stored but not on the best chain at the end: {"hash", "height", "why"} with why one of
    # "side-branch" (valid so far, less work than the tip) or "missing-ancestor" (an ancestor's block
    # data never came: it was unreadable or invalid in a way that does not condemn its header).
    not_connected: list[dict] = field(default_factory=list)
    interrupted: bool = False


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a bulk import, back on afterwards.

    Validating and connecting blocks makes (almost) no reference cycles: a whole import of the bench
    chain leaves under 200 objects for the collector. Yet with the collector on, its full passes walk
    the ever-growing UTXO cache again and again (about 1.6 CPU-seconds of a 14-second import), and
    its young passes run every few hundred allocations. Reference counting frees everything else as
    before; the importer still runs a young-generation pass at every flush, to bound whatever does
    form a cycle."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def import_blocks(
    chainstate: Chainstate,
    blocks: Iterable[bytes],
    progress: Callable[[int, int], None] | None = None,
    flush_every: int = 500,
    stop: Callable[[], bool] | None = None,
) -> ImportResult:
    """Feed raw blocks (any order) to ``chainstate``; ``progress(bytes, inputs)`` after each block.

    ``stop()`` is asked between blocks (a Ctrl-C handler sets it): when it says True the import ends
    there with ``interrupted`` set, after a flush, so that running it again resumes."""
    with cyclic_gc_paused():
        return _import_blocks(chainstate, blocks, progress, flush_every, stop)


def _invalid(block_hash: bytes | None, e: Exception) -> dict:
    return {"hash": hash_to_hex(block_hash) if block_hash is not None else None,
            "error": getattr(e, "reason", str(e)), "tx": getattr(e, "tx", None),
            "input": getattr(e, "input", None), "mutated": bool(getattr(e, "mutated", False)),
            "debug": getattr(e, "debug", None)}  # fmt: skip


def _import_blocks(
    chainstate: Chainstate,
    blocks: Iterable[bytes],
    progress: Callable[[int, int], None] | None,
    flush_every: int,
    stop: Callable[[], bool] | None,
) -> ImportResult:
    result = ImportResult()
    waiting: dict[bytes, list[bytes]] = {}
    off_tip: list[bytes] = []  # stored, but not the tip right after
    since_flush = 0

    def accept(raw: bytes) -> None:
        nonlocal since_flush
        pending = [raw]
        while pending:
            item = pending.pop()
            block_hash = sha256d(item[:80])
            before = chainstate.stats.inputs
            failed_before = chainstate.last_failed
            try:
                entry = chainstate.process_block(item)
                result.blocks_accepted += 1
                if chainstate.tip is not entry:
                    off_tip.append(block_hash)  # checked again at the end
            except (ValidationError, ParseError) as e:
                result.invalid.append(_invalid(block_hash, e))
            else:
                # Stored, but connecting it (or a block it made the best chain) failed.
                failed = chainstate.last_failed
                if failed is not None and failed is not failed_before and chainstate.last_error is not None:
                    result.invalid.append(_invalid(failed.hash, chainstate.last_error))
            since_flush += 1
            if progress:
                progress(len(item), chainstate.stats.inputs - before)
            pending.extend(waiting.pop(block_hash, ()))

    it = iter(blocks)
    upcoming = next(it, None)
    while upcoming is not None:
        if stop is not None and stop():
            result.interrupted = True
            break
        raw = upcoming
        # Read one block ahead: the chainstate checks it context-free while scripts of this one run.
        upcoming = next(it, None)
        if upcoming is not None and len(upcoming) >= 80:
            chainstate.hint_next(upcoming)
        result.blocks_seen += 1
        result.bytes += len(raw)
        if len(raw) < 80:
            result.invalid.append(_invalid(None, ParseError("truncated block record")))
            continue
        header_prev = raw[4:36]
        if chainstate.has_block(sha256d(raw[:80])):
            result.blocks_skipped += 1
            if progress:
                progress(len(raw), 0)
            continue
        if chainstate.tree.get(header_prev) is None:
            waiting.setdefault(header_prev, []).append(raw)
            continue
        accept(raw)
        if since_flush >= flush_every:
            chainstate.flush()
            gc.collect(1)
            since_flush = 0
    chainstate.flush()
    result.orphans_left = sum(len(v) for v in waiting.values())
    tree, tip = chainstate.tree, chainstate.tip
    for block_hash in off_tip:
        entry = tree.get(block_hash)
        if entry is None or entry.failed:
            continue  # reported as invalid
        if entry.height <= tip.height and tree.ancestor(tip, entry.height) is entry:
            continue  # on the best chain
        fork = tree.fork_point(tip, entry)
        complete = all(e.status & HAVE_DATA for e in tree.path(entry, fork))
        result.not_connected.append(
            {"hash": hash_to_hex(block_hash), "height": entry.height,
             "why": "side-branch" if complete else "missing-ancestor"}  # fmt: skip
        )
    return result
