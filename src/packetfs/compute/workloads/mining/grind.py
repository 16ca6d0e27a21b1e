"""Grinding nonces as packets: one packet per candidate header, two HASH instructions per packet.

The header's first 64 bytes are fixed while the nonce changes, so their SHA-256 compression (the midstate)
is computed once on the host and carried in the packet. A packet holds:

* s0..s7: the header's second SHA-256 block: bytes 64..79 (end of the merkle root, time, bits, nonce)
  then the padding of an 80-byte message; the nonce is the high half of s1;
* s8..s11: the midstate; s16..s19: the padding of a 32-byte message.

``HASH s12 <- (s0..s7, s8..s11)`` gives the first SHA-256, ``HASH s8 <- (s12..s19, IV)`` the second, so
s8..s11 hold the block hash in internal byte order. ``LEU`` compares its top 64 bits with the target's;
packets that pass (all real blocks, and about 2^-k of the rest) EMIT the hash, and the host makes the exact
256-bit comparison and re-hashes the header with hashlib before believing it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ...isa import IMM, Op
from ...runtime.program import Instruction, Program
from .sha256 import midstate

HASH_TAG = 2
_PAD80 = (0x80, 0, 0, 0, 0, int.from_bytes(struct.pack(">Q", 80 * 8), "little"))  # s2..s7
_PAD32 = (0x80, 0, 0, int.from_bytes(struct.pack(">Q", 32 * 8), "little"))  # s16..s19
MAX_NONCE = 1 << 32


def build_program(target: int, nodes: int) -> Program:
    target_hi = target >> 192
    code = [
        Instruction(Op.HASH, dst=12, a=0, b=8),  # 0: first SHA-256 from the midstate
        Instruction(Op.HASH, dst=8, a=12, b=IMM),  # 1: second SHA-256 of the 32-byte digest
        Instruction(Op.LEU, dst=20, a=11, b=IMM, imm=target_hi),  # 2: top 64 bits <= target's
        Instruction(Op.BR, a=20, next=5, alt=4),  # 3
        Instruction(Op.EMIT, dst=HASH_TAG, a=8, count=4),  # 4: a candidate: send the hash home
        Instruction(Op.HALT, a=IMM, imm=0),  # 5
    ]
    return Program(code, num_nodes=nodes, name="sha256d-grind")


def midstate_slots(header80: bytes) -> np.ndarray:
    """The midstate as the 4 slots HASH reads (digest bytes, little-endian u64 slots)."""
    return np.frombuffer(struct.pack(">8I", *midstate(header80)), dtype="<u8").copy()


def packet_inputs(header80: bytes, nonces: np.ndarray) -> np.ndarray:
    """(n, 20) slot values for grinding ``nonces`` (uint64 array, each < 2**32) on ``header80``."""
    n = len(nonces)
    x = np.zeros((n, 20), dtype=np.uint64)
    tail = np.frombuffer(header80[64:80], dtype="<u8")
    x[:, 0] = tail[0]
    x[:, 1] = (tail[1] & np.uint64(0xFFFFFFFF)) | (nonces.astype(np.uint64) << np.uint64(32))
    x[:, 2:8] = np.array(_PAD80, dtype=np.uint64)
    x[:, 8:12] = midstate_slots(header80)
    x[:, 16:20] = np.array(_PAD32, dtype=np.uint64)
    return x


def nodes_for(nonces: np.ndarray, first: int, count: int, nodes: int) -> np.ndarray:
    """Contiguous nonce ranges per node, as hardware miners split a job: node k gets the k-th slice."""
    return ((nonces.astype(np.uint64) - np.uint64(first)) * np.uint64(nodes) // np.uint64(count)).astype(np.uint32)


@dataclass(frozen=True)
class Hit:
    nonce: int
    block_hash: bytes  # internal byte order, as the fabric computed it


def hits_from(result, nonce_base: int) -> list[Hit]:
    """The EMITted candidates of a grind run (computation_id - nonce_base = nonce offset)."""
    e = result.emits[result.emits["tag"] == HASH_TAG]
    out = []
    for cid in np.unique(e["computation_id"]):
        lanes = e[e["computation_id"] == cid]
        lanes = lanes[np.argsort(lanes["lane"])]
        digest = b"".join(int(v).to_bytes(8, "little") for v in lanes["value"])
        out.append(Hit(int(cid) - nonce_base, digest))
    return out


def header_with_nonce(header80: bytes, nonce: int) -> bytes:
    return header80[:76] + nonce.to_bytes(4, "little")
