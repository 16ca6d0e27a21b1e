"""Byte streams for the block codec: varint writing/reading and per-stream entropy coding.

Each field kind (structure codes, amounts, hashes, signatures, keys, leftover bytes...) is written to its
own stream so that the general-purpose compressor sees homogeneous data; each stream is then stored with
whichever method makes it smallest, and the choice is recorded next to it.
"""

from __future__ import annotations

import brotli
import zstandard

from .errors import CodecError

# Stream methods, stored as one byte in front of each stream.
METHOD_RAW = 0
METHOD_ZSTD19 = 1
METHOD_ZSTD22 = 2
METHOD_BROTLI11 = 3
METHOD_NAMES = {METHOD_RAW: "raw", METHOD_ZSTD19: "zstd-19", METHOD_ZSTD22: "zstd-22", METHOD_BROTLI11: "brotli-11"}

# A decoded stream may never be larger than this: a block is at most 4 MB, and no stream holds more
# than the block plus a few bytes of codes per field. Checked before any decompression.
MAX_STREAM_SIZE = 16 * 1024 * 1024

_ZSTD19 = zstandard.ZstdCompressor(level=19, write_content_size=True, write_checksum=False)
_ZSTD22 = zstandard.ZstdCompressor(level=22, write_content_size=True, write_checksum=False)
_ZSTD_FAST = zstandard.ZstdCompressor(level=3)
_ZSTD_D = zstandard.ZstdDecompressor()


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


def compress_stream(data: bytes, methods: tuple[int, ...] | None = None) -> tuple[int, bytes]:
    """Smallest (method, payload) among the candidates; random data is stored raw without trying brotli."""
    if not data:
        return METHOD_RAW, b""
    best_method, best = METHOD_RAW, data
    if methods is None:
        # A cheap probe first: hashes, signatures and keys do not compress, and brotli-11 on a megabyte
        # of random bytes costs a second for nothing.
        probe = _ZSTD_FAST.compress(data)
        if len(probe) >= len(data) * 0.985:
            return METHOD_RAW, data
        methods = (METHOD_ZSTD19, METHOD_ZSTD22, METHOD_BROTLI11)
    for m in methods:
        if m == METHOD_RAW:
            continue
        out = _compress(m, data)
        if len(out) < len(best):
            best_method, best = m, out
    return best_method, best


def _compress(method: int, data: bytes) -> bytes:
    if method == METHOD_ZSTD19:
        return _ZSTD19.compress(data)
    if method == METHOD_ZSTD22:
        return _ZSTD22.compress(data)
    if method == METHOD_BROTLI11:
        return brotli.compress(data, quality=11, lgwin=24)
    raise ValueError(f"unknown method {method}")


def decompress_stream(method: int, payload: bytes, raw_len: int, name: str) -> bytes:
    """Inverse of :func:`compress_stream`; the output must be exactly ``raw_len`` bytes."""
    if raw_len > MAX_STREAM_SIZE:
        raise CodecError(f"stream '{name}' declares {raw_len} bytes, above the {MAX_STREAM_SIZE} limit")
    if method == METHOD_RAW:
        out = payload
    elif method in (METHOD_ZSTD19, METHOD_ZSTD22):
        try:
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
