"""A portable codec chain context: txid <-> (height, position) on a node's active chain, as BIP337 does.

The chainstate stores its own blocks with the tx index's *sequence numbers* (store order), which only
that node can resolve. An archive meant to travel (``packetfs bitcoin compress --datadir``) needs
references any node with the same chain can resolve, so this context answers with block heights on the
active chain instead. A txid confirmed in a block that is not on the active chain is unknown to it.

A node whose active chain differs at a referenced height resolves a different txid; the block then
fails its checksum in ``decode_block`` (an error naming the frame), never a silently wrong block.
"""

from __future__ import annotations

from ..errors import PacketFSError
from .chainstate import Chainstate


class ArchiveContextError(PacketFSError):
    pass


class ActiveChainContext:
    """Chain context over ``chainstate``'s tx index and active chain (a snapshot taken at construction)."""

    def __init__(self, chainstate: Chainstate):
        index = chainstate.txindex
        if index is None or index.next_seq == 0:
            raise ArchiveContextError(
                f"the node at {chainstate.datadir} has no transaction index (it stores blocks raw, or is empty); "
                "import the chain with --store codec to use it as a codec context"
            )
        self._index = index
        self._active = [entry.hash for entry in chainstate.active_chain()]
        self._height_of = {block_hash: height for height, block_hash in enumerate(self._active)}
        self._hash_of_seq: dict[int, bytes] = {}
        self._seq_of_hash: dict[bytes, int] = {}
        seq_db = chainstate.env.open_db(b"seq_block")
        with chainstate.env.begin(db=seq_db) as txn:
            for key, value in txn.cursor():
                if len(key) != 4:  # the b"next_seq" counter lives in the same table
                    continue
                seq = int.from_bytes(key, "big")
                self._hash_of_seq[seq] = bytes(value)
                self._seq_of_hash[bytes(value)] = seq

    @property
    def height(self) -> int:
        return len(self._active) - 1

    def locate(self, txid: bytes) -> tuple[int, int] | None:
        where = self._index.locate(txid)
        if where is None:
            return None
        seq, position = where
        height = self._height_of.get(self._hash_of_seq.get(seq, b""))
        return None if height is None else (height, position)

    def txid_at(self, height: int, position: int) -> bytes | None:
        if not 0 <= height < len(self._active):
            return None
        seq = self._seq_of_hash.get(self._active[height])
        if seq is None:
            return None
        txid = self._index.txid_at(seq, position)
        return None if txid is None else bytes(txid)

    def output(self, txid: bytes, index: int) -> tuple[int, bytes] | None:
        # Spent outputs would make every block's decoding depend on decoding the blocks it spends from.
        return None
