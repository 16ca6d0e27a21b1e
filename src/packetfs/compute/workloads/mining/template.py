"""From a getblocktemplate reply (BIP22/BIP23/BIP141/BIP145) to candidate headers and a full block.

The coinbase is built here (BIP34 height, an 8-byte extranonce, the payout script, the BIP141 witness
commitment with its 32-byte reserved value); the merkle root for a new extranonce costs one coinbase
txid plus log2(n) hashes along the coinbase's merkle branch. Every Bitcoin structure comes from
``packetfs.bitcoin.primitives``; nothing here hashes by itself except through those.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ....bitcoin.consensus.block_rules import bip34_height_prefix
from ....bitcoin.primitives import Block, BlockHeader, Transaction, TxIn, TxOut, bits_to_target, sha256d
from ....bitcoin.primitives.block import merkle_root, witness_commitment_hash
from ....bitcoin.primitives.encoding import compact_size
from ....bitcoin.primitives.hashes import hex_to_hash
from ....bitcoin.primitives.script import push_data
from ....bitcoin.primitives.transaction import COINBASE_PREV_INDEX, COINBASE_PREV_TXID
from ..errors import RemoteError

EXTRANONCE_SIZE = 8
COINBASE_TAG = b"/packetfs/"
WITNESS_RESERVED_VALUE = bytes(32)
MAX_COINBASE_SCRIPT = 100  # Core's bad-cb-length upper bound


def bip34_height_push(height: int) -> bytes:
    """``CScript() << height`` as Core writes it (OP_0, OP_1..OP_16, else a minimal push): the prefix
    every coinbase scriptSig must start with from BIP34 on. The consensus check's own encoder, so a
    mined coinbase starts with exactly what validation expects."""
    if height < 0:
        raise ValueError("a block height is not negative")
    return bip34_height_prefix(height)


@dataclass(frozen=True)
class TemplateTx:
    data: bytes
    txid: bytes  # internal byte order
    wtxid: bytes


@dataclass(frozen=True)
class BlockTemplate:
    """The fields of a getblocktemplate reply a miner uses, checked and decoded."""

    version: int
    prev_hash: bytes  # internal byte order
    height: int
    bits: int
    target: int
    curtime: int
    mintime: int
    coinbase_value: int
    transactions: tuple[TemplateTx, ...]
    segwit: bool
    default_witness_commitment: bytes | None
    longpollid: str | None

    @classmethod
    def from_rpc(cls, gbt: dict) -> BlockTemplate:
        """Decode a getblocktemplate result; RemoteError naming the field when it is malformed."""
        if not isinstance(gbt, dict):
            raise RemoteError("getblocktemplate returned no template object")
        try:
            txs = []
            for t in gbt.get("transactions", []):
                data = bytes.fromhex(t["data"])
                tx = Transaction.from_bytes(data)
                txid = tx.txid
                if "txid" in t and hex_to_hash(t["txid"]) != txid:
                    raise RemoteError(f"template transaction {t['txid']} does not hash to its txid")
                txs.append(TemplateTx(data, txid, tx.wtxid))
            bits = int(gbt["bits"], 16)
            target = bits_to_target(bits)
            rules = [r.lstrip("!") for r in gbt.get("rules", [])]
            dwc = gbt.get("default_witness_commitment")
            return cls(
                version=int(gbt["version"]),
                prev_hash=hex_to_hash(gbt["previousblockhash"]),
                height=int(gbt["height"]),
                bits=bits,
                target=target,
                curtime=int(gbt["curtime"]),
                mintime=int(gbt.get("mintime", 0)),
                coinbase_value=int(gbt["coinbasevalue"]),
                transactions=tuple(txs),
                # Only the rules say segwit is active: bcoin sends a default_witness_commitment before its
                # activation too, and a coinbase witness then is "unexpected-witness".
                segwit="segwit" in rules,
                default_witness_commitment=bytes.fromhex(dwc) if dwc and "segwit" in rules else None,
                longpollid=gbt.get("longpollid"),
            )
        except RemoteError:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise RemoteError(f"malformed getblocktemplate reply ({type(e).__name__}: {e})") from None

    def witness_commitment_script(self) -> bytes | None:
        """OP_RETURN 0xaa21a9ed || SHA256d(witness root || reserved value), or None without segwit."""
        if not self.segwit:
            return None
        root = merkle_root([bytes(32)] + [t.wtxid for t in self.transactions])[0]
        script = bytes.fromhex("6a24aa21a9ed") + witness_commitment_hash(root, WITNESS_RESERVED_VALUE)
        if self.default_witness_commitment is not None and self.default_witness_commitment != script:
            raise RemoteError("the template's default_witness_commitment disagrees with its transactions")
        return script


def coinbase_branch(txids: list[bytes]) -> list[bytes]:
    """The merkle branch of leaf 0 given the other leaves (txids of transactions 1..n-1)."""
    branch = []
    level = [bytes(32)] + list(txids)  # leaf 0's value does not enter its own branch
    while len(level) > 1:
        if len(level) & 1:
            level.append(level[-1])
        branch.append(level[1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return branch


def root_from_branch(leaf: bytes, branch: list[bytes]) -> bytes:
    h = leaf
    for sibling in branch:
        h = sha256d(h + sibling)
    return h


class Candidate:
    """One template plus payout: builds the coinbase for an extranonce and the header to grind."""

    def __init__(self, template: BlockTemplate, payout_script: bytes, tag: bytes = COINBASE_TAG) -> None:
        self.template = template
        self.payout_script = payout_script
        self.tag = tag
        self.commitment = template.witness_commitment_script()
        self.branch = coinbase_branch([t.txid for t in template.transactions])
        size = len(bip34_height_push(template.height)) + 1 + EXTRANONCE_SIZE + len(push_data(tag))
        if size > MAX_COINBASE_SCRIPT:
            raise ValueError("coinbase scriptSig above 100 bytes")

    def coinbase(self, extranonce: int) -> Transaction:
        t = self.template
        script_sig = (bip34_height_push(t.height) + push_data(extranonce.to_bytes(EXTRANONCE_SIZE, "little"))
                      + push_data(self.tag))
        outputs = [TxOut(t.coinbase_value, self.payout_script)]
        witnesses = None
        if self.commitment is not None:
            outputs.append(TxOut(0, self.commitment))
            witnesses = [(WITNESS_RESERVED_VALUE,)]
        inputs = [TxIn(COINBASE_PREV_TXID, COINBASE_PREV_INDEX, script_sig, 0xFFFFFFFF)]
        # nLockTime = height - 1 and a non-final sequence would also work; Core's own is final and 0.
        return Transaction(2, inputs, outputs, 0, witnesses)

    def header(self, extranonce: int, time: int, nonce: int = 0) -> BlockHeader:
        root = root_from_branch(self.coinbase(extranonce).txid, self.branch)
        t = self.template
        return BlockHeader(t.version, t.prev_hash, root, time, t.bits, nonce)

    def block(self, extranonce: int, time: int, nonce: int) -> Block:
        header = self.header(extranonce, time, nonce)
        txs = [self.coinbase(extranonce)] + [Transaction.from_bytes(t.data) for t in self.template.transactions]
        return Block(header, txs)

    def block_bytes(self, extranonce: int, time: int, nonce: int) -> bytes:
        header = self.header(extranonce, time, nonce).serialize()
        cb = self.coinbase(extranonce).serialize()
        parts = [header, compact_size(1 + len(self.template.transactions)), cb]
        parts += [t.data for t in self.template.transactions]
        return b"".join(parts)


def header_tail_words(header80: bytes) -> tuple[int, int, int]:
    """The big-endian words 16..18 of the header's second SHA-256 block (merkle tail, time, bits);
    word 19 is the nonce, which the fabric grinds."""
    return struct.unpack(">3I", header80[64:76])
