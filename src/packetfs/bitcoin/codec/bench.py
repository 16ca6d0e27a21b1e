"""The codec benchmark: our ratio and speed against general-purpose compressors, measured in one run.

Used by ``packetfs bitcoin codec-bench`` and ``bench/codec.py``. Every block is encoded on its own
(isolated mode). Speeds are single-process (one core), medians of several runs.
"""

from __future__ import annotations

import bz2
import lzma
import statistics
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace

import brotli
import zstandard

from .model import ALL_TECHNIQUES, CodecOptions, decode_block, encode_block, encode_block_with_stats

ANCHORS: dict[str, Callable[[bytes], bytes]] = {
    "zlib-9": lambda b: zlib.compress(b, 9),
    "bz2-9": lambda b: bz2.compress(b, 9),
    "xz-9e": lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME),
    "zstd-19": lambda b: zstandard.ZstdCompressor(level=19).compress(b),
    "zstd-22": lambda b: zstandard.ZstdCompressor(level=22).compress(b),
    "brotli-11": lambda b: brotli.compress(b, quality=11),
}


def _median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_bench(
    blocks: Sequence[tuple[str, bytes]],
    repeat: int = 3,
    anchors: bool = True,
    ablation: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Measure everything the README table shows; returns a JSON-able dict."""
    say = progress or (lambda s: None)
    rows = []
    total_raw = 0
    enc_all: list[bytes] = []
    enc_norec: list[bytes] = []
    t_enc = t_enc_nr = t_dec = t_dec_nr = 0.0
    fast = CodecOptions(verify=False)
    norec = CodecOptions(verify=False, recovery=False)
    for name, raw in blocks:
        say(f"{name}: encode")
        total_raw += len(raw)
        data, st = encode_block_with_stats(raw)
        if decode_block(data) != raw:  # the bench refuses to report a codec that is not exact
            raise AssertionError(f"{name}: round trip failed")
        t_enc += _median_time(lambda raw=raw: encode_block(raw, options=fast), repeat)
        data_nr = encode_block(raw, options=norec)
        t_enc_nr += _median_time(lambda raw=raw: encode_block(raw, options=norec), repeat)
        say(f"{name}: decode")
        t_dec += _median_time(lambda data=data: decode_block(data), repeat)
        t_dec_nr += _median_time(lambda d=data_nr: decode_block(d), repeat)
        enc_all.append(data)
        enc_norec.append(data_nr)
        row = {
            "block": name,
            "raw": len(raw),
            "ours": len(data),
            "ratio": len(data) / len(raw),
            "ours_no_recovery": len(data_nr),
            "recovered_keys": st.recovered_keys,
            "opaque": st.opaque,
        }
        if anchors:
            for aname, fn in ANCHORS.items():
                say(f"{name}: {aname}")
                row[aname] = len(fn(raw)) / len(raw)
        rows.append(row)
    total_ours = sum(len(d) for d in enc_all)
    report: dict = {
        "blocks": rows,
        "total": {
            "raw": total_raw,
            "ours": total_ours,
            "ratio": total_ours / total_raw if total_raw else 0.0,
            "ours_no_recovery": sum(len(d) for d in enc_norec),
        },
        "speed_mb_s": {
            "encode": total_raw / t_enc / 1e6 if t_enc else 0.0,
            "encode_no_recovery": total_raw / t_enc_nr / 1e6 if t_enc_nr else 0.0,
            "decode": total_raw / t_dec / 1e6 if t_dec else 0.0,
            "decode_no_recovery": total_raw / t_dec_nr / 1e6 if t_dec_nr else 0.0,
            "note": f"single process (one core), medians of {repeat} runs, encode without the self-check decode",
        },
    }
    if anchors:
        for aname in ANCHORS:
            report["total"][aname] = sum(r[aname] * r["raw"] for r in rows) / total_raw
        report["total"]["beats_brotli_11_on_every_block"] = all(r["ratio"] < r["brotli-11"] for r in rows)
    if ablation:
        saved = {}
        for tech in ALL_TECHNIQUES:
            say(f"ablation: without {tech}")
            opts = replace(fast, **{tech: False})
            size = sum(len(encode_block(raw, options=opts)) for _, raw in blocks)
            saved[tech] = size - total_ours
        report["bytes_saved_by_technique"] = saved
    return report


def render(report: dict) -> str:
    """A markdown table (per block and total) plus speeds and technique savings."""
    anchors = [a for a in ANCHORS if a in report["total"]]
    head = ["block", "raw bytes", "ours bytes", "ours", *anchors]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def row(name: str, r: dict) -> str:
        cells = [name, f"{r['raw']:,}", f"{r['ours']:,}", f"**{r['ratio']:.3f}**"] + [f"{r[a]:.3f}" for a in anchors]
        return "| " + " | ".join(cells) + " |"

    for r in report["blocks"]:
        lines.append(row(r["block"], r))
    lines.append(row("**total**", report["total"]))
    sp = report["speed_mb_s"]
    lines.append("")
    lines.append(
        f"Speed ({sp['note']}): encode {sp['encode']:.2f} MB/s, decode {sp['decode']:.2f} MB/s with pubkey "
        f"recovery; encode {sp['encode_no_recovery']:.2f} MB/s, decode {sp['decode_no_recovery']:.2f} MB/s "
        "without."
    )
    t = report["total"]
    lines.append(
        f"Without pubkey recovery: {t['ours_no_recovery']:,} bytes ({t['ours_no_recovery'] / t['raw']:.3f})."
    )
    if "beats_brotli_11_on_every_block" in t:
        lines.append(f"Smaller than brotli-11 on every block: {'yes' if t['beats_brotli_11_on_every_block'] else 'no'}.")
    if "bytes_saved_by_technique" in report:
        lines.append("")
        lines.append("| technique (turned off alone) | bytes saved | % of raw |")
        lines.append("|---|---|---|")
        for tech, b in sorted(report["bytes_saved_by_technique"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {tech} | {b:,} | {100 * b / t['raw']:.2f}% |")
    return "\n".join(lines)
