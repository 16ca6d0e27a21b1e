"""The `packetfs` command's lazy tables name every command its modules define, and nothing else."""

from __future__ import annotations

import importlib
import subprocess
import sys

from click.testing import CliRunner

from packetfs.cli import BITCOIN_COMMANDS, TOP_LEVEL_COMMANDS, bitcoin, main


def _defined(table: dict[str, str]) -> dict[str, set[str]]:
    """command name -> the modules in ``table`` whose COMMANDS define it."""
    found: dict[str, set[str]] = {}
    for module in set(table.values()):
        for command in importlib.import_module(module).COMMANDS:
            found.setdefault(command.name, set()).add(module)
    return found


def test_tables_match_the_modules_commands() -> None:
    for table in (BITCOIN_COMMANDS, TOP_LEVEL_COMMANDS):
        defined = _defined(table)
        assert set(defined) == set(table)
        for name, module in table.items():
            assert module in defined[name]
    # chain.cli's own `import` is the one command replaced (by import_cli's, which adds --swiftsync)
    chain_commands = {c.name for c in importlib.import_module("packetfs.bitcoin.chain.cli").COMMANDS}
    assert "import" in chain_commands and BITCOIN_COMMANDS["import"] == "packetfs.bitcoin.import_cli"


def test_help_lists_every_command() -> None:
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    sub = runner.invoke(main, ["bitcoin", "--help"])
    assert top.exit_code == 0 and sub.exit_code == 0
    for name in TOP_LEVEL_COMMANDS:
        assert f"  {name} " in top.output
    for name in BITCOIN_COMMANDS:
        assert f"  {name} " in sub.output
    assert bitcoin.get_command(None, "no-such-command") is None


def test_a_command_imports_only_its_own_module() -> None:
    code = ("import sys; from packetfs.cli import main\n"
            "try:\n    main(['bitcoin', 'gen-chain', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.endswith('cli') and m.startswith('packetfs.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "['packetfs.bitcoin.chain.generator_cli', 'packetfs.cli']"
