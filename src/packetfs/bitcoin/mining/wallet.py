"""A one-key regtest wallet (like Core's test MiniWallet, but with real signatures): it collects
the P2WPKH coins that mined blocks pay it and makes signed transactions of chosen fee, size,
version and shape. Used by the mempool and mining tests, the benchmarks and the demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..chain.keys import EcdsaKey
from ..consensus.constants import COINBASE_MATURITY
from ..primitives.block import Block
from ..primitives.hashes import sha256
from ..primitives.script import push_data
from ..primitives.transaction import Transaction, TxIn, TxOut
from ..script.sighash import SIGHASH_ALL, PrecomputedTxData, legacy_sighash, segwit_v0_sighash


@dataclass(frozen=True)
class WalletCoin:
    txid: bytes
    vout: int
    value: int
    height: int  # 0x7FFFFFFF for a coin made by an unconfirmed transaction
    coinbase: bool = False


UNCONFIRMED = 0x7FFFFFFF


class MiniWallet:
    """Coins of one key, P2WPKH (default) or legacy P2PKH (``kind="p2pkh"``: no witness data, so
    its transactions are valid where segwit is not active, e.g. on bcoin's regtest); signs every
    input it makes (SIGHASH_ALL, low-S, RFC6979)."""

    def __init__(self, seed: bytes = b"packetfs/mempool-wallet", kind: str = "p2wpkh"):
        if kind not in ("p2wpkh", "p2pkh"):
            raise ValueError(f"wallet kind must be p2wpkh or p2pkh, not {kind!r}")
        self.kind = kind
        self.key = EcdsaKey(sha256(seed))
        self._script_code = b"\x76\xa9\x14" + self.key.pubkey_hash + b"\x88\xac"
        self.script_pubkey = b"\x00\x14" + self.key.pubkey_hash if kind == "p2wpkh" else self._script_code
        self.coins: dict[tuple[bytes, int], WalletCoin] = {}

    # ------------------------------------------------------------------ coins
    def scan_block(self, block: Block, height: int) -> None:
        for i, tx in enumerate(block.transactions):
            for txin in tx.inputs:
                self.coins.pop((txin.prev_txid, txin.prev_index), None)
            txid = tx.txid
            for vout, out in enumerate(tx.outputs):
                if out.script_pubkey == self.script_pubkey:
                    self.coins[(txid, vout)] = WalletCoin(txid, vout, out.value, height, i == 0)

    def mature(self, tip_height: int) -> list[WalletCoin]:
        """Confirmed coins the next block may spend, oldest first."""
        return sorted(
            (c for c in self.coins.values() if c.height != UNCONFIRMED and not (c.coinbase and tip_height + 1 - c.height < COINBASE_MATURITY)),
            key=lambda c: (c.height, c.txid, c.vout),
        )

    def take(self, tip_height: int) -> WalletCoin:
        """A mature confirmed coin, removed from the wallet (the caller spends it)."""
        coins = self.mature(tip_height)
        if not coins:
            raise ValueError("the wallet has no mature coin")
        c = coins[0]
        del self.coins[(c.txid, c.vout)]
        return c

    def outputs_of(self, tx: Transaction) -> list[WalletCoin]:
        """The coins ``tx`` pays this wallet (unconfirmed)."""
        txid = tx.txid
        return [
            WalletCoin(txid, i, o.value, UNCONFIRMED)
            for i, o in enumerate(tx.outputs)
            if o.script_pubkey == self.script_pubkey
        ]

    # ------------------------------------------------------------------ transactions
    def sign(self, tx: Transaction, spent: Sequence[WalletCoin | TxOut]) -> Transaction:
        """Sign every input spending a WalletCoin; inputs given as a plain TxOut (another script,
        e.g. a pay-to-anchor) are left with an empty witness."""
        outs = [TxOut(c.value, self.script_pubkey) if isinstance(c, WalletCoin) else c for c in spent]
        cache = PrecomputedTxData(tx, outs)
        witnesses: list[tuple] = []
        inputs = list(tx.inputs)
        for i, c in enumerate(spent):
            if not isinstance(c, WalletCoin):
                witnesses.append(())
                continue
            if self.kind == "p2pkh":
                digest = legacy_sighash(self._script_code, tx, i, SIGHASH_ALL, cache)
                sig = self.key.sign(digest) + bytes((SIGHASH_ALL,))
                inputs[i] = inputs[i]._replace(script_sig=push_data(sig) + push_data(self.key.pubkey))
                witnesses.append(())
                continue
            digest = segwit_v0_sighash(self._script_code, tx, i, SIGHASH_ALL, c.value, cache)
            witnesses.append((self.key.sign(digest) + bytes((SIGHASH_ALL,)), self.key.pubkey))
        return Transaction(tx.version, inputs, list(tx.outputs), tx.locktime,
                           witnesses if any(witnesses) else None)

    def spend(
        self,
        coins: Sequence[WalletCoin],
        *,
        fee: int = 1_000,
        n_outputs: int = 1,
        outputs: Sequence[TxOut] | None = None,
        extra_outputs: Sequence[TxOut] = (),
        version: int = 2,
        sequence: int = 0xFFFFFFFD,
        locktime: int = 0,
        pad_to_vsize: int = 0,
    ) -> Transaction:
        """A signed tx spending ``coins``: ``outputs`` as given, else ``n_outputs`` equal outputs back
        to the wallet carrying the value less ``fee``; ``extra_outputs`` are added as they are;
        ``pad_to_vsize`` grows the tx with an OP_RETURN output to about that many vbytes."""
        total = sum(c.value for c in coins)
        if outputs is None:
            avail = total - fee - sum(o.value for o in extra_outputs)
            if avail < 0:
                raise ValueError(f"coins of {total} sat cannot pay a fee of {fee}")
            part = avail // n_outputs
            outs = [TxOut(part, self.script_pubkey) for _ in range(n_outputs)]
            outs[0] = TxOut(part + avail - part * n_outputs, self.script_pubkey)
        else:
            outs = list(outputs)
        outs += list(extra_outputs)
        inputs = [TxIn(c.txid, c.vout, b"", sequence) for c in coins]
        if pad_to_vsize:
            probe = self.sign(Transaction(version, inputs, outs, locktime), coins)
            missing = pad_to_vsize - probe.vsize - 11
            if missing > 0:
                outs.append(TxOut(0, b"\x6a" + push_data(bytes(missing))))
        return self.sign(Transaction(version, inputs, outs, locktime), coins)

    def send_self(self, tip_height: int, **kw) -> tuple[Transaction, list[WalletCoin]]:
        """Spend one mature coin back to the wallet; returns the tx and its new (unconfirmed) coins."""
        tx = self.spend([self.take(tip_height)], **kw)
        return tx, self.outputs_of(tx)
