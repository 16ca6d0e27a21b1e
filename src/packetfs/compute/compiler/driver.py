"""C source -> Module (the compile half of `packetfs compile`)."""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import CompileError
from .frontend import parse
from .ir import Module
from .lower import Lowerer, NeedQualifiedTypes


def compile_source(source: str, filename: str = "<input>", include: list[str] | None = None,
                   defines: list[str] | None = None, require_main: bool = True) -> Module:
    """Compile one translation unit to an (unlinked) Module."""
    ast = parse(source, filename, include, defines)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        try:
            module = Lowerer(filename).lower(ast)
        except NeedQualifiedTypes:  # the unit uses _Generic: lower it again recording qualified types
            lowerer = Lowerer(filename)
            lowerer.track_quals = True
            module = lowerer.lower(ast)
        if require_main and "main" not in module.functions:
            raise CompileError("no function 'main' defined", filename)
        return module
    except RecursionError as e:
        raise CompileError("expression or statement nesting too deep", filename) from e
    finally:
        sys.setrecursionlimit(old)


def compile_file(path: str | Path, include: list[str] | None = None, defines: list[str] | None = None) -> Module:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as e:
        raise CompileError(f"cannot read {p}: {e.strerror}") from e
    return compile_source(text, str(p), include, defines)
