"""A small JSON-RPC 1.0 client for a Bitcoin node (Core's, bcoin's, ours): basic auth from a user and
password or from a cookie file, errors as RemoteError with the node's own message."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..errors import InputError, RemoteError

MAX_REPLY_BYTES = 64 * 1024 * 1024  # a getblocktemplate of a full mempool is a few MB


def parse_hostport(value: str, default_port: int = 18443) -> tuple[str, int]:
    """HOST:PORT (or HOST, or [v6]:PORT) -> (host, port); InputError when it is not one."""
    host, port = value, default_port
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise InputError(f"{value!r} is not HOST:PORT")
        host, rest = value[1:end], value[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise InputError(f"{value!r} is not HOST:PORT")
            port = _port(rest[1:], value)
    elif value.count(":") == 1:
        host, p = value.split(":")
        port = _port(p, value)
    if not host:
        raise InputError(f"{value!r} has no host")
    return host, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InputError(f"{whole!r}: the port must be a number from 1 to 65535")
    return int(text)


def read_cookie(path: Path) -> tuple[str, str]:
    """(user, password) from a Core-style cookie file ``__cookie__:password``."""
    try:
        text = Path(path).read_text().strip()
    except OSError as e:
        raise InputError(f"cannot read the RPC cookie file {path}: {e.strerror}") from None
    if ":" not in text:
        raise InputError(f"the RPC cookie file {path} is not USER:PASSWORD")
    user, password = text.split(":", 1)
    return user, password


class RpcClient:
    """Blocking JSON-RPC over HTTP; one request per call, ``timeout`` seconds each."""

    def __init__(self, host: str, port: int, user: str | None = None, password: str | None = None,
                 timeout: float = 30.0) -> None:
        self.url = f"http://{host if ':' not in host else '[' + host + ']'}:{port}/"
        self.timeout = timeout
        self._auth = None
        if user is not None or password is not None:
            token = f"{user or ''}:{password or ''}".encode()
            self._auth = "Basic " + base64.b64encode(token).decode()
        self._id = 0

    def call(self, method: str, *params: Any) -> Any:
        self._id += 1
        body = json.dumps({"jsonrpc": "1.0", "id": self._id, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        if self._auth:
            req.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read(MAX_REPLY_BYTES + 1)
        except urllib.error.HTTPError as e:
            if e.code in (401, 403):
                raise RemoteError(f"the node at {self.url} refused the RPC credentials (HTTP {e.code})") from None
            raw = e.read(MAX_REPLY_BYTES + 1)
            if not raw:
                raise RemoteError(f"{method}: HTTP {e.code} from {self.url}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RemoteError(f"cannot reach the node's RPC at {self.url}: {reason}") from None
        if len(raw) > MAX_REPLY_BYTES:
            raise RemoteError(f"{method}: reply larger than {MAX_REPLY_BYTES} bytes")
        try:
            reply = json.loads(raw)
        except ValueError:
            raise RemoteError(f"{method}: the node's reply is not JSON") from None
        if not isinstance(reply, dict):
            raise RemoteError(f"{method}: the node's reply is not a JSON-RPC object")
        err = reply.get("error")
        if err:
            msg = err.get("message", err) if isinstance(err, dict) else err
            raise RemoteError(f"{method} failed at the node: {msg}")
        return reply.get("result")
