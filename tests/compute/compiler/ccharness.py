"""Shared harness for the compiler tests: gcc builds and runs, our compile + fabric runs, comparison."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import ccgen as cgen  # noqa: E402

from packetfs.compute.compiler.driver import compile_source  # noqa: E402
from packetfs.compute.compiler.errors import CompileError  # noqa: E402
from packetfs.compute.compiler.execute import build, run  # noqa: E402

FUZZ_LANE = 1 << 16
FUZZ_STACK = 1 << 14


def gcc_outputs(seeds: list[int], workdir: Path, small: bool = True) -> list[tuple[bytes, int]]:
    """Build the seeds' programs as one gcc binary (-O0) and run each; (stdout, exit status) per seed."""
    src = workdir / "combined.c"
    exe = workdir / "combined"
    src.write_text(cgen.combined(seeds, small))
    subprocess.run(["gcc", "-O0", "-w", "-o", str(exe), str(src)], check=True, capture_output=True, timeout=300)
    out = []
    for k in range(len(seeds)):
        p = subprocess.run([str(exe), str(k)], capture_output=True, timeout=60)
        out.append((p.stdout, p.returncode))
    return out


def ours(source: str, backend: str = "inline", nodes: int = 1) -> tuple[bytes, int | None, str | None]:
    module = compile_source(source, "<fuzz>")
    compiled = build(module, lane_size=FUZZ_LANE, stack_size=FUZZ_STACK)
    outcome = run(compiled, [[b"prog"]], backend=backend, nodes=nodes, max_steps=5_000_000)[0][0]
    return outcome.stdout, outcome.status, outcome.fault


def ours_file(path: Path, args: list[str], backend: str = "inline", nodes: int = 1, placement: str = "function"):
    """Compile a C file and run it once on the fabric; the Outcome."""
    module = compile_source(Path(path).read_text(), str(path))
    compiled = build(module)
    return run(compiled, [[b"prog", *(a.encode() for a in args)]], backend=backend, nodes=nodes,
               placement=placement, max_steps=20_000_000)[0][0]


def ours_source(source: str, args: list[str] | None = None, backend: str = "inline", nodes: int = 1):
    module = compile_source(source, "<test>")
    compiled = build(module, lane_size=FUZZ_LANE, stack_size=FUZZ_STACK)
    return run(compiled, [[b"prog", *(a.encode() for a in args or [])]], backend=backend, nodes=nodes,
               max_steps=20_000_000)[0][0]


def fuzz_chunk(args: tuple) -> list[str]:
    """Differential check of a chunk of seeds: gcc builds them as one binary; we compile each and run
    all of them as parallel packets of one fabric run (one memory lane and one entry per program).
    Returns a description of each mismatch."""
    seeds, backend, nodes, *rest = args
    small = rest[0] if rest else True
    problems = []
    with tempfile.TemporaryDirectory() as d:
        expected = gcc_outputs(seeds, Path(d), small)
    modules, kept = [], []
    for k, seed in enumerate(seeds):
        try:
            modules.append(compile_source(cgen.program(seed, small), f"<fuzz {seed}>"))
            kept.append(k)
        except CompileError as e:
            problems.append(f"seed {seed}: compile error {e}")
    if not modules:
        return problems
    compiled = build(modules, lane_size=FUZZ_LANE, stack_size=FUZZ_STACK)
    outcomes, _ = run(compiled, [[b"prog"]] * len(modules), backend=backend, nodes=nodes, max_steps=5_000_000,
                      placement="any", lane_units=list(range(len(modules))))
    for k, o in zip(kept, outcomes, strict=True):
        out, status = expected[k]
        if o.fault or o.stdout != out or o.status != status:
            problems.append(f"seed {seeds[k]}: gcc {out[-60:]!r} status {status}; ours {o.stdout[-60:]!r} "
                            f"status {o.status} fault {o.fault}")
    return problems


def parallel_fuzz(seeds: list[int], backend: str = "inline", nodes: int = 1, chunk: int = 100,
                  workers: int | None = None) -> list[str]:
    from concurrent.futures import ProcessPoolExecutor
    chunks = [(seeds[i:i + chunk], backend, nodes) for i in range(0, len(seeds), chunk)]
    workers = workers or min(len(chunks), os.cpu_count() or 1)
    problems: list[str] = []
    if workers <= 1:
        for c in chunks:
            problems += fuzz_chunk(c)
        return problems
    with ProcessPoolExecutor(workers) as ex:
        for p in ex.map(fuzz_chunk, chunks):
            problems += p
    return problems
