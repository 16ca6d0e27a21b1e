"""`make run` demo of chainstate integrity: a corrupted blk file, an import that names what is wrong, a
datadir that still opens, and a clean re-import that reaches the same utxo_digest as a fresh one."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..primitives.hashes import hash_to_hex
from ..storage.blockfiles import network_magic, open_blocks_dir
from .chainstate import Chainstate
from .generator import ChainGenerator, write_chain
from .importer import import_blocks


def _import(blocks_dir: Path, datadir: Path) -> tuple[dict, list]:
    skipped: list = []
    with Chainstate(datadir, "regtest", jobs=1, store_mode="raw") as cs:
        source = open_blocks_dir(blocks_dir).iter_blocks_tolerant(network_magic("regtest"), skipped.append)
        result = import_blocks(cs, source)
        return {"height": cs.tip.height, "digest": hash_to_hex(cs.utxo_digest()), "result": result}, skipped


def demo(out_dir: Path) -> None:
    out_dir = Path(out_dir)
    clean, bad = out_dir / "integrity-chain", out_dir / "integrity-damaged"
    for d in (clean, bad, out_dir / "integrity-node", out_dir / "integrity-fresh"):
        shutil.rmtree(d, ignore_errors=True)
    write_chain(ChainGenerator(seed=8, profile="2024", txs_per_block=20).blocks(120), clean, undo=False)
    shutil.copytree(clean, bad)
    blk = bad / "blk00000.dat"
    data = bytearray(blk.read_bytes())
    data[len(data) // 2] ^= 0x10  # one flipped bit in the middle of the file
    blk.write_bytes(bytes(data))
    print("chainstate integrity: one bit flipped in a 120-block chain's blk file")
    first, _ = _import(bad, out_dir / "integrity-node")
    for bad_block in first["result"].invalid:
        print(f"  import: invalid block {bad_block['hash']}: {bad_block['error']}"
              + (" (mutated: its header is not marked invalid)" if bad_block["mutated"] else ""))  # fmt: skip
    print(f"  datadir reopens at height {first['height']}, utxo_digest {first['digest'][:16]}…")
    again, _ = _import(clean, out_dir / "integrity-node")
    fresh, _ = _import(clean, out_dir / "integrity-fresh")
    same = "same" if again["digest"] == fresh["digest"] else "DIFFERENT"
    print(f"  clean re-import: height {again['height']}, utxo_digest {again['digest'][:16]}… ({same} as a fresh"
          f" import at height {fresh['height']})")  # fmt: skip
