"""`packetfs mine` against our own node: a `packetfs node` process (regtest, free ports, cookie auth)
serves getblocktemplate/submitblock; the miner finds real proof of work at regtest difficulty, our node
accepts the blocks and relays them over P2P to bcoin 1.0.2, and both nodes end on the same tip.

Regtest differs between the two: Core's (and ours) has segwit active from genesis, so our template asks
for the witness commitment and the coinbase carries the witness reserved value; bcoin 1.0.2's regtest
activates segwit by BIP9 at height 432 and bans a peer that relays such a block earlier
("unexpected-witness"). So bcoin first mines 432 blocks, our node syncs them over P2P (this also checks
that our node accepts bcoin's blocks), and the miner extends that chain.

The UTXO set is recomputed here from the blocks, parsed with python-bitcoinlib (Core's hash_serialized_3
serialization, docs/utxo-digest.md), and compared with chain-info's utxo_digest, our gettxoutsetinfo and
bcoin's coin count and amount."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from packetfs.bitcoin.primitives import Block, hash_to_hex
from packetfs.compute.workloads.cli import mine_command

PACKETFS = str(Path(sys.executable).parent / "packetfs")
# BIP173's P2WPKH test vector, with regtest's "bcrt" prefix: the payout program is known independently.
ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
PAYOUT_SCRIPT = bytes.fromhex("0014751e76e8199196d454941c45d1b3a323f1433bd6")
BLOCKS = 3
BCOIN_SEGWIT_HEIGHT = 432  # bcoin 1.0.2 regtest: segwit's BIP9 deployment is active from this height on


def _utxo_digest(raw_blocks: list[tuple[int, bytes]]) -> tuple[str, int, int]:
    """Core's hash_serialized_3 (as printed), coin count and amount of the coins the given blocks create,
    for blocks that spend nothing (coinbase-only); parsed by python-bitcoinlib, not our code."""
    from bitcoin.core import CBlock

    coins = []
    for height, raw in raw_blocks:
        block = CBlock.deserialize(raw)
        assert len(block.vtx) == 1, "only coinbase-only blocks here: nothing is spent"
        txid = block.vtx[0].GetTxid()
        for n, out in enumerate(block.vtx[0].vout):
            script = bytes(out.scriptPubKey)
            if script[:1] != b"\x6a" and len(script) <= 10_000:  # OP_RETURN outputs never become coins
                coins.append((txid, n, height, out.nValue, script))
    coins.sort(key=lambda c: (c[0], c[1]))
    ser = b"".join(txid + n.to_bytes(4, "little") + (height * 2 + 1).to_bytes(4, "little")
                   + value.to_bytes(8, "little") + bytes([len(script)]) + script
                   for txid, n, height, value, script in coins)
    digest = hashlib.sha256(hashlib.sha256(ser).digest()).digest()[::-1].hex()
    return digest, len(coins), sum(c[3] for c in coins)


def _rpc(port: int, cookie: Path, method: str, *params: object) -> object:
    """One JSON-RPC call with the node's cookie, through python-bitcoinrpc (not the miner's client)."""
    from bitcoinrpc.authproxy import AuthServiceProxy

    user, password = cookie.read_text().strip().split(":", 1)
    return getattr(AuthServiceProxy(f"http://{user}:{password}@127.0.0.1:{port}", timeout=30), method)(*params)


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"our node exited ({proc.returncode}): {log.read_text()[-3000:]}"
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}: {log.read_text()[-3000:]}")


def test_mined_blocks_accepted_by_our_node_and_bcoin(tmp_path: Path) -> None:
    from bcoin_harness import BcoinNode

    with BcoinNode() as bcoin:
        bcoin.mine(BCOIN_SEGWIT_HEIGHT)
        datadir = tmp_path / "node"
        datadir.mkdir()
        out_path = tmp_path / "node-output.txt"
        out = open(out_path, "wb")
        proc = subprocess.Popen(
            [PACKETFS, "node", "--network", "regtest", "--datadir", str(datadir), "--port", "0",
             "--bind", "127.0.0.1", "--no-listen", "--rpcport", "0", "--connect", f"127.0.0.1:{bcoin.p2p_port}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            log = datadir / "debug.log"
            found: dict[str, int] = {}

            def rpc_up() -> bool:
                m = re.search(r"RPC listening on [\d.]+:(\d+)", log.read_text() if log.exists() else "")
                if m and (datadir / ".cookie").exists():
                    found["port"] = int(m.group(1))
                return "port" in found

            _wait(rpc_up, 60, "our node's RPC server", proc, out_path)
            port, cookie = found["port"], datadir / ".cookie"
            base = bcoin.rpc("getbestblockhash")
            _wait(lambda: _rpc(port, cookie, "getbestblockhash") == base, 30, "our node to sync bcoin's blocks",
                  proc, out_path)
            # bcoin's segwit is now active ("!segwit": a rule the client must understand)
            assert "!segwit" in bcoin.rpc("getblocktemplate", {"rules": ["segwit"]})["rules"]

            res = CliRunner().invoke(mine_command, [
                "--rpcconnect", f"127.0.0.1:{port}", "--rpccookiefile", str(cookie), "--address", ADDRESS,
                "--blocks", str(BLOCKS), "--batch", "256", "--json"])
            assert res.exit_code == 0, res.output
            mined = json.loads(res.output)
            blocks = mined["blocks"]
            first = BCOIN_SEGWIT_HEIGHT + 1
            assert [b["height"] for b in blocks] == list(range(first, first + BLOCKS)) and all(b["accepted"] for b in blocks)
            hashes = [b["hash"] for b in blocks]

            # Our node: its tip is the last accepted block, its chain is exactly the mined blocks.
            assert _rpc(port, cookie, "getbestblockhash") == hashes[-1]
            tip = first + BLOCKS - 1
            assert _rpc(port, cookie, "getblockcount") == tip
            assert [_rpc(port, cookie, "getblockhash", h) for h in range(first, tip + 1)] == hashes
            prev = base
            for h, want in enumerate(hashes, start=first):
                raw = bytes.fromhex(_rpc(port, cookie, "getblock", want, 0))
                block = Block.from_bytes(raw)
                assert block.hash_hex == want and hash_to_hex(block.header.prev_hash) == prev
                # Real proof of work: the header hash is at or below the target its bits encode (computed here).
                bits = block.header.bits
                target = (bits & 0x7FFFFF) << (8 * ((bits >> 24) - 3))
                assert int(want, 16) <= target
                coinbase = block.transactions[0]
                assert coinbase.outputs[0].script_pubkey == PAYOUT_SCRIPT
                assert coinbase.outputs[0].value == 50 * 10**8 >> (h // 150)  # regtest halves every 150 blocks
                assert coinbase.inputs[0].script_sig[:3] == bytes([2]) + h.to_bytes(2, "little")  # BIP34 height
                assert list(coinbase.witnesses[0]) == [bytes(32)]  # the witness reserved value (BIP141)
                assert len(block.transactions) == 1
                prev = want

            # bcoin received the blocks from our node over P2P and validated them itself.
            bcoin.wait_for(lambda: bcoin.rpc("getbestblockhash") == hashes[-1], 30, "bcoin to reach our tip")
            assert bcoin.rpc("getblockcount") == tip
            assert [bcoin.rpc("getblockhash", h) for h in range(first, tip + 1)] == hashes
            theirs = bcoin.rpc("gettxoutsetinfo")
            assert theirs["height"] == tip and theirs["bestblock"] == hashes[-1]
            raw_blocks = [(h, bytes.fromhex(bcoin.rpc("getblock", bcoin.rpc("getblockhash", h), False)))
                          for h in range(1, tip + 1)]
            digest, n_coins, amount = _utxo_digest(raw_blocks)

            # The UTXO set, recomputed from bcoin's copy of the blocks: chain-info (read only, beside the
            # running node), our gettxoutsetinfo and bcoin's agree with it.
            ours = _rpc(port, cookie, "gettxoutsetinfo")
            info_run = subprocess.run([PACKETFS, "bitcoin", "chain-info", "--datadir", str(datadir), "--json"],
                                      capture_output=True, text=True, timeout=60)
            assert info_run.returncode == 0, info_run.stderr
            info = json.loads(info_run.stdout)
            assert info["height"] == tip and info["best_block_hash"] == hashes[-1]
            assert info["utxo_count"] == n_coins == ours["txouts"] == theirs["txouts"] == tip
            assert info["utxo_total_amount"] == amount == round(float(theirs["total_amount"]) * 10**8)
            assert round(float(ours["total_amount"]) * 10**8) == amount
            assert info["utxo_digest"] == ours["hash_serialized_3"] == digest
            for b in blocks:
                coin = _rpc(port, cookie, "gettxout", _rpc(port, cookie, "getblock", b["hash"])["tx"][0], 0)
                assert coin["scriptPubKey"]["hex"] == PAYOUT_SCRIPT.hex() and coin["coinbase"] is True

            assert _rpc(port, cookie, "stop") == "PacketFS stopping"
            assert proc.wait(timeout=60) == 0
            assert not cookie.exists()
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            out.close()
