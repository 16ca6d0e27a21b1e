"""Consensus rules: chain parameters, transaction and block rules, sigops, proof of work, script
flags by height, the parallel script-check pool and full block validation."""

from .errors import ContextError, ValidationError, script_error_message, script_failure_reason
from .params import (
    NETWORKS,
    ChainParams,
    block_subsidy,
    enforce_bip30,
    genesis_block,
    get_params,
    median_time_past,
    script_flags_for_block,
)
from .pool import ScriptCheckPool, ScriptJob
from .tx_rules import (
    calculate_sequence_locks,
    check_transaction,
    check_tx_inputs,
    evaluate_sequence_locks,
    is_final_tx,
)
from .validate import BlockValidationResult, validate_block

__all__ = [
    "NETWORKS", "BlockValidationResult", "ChainParams", "ContextError", "ScriptCheckPool", "ScriptJob",
    "ValidationError", "block_subsidy", "calculate_sequence_locks", "check_transaction", "check_tx_inputs",
    "enforce_bip30", "evaluate_sequence_locks", "genesis_block", "get_params", "is_final_tx",
    "median_time_past", "script_error_message", "script_failure_reason", "script_flags_for_block",
    "validate_block",
]  # fmt: skip
