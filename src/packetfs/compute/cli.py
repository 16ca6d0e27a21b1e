"""`packetfs compute` and `packetfs meter`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from .backends import BACKENDS, get_backend
from .operations import OPERATIONS, build, check, generate
from .runtime.records import FabricError

EXIT_FABRIC = 3  # the fabric failed (bad input, a worker died, Ray unreachable)
EXIT_MISMATCH = 4  # the fabric's result differs from the anchor


class FabricCliError(click.ClickException):
    exit_code = EXIT_FABRIC


def _backend_options(backend: str, ray_address: str | None) -> dict:
    return {"address": ray_address} if backend == "ray" and ray_address else {}


def _load_inputs(paths: tuple[Path, ...]) -> list[np.ndarray]:
    out = []
    for p in paths:
        try:
            out.append(np.load(p, allow_pickle=False))
        except (OSError, ValueError) as e:
            raise FabricCliError(f"cannot read {p} as a .npy array: {e}") from None
    return out


@click.command("compute")
@click.option("--operation", "-O", "operation", required=True, type=click.Choice(OPERATIONS, case_sensitive=False),
              help="What to compute (elementwise uint64/float64 ops, SHA-256 HASH, MATMUL).")  # fmt: skip
@click.option("--input", "inputs", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Input .npy (give twice for two operands). uint64/float64 as the operation needs; HASH: uint8 (N, L<=55).")  # fmt: skip
@click.option("--size", type=click.IntRange(1, 1 << 26), default=100_000, show_default=True,
              help="Generated input size when no --input (MATMUL: size x size).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated inputs.")
@click.option("--nodes", "-k", type=click.IntRange(1, 64), default=1, show_default=True, help="Nodes the data is split across.")
@click.option("--backend", "-b", type=click.Choice(BACKENDS), default="inline", show_default=True)
@click.option("--distributed", is_flag=True, help="The pitch's flag: same as --backend local when no backend is given.")
@click.option("--ray-address", default=None, help="An existing Ray cluster for --backend ray (default: a local instance).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the result as .npy.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def compute_cmd(operation, inputs, size, seed, nodes, backend, distributed, ray_address, output, as_json) -> None:
    """Split the data across K nodes, run it as packets, combine the results and check them against numpy
    (or hashlib) on the same data. Exit 4 if they differ, 3 if the fabric fails."""
    console = Console(stderr=True)
    op = operation.upper()
    if distributed and backend == "inline":
        backend = "local"
    try:
        data = _load_inputs(inputs) if inputs else generate(op, size, seed)
        job = build(op, data, nodes)
        with console.status(f"[bold]{op}[/] on {backend} x{nodes}: starting workers", spinner="dots"), get_backend(
            backend, nodes=nodes, **_backend_options(backend, ray_address)
        ) as b:
            t_start = time.perf_counter()
            warm = build(op, [x[:1] if x.ndim == 1 else x[:1, :1] if op == "MATMUL" else x[:1] for x in data], nodes)
            b.run(warm.program, warm.packets)  # start the workers outside the timed run
            startup = time.perf_counter() - t_start
            console.log(f"{op}: {len(job.packets):,} packets on {backend} x{nodes}")
            t0 = time.perf_counter()
            res = b.run(job.program, job.packets)
            seconds = time.perf_counter() - t0
        res.raise_for_faults()
        got = job.collect(res)
        t1 = time.perf_counter()
        want = job.anchor()
        anchor_seconds = time.perf_counter() - t1
    except FabricError as e:
        raise FabricCliError(str(e)) from None
    ok, diff = check(job, got, want)
    if output:
        np.save(output, got, allow_pickle=False)
    report = {
        "operation": op, "backend": backend, "nodes": nodes, "elements": int(got.size), "packets": len(job.packets),
        "packet_ops": res.stats.steps, "hops": res.stats.hops, "bytes_moved": res.stats.bytes_moved,
        "messages": res.stats.messages, "seconds": seconds, "startup_seconds": startup,
        "useful_ops": job.useful_ops, "ops_per_s": job.useful_ops / seconds, "packet_ops_per_s": res.stats.steps / seconds,
        "anchor": job.anchor_name, "anchor_seconds": anchor_seconds,
        "anchor_over_fabric": (anchor_seconds / seconds) if seconds else None,
        "match": ok, "exact": job.exact, "max_abs_diff": diff, "output": str(output) if output else None,
    }  # fmt: skip
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        t = Table(title=f"packetfs compute --operation {op}", show_header=False)
        for k in ("backend", "nodes", "elements", "packets", "packet_ops", "hops", "bytes_moved", "messages"):
            t.add_row(k, f"{report[k]:,}" if isinstance(report[k], int) else str(report[k]))
        t.add_row("time", f"{seconds * 1e3:.1f} ms (+{startup * 1e3:.0f} ms worker start)")
        t.add_row("ops/s", f"{report['ops_per_s']:,.0f} useful, {report['packet_ops_per_s']:,.0f} packet-ops")
        t.add_row(f"anchor ({job.anchor_name})", f"{anchor_seconds * 1e3:.2f} ms: fabric is {seconds / anchor_seconds:,.1f}x slower" if anchor_seconds else "")
        t.add_row("check", ("[green]identical" if job.exact else f"[green]allclose, max |diff| {diff:.2e}") if ok else f"[red]MISMATCH (max |diff| {diff})")
        if output:
            t.add_row("output", str(output))
        Console().print(t)
    if not ok:
        raise SystemExit(EXIT_MISMATCH)


def _csv_ints(value: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter("expected comma-separated integers, e.g. 1,64,1024") from None
    if not out or any(v < 1 or v > 1_000_000 for v in out):
        raise click.BadParameter("batch sizes must be 1..1,000,000")
    return out


@click.command("meter")
@click.option("--backend", "-b", "backends", multiple=True, type=click.Choice(BACKENDS),
              help="Backends to measure (repeatable; default inline and local).")  # fmt: skip
@click.option("--nodes", "-k", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--batch-sizes", default="1,64,1024,16384", show_default=True, help="Packets per batch, comma-separated.")
@click.option("--total-steps", type=click.IntRange(1000, 10**8), default=400_000, show_default=True,
              help="Packet-steps per measurement (steps per packet = this / batch, 8..2000).")  # fmt: skip
@click.option("--latency-runs", type=click.IntRange(3, 1000), default=20, show_default=True)
@click.option("--quick", is_flag=True, help="Small batches and few runs (a few seconds).")
@click.option("--ray-address", default=None, help="An existing Ray cluster for --backend ray.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path, dir_okay=False), help="Write a PNG chart.")
@click.option("--json", "as_json", is_flag=True)
def meter_cmd(backends, nodes, batch_sizes, total_steps, latency_runs, quick, ray_address, plot_path, as_json) -> None:
    """Measure packets/s, hops/s, ops/s, bytes per useful op and per-hop latency (p50/p99) per backend and
    batch size, beside the physical limit of links for 208-byte packets and the pitch's claims."""
    from .meter import measure, plot

    sizes = _csv_ints(batch_sizes)
    if quick:
        sizes, total_steps, latency_runs = tuple(s for s in sizes if s <= 1024) or (1, 64), min(total_steps, 60_000), min(latency_runs, 5)
    console = Console(stderr=True)
    try:
        with console.status("measuring", spinner="dots") as status:
            report = measure(
                tuple(backends) or ("inline", "local"), nodes, sizes, total_steps, latency_runs,
                {"address": ray_address} if ray_address else None, progress=lambda m: status.update(m),
            )  # fmt: skip
    except FabricError as e:
        raise FabricCliError(str(e)) from None
    if plot_path:
        plot(report, plot_path)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    out = Console()
    t = Table(title=f"measured on this machine ({nodes} nodes; each step: one 8-lane ADD, one hop)")
    for col in ("backend", "batch", "packet-ops/s", "hops/s", "useful ops/s", "bytes moved / useful op"):
        t.add_column(col, justify="right")
    for r in report.rows:
        t.add_row(r["backend"], f"{r['batch']:,}", f"{r['packet_ops_per_s']:,.0f}", f"{r['hops_per_s']:,.0f}",
                  f"{r['useful_ops_per_s']:,.0f}", f"{r['bytes_per_useful_op']:.1f}")  # fmt: skip
    out.print(t)
    lt = Table(title="per-hop latency of a single packet")
    for col in ("backend", "p50", "p99", "pitch"):
        lt.add_column(col, justify="right")
    for r in report.latency:
        lt.add_row(r["backend"], f"{r['hop_p50_s'] * 1e6:,.0f} µs", f"{r['hop_p99_s'] * 1e6:,.0f} µs", "< 1 ms")
    out.print(lt)
    best = max((r["useful_ops_per_s"] for r in report.rows), default=0.0)
    lk = Table(title="bandwidth -> computation: the pitch's claim vs the link's physical limit (208-byte packets, 8 ops each)")
    for col in ("link", "packets/s", "packets/s, own frame", "max ops/s", "pitch claims", "claim / limit"):
        lk.add_column(col, justify="right")
    for r in report.links:
        lk.add_row(f"{r['link_gbps']} Gb/s", f"{r['packets_per_s']:,.0f}", f"{r['packets_per_s_one_per_frame']:,.0f}",
                   f"{r['max_ops_per_s']:,.0f}", f"{r['pitch_claim_ops_per_s']:.0e}", f"{r['claim_over_limit']:,.0f}x")  # fmt: skip
    out.print(lk)
    out.print(f"best measured here: {best:,.0f} useful ops/s; the pitch: {report.pitch['claim']}")
    if plot_path:
        out.print(f"plot: {plot_path}")


COMMANDS = [compute_cmd, meter_cmd]
