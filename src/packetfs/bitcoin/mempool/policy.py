"""Bitcoin Core 30's transaction relay policy (policy/policy.{h,cpp}, feerate.cpp, truc_policy.h,
ephemeral_policy.cpp): constants, fee rates, standardness of a transaction, its inputs and its
witnesses, and dust. Pure functions of the transaction and the coins it spends; no mempool state.

Every check returns Core's reject reason string (or None when the rule passes), so the mempool can
report exactly what Core reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..consensus.sigops import legacy_sigop_count
from ..primitives.script import classify_output, is_push_only, iter_script, witness_program
from ..primitives.transaction import Transaction, TxOut
from ..script.flags import CONSENSUS_FLAGS, ScriptFlags

# --------------------------------------------------------------------------------- constants
MAX_STANDARD_TX_WEIGHT = 400_000
MIN_STANDARD_TX_NONWITNESS_SIZE = 65
MAX_P2SH_SIGOPS = 15
MAX_STANDARD_TX_SIGOPS_COST = 16_000  # MAX_BLOCK_SIGOPS_COST / 5
MAX_TX_LEGACY_SIGOPS = 2_500  # Core 30 (#32521)
MAX_STANDARD_SCRIPTSIG_SIZE = 1_650
MAX_STANDARD_P2WSH_SCRIPT_SIZE = 3_600
MAX_STANDARD_P2WSH_STACK_ITEMS = 100
MAX_STANDARD_P2WSH_STACK_ITEM_SIZE = 80
MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE = 80
MAX_OP_RETURN_RELAY = MAX_STANDARD_TX_WEIGHT // 4  # Core 30 -datacarriersize default: 100,000
DEFAULT_BYTES_PER_SIGOP = 20
TX_MIN_STANDARD_VERSION = 1
TX_MAX_STANDARD_VERSION = 3
MAX_DUST_OUTPUTS_PER_TX = 1

DEFAULT_MIN_RELAY_TX_FEE = 100  # sat/kvB (Core 30: 0.1 sat/vB)
DEFAULT_INCREMENTAL_RELAY_FEE = 100  # sat/kvB
DUST_RELAY_TX_FEE = 3_000  # sat/kvB
DEFAULT_MAX_MEMPOOL_SIZE_MB = 300
DEFAULT_MEMPOOL_EXPIRY_HOURS = 336
DEFAULT_ANCESTOR_LIMIT = 25
DEFAULT_ANCESTOR_SIZE_LIMIT_KVB = 101
DEFAULT_DESCENDANT_LIMIT = 25
DEFAULT_DESCENDANT_SIZE_LIMIT_KVB = 101
MAX_REPLACEMENT_CANDIDATES = 100
ROLLING_FEE_HALFLIFE = 60 * 60 * 12

# TRUC (BIP431)
TRUC_VERSION = 3
TRUC_ANCESTOR_LIMIT = 2
TRUC_DESCENDANT_LIMIT = 2
TRUC_MAX_VSIZE = 10_000
TRUC_CHILD_MAX_VSIZE = 1_000

# Packages (policy/packages.h)
MAX_PACKAGE_COUNT = 25
MAX_PACKAGE_WEIGHT = 404_000

# Script flags: consensus rules every relayed tx must pass (Core's MANDATORY set, the same as the
# consensus flags), and the stricter relay set.
MANDATORY_SCRIPT_VERIFY_FLAGS = CONSENSUS_FLAGS
STANDARD_SCRIPT_VERIFY_FLAGS = (
    MANDATORY_SCRIPT_VERIFY_FLAGS
    | ScriptFlags.STRICTENC
    | ScriptFlags.MINIMALDATA
    | ScriptFlags.DISCOURAGE_UPGRADABLE_NOPS
    | ScriptFlags.CLEANSTACK
    | ScriptFlags.MINIMALIF
    | ScriptFlags.NULLFAIL
    | ScriptFlags.LOW_S
    | ScriptFlags.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM
    | ScriptFlags.WITNESS_PUBKEYTYPE
    | ScriptFlags.CONST_SCRIPTCODE
    | ScriptFlags.DISCOURAGE_UPGRADABLE_TAPROOT_VERSION
    | ScriptFlags.DISCOURAGE_OP_SUCCESS
    | ScriptFlags.DISCOURAGE_UPGRADABLE_PUBKEYTYPE
)
STANDARD_NOT_MANDATORY_FLAGS = STANDARD_SCRIPT_VERIFY_FLAGS & ~MANDATORY_SCRIPT_VERIFY_FLAGS


# --------------------------------------------------------------------------------- fee rates
@dataclass(frozen=True, slots=True)
class FeeRate:
    """Satoshis per 1000 virtual bytes, as Core's CFeeRate."""

    sat_per_kvb: int

    @classmethod
    def from_fee(cls, fee: int, vsize: int) -> FeeRate:
        return cls(fee * 1000 // vsize if vsize > 0 else 0)

    def fee(self, vsize: int) -> int:
        """CFeeRate::GetFee: rounded up, and never 0 for a positive rate and size."""
        if vsize == 0:
            return 0
        f = -(-self.sat_per_kvb * vsize // 1000)  # exact integer ceiling (Core rounds the double up)
        if f == 0 and self.sat_per_kvb > 0:
            return 1
        return f

    @property
    def btc_per_kvb(self) -> float:
        return self.sat_per_kvb / 1e8

    def __str__(self) -> str:  # CFeeRate::ToString
        return f"{self.sat_per_kvb // 100_000_000}.{self.sat_per_kvb % 100_000_000:08d} BTC/kvB"


def virtual_size(weight: int, sigop_cost: int = 0, bytes_per_sigop: int = DEFAULT_BYTES_PER_SIGOP) -> int:
    """GetVirtualTransactionSize: weight, or the sigop-adjusted weight if larger, in vbytes (rounded up)."""
    return (max(weight, sigop_cost * bytes_per_sigop) + 3) // 4


def format_amount(sat: int) -> str:
    """Core's FormatMoney: '0.00001000'."""
    sign = "-" if sat < 0 else ""
    sat = abs(sat)
    return f"{sign}{sat // 100_000_000}.{sat % 100_000_000:08d}"


# ----------------------------------------------------------------------------------- dust
def dust_threshold(out: TxOut, dust_relay_fee: FeeRate) -> int:
    """GetDustThreshold: the value below which spending the output costs more than it is worth."""
    spk = out.script_pubkey
    if (spk and spk[0] == 0x6A) or len(spk) > 10_000:
        return 0
    n = len(spk)
    size = 8 + (1 if n < 0xFD else 3 if n <= 0xFFFF else 5) + n
    if witness_program(spk) is not None:
        size += 32 + 4 + 1 + (107 // 4) + 4
    else:
        size += 32 + 4 + 1 + 107 + 4
    return dust_relay_fee.fee(size)


def is_dust(out: TxOut, dust_relay_fee: FeeRate) -> bool:
    return out.value < dust_threshold(out, dust_relay_fee)


def dust_outputs(tx: Transaction, dust_relay_fee: FeeRate) -> list[int]:
    """GetDust: indexes of dust outputs."""
    return [i for i, o in enumerate(tx.outputs) if is_dust(o, dust_relay_fee)]


# --------------------------------------------------------------------------- standardness
@dataclass(frozen=True, slots=True)
class PolicyOptions:
    """Node options that policy depends on (Core's MemPoolOptions subset)."""

    min_relay_fee: FeeRate = FeeRate(DEFAULT_MIN_RELAY_TX_FEE)
    incremental_relay_fee: FeeRate = FeeRate(DEFAULT_INCREMENTAL_RELAY_FEE)
    dust_relay_fee: FeeRate = FeeRate(DUST_RELAY_TX_FEE)
    max_datacarrier_bytes: int | None = MAX_OP_RETURN_RELAY
    permit_bare_multisig: bool = True
    require_standard: bool = True
    max_size_bytes: int = DEFAULT_MAX_MEMPOOL_SIZE_MB * 1_000_000
    expiry_seconds: int = DEFAULT_MEMPOOL_EXPIRY_HOURS * 3600
    ancestor_count: int = DEFAULT_ANCESTOR_LIMIT
    ancestor_size_vbytes: int = DEFAULT_ANCESTOR_SIZE_LIMIT_KVB * 1000
    descendant_count: int = DEFAULT_DESCENDANT_LIMIT
    descendant_size_vbytes: int = DEFAULT_DESCENDANT_SIZE_LIMIT_KVB * 1000


def _multisig_counts(spk: bytes) -> tuple[int, int]:
    tokens = list(iter_script(spk))
    first, last = tokens[0].opcode, tokens[-2].opcode
    m = first - 0x50 if 0x51 <= first <= 0x60 else int.from_bytes(tokens[0].data or b"\x00", "little")
    n = last - 0x50 if 0x51 <= last <= 0x60 else int.from_bytes(tokens[-2].data or b"\x00", "little")
    return m, n


def standard_output_kind(spk: bytes) -> str | None:
    """IsStandard(scriptPubKey): the Solver type if standard for an output, else None."""
    kind = classify_output(spk)
    if kind == "nonstandard":
        return None
    if kind == "multisig":
        m, n = _multisig_counts(spk)
        if n < 1 or n > 3 or m < 1 or m > n:
            return None
    return kind


def check_standard_tx(tx: Transaction, opts: PolicyOptions, dust: list[int] | None = None) -> str | None:
    """IsStandardTx: Core's reason string for the first rule broken, or None. ``dust``: the tx's
    dust outputs if the caller has them already."""
    if not TX_MIN_STANDARD_VERSION <= tx.version <= TX_MAX_STANDARD_VERSION:
        return "version"
    if tx.weight > MAX_STANDARD_TX_WEIGHT:
        return "tx-size"
    for txin in tx.inputs:
        if len(txin.script_sig) > MAX_STANDARD_SCRIPTSIG_SIZE:
            return "scriptsig-size"
        if not is_push_only(txin.script_sig):
            return "scriptsig-not-pushonly"
    datacarrier = opts.max_datacarrier_bytes
    for out in tx.outputs:
        kind = standard_output_kind(out.script_pubkey)
        if kind is None:
            return "scriptpubkey"
        if kind == "op_return":
            if datacarrier is None or len(out.script_pubkey) > datacarrier:
                return "datacarrier"
            datacarrier -= len(out.script_pubkey)
        elif kind == "multisig" and not opts.permit_bare_multisig:
            return "bare-multisig"
    if len(dust if dust is not None else dust_outputs(tx, opts.dust_relay_fee)) > MAX_DUST_OUTPUTS_PER_TX:
        return "dust"
    return None


def _redeem_script(script_sig: bytes) -> bytes | None:
    """The last push of a push-only scriptSig (what EvalScript leaves on top), else None."""
    data = None
    for tok in iter_script(script_sig):
        if tok.truncated or tok.opcode > 0x60:
            return None
        if tok.data is not None:
            data = tok.data
        elif tok.opcode == 0:
            data = b""
        elif tok.opcode == 0x4F:
            data = b"\x81"
        else:
            data = bytes((tok.opcode - 0x50,))
    return data


def inputs_standard(tx: Transaction, spent: Sequence[TxOut]) -> bool:
    """AreInputsStandard (Core 30): no spends of nonstandard or unknown-witness outputs, at most 15
    sigops in a P2SH redeem script, and at most 2,500 legacy sigops counted over scriptSigs, spent
    scriptPubKeys and redeem scripts."""
    legacy = 0
    for txin, prev in zip(tx.inputs, spent, strict=True):
        spk = prev.script_pubkey
        kind = classify_output(spk)
        if kind in ("nonstandard", "witness_unknown"):
            return False
        legacy += legacy_sigop_count(txin.script_sig, True) + legacy_sigop_count(spk, True)
        if kind == "p2sh":
            redeem = _redeem_script(txin.script_sig)
            if redeem is None:
                return False
            n = legacy_sigop_count(redeem, True)
            if n > MAX_P2SH_SIGOPS:
                return False
            legacy += n
    return legacy <= MAX_TX_LEGACY_SIGOPS


def witness_standard(tx: Transaction, spent: Sequence[TxOut]) -> bool:
    """IsWitnessStandard: bounded P2WSH scripts and stacks, no annex, small tapscript stack items,
    no witness on non-witness spends or pay-to-anchor."""
    if tx.is_coinbase():
        return True
    for txin, wit, prev in zip(tx.inputs, tx.witnesses, spent, strict=True):
        if not wit:
            continue
        spk = prev.script_pubkey
        if classify_output(spk) == "p2a":
            return False
        p2sh = False
        if classify_output(spk) == "p2sh":
            redeem = _redeem_script(txin.script_sig)
            if redeem is None:
                return False
            spk = redeem
            p2sh = True
        wp = witness_program(spk)
        if wp is None:
            return False  # witness on a non-witness program
        version, program = wp
        if version == 0 and len(program) == 32:
            if len(wit[-1]) > MAX_STANDARD_P2WSH_SCRIPT_SIZE:
                return False
            items = wit[:-1]
            if len(items) > MAX_STANDARD_P2WSH_STACK_ITEMS:
                return False
            if any(len(x) > MAX_STANDARD_P2WSH_STACK_ITEM_SIZE for x in items):
                return False
        if version == 1 and len(program) == 32 and not p2sh:
            stack = list(wit)
            if len(stack) >= 2 and stack[-1] and stack[-1][0] == 0x50:
                return False  # annex
            if len(stack) >= 2:
                control = stack[-1]
                if control and (control[0] & 0xFE) == 0xC0:
                    if any(len(x) > MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE for x in stack[:-2]):
                        return False
    return True
