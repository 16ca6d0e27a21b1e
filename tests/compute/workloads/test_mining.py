"""Mining: the SHA-256 midstate against hashlib, the fabric's SHA-256d grind against hashlib, coinbase and
templates against Core's rules (our consensus code, python-bitcoinlib), real regtest blocks accepted by bcoin
and by libbitcoinkernel, mainnet headers' proof of work through the same hash path."""

from __future__ import annotations

import gc
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.consensus.validate import validate_block
from packetfs.bitcoin.primitives import Block, bits_to_target, hash_to_hex
from packetfs.compute.workloads.cli import mine_command
from packetfs.compute.workloads.errors import InputError, RemoteError
from packetfs.compute.workloads.fabric import Fabric, FabricConfig
from packetfs.compute.workloads.mining import grind, sha256
from packetfs.compute.workloads.mining.miner import Miner, difficulty_check, read_headers
from packetfs.compute.workloads.mining.rpc import RpcClient, parse_hostport, read_cookie
from packetfs.compute.workloads.mining.template import BlockTemplate, Candidate, bip34_height_push

P2WPKH = bytes.fromhex("0014") + bytes(range(1, 21))


def _sha256d(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=200))
def test_compress_and_padding_equal_hashlib(msg: bytes) -> None:
    data = msg + sha256.padding(len(msg))
    state = sha256.IV
    for i in range(0, len(data), 64):
        state = sha256.compress(state, data[i : i + 64])
    assert sha256.digest_from_state(state) == hashlib.sha256(msg).digest()


@settings(max_examples=15, deadline=None)
@given(st.binary(min_size=80, max_size=80), st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=40))
def test_fabric_grind_equals_hashlib(header: bytes, nonces: list[int]) -> None:
    program = grind.build_program((1 << 256) - 1, 2)  # every hash is a candidate
    with Fabric(FabricConfig("inline", 2)) as fabric:
        n = np.array(sorted(set(nonces)), dtype=np.uint64)
        packets = program.packets(len(n), inputs=grind.packet_inputs(header, n), computation_ids=n,
                                  nodes=np.arange(len(n)) % 2)
        hits = grind.hits_from(fabric.run(program, packets), 0)
    assert {h.nonce: h.block_hash for h in hits} == {
        int(x): _sha256d(grind.header_with_nonce(header, int(x))) for x in n
    }


def test_precheck_drops_hashes_above_target() -> None:
    header = bytes(range(80))
    target = 1 << 240  # top 64 bits 2**48: about 2**-16 of hashes pass
    program = grind.build_program(target, 1)
    n = np.arange(1 << 12, dtype=np.uint64)
    with Fabric(FabricConfig()) as fabric:
        hits = grind.hits_from(fabric.run(program, program.packets(len(n), inputs=grind.packet_inputs(header, n),
                                                                   computation_ids=n)), 0)
    expected = [i for i in range(1 << 12) if int.from_bytes(_sha256d(grind.header_with_nonce(header, i))[24:], "little") <= target >> 192]
    assert [h.nonce for h in hits] == expected


@pytest.mark.parametrize("height", [0, 1, 16, 17, 127, 128, 255, 256, 32767, 32768, 500_000, 2**23, 2**31 - 1])
def test_bip34_push_equals_python_bitcoinlib(height: int) -> None:
    from bitcoin.core.script import CScript

    assert bip34_height_push(height) == bytes(CScript([height]))


def _template_from_block(height: int = 900_000, n_txs: int = 5, rules=("csv", "!segwit", "taproot")) -> dict:
    src = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "blocks" / "mainnet-866342.block"
    if not src.exists():
        pytest.skip("needs ../shared/data/blocks (real segwit transactions for the template)")
    txs = Block.from_bytes(src.read_bytes()).transactions[1 : 1 + n_txs]
    return {"version": 0x20000000, "previousblockhash": "11" * 32, "height": height, "bits": "207fffff",
            "curtime": 1_700_000_000, "mintime": 1_600_000_000, "coinbasevalue": 312_500_000, "rules": list(rules),
            "transactions": [{"data": t.serialize().hex(), "txid": t.txid_hex, "hash": t.wtxid_hex} for t in txs]}


def _mine_offline(tpl: BlockTemplate, extranonce: int = 3) -> bytes:
    c = Candidate(tpl, P2WPKH)
    header = c.header(extranonce, tpl.curtime).serialize()
    with Fabric(FabricConfig("inline", 2)) as fabric:
        program = grind.build_program(tpl.target, 2)
        from packetfs.compute.workloads.mining.miner import grind_batch, verify_hit

        for hit in sorted(grind_batch(fabric, program, header, 0, 256), key=lambda h: h.nonce):
            if verify_hit(header, hit, tpl.target):
                return c.block_bytes(extranonce, tpl.curtime, hit.nonce)
    raise AssertionError("no regtest block in 256 nonces")


def test_segwit_template_gives_a_block_our_consensus_accepts() -> None:
    tpl = BlockTemplate.from_rpc(_template_from_block())
    raw = _mine_offline(tpl)
    block = Block.from_bytes(raw)
    assert block.witness_commitment() is not None
    assert block.transactions[0].witnesses[0] == (bytes(32),)
    res = validate_block(raw, None, tpl.height, "regtest", check_scripts=False)
    assert res.txs == 6
    assert int.from_bytes(bytes.fromhex(res.block_hash)[::-1], "little") <= bits_to_target(0x207FFFFF)


def test_block_without_segwit_rule_has_no_witness() -> None:
    tpl = BlockTemplate.from_rpc(_template_from_block(n_txs=0, rules=()))
    block = Block.from_bytes(_mine_offline(tpl))
    assert not block.transactions[0].has_witness and block.witness_commitment() is None


def test_wrong_default_witness_commitment_is_refused() -> None:
    gbt = _template_from_block()
    gbt["default_witness_commitment"] = "6a24aa21a9ed" + "00" * 32
    with pytest.raises(RemoteError, match="default_witness_commitment"):
        Candidate(BlockTemplate.from_rpc(gbt), P2WPKH)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["version", "previousblockhash", "height", "bits", "curtime", "coinbasevalue",
                                        "transactions", "rules", "mintime"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=70), st.lists(st.text(max_size=5)),
                                 st.lists(st.dictionaries(st.sampled_from(["data", "txid"]), st.text(max_size=10))))))
def test_malformed_templates_raise_remote_error(gbt: dict) -> None:
    try:
        BlockTemplate.from_rpc(gbt)
    except RemoteError:
        pass


def test_difficulty_check_on_mainnet_headers(blocks_dir: Path) -> None:
    headers = read_headers([blocks_dir])
    assert len(headers) >= 10
    with Fabric(FabricConfig("inline", 2)) as fabric:
        checks = difficulty_check(headers, fabric)
        assert all(c.ok for c in checks)
        label, h = headers[0]
        tampered = h[:76] + (int.from_bytes(h[76:], "little") ^ 1).to_bytes(4, "little")
        assert not difficulty_check([("tampered", tampered)], fabric)[0].ok


def test_header_stream_file(tmp_path: Path, blocks_dir: Path) -> None:
    stream = b"".join(h for _, h in read_headers([blocks_dir]))
    (tmp_path / "headers.bin").write_bytes(stream)
    res = CliRunner().invoke(mine_command, ["--difficulty-check", str(tmp_path / "headers.bin"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["failed"] == 0
    (tmp_path / "bad.bin").write_bytes(stream[:-1])
    res = CliRunner().invoke(mine_command, ["--difficulty-check", str(tmp_path / "bad.bin")])
    assert res.exit_code == 2 and "80-byte headers" in res.output


def test_difficulty_check_cli_fails_a_tampered_header_and_applies_the_networks_limit(tmp_path: Path,
                                                                                       blocks_dir: Path) -> None:
    good = read_headers([blocks_dir])[0][1]
    tampered = good[:76] + (int.from_bytes(good[76:], "little") ^ 1).to_bytes(4, "little")
    (tmp_path / "two.bin").write_bytes(good + tampered)
    res = CliRunner().invoke(mine_command, ["--difficulty-check", str(tmp_path / "two.bin"), "--json"])
    assert res.exit_code == 4, res.output
    out = json.loads(res.stdout)  # the one-sentence error goes to stderr
    assert "1 of 2 headers failed" in res.stderr
    assert [c["ok"] for c in out["difficulty_check"]] == [True, False] and out["failed"] == 1
    # a regtest block's header meets its own bits, which are above mainnet's proof-of-work limit
    regtest = _mine_offline(BlockTemplate.from_rpc(_template_from_block(n_txs=0, rules=())))[:80]
    (tmp_path / "regtest.bin").write_bytes(regtest)
    res = CliRunner().invoke(mine_command, ["--difficulty-check", str(tmp_path / "regtest.bin")])
    assert res.exit_code == 4 and "1 of 1 headers failed" in res.output
    res = CliRunner().invoke(mine_command, ["--difficulty-check", str(tmp_path / "regtest.bin"), "--network",
                                            "regtest", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["failed"] == 0


def test_hostport_and_cookie(tmp_path: Path) -> None:
    assert parse_hostport("127.0.0.1:8332") == ("127.0.0.1", 8332)
    assert parse_hostport("[::1]:18443") == ("::1", 18443)
    assert parse_hostport("node") == ("node", 18443)
    for bad in ("h:0", "h:99999", "h:x", ":1"):
        with pytest.raises(InputError):
            parse_hostport(bad)
    (tmp_path / ".cookie").write_text("__cookie__:s3cret\n")
    assert read_cookie(tmp_path / ".cookie") == ("__cookie__", "s3cret")
    with pytest.raises(InputError):
        read_cookie(tmp_path / "missing")
    res = CliRunner().invoke(mine_command, ["--rpcconnect", "127.0.0.1:1", "--payout-script", P2WPKH.hex(),
                                            "--rpccookiefile", str(tmp_path / ".cookie"), "--rpcuser", "u"])
    assert res.exit_code == 2 and "not both" in res.stderr and "Traceback" not in res.output


def test_unreachable_node_is_one_clear_error() -> None:
    from bcoin_harness import free_port

    res = CliRunner().invoke(mine_command, ["--rpcconnect", f"127.0.0.1:{free_port()}",
                                            "--payout-script", P2WPKH.hex()])
    assert res.exit_code == 3
    assert "cannot reach the node's RPC" in res.output and "Traceback" not in res.output


class _FakeNode:
    """A node double whose tip moves after the first template: the miner must drop the stale template."""

    def __init__(self, gbt: dict) -> None:
        self.gbt = gbt
        self.calls: list[str] = []

    def call(self, method: str, *params):
        self.calls.append(method)
        if method == "getblocktemplate":
            return self.gbt
        if method == "getbestblockhash":
            return "22" * 32  # not the template's previousblockhash
        raise AssertionError(f"unexpected {method}")


def test_template_refreshed_when_the_tip_moves() -> None:
    gbt = _template_from_block(n_txs=0, rules=())
    gbt["bits"] = "1d00ffff"  # mainnet's easiest target: nothing in a few thousand nonces
    node = _FakeNode(gbt)
    with Fabric(FabricConfig()) as fabric:
        report = Miner(node, P2WPKH, fabric, batch=512, tip_poll_s=0.0).mine(1, max_hashes=2048)
    assert report.blocks == [] and "submitblock" not in node.calls
    assert report.templates >= 2 and report.stale_refreshes >= 1


class _AcceptingNode:
    """A node double serving fixed templates (the next one once the tip moves) and accepting every block
    whose header hashes (hashlib) to at most its target; ``move_tip_after`` templates in, the tip moves to
    ``"33" * 32`` as if another miner had found a block."""

    def __init__(self, gbts: list[dict], move_tip_after: int | None = None) -> None:
        self.gbts, self.move_tip_after = gbts, move_tip_after
        self.templates_served = 0
        self.submitted: list[bytes] = []
        self.calls: list[str] = []

    def _tip(self) -> str:
        if self.submitted:
            return hash_to_hex(_sha256d(self.submitted[-1][:80]))
        moved = self.move_tip_after is not None and self.templates_served >= self.move_tip_after
        return self.gbts[1 if moved else 0]["previousblockhash"]

    def call(self, method: str, *params):
        self.calls.append(method)
        if method == "getblocktemplate":
            self.templates_served += 1
            moved = self.move_tip_after is not None and self.templates_served > self.move_tip_after
            return self.gbts[1 if moved else 0]
        if method == "getbestblockhash":
            return self._tip()
        if method == "submitblock":
            raw = bytes.fromhex(params[0])
            bits = int.from_bytes(raw[72:76], "little")
            target = (bits & 0xFFFFFF) << (8 * ((bits >> 24) - 3))  # compact bits, recomputed here
            if int.from_bytes(_sha256d(raw[:80]), "little") > target:
                return "high-hash"
            self.submitted.append(raw)
            return None
        raise AssertionError(f"unexpected {method}")


def _extranonce_of(raw: bytes) -> int:
    script_sig = Block.from_bytes(raw).transactions[0].inputs[0].script_sig
    at = 1 + script_sig[0]  # after the BIP34 height push (a push of script_sig[0] bytes)
    assert script_sig[at] == 8  # an 8-byte push: the extranonce
    return int.from_bytes(script_sig[at + 1 : at + 9], "little")


def test_extranonce_rolls_over_within_a_run_and_every_node_count_finds_the_same_block() -> None:
    from packetfs.bitcoin.primitives.block import merkle_root

    gbt = _template_from_block(n_txs=3, rules=())
    gbt["bits"] = "2000ffff"  # about 1 hash in 256 meets it: dozens of 8-nonce extranonces before a block
    found = {}
    for backend, nodes in (("inline", 1), ("inline", 2), ("inline", 3), ("local", 2)):
        node = _AcceptingNode([gbt])
        with Fabric(FabricConfig(backend, nodes)) as fabric:
            miner = Miner(node, P2WPKH, fabric, batch=20, extranonce_start=5, nonce_space=8)
            report = miner.mine(1, max_hashes=20_000)
        assert len(report.blocks) == 1 and report.blocks[0].accepted, (backend, nodes)
        raw = node.submitted[0]
        found[(backend, nodes)] = raw
        b = report.blocks[0]
        assert _extranonce_of(raw) == b.extranonce and int.from_bytes(raw[76:80], "little") == b.nonce < 8
        block = Block.from_bytes(raw)
        assert raw[36:68] == merkle_root([t.txid for t in block.transactions])[0]  # the root for this extranonce
        assert report.hashes % 20 == 0 and report.templates == 1
    assert len(set(found.values())) == 1  # the first block on the (extranonce, nonce) line, whatever the split
    first = Block.from_bytes(found[("inline", 1)])
    e, n = _extranonce_of(found[("inline", 1)]), first.header.nonce
    assert e > 5 + 1  # several extranonces were spent before the block: roll-over happened inside batches
    # nothing earlier on the line meets the target (hashlib over every earlier header)
    tpl = BlockTemplate.from_rpc(gbt)
    cand = Candidate(tpl, P2WPKH)
    for x in range(5, e + 1):
        head = cand.header(x, tpl.curtime).serialize()
        for k in range(8 if x < e else n):
            assert int.from_bytes(_sha256d(grind.header_with_nonce(head, k)), "little") > tpl.target


@pytest.mark.slow
def test_ray_finds_the_same_block_as_inline() -> None:
    pytest.importorskip("ray", reason="the ray backend needs the ray package")
    gbt = _template_from_block(n_txs=3, rules=())
    gbt["bits"] = "2000ffff"
    blocks = []
    for cfg in (FabricConfig("inline", 1), FabricConfig("ray", 2)):
        node = _AcceptingNode([gbt])
        with Fabric(cfg) as fabric:
            report = Miner(node, P2WPKH, fabric, batch=20, extranonce_start=5, nonce_space=8).mine(1, max_hashes=20_000)
        assert report.blocks and report.blocks[0].accepted
        blocks.append(node.submitted[0])
    assert blocks[0] == blocks[1]


def test_segments_of_one_run_hash_like_hashlib() -> None:
    from packetfs.compute.workloads.mining.miner import grind_segments

    heads = [bytes([i]) * 80 for i in range(3)]
    segments = [(heads[0], 2**32 - 3, 3), (heads[1], 0, 5), (heads[2], 7, 2)]
    program = grind.build_program((1 << 256) - 1, 2)  # every hash is a candidate
    with Fabric(FabricConfig("inline", 2)) as fabric:
        hits = grind_segments(fabric, program, segments)
    want = [(i, f + j) for i, (_, f, c) in enumerate(segments) for j in range(c)]
    assert [(seg, h.nonce) for seg, h in hits] == want
    for seg, h in hits:
        assert h.block_hash == _sha256d(grind.header_with_nonce(heads[seg], h.nonce))


def test_after_the_tip_moves_the_block_builds_on_the_new_tip() -> None:
    stale = _template_from_block(n_txs=0, rules=())
    stale["bits"] = "1d00ffff"  # nothing found on the stale template in the hashes it gets
    fresh = dict(_template_from_block(n_txs=0, rules=()), previousblockhash="33" * 32, height=900_001)
    node = _AcceptingNode([stale, fresh], move_tip_after=1)
    with Fabric(FabricConfig("inline", 2)) as fabric:
        report = Miner(node, P2WPKH, fabric, batch=64, tip_poll_s=0.0).mine(1, max_hashes=100_000)
    assert report.stale_refreshes == 1 and report.templates == 2
    assert len(report.blocks) == 1 and report.blocks[0].accepted and report.blocks[0].height == 900_001
    raw = node.submitted[0]
    assert raw[4:36] == bytes.fromhex("33" * 32)[::-1]  # prev hash: the new tip
    assert bip34_height_push(900_001) == Block.from_bytes(raw).transactions[0].inputs[0].script_sig[:4]


def test_bad_nonce_space_is_refused() -> None:
    with Fabric(FabricConfig()) as fabric:
        for bad in (0, 2**32 + 1):
            with pytest.raises(InputError, match="nonces per extranonce"):
                Miner(_AcceptingNode([]), P2WPKH, fabric, nonce_space=bad)


def _kernel_accepts(raw_blocks: list[bytes], tmp_path: Path) -> int:
    pbk = pytest.importorskip("pbk", reason="py-bitcoinkernel (libbitcoinkernel) judges the mined blocks")
    ctx = pbk.make_context(pbk.ChainType.REGTEST)
    opts = pbk.ChainstateManagerOptions(ctx, str(tmp_path), str(tmp_path / "blocks"))
    chainman = pbk.ChainstateManager(opts)
    try:
        for raw in raw_blocks:
            chainman.process_block(pbk.Block(raw))
        return chainman.get_active_chain().height
    finally:
        del chainman, opts, ctx
        gc.collect()


@pytest.mark.parametrize("backend", ["inline", "local"])
def test_mines_regtest_blocks_bcoin_and_kernel_accept(backend: str, tmp_path: Path) -> None:
    if backend == "local":
        pytest.importorskip("packetfs.compute.backends.local", reason="the fabric's local backend is not built yet")
    from bcoin_harness import BcoinNode

    with BcoinNode() as node:
        res = CliRunner().invoke(mine_command, [
            "--rpcconnect", f"127.0.0.1:{node.http_port}", "--rpcuser", "x", "--rpcpassword", "x",
            "--payout-script", P2WPKH.hex(), "--blocks", "3", "--batch", "64", "--backend", backend,
            "--nodes", "2", "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        assert [b["height"] for b in out["blocks"]] == [1, 2, 3] and all(b["accepted"] for b in out["blocks"])
        assert out["hashes"] >= 3 and out["hashes_per_s"] > 0 and out["nodes"] == 2 and out["backend"] == backend
        assert out["hashes_per_s_per_node"] == out["hashes_per_s"] / 2
        assert out["pitch"]["claim_hashes_per_s"] == 10_000e12 and out["pitch"]["antminer_s21_xp_hashes_per_s"] == 270e12
        assert node.rpc("getblockcount") == 3
        assert node.rpc("getbestblockhash") == out["blocks"][-1]["hash"]
        raw = [bytes.fromhex(node.rpc("getblock", b["hash"], False)) for b in out["blocks"]]
    for h, r in enumerate(raw, start=1):
        assert hash_to_hex(_sha256d(r[:80])) == out["blocks"][h - 1]["hash"]
        coinbase = Block.from_bytes(r).transactions[0]
        assert (1).to_bytes(8, "little") in coinbase.inputs[0].script_sig  # --seed 1: extranonce starts at 1
        assert out["blocks"][h - 1]["extranonce"] == 1
        validate_block(r, None, h, "regtest", check_scripts=False)  # raises ValidationError if not
    assert _kernel_accepts(raw, tmp_path) == 3


def test_cookie_auth_against_bcoin(tmp_path: Path) -> None:
    from bcoin_harness import BcoinNode

    (tmp_path / "cookie").write_text("x:x")
    (tmp_path / "wrong").write_text("x:nope")
    with BcoinNode() as node:
        args = ["--rpcconnect", f"127.0.0.1:{node.http_port}", "--payout-script", P2WPKH.hex(), "--json"]
        res = CliRunner().invoke(mine_command, args + ["--rpccookiefile", str(tmp_path / "cookie")])
        assert res.exit_code == 0, res.output
        res = CliRunner().invoke(mine_command, args + ["--rpccookiefile", str(tmp_path / "wrong")])
        assert res.exit_code == 3 and "credentials" in res.output
    assert os.path.exists(tmp_path / "cookie")


class _OneReply:
    """A loopback HTTP server whose every reply is ``body`` with ``status`` (closed by the test)."""

    def __init__(self) -> None:
        import http.server
        import threading

        outer = self
        self.body, self.status = b"", 200

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.port = self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def reply_server():
    srv = _OneReply()
    try:
        yield srv
    finally:
        srv.close()


@settings(max_examples=30, deadline=None)
@given(body=st.one_of(st.binary(max_size=300), st.builds(lambda o: json.dumps(o).encode(), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(["result", "error", "id", "message"]), c,
                                                         max_size=4), max_leaves=10))),
       status=st.sampled_from([200, 401, 500]))
def test_rpc_replies_never_crash(reply_server, body: bytes, status: int) -> None:
    reply_server.body, reply_server.status = body, status
    try:
        RpcClient("127.0.0.1", reply_server.port, "u", "p", timeout=5).call("getblocktemplate")
    except RemoteError:
        pass


def test_segwit_active_blocks_with_witness_commitment_accepted_by_bcoin() -> None:
    from bcoin_harness import BcoinNode

    with BcoinNode() as node:
        node.mine(432)  # bcoin's regtest activates segwit at height 432
        assert "segwit" in [r.lstrip("!") for r in node.rpc("getblocktemplate", {"rules": ["segwit"]})["rules"]]
        res = CliRunner().invoke(mine_command, [
            "--rpcconnect", f"127.0.0.1:{node.http_port}", "--rpcuser", "x", "--rpcpassword", "x",
            "--payout-script", P2WPKH.hex(), "--blocks", "2", "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        assert all(b["accepted"] for b in out["blocks"]) and node.rpc("getblockcount") == 434
        raw = bytes.fromhex(node.rpc("getblock", out["blocks"][-1]["hash"], False))
    block = Block.from_bytes(raw)
    assert block.witness_commitment() is not None  # the coinbase commits to the (empty) witness tree
    assert block.transactions[0].witnesses[0] == (bytes(32),)
