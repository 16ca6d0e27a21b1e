"""The ray backend on a local Ray instance started and shut down here: the same bits as inline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from packetfs.compute import get_backend, run_program

ray = pytest.importorskip("ray", reason="the ray backend needs Ray (the 'ray' extra); not installed here")

_here = Path(__file__).parent


def _load(name):
    spec = importlib.util.spec_from_file_location(name, _here / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


randprog = _load("randprog")
test_local = _load("test_local")


@pytest.fixture(scope="module")
def ray2():
    b = get_backend("ray", nodes=2)
    started = False
    try:
        yield b
        started = b.started_ray
    finally:
        b.close()
    if started:
        assert not ray.is_initialized()  # the local instance this backend started is gone


def test_ray_matches_inline_on_the_mixed_program_and_random_programs(ray2):
    prog = test_local.mixed_program()
    x = np.random.default_rng(3).integers(0, 2**40, (1500, 1), dtype=np.uint64)
    ref = run_program(prog, prog.packets(1500, inputs=x), collect_memory=True)
    got = ray2.run(prog, prog.packets(1500, inputs=x), collect_memory=True)
    test_local.assert_same(ref, got)
    assert got.stats.hops == ref.stats.hops and got.stats.bytes_moved > 0
    for seed in range(12):
        prog, inputs = randprog.random_program(seed)
        batch = prog.packets(len(inputs), inputs=inputs)
        want = randprog.fingerprint(run_program(prog, batch, max_steps=400, collect_memory=True))
        assert randprog.fingerprint(ray2.run(prog, batch, max_steps=400, collect_memory=True)) == want


@pytest.mark.slow
def test_ray_many_random_programs(ray2):
    for seed in range(1000, 1200):
        prog, inputs = randprog.random_program(seed)
        batch = prog.packets(len(inputs), inputs=inputs)
        want = randprog.fingerprint(run_program(prog, batch, max_steps=400, collect_memory=True))
        assert randprog.fingerprint(ray2.run(prog, batch, max_steps=400, collect_memory=True)) == want


@pytest.mark.slow
def test_ray_actor_killed_mid_run_fails_with_a_clear_error():
    """Its own backend (the failure closes it, and the Ray instance it started)."""
    import threading

    from packetfs.compute import IMM, BackendError, Instruction, Op, Program

    prog = Program([Instruction(Op.ADD, dst=0, a=0, b=IMM, imm=1, node=i % 2) for i in range(50)] + [Instruction(Op.NOP, next=0)], num_nodes=2)
    b = get_backend("ray", nodes=2, timeout=60)
    try:
        b.run(prog, prog.packets(4), max_steps=200)
        victim = b.actors[1]
        threading.Timer(1.0, ray.kill, (victim,)).start()
        with pytest.raises(BackendError, match="ray backend"):
            b.run(prog, prog.packets(2000), max_steps=2**31)
    finally:
        b.close()
