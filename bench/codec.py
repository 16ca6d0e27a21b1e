"""Codec benchmark: our ratio and speed against zlib, bz2, xz, zstd and brotli on the shared blocks."""

from __future__ import annotations

import sys
from pathlib import Path

from packetfs.bitcoin.codec.bench import render, run_bench

BLOCKS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "blocks"


def main() -> None:
    if not BLOCKS.is_dir():
        print(f"skipped: {BLOCKS} is missing (the codec bench needs ../shared/data/blocks)")
        return
    blocks = [(p.stem, p.read_bytes()) for p in sorted(BLOCKS.glob("*.block"))]
    report = run_bench(blocks, repeat=3, progress=lambda s: print(f"  {s}", file=sys.stderr, flush=True))
    print(render(report))


if __name__ == "__main__":
    main()
