"""Block assembly by ancestor feerate (Core's BlockAssembler), coinbase and witness commitment, and
regtest mining; every block from a full mempool is checked by libbitcoinkernel (Core's own
validation, via pbk) as well as by our chainstate."""

from pathlib import Path

import pytest

from packetfs.bitcoin.consensus.block_rules import coinbase_height
from packetfs.bitcoin.consensus.constants import MAX_BLOCK_WEIGHT
from packetfs.bitcoin.mining.assembler import assemble, grind, serialize_block
from packetfs.bitcoin.mining.regtest import RegtestNode
from packetfs.bitcoin.primitives.block import Block, find_witness_commitment, witness_commitment_hash

try:
    import pbk
except ImportError:
    pbk = None
_NO_PBK = "py-bitcoinkernel (`import pbk`) is Bitcoin Core's validation, the judge of these tests"


class Kernel:
    def __init__(self, datadir: Path):
        if pbk is None:
            pytest.skip(_NO_PBK)
        self.states: dict[bytes, object] = {}
        callbacks = pbk.ValidationInterfaceCallbacks(
            block_checked=lambda _u, block, state: self.states.__setitem__(bytes(block.block_hash), state.validation_mode)
        )
        self.ctx = pbk.make_context(pbk.ChainType.REGTEST, validation_callbacks=callbacks)
        self.opts = pbk.ChainstateManagerOptions(self.ctx, str(datadir), str(datadir / "blocks"))
        self.chainman = pbk.ChainstateManager(self.opts)

    def submit(self, raw: bytes) -> bool:
        """True if Core validated and connected the block."""
        try:
            self.chainman.process_block(pbk.Block(raw))
        except pbk.ProcessBlockException:
            return False
        h = Block.from_bytes(raw).hash
        return self.states.get(h) == pbk.ValidationMode.VALID and self.tip() == h

    def catch_up(self, node) -> None:
        """Submit the node's active-chain blocks the kernel does not have yet."""
        height = self.chainman.get_active_chain().height
        for e in node.chainstate.active_chain()[height + 1 :]:
            assert self.submit(node.block(e.hash).serialize())

    def tip(self) -> bytes:
        chain = self.chainman.get_active_chain()
        return bytes(chain.block_tree_entries[chain.height].block_hash)


@pytest.fixture
def node(tmp_path):
    n = RegtestNode(tmp_path / "node")
    n.mine(200)
    try:
        yield n
    finally:
        n.close()


@pytest.fixture
def kernel(tmp_path, node):
    k = Kernel(tmp_path / "kernel")
    k.catch_up(node)
    yield k
    del k.chainman


def _fill(node, n_small=300, n_big=45):
    """Chains, packages, TRUC pairs, fan-outs and big padded txs: more than one block's worth."""
    w = node.wallet
    mp = node.mempool
    fanned = w.spend([w.take(node.height)], fee=20_000, n_outputs=n_small)
    node.mine(1, transactions=[fanned])
    from packetfs.bitcoin.mining.wallet import WalletCoin

    coins = [WalletCoin(c.txid, c.vout, c.value, node.height) for c in w.outputs_of(fanned)]
    i = 0
    while i < len(coins):
        c = coins[i]
        kind = i % 5
        if kind == 0:  # a chain of 4 with rising fees (CPFP)
            tip = w.spend([c], fee=150 + i)
            assert mp.accept(tip).accepted
            for j in range(3):
                tip = w.spend(w.outputs_of(tip), fee=3_000 * (j + 1))
                assert mp.accept(tip).accepted
        elif kind == 1:  # TRUC 0-fee parent + child
            p = w.spend([c], fee=0, version=3)
            ch = w.spend(w.outputs_of(p), fee=5_000 + i, version=3)
            assert mp.accept_package([p, ch]).ok
        elif kind == 2:  # fan-out with children
            p = w.spend([c], fee=2_000 + i, n_outputs=4)
            assert mp.accept(p).accepted
            for o in w.outputs_of(p)[:3]:
                assert mp.accept(w.spend([o], fee=500 + i)).accepted
        else:
            assert mp.accept(w.spend([c], fee=100 + 37 * i, version=1 + i % 2)).accepted
        i += 1
    for k in range(n_big):
        tx = w.spend([w.take(node.height)], fee=25_000 * (k + 1), pad_to_vsize=22_000)
        assert mp.accept(tx).accepted, k


def test_full_mempool_blocks_accepted_by_kernel(node, kernel):
    _fill(node)
    kernel.catch_up(node)
    mp = node.mempool
    assert mp.total_vsize > 1_000_000  # more than a block
    fees_before = mp.total_fee
    rounds = 0
    while len(mp):
        rounds += 1
        t = assemble(node.chainstate, mp)
        assert t.weight <= MAX_BLOCK_WEIGHT - 4_000
        block = grind(t.block(node.wallet.script_pubkey), node.chainstate.params)
        raw = serialize_block(block)
        assert block.weight <= MAX_BLOCK_WEIGHT
        assert coinbase_height(block) == node.height + 1
        assert find_witness_commitment(block.transactions[0]) == witness_commitment_hash(block.compute_witness_merkle_root(), bytes(32))
        assert kernel.submit(raw), f"libbitcoinkernel refused block {rounds}"
        node.sync.process_block(raw)
        node.wallet.scan_block(block, node.height)
        assert node.chainstate.tip.hash == block.hash
        assert block.transactions[0].outputs[0].value == t.coinbase_value
        if rounds == 1:
            assert len(mp) > 0  # the first block could not take everything
            assert t.fees > fees_before / 2
    assert rounds >= 2


def test_ancestor_feerate_order(node):
    w = node.wallet
    mp = node.mempool
    low_parent = w.spend([w.take(node.height)], fee=200)
    rich_child = w.spend(w.outputs_of(low_parent), fee=20_000)
    medium = w.spend([w.take(node.height)], fee=5_000)
    for tx in (low_parent, rich_child, medium):
        assert mp.accept(tx).accepted
    t = assemble(node.chainstate, mp)
    order = [x.tx.txid for x in t.transactions]
    # The parent+child package (20,200 sat / ~220 vB) beats the medium tx (5,000 / 110).
    assert order == [low_parent.txid, rich_child.txid, medium.txid]
    assert t.transactions[1].depends == [1]
    # A weight limit with room for one package only.
    t = assemble(node.chainstate, mp, max_weight=4_000 + 4 * 250)
    assert [x.tx.txid for x in t.transactions] == [low_parent.txid, rich_child.txid]
    t = assemble(node.chainstate, mp, max_weight=4_000 + 4 * 115)
    assert [x.tx.txid for x in t.transactions] == [medium.txid]


def test_empty_template_and_subsidy(node):
    t = assemble(node.chainstate, node.mempool)
    assert t.transactions == [] and t.height == 201
    assert t.coinbase_value == 25 * 10**8  # regtest halves every 150 blocks
    cb = t.coinbase(node.wallet.script_pubkey)
    assert cb.locktime == 200 and cb.inputs[0].sequence == 0xFFFFFFFE
    assert cb.outputs[1].script_pubkey.startswith(bytes.fromhex("6a24aa21a9ed"))
