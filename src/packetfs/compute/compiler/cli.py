"""`packetfs compile` and `packetfs run`: C programs to packet programs on the compute fabric."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import click

from .errors import CompileError

EXIT_COMPILE = 3   # the C program was rejected (error printed with file:line:column)
EXIT_FAULT = 4     # the program faulted on the fabric (bad address, division by zero, abort, ...)
EXIT_FILE = 5      # a .pfx or --batch file could not be read
EXIT_FABRIC = 6    # the backend failed (worker died, Ray unavailable)


def _fail(msg: str, code: int) -> None:
    click.echo(f"packetfs: {msg}", err=True)
    sys.exit(code)


def _compile(path: str, include: tuple[str, ...], define: tuple[str, ...], lane_memory: int):
    from .driver import compile_file
    from .execute import build
    module = compile_file(path, list(include), list(define))
    return module, build(module, lane_size=lane_memory, stack_size=min(1 << 20, lane_memory // 4))


@click.command("compile")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-I", "include", multiple=True, help="add a directory to the include path")
@click.option("-D", "define", multiple=True, help="define a macro (NAME or NAME=VALUE)")
@click.option("--target", type=click.Choice(["network"]), default="network", show_default=True,
              help="the compute fabric (the only target)")
@click.option("-o", "output", type=click.Path(dir_okay=False), help="write the packet program here (.pfx)")
@click.option("--emit", type=click.Choice(["ir", "packets"]), help="print the IR or the packet instructions")
@click.option("--lane-memory", type=int, default=1 << 22, show_default=True,
              help="bytes of memory per instance of main (a power of two)")
def compile_cmd(source: str, include, define, target: str, output: str | None, emit: str | None,
                lane_memory: int) -> None:
    """Compile a C program (C89 + common C99) to a packet program for the fabric."""
    try:
        module, compiled = _compile(source, include, define, lane_memory)
    except CompileError as e:
        _fail(f"error: {e}", EXIT_COMPILE)
    if emit == "ir":
        click.echo(compiled.module.format() if compiled.module.functions else module.format())
    elif emit == "packets":
        prog, _ = compiled.program()
        click.echo(prog.listing(), nl=False)
    out = Path(output) if output else Path(source).with_suffix(".pfx")
    from .codegen import to_bytes
    out.write_bytes(to_bytes(compiled))
    if not emit:
        click.echo(f"{out}: {len(compiled.code)} instructions, {len(compiled.module.functions)} functions, "
                   f"{len(compiled.module.data)} bytes of data")


@click.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("program", type=click.Path(dir_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--backend", type=click.Choice(["inline", "local", "ray"]), default="inline", show_default=True)
@click.option("--nodes", type=click.IntRange(1, 4096), default=1, show_default=True)
@click.option("--ray-address", help="with --backend ray: an existing Ray cluster (default: a local instance)")
@click.option("--placement", type=click.Choice(["function", "any"]), default=None,
              help="code on nodes: each function on its node (default for one run), or anywhere (default "
                   "with --batch, so every instance runs on the node that holds its memory)")
@click.option("--batch", "batch", type=click.Path(dir_okay=False),
              help="run main once per line of this file (the line is its arguments), all in parallel: "
                   "on inline/local every instance is a lane of the lane executor")
@click.option("--wave", type=click.IntRange(1, 1 << 20), default=4096, show_default=True,
              help="with --batch on the packet executor (--backend ray or --placement function): instances per fabric run")
@click.option("-I", "include", multiple=True, help="include path (when PROGRAM is a .c file)")
@click.option("-D", "define", multiple=True, help="macro (when PROGRAM is a .c file)")
@click.option("--max-steps", type=int, default=1 << 31, show_default=True, help="instructions per packet")
@click.option("--json", "as_json", is_flag=True, help="print a JSON report instead of the program's output")
@click.option("--stats", is_flag=True, help="print packets, steps, hops and bytes moved to stderr")
def run_cmd(program: str, args, backend: str, nodes: int, ray_address: str | None, placement: str | None, batch: str | None, wave: int,
            include, define, max_steps: int, as_json: bool, stats: bool) -> None:
    """Run a compiled program (.pfx) or a C file on the fabric; exits with main's return value.

    Arguments after PROGRAM (use -- before ones starting with '-') become argv[1:]."""
    from ..runtime.records import FabricError
    from .codegen import from_bytes
    from .execute import BATCH_LANE, run
    try:
        if program.endswith(".c"):
            _, compiled = _compile(program, include, define, BATCH_LANE if batch else 1 << 22)
        else:
            try:
                data = Path(program).read_bytes()
            except OSError as e:
                _fail(f"cannot read {program}: {e.strerror}", EXIT_FILE)
            compiled = from_bytes(data)
    except CompileError as e:
        _fail(f"error: {e}", EXIT_COMPILE if program.endswith(".c") else EXIT_FILE)
    name = Path(program).stem.encode()
    table = None
    if batch:
        try:
            data = Path(batch).read_bytes()
        except OSError as e:
            _fail(f"cannot read batch file {batch}: {e.strerror}", EXIT_FILE)
        argvs = None
        if (placement or "any") == "any" and backend in ("inline", "local"):
            from .batch import ArgvTable
            table = ArgvTable.from_text(data, name)  # plain lines: split in numpy, no object per argument
        if table is None:
            try:
                argvs = [[name] + args_of_line(line) for line in data.decode().splitlines() if line.strip()]
            except (ValueError, UnicodeDecodeError) as e:
                _fail(f"cannot read batch file {batch}: {e}", EXIT_FILE)
    else:
        argvs = [[name] + [a.encode() for a in args]]
    placement = placement or ("any" if batch else "function")
    if batch and backend in ("inline", "local") and placement == "any":
        _run_lanes(compiled, table if table is not None else argvs, backend, nodes, max_steps, as_json, stats)
        return
    wave = max(1, min(wave, (1 << 30) // compiled.lane_size))  # a fabric run holds at most 1 GiB of memory
    outcomes = []
    totals = {"packets": 0, "steps": 0, "hops": 0, "bytes_moved": 0, "seconds": 0.0}
    try:
        from rich.progress import Progress
        with Progress(transient=True, disable=not batch or as_json or len(argvs) <= wave) as bar:
            task = bar.add_task("running", total=len(argvs))
            for lo in range(0, len(argvs), wave):
                options = {"address": ray_address} if backend == "ray" and ray_address else {}
                part, result = run(compiled, argvs[lo:lo + wave], backend, nodes, placement, max_steps, **options)
                outcomes += part
                for k in totals:
                    totals[k] += getattr(result.stats, k)
                bar.advance(task, len(part))
    except FabricError as e:
        _fail(f"fabric error: {e}", EXIT_FABRIC)
    except CompileError as e:
        _fail(f"error: {e}", EXIT_COMPILE)
    if as_json:
        click.echo(json.dumps({
            "backend": backend, "nodes": nodes, "placement": placement, "stats": totals,
            "instances": [{"stdout": o.stdout.decode("utf-8", "replace"), "status": o.status, "fault": o.fault}
                          for o in outcomes]}))
    else:
        for o in outcomes:
            sys.stdout.buffer.write(o.stdout)
        sys.stdout.flush()
    if stats:
        click.echo(f"packets {totals['packets']}, steps {totals['steps']}, hops {totals['hops']}, "
                   f"bytes moved {totals['bytes_moved']}, {totals['seconds']:.3f} s on {backend} x{nodes}", err=True)
    faults = [o for o in outcomes if o.fault]
    if faults:
        click.echo(f"packetfs: program fault: {faults[0].fault}"
                   + (f" (and {len(faults) - 1} more instances)" if len(faults) > 1 else ""), err=True)
        sys.exit(EXIT_FAULT)
    if not batch:
        sys.exit(outcomes[0].status)


_PLAIN_LINE = re.compile(r"[^'\"\\\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*")


def args_of_line(line: str) -> list[bytes]:
    """A batch line's arguments, split as a POSIX shell would (shlex); a line without quotes, backslashes
    or unusual whitespace is split with str.split, which gives the same words much faster."""
    if _PLAIN_LINE.fullmatch(line):
        return [a.encode() for a in line.split()]
    return [a.encode() for a in shlex.split(line)]


def _run_lanes(compiled, argvs, backend: str, nodes: int, max_steps: int, as_json: bool, stats: bool) -> None:
    """--batch on the lane executor: every instance a lane, all advancing together."""
    from ..runtime.records import FabricError
    from .batch import run_batch
    try:
        out = run_batch(compiled, argvs, nodes=nodes, backend=backend, max_steps=max_steps)
    except FabricError as e:
        _fail(f"fabric error: {e}", EXIT_FABRIC)
    except CompileError as e:
        _fail(f"error: {e}", EXIT_COMPILE)
    if as_json:
        click.echo(json.dumps({
            "backend": backend, "nodes": nodes, "placement": "any", "executor": "lanes",
            "stats": {"packets": len(out), "steps": out.steps, "hops": 0, "bytes_moved": 0,
                      "seconds": round(out.seconds, 6), "machines": out.machines},
            "instances": [{"stdout": out.output(k).decode("utf-8", "replace"), "status": None if k in out.faults
                           else int(out.status[k]), "fault": out.faults.get(k)} for k in range(len(out))]}))
    else:
        sys.stdout.buffer.write(out.stdout)
        sys.stdout.flush()
    if stats:
        click.echo(f"packets {len(out)}, steps {out.steps}, hops 0, bytes moved 0, {out.seconds:.3f} s on "
                   f"{backend} x{nodes} (lane executor, {out.machines} lane machines)", err=True)
    if out.faults:
        k, why = next(iter(out.faults.items()))
        click.echo(f"packetfs: program fault: {why}"
                   + (f" (and {len(out.faults) - 1} more instances)" if len(out.faults) > 1 else ""), err=True)
        sys.exit(EXIT_FAULT)


COMMANDS = [compile_cmd, run_cmd]
