"""binary32 <-> binary64 through memory on the fabric (the back end builds these from integer ops):
random float32 bit patterns, subnormals, zeros, infinities and NaNs, checked against numpy's conversion."""

from __future__ import annotations

import numpy as np

from packetfs.compute.compiler.driver import compile_source
from packetfs.compute.compiler.execute import build, run

SRC = r"""
#include <stdio.h>
#include <stdlib.h>
union f { float f; unsigned u; };
union d { double d; unsigned long u; };
int main(int argc, char **argv) {
    union f in, back;
    union d wide;
    in.u = (unsigned)strtoul(argv[1], 0, 16);
    wide.d = in.f;           /* load binary32, widen */
    back.f = (float)wide.d;  /* store binary32 */
    printf("%016lx %08x\n", wide.u, back.u);
    return 0;
}
"""


def test_float32_widen_and_store_match_numpy():
    rng = np.random.default_rng(7)
    patterns = [0, 0x80000000, 1, 0x80000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0x7F800000, 0xFF800000,
                0x7FC00000, 0x7F800001, 0x3F800000, 0xC0490FDB]
    patterns += [int(x) for x in rng.integers(0, 1 << 32, 51, dtype=np.uint64)]
    patterns += [int(x) for x in rng.integers(1, 1 << 23, 16, dtype=np.uint64)]  # subnormals
    compiled = build(compile_source(SRC, "fb.c"), lane_size=1 << 16, stack_size=1 << 14)
    outcomes, _ = run(compiled, [[b"fb", f"{p:x}".encode()] for p in patterns], placement="any",
                      lane_units=None)
    for p, o in zip(patterns, outcomes, strict=True):
        f = np.array([p], dtype=np.uint32).view(np.float32)
        wide = int(f.astype(np.float64).view(np.uint64)[0])
        if np.isnan(f[0]):
            got_wide, got_back = (int(x, 16) for x in o.stdout.split())
            assert got_wide >> 52 & 0x7FF == 0x7FF and got_wide & ((1 << 52) - 1)  # a NaN stays a NaN
            assert got_back & 0x7F800000 == 0x7F800000 and got_back & 0x7FFFFF
            continue
        assert o.stdout.decode() == f"{wide:016x} {p:08x}\n", hex(p)
