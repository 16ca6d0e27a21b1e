"""The bench report's isolated-mode floor line: computed from what the encoder did, not written in."""

from __future__ import annotations

from packetfs.bitcoin.codec import CodecOptions, encode_block_with_stats
from packetfs.bitcoin.codec.bench import render, run_bench
from packetfs.bitcoin.codec.streams import METHOD_RAW


def test_floor_numbers_match_the_encoder(real_blocks):
    name = "mainnet-757739"
    raw = real_blocks[name]
    report = run_bench([(name, raw)], repeat=1, anchors=False, ablation=False)
    f = report["isolated_floor"]
    _, st = encode_block_with_stats(raw, options=CodecOptions(verify=False))
    stored_raw = {k: n for k, n in st.stream_raw.items() if st.stream_method[k] == METHOD_RAW and n}
    assert f["incompressible_by_stream"] == stored_raw
    assert f["incompressible_bytes"] == sum(stored_raw.values()) == st.incompressible_bytes
    assert f["incompressible_bytes"] + f["rest_bytes"] == report["total"]["ours"]
    # This block's P2WPKH spends mostly spend outputs of earlier blocks: their amounts are unknown here.
    assert f["unrecoverable_no_amount"] == st.unrecoverable_no_amount > 0
    text = render(report)
    assert f"{f['incompressible_bytes']:,} bytes ({f['incompressible_ratio']:.3f} of raw)" in text
    assert f"{f['unrecoverable_no_amount']:,} segwit v0 keys could not be recovered" in text
