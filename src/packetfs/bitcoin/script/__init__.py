"""Script verification: interpreter (all of Core's flags, segwit v0, taproot), signature hashes,
signature checks through libsecp256k1, and standard-template fast paths."""

from .api import verify_input, verify_tx_input
from .crypto import enable_stats, stats
from .errors import SCRIPT_ERRORS, ScriptError
from .flags import CONSENSUS_FLAGS, ScriptFlags, format_flags, parse_flags
from .interpreter import verify_script
from .sighash import PrecomputedTxData, legacy_sighash, segwit_v0_sighash, taproot_sighash

__all__ = [
    "CONSENSUS_FLAGS", "PrecomputedTxData", "SCRIPT_ERRORS", "ScriptError", "ScriptFlags", "enable_stats",
    "format_flags", "legacy_sighash", "parse_flags", "segwit_v0_sighash", "stats", "taproot_sighash",
    "verify_input", "verify_script", "verify_tx_input",
]  # fmt: skip
