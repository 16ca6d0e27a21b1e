"""`make run`: the main job on sample data.

Uses ../shared/data/blocks (ten real mainnet blocks) when it sits next to the repository, and
otherwise the small real block bundled with the package (mainnet 757739 with its undo data).
"""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from .cli import main as cli_main

BUNDLED = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "blocks"


def sample_input() -> tuple[Path, str]:
    if SHARED.is_dir() and any(SHARED.glob("*.block")):
        return SHARED, f"the real mainnet blocks in {SHARED} (found next to the repository)"
    return BUNDLED, f"the bundled sample {BUNDLED} (mainnet block 757739 with undo data; ../shared not found)"


def _run(console: Console, args: list[str]) -> None:
    console.rule(f"[bold]packetfs {' '.join(args)}")
    result = CliRunner().invoke(cli_main, args, catch_exceptions=False)
    print(result.output, end="")
    if result.exit_code != 0:
        sys.exit(result.exit_code)


def main() -> None:
    console = Console()
    path, what = sample_input()
    console.print(f"[bold]PacketFS demo[/bold] on {what}")
    _run(console, ["bitcoin", "patterns", str(path)])


if __name__ == "__main__":
    main()
