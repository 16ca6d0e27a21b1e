"""SwiftSync import against an ordinary import of the same chain: same tip, same UTXO digest; wrong
hints, lying or missing undo data and an invalid block are each detected and end, after the ordinary
fallback, exactly where an ordinary import of the same data ends."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.primitives.transaction import Transaction
from packetfs.bitcoin.storage.blockfiles import open_blocks_dir
from packetfs.bitcoin.storage.undo import decode_block_undo, encode_block_undo
from packetfs.bitcoin.swiftsync import Hints, LocalExecutor, swiftsync_import

from .conftest import CHAIN_BLOCKS, HINTS_HEIGHT, chain_info, ordinary_import, packetfs, relink, write_dir


def run_api(blocks_dir, datadir, hints: Hints, jobs: int = 1):
    with Chainstate(datadir, "regtest", jobs=1, store_mode="raw") as cs:
        result = swiftsync_import(cs, open_blocks_dir(blocks_dir), hints, LocalExecutor(jobs))
    return result, chain_info(datadir)


def test_cli_swiftsync_equals_ordinary_import(chain, tmp_path):
    proc = packetfs("swiftsync-import", str(chain.blocks_dir), "--hints", str(chain.hints), "--network", "regtest",
                    "--datadir", str(tmp_path / "ss"), "-j", "2", "--json", "--strict")  # fmt: skip
    out = json.loads(proc.stdout)
    assert out["mode"] == "swiftsync" and out["fallback_reason"] is None
    assert out["blocks_swiftsync"] == HINTS_HEIGHT
    assert out["inputs_script_checked"] == out["inputs_swiftsync"] > 500  # every input's script, no assumevalid
    assert out["ordinary"]["blocks_accepted"] == CHAIN_BLOCKS - HINTS_HEIGHT and not out["ordinary"]["invalid"]
    assert chain_info(tmp_path / "ss") == chain.reference
    # The SwiftSync'd chainstate (codec store) serves the same hints the ordinary one did.
    packetfs("hints", "--datadir", str(tmp_path / "ss"), "--height", str(HINTS_HEIGHT), "-o", str(tmp_path / "again"))
    assert (tmp_path / "again").read_bytes() == chain.hints.read_bytes()


def test_hints_above_the_chain_fall_back(chain, tmp_path):
    hints = Hints.read(chain.hints)
    short = write_dir(chain.records[: HINTS_HEIGHT - 5], tmp_path / "short")
    result, info = run_api(short, tmp_path / "ss", hints)
    assert result.mode == "fallback" and "below the hints" in result.fallback_reason
    assert info["height"] == HINTS_HEIGHT - 6 and result.ordinary.blocks_accepted == HINTS_HEIGHT - 6


def test_rev_file_matching_no_block_falls_back(chain, tmp_path):
    # Undo data written against the wrong parent: its checksum matches no block of the blk file.
    from packetfs.bitcoin.storage.blockfiles import write_blk_files, write_rev_files

    blocks_dir = tmp_path / "core"
    write_blk_files([raw for raw, _ in chain.records], blocks_dir, network="regtest")
    write_rev_files([(0, bytes(32), undo) for _, undo in chain.records[1:] if undo is not None], blocks_dir,
                    network="regtest")  # fmt: skip
    result, info = run_api(blocks_dir, tmp_path / "ss", Hints.read(chain.hints))
    assert result.mode == "fallback" and "cannot be scanned" in result.fallback_reason
    assert info == chain.reference


def test_hints_at_tip_one_process(chain, tmp_path):
    packetfs("hints", "--datadir", str(chain.reference_datadir), "--height", str(CHAIN_BLOCKS), "-o",
             str(tmp_path / "tip.hints"))  # fmt: skip
    result, info = run_api(chain.blocks_dir, tmp_path / "ss", Hints.read(tmp_path / "tip.hints"), jobs=1)
    assert result.mode == "swiftsync" and result.blocks_swiftsync == CHAIN_BLOCKS
    assert result.ordinary.blocks_accepted == 0
    assert info == chain.reference
    # Reorg-ready: the undo data written for the SwiftSync'd blocks disconnects the tip exactly.
    with Chainstate(tmp_path / "ss", "regtest", jobs=1, store_mode="raw") as cs:
        cs.disconnect_tip()
        cs.flush()
    with Chainstate(chain.reference_datadir, "regtest", jobs=1, store_mode="raw") as ref:
        before = sorted(ref.utxo)
    with Chainstate(tmp_path / "ss", "regtest", jobs=1, store_mode="raw") as cs:
        assert cs.tip.height == CHAIN_BLOCKS - 1
        after = sorted(cs.utxo)
    assert before != after  # the last block changed the set, and disconnecting undid exactly that
    ordinary_datadir = tmp_path / "ord114"
    write_dir(chain.records[:CHAIN_BLOCKS], tmp_path / "core114")
    ordinary_import(tmp_path / "core114", ordinary_datadir)
    with Chainstate(ordinary_datadir, "regtest", jobs=1, store_mode="raw") as o:
        assert sorted(o.utxo) == after


def _spending_block(hints: Hints) -> int:
    # A block below H whose outputs were partly spent (a gap below its last unspent one): both kinds.
    return next(h for h in range(HINTS_HEIGHT, 0, -1) if 2 <= len(u := hints.for_block(h)) < u[-1] + 1)


@pytest.mark.parametrize("change", ["mark-spent-output-unspent", "mark-unspent-output-spent"])
def test_wrong_hints_fall_back(chain, tmp_path, change):
    hints = Hints.read(chain.hints)
    h = _spending_block(hints)
    unspent = list(hints.for_block(h))
    if change == "mark-spent-output-unspent":
        spent = next(i for i in range(max(unspent)) if i not in unspent)
        unspent = sorted([*unspent, spent])
    else:
        unspent = unspent[1:]
    bad = Hints(hints.height, [*hints.unspent[: h - 1], unspent, *hints.unspent[h:]])
    result, info = run_api(chain.blocks_dir, tmp_path / "ss", bad, jobs=2)
    assert result.mode == "fallback" and "aggregate" in result.fallback_reason
    assert info == chain.reference


def test_hint_beyond_a_blocks_outputs_falls_back(chain, tmp_path):
    hints = Hints.read(chain.hints)
    bad = Hints(hints.height, [*hints.unspent[:9], [*hints.unspent[9], 5000]] + hints.unspent[10:])
    result, info = run_api(chain.blocks_dir, tmp_path / "ss", bad)
    assert result.mode == "fallback" and "swiftsync-bad-hints" in result.fallback_reason
    assert info == chain.reference


def _tamper_undo(records, height: int, edit) -> list:
    raw, undo = records[height]
    coins = decode_block_undo(undo)
    edit(coins)
    return [*records[:height], (raw, encode_block_undo(coins)), *records[height + 1 :]]


def _first_non_coinbase_coin(coins) -> tuple[int, int]:
    return next((t, i) for t, tx in enumerate(coins) for i, c in enumerate(tx) if not c.coinbase and c.height > 1)


@pytest.mark.parametrize("lie", ["height", "value", "script", "missing-coin", "missing-undo"])
def test_wrong_or_missing_spent_coins_fall_back(chain, tmp_path, lie):
    h = 108
    records = chain.records

    def edit(coins):
        t, i = _first_non_coinbase_coin(coins)
        c = coins[t][i]
        if lie == "height":  # self-consistent: scripts, fees and locks all pass; only the aggregate knows
            coins[t][i] = c._replace(height=c.height - 1)
        elif lie == "value":
            coins[t][i] = c._replace(value=c.value + 1)
        elif lie == "script":
            coins[t][i] = c._replace(script_pubkey=b"\x51")  # OP_TRUE: any witness-free spend passes
        else:
            del coins[t][i]

    if lie == "missing-undo":
        records = [*records[:h], (records[h][0], None), *records[h + 1 :]]
    else:
        records = _tamper_undo(records, h, edit)
    blocks_dir = write_dir(records, tmp_path / "core")
    result, info = run_api(blocks_dir, tmp_path / "ss", Hints.read(chain.hints), jobs=2)
    assert result.mode == "fallback", result
    if lie == "height":
        assert "aggregate" in result.fallback_reason
    else:
        assert result.failure is not None or "aggregate" in result.fallback_reason
    assert info == chain.reference  # the blocks are fine: the ordinary import takes them all


def test_invalid_block_falls_back_like_an_ordinary_import(chain, tmp_path):
    h = 105
    raw, undo = chain.records[h]
    block = Block.from_bytes(raw)
    coinbase = block.transactions[0]
    out0 = coinbase.outputs[0]
    # Overpay the coinbase by one satoshi (bad-cb-amount), keep the chain linked and mined.
    old = out0.value.to_bytes(8, "little") + bytes([len(out0.script_pubkey)]) + out0.script_pubkey
    cb_start = 81
    cb = Transaction.parse(raw, cb_start)
    cb_end = cb_start + cb.size
    assert raw[cb_start:cb_end].count(old) == 1
    new_cb = raw[cb_start:cb_end].replace(old, (out0.value + 1).to_bytes(8, "little") + old[8:])
    records = relink([*chain.records[:h], (raw[:cb_start] + new_cb + raw[cb_end:], undo), *chain.records[h + 1 :]], h)
    blocks_dir = write_dir(records, tmp_path / "core")
    expected = ordinary_import(blocks_dir, tmp_path / "ordinary")
    assert expected["height"] == h - 1
    result, info = run_api(blocks_dir, tmp_path / "ss", Hints.read(chain.hints), jobs=2)
    assert result.mode == "fallback"
    assert result.failure["height"] == h and result.failure["reason"] == "bad-cb-amount"
    assert [i["error"] for i in result.ordinary.invalid][:1] == ["bad-cb-amount"]
    assert info == expected


def test_non_empty_chainstate_imports_the_ordinary_way(chain, tmp_path):
    write_dir(chain.records[:50], tmp_path / "core50")
    ordinary_import(tmp_path / "core50", tmp_path / "ss")
    result, info = run_api(chain.blocks_dir, tmp_path / "ss", Hints.read(chain.hints))
    assert result.mode == "ordinary" and "height 49" in result.fallback_reason
    assert info == chain.reference


def test_cli_bad_hints_file(chain, tmp_path):
    bad = tmp_path / "bad.hints"
    bad.write_bytes(b"not hints")
    proc = packetfs("swiftsync-import", str(chain.blocks_dir), "--hints", str(bad), "--network", "regtest",
                    "--datadir", str(tmp_path / "ss"), check=False)  # fmt: skip
    assert proc.returncode == 2 and "not a SwiftSync hints file" in proc.stderr and "Traceback" not in proc.stderr


def test_strict_exit_code_on_fallback(chain, tmp_path):
    hints = Hints.read(chain.hints)
    bad = tmp_path / "bad.hints"
    bad.write_bytes(replace(hints, unspent=[*hints.unspent[:-1], []]).serialize())
    proc = packetfs("swiftsync-import", str(chain.blocks_dir), "--hints", str(bad), "--network", "regtest",
                    "--datadir", str(tmp_path / "ss"), "--strict", "--json", check=False)  # fmt: skip
    assert proc.returncode == 3 and json.loads(proc.stdout)["mode"] == "fallback"


def test_demo(tmp_path, capsys):
    from packetfs.bitcoin.swiftsync.demo import demo

    demo(tmp_path)  # raises on a wrong result
    out = capsys.readouterr().out
    assert "fallback: aggregate != 0" in out and "swiftsync" in out and "SwiftSync from a peer" in out
