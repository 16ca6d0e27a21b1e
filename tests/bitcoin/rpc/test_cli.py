"""`packetfs cli` behaves like bitcoin-cli: cookie from the datadir, JSON conversion of non-string
arguments, -named, output format, error text on stderr and exit codes."""

import json

from click.testing import CliRunner

from packetfs.bitcoin.rpc.cli import cli


def run(served, *args, cookie=True):
    base = ["--datadir", str(served.datadir)] if cookie else []
    return CliRunner().invoke(cli, [*base, "--rpcport", str(served.port), *args])


def test_cli_calls(served):
    r = run(served, "getblockcount")
    assert r.exit_code == 0 and r.stdout == "200\n"
    r = run(served, "getblockhash", "0")
    assert r.stdout.strip() == served.node.chainstate.active_chain()[0].hash_hex  # a bare string
    h = served.node.chainstate.tip.hash_hex
    r = run(served, "getblock", h)
    out = json.loads(r.stdout)
    assert out["hash"] == h and r.stdout.startswith('{\n  "hash"')
    r = run(served, "-named", "getblockhash", "height=2")
    assert r.stdout.strip() == served.node.chainstate.active_chain()[2].hash_hex
    r = run(served, "getblock", h, "0")  # "0" becomes a number, as bitcoin-cli converts it
    assert r.stdout.strip() == served.node.block(served.node.chainstate.tip.hash).serialize().hex()
    r = run(served, "getrawmempool", "true")
    assert json.loads(r.stdout) == {}


def test_cli_errors(served):
    r = run(served, "getblockhash", "999")
    assert r.exit_code == 8
    assert r.stderr == "error code: -8\nerror message:\nBlock height out of range\n"
    r = run(served, "nosuchmethod")
    assert r.exit_code == 32601 % 256 and "error code: -32601" in r.stderr
    r = CliRunner().invoke(cli, ["--rpcport", str(served.port), "--rpcuser", "x", "--rpcpassword", "y", "getblockcount"])
    assert r.exit_code == 1 and "Authorization failed" in r.stderr
    r = CliRunner().invoke(cli, ["--rpcport", "1", "--rpcuser", "x", "--rpcpassword", "y", "getblockcount"])
    assert r.exit_code == 1 and "Could not connect to the server 127.0.0.1:1" in r.stderr
    r = CliRunner().invoke(cli, ["--datadir", str(served.datadir / "nope"), "getblockcount"])
    assert r.exit_code == 1 and "No authentication cookie" in r.stderr
    r = run(served, "-named", "getblockhash", "2")
    assert r.exit_code != 0 and "No '=' in named argument" in r.output
