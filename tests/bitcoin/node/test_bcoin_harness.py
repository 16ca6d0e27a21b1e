"""The bcoin harness itself: install, start on free ports, RPC, mining, and no process left behind."""

from __future__ import annotations

import os

import pytest
from bcoin_harness import BCOIN_REGTEST_ADDRESS, BcoinError, BcoinNode

REGTEST_GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


def test_bcoin_starts_mines_and_stops() -> None:
    with BcoinNode() as node:
        assert node.rpc("getbestblockhash") == REGTEST_GENESIS
        hashes = node.mine(3)
        assert len(hashes) == 3
        assert node.rpc("getblockcount") == 3
        assert node.rpc("getbestblockhash") == hashes[-1]
        with pytest.raises(BcoinError, match="Invalid address"):
            node.rpc("generatetoaddress", 1, "not-an-address")
        pid = node.proc.pid
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_bcoin_is_killed_when_the_body_raises() -> None:
    pid = None
    with pytest.raises(RuntimeError, match="boom"), BcoinNode() as node:
        pid = node.proc.pid
        raise RuntimeError("boom")
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_regtest_address_is_bcoins_prefix() -> None:
    assert BCOIN_REGTEST_ADDRESS.startswith("rb1q")
