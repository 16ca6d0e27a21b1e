"""`packetfs bitcoin sync-bench`: issue 13's measurement as one command (plain P2P, compressed relay,
compressed relay + SwiftSync, bcoin -> bcoin and libbitcoinkernel's import, on loopback and shaped links).

The harness is `bench/sync_relay.py` of the source checkout (benchmarks are not installed with the
package; `make bench` runs the same module): this command finds it beside `src/`, turns its options into
the harness's environment and runs it as a child process, whose exit status it returns. Shaped links
need root (network namespaces, veth, `tc tbf`); without it the harness measures loopback only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

EXIT_ERROR = 2
LINKS = ("loopback", "100mbit", "20mbit")


def checkout_root() -> Path | None:
    """The source checkout holding this package (``src/packetfs`` -> the folder above ``src``), if it has
    the benchmark harness."""
    import packetfs

    root = Path(packetfs.__file__).resolve().parents[2]
    return root if (root / "bench" / "sync_relay.py").is_file() else None


def harness_command(quick: bool, links: str | None, repeat: int | None, blocks: int | None,
                    bcoin: bool | None) -> tuple[list[str], dict[str, str]]:
    """(argv, extra environment) of the harness run these options ask for."""
    env: dict[str, str] = {}
    if links is not None:
        env["PACKETFS_BENCH_RELAY_LINKS"] = links
    if repeat is not None:
        env["PACKETFS_BENCH_REPEAT"] = str(repeat)
    if blocks is not None:
        env["PACKETFS_BENCH_RELAY_BLOCKS"] = str(blocks)
    if bcoin is not None:
        env["PACKETFS_BENCH_RELAY_BCOIN"] = "1" if bcoin else "0"
    return [sys.executable, "-m", "bench.sync_relay", *(["--quick"] if quick else [])], env


def _links(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in LINKS]
    if bad or not names:
        raise click.BadParameter(f"links are a comma-separated subset of {', '.join(LINKS)} (got {value!r})")
    return ",".join(names)


@click.command("sync-bench")
@click.option("--quick", is_flag=True, help="150 blocks, loopback and 20 Mbit/s, bcoin included, one run each.")
@click.option("--links", callback=_links, default=None,
              help="Comma-separated links: loopback, 100mbit, 20mbit (default: all three as root, else loopback).")
@click.option("--repeat", type=click.IntRange(min=1), default=None, help="Runs per mode; the table shows medians.")
@click.option("--blocks", type=click.IntRange(min=110), default=None,
              help="Length of the generated chain (default 1,000; 150 with --quick).")
@click.option("--bcoin/--no-bcoin", default=None,
              help="bcoin -> bcoin rows (default: on; ~3-4 min per link on the full chain).")
def sync_bench_command(quick: bool, links: str | None, repeat: int | None, blocks: int | None,
                       bcoin: bool | None) -> None:
    """Sync one generated chain from a PacketFS node in every mode (plain, lightning cold and warm,
    lightning + SwiftSync) beside bcoin and libbitcoinkernel; print wall time, bytes on the wire, CPU, peak
    RSS and the final utxo_digest per mode, the ratios, the goals and the pitch's claims."""
    root = checkout_root()
    if root is None:
        click.echo("error: sync-bench runs bench/sync_relay.py of the source checkout, which this installation "
                   "does not have", err=True)  # fmt: skip
        sys.exit(EXIT_ERROR)
    argv, extra = harness_command(quick, links, repeat, blocks, bcoin)
    try:
        proc = subprocess.run(argv, cwd=root, env={**os.environ, **extra})
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(proc.returncode)


COMMANDS: list[click.Command] = [sync_bench_command]
