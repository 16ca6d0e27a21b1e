"""Transaction builders for the mempool tests (on top of the one-key MiniWallet)."""

from packetfs.bitcoin.mining.wallet import WalletCoin
from packetfs.bitcoin.primitives.transaction import Transaction, TxIn


def coin(node) -> WalletCoin:
    return node.wallet.take(node.height)


def fanout(node, n: int, value_each: int | None = None, fee: int = 10_000, confirm: bool = True) -> list[WalletCoin]:
    """One tx splitting a mature coin into ``n`` wallet outputs; mined if ``confirm``."""
    c = coin(node)
    tx = node.wallet.spend([c], fee=fee, n_outputs=n)
    if confirm:
        node.mine(1, transactions=[tx])
        return [WalletCoin(x.txid, x.vout, x.value, node.height) for x in node.wallet.outputs_of(tx)]
    r = node.mempool.accept(tx)
    assert r.accepted, r
    return node.wallet.outputs_of(tx)


def raw_tx(inputs, outputs, version=2, locktime=0, witnesses=None) -> Transaction:
    return Transaction(version, [TxIn(t, v, ss, seq) for t, v, ss, seq in inputs], outputs, locktime, witnesses)


def accept_ok(node, tx):
    r = node.mempool.accept(tx)
    assert r.accepted, r.reject_string
    return r


def reject(node, tx, reason, debug_part=None, **kw):
    before = set(node.mempool.entries)
    r = node.mempool.accept(tx, **kw)
    assert not r.accepted
    assert r.reason == reason, (r.reason, r.debug)
    if debug_part is not None:
        assert debug_part in r.debug, r.debug
    assert set(node.mempool.entries) == before  # a refusal changes nothing
    return r
