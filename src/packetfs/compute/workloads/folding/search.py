"""Replica-exchange Monte Carlo with pull moves for the HP model (Thachuk, Shmygelska & Hoos, BMC
Bioinformatics 8:342, 2007; pull moves from Lesh, Mitzenmacher & Whitesides, RECOMB 2003, extended to
the cubic lattice as in Thachuk et al.), run as several independent ladders ("ensembles").

An ensemble is one replica-exchange ladder: ``replicas`` chains at temperatures spaced linearly between
``t_min`` and ``t_max``; every ``exchange_every`` pull-move steps per chain, neighbouring temperatures
try to swap conformations (even pairs, then odd pairs). Ensembles never talk to each other: they are
independent restarts from different random streams, which is what spreads the search over the fabric's
nodes (ensemble e runs at node e mod K). An ensemble's trajectory depends only on (seed, ensemble,
round), never on which node ran it, so one seed gives one answer on every backend and node count.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .lattice import compact_sites, energy_of_sites, recenter, site_offsets

# Temperatures in units of one HH contact (k_B = 1). Thachuk et al. use few replicas over a narrow, cold
# range and exchange every 500 steps; measured here (bench/fold.py, and in pull moves to the best known
# energy, which does not depend on load) a ladder of 5 at 0.32-0.45 exchanging every 500 steps reaches all
# ten 3d 48-mers, where the hotter ladders tried first (10-14 replicas up to T = 0.8-1.0, exchanges every
# 5000 steps) stalled one or two contacts short on six of them.
T_MIN = 0.32
T_MAX = 0.45
EXCHANGE_EVERY = 500
# Per lattice (replicas per ensemble, t_min, t_max).
LATTICE_DEFAULTS = {"2d": (5, T_MIN, T_MAX), "3d": (5, T_MIN, T_MAX)}
DEFAULT_ENSEMBLES = 2


@dataclass
class Replica:
    """One chain of a ladder. ``sites`` are encoded lattice sites (lattice.encode_site)."""

    index: int
    temperature: float
    sites: list[int]
    energy: int
    best_energy: int
    best_sites: list[int]
    steps: int = 0
    accepted: int = 0


@dataclass
class Ensemble:
    """One replica-exchange ladder: slot k of ``replicas`` is at the k-th coldest temperature."""

    index: int
    replicas: list[Replica]
    best_energy: int
    best_sites: list[int]
    sweeps: int = 0  # exchange passes so far (sets the parity of the next one)
    swaps_tried: int = 0
    swaps_made: int = 0
    steps: int = 0  # pull-move steps over all its replicas
    accepted: int = 0
    restarts: int = 0  # kept at the origin (engine.fold), not in the packets


@dataclass
class FoldParams:
    sequence: str
    lattice: str
    replicas: int = 5  # per ensemble
    steps_per_round: int = 50000  # pull-move steps per replica per round (100 exchange passes)
    rounds: int = 50
    seed: int = 1
    t_min: float = T_MIN
    t_max: float = T_MAX
    target_energy: int | None = None  # stop as soon as a replica reaches it
    kernel: str = "auto"  # "c", "python", or "auto" (C when a compiler is available)
    ensembles: int = DEFAULT_ENSEMBLES
    exchange_every: int = EXCHANGE_EVERY
    restart_after: int = 0  # rounds without a new best after which a ladder starts afresh (0: never)

    def temperatures(self) -> list[float]:
        if self.replicas == 1:
            return [self.t_min]
        step = (self.t_max - self.t_min) / (self.replicas - 1)
        return [self.t_min + k * step for k in range(self.replicas)]

    def sweeps_and_phi(self) -> tuple[int, int]:
        """(exchange sweeps per round, steps per replica per sweep)."""
        phi = min(self.exchange_every, self.steps_per_round)
        return max(1, self.steps_per_round // phi), phi


@dataclass
class FoldState:
    params: FoldParams
    ensembles: list[Ensemble]
    round: int = 0

    @property
    def best(self) -> Ensemble:
        return min(self.ensembles, key=lambda e: (e.best_energy, e.index))

    @property
    def replicas(self) -> list[Replica]:
        return [r for e in self.ensembles for r in e.replicas]


def stream_seed(seed: int, *words: int) -> int:
    """A 64-bit seed for one (ensemble, round) stream: a splitmix64 chain over the words, so streams
    are unrelated for neighbouring inputs and identical wherever they are computed."""
    x = seed & 0xFFFFFFFFFFFFFFFF
    for w in (*words, 0x9E3779B97F4A7C15):
        x = (x + (w & 0xFFFFFFFFFFFFFFFF) + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    return x


def initial_state(params: FoldParams) -> FoldState:
    """Every chain starts from the same compact serpentine (lattice.compact_sites)."""
    n = len(params.sequence)
    offsets = site_offsets(params.lattice)
    sites = compact_sites(n, params.lattice)
    e = energy_of_sites(params.sequence, sites, offsets)
    ensembles = []
    for k in range(params.ensembles):
        reps = [Replica(j, t, list(sites), e, e, list(sites)) for j, t in enumerate(params.temperatures())]
        ensembles.append(Ensemble(k, reps, e, list(sites)))
    return FoldState(params, ensembles)


def restart(ens: Ensemble, params: FoldParams) -> None:
    """Put every chain of ``ens`` back at the compact start; its best conformation and counters stay."""
    sites = compact_sites(len(params.sequence), params.lattice)
    e = energy_of_sites(params.sequence, sites, site_offsets(params.lattice))
    for r in ens.replicas:
        r.sites, r.energy = list(sites), e
    ens.restarts += 1


def run_ensemble(ens: Ensemble, sequence: str, lattice: str, sweeps: int, phi: int, seed: int, kernel: str,
                 target: int | None) -> None:
    """Advance a ladder by ``sweeps`` x (``phi`` steps per replica, then one exchange pass), stopping early
    once its best reaches ``target``; with the C kernel (one call) or the Python one."""
    stop = -(1 << 62) if target is None else target
    if kernel == "c":
        from . import native

        native.run_ensemble(ens, sequence, site_offsets(lattice), sweeps, phi, seed, stop)
        for r in ens.replicas:
            recenter(r.sites)
        return
    rng = random.Random(seed)
    for _ in range(sweeps):
        if ens.best_energy <= stop:
            return
        for r in ens.replicas:
            r.best_energy, r.best_sites = ens.best_energy, ens.best_sites
            accepted = r.accepted
            run_replica_steps(r, sequence, lattice, phi, rng.getrandbits(64), "python")
            ens.steps += phi
            ens.accepted += r.accepted - accepted
            if r.best_energy < ens.best_energy:
                ens.best_energy, ens.best_sites = r.best_energy, list(r.best_sites)
        exchange(ens, rng)


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


def exchange(ens: Ensemble, rng: random.Random) -> None:
    """One exchange pass between neighbouring temperatures (even pairs on even sweeps, odd on odd), as in
    parallel tempering: swap conformations with probability min(1, exp((b_i - b_j)(E_i - E_j)))."""
    reps = ens.replicas
    for k in range(ens.sweeps % 2, len(reps) - 1, 2):
        a, b = reps[k], reps[k + 1]
        ens.swaps_tried += 1
        x = (1.0 / a.temperature - 1.0 / b.temperature) * (a.energy - b.energy)
        if x >= 0 or rng.random() < math.exp(x):
            ens.swaps_made += 1
            a.sites, b.sites = b.sites, a.sites
            a.energy, b.energy = b.energy, a.energy
    ens.sweeps += 1
