"""Front end: the system C preprocessor with the shipped headers, then pycparser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pycparser import c_ast, c_parser
from pycparser.c_parser import ParseError

from .errors import CompileError
from .headers import include_dir

MAX_SOURCE_BYTES = 8 << 20


def _preprocessor() -> list[str]:
    for cmd in (["gcc", "-E"], ["cpp"]):
        if shutil.which(cmd[0]):
            return cmd
    raise CompileError("no C preprocessor found (need gcc or cpp on PATH)")


def preprocess(source: str, filename: str = "<input>", include: list[str] | None = None,
               defines: list[str] | None = None) -> str:
    if len(source) > MAX_SOURCE_BYTES:
        raise CompileError(f"source is {len(source)} bytes, over the {MAX_SOURCE_BYTES}-byte limit")
    cmd = _preprocessor() + ["-nostdinc", "-undef", "-D__PACKETFS__=1", "-D__x86_64__=1", "-D__LP64__=1",
                             "-std=gnu99",
                             "-isystem", str(include_dir())]
    for d in include or []:
        cmd += ["-I", d]
    for d in defines or []:
        cmd += ["-D", d]
    if filename != "<input>":
        cmd += ["-I", str(Path(filename).resolve().parent)]
    cmd += ["-x", "c", "-"]
    try:
        proc = subprocess.run(cmd, input=source.encode("utf-8", "surrogateescape"),
                              capture_output=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        raise CompileError("the preprocessor took over 60 s") from e
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().replace("<stdin>", filename)
        raise CompileError(f"preprocessor failed: {msg.splitlines()[0] if msg else 'exit ' + str(proc.returncode)}")
    text = proc.stdout.decode("utf-8", "surrogateescape")
    return text.replace('"<stdin>"', f'"{filename}"')


def parse(source: str, filename: str = "<input>", include: list[str] | None = None,
          defines: list[str] | None = None) -> c_ast.FileAST:
    text = preprocess(source, filename, include, defines)
    try:
        return c_parser.CParser().parse(text, filename)
    except ParseError as e:
        raise CompileError(f"parse error (pycparser): {e}") from e
    except (RecursionError, AssertionError, IndexError, TypeError) as e:
        raise CompileError(f"parse error (pycparser): {type(e).__name__}: {e}") from e
