"""Property: random programs give bit-identical results (final packets, emits, accumulators, memory) on the
inline and local backends, for any worker count (Ray: test_ray.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.compute import get_backend, run_program

_spec = importlib.util.spec_from_file_location("randprog", Path(__file__).with_name("randprog.py"))
randprog = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(randprog)

MAX_STEPS = 400


@pytest.fixture(scope="module")
def local2():
    with get_backend("local", nodes=2) as b:
        yield b


@pytest.fixture(scope="module")
def local3():
    with get_backend("local", nodes=3) as b:
        yield b


def _run(prog, inputs, backend):
    return run_program(prog, prog.packets(len(inputs), inputs=inputs), backend=backend, max_steps=MAX_STEPS, collect_memory=True)


def _identical(seed, local2, local3):
    prog, inputs = randprog.random_program(seed)
    ref = randprog.fingerprint(_run(prog, inputs, "inline"))
    assert randprog.fingerprint(_run(prog, inputs, local2)) == ref
    assert randprog.fingerprint(_run(prog, inputs, local3)) == ref


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_programs_identical_on_inline_and_local(seed, local2, local3):
    _identical(seed, local2, local3)


@pytest.mark.slow
@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_many_random_programs_identical_on_inline_and_local(seed, local2, local3):
    _identical(seed, local2, local3)


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_inline_is_independent_of_batch_split_and_order(seed):
    """The reference itself: the batch reversed, or every packet run alone, gives the same packets and emits
    (and, reversed, the same accumulators and memory)."""
    prog, inputs = randprog.random_program(seed)
    batch = prog.packets(len(inputs), inputs=inputs)
    whole = run_program(prog, batch, max_steps=MAX_STEPS, collect_memory=True)
    rev = run_program(prog, batch[::-1].copy(), max_steps=MAX_STEPS, collect_memory=True)
    assert randprog.fingerprint(rev) == randprog.fingerprint(whole)
    for i in range(0, len(batch), 7):
        alone = run_program(prog, batch[i : i + 1], max_steps=MAX_STEPS)
        assert alone.packets.tobytes() == whole.packets[i : i + 1].tobytes()
        assert (alone.emits["value"] == whole.emitted(i)).all()
