"""`make run`'s compute part: a short `packetfs compute` and `packetfs meter` (a few seconds)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from .cli import compute_cmd, meter_cmd


def demo(out_dir: Path) -> None:
    """ADD and MATMUL split across 2 nodes (local worker processes over loopback UDP), each checked against
    numpy, then a quick meter run beside the pitch's claims; results and a plot under ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    console = Console()
    runner = CliRunner()
    runs = [
        (compute_cmd, ["--operation", "ADD", "--size", "200000", "--nodes", "2", "--backend", "local", "-o", str(out_dir / "add.npy")]),
        (compute_cmd, ["--operation", "MATMUL", "--size", "48", "--nodes", "2", "--backend", "local", "-o", str(out_dir / "matmul.npy")]),
        (compute_cmd, ["--operation", "HASH", "--size", "2000", "--nodes", "2"]),
        (meter_cmd, ["--quick", "--batch-sizes", "1,1024", "--plot", str(out_dir / "meter.png")]),
    ]  # fmt: skip
    for cmd, args in runs:
        console.rule(f"[bold]packetfs {cmd.name} {' '.join(args)}")
        result = runner.invoke(cmd, args, catch_exceptions=False)
        console.print(result.output, end="")
        if result.exit_code:
            raise SystemExit(f"packetfs {cmd.name} failed with exit code {result.exit_code}")
