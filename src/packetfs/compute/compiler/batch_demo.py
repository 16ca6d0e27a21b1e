"""`make run` demo of `--batch` on the lane executor: one C function over 65,536 inputs, beside the same
loop in CPython (same run), outputs compared byte for byte. A few seconds."""

from __future__ import annotations

import time
from pathlib import Path

# The data-parallel kernel (bench/compiler.py's --batch rows use it too): a 64-bit mixer, murmur3's
# finaliser, iterated ROUNDS times on one decimal input.
MIX_C = r"""
#include <stdio.h>
#ifndef ROUNDS
#define ROUNDS 8
#endif
static unsigned long mix(unsigned long x) {
    for (int r = 0; r < ROUNDS; r++) {
        x ^= x >> 33; x *= 0xff51afd7ed558ccdUL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53UL; x ^= x >> 33;
    }
    return x;
}
int main(int argc, char **argv) {
    unsigned long x = 0;
    for (const char *p = argv[1]; *p; p++) x = x * 10 + (unsigned long)(*p - '0');
    printf("%lu\n", mix(x));
    return 0;
}
"""


def mix_inputs(n: int) -> bytes:
    """A --batch file of ``n`` 12-digit inputs, one per line (fixed width: the lanes stay in lockstep)."""
    return "".join(f"{10**11 + (k * 2654435761) % (9 * 10**11)}\n" for k in range(n)).encode()


def mix_python(data: bytes, rounds: int = 8) -> bytes:
    """The same kernel as a CPython loop, from the same file bytes to the same output bytes."""
    m = 0xFFFFFFFFFFFFFFFF
    out = []
    for line in data.decode().splitlines():
        x = int(line)
        for _ in range(rounds):
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
    (out_dir / "mix.c").write_text(MIX_C)
    data = mix_inputs(n)
    (out_dir / "inputs.txt").write_bytes(data)
    compiled = build(compile_source(MIX_C, "mix.c"), lane_size=BATCH_LANE, stack_size=BATCH_STACK)
    print(f"packetfs run mix.c --batch inputs.txt: {n:,} instances of main as lanes of the lane executor")
    run_batch(compiled, ArgvTable.from_text(data, b"mix"))  # warm: lane memory pages and decoded code
    t0, c0 = time.perf_counter(), time.process_time()
    out = run_batch(compiled, ArgvTable.from_text(data, b"mix"))
    t_fab, c_fab = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    expected = mix_python(data)
    t_py, c_py = time.perf_counter() - t0, time.process_time() - c0
    (out_dir / "outputs.txt").write_bytes(out.stdout)
    print(f"  lane executor {t_fab:.2f} s ({n / t_fab:,.0f} inputs/s, {out.steps / n:.0f} packet steps each, "
          f"{out.machines} lane machine(s)); CPython loop {t_py:.2f} s: {t_py / t_fab:.1f}x wall, "
          f"{c_py / c_fab:.1f}x by CPU time; outputs equal: {out.stdout == expected}")
    print(f"  first lines: {out.stdout[:60].decode().splitlines()[:3]} (all in {out_dir / 'outputs.txt'})")
    if out.stdout != expected:
        raise RuntimeError("the lane executor's outputs differ from the CPython loop's")
