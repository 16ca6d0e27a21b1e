"""`packetfs bitcoin patterns PATH...`: what the chain data is made of, as tables, JSON or a chart."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from ..errors import PacketFSError
from .report import COMPRESSORS, build_report
from .runner import discover, run


def _parse_compressors(value: str) -> list[str]:
    if value in ("", "none"):
        return []
    if value == "all":
        return list(COMPRESSORS)
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in COMPRESSORS]
    if unknown:
        raise click.BadParameter(f"unknown compressor(s) {', '.join(unknown)}; choose from {', '.join(COMPRESSORS)}")
    return names


@click.command("patterns")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (keys documented in the README).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Write a PNG chart of where the bytes go.")
@click.option(
    "--compressors",
    default="all",
    show_default=True,
    help=f"Comma-separated subset of {', '.join(COMPRESSORS)}, 'all' or 'none' (each block compressed on its own).",
)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Worker processes (default: every core).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
def patterns_command(
    paths: tuple[Path, ...], as_json: bool, plot: Path | None, compressors: str, jobs: int | None,
    progress: bool | None,
) -> None:
    """Analyse blocks: block files, Core blocks directories (blk/rev/xor.dat), or folders of either.

    Reports counts, output and input types, where the bytes go, header predictability, repetition,
    the size under general-purpose compressors and an estimated lower bound for a structure-aware codec.
    """
    chosen = _parse_compressors(compressors)
    err = Console(stderr=True)
    try:
        if plot is not None:
            check_plot_path(plot)  # before minutes of analysis, not after
        sources = discover(paths)
        total_bytes = sum(s.size for s in sources)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not (err.is_terminal if progress is None else progress),
        ) as bar:
            task = bar.add_task(f"analysing {len(sources)} file(s)", total=total_bytes)
            stats, seconds = run(sources, chosen, jobs, progress=lambda n: bar.advance(task, n))
    except (PacketFSError, OSError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    report = build_report(stats, seconds)
    if plot:
        try:
            write_plot(report, plot)
        except OSError as e:
            click.echo(f"error: cannot write the plot {plot}: {e.strerror or e}", err=True)
            sys.exit(2)
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        print_report(report, Console())


def print_report(r: dict[str, Any], console: Console) -> None:
    counts = Table(title="Counts", show_header=False)
    for key in ("blocks", "transactions", "inputs", "outputs", "bytes"):
        counts.add_row(key, f"{r[key]:,}")
    counts.add_row("segwit tx share", f"{r['segwit_share']:.1%}")
    counts.add_row("taproot input / output share", f"{r['taproot_input_share']:.1%} / {r['taproot_output_share']:.1%}")
    console.print(counts)

    types = Table(title="Output and input types")
    types.add_column("output type")
    types.add_column("count", justify="right")
    types.add_column("input type (from shape)")
    types.add_column("count", justify="right")
    outs = [(k, v) for k, v in r["output_types"].items()]
    ins = [(k, v) for k, v in r["input_types"].items()]
    for i in range(max(len(outs), len(ins))):
        o = outs[i] if i < len(outs) else ("", "")
        n = ins[i] if i < len(ins) else ("", "")
        types.add_row(o[0], f"{o[1]:,}" if o[1] != "" else "", n[0], f"{n[1]:,}" if n[1] != "" else "")
    console.print(types)
    if r["spent_output_types"]:
        spent = Table(title="Spent output types (exact, from undo data)")
        spent.add_column("type")
        spent.add_column("count", justify="right")
        for k, v in r["spent_output_types"].items():
            if v:
                spent.add_row(k, f"{v:,}")
        console.print(spent)

    classes = Table(title="Where the bytes go")
    classes.add_column("class")
    classes.add_column("bytes", justify="right")
    classes.add_column("share", justify="right")
    classes.add_column("est. after modelling", justify="right")
    lb = r["structure_aware_lower_bound"]["by_class"]
    for k, v in sorted(r["byte_classes"].items(), key=lambda kv: -kv[1]):
        classes.add_row(k, f"{v:,}", f"{v / max(1, r['bytes']):.1%}", f"{lb.get(k, 0):,}")
    console.print(classes)

    comp = Table(title="Compressed size (each block alone)")
    comp.add_column("compressor")
    comp.add_column("bytes", justify="right")
    comp.add_column("ratio", justify="right")
    for k, v in r["compressors"].items():
        comp.add_row(k, f"{v:,}", f"{v / max(1, r['bytes']):.3f}")
    est = r["structure_aware_lower_bound"]
    comp.add_row("structure-aware (estimate)", f"{est['estimated_bytes']:,}", f"{est['estimated_ratio']:.3f}")
    console.print(comp)

    h = r["header"]
    rep = r["repetition"]
    misc = Table(title="Header predictability and repetition", show_header=False)
    misc.add_row("header versions", ", ".join(f"{k}×{v}" for k, v in list(h["versions"].items())[:6]))
    misc.add_row("BIP9 / version-rolling share", f"{h['bip9_share']:.0%} / {h['version_rolling_share']:.0%}")
    misc.add_row("distinct bits / changes", f"{h['distinct_bits']} / {h['bits_changes_between_neighbours']}")
    misc.add_row("prev hash known from stream", str(h["prev_hash_predictable"]))
    for key in ("output_scripts", "public_keys"):
        v = rep[key]
        misc.add_row(f"reused {key.replace('_', ' ')}", f"{v['repeat_uses']:,} of {v['uses']:,} uses ({v['repeat_share']:.1%})")
    misc.add_row("sighash types", ", ".join(f"{k}×{v}" for k, v in rep["sighash_types"].items()))
    misc.add_row("inputs spending a tx of the same block", f"{rep['prevouts_in_same_block']:,}")
    console.print(misc)
    if "seconds" in r:
        console.print(f"analysed {r['bytes'] / 1e6:.1f} MB in {r['seconds']:.2f} s ({r['throughput_mb_s']} MB/s, compressors included)")


def check_plot_path(path: Path) -> None:
    """PacketFSError unless a PNG can be written at ``path`` (and matplotlib is there to draw it)."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise PacketFSError(f"cannot write the plot {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise PacketFSError(f"cannot write the plot {path}: permission denied")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PacketFSError("--plot needs matplotlib, which is not installed") from None


def write_plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    items = sorted(r["byte_classes"].items(), key=lambda kv: kv[1])
    left.barh([k for k, _ in items], [v / 1e6 for _, v in items], color="#4a7ab5")
    left.set_xlabel("MB")
    left.set_title(f"Where the bytes go ({r['bytes'] / 1e6:.1f} MB, {r['blocks']} blocks)")
    names = list(r["compressors"]) + ["structure-aware\n(estimate)"]
    ratios = [v / r["bytes"] for v in r["compressors"].values()]
    ratios.append(r["structure_aware_lower_bound"]["estimated_ratio"])
    right.bar(names, ratios, color=["#999999"] * (len(names) - 1) + ["#d9822b"])
    right.set_ylim(0, 1)
    right.tick_params(axis="x", labelrotation=20)
    right.set_ylabel("compressed / raw")
    right.set_title("Compression ratio")
    for i, v in enumerate(ratios):
        right.text(i, v + 0.01, f"{v:.3f}", ha="center")
    fig.tight_layout()
    # All or nothing: a failed write leaves no partial PNG.
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        fig.savefig(tmp, dpi=110, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)


COMMANDS = [patterns_command]
