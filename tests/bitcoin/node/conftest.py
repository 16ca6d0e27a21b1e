"""Fixtures for node tests: `packetfs node` processes on free ports, killed (with their children) at the end
of each test whatever happens, and chains written with gen-chain and imported into a datadir."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from process_group import stop_process_group

PACKETFS = str(Path(sys.executable).parent / "packetfs")


class NodeProcess:
    """`packetfs node --network regtest` in a subprocess; `.p2p_port` once it listens."""

    def __init__(self, datadir: Path, *args: str):
        self.datadir = datadir
        self.args = list(args)
        self.proc: subprocess.Popen | None = None
        self.p2p_port: int | None = None

    def start(self, timeout: float = 30.0) -> NodeProcess:
        log = self.datadir / "debug.log"
        start_at = log.stat().st_size if log.exists() else 0
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._out = open(self.datadir / "stderr.txt", "ab")
        self.proc = subprocess.Popen(
            [PACKETFS, "node", "--network", "regtest", "--datadir", str(self.datadir), "--port", "0",
             "--bind", "127.0.0.1", *self.args],
            stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited with {self.proc.returncode}: {self.stderr_tail()}")
            if log.exists():
                m = re.search(r"Z listening on [\d.]+:(\d+)", log.read_text()[start_at:])
                if m:
                    self.p2p_port = int(m.group(1))
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"node did not start listening: {self.stderr_tail()}")

    def stderr_tail(self, n: int = 3000) -> str:
        try:
            return (self.datadir / "stderr.txt").read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def log_text(self) -> str:
        try:
            return (self.datadir / "debug.log").read_text()
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        stop_process_group(proc, sig, timeout)
        self._out.close()
        return proc.returncode

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)


def chain_info(datadir: Path) -> dict:
    out = subprocess.run([PACKETFS, "bitcoin", "chain-info", "--datadir", str(datadir), "--json"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"chain-info failed: {out.stderr}")
    return json.loads(out.stdout)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.3, on_fail=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    detail = on_fail() if on_fail is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{detail}")


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator:
    """Factory: nodes("name", *args) starts a node with datadir tmp_path/name; all are killed at the end."""
    started: list[NodeProcess] = []

    def make(name: str, *args: str, start: bool = True) -> NodeProcess:
        n = NodeProcess(tmp_path / name, *args)
        started.append(n)
        return n.start() if start else n

    yield make
    for n in started:
        n.stop()


def import_chain(blocks_dir: Path, datadir: Path, store: str = "raw") -> dict:
    out = subprocess.run([PACKETFS, "bitcoin", "import", str(blocks_dir), "--network", "regtest", "--datadir",
                          str(datadir), "--store", store, "--json"], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"import failed: {out.stderr}{out.stdout}")
    return json.loads(out.stdout)


def gen_chain(out: Path, blocks: int, seed: str = "node-tests", txs_per_block: int = 4) -> dict:
    res = subprocess.run([PACKETFS, "bitcoin", "gen-chain", "--blocks", str(blocks), "--seed", seed, "--out",
                          str(out), "--bcoin-compatible", "--txs-per-block", str(txs_per_block),
                          "--min-kind-share", "0.1", "--max-inputs-per-tx", "3", "--max-outputs-per-tx", "4",
                          "--json"], capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"gen-chain failed: {res.stderr}")
    return json.loads(res.stdout)


@pytest.fixture
def tools() -> SimpleNamespace:
    return SimpleNamespace(chain_info=chain_info, wait_until=wait_until, import_chain=import_chain,
                           gen_chain=gen_chain)


@pytest.fixture(scope="session")
def synced_datadir(tmp_path_factory):
    """Factory: (blocks, store) -> (a datadir holding that generated chain, gen-chain summary); built once
    per session, copied per call, so every test gets its own writable datadir."""
    import shutil

    built: dict[tuple[int, str], tuple[Path, dict]] = {}
    root = tmp_path_factory.mktemp("chains")

    def make(blocks: int, store: str, dest: Path) -> dict:
        key = (blocks, store)
        if key not in built:
            blocks_dir = root / f"blocks-{blocks}"
            if not blocks_dir.exists():
                summary = gen_chain(blocks_dir, blocks)
                (root / f"summary-{blocks}.json").write_text(json.dumps(summary))
            summary = json.loads((root / f"summary-{blocks}.json").read_text())
            datadir = root / f"datadir-{blocks}-{store}"
            import_chain(blocks_dir, datadir, store=store)
            built[key] = (datadir, summary)
        src, summary = built[key]
        shutil.copytree(src, dest)
        return summary

    return make


REGTEST_MAGIC = bytes.fromhex("fabfb5da")


def raw_frame(command: bytes, payload: bytes, magic: bytes = REGTEST_MAGIC, length: int | None = None) -> bytes:
    """A v1 frame built here with hashlib (independent of packetfs.net)."""
    import hashlib

    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = len(payload) if length is None else length
    return magic + command.ljust(12, b"\x00") + n.to_bytes(4, "little") + checksum + payload


class RawPeer:
    """A scripted peer over a plain socket (from a chosen loopback source address)."""

    def __init__(self, port: int, source: str = "127.0.0.1", timeout: float = 10.0):
        import socket

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_msg(self, command: bytes, payload: bytes) -> None:
        self.send(raw_frame(command, payload))

    def recv_msg(self) -> tuple[str, bytes]:
        while True:
            if len(self.buf) >= 24:
                n = int.from_bytes(self.buf[16:20], "little")
                if len(self.buf) >= 24 + n:
                    cmd = self.buf[4:16].rstrip(b"\x00").decode()
                    payload = self.buf[24 : 24 + n]
                    self.buf = self.buf[24 + n :]
                    return cmd, payload
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed by the node")
            self.buf += chunk

    def wait_for(self, command: str, limit: int = 1000) -> bytes:
        for _ in range(limit):
            cmd, payload = self.recv_msg()
            if cmd == command:
                return payload
            if cmd == "ping":
                self.send_msg(b"pong", payload)
        raise AssertionError(f"no {command} message")

    def handshake(self, height: int = 0) -> None:
        import time as _t

        version = b"".join((
            (70016).to_bytes(4, "little"), (9).to_bytes(8, "little"), int(_t.time()).to_bytes(8, "little"),
            bytes(26), bytes(26), os.urandom(8), b"\x0a/raw-peer/", height.to_bytes(4, "little"), b"\x00",
        ))
        self.send_msg(b"version", version)
        self.wait_for("verack")
        self.send_msg(b"verack", b"")

    def closed_by_node(self, timeout: float = 10.0) -> bool:
        """True once the node closes the connection (reading and discarding what it still sends)."""

        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_peer():
    """Factory for RawPeer; every socket is closed at the end."""
    made: list[RawPeer] = []

    def make(port: int, source: str = "127.0.0.1") -> RawPeer:
        p = RawPeer(port, source)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def chain_generator(**overrides):
    """The generator with the very options gen_chain() passes to the CLI (same seed: same blocks)."""
    from packetfs.bitcoin.chain.generator import ChainGenerator

    options = dict(txs_per_block=4, min_kind_share=0.1, max_inputs_per_tx=3, max_outputs_per_tx=4,
                   bcoin_compatible=True)
    options.update(overrides)
    return ChainGenerator("node-tests", "2024", **options)


@pytest.fixture
def make_generator():
    return chain_generator


@pytest.fixture
def frame():
    return raw_frame
