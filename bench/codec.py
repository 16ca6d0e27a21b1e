"""Codec benchmark: our ratio and speed against zlib, bz2, xz, zstd and brotli on the shared blocks.

Sized for ``make bench`` on a 2-core machine (about 2-3 minutes): medians of 3 for our encode/decode,
one compression per anchor, and the per-technique ablation on 4 blocks from different eras (each
technique costs a re-encode; ``packetfs bitcoin codec-bench`` runs it on every block)."""

from __future__ import annotations

import sys
from pathlib import Path

from packetfs.bitcoin.codec.bench import render, run_bench

BLOCKS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "blocks"
ABLATION_BLOCKS = ("mainnet-300025", "mainnet-514485", "mainnet-757739", "mainnet-866342")


def main() -> None:
    if not BLOCKS.is_dir():
        print(f"skipped: {BLOCKS} is missing (the codec bench needs ../shared/data/blocks)")
        return
    blocks = [(p.stem, p.read_bytes()) for p in sorted(BLOCKS.glob("*.block"))]
    report = run_bench(
        blocks, repeat=3, ablation_blocks=ABLATION_BLOCKS,
        progress=lambda s: print(f"  {s}", file=sys.stderr, flush=True),
    )  # fmt: skip
    print(render(report))


if __name__ == "__main__":
    main()
