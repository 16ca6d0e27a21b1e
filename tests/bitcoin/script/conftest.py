"""Makes the script tests' helper module importable as ``script_util`` (tests/ is not a package and
pytest runs with --import-mode=importlib)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "script_util"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).resolve().parent / "script_util.py")
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _module
    _spec.loader.exec_module(_module)
