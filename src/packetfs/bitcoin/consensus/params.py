"""Chain parameters for mainnet, testnet3, testnet4, signet and regtest, and the script flags a block
is validated with (Core's kernel/chainparams.cpp and GetBlockScriptFlags in validation.cpp).

Values are Core's; each genesis block is rebuilt from its coinbase and header fields, and the tests
check the resulting hashes against the well-known ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from ..primitives.block import Block, BlockHeader
from ..primitives.hashes import hex_to_hash, sha256d
from ..primitives.script import push_data
from ..primitives.transaction import COINBASE_PREV_INDEX, COINBASE_PREV_TXID, Transaction, TxIn, TxOut
from ..script.flags import ScriptFlags
from .constants import COIN

NETWORKS = ("mainnet", "testnet3", "testnet4", "signet", "regtest")
# Names people and other tools use for the same networks.
_ALIASES = {"main": "mainnet", "bitcoin": "mainnet", "testnet": "testnet3", "test": "testnet3"}

# The two mainnet blocks whose coinbases duplicate earlier ones (the BIP30 exceptions, IsBIP30Repeat).
BIP30_REPEAT_BLOCKS = {
    91842: hex_to_hash("00000000000a4d0a398161ffc163c503763b1f4360639393e0e4c8e300e0caec"),
    91880: hex_to_hash("00000000000743f190a18c5577a3c2d2a1f610ae9601ac046a38084ccb7cd721"),
}
# Past this height BIP34 no longer rules out duplicate coinbases (coinbases of early blocks encode
# larger heights), so Core checks BIP30 again from here on.
BIP34_IMPLIES_BIP30_LIMIT = 1_983_702

_SATOSHI_TIMESTAMP = b"The Times 03/Jan/2009 Chancellor on brink of second bailout for banks"
_SATOSHI_KEY = bytes.fromhex(
    "04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb6"
    "49f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f"
)
_TESTNET4_TIMESTAMP = b"03/May/2024 000000000000000000001ebd58c244970b3aa9d783bb001011fbe8ea8e98e00e"
_TESTNET4_KEY = bytes(33)
_SIGNET_CHALLENGE = bytes.fromhex(
    "512103ad5e0edad18cb1f0fc0d28a3d4f1f3e445640337489abb10404f2d1e086be430210359ef5021964fe22d6f"
    "8e05b2463c9540ce96883fe3b278760f048f5189f2e6c452ae"
)


@dataclass(frozen=True)
class ChainParams:
    name: str
    magic: bytes  # P2P message start / blk-file record marker
    genesis_time: int
    genesis_nonce: int
    genesis_bits: int
    genesis_version: int
    genesis_timestamp: bytes  # the text in the genesis coinbase
    genesis_output_key: bytes  # the pubkey the genesis output pays (P2PK)
    pow_limit: int
    pow_target_timespan: int
    pow_target_spacing: int
    pow_allow_min_difficulty_blocks: bool
    pow_no_retargeting: bool
    enforce_bip94: bool
    subsidy_halving_interval: int
    bip34_height: int
    bip34_hash: bytes | None  # internal byte order; None where Core has the zero hash
    bip65_height: int
    bip66_height: int
    csv_height: int
    segwit_height: int
    # Taproot is a BIP9 deployment in Core; script flags do not depend on it (TAPROOT is on for every
    # block but the exceptions). None where the height is not a fixed parameter.
    taproot_height: int | None
    # block hash (internal order) -> the script flags Core validates that block with instead.
    script_flag_exceptions: dict[bytes, ScriptFlags] = field(default_factory=dict)
    signet_challenge: bytes | None = None

    @property
    def difficulty_adjustment_interval(self) -> int:
        return self.pow_target_timespan // self.pow_target_spacing

    @property
    def genesis(self) -> Block:
        return genesis_block(self.name)

    @property
    def genesis_hash(self) -> bytes:
        return genesis_block(self.name).header.hash


def _genesis(timestamp: bytes, output_key: bytes, time: int, nonce: int, bits: int, version: int) -> Block:
    # The coinbase scriptSig pushes 486604799 (0x1d00ffff as a script number), the number 4 and the text.
    script_sig = push_data((486604799).to_bytes(4, "little")) + push_data(b"\x04") + push_data(timestamp)
    coinbase = Transaction(
        1,
        [TxIn(COINBASE_PREV_TXID, COINBASE_PREV_INDEX, script_sig, 0xFFFFFFFF)],
        [TxOut(50 * COIN, push_data(output_key) + b"\xac")],
        0,
    )
    header = BlockHeader(version, bytes(32), coinbase.txid, time, bits, nonce)
    return Block(header, [coinbase])


_POW_LIMIT_MAIN = int("00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 16)
_TWO_WEEKS = 14 * 24 * 60 * 60

MAINNET = ChainParams(
    name="mainnet",
    magic=bytes.fromhex("f9beb4d9"),
    genesis_time=1231006505,
    genesis_nonce=2083236893,
    genesis_bits=0x1D00FFFF,
    genesis_version=1,
    genesis_timestamp=_SATOSHI_TIMESTAMP,
    genesis_output_key=_SATOSHI_KEY,
    pow_limit=_POW_LIMIT_MAIN,
    pow_target_timespan=_TWO_WEEKS,
    pow_target_spacing=600,
    pow_allow_min_difficulty_blocks=False,
    pow_no_retargeting=False,
    enforce_bip94=False,
    subsidy_halving_interval=210_000,
    bip34_height=227_931,
    bip34_hash=hex_to_hash("000000000000024b89b42a942fe0d9fea3bb44ab7bd1b19115dd6a759c0808b8"),
    bip65_height=388_381,
    bip66_height=363_725,
    csv_height=419_328,
    segwit_height=481_824,
    taproot_height=709_632,
    script_flag_exceptions={
        # BIP16 exception: the one historical block that violates P2SH.
        hex_to_hash("00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22"): ScriptFlags.NONE,
        # Taproot exception: the one historical block that violates the taproot rules.
        hex_to_hash("0000000000000000000f14c35b2d841e986ab5441de8c585d5ffe55ea1e395ad"): ScriptFlags.P2SH
        | ScriptFlags.WITNESS,
    },
)

TESTNET3 = ChainParams(
    name="testnet3",
    magic=bytes.fromhex("0b110907"),
    genesis_time=1296688602,
    genesis_nonce=414098458,
    genesis_bits=0x1D00FFFF,
    genesis_version=1,
    genesis_timestamp=_SATOSHI_TIMESTAMP,
    genesis_output_key=_SATOSHI_KEY,
    pow_limit=_POW_LIMIT_MAIN,
    pow_target_timespan=_TWO_WEEKS,
    pow_target_spacing=600,
    pow_allow_min_difficulty_blocks=True,
    pow_no_retargeting=False,
    enforce_bip94=False,
    subsidy_halving_interval=210_000,
    bip34_height=21_111,
    bip34_hash=hex_to_hash("0000000023b3a96d3484e5abb3755c413e7d41500f8e2a5c3f0dd01299cd8ef8"),
    bip65_height=581_885,
    bip66_height=330_776,
    csv_height=770_112,
    segwit_height=834_624,
    taproot_height=None,
    script_flag_exceptions={
        hex_to_hash("00000000dd30457c001f4095d208cc1296b0eed002427aa599874af7a432b105"): ScriptFlags.NONE,
    },
)

TESTNET4 = ChainParams(
    name="testnet4",
    magic=bytes.fromhex("1c163f28"),
    genesis_time=1714777860,
    genesis_nonce=393743547,
    genesis_bits=0x1D00FFFF,
    genesis_version=1,
    genesis_timestamp=_TESTNET4_TIMESTAMP,
    genesis_output_key=_TESTNET4_KEY,
    pow_limit=_POW_LIMIT_MAIN,
    pow_target_timespan=_TWO_WEEKS,
    pow_target_spacing=600,
    pow_allow_min_difficulty_blocks=True,
    pow_no_retargeting=False,
    enforce_bip94=True,
    subsidy_halving_interval=210_000,
    bip34_height=1,
    bip34_hash=None,
    bip65_height=1,
    bip66_height=1,
    csv_height=1,
    segwit_height=1,
    taproot_height=0,
)

SIGNET = ChainParams(
    name="signet",
    # Signet's message start is the first 4 bytes of sha256d(compact_size(challenge) || challenge).
    magic=sha256d(bytes((len(_SIGNET_CHALLENGE),)) + _SIGNET_CHALLENGE)[:4],
    genesis_time=1598918400,
    genesis_nonce=52613770,
    genesis_bits=0x1E0377AE,
    genesis_version=1,
    genesis_timestamp=_SATOSHI_TIMESTAMP,
    genesis_output_key=_SATOSHI_KEY,
    pow_limit=int("00000377ae000000000000000000000000000000000000000000000000000000", 16),
    pow_target_timespan=_TWO_WEEKS,
    pow_target_spacing=600,
    pow_allow_min_difficulty_blocks=False,
    pow_no_retargeting=False,
    enforce_bip94=False,
    subsidy_halving_interval=210_000,
    bip34_height=1,
    bip34_hash=None,
    bip65_height=1,
    bip66_height=1,
    csv_height=1,
    segwit_height=1,
    taproot_height=0,
    signet_challenge=_SIGNET_CHALLENGE,
)

REGTEST = ChainParams(
    name="regtest",
    magic=bytes.fromhex("fabfb5da"),
    genesis_time=1296688602,
    genesis_nonce=2,
    genesis_bits=0x207FFFFF,
    genesis_version=1,
    genesis_timestamp=_SATOSHI_TIMESTAMP,
    genesis_output_key=_SATOSHI_KEY,
    pow_limit=int("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 16),
    pow_target_timespan=24 * 60 * 60,
    pow_target_spacing=600,
    pow_allow_min_difficulty_blocks=True,
    pow_no_retargeting=True,
    enforce_bip94=False,
    subsidy_halving_interval=150,
    bip34_height=1,
    bip34_hash=None,
    bip65_height=1,
    bip66_height=1,
    csv_height=1,
    segwit_height=0,
    taproot_height=0,
)

_PARAMS = {p.name: p for p in (MAINNET, TESTNET3, TESTNET4, SIGNET, REGTEST)}


def get_params(network: str | ChainParams) -> ChainParams:
    """Parameters for a network name (mainnet, testnet3, testnet4, signet, regtest)."""
    if isinstance(network, ChainParams):
        return network
    name = _ALIASES.get(network, network)
    try:
        return _PARAMS[name]
    except KeyError:
        raise ValueError(f"unknown network {network!r} (one of {', '.join(NETWORKS)})") from None


@cache
def genesis_block(network: str) -> Block:
    p = get_params(network)
    return _genesis(
        p.genesis_timestamp,
        p.genesis_output_key,
        p.genesis_time,
        p.genesis_nonce,
        p.genesis_bits,
        p.genesis_version,
    )


def block_subsidy(height: int, network: str | ChainParams) -> int:
    """New coins a block at ``height`` may create (Core's GetBlockSubsidy)."""
    halvings = height // get_params(network).subsidy_halving_interval
    # A shift by 64 or more is undefined in C++; Core returns zero from there on.
    if halvings >= 64:
        return 0
    return (50 * COIN) >> halvings


def _as_hash(block_hash: bytes | str | None) -> bytes | None:
    if block_hash is None or isinstance(block_hash, bytes):
        return block_hash
    return hex_to_hash(block_hash)


def script_flags_for_block(
    height: int, block_hash: bytes | str | None, network: str | ChainParams
) -> ScriptFlags:
    """The script verification flags Core applies to the block at ``height`` (GetBlockScriptFlags).

    ``block_hash`` is in internal byte order (bytes) or display hex (str); it only matters for the
    exception blocks, so None is accepted when the caller knows it is not one of them.
    P2SH, WITNESS and TAPROOT are on for every block except the listed exceptions (Core applies
    them retroactively: no other historical block violates them); DERSIG, CLTV, CSV and NULLDUMMY
    start at their buried deployment heights.
    """
    p = get_params(network)
    flags = ScriptFlags.P2SH | ScriptFlags.WITNESS | ScriptFlags.TAPROOT
    h = _as_hash(block_hash)
    if h is not None and h in p.script_flag_exceptions:
        flags = p.script_flag_exceptions[h]
    if height >= p.bip66_height:
        flags |= ScriptFlags.DERSIG
    if height >= p.bip65_height:
        flags |= ScriptFlags.CHECKLOCKTIMEVERIFY
    if height >= p.csv_height:
        flags |= ScriptFlags.CHECKSEQUENCEVERIFY
    if height >= p.segwit_height:
        flags |= ScriptFlags.NULLDUMMY
    return flags


def bip34_active(height: int, network: str | ChainParams) -> bool:
    return height >= get_params(network).bip34_height


def enforce_bip30(height: int, block_hash: bytes | str | None, network: str | ChainParams) -> bool:
    """Whether Core checks BIP30 (no overwriting of unspent outputs) for this block.

    Assumes the block is on the network's main chain, i.e. that its ancestor at the BIP34 height is
    the BIP34 block Core names (Core looks that ancestor up). Networks whose BIP34 hash is unset
    (regtest, signet, testnet4) therefore always check BIP30, as Core does.
    """
    p = get_params(network)
    h = _as_hash(block_hash)
    if h is not None and BIP30_REPEAT_BLOCKS.get(height) == h:
        enforce = False
    else:
        # The ancestor at the BIP34 height exists only for blocks above it.
        enforce = height <= p.bip34_height or p.bip34_hash is None
    return enforce or height >= BIP34_IMPLIES_BIP30_LIMIT


def median_time_past(times: list[int]) -> int:
    """Median of the last (up to) 11 block times (Core's GetMedianTimePast), given oldest first or any order."""
    if not times:
        raise ValueError("median time past needs at least one block time")
    recent = sorted(times[-11:])
    return recent[len(recent) // 2]
