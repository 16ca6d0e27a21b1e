"""A PNG drawing of a conformation (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .lattice import coords_from_moves


def plot_conformation(sequence: str, moves: str, lattice: str, energy: int, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xyz = coords_from_moves(moves, lattice)
    xs, ys, zs = zip(*xyz, strict=True)
    colors = ["black" if c == "H" else "white" for c in sequence]
    fig = plt.figure(figsize=(6, 6))
    if lattice == "3d":
        ax = fig.add_subplot(projection="3d")
        ax.plot(xs, ys, zs, color="grey", linewidth=2, zorder=1)
        ax.scatter(xs, ys, zs, c=colors, edgecolors="black", s=60, depthshade=False)
    else:
        ax = fig.add_subplot()
        ax.plot(xs, ys, color="grey", linewidth=2, zorder=1)
        ax.scatter(xs, ys, c=colors, edgecolors="black", s=80, zorder=2)
        ax.set_aspect("equal")
        ax.grid(True, color="#eeeeee")
    ax.scatter([xs[0]], [ys[0]], *([[zs[0]]] if lattice == "3d" else []), marker="x", color="red", s=60, zorder=3)
    ax.set_title(title or f"{len(sequence)} residues, {lattice}, E = {energy}  (black: H, white: P, x: start)")
    try:
        fig.savefig(path, dpi=100)
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror}") from None
    finally:
        plt.close(fig)
