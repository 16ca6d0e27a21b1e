"""The one error type of the workloads layer: bad input or a failed run, said in one sentence."""

from __future__ import annotations


class WorkloadError(Exception):
    """A workload could not run: bad input (a sequence, a template, a dataset option), an unreachable
    node, or a result that failed its own check. The CLI prints the message and exits with ``exit_code``."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(WorkloadError):
    """The user's input is malformed (sequence, FASTA file, address, option combination)."""

    exit_code = 2


class RemoteError(WorkloadError):
    """A remote service (a node's JSON-RPC) refused, failed or could not be reached."""

    exit_code = 3


class VerificationError(WorkloadError):
    """A result did not pass its independent check (a block hash above target, an energy mismatch)."""

    exit_code = 4
