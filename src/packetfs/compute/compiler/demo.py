"""`make run` demo: compile a small C program and run it on the packet fabric, then run one function over
a batch of inputs as parallel packets."""

from __future__ import annotations

import time
from pathlib import Path

DEMO_C = r"""
#include <stdio.h>
#include <stdlib.h>

struct point { int x, y; };

static struct point step(struct point p, int i) {  /* structs by value */
    struct point q = { p.x + i * i, p.y - i };
    return q;
}

static unsigned gcd(unsigned a, unsigned b) { return b ? gcd(b, a % b) : a; }  /* recursion */

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 6;
    struct point p = {0, 0};
    for (int i = 1; i <= n; i++) p = step(p, i);
    printf("n=%d point=(%d,%d) gcd(%u,%u)=%u\n", n, p.x, p.y, 1071u, 462u, gcd(1071u, 462u));
    return n;
}
"""


def demo(out_dir: Path) -> None:
    from .codegen import to_bytes
    from .driver import compile_source
    from .execute import BATCH_LANE, BATCH_STACK, build, run

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / "demo.c"
    src.write_text(DEMO_C)
    t0 = time.perf_counter()
    compiled = build(compile_source(DEMO_C, str(src)))
    (out_dir / "demo.pfx").write_bytes(to_bytes(compiled))
    t1 = time.perf_counter()
    print(f"packetfs compile {src.name}: {len(compiled.code)} packet instructions, "
          f"{len(compiled.module.functions)} functions (libc included, written in C), {t1 - t0:.2f} s")
    (outcome,), result = run(compiled, [[b"demo", b"6"]], backend="inline", nodes=2)
    s = result.stats
    print(f"packetfs run demo.pfx --nodes 2 -- 6: {outcome.stdout.decode().strip()!r}, exit status {outcome.status}")
    print(f"  {s.steps} packet steps, {s.hops} hops between the 2 nodes (calls, returns and memory are routing), "
          f"{s.seconds:.2f} s")
    batch = build(compile_source(DEMO_C, str(src)), lane_size=BATCH_LANE, stack_size=BATCH_STACK)
    argvs = [[b"demo", str(k).encode()] for k in range(1, 9)]
    outcomes, result = run(batch, argvs, backend="inline", nodes=2, placement="any")
    print(f"packetfs run demo.c --batch (8 instances of main as 8 parallel packets): "
          f"{result.stats.steps} steps in {result.stats.seconds:.2f} s")
    for argv, o in zip(argvs, outcomes, strict=True):
        print(f"  argv[1]={argv[1].decode()}: {o.stdout.decode().strip()} (exit {o.status})")
