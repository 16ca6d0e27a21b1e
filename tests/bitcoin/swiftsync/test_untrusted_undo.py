"""Undo data comes from outside (rev files now, peers later): any bytes give a verdict, never an exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.primitives.hashes import sha256d
from packetfs.bitcoin.swiftsync.validate import BlockWork, RangeTask, validate_range

HEIGHT = 108


def _task(chain, undo: bytes | None) -> RangeTask:
    raw, _ = chain.records[HEIGHT]
    work = BlockWork(HEIGHT, sha256d(raw[:80]), raw, undo, len(raw), ())
    times = [int.from_bytes(r[68:72], "little") for r, _ in chain.records[: HEIGHT + 1]]
    mtp = tuple(sorted(times[max(0, h - 10) : h + 1])[len(times[max(0, h - 10) : h + 1]) // 2] for h in range(HEIGHT + 1))
    return RangeTask("regtest", bytes(64), (work,), 0, mtp)


def test_the_real_undo_passes_every_check_but_the_aggregate(chain):
    result = validate_range(_task(chain, chain.records[HEIGHT][1]))
    # Block-local: valid, every input's script checked; on its own its aggregate is not zero.
    assert result.failure is None and result.blocks == 1 and result.inputs_verified == result.inputs > 0
    assert result.aggregate != 0


@given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_mutated_undo_never_raises(chain, data):
    undo = bytearray(chain.records[HEIGHT][1])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(undo) - 1))
        undo[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        undo = undo[: data.draw(st.integers(0, len(undo)))]
    result = validate_range(_task(chain, bytes(undo)))
    assert result.failure is not None or result.blocks == 1


@given(st.binary(max_size=200))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_undo_is_a_failed_block(chain, undo):
    result = validate_range(_task(chain, undo))
    assert result.failure is not None and result.failure.height == HEIGHT
