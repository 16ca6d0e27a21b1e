"""The PacketFS block codec: lossless, Bitcoin-aware compression of blocks, and the .pfs archive."""

from __future__ import annotations

from .context import ChainContext, TxIndex
from .errors import CodecError
from .model import (
    ALL_TECHNIQUES,
    CodecOptions,
    EncodeStats,
    decode_block,
    encode_block,
    encode_block_with_stats,
)

__all__ = [
    "ALL_TECHNIQUES",
    "ChainContext",
    "CodecError",
    "CodecOptions",
    "EncodeStats",
    "TxIndex",
    "decode_block",
    "encode_block",
    "encode_block_with_stats",
]
