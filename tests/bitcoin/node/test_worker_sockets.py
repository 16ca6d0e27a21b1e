"""A peer disconnected by the node must see the connection close even when the node started worker
processes while that peer was connected. A worker forked from the node inherits every open socket and keeps
it open after the node closes its own copy, so the peer would never see EOF: the node's pools must not fork
from the node process (they come from the fork server)."""

from __future__ import annotations

from pathlib import Path


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out |= {int(c) for c in (task / "children").read_text().split()}
    return out


REGTEST = bytes.fromhex("fabfb5da")


def test_peer_connected_while_workers_start_still_sees_its_disconnect(nodes, tools, synced_datadir, raw_peer,
                                                                       tmp_path) -> None:
    summary = synced_datadir(60, "raw", tmp_path / "a")
    a = nodes("a")
    # Connected (and idle) before the node starts any worker process.
    watcher = raw_peer(a.p2p_port, "127.0.0.40")
    watcher.handshake()
    # Another PacketFS node syncs from A: A starts its compressed-relay encoder processes now.
    honest = nodes("honest", "--connect", f"127.0.0.1:{a.p2p_port}")
    tools.wait_until(lambda: tools.chain_info(honest.datadir)["best_block_hash"] == summary["tip"], 120,
                     "the sync from A", interval=0.5, on_fail=honest.log_text)
    assert _children(a.proc.pid), "A started no worker process: the test would not test anything"
    # Now the watcher misbehaves; the node drops it, and the close must reach the watcher.
    watcher.send(b"\xf9\xbe\xb4\xd9" + b"ping".ljust(12, b"\x00") + (8).to_bytes(4, "little") + bytes(12))
    assert watcher.closed_by_node(10), "the node closed the peer but a worker process kept its socket open"
