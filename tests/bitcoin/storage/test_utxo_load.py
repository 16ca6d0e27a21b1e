"""UtxoSet.load_new_coins (an empty set given its whole content at once, keys and encodings made
elsewhere) ends in exactly the state one ``add`` per coin makes: same coins on disk byte for byte,
same stats, same reads before and after the flush; a set that is not empty, a repeated key, bad
ranges or unspendable scripts are refused and leave the set unchanged."""

from __future__ import annotations

from pathlib import Path

import lmdb
import pytest

from packetfs.bitcoin.storage.undo import Coin
from packetfs.bitcoin.storage.utxo import UtxoError, UtxoSet, encode_coin_value, open_env, outpoint_key

P2PKH = b"\x76\xa9\x14" + bytes(range(20)) + b"\x88\xac"


def _env(path: Path) -> lmdb.Environment:
    return open_env(str(path), map_size=64 << 20)


def _disk(env: lmdb.Environment) -> dict[bytes, bytes]:
    db = env.open_db(b"coins")
    with env.begin(db=db) as txn:
        return {bytes(k): bytes(v) for k, v in txn.cursor()}


def _coins() -> list[tuple[bytes, int, Coin]]:
    out = []
    for i in range(300):
        txid = i.to_bytes(4, "big") * 8
        script = P2PKH if i % 3 else bytes([0x51]) * (i % 40)
        out.append((txid, i % 7 if i % 5 else 300 + i, Coin(i * 17, i % 4 == 0, i * 12_345, script)))
    return out


def _entries(coins):
    return [(outpoint_key(t, v), encode_coin_value(c), c) for t, v, c in coins]


def test_same_state_as_adding_one_by_one(tmp_path):
    coins = _coins()
    a_env, b_env = _env(tmp_path / "a"), _env(tmp_path / "b")
    a, b = UtxoSet(a_env), UtxoSet(b_env)
    for t, v, c in coins:
        a.add(t, v, c)
    b.load_new_coins(_entries(coins))
    for t, v, c in coins:  # before the flush: read from the cache
        assert a.get(t, v) == b.get(t, v) == c
    assert a.stats() == b.stats()
    a.best_block = b.best_block = bytes(32)
    assert a.flush() == b.flush() == len(coins)
    assert _disk(a_env) == _disk(b_env) and len(_disk(b_env)) == len(coins)
    b2 = UtxoSet(b_env)  # reopened: from disk
    assert {(t, v): c for t, v, c in b2} == {(t, v): c for t, v, c in coins}
    assert b2.stats() == a.stats()


def test_spent_or_replaced_before_the_flush_is_encoded_again(tmp_path):
    coins = _coins()[:10]
    env = _env(tmp_path / "db")
    u = UtxoSet(env)
    u.load_new_coins(_entries(coins))
    t0, v0, _ = coins[0]
    u.spend(t0, v0)
    t1, v1, c1 = coins[1]
    u.spend(t1, v1)
    other = Coin(5, False, 777, b"\x52")
    u.add(t1, v1, other)  # a different coin under a loaded key: its own encoding is written
    u.flush()
    disk = _disk(env)
    assert outpoint_key(t0, v0) not in disk
    assert disk[outpoint_key(t1, v1)] == encode_coin_value(other) != encode_coin_value(c1)
    assert len(disk) == 9


def test_refused_when_not_empty_and_for_bad_entries(tmp_path):
    coins = _coins()[:5]
    env = _env(tmp_path / "db")
    u = UtxoSet(env)
    u.add(*coins[0])
    with pytest.raises(UtxoError, match="cached"):
        u.load_new_coins(_entries(coins[1:]))
    u.flush()
    u2 = UtxoSet(env)
    with pytest.raises(UtxoError, match="on disk"):
        u2.load_new_coins(_entries(coins[1:]))
    fresh = UtxoSet(_env(tmp_path / "empty"))
    good = _entries(coins)
    bad_cases = [
        good + [good[0]],  # a key twice
        [(good[0][0], good[0][1], coins[0][2]._replace(script_pubkey=b"\x6a\x01"))],  # unspendable
        [(good[0][0], good[0][1], coins[0][2]._replace(value=-1))],
        [(good[0][0], good[0][1], coins[0][2]._replace(height=1 << 31))],
        [(b"\x00" * 5, good[0][1], coins[0][2])],  # not a key
        [(good[0][0], good[0][1], tuple(coins[0][2]))],  # not a Coin
    ]
    for bad in bad_cases:
        with pytest.raises(UtxoError):
            fresh.load_new_coins(bad)
        assert fresh.stats().count == 0 and fresh.dirty_count == 0
    fresh.load_new_coins(good)  # still usable: nothing was half-loaded
    assert fresh.dirty_count == len(good)
