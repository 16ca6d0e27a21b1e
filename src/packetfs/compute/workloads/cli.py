"""`packetfs deploy`, `packetfs mine`, `packetfs fold`, `packetfs train`: the pitch's showcase commands on the
compute fabric, each printing the pitch's claim beside what this machine measured."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .errors import WorkloadError
from .fabric import BACKENDS, FabricConfig

# The pitch's figures, printed beside the measured ones.
PITCH_OPS_PER_S = 1e12  # "operations_per_second: 1T+"
PITCH_HASHRATE = 10_000e12  # "10,000 TH/s"
ASIC_S21_XP = 270e12  # Bitmain Antminer S21 XP, 270 TH/s at 13.5 J/TH (maker's spec sheet)
ASIC_S21_XP_J_PER_TH = 13.5
SWITCHML_SPEEDUP = 5.5  # SwitchML (NSDI'21): up to 5.5x faster training than ring all-reduce

err_console = Console(stderr=True)


def fabric_options(fn: Callable) -> Callable:
    """--backend, --nodes, --ray-address, --seed, --json: the options every workload takes."""

    @click.option("--backend", type=click.Choice(BACKENDS), default="inline", show_default=True,
                  help="Fabric backend: inline (one process), local (worker processes over loopback), ray.")
    @click.option("--nodes", type=click.IntRange(1, 64), default=1, show_default=True,
                  help="Fabric nodes (worker processes for local/ray).")
    @click.option("--ray-address", default=None, help="An existing Ray cluster (default: a local instance).")
    @click.option("--seed", type=click.IntRange(0, 2**64 - 1), default=1, show_default=True,
                  help="Seed: the same seed gives the same answer on every backend.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
    @functools.wraps(fn)
    def wrapper(*args: Any, backend: str, nodes: int, ray_address: str | None, **kwargs: Any) -> Any:
        kwargs["config"] = FabricConfig(backend, nodes, ray_address)
        return fn(*args, **kwargs)

    return wrapper


def handle_errors(fn: Callable) -> Callable:
    """A WorkloadError becomes one sentence on stderr and its exit code; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except WorkloadError as e:
            err_console.print(f"[red]error:[/red] {e}", highlight=False)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            sys.exit(130)

    return wrapper


@contextmanager
def progress_bar(description: str, total: float | None, enabled: bool = True):
    """A rich progress bar on stderr; yields update(completed) (a no-op when disabled)."""
    if not enabled:
        yield lambda done, total=None: None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def update(done: float, new_total: float | None = None) -> None:
            bar.update(task, completed=done, **({"total": new_total} if new_total is not None else {}))

        yield update


def emit_json(obj: dict) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=_json_default))


def _json_default(o: Any) -> Any:
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)


def si(x: float, unit: str) -> str:
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{x / factor:,.2f} {prefix}{unit}"
    return f"{x:,.2f} {unit}"


# --------------------------------------------------------------------------------------------- deploy
@click.command("deploy")
@click.option("--operation", type=click.Choice(["MONTE_CARLO"]), default="MONTE_CARLO", show_default=True,
              help="The workload to deploy on the fabric.")
@click.option("--integrand", default="pi", show_default=True,
              help="pi, quarter-circle, arctan, x2 or sqrt (see docs/workloads.md).")
@click.option("--samples", type=click.IntRange(1, 1 << 40), default=4_000_000, show_default=True)
@click.option("--scaling/--no-scaling", default=None,
              help="Also run on 1 node to print the 1->K scaling efficiency (default: on when --nodes > 1).")
@fabric_options
@handle_errors
def deploy_command(operation: str, integrand: str, samples: int, scaling: bool | None, seed: int,
                   as_json: bool, config: FabricConfig) -> None:
    """Deploy a workload on the fabric: Monte Carlo integration with the fabric's counter-based RNG."""
    from . import montecarlo

    with progress_bar(f"monte carlo {integrand} on {config.nodes} {config.backend} node(s)", None,
                      not as_json) as update:
        result = montecarlo.estimate(samples, seed, config, integrand, progress=update)
    out = result.as_dict()
    if scaling is None:
        scaling = config.nodes > 1
    if scaling and config.nodes > 1:
        single = montecarlo.estimate(samples, seed, FabricConfig(config.backend, 1, config.ray_address), integrand)
        if single.estimate != result.estimate:
            raise WorkloadError("the 1-node run gave a different estimate: the fabric is not deterministic")
        eff = (result.samples_per_s / single.samples_per_s) / config.nodes
        out["scaling"] = {"nodes": config.nodes, "samples_per_s_1": single.samples_per_s,
                          "samples_per_s_k": result.samples_per_s, "efficiency": eff}
    out["pitch"] = {"claim": "operations_per_second: 1T+", "ops_per_s": PITCH_OPS_PER_S}
    if as_json:
        emit_json(out)
        return
    rows = [
        ("integrand", f"{integrand}: {montecarlo.INTEGRANDS[integrand].description}"),
        ("estimate", f"{result.estimate:.10f} ± {result.stderr:.2g} (1 s.e.)"),
        ("exact", f"{result.exact:.10f} (error {out['error_in_stderr']:+.2f} s.e.)"),
        ("samples", f"{result.samples:,} in {result.packets:,} packets, seed {seed}"),
        ("fabric", f"{config.backend}, {config.nodes} node(s), {result.bytes_moved:,} bytes moved"),
        ("measured", f"{si(result.samples_per_s, 'samples/s')} ({result.seconds:.2f} s)"),
        ("pitch", f"operations_per_second: 1T+  (measured is {result.samples_per_s / PITCH_OPS_PER_S:.1e} of it)"),
    ]
    if "scaling" in out:
        s = out["scaling"]
        rows.append(("scaling 1->K", f"{si(s['samples_per_s_1'], '/s')} -> {si(s['samples_per_s_k'], '/s')}: "
                                      f"efficiency {s['efficiency']:.0%}"))
    print_table("packetfs deploy --operation MONTE_CARLO", rows)


COMMANDS: list[click.Command] = [deploy_command]
