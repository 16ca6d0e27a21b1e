"""The replica-exchange pull-move kernel in C, compiled on first use with the system's C compiler and
loaded with ctypes.

One call advances one ladder (search.Ensemble) by a number of sweeps: each replica makes ``phi`` pull moves
at its temperature, then neighbouring temperatures try to swap. Same moves, same Metropolis rule and the
same site encoding as the Python kernel (``search.run_replica_steps``/``search.exchange``); only the
random stream differs (xoshiro256** seeded by splitmix64 here, Python's Mersenne Twister there), so each
kernel is deterministic on its own and a run names the kernel it used.

Occupancy is a torus grid of 2-byte cells (256 x 256 in 2d, 32 x 32 x 32 in 3d: 128 KB / 64 KB, cache
resident) holding 1 + the residue index; a lookup checks the residue's exact site, so a chain spanning the
torus cannot alias itself (see the comment in the source). Per-call state lives on the stack and in the
call's own allocations: calls from several threads do not interfere. The shared object is cached under
$XDG_CACHE_HOME/packetfs (or ~/.cache/packetfs), named by the hash of its source, built once under a file
lock. Without a compiler ``load()`` returns None and the Python kernel is used.
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
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:
    from .search import Ensemble

SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

typedef struct { uint64_t s[4]; } rng_t;
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static inline uint64_t next64(rng_t *g) {
    uint64_t *s = g->s, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return r;
}
static inline double urand(rng_t *g) { return (double)(next64(g) >> 11) * (1.0 / 9007199254740992.0); }
static inline int irand(rng_t *g, int n) { return (int)(((next64(g) >> 32) * (uint64_t)n) >> 32); }
static void seed_rng(rng_t *g, uint64_t x) {
    for (int i = 0; i < 4; i++) {
        uint64_t z = (x += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull; z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        g->s[i] = z ^ (z >> 31);
    }
}

/* Sites are x + y*2^16 + z*2^32 (each coordinate offset by 2^15), as in lattice.py. The occupancy grid is a
   torus of side L (a power of two): cell(p) keeps the low bits of each coordinate and holds 1 + the index of
   the residue there. Two different sites can share a cell only when the chain spans L or more along an axis;
   such a cell reads as taken (the move is refused) and a neighbour is a contact only when the residue's exact
   site matches, so the walk stays self-avoiding and the energy exact whatever the chain's extent. */
typedef struct {
    int n, nd, bits; int64_t m; const uint8_t *h; int64_t off[6]; uint16_t *grid; int64_t *sites;
    int32_t *midx, *stamp, cur; int64_t *mnew, *mold;
} ctx_t;

static inline uint32_t cell(const ctx_t *c, int64_t p) {
    return (uint32_t)((p & c->m) | (((p >> 16) & c->m) << c->bits) | (((p >> 32) & c->m) << (2 * c->bits)));
}
static inline int taken(const ctx_t *c, int64_t p) { return c->grid[cell(c, p)] != 0; }
static inline int who(const ctx_t *c, int64_t p) {
    int v = c->grid[cell(c, p)] - 1;
    return (v >= 0 && c->sites[v] == p) ? v : -1;
}
static inline int hh(const ctx_t *c, int k, int64_t p) {  /* HH contacts of H residue k if it sat at p */
    int t = 0;
    for (int d = 0; d < c->nd; d++) {
        int j = who(c, p + c->off[d]);
        if (j >= 0 && c->h[j] && (j > k + 1 || j < k - 1)) t++;
    }
    return t;
}

/* One Metropolis step of a random pull move; returns 1 when accepted. */
static int pull_step(ctx_t *c, rng_t *g, double beta, const double *boltz, int64_t *energy) {
    int n = c->n, nd = c->nd, i = irand(g, n), s = (next64(g) >> 63) ? -1 : 1, a = i - s, prev = i + s, m = 0;
    int64_t *sites = c->sites, new_i, corner;
    if (a >= 0 && a < n) {
        int64_t anchor = sites[a], old_i = sites[i], v = old_i - anchor, perp[4];
        int np = 0;
        for (int d = 0; d < nd; d++) if (c->off[d] != v && c->off[d] != -v) perp[np++] = c->off[d];
        int64_t u = perp[irand(g, np)];
        new_i = anchor + u;
        if (taken(c, new_i)) return 0;
        corner = old_i + u;
        if (prev < 0 || prev >= n || corner == sites[prev]) {
            int64_t delta = c->h[i] ? hh(c, i, old_i) - hh(c, i, new_i) : 0;
            if (delta <= 0 || urand(g) < (delta < 8 ? boltz[delta] : exp(-beta * delta))) {
                c->grid[cell(c, old_i)] = 0; sites[i] = new_i; c->grid[cell(c, new_i)] = (uint16_t)(i + 1);
                *energy += delta;
                return 1;
            }
            return 0;
        }
        if (taken(c, corner)) return 0;
    } else {
        corner = sites[i] + c->off[irand(g, nd)];
        if (taken(c, corner)) return 0;
        new_i = corner + c->off[irand(g, nd)];
        if (new_i == sites[i] || taken(c, new_i)) return 0;
    }
    int32_t *midx = c->midx; int64_t *mnew = c->mnew, *mold = c->mold;
    midx[m] = i; mnew[m++] = new_i;
    midx[m] = prev; mnew[m++] = corner;
    int64_t last = corner;
    for (int j = prev + s; j >= 0 && j < n; j += s) {
        int64_t diff = sites[j] - last; int adj = 0;
        for (int d = 0; d < nd; d++) if (diff == c->off[d]) { adj = 1; break; }
        if (adj) break;
        last = sites[j - 2 * s];
        midx[m] = j; mnew[m++] = last;
    }
    int32_t cur = ++c->cur;
    if (cur == INT32_MAX) { memset(c->stamp, 0, sizeof(int32_t) * n); c->cur = cur = 1; }
    for (int q = 0; q < m; q++) c->stamp[midx[q]] = cur;
    int64_t twice = 0;
    for (int q = 0; q < m; q++) {
        int k = midx[q]; if (!c->h[k]) continue;
        for (int d = 0; d < nd; d++) {
            int j = who(c, sites[k] + c->off[d]);
            if (j >= 0 && c->h[j] && (j > k + 1 || j < k - 1)) twice += c->stamp[j] == cur ? 1 : 2;
        }
    }
    for (int q = 0; q < m; q++) { mold[q] = sites[midx[q]]; c->grid[cell(c, mold[q])] = 0; }
    for (int q = 0; q < m; q++) { sites[midx[q]] = mnew[q]; c->grid[cell(c, mnew[q])] = (uint16_t)(midx[q] + 1); }
    for (int q = 0; q < m; q++) {
        int k = midx[q]; if (!c->h[k]) continue;
        for (int d = 0; d < nd; d++) {
            int j = who(c, sites[k] + c->off[d]);
            if (j >= 0 && c->h[j] && (j > k + 1 || j < k - 1)) twice -= c->stamp[j] == cur ? 1 : 2;
        }
    }
    int64_t delta = twice / 2;
    if (delta <= 0 || urand(g) < (delta < 8 ? boltz[delta] : exp(-beta * delta))) { *energy += delta; return 1; }
    for (int q = 0; q < m; q++) c->grid[cell(c, sites[midx[q]])] = 0;
    for (int q = 0; q < m; q++) { sites[midx[q]] = mold[q]; c->grid[cell(c, mold[q])] = (uint16_t)(midx[q] + 1); }
    return 0;
}

#define ORIGIN ((int64_t)32768 + ((int64_t)32768 << 16) + ((int64_t)32768 << 32))

/* Place a conformation in the grid (translated so residue 0 sits at the origin); -2 if two residues share a
   cell (a chain spanning L or more: refused, the caller's conformation is left as it was). */
static int load(ctx_t *c, int64_t *sites) {
    int64_t shift = sites[0] - ORIGIN;
    for (int k = 0; k < c->n; k++) sites[k] -= shift;
    for (int k = 0; k < c->n; k++) {
        uint32_t q = cell(c, sites[k]);
        if (c->grid[q]) {
            for (int j = 0; j < k; j++) c->grid[cell(c, sites[j])] = 0;
            return -2;
        }
        c->grid[q] = (uint16_t)(k + 1);
    }
    c->sites = sites;
    return 0;
}
static void unload(ctx_t *c) { for (int k = 0; k < c->n; k++) c->grid[cell(c, c->sites[k])] = 0; }

static int setup(ctx_t *c, int n, const uint8_t *is_h, int nd, const int64_t *off) {
    memset(c, 0, sizeof *c);
    c->n = n; c->nd = nd; c->h = is_h;
    for (int d = 0; d < nd; d++) c->off[d] = off[d];
    c->bits = nd == 4 ? 8 : 5;
    c->m = (1 << c->bits) - 1;
    size_t cells = (size_t)1 << (c->bits * (nd == 4 ? 2 : 3));
    c->grid = calloc(cells, sizeof(uint16_t));
    c->midx = malloc(sizeof(int32_t) * n); c->stamp = calloc(n, sizeof(int32_t));
    c->mnew = malloc(sizeof(int64_t) * n); c->mold = malloc(sizeof(int64_t) * n);
    return (c->grid && c->midx && c->stamp && c->mnew && c->mold) ? 0 : -1;
}
static void teardown(ctx_t *c) { free(c->grid); free(c->midx); free(c->stamp); free(c->mnew); free(c->mold); }

static void boltz_table(double beta, double *t) { for (int d = 0; d < 8; d++) t[d] = exp(-beta * d); }

/* One ladder of R replicas (slot r at inverse temperature betas[r], conformation sites[r*n ...], energy[r]):
   `sweeps` times, each replica makes `phi` pull-move steps, then neighbouring slots try to swap
   conformations (even pairs on even sweeps, odd on odd). best_sites/io[0] keep the ladder's best;
   io: [0] best energy (in/out), [1] stop when best <= this, [2] accepted moves, [3] swaps tried, [4] swaps
   made, [5] sweeps done, [6] sweep counter (in/out, sets the swap parity), [7] pull-move steps made. Returns 0, -1 (no memory),
   -2 (a conformation spans the grid). */
int pfs_remc(int n, const uint8_t *is_h, int nd, const int64_t *off, int R, const double *betas, int64_t *sites,
             int64_t *energy, int64_t *best_sites, int64_t *io, long sweeps, long phi, uint64_t seed) {
    ctx_t c; rng_t g;
    if (setup(&c, n, is_h, nd, off) != 0) { teardown(&c); return -1; }
    double *boltz = malloc(sizeof(double) * 8 * (size_t)R);
    if (!boltz) { teardown(&c); return -1; }
    for (int r = 0; r < R; r++) boltz_table(betas[r], boltz + 8 * r);
    seed_rng(&g, seed);
    int64_t best = io[0], target = io[1], accepted = 0, tried = 0, made = 0, counter = io[6], steps = 0;
    long done = 0;
    int rc = 0;
    for (; done < sweeps && best > target; done++, counter++) {
        for (int r = 0; r < R && best > target; r++) {
            int64_t *sr = sites + (size_t)r * n;
            if ((rc = load(&c, sr)) != 0) goto out;
            int64_t e = energy[r];
            for (long k = 0; k < phi; k++) {
                steps++;
                if (pull_step(&c, &g, betas[r], boltz + 8 * r, &e)) {
                    accepted++;
                    if (e < best) { best = e; memcpy(best_sites, sr, sizeof(int64_t) * n); if (best <= target) break; }
                }
            }
            energy[r] = e;
            unload(&c);
        }
        for (int r = (int)(counter & 1); r + 1 < R; r += 2) {
            double x = (betas[r] - betas[r + 1]) * (double)(energy[r] - energy[r + 1]);
            tried++;
            if (x >= 0 || urand(&g) < exp(x)) {
                made++;
                int64_t *a = sites + (size_t)r * n, *b = a + n, t;
                for (int k = 0; k < n; k++) { t = a[k]; a[k] = b[k]; b[k] = t; }
                t = energy[r]; energy[r] = energy[r + 1]; energy[r + 1] = t;
            }
        }
    }
out:
    io[0] = best; io[2] = accepted; io[3] = tried; io[4] = made; io[5] = done; io[6] = counter; io[7] = steps;
    free(boltz); teardown(&c);
    return rc;
}
"""

# -O3 makes ~11% more pull moves per CPU-second than -O2 here (9.2 vs 8.3 M); no fast-math, so every
# floating-point result (the Boltzmann table, the exchange test) is the same as at -O2.
CFLAGS = ("-O3", "-shared", "-fPIC")
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
    digest = hashlib.sha256((SOURCE + " ".join(CFLAGS)).encode()).hexdigest()[:16]
    try:
        folder = _cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"remc-{digest}.so"
        if not target.exists():
            with open(folder / "remc.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not target.exists():
                    with tempfile.TemporaryDirectory(dir=folder) as tmp:
                        src = Path(tmp) / "remc.c"
                        src.write_text(SOURCE)
                        out = Path(tmp) / "remc.so"
                        subprocess.run([cc, *CFLAGS, "-o", str(out), str(src), "-lm"],
                                       check=True, capture_output=True, timeout=120)
                        os.replace(out, target)
        lib = ctypes.CDLL(str(target))
    except (OSError, subprocess.SubprocessError):
        return None
    fn = lib.pfs_remc
    p64 = ctypes.POINTER(ctypes.c_int64)
    fn.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint8), ctypes.c_int, p64, ctypes.c_int,
                   ctypes.POINTER(ctypes.c_double), p64, p64, p64, p64, ctypes.c_long, ctypes.c_long,
                   ctypes.c_uint64]
    fn.restype = ctypes.c_int
    _lib = lib
    return _lib


def _call(sequence: str, offsets: tuple[int, ...], betas: list[float], sites: np.ndarray, energies: np.ndarray,
          best_sites: np.ndarray, io: np.ndarray, sweeps: int, phi: int, seed: int) -> None:
    lib = load()
    if lib is None:
        raise RuntimeError("the C pull-move kernel is not available (no C compiler)")
    h = np.ascontiguousarray(np.frombuffer(sequence.encode(), dtype=np.uint8) == ord("H"), dtype=np.uint8)
    off = np.array(offsets, dtype=np.int64)
    b = np.array(betas, dtype=np.float64)
    p64 = ctypes.POINTER(ctypes.c_int64)
    rc = lib.pfs_remc(len(sequence), h.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), len(off),
                      off.ctypes.data_as(p64), len(b), b.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                      sites.ctypes.data_as(p64), energies.ctypes.data_as(p64), best_sites.ctypes.data_as(p64),
                      io.ctypes.data_as(p64), sweeps, phi, seed & (2**64 - 1))
    if rc == -1:
        raise MemoryError("the C pull-move kernel could not allocate its tables")
    if rc == -2:
        raise InputError("a conformation spans more lattice sites along one axis than the C kernel's grid holds")


def run_ensemble(ens: Ensemble, sequence: str, offsets: tuple[int, ...], sweeps: int, phi: int, seed: int,
                 target: int) -> None:
    """Advance ``ens`` in place by up to ``sweeps`` sweeps (fewer when its best reaches ``target``)."""
    reps = ens.replicas
    sites = np.array([r.sites for r in reps], dtype=np.int64)
    energies = np.array([r.energy for r in reps], dtype=np.int64)
    best = np.array(ens.best_sites, dtype=np.int64)
    io = np.array([ens.best_energy, target, 0, 0, 0, 0, ens.sweeps, 0], dtype=np.int64)
    _call(sequence, offsets, [1.0 / r.temperature for r in reps], sites, energies, best, io, sweeps, phi, seed)
    for r, s, e in zip(reps, sites.tolist(), energies.tolist(), strict=True):
        r.sites, r.energy = s, e
    if int(io[0]) < ens.best_energy:
        ens.best_energy, ens.best_sites = int(io[0]), best.tolist()
    ens.accepted += int(io[2])
    ens.swaps_tried += int(io[3])
    ens.swaps_made += int(io[4])
    ens.sweeps = int(io[6])
    ens.steps += int(io[7])


def pull_steps(sequence: str, offsets: tuple[int, ...], sites: list[int], best_sites: list[int], steps: int,
               beta: float, seed: int, energy: int, best: int) -> tuple[list[int], list[int], int, int, int]:
    """One replica alone for ``steps`` pull moves: (sites, best_sites, energy, best, accepted)."""
    s = np.array([sites], dtype=np.int64)
    e = np.array([energy], dtype=np.int64)
    b = np.array(best_sites, dtype=np.int64)
    io = np.array([best, -(1 << 62), 0, 0, 0, 0, 0, 0], dtype=np.int64)
    _call(sequence, offsets, [beta], s, e, b, io, 1, steps, seed)
    return s[0].tolist(), b.tolist(), int(e[0]), int(io[0]), int(io[2])
