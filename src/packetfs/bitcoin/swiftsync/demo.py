"""`make run` demo: SwiftSync on a small generated chain, next to an ordinary import (a few seconds)."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


def demo(out_dir: Path) -> None:
    """Generate a 115-block regtest chain, import it the ordinary way, make hints at its tip, import it
    again with SwiftSync on 2 processes, then with a corrupted hints file (fallback), then SwiftSync it
    from a node serving the first import (blocks and spent coins over P2P); print the tips and UTXO
    digests side by side. Raises RuntimeError if a result is wrong (a digest or tip differs, the
    good hints did not SwiftSync, the wrong ones did not fall back)."""
    from ..chain.chainstate import Chainstate
    from ..chain.generator import ChainGenerator, write_chain
    from ..chain.importer import import_blocks
    from ..primitives.hashes import hash_to_hex
    from ..storage.blockfiles import open_blocks_dir
    from .executor import LocalExecutor
    from .hints import Hints, build_hints
    from .importer import swiftsync_import

    console = Console(width=max(100, Console().width))
    out_dir = Path(out_dir) / "swiftsync"
    out_dir.mkdir(parents=True, exist_ok=True)
    blocks_dir = out_dir / "core"
    if not (blocks_dir / "blk00000.dat").exists():
        gen = ChainGenerator(seed=21, profile="2016", txs_per_block=12, min_kind_share=0.1)
        write_chain(gen.blocks(115), blocks_dir)
    source = open_blocks_dir(blocks_dir)
    rows = []

    def fresh(name: str) -> Chainstate:
        path = out_dir / name
        if path.exists():
            import shutil

            shutil.rmtree(path)
        return Chainstate(path, "regtest", jobs=2, store_mode="raw")

    t = time.perf_counter()
    with fresh("ordinary") as cs:
        import_blocks(cs, source.iter_blocks())
        chain = cs.active_chain()[1:]
        hints = build_hints(len(chain), len(chain), lambda h: (cs.store.get_block(chain[h - 1].block_pos), None),
                            cs.utxo.have)  # fmt: skip
        rows.append(("ordinary import", "-", cs.tip.height, hash_to_hex(cs.utxo_digest())[:16], time.perf_counter() - t))
    hints_bytes = hints.serialize()
    (out_dir / "tip.hints").write_bytes(hints_bytes)
    wrong = Hints(hints.height, [*hints.unspent[:-1], hints.unspent[-1][1:]])
    for label, h in (("SwiftSync, 2 processes", hints), ("SwiftSync, wrong hints", wrong)):
        t = time.perf_counter()
        with fresh(label.split(",")[1].strip().replace(" ", "-")) as cs:
            result = swiftsync_import(cs, source, h, LocalExecutor(2))
            reason = result.fallback_reason or ""
            mode = result.mode if result.mode == "swiftsync" else (
                "fallback: aggregate != 0" if "aggregate" in reason else f"{result.mode}: {reason}")
            rows.append((label, mode, cs.tip.height, hash_to_hex(cs.utxo_digest())[:16], time.perf_counter() - t))
    # Over the network: a node serving the ordinary chainstate (getbspent from its undo data), and a
    # fresh datadir SwiftSyncing blocks 1..115 from it (both in this process, on a free loopback port).
    t = time.perf_counter()
    label = "SwiftSync from a peer"
    net = _from_peer(out_dir, hints)
    rows.append((label, net.mode, net.tip_height, net.digest[:16], time.perf_counter() - t))
    table = Table(title=f"SwiftSync demo: 115 blocks, hints file {len(hints_bytes):,} bytes")
    for col in ("import", "mode", "tip", "utxo_digest", "seconds"):
        table.add_column(col)
    for name, mode, tip, digest, secs in rows:
        table.add_row(name, mode, str(tip), digest, f"{secs:.2f}")
    console.print(table)
    expected = [("ordinary import", "-"), ("SwiftSync, 2 processes", "swiftsync"),
                ("SwiftSync, wrong hints", "fallback: aggregate != 0"), ("SwiftSync from a peer", "swiftsync")]  # fmt: skip
    if [(r[0], r[1]) for r in rows] != expected or len({(r[2], r[3]) for r in rows}) != 1:
        raise RuntimeError(f"SwiftSync demo: unexpected results {[(r[0], r[1], r[2], r[3]) for r in rows]}")


def _from_peer(out_dir: Path, hints):
    """SwiftSync a fresh datadir from an in-process node serving ``out_dir/ordinary`` (getbspent)."""
    import asyncio
    import shutil
    from types import SimpleNamespace

    from ..chain.chainstate import Chainstate
    from ..node.node import Node, NodeConfig
    from ..primitives.hashes import hash_to_hex
    from .netsync import swiftsync_from_peers
    from .serve import attach_bspent_server

    client = out_dir / "from-peer"
    if client.exists():
        shutil.rmtree(client)

    async def run():
        server = Node(NodeConfig("regtest", out_dir / "ordinary", port=0, bind="127.0.0.1", jobs=1,
                                 progress_interval=3600))  # fmt: skip
        attach_bspent_server(server)
        await server.start()
        try:
            return await swiftsync_from_peers(client, "regtest", [("127.0.0.1", server.port)], hints, jobs=2,
                                              timeout=120)  # fmt: skip
        finally:
            await server.stop()

    result = asyncio.run(run())
    with Chainstate(client, "regtest", readonly=True) as cs:
        digest = hash_to_hex(cs.utxo_digest())
    return SimpleNamespace(mode=result.mode, tip_height=result.tip_height, digest=digest)
