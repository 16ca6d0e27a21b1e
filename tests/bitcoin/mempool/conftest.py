import pytest

from packetfs.bitcoin.mining.regtest import RegtestNode


class Clock:
    """A settable clock for expiry and fee decay."""

    def __init__(self, t: float = 1_700_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def node(tmp_path, clock):
    """A regtest chain of 200 blocks paying the wallet (100 mature coinbase coins), empty mempool."""
    n = RegtestNode(tmp_path / "node", now=clock)
    n.mine(200)
    try:
        yield n
    finally:
        n.close()


def make_node(path, clock, options=None, blocks=200):
    n = RegtestNode(path, options, now=clock)
    n.mine(blocks)
    return n
