"""`make run`'s look at the workloads: a few seconds of each command, results written under out_dir."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console

from .errors import VerificationError
from .fabric import Fabric, FabricConfig

HP_SEQUENCE = "HPHPPHHPHPPHPHHPPHPH"  # S1-1 of the standard 2d benchmarks, best known energy -9


def demo(out_dir: Path) -> None:
    """Monte Carlo pi, the mining hash path on real mainnet headers (or a bundled block), an HP fold with a
    PNG, and a short data-parallel training run; prints one line per command, writes JSON and the PNG.
    Raises VerificationError on a wrong result (an estimate 4+ standard errors off, a header failing its
    proof of work, a fold whose energy is not its conformation's, a training run below 0.95)."""
    from . import montecarlo
    from .folding.engine import fold
    from .folding.lattice import energy
    from .folding.plot import plot_conformation
    from .folding.search import FoldParams
    from .mining.miner import difficulty_check
    from .training.trainer import TrainParams, train

    console = Console()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict = {}
    started = time.perf_counter()

    mc = montecarlo.estimate(20_000_000, 7, FabricConfig("inline", 2))
    summary["deploy"] = mc.as_dict()
    if abs(mc.estimate - mc.exact) >= 4 * mc.stderr:
        raise VerificationError(f"Monte Carlo pi {mc.estimate} is 4+ standard errors from pi")
    console.print(f"[bold]deploy --operation MONTE_CARLO[/bold]: pi = {mc.estimate:.5f} ± {mc.stderr:.5f} "
                  f"from {mc.samples:,} Philox samples in {mc.packets} packets on 2 fabric nodes, "
                  f"{mc.samples_per_s / 1e6:.2f} M samples/s "
                  f"(pitch: 1T+ operations/s)")

    headers = _headers()
    with Fabric(FabricConfig("inline", 2)) as fabric:
        t0 = time.perf_counter()
        checks = difficulty_check(headers, fabric)
        dt = time.perf_counter() - t0
    summary["mine_difficulty_check"] = [c.__dict__ for c in checks]
    if not checks or not all(c.ok for c in checks):
        raise VerificationError("a real mainnet header failed its proof-of-work check on the fabric")
    console.print(f"[bold]mine --difficulty-check[/bold]: {sum(c.ok for c in checks)} of {len(checks)} real "
                  f"mainnet headers' proof of work verified through the fabric's SHA-256d packets ({dt:.2f} s); "
                  f"mining itself needs a node: packetfs mine --rpcconnect HOST:PORT (pitch: 10,000 TH/s; "
                  f"an Antminer S21 XP does 270 TH/s)")

    fr = fold(FoldParams(HP_SEQUENCE, "2d", replicas=6, steps_per_round=1000, rounds=40, seed=1, target_energy=-9),
              FabricConfig("inline", 2))
    png = out_dir / "fold.png"
    plot_conformation(HP_SEQUENCE, fr.moves, "2d", fr.energy, png)
    summary["fold"] = fr.as_dict()
    if energy(HP_SEQUENCE, fr.moves, "2d") != fr.energy:
        raise VerificationError("the fold's reported energy is not its conformation's")
    console.print(f"[bold]fold {HP_SEQUENCE}[/bold]: E = {fr.energy} (best known -9), moves {fr.moves}, "
                  f"{fr.seconds:.2f} s; drawing in {png}")

    tr = train(TrainParams(workers=2, epochs=6, seed=1, target_accuracy=0.95), FabricConfig("local", 1))
    summary["train"] = tr.as_dict()
    if tr.test_accuracy < 0.95:
        raise VerificationError(f"training reached only {tr.test_accuracy:.4f} test accuracy")
    console.print(f"[bold]train --dataset digits --model mlp --workers 2[/bold]: test accuracy "
                  f"{tr.test_accuracy:.4f} after {tr.epochs} epochs ({tr.seconds:.2f} s), 2 worker processes "
                  f"computing gradients on their own shards, summed as fixed-point packets at an aggregator "
                  f"process ({tr.as_dict()['bytes_per_step']:,.0f} bytes of packets per step over UDP)")
    (out_dir / "workloads.json").write_text(json.dumps(summary, indent=2, default=str))
    console.print(f"workloads demo: {time.perf_counter() - started:.1f} s, results in {out_dir / 'workloads.json'}")


def _headers() -> list[tuple[str, bytes]]:
    """The shared mainnet blocks' headers when ../shared is there, else the block bundled with the package."""
    from .mining.miner import read_headers

    shared = Path(__file__).resolve().parents[5] / "shared" / "data" / "blocks"
    if shared.is_dir() and any(shared.glob("*.block")):
        return read_headers([shared])
    bundled = Path(__file__).resolve().parents[2] / "data"
    return read_headers(sorted(bundled.glob("*.block")))
