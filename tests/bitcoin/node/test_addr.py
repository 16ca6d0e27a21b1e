"""Address relay: a small addr message with a fresh address is learned, kept in peers.json and forwarded to
another peer; getaddr is answered once to an inbound peer; the token bucket caps what a flood adds."""

from __future__ import annotations

import json
import time

from packetfs.bitcoin.net.addr import Addr, NetAddress


def _addr_payload(addrs: list[NetAddress]) -> bytes:
    return Addr(tuple(addrs)).encode()


def test_addr_learned_relayed_persisted_and_served(nodes, raw_peer, tools) -> None:
    a = nodes("a")
    listener = raw_peer(a.p2p_port, "127.0.0.2")
    listener.handshake()
    src = raw_peer(a.p2p_port, "127.0.0.3")
    src.handshake()
    fresh = NetAddress.from_host("10.1.2.3", 8333, 9, int(time.time()))
    src.send_msg(b"addr", _addr_payload([fresh]))
    # raw peers speak v1 addr (they never sent sendaddrv2)
    got = Addr.decode(listener.wait_for("addr"))
    assert [x.host for x in got.addresses] == ["10.1.2.3"]
    tools.wait_until(lambda: "0a010203" in (a.datadir / "peers.json").read_text()
                     if (a.datadir / "peers.json").exists() else False, 10, "peers.json to hold the address")
    # A third inbound peer asks for addresses: answered once.
    asker = raw_peer(a.p2p_port, "127.0.0.4")
    asker.handshake()
    asker.send_msg(b"getaddr", b"")
    answer = Addr.decode(asker.wait_for("addr"))
    assert "10.1.2.3" in [x.host for x in answer.addresses]
    a.stop()
    entries = json.loads((a.datadir / "peers.json").read_text())
    assert any(e["addr"] == "0a010203" and e["port"] == 8333 for e in entries)


def test_addr_flood_is_capped_by_the_token_bucket(nodes, raw_peer, tools) -> None:
    a = nodes("a")
    p = raw_peer(a.p2p_port, "127.0.0.5")
    p.handshake()
    now = int(time.time())
    for burst in range(3):
        batch = [NetAddress.from_host(f"10.{burst}.{i // 256}.{i % 256}", 8333, 1, now) for i in range(1000)]
        p.send_msg(b"addr", _addr_payload(batch))
    p.send_msg(b"ping", bytes(8))
    p.wait_for("pong")
    a.stop()
    entries = json.loads((a.datadir / "peers.json").read_text())
    # 1,000 tokens at the start, 0.1/s after: the second and third thousand are dropped, not kept.
    assert 1000 <= len(entries) < 1010
