"""Byte streams for the block codec: varint writing/reading and per-stream entropy coding.

Each field kind (structure codes, amounts, hashes, signatures, keys, leftover bytes...) is written to its
own stream so that the general-purpose compressor sees homogeneous data; each stream is then stored with
whichever method makes it smallest, and the choice is recorded next to it.
"""

from __future__ import annotations

import brotli
import zstandard

from .errors import CodecError

# Stream methods, stored as one byte in front of each stream. Methods 1 and 2 are both plain zstd frames
# (their names are the levels early writers used); the level and the brotli quality are the writer's
# choice and not recorded: the decoders do not need them.
METHOD_RAW = 0
METHOD_ZSTD19 = 1
METHOD_ZSTD22 = 2
METHOD_BROTLI11 = 3
METHOD_ZSTD = METHOD_ZSTD19
METHOD_BROTLI = METHOD_BROTLI11
METHOD_NAMES = {METHOD_RAW: "raw", METHOD_ZSTD19: "zstd", METHOD_ZSTD22: "zstd", METHOD_BROTLI11: "brotli"}

# A decoded stream may never be larger than this: a block is at most 4 MB, and no stream holds more
# than the block plus a few bytes of codes per field. Checked before any decompression.
MAX_STREAM_SIZE = 16 * 1024 * 1024

# A compression setting: (method written, zstd level or brotli quality).
Setting = tuple[int, int]
# Every setting tried, the smallest kept: for data of unknown kind (an opaque block, the single-stream
# ablation). Brotli-11 costs about a second per megabyte, so the modelled streams use SETTINGS_BY_STREAM.
EXHAUSTIVE: tuple[Setting, ...] = ((METHOD_ZSTD19, 19), (METHOD_ZSTD22, 22), (METHOD_BROTLI11, 11))

_ZSTD: dict[int, zstandard.ZstdCompressor] = {}
_ZSTD_FAST = zstandard.ZstdCompressor(level=3)
_ZSTD_D = zstandard.ZstdDecompressor()


def _zstd(level: int) -> zstandard.ZstdCompressor:
    z = _ZSTD.get(level)
    if z is None:
        z = _ZSTD[level] = zstandard.ZstdCompressor(level=level, write_content_size=True, write_checksum=False)
    return z


def write_uvarint(buf: bytearray, n: int) -> None:
    """Unsigned LEB128."""
    if n < 0:
        raise ValueError("negative varint")
    while n >= 0x80:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def zigzag(n: int) -> int:
    return n * 2 if n >= 0 else -n * 2 - 1


def unzigzag(n: int) -> int:
    return n >> 1 if not n & 1 else -((n + 1) >> 1)


class Reader:
    """Sequential reader over one decoded stream; every overrun is a CodecError."""

    __slots__ = ("data", "pos", "name")

    def __init__(self, data: bytes, name: str):
        self.data = data
        self.pos = 0
        self.name = name

    def uv(self) -> int:
        d = self.data
        p = self.pos
        try:
            b = d[p]
            if b < 0x80:
                self.pos = p + 1
                return b
            result = b & 0x7F
            shift = 7
            while True:
                p += 1
                b = d[p]
                result |= (b & 0x7F) << shift
                if b < 0x80:
                    self.pos = p + 1
                    return result
                shift += 7
                if shift > 70:
                    raise CodecError(f"varint too long in stream '{self.name}'")
        except IndexError:
            raise CodecError(f"stream '{self.name}' ended early (varint)") from None

    def byte(self) -> int:
        p = self.pos
        try:
            b = self.data[p]  # p is never negative: IndexError is exactly the overrun
        except IndexError:
            raise CodecError(f"stream '{self.name}' ended early (byte)") from None
        self.pos = p + 1
        return b

    def take(self, n: int) -> bytes:
        p = self.pos
        e = p + n
        out = self.data[p:e]
        if len(out) != n:
            raise CodecError(f"stream '{self.name}' ended early: need {n} bytes, {len(self.data) - p} left")
        self.pos = e
        return out

    def at_end(self) -> bool:
        return self.pos == len(self.data)


def compress_stream(data: bytes, settings: tuple[Setting, ...] = EXHAUSTIVE) -> tuple[int, bytes]:
    """Smallest (method, payload) among ``settings`` and raw; random data is stored raw without trying them."""
    if not data:
        return METHOD_RAW, b""
    # A cheap probe first: hashes, signatures and keys do not compress, and brotli-11 on a megabyte
    # of random bytes costs a second for nothing.
    probe = _ZSTD_FAST.compress(data)
    if len(probe) >= len(data) * 0.985:
        return METHOD_RAW, data
    best_method, best = METHOD_RAW, data
    for method, level in settings:
        if method == METHOD_BROTLI11:
            out = brotli.compress(data, quality=level, lgwin=24)
        elif method == METHOD_ZSTD19 or method == METHOD_ZSTD22:
            out = _zstd(level).compress(data)
        elif method == METHOD_RAW:
            continue
        else:
            raise ValueError(f"unknown method {method}")
        if len(out) < len(best):
            best_method, best = method, out
    return best_method, best


def decompress_stream(method: int, payload: bytes, raw_len: int, name: str) -> bytes:
    """Inverse of :func:`compress_stream`; the output must be exactly ``raw_len`` bytes."""
    if raw_len > MAX_STREAM_SIZE:
        raise CodecError(f"stream '{name}' declares {raw_len} bytes, above the {MAX_STREAM_SIZE} limit")
    if method == METHOD_RAW:
        out = payload
    elif method in (METHOD_ZSTD19, METHOD_ZSTD22):
        try:
            # The zstd frame header may declare its content size, and python-zstandard then allocates
            # that much whatever max_output_size says (a changed byte there asked for 72 PB): checked
            # against the stream's own declared size before anything is allocated.
            declared = zstandard.get_frame_parameters(payload).content_size
            if declared != raw_len and declared != zstandard.CONTENTSIZE_UNKNOWN:
                raise CodecError(f"stream '{name}': zstd frame declares {declared} bytes, header says {raw_len}")
            out = _ZSTD_D.decompress(payload, max_output_size=raw_len + 1)
        except zstandard.ZstdError as e:
            raise CodecError(f"stream '{name}': corrupt zstd data ({e})") from None
    elif method == METHOD_BROTLI11:
        try:
            d = brotli.Decompressor()
            out = d.process(payload, output_buffer_limit=raw_len + 1)
            if not d.is_finished():
                raise CodecError(f"stream '{name}': brotli data incomplete or longer than declared")
        except brotli.error as e:
            raise CodecError(f"stream '{name}': corrupt brotli data ({e})") from None
    else:
        raise CodecError(f"stream '{name}': unknown method {method}")
    if len(out) != raw_len:
        raise CodecError(f"stream '{name}': decoded {len(out)} bytes, header says {raw_len}")
    return out
