"""The codec benchmark: our ratio and speed against general-purpose compressors, measured in one run.

Used by ``packetfs bitcoin codec-bench`` and ``bench/codec.py``. Every block is encoded on its own
(isolated mode). Our speeds are single-process (one core), medians of ``repeat`` runs: encoding both
without and with the self-check decode (the default options, what a node storing blocks pays); the anchors are
only compressed once each (their sizes are deterministic, and their speed is not what the table compares).
The technique ablation re-encodes once per technique, so it may be run on a subset of the blocks.
"""

from __future__ import annotations

import bz2
import lzma
import os
import statistics
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace

import brotli
import zstandard
from coincurve import PrivateKey

from .model import ALL_TECHNIQUES, METHOD_RAW, CodecOptions, _Recoverer, decode_block, encode_block_with_stats

ANCHORS: dict[str, Callable[[bytes], bytes]] = {
    "zlib-9": lambda b: zlib.compress(b, 9),
    "bz2-9": lambda b: bz2.compress(b, 9),
    "xz-9e": lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME),
    "zstd-19": lambda b: zstandard.ZstdCompressor(level=19).compress(b),
    "zstd-22": lambda b: zstandard.ZstdCompressor(level=22).compress(b),
    "brotli-11": lambda b: brotli.compress(b, quality=11),
}


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time over ``repeat`` runs, and the first run's result."""
    times = []
    first = None
    for k in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if k == 0:
            first = out
    return statistics.median(times), first


def recovery_cost_us(n: int = 2000, repeat: int = 3) -> float:
    """Microseconds per public-key recovery, called the way the decoder calls it (libsecp256k1 through
    coincurve's cffi binding, buffers reused)."""
    key = PrivateKey(os.urandom(32))
    msgs = [os.urandom(32) for _ in range(n)]
    sigs = [key.sign_recoverable(m, hasher=None) for m in msgs]
    rec = _Recoverer()

    def run() -> None:
        for s, m in zip(sigs, msgs, strict=True):
            rec(s[:64], s[64], m, True)

    return _timed(run, repeat)[0] / n * 1e6


def _mbs(raw: int, t: float) -> float:
    return raw / t / 1e6 if t else 0.0


def _floor(raw_total: int, ours: int, raw_streams: dict[str, int], no_amount: int) -> dict:
    """What isolated mode cannot shrink: the bytes of streams stored raw because no compressor made them
    smaller (signatures, hashes, keys), and the segwit v0 key spends whose key had to be stored because
    the spent amount is in neither the block nor hints (each such key: 32 bytes of x in ``key``)."""
    incompressible = sum(raw_streams.values())
    return {
        "incompressible_bytes": incompressible,
        "incompressible_by_stream": dict(sorted(raw_streams.items(), key=lambda kv: -kv[1])),
        "incompressible_ratio": incompressible / raw_total if raw_total else 0.0,
        "rest_bytes": ours - incompressible,  # everything else the encoding holds (compressed streams, tables)
        "unrecoverable_no_amount": no_amount,
        "unrecoverable_key_bytes": 32 * no_amount,
    }


def run_bench(
    blocks: Sequence[tuple[str, bytes]],
    repeat: int = 3,
    anchors: bool = True,
    ablation: bool = True,
    progress: Callable[[str], None] | None = None,
    ablation_blocks: Sequence[str] | None = None,
) -> dict:
    """Measure everything the README table shows; returns a JSON-able dict.

    ``ablation_blocks`` names the blocks the per-technique ablation runs on (default: all)."""
    say = progress or (lambda s: None)
    rows = []
    fast = CodecOptions(verify=False)
    norec = CodecOptions(verify=False, recovery=False)
    checked = CodecOptions()  # the defaults: the encoder decodes its own output before returning it
    tot = {"raw": 0, "ours": 0, "ours_no_recovery": 0, "recovered_keys": 0, "keyref_inputs": 0,
           "unrecoverable_no_amount": 0, "t_enc": 0.0, "t_enc_nr": 0.0, "t_enc_checked": 0.0, "t_dec": 0.0,
           "t_dec_nr": 0.0}  # fmt: skip
    raw_streams: dict[str, int] = {}  # per stream: decoded bytes of streams stored raw (incompressible)
    for name, raw in blocks:
        n = len(raw)
        say(f"{name}: encode")
        t_enc, (data, st) = _timed(lambda raw=raw: encode_block_with_stats(raw, options=fast), repeat)
        t_enc_nr, (data_nr, _) = _timed(lambda raw=raw: encode_block_with_stats(raw, options=norec), repeat)
        t_enc_ck, (data_ck, _) = _timed(lambda raw=raw: encode_block_with_stats(raw, options=checked), repeat)
        if data_ck != data:  # the check passed (else the block would have been stored opaquely)
            raise AssertionError(f"{name}: the self-checked encoding differs from the unchecked one")
        say(f"{name}: decode")
        t_dec, back = _timed(lambda d=data: decode_block(d), repeat)
        t_dec_nr, back_nr = _timed(lambda d=data_nr: decode_block(d), repeat)
        if back != raw or back_nr != raw:  # the bench refuses to report a codec that is not exact
            raise AssertionError(f"{name}: round trip failed")
        row = {
            "block": name,
            "raw": n,
            "ours": len(data),
            "ratio": len(data) / n,
            "ours_no_recovery": len(data_nr),
            "recovered_keys": st.recovered_keys,
            "keyref_inputs": st.keyref_inputs,
            "incompressible_bytes": st.incompressible_bytes,
            "unrecoverable_no_amount": st.unrecoverable_no_amount,
            "opaque": st.opaque,
            "encode_mb_s": _mbs(n, t_enc),
            "encode_no_recovery_mb_s": _mbs(n, t_enc_nr),
            "encode_checked_mb_s": _mbs(n, t_enc_ck),
            "decode_mb_s": _mbs(n, t_dec),
            "decode_no_recovery_mb_s": _mbs(n, t_dec_nr),
        }
        for k, v in (("raw", n), ("ours", len(data)), ("ours_no_recovery", len(data_nr)),
                     ("recovered_keys", st.recovered_keys), ("keyref_inputs", st.keyref_inputs),
                     ("unrecoverable_no_amount", st.unrecoverable_no_amount), ("t_enc", t_enc), ("t_enc_nr", t_enc_nr),
                     ("t_enc_checked", t_enc_ck),
                     ("t_dec", t_dec), ("t_dec_nr", t_dec_nr)):  # fmt: skip
            tot[k] += v
        for sname, method in (st.stream_method or {}).items():
            if method == METHOD_RAW and st.stream_raw[sname]:
                raw_streams[sname] = raw_streams.get(sname, 0) + st.stream_raw[sname]
        if anchors:
            for aname, fn in ANCHORS.items():
                say(f"{name}: {aname}")
                row[aname] = len(fn(raw)) / n
        rows.append(row)
    raw_total = tot["raw"]
    say("recovery cost")
    us = recovery_cost_us(repeat=repeat)
    keys_per_mb = tot["recovered_keys"] / (raw_total / 1e6) if raw_total else 0.0
    t_rec = tot["recovered_keys"] * us / 1e6
    report: dict = {
        "blocks": rows,
        "total": {
            "raw": raw_total,
            "ours": tot["ours"],
            "ratio": tot["ours"] / raw_total if raw_total else 0.0,
            "ours_no_recovery": tot["ours_no_recovery"],
            "recovered_keys": tot["recovered_keys"],
            "keyref_inputs": tot["keyref_inputs"],
            "encode_mb_s": _mbs(raw_total, tot["t_enc"]),
            "encode_no_recovery_mb_s": _mbs(raw_total, tot["t_enc_nr"]),
            "encode_checked_mb_s": _mbs(raw_total, tot["t_enc_checked"]),
            "decode_mb_s": _mbs(raw_total, tot["t_dec"]),
            "decode_no_recovery_mb_s": _mbs(raw_total, tot["t_dec_nr"]),
        },
        "decode_breakdown": {
            "recovered_keys_per_mb": keys_per_mb,
            "us_per_recovery": us,
            "decode_s": tot["t_dec"],
            "recovery_s": t_rec,
            "rest_s": tot["t_dec"] - t_rec,
            "ceiling_mb_s_recovery_only": 1e6 / (keys_per_mb * us) if keys_per_mb and us else None,
        },
        "isolated_floor": _floor(raw_total, tot["ours"], raw_streams, tot["unrecoverable_no_amount"]),
        "speed_note": f"single process (one core), medians of {repeat} runs per block; enc MB/s without the "
        "self-check decode, enc MB/s checked with it (the default options); recovery time = recovered keys x the "
        "measured cost of one coincurve recovery",
    }
    if anchors:
        for aname in ANCHORS:
            report["total"][aname] = sum(r[aname] * r["raw"] for r in rows) / raw_total
        report["total"]["beats_brotli_11_on_every_block"] = all(r["ratio"] < r["brotli-11"] for r in rows)
    if ablation:
        subset = [(nm, raw) for nm, raw in blocks if ablation_blocks is None or nm in ablation_blocks]
        base = sum(r["ours"] for r in rows if any(r["block"] == nm for nm, _ in subset))
        saved = {}
        for tech in ALL_TECHNIQUES:
            say(f"ablation: without {tech}")
            opts = replace(fast, **{tech: False})
            size = sum(encode_block_with_stats(raw, options=opts)[1].encoded_size for _, raw in subset)
            saved[tech] = size - base
        report["ablation"] = {
            "blocks": [nm for nm, _ in subset],
            "raw": sum(len(raw) for _, raw in subset),
            "ours": base,
            "bytes_saved_by_technique": saved,
        }
    return report


def render(report: dict) -> str:
    """Markdown: a per-block and total table (sizes, ratios, speeds), the decode breakdown, the ablation."""
    t = report["total"]
    anchors = [a for a in ANCHORS if a in t]
    head = ["block", "raw bytes", "ours bytes", "ours", *anchors,
            "enc MB/s", "enc MB/s checked", "dec MB/s", "enc MB/s no rec.", "dec MB/s no rec."]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def row(name: str, r: dict) -> str:
        cells = [name, f"{r['raw']:,}", f"{r['ours']:,}", f"**{r['ratio']:.3f}**"] + [f"{r[a]:.3f}" for a in anchors]
        cells += [f"{r[k]:.2f}" for k in ("encode_mb_s", "encode_checked_mb_s", "decode_mb_s",
                                           "encode_no_recovery_mb_s", "decode_no_recovery_mb_s")]  # fmt: skip
        return "| " + " | ".join(cells) + " |"

    for r in report["blocks"]:
        lines.append(row(r["block"], r))
    lines.append(row("**total**", t))
    lines.append("")
    lines.append(f"Speeds: {report['speed_note']}.")
    lines.append(
        f"Without pubkey recovery: {t['ours_no_recovery']:,} bytes ({t['ours_no_recovery'] / t['raw']:.3f}); "
        f"recovery saves {t['ours_no_recovery'] - t['ours']:,} bytes on {t['recovered_keys']:,} keys."
    )
    if "beats_brotli_11_on_every_block" in t:
        lines.append(f"Smaller than brotli-11 on every block: {'yes' if t['beats_brotli_11_on_every_block'] else 'no'}.")
    b = report["decode_breakdown"]
    ceiling = b["ceiling_mb_s_recovery_only"]
    lines.append(
        f"Decode breakdown: {b['recovered_keys_per_mb']:.0f} recovered keys per MB x {b['us_per_recovery']:.1f} us "
        f"per recovery = {b['recovery_s']:.2f} s of {b['decode_s']:.2f} s decoding; the rest (stream parsing, "
        f"rebuilding, sighashes) {b['rest_s']:.2f} s. Recovery alone caps decode at "
        + (f"{ceiling:.1f} MB/s per core on this data." if ceiling else "n/a (no recovered keys).")
    )
    f = report.get("isolated_floor")
    if f:
        by = ", ".join(f"{k} {v:,}" for k, v in f["incompressible_by_stream"].items())
        raw_t = t["raw"]
        lines.append(
            f"Isolated-mode floor: {f['incompressible_bytes']:,} bytes ({f['incompressible_ratio']:.3f} of raw) are "
            f"streams stored raw because they do not compress ({by}); the rest of the encoding is "
            f"{f['rest_bytes']:,} bytes ({f['rest_bytes'] / raw_t:.3f} of raw). "
            f"{f['unrecoverable_no_amount']:,} segwit v0 keys could not be recovered because the spent amount is "
            f"not in the block (isolated mode, no undo hints): {f['unrecoverable_key_bytes']:,} bytes of stored keys "
            f"({f['unrecoverable_key_bytes'] / raw_t:.3f} of raw), included in the raw streams above. "
            f"Key references: {t['keyref_inputs']:,} spends reused a key already in the block."
        )
    if "ablation" in report:
        a = report["ablation"]
        lines.append("")
        lines.append(
            f"Bytes saved per technique (each turned off alone, measured on {len(a['blocks'])} of "
            f"{len(report['blocks'])} blocks: {', '.join(a['blocks'])}; {a['raw']:,} raw bytes, {a['ours']:,} ours):"
        )
        lines.append("")
        lines.append("| technique | bytes saved | % of raw |")
        lines.append("|---|---|---|")
        for tech, saved in sorted(a["bytes_saved_by_technique"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {tech} | {saved:,} | {100 * saved / a['raw']:.2f}% |")
    return "\n".join(lines)
