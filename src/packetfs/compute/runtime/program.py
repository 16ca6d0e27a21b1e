"""A program: node handlers (instructions placed on nodes) plus an entry, the memory image and limits.

The code is an array of INSTR records; instruction ``pc`` runs on node ``code[pc].node`` (or, for ANY,
wherever the packet is; for LOAD/STORE, on the node owning the address). A packet's operation_code is the pc
of the instruction it runs next, so routing is simply: after an instruction, look up the next one and send
the packet to the node that runs it. Calls and returns are routing too (CALL saves ``next`` in a slot and
goes to ``alt``; RET goes to the pc held in a slot).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..isa import ANY, IMM, INSTR, SIGNED, SPEC, Op, Status, static_check
from ..packet import MAX_PC, NUM_SLOTS, PACKET_C, SLOT_RUNTIME, slots
from .node import ShardMap
from .records import ProgramError

MAX_NODES = 4096
MAX_CODE = 1 << 24
MAX_MEMORY = 1 << 30  # bytes; a program asking for more is refused before anything is allocated
DEFAULT_BLOCK_SHIFT = 12
MAX_PACKETS = 1 << 26  # per batch: 14 GiB of packets; refused before allocating  # 4 KiB shard blocks
FALLTHROUGH = None


@dataclass
class Instruction:
    """One instruction, for building programs in Python. ``next=None`` means pc + 1."""

    op: int
    dst: int = 0
    a: int = 0
    b: int = 0
    imm: int = 0
    width: int = 8
    signed: bool = False
    count: int = 1
    node: int = ANY
    next: int | None = FALLTHROUGH
    alt: int = 0


def assemble(instructions: Sequence[Instruction]) -> np.ndarray:
    """INSTR array from Instruction objects (immediates taken modulo 2**64, so -1 works)."""
    rows = [
        (
            int(ins.op), ins.dst, ins.a, ins.b, ins.width, SIGNED if ins.signed else 0, ins.count,
            ins.node & 0xFFFFFFFF, pc + 1 if ins.next is None else ins.next, ins.alt, ins.imm & (2**64 - 1),
        )
        for pc, ins in enumerate(instructions)
    ]  # fmt: skip
    return np.array(rows, dtype=INSTR) if rows else np.zeros(0, dtype=INSTR)


class Program:
    """Node handlers + entry + memory. Immutable once built; the same program gives the same result on every
    backend and node count.

    Args:
        code: Instruction objects or an INSTR array.
        num_nodes: logical nodes (0..num_nodes-1). Backends place node n on worker n % workers.
        entry: the pc new packets start at.
        memory: initial image of the flat memory (placed at address 0).
        memory_size: bytes of memory (default: len(memory)); sharded across nodes in blocks.
        block_shift: log2 of the shard block (default 12: 4 KiB).
        unmapped_below: addresses 0 .. unmapped_below-1 are not mapped: a LOAD/STORE touching one faults
            with BAD_ADDRESS (the compiler sets its NULL page, layout.DATA_BASE; default 0: all memory mapped).
        strict: refuse instructions that cannot run (unknown opcode, bad operands, bad node). With
            strict=False they are kept and a packet reaching one gets an ERROR packet instead.
    """

    def __init__(
        self,
        code: Sequence[Instruction] | np.ndarray,
        *,
        num_nodes: int = 1,
        entry: int = 0,
        memory: bytes = b"",
        memory_size: int | None = None,
        block_shift: int = DEFAULT_BLOCK_SHIFT,
        strict: bool = True,
        name: str = "",
        unmapped_below: int = 0,
    ):
        if not 1 <= num_nodes <= MAX_NODES:
            raise ProgramError(f"num_nodes must be 1..{MAX_NODES}, got {num_nodes}")
        size = len(memory) if memory_size is None else memory_size
        if not 0 <= size <= MAX_MEMORY or len(memory) > size:
            raise ProgramError(f"memory_size must be 0..{MAX_MEMORY} bytes and hold the image, got {size}")
        if not 0 <= unmapped_below <= size:
            raise ProgramError(f"unmapped_below must be 0..memory_size ({size}), got {unmapped_below}")
        if not 3 <= block_shift <= 24:
            raise ProgramError(f"block_shift must be 3..24, got {block_shift}")
        if isinstance(code, np.ndarray):
            if code.dtype != INSTR or code.ndim != 1:
                raise ProgramError("code must be a 1-d array of isa.INSTR records")
            self.code = code.copy()
        else:
            self.code = assemble(code)
        if not 1 <= len(self.code) <= min(MAX_CODE, MAX_PC):
            raise ProgramError(f"a program has 1..{MAX_CODE} instructions, got {len(self.code)}")
        if not 0 <= entry < len(self.code):
            raise ProgramError(f"entry {entry} is outside the program ({len(self.code)} instructions)")
        self.code.flags.writeable = False
        self.num_nodes = num_nodes
        self.entry = entry
        self.memory = bytes(memory)
        self.memory_size = size
        self.block_shift = block_shift
        self.name = name
        self.unmapped_below = unmapped_below
        self.shard = ShardMap(size, block_shift, num_nodes, unmapped_below)
        self._tables()
        self._check(strict)

    # derived per-pc tables used by routing -------------------------------------------------------------
    def _tables(self) -> None:
        c = self.code
        self.static_fault = np.zeros(len(c), dtype=np.uint16)
        self.static_detail = np.zeros(len(c), dtype=np.uint64)
        # static_check depends only on these fields: check each distinct combination once (a compiled
        # program of 100,000 instructions has a few hundred)
        fields = ("op", "dst", "a", "b", "width", "count")
        distinct, which = np.unique(c[list(fields)], return_inverse=True)
        which = which.reshape(-1)
        for u, key in enumerate(distinct):
            why = static_check(key)
            if why is not None:
                rows = np.flatnonzero(which == u)
                self.static_fault[rows], self.static_detail[rows] = why
        bad_node = (c["node"] != np.uint32(ANY)) & (c["node"] >= np.uint32(self.num_nodes)) & (self.static_fault == 0)
        self.static_fault[bad_node] = Status.BAD_NODE
        self.static_detail[bad_node] = c["node"][bad_node]
        self.node_of = c["node"].copy()
        self.is_memory = np.isin(c["op"], [code for code, spec in SPEC.items() if spec.memory])
        self.access_bytes = c["width"].astype(np.uint64) * c["count"].astype(np.uint64)

    def _check(self, strict: bool) -> None:
        bad = np.flatnonzero(self.static_fault)
        if strict and len(bad):
            pc = int(bad[0])
            raise ProgramError(
                f"instruction {pc} ({_name(self.code[pc]['op'])}) cannot run: {Status(int(self.static_fault[pc])).name}"
            )
        for field in ("next", "alt"):
            targets = self.code[field]
            uses = np.ones(len(targets), dtype=bool) if field == "next" else np.isin(self.code["op"], [Op.BR, Op.CALL])
            terminal = np.isin(self.code["op"], [Op.HALT, Op.TRAP, Op.RET])
            out = uses & ~terminal & (targets >= len(self.code))
            if strict and out.any():
                pc = int(np.flatnonzero(out)[0])
                raise ProgramError(f"instruction {pc} jumps to {int(targets[pc])}, outside the program")
        kinds: dict[int, tuple[int, int]] = {}
        for ins in self.code[np.isin(self.code["op"], [Op.RADD, Op.RXOR, Op.RMIN, Op.RMAX, Op.RFSUM])]:
            sign = int(ins["flags"]) & SIGNED if int(ins["op"]) in (Op.RMIN, Op.RMAX) else 0
            for lane in range(int(ins["count"])):
                k = kinds.setdefault(int(ins["imm"]) + lane, (int(ins["op"]), sign))
                if k != (int(ins["op"]), sign):
                    raise ProgramError(f"accumulator {int(ins['imm']) + lane} is reduced with two different operations")

    # packets -------------------------------------------------------------------------------------------
    def packets(
        self,
        n: int,
        *,
        inputs: np.ndarray | None = None,
        computation_ids: np.ndarray | None = None,
        nodes: np.ndarray | None = None,
        entry: int | None = None,
    ) -> np.ndarray:
        """``n`` new packets at the entry (PACKET_C).

        ``inputs``: an (n, k) array (k <= 22) of initial slot values s0..s(k-1) (uint64, or float64 taken
        bit for bit). ``computation_ids``: default 0..n-1. ``nodes``: where packets start when the entry
        runs on ANY node (default computation_id % num_nodes).
        """
        if not 0 <= n <= MAX_PACKETS:
            raise ProgramError(f"packet count must be 0..{MAX_PACKETS:,}, got {n}")
        p = np.zeros(n, dtype=PACKET_C)
        cid = np.arange(n, dtype=np.uint64) if computation_ids is None else np.asarray(computation_ids, dtype=np.uint64)
        if cid.shape != (n,):
            raise ProgramError(f"computation_ids must have shape ({n},)")
        p["computation_id"] = cid
        pc = self.entry if entry is None else entry
        if not 0 <= pc < len(self.code):
            raise ProgramError(f"entry {pc} is outside the program")
        p["operation_code"] = pc
        S = slots(p)
        if inputs is not None:
            x = np.asarray(inputs)
            if x.ndim == 1:
                x = x[:, None]
            if x.shape[0] != n or x.shape[1] > SLOT_RUNTIME - 1:
                raise ProgramError(f"inputs must be ({n}, k) with k <= {SLOT_RUNTIME - 1}, got {x.shape}")
            S[:, : x.shape[1]] = x.view(np.uint64) if x.dtype == np.float64 else x.astype(np.uint64)
        if nodes is None:
            start = (cid % np.uint64(self.num_nodes)).astype(np.uint32)
        else:
            start = np.broadcast_to(np.asarray(nodes, dtype=np.uint32), (n,))
        p["next_node_id"] = start
        dest, _status, _detail = self.route(np.full(n, pc, dtype=np.uint32), start, S, np.zeros(n, dtype=np.uint64))
        p["next_node_id"] = dest
        return p

    def route(self, pc: np.ndarray, loc: np.ndarray, S: np.ndarray, steps: np.ndarray, max_steps: int = 0):
        """Where packets about to run ``pc`` go: (dest node, status, detail) arrays; status != 0 is a fault
        detected while routing (bad pc, bad address, bad node, step limit)."""
        n = len(pc)
        status = np.zeros(n, dtype=np.uint16)
        detail = np.zeros(n, dtype=np.uint64)
        bad_pc = pc >= len(self.code)
        pcc = np.where(bad_pc, 0, pc)
        node = self.node_of[pcc]
        dest = np.where(node == np.uint32(ANY), loc, node).astype(np.uint32)
        mem = self.is_memory[pcc] & ~bad_pc & (self.static_fault[pcc] == 0)
        if mem.any():
            rows = np.flatnonzero(mem)
            ins = self.code[pcc[rows]]
            a = ins["a"].astype(np.int64)
            base = np.where(a == IMM, np.uint64(0), S[rows, np.minimum(a, NUM_SLOTS - 1)])
            addr = base + ins["imm"]
            size = self.access_bytes[pcc[rows]]
            ok = np.zeros(len(rows), dtype=bool)
            for nbytes in np.unique(size):
                sel = size == nbytes
                ok[sel] = self.shard.valid(addr[sel], int(nbytes))
            dest[rows] = np.where(ok, self.shard.owner(addr), dest[rows])
            badr = rows[~ok]
            status[badr] = Status.BAD_ADDRESS
            detail[badr] = addr[~ok]
        badn = dest >= self.num_nodes
        status[badn] = Status.BAD_NODE
        detail[badn] = dest[badn]
        dest[badn] = np.minimum(loc[badn], self.num_nodes - 1) if self.num_nodes else 0
        if max_steps:
            over = steps >= np.uint64(max_steps)
            status[over] = Status.STEP_LIMIT
            detail[over] = steps[over]
        status[bad_pc] = Status.BAD_PC
        detail[bad_pc] = pc[bad_pc]
        return dest, status, detail

    # files ---------------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """A self-contained file image (.pfx): a JSON header line, then the code, then the memory image."""
        head = {
            "format": "packetfs-program/1", "num_nodes": self.num_nodes, "entry": self.entry,
            "memory_size": self.memory_size, "block_shift": self.block_shift, "name": self.name,
            "code_len": len(self.code), "image_len": len(self.memory),
        }  # fmt: skip
        if self.unmapped_below:  # absent when 0: files of programs without a NULL page stay as they were
            head["unmapped_below"] = self.unmapped_below
        return json.dumps(head).encode() + b"\n" + self.code.tobytes() + self.memory

    @classmethod
    def from_bytes(cls, data: bytes, *, strict: bool = True) -> Program:
        line, sep, rest = bytes(data).partition(b"\n")
        try:
            head = json.loads(line)
            if not sep or not isinstance(head, dict) or head.get("format") != "packetfs-program/1":
                raise ValueError("not a packetfs program")
            n_code, n_img = int(head["code_len"]), int(head["image_len"])
            if n_code < 0 or n_img < 0 or len(rest) != n_code * INSTR.itemsize + n_img:
                raise ValueError("length mismatch")
            fields = {k: int(head[k]) for k in ("num_nodes", "entry", "memory_size", "block_shift")}
            fields["unmapped_below"] = int(head.get("unmapped_below", 0))
            name = str(head.get("name", ""))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError) as e:
            raise ProgramError(f"not a valid program file: {e}") from None
        code = np.frombuffer(rest[: n_code * INSTR.itemsize], dtype=INSTR).copy()
        return cls(code, memory=rest[n_code * INSTR.itemsize :], strict=strict, name=name, **fields)

    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def listing(self) -> str:
        """A human-readable listing, one instruction per line."""
        out = io.StringIO()
        for pc, ins in enumerate(self.code):
            node = "any" if ins["node"] == ANY else str(int(ins["node"]))
            out.write(
                f"{pc:6d} @{node:>4} {_name(ins['op']):8} dst={int(ins['dst'])} a={_opnd(ins['a'])} "
                f"b={_opnd(ins['b'])} imm={int(ins['imm'])} w={int(ins['width'])}{'s' if ins['flags'] & SIGNED else ''} "
                f"n={int(ins['count'])} next={int(ins['next'])} alt={int(ins['alt'])}\n"
            )
        return out.getvalue()


def _name(op) -> str:
    try:
        return Op(int(op)).name
    except ValueError:
        return f"op{int(op)}"


def _opnd(v) -> str:
    return "imm" if int(v) == IMM else f"s{int(v)}"
