"""Replica-exchange Monte Carlo with pull moves for the HP model (Thachuk, Shmygelska & Hoos, BMC
Bioinformatics 8:342, 2007; pull moves from Lesh, Mitzenmacher & Whitesides, RECOMB 2003, extended to
the cubic lattice as in Thachuk et al.).

One replica is a chain at one temperature. ``run_replica_steps`` advances it by a fixed number of
Metropolis steps with its own seeded generator, so a replica's trajectory depends only on (seed,
replica, round) and never on which fabric node ran it; the exchange step between rounds is seeded the
same way and runs at the coordinator. Hence one seed gives one answer on every backend and node count.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .lattice import energy_of_sites, recenter, site_offsets, straight_sites

# Temperatures of the replicas, in units of one HH contact (k_B = 1), linearly spaced between these
# as in Thachuk et al.; the values were tuned on the 2d and 3d benchmark sequences (see docs/workloads.md).
T_MIN = 0.30
T_MAX = 0.80
# Per lattice (replicas, t_min, t_max): the cubic lattice's larger move space wants more, hotter replicas.
LATTICE_DEFAULTS = {"2d": (10, 0.30, 0.80), "3d": (14, 0.35, 1.00)}


@dataclass
class Replica:
    """One chain of the ensemble. ``sites`` are encoded lattice sites (lattice.encode_site)."""

    index: int
    temperature: float
    sites: list[int]
    energy: int
    best_energy: int
    best_sites: list[int]
    steps: int = 0
    accepted: int = 0


@dataclass
class FoldParams:
    sequence: str
    lattice: str
    replicas: int = 10
    steps_per_round: int = 5000
    rounds: int = 50
    seed: int = 1
    t_min: float = T_MIN
    t_max: float = T_MAX
    target_energy: int | None = None  # stop as soon as a replica reaches it
    kernel: str = "auto"  # "c", "python", or "auto" (C when a compiler is available)

    def temperatures(self) -> list[float]:
        if self.replicas == 1:
            return [self.t_min]
        step = (self.t_max - self.t_min) / (self.replicas - 1)
        return [self.t_min + k * step for k in range(self.replicas)]


@dataclass
class FoldState:
    params: FoldParams
    replicas: list[Replica]
    round: int = 0
    exchanges_tried: int = 0
    exchanges_accepted: int = 0
    history: list[tuple[int, int]] = field(default_factory=list)  # (round, best energy) on improvement

    @property
    def best(self) -> Replica:
        return min(self.replicas, key=lambda r: (r.best_energy, r.index))


def stream_seed(seed: int, *words: int) -> int:
    """A 64-bit seed for one (replica, round) stream: a splitmix64 chain over the words, so streams
    are unrelated for neighbouring inputs and identical wherever they are computed."""
    x = seed & 0xFFFFFFFFFFFFFFFF
    for w in (*words, 0x9E3779B97F4A7C15):
        x = (x + (w & 0xFFFFFFFFFFFFFFFF) + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    return x


def initial_state(params: FoldParams) -> FoldState:
    n = len(params.sequence)
    offsets = site_offsets(params.lattice)
    reps = []
    for k, t in enumerate(params.temperatures()):
        sites = straight_sites(n)
        e = energy_of_sites(params.sequence, sites, offsets)
        reps.append(Replica(k, t, sites, e, e, list(sites)))
    return FoldState(params, reps)


def _contacts_of(moved: dict[int, int], sites: list[int], occ: dict[int, int], is_h: list[bool],
                 offsets: tuple[int, ...]) -> int:
    """HH contacts with at least one residue in ``moved`` (index -> any), under ``occ``."""
    twice = 0
    for k in moved:
        if not is_h[k]:
            continue
        s = sites[k]
        for d in offsets:
            j = occ.get(s + d)
            if j is not None and is_h[j] and (j > k + 1 or j < k - 1):
                twice += 1 if j in moved else 2
    return twice // 2


def run_replica_steps(replica: Replica, sequence: str, lattice: str, steps: int, seed: int,
                      kernel: str = "python") -> None:
    """Advance ``replica`` by ``steps`` Metropolis steps of random pull moves at its temperature, with the
    Python kernel below or the same moves in C (``native.py``; its own random stream)."""
    if kernel == "c":
        from . import native

        sites, best_sites, energy, best, acc = native.pull_steps(
            sequence, site_offsets(lattice), replica.sites, replica.best_sites, steps, 1.0 / replica.temperature,
            seed, replica.energy, replica.best_energy)
        recenter(sites)
        replica.sites, replica.best_sites = sites, best_sites
        replica.energy, replica.best_energy = energy, best
        replica.steps += steps
        replica.accepted += acc
        return
    n = len(sequence)
    is_h = [c == "H" for c in sequence]
    offsets = site_offsets(lattice)
    nd = len(offsets)
    adjacent = frozenset(offsets)
    sites = replica.sites
    occ = {s: i for i, s in enumerate(sites)}
    energy = replica.energy
    best = replica.best_energy
    beta = 1.0 / replica.temperature
    rng = random.Random(seed)
    rand = rng.random
    accepted = 0
    exp = math.exp

    # Directions perpendicular to each bond: where a pulled residue may go next to its anchor.
    perpendicular = {v: tuple(u for u in offsets if u != v and u != -v) for v in offsets}
    n_perp = nd - 2

    for _ in range(steps):
        i = int(rand() * n)
        s = -1 if rand() < 0.5 else 1
        a = i - s  # the anchor the pulled residue stays next to
        prev = i + s  # the first follower
        if 0 <= a < n:
            anchor = sites[a]
            old_i = sites[i]
            u = perpendicular[old_i - anchor][int(rand() * n_perp)]
            new_i = anchor + u
            if new_i in occ:
                continue
            corner = old_i + u
            if not (0 <= prev < n) or corner == sites[prev]:
                # One residue moves (an end or a corner flip); its new site is diagonal to its old one, so
                # the old site is never among the new neighbours: the energy change needs no bookkeeping.
                delta = 0
                if is_h[i]:
                    for d in offsets:
                        j = occ.get(old_i + d)
                        if j is not None and is_h[j] and (j > i + 1 or j < i - 1):
                            delta += 1
                        j = occ.get(new_i + d)
                        if j is not None and is_h[j] and (j > i + 1 or j < i - 1):
                            delta -= 1
                if delta <= 0 or rand() < exp(-delta * beta):
                    del occ[old_i]
                    sites[i] = new_i
                    occ[new_i] = i
                    energy += delta
                    accepted += 1
                    if energy < best:
                        best = energy
                        replica.best_sites = list(sites)
                continue
            if corner in occ:
                continue
            moves = {i: new_i, prev: corner}
        else:
            corner = sites[i] + offsets[int(rand() * nd)]
            if corner in occ:
                continue
            new_i = corner + offsets[int(rand() * nd)]
            if new_i == sites[i] or new_i in occ:
                continue
            moves = {i: new_i, prev: corner}
        # The followers: each takes the site two places ahead of it until one is already adjacent.
        last = corner
        j = prev + s
        while 0 <= j < n:
            if sites[j] - last in adjacent:
                break
            last = sites[j - 2 * s]
            moves[j] = last
            j += s
        before = _contacts_of(moves, sites, occ, is_h, offsets)
        old = {k: sites[k] for k in moves}
        for k in moves:
            del occ[old[k]]
        for k, site in moves.items():
            sites[k] = site
            occ[site] = k
        delta = before - _contacts_of(moves, sites, occ, is_h, offsets)
        if delta <= 0 or rand() < exp(-delta * beta):
            energy += delta
            accepted += 1
            if energy < best:
                best = energy
                replica.best_sites = list(sites)
        else:
            for k in moves:
                del occ[sites[k]]
            for k, site in old.items():
                sites[k] = site
                occ[site] = k
    recenter(sites)
    replica.energy = energy
    replica.best_energy = best
    replica.steps += steps
    replica.accepted += accepted


def exchange(state: FoldState) -> None:
    """One exchange pass between neighbouring temperatures (even pairs on even rounds, odd on odd), as
    in parallel tempering: swap conformations with probability min(1, exp((b_i - b_j)(E_i - E_j)))."""
    reps = state.replicas
    rng = random.Random(stream_seed(state.params.seed, 0xEC, state.round))
    for k in range(state.round % 2, len(reps) - 1, 2):
        a, b = reps[k], reps[k + 1]
        state.exchanges_tried += 1
        x = (1.0 / a.temperature - 1.0 / b.temperature) * (a.energy - b.energy)
        if x >= 0 or rng.random() < math.exp(x):
            state.exchanges_accepted += 1
            a.sites, b.sites = b.sites, a.sites
            a.energy, b.energy = b.energy, a.energy
