"""Front end and semantics: unsupported C is rejected with file:line:column, struct layout equals gcc's,
bad input never crashes the compiler (hypothesis)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ccharness import ours_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.compute.compiler.codegen import from_bytes, to_bytes
from packetfs.compute.compiler.driver import compile_source
from packetfs.compute.compiler.errors import CompileError
from packetfs.compute.compiler.execute import build

REJECTED = [
    ("int main(void) { return _Generic(1.0, int: 0); }", "_Generic has no association for type double"),
    ("int main(void) { return _Generic(1, int: 0, signed: 1); }", "more than one _Generic association matches"),
    ("int f(p) int *p; { return _Generic(p, int *: 1); } int main(void) { return 0; }",
     "unsupported: _Generic on a pointer expression whose qualifiers are not tracked"),
    ("int n = 3; int a[n]; int main(void) { return 0; }", "is not a constant"),
    ("int main(int n, char **v) { static char a[n]; return 0; }", "variable-length array 'a' with static storage"),
    ("int main(int n, char **v) { char a[n] = {0}; return 0; }", "variable-length array 'a' cannot be initialised"),
    ("int main(int n, char **v) { char a[n++]; return 0; }", "unsupported: a variable-length array size with side effects"),
    ("int main(int n, char **v) { char a[n][n]; int i = 0; return sizeof a[i++]; }",
     "unsupported: sizeof of a variable-length array expression with side effects"),
    ("int f(int n, int a[n][n]) { return a[0][0]; } int main(void) { return 0; }",
     "unsupported: a variable-length array parameter with a runtime size below its first dimension"),
    ("int main(int n, char **v) { goto in; { char a[n]; in: a[0] = 1; } return 0; }",
     "goto 'in' jumps into the scope of a variable-length array"),
    ("int main(int n, char **v) { switch (n) { char a[n]; case 1: a[0] = 1; } return 0; }",
     "switch jumps into the scope of a variable-length array"),
    ("int main(int n, char **v) { char a[n]; switch (n) { case sizeof a: return 1; } return 0; }",
     "unsupported: a variable-length array type here (it has no constant size)"),
    ("int main(void) { int a[*]; return 0; }", "'[*]' outside a function prototype's parameters"),
    ("int main(void) { int x __attribute__((aligned(16))); return 0; }", "unsupported: __attribute__((aligned))"),
    ("int main(void) { int x __attribute__((noinline; return 0; }", "unbalanced parentheses in __attribute__"),
    ("struct __attribute__((aligned(32))) z { int a; }; int main(void) { struct z v; v.a = 1; return v.a; }",
     "unsupported: a local object of type struct z aligned to 32 bytes (over 16)"),
    ("struct s { char c; int a __attribute__((aligned(3))); }; int main(void) { return 0; }",
     "requested alignment is not a power of 2"),
    ("int main(void) { _Alignas(16) char c = 0; return c; }", "unsupported: _Alignas"),
    ("struct s { _Alignas(8) char a; }; int main(void) { return 0; }", "unsupported: _Alignas"),
    ("int main(int n, char **v) { return _Generic(n, int: 0, default: _Alignof(v)); }",
     "unsupported: _Alignof here"),
    ("typedef int T __attribute__((aligned(8))); int main(void) { return 0; }",
     "unsupported: __attribute__((aligned)) on a variable, typedef or function"),
    ("struct s { int a : 3; int b : 7; } __attribute__((packed)); int main(void) { return 0; }",
     "unsupported: bit-fields in a packed struct"),
    ("struct s { char c; int a __attribute__((packed)), b; }; int main(void) { return 0; }",
     "unsupported: __attribute__((packed)) on one of several declarators"),
    ("int main(void) { return y; }", "'y' undeclared"),
    ("int main(void) { struct s; struct s v; return 0; }", "incomplete type"),
    ("int main(void) { int x; return x.f; }", "'.' on a non-struct"),
    ("int main(void) { goto nowhere; }", "label 'nowhere' used but not defined"),
    ("int f(void) { return 0; }", "no function 'main'"),
    ("int main(void) { undefined_fn(); return 0; }", "undefined reference to function 'undefined_fn'"),
    ("int main(void) { return 1 +; }", "parse error"),
    ('#include "missing.h"\nint main(void) { return 0; }', "preprocessor failed"),
    ("int main(void) { switch (1) { case 1: case 1: break; } return 0; }", "duplicate case value"),
]


@pytest.mark.parametrize("source,message", REJECTED, ids=[m for _, m in REJECTED])
def test_rejected_with_location(source, message):
    with pytest.raises(CompileError) as e:
        build(compile_source(source, "prog.c"))
    assert message in str(e.value)
    if not any(k in message for k in ("undefined reference", "no function", "preprocessor", "parse error")):
        assert "prog.c:1:" in str(e.value)  # file:line:column


LAYOUT = r"""
#include <stdio.h>
#include <stddef.h>
struct a { char c; int i; short s; };
struct b { char c; double d; char e[3]; };
struct c { struct a x; long l; char t; };
union u { char c[5]; int i; double d; };
struct bits { unsigned a : 3; int b : 7; unsigned : 0; unsigned c : 20; char d; unsigned long e : 40; };
struct arr { short s[3]; struct b inner[2]; };
struct flex { int n; long tail[]; };
int main(void) {
    printf("%zu %zu %zu %zu\n", sizeof(struct a), offsetof(struct a, i), offsetof(struct a, s), _Alignof(struct a));
    printf("%zu %zu %zu\n", sizeof(struct b), offsetof(struct b, d), offsetof(struct b, e));
    printf("%zu %zu %zu\n", sizeof(struct c), offsetof(struct c, l), offsetof(struct c, t));
    printf("%zu %zu\n", sizeof(union u), sizeof(struct bits));
    printf("%zu %zu %zu\n", sizeof(struct arr), offsetof(struct arr, inner), sizeof(struct flex));
    printf("%zu %zu %zu %zu %zu\n", sizeof(long double), sizeof(void *), sizeof(long), sizeof(short), sizeof(_Bool));
    return 0;
}
"""


def test_struct_layout_matches_gcc(gcc, tmp_path):
    src = tmp_path / "layout.c"
    src.write_text(LAYOUT.replace("_Alignof(struct a)", "(size_t)4").replace("sizeof(long double)", "(size_t)16"))
    subprocess.run(["gcc", "-w", "-o", str(tmp_path / "layout"), str(src)], check=True)
    expected = subprocess.run([str(tmp_path / "layout")], capture_output=True).stdout
    got = ours_source(src.read_text())
    assert got.stdout == expected


VALID = "int g = 3; int f(int x) { return x * g; }\nint main(void) { int i, s = 0; for (i = 0; i < 3; i++) s += f(i); return s; }\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_source_never_crashes(data):
    """Deleting, duplicating or inserting characters in a valid program gives a module or a CompileError."""
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text) - 1))
        kind = data.draw(st.sampled_from(["delete", "insert", "dup"]))
        if kind == "delete":
            text = text[:i] + text[i + 1:]
        elif kind == "insert":
            text = text[:i] + data.draw(st.sampled_from(list("(){};*&,=+-<>[]0x'\"\\#a"))) + text[i:]
        else:
            text = text[:i] + text[i:i + 8] + text[i:]
    try:
        build(compile_source(text, "m.c"))
    except CompileError as e:
        assert str(e)


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_source_never_crashes(blob):
    try:
        compile_source(blob.decode("latin-1"), "g.c")
    except CompileError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_corrupt_pfx_is_rejected_cleanly(data):
    good = to_bytes(build(compile_source("int main(void) { return 7; }", "p.c"), lane_size=1 << 16, stack_size=1 << 14))
    i = data.draw(st.integers(0, len(good) - 1))
    kind = data.draw(st.sampled_from(["truncate", "flip", "header"]))
    if kind == "truncate":
        bad = good[:i]
    elif kind == "flip":
        bad = good[:i] + bytes([good[i] ^ data.draw(st.integers(1, 255))]) + good[i + 1:]
    else:
        bad = data.draw(st.binary(max_size=64)) + good[good.index(b"\n"):]
    try:
        from_bytes(bad)
    except CompileError:
        pass


@pytest.mark.parametrize("field", ["stub", "ranges"])
def test_pfx_header_missing_a_late_field_is_a_compile_error(field):
    """Hypothesis once found a header without "stub" escaping as a KeyError: every field is checked."""
    import json

    good = to_bytes(build(compile_source("int main(void) { return 7; }", "p.c"), lane_size=1 << 16, stack_size=1 << 14))
    line, rest = good.split(b"\n", 1)
    head = json.loads(line)
    del head[field]
    with pytest.raises(CompileError, match="not a valid compiled program"):
        from_bytes(json.dumps(head).encode() + b"\n" + rest)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["__attribute__", "__attribute", "((", "))", "(", ")", "noinline", "packed",
                                 ",", " ", "\n", '"', "'", "x", "format(printf, 1, 2)", "#"]), max_size=14))
def test_attribute_stripping_never_crashes(parts):
    """Any text around __attribute__ gives text back (same length and lines) or a CompileError with a
    location; ignored attributes leave no trace and nothing else is touched."""
    from packetfs.compute.compiler.frontend import strip_attributes

    text = "int a;\n" + "".join(parts) + "\nint b;"
    try:
        out = strip_attributes(text, "t.c")
    except CompileError as e:
        assert str(e).startswith("t.c:")
        return
    assert len(out) == len(text) and out.count("\n") == text.count("\n")
    assert out.startswith("int a;\n") and out.endswith("\nint b;")


def test_ignored_attribute_keeps_columns_of_later_errors():
    source = "int __attribute__((unused)) x = y;\nint main(void) { return 0; }\n"
    with pytest.raises(CompileError) as e:
        compile_source(source, "prog.c")
    assert "prog.c:1:33: 'y' undeclared" in str(e.value)


@pytest.mark.parametrize("source", ["int main(void) {\n  return 3 ?: 5;\n}\n",
                                    "int main(void) {\n  int x = typeof(int) 3;\n  return x;\n}\n"])
def test_parse_errors_name_line_and_column(source):
    """pycparser names only the file for some errors; we add where it stopped."""
    with pytest.raises(CompileError) as e:
        compile_source(source, "prog.c")
    assert "prog.c:2:" in str(e.value)


def test_vla_too_big_faults_not_wrong_result():
    """A VLA larger than the free memory (gcc: a stack overflow) is a fault on the fabric."""
    got = ours_source("int main(int argc, char **argv) { char a[argc * 100000000L]; a[0] = 1; return a[0]; }")
    assert got.status is None and "variable-length array larger than the free memory" in got.fault


def _tokens(lexer_class, text: str) -> list[tuple]:
    out: list[tuple] = []

    def error(msg, line, column):
        raise ValueError(f"{line}:{column}: {msg}")

    lexer = lexer_class(error)
    try:
        lexer.input(text, "t.c")
        while (tok := lexer.token()) is not None:
            out.append((tok.type, tok.value, tok.lineno, tok.column, tok.filename))
    except ValueError as e:
        out.append(("error", str(e)))
    return out


def test_fast_lexer_gives_pycparsers_tokens():
    """fastlex.FastCLexer: the same token stream (types, values, lines, columns, file names from line
    markers) as pycparser's CLexer on the preprocessed c-testsuite, chibicc's tests, fuzz programs and
    the runtime's C."""
    import ccgen
    from pycparser.c_lexer import CLexer
    from test_ctestsuite import SUITE

    from packetfs.compute.compiler.fastlex import FastCLexer
    from packetfs.compute.compiler.frontend import preprocess
    from packetfs.compute.compiler.runtime_c import RUNTIME_SOURCE

    texts = [preprocess(ccgen.program(seed, small=False), "f.c") for seed in range(1000000, 1000010)]
    texts.append(preprocess(RUNTIME_SOURCE, "rt.c"))
    chibicc = Path(__file__).parent / "chibicc"
    for p in sorted(chibicc.glob("*.c"))[:8] + sorted(SUITE.glob("*.c"))[::4]:
        try:
            texts.append(preprocess(p.read_text(errors="surrogateescape"), str(p), include=[str(chibicc)]))
        except CompileError:
            continue
    assert len(texts) > 60
    for text in texts:
        assert _tokens(FastCLexer, text) == _tokens(CLexer, text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["int", " ", "\n", "x1", "L", "u8", "'a'", "'\\n'", '"s\\t"', "L\"w\"", "0x1F",
                                 "07", "09", "1.5e3f", ".5", "...", ".", "->", ">>=", "<<", "+", "++", "/", "/*",
                                 "//", "#", "# 3 \"h.h\"\n", "#pragma x\n", "[", "[[", "]", "(", ")", "{", "}", ";",
                                 "'", '"', "\\", "$", "@", "`", "_Bool", "sizeof", "12u", "3LL", "\t", "?:"]),
                max_size=30))
def test_fast_lexer_matches_on_random_text(parts):
    from pycparser.c_lexer import CLexer

    from packetfs.compute.compiler.fastlex import FastCLexer

    text = "".join(parts)
    assert _tokens(FastCLexer, text) == _tokens(CLexer, text)


def test_cc1_preprocessing_equals_gcc_driver():
    """frontend runs the cc1 that `gcc -E` would run (from `gcc -###`): the same text and errors."""
    from test_ctestsuite import SUITE

    import packetfs.compute.compiler.frontend as fe

    sources = [p.read_text(errors="surrogateescape") for p in sorted(SUITE.glob("*.c"))[::10]]
    sources += ['#include "missing.h"\n', "#error boom\n", "#define F(a) a\nint x = F(1\n", "#if\n#endif\n"]

    def run_all() -> list[str]:
        out = []
        for s in sources:
            try:
                out.append(fe.preprocess(s, "t.c", defines=["K=3"]))
            except CompileError as e:
                out.append(f"error: {e}")
        return out

    assert Path(fe._cc1_command(("gcc", "-E", "-x", "c", "-"))[0]).name == "cc1"  # the driver is skipped
    direct = run_all()
    saved = fe._cc1_command
    try:
        fe._cc1_command = lambda cmd: cmd  # the gcc driver
        via_driver = run_all()
    finally:
        fe._cc1_command = saved
    assert direct == via_driver
    assert any(t.startswith("error") for t in direct)
