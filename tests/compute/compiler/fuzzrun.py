"""The long differential fuzz run against gcc, in chunks that can stop and resume.

    nice -n 19 .venv/bin/python tests/compute/compiler/fuzzrun.py run --out DIR [--first 0] [--chunks 1000]
        [--workers 2] [--until HH:MM]
    .venv/bin/python tests/compute/compiler/fuzzrun.py summary --out DIR
    .venv/bin/python tests/compute/compiler/fuzzrun.py export --out DIR --to FILE.jsonl
    .venv/bin/python tests/compute/compiler/fuzzrun.py show SEED        # the program, gcc's and our output

Chunk c holds the 100 seeds 1,000,000 + 100c .. + 99 (the slow mode's seed range, bigger programs than
make test's). Each finished chunk writes DIR/chunk-NNNNN.json: its seeds, backend, how many programs ran,
every mismatch (seed, gcc's output and status, ours), the seconds spent in each phase (gcc, preprocess +
pycparser, lowering, link + codegen, fabric run) and the commit. A chunk whose file exists is skipped, so
the run resumes where it stopped; `--until` (UTC) stops starting new chunks at that time. Every 50th
chunk (c % 50 == 49) runs on the local backend (2 worker processes) instead of inline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import ccgen as cgen  # noqa: E402
from ccharness import FUZZ_LANE, FUZZ_STACK, gcc_outputs  # noqa: E402

from packetfs.compute.compiler import driver  # noqa: E402
from packetfs.compute.compiler.errors import CompileError  # noqa: E402
from packetfs.compute.compiler.execute import build, run  # noqa: E402

SEED_BASE = 1_000_000
CHUNK = 100
PHASES = ("generate", "gcc", "parse", "lower", "build", "run")


def chunk_seeds(chunk: int) -> list[int]:
    return list(range(SEED_BASE + chunk * CHUNK, SEED_BASE + (chunk + 1) * CHUNK))


def chunk_backend(chunk: int) -> tuple[str, int]:
    return ("local", 2) if chunk % 50 == 49 else ("inline", 1)


class _Timed:
    """Wraps the driver's front end and lowering to add their time to a phase total."""

    def __init__(self, times: dict[str, float]) -> None:
        self.times = times
        self.parse = driver.parse
        self.lowerer = driver.Lowerer

    def __enter__(self):
        times, parse, lowerer = self.times, self.parse, self.lowerer

        def timed_parse(*a, **k):
            t = time.perf_counter()
            try:
                return parse(*a, **k)
            finally:
                times["parse"] += time.perf_counter() - t

        class TimedLowerer(lowerer):
            def lower(self, ast):
                t = time.perf_counter()
                try:
                    return super().lower(ast)
                finally:
                    times["lower"] += time.perf_counter() - t

        driver.parse, driver.Lowerer = timed_parse, TimedLowerer
        return self

    def __exit__(self, *exc) -> None:
        driver.parse, driver.Lowerer = self.parse, self.lowerer


def run_chunk(chunk: int) -> dict:
    seeds = chunk_seeds(chunk)
    backend, nodes = chunk_backend(chunk)
    times = dict.fromkeys(PHASES, 0.0)
    mismatches: list[dict] = []
    t0 = time.perf_counter()
    sources = [cgen.program(s, small=False) for s in seeds]
    times["generate"] = time.perf_counter() - t0
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        expected = gcc_outputs(seeds, Path(d), small=False)
    times["gcc"] = time.perf_counter() - t
    modules, kept = [], []
    with _Timed(times):
        for k, (seed, src) in enumerate(zip(seeds, sources, strict=True)):
            try:
                modules.append(driver.compile_source(src, f"<fuzz {seed}>"))
                kept.append(k)
            except CompileError as e:
                mismatches.append({"seed": seed, "kind": "compile error", "ours": str(e)})
    t = time.perf_counter()
    compiled = build(modules, lane_size=FUZZ_LANE, stack_size=FUZZ_STACK)
    times["build"] = time.perf_counter() - t
    t = time.perf_counter()
    outcomes, result = run(compiled, [[b"prog"]] * len(modules), backend=backend, nodes=nodes,
                           max_steps=5_000_000, placement="any", lane_units=list(range(len(modules))))
    times["run"] = time.perf_counter() - t
    for k, o in zip(kept, outcomes, strict=True):
        out, status = expected[k]
        if o.fault or o.stdout != out or o.status != status:
            mismatches.append({"seed": seeds[k], "kind": "output", "gcc": out.decode(errors="replace"),
                               "gcc_status": status, "ours": o.stdout.decode(errors="replace"),
                               "ours_status": o.status, "fault": o.fault})
    return {"chunk": chunk, "seeds": [seeds[0], seeds[-1]], "backend": backend, "nodes": nodes,
            "programs": len(seeds), "ran": len(modules), "mismatches": mismatches,
            "packet_steps": int(result.stats.steps), "seconds": round(time.perf_counter() - t0, 3),
            "phases": {k: round(v, 3) for k, v in times.items()}, "commit": _commit(),
            "finished_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _commit() -> str:
    env = os.environ.get("PACKETFS_FUZZ_COMMIT")
    if env:
        return env
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _deadline(until: str | None) -> dt.datetime | None:
    if not until:
        return None
    hh, mm = (int(x) for x in until.split(":"))
    now = dt.datetime.now(dt.UTC)
    when = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    return when if when > now else when + dt.timedelta(days=1)


def _worker(args: tuple[list[int], str, str | None]) -> int:
    chunks, out, until = args
    deadline = _deadline(until)
    done = 0
    for c in chunks:
        path = Path(out) / f"chunk-{c:05d}.json"
        if path.exists():
            continue
        if deadline and dt.datetime.now(dt.UTC) >= deadline:
            break
        res = run_chunk(c)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(res, indent=1))
        tmp.replace(path)  # a chunk file is whole or absent
        done += 1
        bad = len(res["mismatches"])
        print(f"chunk {c}: {res['ran']}/{res['programs']} ran, {bad} mismatches, {res['seconds']} s "
              f"{res['phases']}", flush=True)
    return done


def cmd_run(a) -> None:
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    chunks = list(range(a.first, a.first + a.chunks))
    if a.workers <= 1:
        _worker((chunks, str(out), a.until))
        return
    from concurrent.futures import ProcessPoolExecutor
    # interleaved, so both workers move through the seed range together
    parts = [(chunks[i::a.workers], str(out), a.until) for i in range(a.workers)]
    with ProcessPoolExecutor(a.workers) as ex:
        list(ex.map(_worker, parts))


def summary(out: Path) -> dict:
    files = sorted(out.glob("chunk-*.json"))
    tot = dict.fromkeys(PHASES, 0.0)
    programs = ran = steps = 0
    mism: list[dict] = []
    chunks = []
    backends: dict[str, int] = {}
    for f in files:
        r = json.loads(f.read_text())
        chunks.append(r["chunk"])
        programs += r["programs"]
        ran += r["ran"]
        steps += r["packet_steps"]
        backends[r["backend"]] = backends.get(r["backend"], 0) + r["ran"]
        mism += r["mismatches"]
        for k in PHASES:
            tot[k] += r["phases"][k]
    cpu = sum(tot.values())
    return {"chunks": len(files), "chunk_range": [min(chunks), max(chunks)] if chunks else None,
            "contiguous": chunks == list(range(min(chunks), max(chunks) + 1)) if chunks else True,
            "programs": programs, "ran": ran, "by_backend": backends, "mismatches": len(mism),
            "mismatch_seeds": [m["seed"] for m in mism], "packet_steps": steps,
            "seconds": round(cpu, 1), "ms_per_program": round(1000 * cpu / max(programs, 1), 1),
            "phase_share": {k: round(v / cpu, 3) if cpu else 0 for k, v in tot.items()}}


def cmd_show(a) -> None:
    src = cgen.program(a.seed, small=a.seed < SEED_BASE)
    print(src)
    with tempfile.TemporaryDirectory() as d:
        (out, status), = gcc_outputs([a.seed], Path(d), small=a.seed < SEED_BASE)
    print(f"gcc: {out!r} status {status}")
    try:
        module = driver.compile_source(src, f"<fuzz {a.seed}>")
    except CompileError as e:
        print(f"ours: compile error {e}")
        return
    o = run(build(module, lane_size=FUZZ_LANE, stack_size=FUZZ_STACK), [[b"prog"]], max_steps=5_000_000)[0][0]
    print(f"ours: {o.stdout!r} status {o.status} fault {o.fault}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--out", required=True)
    r.add_argument("--first", type=int, default=0)
    r.add_argument("--chunks", type=int, default=1000)
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("--until", help="UTC HH:MM after which no new chunk starts")
    s = sub.add_parser("summary")
    s.add_argument("--out", required=True)
    e = sub.add_parser("export", help="all chunk files as one JSON-lines file (one line per chunk)")
    e.add_argument("--out", required=True)
    e.add_argument("--to", required=True)
    w = sub.add_parser("show")
    w.add_argument("seed", type=int)
    a = p.parse_args()
    if a.cmd == "run":
        cmd_run(a)
    elif a.cmd == "summary":
        print(json.dumps(summary(Path(a.out)), indent=1))
    elif a.cmd == "export":
        lines = [json.dumps(json.loads(f.read_text()), separators=(",", ":"))
                 for f in sorted(Path(a.out).glob("chunk-*.json"))]
        Path(a.to).write_text("\n".join(lines) + "\n")
    else:
        cmd_show(a)


if __name__ == "__main__":
    main()
