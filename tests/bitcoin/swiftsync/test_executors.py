"""The executors give the same verdict and the same chainstate: this process, local processes, Ray."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.chain.chainstate import Chainstate
from packetfs.bitcoin.storage.blockfiles import open_blocks_dir
from packetfs.bitcoin.swiftsync import Hints, LocalExecutor, RayExecutor, swiftsync_import

from .conftest import chain_info

SALT = bytes(range(64))


def _wrong_hints(chain) -> Hints:
    hints = Hints.read(chain.hints)
    return Hints(hints.height, [*hints.unspent[:-1], []])  # the last block's unspent outputs marked spent


def _run(chain, datadir, hints, executor):
    with Chainstate(datadir, "regtest", jobs=1, store_mode="raw") as cs:
        result = swiftsync_import(cs, open_blocks_dir(chain.blocks_dir), hints, executor, salt=SALT)
    return result, chain_info(datadir)


def test_local_processes_equal_inline(chain, tmp_path):
    wrong = _wrong_hints(chain)
    one, info_one = _run(chain, tmp_path / "a", wrong, LocalExecutor(1))
    two, info_two = _run(chain, tmp_path / "b", wrong, LocalExecutor(2))
    # Same salt, same wrong hints: the same non-zero aggregate however the blocks were split.
    assert one.mode == two.mode == "fallback"
    assert one.failure == two.failure and int(one.failure["aggregate"], 16) != 0
    assert info_one == info_two == chain.reference
    # A different salt gives a different aggregate for the same data.
    with Chainstate(tmp_path / "c", "regtest", jobs=1, store_mode="raw") as cs:
        other = swiftsync_import(cs, open_blocks_dir(chain.blocks_dir), wrong, LocalExecutor(2), salt=bytes(64))
    assert other.failure["aggregate"] != one.failure["aggregate"]


@pytest.fixture
def local_ray():
    """A local Ray instance for the test, always shut down (no process left behind)."""
    ray = pytest.importorskip("ray", reason="the ray executor needs the 'ray' extra")
    assert not ray.is_initialized()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_equals_local(chain, tmp_path, local_ray):
    wrong = _wrong_hints(chain)
    ray_ex = RayExecutor(jobs=2)
    good, info = _run(chain, tmp_path / "ray-good", Hints.read(chain.hints), ray_ex)
    # As on a cluster: the blocks' bytes travel with the tasks instead of being read by the workers.
    bad, _ = _run(chain, tmp_path / "ray-bad", wrong, RayExecutor(jobs=2, ship_bytes=True))
    assert local_ray.is_initialized()  # an instance the executor did not start is left running
    assert good.mode == "swiftsync" and good.executor == "ray" and info == chain.reference
    local_bad, _ = _run(chain, tmp_path / "local-bad", wrong, LocalExecutor(2))
    assert bad.mode == "fallback" and bad.failure == local_bad.failure


@pytest.mark.slow
def test_cli_ray_executor_starts_and_stops_its_own_instance(chain, tmp_path):
    import json

    from .conftest import packetfs

    proc = packetfs("swiftsync-import", str(chain.blocks_dir), "--hints", str(chain.hints), "--network", "regtest",
                    "--datadir", str(tmp_path / "ss"), "-j", "2", "--executor", "ray", "--json", "--strict")  # fmt: skip
    assert json.loads(proc.stdout)["mode"] == "swiftsync"
    assert chain_info(tmp_path / "ss") == chain.reference
