"""Bitcoin Core's on-disk block storage: blk/rev files, xor.dat, undo data and Core's disk encodings."""

from .blockfiles import (
    MAGIC_NETWORK,
    MAX_BLOCKFILE_SIZE,
    NETWORK_MAGIC,
    BlkRecord,
    BlockPos,
    BlocksDir,
    BlocksDirWriter,
    BlockSource,
    RevRecord,
    block_sources,
    is_blocks_dir,
    iter_blk_file,
    iter_blocks,
    iter_rev_file,
    network_magic,
    open_blocks_dir,
    read_raw_block_file,
    write_blk_files,
    write_blocks_dir,
    write_rev_files,
)
from .compressor import (
    MAX_SCRIPT_SIZE,
    compress_amount,
    compress_script,
    decompress_amount,
    read_compressed_amount,
    read_compressed_script,
    write_compressed_amount,
    write_compressed_script,
)
from .undo import Coin, decode_block_undo, encode_block_undo, encode_coin, undo_checksum, verify_undo_checksum
from .varint import read_varint, varint, varint_len
from .xor import read_xor_key, write_xor_key, xor_at

__all__ = [
    "MAGIC_NETWORK", "MAX_BLOCKFILE_SIZE", "MAX_SCRIPT_SIZE", "NETWORK_MAGIC", "BlkRecord", "BlockPos",
    "BlockSource", "BlocksDir", "BlocksDirWriter", "Coin", "RevRecord", "block_sources", "compress_amount",
    "compress_script", "decode_block_undo", "decompress_amount", "encode_block_undo", "encode_coin",
    "is_blocks_dir", "iter_blk_file", "iter_blocks", "iter_rev_file", "network_magic", "open_blocks_dir",
    "read_compressed_amount", "read_compressed_script", "read_raw_block_file", "read_varint", "read_xor_key",
    "undo_checksum", "varint", "varint_len", "verify_undo_checksum", "write_blk_files", "write_blocks_dir",
    "write_compressed_amount", "write_compressed_script", "write_rev_files", "write_xor_key", "xor_at",
]  # fmt: skip
