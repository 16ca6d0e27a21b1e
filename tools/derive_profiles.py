"""Rebuild the chain generator's shipped profiles from the real blocks in ../shared/data/blocks.

    python tools/derive_profiles.py [BLOCKS_DIR]

Writes src/packetfs/bitcoin/chain/profiles/NAME.json for every profile in PROFILE_SOURCES; the test
tests/bitcoin/chain/test_generator.py checks the shipped files equal a fresh derivation.
"""

from __future__ import annotations

import sys
from pathlib import Path

from packetfs.bitcoin.chain.profiles import (
    PROFILE_SOURCES,
    derive_shipped_profile,
    dump_profile,
    profile_path,
)

_DEFAULT_BLOCKS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "blocks"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    blocks_dir = Path(argv[0]) if argv else _DEFAULT_BLOCKS
    if not blocks_dir.is_dir():
        print(f"no blocks directory at {blocks_dir}", file=sys.stderr)
        return 2
    for name in PROFILE_SOURCES:
        path = profile_path(name)
        path.write_text(dump_profile(derive_shipped_profile(name, blocks_dir)))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
