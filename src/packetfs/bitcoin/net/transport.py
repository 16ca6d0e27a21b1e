"""The v1 transport, sans I/O: fed bytes it yields messages, given messages it yields bytes.

Frame: magic (4) | command (12, ASCII, NUL-padded) | payload length (4, LE) | checksum (4) | payload.
The header is checked before any payload byte is buffered: a wrong magic, a malformed command, or a length
above 4,000,000 (or above the message's own cap) raises FrameError and the caller must disconnect. A bad
checksum drops the message, as Core does. The receive buffer therefore never holds more than one frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..primitives.hashes import sha256d
from .errors import FrameError, MessageError
from .limits import COMMAND_SIZE, HEADER_SIZE, MAX_PROTOCOL_MESSAGE_LENGTH
from .message import Message, UnknownMessage
from .messages import MESSAGE_TYPES

_ALLOWED_COMMAND_BYTES = frozenset(range(0x21, 0x7F))


def encode_command(command: str) -> bytes:
    raw = command.encode("ascii")
    if not 0 < len(raw) <= COMMAND_SIZE or any(b not in _ALLOWED_COMMAND_BYTES for b in raw):
        raise ValueError(f"invalid command {command!r}")
    return raw + bytes(COMMAND_SIZE - len(raw))


def parse_command(raw: bytes) -> str:
    """A 12-byte command: printable ASCII then NUL padding only."""
    name = raw.rstrip(b"\x00")
    if not name or b"\x00" in name or any(b not in _ALLOWED_COMMAND_BYTES for b in name):
        raise FrameError(f"malformed command {raw!r}", 4, "printable ASCII padded with NULs")
    return name.decode("ascii")


def frame(magic: bytes, command: str, payload: bytes) -> bytes:
    return b"".join((magic, encode_command(command), len(payload).to_bytes(4, "little"), sha256d(payload)[:4],
                     payload))


@dataclass
class TransportStats:
    bytes_received: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    messages_sent: int = 0
    bad_checksums: int = 0


@dataclass
class V1Transport:
    magic: bytes
    max_message: int = MAX_PROTOCOL_MESSAGE_LENGTH
    stats: TransportStats = field(default_factory=TransportStats)
    _buf: bytearray = field(default_factory=bytearray)
    _header: tuple[str, int, bytes] | None = None

    def encode(self, msg: Message | UnknownMessage) -> bytes:
        return b"".join(self.encode_parts(msg))

    def encode_parts(self, msg: Message | UnknownMessage) -> tuple[bytes, bytes]:
        """The 24-byte frame header and the payload, apart: a sender batching many messages joins them
        once, so a stored block's bytes are copied once on their way to the socket, not twice."""
        payload = msg.encode()
        header = b"".join((self.magic, encode_command(msg.command), len(payload).to_bytes(4, "little"),
                           sha256d(payload)[:4]))
        self.stats.bytes_sent += len(header) + len(payload)
        self.stats.messages_sent += 1
        return header, payload

    @property
    def wanted(self) -> int:
        """How many more bytes complete the current header or payload (what a reader should ask for)."""
        if self._header is None:
            return HEADER_SIZE - len(self._buf)
        return self._header[1] - len(self._buf)

    def feed(self, data: bytes) -> list[Message | UnknownMessage]:
        """Take bytes off the wire; return the complete messages they finish.

        Raises FrameError (disconnect now) or MessageError (a payload that does not decode: misbehaving).
        """
        self.stats.bytes_received += len(data)
        out: list[Message | UnknownMessage] = []
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            need = self.wanted
            take = view[pos : pos + need]
            self._buf += take
            pos += len(take)
            if len(take) < need:
                break
            if self._header is None:
                self._header = self._check_header(bytes(self._buf))
                self._buf.clear()
                if self._header[1] > 0:
                    continue
            command, _, checksum = self._header
            payload = bytes(self._buf)
            self._buf.clear()
            self._header = None
            if sha256d(payload)[:4] != checksum:
                self.stats.bad_checksums += 1
                continue
            self.stats.messages_received += 1
            out.append(decode_message(command, payload))
        return out

    def _check_header(self, header: bytes) -> tuple[str, int, bytes]:
        if header[:4] != self.magic:
            raise FrameError(f"wrong network magic {header[:4].hex()}", 0, self.magic.hex())
        command = parse_command(header[4:16])
        length = int.from_bytes(header[16:20], "little")
        if length > self.max_message:
            raise FrameError(f"{command} payload of {length} bytes above the {self.max_message}-byte cap", 16)
        cls = MESSAGE_TYPES.get(command)
        if cls is not None and length > cls.max_payload:
            raise FrameError(f"{command} payload of {length} bytes above its {cls.max_payload}-byte cap", 16)
        return command, length, header[20:24]


def decode_message(command: str, payload: bytes) -> Message | UnknownMessage:
    cls = MESSAGE_TYPES.get(command)
    if cls is None:
        return UnknownMessage(command, payload)
    try:
        return cls.decode(payload)
    except MessageError as e:
        e.command = command
        raise
    except ValueError as e:  # a ParseError from the primitives under a message decoder
        raise MessageError(f"{command}: {e}", getattr(e, "offset", None), None, command) from None
