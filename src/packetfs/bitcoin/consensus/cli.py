"""`packetfs bitcoin verify-block`: validate one block against every consensus rule."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from ..errors import ParseError
from .block_rules import coinbase_height
from .errors import ContextError, ValidationError
from .params import NETWORKS, get_params

EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE, EXIT_PARTIAL = 0, 1, 2, 3
# Rules only the chain itself can decide (the parent's difficulty and time, the UTXO set): a lone
# block never has them, so they are listed, but do not make a verdict PARTIAL.
_NEEDS_CHAIN = ("bad-diffbits:", "time-too-old:", "time-too-new:", "bad-txns-BIP30:", "bip113-finality")


def _fail_input(message: str, as_json: bool) -> None:
    click.echo(f"error: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"valid": None, "error": message}))
    sys.exit(EXIT_UNREADABLE)


def _read(path: str, what: str, as_json: bool) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        _fail_input(f"cannot read {what} {path}: {e.strerror or e}", as_json)
        raise AssertionError("unreachable") from None


@click.command("verify-block")
@click.argument("block_path", metavar="BLOCK", type=click.Path(dir_okay=False))
@click.option(
    "--undo",
    "undo_path",
    type=click.Path(dir_okay=False),
    help="The block's undo data (CBlockUndo, as in rev files, without framing). "
    "Without it, scripts, fees and input rules cannot be checked.",
)
@click.option("--network", type=click.Choice(NETWORKS), default="mainnet", show_default=True)
@click.option("--height", type=int, help="The block's height (default: read from the BIP34 coinbase).")
@click.option("--prev-mtp", type=int, help="Median time past of the parent block (BIP113, time-too-old).")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for script checks (default: all cores; 1 checks in this process).",
)
@click.option("--no-pow", is_flag=True, help="Skip the proof-of-work check (for hand-made test blocks).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify_block(block_path, undo_path, network, height, prev_mtp, jobs, no_pow, as_json):
    """Validate BLOCK (raw serialized block) with Bitcoin Core's consensus rules.

    Exit status: 0 VALID (every rule the block and its undo data decide was checked), 1 INVALID (the
    broken rule, tx and input are reported), 2 unreadable input, 3 PARTIAL (no rule failed, but some
    could not be checked, e.g. scripts without --undo; they are listed). Rules only the chain can
    decide (difficulty, the parent's median time unless --prev-mtp) are listed under either verdict.
    """
    from ..primitives.block import Block
    from .pool import ScriptCheckPool
    from .validate import validate_block

    started = time.perf_counter()
    raw = _read(block_path, "block", as_json)
    try:
        block = Block.from_bytes(raw)
    except ParseError as e:
        _fail_input(f"{block_path} is not a serialized block: {e}", as_json)
    spent = None
    if undo_path is not None:
        from ..storage.undo import decode_block_undo

        undo_raw = _read(undo_path, "undo data", as_json)
        try:
            spent = decode_block_undo(undo_raw)
        except ParseError as e:
            _fail_input(f"{undo_path} is not block undo data: {e}", as_json)
    if spent is None and len(block.transactions) == 1:
        spent = []  # a block with only its coinbase spends nothing: its undo data is empty
    params = get_params(network)
    if height is None:
        # Only BIP34 blocks (version 2 and up, at or above the BIP34 height) carry their height.
        height = coinbase_height(block) if block.header.version >= 2 else None
        if height is None or height < params.bip34_height:
            _fail_input("cannot read the height from the coinbase (pre-BIP34 block?): pass --height", as_json)
    pool = ScriptCheckPool(jobs if jobs is not None else (os.cpu_count() or 1))
    try:
        result = validate_block(
            block,
            spent,
            height,
            network,
            prev_mtp=prev_mtp,
            now=int(time.time()),
            check_pow=not no_pow,
            pool=pool,
        )
    except ValidationError as e:
        out = {
            "valid": False,
            "error": e.reason,
            "tx": e.tx,
            "input": e.input,
            "debug": e.debug,
            "block": block.hash_hex,
            "height": height,
            "seconds": round(time.perf_counter() - started, 6),
        }
        if as_json:
            click.echo(json.dumps(out))
        else:
            where = "".join(f" {k} {v}" for k, v in (("tx", e.tx), ("input", e.input)) if v is not None)
            click.echo(f"INVALID block {block.hash_hex} at height {height}: {e.reason}{where}")
            if e.debug:
                click.echo(f"  {e.debug}")
        sys.exit(EXIT_INVALID)
    except ContextError as e:
        _fail_input(f"{undo_path} does not belong to this block: {e}", as_json)
    finally:
        pool.close()
    seconds = time.perf_counter() - started
    needs_chain = [u for u in result.unchecked if u.startswith(_NEEDS_CHAIN)]
    skipped = [u for u in result.unchecked if not u.startswith(_NEEDS_CHAIN)]
    # VALID only if every rule the block and its undo data decide was checked (every script included).
    partial = bool(skipped) or result.inputs_verified < result.inputs
    out = {"valid": None if partial else True, "partial": partial, "inputs_verified": result.inputs_verified,
           "seconds": round(seconds, 6), "block": result.block_hash, "height": height, "network": result.network,
           "txs": result.txs, "inputs": result.inputs, "fees": result.fees, "sigop_cost": result.sigop_cost,
           "weight": result.weight, "flags": result.flags, "jobs": pool.jobs, "unchecked": skipped,
           "needs_chain": needs_chain}  # fmt: skip
    if as_json:
        click.echo(json.dumps(out))
    else:
        verdict = "PARTIAL" if partial else "VALID"
        click.echo(f"{verdict} block {result.block_hash} at height {height} ({network})"
                   + (": no rule failed, but not every rule could be checked" if partial else ""))  # fmt: skip
        fees = "unknown" if result.fees is None else f"{result.fees} sat"
        sigops = "unknown" if result.sigop_cost is None else str(result.sigop_cost)
        click.echo(f"  {result.txs} txs, {result.inputs_verified}/{result.inputs} inputs verified, "
                   f"fees {fees}, sigop cost {sigops}, {seconds:.3f} s on {pool.jobs} jobs")  # fmt: skip
        for item in skipped:
            click.echo(f"  not checked: {item}")
        for item in needs_chain:
            click.echo(f"  needs the chain: {item}")
    sys.exit(EXIT_PARTIAL if partial else EXIT_VALID)


COMMANDS: list[click.Command] = [verify_block]
