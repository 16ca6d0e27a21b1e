"""The compress / decompress / codec-bench commands end to end."""

from __future__ import annotations

import json

from click.testing import CliRunner

from packetfs.cli import main


def test_compress_decompress_files_and_dirs(tmp_path, blocks_dir, real_blocks):
    runner = CliRunner()
    a = blocks_dir / "mainnet-757739.block"
    b = blocks_dir / "mainnet-300025.block"
    out = tmp_path / "two.pfs"
    res = runner.invoke(main, ["bitcoin", "compress", str(a), str(b), "-o", str(out), "--json", "--no-progress"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["blocks"] == 2 and summary["archive_bytes"] < summary["raw_bytes"]
    d = tmp_path / "dir"
    res = runner.invoke(main, ["bitcoin", "decompress", str(out), "-o", str(d), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert (d / "000000.block").read_bytes() == real_blocks["mainnet-757739"]
    assert (d / "000001.block").read_bytes() == real_blocks["mainnet-300025"]
    one = tmp_path / "one.block"
    res = runner.invoke(main, ["bitcoin", "decompress", str(out), "-o", str(one), "--block", "1", "--no-progress"])
    assert res.exit_code == 0 and one.read_bytes() == real_blocks["mainnet-300025"]


def test_blocks_dir_with_xor_round_trip(tmp_path, real_blocks):
    from packetfs.bitcoin.storage.blockfiles import iter_blocks, write_blk_files

    src = tmp_path / "blocks"
    raws = [real_blocks["mainnet-757739"], real_blocks["mainnet-300025"]]
    write_blk_files(raws, src, "mainnet", xor_key=bytes(range(1, 9)))
    runner = CliRunner()
    out = tmp_path / "d.pfs"
    res = runner.invoke(main, ["bitcoin", "compress", str(src), "-o", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    blk = tmp_path / "blk"
    res = runner.invoke(main, ["bitcoin", "decompress", str(out), "-o", str(blk), "--blk", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert list(iter_blocks(blk / "blk00000.dat")) == raws


def test_unreadable_input_exit_2(tmp_path):
    runner = CliRunner()
    bad = tmp_path / "bad.pfs"
    bad.write_bytes(b"garbage")
    res = runner.invoke(main, ["bitcoin", "decompress", str(bad), "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "not a .pfs" in res.output
    res = runner.invoke(main, ["bitcoin", "compress", str(tmp_path / "missing.block"), "-o", str(tmp_path / "y.pfs")])
    assert res.exit_code == 2


def test_codec_bench_json(blocks_dir):
    runner = CliRunner()
    res = runner.invoke(
        main, ["bitcoin", "codec-bench", str(blocks_dir / "mainnet-757739.block"), "--repeat", "1", "--no-ablation", "--json"]
    )
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    row = rep["blocks"][0]
    assert row["raw"] == 22767 and 0 < row["ratio"] < 1
    assert {"zlib-9", "bz2-9", "xz-9e", "zstd-19", "zstd-22", "brotli-11"} <= set(row)
