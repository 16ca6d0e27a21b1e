"""A block's spent coins over P2P: getbspent and bspent (docs/swiftsync-bspent.md).

SwiftSync validates a block without a UTXO set, so it needs, for every input, the coin it spends:
creation height, coinbase flag, script and amount. A node that keeps undo data advertises
``NODE_BLOCK_UNDO`` and answers ``getbspent(version, block hash, cutoff)`` with ``bspent``: the block
hash and, per input (coinbase excluded, numbered across the block), the coin it spent, in the draft
BIP's encoding (2140-dev/swiftsync-bips block-undo.md): input index u32, height code u32
(``height * 2 + coinbase``), script in the reconstructable-script form (the same templates the
PacketFS codec and Core's script compression use) and the amount as ``CompactSize(CompressAmount)``.
With a non-zero cutoff only coins created below that height are listed.

``getbspentsel(version, block hash, input indexes)`` (a PacketFS addition, docs/swiftsync-bspent.md) asks
for the coins of the listed inputs only: a client that gets blocks as chain-context frames derives most
coins from the blocks it already holds and asks only for the rest. The answer is an ordinary ``bspent``
listing exactly those inputs.

Nothing in a bspent is trusted: the receiver checks it covers exactly the inputs it should (before the
block is validated) and the SwiftSync aggregate checks every coin's content at the hints' height.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from ..consensus.constants import MAX_BLOCK_WEIGHT, MAX_MONEY
from ..primitives.amount import compress_amount, decompress_amount
from ..primitives.encoding import compact_size
from ..script.interpreter import MAX_SCRIPT_SIZE
from .limits import MAX_PROTOCOL_MESSAGE_LENGTH
from .message import Message
from .reader import Reader

NODE_BLOCK_UNDO = 1 << 25  # experimental range 24-31 (the draft leaves the bit open; 24 is NODE_PFS)
BSPENT_VERSION = 0  # the draft's coin serialization (the only one defined)
MAX_COIN_SCRIPT_SIZE = MAX_SCRIPT_SIZE  # a longer script is unspendable, so never spent
# A block of 4,000,000 weight units holds at most this many inputs: each costs at least 41 bytes
# (outpoint 36, empty scriptSig length 1, sequence 4) of non-witness data, weighed 4 each.
MAX_BSPENT_COINS = MAX_BLOCK_WEIGHT // (4 * 41)
MIN_COIN_SIZE = 4 + 4 + 2 + 1  # index, height code, prefix 0x00 with an empty script, amount
MAX_HEIGHT_CODE = 0xFFFF_FFFF
# getbspentsel: version, hash, CompactSize(n) and n index gaps of at most 3 bytes each (indexes < 2^16).
MAX_BSPENTSEL_PAYLOAD = 1 + 32 + 3 + 3 * MAX_BSPENT_COINS

# Reconstructable script prefixes: (prefix, script head, payload size, script tail).
S_UNKNOWN = 0x00
_TEMPLATES: tuple[tuple[int, bytes, int, bytes], ...] = (
    (0x01, b"\x76\xa9\x14", 20, b"\x88\xac"),  # P2PKH
    (0x02, b"\x21\x02", 32, b"\xac"),  # P2PK, compressed key with even y
    (0x03, b"\x21\x03", 32, b"\xac"),  # P2PK, compressed key with odd y
    (0x04, b"\x41\x04", 64, b"\xac"),  # P2PK, uncompressed key
    (0x05, b"\xa9\x14", 20, b"\x87"),  # P2SH
    (0x06, b"\x00\x20", 32, b""),  # P2WSH
    (0x07, b"\x00\x14", 20, b""),  # P2WPKH
    (0x08, b"\x51\x20", 32, b""),  # P2TR
)
_BY_PREFIX = {t[0]: t for t in _TEMPLATES}
_BY_SIZE: dict[int, list[tuple[int, bytes, int, bytes]]] = {}
for _t in _TEMPLATES:
    _BY_SIZE.setdefault(len(_t[1]) + _t[2] + len(_t[3]), []).append(_t)


class SpentCoin(NamedTuple):
    """The coin spent by input ``input_index`` of a block (inputs numbered across the block's
    transactions in order, the coinbase's input excluded)."""

    input_index: int
    height: int
    coinbase: bool
    value: int
    script_pubkey: bytes


def encode_script(script: bytes) -> bytes:
    """The reconstructable form: a template's prefix and payload, else 0x00, its length and the bytes."""
    for prefix, head, size, tail in _BY_SIZE.get(len(script), ()):
        if script.startswith(head) and script.endswith(tail):
            return bytes((prefix,)) + script[len(head) : len(head) + size]
    return b"\x00" + compact_size(len(script)) + script


def _read_script(r: Reader) -> bytes:
    prefix = r.u8()
    if prefix == S_UNKNOWN:
        return bytes(r.var_bytes(MAX_COIN_SCRIPT_SIZE))
    t = _BY_PREFIX.get(prefix)
    if t is None:
        raise r.fail(f"unknown script prefix {prefix}", "0..8")
    return t[1] + bytes(r.take(t[2])) + t[3]


def encode_coin(coin: SpentCoin) -> bytes:
    return b"".join((
        coin.input_index.to_bytes(4, "little"),
        (coin.height * 2 + (1 if coin.coinbase else 0)).to_bytes(4, "little"),
        encode_script(coin.script_pubkey),
        compact_size(compress_amount(coin.value)),
    ))  # fmt: skip


@dataclass(frozen=True, slots=True)
class GetBSpent(Message):
    """``getbspent``: version (u8) | block hash | cutoff (u32): the coins block ``block_hash``'s inputs
    spent, in coin serialization ``version``; with ``cutoff`` > 0 only those created below it."""

    command: ClassVar[str] = "getbspent"
    max_payload: ClassVar[int] = 37

    block_hash: bytes
    cutoff: int = 0
    version: int = BSPENT_VERSION

    def encode(self) -> bytes:
        return bytes((self.version,)) + self.block_hash + self.cutoff.to_bytes(4, "little")

    @classmethod
    def read(cls, r: Reader) -> GetBSpent:
        version = r.u8()
        return cls(block_hash=r.hash(), cutoff=r.u32(), version=version)


@dataclass(frozen=True, slots=True)
class BSpent(Message):
    """``bspent``: block hash | CompactSize(n) | n coins (see :class:`SpentCoin`), input indexes strictly
    ascending (so distinct), each coin's amount at most MAX_MONEY (no real coin holds more)."""

    command: ClassVar[str] = "bspent"
    max_payload: ClassVar[int] = MAX_PROTOCOL_MESSAGE_LENGTH

    block_hash: bytes
    coins: tuple[SpentCoin, ...]

    def encode(self) -> bytes:
        return b"".join((self.block_hash, compact_size(len(self.coins)), *map(encode_coin, self.coins)))

    @classmethod
    def read(cls, r: Reader) -> BSpent:
        block_hash = r.hash()
        n = r.count(MAX_BSPENT_COINS, MIN_COIN_SIZE)  # checked against the bytes left before the list
        coins = []
        last = -1
        for _ in range(n):
            index = r.u32()
            if index <= last:
                raise r.fail(f"input index {index} after {last}", "strictly ascending input indexes")
            if index >= MAX_BSPENT_COINS:
                raise r.fail(f"input index {index} above the most inputs a block can hold")
            last = index
            code = r.u32()
            script = _read_script(r)
            value = decompress_amount(r.compact())
            if value > MAX_MONEY:
                raise r.fail(f"amount {value} above MAX_MONEY")
            coins.append(SpentCoin(index, code >> 1, bool(code & 1), value, script))
        return cls(block_hash, tuple(coins))

    def __repr__(self) -> str:
        return f"BSpent({self.block_hash[::-1].hex()}, {len(self.coins)} coins)"


@dataclass(frozen=True, slots=True)
class GetBSpentSel(Message):
    """``getbspentsel``: version (u8) | block hash | CompactSize(n) | n gaps: the coins spent by these
    inputs of block ``block_hash`` (numbered as in bspent), in coin serialization ``version``.

    The indexes are strictly ascending; each is written as a CompactSize gap, the first as the index
    itself and every later one as ``index - previous - 1``. At least one, at most MAX_BSPENT_COINS, each
    below MAX_BSPENT_COINS (so a gap takes at most 3 bytes)."""

    command: ClassVar[str] = "getbspentsel"
    max_payload: ClassVar[int] = MAX_BSPENTSEL_PAYLOAD

    block_hash: bytes
    indexes: tuple[int, ...]
    version: int = BSPENT_VERSION

    def encode(self) -> bytes:
        parts = [bytes((self.version,)), self.block_hash, compact_size(len(self.indexes))]
        prev = -1
        for i in self.indexes:
            parts.append(compact_size(i - prev - 1))
            prev = i
        return b"".join(parts)

    @classmethod
    def read(cls, r: Reader) -> GetBSpentSel:
        version = r.u8()
        block_hash = r.hash()
        n = r.count(MAX_BSPENT_COINS, 1)  # checked against the bytes left before the list
        if n == 0:
            raise r.fail("empty getbspentsel", "at least one input index")
        indexes = []
        index = -1
        for _ in range(n):
            index += 1 + r.compact(MAX_BSPENT_COINS)
            if index >= MAX_BSPENT_COINS:
                raise r.fail(f"input index {index} above the most inputs a block can hold")
            indexes.append(index)
        return cls(block_hash, tuple(indexes), version)

    def __repr__(self) -> str:
        return f"GetBSpentSel({self.block_hash[::-1].hex()}, {len(self.indexes)} inputs)"


BSPENT_MESSAGES: tuple[type[Message], ...] = (GetBSpent, BSpent, GetBSpentSel)
