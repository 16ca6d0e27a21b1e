"""`make run`: the main job, end to end, on sample data.

1. `patterns` on real mainnet blocks: ../shared/data/blocks when it sits next to the repository,
   otherwise the small real block bundled with the package (mainnet 757739 with its undo data).
2. `verify-block` on the bundled block with its undo data (every input's script checked).
3. `gen-chain`: a deterministic regtest chain of real, signed transactions of every kind.
4. `import` with full validation, then `chain-info`.
5. The codec on that chain: chain-context (as the node stores it) vs isolated vs brotli-11, and a
   `compress` / `decompress` round trips (isolated and chain-context) checked byte for byte.
6. Chainstate integrity: a flipped bit in a blk file, the datadir reopens, a clean re-import matches.
7. The node: two local `packetfs node`s, one syncing from the other over P2P; plain vs compressed block
   relay; then a node driven through JSON-RPC with `packetfs cli` (getblockchaininfo, mining, a
   transaction through the mempool).
8. SwiftSync: hints at the tip, a parallel hint-driven import with the same `utxo_digest`.
9. The compute fabric: `packetfs compute` and `packetfs meter`; a C program compiled to packets and run;
   short runs of `deploy` (Monte Carlo), `mine`'s hash path, `fold` and `train`.

Everything is written under out/demo/ (recreated on each run).
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console
from rich.table import Table

from .cli import main as cli_main

BUNDLED = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "blocks"
OUT = Path("out") / "demo"


def sample_input() -> tuple[Path, str]:
    if SHARED.is_dir() and any(SHARED.glob("*.block")):
        return SHARED, f"the real mainnet blocks in {SHARED} (found next to the repository)"
    return BUNDLED, f"the bundled sample {BUNDLED} (mainnet block 757739 with undo data; ../shared not found)"


def _run(console: Console, args: list[str]) -> str:
    console.rule(f"[bold]packetfs {' '.join(args)}")
    t0 = time.perf_counter()
    result = CliRunner().invoke(cli_main, args, catch_exceptions=False)
    print(result.output, end="")
    if result.exit_code != 0:
        console.print(f"[red]exit code {result.exit_code}[/red]")
        sys.exit(result.exit_code)
    console.print(f"[dim]({time.perf_counter() - t0:.1f} s)[/dim]")
    return result.output


def codec_on_chain(console: Console, datadir: Path, blocks_dir: Path) -> None:
    import brotli

    from .bitcoin.chain.chainstate import Chainstate
    from .bitcoin.codec import encode_block
    from .bitcoin.storage.blockfiles import open_blocks_dir

    blocks = list(open_blocks_dir(blocks_dir).iter_blocks())[1:]  # without genesis
    with Chainstate(datadir, "regtest", jobs=1) as cs:
        infos = [cs.store.block_record_info(e.block_pos) for e in cs.active_chain()[1:]]
    raw = sum(len(b) for b in blocks)
    stored = sum(i["payload_bytes"] for i in infos)
    isolated = sum(len(encode_block(b)) for b in blocks)
    br = sum(len(brotli.compress(b, quality=11)) for b in blocks)
    table = Table(title=f"Codec on the generated chain ({len(blocks)} blocks, {raw:,} bytes), each block alone")
    for col in ("method", "bytes", "compressed / raw"):
        table.add_column(col, justify="right")
    modes = ", ".join(sorted({i["mode"] for i in infos}))
    table.add_row(f"PacketFS codec, chain context (as stored: {modes})", f"{stored:,}", f"{stored / raw:.3f}")
    table.add_row("PacketFS codec, isolated", f"{isolated:,}", f"{isolated / raw:.3f}")
    table.add_row("brotli-11", f"{br:,}", f"{br / raw:.3f}")
    console.print(table)
    console.print(
        "[dim]Generated keys, signatures and tapscript payloads are random bytes, as in real blocks; the "
        "mainnet numbers are in the README.[/dim]"
    )


def main() -> None:
    console = Console()
    path, what = sample_input()
    console.print(f"[bold]PacketFS demo[/bold]: patterns on {what}")
    _run(console, ["bitcoin", "patterns", str(path), "--compressors", "zstd-19,brotli-11"])
    _run(
        console,
        ["bitcoin", "verify-block", str(BUNDLED / "mainnet-757739.block"), "--undo",
         str(BUNDLED / "mainnet-757739.undo"), "--network", "mainnet"],
    )  # fmt: skip

    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    blocks_dir, datadir = OUT / "regtest-blocks", OUT / "node"
    _run(
        console,
        ["bitcoin", "gen-chain", "--blocks", "140", "--seed", "demo", "--profile", "2024", "--txs-per-block", "40",
         "--min-kind-share", "0.05", "--out", str(blocks_dir)],
    )  # fmt: skip
    _run(console, ["bitcoin", "import", str(blocks_dir), "--network", "regtest", "--datadir", str(datadir)])
    _run(console, ["bitcoin", "chain-info", "--datadir", str(datadir)])
    codec_on_chain(console, datadir, blocks_dir)

    from .bitcoin.storage.blockfiles import open_blocks_dir

    original = list(open_blocks_dir(blocks_dir).iter_blocks())
    same = True
    # Isolated (the archive needs nothing else), then chain context (the node resolves txid references).
    for label, extra in (("isolated", []), ("chain-context", ["--datadir", str(datadir)])):
        archive, restored = OUT / f"chain-{label}.pfs", OUT / f"restored-{label}"
        _run(console, ["bitcoin", "compress", str(blocks_dir), "-o", str(archive), *extra])
        _run(console, ["bitcoin", "decompress", str(archive), "-o", str(restored), *extra])
        back = [p.read_bytes() for p in sorted(restored.glob("*.block"))]
        same = same and back == original
        console.print(
            f"{label} round trip: {len(back)} blocks, {'byte-exact' if back == original else '[red]MISMATCH[/red]'}; "
            f"archive {archive.stat().st_size:,} bytes for {sum(map(len, original)):,} raw"
        )
    if not same:
        console.print(json.dumps({"demo": "failed", "step": "codec round trip"}))
        sys.exit(1)

    for title, module, subdir in _LATER_STEPS:
        console.rule(f"[bold]{title}")
        t0 = time.perf_counter()
        importlib.import_module(module).demo(OUT / subdir)
        console.print(f"[dim]({time.perf_counter() - t0:.1f} s)[/dim]")
    console.print(json.dumps({"demo": "ok"}))


# Each later step's package has a `demo(out_dir)` that prints its part and raises on a wrong result.
_LATER_STEPS = (
    ("chainstate integrity: a damaged blk file never leaves the datadir unusable", "packetfs.bitcoin.chain.demo",
     "integrity"),
    ("the node: two local nodes, one syncing from the other over P2P", "packetfs.bitcoin.node.demo", "p2p"),
    ("lightning sync: plain vs compressed block relay between two nodes", "packetfs.bitcoin.node.lightning",
     "lightning"),
    ("JSON-RPC: a node driven with packetfs cli", "packetfs.bitcoin.rpc.demo", "rpc"),
    ("SwiftSync: hints and a parallel, lookup-free import", "packetfs.bitcoin.swiftsync.demo", "swiftsync"),
    ("the compute fabric: packetfs compute and packetfs meter", "packetfs.compute.demo", "compute"),
    ("packetfs compile: a C program run as packets", "packetfs.compute.compiler.demo", "compiler"),
    ("packetfs run --batch: one C function over many inputs, every input a lane",
     "packetfs.compute.compiler.batch_demo", "batch"),
    ("workloads on the fabric: deploy, mine, fold, train", "packetfs.compute.workloads.demo", "workloads"),
    ("HP folding in 3D: a Yue et al. 48-mer on two fabric nodes", "packetfs.compute.workloads.folding.demo",
     "fold3d"),
)


if __name__ == "__main__":
    main()
