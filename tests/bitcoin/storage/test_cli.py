"""`packetfs bitcoin blocks-dir-info`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from packetfs.cli import main


def test_blocks_dir_info_json_on_core_dir(core_blocks_dir, regtest_util):
    res = CliRunner().invoke(main, ["bitcoin", "blocks-dir-info", str(core_blocks_dir.blocks_dir), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    n = len(core_blocks_dir.chain.blocks) + 1  # + genesis
    assert info["network"] == "regtest" and info["magic"] == "fabfb5da"
    assert info["obfuscated"] is True and len(bytes.fromhex(info["xor_key"])) == 8
    assert info["blocks"] == n and info["undo_records"] == n - 1
    genesis = len(regtest_util.REGTEST_GENESIS)
    assert info["block_bytes"] == sum(len(b) for b in core_blocks_dir.chain.blocks) + genesis
    assert [f["name"] for f in info["blk_files"]] == ["blk00000.dat"]
    assert (
        info["file_bytes"] == sum(p.stat().st_size for p in core_blocks_dir.blocks_dir.glob("*.dat")) - 8
    )  # not xor.dat


def test_blocks_dir_info_table_and_datadir(core_blocks_dir):
    res = CliRunner().invoke(main, ["bitcoin", "blocks-dir-info", str(core_blocks_dir.blocks_dir.parent)])
    assert res.exit_code == 0, res.output
    assert "blk00000.dat" in res.output and "regtest" in res.output


def test_blocks_dir_info_bad_input(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["bitcoin", "blocks-dir-info", str(tmp_path / "missing")])
    assert res.exit_code == 2
    (tmp_path / "blk00000.dat").write_bytes(b"\x01\x02\x03\x04" + bytes(100))
    res = runner.invoke(main, ["bitcoin", "blocks-dir-info", str(tmp_path)])
    assert res.exit_code == 2 and "magic" in res.output


def test_help():
    res = CliRunner().invoke(main, ["bitcoin", "blocks-dir-info", "--help"])
    assert res.exit_code == 0 and "--json" in res.output
