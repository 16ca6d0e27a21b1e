"""What the RPC methods act on: one small object the daemon builds and the server mounts.

``RpcContext`` holds the chainstate, the mempool (with its chain sync), and an optional peer
manager. The peer manager is anything with the ``PeerInterface`` methods; without one the
network methods answer as Core does with networking disabled (empty lists, 0, error -31 for
actions), so a chainstate datadir can be served on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..chain.chainstate import Chainstate
from ..mempool.pool import Mempool
from ..mempool.sync import MempoolChainSync


class PeerInterface(Protocol):
    """What the network RPCs ask of a node's peer manager."""

    def peer_info(self) -> list[dict]: ...  # getpeerinfo entries, Core's field names

    def connection_count(self) -> int: ...

    def network_info(self) -> dict: ...  # fields of getnetworkinfo the manager knows

    def add_node(self, address: str, command: str) -> None: ...  # "add" | "remove" | "onetry"

    def disconnect_node(self, address: str | None, node_id: int | None) -> None: ...

    def set_ban(self, subnet: str, command: str, bantime: int, absolute: bool) -> None: ...

    def list_banned(self) -> list[dict]: ...

    def clear_banned(self) -> None: ...

    def relay_transaction(self, tx: object) -> None: ...


@dataclass
class RpcContext:
    chainstate: Chainstate
    mempool: Mempool | None = None
    peers: PeerInterface | None = None
    stop: Callable[[], None] | None = None  # what ``stop`` calls (the daemon's shutdown)
    started: float = field(default_factory=time.time)
    sync: MempoolChainSync | None = None
    datadir: str | None = None
    # getblocktemplate's cache, as Core's: (tip, mempool update count, build time, template, tx list)
    template_cache: tuple | None = None

    def __post_init__(self) -> None:
        if self.sync is None and self.mempool is not None:
            self.sync = MempoolChainSync(self.chainstate, self.mempool)

    @property
    def network(self) -> str:
        return self.chainstate.params.name
