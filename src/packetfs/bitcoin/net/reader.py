"""A bounds-checked cursor over one payload: every read and every count is checked against the bytes left
before anything is allocated, and the payload must be consumed exactly."""

from __future__ import annotations

from ..primitives.block import BlockHeader
from ..primitives.transaction import Transaction
from .errors import MessageError

_U64_MAX = (1 << 64) - 1


class Reader:
    __slots__ = ("buf", "pos", "end", "command")

    def __init__(self, buf: bytes, command: str = ""):
        self.buf = buf
        self.pos = 0
        self.end = len(buf)
        self.command = command

    def fail(self, reason: str, expected: str | None = None) -> MessageError:
        return MessageError(f"{self.command or 'message'}: {reason}", self.pos, expected, self.command)

    @property
    def left(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            raise self.fail("truncated payload", f"{n} more bytes")
        p = self.pos
        self.pos = p + n
        return self.buf[p : p + n]

    def u8(self) -> int:
        return self.take(1)[0]

    def u16be(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def i32(self) -> int:
        return int.from_bytes(self.take(4), "little", signed=True)

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "little")

    def i64(self) -> int:
        return int.from_bytes(self.take(8), "little", signed=True)

    def boolean(self) -> bool:
        b = self.u8()
        if b > 1:
            raise self.fail(f"boolean byte {b}", "0 or 1")
        return bool(b)

    def hash(self) -> bytes:
        return self.take(32)

    def compact(self, limit: int = _U64_MAX) -> int:
        p = self.pos
        if p >= self.end:
            raise self.fail("truncated compact size", "1 byte")
        first = self.buf[p]
        if first < 0xFD:
            self.pos = p + 1
            value = first
        else:
            width = 2 if first == 0xFD else 4 if first == 0xFE else 8
            self.pos = p + 1
            value = int.from_bytes(self.take(width), "little")
            if value < (0xFD if width == 2 else 0x10000 if width == 4 else 0x100000000):
                self.pos = p
                raise self.fail("non-canonical compact size", "the shortest encoding")
        if value > limit:
            self.pos = p
            raise self.fail(f"count {value} above the limit {limit}")
        return value

    def count(self, limit: int, min_item_size: int) -> int:
        """A list length: at most ``limit``, and no more items than the bytes left could hold."""
        p = self.pos
        n = self.compact(limit)
        if n * min_item_size > self.end - self.pos:
            self.pos = p
            raise self.fail(f"count {n} exceeds the {self.end - self.pos} bytes left")
        return n

    def var_bytes(self, limit: int) -> bytes:
        return self.take(self.count(limit, 1))

    def header(self) -> BlockHeader:
        return BlockHeader.parse(self.take(80))

    def transaction(self) -> Transaction:
        """One transaction parsed in place (the payload buffer is kept, not copied)."""
        try:
            tx = Transaction.parse(self.buf, self.pos, self.end)
        except ValueError as e:  # ParseError: the tx parser's own bounds checks
            raise MessageError(f"{self.command}: bad transaction: {e}", self.pos, None, self.command) from None
        self.pos += tx.size
        return tx

    def done(self) -> None:
        if self.pos != self.end:
            raise self.fail(f"{self.end - self.pos} trailing bytes", "end of payload")
