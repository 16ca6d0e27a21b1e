"""The compiler's one error type, and the runtime fault a compiled program can raise."""

from __future__ import annotations


class CompileError(Exception):
    """C the compiler rejects: carries file:line:column and what is wrong or unsupported."""

    def __init__(self, message: str, coord: object = None) -> None:
        self.message = message
        self.where = _where(coord)
        super().__init__(f"{self.where}: {message}" if self.where else message)


class ProgramFault(Exception):
    """A compiled program did something C leaves undefined or the runtime refuses (bad address,
    division by zero, stack overflow, step limit); reported instead of a wrong result."""


def _where(coord: object) -> str:
    if coord is None:
        return ""
    if isinstance(coord, str):
        return coord
    file = getattr(coord, "file", None) or "<input>"
    line = getattr(coord, "line", 0)
    column = getattr(coord, "column", None)
    return f"{file}:{line}:{column}" if column else f"{file}:{line}"
