"""The miner: getblocktemplate -> coinbase and merkle root -> nonce ranges as packets on the fabric ->
exact target check -> submitblock; a new template whenever the node's tip moves.

Work split: the search space of a template is one line of (extranonce, nonce) pairs, extranonce-major: the
2^32 nonces of the first extranonce, then those of the next (8 bytes in the coinbase scriptSig; a new one
costs a coinbase txid and the hashes along the coinbase's merkle branch, plus a new midstate). Each fabric
run takes the next ``batch`` pairs of the line, which may straddle two or more extranonces, and cuts them
into one contiguous range per fabric node (as a hardware miner's job is cut across chips), so nonce and
extranonce space are both split across the nodes. The candidates of a run are checked in line order, so
the block found is the first one on the line: the same block whatever the node count or backend. The
header time is kept (the template's curtime), so the work is reproducible.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ....bitcoin.consensus.pow import check_proof_of_work
from ....bitcoin.primitives import BlockHeader, bits_to_target, hash_to_hex, sha256d
from ..errors import InputError, VerificationError
from ..fabric import Fabric
from . import grind
from .rpc import RpcClient
from .template import BlockTemplate, Candidate

DEFAULT_BATCH = 1 << 13  # nonces per fabric run: a batch that stays in cache runs ~2x faster than 2^15


@dataclass
class MinedBlock:
    height: int
    hash: str
    nonce: int
    extranonce: int
    accepted: bool
    reason: str | None


@dataclass
class MiningReport:
    blocks: list[MinedBlock] = field(default_factory=list)
    hashes: int = 0
    seconds: float = 0.0
    templates: int = 0
    candidates: int = 0  # packets that passed the fabric's 64-bit pre-check
    stale_refreshes: int = 0
    bytes_moved: int = 0

    @property
    def hashes_per_s(self) -> float:
        return self.hashes / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "blocks": [b.__dict__ for b in self.blocks], "hashes": self.hashes, "seconds": self.seconds,
            "hashes_per_s": self.hashes_per_s, "templates": self.templates, "candidates": self.candidates,
            "template_refreshes_on_new_tip": self.stale_refreshes, "bytes_moved": self.bytes_moved,
        }  # fmt: skip


def grind_batch(fabric: Fabric, program, header80: bytes, first: int, count: int) -> list[grind.Hit]:
    """Run nonces [first, first+count) of ``header80`` through the fabric; candidates that pass the
    fabric's pre-check."""
    return [hit for _, hit in grind_segments(fabric, program, [(header80, first, count)])]


def grind_segments(fabric: Fabric, program, segments: list[tuple[bytes, int, int]]) -> list[tuple[int, grind.Hit]]:
    """One fabric run over consecutive stretches of the work line, each (header80, first nonce, count): the
    whole run is cut into one contiguous range per node across the stretches. Returns (segment index, hit)
    in line order for the candidates that pass the fabric's pre-check."""
    total = sum(c for _, _, c in segments)
    position = np.arange(total, dtype=np.uint64)  # a packet's place on the run's stretch of the line
    inputs, starts, at = [], [], 0
    for header80, first, count in segments:
        inputs.append(grind.packet_inputs(header80, np.arange(first, first + count, dtype=np.uint64)))
        starts.append(at)
        at += count
    nodes = grind.nodes_for(position, 0, total, fabric.config.nodes)
    packets = program.packets(total, inputs=np.concatenate(inputs), computation_ids=position, nodes=nodes)
    out = []
    for hit in sorted(grind.hits_from(fabric.run(program, packets), 0), key=lambda h: h.nonce):
        seg = int(np.searchsorted(starts, hit.nonce, side="right")) - 1
        header80, first, _ = segments[seg]
        out.append((seg, grind.Hit(first + hit.nonce - starts[seg], hit.block_hash)))
    return out


def verify_hit(header80: bytes, hit: grind.Hit, target: int) -> bool:
    """The exact check: the fabric's hash equals hashlib's (via primitives.sha256d) and is <= target."""
    header = grind.header_with_nonce(header80, hit.nonce)
    real = sha256d(header)
    if real != hit.block_hash:
        raise VerificationError(f"the fabric's SHA-256d of nonce {hit.nonce} disagrees with hashlib's")
    return int.from_bytes(real, "little") <= target


class Miner:
    def __init__(self, rpc: RpcClient, payout_script: bytes, fabric: Fabric, batch: int = DEFAULT_BATCH,
                 tip_poll_s: float = 1.0, extranonce_start: int = 0, nonce_space: int = grind.MAX_NONCE) -> None:
        if not 1 <= batch <= 1 << 22:
            raise InputError("the batch must be 1..4194304 nonces")
        if not 1 <= nonce_space <= grind.MAX_NONCE:
            raise InputError("the nonces per extranonce must be 1..2^32")
        # Nonces ground per extranonce before it moves on: all 2^32 of the header's field by default; fewer
        # leaves the rest of each extranonce's nonces unsearched (and makes roll-over observable in tests).
        self.nonce_space = nonce_space
        self.tip_poll_s = tip_poll_s
        # Where this miner's extranonce space starts: two miners with different starts never grind the same
        # header for one template (the CLI passes --seed).
        self.extranonce_start = extranonce_start % (1 << 64)
        self.rpc = rpc
        self.payout_script = payout_script
        self.fabric = fabric
        self.batch = batch

    def template(self) -> BlockTemplate:
        return BlockTemplate.from_rpc(self.rpc.call("getblocktemplate", {"rules": ["segwit"]}))

    def mine(self, blocks: int, *, max_seconds: float | None = None, max_hashes: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> MiningReport:
        report = MiningReport()
        started = time.perf_counter()
        moved0 = self.fabric.totals.bytes_moved
        try:
            while len(report.blocks) < blocks:
                if max_seconds is not None and time.perf_counter() - started > max_seconds:
                    break
                if max_hashes is not None and report.hashes >= max_hashes:
                    break
                found = self._work_on_template(report, started, max_seconds, max_hashes)
                if found is not None:
                    report.blocks.append(found)
                    if progress is not None:
                        progress(len(report.blocks), blocks)
                    if not found.accepted:
                        break  # the same template would give the same rejected block: stop and say why
        finally:
            report.seconds = time.perf_counter() - started
            report.bytes_moved = self.fabric.totals.bytes_moved - moved0
        return report

    def _work_on_template(self, report: MiningReport, started: float, max_seconds: float | None,
                          max_hashes: int | None) -> MinedBlock | None:
        tpl = self.template()
        report.templates += 1
        candidate = Candidate(tpl, self.payout_script)
        program = grind.build_program(tpl.target, self.fabric.config.nodes)
        ntime = max(tpl.curtime, tpl.mintime)
        extranonce = self.extranonce_start
        nonce = 0
        header80 = candidate.header(extranonce, ntime).serialize()
        last_tip_check = time.perf_counter()
        while True:
            segments, extranonces, left = [], [], self.batch  # the next `batch` pairs of the work line
            while left:
                count = min(left, self.nonce_space - nonce)
                segments.append((header80, nonce, count))
                extranonces.append(extranonce)
                left -= count
                nonce += count
                if nonce >= self.nonce_space:
                    extranonce = (extranonce + 1) % (1 << 64)
                    nonce = 0
                    header80 = candidate.header(extranonce, ntime).serialize()
            hits = grind_segments(self.fabric, program, segments)
            report.hashes += self.batch
            report.candidates += len(hits)
            for seg, hit in hits:  # in line order: the first block on the line, on any node count
                if verify_hit(segments[seg][0], hit, tpl.target):
                    return self._submit(candidate, tpl, extranonces[seg], ntime, hit.nonce)
            now = time.perf_counter()
            if max_seconds is not None and now - started > max_seconds:
                return None
            if max_hashes is not None and report.hashes >= max_hashes:
                return None
            if now - last_tip_check >= self.tip_poll_s:
                last_tip_check = now
                if self.rpc.call("getbestblockhash") != hash_to_hex(tpl.prev_hash):
                    report.stale_refreshes += 1
                    return None  # the tip moved: this template is stale, fetch a new one

    def _submit(self, candidate: Candidate, tpl: BlockTemplate, extranonce: int, ntime: int, nonce: int) -> MinedBlock:
        raw = candidate.block_bytes(extranonce, ntime, nonce)
        header = BlockHeader.parse(raw)
        reason = self.rpc.call("submitblock", raw.hex())
        accepted = reason is None or reason == "inconclusive"
        if accepted:
            best = self.rpc.call("getbestblockhash")
            accepted = best == header.hash_hex
            if not accepted and reason is None:
                reason = f"node's tip is {best}, not the submitted block"
        return MinedBlock(tpl.height, header.hash_hex, nonce, extranonce, accepted, reason)


# --------------------------------------------------------------------------------------- difficulty check
@dataclass
class HeaderCheck:
    source: str
    hash: str
    bits: int
    ok: bool


def read_headers(paths: list[Path]) -> list[tuple[str, bytes]]:
    """(label, 80-byte header) from block files (``*.block``: a serialized block), directories of them, or
    other files holding back-to-back 80-byte headers."""
    out: list[tuple[str, bytes]] = []
    for path in paths:
        if path.is_dir():
            files = sorted(path.glob("*.block"))
            if not files:
                raise InputError(f"{path} holds no *.block files")
            out += [(f.name, _read(f, 80)) for f in files]
        elif path.suffix == ".block":
            out.append((path.name, _read(path, 80)))
        else:
            data = _read(path, None)
            if not data or len(data) % 80:
                raise InputError(f"{path} is not a whole number of 80-byte headers ({len(data)} bytes)")
            out += [(f"{path.name}#{i}", data[i * 80 : i * 80 + 80]) for i in range(len(data) // 80)]
    return out


def _read(path: Path, n: int | None) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read() if n is None else f.read(n)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    if n is not None and len(data) < n:
        raise InputError(f"{path} is shorter than an 80-byte header")
    return data


def difficulty_check(headers: list[tuple[str, bytes]], fabric: Fabric, network: str = "mainnet") -> list[HeaderCheck]:
    """Every header's proof of work through the mining path: midstate + two HASH packets on the fabric,
    the fabric's hash compared with hashlib's and with the target by consensus.pow."""
    out = []
    for label, header80 in headers:
        bits = int.from_bytes(header80[72:76], "little")
        try:
            target = bits_to_target(bits)
        except ValueError:
            out.append(HeaderCheck(label, hash_to_hex(sha256d(header80)), bits, False))
            continue
        program = grind.build_program(target, fabric.config.nodes)
        nonce = int.from_bytes(header80[76:80], "little")
        hits = grind_batch(fabric, program, header80, nonce, 1)
        ok = bool(hits) and verify_hit(header80, hits[0], target) and check_proof_of_work(
            hits[0].block_hash, bits, network)
        out.append(HeaderCheck(label, hash_to_hex(sha256d(header80)), bits, ok))
    return out
