import copy
import shutil

import pytest

from packetfs.bitcoin.mining.regtest import RegtestNode


class Clock:
    """A settable clock for expiry and fee decay."""

    def __init__(self, t: float = 1_700_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


_TEMPLATE: dict = {}


def _template(base) -> tuple:
    """A 200-block chain (100 mature coinbase coins for the wallet) built once per session."""
    if "dir" not in _TEMPLATE:
        path = base / "template"
        n = RegtestNode(path)
        n.mine(200)
        coins = copy.deepcopy(n.wallet.coins)
        n.close()
        _TEMPLATE.update(dir=path, coins=coins)
    return _TEMPLATE["dir"], _TEMPLATE["coins"]


@pytest.fixture(scope="session")
def template_base(tmp_path_factory):
    return tmp_path_factory.mktemp("mempool-chain")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_node(path, clock, options=None, base=None):
    src, coins = _template(base)
    shutil.copytree(src, path)
    n = RegtestNode(path, options, now=clock)
    n.wallet.coins = copy.deepcopy(coins)
    return n


@pytest.fixture
def node_factory(tmp_path, clock, template_base):
    made = []

    def factory(name="node", options=None):
        n = make_node(tmp_path / name, clock, options, template_base)
        made.append(n)
        return n

    yield factory
    for n in made:
        n.close()


@pytest.fixture
def node(node_factory):
    """A regtest chain of 200 blocks paying the wallet (100 mature coinbase coins), empty mempool."""
    return node_factory()
