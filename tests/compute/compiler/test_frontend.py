"""Front end and semantics: unsupported C is rejected with file:line:column, struct layout equals gcc's,
bad input never crashes the compiler (hypothesis)."""

from __future__ import annotations

import subprocess

import pytest
from ccharness import ours_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packetfs.compute.compiler.codegen import from_bytes, to_bytes
from packetfs.compute.compiler.driver import compile_source
from packetfs.compute.compiler.errors import CompileError
from packetfs.compute.compiler.execute import build

REJECTED = [
    ("int main(void) { return _Generic(1, int: 0); }", "unsupported: expression GenericSelection"),
    ("int main(int n, char **v) { char a[n]; return 0; }", "is not a constant"),
    ("int main(void) { int a[*]; return 0; }", "'[*]' outside a function prototype's parameters"),
    ("int main(void) { int x __attribute__((aligned(16))); return 0; }", "unsupported: __attribute__((aligned))"),
    ("int main(void) { int x __attribute__((noinline; return 0; }", "unbalanced parentheses in __attribute__"),
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
