"""`packetfs bitcoin import --swiftsync`: the command above chain/ and swiftsync/ that replaces chain's
`import` (explicitly: registered later under the same name), with every option of the one it replaces."""

from __future__ import annotations

import json

from packetfs.bitcoin.chain import cli as chain_cli
from packetfs.bitcoin.import_cli import REPLACES, import_command
from packetfs.cli import bitcoin

from .conftest import CHAIN_BLOCKS, HINTS_HEIGHT, chain_info, packetfs


def test_registered_import_is_the_one_with_swiftsync_and_replaces_chains() -> None:
    assert bitcoin.get_command(None, "import") is import_command
    assert REPLACES is chain_cli.import_command and REPLACES is not import_command
    theirs = {p.name for p in chain_cli.import_command.params}
    ours = {p.name for p in import_command.params}
    assert theirs < ours and {"hints_path", "executor", "ray_address", "strict"} <= ours
    # chain/ must not know swiftsync/ (data flows one way): the replacement lives above both.
    import inspect

    assert "swiftsync" not in inspect.getsource(chain_cli)
    assert bitcoin.get_command(None, "swiftsync-import").name == "swiftsync-import"  # the alias is kept


def test_import_with_swiftsync_equals_ordinary_import(chain, tmp_path) -> None:
    proc = packetfs("import", str(chain.blocks_dir), "--network", "regtest", "--datadir", str(tmp_path / "ss"),
                    "--swiftsync", str(chain.hints), "-j", "2", "--store", "raw", "--json", "--strict",
                    "--no-digest")  # fmt: skip
    out = json.loads(proc.stdout)
    assert out["mode"] == "swiftsync" and out["blocks_swiftsync"] == HINTS_HEIGHT
    assert "utxo_digest" not in out["chain"] and out["chain"]["height"] == chain.reference["height"]  # left to chain-info
    assert out["ordinary"]["blocks_accepted"] == CHAIN_BLOCKS - HINTS_HEIGHT
    assert chain_info(tmp_path / "ss") == chain.reference


def test_ordinary_import_digest_is_optional(chain, tmp_path) -> None:
    proc = packetfs("import", str(chain.blocks_dir), "--network", "regtest", "--datadir", str(tmp_path / "o"),
                    "--store", "raw", "--json", "--no-digest")  # fmt: skip
    assert "utxo_digest" not in json.loads(proc.stdout)["chain"]
    assert chain_info(tmp_path / "o") == chain.reference


def test_wrong_combinations_are_usage_errors(chain, tmp_path) -> None:
    base = ("import", str(chain.blocks_dir), "--network", "regtest", "--datadir", str(tmp_path / "x"))
    proc = packetfs(*base, "--strict", check=False)
    assert proc.returncode == 2 and "go with --swiftsync" in proc.stderr and "Traceback" not in proc.stderr
    proc = packetfs(*base, "--swiftsync", str(chain.hints), "--assumevalid", "00" * 32, check=False)
    assert proc.returncode == 2 and "--assumevalid does not go with --swiftsync" in proc.stderr
    assert not (tmp_path / "x").exists()
