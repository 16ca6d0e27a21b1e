"""`packetfs compile` / `packetfs run`: files, exit statuses, --batch, --emit, errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from packetfs.cli import main

PROG = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 5;
    long f = 1;
    for (int i = 2; i <= n; i++) f *= i;
    printf("%d! = %ld\n", n, f);
    return n;
}
"""


def _write(tmp_path, text=PROG, name="fact.c"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_compile_then_run(tmp_path):
    src = _write(tmp_path)
    out = tmp_path / "fact.pfx"
    r = CliRunner().invoke(main, ["compile", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b'{"format": "packetfs-c/1"')
    r = CliRunner().invoke(main, ["run", str(out), "--", "6"])
    assert r.output == "6! = 720\n"
    assert r.exit_code == 6  # main's return value


def test_run_c_file_on_two_nodes(tmp_path):
    r = CliRunner().invoke(main, ["run", str(_write(tmp_path)), "--nodes", "2", "4"])
    assert r.output == "4! = 24\n" and r.exit_code == 4


def test_batch_runs_every_line(tmp_path):
    batch = tmp_path / "inputs.txt"
    batch.write_text("".join(f"{n}\n" for n in range(1, 9)))
    r = CliRunner().invoke(main, ["run", str(_write(tmp_path)), "--batch", str(batch), "--json", "--wave", "3"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    fact = [1, 2, 6, 24, 120, 720, 5040, 40320]
    assert [i["stdout"] for i in rep["instances"]] == [f"{n}! = {fact[n - 1]}\n" for n in range(1, 9)]
    assert [i["status"] for i in rep["instances"]] == list(range(1, 9))
    assert rep["stats"]["packets"] == 8


def test_emit_ir_and_packets(tmp_path):
    src = _write(tmp_path)
    r = CliRunner().invoke(main, ["compile", str(src), "--emit", "ir", "-o", str(tmp_path / "a.pfx")])
    assert r.exit_code == 0 and "func main(" in r.output and "call" in r.output
    r = CliRunner().invoke(main, ["compile", str(src), "--emit", "packets", "-o", str(tmp_path / "a.pfx")])
    assert r.exit_code == 0 and "CALL" in r.output and "LOAD" in r.output


def test_compile_error_exit_code(tmp_path):
    src = _write(tmp_path, "int main(void) {\n  return nope;\n}\n", "bad.c")
    r = CliRunner().invoke(main, ["compile", str(src)])
    assert r.exit_code == 3
    assert "bad.c:2:10: 'nope' undeclared" in r.output


def test_fault_exit_code(tmp_path):
    src = _write(tmp_path, "int main(int c, char **v) { return 5 / (c - 1); }\n", "div.c")
    r = CliRunner().invoke(main, ["run", str(src)])
    assert r.exit_code == 4
    assert "div by zero" in r.output


def test_bad_pfx_exit_code(tmp_path):
    bad = tmp_path / "x.pfx"
    bad.write_bytes(b"not a program")
    r = CliRunner().invoke(main, ["run", str(bad)])
    assert r.exit_code == 5 and "not a valid compiled program" in r.output
