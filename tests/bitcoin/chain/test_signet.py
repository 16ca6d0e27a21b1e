"""BIP325 block solutions, with a challenge whose key we hold (1-of-1 bare multisig, the shape of
the default signet's 1-of-2), and the trivial OP_TRUE challenge."""

from __future__ import annotations

import coincurve
import pytest

from packetfs.bitcoin.chain.signet import (
    SIGNET_HEADER,
    check_signet_solution,
    signet_solution_bytes,
    signet_txs,
)
from packetfs.bitcoin.consensus.errors import ValidationError
from packetfs.bitcoin.primitives import Block, BlockHeader, Transaction, TxIn, TxOut
from packetfs.bitcoin.primitives.script import push_data
from packetfs.bitcoin.script import legacy_sighash

KEY = coincurve.PrivateKey(bytes.fromhex("11" * 32))
CHALLENGE = b"\x51" + push_data(KEY.public_key.format()) + b"\x51\xae"


def _block(extra_push: bytes | None, time: int = 1_700_000_000) -> Block:
    commitment = bytes.fromhex("6a24aa21a9ed") + bytes(32)
    if extra_push is not None:
        commitment += push_data(extra_push)
    coinbase = Transaction(
        2,
        [TxIn(bytes(32), 0xFFFFFFFF, b"\x01\x01", 0xFFFFFFFF)],
        [TxOut(50 * 10**8, b"\x51"), TxOut(0, commitment)],
        0,
        [[bytes(32)]],
    )
    spend = Transaction(2, [TxIn(b"\x22" * 32, 0, b"", 0xFFFFFFFD)], [TxOut(1000, b"\x51")], 0)
    header = BlockHeader(0x20000000, b"\x33" * 32, bytes(32), time, 0x1E0377AE, 7)
    block = Block(header, [coinbase, spend])
    header.merkle_root = block.compute_merkle_root()[0]
    return block


def _signed_block(time: int = 1_700_000_000, key: coincurve.PrivateKey = KEY) -> Block:
    # The solution's own bytes are cut out of what is signed, so sign over any placeholder.
    unsigned = _block(SIGNET_HEADER + signet_solution_bytes(b"", ()), time)
    _, to_sign = signet_txs(unsigned, CHALLENGE)
    digest = legacy_sighash(CHALLENGE, to_sign, 0, 1)
    sig = key.sign(digest, hasher=None) + b"\x01"
    return _block(SIGNET_HEADER + signet_solution_bytes(b"\x00" + push_data(sig), ()), time)


def test_valid_solution_accepted():
    check_signet_solution(_signed_block(), CHALLENGE)


def test_solution_commits_to_header_fields():
    good = _signed_block()
    moved = Block(good.header, good.transactions)
    moved.header = BlockHeader(good.header.version, good.header.prev_hash, good.header.merkle_root,
                               good.header.time + 1, good.header.bits, good.header.nonce)  # fmt: skip
    with pytest.raises(ValidationError, match="bad-signet-blksig"):
        check_signet_solution(moved, CHALLENGE)
    # The nonce is deliberately not committed (miners grind it after signing).
    renonced = Block(BlockHeader(good.header.version, good.header.prev_hash, good.header.merkle_root,
                                 good.header.time, good.header.bits, 12345), good.transactions)  # fmt: skip
    check_signet_solution(renonced, CHALLENGE)


def test_wrong_key_and_missing_solution_rejected():
    with pytest.raises(ValidationError, match="bad-signet-blksig"):
        check_signet_solution(_signed_block(key=coincurve.PrivateKey(bytes.fromhex("22" * 32))), CHALLENGE)
    with pytest.raises(ValidationError, match="bad-signet-blksig"):
        check_signet_solution(_block(None), CHALLENGE)


def test_trivial_challenge_and_malformed_solutions():
    check_signet_solution(_block(None), b"\x51")  # OP_TRUE needs no solution
    with pytest.raises(ValidationError, match="not parseable"):
        check_signet_solution(_block(SIGNET_HEADER + b"\x05ab"), b"\x51")
    with pytest.raises(ValidationError, match="not parseable"):
        check_signet_solution(_block(SIGNET_HEADER + signet_solution_bytes(b"", ()) + b"\x00"), b"\x51")
    no_commitment = _block(None)
    no_commitment.transactions[0] = Transaction(2, no_commitment.transactions[0].inputs, [TxOut(0, b"\x51")], 0)
    with pytest.raises(ValidationError, match="no witness commitment"):
        check_signet_solution(no_commitment, b"\x51")
