"""Front end: the system C preprocessor with the shipped headers, then pycparser."""

from __future__ import annotations

import re
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


# GNU attributes that do not change what a program computes or prints (calling conventions, inlining,
# warnings, optimiser hints): dropped before parsing, as pycparser does not parse GNU attributes. Any other
# attribute (packed, aligned, constructor, cleanup, vector_size, weak, ...) changes layout or behaviour
# and is an "unsupported" error, never silently ignored.
IGNORED_ATTRIBUTES = frozenset("""
    noinline noreturn unused used maybe_unused always_inline gnu_inline artificial cold hot const pure
    format format_arg nonnull returns_nonnull deprecated unavailable warn_unused_result nodiscard nothrow
    leaf malloc alloc_size alloc_align stdcall cdecl fastcall thiscall ms_abi sysv_abi regparm noclone
    noipa no_instrument_function no_sanitize no_sanitize_address no_stack_protector sentinel access
    fallthrough externally_visible flatten optimize target nonstring no_reorder visibility may_alias
    noplt returns_twice
""".split())
_ATTRIBUTE = re.compile(r"\b__attribute(?:__)?\b")
_SKIP = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|^#[^\n]*', re.M)


def strip_attributes(text: str, filename: str = "<input>") -> str:
    """Blank out `__attribute__((...))` whose attributes are all IGNORED_ATTRIBUTES (keeping line and
    column of everything else); raise an "unsupported" CompileError at any other attribute."""
    if "__attribute" not in text:
        return text
    skips = [(m.start(), m.end()) for m in _SKIP.finditer(text)]
    out = []
    pos = 0
    si = 0
    for m in _ATTRIBUTE.finditer(text):
        while si < len(skips) and skips[si][1] <= m.start():
            si += 1
        if si < len(skips) and skips[si][0] <= m.start():
            continue  # inside a string, character constant or line marker
        if m.start() < pos:
            continue
        i = m.end()
        while i < len(text) and text[i] in " \t\n":
            i += 1
        if i >= len(text) or text[i] != "(":
            raise CompileError("expected '(' after __attribute__", _coord(text, m.start(), filename))
        depth, j = 0, i
        while j < len(text):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
            if depth == 0:
                break
        if depth:
            raise CompileError("unbalanced parentheses in __attribute__", _coord(text, m.start(), filename))
        for name in _attribute_names(text[i + 1:j - 1]):
            if name not in IGNORED_ATTRIBUTES:
                raise CompileError(f"unsupported: __attribute__(({name}))", _coord(text, m.start(), filename))
        out.append(text[pos:m.start()])
        out.append("".join(c if c == "\n" else " " for c in text[m.start():j]))
        pos = j
    out.append(text[pos:])
    return "".join(out)


def _attribute_names(inner: str) -> list[str]:
    """`(noinline, format(printf, 1, 2))` -> ['noinline', 'format'] (the names at the top level)."""
    inner = inner.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    names, depth, cur = [], 0, []
    for c in inner + ",":
        if c == "," and depth == 0:
            word = "".join(cur).strip()
            cur = []
            if word:
                name = re.match(r"\w*", word).group(0)
                names.append(name[2:-2] if name.startswith("__") and name.endswith("__") and len(name) > 4
                             else name)
            continue
        depth += {"(": 1, ")": -1}.get(c, 0)
        cur.append(c)
    return names


def _coord(text: str, offset: int, filename: str) -> str:
    """file:line:column of an offset in preprocessed text (following the preprocessor's line markers)."""
    line, name = 1, filename
    start = 0
    for m in re.finditer(r"\n", text[:offset]):
        seg = text[start:m.start()]
        mark = re.match(r'#\s*(\d+)\s+"([^"]*)"', seg)
        if mark:
            line, name = int(mark.group(1)), mark.group(2)
        else:
            line += 1
        start = m.end()
    return f"{name}:{line}:{offset - start + 1}"


def _with_location(message: str, parser: c_parser.CParser) -> str:
    """Some pycparser errors name only the file ("f.c: Invalid expression"): add the line and column of
    the furthest token it read, which is where it gave up."""
    if re.match(r"[^\n]*:\d+:\d+: ", message):
        return message
    tokens = [t for t in getattr(getattr(parser, "_tokens", None), "_buffer", []) if t is not None]
    if not tokens:
        return message
    tok = tokens[-1]
    return f"{tok.filename}:{tok.lineno}:{tok.column}: {message.split(': ', 1)[-1]} (near '{tok.value}')"


def parse(source: str, filename: str = "<input>", include: list[str] | None = None,
          defines: list[str] | None = None) -> c_ast.FileAST:
    text = strip_attributes(preprocess(source, filename, include, defines), filename)
    parser = c_parser.CParser()
    try:
        return parser.parse(text, filename)
    except ParseError as e:
        raise CompileError(f"parse error (pycparser): {_with_location(str(e), parser)}") from e
    except (RecursionError, AssertionError, IndexError, TypeError) as e:
        raise CompileError(f"parse error (pycparser): {type(e).__name__}: {e}") from e
