"""One writer per datadir, readers beside it, and `utxo_digest` as an independent replay computes it."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.chain.generator import ChainGenerator, write_chain
from packetfs.bitcoin.primitives import Block
from packetfs.bitcoin.primitives.hashes import hash_to_hex
from packetfs.bitcoin.storage.datadir_lock import DatadirInUseError, DatadirLock
from packetfs.bitcoin.storage.utxo import UtxoError
from packetfs.cli import main

NOW = 4_000_000_000


def reference_digests(blocks: list[bytes]) -> list[str]:
    """utxo_digest after 0..len(blocks) blocks by plain replay and Core's TxOutSer, as Core displays it."""
    utxo: dict[tuple[bytes, int], tuple[int, bool, int, bytes]] = {}
    out = []

    def digest() -> str:
        ser = bytearray()
        for txid, vout in sorted(utxo):
            height, coinbase, value, spk = utxo[(txid, vout)]
            n = len(spk)
            size = bytes((n,)) if n < 0xFD else b"\xfd" + struct.pack("<H", n)
            ser += txid + struct.pack("<IIq", vout, height * 2 + coinbase, value) + size + spk
        return hashlib.sha256(hashlib.sha256(bytes(ser)).digest()).digest()[::-1].hex()

    out.append(digest())
    for height, raw in enumerate(blocks, start=1):
        for i, tx in enumerate(Block.from_bytes(raw).transactions):
            if i:
                for txin in tx.inputs:
                    del utxo[(txin.prev_txid, txin.prev_index)]
            for vout, o in enumerate(tx.outputs):
                spk = o.script_pubkey
                if not (spk[:1] == b"\x6a" or len(spk) > 10_000):
                    utxo[(tx.txid, vout)] = (height, i == 0, o.value, spk)
        out.append(digest())
    return out


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    gen = ChainGenerator(seed=21, profile="2024", txs_per_block=6, min_kind_share=0.1)
    generated = list(gen.blocks(40))
    core = tmp_path_factory.mktemp("core")
    write_chain(generated, core)
    blocks = [b.raw for b in generated]
    return core, blocks, reference_digests(blocks)


def test_utxo_digest_matches_replay(tmp_path, chain):
    _, blocks, digests = chain
    with Chainstate(tmp_path / "node", "regtest", jobs=1, now=lambda: NOW) as cs:
        assert hash_to_hex(cs.utxo_digest()) == digests[0]
        for h, raw in enumerate(blocks, start=1):
            cs.process_block(raw)
            if h % 10 == 0:
                assert hash_to_hex(cs.utxo_digest()) == digests[h]  # pending, unflushed changes
        cs.flush()
        assert hash_to_hex(cs.utxo_digest()) == digests[-1]
    info = json.loads(CliRunner().invoke(main, ["bitcoin", "chain-info", "--datadir", str(tmp_path / "node"),
                                                 "--json"]).output)  # fmt: skip
    assert info["utxo_digest"] == digests[-1] and info["height"] == len(blocks)


_WRITER = textwrap.dedent(
    """
    import sys, time
    from packetfs.bitcoin.chain.chainstate import Chainstate
    from packetfs.bitcoin.storage.blockfiles import open_blocks_dir
    raws = [r for r in open_blocks_dir(sys.argv[2]).iter_blocks()][1:]
    with Chainstate(sys.argv[1], "regtest", jobs=1, now=lambda: 4_000_000_000, store_mode="raw") as cs:
        print("open", flush=True)
        sys.stdin.readline()
        for raw in raws:
            cs.process_block(raw)
            cs.flush()
            time.sleep(0.02)
        print("done", flush=True)
        sys.stdin.readline()
    """
)


def test_readers_beside_a_writer_and_a_second_writer_refused(tmp_path, chain):
    core, blocks, digests = chain
    datadir = tmp_path / "node"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(datadir), str(core)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "open"
        # A second writer: the Chainstate API, and the import command (exit 2, nothing changed).
        with pytest.raises(DatadirInUseError, match=f"^datadir {datadir} is in use by process {proc.pid}$"):
            Chainstate(datadir, "regtest", jobs=1)
        before = sorted((p.name, p.stat().st_size) for p in (datadir / "chainstate").iterdir())
        runner = CliRunner()
        res = runner.invoke(main, ["bitcoin", "import", str(core), "--network", "regtest", "--datadir",
                                   str(datadir), "--jobs", "1"])  # fmt: skip
        assert res.exit_code == 2
        assert f"error: datadir {datadir} is in use by process {proc.pid}" in res.output
        assert sorted((p.name, p.stat().st_size) for p in (datadir / "chainstate").iterdir()) == before
        proc.stdin.write("go\n")
        proc.stdin.flush()
        # chain-info while the writer flushes block after block: every answer is one consistent state.
        seen = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            res = runner.invoke(main, ["bitcoin", "chain-info", "--datadir", str(datadir), "--json"])
            assert res.exit_code == 0, res.output
            info = json.loads(res.output)
            assert info["utxo_digest"] == digests[info["height"]], info["height"]
            seen.add(info["height"])
            if info["height"] == len(blocks):
                break
        assert len(seen) >= 3, seen  # it really ran while the writer moved on
        assert proc.stdout.readline().strip() == "done"
        proc.stdin.write("end\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The writer is gone: writing works again, at the state it left.
    with DatadirLock(datadir), Chainstate(datadir, "regtest", jobs=1) as cs:
        assert cs.tip.height == len(blocks) and hash_to_hex(cs.utxo_digest()) == digests[-1]


def test_read_only_open_changes_no_file(tmp_path, chain):
    _, blocks, digests = chain
    d = tmp_path / "node"
    with Chainstate(d, "regtest", jobs=1, now=lambda: NOW) as cs:
        for raw in blocks[:10]:
            cs.process_block(raw)

    def files() -> dict:
        # LMDB's lock.mdb is its reader table: readers register there by design.
        return {p.relative_to(d): (p.stat().st_size, p.stat().st_mtime_ns) for p in d.rglob("*")
                if p.is_file() and p.name != "lock.mdb"}  # fmt: skip

    before = files()
    with Chainstate(d, "regtest", jobs=1, readonly=True) as cs:
        assert cs.tip.height == 10 and hash_to_hex(cs.utxo_digest()) == digests[10]
        with pytest.raises(UtxoError, match="cannot be flushed"):
            cs.utxo.flush()  # a snapshot view refuses to write
    assert files() == before
    assert (d / ".lock").read_text() == ""  # nobody holds it
