"""Bytes <-> objects for Bitcoin's formats. Knows nothing of validation, storage or networking."""

from ..errors import ParseError
from .address import AddressError, address_to_script, script_to_address
from .block import Block, BlockHeader, bits_to_target, find_witness_commitment, merkle_root, target_to_bits
from .encoding import compact_size, read_compact_size
from .hashes import hash160, hash_to_hex, hex_to_hash, sha256, sha256d, tagged_hash
from .script import OUTPUT_TYPES, ScriptToken, classify_output, iter_script, serialize_tokens
from .transaction import OutPoint, Transaction, TxIn, TxOut

__all__ = [
    "AddressError", "Block", "BlockHeader", "OUTPUT_TYPES", "OutPoint", "ParseError", "ScriptToken",
    "Transaction", "TxIn", "TxOut", "address_to_script", "bits_to_target", "classify_output",
    "compact_size", "find_witness_commitment", "hash160", "hash_to_hex", "hex_to_hash", "iter_script",
    "merkle_root", "read_compact_size", "script_to_address", "serialize_tokens", "sha256", "sha256d",
    "tagged_hash", "target_to_bits",
]  # fmt: skip
