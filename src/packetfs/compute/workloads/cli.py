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
@click.option("--samples", type=click.IntRange(1, 1 << 40), default=50_000_000, show_default=True)
@click.option("--method", type=click.Choice(["block", "sample"]), default="block", show_default=True,
              help="block: a packet carries 2^20 samples, generated and tested vectorised at the node (MCSUM); "
              "sample: one packet per 4 samples through the fine-grained RNG and lane instructions. Same "
              "samples, same pi estimate.")
@click.option("--scaling/--no-scaling", default=None,
              help="Also run on 1 node to print the 1->K scaling efficiency (default: on when --nodes > 1).")
@fabric_options
@handle_errors
def deploy_command(operation: str, integrand: str, samples: int, method: str, scaling: bool | None, seed: int,
                   as_json: bool, config: FabricConfig) -> None:
    """Deploy a workload on the fabric: Monte Carlo integration with the fabric's counter-based RNG."""
    from . import montecarlo

    with progress_bar(f"monte carlo {integrand} on {config.nodes} {config.backend} node(s)", samples,
                      not as_json) as update:
        result = montecarlo.estimate(samples, seed, config, integrand, progress=update, method=method)
    out = result.as_dict()
    if scaling is None:
        scaling = config.nodes > 1
    if scaling and config.nodes > 1:
        single = montecarlo.estimate(samples, seed, FabricConfig(config.backend, 1, config.ray_address), integrand,
                                     method=method)
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
        ("samples", f"{result.samples:,} in {result.packets:,} packets ({method} method), seed {seed}"),
        ("fabric", f"{config.backend}, {config.nodes} node(s), {result.bytes_moved:,} bytes moved"),
        ("measured", f"{si(result.samples_per_s, 'samples/s')} ({result.seconds:.2f} s; fabric start "
                     f"{result.startup_seconds:.2f} s, not counted)"),
        ("pitch", f"operations_per_second: 1T+  (measured is {result.samples_per_s / PITCH_OPS_PER_S:.1e} of it)"),
    ]
    if "scaling" in out:
        s = out["scaling"]
        rows.append(("scaling 1->K", f"{si(s['samples_per_s_1'], '/s')} -> {si(s['samples_per_s_k'], '/s')}: "
                                      f"efficiency {s['efficiency']:.0%}" + (" (inline runs every node in one "
                                      "process: use --backend local)" if config.backend == "inline" else "")))
    print_table("packetfs deploy --operation MONTE_CARLO", rows)


COMMANDS: list[click.Command] = [deploy_command]


# ----------------------------------------------------------------------------------------------- mine
@click.command("mine")
@click.option("--algorithm", type=click.Choice(["SHA256"]), default="SHA256", show_default=True)
@click.option("--rpcconnect", metavar="HOST:PORT", help="The node's JSON-RPC (Core, bcoin, ours).")
@click.option("--rpcuser", default=None)
@click.option("--rpcpassword", default=None)
@click.option("--rpccookiefile", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Read USER:PASSWORD from a Core-style cookie file.")
@click.option("--blocks", "n_blocks", type=click.IntRange(1, 100_000), default=1, show_default=True,
              help="Stop after this many blocks.")
@click.option("--address", default=None, help="Payout address on --network (or give --payout-script).")
@click.option("--payout-script", default=None, metavar="HEX", help="Payout output script, hex.")
@click.option("--network", type=click.Choice(["mainnet", "testnet3", "testnet4", "signet", "regtest"]),
              default="regtest", show_default=True,
              help="Network of --address; with --difficulty-check, whose proof-of-work limit applies (mainnet "
              "unless given).")
@click.option("--batch", type=click.IntRange(1, 1 << 22), default=1 << 13, show_default=True,
              help="Nonces per fabric run.")
@click.option("--time-limit", type=click.FloatRange(0, None, min_open=True), default=None,
              help="Stop after this many seconds.")
@click.option("--difficulty-check", "check_paths", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Instead of mining: verify the proof of work of these headers (*.block files, folders of "
              "them, or files of 80-byte headers) through the mining hash path.")
@fabric_options
@handle_errors
def mine_command(algorithm: str, rpcconnect: str | None, rpcuser: str | None, rpcpassword: str | None,
                 rpccookiefile: Path | None, n_blocks: int, address: str | None, payout_script: str | None,
                 network: str, batch: int, time_limit: float | None, check_paths: tuple[Path, ...], seed: int,
                 as_json: bool, config: FabricConfig) -> None:
    """Mine real blocks: getblocktemplate, coinbase, merkle root, nonces ground as packets on the fabric,
    submitblock; or, with --difficulty-check, verify known headers' proof of work the same way. --seed is
    where the 8-byte extranonce starts (miners with different seeds never grind the same header)."""
    from .fabric import Fabric
    from .mining import miner as mining

    if check_paths:
        headers = mining.read_headers(list(check_paths))
        network_given = click.get_current_context().get_parameter_source("network") != click.core.ParameterSource.DEFAULT
        pow_network = network if network_given else "mainnet"
        with Fabric(config) as fabric, progress_bar("checking headers", len(headers), not as_json) as update:
            checks = []
            for i, h in enumerate(headers):
                checks += mining.difficulty_check([h], fabric, pow_network)
                update(i + 1)
        bad = [c for c in checks if not c.ok]
        if as_json:
            emit_json({"difficulty_check": [c.__dict__ for c in checks], "headers": len(checks), "failed": len(bad)})
        else:
            table = Table(title="proof of work through the fabric's SHA-256d path", title_justify="left")
            for col in ("header", "block hash", "bits", "pow"):
                table.add_column(col)
            for c in checks:
                table.add_row(c.source, c.hash, f"{c.bits:08x}", "[green]ok[/green]" if c.ok else "[red]FAIL[/red]")
            Console().print(table)
        if bad:
            raise WorkloadError(f"{len(bad)} of {len(checks)} headers failed the proof-of-work check", exit_code=4)
        return

    from ...bitcoin.primitives import AddressError, address_to_script
    from .errors import InputError
    from .mining.rpc import RpcClient, parse_hostport, read_cookie

    if rpcconnect is None:
        raise InputError("mining needs --rpcconnect HOST:PORT (or --difficulty-check PATH)")
    if (address is None) == (payout_script is None):
        raise InputError("give exactly one of --address and --payout-script")
    try:
        script = address_to_script(address, network) if address else bytes.fromhex(payout_script or "")
    except (AddressError, ValueError) as e:
        raise InputError(f"bad payout: {e}") from None
    if rpccookiefile is not None:
        if rpcuser is not None or rpcpassword is not None:
            raise InputError("give --rpcuser/--rpcpassword or --rpccookiefile, not both")
        rpcuser, rpcpassword = read_cookie(rpccookiefile)
    host, port = parse_hostport(rpcconnect)
    rpc = RpcClient(host, port, rpcuser, rpcpassword)
    with Fabric(config) as fabric, progress_bar(f"mining on {config.nodes} {config.backend} node(s)", n_blocks,
                                                not as_json) as update:
        miner = mining.Miner(rpc, script, fabric, batch, extranonce_start=seed)
        report = miner.mine(n_blocks, max_seconds=time_limit, progress=update)
    out = report.as_dict()
    per_node = report.hashes_per_s / config.nodes
    out["nodes"], out["backend"], out["hashes_per_s_per_node"] = config.nodes, config.backend, per_node
    out["pitch"] = {"claim_hashes_per_s": PITCH_HASHRATE, "antminer_s21_xp_hashes_per_s": ASIC_S21_XP,
                    "antminer_s21_xp_joules_per_th": ASIC_S21_XP_J_PER_TH}
    rejected = [b for b in report.blocks if not b.accepted]
    if as_json:
        emit_json(out)
    else:
        table = Table(title="blocks", title_justify="left")
        for col in ("height", "hash", "nonce", "extranonce", "accepted"):
            table.add_column(col)
        for b in report.blocks:
            table.add_row(str(b.height), b.hash, str(b.nonce), str(b.extranonce),
                          "yes" if b.accepted else f"[red]no: {b.reason}[/red]")
        Console().print(table)
        print_table("packetfs mine --algorithm SHA256", [
            ("hashes", f"{report.hashes:,} in {report.seconds:.2f} s, {report.templates} template(s)"),
            ("measured", f"{si(report.hashes_per_s, 'H/s')} ({si(per_node, 'H/s')} per node, {config.backend})"),
            ("pitch", f"10,000 TH/s: {PITCH_HASHRATE / max(report.hashes_per_s, 1e-9):.1e}x the measured rate"),
            ("ASIC", "Antminer S21 XP: 270 TH/s at 13.5 J/TH "
                     f"({ASIC_S21_XP / max(report.hashes_per_s, 1e-9):.1e}x the measured rate)"),
            ("energy", "J/TH of this run: not measured (no power meter); the S21 XP spends 13.5 J per TH"),
        ])
    if rejected:
        raise WorkloadError(f"the node rejected block {rejected[0].hash}: {rejected[0].reason}", exit_code=4)


COMMANDS.append(mine_command)


# ----------------------------------------------------------------------------------------------- fold
@click.command("fold")
@click.argument("sequence")
@click.option("--lattice", type=click.Choice(["2d", "3d"]), default="2d", show_default=True)
@click.option("--replicas", type=click.IntRange(1, 64), default=None,
              help="Replicas (temperatures) per replica-exchange ladder [default: 5].")
@click.option("--ensembles", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Independent ladders (restarts from different random streams); ensemble e runs at node "
              "e mod --nodes.")
@click.option("--rounds", type=click.IntRange(1, 10**7), default=1000, show_default=True,
              help="Rounds: each sends the ensembles to their nodes for --steps pull moves per replica.")
@click.option("--steps", "steps_per_round", type=click.IntRange(1, 10**8), default=50000, show_default=True,
              help="Pull-move steps per replica per round.")
@click.option("--exchange-every", type=click.IntRange(1, 10**8), default=500, show_default=True,
              help="Pull-move steps per replica between two exchange passes inside a ladder.")
@click.option("--restart-after", type=click.IntRange(0, 10**7), default=0, show_default=True,
              help="Rounds without a new best after which a ladder restarts from the compact start, keeping "
              "its best (0: never).")
@click.option("--kernel", type=click.Choice(["auto", "c", "python"]), default="auto", show_default=True,
              help="The pull-move node kernel: C (compiled on first use) or Python; auto = C when a compiler "
              "is available. One seed gives one answer per kernel.")
@click.option("--t-min", type=click.FloatRange(0, None, min_open=True), default=None,
              help="Coldest temperature, in units of one HH contact [default: 0.32].")
@click.option("--t-max", type=click.FloatRange(0, None, min_open=True), default=None,
              help="Hottest temperature [default: 0.45].")
@click.option("--target", "target_energy", type=int, default=None,
              help="Stop as soon as this energy (or lower) is found.")
@click.option("--time-limit", type=click.FloatRange(0, None, min_open=True), default=None,
              help="Stop after this many seconds (checked between rounds: a run stopped after R rounds "
              "returns what --rounds R returns for the same seed).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a PNG drawing of the best conformation.")
@fabric_options
@handle_errors
def fold_command(sequence: str, lattice: str, replicas: int | None, ensembles: int, rounds: int,
                 steps_per_round: int, exchange_every: int, restart_after: int, kernel: str, t_min: float | None,
                 t_max: float | None,
                 target_energy: int | None, time_limit: float | None, plot_path: Path | None, seed: int,
                 as_json: bool, config: FabricConfig) -> None:
    """Fold SEQUENCE (H/P string, amino acids, or a FASTA file) in the HP lattice model by replica-exchange
    Monte Carlo with pull moves, ensembles of replicas travelling as packets to the fabric's nodes."""
    from .errors import InputError
    from .folding.engine import fold
    from .folding.search import LATTICE_DEFAULTS, FoldParams
    from .folding.sequences import read_sequence

    name, residues, hp = read_sequence(sequence)
    default_replicas, default_lo, default_hi = LATTICE_DEFAULTS[lattice]
    replicas = replicas or default_replicas
    lo, hi = t_min or default_lo, t_max or default_hi
    if lo > hi:
        raise InputError("--t-min must not exceed --t-max")
    params = FoldParams(hp, lattice, replicas, steps_per_round, rounds, seed, lo, hi, target_energy, kernel,
                        ensembles, exchange_every, restart_after)
    with progress_bar(f"folding {len(hp)} residues ({lattice})", rounds, not as_json) as update:
        result = fold(params, config, time_limit=time_limit, progress=lambda r, n, e: update(r))
    out = result.as_dict()
    if name:
        out["name"] = name
    if residues.upper() != hp:
        out["residues"] = residues
    if plot_path is not None:
        from .folding.plot import plot_conformation

        plot_conformation(hp, result.moves, lattice, result.energy, plot_path)
        out["plot"] = str(plot_path)
    if as_json:
        emit_json(out)
        return
    print_table("packetfs fold", [
        ("sequence", f"{name + ': ' if name else ''}{hp} ({len(hp)} residues)"),
        ("energy", f"{result.energy} (recomputed from the moves)"),
        ("moves", result.moves),
        ("search", f"{result.rounds} rounds x {ensembles} ensembles x {replicas} replicas: {result.steps:,} "
                   f"pull-move steps in {result.seconds:.2f} s (best at {result.time_to_best:.2f} s); "
                   f"stopped by {result.stopped}; {result.restarts} restart(s); {result.kernel} kernel"),
        ("fabric", f"{config.backend}, {config.nodes} node(s), {result.bytes_moved:,} bytes of ensemble packets"),
    ] + ([("plot", str(plot_path))] if plot_path else []))


COMMANDS.append(fold_command)


# ---------------------------------------------------------------------------------------------- train
@click.command("train")
@click.option("--dataset", type=click.Choice(["digits"]), default="digits", show_default=True,
              help="scikit-learn's bundled 8x8 digits (1,797 images, no download).")
@click.option("--model", type=click.Choice(["mlp"]), default="mlp", show_default=True)
@click.option("--workers", type=click.IntRange(1, 63), default=2, show_default=True,
              help="Data-parallel workers, each holding its shard (with --allreduce aggregate the aggregator "
              "is one more role).")
@click.option("--epochs", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--batch", type=click.IntRange(1, 4096), default=64, show_default=True, help="Global minibatch.")
@click.option("--hidden", type=click.IntRange(1, 4096), default=32, show_default=True)
@click.option("--lr", type=float, default=0.1, show_default=True)
@click.option("--momentum", type=float, default=0.9, show_default=True)
@click.option("--allreduce", "mode", type=click.Choice(["aggregate", "ring", "numpy"]), default="aggregate",
              show_default=True, help="aggregate: an aggregator node sums fixed-point gradient packets and "
              "sends the sums back (SwitchML); ring: ring all-reduce among the workers over the same "
              "transport; numpy: one process, no fabric.")
@click.option("--target-accuracy", type=click.FloatRange(0, 1), default=None,
              help="Stop after the first epoch reaching this test accuracy.")
@click.option("--compare", is_flag=True, help="Also train with ring all-reduce and single-process numpy "
              "(same seed) and print the three side by side.")
@fabric_options
@handle_errors
def train_command(dataset: str, model: str, workers: int, epochs: int, batch: int, hidden: int, lr: float,
                  momentum: float, mode: str, target_accuracy: float | None, compare: bool, seed: int,
                  as_json: bool, config: FabricConfig) -> None:
    """Data-parallel training: workers compute their gradients on their own shards; the gradients travel
    as fixed-point packets, are summed in the fabric and come back to every worker.

    --nodes K places the run's roles (the workers, then the aggregator) on K fabric nodes, role r on node
    r mod K: packets between roles on one node stay in its memory, the others cross the transport. Without
    --nodes every role has a node of its own. The parameters are the same bits for every K and backend."""
    from .training.trainer import TrainParams, train

    explicit = click.get_current_context().get_parameter_source("nodes") != click.core.ParameterSource.DEFAULT
    nodes = config.nodes if explicit else None

    def run(m: str):
        if nodes is None or m == mode:
            n = nodes  # the asked-for run: more nodes than roles is an error
        elif m == "numpy":
            n = None  # one process
        else:  # a comparison run uses as many of the --nodes as it has roles
            n = min(nodes, workers + (1 if m == "aggregate" else 0))
        params = TrainParams(dataset, model, workers, epochs, batch, hidden, lr, momentum, seed, m, target_accuracy,
                             n)
        where = f"{n} node(s)" if n is not None else "a node per role"
        with progress_bar(f"training ({m}, {workers} worker(s), {where})", epochs, not as_json) as update:
            return train(params, config, progress=lambda e, n, acc: update(e))

    results = [run(mode)]
    if compare:
        results += [run(m) for m in ("aggregate", "ring", "numpy") if m != mode]
    main = results[0]
    out = main.as_dict()
    if compare:
        out["compare"] = [r.as_dict() for r in results[1:]]
    out["pitch"] = {"claim": "SwitchML: up to 5.5x faster training than ring all-reduce", "speedup": SWITCHML_SPEEDUP}
    if as_json:
        emit_json(out)
        return
    table = Table(title="packetfs train --dataset digits --model mlp", title_justify="left")
    for col in ("all-reduce", "K", "backend", "nodes", "acc", "epochs", "s", "start s", "B/step", "B/step between nodes",
                "pkts/step"):
        table.add_column(col)
    for r in results:
        d = r.as_dict()
        table.add_row(r.mode, str(r.workers), r.backend, str(r.nodes), f"{r.test_accuracy:.4f}", str(r.epochs),
                      f"{r.seconds:.2f}", f"{r.startup_seconds:.2f}", f"{d['bytes_per_step']:,.0f}",
                      f"{d['bytes_between_nodes_per_step']:,.0f}", f"{d['packets_per_step']:,.0f}")
    Console().print(table)
    rows = [("params sha256", main.params_sha256[:16] + "... (identical for the same seed on every backend)")]
    by = {r.mode: r for r in results}
    if "aggregate" in by and "ring" in by:
        ratio = by["ring"].seconds / by["aggregate"].seconds
        rows.append(("pitch", f"SwitchML: up to {SWITCHML_SPEEDUP}x faster than ring all-reduce; measured here: "
                              f"aggregator {ratio:.2f}x the ring's speed on the same fabric"))
    else:
        rows.append(("pitch", f"SwitchML: up to {SWITCHML_SPEEDUP}x faster than ring all-reduce (run with --compare)"))
    print_table("", rows)


for _option in train_command.params:  # train reads --nodes as a placement; its default is a node per role
    if _option.name == "nodes":
        _option.help = ("Fabric nodes to place the roles on (workers, then the aggregator): role r on node r mod "
                        "K [default: a node per role].")
        _option.show_default = False

COMMANDS.append(train_command)
