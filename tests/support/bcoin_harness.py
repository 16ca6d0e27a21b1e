"""bcoin 1.0.2 as a real, independent peer and RPC counterpart for tests and benchmarks.

`ensure_bcoin()` installs bcoin once into REPO/.cache/bcoin (git-ignored) with npm, under a file lock so
parallel pytest-xdist workers install it once; it skips the calling test (with the reason) only when npm or
the registry cannot be reached. `BcoinNode` starts a regtest bcoin on free ports (in-memory chain, JS
backend, no workers), waits until its JSON-RPC answers, and on exit kills its whole process group, also when
the test body raised, so no process is left behind.

bcoin's regtest address prefixes are its own (base58 0x3c / 0x26, bech32 "rb"): use `BCOIN_REGTEST_ADDRESS`
or `bcoin_address(pubkey_hash)` for `generatetoaddress`.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from process_group import stop_process_group

REPO = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO / ".cache" / "bcoin"
BCOIN_VERSION = "1.0.2"
LEVELDOWN_VERSION = "6.1.1"
REGTEST_MAGIC = 0xDAB5BFFA

_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def bcoin_address(pubkey_hash: bytes) -> str:
    """A bcoin-regtest P2WPKH address ("rb1q...") for a 20-byte key hash (bech32 written here, independent
    of the code under test)."""
    if len(pubkey_hash) != 20:
        raise ValueError("a P2WPKH program is 20 bytes")
    acc, bits, data = 0, 0, [0]
    for b in pubkey_hash:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    hrp = "rb"
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    poly = _bech32_polymod(expanded + data + [0] * 6) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32_CHARSET[d] for d in data + checksum)


# A fixed key hash: mined coins go nowhere useful, which is all a sync test needs.
BCOIN_REGTEST_ADDRESS = bcoin_address(bytes(range(1, 21)))


class BcoinError(RuntimeError):
    """bcoin could not be installed, started, or answered an RPC with an error."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bcoin_bin(root: Path) -> Path:
    return root / "node_modules" / ".bin" / "bcoin"


def ensure_bcoin() -> Path:
    """The folder holding node_modules/.bin/bcoin, installing it on first use (once across processes)."""
    marker = CACHE_DIR / ".installed"
    if marker.exists() and _bcoin_bin(CACHE_DIR).exists():
        return CACHE_DIR
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("bcoin interop needs node and npm, which are not installed here")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR.parent / "bcoin.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if marker.exists() and _bcoin_bin(CACHE_DIR).exists():
                return CACHE_DIR
            (CACHE_DIR / "package.json").write_text('{"name": "packetfs-bcoin-harness", "private": true}\n')
            cmd = ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error",
                   f"bcoin@{BCOIN_VERSION}", f"leveldown@{LEVELDOWN_VERSION}"]
            try:
                proc = subprocess.run(cmd, cwd=CACHE_DIR, capture_output=True, text=True, timeout=600)
            except subprocess.TimeoutExpired:
                pytest.skip("npm could not install bcoin within 10 minutes (registry unreachable?)")
            if proc.returncode != 0:
                err = (proc.stderr or proc.stdout).strip()
                unreachable = any(s in err for s in ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT",
                                                    "ENETUNREACH", "network", "fetch failed"))
                if unreachable:
                    pytest.skip(f"npm registry unreachable, cannot install bcoin: {err.splitlines()[-1]}")
                raise BcoinError(f"npm install bcoin@{BCOIN_VERSION} failed: {err[-2000:]}")
            # bdb pins an old leveldown with native code; with it gone, bdb resolves the top-level one.
            shutil.rmtree(CACHE_DIR / "node_modules" / "bdb" / "node_modules" / "leveldown", ignore_errors=True)
            if not _bcoin_bin(CACHE_DIR).exists():
                raise BcoinError("npm install finished but node_modules/.bin/bcoin is missing")
            marker.write_text(f"bcoin@{BCOIN_VERSION} leveldown@{LEVELDOWN_VERSION}\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return CACHE_DIR


class BcoinNode:
    """A regtest bcoin process on free ports; use as a context manager.

    `extra_args` are appended to the command line (e.g. ["--max-outbound=0"]). `log_path` is the file its
    stdout/stderr go to (in its prefix dir unless given).
    """

    def __init__(self, extra_args: list[str] | None = None, start_timeout: float = 60.0) -> None:
        self.root = ensure_bcoin()
        self.p2p_port = free_port()
        self.http_port = free_port()
        # The wallet plugin has its own HTTP server on a fixed default port: give it a free one too, so
        # several bcoins can run at once.
        self.wallet_http_port = free_port()
        self.extra_args = list(extra_args or [])
        self.start_timeout = start_timeout
        self.prefix: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self._rpc_id = 0

    @property
    def log_path(self) -> Path:
        assert self.prefix is not None
        return self.prefix / "bcoin.out"

    def __enter__(self) -> BcoinNode:
        self.prefix = Path(tempfile.mkdtemp(prefix="bcoin-"))
        cmd = [str(_bcoin_bin(self.root)), "--network=regtest", "--memory=true", "--workers=false",
               "--listen=true", f"--port={self.p2p_port}", f"--http-port={self.http_port}", "--api-key=x",
               f"--wallet-http-port={self.wallet_http_port}",
               f"--prefix={self.prefix}", "--log-level=debug", *self.extra_args]
        env = dict(os.environ, NODE_BACKEND="js")
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise BcoinError(f"bcoin exited with {self.proc.returncode} at start: {self.log_tail()}")
            try:
                self.rpc("getblockcount")
                # RPC answers slightly before the P2P listener is up; tests dial it right away.
                with socket.create_connection(("127.0.0.1", self.p2p_port), timeout=1):
                    pass
                return
            except (OSError, BcoinError) as e:
                last = e
                time.sleep(0.2)
        raise BcoinError(f"bcoin did not answer RPC within {self.start_timeout}s ({last}): {self.log_tail()}")

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Kill bcoin and everything it started (its own session / process group); idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process_group(proc, signal.SIGTERM, 5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.prefix is not None and os.environ.get("PACKETFS_KEEP_BCOIN_LOGS") is None:
            shutil.rmtree(self.prefix, ignore_errors=True)

    def rpc(self, method: str, *params: Any, timeout: float = 60.0) -> Any:
        """Call bcoin's JSON-RPC; raises BcoinError on an RPC error, OSError if it cannot be reached."""
        self._rpc_id += 1
        body = json.dumps({"method": method, "params": list(params), "id": self._rpc_id}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}/", data=body,
                                     headers={"Content-Type": "application/json"})
        import base64
        req.add_header("Authorization", "Basic " + base64.b64encode(b"x:x").decode())
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                reply = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            try:
                reply = json.loads(e.read())
            except (ValueError, OSError):
                raise BcoinError(f"bcoin RPC {method}: HTTP {e.code}") from e
        if reply.get("error"):
            raise BcoinError(f"bcoin RPC {method}{list(params)}: {reply['error']}")
        return reply.get("result")

    # Conveniences used across tests.
    def mine(self, n: int, address: str = BCOIN_REGTEST_ADDRESS) -> list[str]:
        return self.rpc("generatetoaddress", n, address, timeout=300)

    def connect(self, host: str, port: int) -> None:
        self.rpc("addnode", f"{host}:{port}", "onetry")

    def wait_for(self, predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise BcoinError(f"timed out after {timeout}s waiting for {what}: {self.log_tail()}")


@pytest.fixture
def bcoin() -> Iterator[BcoinNode]:
    """A running regtest bcoin for one test."""
    with BcoinNode() as node:
        yield node
