"""The pull-move kernel in C, compiled on first use with the system's C compiler and loaded with ctypes.

Same moves, same Metropolis rule and the same site encoding as ``search.run_replica_steps`` (the Python
kernel); only the random stream differs (xoshiro256** seeded by splitmix64 here, Python's Mersenne
Twister there), so each kernel is deterministic on its own and a run names the kernel it used. The
occupancy map is an open-addressing hash table (linear probing, backward-shift deletion) of the encoded
sites. The shared object is cached under $XDG_CACHE_HOME/packetfs (or ~/.cache/packetfs), named by the
hash of its source, built once under a file lock. Without a compiler ``load()`` returns None and the
Python kernel is used.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static uint64_t s_[4];
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static inline uint64_t next64(void) {
    uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0]; s_[3] ^= s_[1]; s_[1] ^= s_[2]; s_[0] ^= s_[3]; s_[2] ^= t; s_[3] = rotl(s_[3], 45);
    return r;
}
static inline double urand(void) { return (double)(next64() >> 11) * (1.0 / 9007199254740992.0); }
static inline int irand(int n) { return (int)(urand() * n); }
static void seed_rng(uint64_t x) {
    for (int i = 0; i < 4; i++) {
        uint64_t z = (x += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull; z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        s_[i] = z ^ (z >> 31);
    }
}

static int64_t *keys; static int32_t *vals; static uint32_t mask;
#define EMPTY INT64_MIN
static inline uint32_t slot(int64_t k) { return (uint32_t)(((uint64_t)k * 0x9E3779B97F4A7C15ull) >> 40) & mask; }
static inline int32_t tget(int64_t k) {
    for (uint32_t i = slot(k); keys[i] != EMPTY; i = (i + 1) & mask) if (keys[i] == k) return vals[i];
    return -1;
}
static inline void tput(int64_t k, int32_t v) {
    uint32_t i = slot(k);
    while (keys[i] != EMPTY && keys[i] != k) i = (i + 1) & mask;
    keys[i] = k; vals[i] = v;
}
static inline void tdel(int64_t k) {
    uint32_t i = slot(k);
    while (keys[i] != k) { if (keys[i] == EMPTY) return; i = (i + 1) & mask; }
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (keys[j] == EMPTY) break;
        uint32_t h = slot(keys[j]);
        int move = (i <= j) ? (h <= i || h > j) : (h <= i && h > j);
        if (move) { keys[i] = keys[j]; vals[i] = vals[j]; i = j; }
    }
    keys[i] = EMPTY;
}

/* io: [energy, best, accepted]. Returns 0, or -1 when memory runs out. */
int pfs_pull_steps(int n, const uint8_t *is_h, int nd, const int64_t *off, int64_t *sites, int64_t *best_sites,
                   long steps, double beta, uint64_t seed, int64_t *io) {
    uint32_t cap = 16; while (cap < 4u * (uint32_t)n) cap <<= 1;
    mask = cap - 1;
    keys = malloc(sizeof(int64_t) * cap); vals = malloc(sizeof(int32_t) * cap);
    int32_t *midx = malloc(sizeof(int32_t) * n), *stamp = calloc(n, sizeof(int32_t));
    int64_t *mnew = malloc(sizeof(int64_t) * n), *mold = malloc(sizeof(int64_t) * n);
    if (!keys || !vals || !midx || !stamp || !mnew || !mold) {
        free(keys); free(vals); free(midx); free(stamp); free(mnew); free(mold); return -1;
    }
    for (uint32_t i = 0; i < cap; i++) keys[i] = EMPTY;
    for (int i = 0; i < n; i++) tput(sites[i], i);
    int64_t energy = io[0], best = io[1], accepted = io[2];
    int32_t cur = 0;
    seed_rng(seed);
    for (long step = 0; step < steps; step++) {
        int i = irand(n);
        int s = urand() < 0.5 ? -1 : 1;
        int a = i - s, prev = i + s, m = 0;
        int64_t new_i, corner;
        if (a >= 0 && a < n) {
            int64_t anchor = sites[a], old_i = sites[i], v = old_i - anchor, perp[4];
            int np = 0;
            for (int d = 0; d < nd; d++) if (off[d] != v && off[d] != -v) perp[np++] = off[d];
            int64_t u = perp[irand(nd - 2)];
            new_i = anchor + u;
            if (tget(new_i) >= 0) continue;
            corner = old_i + u;
            if (prev < 0 || prev >= n || corner == sites[prev]) {
                int64_t delta = 0;
                if (is_h[i]) for (int d = 0; d < nd; d++) {
                    int32_t j = tget(old_i + off[d]);
                    if (j >= 0 && is_h[j] && (j > i + 1 || j < i - 1)) delta++;
                    j = tget(new_i + off[d]);
                    if (j >= 0 && is_h[j] && (j > i + 1 || j < i - 1)) delta--;
                }
                if (delta <= 0 || urand() < exp(-(double)delta * beta)) {
                    tdel(old_i); sites[i] = new_i; tput(new_i, i);
                    energy += delta; accepted++;
                    if (energy < best) { best = energy; memcpy(best_sites, sites, sizeof(int64_t) * n); }
                }
                continue;
            }
            if (tget(corner) >= 0) continue;
        } else {
            corner = sites[i] + off[irand(nd)];
            if (tget(corner) >= 0) continue;
            new_i = corner + off[irand(nd)];
            if (new_i == sites[i] || tget(new_i) >= 0) continue;
        }
        midx[m] = i; mnew[m++] = new_i;
        midx[m] = prev; mnew[m++] = corner;
        int64_t last = corner;
        for (int j = prev + s; j >= 0 && j < n; j += s) {
            int64_t diff = sites[j] - last; int adj = 0;
            for (int d = 0; d < nd; d++) if (diff == off[d]) { adj = 1; break; }
            if (adj) break;
            last = sites[j - 2 * s];
            midx[m] = j; mnew[m++] = last;
        }
        cur++;
        for (int q = 0; q < m; q++) stamp[midx[q]] = cur;
        int64_t twice = 0;
        for (int q = 0; q < m; q++) {
            int k = midx[q]; if (!is_h[k]) continue;
            for (int d = 0; d < nd; d++) {
                int32_t j = tget(sites[k] + off[d]);
                if (j >= 0 && is_h[j] && (j > k + 1 || j < k - 1)) twice += stamp[j] == cur ? 1 : 2;
            }
        }
        for (int q = 0; q < m; q++) { mold[q] = sites[midx[q]]; tdel(mold[q]); }
        for (int q = 0; q < m; q++) { sites[midx[q]] = mnew[q]; tput(mnew[q], midx[q]); }
        for (int q = 0; q < m; q++) {
            int k = midx[q]; if (!is_h[k]) continue;
            for (int d = 0; d < nd; d++) {
                int32_t j = tget(sites[k] + off[d]);
                if (j >= 0 && is_h[j] && (j > k + 1 || j < k - 1)) twice -= stamp[j] == cur ? 1 : 2;
            }
        }
        int64_t delta = twice / 2;
        if (delta <= 0 || urand() < exp(-(double)delta * beta)) {
            energy += delta; accepted++;
            if (energy < best) { best = energy; memcpy(best_sites, sites, sizeof(int64_t) * n); }
        } else {
            for (int q = 0; q < m; q++) tdel(sites[midx[q]]);
            for (int q = 0; q < m; q++) { sites[midx[q]] = mold[q]; tput(mold[q], midx[q]); }
        }
    }
    io[0] = energy; io[1] = best; io[2] = accepted;
    free(keys); free(vals); free(midx); free(stamp); free(mnew); free(mold);
    return 0;
}
"""

_lib: ctypes.CDLL | None = None
_tried = False


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "packetfs"


def load() -> ctypes.CDLL | None:
    """The compiled kernel, building it once if needed; None when no C compiler works here."""
    global _lib, _tried
    if _tried:
        return _lib
    _tried = True
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    digest = hashlib.sha256(SOURCE.encode()).hexdigest()[:16]
    try:
        folder = _cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"pullmoves-{digest}.so"
        if not target.exists():
            with open(folder / "pullmoves.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not target.exists():
                    with tempfile.TemporaryDirectory(dir=folder) as tmp:
                        src = Path(tmp) / "pullmoves.c"
                        src.write_text(SOURCE)
                        out = Path(tmp) / "pullmoves.so"
                        subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(src), "-lm"],
                                       check=True, capture_output=True, timeout=120)
                        os.replace(out, target)
        lib = ctypes.CDLL(str(target))
    except (OSError, subprocess.SubprocessError):
        return None
    fn = lib.pfs_pull_steps
    p64 = ctypes.POINTER(ctypes.c_int64)
    fn.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint8), ctypes.c_int, p64, p64, p64, ctypes.c_long,
                   ctypes.c_double, ctypes.c_uint64, p64]
    fn.restype = ctypes.c_int
    _lib = lib
    return _lib


def pull_steps(sequence: str, offsets: tuple[int, ...], sites: list[int], best_sites: list[int], steps: int,
               beta: float, seed: int, energy: int, best: int) -> tuple[list[int], list[int], int, int, int]:
    """Run the C kernel: (sites, best_sites, energy, best, accepted)."""
    lib = load()
    if lib is None:
        raise RuntimeError("the C pull-move kernel is not available (no C compiler)")
    n = len(sequence)
    is_h = np.frombuffer(sequence.encode(), dtype=np.uint8) == ord("H")
    h = np.ascontiguousarray(is_h, dtype=np.uint8)
    off = np.array(offsets, dtype=np.int64)
    s = np.array(sites, dtype=np.int64)
    b = np.array(best_sites, dtype=np.int64)
    io = np.array([energy, best, 0], dtype=np.int64)
    p64 = ctypes.POINTER(ctypes.c_int64)
    rc = lib.pfs_pull_steps(n, h.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), len(off), off.ctypes.data_as(p64),
                            s.ctypes.data_as(p64), b.ctypes.data_as(p64), steps, beta, seed & (2**64 - 1),
                            io.ctypes.data_as(p64))
    if rc != 0:
        raise MemoryError("the C pull-move kernel could not allocate its tables")
    return s.tolist(), b.tolist(), int(io[0]), int(io[1]), int(io[2])
