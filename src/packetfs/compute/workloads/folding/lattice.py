"""The HP lattice model: sequences, conformations as absolute moves, energy, and the site encoding the
search uses.

A conformation of n residues is a self-avoiding walk on the square (2d) or cubic (3d) lattice, written
as n-1 absolute steps: R/L (+x/-x), U/D (+y/-y), F/B (+z/-z). Its energy is -1 per pair of H residues
that are lattice neighbours without being chain neighbours (Dill 1985; the convention of every
benchmark in the literature).

Inside the search a lattice site is one Python int, ``x + y*W + z*W*W`` with each coordinate offset by
W/2, so a neighbour is an integer addition and an occupancy map is a plain dict. W is large enough that
a chain cannot leave the box between two re-centrings (done at every round boundary).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InputError

STEPS_2D = {"R": (1, 0, 0), "L": (-1, 0, 0), "U": (0, 1, 0), "D": (0, -1, 0)}
STEPS_3D = {**STEPS_2D, "F": (0, 0, 1), "B": (0, 0, -1)}
LATTICES = ("2d", "3d")
# The packet encoding spends 3 bits per move in 16 u64 words (see packing.py): 341 moves at most.
MAX_LENGTH = 300

WIDTH = 1 << 16
HALF = WIDTH // 2
_ORIGIN = HALF + HALF * WIDTH + HALF * WIDTH * WIDTH


def steps_for(lattice: str) -> dict[str, tuple[int, int, int]]:
    if lattice == "2d":
        return STEPS_2D
    if lattice == "3d":
        return STEPS_3D
    raise InputError(f"lattice must be 2d or 3d, not {lattice!r}")


def site_offsets(lattice: str) -> tuple[int, ...]:
    """The integer offsets of a site's lattice neighbours, in the order of ``steps_for(lattice)``."""
    return tuple(dx + dy * WIDTH + dz * WIDTH * WIDTH for dx, dy, dz in steps_for(lattice).values())


def check_sequence(sequence: str) -> str:
    """Upper-cased H/P string, or InputError saying what is wrong with it."""
    seq = sequence.strip().upper()
    if len(seq) < 2:
        raise InputError("an HP sequence needs at least 2 residues")
    if len(seq) > MAX_LENGTH:
        raise InputError(f"an HP sequence of {len(seq)} residues is above the limit of {MAX_LENGTH}")
    bad = set(seq) - {"H", "P"}
    if bad:
        raise InputError(f"an HP sequence has only H and P, found {''.join(sorted(bad))!r}")
    return seq


def encode_site(x: int, y: int, z: int) -> int:
    return (x + HALF) + (y + HALF) * WIDTH + (z + HALF) * WIDTH * WIDTH


def decode_site(site: int) -> tuple[int, int, int]:
    x = site % WIDTH - HALF
    y = (site // WIDTH) % WIDTH - HALF
    z = site // (WIDTH * WIDTH) - HALF
    return x, y, z


def coords_from_moves(moves: str, lattice: str) -> list[tuple[int, int, int]]:
    """The walk's coordinates starting at the origin; InputError on a letter foreign to the lattice.
    Does not check self-avoidance (see ``is_self_avoiding``)."""
    table = steps_for(lattice)
    x = y = z = 0
    out = [(0, 0, 0)]
    for i, m in enumerate(moves):
        step = table.get(m)
        if step is None:
            raise InputError(f"move {i} is {m!r}, not one of {''.join(table)} on the {lattice} lattice")
        x, y, z = x + step[0], y + step[1], z + step[2]
        out.append((x, y, z))
    return out


def moves_from_coords(coords: Sequence[tuple[int, int, int]], lattice: str) -> str:
    by_step = {v: k for k, v in steps_for(lattice).items()}
    out = []
    for a, b in zip(coords, coords[1:], strict=False):
        d = (b[0] - a[0], b[1] - a[1], b[2] - a[2])
        letter = by_step.get(d)
        if letter is None:
            raise InputError(f"residues at {a} and {b} are not lattice neighbours")
        out.append(letter)
    return "".join(out)


def sites_from_moves(moves: str, lattice: str) -> list[int]:
    return [encode_site(*c) for c in coords_from_moves(moves, lattice)]


def moves_from_sites(sites: Sequence[int], lattice: str) -> str:
    return moves_from_coords([decode_site(s) for s in sites], lattice)


def is_self_avoiding(coords: Sequence[tuple[int, int, int]]) -> bool:
    return len(set(coords)) == len(coords)


def energy_of_sites(sequence: str, sites: Sequence[int], offsets: Sequence[int]) -> int:
    """HP energy of a conformation given as encoded sites (the search's fast path)."""
    occupant = {s: i for i, s in enumerate(sites)}
    contacts = 0
    for i, s in enumerate(sites):
        if sequence[i] != "H":
            continue
        for d in offsets:
            j = occupant.get(s + d)
            if j is not None and j > i + 1 and sequence[j] == "H":
                contacts += 1
    return -contacts


def energy(sequence: str, moves: str, lattice: str) -> int:
    """HP energy of ``moves``; InputError if the walk is not self-avoiding or has the wrong length."""
    seq = check_sequence(sequence)
    if len(moves) != len(seq) - 1:
        raise InputError(f"{len(seq)} residues need {len(seq) - 1} moves, got {len(moves)}")
    coords = coords_from_moves(moves, lattice)
    if not is_self_avoiding(coords):
        raise InputError("the conformation visits a lattice site twice")
    return energy_of_sites(seq, [encode_site(*c) for c in coords], site_offsets(lattice))


def recenter(sites: list[int]) -> None:
    """Translate the chain so residue 0 sits at the origin (keeps coordinates far from the box edge)."""
    shift = sites[0] - _ORIGIN
    if shift:
        for k in range(len(sites)):
            sites[k] -= shift


def compact_sites(n: int, lattice: str) -> list[int]:
    """A compact serpentine start: rows of 8 along x, stacked along y (2d), or 8 rows per layer stacked
    along z (3d). It spans at most 8 x 8 x 5 sites in 3d for the longest allowed chain, inside the C
    kernel's occupancy torus (native.py), where a straight 300-residue chain would not be."""
    steps_for(lattice)
    out = []
    for k in range(n):
        row, x = divmod(k, 8)
        if row % 2:
            x = 7 - x
        if lattice == "3d":
            layer, y = divmod(row, 8)
            if layer % 2:
                y = 7 - y
            out.append(encode_site(x, y, layer))
        else:
            out.append(encode_site(x, row, 0))
    return out
