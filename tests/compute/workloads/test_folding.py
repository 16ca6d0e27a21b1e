"""HP folding: conformations are self-avoiding walks whose energy, recomputed here independently, is the
one reported; small sequences reach the exact optimum found by exhaustive enumeration (written here, not
shared with the search); one seed gives one answer on every backend and node count."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.compute.workloads.cli import fold_command
from packetfs.compute.workloads.errors import InputError
from packetfs.compute.workloads.fabric import FabricConfig
from packetfs.compute.workloads.folding import engine, lattice, native, search
from packetfs.compute.workloads.folding.sequences import parse_fasta, read_sequence, to_hp

STEP = {"R": (1, 0, 0), "L": (-1, 0, 0), "U": (0, 1, 0), "D": (0, -1, 0), "F": (0, 0, 1), "B": (0, 0, -1)}


def walk(moves: str, dims: int) -> list[tuple[int, int, int]]:
    """Independent of the package: coordinates of a move string, checking letters per lattice."""
    allowed = "RLUD" if dims == 2 else "RLUDFB"
    pos = [(0, 0, 0)]
    for m in moves:
        assert m in allowed, f"move {m!r} on a {dims}d lattice"
        d = STEP[m]
        x, y, z = pos[-1]
        pos.append((x + d[0], y + d[1], z + d[2]))
    return pos


def hp_energy(seq: str, moves: str, dims: int) -> int:
    """Independent energy: count H-H pairs at lattice distance 1 that are not chain neighbours."""
    pos = walk(moves, dims)
    assert len(pos) == len(seq)
    assert len(set(pos)) == len(pos), "not self-avoiding"
    e = 0
    for i in range(len(seq)):
        for j in range(i + 2, len(seq)):
            if seq[i] == seq[j] == "H" and sum(abs(a - b) for a, b in zip(pos[i], pos[j], strict=True)) == 1:
                e -= 1
    return e


def exact_minimum(seq: str, dims: int) -> int:
    """Exhaustive enumeration of self-avoiding walks (symmetry-reduced: first step +x, first turn +y, first
    step out of the plane +z), energy counted as residues are placed."""
    n = len(seq)
    dirs = [STEP[c] for c in ("RLUD" if dims == 2 else "RLUDFB")]
    pos = {(0, 0, 0): 0, (1, 0, 0): 1}
    path = [(0, 0, 0), (1, 0, 0)]
    best = [0]

    def contacts(k: int, p) -> int:
        if seq[k] != "H":
            return 0
        c = 0
        for d in dirs:
            j = pos.get((p[0] + d[0], p[1] + d[1], p[2] + d[2]))
            if j is not None and j < k - 1 and seq[j] == "H":
                c += 1
        return c

    def rec(k: int, e: int, turned: bool, lifted: bool) -> None:
        if k == n:
            best[0] = min(best[0], e)
            return
        x, y, z = path[-1]
        for d in dirs:
            if not turned and d[1] < 0:
                continue  # mirror image of a walk turning +y first
            if not turned and d[2] != 0:
                continue  # leave the plane only after the first turn
            if not lifted and d[2] < 0:
                continue
            p = (x + d[0], y + d[1], z + d[2])
            if p in pos:
                continue
            pos[p] = k
            path.append(p)
            rec(k + 1, e - contacts(k, p), turned or d[1] != 0, lifted or d[2] != 0)
            path.pop()
            del pos[p]

    rec(2, 0, False, False)
    return best[0]


def test_enumerator_on_known_small_optima() -> None:
    assert exact_minimum("HPPH", 2) == -1
    assert exact_minimum("HHHH", 2) == -1
    assert exact_minimum("HHHHHH", 2) == -2
    assert exact_minimum("HPPHPPH", 3) == -2


@pytest.mark.slow
def test_enumerator_proves_s1_1_optimum() -> None:
    assert exact_minimum("HPHPPHHPHPPHPHHPPHPH", 2) == -9  # S1-1's best known energy, proven (about 2 min)


KERNELS = ["python", pytest.param("c", marks=pytest.mark.skipif(
    native.load() is None, reason="no C compiler here: the C pull-move kernel cannot be built"))]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("seq,dims", [
    ("HPHPPHHPHH", 2), ("HHPPHPPHPPHH", 2), ("PHPPHPHHHPHHPH", 2), ("HHHPPHPHPHPPHH", 2),
    ("HPHPPHHPH", 3), ("HHPHPHPHHP", 3), ("PHHPPHHPHH", 3),
])
def test_search_reaches_the_exact_optimum(seq: str, dims: int, kernel: str) -> None:
    opt = exact_minimum(seq, dims)
    lat = f"{dims}d"
    res = engine.fold(search.FoldParams(seq, lat, replicas=6, steps_per_round=1000, rounds=40, seed=5,
                                        target_energy=opt, kernel=kernel), FabricConfig())
    assert res.kernel == kernel
    assert res.energy == opt == hp_energy(seq, res.moves, dims)
    assert len(res.moves) == len(seq) - 1


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="HP", min_size=2, max_size=40), st.sampled_from([2, 3]), st.integers(0, 2**32))
def test_pull_moves_keep_a_valid_walk_and_exact_energy(kernel: str, seq: str, dims: int, seed: int) -> None:
    lat = f"{dims}d"
    state = search.initial_state(search.FoldParams(seq, lat, replicas=2, seed=seed))
    for r in state.replicas:
        search.run_replica_steps(r, seq, lat, 400 if kernel == "python" else 5000, seed + r.index, kernel)
        cur = lattice.moves_from_sites(r.sites, lat)
        best = lattice.moves_from_sites(r.best_sites, lat)
        assert hp_energy(seq, cur, dims) == r.energy
        assert hp_energy(seq, best, dims) == r.best_energy <= r.energy


@pytest.mark.parametrize("kernel", KERNELS)
def test_pull_moves_explore_both_directions_and_ends(kernel: str) -> None:
    seq = "H" * 12
    state = search.initial_state(search.FoldParams(seq, "2d", replicas=1, t_min=50.0, t_max=50.0))
    r = state.replicas[0]
    seen_first, seen_last = set(), set()
    for k in range(200):
        search.run_replica_steps(r, seq, "2d", 5, k, kernel)
        m = lattice.moves_from_sites(r.sites, "2d")
        seen_first.add(m[0])
        seen_last.add(m[-1])
    assert len(seen_first) == 4 and len(seen_last) == 4  # both chain ends move in every direction


@pytest.mark.parametrize("lat", ["2d", "3d"])
def test_packets_round_trip(lat: str) -> None:
    rng = random.Random(1)
    seq = "".join(rng.choice("HP") for _ in range(lattice.MAX_LENGTH))
    state = search.initial_state(search.FoldParams(seq, lat, replicas=3, ensembles=2))
    for e in state.ensembles:
        search.run_ensemble(e, seq, lat, 2, 300, e.index, "python", None)
    back = engine.packets_to_ensembles(engine.ensembles_to_packets(state.ensembles, lat), lat, len(seq))
    for a, b in zip(state.ensembles, back, strict=True):
        assert (a.index, a.best_energy, a.sweeps, a.steps, a.accepted, a.swaps_tried, a.swaps_made) == (
            b.index, b.best_energy, b.sweeps, b.steps, b.accepted, b.swaps_tried, b.swaps_made)
        assert lattice.moves_from_sites(a.best_sites, lat) == lattice.moves_from_sites(b.best_sites, lat)
        for x, y in zip(a.replicas, b.replicas, strict=True):
            assert lattice.moves_from_sites(x.sites, lat) == lattice.moves_from_sites(y.sites, lat)
            assert (x.energy, x.temperature, x.steps, x.accepted, x.index) == (
                y.energy, y.temperature, y.steps, y.accepted, y.index)


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=25, deadline=None)
@given(st.text(alphabet="HP", min_size=2, max_size=60), st.sampled_from([2, 3]), st.integers(0, 2**32),
       st.sampled_from([(0.32, 0.45), (0.5, 5.0), (20.0, 50.0)]))
def test_ensembles_keep_valid_walks_and_exact_energies(kernel: str, seq: str, dims: int, seed: int,
                                                       temps: tuple[float, float]) -> None:
    """Ladders at any temperature (hot ones stretch the chain across the C kernel's occupancy torus):
    every replica stays a self-avoiding walk whose energy, recomputed here, is the one it carries."""
    lat = f"{dims}d"
    params = search.FoldParams(seq, lat, replicas=3, ensembles=1, t_min=temps[0], t_max=temps[1])
    e = search.initial_state(params).ensembles[0]
    sweeps, phi = (3, 100) if kernel == "python" else (20, 1000)
    search.run_ensemble(e, seq, lat, sweeps, phi, seed, kernel, None)
    assert e.steps == sweeps * phi * 3 and e.sweeps == sweeps
    for r in e.replicas:
        assert hp_energy(seq, lattice.moves_from_sites(r.sites, lat), dims) == r.energy >= e.best_energy
    assert hp_energy(seq, lattice.moves_from_sites(e.best_sites, lat), dims) == e.best_energy
    assert 0 <= e.swaps_made <= e.swaps_tried


@pytest.mark.skipif(native.load() is None, reason="no C compiler here: the C pull-move kernel cannot be built")
def test_c_kernel_on_chains_longer_than_its_grid() -> None:
    """A 3d chain of 300 residues at high temperature would span more than the 32-site torus: the kernel
    refuses those moves (never two residues in one cell) and still counts energies exactly; a conformation
    that already spans the torus is refused with a clear error."""
    rng = random.Random(3)
    seq = "".join(rng.choice("HP") for _ in range(lattice.MAX_LENGTH))
    e = search.initial_state(search.FoldParams(seq, "3d", replicas=2, ensembles=1, t_min=5.0, t_max=50.0)).ensembles[0]
    search.run_ensemble(e, seq, "3d", 10, 20000, 1, "c", None)
    for r in e.replicas:
        coords = walk(lattice.moves_from_sites(r.sites, "3d"), 3)
        assert max(c[0] for c in coords) - min(c[0] for c in coords) < 32
        assert hp_energy(seq, lattice.moves_from_sites(r.sites, "3d"), 3) == r.energy
    straight = [lattice.encode_site(k, 0, 0) for k in range(40)]
    with pytest.raises(InputError, match="grid"):
        native.pull_steps("H" * 40, lattice.site_offsets("3d"), straight, straight, 10, 1.0, 1, 0, 0)


@pytest.mark.parametrize("kernel", KERNELS)
def test_same_answer_on_every_backend_and_node_count(kernel: str) -> None:
    seq = "PPHPPHHPPPPHHPPPPHHPPPPHH"
    p = dict(replicas=5, steps_per_round=300, exchange_every=100, rounds=8, seed=11, kernel=kernel, ensembles=3)
    ref = engine.fold(search.FoldParams(seq, "2d", **p), FabricConfig("inline", 1))
    for cfg in (FabricConfig("inline", 3), FabricConfig("local", 2)):
        r = engine.fold(search.FoldParams(seq, "2d", **p), cfg)
        assert (r.energy, r.moves, r.steps) == (ref.energy, ref.moves, ref.steps)
    assert hp_energy(seq, ref.moves, 2) == ref.energy


@pytest.mark.parametrize("kernel", KERNELS)
def test_restarts_are_the_same_on_every_node_count(kernel: str) -> None:
    seq = "HPHPPHHPHPPHPHHPPHPH"
    p = dict(replicas=3, steps_per_round=200, exchange_every=100, rounds=12, seed=3, kernel=kernel, ensembles=3,
             restart_after=2)
    ref = engine.fold(search.FoldParams(seq, "2d", **p), FabricConfig("inline", 1))
    assert ref.restarts >= 1
    r = engine.fold(search.FoldParams(seq, "2d", **p), FabricConfig("local", 2))
    assert (r.energy, r.moves, r.steps, r.restarts) == (ref.energy, ref.moves, ref.steps, ref.restarts)
    assert hp_energy(seq, ref.moves, 2) == ref.energy
    with pytest.raises(InputError, match="restart"):
        engine.fold(search.FoldParams(seq, "2d", restart_after=-1), FabricConfig())


@pytest.mark.skipif(native.load() is None, reason="no C compiler here: the C pull-move kernel cannot be built")
def test_a_run_cut_by_the_time_limit_is_the_run_of_that_many_rounds() -> None:
    seq = "HPHHPPHHHHPHHHPPHHPPHPHHHPHPHHPPHHPPPHPPPPPPPPHH"
    p = dict(steps_per_round=2000, rounds=10**6, seed=4, kernel="c")
    cut = engine.fold(search.FoldParams(seq, "3d", **p), FabricConfig("inline", 2), time_limit=0.3)
    assert cut.stopped == "time-limit"
    again = engine.fold(search.FoldParams(seq, "3d", **{**p, "rounds": cut.rounds}), FabricConfig("local", 2))
    assert (again.energy, again.moves, again.steps, again.stopped) == (cut.energy, cut.moves, cut.steps, "rounds")
    assert hp_energy(seq, cut.moves, 3) == cut.energy


@pytest.mark.skipif(native.load() is None, reason="no C compiler here: the C pull-move kernel cannot be built")
def test_reaches_a_3d_48mer_best_known_energy() -> None:
    """3D48-5 of Yue et al. (best known -32), a short budget: the default ladder on 2 ensembles."""
    seq = "PPHPPPHPHHHHPPHHHHPHHPHHHPPHPHPHPPHPPPPPPHHPHHPH"
    r = engine.fold(search.FoldParams(seq, "3d", rounds=200, seed=1, target_energy=-32), FabricConfig("inline", 2))
    assert r.energy == -32 == hp_energy(seq, r.moves, 3)


@pytest.mark.slow
def test_same_answer_on_ray() -> None:
    pytest.importorskip("ray")
    seq = "HPHPPHHPHPPHPHHPPHPH"
    p = dict(replicas=4, steps_per_round=300, rounds=5, seed=2)
    ref = engine.fold(search.FoldParams(seq, "3d", **p), FabricConfig("inline", 1))
    r = engine.fold(search.FoldParams(seq, "3d", **p), FabricConfig("ray", 2))
    assert (r.energy, r.moves) == (ref.energy, ref.moves)


def test_fasta_and_hydropathy_mapping(tmp_path: Path) -> None:
    assert to_hp("IVLFCMAGTSWYPHEQDNKR") == "HHHHHHHPPPPPPPPPPPPP"
    name, res = parse_fasta(">sp|P1|TEST a protein\nMKV LA\nAG*\n>second\nPPPP\n")
    assert (name, res) == ("sp|P1|TEST a protein", "MKVLAAG")
    f = tmp_path / "p.fasta"
    f.write_text(">x\nMKVLAAG\n")
    assert read_sequence(str(f)) == ("x", "MKVLAAG", "HPHHHHP")
    assert read_sequence("hpph")[2] == "HPPH"
    for bad in ("MKXV", "H", "", "A" * 301):
        with pytest.raises(InputError):
            read_sequence(bad)
    (tmp_path / "empty.fa").write_text(">only a header\n")
    with pytest.raises(InputError, match="no sequence"):
        read_sequence(str(tmp_path / "empty.fa"))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_fasta_parser_never_crashes(text: str) -> None:
    try:
        parse_fasta(text)
    except InputError:
        pass


def test_without_a_compiler_auto_falls_back_to_python(monkeypatch) -> None:
    monkeypatch.setattr(native, "_tried", False)
    monkeypatch.setattr(native, "_lib", None)
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(native.shutil, "which", lambda name: None)
    assert native.load() is None
    assert engine.resolve_kernel("auto") == "python"
    with pytest.raises(InputError, match="C compiler"):
        engine.resolve_kernel("c")
    monkeypatch.setattr(native, "_tried", False)  # let later tests build/load it again


def test_energy_rejects_bad_conformations() -> None:
    with pytest.raises(InputError, match="twice"):
        lattice.energy("HHHHH", "RULD", "2d")
    with pytest.raises(InputError, match="not one of"):
        lattice.energy("HHH", "RF", "2d")
    with pytest.raises(InputError, match="need"):
        lattice.energy("HHH", "R", "2d")


def test_cli_json_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "fold.png"
    res = CliRunner().invoke(fold_command, ["HPPHHPHHPH", "--lattice", "3d", "--rounds", "5", "--steps", "200",
                                            "--json", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"sequence", "lattice", "energy", "moves"} <= set(out)
    assert out["lattice"] == "3d" and len(out["moves"]) == 9
    assert hp_energy(out["sequence"], out["moves"], 3) == out["energy"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = CliRunner().invoke(fold_command, ["HPZ"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_fold_demo(tmp_path: Path) -> None:
    from packetfs.compute.workloads.folding.demo import SEQUENCE, demo

    demo(tmp_path, seconds=1.0)
    out = json.loads((tmp_path / "fold3d.json").read_text())
    assert hp_energy(SEQUENCE, out["moves"], 3) == out["energy"] < 0
    assert (tmp_path / "fold3d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
