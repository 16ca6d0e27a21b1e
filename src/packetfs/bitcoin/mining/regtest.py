"""A regtest node in one process without networking: chainstate, mempool and a wallet, with blocks
mined from the mempool. What the tests, benchmarks and the demo drive, and what `generate*` RPCs
call."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..chain.chainstate import Chainstate
from ..mempool.policy import PolicyOptions
from ..mempool.pool import ChainstateView, Mempool
from ..mempool.sync import MempoolChainSync
from ..primitives.block import Block
from ..primitives.transaction import Transaction
from .assembler import mine_block, serialize_block
from .wallet import MiniWallet


def generate(
    chainstate: Chainstate,
    sync: MempoolChainSync | None,
    script_pubkey: bytes,
    n: int,
    *,
    transactions: Sequence[Transaction] | None = None,
    wallet: MiniWallet | None = None,
    always_commit: bool = True,
) -> list[bytes]:
    """Mine ``n`` blocks paying ``script_pubkey`` (from the mempool, or exactly ``transactions``
    for one block); returns their hashes. Raises ValidationError if a block is refused."""
    hashes = []
    mempool = sync.mempool if sync is not None else None
    for i in range(n):
        block = mine_block(
            chainstate, mempool, script_pubkey, transactions=transactions if i == 0 else None,
            extra_nonce=len(hashes).to_bytes(4, "little"), always_commit=always_commit,
        )  # fmt: skip
        raw = serialize_block(block)
        if sync is not None:
            entry = sync.process_block(raw)
        else:
            entry = chainstate.process_block(raw)
        if chainstate.tip.hash != block.hash:
            err = chainstate.last_error
            raise ValueError(f"mined block {block.hash_hex} was not connected: {err}")
        if wallet is not None:
            wallet.scan_block(block, entry.height)
        hashes.append(block.hash)
    return hashes


class RegtestNode:
    """Chainstate + mempool + wallet under ``datadir``."""

    def __init__(self, datadir: str | Path, options: PolicyOptions | None = None, *, now=None,
                 wallet_seed: bytes = b"packetfs/mempool-wallet", wallet_kind: str = "p2wpkh"):
        self.datadir = Path(datadir)
        self.chainstate = Chainstate(self.datadir, "regtest", jobs=1, store_mode="raw", map_size=1 << 30)
        self.mempool = Mempool(ChainstateView(self.chainstate), options, **({"now": now} if now else {}))
        self.sync = MempoolChainSync(self.chainstate, self.mempool)
        self.wallet = MiniWallet(wallet_seed, wallet_kind)

    @property
    def height(self) -> int:
        return self.chainstate.tip.height

    def mine(self, n: int = 1, *, transactions: Sequence[Transaction] | None = None, to: bytes | None = None,
             always_commit: bool = True) -> list[bytes]:
        return generate(
            self.chainstate, self.sync, to if to is not None else self.wallet.script_pubkey, n,
            transactions=transactions, wallet=self.wallet, always_commit=always_commit,
        )  # fmt: skip

    def block(self, block_hash: bytes) -> Block:
        from ..mempool.sync import block_of

        return block_of(self.chainstate, self.chainstate.tree.get(block_hash))

    def close(self) -> None:
        self.chainstate.close()
