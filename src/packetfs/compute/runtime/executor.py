"""The node runtime: executes packets at the nodes one worker hosts. Shared by every backend, so the same
program gives the same bits whatever backend, node count or arrival order.

One round: the live packets at hosted nodes are grouped by (node, pc); each group runs its instruction as one
vectorized numpy operation (the whole batch in place when every packet is at the same instruction, the common
data-parallel case); then every packet is routed to the node that runs its next instruction. Packets that
finished (HALT or a fault) leave as terminal packets for the origin.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..isa import ANY, HALT_MARK, IMM, SPEC, Ctx, Status
from ..packet import NUM_SLOTS, PACKET_C, SLOT_RESULT, SLOT_RUNTIME, TERMINAL, WIRE_SIZE, slots, to_c
from .node import Accumulators, NodeMemory
from .program import Program
from .scalar import execute_scalar

DEFAULT_MAX_STEPS = 1 << 24
SCALAR_ALWAYS = 16  # batches this small always take the scalar path (runtime/scalar.py)
SCALAR_MAX = 1024  # larger batches take it only when their packets sit at many different pcs


def scalar_default() -> bool:
    """The scalar path is on unless PACKETFS_SCALAR=0 (benchmarks compare the two paths with it)."""
    return os.environ.get("PACKETFS_SCALAR", "1") != "0"
_MASK32 = np.uint64(0xFFFFFFFF)


@dataclass
class StepOutput:
    """What one call to NodeGroup.execute produced."""

    local: np.ndarray  # live packets still at hosted nodes (round budget ran out)
    away: np.ndarray  # live packets bound for nodes hosted elsewhere
    done: np.ndarray  # terminal packets (HALTED or ERROR) for the origin
    emits: list[np.ndarray] = field(default_factory=list)
    steps: int = 0
    hops: int = 0


class NodeGroup:
    """The logical nodes one worker hosts: their memory shards, accumulators and the executor."""

    def __init__(self, program: Program, hosted: list[int] | None = None, max_steps: int = DEFAULT_MAX_STEPS,
                 scalar: bool | None = None):
        self.program = program
        self.scalar = scalar_default() if scalar is None else bool(scalar)
        self._scalar = None  # the ScalarRunner, made on first use
        self.max_steps = int(max_steps)
        if not 1 <= self.max_steps < 2**32:
            raise ValueError("max_steps must be 1..2**32-1")
        self.hosted = list(range(program.num_nodes)) if hosted is None else sorted(hosted)
        self.hosted_mask = np.zeros(program.num_nodes, dtype=bool)
        self.hosted_mask[self.hosted] = True
        self.all_hosted = bool(self.hosted_mask.all())
        self.memory = {n: NodeMemory(program.shard, n, program.memory) for n in self.hosted}
        self.acc = {n: Accumulators() for n in self.hosted}
        self._decoded = {}
        # instructions whose effect does not depend on the node running them (not memory, accumulators,
        # NODEID, HOP or EMIT, and placed on ANY node): packets at one such pc run together across nodes
        self._node_free = (np.isin(program.code["op"], list(_NODE_FREE_OPS)) & (program.code["node"] == np.uint32(ANY))
                           & (program.static_fault == 0))

    def is_hosted(self, nodes: np.ndarray) -> np.ndarray:
        if self.all_hosted:
            return nodes < self.program.num_nodes
        ok = nodes < self.program.num_nodes
        out = np.zeros(len(nodes), dtype=bool)
        out[ok] = self.hosted_mask[nodes[ok]]
        return out

    def _ins(self, pc: int):
        ins = self._decoded.get(pc)
        if ins is None:
            r = self.program.code[pc]
            ins = _Ins(*(int(r[f]) for f in _Ins._fields))
            self._decoded[pc] = ins
        return ins

    def execute_batch(self, b: Batch, max_rounds: int = 1 << 30) -> tuple[Batch, Batch, Batch, list[np.ndarray], int, int]:
        """execute() without the packet conversions: (local, away, done, emits, steps, hops) as Batches.

        A lone packet, or a small batch of packets at different pcs, runs on the scalar path
        (runtime/scalar.py: the same results, bit for bit, without numpy's per-instruction overhead)."""
        if self.scalar and b.n and self._scalar_fits(b):
            with np.errstate(all="ignore"):
                return execute_scalar(self, b, max_rounds)
        done, away, emits = [], [], []
        steps = hops = 0
        rounds = 0
        with np.errstate(all="ignore"):
            while b.n and rounds < max_rounds:
                rounds += 1
                b, fin, out, em, n_exec, n_hops = self._round(b)
                steps += n_exec
                hops += n_hops
                if fin is not None:
                    done.append(fin)
                if out is not None:
                    away.append(out)
                emits.extend(em)
        return b, Batch.cat(away), Batch.cat(done), emits, steps, hops

    def _scalar_fits(self, b: Batch) -> bool:
        n = b.n
        if n == 1:
            return True
        if n > SCALAR_MAX or len(np.unique(b.cid)) != n:
            return False  # packets of one computation id keep the round-by-round emit order
        return n <= SCALAR_ALWAYS or 4 * len(np.unique(b.pc)) >= n

    def execute(self, packets: np.ndarray, max_rounds: int = 1 << 30) -> StepOutput:
        """Run ``packets`` (live, at hosted nodes) until they leave this group, finish, or ``max_rounds``.

        The batch is turned into structure-of-arrays form once (each slot one contiguous row), run round
        after round, and turned back into packets once: numpy is many times faster on contiguous columns
        than on fields strided 216 bytes apart."""
        local, away, done, emits, steps, hops = self.execute_batch(Batch.from_packets(packets), max_rounds)
        return StepOutput(local.to_packets(), away.to_packets(), done.to_packets(), emits, steps, hops)

    def _round(self, b: Batch):
        prog = self.program
        n = b.n
        T = b.T
        S = T.T  # (n, 24) view: kernels index packets along axis 0
        node = b.node
        pc = b.pc
        steps = T[SLOT_RUNTIME] & _MASK32
        same_pc = n == 1 or pc.min() == pc.max()
        uniform = same_pc and (n == 1 or node.min() == node.max())
        if same_pc:
            nd, p = int(node[0]), int(pc[0])
            if p < len(prog.code):
                fast = None
                if uniform and nd < prog.num_nodes and self.hosted_mask[nd]:
                    fast = self._uniform_round(b, nd, p, steps)
                elif not uniform and self._node_free[p] and self.is_hosted(node).all():
                    fast = self._uniform_round(b, None, p, steps)  # one instruction, packets on several nodes
                if fast is not None:
                    return fast
        status = np.zeros(n, dtype=np.uint16)
        detail = np.zeros(n, dtype=np.uint64)
        new_pc = np.zeros(n, dtype=np.uint32)
        loc = node.copy()
        emits: list[np.ndarray] = []
        cids = b.cid

        bad_pc = pc >= len(prog.code)
        hosted = self.is_hosted(node)
        any_bad = bool(bad_pc.any()) or not hosted.all()
        if any_bad:
            status[bad_pc] = Status.BAD_PC
            detail[bad_pc] = pc[bad_pc]
            bad_node = ~bad_pc & ~hosted
            status[bad_node] = Status.BAD_NODE
            detail[bad_node] = node[bad_node]
        executed = n - (int(np.count_nonzero(bad_pc) + np.count_nonzero(~hosted & ~bad_pc)) if any_bad else 0)
        runnable_all = not any_bad
        if runnable_all and uniform:
            groups = [(None, int(node[0]), int(pc[0]))]
        else:
            key = (node.astype(np.uint64) << np.uint64(32)) | pc.astype(np.uint64)
            rows = np.arange(n) if runnable_all else np.flatnonzero(status == 0)
            order = rows[np.argsort(key[rows], kind="stable")]
            ks = key[order]
            cuts = np.flatnonzero(ks[1:] != ks[:-1]) + 1
            groups = [(g, int(node[g[0]]), int(pc[g[0]])) for g in np.split(order, cuts)] if len(order) else []

        for rows, nd, p in groups:
            self._run_group(rows, nd, p, S, cids, steps, status, detail, new_pc, loc, emits)
        return self._tail(b, steps, status, detail, new_pc, loc, emits, executed)

    def _tail(self, b: Batch, steps, status, detail, new_pc, loc, emits, executed: int):
        """After the instructions ran: the runtime word, routing to the next instruction's node, finished
        packets, and the split into (here, done, away)."""
        prog = self.program
        T = b.T
        S = T.T
        node, pc = b.node, b.pc
        # the runtime word: (pc << 32) | steps+1 for every packet that ran (or faulted here)
        T[SLOT_RUNTIME] = (pc.astype(np.uint64) << np.uint64(32)) | ((steps + np.uint64(1)) & _MASK32)

        live = status == 0
        all_live = bool(live.all())
        new_node = loc.copy()
        if all_live:
            dest, rst, rdet = prog.route(new_pc, loc, S, steps + np.uint64(1), self.max_steps)
            new_node = dest
            if rst.any():
                status = rst
                detail = np.where(rst != 0, rdet, detail)
        elif live.any():
            lrows = np.flatnonzero(live)
            dest, rst, rdet = prog.route(new_pc[lrows], loc[lrows], S[lrows], steps[lrows] + np.uint64(1), self.max_steps)
            bad = rst != 0
            status[lrows[bad]] = rst[bad]
            detail[lrows[bad]] = rdet[bad]
            new_node[lrows] = dest
        fin_mask = status != 0
        any_fin = bool(fin_mask.any())
        if any_fin:
            st = np.where(status == HALT_MARK, np.uint16(Status.HALTED), status).astype(np.uint32)
            new_pc = np.where(fin_mask, np.uint32(TERMINAL) | st, new_pc).astype(np.uint32)
            T[SLOT_RESULT] = np.where(fin_mask, detail, T[SLOT_RESULT])
            new_node = np.where(fin_mask, loc, new_node).astype(np.uint32)
        b.pc = new_pc
        b.node = new_node
        hops = int(np.count_nonzero(~fin_mask & (new_node != node))) if any_fin else int(np.count_nonzero(new_node != node))
        here = self.is_hosted(new_node)
        if not any_fin:
            if here.all():
                return b, None, None, emits, executed, hops
            return b.take(here), None, b.take(~here), emits, executed, hops
        live = ~fin_mask
        away = live & ~here
        return b.take(live & here), b.take(fin_mask), (b.take(away) if away.any() else None), emits, executed, hops

    def _uniform_round(self, b: Batch, nd: int, p: int, steps: np.ndarray):
        """Every packet at one node and one instruction (the data-parallel case, and every single-packet
        round): run it once on the whole batch in place, and route with scalars when every packet goes to
        the same next instruction on the same node. None (nothing has run) when the general round is
        needed."""
        prog = self.program
        if prog.static_fault[p]:
            return None
        ins = self._ins(p)
        spec = SPEC[ins.op]
        if (ins.node != ANY and ins.node != nd) or int(steps.max()) + 1 >= self.max_steps:
            return None
        n = b.n
        S = b.T.T
        if spec.memory and nd is not None:  # every address valid and owned here, else the general round faults the others
            addr = (S[:, ins.a] if ins.a != IMM else np.zeros(n, dtype=np.uint64)) + np.uint64(ins.imm)
            if not (prog.shard.valid(addr, ins.width * ins.count).all() and (prog.shard.owner(addr) == nd).all()):
                return None
        c = Ctx(S, ins, nd, b.cid, steps, self.memory.get(nd), self.acc.get(nd), prog.num_nodes)  # nd None: node-free op
        spec.kernel(c)
        npc = c.next_pc
        if isinstance(npc, np.ndarray):
            npc = int(npc[0]) if (n == 1 or (npc == npc[0]).all()) else None
        dest = None
        if c.status is None and c.hop is None and npc is not None and npc < len(prog.code) and prog.is_memory[npc]:
            if not prog.static_fault[npc]:  # the next instruction runs where its address lives
                nins = self._ins(npc)
                addr = (S[:, nins.a] if nins.a != IMM else np.zeros(n, dtype=np.uint64)) + np.uint64(nins.imm)
                if prog.shard.valid(addr, nins.width * nins.count).all():
                    owners = prog.shard.owner(addr)
                    if n == 1 or (owners == owners[0]).all():
                        dest = int(owners[0])
            if dest is None:
                npc = None  # mixed owners or a bad address: the general tail routes each packet
        if c.status is not None or c.hop is not None or npc is None or npc >= len(prog.code):
            status = c.status if c.status is not None else np.zeros(n, dtype=np.uint16)
            detail = c.detail if c.detail is not None else np.zeros(n, dtype=np.uint64)
            new_pc = np.broadcast_to(np.asarray(c.next_pc, dtype=np.uint32), (n,)).copy()
            loc = c.hop.astype(np.uint32) if c.hop is not None else b.node.copy()
            return self._tail(b, steps, status, detail, new_pc, loc, c.emits, n)
        if dest is None:
            nxt = int(prog.node_of[npc])
            dest = nd if nxt == ANY else nxt
        if dest is None:  # packets on several nodes, next instruction runs wherever each one is
            b.T[SLOT_RUNTIME] = np.uint64(p << 32) | (steps + np.uint64(1))
            b.pc = np.full(n, npc, dtype=np.uint32)
            return b, None, None, c.emits, n, 0
        if dest >= prog.num_nodes:  # a statically bad node: the general tail makes the ERROR packets
            return self._tail(b, steps, np.zeros(n, dtype=np.uint16), np.zeros(n, dtype=np.uint64),
                              np.full(n, npc, dtype=np.uint32), b.node.copy(), c.emits, n)  # fmt: skip
        b.T[SLOT_RUNTIME] = np.uint64(p << 32) | (steps + np.uint64(1))
        b.pc = np.full(n, npc, dtype=np.uint32)
        hops = 0
        if dest != nd:
            hops = n if nd is not None else int(np.count_nonzero(b.node != dest))
            b.node = np.full(n, dest, dtype=np.uint32)
        if self.hosted_mask[dest]:
            return b, None, None, c.emits, n, hops
        return Batch.cat([]), None, b, c.emits, n, hops

    def _run_group(self, rows, nd, p, S, cids, steps, status, detail, new_pc, loc, emits) -> None:
        prog = self.program
        sl = slice(None) if rows is None else rows
        if prog.static_fault[p]:
            status[sl] = prog.static_fault[p]
            detail[sl] = prog.static_detail[p]
            return
        ins = self._ins(p)
        spec = SPEC[ins.op]
        if ins.node != ANY and ins.node != nd:
            status[sl] = Status.MISROUTED
            detail[sl] = nd
            return
        if spec.memory:
            idx = np.arange(len(S)) if rows is None else rows
            base = S[idx, ins.a] if ins.a != IMM else np.zeros(len(idx), dtype=np.uint64)
            addr = base + np.uint64(ins.imm)
            nbytes = ins.width * ins.count
            ok = prog.shard.valid(addr, nbytes)
            owner_ok = prog.shard.owner(addr) == nd
            if not (ok & owner_ok).all():
                badr = idx[~ok]
                status[badr] = Status.BAD_ADDRESS
                detail[badr] = addr[~ok]
                mis = idx[ok & ~owner_ok]
                status[mis] = Status.MISROUTED
                detail[mis] = nd
                rows = idx[ok & owner_ok]
                sl = rows
                if not len(rows):
                    return
        if rows is None:
            Sg = S
            c = Ctx(Sg, ins, nd, cids, steps, self.memory.get(nd), self.acc.get(nd), prog.num_nodes)
        else:
            Sg = S[rows]
            c = Ctx(Sg, ins, nd, cids[rows], steps[rows], self.memory.get(nd), self.acc.get(nd), prog.num_nodes)
        spec.kernel(c)
        if rows is not None:
            S[rows] = Sg
        new_pc[sl] = c.next_pc
        if c.hop is not None:
            loc[sl] = c.hop
        if c.status is not None:
            status[sl] = c.status
            detail[sl] = np.where(c.status != 0, c.detail, detail[sl])
        if c.emits:
            emits.extend(c.emits)

    # results --------------------------------------------------------------------------------------------
    def accumulators(self) -> Accumulators:
        merged = Accumulators()
        for acc in self.acc.values():
            merged.merge(acc)
        return merged

    def memory_blocks(self) -> list[tuple[int, np.ndarray]]:
        return [blk for mem in self.memory.values() for blk in mem.blocks()]


_NODE_FREE_OPS = frozenset(
    s.code for s in SPEC.values()
    if not s.memory and s.name not in ("NODEID", "HOP", "EMIT", "RADD", "RXOR", "RMIN", "RMAX", "RFSUM")
)  # fmt: skip


class Batch:
    """Packets in structure-of-arrays form: computation ids, operation codes, nodes, and the slots as a
    (24, n) array (one contiguous row per slot)."""

    __slots__ = ("cid", "pc", "node", "T")

    def __init__(self, cid: np.ndarray, pc: np.ndarray, node: np.ndarray, T: np.ndarray):
        self.cid, self.pc, self.node, self.T = cid, pc, node, T

    @property
    def n(self) -> int:
        return len(self.cid)

    @classmethod
    def from_packets(cls, packets: np.ndarray) -> Batch:
        P = to_c(packets)
        if len(P) == 0:
            return cls(np.zeros(0, np.uint64), np.zeros(0, np.uint32), np.zeros(0, np.uint32), np.zeros((NUM_SLOTS, 0), np.uint64))
        T = np.empty((NUM_SLOTS, len(P)), dtype=np.uint64)
        T.T[:] = slots(np.ascontiguousarray(P)) if P.flags.writeable else slots(P.copy())
        return cls(P["computation_id"].copy(), P["operation_code"].copy(), P["next_node_id"].copy(), T)

    @classmethod
    def from_wire_bytes(cls, buf: bytes | memoryview) -> Batch:
        """Straight from wire bytes (n × 208, packed layout) to columns."""
        n = len(buf) // WIRE_SIZE
        raw = np.frombuffer(buf, dtype=np.uint8, count=n * WIRE_SIZE).reshape(n, WIRE_SIZE)
        cid = raw[:, 0:8].copy().view("<u8").reshape(n)  # copies: the buffer is read-only
        pc = raw[:, 8:12].copy().view("<u4").reshape(n)
        node = raw[:, 204:208].copy().view("<u4").reshape(n)
        T = raw[:, 12:204].copy().view("<u8").T.copy()
        return cls(cid, pc, node, T)

    def to_wire_bytes(self) -> bytes:
        """The packed wire layout of these packets, n × 208 bytes."""
        n = self.n
        raw = np.empty((n, WIRE_SIZE), dtype=np.uint8)
        raw[:, 0:8] = self.cid.astype("<u8").view(np.uint8).reshape(n, 8)
        raw[:, 8:12] = self.pc.astype("<u4").view(np.uint8).reshape(n, 4)
        raw[:, 12:204] = np.ascontiguousarray(self.T.T).view(np.uint8).reshape(n, 192)
        raw[:, 204:208] = self.node.astype("<u4").view(np.uint8).reshape(n, 4)
        return raw.tobytes()

    def to_packets(self) -> np.ndarray:
        P = np.zeros(self.n, dtype=PACKET_C)
        if self.n:
            P["computation_id"] = self.cid
            P["operation_code"] = self.pc
            P["next_node_id"] = self.node
            slots(P)[:] = self.T.T
        return P

    def take(self, index) -> Batch:
        return Batch(self.cid[index], self.pc[index], self.node[index], self.T[:, index])

    @staticmethod
    def cat(parts: list[Batch]) -> Batch:
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return Batch.from_packets(np.zeros(0, dtype=PACKET_C))
        return Batch(
            np.concatenate([p.cid for p in parts]), np.concatenate([p.pc for p in parts]),
            np.concatenate([p.node for p in parts]), np.concatenate([p.T for p in parts], axis=1),
        )  # fmt: skip


class _Ins:
    """A decoded instruction with plain int fields (cheaper than numpy records inside kernels)."""

    _fields = ("op", "dst", "a", "b", "width", "flags", "count", "node", "next", "alt", "imm")
    __slots__ = _fields

    def __init__(self, *values):
        for f, v in zip(self._fields, values, strict=True):
            setattr(self, f, v)






