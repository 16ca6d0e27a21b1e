"""A peer that announces the chain but never delivers blocks is dropped and its blocks fetched elsewhere."""

from __future__ import annotations

import os
import socket
import threading
import time

N = 460


def _staller(server: socket.socket, headers: list[bytes], frame, stop: threading.Event, log: list[str]) -> None:
    conn, _ = server.accept()
    conn.settimeout(0.5)
    buf = b""

    def msgs():
        nonlocal buf
        while not stop.is_set():
            while len(buf) >= 24 and len(buf) >= 24 + int.from_bytes(buf[16:20], "little"):
                n = int.from_bytes(buf[16:20], "little")
                yield buf[4:16].rstrip(b"\x00").decode(), buf[24 : 24 + n]
                buf = buf[24 + n :]
            try:
                chunk = conn.recv(1 << 16)
            except (TimeoutError, OSError):
                continue
            if not chunk:
                return
            buf += chunk

    try:
        for cmd, payload in msgs():
            log.append(cmd)
            if cmd == "version":
                conn.sendall(frame(b"version", b"".join((
                    (70016).to_bytes(4, "little"), (9).to_bytes(8, "little"), int(time.time()).to_bytes(8, "little"),
                    bytes(52), os.urandom(8), b"\x08/staller", N.to_bytes(4, "little"), b"\x00"))))
                conn.sendall(frame(b"verack", b""))
            elif cmd == "getheaders":
                body = b"".join(h + b"\x00" for h in headers)
                conn.sendall(frame(b"headers", b"\xfd" + len(headers).to_bytes(2, "little") + body))
            elif cmd == "ping":
                conn.sendall(frame(b"pong", payload))
            # getdata: never answered.
    finally:
        conn.close()


def test_stalling_peer_is_dropped_and_blocks_rerequested(nodes, tools, synced_datadir, make_generator, frame,
                                                         tmp_path) -> None:
    summary = synced_datadir(N, "raw", tmp_path / "a")
    headers = [b.raw[:80] for b in make_generator().blocks(N)]
    a = nodes("a")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()
    seen: list[str] = []
    t = threading.Thread(target=_staller, args=(server, headers, frame, stop, seen), daemon=True)
    t.start()
    try:
        c = nodes("c", "--connect", f"127.0.0.1:{server.getsockname()[1]}", "--connect", f"127.0.0.1:{a.p2p_port}",
                  "--block-timeout", "3")
        tools.wait_until(lambda: tools.chain_info(c.datadir)["best_block_hash"] == summary["tip"], 60,
                         "sync despite the staller", interval=0.5, on_fail=c.log_text)
        assert "getdata" in seen, "the staller was asked for blocks"
        log = c.log_text()
        assert "block download timeout" in log
        assert "re-requesting" in log
    finally:
        stop.set()
        server.close()
        t.join(5)
