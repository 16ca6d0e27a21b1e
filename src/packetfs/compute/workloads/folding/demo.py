"""`make run` demo of fold: the first 3d 48-mer of Yue et al. on 2 fabric nodes, a few seconds."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from ..errors import VerificationError
from ..fabric import FabricConfig
from .engine import fold
from .lattice import coords_from_moves, energy, is_self_avoiding
from .plot import plot_conformation
from .search import FoldParams

# 3D48-1 of Yue et al., PNAS 92:325 (1995); best known energy -32 (../shared/data/hp/benchmarks.json).
SEQUENCE = "HPHHPPHHHHPHHHPPHHPPHPHHHPHPHHPPHHPPPHPPPPPPPPHH"
BEST_KNOWN = -32


def demo(out_dir: Path, seconds: float = 5.0) -> None:
    """Fold 3D48-1 on 2 inline fabric nodes (2 ensembles) for at most ``seconds``, stopping at its best
    known energy (~1 s on a quiet core); check the walk and its energy with the lattice checker; write
    fold3d.json and fold3d.png to ``out_dir``. Raises VerificationError on an invalid result."""
    console = Console()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    r = fold(FoldParams(SEQUENCE, "3d", rounds=10**6, seed=1, target_energy=BEST_KNOWN), FabricConfig("inline", 2),
             time_limit=seconds)
    if not is_self_avoiding(coords_from_moves(r.moves, "3d")) or energy(SEQUENCE, r.moves, "3d") != r.energy:
        raise VerificationError("the fold's conformation is not a self-avoiding walk of the reported energy")
    (out_dir / "fold3d.json").write_text(json.dumps(r.as_dict(), indent=1))
    png = out_dir / "fold3d.png"
    plot_conformation(SEQUENCE, r.moves, "3d", r.energy, png, title=f"3D48-1, E = {r.energy} (best known {BEST_KNOWN})")
    console.print(f"[bold]fold 3D48-1 --lattice 3d[/bold]: E = {r.energy} (best known {BEST_KNOWN}) after "
                  f"{r.steps:,} pull moves in {r.seconds:.2f} s (best at {r.time_to_best:.2f} s; stopped by "
                  f"{r.stopped}), 2 ensembles x 5 replicas on 2 nodes, {r.kernel} kernel; drawing in {png}")
