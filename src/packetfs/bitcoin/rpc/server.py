"""The JSON-RPC server, as bitcoind's HTTP RPC (httprpc.cpp, rpc/request.cpp):

- HTTP POST only (405 otherwise), HTTP Basic auth against the cookie (``__cookie__:<hex>``, written
  to ``<datadir>/.cookie`` with mode 0600 at start and removed at stop) or ``rpcuser/rpcpassword``;
  no or wrong credentials get 401 with ``WWW-Authenticate`` (a wrong password also waits 250 ms,
  as Core does, to slow guessing).
- Request bodies over 32 MiB are refused (413) before they are read into memory.
- JSON-RPC 1.0 (legacy: "result" and "error" both present; HTTP 500/404/400 on errors) and 2.0
  (``"jsonrpc": "2.0"``: only one of them; HTTP 200; notifications get no reply, 204), and batches
  (an array of requests, each answered in order, HTTP 200), as Core 28+.
- Methods run on the server's event loop, one at a time: the chainstate and mempool have a single
  owner, as in the node.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from .context import RpcContext
from .errors import (
    RPC_INTERNAL_ERROR,
    RPC_INVALID_REQUEST,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    RPC_PARSE_ERROR,
    RPCError,
)
from .jsonfmt import dumps
from .methods import METHODS, bind

log = logging.getLogger("packetfs.rpc")

MAX_BODY_BYTES = 32 << 20  # Core's MAX_SIZE for an HTTP request body
COOKIE_USER = "__cookie__"
DEFAULT_RPC_PORTS = {"mainnet": 8332, "testnet3": 18332, "testnet4": 48332, "signet": 38332, "regtest": 18443}


def write_cookie(path: Path) -> str:
    """Create the cookie file (mode 0600, replaced atomically); returns ``user:password``."""
    secret = f"{COOKIE_USER}:{secrets.token_hex(32)}"
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    os.replace(tmp, path)
    return secret


class RpcServer:
    """Serves ``ctx`` over HTTP JSON-RPC. ``port=0`` picks a free port (see ``.port`` after start)."""

    def __init__(
        self,
        ctx: RpcContext,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        cookie_dir: str | Path | None = None,
        rpcuser: str | None = None,
        rpcpassword: str | None = None,
        max_body: int = MAX_BODY_BYTES,
    ):
        self.ctx = ctx
        self.host = host
        self.port = DEFAULT_RPC_PORTS.get(ctx.network, 8332) if port is None else port
        self.cookie_path = Path(cookie_dir) / ".cookie" if cookie_dir is not None else None
        if rpcpassword is not None and not rpcuser:
            raise ValueError("--rpcpassword needs --rpcuser")
        self._credentials: list[bytes] = []
        if rpcuser and rpcpassword is not None:
            self._credentials.append(f"{rpcuser}:{rpcpassword}".encode())
        if not self._credentials and self.cookie_path is None:
            raise ValueError("the RPC server needs a cookie directory or --rpcuser/--rpcpassword")
        self.max_body = max_body
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        if self.cookie_path is not None and not any(c for c in self._credentials):
            self._credentials.append(write_cookie(self.cookie_path).encode())
        app = web.Application(client_max_size=self.max_body)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("RPC server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.cookie_path is not None and self.cookie_path.exists():
            try:
                self.cookie_path.unlink()
            except OSError:
                pass

    # ------------------------------------------------------------------ HTTP
    def _authorized(self, request: web.Request) -> bool | None:
        """True if the credentials match, False if wrong, None if absent."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            given = base64.b64decode(header[6:].strip(), validate=True)
        except (ValueError, base64.binascii.Error):  # type: ignore[attr-defined]
            return False
        return any(hmac.compare_digest(given, c) for c in self._credentials)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        auth = self._authorized(request)
        if not auth:
            if auth is False:
                await asyncio.sleep(0.25)
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="jsonrpc"'})
        if request.method != "POST":
            return web.Response(status=405, text="JSONRPC server handles only POST requests")
        if request.content_length is not None and request.content_length > self.max_body:
            return web.Response(status=413)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        try:
            parsed = json.loads(body, parse_float=_decimal)
        except (ValueError, UnicodeDecodeError):
            return _json_response({"result": None, "error": {"code": RPC_PARSE_ERROR, "message": "Parse error"}, "id": None}, 500)
        async with self._lock:
            if isinstance(parsed, list):
                replies = []
                for item in parsed:
                    reply, _ = self._one(item)
                    if reply is not None:
                        replies.append(reply)
                return _json_response(replies, 200)
            if not isinstance(parsed, dict):
                return _json_response(
                    {"result": None, "error": {"code": RPC_PARSE_ERROR, "message": "Top-level object parse error"}, "id": None}, 500
                )
            reply, status = self._one(parsed)
            if reply is None:
                return web.Response(status=204)
            return _json_response(reply, status)

    def _one(self, req: Any) -> tuple[dict | None, int]:
        """Run one request; returns (reply or None for a 2.0 notification, legacy HTTP status)."""
        if not isinstance(req, dict):
            return _error_reply(None, False, RPCError(RPC_INVALID_REQUEST, "Invalid Request object")), 400
        v2 = req.get("jsonrpc") == "2.0"
        rid = req.get("id")
        notification = v2 and "id" not in req
        try:
            method = req.get("method")
            if not isinstance(method, str):
                raise RPCError(RPC_INVALID_REQUEST, "Method must be a string")
            params = req.get("params")
            if params is not None and not isinstance(params, (list, dict)):
                raise RPCError(RPC_INVALID_REQUEST, "Params must be an array or object")
            m = METHODS.get(method)
            if m is None:
                raise RPCError(RPC_METHOD_NOT_FOUND, "Method not found")
            args = bind(m, params)
            result = m.func(self.ctx, *args)
        except RPCError as e:
            if notification:
                return None, 204
            if v2:  # 2.0: RPC errors travel in an HTTP success
                return _error_reply(rid, v2, e), 200
            status = 404 if e.code == RPC_METHOD_NOT_FOUND else 400 if e.code == RPC_INVALID_REQUEST else 500
            return _error_reply(rid, v2, e), status
        except Exception as e:  # a bug or an unexpected state: a JSON error, never a dropped connection
            log.exception("RPC %s failed", req.get("method"))
            if notification:
                return None, 204
            err = RPCError(RPC_MISC_ERROR if isinstance(e, ValueError) else RPC_INTERNAL_ERROR, str(e))
            return _error_reply(rid, v2, err), 200 if v2 else 500
        if notification:
            return None, 204
        if v2:
            return {"jsonrpc": "2.0", "result": result, "id": rid}, 200
        return {"result": result, "error": None, "id": rid}, 200


def _decimal(s: str):
    from decimal import Decimal

    return Decimal(s)


def _error_reply(rid: Any, v2: bool, e: RPCError) -> dict:
    if v2:
        return {"jsonrpc": "2.0", "error": e.to_json(), "id": rid}
    return {"result": None, "error": e.to_json(), "id": rid}


def _json_response(obj: Any, status: int) -> web.Response:
    # Exactly "application/json", as bitcoind (python-bitcoinrpc insists on it).
    return web.Response(status=status, body=(dumps(obj) + "\n").encode(), headers={"Content-Type": "application/json"})


class ThreadedRpcServer:
    """An RpcServer on its own event loop thread (tests, the demo, tools serving a datadir)."""

    def __init__(self, ctx: RpcContext, **kw: Any):
        self.server = RpcServer(ctx, **kw)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="packetfs-rpc", daemon=True)

    def start(self) -> ThreadedRpcServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(30)
        return self

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
            self._loop.close()

    def __enter__(self) -> ThreadedRpcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
