"""Front end: the system C preprocessor with the shipped headers, then pycparser."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import weakref
from functools import lru_cache
from pathlib import Path

from pycparser import c_ast, c_parser
from pycparser.c_parser import ParseError

from .errors import CompileError
from .fastlex import FastCLexer
from .headers import include_dir

MAX_SOURCE_BYTES = 8 << 20


def _preprocessor() -> list[str]:
    for cmd in (["gcc", "-E"], ["cpp"]):
        if shutil.which(cmd[0]):
            return cmd
    raise CompileError("no C preprocessor found (need gcc or cpp on PATH)")


@lru_cache(maxsize=32)
def _cc1_command(cmd: tuple[str, ...]) -> tuple[str, ...]:
    """The preprocessor `gcc -E` itself runs for these options (as `gcc -###` lists it): running it
    directly skips the driver process, a third of the preprocessing time for a small file, for the
    same output. Falls back to the driver when gcc's listing is not one plain cc1 command."""
    if os.path.basename(cmd[0]) != "gcc" or cmd[1] != "-E":
        return cmd
    try:
        proc = subprocess.run([cmd[0], "-###", *cmd[1:]], capture_output=True, timeout=60, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return cmd
    lines = [line for line in proc.stderr.splitlines() if line.startswith(" ") and "cc1" in line]
    if proc.returncode != 0 or len(lines) != 1:
        return cmd
    argv = shlex.split(lines[0])
    if os.path.basename(argv[0]) != "cc1" or "-E" not in argv or not os.access(argv[0], os.X_OK):
        return cmd
    return tuple(argv)


def preprocess(source: str, filename: str = "<input>", include: list[str] | None = None,
               defines: list[str] | None = None) -> str:
    if len(source) > MAX_SOURCE_BYTES:
        raise CompileError(f"source is {len(source)} bytes, over the {MAX_SOURCE_BYTES}-byte limit")
    cmd = _preprocessor() + ["-nostdinc", "-undef", "-D__PACKETFS__=1", "-D__x86_64__=1", "-D__LP64__=1",
                             "-std=gnu99", "-D__alignof__=_Alignof", "-D__alignof=_Alignof",
                             "-isystem", str(include_dir())]
    for d in include or []:
        cmd += ["-I", d]
    for d in defines or []:
        cmd += ["-D", d]
    if filename != "<input>":
        cmd += ["-I", str(Path(filename).resolve().parent)]
    cmd += ["-x", "c", "-"]
    try:
        proc = subprocess.run(_cc1_command(tuple(cmd)), input=source.encode("utf-8", "surrogateescape"),
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


# `packed` and `aligned(N)` reach the lowering as marker members pycparser can parse (lower/types.py
# removes them before the layout): PACKED_STRUCT / ALIGNED_STRUCT inside a struct/union body apply to the
# whole type, PACKED_MEMBER / ALIGNED_MEMBER to the member declared right after them (ALIGNED_* are
# `char NAME[N];`, so N is evaluated as the constant expression it is).
PACKED_STRUCT = "__pfx_packed"
PACKED_MEMBER = "__pfx_packed_member"
ALIGNED_STRUCT = "__pfx_aligned"
ALIGNED_MEMBER = "__pfx_aligned_member"
_STRUCT_KEYWORD = re.compile(r"\b(?:struct|union)\s*$")
_AFTER_KEYWORD = re.compile(r"(?:\s|\b__attribute(?:__)?\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\))*"
                            r"(?:[A-Za-z_]\w*)?\s*\{")
_ATTRIBUTE_TEXT = re.compile(r"\b__attribute(?:__)?\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)")


def _prev_nonspace(text: str, i: int) -> int:
    i -= 1
    while i >= 0 and text[i] in " \t\n":
        i -= 1
    return i


def _match_brace(text: str, at: int, step: int) -> int:
    """Index of the brace matching the one at ``at``: scanning forward from a '{' (step 1) or back from a
    '}' (step -1); -1 if none."""
    opening, closing = ("{", "}") if step == 1 else ("}", "{")
    depth = 0
    for i in range(at, len(text) if step == 1 else -1, step):
        c = text[i]
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i
    return -1


def _is_struct_body(text: str, brace: int) -> bool:
    """Whether the '{' at brace opens a struct or union body (`struct TAG {`, `union {`)."""
    head = _ATTRIBUTE_TEXT.sub(" ", text[max(0, brace - 300):brace]).rstrip()
    head = re.sub(r"[A-Za-z_]\w*$", "", head).rstrip() if not _STRUCT_KEYWORD.search(head) else head
    return bool(_STRUCT_KEYWORD.search(head))


def _markers(layout: list[tuple[str, str | None]], member: bool) -> str:
    out = []
    for name, arg in layout:
        if name == "packed":
            out.append(f"int {PACKED_MEMBER if member else PACKED_STRUCT}:0;")
        else:
            out.append(f"char {ALIGNED_MEMBER if member else ALIGNED_STRUCT}[{arg}];")
    return "".join(out)


def _not_on_struct(layout: list[tuple[str, str | None]], text: str, start: int, filename: str) -> None:
    """packed where gcc ignores it is ignored; aligned there (a variable's or typedef's) is rejected."""
    if any(name == "aligned" for name, _ in layout):
        raise CompileError("unsupported: __attribute__((aligned)) on a variable, typedef or function (it is "
                           "supported on struct and union types and members)", _coord(text, start, filename))


def _layout_edits(text: str, start: int, end: int, filename: str,
                  layout: list[tuple[str, str | None]]) -> list[tuple[int, int, str]] | None:
    """Edits that turn a `packed` / `aligned(N)` attribute at text[start:end] into marker members, or None
    when gcc ignores it there (packed on a variable or typedef that is not a struct member)."""
    blank = "".join(c if c == "\n" else " " for c in text[start:end])
    k = _prev_nonspace(text, start)
    while k >= 0 and text[k] == ")":  # skip attributes written before this one
        matches = list(_ATTRIBUTE_TEXT.finditer(text, max(0, k - 300), k + 1))
        m = matches[-1] if matches else None  # the last attribute that ends here, if any
        if m is None or m.end() != k + 1:
            break
        k = _prev_nonspace(text, m.start())
    if k >= 0 and text[k] == "}" and _is_struct_body(text, _match_brace(text, k, -1)):
        # `struct S {...} __attribute__((packed))`: the marker goes before the '}', in the attribute's room
        markers = _markers(layout, member=False)
        span = text[k:end]
        if text[k + 1:start].strip() or len(markers) + 1 > len(span):
            return [(k, k, markers), (start, end, blank)]
        marker = markers + "}"
        rest = "".join(c if c == "\n" else " " for c in span[len(marker):])
        return [(k, end, marker + rest + "\n" * span[:len(marker)].count("\n"))]
    if k >= 0 and _STRUCT_KEYWORD.search(text[max(0, k - 19):k + 1]):
        # `struct __attribute__((packed)) S {...}`: the marker goes before the body's '}'
        m = _AFTER_KEYWORD.match(text, end)
        if m is None:
            _not_on_struct(layout, text, start, filename)
            return [(start, end, blank)]  # a reference to the type, where gcc ignores packed
        close = _match_brace(text, m.end() - 1, 1)
        if close < 0:
            raise CompileError("unbalanced braces after __attribute__", _coord(text, start, filename))
        return [(start, end, blank), (close, close, _markers(layout, member=False))]
    # on a declarator: a struct member's is packed, anything else's is ignored (as gcc does)
    i, depth = start - 1, 0
    while i >= 0:
        c = text[i]
        if depth == 0 and c in ";{":
            break
        if c in ")]}":
            depth += 1
        elif c in "([{":
            depth -= 1
        elif depth == 0 and c == ",":
            raise CompileError(f"unsupported: __attribute__(({layout[0][0]})) on one of several declarators",
                               _coord(text, start, filename))
        i -= 1
    if i < 0 or not (_is_struct_body(text, i) if text[i] == "{" else _inside_struct(text, i)):
        _not_on_struct(layout, text, start, filename)
        return None
    j, depth = end, 0
    while j < len(text) and not (depth == 0 and text[j] in ";}"):
        if depth == 0 and text[j] == ",":
            raise CompileError(f"unsupported: __attribute__(({layout[0][0]})) on one of several declarators",
                               _coord(text, start, filename))
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(text[j], 0)
        j += 1
    return [(i + 1, i + 1, _markers(layout, member=True)), (start, end, blank)]


def _inside_struct(text: str, i: int) -> bool:
    """Whether position i (the ';' ending a member) lies directly inside a struct or union body."""
    depth = 0
    for j in range(i, -1, -1):
        c = text[j]
        if c == "}":
            depth += 1
        elif c == "{":
            if depth == 0:
                return _is_struct_body(text, j)
            depth -= 1
    return False


def strip_attributes(text: str, filename: str = "<input>") -> str:
    """Blank out `__attribute__((...))` whose attributes are all IGNORED_ATTRIBUTES (keeping line and
    column of everything else), turn `packed` into marker members (see PACKED_STRUCT); raise an
    "unsupported" CompileError at any other attribute."""
    if "__attribute" not in text:
        return text
    skips = [(m.start(), m.end()) for m in _SKIP.finditer(text)]
    edits: list[tuple[int, int, str]] = []
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
        layout: list[tuple[str, str | None]] = []
        for name, arg in _attributes(text[i + 1:j - 1]):
            if name == "packed":
                layout.append((name, None))
            elif name == "aligned":
                layout.append((name, arg if arg and arg.strip() else "16"))  # bare `aligned`: x86-64's 16
            elif name not in IGNORED_ATTRIBUTES:
                raise CompileError(f"unsupported: __attribute__(({name}))", _coord(text, m.start(), filename))
        pos = j
        if layout:
            edits.extend(_layout_edits(text, m.start(), j, filename, layout) or [(m.start(), j, None)])
        else:
            edits.append((m.start(), j, None))
    edits.sort(key=lambda e: (e[0], e[1]))
    pos = 0
    for start, end, repl in edits:
        out.append(text[pos:start])
        out.append("".join(c if c == "\n" else " " for c in text[start:end]) if repl is None else repl)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _attribute_names(inner: str) -> list[str]:
    """`(noinline, format(printf, 1, 2))` -> ['noinline', 'format'] (the names at the top level)."""
    return [name for name, _ in _attributes(inner)]


def _attributes(inner: str) -> list[tuple[str, str | None]]:
    """`(noinline, aligned(8+8))` -> [('noinline', None), ('aligned', '8+8')]: top-level names (with GNU's
    `__name__` spelling folded) and the text of their arguments."""
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
                rest = word[len(name):].strip()
                arg = rest[1:-1] if rest.startswith("(") and rest.endswith(")") else None
                names.append((name[2:-2] if name.startswith("__") and name.endswith("__") and len(name) > 4
                              else name, arg))
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


# `_Alignof` (and gcc's `__alignof__`, defined to it) is parsed as `sizeof`, whose grammar takes both a
# type name and an expression (pycparser's _Alignof takes only a type name; gcc also allows an
# expression): the keyword is rewritten to `sizeof  ` (same columns) and the file:line:column of each is
# kept here for the unit's AST; the lowering turns the `sizeof` at those places into _Alignof and fails
# if any is left unmatched, so a position mismatch can never turn an _Alignof into a sizeof.
ALIGNOF_AT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_ALIGNOF = re.compile(r"\b_Alignof\b")


def _alignof_as_sizeof(text: str, filename: str) -> tuple[str, set[str]]:
    if "_Alignof" not in text:
        return text, set()
    skips = [(m.start(), m.end()) for m in _SKIP.finditer(text)]
    out, places, pos, si = [], set(), 0, 0
    for m in _ALIGNOF.finditer(text):
        while si < len(skips) and skips[si][1] <= m.start():
            si += 1
        if si < len(skips) and skips[si][0] <= m.start():
            continue  # inside a string, character constant or line marker
        places.add(_coord(text, m.start(), filename))
        out.append(text[pos:m.start()])
        out.append("sizeof  ")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), places


def parse(source: str, filename: str = "<input>", include: list[str] | None = None,
          defines: list[str] | None = None) -> c_ast.FileAST:
    text = strip_attributes(preprocess(source, filename, include, defines), filename)
    text, alignof_at = _alignof_as_sizeof(text, filename)
    parser = c_parser.CParser(lexer=FastCLexer)
    try:
        ast = parser.parse(text, filename)
        if alignof_at:
            ALIGNOF_AT[ast] = alignof_at
        return ast
    except ParseError as e:
        raise CompileError(f"parse error (pycparser): {_with_location(str(e), parser)}") from e
    except (RecursionError, AssertionError, IndexError, TypeError) as e:
        raise CompileError(f"parse error (pycparser): {type(e).__name__}: {e}") from e
    finally:
        # the parser and its lexer refer to each other (the lexer's error callback): break the cycle so
        # the thousands of tokens are freed now, not by a later cyclic collection during lowering
        parser.clex = None
        parser._tokens = None
