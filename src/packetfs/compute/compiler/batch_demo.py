"""`make run` demo of `--batch` on the lane executor: one C function over 65,536 inputs, beside the same
loop in CPython (same run), outputs compared byte for byte. A few seconds."""

from __future__ import annotations

import time
from pathlib import Path

DEMO_C = r"""
#include <stdio.h>
static unsigned long mix(unsigned long x) {   /* murmur3's 64-bit finaliser, 8 rounds */
    for (int r = 0; r < 8; r++) { x ^= x >> 33; x *= 0xff51afd7ed558ccdUL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53UL; x ^= x >> 33; }
    return x;
}
int main(int argc, char **argv) {
    unsigned long x = 0;
    for (const char *p = argv[1]; *p; p++) x = x * 10 + (unsigned long)(*p - '0');
    printf("%lu\n", mix(x));
    return 0;
}
"""


def _python_loop(lines: list[str]) -> bytes:
    m = 0xFFFFFFFFFFFFFFFF
    out = []
    for line in lines:
        x = int(line)
        for _ in range(8):
            x ^= x >> 33
            x = (x * 0xFF51AFD7ED558CCD) & m
            x ^= x >> 33
            x = (x * 0xC4CEB9FE1A85EC53) & m
            x ^= x >> 33
        out.append(f"{x}\n")
    return "".join(out).encode()


def demo(out_dir: Path, n: int = 65_536) -> None:
    from .batch import ArgvTable, run_batch
    from .driver import compile_source
    from .execute import BATCH_LANE, BATCH_STACK, build

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "mix.c").write_text(DEMO_C)
    data = "".join(f"{10**11 + k * 2654435761 % (9 * 10**11)}\n" for k in range(n)).encode()
    (out_dir / "inputs.txt").write_bytes(data)
    compiled = build(compile_source(DEMO_C, "mix.c"), lane_size=BATCH_LANE, stack_size=BATCH_STACK)
    print(f"packetfs run mix.c --batch inputs.txt: {n:,} instances of main as lanes of the lane executor")
    run_batch(compiled, ArgvTable.from_text(data, b"mix"))  # warm: lane memory pages and decoded code
    t0, c0 = time.perf_counter(), time.process_time()
    out = run_batch(compiled, ArgvTable.from_text(data, b"mix"))
    t_fab, c_fab = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    expected = _python_loop(data.decode().splitlines())
    t_py, c_py = time.perf_counter() - t0, time.process_time() - c0
    (out_dir / "outputs.txt").write_bytes(out.stdout)
    print(f"  lane executor {t_fab:.2f} s ({n / t_fab:,.0f} inputs/s, {out.steps / n:.0f} packet steps each, "
          f"{out.machines} lane machine(s)); CPython loop {t_py:.2f} s: {t_py / t_fab:.1f}x wall, "
          f"{c_py / c_fab:.1f}x by CPU time; outputs equal: {out.stdout == expected}")
    print(f"  first lines: {out.stdout[:60].decode().splitlines()[:3]} (all in {out_dir / 'outputs.txt'})")
