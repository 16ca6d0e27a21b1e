"""Consensus constants (Core's consensus/consensus.h, amount.h, tx_verify.h); one place, no logic."""

from __future__ import annotations

COIN = 100_000_000
MAX_MONEY = 21_000_000 * COIN

MAX_BLOCK_WEIGHT = 4_000_000
MAX_BLOCK_SIGOPS_COST = 80_000
WITNESS_SCALE_FACTOR = 4
COINBASE_MATURITY = 100
MAX_PUBKEYS_PER_MULTISIG = 20

# Coinbase scriptSig length bounds (CheckTransaction).
MIN_COINBASE_SCRIPT_SIZE = 2
MAX_COINBASE_SCRIPT_SIZE = 100

# nLockTime below this is a block height, at or above a unix time.
LOCKTIME_THRESHOLD = 500_000_000
SEQUENCE_FINAL = 0xFFFFFFFF

# BIP68 relative lock-time fields of nSequence.
SEQUENCE_LOCKTIME_DISABLE_FLAG = 1 << 31
SEQUENCE_LOCKTIME_TYPE_FLAG = 1 << 22
SEQUENCE_LOCKTIME_MASK = 0x0000FFFF
SEQUENCE_LOCKTIME_GRANULARITY = 9  # time locks count units of 512 seconds

# Blocks further in the future than this (vs. the validating node's clock) are refused for now.
MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60
# BIP94 (testnet4): the first block of a period may not be earlier than the previous block by more.
MAX_TIMEWARP = 600

# Every coinbase scriptSig push of the BIP141 witness commitment and its reserved value.
WITNESS_COMMITMENT_HEADER = bytes.fromhex("6a24aa21a9ed")
MINIMUM_WITNESS_COMMITMENT = 38
