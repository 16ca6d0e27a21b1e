"""The options of the chain, codec, storage, consensus and patterns commands are spelled and typed alike."""

from __future__ import annotations

import click
import pytest

from packetfs.cli import main

MINE = ("import", "chain-info", "compress", "decompress", "codec-bench", "blocks-dir-info", "verify-block",
        "patterns")  # fmt: skip
LONG = ("import", "compress", "decompress", "patterns", "blocks-dir-info")


def _commands() -> dict[str, click.Command]:
    group = main.get_command(None, "bitcoin")
    return {name: group.get_command(None, name) for name in MINE}


def _option(cmd: click.Command, name: str) -> click.Option | None:
    return next((p for p in cmd.params if isinstance(p, click.Option) and name in p.opts), None)


@pytest.mark.parametrize("name", MINE)
def test_datadir_jobs_and_progress_are_consistent(name):
    cmd = _commands()[name]
    datadir = _option(cmd, "--datadir")
    if datadir is not None:
        assert isinstance(datadir.type, click.Path) and not datadir.type.file_okay and datadir.type.dir_okay
    jobs = _option(cmd, "--jobs")
    if jobs is not None:
        assert "-j" in jobs.opts and isinstance(jobs.type, click.IntRange) and jobs.type.min == 1
    if name in LONG:
        progress = _option(cmd, "--progress")
        assert progress is not None and "--no-progress" in progress.secondary_opts, name
