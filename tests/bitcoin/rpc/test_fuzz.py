"""Fuzzing the JSON-RPC request handling: any JSON value as a request, any parameters to any method,
gets a JSON-RPC reply (an error object for bad input), never an exception or a changed chain."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.mining.regtest import RegtestNode
from packetfs.bitcoin.rpc import METHODS, RpcContext, RpcServer
from packetfs.bitcoin.rpc.jsonfmt import dumps

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.integers(-3, 5) | st.floats(allow_nan=False)
    | st.text(max_size=80) | st.from_regex(r"\A[0-9a-f]{64}\Z") | st.from_regex(r"\A([0-9a-f]{2}){0,120}\Z"),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
# Methods that change state or take long are left out (their arguments are checked the same way).
SAFE = sorted(m for m in METHODS if m not in {"stop", "generatetoaddress", "generatetodescriptor", "generateblock",
                                              "invalidateblock", "reconsiderblock", "savemempool", "submitblock"})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    node = RegtestNode(tmp_path_factory.mktemp("fuzz") / "n")
    node.mine(3)
    srv = RpcServer(RpcContext(node.chainstate, node.mempool), port=0, rpcuser="u", rpcpassword="p")
    yield srv, node
    node.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(req=json_values)
def test_any_request_object(server, req):
    srv, node = server
    tip = node.chainstate.tip
    reply, status = srv._one(req)
    if reply is not None:
        json.loads(dumps(reply))
        assert ("error" in reply) or ("result" in reply)
    assert node.chainstate.tip is tip


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(SAFE), params=st.lists(json_values, max_size=4) | st.dictionaries(st.text(max_size=12), json_values, max_size=3),
       v2=st.booleans())
def test_any_params_to_any_method(server, method, params, v2):
    srv, node = server
    tip = node.chainstate.tip
    req = {"method": method, "params": params, "id": 1}
    if v2:
        req["jsonrpc"] = "2.0"
    reply, status = srv._one(req)
    json.loads(dumps(reply))
    if "error" in reply and reply["error"] is not None:
        assert isinstance(reply["error"]["code"], int) and reply["error"]["code"] not in (-32603,), reply
    assert node.chainstate.tip is tip


def test_number_parameters(server):
    srv, node = server
    tip_hash = node.chainstate.tip.hash_hex
    txid = node.block(node.chainstate.tip.hash).transactions[0].txid_hex
    for n in (1.5, -1, 2**40, 2**64):
        reply, _ = srv._one({"method": "gettxout", "params": [txid, n], "id": 1})
        assert reply["error"] is None or reply["error"]["code"] == -3, reply
    assert srv._one({"method": "gettxout", "params": [txid, 0.0], "id": 1})[0]["result"]["bestblock"] == tip_hash
    assert srv._one({"method": "getblockhash", "params": [1.5], "id": 1})[0]["error"]["code"] == -3
