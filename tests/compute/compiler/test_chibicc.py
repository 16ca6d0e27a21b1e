"""A second public compiler test suite, not in shared/: chibicc's tests (github.com/rui314/chibicc, test/;
MIT licence in chibicc/LICENSE), vendored in chibicc/. Each file is a main() full of
ASSERT(expected, expression) checks that print `expression => value` through test/common's assert().

gcc builds each file with `common` as a second translation unit; we compile the file and `common` as one
(we compile one translation unit at a time) and run it on the fabric. Same stdout and exit status as
gcc's build, or, for the files using what we do not support, the compile error listed here (checked, so
the list stays true). Not vendored: chibicc's files gcc itself rejects (chibicc-only syntax or
declarations that conflict with gcc's builtins: bitfield, builtin, commonsym, compat, constexpr, control,
function, generic, literal, macro, pragma-once, sizeof, tls, typedef) and two whose checks are undefined
behaviour, so gcc and chibicc disagree with each other (float.c converts out-of-range doubles to int;
pointer.c reads a neighbouring local through `&x + 1`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from packetfs.compute.compiler.driver import compile_source
from packetfs.compute.compiler.errors import CompileError
from packetfs.compute.compiler.execute import build, run

SUITE = Path(__file__).parent / "chibicc"
MATCH = ["attribute", "cast", "complit", "decl", "enum", "extern", "line", "offsetof", "struct", "union",
         "usualconv", "varargs", "variable", "vla"]
# file -> (what it needs that we do not support, a substring of our error)
REJECTED = {
    "alignof": ("_Alignas (changes layout; rejected, never ignored)", "unsupported: _Alignas"),
    "alloca": ("alloca", "undefined reference to function 'alloca'"),
    "arith": ("GNU `a ?: b` (pycparser cannot parse it)", "parse error"),
    "asm": ("inline assembly", "parse error"),
    "atomic": ("<stdatomic.h>, C11 atomics", "stdatomic.h"),
    "const": ("a declaration with no type specifier (`const x;`, pycparser cannot parse it)", "parse error"),
    "initializer": ("GNU designator without `=` (`{ [3] 7 }`, pycparser cannot parse it)", "parse error"),
    "stdhdr": ("<float.h> and other headers we do not ship", "float.h"),
    "string": ("u/U string literals", "unsupported: u/U string literal"),
    "typeof": ("GNU typeof (pycparser cannot parse it)", "parse error"),
    "unicode": ("\\u universal character names (pycparser cannot lex them)", "parse error"),
}
LANE = 1 << 20
STACK = 1 << 18


def _ours_source(name: str) -> tuple[str, str]:
    return (SUITE / f"{name}.c").read_text() + "\n" + (SUITE / "common").read_text(), str(SUITE / f"{name}.c")


def _gcc(name: str, tmp_path: Path) -> tuple[bytes, int]:
    exe = tmp_path / name
    subprocess.run(["gcc", "-O0", "-w", "-I", str(SUITE), "-o", str(exe), str(SUITE / f"{name}.c"), "-xc",
                    str(SUITE / "common")], check=True, capture_output=True, timeout=120)
    p = subprocess.run([str(exe)], capture_output=True, timeout=60)
    return p.stdout, p.returncode


def test_vendored_files_are_all_listed():
    assert sorted(p.stem for p in SUITE.glob("*.c")) == sorted(MATCH + list(REJECTED))
    assert "MIT License" in (SUITE / "LICENSE").read_text()


@pytest.mark.parametrize("half", [0, 1])
def test_chibicc_tests_match_gcc(gcc, tmp_path, half):
    names = MATCH[half::2]
    expected = [_gcc(n, tmp_path) for n in names]
    assert all(b" => " in out for out, _ in expected)  # the checks ran under gcc
    modules = [compile_source(*_ours_source(n), include=[str(SUITE)]) for n in names]
    compiled = build(modules, lane_size=LANE, stack_size=STACK)
    outcomes, _ = run(compiled, [[n.encode()] for n in names], placement="any", max_steps=20_000_000,
                      lane_units=list(range(len(names))))
    for n, o, (out, status) in zip(names, outcomes, expected, strict=True):
        assert o.fault is None, n
        assert (o.stdout, o.status) == (out, status), n


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_chibicc_unsupported_fails_cleanly(name):
    feature, message = REJECTED[name]
    with pytest.raises(CompileError) as e:
        build(compile_source(*_ours_source(name), include=[str(SUITE)]))
    assert message in str(e.value), feature
