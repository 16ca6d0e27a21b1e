"""Fuzzing acceptance: mutated real transactions and arbitrary bytes that parse as transactions get
a verdict (accepted, or Core's reject reason), never an exception; a refusal changes nothing."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.errors import ParseError
from packetfs.bitcoin.primitives.transaction import Transaction

from .helpers import coin

_CACHE: dict = {}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_transactions(node, data):
    w = node.wallet
    if id(node) not in _CACHE:
        _CACHE.clear()
        cs = [coin(node) for _ in range(3)]
        _CACHE[id(node)] = [w.spend([cs[0]], fee=1_000).serialize(), w.spend(cs[1:], fee=2_000, n_outputs=3,
                                                                              version=3).serialize()]
    raw = bytearray(data.draw(st.sampled_from(_CACHE[id(node)])))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    try:
        tx = Transaction.from_bytes(bytes(raw))
    except ParseError:
        return
    before = set(node.mempool.entries)
    r = node.mempool.accept(tx)
    assert r.accepted or (r.reason and set(node.mempool.entries) == before)
    if r.accepted:
        node.mempool.remove_recursive(tx.txid, "test")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(min_size=10, max_size=400))
def test_arbitrary_bytes(node, blob):
    try:
        tx = Transaction.from_bytes(blob)
    except ParseError:
        return
    r = node.mempool.accept(tx)
    assert not r.accepted and r.reason
    res = node.mempool.accept_package([tx, tx])
    assert not res.ok
