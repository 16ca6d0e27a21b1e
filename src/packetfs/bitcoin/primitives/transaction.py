"""Transactions: exact parse and serialize, legacy and BIP144 segwit encodings.

A parsed transaction keeps a view of the bytes it came from and the offsets of its parts; inputs,
outputs and witnesses become Python objects only when asked for, and ``serialize()`` returns the
original bytes. That makes parsing a block and hashing all its transactions cheap, and guarantees
``serialize(parse(x)) == x``. Transactions are immutable: build a new one to change anything.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple

from ..errors import ParseError
from .encoding import MAX_SIZE, compact_size
from .hashes import _sha256, hash_to_hex

# The smallest possible encodings, used to reject lying counts before looping or allocating.
MIN_TXIN_SIZE = 41  # 32 txid + 4 index + 1 script length + 4 sequence
MIN_TXOUT_SIZE = 9  # 8 amount + 1 script length


class OutPoint(NamedTuple):
    txid: bytes  # internal byte order (as serialized), not the reversed display order
    index: int

    def __str__(self) -> str:
        return f"{hash_to_hex(self.txid)}:{self.index}"


class TxIn(NamedTuple):
    prev_txid: bytes
    prev_index: int
    script_sig: bytes
    sequence: int

    @property
    def prevout(self) -> OutPoint:
        return OutPoint(self.prev_txid, self.prev_index)


class TxOut(NamedTuple):
    value: int  # satoshis; a signed 64-bit field on the wire (negative values exist in invalid txs)
    script_pubkey: bytes


Witness = tuple[bytes, ...]
_new_tuple = tuple.__new__
# Fixed-size heads of an input (prev txid, prev index, first byte of the script length) and of an
# output (signed value, first byte of the script length), and a sequence, unpacked in one call each.
_OUTPOINT_AND_LEN = struct.Struct("<32sIB")
_VALUE_AND_LEN = struct.Struct("<qB")
_U32 = struct.Struct("<I")
COINBASE_PREV_TXID = bytes(32)
COINBASE_PREV_INDEX = 0xFFFFFFFF


def _compact_size_len(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5 if n <= 0xFFFFFFFF else 9


def _read_size(b: bytes | memoryview, o: int, end: int) -> tuple[int, int]:
    """Compact size bounded by the bytes that are left: a count can never exceed them."""
    if o >= end:
        raise ParseError("truncated compact size", o, "1 byte")
    n = b[o]
    if n < 0xFD:
        return n, o + 1
    width = 2 if n == 0xFD else 4 if n == 0xFE else 8
    if o + 1 + width > end:
        raise ParseError("truncated compact size", o, f"{width + 1} bytes")
    value = int.from_bytes(b[o + 1 : o + 1 + width], "little")
    if value < (0xFD if width == 2 else 0x10000 if width == 4 else 0x100000000):
        raise ParseError("non-canonical compact size", o, "the shortest encoding")
    if value > MAX_SIZE:
        raise ParseError(f"compact size {value} above limit {MAX_SIZE}", o)
    return value, o + 1 + width


class Transaction:
    """A Bitcoin transaction.

    Create one with :meth:`parse` / :meth:`from_bytes`, or from fields with the constructor.
    """

    __slots__ = (
        "_buf",
        "_start",
        "_end",
        "_in_offsets",
        "_out_offsets",
        "_witness_offset",
        "_locktime_offset",
        "_version",
        "_locktime",
        "_inputs",
        "_outputs",
        "_witnesses",
        "_txid",
        "_wtxid",
        "_raw",
        # Memo of consensus.sigops.tx_legacy_sigop_count (unset until asked): a block's legacy
        # sigops are counted by CheckBlock and again for its sigop cost.
        "_legacy_sigops",
    )

    def __init__(
        self,
        version: int,
        inputs: Sequence[TxIn],
        outputs: Sequence[TxOut],
        locktime: int = 0,
        witnesses: Sequence[Sequence[bytes]] | None = None,
    ):
        self._buf = None
        self._version = version
        self._locktime = locktime
        self._inputs = tuple(inputs)
        self._outputs = tuple(outputs)
        if witnesses is None:
            witnesses = [()] * len(self._inputs)
        if len(witnesses) != len(self._inputs):
            raise ValueError("one witness (possibly empty) per input")
        self._witnesses = tuple(tuple(bytes(i) for i in w) for w in witnesses)
        self._txid = self._wtxid = self._raw = None

    # ---------------------------------------------------------------- parsing
    @classmethod
    def parse(cls, buf: bytes | memoryview, offset: int = 0, end: int | None = None) -> Transaction:
        """Parse one transaction starting at ``offset``; its length is ``tx.size``.

        ``buf`` is kept (not copied): pass bytes you will not mutate.
        """
        b = buf
        if end is None:
            end = len(b)
        tx = cls.__new__(cls)
        tx._buf = b
        tx._start = o = offset
        tx._inputs = tx._outputs = tx._witnesses = None
        tx._txid = tx._wtxid = tx._raw = None
        if o + 4 > end:
            raise ParseError("truncated transaction", o, "4-byte version")
        o += 4
        n_in, o = _read_size(b, o, end)
        segwit = False
        if n_in == 0:
            # BIP144: an empty input list here is the segwit marker, and the flag follows. A zero
            # flag is read by Core as an empty output list, which the legacy path below does too.
            if o >= end:
                raise ParseError("truncated transaction", o, "segwit flag")
            flag = b[o]
            if flag == 1:
                segwit = True
                n_in, o = _read_size(b, o + 1, end)
            elif flag != 0:
                raise ParseError("unknown transaction optional data (segwit flag)", o, "flag 0x01")
        if n_in * MIN_TXIN_SIZE > end - o:
            raise ParseError(f"input count {n_in} exceeds the remaining bytes", o)
        in_offsets = [0] * n_in
        for i in range(n_in):
            in_offsets[i] = o
            o += 36
            if o >= end:
                raise ParseError("truncated input", o, "script length")
            n = b[o]
            if n < 0xFD:
                o += 1 + n
            else:
                n, o = _read_size(b, o, end)
                o += n
            o += 4
            if o > end:
                raise ParseError(f"truncated input {i}", end, "script and sequence")
        n_out, o = _read_size(b, o, end)
        if n_out * MIN_TXOUT_SIZE > end - o:
            raise ParseError(f"output count {n_out} exceeds the remaining bytes", o)
        out_offsets = [0] * n_out
        for i in range(n_out):
            out_offsets[i] = o
            o += 8
            if o >= end:
                raise ParseError(f"truncated output {i}", o, "script length")
            n = b[o]
            if n < 0xFD:
                o += 1 + n
            else:
                n, o = _read_size(b, o, end)
                o += n
            if o > end:
                raise ParseError(f"truncated output {i}", end, "script bytes")
        tx._in_offsets = in_offsets
        tx._out_offsets = out_offsets
        if segwit:
            tx._witness_offset = o
            any_item = False
            for i in range(n_in):
                items, o = _read_size(b, o, end)
                if items > end - o:
                    raise ParseError(f"witness item count {items} exceeds the remaining bytes", o)
                if items:
                    any_item = True
                for _ in range(items):
                    n, o = _read_size(b, o, end)
                    o += n
                    if o > end:
                        raise ParseError(f"truncated witness item of input {i}", end)
            if not any_item:
                raise ParseError("superfluous witness record", tx._witness_offset, "a non-empty witness")
        else:
            tx._witness_offset = -1
        if o + 4 > end:
            raise ParseError("truncated transaction", o, "4-byte locktime")
        tx._locktime_offset = o
        tx._end = o + 4
        tx._version = int.from_bytes(b[offset : offset + 4], "little", signed=True)
        tx._locktime = int.from_bytes(b[o : o + 4], "little")
        return tx

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> Transaction:
        """Parse exactly one transaction; trailing bytes are an error."""
        tx = cls.parse(data, 0)
        if tx._end != len(data):
            raise ParseError("trailing bytes after transaction", tx._end, "end of data")
        return tx

    @classmethod
    def from_hex(cls, hex_string: str) -> Transaction:
        return cls.from_bytes(bytes.fromhex(hex_string))

    # ----------------------------------------------------------- fields
    @property
    def version(self) -> int:
        return self._version

    @property
    def locktime(self) -> int:
        return self._locktime

    @property
    def size(self) -> int:
        """Serialized size in bytes, witness included."""
        if self._buf is not None:
            return self._end - self._start
        return len(self.serialize())

    @property
    def has_witness(self) -> bool:
        if self._buf is not None:
            return self._witness_offset >= 0
        return any(self._witnesses)

    @property
    def input_count(self) -> int:
        # A parsed tx keeps its input offsets (and never changes), whether or not inputs were built.
        return len(self._in_offsets) if self._buf is not None else len(self._inputs)

    @property
    def output_count(self) -> int:
        return len(self._out_offsets) if self._buf is not None else len(self._outputs)

    @property
    def inputs(self) -> tuple[TxIn, ...]:
        if self._inputs is None:
            b = self._buf
            if type(b) is not bytes:
                self._inputs = self._inputs_from_view()
                return self._inputs
            outpoint = _OUTPOINT_AND_LEN.unpack_from
            u32 = _U32.unpack_from
            result = []
            append = result.append
            for o in self._in_offsets:
                txid, index, n = outpoint(b, o)
                p = o + 37
                if n >= 0xFD:
                    n, p = _read_size(b, o + 36, self._end)
                # tuple.__new__ skips the NamedTuple's Python-level __new__ (same object, faster).
                append(_new_tuple(TxIn, (txid, index, b[p : p + n], u32(b, p + n)[0])))
            self._inputs = tuple(result)
        return self._inputs

    @property
    def outputs(self) -> tuple[TxOut, ...]:
        if self._outputs is None:
            b = self._buf
            if type(b) is not bytes:
                self._outputs = self._outputs_from_view()
                return self._outputs
            value_and_len = _VALUE_AND_LEN.unpack_from
            result = []
            append = result.append
            for o in self._out_offsets:
                value, n = value_and_len(b, o)
                p = o + 9
                if n >= 0xFD:
                    n, p = _read_size(b, o + 8, self._end)
                append(_new_tuple(TxOut, (value, b[p : p + n])))
            self._outputs = tuple(result)
        return self._outputs

    def _inputs_from_view(self) -> tuple[TxIn, ...]:
        # A buffer other than bytes (a memoryview of a larger one): its slices are views, so every
        # field is copied out on its own (the bytes path above unpacks fields that are bytes already).
        b = self._buf
        result = []
        for o in self._in_offsets:
            n = b[o + 36]
            p = o + 37
            if n >= 0xFD:
                n, p = _read_size(b, o + 36, self._end)
            result.append(_new_tuple(TxIn, (
                bytes(b[o : o + 32]), int.from_bytes(b[o + 32 : o + 36], "little"),
                bytes(b[p : p + n]), int.from_bytes(b[p + n : p + n + 4], "little"),
            )))  # fmt: skip
        return tuple(result)

    def _outputs_from_view(self) -> tuple[TxOut, ...]:
        b = self._buf
        result = []
        for o in self._out_offsets:
            n = b[o + 8]
            p = o + 9
            if n >= 0xFD:
                n, p = _read_size(b, o + 8, self._end)
            result.append(_new_tuple(TxOut, (int.from_bytes(b[o : o + 8], "little", signed=True), bytes(b[p : p + n]))))
        return tuple(result)

    # ------------------------------------------------------- serialized pieces (for signature hashes)
    def outpoint_bytes(self) -> list[bytes]:
        """Each input's outpoint as serialized (prev txid || prev index, 36 bytes), in input order:
        slices of the parsed bytes where there are any, else built from the fields."""
        b = self._buf
        if type(b) is bytes:
            return [b[o : o + 36] for o in self._in_offsets]
        return [i.prev_txid + i.prev_index.to_bytes(4, "little") for i in self.inputs]

    def sequence_bytes(self) -> list[bytes]:
        """Each input's nSequence as serialized (4 bytes little-endian), in input order."""
        b = self._buf
        if type(b) is bytes:
            # An input ends where the next begins; the last one where the output count begins.
            ends = self._in_offsets[1:]
            ends.append(self._outputs_start() - _compact_size_len(len(self._out_offsets)))
            return [b[e - 4 : e] for e in ends]
        return [i.sequence.to_bytes(4, "little") for i in self.inputs]

    def output_bytes(self) -> list[bytes]:
        """Each output as serialized (value || compact size || scriptPubKey), in output order."""
        b = self._buf
        if type(b) is bytes:
            starts = self._out_offsets
            if not starts:
                return []
            ends = starts[1:]
            ends.append(self._witness_offset if self._witness_offset >= 0 else self._locktime_offset)
            return [b[s:e] for s, e in zip(starts, ends, strict=True)]
        return [o.value.to_bytes(8, "little", signed=True) + compact_size(len(o.script_pubkey)) + o.script_pubkey
                for o in self.outputs]  # fmt: skip

    def _outputs_start(self) -> int:
        # where the first output begins (with no outputs: where it would, i.e. where they end)
        if self._out_offsets:
            return self._out_offsets[0]
        return self._witness_offset if self._witness_offset >= 0 else self._locktime_offset

    @property
    def witnesses(self) -> tuple[Witness, ...]:
        if self._witnesses is None:
            n_in = len(self._in_offsets)
            if self._witness_offset < 0:
                self._witnesses = ((),) * n_in
            else:
                b, o, end = self._buf, self._witness_offset, self._end
                result = []
                for _ in range(n_in):
                    items, o = _read_size(b, o, end)
                    stack = []
                    for _ in range(items):
                        n, o = _read_size(b, o, end)
                        stack.append(bytes(b[o : o + n]))
                        o += n
                    result.append(tuple(stack))
                self._witnesses = tuple(result)
        return self._witnesses

    def is_coinbase(self) -> bool:
        if self.input_count != 1:
            return False
        if self._buf is not None and self._inputs is None:
            o = self._in_offsets[0]
            return self._buf[o : o + 32] == COINBASE_PREV_TXID and self._buf[o + 32 : o + 36] == b"\xff\xff\xff\xff"
        i = self.inputs[0]
        return i.prev_txid == COINBASE_PREV_TXID and i.prev_index == COINBASE_PREV_INDEX

    # ------------------------------------------------------------- serialization
    def serialize(self) -> bytes:
        """Serialized with witness data when there is any (the wire and block form)."""
        if self._raw is None:
            if self._buf is not None:
                self._raw = bytes(self._buf[self._start : self._end])
            else:
                self._raw = self._build(with_witness=True)
        return self._raw

    def serialize_legacy(self) -> bytes:
        """Serialized without witness data: the bytes the txid commits to."""
        if self._buf is not None:
            if self._witness_offset < 0:
                return self.serialize()
            b, s = self._buf, self._start
            return b"".join(
                (
                    b[s : s + 4],
                    b[s + 6 : self._witness_offset],
                    b[self._locktime_offset : self._end],
                )
            )
        return self._build(with_witness=False)

    def _build(self, with_witness: bool) -> bytes:
        parts = [self._version.to_bytes(4, "little", signed=True)]
        segwit = with_witness and any(self.witnesses)
        if segwit:
            parts.append(b"\x00\x01")
        parts.append(compact_size(len(self.inputs)))
        for i in self.inputs:
            parts += (
                i.prev_txid,
                i.prev_index.to_bytes(4, "little"),
                compact_size(len(i.script_sig)),
                i.script_sig,
                i.sequence.to_bytes(4, "little"),
            )
        parts.append(compact_size(len(self.outputs)))
        for out in self.outputs:
            parts += (out.value.to_bytes(8, "little", signed=True), compact_size(len(out.script_pubkey)), out.script_pubkey)
        if segwit:
            for stack in self.witnesses:
                parts.append(compact_size(len(stack)))
                for item in stack:
                    parts += (compact_size(len(item)), item)
        parts.append(self._locktime.to_bytes(4, "little"))
        return b"".join(parts)

    # ------------------------------------------------------------------ hashes
    @property
    def txid(self) -> bytes:
        """Transaction id in internal byte order (reverse it, or use ``txid_hex``, to display)."""
        if self._txid is None:
            if self._buf is not None and self._witness_offset < 0:
                self._txid = _sha256(_sha256(self._buf[self._start : self._end]).digest()).digest()
            else:
                self._txid = _sha256(_sha256(self.serialize_legacy()).digest()).digest()
        return self._txid

    @property
    def wtxid(self) -> bytes:
        if self._wtxid is None:
            if not self.has_witness:
                self._wtxid = self.txid
            else:
                data = self._buf[self._start : self._end] if self._buf is not None else self.serialize()
                self._wtxid = _sha256(_sha256(data).digest()).digest()
        return self._wtxid

    @property
    def txid_hex(self) -> str:
        return hash_to_hex(self.txid)

    @property
    def wtxid_hex(self) -> str:
        return hash_to_hex(self.wtxid)

    # ------------------------------------------------------------------ sizes
    @property
    def base_size(self) -> int:
        """Size without witness data (BIP141 'base size')."""
        if self._buf is not None:
            if self._witness_offset < 0:
                return self._end - self._start
            return (self._witness_offset - self._start - 2) + 4
        return len(self._build(with_witness=False))

    @property
    def weight(self) -> int:
        return self.base_size * 3 + self.size

    @property
    def vsize(self) -> int:
        return (self.weight + 3) // 4

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Transaction) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(self.wtxid)

    def __repr__(self) -> str:
        return f"Transaction({self.txid_hex}, {self.input_count} in, {self.output_count} out)"
