"""The chainstate's transaction index, which is also the codec's chain context.

Every stored block gets a sequence number in store order, and each of its transactions is located
as (sequence, position). Sequence numbers only grow and entries are never removed, so a location
stays valid across reorgs: a block stored in chain-context mode can always be decoded, even after it
has been disconnected. (The codec calls the first number "height"; for blocks stored in chain order
the two differ only by the blocks of abandoned branches.)

Pending entries are written in the chainstate's flush transaction, so the index on disk never runs
ahead of, or behind, the block index that points at the stored records.

It answers no output lookups (``output`` is always None): decoding a block would then need earlier
blocks decoded first, a chain of reads as long as the chain itself. Txid references are where
chain context pays (prevout txids are 18% of mainnet bytes); spent amounts and keys stay in the block.
"""

from __future__ import annotations

import struct

import lmdb

from ..primitives.block import Block

_LOC = struct.Struct("<II")
_SEQ_KEY = b"next_seq"


class ChainTxIndex:
    def __init__(self, env: lmdb.Environment):
        self.env = env
        self._loc_db = env.open_db(b"tx_loc")  # txid -> (seq, pos)
        self._at_db = env.open_db(b"tx_at")  # (seq, pos) -> txid
        self._seq_db = env.open_db(b"seq_block")  # seq -> block hash; b"next_seq" -> counter
        self._pending_loc: dict[bytes, bytes] = {}
        self._pending_at: dict[bytes, bytes] = {}
        self._pending_seq: dict[bytes, bytes] = {}
        with env.begin(db=self._seq_db) as txn:
            value = txn.get(_SEQ_KEY)
        self.next_seq = int.from_bytes(value, "little") if value else 0

    # ------------------------------------------------------------------ writing
    def add_block(self, block: bytes | Block) -> int:
        """Index a block (raw or parsed) that has just been stored; returns its sequence number."""
        if not isinstance(block, Block):
            block = Block.from_bytes(block)
        seq = self.next_seq
        self.next_seq += 1
        self._pending_seq[seq.to_bytes(4, "big")] = block.hash
        pending_loc, pending_at = self._pending_loc, self._pending_at
        with self.env.begin(db=self._loc_db) as txn:
            get = txn.get
            for pos, tx in enumerate(block.transactions):
                loc = _LOC.pack(seq, pos)
                txid = tx.txid
                # First confirmation wins (BIP30-duplicate coinbases keep their first location).
                if txid not in pending_loc and get(txid) is None:
                    pending_loc[txid] = loc
                pending_at[loc] = txid
        return seq

    def snapshot(self, block: Block) -> ResolvedContext:
        """What the codec may ask about ``block``'s prevouts, answered now, as a small picklable context.

        The encoder looks up (``locate``, then ``txid_at`` of the answer) the txids that inputs spend
        from outside the block; the decoder asks ``txid_at`` only for locations the encoder wrote. A
        location's txid never changes (sequence numbers are never reused) and a txid's first location
        never moves, so these answers stay the index's answers forever: a block encoded elsewhere
        with the snapshot decodes with this index.
        """
        inside = {tx.txid for tx in block.transactions}
        loc_of: dict[bytes, tuple[int, int]] = {}
        txid_of: dict[tuple[int, int], bytes] = {}
        pending_loc, pending_at = self._pending_loc, self._pending_at
        with self.env.begin() as txn:
            for tx in block.transactions[1:]:
                for txin in tx.inputs:
                    ptx = txin.prev_txid
                    if ptx in inside or ptx in loc_of:
                        continue
                    loc = pending_loc.get(ptx) or txn.get(ptx, db=self._loc_db)
                    if loc is None:
                        continue
                    where = _LOC.unpack(loc)
                    at = pending_at.get(loc) or txn.get(loc, db=self._at_db)
                    loc_of[ptx] = where
                    if at is not None:
                        txid_of[where] = bytes(at)
        return ResolvedContext(loc_of, txid_of)

    def write(self, txn: lmdb.Transaction) -> None:
        """Write pending entries inside the caller's (flush) transaction."""
        for k, v in self._pending_loc.items():
            txn.put(k, v, db=self._loc_db)
        for k, v in self._pending_at.items():
            txn.put(k, v, db=self._at_db)
        for k, v in self._pending_seq.items():
            txn.put(k, v, db=self._seq_db)
        txn.put(_SEQ_KEY, self.next_seq.to_bytes(8, "little"), db=self._seq_db)

    def written(self) -> None:
        """The flush transaction committed."""
        self._pending_loc.clear()
        self._pending_at.clear()
        self._pending_seq.clear()

    # ------------------------------------------------------------------ ChainContext protocol
    def locate(self, txid: bytes) -> tuple[int, int] | None:
        loc = self._pending_loc.get(txid) or self._get(self._loc_db, txid)
        return _LOC.unpack(loc) if loc else None

    def txid_at(self, height: int, position: int) -> bytes | None:
        if not (0 <= height < 1 << 32 and 0 <= position < 1 << 32):
            return None
        loc = _LOC.pack(height, position)
        return self._pending_at.get(loc) or self._get(self._at_db, loc)

    def output(self, txid: bytes, index: int) -> tuple[int, bytes] | None:
        return None

    def block_hash_of(self, txid: bytes) -> bytes | None:
        """The hash of the block that first confirmed ``txid`` (getrawtransaction), or None."""
        loc = self.locate(txid)
        if loc is None:
            return None
        key = loc[0].to_bytes(4, "big")
        return self._pending_seq.get(key) or self._get(self._seq_db, key)

    # ------------------------------------------------------------------ helpers
    def _get(self, db, key: bytes) -> bytes | None:
        with self.env.begin(db=db) as txn:
            return txn.get(key)


class ResolvedContext:
    """A codec chain context holding the answers of a :class:`ChainTxIndex` for one block's prevouts
    (see ``ChainTxIndex.snapshot``); a txid it was not given is unknown to it, as to the index."""

    __slots__ = ("_loc", "_at")

    def __init__(self, loc: dict[bytes, tuple[int, int]], at: dict[tuple[int, int], bytes]):
        self._loc = loc
        self._at = at

    def __getstate__(self) -> tuple:
        return self._loc, self._at

    def __setstate__(self, state: tuple) -> None:
        self._loc, self._at = state

    def locate(self, txid: bytes) -> tuple[int, int] | None:
        return self._loc.get(txid)

    def txid_at(self, height: int, position: int) -> bytes | None:
        return self._at.get((height, position))

    def output(self, txid: bytes, index: int) -> tuple[int, bytes] | None:
        return None
