"""UtxoSet.digest: Core's hash_serialized_3 serialization, recomputed here with struct and hashlib."""

from __future__ import annotations

import hashlib
import random
import struct
from pathlib import Path

from packetfs.bitcoin.storage.undo import Coin
from packetfs.bitcoin.storage.utxo import UtxoSet, open_env


def _reference_digest(coins: dict[tuple[bytes, int], Coin]) -> bytes:
    """Core's TxOutSer for each coin, ordered by (txid bytes, vout number), then sha256d."""
    out = bytearray()
    for (txid, vout) in sorted(coins):
        height, coinbase, value, script = coins[(txid, vout)]
        out += txid + struct.pack("<I", vout) + struct.pack("<I", height * 2 + int(coinbase))
        out += struct.pack("<q", value)
        n = len(script)
        assert n < 0xFD  # the scripts below stay in CompactSize's one-byte range
        out += bytes((n,)) + script
    return hashlib.sha256(hashlib.sha256(bytes(out)).digest()).digest()


def _set(path: Path) -> UtxoSet:
    return UtxoSet(open_env(str(path), map_size=64 << 20), cache_bytes=1 << 20)


def test_empty_set_is_sha256d_of_nothing(tmp_path):
    assert _set(tmp_path / "u").digest().hex() == hashlib.sha256(hashlib.sha256(b"").digest()).hexdigest()


def test_digest_matches_reference_pending_and_flushed(tmp_path):
    rng = random.Random(3)
    u = _set(tmp_path / "u")
    model: dict[tuple[bytes, int], Coin] = {}
    # vouts on both sides of 16511/16512, where VARINT byte order and numeric order disagree.
    vouts = [0, 1, 127, 128, 300, 16511, 16512, 70000]
    for _ in range(40):
        txid = rng.randbytes(32)
        for vout in rng.sample(vouts, 4):
            coin = Coin(rng.randrange(0, 800_000), rng.random() < 0.2, rng.randrange(0, 21 * 10**14),
                        bytes([0x00, 0x14]) + rng.randbytes(20))  # fmt: skip
            u.add(txid, vout, coin)
            model[(txid, vout)] = coin
    assert u.digest() == _reference_digest(model)  # all pending, nothing on disk yet
    u.flush()
    assert u.digest() == _reference_digest(model)
    # Mixed: spend some flushed coins, add new ones, leave it pending.
    for key in rng.sample(sorted(model), 25):
        u.spend(*key)
        del model[key]
    extra = rng.randbytes(32)
    u.add(extra, 5, Coin(9, True, 50, b"\x51"))
    model[(extra, 5)] = Coin(9, True, 50, b"\x51")
    assert u.digest() == _reference_digest(model)
    u.flush()
    u.close()
    u.env.close()
    reopened = _set(tmp_path / "u")
    assert reopened.digest() == _reference_digest(model)


def test_digest_depends_on_every_field(tmp_path):
    base = {(b"\x01" * 32, 0): Coin(10, False, 1000, b"\x51")}
    variants = [
        {(b"\x01" * 32, 0): Coin(11, False, 1000, b"\x51")},
        {(b"\x01" * 32, 0): Coin(10, True, 1000, b"\x51")},
        {(b"\x01" * 32, 0): Coin(10, False, 1001, b"\x51")},
        {(b"\x01" * 32, 0): Coin(10, False, 1000, b"\x52")},
        {(b"\x01" * 32, 1): Coin(10, False, 1000, b"\x51")},
        {(b"\x02" * 32, 0): Coin(10, False, 1000, b"\x51")},
    ]
    digests = set()
    for i, coins in enumerate([base, *variants]):
        u = _set(tmp_path / f"u{i}")
        for (txid, vout), coin in coins.items():
            u.add(txid, vout, coin)
        assert u.digest() == _reference_digest(coins)
        digests.add(u.digest())
    assert len(digests) == 1 + len(variants)
