import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # ccharness, ccgen


@pytest.fixture(scope="session")
def gcc():
    path = shutil.which("gcc")
    if path is None:
        pytest.skip("gcc is not installed: the compiler is checked against gcc")
    return path
