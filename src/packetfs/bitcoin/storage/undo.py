"""Core's undo data (undo.h): CBlockUndo, the coins a block spent, as stored in rev?????.dat.

Layout of one record's payload::

    CBlockUndo = compact_size(n) CTxUndo*n          one per non-coinbase transaction, in block order
    CTxUndo    = compact_size(m) Coin*m             one per input, in input order
    Coin       = VARINT(height*2 + coinbase)
                 [VARINT(0)  if height > 0]         a dummy where pre-0.15 Core stored a tx version
                 VARINT(CompressAmount(value))
                 compressed script

In a rev file each payload is framed as ``magic, uint32 size, payload, checksum`` where the checksum is
sha256d(hash of the *previous* block || payload): Core's WriteBlockUndo/ReadBlockUndo feed
``pprev->GetBlockHash()`` and then the CBlockUndo into one HashWriter (see node/blockstorage.cpp; older
releases call these UndoWriteToDisk/UndoReadFromDisk and do the same).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from ..errors import ParseError
from ..primitives.encoding import compact_size, read_compact_size
from ..primitives.hashes import sha256d
from .compressor import (
    MAX_SCRIPT_SIZE,
    N_SPECIAL_SCRIPTS,
    read_compressed_amount,
    read_compressed_script,
    write_compressed_amount,
    write_compressed_script,
)
from .varint import UINT32_MAX, read_varint, varint

# The smallest encoding of one coin: code, amount and a special-form script of 20 bytes is 22 bytes,
# but an empty plain script needs only 3 (code, amount, VARINT(6)). Counts are checked against the
# bytes left at this rate before any list is built, so a lying count cannot make us allocate.
_MIN_COIN_SIZE = 3
_MIN_TXUNDO_SIZE = 1


class Coin(NamedTuple):
    """A spent output as undo data records it."""

    height: int
    coinbase: bool
    value: int
    script_pubkey: bytes


def _read_coin(buf: bytes | memoryview, pos: int) -> tuple[Coin, int]:
    code, pos = read_varint(buf, pos, UINT32_MAX)
    height = code >> 1
    if height > 0:
        # Core reads this as a VARINT into an unsigned int and discards it: it is always 0 in records
        # written since 0.15, older ones kept the spending tx's version for the last spend of a tx.
        _, pos = read_varint(buf, pos, UINT32_MAX)
    value, pos = read_compressed_amount(buf, pos)
    script, pos = read_compressed_script(buf, pos)
    return Coin(height, bool(code & 1), value, script), pos


_new_tuple = tuple.__new__
_POW10 = tuple(10**e for e in range(10))
_INT64_MAX = (1 << 63) - 1
_P2PKH_PRE, _P2PKH_POST, _P2SH_PRE, _P2SH_POST = b"\x76\xa9\x14", b"\x88\xac", b"\xa9\x14", b"\x87"


def decode_block_undo(raw: bytes | memoryview, offset: int = 0, end: int | None = None) -> list[list[Coin]]:
    """Decode one CBlockUndo occupying exactly ``raw[offset:end]``.

    Returns, per non-coinbase transaction, the coins its inputs spent. Raises ParseError (with the byte
    offset) for truncated, oversized or trailing data.

    Every coin of a block's inputs is decoded here, so the usual shapes are read inline (heights and
    dummies of one or two VARINT bytes, amounts of up to nine, P2PKH/P2SH/plain scripts of at most
    MAX_SCRIPT_SIZE); anything else (P2PK forms, longer VARINTs, truncation, lying counts, amounts
    above int64) sends the whole record to ``decode_block_undo_reference``, which gives the same coins
    or the exact error. Tests check both agree on real, generated, mutated and random records."""
    if end is None:
        end = len(raw)
    buf = raw if end == len(raw) and type(raw) is bytes else bytes(memoryview(raw)[:end])
    try:
        return _decode_inline(buf, offset, end)
    except (IndexError, _Unusual):
        return decode_block_undo_reference(raw, offset, end)


class _Unusual(Exception):
    """A shape the inlined decoder leaves to the reference one."""


def _decode_inline(buf: bytes, pos: int, end: int) -> list[list[Coin]]:
    new = _new_tuple
    pow10 = _POW10
    n_tx = buf[pos]
    pos += 1
    if n_tx >= 0xFD:
        if n_tx != 0xFD:
            raise _Unusual
        n_tx = buf[pos] | buf[pos + 1] << 8
        pos += 2
        if n_tx < 0xFD:
            raise _Unusual  # non-canonical
    if n_tx > end - pos:
        raise _Unusual
    block: list[list[Coin]] = []
    add_tx = block.append
    for _ in range(n_tx):
        n_coins = buf[pos]
        pos += 1
        if n_coins >= 0xFD:
            if n_coins != 0xFD:
                raise _Unusual
            n_coins = buf[pos] | buf[pos + 1] << 8
            pos += 2
            if n_coins < 0xFD:
                raise _Unusual  # non-canonical
        if n_coins * _MIN_COIN_SIZE > end - pos:
            raise _Unusual
        coins = []
        add = coins.append
        for _ in range(n_coins):
            # VARINT(height*2 + coinbase), one or two bytes (heights below 8,256)
            code = buf[pos]
            pos += 1
            if code & 0x80:
                b = buf[pos]
                pos += 1
                if b & 0x80:
                    raise _Unusual
                code = ((code & 0x7F) + 1) << 7 | b
            if code >= 2:  # height > 0: the dummy VARINT, always 0 since Core 0.15
                b = buf[pos]
                pos += 1
                if b & 0x80:
                    b = buf[pos]
                    pos += 1
                    if b & 0x80:
                        raise _Unusual
            # VARINT(CompressAmount(value)): at most nine bytes never overflow a uint64
            b = buf[pos]
            pos += 1
            x = b & 0x7F
            k = 1
            while b & 0x80:
                if k == 9:
                    raise _Unusual
                b = buf[pos]
                pos += 1
                x = (x + 1) << 7 | (b & 0x7F)
                k += 1
            if x:  # DecompressAmount
                x -= 1
                e = x % 10
                x //= 10
                if e < 9:
                    value = (x // 9 * 10 + x % 9 + 1) * pow10[e]
                else:
                    value = (x + 1) * 1_000_000_000
                if value > _INT64_MAX:
                    raise _Unusual
            else:
                value = 0
            # compressed script: P2PKH (0), P2SH (1) or plain (VARINT(len + 6))
            s = buf[pos]
            pos += 1
            if s == 0:
                script = _P2PKH_PRE + buf[pos : pos + 20] + _P2PKH_POST
                pos += 20
            elif s == 1:
                script = _P2SH_PRE + buf[pos : pos + 20] + _P2SH_POST
                pos += 20
            elif s < N_SPECIAL_SCRIPTS:
                raise _Unusual
            else:
                if s & 0x80:
                    b = buf[pos]
                    pos += 1
                    if b & 0x80:
                        raise _Unusual
                    s = ((s & 0x7F) + 1) << 7 | b
                size = s - N_SPECIAL_SCRIPTS
                if size > MAX_SCRIPT_SIZE:
                    raise _Unusual
                script = buf[pos : pos + size]
                pos += size
            if pos > end:
                raise _Unusual
            add(new(Coin, (code >> 1, code & 1 == 1, value, script)))
        add_tx(coins)
    if pos != end:
        raise _Unusual
    return block


def decode_block_undo_reference(raw: bytes | memoryview, offset: int = 0, end: int | None = None) -> list[list[Coin]]:
    """Decode one CBlockUndo occupying exactly ``raw[offset:end]``, coin by coin through the general
    readers: the reference decode_block_undo is checked against, and the path it takes for anything
    its inlined loop does not handle (so every error is reported from here, with its offset).

    Returns, per non-coinbase transaction, the coins its inputs spent. Raises ParseError (with the byte
    offset) for truncated, oversized or trailing data.
    """
    if end is None:
        end = len(raw)
    buf = memoryview(raw)[:end]
    pos = offset
    n_tx, pos = read_compact_size(buf, pos)
    if n_tx * _MIN_TXUNDO_SIZE > end - pos:
        raise ParseError(
            f"CBlockUndo claims {n_tx} transactions in {end - pos} bytes", offset, "fewer transactions"
        )
    block: list[list[Coin]] = []
    for _ in range(n_tx):
        start = pos
        n_coins, pos = read_compact_size(buf, pos)
        if n_coins * _MIN_COIN_SIZE > end - pos:
            raise ParseError(f"CTxUndo claims {n_coins} coins in {end - pos} bytes", start, "fewer coins")
        coins = []
        for _ in range(n_coins):
            coin, pos = _read_coin(buf, pos)
            coins.append(coin)
        block.append(coins)
    if pos != end:
        raise ParseError(f"{end - pos} bytes after the CBlockUndo", pos, "end of undo data")
    return block


def encode_coin(coin: Coin) -> bytes:
    height, coinbase, value, script = coin
    if height < 0 or height > UINT32_MAX >> 1:
        raise ValueError(f"coin height {height} out of range")
    parts = [varint(height * 2 + (1 if coinbase else 0))]
    if height > 0:
        parts.append(b"\x00")
    parts.append(write_compressed_amount(value))
    parts.append(write_compressed_script(bytes(script)))
    return b"".join(parts)


# One-byte encodings, prebuilt: VARINT(n) and compact_size(n) of n <= 0x7F, a plain script's
# length prefix VARINT(len + 6) for len <= 0x79.
_BYTE = tuple(bytes((i,)) for i in range(256))
_MAX_HEIGHT = UINT32_MAX >> 1
_UINT64_MAX = (1 << 64) - 1
_P2PKH_HEAD, _P2PKH_TAIL, _P2SH_HEAD = b"\x76\xa9\x14", b"\x88\xac", b"\xa9\x14"


def _encode_coins_into(parts: list[bytes], coins: Sequence[Coin]) -> None:
    """Append ``encode_coin(c)`` for every coin, with the usual shapes inlined (a block undo record
    encodes every input of the block in the importer's serial path). Anything unusual (out-of-range
    height, P2PK or long scripts, non-bytes scripts) goes through encode_coin, which raises as before."""
    append = parts.append
    byte = _BYTE
    for c in coins:
        height, coinbase, value, script = c
        if type(script) is not bytes or not 0 <= height <= _MAX_HEIGHT or not 0 <= value <= _UINT64_MAX:
            append(encode_coin(c))
            continue
        n = len(script)
        if n == 25 and script[:3] == _P2PKH_HEAD and script[23:] == _P2PKH_TAIL:
            spk = b"\x00" + script[3:23]
        elif n == 23 and script[:2] == _P2SH_HEAD and script[22] == 0x87:
            spk = b"\x01" + script[2:22]
        elif n <= 0x79 and n != 35 and n != 67:
            spk = byte[n + 6] + script  # no special form has this length (P2PK is 35 or 67 bytes)
        else:
            append(encode_coin(c))
            continue
        code = height * 2 + (1 if coinbase else 0)
        if code <= 0x7F:
            append(byte[code])
        else:
            append(varint(code))
        if height > 0:
            append(b"\x00")
        # CompressAmount inlined (compress_amount); VARINT of a small result is one byte.
        if value == 0:
            x = 0
        else:
            e = 0
            while value % 10 == 0 and e < 9:
                value //= 10
                e += 1
            if e < 9:
                x = 1 + ((value // 10) * 9 + value % 10 - 1) * 10 + e
            else:
                x = 1 + (value - 1) * 10 + 9
        append(byte[x] if x <= 0x7F else varint(x))
        append(spk)


def encode_block_undo(block_undo: Iterable[Sequence[Coin]]) -> bytes:
    """Serialize coins (per non-coinbase tx, per input) as Core writes a CBlockUndo."""
    txs = list(block_undo)
    parts = [compact_size(len(txs))]
    append = parts.append
    for coins in txs:
        n = len(coins)
        append(_BYTE[n] if n < 0xFD else compact_size(n))
        _encode_coins_into(parts, coins)
    return b"".join(parts)


def undo_checksum(prev_block_hash: bytes, undo_raw: bytes | memoryview) -> bytes:
    """The 32 bytes Core writes after an undo record: sha256d(prev block hash || CBlockUndo bytes).

    ``prev_block_hash`` is the hash (internal byte order) of the parent of the block the undo data
    belongs to, i.e. that block's header ``prev_hash``.
    """
    if len(prev_block_hash) != 32:
        raise ValueError("a block hash is 32 bytes")
    return sha256d(bytes(prev_block_hash) + bytes(undo_raw))


def verify_undo_checksum(prev_block_hash: bytes, undo_raw: bytes | memoryview, checksum: bytes) -> bool:
    return undo_checksum(prev_block_hash, undo_raw) == bytes(checksum)


def spent_counts(block_undo: Sequence[Sequence[Coin]]) -> list[int]:
    """Inputs per non-coinbase transaction, for matching undo data against its block."""
    return [len(coins) for coins in block_undo]
