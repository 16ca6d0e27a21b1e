"""Turn merged PatternStats into the report: header predictability, repetition, compressor sizes
and an estimated lower bound for a structure-aware codec (with its assumptions spelled out)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from ..primitives.script import OUTPUT_TYPES
from .analyze import BYTE_CLASSES, INPUT_TYPES, PatternStats

COMPRESSORS = ("zlib-9", "bz2-9", "xz-9e", "zstd-19", "brotli-11")


def compress_size(name: str, data: bytes) -> int:
    """Compressed size of ``data`` under one of COMPRESSORS at its strongest setting."""
    if name == "zlib-9":
        import zlib

        return len(zlib.compress(data, 9))
    if name == "bz2-9":
        import bz2

        return len(bz2.compress(data, 9))
    if name == "xz-9e":
        import lzma

        return len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    if name == "zstd-19":
        import zstandard

        return len(zstandard.ZstdCompressor(level=19).compress(data))
    if name == "brotli-11":
        import brotli

        return len(brotli.compress(data, quality=11))
    raise ValueError(f"unknown compressor {name!r}")


def entropy_bits(counter: Counter) -> float:
    """Order-0 empirical entropy of the sample, in bits in total (not per symbol)."""
    total = sum(counter.values())
    if not total:
        return 0.0
    return -sum(c * math.log2(c / total) for c in counter.values() if c)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def header_section(stats: PatternStats) -> dict[str, Any]:
    headers = sorted(stats.headers)  # by time
    by_hash = {h[3]: h for h in headers}
    linked = sum(1 for h in headers if h[2] in by_hash)
    deltas = [b[0] - a[0] for a, b in zip(headers, headers[1:], strict=False)]
    bits_changes = sum(1 for a, b in zip(headers, headers[1:], strict=False) if a[1] != b[1])
    versions = stats.header_versions
    bip9 = sum(c for v, c in versions.items() if (int(v, 16) & 0xE0000000) == 0x20000000)
    # ASICBoost-style version rolling uses bits 13..28; a plain BIP9 header leaves them mostly clear.
    rolled = sum(c for v, c in versions.items() if int(v, 16) & 0x1FFFE000)
    return {
        "versions": dict(versions.most_common()),
        "version_entropy_bits_per_header": round(entropy_bits(versions) / max(1, stats.blocks), 3),
        "bip9_share": _share(bip9, stats.blocks),
        "version_rolling_share": _share(rolled, stats.blocks),
        "prev_hash_predictable": linked,
        "prev_hash_predictable_note": "headers whose previous block is also in the input (its hash is then known)",
        "timestamp_deltas": deltas,
        "distinct_bits": len({h[1] for h in headers}),
        "bits_changes_between_neighbours": bits_changes,
    }


def repetition_section(stats: PatternStats) -> dict[str, Any]:
    def reuse(counter: Counter) -> dict[str, Any]:
        uses = sum(counter.values())
        distinct = len(counter)
        return {"uses": uses, "distinct": distinct, "repeat_uses": uses - distinct, "repeat_share": _share(uses - distinct, uses)}

    return {
        "output_scripts": reuse(stats.output_scripts),
        "public_keys": reuse(stats.public_keys),
        "sighash_types": dict(stats.sighash_types.most_common()),
        "signature_lengths": {str(k): v for k, v in sorted(stats.signature_lengths.items())},
        "sequences": dict(stats.sequences.most_common(8)),
        "tx_versions": {str(k): v for k, v in stats.tx_versions.most_common()},
        "zero_locktime_share": _share(stats.locktimes_zero, stats.transactions),
        "prevouts_in_same_block": stats.prevout_in_block,
    }


def lower_bound_section(stats: PatternStats) -> dict[str, Any]:
    """Estimate the bytes a structure-aware codec still has to spend, class by class."""
    b = stats.byte_classes
    est: dict[str, float] = {}
    assumptions: dict[str, str] = {}
    est["header"] = stats.blocks * (32 + 4 + 2 + entropy_bits(stats.header_versions) / 8 / max(1, stats.blocks))
    est["header"] += (stats.blocks - header_section(stats)["prev_hash_predictable"]) * 32
    assumptions["header"] = "merkle root 32 B and nonce 4 B are random; time ~2 B as a delta; bits predictable; prev hash free when the previous block is in the stream"
    est["ecdsa_signatures"] = stats.ecdsa_signatures * 64 + entropy_bits(stats.sighash_types) / 8 * (
        stats.ecdsa_signatures / max(1, stats.ecdsa_signatures + stats.schnorr_signatures)
    )
    assumptions["ecdsa_signatures"] = "r and s are 32 random bytes each; DER framing is implied; sighash byte at its entropy"
    est["schnorr_signatures"] = stats.schnorr_signatures * 64
    assumptions["schnorr_signatures"] = "64 random bytes"
    key_uses = sum(stats.public_keys.values())
    distinct_keys = len(stats.public_keys)
    recovered = min(stats.recoverable_keys, key_uses)
    ref_bytes = math.log2(max(2, distinct_keys)) / 8
    est["public_keys"] = (
        recovered * 0.25 + max(0, distinct_keys - recovered) * 32.125 + max(0, key_uses - distinct_keys - recovered) * ref_bytes
    )
    # Keys in outputs (p2pk, bare multisig) are not covered by the input-side counts above.
    est["public_keys"] = min(float(b["public_keys"]), est["public_keys"] + max(0, b["public_keys"] - 33 * key_uses) * 32 / 33)
    assumptions["public_keys"] = "keys beside an ECDSA signature in p2pkh/p2wpkh spends are recovered from it (2 bits); other distinct keys cost 32 B + parity; repeats cost an index"
    script_uses = sum(stats.output_scripts.values())
    repeats = script_uses - len(stats.output_scripts)
    est["output_hashes"] = max(0.0, b["output_hashes"] * (1 - _share(repeats, script_uses))) + repeats * math.log2(
        max(2, len(stats.output_scripts))
    ) / 8
    assumptions["output_hashes"] = "hashes and witness programs are random; a repeated script costs an index"
    outside = stats.inputs - stats.prevout_in_block
    est["prevout_txids"] = outside * 32 + stats.prevout_in_block * math.log2(max(2, stats.transactions / max(1, stats.blocks))) / 8
    assumptions["prevout_txids"] = "isolated mode: a txid from outside the block is 32 random bytes; an in-block parent costs its position (chain-context mode would make every txid ~4 B)"
    est["prevout_indexes"] = entropy_bits(stats.prev_indexes) / 8
    assumptions["prevout_indexes"] = "order-0 entropy of the output indexes spent (indexes above 255 pooled)"
    est["sequences"] = entropy_bits(stats.sequences) / 8
    est["amounts"] = entropy_bits(stats.amounts) / 8
    assumptions["amounts"] = "order-0 entropy of the values seen (optimistic for small samples; a model has to be paid for)"
    est["version_locktime"] = (entropy_bits(stats.tx_versions) + stats.transactions * (1 - _share(stats.locktimes_zero, stats.transactions)) * 16) / 8
    assumptions["sequences"] = assumptions["version_locktime"] = "order-0 entropy; non-zero locktimes ~2 B as a delta to the height"
    for cls in ("op_return_data", "witness_scripts", "other"):
        est[cls] = float(stats.residual_zstd.get(cls, 0))
        assumptions[cls] = "free-form bytes, at their zstd-19 size (concatenated per block)"
    est["varints_framing"] = (
        entropy_bits(stats.input_types) + entropy_bits(stats.output_types)
    ) / 8 + stats.transactions * 1.0
    assumptions["varints_framing"] = "framing is implied by templates: the input/output type at its entropy plus ~1 B of counts per tx"
    total = sum(est.values())
    return {
        "estimated_bytes": round(total),
        "estimated_ratio": _share(round(total), stats.bytes),
        "by_class": {k: round(v) for k, v in est.items()},
        "assumptions": assumptions,
    }


def build_report(stats: PatternStats, seconds: float | None = None) -> dict[str, Any]:
    """The JSON report. The top-level keys listed in the README are stable."""
    report: dict[str, Any] = {
        "blocks": stats.blocks,
        "transactions": stats.transactions,
        "inputs": stats.inputs,
        "coinbase_inputs": stats.coinbase_inputs,
        "outputs": stats.outputs,
        "bytes": stats.bytes,
        "segwit_transactions": stats.segwit_transactions,
        "segwit_share": _share(stats.segwit_transactions, stats.transactions),
        "taproot_inputs": stats.taproot_inputs,
        "taproot_input_share": _share(stats.taproot_inputs, stats.inputs),
        "taproot_output_share": _share(stats.output_types.get("p2tr", 0), stats.outputs),
        "output_types": {t: stats.output_types.get(t, 0) for t in OUTPUT_TYPES},
        "input_types": {t: stats.input_types.get(t, 0) for t in INPUT_TYPES},
        "spent_output_types": {t: stats.spent_output_types.get(t, 0) for t in OUTPUT_TYPES}
        if stats.spent_output_types
        else None,
        "byte_classes": {c: stats.byte_classes.get(c, 0) for c in BYTE_CLASSES},
        "header": header_section(stats),
        "repetition": repetition_section(stats),
        "compressors": dict(stats.compressors) if stats.compressors else {},
        "structure_aware_lower_bound": lower_bound_section(stats),
    }
    if seconds is not None:
        report["seconds"] = round(seconds, 3)
        report["throughput_mb_s"] = round(stats.bytes / 1e6 / seconds, 2) if seconds > 0 else None
    return report
