"""The patterns report: exact counts (checked against the manifest and python-bitcoinlib), byte
classes that add up, shape-inferred input types that agree with the undo data, and the CLI."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from packetfs.bitcoin.patterns.analyze import BYTE_CLASSES, analyze_block, infer_input_type
from packetfs.bitcoin.patterns.report import build_report
from packetfs.bitcoin.primitives.script import OUTPUT_TYPES
from packetfs.cli import main


def _bitcoinlib_outputs(raw: bytes) -> int:
    from bitcoin.core import CBlock

    return sum(len(tx.vout) for tx in CBlock.deserialize(raw).vtx)


def test_cli_json_counts_are_exact(blocks_dir, manifest, real_blocks, tmp_path):
    plot = tmp_path / "chart.png"
    result = CliRunner().invoke(
        main,
        ["bitcoin", "patterns", str(blocks_dir), "--json", "--compressors", "zlib-9,zstd-19", "--plot", str(plot), "-j", "2"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["blocks"] == len(manifest)
    assert report["transactions"] == sum(m["txs"] for m in manifest)
    assert report["inputs"] == sum(m["inputs"] for m in manifest)
    assert report["bytes"] == sum(m["bytes"] for m in manifest)
    assert report["outputs"] == sum(_bitcoinlib_outputs(raw) for raw in real_blocks.values())
    assert set(report["output_types"]) == set(OUTPUT_TYPES)
    assert sum(report["output_types"].values()) == report["outputs"]
    assert set(report["byte_classes"]) == set(BYTE_CLASSES)
    assert sum(report["byte_classes"].values()) == report["bytes"]
    assert set(report["compressors"]) == {"zlib-9", "zstd-19"}
    assert all(0 < v < report["bytes"] for v in report["compressors"].values())
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"


def test_output_types_against_python_bitcoinlib(real_blocks):
    from bitcoin.core import CBlock
    from bitcoin.core.script import CScript

    raw = real_blocks["mainnet-866342"]
    report = build_report(analyze_block(raw))
    spks = [CScript(o.scriptPubKey) for tx in CBlock.deserialize(raw).vtx for o in tx.vout]
    assert report["output_types"]["p2sh"] == sum(s.is_p2sh() for s in spks)
    assert report["output_types"]["p2wpkh"] == sum(s.is_witness_v0_keyhash() for s in spks)
    assert report["output_types"]["p2wsh"] == sum(s.is_witness_v0_scripthash() for s in spks)
    assert report["output_types"]["op_return"] == sum(len(s) > 0 and s[0] == 0x6A and CScript(s[1:]).is_push_only() for s in spks)
    # shared/README.md: 866342 has 2,757 P2TR outputs and 3,971 OP_RETURN outputs.
    assert report["output_types"]["p2tr"] == 2757
    assert report["output_types"]["op_return"] == 3971


def test_shape_inference_agrees_with_undo(real_blocks, real_undo):
    """Two independent routes to an input's type: its witness/scriptSig shape, and the spent script."""
    from packetfs.bitcoin.storage.undo import decode_block_undo

    raw = real_blocks["mainnet-866342"]
    stats = analyze_block(raw, decode_block_undo(real_undo["mainnet-866342"]))
    shape, spent = stats.input_types, stats.spent_output_types
    assert spent["p2tr"] == shape["p2tr_keypath"] + shape["p2tr_scriptpath"]
    assert spent["p2wpkh"] == shape["p2wpkh"]
    assert spent["p2wsh"] == shape["p2wsh"]
    assert spent["p2pkh"] == shape["p2pkh"]
    assert spent["p2sh"] == shape["p2sh_p2wpkh"] + shape["p2sh_p2wsh"] + shape["p2sh_multisig"] + shape["p2sh_other"]
    assert sum(spent.values()) == stats.inputs


def test_byte_classes_add_up_on_every_block(real_blocks):
    for name, raw in real_blocks.items():
        stats = analyze_block(raw)
        assert sum(stats.byte_classes.values()) == len(raw), name
        assert all(v >= 0 for v in stats.byte_classes.values()), name


def test_input_type_shapes():
    sig = bytes.fromhex("3006020101020101" + "01")  # minimal DER (r=1, s=1) + SIGHASH_ALL
    key = b"\x02" + bytes(32)
    assert infer_input_type(bytes((len(sig),)) + sig + bytes((33,)) + key, ()) == "p2pkh"
    assert infer_input_type(b"", (sig, key)) == "p2wpkh"
    assert infer_input_type(b"\x16\x00\x14" + bytes(20), (sig, key)) == "p2sh_p2wpkh"
    assert infer_input_type(b"", (bytes(64),)) == "p2tr_keypath"
    assert infer_input_type(b"", (bytes(64), b"\x50annex")) == "p2tr_keypath"
    assert infer_input_type(b"", (bytes(64), b"\x51", b"\xc0" + bytes(32))) == "p2tr_scriptpath"
    assert infer_input_type(b"", (b"", sig, b"\x52\xae")) == "p2wsh"
    assert infer_input_type(b"\x6a", ()) == "nonstandard"


def test_cli_errors_are_clear(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["bitcoin", "patterns", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    garbage = tmp_path / "garbage.block"
    garbage.write_bytes(b"\x01" * 100)
    bad = runner.invoke(main, ["bitcoin", "patterns", str(garbage), "--compressors", "none"])
    assert bad.exit_code == 2 and "garbage.block" in bad.output
    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.invoke(main, ["bitcoin", "patterns", str(empty)]).exit_code == 2
    unknown = runner.invoke(main, ["bitcoin", "patterns", str(garbage), "--compressors", "lz4"])
    assert unknown.exit_code == 2 and "unknown compressor" in unknown.output


def test_tables_render(blocks_dir, tmp_path):
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(blocks_dir / "mainnet-757739.block", one)
    shutil.copy(blocks_dir / "mainnet-757739.undo", one)
    result = CliRunner().invoke(main, ["bitcoin", "patterns", str(one), "--compressors", "zlib-9"])
    assert result.exit_code == 0, result.output
    for heading in ("Counts", "Where the bytes go", "Spent output types", "Compressed size"):
        assert heading in result.output


def test_core_blocks_dir_with_xor_and_undo_matches_block_files(blocks_dir, manifest, real_blocks, real_undo, tmp_path):
    """The same blocks as a Core-format directory (obfuscated, split over several blk/rev files,
    undo data matched by checksum) give the same report as the plain block files."""
    from packetfs.bitcoin.storage.blockfiles import write_blocks_dir

    core = tmp_path / "blocks"
    core.mkdir()
    entries = [(real_blocks[m["name"]], real_undo.get(m["name"])) for m in manifest]
    write_blocks_dir(entries, core, "mainnet", max_file_size=3_000_000, xor_key=bytes.fromhex("0123456789abcdef"))
    assert len(list(core.glob("blk*.dat"))) > 2 and (core / "xor.dat").exists()
    args = ["--json", "--compressors", "none", "-j", "2"]
    from_dir = json.loads(CliRunner().invoke(main, ["bitcoin", "patterns", str(core), *args]).output)
    from_files = json.loads(CliRunner().invoke(main, ["bitcoin", "patterns", str(blocks_dir), *args]).output)
    for key in ("blocks", "transactions", "inputs", "outputs", "bytes", "output_types", "byte_classes",
                "input_types", "spent_output_types"):  # fmt: skip
        assert from_dir[key] == from_files[key], key
    assert sum(from_dir["spent_output_types"].values()) == sum(m["inputs"] for m in manifest if m["undo"])


def test_unwritable_plot_fails_before_the_analysis(blocks_dir, tmp_path, monkeypatch):
    import packetfs.bitcoin.patterns.cli as patterns_cli

    def no_analysis(*a, **k):
        raise AssertionError("the analysis ran before the plot path was checked")

    monkeypatch.setattr(patterns_cli, "run", no_analysis)
    a_file = tmp_path / "f"
    a_file.write_bytes(b"")
    for plot in (tmp_path / "missing" / "chart.png", a_file / "chart.png"):
        res = CliRunner().invoke(main, ["bitcoin", "patterns", str(blocks_dir), "--plot", str(plot)])
        assert res.exit_code == 2, res.output
        assert f"error: cannot write the plot {plot}: directory {plot.parent} does not exist" in res.output
        assert "Traceback" not in res.output
