"""The node runtime: executes packets at the nodes one worker hosts. Shared by every backend, so the same
program gives the same bits whatever backend, node count or arrival order.

One round: the live packets at hosted nodes are grouped by (node, pc); each group runs its instruction as one
vectorized numpy operation (the whole batch in place when every packet is at the same instruction, the common
data-parallel case); then every packet is routed to the node that runs its next instruction. Packets that
finished (HALT or a fault) leave as terminal packets for the origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..isa import ANY, HALT_MARK, IMM, SPEC, Ctx, Status
from ..packet import PACKET_C, SLOT_RESULT, SLOT_RUNTIME, TERMINAL, concat, copy, slots, take, to_c
from .node import Accumulators, NodeMemory
from .program import Program

DEFAULT_MAX_STEPS = 1 << 24
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

    def __init__(self, program: Program, hosted: list[int] | None = None, max_steps: int = DEFAULT_MAX_STEPS):
        self.program = program
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

    def execute(self, packets: np.ndarray, max_rounds: int = 1 << 30) -> StepOutput:
        """Run ``packets`` (live, at hosted nodes) until they leave this group, finish, or ``max_rounds``."""
        P = to_c(packets)
        if P is packets:
            P = copy(P)  # never run on the caller's array
        done, away, emits = [], [], []
        steps = hops = 0
        rounds = 0
        with np.errstate(all="ignore"):
            while len(P) and rounds < max_rounds:
                rounds += 1
                P, fin, out, em, n_exec, n_hops = self._round(P)
                steps += n_exec
                hops += n_hops
                if len(fin):
                    done.append(fin)
                if len(out):
                    away.append(out)
                emits.extend(em)
        cat = _cat
        return StepOutput(P, cat(away), cat(done), emits, steps, hops)

    def _round(self, P: np.ndarray):
        prog = self.program
        n = len(P)
        S = slots(P)
        node = P["next_node_id"].copy()
        pc = P["operation_code"].copy()
        runtime = S[:, SLOT_RUNTIME].copy()
        steps = runtime & _MASK32
        status = np.zeros(n, dtype=np.uint16)
        detail = np.zeros(n, dtype=np.uint64)
        new_pc = np.zeros(n, dtype=np.uint32)
        loc = node.copy()
        emits: list[np.ndarray] = []
        cids = P["computation_id"]

        bad_pc = pc >= len(prog.code)
        status[bad_pc] = Status.BAD_PC
        detail[bad_pc] = pc[bad_pc]
        bad_node = ~bad_pc & ~self.is_hosted(node)
        status[bad_node] = Status.BAD_NODE if not self.all_hosted else Status.BAD_NODE
        detail[bad_node] = node[bad_node]
        runnable = status == 0

        key = (node.astype(np.uint64) << np.uint64(32)) | pc.astype(np.uint64)
        if runnable.all() and (n == 1 or key.min() == key.max()):
            groups = [(None, int(node[0]), int(pc[0]))]
        else:
            rows = np.flatnonzero(runnable)
            order = rows[np.argsort(key[rows], kind="stable")]
            ks = key[order]
            cuts = np.flatnonzero(ks[1:] != ks[:-1]) + 1
            groups = [(g, int(node[g[0]]), int(pc[g[0]])) for g in np.split(order, cuts)] if len(order) else []

        for rows, nd, p in groups:
            self._run_group(rows, nd, p, S, cids, steps, status, detail, new_pc, loc, emits)

        # the runtime word: (pc << 32) | steps+1 for every packet that ran (or faulted here)
        S[:, SLOT_RUNTIME] = (pc.astype(np.uint64) << np.uint64(32)) | ((steps + np.uint64(1)) & _MASK32)

        live = status == 0
        if live.any():
            lrows = np.flatnonzero(live)
            dest, rst, rdet = prog.route(new_pc[lrows], loc[lrows], S[lrows], steps[lrows] + np.uint64(1), self.max_steps)
            bad = rst != 0
            status[lrows[bad]] = rst[bad]
            detail[lrows[bad]] = rdet[bad]
            P["operation_code"][lrows] = new_pc[lrows]
            P["next_node_id"][lrows] = dest
        fin_mask = status != 0
        if fin_mask.any():
            st = status[fin_mask]
            st = np.where(st == HALT_MARK, np.uint16(Status.HALTED), st)
            P["operation_code"][fin_mask] = np.uint32(TERMINAL) | st.astype(np.uint32)
            S[fin_mask, SLOT_RESULT] = detail[fin_mask]
            P["next_node_id"][fin_mask] = loc[fin_mask]
        live = ~fin_mask
        dest_all = P["next_node_id"]
        hops = int(np.count_nonzero(live & (dest_all != node)))
        executed = int(np.count_nonzero(~(bad_pc | bad_node)))
        if not fin_mask.any():
            here = self.is_hosted(dest_all)
            if here.all():
                return P, P[:0], P[:0], emits, executed, hops
            return take(P, here), P[:0], take(P, ~here), emits, executed, hops
        here = live & self.is_hosted(dest_all)
        return take(P, here), take(P, fin_mask), take(P, live & ~here), emits, executed, hops

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


class _Ins:
    """A decoded instruction with plain int fields (cheaper than numpy records inside kernels)."""

    _fields = ("op", "dst", "a", "b", "width", "flags", "count", "node", "next", "alt", "imm")
    __slots__ = _fields

    def __init__(self, *values):
        for f, v in zip(self._fields, values, strict=True):
            setattr(self, f, v)


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return concat(parts, PACKET_C)



