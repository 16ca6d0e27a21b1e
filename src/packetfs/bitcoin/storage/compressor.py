"""Core's output compression (compressor.h/.cpp): compressed amounts and compressed scripts.

Both appear in undo data (rev files) and in the chainstate. The rules here follow Core's behaviour,
including its quirks on reading (see ``read_compressed_script``), so that what we decode is what Core
would decode and what we write is what Core would write.
"""

from __future__ import annotations

import coincurve

from ..errors import ParseError
from ..primitives.amount import compress_amount, decompress_amount
from ..script.interpreter import MAX_SCRIPT_SIZE
from .varint import UINT32_MAX, UINT64_MAX, read_varint, varint

# script.h MAX_SCRIPT_SIZE (one home: the interpreter). Core never stores a longer script as a coin (it
# is unspendable), and on reading one it substitutes a one-byte OP_RETURN script and skips the stored
# bytes.
# Compressed-script codes 0..5 are the special forms; a plain script is stored as VARINT(len + 6).
N_SPECIAL_SCRIPTS = 6
_SPECIAL_SIZES = (20, 20, 32, 32, 32, 32)
INT64_MAX = (1 << 63) - 1
_OP_RETURN_SCRIPT = b"\x6a"


def _is_full_uncompressed_pubkey(key: bytes) -> bool:
    # Core compresses a 65-byte P2PK key only if CPubKey::IsFullyValid (the point is on the curve);
    # otherwise the script is stored raw. coincurve's parser performs the same check.
    try:
        coincurve.PublicKey(key)
    except ValueError:
        return False
    return True


def compress_script(script: bytes) -> bytes | None:
    """Core's CompressScript: the special form (code byte + payload) of ``script``, or None if it has none."""
    n = len(script)
    if n == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return b"\x00" + script[3:23]  # P2PKH
    if n == 23 and script[:2] == b"\xa9\x14" and script[22] == 0x87:
        return b"\x01" + script[2:22]  # P2SH
    if n == 35 and script[0] == 0x21 and script[34] == 0xAC and script[1] in (2, 3):
        return script[1:34]  # P2PK, compressed key: Core does not check that the point is valid
    if n == 67 and script[0] == 0x41 and script[66] == 0xAC and script[1] == 4:
        if _is_full_uncompressed_pubkey(bytes(script[1:66])):
            return bytes((4 | (script[65] & 1),)) + script[2:34]  # P2PK, uncompressed key: x and y's parity
    return None


def write_compressed_script(script: bytes) -> bytes:
    """The bytes Core writes for ``script`` under ScriptCompression."""
    special = compress_script(script)
    if special is not None:
        return special
    return varint(len(script) + N_SPECIAL_SCRIPTS) + script


def decompress_special_script(code: int, payload: bytes) -> bytes:
    """Core's DecompressScript for codes 0-5.

    For codes 4/5 the x coordinate is lifted back to the full uncompressed key with coincurve. If x is
    not on the curve (never written by Core, only found in corrupt data) Core's reader silently leaves
    the script empty; we return b"" to match it.
    """
    if code == 0:
        return b"\x76\xa9\x14" + payload + b"\x88\xac"
    if code == 1:
        return b"\xa9\x14" + payload + b"\x87"
    if code in (2, 3):
        return b"\x21" + bytes((code,)) + payload + b"\xac"
    if code in (4, 5):
        try:
            full = coincurve.PublicKey(bytes((code - 2,)) + payload).format(compressed=False)
        except ValueError:
            return b""
        return b"\x41" + full + b"\xac"
    raise ValueError(f"not a special script code: {code}")


def read_compressed_script(buf: bytes | memoryview, offset: int) -> tuple[bytes, int]:
    """Decode one ScriptCompression-encoded script at ``offset``; return (script, offset after it).

    Mirrors Core's reader: a stored length above MAX_SCRIPT_SIZE yields the script ``OP_RETURN`` and its
    bytes are skipped (they must still be present); a code 4/5 whose x is not on the curve yields b"".
    """
    code, pos = read_varint(buf, offset, UINT32_MAX)
    if code < N_SPECIAL_SCRIPTS:
        size = _SPECIAL_SIZES[code]
        end = pos + size
        if end > len(buf):
            raise ParseError("truncated compressed script", pos, f"{size} bytes for special form {code}")
        return decompress_special_script(code, bytes(buf[pos:end])), end
    size = code - N_SPECIAL_SCRIPTS
    end = pos + size
    if end > len(buf):
        raise ParseError("truncated script", pos, f"{size} script bytes")
    if size > MAX_SCRIPT_SIZE:
        return _OP_RETURN_SCRIPT, end
    return bytes(buf[pos:end]), end


def read_compressed_amount(buf: bytes | memoryview, offset: int) -> tuple[int, int]:
    """Decode a compressed amount (VARINT of CompressAmount) at ``offset``; return (satoshis, new offset).

    Values that do not fit Core's CAmount (int64) cannot come from Core and raise ParseError rather than
    wrapping around as C++ would.
    """
    x, pos = read_varint(buf, offset, UINT64_MAX)
    value = decompress_amount(x)
    if value > INT64_MAX:
        raise ParseError(f"compressed amount decodes to {value}, above int64", offset, "an amount <= 2**63-1")
    return value, pos


def write_compressed_amount(value: int) -> bytes:
    return varint(compress_amount(value))
