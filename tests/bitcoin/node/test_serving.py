"""Serving blocks over a raw socket: a getdata for many blocks (batched into a few large writes by the
node, Peer.cork) comes back complete and in request order, stored bytes as they are, then notfound for
what we lack."""

from __future__ import annotations

import hashlib

N_BLOCKS = 460


def _dsha(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def test_getdata_answers_in_order_with_stored_bytes_then_notfound(nodes, synced_datadir, raw_peer,
                                                                 make_generator, tmp_path) -> None:
    synced_datadir(N_BLOCKS, "raw", tmp_path / "a")
    blocks = [b.raw for b in make_generator().blocks(N_BLOCKS)]
    a = nodes("a")
    p = raw_peer(a.p2p_port, "127.0.0.70")
    p.handshake()
    # Every block, newest first (not chain order), a hash we lack in the middle, witness blocks (type
    # 0x40000002), so the answers are the generator's exact bytes.
    order = list(range(N_BLOCKS - 1, -1, -1))
    missing = bytes(range(32))
    items = [(0x40000002).to_bytes(4, "little") + _dsha(blocks[i][:80]) for i in order]
    items.insert(200, (0x40000002).to_bytes(4, "little") + missing)
    p.send_msg(b"getdata", b"\xfd" + len(items).to_bytes(2, "little") + b"".join(items))
    got = []
    while len(got) < N_BLOCKS:
        got.append(p.wait_for("block"))
    assert got == [blocks[i] for i in order]
    notfound = p.wait_for("notfound")
    assert notfound == b"\x01" + (0x40000002).to_bytes(4, "little") + missing
