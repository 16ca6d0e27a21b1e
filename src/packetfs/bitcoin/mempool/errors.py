"""The mempool layer's error and result categories (Core's TxValidationResult)."""

from __future__ import annotations

from enum import StrEnum

from ..errors import PacketFSError


class TxResult(StrEnum):
    """Why a transaction was refused, by kind (Core's TxValidationResult), which decides what a
    node does next: punish a peer, keep an orphan, retry as a package."""

    CONSENSUS = "consensus"
    NOT_STANDARD = "not-standard"
    MISSING_INPUTS = "missing-inputs"
    PREMATURE_SPEND = "premature-spend"
    WITNESS_MUTATED = "witness-mutated"
    WITNESS_STRIPPED = "witness-stripped"
    CONFLICT = "conflict"
    MEMPOOL_POLICY = "mempool-policy"
    INPUTS_NOT_STANDARD = "inputs-not-standard"
    RECONSIDERABLE = "reconsiderable"
    NO_MEMPOOL = "no-mempool"


class MempoolReject(PacketFSError):
    """A transaction was not accepted. ``reason`` is Core's reject reason, ``debug`` its detail."""

    def __init__(self, reason: str, debug: str = "", result: TxResult = TxResult.MEMPOOL_POLICY):
        self.reason = reason
        self.debug = debug
        self.result = result
        super().__init__(f"{reason}, {debug}" if debug else reason)


class PackageReject(PacketFSError):
    """A package as a whole was refused (Core's PackageValidationState): ``reason`` is Core's
    package message ("package-not-sorted", "transaction failed", "package RBF failed: ...")."""

    def __init__(self, reason: str, debug: str = "", failure: tuple | None = None):
        self.reason = reason
        self.debug = debug
        self.failure = failure  # (the transaction's workspace, its MempoolReject) for "transaction failed"
        super().__init__(f"{reason}, {debug}" if debug else reason)
