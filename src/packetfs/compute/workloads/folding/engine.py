"""Replica exchange over the fabric: each ensemble (an independent ladder of replicas) travels as packets
to its node, which advances it with the pull-move kernel for one round (several sweeps of moves and
exchanges inside the ladder) and sends it back; the origin keeps the best and decides when to stop.

An ensemble of R replicas is R+1 packets in the wire layout: first its header (computation_id
e*(R+1); input_data: its best conformation's n-1 moves at 3 bits each, index into RLUDFB; state[0] its
best energy (two's complement), [1] the ensemble index, [2] exchange passes so far, [3] pull-move steps,
[4] accepted moves, [5] swaps tried, [6] swaps made, [7] R), then one packet per replica, coldest first
(computation_id e*(R+1)+1+k; input_data: its current conformation; state[0] its energy, [1] the ensemble,
[2] its temperature as float64 bits, [3] its slot k, [4] steps, [5] accepted). Ensemble e lives at node
e mod K.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ...packet import PACKET_WIRE, decode, encode
from ..errors import InputError, VerificationError
from ..fabric import FabricConfig
from ..kernels import KernelPool
from .lattice import check_sequence, energy, moves_from_sites, sites_from_moves, steps_for
from .search import (
    Ensemble,
    FoldParams,
    FoldState,
    Replica,
    initial_state,
    restart,
    run_ensemble,
    stream_seed,
)

LETTERS = "RLUDFB"
BITS = 3
_U64 = (1 << 64) - 1


def pack_moves(moves: str) -> list[int]:
    acc = 0
    for k, m in enumerate(moves):
        acc |= LETTERS.index(m) << (BITS * k)
    return [(acc >> (64 * w)) & _U64 for w in range(16)]


def unpack_moves(words, n_moves: int) -> str:
    acc = 0
    for w in reversed(list(words)):
        acc = (acc << 64) | int(w)
    return "".join(LETTERS[(acc >> (BITS * k)) & 7] for k in range(n_moves))


def _signed(word) -> int:
    v = int(word)
    return v - (1 << 64) if v >> 63 else v


def ensembles_to_packets(ensembles: list[Ensemble], lattice: str) -> np.ndarray:
    rows = sum(len(e.replicas) + 1 for e in ensembles)
    p = np.zeros(rows, dtype=PACKET_WIRE)
    at = 0
    for e in ensembles:
        r_count = len(e.replicas)
        head = p[at]
        head["computation_id"] = e.index * (r_count + 1)
        head["input_data"] = pack_moves(moves_from_sites(e.best_sites, lattice))
        head["state"] = [e.best_energy & _U64, e.index, e.sweeps, e.steps, e.accepted, e.swaps_tried, e.swaps_made,
                         r_count]
        for k, r in enumerate(e.replicas):
            row = p[at + 1 + k]
            row["computation_id"] = e.index * (r_count + 1) + 1 + k
            row["input_data"] = pack_moves(moves_from_sites(r.sites, lattice))
            row["state"][:6] = [r.energy & _U64, e.index, int(np.float64(r.temperature).view(np.uint64)), k,
                                r.steps, r.accepted]
        at += r_count + 1
    return p


def packets_to_ensembles(p: np.ndarray, lattice: str, n: int) -> list[Ensemble]:
    out = []
    at = 0
    while at < len(p):
        st = p[at]["state"]
        r_count = int(st[7])
        best_sites = sites_from_moves(unpack_moves(p[at]["input_data"], n - 1), lattice)
        reps = []
        for k in range(r_count):
            row = p[at + 1 + k]
            rs = row["state"]
            sites = sites_from_moves(unpack_moves(row["input_data"], n - 1), lattice)
            e = _signed(rs[0])
            reps.append(Replica(k, float(np.uint64(rs[2]).view(np.float64)), sites, e, e, list(sites),
                                int(rs[4]), int(rs[5])))
        out.append(Ensemble(int(st[1]), reps, _signed(st[0]), best_sites, int(st[2]), int(st[5]), int(st[6]),
                            int(st[3]), int(st[4])))
        at += r_count + 1
    return out


@dataclass(frozen=True)
class SweepArg:
    sequence: str
    lattice: str
    sweeps: int
    phi: int
    seed: int
    round: int
    kernel: str
    target: int | None


def sweep_kernel(batch: bytes, arg: SweepArg) -> bytes:
    """The node handler: advance every ensemble in the batch by one round (``arg.sweeps`` x ``arg.phi``
    steps per replica with exchanges), each with the stream of (seed, ensemble, round)."""
    ensembles = packets_to_ensembles(decode(batch), arg.lattice, len(arg.sequence))
    for e in ensembles:
        run_ensemble(e, arg.sequence, arg.lattice, arg.sweeps, arg.phi, stream_seed(arg.seed, e.index, arg.round),
                     arg.kernel, arg.target)
    return encode(ensembles_to_packets(ensembles, arg.lattice))


@dataclass
class FoldResult:
    sequence: str
    lattice: str
    energy: int
    moves: str
    rounds: int
    steps: int
    seconds: float
    seed: int
    replicas: int
    backend: str
    nodes: int
    bytes_moved: int
    stopped: str  # "rounds", "target" or "time-limit"
    kernel: str  # "c" or "python": one seed gives one answer per kernel
    time_to_best: float
    history: list[tuple[int, int, float]] = field(default_factory=list)  # (round, energy, seconds)
    ensembles: int = 1
    restarts: int = 0

    def as_dict(self) -> dict:
        return {
            "sequence": self.sequence, "lattice": self.lattice, "energy": self.energy, "moves": self.moves,
            "length": len(self.sequence), "rounds": self.rounds, "steps": self.steps, "seconds": self.seconds,
            "time_to_best": self.time_to_best, "seed": self.seed, "replicas": self.replicas,
            "ensembles": self.ensembles, "restarts": self.restarts,
            "backend": self.backend, "nodes": self.nodes, "bytes_moved": self.bytes_moved, "stopped": self.stopped,
            "kernel": self.kernel,
            "history": [{"round": r, "energy": e, "seconds": s} for r, e, s in self.history],
        }  # fmt: skip


def fold(
    params: FoldParams,
    config: FabricConfig,
    *,
    time_limit: float | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    pool: KernelPool | None = None,
) -> FoldResult:
    """Run ``params.ensembles`` independent replica-exchange ladders for ``params.rounds`` rounds (or until
    one reaches ``params.target_energy``, or ``time_limit`` seconds). Rounds are deterministic: a run cut
    short by the time limit after R rounds returns exactly what ``rounds=R`` returns for the same seed,
    on every backend and node count. ``pool``: an open KernelPool for ``config`` to reuse (its nodes already
    started), else one is opened and closed here."""
    seq = check_sequence(params.sequence)
    steps_for(params.lattice)
    if not 1 <= params.replicas <= 64:
        raise InputError("--replicas must be 1..64")
    if not 1 <= params.ensembles <= 64:
        raise InputError("--ensembles must be 1..64")
    if params.rounds < 1 or params.steps_per_round < 1 or params.exchange_every < 1:
        raise InputError("rounds, steps per round and the exchange interval must be positive")
    if params.restart_after < 0:
        raise InputError("--restart-after must be 0 (never) or a number of rounds")
    params.sequence = seq
    kernel = resolve_kernel(params.kernel)
    state: FoldState = initial_state(params)
    sweeps, phi = params.sweeps_and_phi()
    started = time.perf_counter()
    best_e, best_at = state.best.best_energy, 0.0
    history = [(0, best_e, 0.0)]
    stopped = "rounds"
    with contextlib.nullcontext(pool) if pool is not None else KernelPool(config) as pool:
        k = min(config.nodes, len(state.ensembles))
        moved_before = pool.bytes_moved
        gained = {e.index: (e.best_energy, 0) for e in state.ensembles}  # (best, round it was reached)
        restarts = {e.index: 0 for e in state.ensembles}
        for rnd in range(params.rounds):
            state.round = rnd
            groups = [[e for e in state.ensembles if e.index % k == node] for node in range(k)]
            batches = [encode(ensembles_to_packets(g, params.lattice)) for g in groups]
            arg = SweepArg(seq, params.lattice, sweeps, phi, params.seed, rnd, kernel, params.target_energy)
            back = pool.map(sweep_kernel, batches, arg)
            advanced = [e for b in back for e in packets_to_ensembles(decode(b), params.lattice, len(seq))]
            for e in advanced:
                e.restarts = restarts[e.index]
                if e.best_energy < gained[e.index][0]:
                    gained[e.index] = (e.best_energy, rnd + 1)
                elif params.restart_after and rnd + 1 - gained[e.index][1] >= params.restart_after:
                    restart(e, params)  # decided from the ladder's own history: the same on every node count
                    restarts[e.index] = e.restarts
                    gained[e.index] = (e.best_energy, rnd + 1)
            state.ensembles = sorted(advanced, key=lambda e: e.index)
            now = time.perf_counter() - started
            if state.best.best_energy < best_e:
                best_e, best_at = state.best.best_energy, now
                history.append((rnd + 1, best_e, now))
            if progress is not None:
                progress(rnd + 1, params.rounds, best_e)
            if params.target_energy is not None and best_e <= params.target_energy:
                stopped = "target"
                break
            if time_limit is not None and now >= time_limit:
                stopped = "time-limit"
                break
        moved = pool.bytes_moved - moved_before
    best = state.best
    moves = moves_from_sites(best.best_sites, params.lattice)
    recomputed = energy(seq, moves, params.lattice)
    if recomputed != best.best_energy:
        raise VerificationError(f"the search reported energy {best.best_energy} but the conformation has {recomputed}")
    return FoldResult(seq, params.lattice, recomputed, moves, state.round + 1,
                      sum(e.steps for e in state.ensembles), time.perf_counter() - started, params.seed,
                      params.replicas, config.backend, config.nodes, moved, stopped, kernel, best_at, history,
                      params.ensembles, sum(e.restarts for e in state.ensembles))


def resolve_kernel(kernel: str) -> str:
    """"auto" -> "c" when the C kernel builds here, else "python"; "c" without a compiler is an error."""
    from . import native

    if kernel == "python":
        return kernel
    if kernel not in ("c", "auto"):
        raise InputError(f"--kernel must be c, python or auto, not {kernel!r}")
    if native.load() is not None:
        return "c"
    if kernel == "c":
        raise InputError("the C pull-move kernel needs a C compiler (cc); use --kernel python")
    return "python"


def lower_bound_hint(sequence: str, lattice: str) -> int:
    """A simple bound on the optimum (each H has at most z-2 non-bonded neighbours, z-1 at the chain ends;
    each contact uses two of them): only for messages, never to stop the search."""
    z = 4 if lattice == "2d" else 6
    slots = sum((z - 1 if i in (0, len(sequence) - 1) else z - 2) for i, c in enumerate(sequence) if c == "H")
    return -math.floor(slots / 2)
