"""Differential fuzzing against gcc: random well-defined C programs (ccgen.py), built by gcc -O0 and by
us, run on the fabric (many programs per fabric run, one memory lane and entry each): same stdout and exit
status, 0 mismatches. 2,000 small programs in `make test` (20 chunks of 100, spread by xdist); 100,000
bigger ones in the slow mode; some on the local backend. The long run is fuzzrun.py (the same seeds, chunk
by chunk with a results file each, so it stops and resumes)."""

from __future__ import annotations

import os

import pytest
from ccharness import fuzz_chunk

CHUNK = 100


@pytest.mark.parametrize("chunk", range(20))
def test_fuzz_2000_programs_inline(gcc, chunk):
    seeds = list(range(chunk * CHUNK, (chunk + 1) * CHUNK))
    assert fuzz_chunk((seeds, "inline", 1)) == []


def test_fuzz_programs_local_backend(gcc):
    seeds = list(range(50_000, 50_030))
    assert fuzz_chunk((seeds, "local", 2)) == []


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(int(os.environ.get("PACKETFS_FUZZ_SLOW_FIRST", "0")),
                                         int(os.environ.get("PACKETFS_FUZZ_SLOW_FIRST", "0"))
                                         + int(os.environ.get("PACKETFS_FUZZ_SLOW_CHUNKS", "1000"))))
def test_fuzz_100000_programs_slow(gcc, chunk):
    seeds = list(range(1_000_000 + chunk * CHUNK, 1_000_000 + (chunk + 1) * CHUNK))
    assert fuzz_chunk((seeds, "inline", 1, False)) == []  # bigger programs than make test's
