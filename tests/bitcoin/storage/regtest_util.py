"""Build small valid regtest chains for tests: blocks Bitcoin Core's kernel (pbk) will accept.

Self-contained on purpose (own tx serializer and legacy SIGHASH_ALL digest): libbitcoinkernel validating
these blocks is the check, so they must not lean on the code the tests examine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import coincurve

# Regtest genesis (chainparams.cpp CRegTestParams): the mainnet genesis transaction with time
# 1296688602, nonce 2, bits 0x207fffff.
REGTEST_GENESIS_HASH = bytes.fromhex("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")[::-1]
# The serialized regtest genesis block (Core writes it as the first record of blk00000.dat).
REGTEST_GENESIS = bytes.fromhex(
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f61"
    "7fc81bc3888a51323a9fb8aa4b1e5e4adae5494dffff7f2002000000010100000001000000000000000000000000000000000000"
    "0000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e"
    "63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a"
    "01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51e"
    "c112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
)
REGTEST_GENESIS_TIME = 1296688602
REGTEST_BITS = 0x207FFFFF
REGTEST_TARGET = 0x7FFFFF << (8 * (0x20 - 3))
COIN = 100_000_000
COINBASE_MATURITY = 100
OP_TRUE = b"\x51"


def sha256d(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def hash160(b: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(b).digest()).digest()


def compact(n: int) -> bytes:
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    return b"\xfe" + n.to_bytes(4, "little")


def push(data: bytes) -> bytes:
    if len(data) < 0x4C:
        return bytes((len(data),)) + data
    if len(data) <= 0xFF:
        return b"\x4c" + bytes((len(data),)) + data
    return b"\x4d" + len(data).to_bytes(2, "little") + data


def script_num(n: int) -> bytes:
    """Minimal CScriptNum bytes for a non-negative n."""
    out = bytearray()
    while n:
        out.append(n & 0xFF)
        n >>= 8
    if out and out[-1] & 0x80:
        out.append(0)
    return bytes(out)


def bip34_script_sig(height: int) -> bytes:
    # Core checks the scriptSig starts with `CScript() << height`, which is OP_1..OP_16 for 1..16 and a
    # minimal push otherwise; a coinbase scriptSig must also be 2..100 bytes, hence the extra push.
    if 1 <= height <= 16:
        return bytes((0x50 + height,)) + b"\x01\x00"
    return push(script_num(height)) + b"\x01\x00"


def p2pkh(pubkey: bytes) -> bytes:
    return b"\x76\xa9\x14" + hash160(pubkey) + b"\x88\xac"


def p2pk(pubkey: bytes) -> bytes:
    return push(pubkey) + b"\xac"


def p2sh(redeem: bytes) -> bytes:
    return b"\xa9\x14" + hash160(redeem) + b"\x87"


@dataclass
class TxIn:
    txid: bytes
    vout: int
    script_sig: bytes = b""
    sequence: int = 0xFFFFFFFF


@dataclass
class Tx:
    inputs: list[TxIn]
    outputs: list[tuple[int, bytes]]
    version: int = 2
    locktime: int = 0

    def serialize(self) -> bytes:
        parts = [self.version.to_bytes(4, "little"), compact(len(self.inputs))]
        for i in self.inputs:
            parts += [i.txid, i.vout.to_bytes(4, "little"), compact(len(i.script_sig)), i.script_sig]
            parts.append(i.sequence.to_bytes(4, "little"))
        parts.append(compact(len(self.outputs)))
        for value, spk in self.outputs:
            parts += [value.to_bytes(8, "little"), compact(len(spk)), spk]
        parts.append(self.locktime.to_bytes(4, "little"))
        return b"".join(parts)

    @property
    def txid(self) -> bytes:
        return sha256d(self.serialize())

    def legacy_sighash_all(self, index: int, script_code: bytes) -> bytes:
        """Pre-segwit SIGHASH_ALL digest (no OP_CODESEPARATOR in script_code)."""
        saved = [i.script_sig for i in self.inputs]
        for j, i in enumerate(self.inputs):
            i.script_sig = script_code if j == index else b""
        try:
            return sha256d(self.serialize() + (1).to_bytes(4, "little"))
        finally:
            for i, s in zip(self.inputs, saved, strict=True):
                i.script_sig = s


def sign(key: coincurve.PrivateKey, digest: bytes) -> bytes:
    # libsecp256k1 produces low-S DER signatures, as standardness and Core's tests expect.
    return key.sign(digest, hasher=None) + b"\x01"


def merkle(hashes: list[bytes]) -> bytes:
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def block_hash(raw: bytes) -> bytes:
    return sha256d(raw[:80])


def make_block(prev: bytes, time: int, txs: list[Tx]) -> bytes:
    root = merkle([t.txid for t in txs])
    head = (0x20000000).to_bytes(4, "little") + prev + root + time.to_bytes(4, "little")
    head += REGTEST_BITS.to_bytes(4, "little")
    for nonce in range(1 << 20):  # each nonce has ~1/2 chance under regtest's target
        header = head + nonce.to_bytes(4, "little")
        if int.from_bytes(sha256d(header), "little") <= REGTEST_TARGET:
            break
    body = b"".join(t.serialize() for t in txs)
    return header + compact(len(txs)) + body


def subsidy(height: int) -> int:
    return (50 * COIN) >> (height // 150)  # regtest halves every 150 blocks


def key_with_parity(tag: bytes, prefix: int) -> coincurve.PrivateKey:
    """A deterministic key whose compressed public key starts with ``prefix`` (2: even y, 3: odd y)."""
    i = 0
    while True:
        key = coincurve.PrivateKey(sha256d(tag + i.to_bytes(4, "little")))
        if key.public_key.format(compressed=True)[0] == prefix:
            return key
        i += 1


@dataclass
class Keys:
    """Deterministic keys for the scripts whose undo encodings we want to exercise: compressed-script
    codes 2/3 (compressed P2PK, even/odd y) and 4/5 (uncompressed P2PK stored as x and y's parity)."""

    k_pkh: coincurve.PrivateKey = field(default_factory=lambda: key_with_parity(b"pkh", 2))
    k_pk_c: coincurve.PrivateKey = field(default_factory=lambda: key_with_parity(b"pk-c", 2))
    k_pk_c2: coincurve.PrivateKey = field(default_factory=lambda: key_with_parity(b"pk-c", 3))
    k_pk_u: coincurve.PrivateKey = field(default_factory=lambda: key_with_parity(b"pk-u", 2))
    k_pk_u2: coincurve.PrivateKey = field(default_factory=lambda: key_with_parity(b"pk-u", 3))


@dataclass
class Spendable:
    txid: bytes
    vout: int
    value: int
    script: bytes
    height: int
    coinbase: bool
    key: coincurve.PrivateKey | None = None  # None: spent by a fixed scriptSig (OP_TRUE, P2SH(OP_TRUE))
    uncompressed: bool = False


def coinbase_outputs(keys: Keys, value: int) -> list[tuple[int, bytes, coincurve.PrivateKey | None, bool]]:
    """Coinbase outputs covering every compressed-script form: 0 P2PKH, 1 P2SH, 2/3 and 4/5 P2PK, raw."""
    part = value // 7
    return [
        (part, p2pkh(keys.k_pkh.public_key.format(compressed=True)), keys.k_pkh, False),
        (part, p2sh(OP_TRUE), None, False),
        (part, p2pk(keys.k_pk_c.public_key.format(compressed=True)), keys.k_pk_c, False),
        (part, p2pk(keys.k_pk_c2.public_key.format(compressed=True)), keys.k_pk_c2, False),
        (part, p2pk(keys.k_pk_u.public_key.format(compressed=False)), keys.k_pk_u, True),
        (part, p2pk(keys.k_pk_u2.public_key.format(compressed=False)), keys.k_pk_u2, True),
        (value - 6 * part, OP_TRUE, None, False),
    ]


def spend_script_sig(tx: Tx, index: int, coin: Spendable) -> bytes:
    if coin.script == OP_TRUE:
        return b""
    if coin.script == p2sh(OP_TRUE):
        return push(OP_TRUE)
    assert coin.key is not None
    sig = sign(coin.key, tx.legacy_sighash_all(index, coin.script))
    if coin.script[0] == 0x76:  # P2PKH: signature and the key
        return push(sig) + push(coin.key.public_key.format(compressed=not coin.uncompressed))
    return push(sig)  # P2PK


@dataclass
class RegtestChain:
    """A regtest chain after genesis: raw blocks, and per block the coins its transactions spent."""

    blocks: list[bytes] = field(default_factory=list)
    spent: list[list[list[Spendable]]] = field(default_factory=list)  # per block, per non-coinbase tx


def build_chain(n_blocks: int = 105, spend_from: int = 101) -> RegtestChain:
    """Blocks 1..n_blocks on top of regtest genesis; from height ``spend_from`` on, each block spends the
    matured outputs of an old coinbase (all script forms) and the outputs of the previous block's spend.
    """
    keys = Keys()
    chain = RegtestChain()
    prev = REGTEST_GENESIS_HASH
    coinbase_coins: dict[int, list[Spendable]] = {}
    carry: list[Spendable] = []
    for height in range(1, n_blocks + 1):
        txs: list[Tx] = []
        spent_here: list[list[Spendable]] = []
        if height >= spend_from:
            # tx A: every matured output of coinbase (height - 100) plus what the last tx B left us
            mature = coinbase_coins.pop(height - COINBASE_MATURITY)
            coins_a = mature
            total = sum(c.value for c in coins_a)
            tx_a = Tx([TxIn(c.txid, c.vout) for c in coins_a], [(total - 10_000, OP_TRUE)])
            for i, c in enumerate(coins_a):
                tx_a.inputs[i].script_sig = spend_script_sig(tx_a, i, c)
            txs.append(tx_a)
            spent_here.append(coins_a)
            if carry:  # tx B spends the non-coinbase outputs made one block earlier
                total_b = sum(c.value for c in carry)
                pk_u = keys.k_pk_u.public_key.format(compressed=False)
                tx_b = Tx(
                    [TxIn(c.txid, c.vout) for c in carry],
                    [(total_b // 2, p2pk(pk_u)), (total_b - total_b // 2 - 10_000, p2pkh(pk_u))],
                )
                for i, c in enumerate(carry):
                    tx_b.inputs[i].script_sig = spend_script_sig(tx_b, i, c)
                txs.append(tx_b)
                spent_here.append(carry)
                carry = [
                    Spendable(
                        tx_b.txid, 0, tx_b.outputs[0][0], tx_b.outputs[0][1], height, False, keys.k_pk_u, True
                    ),
                    Spendable(
                        tx_b.txid, 1, tx_b.outputs[1][0], tx_b.outputs[1][1], height, False, keys.k_pk_u, True
                    ),
                ]
            else:
                carry = [Spendable(tx_a.txid, 0, tx_a.outputs[0][0], OP_TRUE, height, False)]
        fees = sum(sum(c.value for c in coins) for coins in spent_here) - sum(
            v for t in txs for v, _ in t.outputs
        )
        outs = coinbase_outputs(keys, subsidy(height) + fees)
        cb = Tx([TxIn(b"\x00" * 32, 0xFFFFFFFF, bip34_script_sig(height))], [(v, s) for v, s, _, _ in outs])
        coinbase_coins[height] = [
            Spendable(cb.txid, i, v, s, height, True, k, u) for i, (v, s, k, u) in enumerate(outs)
        ]
        raw = make_block(prev, REGTEST_GENESIS_TIME + 600 * height, [cb, *txs])
        chain.blocks.append(raw)
        chain.spent.append(spent_here)
        prev = block_hash(raw)
    return chain
