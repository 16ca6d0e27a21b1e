"""The `make run` step for the workloads runs, checks itself and writes its JSON and PNG."""

from __future__ import annotations

import json
from pathlib import Path

from packetfs.compute.workloads.demo import demo


def test_demo_writes_checked_results(tmp_path: Path) -> None:
    demo(tmp_path)
    out = json.loads((tmp_path / "workloads.json").read_text())
    assert {"deploy", "mine_difficulty_check", "fold", "train"} <= set(out)
    assert out["train"]["test_accuracy"] >= 0.95
    assert (tmp_path / "fold.png").read_bytes()[:4] == b"\x89PNG"
