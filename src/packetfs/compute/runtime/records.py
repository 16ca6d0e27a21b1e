"""What a run hands back: emit records, faults, counters and the result of a whole run."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..isa import STATUS_TEXT, Status
from ..packet import PACKET_C, SLOT_RESULT, SLOT_RUNTIME, TERMINAL, concat, take

# One EMIT lane: sent to the origin, ordered by (computation_id, seq, lane); seq is the packet's step count
# when it emitted, so the order is program order whatever node or backend ran it.
EMIT_DTYPE = np.dtype(
    [
        ("computation_id", "<u8"),
        ("seq", "<u4"),
        ("lane", "<u2"),
        ("tag", "u1"),
        ("width", "u1"),
        ("value", "<u8"),
        ("node", "<u4"),
    ]
)


class FabricError(RuntimeError):
    """The compute fabric's error type: a bad program, a bad batch, or a backend that failed (a worker died,
    a transport gave up). Faults *inside* a program are not exceptions: they come back as ERROR packets."""


class ProgramError(FabricError):
    """A program that cannot be loaded (bad instruction, bad entry, limits)."""


class BackendError(FabricError):
    """A backend could not complete a run (a worker died, a timeout, Ray unavailable)."""


@dataclass(frozen=True)
class Fault:
    """One ERROR packet, decoded."""

    computation_id: int
    status: Status
    pc: int
    node: int
    detail: int

    def __str__(self) -> str:
        return (
            f"computation {self.computation_id}: {self.status.name} at pc {self.pc} on node {self.node} "
            f"(detail {self.detail}): {STATUS_TEXT[self.status]}"
        )


@dataclass
class RunStats:
    """Counters of one run. ``steps``: instructions executed (packet-ops); ``hops``: moves of a packet from
    one logical node to another; ``messages``/``bytes_moved``: transport datagrams/objects and their bytes
    (0 for inline); ``retransmits``: datagrams sent again (local backend)."""

    packets: int = 0
    steps: int = 0
    hops: int = 0
    messages: int = 0
    bytes_moved: int = 0
    retransmits: int = 0
    duplicates: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class RunResult:
    """The outcome of running a batch of packets through a program.

    ``packets``: every injected packet in its final state (PACKET_C), sorted by computation_id.
    ``emits``: EMIT records sorted by (computation_id, seq, lane). ``accumulators``: REDUCE results, index ->
    int (RADD/RXOR/RMIN/RMAX, as unsigned 64-bit) or float (RFSUM). ``memory``: the final memory image when
    asked for (``collect_memory=True``), else None.
    """

    packets: np.ndarray
    emits: np.ndarray
    accumulators: dict[int, int | float]
    memory: bytes | None
    stats: RunStats = field(default_factory=RunStats)

    @property
    def status(self) -> np.ndarray:
        """Per packet Status value (0 = halted)."""
        return (self.packets["operation_code"] - np.uint32(TERMINAL)).astype(np.uint16)

    @property
    def exit_values(self) -> np.ndarray:
        """Per packet: HALT's exit value (s22), or the fault detail for an ERROR packet."""
        return self.packets["state"][:, SLOT_RESULT - 16].copy()

    @property
    def ok(self) -> bool:
        return bool((self.status == 0).all())

    def faults(self) -> list[Fault]:
        out = []
        for i in np.flatnonzero(self.status != 0):
            p = self.packets[i]
            out.append(
                Fault(
                    int(p["computation_id"]),
                    Status(int(p["operation_code"]) - TERMINAL),
                    int(p["state"][SLOT_RUNTIME - 16]) >> 32,
                    int(p["next_node_id"]),
                    int(p["state"][SLOT_RESULT - 16]),
                )
            )
        return out

    def raise_for_faults(self) -> None:
        """Raise FabricError naming the first fault, if any packet ended in an ERROR."""
        faults = self.faults()
        if faults:
            raise FabricError(f"{len(faults)} packet(s) faulted; first: {faults[0]}")

    def emitted(self, computation_id: int, tag: int | None = None) -> np.ndarray:
        """The values one computation emitted (optionally of one tag), in program order."""
        e = self.emits[self.emits["computation_id"] == computation_id]
        if tag is not None:
            e = e[e["tag"] == tag]
        return e["value"].copy()

    def output(self, computation_id: int, tag: int | None = None) -> bytes:
        """The bytes one computation emitted: the low ``width`` bytes of each emit, in program order."""
        e = self.emits[self.emits["computation_id"] == computation_id]
        if tag is not None:
            e = e[e["tag"] == tag]
        return b"".join(int(v).to_bytes(8, "little")[: int(w)] for v, w in zip(e["value"], e["width"], strict=True))


def empty_emits() -> np.ndarray:
    return np.zeros(0, dtype=EMIT_DTYPE)


def sort_emits(parts: list[np.ndarray]) -> np.ndarray:
    """Emits in (computation_id, seq, lane) order (a no-op check when they already are, as inline's)."""
    if not parts:
        return empty_emits()
    e = np.concatenate(parts) if len(parts) > 1 else parts[0]
    cid = e["computation_id"]
    minor = (e["seq"].astype(np.uint64) << np.uint64(16)) | e["lane"].astype(np.uint64)
    if _in_order(cid, minor):
        return e
    order = np.argsort(cid, kind="stable")  # usually enough: one packet's emits mostly arrive in order
    if _in_order(cid[order], minor[order]):
        return e[order]
    return e[np.lexsort((minor, cid))]


def _in_order(cid: np.ndarray, minor: np.ndarray) -> bool:
    return len(cid) < 2 or bool(((cid[1:] > cid[:-1]) | ((cid[1:] == cid[:-1]) & (minor[1:] > minor[:-1]))).all())


def sort_packets(parts: list[np.ndarray]) -> np.ndarray:
    """One batch in computation_id order (stable, so equal ids keep their arrival order)."""
    p = concat(parts, PACKET_C)
    cid = p["computation_id"]
    if len(p) < 2 or (cid[1:] >= cid[:-1]).all():
        return p
    return take(p, np.argsort(cid, kind="stable"))
