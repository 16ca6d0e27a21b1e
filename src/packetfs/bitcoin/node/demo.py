"""`make run` part: two local nodes, one syncing a generated chain from the other over the P2P protocol."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from rich.console import Console

from ..chain.chainstate import Chainstate
from ..chain.generator import ChainGenerator
from .node import Node, NodeConfig


def demo(out_dir: Path, blocks: int = 300) -> None:
    """Generate a chain into node A's datadir, start A and B (B --connect A) in one process, and show B
    catching up by headers-first sync; prints a few lines, takes a few seconds."""
    console = Console()
    out_dir = Path(out_dir)
    a_dir, b_dir = out_dir / "node-a", out_dir / "node-b"
    for d in (a_dir, b_dir):
        if d.exists():
            import shutil

            shutil.rmtree(d)
    t0 = time.perf_counter()
    gen = ChainGenerator("make-run", "2024", txs_per_block=6, min_kind_share=0.1, max_inputs_per_tx=3,
                         max_outputs_per_tx=4, bcoin_compatible=True)
    with Chainstate(a_dir, "regtest", jobs=1, store_mode="raw") as cs:
        for b in gen.blocks(blocks):
            cs.process_block(b.raw)
        tip = cs.tip.hash_hex
    console.print(f"[bold]node[/bold]: node A holds a generated regtest chain of {blocks} blocks "
                  f"({gen.stats['inputs']} signed inputs), tip {tip[:16]}… ({time.perf_counter() - t0:.1f} s)")
    logging.getLogger("packetfs.node").setLevel(logging.WARNING)
    asyncio.run(_sync(console, a_dir, b_dir, tip, blocks))


async def _sync(console: Console, a_dir: Path, b_dir: Path, tip: str, blocks: int) -> None:
    a = Node(NodeConfig("regtest", a_dir, port=0, bind="127.0.0.1", progress_interval=3600))
    await a.start()
    b = Node(NodeConfig("regtest", b_dir, port=0, bind="127.0.0.1", connect=[("127.0.0.1", a.port or 0)],
                        progress_interval=3600))
    try:
        await b.start()
        console.print(f"      node A listening on 127.0.0.1:{a.port}; node B (empty) connects to it")
        start = time.perf_counter()
        last = -1
        while b.cs is not None and b.cs.tip.hash_hex != tip:
            await asyncio.sleep(0.25)
            if b.cs.tip.height != last:
                last = b.cs.tip.height
                console.print(f"      B: headers {b.cs.tree.best_header.height:4d}  blocks {last:4d}  "
                              f"peers {len(b.peers)}  in flight {len(b.download.in_flight)}")
            if time.perf_counter() - start > 60:
                raise RuntimeError("node B did not sync within 60 s")
        seconds = time.perf_counter() - start
        console.print(f"      B reached A's tip {tip[:16]}… in {seconds:.1f} s ({blocks / seconds:.0f} blocks/s over "
                      f"loopback, every block fully validated)")
    finally:
        await b.stop()
        await a.stop()
