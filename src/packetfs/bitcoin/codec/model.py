"""The block model: a parsed block becomes codes and payloads in separate streams, and back.

Every field has a small code for what Bitcoin usually puts there and an escape that stores the exact
bytes, so any block the primitives parse is encoded; the encoder also decodes its own output and, should
anything differ, stores the block opaquely instead (``CodecOptions.fallback``). The byte layout is
specified in docs/pfs-format.md; the constants (format.py) are part of that format.
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterator

from ..errors import ParseError
from ..primitives.amount import compress_amount, decompress_amount
from ..primitives.block import Block
from ..script.sighash import BIG_TX as _BIG_TX  # noqa: F401 - tests size their cases by it
from .decoder import _Decoder
from .decoder import _SigParts as _SigParts
from .encoder import EncodeStats, _Encoder
from .errors import CodecError
from .format import (
    _KNOWN_FLAGS,
    ALL_TECHNIQUES,
    F_CTX_OUTPUTS,
    F_CTX_TXIDS,
    F_SINGLE_STREAM,
    FORMAT_MODELLED,
    FORMAT_MODELLED_V1,
    FORMAT_OPAQUE,
    MAX_BLOCK_SIZE,
    N_STREAMS_V1,
    S_KREF,
    SETTINGS_BY_STREAM,
    STREAMS,
    CodecOptions,
    without,
)
from .forms import _cs as _cs
from .forms import _hash160 as _hash160
from .forms import der_to_rs, p2pkh_script, rs_to_der, tokenize_canonical
from .recovery import KnownRecoverer, NotingRecoverer, RecordingRecoverer, _MemoRecoverer
from .recovery import _Recoverer as _Recoverer
from .streams import (
    EXHAUSTIVE,
    METHOD_BROTLI,
    METHOD_RAW,
    METHOD_ZSTD,
    Reader,
    compress_stream,
    decompress_stream,
    write_uvarint,
)

# The public surface of the codec's block model; the parts live in format (codes, options), forms
# (canonical signature, push and script forms), recovery (public keys from signatures), encoder and
# decoder. Names are re-exported here so `codec.model` stays the one module callers import.
__all__ = [
    "ALL_TECHNIQUES", "EXHAUSTIVE", "FORMAT_MODELLED", "FORMAT_MODELLED_V1", "F_CTX_OUTPUTS", "F_CTX_TXIDS",
    "METHOD_BROTLI", "METHOD_RAW", "METHOD_ZSTD", "SETTINGS_BY_STREAM", "STREAMS", "S_KREF", "CodecOptions",
    "EncodeStats", "compress_amount", "decode_block", "decompress_amount", "der_to_rs", "encode_block",
    "encode_block_with_stats", "p2pkh_script", "rs_to_der", "tokenize_canonical", "without",
]  # fmt: skip


# ------------------------------------------------------------------------------------- public API
def _opaque(raw: bytes) -> bytes:
    method, packed = compress_stream(raw)
    out = bytearray((FORMAT_OPAQUE, method))
    write_uvarint(out, len(raw))
    out += zlib.crc32(raw).to_bytes(4, "little")
    out += packed
    return bytes(out)


def encode_block_with_stats(
    raw: bytes, context=None, options: CodecOptions | None = None, spent=None, known: dict | None = None
) -> tuple[bytes, EncodeStats]:
    """:func:`encode_block` plus what it did (stream sizes, recovered keys, opaque or not)."""
    raw = bytes(raw)
    o = options or CodecOptions()
    try:
        block = Block.from_bytes(raw)
    except ParseError:
        block = None
    stats = EncodeStats(raw_size=len(raw))
    if block is not None:
        try:
            enc = _Encoder(block, raw, context, o, spent)
            if known:
                enc.recover = KnownRecoverer(known)
            data = enc.run()
            stats = enc.stats
            stats.raw_size = len(raw)
            if o.verify and _decode(data, context, _MemoRecoverer(enc.memo)) != raw:
                raise CodecError("model round trip differs from the input")
        except Exception:
            if not o.fallback:
                raise
            data = None
    else:
        data = None
    if data is None:
        data = _opaque(raw)
        stats = EncodeStats(raw_size=len(raw), opaque=True)
    stats.encoded_size = len(data)
    return data, stats


def encode_block(raw: bytes, context=None, options: CodecOptions | None = None, spent=None,
                 known: dict | None = None) -> bytes:
    """Encode one serialized block; ``decode_block`` of the result gives ``raw`` back byte for byte.

    ``context`` (a :class:`~packetfs.bitcoin.codec.context.ChainContext`) enables chain-context mode: the
    decoder then needs an equivalent context. ``spent`` is an encoder-only hint, per non-coinbase tx a
    list of per-input ``(value, scriptPubKey)`` (as undo data gives): it lets segwit v0 keys be recovered
    with the amount stored, so the result still decodes without any context. ``known``: the recoveries
    noted while decoding this block (:func:`noting_recoveries`); the encoder then needs no recovery to
    find each key's recovery id. The output is the same with or without it.
    """
    return encode_block_with_stats(raw, context, options, spent, known)[0]


_NOTING = threading.local()


@contextlib.contextmanager
def noting_recoveries() -> Iterator[dict]:
    """Within the block, every key that ``decode_block`` recovers in this thread (whoever calls it, a block
    store included) is noted in the yielded dict, for ``encode_block(..., known=...)`` of the same block."""
    known: dict = {}
    outer = getattr(_NOTING, "known", None)
    _NOTING.known = known
    try:
        yield known
    finally:
        _NOTING.known = outer


def _read_streams(data: bytes, fmt: int = FORMAT_MODELLED) -> tuple[int, int, int, list[Reader]]:
    if len(data) < 8:
        raise CodecError(f"encoded block of {len(data)} bytes is truncated")
    flags = data[1]
    if flags & ~_KNOWN_FLAGS:
        raise CodecError(f"unknown block flags 0x{flags:02x} (written by a newer format?)")
    hdr = Reader(data, "block header")
    hdr.pos = 2
    raw_len = hdr.uv()
    if raw_len > MAX_BLOCK_SIZE:
        raise CodecError(f"declared block size {raw_len} above {MAX_BLOCK_SIZE}")
    crc = int.from_bytes(hdr.take(4), "little")
    n = hdr.byte()
    single = bool(flags & F_SINGLE_STREAM)
    n_streams = len(STREAMS) if fmt >= FORMAT_MODELLED else N_STREAMS_V1
    if n != (1 if single else n_streams):
        raise CodecError(f"block has {n} streams, expected {1 if single else n_streams}")
    specs = []
    for _ in range(n):
        method = hdr.byte()
        rl = hdr.uv()
        cl = hdr.uv()
        specs.append((method, rl, cl))
    pos = hdr.pos
    total = sum(cl for _, _, cl in specs)
    if pos + total != len(data):
        raise CodecError(f"encoded block is {len(data)} bytes, its stream table says {pos + total}")
    readers = []
    names = ("all",) if single else STREAMS
    for name, (method, rl, cl) in zip(names, specs, strict=False):
        payload = data[pos : pos + cl]
        pos += cl
        readers.append(Reader(decompress_stream(method, payload, rl, name), name))
    if single:
        readers = readers * len(STREAMS)
    elif n_streams < len(STREAMS):
        readers += [Reader(b"", name) for name in STREAMS[n_streams:]]  # absent in this version: empty
    return flags, raw_len, crc, readers


def decode_block(data: bytes, context=None, *, proven: list[bytes] | None = None,
                 parts: list | None = None) -> bytes:
    """The exact block ``encode_block`` encoded, or CodecError (never a different block).

    ``proven``: a list that receives, for every public key recovered while decoding, the ECDSA check
    that recovery proved (script/sigcache.py entries; a receiver admits them to its signature cache).
    ``parts``: a list that receives, for a modelled frame, the transactions' txids and their outputs as
    (value, scriptPubKey) lists, which the decoder computed anyway (nothing for an opaque frame)."""
    if proven is None:
        return _decode(data, context, parts=parts)
    rec = RecordingRecoverer()
    raw = _decode(data, context, rec, parts)
    proven.extend(rec.entries)
    return raw


def _decode(data: bytes, context=None, recover=None, parts: list | None = None) -> bytes:
    """:func:`decode_block`; ``recover`` replaces the decoder's key recovery (the encoder's self-check)."""
    if recover is None:
        known = getattr(_NOTING, "known", None)
        if known is not None:
            recover = NotingRecoverer(known)
    data = bytes(data)
    if not data:
        raise CodecError("empty encoded block")
    fmt = data[0]
    if fmt == FORMAT_OPAQUE:
        hdr = Reader(data, "block header")
        hdr.pos = 1
        method = hdr.byte()
        raw_len = hdr.uv()
        if raw_len > 64 * 1024 * 1024:
            raise CodecError(f"declared block size {raw_len} is not plausible")
        crc = int.from_bytes(hdr.take(4), "little")
        raw = decompress_stream(method, data[hdr.pos :], raw_len, "opaque block")
    elif fmt == FORMAT_MODELLED or fmt == FORMAT_MODELLED_V1:
        flags, raw_len, crc, readers = _read_streams(data, fmt)
        if flags & (F_CTX_TXIDS | F_CTX_OUTPUTS) and context is None:
            raise CodecError("block was encoded in chain-context mode; decoding it needs the chain context")
        dec = _Decoder(readers, flags, context, fmt, recover)
        try:
            raw = dec.run()
        except CodecError:
            raise
        except (ValueError, IndexError, KeyError, OverflowError, TypeError) as e:
            raise CodecError(f"corrupt block payload ({type(e).__name__}: {e})") from None
        if flags & F_SINGLE_STREAM:
            if not readers[0].at_end():
                raise CodecError("encoded block has unused bytes in its stream")
        else:
            for rd in readers:
                if not rd.at_end():
                    raise CodecError(f"stream '{rd.name}' has {len(rd.data) - rd.pos} unused bytes")
    else:
        raise CodecError(f"unknown block encoding {fmt}")
    if len(raw) != raw_len:
        raise CodecError(f"decoded {len(raw)} bytes, expected {raw_len}")
    if zlib.crc32(raw) != crc:
        raise CodecError("decoded block fails its checksum")
    if parts is not None and fmt != FORMAT_OPAQUE:
        parts.extend((dec.txids, dec.out_lists))
    return raw


__all__ = [
    "CodecOptions",
    "EncodeStats",
    "decode_block",
    "encode_block",
    "encode_block_with_stats",
    "METHOD_RAW",
]
