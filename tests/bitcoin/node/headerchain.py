"""Regtest header chains with real proof of work, mined here with hashlib (for the headers-sync tests)."""

from __future__ import annotations

import hashlib

REGTEST_BITS = 0x207FFFFF
REGTEST_TARGET = 0x7FFFFF << (8 * (0x20 - 3))
REGTEST_GENESIS_HASH = bytes.fromhex("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")[::-1]
REGTEST_GENESIS_TIME = 1296688602
# Work of one regtest block, 2^256 / (target + 1), computed here, not by the code under test.
REGTEST_BLOCK_WORK = (1 << 256) // (REGTEST_TARGET + 1)


def dsha(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def mine_header(prev: bytes, time: int, tag: int, bits: int = REGTEST_BITS, nonce: int = 0) -> bytes:
    """An 80-byte header meeting its target (about two tries on regtest); ``tag`` varies the merkle root
    so that different chains have different headers."""
    merkle = dsha(tag.to_bytes(8, "little") + prev)
    base = (0x20000000).to_bytes(4, "little") + prev + merkle + time.to_bytes(4, "little") + bits.to_bytes(4, "little")
    target = (bits & 0xFFFFFF) << (8 * ((bits >> 24) - 3))
    while True:
        raw = base + nonce.to_bytes(4, "little")
        if int.from_bytes(dsha(raw), "little") <= target:
            return raw
        nonce += 1


def mine_chain(n: int, prev: bytes = REGTEST_GENESIS_HASH, start_time: int = REGTEST_GENESIS_TIME,
               tag: int = 0) -> list[bytes]:
    """``n`` raw headers following ``prev``, one second apart."""
    out = []
    for i in range(n):
        raw = mine_header(prev, start_time + 1 + i, tag * 1_000_003 + i)
        out.append(raw)
        prev = dsha(raw)
    return out


def headers_payload(raws: list[bytes]) -> bytes:
    n = len(raws)
    count = bytes([n]) if n < 0xFD else b"\xfd" + n.to_bytes(2, "little")
    return count + b"".join(r + b"\x00" for r in raws)
