"""Mempool, transaction relay and the RPC server mounted on a running ``packetfs node``.

``NodeServices(node, ...)`` is started after ``Node.start()`` (the chainstate is open then) and
stopped before ``Node.stop()``. It

- creates the mempool over the node's chainstate and reloads ``<datadir>/mempool.dat`` (re-checked);
- takes the node's transaction hooks: a ``tx`` from a peer goes through the mempool (accepted: relayed
  by wtxid to the other peers; missing parents: kept in the orphan pool and the parents asked for;
  orphans whose parents arrive are retried), ``getdata``/``inv`` look transactions up in the pool;
- keeps the pool in step with the chain on every tip change (blocks from peers, or mined by RPC:
  mined and conflicting transactions leave, those of disconnected blocks come back);
- serves JSON-RPC (cookie in the datadir, or user/password), with the network methods answered from
  the node's peers, address book and ban list;
- saves the pool to ``mempool.dat`` at shutdown.

The node reaches it only through those hooks; ``packetfs node`` needs two calls to mount it (see
``run_node``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from ..mempool.errors import TxResult
from ..mempool.orphans import OrphanPool
from ..mempool.persist import MempoolFileError, dump_mempool, load_mempool
from ..mempool.policy import PolicyOptions
from ..mempool.pool import ChainstateView, Mempool
from ..mempool.sync import MempoolChainSync
from ..node.feefilter import FeeFilterSender
from ..primitives.transaction import Transaction
from .context import RpcContext
from .errors import (
    RPC_CLIENT_INVALID_IP_OR_SUBNET,
    RPC_CLIENT_NODE_NOT_CONNECTED,
    RPCError,
)
from .server import RpcServer

log = logging.getLogger("packetfs.node")


class _NodeSync:
    """What the RPC methods use to hand blocks to the node (submitblock, generate*): the node's own
    tip-change handling then announces them to peers and updates the mempool."""

    def __init__(self, services: NodeServices):
        self.services = services

    @property
    def mempool(self) -> Mempool:
        return self.services.mempool  # type: ignore[return-value]

    def process_block(self, raw: bytes) -> Any:
        node = self.services.node
        old_tip = node.cs.tip
        entry = node.cs.process_block(raw)
        node.notify_tip_changed(old_tip)
        return entry

    def tip_changed(self, old_tip: Any) -> list[Transaction]:
        self.services.node.notify_tip_changed(old_tip)
        return []


class NodePeers:
    """``PeerInterface`` over a ``packetfs.bitcoin.node.node.Node``."""

    def __init__(self, node: Any):
        self.node = node

    def peer_info(self) -> list[dict]:
        out = []
        now = time.time()
        for p in self.node.peers.values():
            v = p.state.version
            out.append({
                "id": p.id, "addr": f"{p.host}:{p.address.port}", "network": "ipv4" if ":" not in p.host else "ipv6",
                "services": f"{v.services:016x}" if v else "0000000000000000",
                "relaytxes": bool(p.relay), "conntime": int(now - (time.monotonic() - p.connected_at)),
                "pingtime": p.ping_time if p.ping_time is not None else None,
                "version": v.version if v else 0, "subver": p.user_agent, "inbound": not p.outbound,
                "startingheight": v.start_height if v else -1,
                "synced_headers": p.state.best_known.height if p.state.best_known else -1,
                "synced_blocks": p.state.best_known.height if p.state.best_known else -1,
                "connection_type": p.conn_type.value, "transport_protocol_type": "v1",
                "minfeefilter": p.state.fee_filter / 1e8,
            })
        return out

    def connection_count(self) -> int:
        return len(self.node.peers)

    def network_info(self) -> dict:
        peers = list(self.node.peers.values())
        inbound = sum(1 for p in peers if not p.outbound)
        return {"connections": len(peers), "connections_in": inbound, "connections_out": len(peers) - inbound,
                "networkactive": True}

    def _parse(self, address: str) -> tuple[str, int]:
        from ..net.limits import DEFAULT_PORTS
        from ..node.cli import parse_hostport

        try:
            return parse_hostport(address, DEFAULT_PORTS[self.node.config.network])
        except Exception:
            raise RPCError(RPC_CLIENT_INVALID_IP_OR_SUBNET, f"Invalid address: {address}") from None

    def add_node(self, address: str, command: str) -> None:
        target = self._parse(address)
        node = self.node
        if command == "onetry":
            node.connect_once(*target)
        elif command == "add":
            if not node.add_manual_peer(*target):
                raise RPCError(-23, "Error: Node already added")
        else:
            if not node.remove_manual_peer(*target):
                raise RPCError(-24, "Error: Node could not be removed. It has not been added previously.")

    def disconnect_node(self, address: str | None, node_id: int | None) -> None:
        for p in list(self.node.peers.values()):
            if (node_id is not None and p.id == node_id) or (
                address is not None and f"{p.host}:{p.address.port}" == address
            ):
                p.close("disconnectnode")
                return
        raise RPCError(RPC_CLIENT_NODE_NOT_CONNECTED, "Node not found in connected nodes")

    def set_ban(self, subnet: str, command: str, bantime: int, absolute: bool) -> None:
        bans = self.node.bans
        host = subnet.split("/")[0]
        if command == "add":
            if bans.is_banned(host):
                raise RPCError(RPC_CLIENT_NODE_NOT_CONNECTED - 6, "Error: IP/Subnet already banned")
            seconds = (bantime - time.time()) if absolute and bantime else (bantime or 24 * 3600)
            bans.ban(host, seconds)
            for p in list(self.node.peers.values()):
                if p.host == host:
                    p.close("banned")
        else:
            if bans.entries.pop(host, None) is None:
                raise RPCError(RPC_CLIENT_NODE_NOT_CONNECTED - 1, "Error: Unban failed. Requested address/subnet was not previously manually banned.")
            bans.save()

    def list_banned(self) -> list[dict]:
        now = time.time()
        return [
            {"address": f"{h}/32" if ":" not in h else f"{h}/128", "ban_created": int(e.until - 24 * 3600),
             "banned_until": int(e.until), "ban_duration": int(e.until - now), "time_remaining": int(e.until - now)}
            for h, e in self.node.bans.entries.items() if e.until > now
        ]

    def clear_banned(self) -> None:
        self.node.bans.entries.clear()
        self.node.bans.save()

    def relay_transaction(self, tx: Any) -> None:
        self.node.relay_transaction(tx)


class NodeServices:
    """See the module docstring. ``rpc_port=None`` uses the network's default; ``rpc=False`` mounts
    the mempool and relay without an RPC server."""

    def __init__(
        self,
        node: Any,
        *,
        rpc: bool = True,
        rpc_bind: str = "127.0.0.1",
        rpc_port: int | None = None,
        rpcuser: str | None = None,
        rpcpassword: str | None = None,
        mempool_options: PolicyOptions | None = None,
        persist_mempool: bool = True,
    ):
        self.node = node
        self.want_rpc = rpc
        self.rpc_kw = {"host": rpc_bind, "port": rpc_port, "rpcuser": rpcuser, "rpcpassword": rpcpassword}
        self.options = mempool_options
        self.persist = persist_mempool
        self.mempool: Mempool | None = None
        self.orphans = OrphanPool()
        self.rpc: RpcServer | None = None
        self._sync: MempoolChainSync | None = None

    def _sync_for_rpc(self) -> _NodeSync:
        """How blocks made here (RPC mining, tools) enter the node: announced and the pool updated."""
        return _NodeSync(self)

    @property
    def datadir(self) -> Path:
        return Path(self.node.config.datadir)

    async def start(self) -> None:
        node = self.node
        cs = node.cs
        if cs is None:
            raise RuntimeError("start the node before its services")
        self.mempool = Mempool(ChainstateView(cs), self.options)
        self._sync = MempoolChainSync(cs, self.mempool)
        if self.persist:
            try:
                stats = load_mempool(self.mempool, self.datadir / "mempool.dat")
                if stats.accepted or stats.failed or stats.expired:
                    log.info("mempool.dat: %d transactions loaded, %d failed, %d expired",
                             stats.accepted, stats.failed, stats.expired)
            except MempoolFileError as e:
                log.warning("mempool.dat not loaded: %s", e)
        node.on_transaction = self._on_transaction
        node.tx_lookup = self._lookup
        node.mempool_txs = lambda: [e.tx for e in self.mempool.entries.values()]  # type: ignore[union-attr]
        node.tx_fee = self._fee_of
        opts = self.mempool.opts
        node.fee_filter = FeeFilterSender(lambda: self.mempool.min_fee().sat_per_kvb,  # type: ignore[union-attr]
                                          min_relay_fee=opts.min_relay_fee.sat_per_kvb,
                                          incremental_relay_fee=opts.incremental_relay_fee.sat_per_kvb)
        node.add_tip_listener(self._tip_changed)
        node.add_peer_closed_listener(self._peer_closed)
        if self.want_rpc:
            ctx = RpcContext(cs, self.mempool, peers=NodePeers(node), stop=node.request_stop,
                             sync=self._sync_for_rpc(), datadir=str(self.datadir))  # type: ignore[arg-type]
            kw = dict(self.rpc_kw)
            if kw["rpcpassword"] is None:
                kw.pop("rpcuser")
                kw.pop("rpcpassword")
            self.rpc = RpcServer(ctx, cookie_dir=self.datadir, **kw)
            await self.rpc.start()
            log.info("RPC listening on %s:%d", self.rpc.host, self.rpc.port)

    async def stop(self) -> None:
        if self.rpc is not None:
            await self.rpc.stop()
            self.rpc = None
        if self.persist and self.mempool is not None:
            with contextlib.suppress(OSError):
                n = dump_mempool(self.mempool, self.datadir / "mempool.dat")
                log.info("mempool.dat: %d transactions saved", n)

    # ------------------------------------------------------------------ hooks
    def _tip_changed(self, old_tip: Any, source: Any) -> None:
        self._sync.tip_changed(old_tip)  # type: ignore[union-attr]
        self._after_block(old_tip)

    def _peer_closed(self, peer: Any) -> None:
        self.orphans.erase_for_peer(peer.id)  # its orphans go unless another peer announced them

    def _fee_of(self, tx: Transaction) -> tuple[int, int] | None:
        e = self.mempool.get_by_wtxid(tx.wtxid)  # type: ignore[union-attr]
        return (e.fee, e.vsize) if e is not None else None

    def _lookup(self, h: bytes) -> Transaction | None:
        mp = self.mempool
        e = mp.get_by_wtxid(h) or mp.get(h)  # type: ignore[union-attr]
        return e.tx if e is not None else None

    def _after_block(self, old_tip: Any) -> None:
        cs = self.node.cs
        from ..mempool.sync import block_of

        for e in reversed(list(cs.tree.path(cs.tip, cs.tree.fork_point(old_tip, cs.tip)))):
            with contextlib.suppress(Exception):
                self.orphans.erase_for_block(block_of(cs, e).transactions)

    async def _on_transaction(self, peer: Any, tx: Transaction) -> None:
        mp = self.mempool
        assert mp is not None
        if self.node.in_initial_download():
            return  # initial block download: as Core, relayed transactions wait until we are current
        if tx.wtxid in mp.by_wtxid or tx.wtxid in self.orphans:
            return
        r = mp.accept(tx)
        if r.accepted:
            self.node.relay_transaction(tx)
            self._retry_orphans(tx)
        elif r.result == TxResult.MISSING_INPUTS:
            if self.orphans.add(tx, peer.id):
                from ..net.inv import GetData, InvVector
                from ..net.limits import MSG_WITNESS_TX

                parents = {txin.prev_txid for txin in tx.inputs if txin.prev_txid not in mp}
                peer.send(GetData(tuple(InvVector(MSG_WITNESS_TX, p) for p in sorted(parents))))
        else:
            log.debug("tx %s from %r refused: %s", tx.txid_hex, peer, r.reject_string)

    def _retry_orphans(self, parent: Transaction) -> None:
        mp = self.mempool
        todo = [parent]
        while todo:
            p = todo.pop()
            for child in self.orphans.children_of(p):
                r = mp.accept(child)  # type: ignore[union-attr]
                if r.accepted:
                    self.orphans.erase(child.wtxid)
                    self.node.relay_transaction(child)
                    todo.append(child)
                elif r.result != TxResult.MISSING_INPUTS:
                    self.orphans.erase(child.wtxid)


async def run_with_services(node: Any, **services: Any) -> None:
    """``Node.run()`` with the mempool, relay and RPC mounted (``packetfs node`` calls this).
    An RPC port that cannot be bound is a NodeError, as the node's own listen errors are."""
    from ..node.node import NodeError

    await node.start()
    extra = NodeServices(node, **services)
    try:
        try:
            await extra.start()
        except OSError as e:
            raise NodeError(f"cannot listen for RPC: {e.strerror or e}") from None
        await node.wait_stop_requested()
    finally:
        await extra.stop()
        await node.stop()
