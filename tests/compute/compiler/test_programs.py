"""Classic C programs (not from shared/) compiled by gcc and by us, run on the fabric: same stdout, same
exit status. Inline backend for all, the local backend (2 worker processes, sockets) for a subset."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ccharness import ours_file

PROGRAMS = Path(__file__).parent / "programs"
CASES = [
    ("fib.c", ["10"]), ("sieve.c", ["150"]), ("matmul.c", ["5"]), ("sha256.c", ["abc"]),
    ("quicksort.c", ["12"]), ("structs.c", []), ("funcptr.c", []), ("printf_conv.c", []), ("floats.c", []),
    ("extensions.c", []), ("vformat.c", []), ("fileio.c", []), ("packed.c", []),
    ("generic.c", []), ("vla.c", []),
]


def gcc_run(tmp_path: Path, name: str, args: list[str]) -> tuple[bytes, int]:
    exe = tmp_path / (name + ".bin")
    subprocess.run(["gcc", "-O0", "-w", "-o", str(exe), str(PROGRAMS / name)], check=True, timeout=120)
    p = subprocess.run([str(exe), *args], capture_output=True, timeout=60, cwd=tmp_path)  # fileio.c writes files
    return p.stdout, p.returncode


@pytest.mark.parametrize("name,args", CASES, ids=[c[0] for c in CASES])
def test_program_matches_gcc_inline(gcc, tmp_path, name, args):
    expected = gcc_run(tmp_path, name, args)
    got = ours_file(PROGRAMS / name, args, backend="inline", nodes=2)
    assert got.fault is None
    assert (got.stdout, got.status) == expected


def test_sha256_in_c_matches_hashlib():
    import hashlib
    got = ours_file(PROGRAMS / "sha256.c", ["abc"], backend="inline")
    assert got.stdout.decode().strip() == hashlib.sha256(b"abc").hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("name,args", [("sha256.c", []), ("quicksort.c", ["200"]), ("fib.c", ["16"]),
                                       ("sieve.c", ["3000"]), ("matmul.c", ["12"])])
def test_program_matches_gcc_bigger(gcc, tmp_path, name, args):
    expected = gcc_run(tmp_path, name, args)
    got = ours_file(PROGRAMS / name, args, backend="inline")
    assert got.fault is None
    assert (got.stdout, got.status) == expected


@pytest.mark.parametrize("name,args", [("fib.c", ["7"]), ("structs.c", []), ("funcptr.c", [])])
def test_program_matches_gcc_local(gcc, tmp_path, name, args):
    expected = gcc_run(tmp_path, name, args)
    got = ours_file(PROGRAMS / name, args, backend="local", nodes=2)
    assert got.fault is None
    assert (got.stdout, got.status) == expected


@pytest.mark.parametrize("name,args", CASES, ids=[c[0] for c in CASES])
def test_ir_interpreter_matches_gcc(gcc, tmp_path, name, args):
    """The IR interpreter (the development cross-check of the back end) gives gcc's output too."""
    from packetfs.compute.compiler.driver import compile_file
    from packetfs.compute.compiler.interp import run_module

    expected = gcc_run(tmp_path, name, args)
    assert run_module(compile_file(PROGRAMS / name), [b"prog", *(a.encode() for a in args)]) == expected


def test_printf_value_with_a_floating_conversion_faults_not_lies():
    """printf's value is counted on the fabric, which cannot format floats: using it with %f is a clear
    fault (the printed text before it is kept); the same printf as a statement just prints."""
    from ccharness import ours_source

    got = ours_source('#include <stdio.h>\nint main(void) { double x = 1.5; printf("%f\\n", x);\n'
                      '  int n = printf("%f\\n", x); return n; }\n')
    assert got.stdout == b"1.500000\n"
    assert got.status is None and "printf's return value" in got.fault
