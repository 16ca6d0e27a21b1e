"""Output classification and addresses, checked against BIP173/BIP350 vectors and python-bitcoinlib."""

from __future__ import annotations

import pytest

from packetfs.bitcoin.primitives import (
    AddressError,
    Block,
    address_to_script,
    classify_output,
    hash160,
    script_to_address,
)
from packetfs.bitcoin.primitives.script import iter_script, script_to_asm

# (address, scriptPubKey hex) from BIP173 / BIP350's valid test vectors.
SEGWIT_VECTORS = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6", "mainnet"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
        "testnet3",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
        "mainnet",
    ),
    ("BC1SW50QGDZ25J", "6002751e", "mainnet"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323", "mainnet"),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
        "testnet3",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        "mainnet",
    ),
]

INVALID_ADDRESSES = [
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",  # v1 with bech32 checksum
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",  # v0 program of 16 bytes
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # bad checksum
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7",  # mixed case
    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",  # bad base58 checksum
]


@pytest.mark.parametrize("address,script_hex,network", SEGWIT_VECTORS)
def test_bip173_bip350_vectors(address, script_hex, network):
    script = bytes.fromhex(script_hex)
    assert address_to_script(address, network) == script
    assert script_to_address(script, network) == address.lower()


@pytest.mark.parametrize("address", INVALID_ADDRESSES)
def test_invalid_addresses_rejected(address):
    with pytest.raises(AddressError):
        address_to_script(address, "mainnet" if address.lower().startswith(("bc", "1")) else "testnet3")


def test_genesis_coinbase_address():
    pubkey = bytes.fromhex(
        "04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5f"
    )
    p2pk = bytes((65,)) + pubkey + b"\xac"
    assert classify_output(p2pk) == "p2pk"
    p2pkh = bytes.fromhex("76a914") + hash160(pubkey) + bytes.fromhex("88ac")
    assert script_to_address(p2pkh) == "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    assert address_to_script("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa") == p2pkh
    for network in ("testnet3", "testnet4", "signet", "regtest"):
        assert address_to_script(script_to_address(p2pkh, network), network) == p2pkh


def test_real_outputs_agree_with_python_bitcoinlib(real_blocks):
    from bitcoin.core.script import CScript
    from bitcoin.wallet import CBitcoinAddress, CBitcoinAddressError

    checked = 0
    for name in ("mainnet-514485", "mainnet-574200"):
        block = Block.from_bytes(real_blocks[name])
        for tx in block.transactions:
            for out in tx.outputs:
                kind = classify_output(out.script_pubkey)
                s = CScript(out.script_pubkey)
                assert (kind == "p2sh") == s.is_p2sh()
                assert (kind == "p2wpkh") == s.is_witness_v0_keyhash()
                assert (kind == "p2wsh") == s.is_witness_v0_scripthash()
                if kind in ("p2pkh", "p2sh", "p2wpkh", "p2wsh"):
                    try:
                        theirs = str(CBitcoinAddress.from_scriptPubKey(s))
                    except CBitcoinAddressError:
                        continue
                    assert script_to_address(out.script_pubkey) == theirs
                    checked += 1
    assert checked > 5000


@pytest.mark.parametrize(
    "script_hex,kind",
    [
        ("51024e73", "p2a"),
        ("6a", "op_return"),
        ("6a0401020304", "op_return"),
        ("6a4c", "nonstandard"),  # truncated push after OP_RETURN
        ("6a76", "nonstandard"),  # non-push after OP_RETURN
        ("0014" + "00" * 19, "nonstandard"),  # v0 with a 19-byte program
        ("5214" + "00" * 20, "witness_unknown"),
        ("5120" + "00" * 32, "p2tr"),
        ("5121" + "03" + "11" * 32 + "51ae", "multisig"),
        ("5121" + "05" + "11" * 32 + "51ae", "nonstandard"),  # bad key prefix
        ("5221" + "03" + "11" * 32 + "51ae", "nonstandard"),  # m > n
        ("21" + "02" + "aa" * 32 + "ac", "p2pk"),
        ("21" + "04" + "aa" * 32 + "ac", "nonstandard"),
    ],
)
def test_classification_edge_cases(script_hex, kind):
    assert classify_output(bytes.fromhex(script_hex)) == kind


def test_non_minimal_push_kept():
    script = bytes.fromhex("4c0102") + bytes.fromhex("4d0100ff")
    tokens = list(iter_script(script))
    assert [t.opcode for t in tokens] == [0x4C, 0x4D]
    assert script_to_asm(bytes.fromhex("76a914" + "00" * 20 + "88ac")).startswith("DUP HASH160")
