"""The execution packet: the pitch's struct as a numpy structured dtype, so a batch of packets is one array.

The pitch's C struct is::

    struct packet { uint64_t computation_id; uint32_t operation_code; uint64_t input_data[16];
                    uint64_t state[8]; uint32_t next_node_id; };

Two layouts of the same fields (both little-endian):

* ``PACKET_WIRE`` (packed, 208 bytes): what goes on the wire (UDP datagrams, Ray objects). Offsets
  computation_id 0, operation_code 8, input_data 12, state 140, next_node_id 204.
* ``PACKET_C`` (aligned, 216 bytes): what a C compiler lays out on x86-64 / aarch64 (4 bytes of padding
  after operation_code so input_data is 8-aligned, 4 more at the end so arrays of the struct stay
  8-aligned). Offsets 0, 8, 16, 144, 208. The runtime executes on this layout (aligned 8-byte slots are
  faster for numpy); conversion between the two is one vectorized copy per batch.

How the fields are used by the runtime (see docs/compute-fabric.md):

* ``operation_code``: while a packet is live, the program counter (index of the instruction it runs
  next). A finished packet carries ``TERMINAL | status`` (status 0 = halted, else the fault reason).
* ``input_data[16]`` and ``state[8]`` form 24 64-bit slots (registers) ``s0..s23``: slot i < 16 is
  input_data[i], slot 16+j is state[j]. Slot 22 receives the exit value at HALT (the detail at a fault);
  slot 23 is the runtime word ``(last_pc << 32) | steps`` and is read-only to programs.
* ``next_node_id``: the logical node the packet is at or travelling to; on a finished packet, the node
  where it stopped.
"""

from __future__ import annotations

import numpy as np

PACKET_WIRE = np.dtype(
    {
        "names": ["computation_id", "operation_code", "input_data", "state", "next_node_id"],
        "formats": ["<u8", "<u4", ("<u8", (16,)), ("<u8", (8,)), "<u4"],
        "offsets": [0, 8, 12, 140, 204],
        "itemsize": 208,
    }
)
PACKET_C = np.dtype(
    {
        "names": ["computation_id", "operation_code", "input_data", "state", "next_node_id"],
        "formats": ["<u8", "<u4", ("<u8", (16,)), ("<u8", (8,)), "<u4"],
        "offsets": [0, 8, 16, 144, 208],
        "itemsize": 216,
    }
)
WIRE_SIZE = PACKET_WIRE.itemsize
C_SIZE = PACKET_C.itemsize

NUM_SLOTS = 24
SLOT_RESULT = 22  # HALT writes the exit value here; a fault writes its detail
SLOT_RUNTIME = 23  # (last_pc << 32) | steps, maintained by the runtime, read-only to programs
NUM_INPUT_SLOTS = 16

TERMINAL = 0xFFFF0000  # operation_code >= TERMINAL: finished; low 16 bits are the Status
MAX_PC = TERMINAL - 1


class PacketError(ValueError):
    """A byte string or array is not a batch of packets (wrong size or dtype)."""


def empty(n: int, *, layout: np.dtype = PACKET_C) -> np.ndarray:
    """A zeroed batch of ``n`` packets in ``layout`` (PACKET_C or PACKET_WIRE)."""
    if n < 0:
        raise PacketError(f"packet count must be >= 0, got {n}")
    return np.zeros(n, dtype=layout)


# byte ranges that move between the layouts: (wire start, C start, length)
_MOVES = ((0, 0, 12), (12, 16, 192), (204, 208, 4))


def _convert(packets: np.ndarray, layout: np.dtype) -> np.ndarray:
    src_t = packets.dtype
    src = np.ascontiguousarray(packets).view(np.uint8).reshape(len(packets), src_t.itemsize)
    out = np.zeros(len(packets), dtype=layout)
    dst = out.view(np.uint8).reshape(len(packets), layout.itemsize)
    for w, c, n in _MOVES:
        s_off, d_off = (w, c) if src_t == PACKET_WIRE else (c, w)
        dst[:, d_off : d_off + n] = src[:, s_off : s_off + n]
    return out


def to_wire(packets: np.ndarray) -> np.ndarray:
    """The batch in the packed 208-byte wire layout (a copy unless it is already packed)."""
    if packets.dtype == PACKET_WIRE:
        return packets
    _check(packets)
    return _convert(packets, PACKET_WIRE)


def to_c(packets: np.ndarray) -> np.ndarray:
    """The batch in the aligned 216-byte C layout (a copy unless it already is; padding zeroed)."""
    if packets.dtype == PACKET_C:
        return packets
    _check(packets)
    return _convert(packets, PACKET_C)


def take(packets: np.ndarray, index) -> np.ndarray:
    """``packets[index]`` (mask or indices), done on raw records: numpy copies structured dtypes with
    offsets field by field, ten times slower than moving the bytes."""
    return packets.view(np.dtype((np.void, packets.dtype.itemsize)))[index].view(packets.dtype)


def copy(packets: np.ndarray) -> np.ndarray:
    """A contiguous, writable copy, padding bytes included (a structured copy leaves them undefined)."""
    raw = np.dtype((np.void, packets.dtype.itemsize))
    return np.ascontiguousarray(packets).view(raw).copy().view(packets.dtype)


def concat(parts: list[np.ndarray], layout: np.dtype = PACKET_C) -> np.ndarray:
    """One batch from several of the same layout (raw record copies, see take())."""
    if not parts:
        return np.zeros(0, dtype=layout)
    if len(parts) == 1:
        return parts[0]
    raw = np.dtype((np.void, parts[0].dtype.itemsize))
    return np.concatenate([p.view(raw) for p in parts]).view(parts[0].dtype)


def encode(packets: np.ndarray) -> bytes:
    """Wire bytes of a batch: the packed records back to back, nothing else (n * 208 bytes)."""
    return to_wire(packets).tobytes()


def decode(buf: bytes | bytearray | memoryview, *, layout: np.dtype = PACKET_WIRE) -> np.ndarray:
    """A batch from wire bytes. Zero-copy for the packed layout (read-only view over ``buf``).

    Raises PacketError when the length is not a whole number of packets.
    """
    n, rem = divmod(len(buf), WIRE_SIZE)
    if rem:
        raise PacketError(f"{len(buf)} bytes is not a whole number of {WIRE_SIZE}-byte packets")
    wire = np.frombuffer(buf, dtype=PACKET_WIRE, count=n)
    return wire if layout == PACKET_WIRE else to_c(wire)


def slots(packets: np.ndarray) -> np.ndarray:
    """A writable (n, 24) uint64 view of the slots (input_data then state) of a batch, no copy."""
    _check(packets)
    if not packets.flags.writeable or not packets.flags.c_contiguous:
        raise PacketError("slots() needs a writable, contiguous batch")
    off = PACKET_C.fields["input_data"][1] if packets.dtype == PACKET_C else 12
    if len(packets) == 0:
        return np.zeros((0, NUM_SLOTS), dtype="<u8")
    return np.ndarray(
        shape=(len(packets), NUM_SLOTS), dtype="<u8", buffer=packets, offset=off, strides=(packets.dtype.itemsize, 8)
    )


def _check(packets: np.ndarray) -> None:
    if not isinstance(packets, np.ndarray) or packets.dtype not in (PACKET_C, PACKET_WIRE):
        raise PacketError("expected a numpy array of PACKET_C or PACKET_WIRE records")
    if packets.ndim != 1:
        raise PacketError("a batch of packets is a one-dimensional array")
