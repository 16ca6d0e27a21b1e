"""Fixtures for the storage tests: a regtest chain and a blocks directory written by Bitcoin Core's code."""

from __future__ import annotations

import gc
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def _load_regtest_util():
    # Tests run with --import-mode=importlib and tests/ is not a package: load the helper by path, once.
    name = "packetfs_tests_storage_regtest_util"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _HERE / "regtest_util.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def regtest_util():
    return _load_regtest_util()


@pytest.fixture(scope="session")
def regtest_chain(regtest_util):
    """106 blocks (genesis excluded) with spends of every compressed-script form from height 101 on."""
    return regtest_util.build_chain(n_blocks=106, spend_from=101)


@dataclass
class CoreBlocksDir:
    blocks_dir: Path
    chain: object  # regtest_util.RegtestChain
    tip_height: int
    hashes: list[bytes]  # block hash per height (0 = genesis), as libbitcoinkernel reports them
    # per height >= 1: libbitcoinkernel's reading of that block's undo data:
    # per non-coinbase tx, per input: (height, coinbase, value, script_pubkey)
    spent: list[list[list[tuple[int, bool, int, bytes]]]]


@pytest.fixture(scope="session")
def core_blocks_dir(tmp_path_factory, regtest_chain) -> CoreBlocksDir:
    """Feed the regtest chain to libbitcoinkernel (pbk) and let it write blk/rev/xor.dat files."""
    pbk = pytest.importorskip(
        "pbk", reason="py-bitcoinkernel (dev extra) provides Bitcoin Core's own block storage"
    )
    datadir = tmp_path_factory.mktemp("core-datadir")
    ctx = pbk.make_context(pbk.ChainType.REGTEST)
    opts = pbk.ChainstateManagerOptions(ctx, str(datadir), str(datadir / "blocks"))
    chainman = pbk.ChainstateManager(opts)
    for raw in regtest_chain.blocks:
        chainman.process_block(pbk.Block(raw))  # raises ProcessBlockException if Core rejects it
    chain = chainman.get_active_chain()
    entries = chain.block_tree_entries
    hashes = [bytes(entries[h].block_hash) for h in range(chain.height + 1)]
    spent = [[]]
    for h in range(1, chain.height + 1):
        undo = chainman.block_spent_outputs[entries[h]]
        spent.append(
            [
                [
                    (
                        c.confirmation_height,
                        bool(c.is_coinbase),
                        c.output.amount,
                        bytes(c.output.script_pubkey),
                    )
                    for c in txundo.coins
                ]
                for txundo in undo.transactions
            ]
        )
    tip = chain.height
    # Closing the chainstate manager flushes and releases the files before we read them.
    del entries, chain, chainman, opts, ctx
    gc.collect()
    return CoreBlocksDir(datadir / "blocks", regtest_chain, tip, hashes, spent)
