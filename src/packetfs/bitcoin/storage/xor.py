"""xor.dat obfuscation of blk/rev files (Bitcoin Core 28+).

Core keeps an 8-byte key in ``<blocksdir>/xor.dat`` and XORs every byte it writes to or reads from a
blk or rev file with ``key[file_offset % 8]``. An all-zero key (``-blocksxor=0``, or a blocks dir
carried over from an older release) means the files are stored in clear. Preallocated space at the end
of a file is never written, so on disk it stays zero rather than key bytes.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ParseError

XOR_KEY_SIZE = 8
XOR_FILENAME = "xor.dat"
NO_XOR_KEY = bytes(XOR_KEY_SIZE)


def read_xor_key(blocks_dir: str | Path) -> bytes | None:
    """The key in ``blocks_dir/xor.dat``, or None if the directory has no xor.dat (pre-28 Core)."""
    path = Path(blocks_dir) / XOR_FILENAME
    if not path.exists():
        return None
    with path.open("rb") as f:
        key = f.read(XOR_KEY_SIZE + 1)
    if len(key) != XOR_KEY_SIZE:
        raise ParseError(
            f"{path} holds {len(key)} bytes{'+' if len(key) > XOR_KEY_SIZE else ''}", 0, "an 8-byte key"
        )
    return key


def write_xor_key(blocks_dir: str | Path, key: bytes) -> Path:
    if len(key) != XOR_KEY_SIZE:
        raise ValueError("an xor.dat key is 8 bytes")
    path = Path(blocks_dir) / XOR_FILENAME
    path.write_bytes(key)
    return path


def is_active(key: bytes | None) -> bool:
    return bool(key) and key != NO_XOR_KEY


def xor_at(data: bytes | memoryview, key: bytes | None, offset: int) -> bytes:
    """``data`` XORed with ``key`` as if it sat at ``offset`` in the file (its own inverse)."""
    if not is_active(key):
        return bytes(data)
    n = len(data)
    if n == 0:
        return b""
    shift = offset % XOR_KEY_SIZE
    rotated = key[shift:] + key[:shift]
    stream = (rotated * (n // XOR_KEY_SIZE + 1))[:n]
    # One big-integer XOR runs in C at memory speed; a per-byte Python loop would be ~100x slower.
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")
