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


def test_outputs_are_all_or_nothing_and_need_force(tmp_path, blocks_dir, real_blocks):
    runner = CliRunner()
    a = blocks_dir / "mainnet-757739.block"
    out = tmp_path / "a.pfs"
    out.write_bytes(b"precious")
    res = runner.invoke(main, ["bitcoin", "compress", str(a), "-o", str(out), "--no-progress"])
    assert res.exit_code == 2 and f"error: {out} exists; pass --force to replace it" in res.output
    assert out.read_bytes() == b"precious"
    res = runner.invoke(main, ["bitcoin", "compress", str(a), "-o", str(out), "--no-progress", "--force"])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:4] == b"PFS\x89"

    # A missing input is named before anything is written.
    bad_out = tmp_path / "b.pfs"
    res = runner.invoke(main, ["bitcoin", "compress", str(a), str(tmp_path / "gone.block"), "-o", str(bad_out)])
    assert res.exit_code == 2 and "gone.block: no such file or directory" in res.output
    assert list(tmp_path.iterdir()) == [out]
    # A failure part way (a damaged blk file after a good block was encoded) leaves nothing either.
    damaged = tmp_path.parent / f"{tmp_path.name}-damaged"
    damaged.mkdir()
    (damaged / "blk00000.dat").write_bytes(bytes.fromhex("f9beb4d9") + (10**8).to_bytes(4, "little") + bytes(100))
    res = runner.invoke(main, ["bitcoin", "compress", str(a), str(damaged), "-o", str(bad_out), "--no-progress"])
    assert res.exit_code == 2 and "error:" in res.output, res.output
    assert list(tmp_path.iterdir()) == [out]

    # Decompress: a damaged last frame means no output directory at all, and no temporary left.
    two = tmp_path / "two.pfs"
    runner.invoke(main, ["bitcoin", "compress", str(a), str(blocks_dir / "mainnet-300025.block"), "-o", str(two)])
    data = bytearray(two.read_bytes())
    data[-200] ^= 0xFF  # inside the second frame's payload (the index and trailer are the last 24+104 bytes)
    broken = tmp_path / "broken.pfs"
    broken.write_bytes(bytes(data))
    d = tmp_path / "d"
    res = runner.invoke(main, ["bitcoin", "decompress", str(broken), "-o", str(d), "--no-progress"])
    assert res.exit_code == 2 and "frame 1" in res.output
    assert not d.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # An existing output file is not replaced without --force, and is with it.
    one = tmp_path / "one.block"
    one.write_bytes(b"x")
    res = runner.invoke(main, ["bitcoin", "decompress", str(two), "-o", str(one), "--block", "0"])
    assert res.exit_code == 2 and "--force" in res.output and one.read_bytes() == b"x"
    res = runner.invoke(main, ["bitcoin", "decompress", str(two), "-o", str(one), "--block", "0", "--force"])
    assert res.exit_code == 0 and one.read_bytes() == real_blocks["mainnet-757739"]


def test_error_sentences(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["bitcoin", "decompress", str(tmp_path / "nothere.pfs"), "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and f"error: {tmp_path / 'nothere.pfs'}: no such file" in res.output
    assert "Errno" not in res.output and "Traceback" not in res.output
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    res = runner.invoke(main, ["bitcoin", "compress", str(junk), "-o", str(tmp_path / "j.pfs"), "--no-progress"])
    assert res.exit_code == 0
    assert "warning: junk.bin is not a block the codec can model; stored opaque" in res.output
    res = runner.invoke(main, ["bitcoin", "compress", str(junk), "-o", str(tmp_path / "no" / "dir" / "j.pfs")])
    assert res.exit_code == 2 and "does not exist" in res.output
