"""Parse a block and compute all its txids: ours vs python-bitcoinlib's CBlock.deserialize + GetTxid()."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import median_time
from packetfs.bitcoin.primitives import Block

BLOCKS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "blocks"


def corpus() -> list[tuple[str, bytes]]:
    files = sorted(BLOCKS.glob("*.block"))
    if not files:
        raise SystemExit(f"bench.parse: no blocks under {BLOCKS} (needs ../shared/data/blocks)")
    return [(f.stem, f.read_bytes()) for f in files]


def ours(raw: bytes) -> list[bytes]:
    return Block.from_bytes(raw).txids()


def bitcoinlib(raw: bytes) -> list[bytes]:
    from bitcoin.core import CBlock

    return [tx.GetTxid() for tx in CBlock.deserialize(raw).vtx]


def main() -> None:
    table = Table(title="Parse block + all txids (median of repeats, same run)")
    for col in ("block", "MB", "ours MB/s", "bitcoinlib MB/s", "ratio"):
        table.add_column(col, justify="right")
    total_raw = 0
    total_ours = total_theirs = 0.0
    for name, raw in corpus():
        assert ours(raw) == bitcoinlib(raw), f"txids disagree on {name}"
        t_ours = median_time(lambda raw=raw: ours(raw), repeat=7)
        t_theirs = median_time(lambda raw=raw: bitcoinlib(raw), repeat=3)
        total_raw += len(raw)
        total_ours += t_ours
        total_theirs += t_theirs
        mb = len(raw) / 1e6
        table.add_row(name, f"{mb:.2f}", f"{mb / t_ours:.1f}", f"{mb / t_theirs:.2f}", f"{t_theirs / t_ours:.1f}x")
    mb = total_raw / 1e6
    table.add_row(
        "total", f"{mb:.2f}", f"{mb / total_ours:.1f}", f"{mb / total_theirs:.2f}", f"{total_theirs / total_ours:.1f}x"
    )
    Console(width=max(100, Console().width)).print(table)


if __name__ == "__main__":
    main()
