"""Interoperability with bcoin 1.0.2, a real independent node: sync both ways, propagation, reorgs."""

from __future__ import annotations

from bcoin_harness import BcoinNode


def _synced(tools, datadir, want_hash: str):
    return lambda: tools.chain_info(datadir)["best_block_hash"] == want_hash


def test_our_node_syncs_a_bcoin_chain_and_follows_new_blocks(nodes, tools) -> None:
    with BcoinNode() as bcoin:
        bcoin.mine(200)
        tip = bcoin.rpc("getbestblockhash")
        ours = nodes("ours", "--connect", f"127.0.0.1:{bcoin.p2p_port}")
        tools.wait_until(_synced(tools, ours.datadir, tip), 60, "our node to reach bcoin's tip",
                         on_fail=ours.log_text)
        info = tools.chain_info(ours.datadir)
        assert info["height"] == 200
        # New blocks mined by bcoin while connected reach us.
        bcoin.mine(3)
        tip = bcoin.rpc("getbestblockhash")
        tools.wait_until(_synced(tools, ours.datadir, tip), 30, "a new bcoin block to reach us",
                         on_fail=ours.log_text)
