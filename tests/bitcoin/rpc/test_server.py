"""The HTTP JSON-RPC layer as bitcoind's: auth (cookie, user/password, 401), POST only, body limit,
JSON-RPC 1.0 and 2.0, notifications and batches, Core's error codes."""

import base64
import http.client
import json
import os
import stat

from packetfs.bitcoin.mining.regtest import RegtestNode
from packetfs.bitcoin.rpc import RpcContext, ThreadedRpcServer


def post(port, body, auth=None, method="POST", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Content-Type": "application/json", **(headers or {})}
    if auth is not None:
        h["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    conn.request(method, "/", body=body if isinstance(body, bytes) else json.dumps(body).encode(), headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = data.decode()
    return r.status, parsed, r.headers


def test_cookie_auth(served):
    cookie = served.datadir / ".cookie"
    assert stat.S_IMODE(os.stat(cookie).st_mode) == 0o600
    assert served.user == "__cookie__" and len(served.password) == 64
    auth = f"{served.user}:{served.password}"
    status, reply, _ = post(served.port, {"method": "getblockcount", "id": 1}, auth)
    assert status == 200 and reply == {"result": 200, "error": None, "id": 1}
    status, reply, headers = post(served.port, {"method": "getblockcount", "id": 1})
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="jsonrpc"'
    status, _, _ = post(served.port, {"method": "getblockcount", "id": 1}, "__cookie__:wrong")
    assert status == 401
    status, _, _ = post(served.port, b"", auth, method="GET")
    assert status == 405


def test_cookie_removed_and_userpass(tmp_path):
    node = RegtestNode(tmp_path / "n")
    try:
        ctx = RpcContext(node.chainstate, node.mempool)
        srv = ThreadedRpcServer(ctx, port=0, cookie_dir=tmp_path / "n").start()
        assert (tmp_path / "n" / ".cookie").exists()
        srv.stop()
        assert not (tmp_path / "n" / ".cookie").exists()
        with ThreadedRpcServer(ctx, port=0, rpcuser="alice", rpcpassword="s3cret", max_body=1000) as s:
            assert post(s.port, {"method": "getblockcount", "id": 7}, "alice:s3cret")[1]["result"] == 0
            assert post(s.port, {"method": "getblockcount", "id": 7}, "alice:nope")[0] == 401
            status, _, _ = post(s.port, {"method": "decodescript", "params": ["00" * 600], "id": 1}, "alice:s3cret")
            assert status == 413
    finally:
        node.close()


def test_jsonrpc_versions_and_batches(served):
    auth = f"{served.user}:{served.password}"
    p = served.port
    # legacy (1.0): both members, HTTP status by error
    status, reply, _ = post(p, {"method": "nosuch", "id": "a"}, auth)
    assert status == 404 and reply == {"result": None, "error": {"code": -32601, "message": "Method not found"}, "id": "a"}
    status, reply, _ = post(p, {"method": "getblockhash", "params": [10**6], "id": 2}, auth)
    assert status == 500 and reply["error"] == {"code": -8, "message": "Block height out of range"}
    # 2.0: one member, HTTP 200
    status, reply, _ = post(p, {"jsonrpc": "2.0", "method": "nosuch", "id": 3}, auth)
    assert status == 200 and reply == {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 3}
    status, reply, _ = post(p, {"jsonrpc": "2.0", "method": "getblockcount", "id": 4}, auth)
    assert reply == {"jsonrpc": "2.0", "result": 200, "id": 4}
    # notification: no reply
    status, reply, _ = post(p, {"jsonrpc": "2.0", "method": "getblockcount"}, auth)
    assert status == 204 and reply is None
    # batch, with an invalid member and a notification
    status, reply, _ = post(p, [
        {"jsonrpc": "2.0", "method": "getblockcount", "id": 1},
        {"method": "getbestblockhash", "id": 2},
        {"jsonrpc": "2.0", "method": "getblockcount"},
        5,
        {"jsonrpc": "2.0", "method": 7, "id": 9},
    ], auth)
    assert status == 200 and len(reply) == 4
    assert reply[0]["result"] == 200 and reply[1]["error"] is None
    assert reply[2]["error"]["code"] == -32600
    assert reply[3] == {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Method must be a string"}, "id": 9}
    status, reply, _ = post(p, b"{not json", auth)
    assert status == 500 and reply["error"]["code"] == -32700
    status, reply, _ = post(p, {"method": "getblockcount", "params": "x", "id": 1}, auth)
    assert status == 400 and reply["error"] == {"code": -32600, "message": "Params must be an array or object"}


def test_params_checks(served):
    auth = f"{served.user}:{served.password}"
    p = served.port
    r = post(p, {"method": "getblockhash", "params": ["1"], "id": 1}, auth)[1]
    assert r["error"] == {"code": -3, "message": "JSON value of type string is not of expected type number"}
    r = post(p, {"method": "getblockhash", "params": [], "id": 1}, auth)[1]
    assert r["error"]["code"] == -1 and r["error"]["message"].startswith("getblockhash height")
    r = post(p, {"method": "getblockhash", "params": [1, 2], "id": 1}, auth)[1]
    assert r["error"]["code"] == -1
    r = post(p, {"method": "getblockhash", "params": {"height": 3}, "id": 1}, auth)[1]
    assert r["result"] == served.node.chainstate.active_chain()[3].hash_hex
    r = post(p, {"method": "getblockhash", "params": {"hight": 3}, "id": 1}, auth)[1]
    assert r["error"] == {"code": -8, "message": "Unknown named parameter hight"}
    r = post(p, {"method": "getblock", "params": ["00" * 32], "id": 1}, auth)[1]
    assert r["error"] == {"code": -5, "message": "Block not found"}
    r = post(p, {"method": "getblock", "params": ["zz"], "id": 1}, auth)[1]
    assert r["error"]["code"] == -8
