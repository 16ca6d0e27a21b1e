"""Block templates, coinbase construction and regtest mining."""

from .assembler import BlockTemplate, MiningError, assemble, grind, mine_block, serialize_block

__all__ = ["BlockTemplate", "MiningError", "assemble", "grind", "mine_block", "serialize_block"]
