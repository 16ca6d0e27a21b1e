"""Chain parameters: genesis blocks, magic bytes, subsidy, BIP30/BIP34 logic and script flags by height."""

from __future__ import annotations

import pytest

import bitcoin
from packetfs.bitcoin.consensus.params import (
    NETWORKS,
    block_subsidy,
    enforce_bip30,
    genesis_block,
    get_params,
    median_time_past,
    script_flags_for_block,
)
from packetfs.bitcoin.primitives.hashes import hex_to_hash
from packetfs.bitcoin.script.flags import ScriptFlags, parse_flags

# The well-known genesis hashes (Core's chainparams asserts these).
KNOWN_GENESIS = {
    "mainnet": "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    "testnet3": "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    "testnet4": "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
    "signet": "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
    "regtest": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
}
KNOWN_MERKLE = {
    "mainnet": "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
    "testnet4": "7aa0a7ae1e223414cb807e40cd57e667b718e42aaf9306db9102fe28912b7b4e",
}
KNOWN_MAGIC = {
    "mainnet": "f9beb4d9",
    "testnet3": "0b110907",
    "testnet4": "1c163f28",
    "signet": "0a03cf40",
    "regtest": "fabfb5da",
}


@pytest.mark.parametrize("network", NETWORKS)
def test_genesis_hash_and_magic(network):
    block = genesis_block(network)
    assert block.hash_hex == KNOWN_GENESIS[network]
    assert get_params(network).magic.hex() == KNOWN_MAGIC[network]
    root, mutated = block.compute_merkle_root()
    assert root == block.header.merkle_root and not mutated
    if network in KNOWN_MERKLE:
        assert block.header.merkle_root[::-1].hex() == KNOWN_MERKLE[network]


@pytest.mark.parametrize(
    "network, lib_params",
    [
        ("mainnet", bitcoin.MainParams),
        ("testnet3", bitcoin.TestNetParams),
        ("regtest", bitcoin.RegTestParams),
        ("signet", bitcoin.SigNetParams),
    ],
)
def test_genesis_serialization_matches_python_bitcoinlib(network, lib_params):
    # python-bitcoinlib ships each genesis block as raw bytes: an independent anchor for every byte.
    assert genesis_block(network).serialize() == lib_params.GENESIS_BLOCK.serialize()


def test_genesis_passes_its_own_pow():
    from packetfs.bitcoin.consensus.pow import check_proof_of_work

    for network in NETWORKS:
        g = genesis_block(network)
        assert check_proof_of_work(g.header.hash, g.header.bits, network), network


def test_aliases_and_unknown_network():
    assert get_params("main") is get_params("mainnet")
    assert get_params("testnet") is get_params("testnet3")
    with pytest.raises(ValueError, match="unknown network"):
        get_params("dogecoin")


def test_subsidy_schedule():
    # 50 BTC, halving every 210000 blocks; zero from the 64th halving (Core's GetBlockSubsidy).
    assert block_subsidy(0, "mainnet") == 50 * 10**8
    assert block_subsidy(209_999, "mainnet") == 50 * 10**8
    assert block_subsidy(210_000, "mainnet") == 25 * 10**8
    assert block_subsidy(840_000, "mainnet") == 312_500_000
    assert block_subsidy(6_929_999, "mainnet") == 1  # 32nd halving: 5e9 >> 32 == 1
    assert block_subsidy(6_930_000, "mainnet") == 0
    assert block_subsidy(64 * 210_000, "mainnet") == 0
    assert block_subsidy(150, "regtest") == 25 * 10**8
    # Total supply stays under 21 million BTC.
    total = sum(block_subsidy(h * 210_000, "mainnet") * 210_000 for h in range(64))
    assert total == 2_099_999_997_690_000


MAIN_BIP16_EXCEPTION = "00000000000002dc756eebf4f49723ed8d30cc28a5f108eb94b1ba88ac4f9c22"
MAIN_TAPROOT_EXCEPTION = "0000000000000000000f14c35b2d841e986ab5441de8c585d5ffe55ea1e395ad"
TEST3_BIP16_EXCEPTION = "00000000dd30457c001f4095d208cc1296b0eed002427aa599874af7a432b105"
SOME_HASH = "11" * 32


@pytest.mark.parametrize(
    "height, block_hash, expected",
    [
        (0, SOME_HASH, "P2SH,WITNESS,TAPROOT"),
        (170_060, MAIN_BIP16_EXCEPTION, "NONE"),  # the BIP16 exception block: no flags at all
        (363_724, SOME_HASH, "P2SH,WITNESS,TAPROOT"),
        (363_725, SOME_HASH, "P2SH,WITNESS,TAPROOT,DERSIG"),
        (388_381, SOME_HASH, "P2SH,WITNESS,TAPROOT,DERSIG,CHECKLOCKTIMEVERIFY"),
        (419_328, SOME_HASH, "P2SH,WITNESS,TAPROOT,DERSIG,CHECKLOCKTIMEVERIFY,CHECKSEQUENCEVERIFY"),
        (481_823, SOME_HASH, "P2SH,WITNESS,TAPROOT,DERSIG,CHECKLOCKTIMEVERIFY,CHECKSEQUENCEVERIFY"),
        (481_824, SOME_HASH, "P2SH,WITNESS,TAPROOT,DERSIG,CHECKLOCKTIMEVERIFY,CHECKSEQUENCEVERIFY,NULLDUMMY"),
        # The taproot exception block keeps P2SH and WITNESS but not TAPROOT; the height rules still apply.
        (
            692_261,
            MAIN_TAPROOT_EXCEPTION,
            "P2SH,WITNESS,DERSIG,CHECKLOCKTIMEVERIFY,CHECKSEQUENCEVERIFY,NULLDUMMY",
        ),
        (866_342, SOME_HASH, "P2SH,WITNESS,TAPROOT,DERSIG,CHECKLOCKTIMEVERIFY,CHECKSEQUENCEVERIFY,NULLDUMMY"),
    ],
)
def test_mainnet_flags_by_height(height, block_hash, expected):
    assert script_flags_for_block(height, block_hash, "mainnet") == parse_flags(expected)


def test_exception_hash_accepts_bytes_and_only_matches_on_its_network():
    h = hex_to_hash(MAIN_BIP16_EXCEPTION)
    assert script_flags_for_block(170_060, h, "mainnet") == ScriptFlags.NONE
    assert script_flags_for_block(170_060, h, "testnet3") & ScriptFlags.P2SH
    assert script_flags_for_block(100, TEST3_BIP16_EXCEPTION, "testnet3") == ScriptFlags.NONE
    assert script_flags_for_block(100, TEST3_BIP16_EXCEPTION, "mainnet") & ScriptFlags.P2SH


@pytest.mark.parametrize("network", ["testnet4", "signet", "regtest"])
def test_test_networks_all_flags_from_height_1(network):
    everything = parse_flags("P2SH,WITNESS,TAPROOT,DERSIG,CHECKLOCKTIMEVERIFY,CHECKSEQUENCEVERIFY,NULLDUMMY")
    assert script_flags_for_block(1, SOME_HASH, network) == everything
    at0 = script_flags_for_block(0, SOME_HASH, network)
    assert not at0 & ScriptFlags.DERSIG
    # Regtest activates segwit (NULLDUMMY) at 0, the others at 1.
    assert bool(at0 & ScriptFlags.NULLDUMMY) == (network == "regtest")


def test_testnet3_heights():
    f = script_flags_for_block(330_775, SOME_HASH, "testnet3")
    assert not f & ScriptFlags.DERSIG
    assert script_flags_for_block(330_776, SOME_HASH, "testnet3") & ScriptFlags.DERSIG
    assert script_flags_for_block(834_624, SOME_HASH, "testnet3") & ScriptFlags.NULLDUMMY
    assert not script_flags_for_block(834_623, SOME_HASH, "testnet3") & ScriptFlags.NULLDUMMY


def test_bip30_enforcement():
    # The two historical duplicate-coinbase blocks are exempt.
    assert not enforce_bip30(
        91_842, "00000000000a4d0a398161ffc163c503763b1f4360639393e0e4c8e300e0caec", "mainnet"
    )
    assert not enforce_bip30(
        91_880, "00000000000743f190a18c5577a3c2d2a1f610ae9601ac046a38084ccb7cd721", "mainnet"
    )
    assert enforce_bip30(91_842, SOME_HASH, "mainnet")
    # Up to the BIP34 height it is checked, after it (on the main chain) not, until 1,983,702.
    assert enforce_bip30(227_931, SOME_HASH, "mainnet")
    assert not enforce_bip30(227_932, SOME_HASH, "mainnet")
    assert not enforce_bip30(1_983_701, SOME_HASH, "mainnet")
    assert enforce_bip30(1_983_702, SOME_HASH, "mainnet")
    # Networks without a BIP34 hash always check it.
    assert enforce_bip30(500_000, SOME_HASH, "regtest")
    assert enforce_bip30(500_000, SOME_HASH, "signet")


def test_median_time_past():
    assert median_time_past([5]) == 5
    assert median_time_past([3, 1, 2]) == 2
    # Only the last 11 count; an even count takes the upper middle (Core indexes size/2).
    assert median_time_past(list(range(100)) + [1000] * 0) == 94
    assert median_time_past([1, 2, 3, 4]) == 3
    with pytest.raises(ValueError):
        median_time_past([])
