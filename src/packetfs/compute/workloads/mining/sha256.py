"""SHA-256 as a compression function with an exposed chaining state (FIPS 180-4), for midstates.

hashlib hides the state between blocks, and a miner needs it: the first 64 bytes of an 80-byte header
never change while the nonce is ground, so their compression (the midstate) is computed once here and
every candidate header costs two compressions on the fabric instead of three. It runs once per template
and extranonce, never per nonce. Checked against hashlib in the tests.
"""

from __future__ import annotations

import struct

import numpy as np

from ...isa import SHA256_IV as IV
from ...isa import sha256_compress


def compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    """One SHA-256 compression of a 64-byte ``block`` into the 8-word ``state`` (the fabric's HASH
    instruction's own compression, on one lane)."""
    if len(block) != 64:
        raise ValueError("a SHA-256 block is 64 bytes")
    words = np.frombuffer(block, dtype=">u4").astype(np.uint32).reshape(1, 16)
    out = sha256_compress(np.array([state], dtype=np.uint32), words)
    return tuple(int(x) for x in out[0])


def padding(message_length: int) -> bytes:
    """The SHA-256 padding that follows a message of ``message_length`` bytes."""
    zeros = (55 - message_length) % 64
    return b"\x80" + bytes(zeros) + struct.pack(">Q", message_length * 8)


def midstate(header80: bytes) -> tuple[int, ...]:
    """The chaining state after the first 64 bytes of an 80-byte block header."""
    if len(header80) != 80:
        raise ValueError("a block header is 80 bytes")
    return compress(IV, header80[:64])


def digest_from_state(state: tuple[int, ...]) -> bytes:
    return struct.pack(">8I", *state)
