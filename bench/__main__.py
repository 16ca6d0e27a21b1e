"""`make bench`: run every benchmark module in turn (each prints its own table of medians and ratios)."""

from __future__ import annotations

import importlib
import importlib.util
import sys

MODULES = (
    "bench.parse", "bench.script", "bench.codec", "bench.storage", "bench.chain",
    "bench.net", "bench.mempool", "bench.sync", "bench.sync_relay", "bench.sync_swiftnet",
    "bench.compute", "bench.compiler", "bench.workloads", "bench.fold",
)


def main() -> None:
    # Names choose modules (`python -m bench net sync`); options such as --quick are left in sys.argv for
    # the modules that read them.
    wanted = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    for name in MODULES:
        if wanted and name.split(".")[-1] not in wanted:
            continue
        if importlib.util.find_spec(name) is None:
            continue
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()
