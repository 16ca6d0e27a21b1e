"""SwiftSync's salted hash aggregate over coins.

A coin is hashed as ``SHA256(salt || txid || vout:u32 || height*2+coinbase:u32 || value:u64 || script)``
(little-endian integers; the script is last, so the fixed-size prefix makes the encoding unambiguous)
and read as an unsigned 256-bit little-endian integer. Creating a coin the hints say gets spent adds
its hash, spending a coin subtracts the hash of the coin the undo data claims it spent, all modulo
2**256. With a salt the data's supplier cannot know, the sum is zero at the hints' height only if the
spent coins are exactly the created-and-spent coins, each once, with the same height, coinbase flag,
amount and script (up to a 2**-128-ish collision chance). Addition commutes, so blocks can be summed
in any order, on any number of processes, and the partial sums added up.
"""

from __future__ import annotations

import hashlib
import os
import struct

MODULUS = 1 << 256
# 64 bytes: one whole SHA-256 block, so the salted midstate is computed once and each coin costs only
# its own compressions (the salt before the data, as Maxwell suggested on the list).
SALT_SIZE = 64
# vout:u32, height*2+coinbase:u32, value:u64, packed in one call (the encoding above)
COIN_FIELDS = struct.Struct("<IIQ")
_FIELDS = COIN_FIELDS.pack
_from_bytes = int.from_bytes


def new_salt() -> bytes:
    """A fresh random salt: one per run, never reused, never shown to whoever supplied the data."""
    return os.urandom(SALT_SIZE)


class CoinHasher:
    """Hashes coins under one salt (the salt's SHA-256 state is computed once and copied per coin)."""

    __slots__ = ("_base", "salted_copy")

    def __init__(self, salt: bytes):
        if len(salt) != SALT_SIZE:
            raise ValueError(f"a salt is {SALT_SIZE} bytes")
        self._base = hashlib.sha256(salt)
        # The midstate's own copy method: what salted() returns, without a Python call per coin.
        self.salted_copy = self._base.copy

    def salted(self) -> hashlib._Hash:
        """A SHA-256 object already fed the salt (a copy of the midstate)."""
        return self._base.copy()

    def coin(self, txid: bytes, vout: int, height: int, coinbase: bool, value: int, script: bytes) -> int:
        h = self._base.copy()
        try:
            fields = _FIELDS(vout, height * 2 + coinbase, value)
        except struct.error as e:  # a field out of range: the same error type int.to_bytes raises
            raise OverflowError(f"coin field out of range: {e}") from None
        h.update(txid + fields + script)
        return _from_bytes(h.digest(), "little")
