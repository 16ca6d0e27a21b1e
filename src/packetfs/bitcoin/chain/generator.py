"""Deterministic regtest chains with real, correctly signed transactions drawn from a profile.

``generate_chain(blocks, seed, profile)`` yields blocks 1..N on top of the regtest genesis. The same
seed, profile and options give byte-identical blocks: every choice comes from one ``random.Random``
seeded from the seed (only its ``random()``, whose sequence Python guarantees, and no transcendental
functions), keys are derived from the seed, ECDSA nonces are RFC6979 and BIP340 aux randomness is a
hash of the seed and the message.

How a chain is built:

- Heights 1-100 (until the first coinbase matures) hold only coinbases, each paying many outputs to
  the wallet (at least one of every kind in use, the rest in the proportions of the profile's input
  kinds, as they stand for the old coins real blocks spend), so spending starts at height 101 with
  coins of every kind.
- From then on each block holds up to ``txs_per_block`` transactions (fewer if the block would pass
  its weight or sigop limit). For each one the number of inputs and outputs, the kinds of the coins
  spent and of the outputs, the coin ages, amounts, fee rate, OP_RETURN, sequence, version and
  locktime are drawn from the profile. Coins created earlier in
  the same block can be spent (age 0), as in real blocks. When no coin of the drawn kind is left, the
  kind is drawn again among those that have coins; when few coins are left at all, transactions pay
  more outputs than inputs so the wallet's coins do not run out.
- Coinbases carry the BIP34 height, claim exactly subsidy + fees and end with the BIP141 witness
  commitment (reserved value of zeros in the coinbase witness), as Core's miner builds them.
- Headers: version 0x20000000, bits 0x207fffff, timestamps 1-1199 s apart and above the median time
  past, nonce ground from 0 until the hash meets the target.

``mutate_block(raw, kind)`` breaks one consensus rule of a generated block and keeps everything else
valid (merkle root, witness commitment and proof of work are redone after the change).
``write_chain`` writes blocks as a Core blocks directory (genesis first, rev files with undo data);
``cached_chain`` does so once per set of parameters and reuses the result.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..consensus.block_rules import bip34_height_prefix
from ..consensus.constants import COINBASE_MATURITY, MAX_BLOCK_SIGOPS_COST, MAX_BLOCK_WEIGHT
from ..consensus.params import REGTEST, block_subsidy, genesis_block, median_time_past
from ..primitives.block import Block, BlockHeader, bits_to_target, merkle_root, witness_commitment_hash
from ..primitives.encoding import compact_size
from ..primitives.hashes import hash160, sha256, sha256d, tagged_hash
from ..primitives.script import iter_script, push_data
from ..primitives.transaction import COINBASE_PREV_INDEX, COINBASE_PREV_TXID, Transaction, TxIn, TxOut
from ..script.sighash import (
    SIGHASH_ALL,
    SIGHASH_DEFAULT,
    PrecomputedTxData,
    legacy_sighash,
    segwit_v0_sighash,
    tapleaf_hash,
    taproot_sighash,
)
from ..storage.blockfiles import MAX_BLOCKFILE_SIZE, BlocksDirWriter
from ..storage.undo import Coin, encode_block_undo
from .keys import EcdsaKey, KeyDerivation, SchnorrKey
from .profiles import KINDS, load_profile, parse_bucket

__all__ = [
    "KINDS", "MUTATIONS", "ChainGenerator", "GeneratedBlock", "GeneratorError", "generate_chain", "mutate_block",
    "regrind", "write_chain", "cached_chain",
]  # fmt: skip

BLOCK_VERSION = 0x20000000
REGTEST_BITS = 0x207FFFFF
DUST = 546  # smallest output amount the generator pays (Core's dust limit for P2PKH)
WITNESS_RESERVED_VALUE = bytes(32)
TAPROOT_LEAF_TAPSCRIPT = 0xC0
OP_0, OP_2, OP_3, OP_IF, OP_ENDIF, OP_RETURN = 0x00, 0x52, 0x53, 0x63, 0x68, 0x6A
OP_CHECKSIG, OP_CHECKMULTISIG, OP_DUP, OP_HASH160, OP_EQUAL, OP_EQUALVERIFY = (
    0xAC,
    0xAE,
    0x76,
    0xA9,
    0x87,
    0x88,
)
MAX_PUSH = 520

# vbytes per input and output kind, to set fees before signing (fee rates are drawn, so estimates do).
_INPUT_VBYTES = {
    "p2pkh": 148, "p2sh_multisig": 297, "p2sh_p2wpkh": 91, "p2sh_p2wsh": 140, "p2wpkh": 68, "p2wsh": 105,
    "p2tr_keypath": 58, "p2tr_scriptpath": 108,
}  # fmt: skip
_OUTPUT_BYTES = {
    "p2pkh": 34, "p2sh_multisig": 32, "p2sh_p2wpkh": 32, "p2sh_p2wsh": 32, "p2wpkh": 31, "p2wsh": 43,
    "p2tr_keypath": 43, "p2tr_scriptpath": 43,
}  # fmt: skip
# Signature operation cost (BIP141 units) of spending each kind; P2PKH outputs cost 4 each as well.
_INPUT_SIGOPS = {
    "p2pkh": 0, "p2sh_multisig": 12, "p2sh_p2wpkh": 1, "p2sh_p2wsh": 3, "p2wpkh": 1, "p2wsh": 3,
    "p2tr_keypath": 0, "p2tr_scriptpath": 0,
}  # fmt: skip
_LEGACY_KINDS = frozenset(("p2pkh", "p2sh_multisig"))  # their signatures are part of the txid
_BLOCK_WEIGHT_BUDGET = MAX_BLOCK_WEIGHT - 40_000  # room for the header and a large coinbase
_BLOCK_SIGOPS_BUDGET = MAX_BLOCK_SIGOPS_COST - 2_000
# bcoin 1.0.2's regtest activates segwit by BIP9 signalling only (bit 1, 144-block windows, threshold 108):
# with every block signalling it is STARTED at 144, LOCKED_IN at 288 and ACTIVE at 432, the earliest.
BCOIN_SEGWIT_HEIGHT = 432
BCOIN_SEGWIT_BIT = 1 << 1
# Kinds whose spends need no witness: the only ones a bcoin-compatible chain spends before segwit is active.
LEGACY_SPEND_KINDS = ("p2pkh", "p2sh_multisig")
# bcoin enforces P2SH (and so verifies witness programs) only for blocks timed after its BIP16 switch
# (1333238400 on every network); a bcoin-compatible chain's timestamps start past it, at a fixed time.
BCOIN_COMPATIBLE_START_TIME = 1_700_000_000


class GeneratorError(ValueError):
    """Bad generator options or a mutation that does not apply to the block given."""


# --------------------------------------------------------------------------------------- values
@dataclass(frozen=True, slots=True)
class GeneratedBlock:
    """One generated block: raw bytes, height, and per non-coinbase transaction the coins it spent."""

    raw: bytes
    height: int
    spent_coins: list[list[Coin]]

    @property
    def hash(self) -> bytes:
        return sha256d(self.raw[:80])

    @property
    def hash_hex(self) -> str:
        return self.hash[::-1].hex()

    def undo(self) -> bytes:
        """The block's undo data as Core writes it to rev files (CBlockUndo)."""
        return encode_block_undo(self.spent_coins)

    @property
    def input_count(self) -> int:
        return sum(len(c) for c in self.spent_coins)


class _Script:
    """An output script the wallet can spend, with what spending it takes."""

    __slots__ = ("kind", "spk", "keys", "script", "script_sig", "leaf_hash", "control")

    def __init__(self, kind: str, spk: bytes, keys: tuple, script: bytes = b"", script_sig: bytes = b"",
                 leaf_hash: bytes = b"", control: bytes = b""):  # fmt: skip
        self.kind = kind
        self.spk = spk
        self.keys = keys
        self.script = script  # scriptCode / redeem script / witness script / tapleaf
        self.script_sig = script_sig  # fixed scriptSig of P2SH-wrapped segwit
        self.leaf_hash = leaf_hash
        self.control = control


class _Utxo:
    __slots__ = ("txid", "vout", "value", "height", "coinbase", "script")

    def __init__(self, txid: bytes, vout: int, value: int, height: int, coinbase: bool, script: _Script):
        self.txid = txid
        self.vout = vout
        self.value = value
        self.height = height
        self.coinbase = coinbase
        self.script = script

    def coin(self) -> Coin:
        return Coin(self.height, self.coinbase, self.value, self.script.spk)


class _KindPool:
    """Spendable coins of one kind by creation height, for drawing a coin of a given age."""

    __slots__ = ("heights", "coins", "size")

    def __init__(self) -> None:
        self.heights: list[int] = []
        self.coins: dict[int, list[_Utxo]] = {}
        self.size = 0

    def add(self, u: _Utxo) -> None:
        lst = self.coins.get(u.height)
        if lst is None:
            bisect.insort(self.heights, u.height)
            lst = self.coins[u.height] = []
        lst.append(u)
        self.size += 1

    def take(self, target_height: int, r: float) -> _Utxo:
        """A coin created at ``target_height`` or the closest height below it (above if none)."""
        i = bisect.bisect_right(self.heights, target_height) - 1
        if i < 0:
            i = 0
        h = self.heights[i]
        lst = self.coins[h]
        j = int(r * len(lst))
        u = lst[j]
        lst[j] = lst[-1]
        lst.pop()
        if not lst:
            del self.coins[h]
            self.heights.pop(i)
        self.size -= 1
        return u


class _Dist:
    """A discrete distribution over labels, drawn with one ``random()``."""

    __slots__ = ("labels", "weights", "cum", "total")

    def __init__(self, table: dict[str, float], floor: float = 0.0):
        items = [(k, max(float(v), floor)) for k, v in table.items()]
        items = [(k, v) for k, v in items if v > 0]
        if not items:
            raise GeneratorError("a distribution needs at least one positive share")
        self.labels = [k for k, _ in items]
        self.weights = [v for _, v in items]
        self.cum = []
        acc = 0.0
        for _, v in items:
            acc += v
            self.cum.append(acc)
        self.total = acc

    def draw(self, r: float) -> str:
        i = bisect.bisect_right(self.cum, r * self.total)
        return self.labels[min(i, len(self.labels) - 1)]


def _in_bucket(label: str, r: float) -> int:
    low, high = parse_bucket(label)
    return low + int(r * (high - low + 1))


def _seed_bytes(seed: int | str | bytes) -> bytes:
    if isinstance(seed, bytes):
        return seed
    return str(seed).encode()


def bip34_push(height: int) -> bytes:
    """``CScript() << height``: what a BIP34 coinbase scriptSig starts with."""
    return bip34_height_prefix(height)


# ------------------------------------------------------------------------------------ generator
class ChainGenerator:
    """Builds a regtest chain block by block; see the module docstring.

    Options: ``txs_per_block`` (default: the profile's, i.e. real blocks' count), ``min_kind_share``
    (raise every input and output kind to at least this share, to exercise all kinds in short
    chains), ``max_inputs_per_tx`` / ``max_outputs_per_tx`` (caps on the profile's tails),
    ``coinbase_outputs`` (wallet outputs per coinbase while coins mature; default from the
    expected inputs per block).

    ``bcoin_compatible``: a chain valid under bcoin 1.0.2's regtest rules as well as Core's: every block
    signals version bit 1 (so bcoin activates segwit at 432), and below height 432 no block carries witness
    data (only P2PKH / P2SH-multisig coins are spent, coinbases have no witness commitment); outputs of
    every kind are still created there, and spent, witness and taproot included, from 432 on.
    """

    def __init__(
        self,
        seed: int | str | bytes = 0,
        profile: str | dict = "2024",
        *,
        txs_per_block: int | None = None,
        min_kind_share: float = 0.0,
        max_inputs_per_tx: int = 500,
        max_outputs_per_tx: int = 500,
        coinbase_outputs: int | None = None,
        bcoin_compatible: bool = False,
    ):
        self.profile = load_profile(profile)
        p = self.profile
        if not 0.0 <= min_kind_share <= 1.0 / len(KINDS):
            raise GeneratorError(f"min_kind_share must be within [0, {1 / len(KINDS):.3f}]")
        if max_inputs_per_tx < 1 or max_outputs_per_tx < 2:
            raise GeneratorError("max_inputs_per_tx must be >= 1 and max_outputs_per_tx >= 2")
        self.txs_per_block = int(p["txs_per_block"] if txs_per_block is None else txs_per_block)
        if self.txs_per_block < 0:
            raise GeneratorError("txs_per_block must be >= 0")
        seed_b = _seed_bytes(seed)
        self._seed = seed_b
        self._rng = random.Random(int.from_bytes(sha256(b"packetfs/gen-chain/rng\x00" + seed_b), "big"))
        self._keys = KeyDerivation(seed_b)
        self._aux_prefix = sha256(b"packetfs/gen-chain/aux\x00" + seed_b)
        self._out_kinds = _Dist(p["output_kinds"], min_kind_share)
        self._in_kinds = _Dist(p["input_kinds"], min_kind_share)
        self._in_counts = _Dist(p["inputs_per_tx"])
        self._out_counts = _Dist(p["outputs_per_tx"])
        self._amounts = _Dist(p["amounts"])
        self._round_share = float(p.get("round_amount_share", 0.0))
        self._fee_rates = _Dist(p["fee_rates"]) if p.get("fee_rates") else None
        self._ages = _Dist(p["coin_ages"]) if p.get("coin_ages") else None
        self._payloads = _Dist(p["tapscript_payload_sizes"]) if p.get("tapscript_payload_sizes") else None
        self._opret_sizes = _Dist(p["op_return_script_sizes"]) if p.get("op_return_script_sizes") else None
        self._opret_share = float(p.get("op_return_tx_share", 0.0)) if self._opret_sizes else 0.0
        self._sequences = _Dist(p["sequences"]) if p.get("sequences") else None
        self._versions = _Dist(p["tx_versions"]) if p.get("tx_versions") else None
        self._locktime_zero = float(p.get("locktime_zero_share", 1.0))
        self._low_r = float(p.get("ecdsa_low_r_share", 0.0))
        self._reuse = {k: float(v) for k, v in (p.get("script_reuse") or {}).items()}
        self.max_inputs_per_tx = max_inputs_per_tx
        self.max_outputs_per_tx = max_outputs_per_tx
        self._kinds_in_use = [k for k in KINDS if k in self._out_kinds.labels or k in self._in_kinds.labels]
        mean_in = _mean_count(p["inputs_per_tx"], max_inputs_per_tx)
        self.expected_inputs_per_block = max(1, int(self.txs_per_block * mean_in))
        if coinbase_outputs is None:
            # Enough matured coins for the first spending blocks; the pool then grows through change
            # outputs (see _build_tx's ``grow``). Every output costs a key derivation, so not more.
            coinbase_outputs = min(1000, max(len(self._kinds_in_use), self.expected_inputs_per_block // 2))
        if coinbase_outputs < 1:
            raise GeneratorError("coinbase_outputs must be >= 1")
        self.coinbase_outputs = coinbase_outputs
        self.bcoin_compatible = bcoin_compatible
        self.block_version = BLOCK_VERSION | BCOIN_SEGWIT_BIT if bcoin_compatible else BLOCK_VERSION
        # Heights below this spend only coins that need no witness (0: witness spends from the start).
        self.witness_height = BCOIN_SEGWIT_HEIGHT if bcoin_compatible else 0
        self._pools = {k: _KindPool() for k in KINDS}
        self._pool_size = 0
        self._immature: deque[tuple[int, list[_Utxo]]] = deque()
        self._recent_scripts: dict[str, deque[_Script]] = {k: deque(maxlen=64) for k in (*KINDS, "op_return")}
        # Coins spent by the most recent blocks, by outpoint: what mutate_block needs to re-spend one.
        self._spent_recent: deque[dict[tuple[bytes, int], _Utxo]] = deque(maxlen=8)
        genesis = genesis_block("regtest")
        self.height = 0
        self.tip = genesis.header.hash
        self._times = [BCOIN_COMPATIBLE_START_TIME if bcoin_compatible else genesis.header.time]
        self.stats = {"blocks": 0, "transactions": 0, "inputs": 0, "outputs": 0, "bytes": 0}

    # -------------------------------------------------------------------------- public
    def blocks(self, n: int) -> Iterator[GeneratedBlock]:
        for _ in range(n):
            yield self.next_block()

    def next_block(self) -> GeneratedBlock:
        height = self.height + 1
        while self._immature and self._immature[0][0] + COINBASE_MATURITY <= height:
            for u in self._immature.popleft()[1]:
                self._add_coin(u)
        txs: list[Transaction] = []
        spent: list[list[Coin]] = []
        spent_index: dict[tuple[bytes, int], _Utxo] = {}
        fees = 0
        weight = 0
        sigops = 0
        if height > COINBASE_MATURITY:
            low_water = 2 * self.expected_inputs_per_block
            for _ in range(self.txs_per_block):
                if self._spendable_size(height) == 0:
                    break
                built = self._build_tx(height, grow=self._pool_size < low_water)
                tx, coins, fee, tx_sigops = built
                tx_weight = tx.weight
                if weight + tx_weight > _BLOCK_WEIGHT_BUDGET or sigops + tx_sigops > _BLOCK_SIGOPS_BUDGET:
                    for u in coins:  # does not fit: the coins stay unspent
                        self._add_coin(u)
                    break
                weight += tx_weight
                sigops += tx_sigops
                fees += fee
                txs.append(tx)
                spent.append([u.coin() for u in coins])
                for u in coins:
                    spent_index[(u.txid, u.vout)] = u
                self._add_outputs(tx, height)
        coinbase, cb_coins = self._coinbase(height, block_subsidy(height, REGTEST) + fees, txs)
        all_txs = [coinbase, *txs]
        time = self._next_time()
        header = BlockHeader(
            self.block_version, self.tip, merkle_root([t.txid for t in all_txs])[0], time, REGTEST_BITS, 0
        )
        header = regrind(header)
        raw = b"".join([header.serialize(), compact_size(len(all_txs))] + [t.serialize() for t in all_txs])
        self._immature.append((height, cb_coins))
        self._spent_recent.append(spent_index)
        self.height = height
        self.tip = sha256d(raw[:80])
        self._times.append(time)
        if len(self._times) > 11:
            del self._times[0]
        st = self.stats
        st["blocks"] += 1
        st["transactions"] += len(all_txs)
        st["inputs"] += sum(len(c) for c in spent)
        st["outputs"] += sum(t.output_count for t in all_txs)
        st["bytes"] += len(raw)
        return GeneratedBlock(raw, height, spent)

    # ----------------------------------------------------------------------- drawing
    def _r(self) -> float:
        return self._rng.random()

    def _next_time(self) -> int:
        mtp = median_time_past(self._times)
        t = self._times[-1] + 1 + int(self._r() * 1199)
        return max(t, mtp + 1)

    def _draw_amount(self) -> int:
        label = self._amounts.draw(self._r())
        if label == "0":
            return 0
        k = int(label[2:])
        low = 10**k
        v = low + int(self._r() * 9 * low)
        if self._r() < self._round_share and v >= 1000:
            scale = 10 ** (len(str(v)) - 2)
            v = (v // scale) * scale
        return v

    def _draw_count(self, dist: _Dist, cap: int) -> int:
        return min(cap, _in_bucket(dist.draw(self._r()), self._r()))

    # ------------------------------------------------------------------------ coins
    def _add_coin(self, u: _Utxo) -> None:
        self._pools[u.script.kind].add(u)
        self._pool_size += 1

    def _spendable_size(self, height: int) -> int:
        if height >= self.witness_height:
            return self._pool_size
        return sum(self._pools[k].size for k in LEGACY_SPEND_KINDS)

    def _take_coin(self, height: int) -> _Utxo:
        kind = self._in_kinds.draw(self._r())
        pool = self._pools[kind]
        if height < self.witness_height:
            if kind not in LEGACY_SPEND_KINDS or pool.size == 0:
                # bcoin-compatible, before segwit: only coins spent without a witness (the largest pool).
                pool = max((self._pools[k] for k in LEGACY_SPEND_KINDS), key=lambda p: p.size)
        elif pool.size == 0:
            # No coin of the wanted kind: draw again among the kinds that have coins, by the same
            # shares, so the shortfall spreads like the mix (the largest pool if none has a share).
            dist = self._in_kinds
            avail = [(k, w) for k, w in zip(dist.labels, dist.weights, strict=True) if self._pools[k].size]
            if avail:
                total = sum(w for _, w in avail)
                x = self._r() * total
                chosen = avail[-1][0]
                for k, w in avail:
                    x -= w
                    if x < 0:
                        chosen = k
                        break
                pool = self._pools[chosen]
            else:
                pool = max(self._pools.values(), key=lambda p: p.size)
        age = (
            _in_bucket(self._ages.draw(self._r()), self._r())
            if self._ages is not None
            else 1 + int(self._r() * 100)
        )
        u = pool.take(height - age, self._r())
        self._pool_size -= 1
        return u

    def _add_outputs(self, tx: Transaction, height: int) -> None:
        txid = tx.txid
        for vout, script in enumerate(tx._gen_scripts):  # type: ignore[attr-defined]
            if script is not None:
                self._add_coin(_Utxo(txid, vout, tx.outputs[vout].value, height, False, script))

    # ---------------------------------------------------------------------- scripts
    def _new_script(self, kind: str) -> _Script:
        recent = self._recent_scripts[kind]
        if recent and self._r() < self._reuse.get(kind, 0.0):
            return recent[int(self._r() * len(recent))]
        s = self._make_script(kind)
        recent.append(s)
        return s

    def _ecdsa(self) -> EcdsaKey:
        return EcdsaKey(self._keys.next_secret())

    def _make_script(self, kind: str) -> _Script:
        if kind == "p2pkh":
            k = self._ecdsa()
            spk = bytes((OP_DUP, OP_HASH160, 20)) + k.pubkey_hash + bytes((OP_EQUALVERIFY, OP_CHECKSIG))
            return _Script(kind, spk, (k,), spk)
        if kind in ("p2wpkh", "p2sh_p2wpkh"):
            k = self._ecdsa()
            code = bytes((OP_DUP, OP_HASH160, 20)) + k.pubkey_hash + bytes((OP_EQUALVERIFY, OP_CHECKSIG))
            program = b"\x00\x14" + k.pubkey_hash
            if kind == "p2wpkh":
                return _Script(kind, program, (k,), code)
            spk = bytes((OP_HASH160, 20)) + hash160(program) + bytes((OP_EQUAL,))
            return _Script(kind, spk, (k,), code, push_data(program))
        if kind in ("p2sh_multisig", "p2wsh", "p2sh_p2wsh"):
            keys = (self._ecdsa(), self._ecdsa(), self._ecdsa())
            ms = (
                bytes((OP_2,)) + b"".join(push_data(k.pubkey) for k in keys) + bytes((OP_3, OP_CHECKMULTISIG))
            )
            if kind == "p2sh_multisig":
                spk = bytes((OP_HASH160, 20)) + hash160(ms) + bytes((OP_EQUAL,))
                return _Script(kind, spk, keys, ms)
            program = b"\x00\x20" + sha256(ms)
            if kind == "p2wsh":
                return _Script(kind, program, keys, ms)
            spk = bytes((OP_HASH160, 20)) + hash160(program) + bytes((OP_EQUAL,))
            return _Script(kind, spk, keys, ms, push_data(program))
        if kind == "p2tr_keypath":
            internal = SchnorrKey(self._keys.next_secret())
            out = internal.tweaked(b"")
            return _Script(kind, b"\x51\x20" + out.xonly, (out,))
        if kind == "p2tr_scriptpath":
            internal = SchnorrKey(self._keys.next_secret())
            leaf_key = SchnorrKey(self._keys.next_secret())
            backup_key = SchnorrKey(self._keys.next_secret())
            leaf = push_data(leaf_key.xonly) + bytes((OP_CHECKSIG,)) + self._envelope()
            backup = push_data(backup_key.xonly) + bytes((OP_CHECKSIG,))
            lh = tapleaf_hash(TAPROOT_LEAF_TAPSCRIPT, leaf)
            sibling = tapleaf_hash(TAPROOT_LEAF_TAPSCRIPT, backup)
            root = tagged_hash("TapBranch", min(lh, sibling) + max(lh, sibling))
            out = internal.tweaked(root)
            control = bytes((TAPROOT_LEAF_TAPSCRIPT | out.parity,)) + internal.xonly + sibling
            return _Script(kind, b"\x51\x20" + out.xonly, (out, leaf_key), leaf, b"", lh, control)
        raise GeneratorError(f"unknown kind {kind!r}")

    def _envelope(self) -> bytes:
        """Data after the leaf's CHECKSIG, in an OP_FALSE OP_IF ... OP_ENDIF envelope (never executed),
        sized like real script-path leaves (inscriptions, mostly)."""
        if self._payloads is None:
            return b""
        size = _in_bucket(self._payloads.draw(self._r()), self._r())
        if size < 3:
            return b""
        data = self._bytes(size - 2 - (size - 2 + MAX_PUSH) // (MAX_PUSH + 3) * 3)
        pushes = [push_data(data[i : i + MAX_PUSH]) for i in range(0, len(data), MAX_PUSH)]
        return bytes((OP_0, OP_IF)) + b"".join(pushes) + bytes((OP_ENDIF,))

    def _bytes(self, n: int) -> bytes:
        """Deterministic filler bytes (as incompressible as real payloads usually are)."""
        out = bytearray()
        nonce = int(self._r() * 2**52).to_bytes(8, "little")
        i = 0
        while len(out) < n:
            out += hashlib.sha256(self._seed + nonce + i.to_bytes(4, "little")).digest()
            i += 1
        return bytes(out[:n])

    def _op_return(self) -> _Script:
        recent = self._recent_scripts["op_return"]
        if recent and self._r() < self._reuse.get("op_return", 0.0):
            return recent[int(self._r() * len(recent))]
        size = int(self._opret_sizes.draw(self._r()))
        if size <= 1:
            spk = bytes((OP_RETURN,))
        else:
            n = size - 1
            # the push opcode takes 1 byte below 76 data bytes, 2 above (OP_PUSHDATA1)
            data_len = n - 1 if n - 1 < 76 else n - 2
            spk = bytes((OP_RETURN,)) + push_data(self._bytes(data_len))
        s = _Script("op_return", spk, ())
        recent.append(s)
        return s

    # ------------------------------------------------------------------ transactions
    def _build_tx(self, height: int, grow: bool) -> tuple[Transaction, list[_Utxo], int, int]:
        n_in = self._draw_count(self._in_counts, self.max_inputs_per_tx)
        n_in = min(n_in, self._spendable_size(height))
        n_out = self._draw_count(self._out_counts, self.max_outputs_per_tx)
        if grow:  # few coins left to spend: split more, as a wallet would
            n_out = min(self.max_outputs_per_tx, max(n_out, n_in + 2))
        coins = [self._take_coin(height) for _ in range(n_in)]
        has_opret = self._r() < self._opret_share
        if has_opret and n_out < 2:
            n_out = 2
        scripts: list[_Script] = [self._new_script(self._out_kinds.draw(self._r())) for _ in range(n_out)]
        if has_opret:
            scripts[int(self._r() * n_out)] = self._op_return()
        rate = _in_bucket(self._fee_rates.draw(self._r()), self._r()) if self._fee_rates is not None else 10
        rate = max(rate, 1)
        total = sum(u.value for u in coins)
        vsize = 11 + sum(_INPUT_VBYTES[u.script.kind] for u in coins)
        vsize += sum(_OUTPUT_BYTES.get(s.kind, 9 + len(s.spk)) for s in scripts)
        vsize += sum(len(u.script.script) for u in coins if u.script.kind == "p2tr_scriptpath") // 4
        fee = rate * vsize
        spendable = [i for i, s in enumerate(scripts) if s.kind != "op_return"]
        # Too little value for this many outputs: fewer outputs, then a smaller fee.
        while len(spendable) > 1 and total - fee < DUST * len(spendable):
            drop = spendable.pop()
            del scripts[drop]
            spendable = [i for i, s in enumerate(scripts) if s.kind != "op_return"]
        if total - fee < DUST:
            fee = max(0, total - DUST) if total > DUST else 0
        avail = total - fee
        values = [0] * len(scripts)
        change = spendable[int(self._r() * len(spendable))]
        payments = [i for i in spendable if i != change]
        if payments:
            drawn = [max(DUST, self._draw_amount()) for _ in payments]
            budget = avail - DUST
            s = sum(drawn)
            if s > budget:
                drawn = [max(DUST, v * budget // s) for v in drawn]
                if sum(drawn) > budget:
                    drawn = [budget // len(payments)] * len(payments)
            for i, v in zip(payments, drawn, strict=True):
                values[i] = v
        values[change] = avail - sum(values)
        seq = int(self._sequences.draw(self._r()), 16) if self._sequences is not None else 0xFFFFFFFF
        version = int(self._versions.draw(self._r())) if self._versions is not None else 2
        locktime = 0
        if self._r() >= self._locktime_zero:
            # anti fee sniping: the current tip's height, sometimes a little earlier; always final
            back = int(self._r() * 100) if self._r() < 0.1 else 0
            locktime = max(0, height - 1 - back)
        outputs = [TxOut(v, s.spk) for v, s in zip(values, scripts, strict=True)]
        tx = self._sign(version, coins, outputs, seq, locktime)
        tx._gen_scripts = [None if s.kind == "op_return" else s for s in scripts]  # type: ignore[attr-defined]
        sigops = sum(_INPUT_SIGOPS[u.script.kind] for u in coins) + 4 * sum(
            s.kind == "p2pkh" for s in scripts
        )
        return tx, coins, fee, sigops

    def _sign(
        self, version: int, coins: Sequence[_Utxo], outputs: list[TxOut], seq: int, locktime: int
    ) -> Transaction:
        unsigned = Transaction(version, [TxIn(u.txid, u.vout, b"", seq) for u in coins], outputs, locktime)
        cache = PrecomputedTxData(unsigned, [TxOut(u.value, u.script.spk) for u in coins])
        script_sigs = []
        witnesses = []
        for i, u in enumerate(coins):
            ss, wit = self._sign_input(unsigned, i, u, cache)
            script_sigs.append(ss)
            witnesses.append(wit)
        inputs = [TxIn(u.txid, u.vout, ss, seq) for u, ss in zip(coins, script_sigs, strict=True)]
        return _SlottedTx(version, inputs, outputs, locktime, witnesses)

    def _ecdsa_sig(self, key: EcdsaKey, digest: bytes) -> bytes:
        return key.sign(digest, low_r=self._r() < self._low_r) + bytes((SIGHASH_ALL,))

    def _two_of_three(self, keys: tuple) -> tuple:
        skip = int(self._r() * 3)  # which key does not sign; signatures stay in key order
        return tuple(k for j, k in enumerate(keys) if j != skip)

    def _sign_input(self, tx: Transaction, i: int, u: _Utxo, cache: PrecomputedTxData) -> tuple[bytes, tuple]:
        s = u.script
        kind = s.kind
        if kind == "p2pkh":
            sig = self._ecdsa_sig(s.keys[0], legacy_sighash(s.script, tx, i, SIGHASH_ALL, cache))
            return push_data(sig) + push_data(s.keys[0].pubkey), ()
        if kind in ("p2wpkh", "p2sh_p2wpkh"):
            sig = self._ecdsa_sig(s.keys[0], segwit_v0_sighash(s.script, tx, i, SIGHASH_ALL, u.value, cache))
            return s.script_sig, (sig, s.keys[0].pubkey)
        if kind == "p2sh_multisig":
            digest = legacy_sighash(s.script, tx, i, SIGHASH_ALL, cache)
            sigs = [self._ecdsa_sig(k, digest) for k in self._two_of_three(s.keys)]
            return b"\x00" + b"".join(push_data(x) for x in sigs) + push_data(s.script), ()
        if kind in ("p2wsh", "p2sh_p2wsh"):
            digest = segwit_v0_sighash(s.script, tx, i, SIGHASH_ALL, u.value, cache)
            sigs = [self._ecdsa_sig(k, digest) for k in self._two_of_three(s.keys)]
            return s.script_sig, (b"", *sigs, s.script)
        if kind == "p2tr_keypath":
            digest = taproot_sighash(tx, i, SIGHASH_DEFAULT, cache)
            return b"", (s.keys[0].sign(digest, self._aux(digest)),)
        if kind == "p2tr_scriptpath":
            digest = taproot_sighash(tx, i, SIGHASH_DEFAULT, cache, tapleaf_hash=s.leaf_hash)
            return b"", (s.keys[1].sign(digest, self._aux(digest)), s.script, s.control)
        raise GeneratorError(f"cannot spend kind {kind!r}")

    def _aux(self, digest: bytes) -> bytes:
        return sha256(self._aux_prefix + digest)

    # --------------------------------------------------------------------- coinbase
    def _coinbase(
        self, height: int, value: int, txs: Sequence[Transaction]
    ) -> tuple[Transaction, list[_Utxo]]:
        # Coinbase coins stand for the old coins real blocks spend, so their kinds follow the input mix.
        if height <= COINBASE_MATURITY:
            n = self.coinbase_outputs
            kinds = list(self._kinds_in_use)[:n]
            kinds += [self._in_kinds.draw(self._r()) for _ in range(n - len(kinds))]
        else:
            kinds = [self._in_kinds.draw(self._r())]
        scripts = [self._new_script(k) for k in kinds]
        part = value // len(scripts)
        values = [part] * len(scripts)
        values[0] += value - part * len(scripts)
        outputs = [TxOut(v, s.spk) for v, s in zip(values, scripts, strict=True)]
        # Before bcoin's segwit activation a block must carry no witness data at all, the coinbase's
        # reserved value included; Core needs the commitment only when some transaction has a witness.
        committed = height >= self.witness_height
        if committed:
            wroot = merkle_root([bytes(32)] + [t.wtxid for t in txs])[0]
            commitment = b"\x6a\x24\xaa\x21\xa9\xed" + witness_commitment_hash(wroot, WITNESS_RESERVED_VALUE)
            outputs.append(TxOut(0, commitment))
        # BIP34 height, then an extra nonce and a tag, as pools write (scriptSig must be 2-100 bytes).
        script_sig = bip34_push(height) + push_data(self._seed_tag()) + push_data(b"/packetfs gen-chain/")
        cb = Transaction(
            1, [TxIn(COINBASE_PREV_TXID, COINBASE_PREV_INDEX, script_sig, 0xFFFFFFFF)], outputs, 0,
            [(WITNESS_RESERVED_VALUE,)] if committed else None,
        )  # fmt: skip
        txid = cb.txid
        coins = [
            _Utxo(txid, i, v, height, True, s) for i, (v, s) in enumerate(zip(values, scripts, strict=True))
        ]
        return cb, coins

    def _seed_tag(self) -> bytes:
        return sha256(b"packetfs/gen-chain/extranonce\x00" + self._seed)[:4]

    # --------------------------------------------------------------------- mutation
    def _respend(self, outpoint: tuple[bytes, int], height: int) -> Transaction | None:
        """A correctly signed transaction spending a coin a recent block already spent."""
        for index in reversed(self._spent_recent):
            u = index.get(outpoint)
            if u is not None:
                # Leave the chain this generator makes untouched: restore its randomness and key counter.
                state, counter = self._rng.getstate(), self._keys.counter
                try:
                    script = self._make_script("p2wpkh")
                    return self._sign(
                        2, [u], [TxOut(max(1, u.value - 1000), script.spk)], 0xFFFFFFFD, height - 1
                    )
                finally:
                    self._rng.setstate(state)
                    self._keys.counter = counter
        return None


class _SlottedTx(Transaction):
    """A Transaction that carries the generator's bookkeeping (the spendable scripts it pays) and
    serializes its witness-less form once (txid and weight both need it)."""

    __slots__ = ("_gen_scripts", "_legacy")

    def serialize_legacy(self) -> bytes:
        legacy = getattr(self, "_legacy", None)
        if legacy is None:
            legacy = self._legacy = super().serialize_legacy()
        return legacy

    @property
    def base_size(self) -> int:
        return len(self.serialize_legacy())


def _mean_count(table: dict[str, float], cap: int) -> float:
    total = sum(table.values())
    acc = 0.0
    for label, share in table.items():
        low, high = parse_bucket(label)
        acc += share * (min(low, cap) + min(high, cap)) / 2
    return acc / total if total else 1.0


def generate_chain(
    blocks: int, seed: int | str | bytes = 0, profile: str | dict = "2024", **options: Any
) -> Iterator[GeneratedBlock]:
    """Blocks 1..``blocks`` of a deterministic regtest chain (see :class:`ChainGenerator` for options)."""
    if blocks < 0:
        raise GeneratorError("blocks must be >= 0")
    gen = ChainGenerator(seed, profile, **options)
    return gen.blocks(blocks)


def write_chain(
    blocks: Iterable[GeneratedBlock],
    out_dir: str | Path,
    *,
    undo: bool = True,
    max_file_size: int = MAX_BLOCKFILE_SIZE,
    on_block: Callable[[GeneratedBlock], None] | None = None,
) -> dict[str, Any]:
    """Write genesis and ``blocks`` as a Core blocks directory (blk?????.dat, and rev?????.dat with each
    block's undo data unless ``undo`` is False), in clear (no xor.dat), as Core lays them out.

    Refuses a directory that already holds blk or rev files. Returns counts and the files written.
    """
    kinds = ("blk", "rev") if undo else ("blk",)
    writer = BlocksDirWriter(out_dir, "regtest", max_file_size, None, kinds=kinds)
    writer.add_block(genesis_block("regtest").serialize())
    n = 0
    tip = genesis_block("regtest").header.hash
    height = 0
    block_bytes = 0
    for b in blocks:
        pos = writer.add_block(b.raw)
        if undo:
            writer.add_undo(pos.file, b.raw[4:36], b.undo())
        n += 1
        block_bytes += len(b.raw)
        tip = b.hash
        height = b.height
        if on_block is not None:
            on_block(b)
    out = Path(out_dir)
    blk = sorted(p.name for p in out.glob("blk*.dat"))
    rev = sorted(p.name for p in out.glob("rev*.dat"))
    return {
        "path": str(out), "blocks": n, "height": height, "tip": tip[::-1].hex(), "block_bytes": block_bytes,
        "blk_files": blk, "rev_files": rev,
        "file_bytes": sum((out / f).stat().st_size for f in blk + rev),
    }  # fmt: skip


# Bump when the same seed and options would give different bytes (cached chains are then rebuilt).
GENERATOR_VERSION = 1


def cached_chain(
    cache_root: str | Path, blocks: int, seed: int | str | bytes = 0, profile: str = "2024", **options: Any
) -> Path:
    """A blocks directory holding this chain, generated once and reused (benchmarks, demos).

    The directory is named after a hash of the profile, seed, options and :data:`GENERATOR_VERSION`,
    and is written under a temporary name then renamed, so an interrupted run leaves no half chain.
    """
    prof = load_profile(profile)
    key = json.dumps(
        {"version": GENERATOR_VERSION, "blocks": blocks, "seed": _seed_bytes(seed).hex(), "profile": prof,
         "options": options},
        sort_keys=True,
    )  # fmt: skip
    root = Path(cache_root)
    target = (
        root
        / f"regtest-{prof.get('name', 'custom')}-{blocks}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    )
    if (target / "chain.json").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    try:
        summary = write_chain(generate_chain(blocks, seed, prof, **options), tmp)
        (tmp / "chain.json").write_text(json.dumps(summary, indent=1))
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "chain.json").exists():  # not merely a concurrent run that finished first
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


# ------------------------------------------------------------------------------- mutations
MUTATIONS = (
    "bad_merkle_root", "double_spend", "bad_signature", "too_much_coinbase_value", "bad_witness_commitment",
    "bad_pow",
)  # fmt: skip


def regrind(header: BlockHeader, start_nonce: int = 0) -> BlockHeader:
    """The header with the first nonce from ``start_nonce`` whose hash meets its target."""
    target = bits_to_target(header.bits)
    prefix = header.serialize()[:76]
    nonce = start_nonce
    while True:
        h = sha256d(prefix + nonce.to_bytes(4, "little"))
        if int.from_bytes(h, "little") <= target:
            return BlockHeader(
                header.version, header.prev_hash, header.merkle_root, header.time, header.bits, nonce
            )
        nonce += 1
        if nonce > 0xFFFFFFFF:
            raise GeneratorError("no nonce meets the target")


def _assemble(
    header: BlockHeader, txs: Sequence[Transaction], *, recommit: bool = True, remerkle: bool = True
) -> bytes:
    """Serialize with a refreshed witness commitment (if the coinbase has one) and merkle root, regrinding PoW."""
    txs = list(txs)
    if recommit:
        cb = txs[0]
        outs = list(cb.outputs)
        idx = [
            i
            for i, o in enumerate(outs)
            if len(o.script_pubkey) >= 38 and o.script_pubkey[:6] == b"\x6a\x24\xaa\x21\xa9\xed"
        ]
        if idx:
            reserved = cb.witnesses[0][0] if cb.witnesses[0] else WITNESS_RESERVED_VALUE
            wroot = merkle_root([bytes(32)] + [t.wtxid for t in txs[1:]])[0]
            old = outs[idx[-1]].script_pubkey
            outs[idx[-1]] = TxOut(0, old[:6] + witness_commitment_hash(wroot, reserved) + old[38:])
            txs[0] = Transaction(cb.version, cb.inputs, outs, cb.locktime, cb.witnesses)
    root = merkle_root([t.txid for t in txs])[0] if remerkle else header.merkle_root
    h = BlockHeader(header.version, header.prev_hash, root, header.time, header.bits, 0)
    h = regrind(h)
    return b"".join([h.serialize(), compact_size(len(txs))] + [t.serialize() for t in txs])


def _is_der_like(item: bytes) -> bool:
    return len(item) >= 9 and item[0] == 0x30 and item[1] == len(item) - 3


def _flip_signature(script_sig: bytes, witness: tuple) -> tuple[bytes, tuple] | None:
    """Corrupt the first signature of an input (in its witness, else its scriptSig), keeping its encoding."""
    for j, item in enumerate(witness):
        if (j == 0 and len(item) in (64, 65)) or _is_der_like(item):
            return script_sig, witness[:j] + (_corrupt(item),) + witness[j + 1 :]
    for t in iter_script(script_sig):
        if t.data is not None and _is_der_like(t.data):
            start = script_sig.index(t.data, t.offset)
            return script_sig[:start] + _corrupt(t.data) + script_sig[start + len(t.data) :], witness
    return None


def _corrupt(sig: bytes) -> bytes:
    # Change a byte in the middle of R (DER) or of r (Schnorr): the encoding stays valid, the signature not.
    pos = 4 + sig[3] // 2 if sig[0] == 0x30 and len(sig) not in (64, 65) else 10
    return sig[:pos] + bytes((sig[pos] ^ 0x01,)) + sig[pos + 1 :]


def mutate_block(
    raw: bytes,
    kind: str,
    *,
    generator: ChainGenerator | None = None,
    input_ref: tuple[int, int] | None = None,
) -> bytes:
    """A copy of a valid block that breaks exactly one consensus rule, with valid proof of work.

    ``kind``: one of :data:`MUTATIONS`. ``double_spend`` adds a correctly signed transaction that
    spends again a coin an earlier transaction of the block spends, so it needs the ``generator`` that
    made the block (and holds the keys); the block must be one of its last eight. ``bad_signature``
    corrupts the first signature found, or the one of input ``input_ref`` = (tx index, input index).
    """
    if kind not in MUTATIONS:
        raise GeneratorError(f"unknown mutation {kind!r}: one of {', '.join(MUTATIONS)}")
    block = Block.from_bytes(raw)
    header = block.header
    txs = list(block.transactions)
    if kind == "bad_merkle_root":
        root = bytearray(header.merkle_root)
        root[0] ^= 0x01
        h = regrind(BlockHeader(header.version, header.prev_hash, bytes(root), header.time, header.bits, 0))
        return h.serialize() + raw[80:]
    if kind == "bad_pow":
        target = bits_to_target(header.bits)
        prefix = header.serialize()[:76]
        nonce = 0
        while int.from_bytes(sha256d(prefix + nonce.to_bytes(4, "little")), "little") <= target:
            nonce += 1
        return prefix + nonce.to_bytes(4, "little") + raw[80:]
    if kind == "too_much_coinbase_value":
        cb = txs[0]
        outs = list(cb.outputs)
        outs[0] = TxOut(outs[0].value + 1, outs[0].script_pubkey)
        txs[0] = Transaction(cb.version, cb.inputs, outs, cb.locktime, cb.witnesses)
        return _assemble(header, txs, recommit=False)
    if kind == "bad_witness_commitment":
        cb = txs[0]
        outs = list(cb.outputs)
        idx = [
            i
            for i, o in enumerate(outs)
            if len(o.script_pubkey) >= 38 and o.script_pubkey[:6] == b"\x6a\x24\xaa\x21\xa9\xed"
        ]
        if not idx:
            raise GeneratorError("the block has no witness commitment to break")
        spk = bytearray(outs[idx[-1]].script_pubkey)
        spk[6] ^= 0x01
        outs[idx[-1]] = TxOut(0, bytes(spk))
        txs[0] = Transaction(cb.version, cb.inputs, outs, cb.locktime, cb.witnesses)
        return _assemble(header, txs, recommit=False)
    if kind == "bad_signature":
        refs = (
            [input_ref] if input_ref is not None
            else [(t, i) for t in range(1, len(txs)) for i in range(txs[t].input_count)]
        )  # fmt: skip
        for t_index, i in refs:
            if not 1 <= t_index < len(txs) or not 0 <= i < txs[t_index].input_count:
                raise GeneratorError(f"no input {i} in transaction {t_index}")
            tx = txs[t_index]
            txin = tx.inputs[i]
            flipped = _flip_signature(txin.script_sig, tx.witnesses[i])
            if flipped is None:
                continue
            ss, wit = flipped
            inputs = list(tx.inputs)
            inputs[i] = TxIn(txin.prev_txid, txin.prev_index, ss, txin.sequence)
            witnesses = list(tx.witnesses)
            witnesses[i] = wit
            txs[t_index] = Transaction(tx.version, inputs, tx.outputs, tx.locktime, witnesses)
            return _assemble(header, txs)
        raise GeneratorError("the block has no signature to break")
    # double_spend
    if generator is None:
        raise GeneratorError(
            "double_spend needs the generator that made the block (it signs the second spend)"
        )
    height = _coinbase_bip34_height(txs[0])
    for tx in txs[1:]:
        for txin in tx.inputs:
            respend = generator._respend((txin.prev_txid, txin.prev_index), height)
            if respend is not None:
                return _assemble(header, [*txs, respend])
    raise GeneratorError("the block spends no coin the generator made in its last eight blocks")


def _coinbase_bip34_height(cb: Transaction) -> int:
    sig = cb.inputs[0].script_sig
    op = sig[0]
    if 0x51 <= op <= 0x60:
        return op - 0x50
    return int.from_bytes(sig[1 : 1 + op], "little")
