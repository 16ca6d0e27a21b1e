"""Replica exchange over the fabric: replicas travel as packets to the nodes, which advance them with the
pull-move kernel; the origin exchanges temperatures between rounds.

A replica is two packets in the wire layout (computation_id 2i: its current conformation, 2i+1: the best
it has seen): input_data holds the n-1 moves at 3 bits each (index into RLUDFB), state[0] the energy
(two's complement), state[1] the replica index, state[2] its temperature (float64 bits), state[3] steps
and state[4] accepted moves so far. Replica i lives at node i mod K.
"""

from __future__ import annotations

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
from .search import FoldParams, FoldState, Replica, exchange, initial_state, run_replica_steps, stream_seed

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


def replicas_to_packets(replicas: list[Replica], lattice: str) -> np.ndarray:
    p = np.zeros(2 * len(replicas), dtype=PACKET_WIRE)
    for k, r in enumerate(replicas):
        for j, (sites, e) in enumerate(((r.sites, r.energy), (r.best_sites, r.best_energy))):
            row = p[2 * k + j]
            row["computation_id"] = 2 * r.index + j
            row["input_data"] = pack_moves(moves_from_sites(sites, lattice))
            row["state"][:5] = [e & _U64, r.index, int(np.float64(r.temperature).view(np.uint64)), r.steps,
                                r.accepted]
    return p


def packets_to_replicas(p: np.ndarray, lattice: str, n: int) -> list[Replica]:
    out = []
    for k in range(0, len(p), 2):
        cur, best = p[k], p[k + 1]
        st = cur["state"]
        e = int(st[0]) - (1 << 64) if int(st[0]) >> 63 else int(st[0])
        be = int(best["state"][0])
        be = be - (1 << 64) if be >> 63 else be
        out.append(Replica(
            index=int(st[1]), temperature=float(np.uint64(st[2]).view(np.float64)),
            sites=sites_from_moves(unpack_moves(cur["input_data"], n - 1), lattice), energy=e, best_energy=be,
            best_sites=sites_from_moves(unpack_moves(best["input_data"], n - 1), lattice),
            steps=int(st[3]), accepted=int(st[4]),
        ))  # fmt: skip
    return out


@dataclass(frozen=True)
class SweepArg:
    sequence: str
    lattice: str
    steps: int
    seed: int
    round: int
    kernel: str


def sweep_kernel(batch: bytes, arg: SweepArg) -> bytes:
    """The node handler: advance every replica in the batch by ``arg.steps`` pull-move Metropolis steps,
    each with the stream of (seed, replica, round)."""
    replicas = packets_to_replicas(decode(batch), arg.lattice, len(arg.sequence))
    for r in replicas:
        run_replica_steps(r, arg.sequence, arg.lattice, arg.steps, stream_seed(arg.seed, r.index, arg.round),
                          arg.kernel)
    return encode(replicas_to_packets(replicas, arg.lattice))


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

    def as_dict(self) -> dict:
        return {
            "sequence": self.sequence, "lattice": self.lattice, "energy": self.energy, "moves": self.moves,
            "length": len(self.sequence), "rounds": self.rounds, "steps": self.steps, "seconds": self.seconds,
            "time_to_best": self.time_to_best, "seed": self.seed, "replicas": self.replicas,
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
) -> FoldResult:
    """Run replica exchange for ``params.rounds`` rounds (or until ``params.target_energy`` or
    ``time_limit`` seconds); the result for a seed is the same on every backend and node count unless the
    time limit cut it short."""
    seq = check_sequence(params.sequence)
    steps_for(params.lattice)
    if not 1 <= params.replicas <= 256:
        raise InputError("--replicas must be 1..256")
    if params.rounds < 1 or params.steps_per_round < 1:
        raise InputError("rounds and steps per round must be positive")
    params.sequence = seq
    kernel = resolve_kernel(params.kernel)
    state: FoldState = initial_state(params)
    started = time.perf_counter()
    best_e, best_at = state.best.best_energy, 0.0
    history = [(0, best_e, 0.0)]
    stopped = "rounds"
    with KernelPool(config) as pool:
        k = min(config.nodes, len(state.replicas))
        for rnd in range(params.rounds):
            state.round = rnd
            groups = [[r for r in state.replicas if r.index % k == node] for node in range(k)]
            batches = [encode(replicas_to_packets(g, params.lattice)) for g in groups]
            arg = SweepArg(seq, params.lattice, params.steps_per_round, params.seed, rnd, kernel)
            back = pool.map(sweep_kernel, batches, arg)
            advanced = [r for b in back for r in packets_to_replicas(decode(b), params.lattice, len(seq))]
            state.replicas = sorted(advanced, key=lambda r: r.index)
            exchange(state)
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
        moved = pool.bytes_moved
    best = state.best
    moves = moves_from_sites(best.best_sites, params.lattice)
    recomputed = energy(seq, moves, params.lattice)
    if recomputed != best.best_energy:
        raise VerificationError(f"the search reported energy {best.best_energy} but the conformation has {recomputed}")
    return FoldResult(seq, params.lattice, recomputed, moves, state.round + 1,
                      sum(r.steps for r in state.replicas), time.perf_counter() - started, params.seed,
                      params.replicas, config.backend, config.nodes, moved, stopped, kernel, best_at, history)


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
