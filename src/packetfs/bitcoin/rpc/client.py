"""A small JSON-RPC client (what ``packetfs cli`` uses): cookie or user/password, Core's errors."""

from __future__ import annotations

import base64
import http.client
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import PacketFSError
from .errors import RPCError
from .jsonfmt import dumps


class RpcConnectionError(PacketFSError):
    """The server could not be reached or did not answer as a JSON-RPC server."""


class RpcAuthError(PacketFSError):
    """The server refused the credentials (HTTP 401)."""


def read_cookie(path: str | Path) -> tuple[str, str]:
    text = Path(path).read_text().strip()
    user, sep, password = text.partition(":")
    if not sep:
        raise RpcAuthError(f"{path} is not an RPC cookie file")
    return user, password


class RpcClient:
    def __init__(self, host: str, port: int, user: str, password: str, timeout: float = 900.0):
        self.host, self.port, self.timeout = host, port, timeout
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._id = 0

    def call(self, method: str, params: list | dict | None = None) -> Any:
        self._id += 1
        body = dumps({"jsonrpc": "1.0", "id": self._id, "method": method, "params": params if params is not None else []})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("POST", "/", body=body.encode(), headers={"Authorization": self._auth, "Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            raise RpcConnectionError(f"Could not connect to the server {self.host}:{self.port} ({e})") from None
        finally:
            conn.close()
        if resp.status == 401:
            raise RpcAuthError("Authorization failed: Incorrect rpcuser or rpcpassword")
        try:
            reply = json.loads(data, parse_float=Decimal)
        except ValueError:
            raise RpcConnectionError(f"server response is not JSON (HTTP {resp.status})") from None
        if not isinstance(reply, dict):
            raise RpcConnectionError("server response is not a JSON object")
        err = reply.get("error")
        if err:
            raise RPCError(int(err.get("code", -1)), str(err.get("message", "")))
        return reply.get("result")
