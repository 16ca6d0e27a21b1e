"""The RPC methods: Core's names, parameters, field names, types and units.

Each method is registered with its parameter list (name, kind, default); the server binds
positional or named arguments to it and checks kinds as Core's RPCHelpMan does (error -3 for a
wrong JSON type, -1 with the usage line for a wrong count). Amounts are BTC with 8 decimals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..consensus.errors import ValidationError
from ..consensus.params import block_subsidy
from ..errors import ParseError
from ..mempool.errors import TxResult
from ..mempool.persist import dump_mempool
from ..mempool.policy import FeeRate
from ..mining.assembler import assemble, grind, serialize_block
from ..primitives.address import AddressError, address_to_script, script_to_address
from ..primitives.block import Block, BlockHeader, bits_to_target
from ..primitives.hashes import hash_to_hex, sha256
from ..primitives.script import OPCODE_NAMES, classify_output, iter_script
from ..primitives.transaction import Transaction, TxOut
from ..storage.undo import decode_block_undo
from .context import RpcContext
from .errors import (
    RPC_CLIENT_P2P_DISABLED,
    RPC_DESERIALIZATION_ERROR,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_TRANSACTION_ERROR,
    RPC_TRANSACTION_REJECTED,
    RPC_TYPE_ERROR,
    RPC_VERIFY_ALREADY_IN_UTXO_SET,
    RPC_VERIFY_ERROR,
    RPCError,
)
from .jsonfmt import Amount, Double

DEFAULT_MAX_RAW_TX_FEE_RATE = 10_000_000  # sat/kvB: 0.10 BTC/kvB, sendrawtransaction's maxfeerate
CHAIN_NAMES = {"mainnet": "main", "testnet3": "test", "testnet4": "testnet4", "signet": "signet", "regtest": "regtest"}
TYPE_NAMES = {
    "p2pk": "pubkey", "p2pkh": "pubkeyhash", "p2sh": "scripthash", "p2wpkh": "witness_v0_keyhash",
    "p2wsh": "witness_v0_scripthash", "p2tr": "witness_v1_taproot", "p2a": "anchor", "multisig": "multisig",
    "op_return": "nulldata", "witness_unknown": "witness_unknown", "nonstandard": "nonstandard",
}  # fmt: skip

# ----------------------------------------------------------------------------- registry
KINDS = {"num": "number", "str": "string", "bool": "bool", "arr": "array", "obj": "object", "any": "any",
         "amount": "number", "numstr": "number"}  # fmt: skip


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # one of KINDS
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class Method:
    name: str
    func: Callable[..., Any]
    params: tuple[Param, ...]
    category: str
    summary: str

    def usage(self) -> str:
        args = " ".join(p.name if p.required else f"( {p.name} )" for p in self.params)
        return f"{self.name} {args}".rstrip()


METHODS: dict[str, Method] = {}


def rpc(category: str, *params: Param) -> Callable:
    def wrap(func: Callable) -> Callable:
        name = func.__name__.removeprefix("rpc_")
        summary = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else ""
        METHODS[name] = Method(name, func, params, category, summary)
        return func

    return wrap


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)) or type(v).__name__ == "Decimal":
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def bind(method: Method, params: Any) -> list[Any]:
    """Core's parameter handling: positional array or named object; checks count and JSON types."""
    specs = method.params
    if params is None:
        params = []
    if isinstance(params, dict):
        unknown = [k for k in params if k not in {p.name for p in specs}]
        if unknown:
            raise RPCError(RPC_INVALID_PARAMETER, f"Unknown named parameter {unknown[0]}")
        values = [params.get(p.name) for p in specs]
    elif isinstance(params, list):
        if len(params) > len(specs):
            raise RPCError(RPC_MISC_ERROR, f"{method.usage()}\n\nToo many parameters: {len(params)} > {len(specs)}")
        values = list(params) + [None] * (len(specs) - len(params))
    else:
        raise RPCError(-32600, "Params must be an array or object")
    out = []
    for p, v in zip(specs, values, strict=True):
        if v is None:
            if p.required:
                raise RPCError(RPC_MISC_ERROR, f"{method.usage()}\n\nMissing required argument {p.name}")
            out.append(p.default)
            continue
        t = _json_type(v)
        want = KINDS[p.kind]
        if p.kind == "numstr" and t in ("number", "string"):
            pass
        elif p.kind == "amount" and t in ("number", "string"):
            pass
        elif want != "any" and t != want:
            raise RPCError(RPC_TYPE_ERROR, f"JSON value of type {t} is not of expected type {want}")
        if p.kind == "num" and not isinstance(v, int):  # every "num" parameter here is an integer
            if v != int(v):
                raise RPCError(RPC_TYPE_ERROR, "JSON value is not an integer as expected")
            v = int(v)
        out.append(v)
    return out


# ----------------------------------------------------------------------------- helpers
def parse_hash(value: str, name: str = "hash") -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise RPCError(RPC_INVALID_PARAMETER, f"{name} must be of length 64 (not {len(str(value))}, for '{value}')")
    try:
        return bytes.fromhex(value)[::-1]
    except ValueError:
        raise RPCError(RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{value}')") from None


def parse_tx(hexstr: str) -> Transaction:
    if not isinstance(hexstr, str):
        raise RPCError(RPC_TYPE_ERROR, f"JSON value of type {_json_type(hexstr)} is not of expected type string")
    try:
        return Transaction.from_hex(hexstr)
    except (ParseError, ValueError):
        raise RPCError(RPC_DESERIALIZATION_ERROR, "TX decode failed. Make sure the tx has at least one input.") from None


def amount_to_sat(v: Any) -> int:
    from decimal import Decimal, InvalidOperation

    try:
        d = Decimal(str(v))
    except InvalidOperation:
        raise RPCError(RPC_TYPE_ERROR, "Invalid amount") from None
    sat = d * 100_000_000
    if sat != sat.to_integral_value() or sat < 0:
        raise RPCError(RPC_TYPE_ERROR, "Invalid amount")
    return int(sat)


def difficulty(bits: int) -> Double:
    """GetDifficulty: the mainnet minimum target (0x1d00ffff) over this block's target, as Core computes it."""
    shift = (bits >> 24) & 0xFF
    diff = 0x0000FFFF / (bits & 0x00FFFFFF)
    while shift < 29:
        diff *= 256.0
        shift += 1
    while shift > 29:
        diff /= 256.0
        shift -= 1
    return Double(diff)


_DESC_INPUT = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
_DESC_CHECK = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_DESC_GEN = (0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD)


_SIGHASH_NAMES = {0x01: "ALL", 0x02: "NONE", 0x03: "SINGLE", 0x81: "ALL|ANYONECANPAY", 0x82: "NONE|ANYONECANPAY",
                  0x83: "SINGLE|ANYONECANPAY"}


def _script_num(data: bytes) -> int:
    if not data:
        return 0
    v = int.from_bytes(data, "little")
    if data[-1] & 0x80:
        return -(v & ~(0x80 << (8 * (len(data) - 1))))
    return v


def _der_signature(sig: bytes) -> bool:
    """IsValidSignatureEncoding (BIP66 strict DER, with the sighash byte)."""
    n = len(sig)
    if n < 9 or n > 73 or sig[0] != 0x30 or sig[1] != n - 3:
        return False
    rlen = sig[3]
    if 5 + rlen >= n:
        return False
    slen = sig[5 + rlen]
    if rlen + slen + 7 != n or sig[2] != 0x02 or rlen == 0 or sig[4] & 0x80:
        return False
    if rlen > 1 and sig[4] == 0 and not sig[5] & 0x80:
        return False
    if sig[rlen + 4] != 0x02 or slen == 0 or sig[rlen + 6] & 0x80:
        return False
    return not (slen > 1 and sig[rlen + 6] == 0 and not sig[rlen + 7] & 0x80)


def script_asm(script: bytes, sighash_decode: bool = False) -> str:
    """ScriptToAsmStr: small pushes as numbers, others as hex, opcodes by name; with
    ``sighash_decode`` (scriptSigs) a DER signature's hash type is written as [ALL] etc."""
    parts = []
    for tok in iter_script(script):
        op = tok.opcode
        if tok.truncated:
            parts.append("[error]")
            break
        if tok.data is not None:
            data = tok.data
            if len(data) <= 4:
                parts.append(str(_script_num(data)))
            elif sighash_decode and _der_signature(data) and data[-1] in _SIGHASH_NAMES:
                parts.append(data[:-1].hex() + f"[{_SIGHASH_NAMES[data[-1]]}]")
            else:
                parts.append(data.hex())
        elif op == 0x4F:
            parts.append("-1")
        elif 0x51 <= op <= 0x60:
            parts.append(str(op - 0x50))
        else:
            parts.append(OPCODE_NAMES.get(op, "OP_UNKNOWN") if op != 0xFF else "OP_INVALIDOPCODE")
    return " ".join(parts)


def descriptor_checksum(desc: str) -> str:
    """The 8-character BIP380 descriptor checksum."""
    symbols: list[int] = []
    groups: list[int] = []
    for ch in desc:
        v = _DESC_INPUT.find(ch)
        if v < 0:
            raise ValueError(f"invalid character {ch!r} in descriptor")
        symbols.append(v & 31)
        groups.append(v >> 5)
        if len(groups) == 3:
            symbols.append(groups[0] * 9 + groups[1] * 3 + groups[2])
            groups = []
    if len(groups) == 1:
        symbols.append(groups[0])
    elif len(groups) == 2:
        symbols.append(groups[0] * 3 + groups[1])
    chk = 1
    for value in symbols + [0] * 8:
        top = chk >> 35
        chk = ((chk & 0x7FFFFFFFF) << 5) ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _DESC_GEN[i]
    chk ^= 1
    return "".join(_DESC_CHECK[(chk >> (5 * (7 - i))) & 31] for i in range(8))


def script_descriptor(spk: bytes, network: str) -> str:
    kind = classify_output(spk)
    addr = script_to_address(spk, network)
    if kind == "p2pk":
        body = f"pk({spk[1:-1].hex()})"
    elif addr is not None:
        body = f"addr({addr})"
    else:
        body = f"raw({spk.hex()})"
    return f"{body}#{descriptor_checksum(body)}"


def script_pubkey_json(spk: bytes, network: str) -> dict:
    kind = classify_output(spk)
    out = {"asm": script_asm(spk), "desc": script_descriptor(spk, network), "hex": spk.hex()}
    addr = script_to_address(spk, network)
    if addr is not None:
        out["address"] = addr
    out["type"] = TYPE_NAMES[kind]
    return out


def tx_json(tx: Transaction, network: str, *, include_hex: bool = True, block_hash: bytes | None = None,
            spent: list | None = None, fee: int | None = None) -> dict:
    """TxToUniv: Core's decoded transaction."""
    vin = []
    for i, txin in enumerate(tx.inputs):
        wit = tx.witnesses[i] if tx.has_witness else ()
        if tx.is_coinbase():
            d: dict = {"coinbase": txin.script_sig.hex()}
        else:
            d = {"txid": hash_to_hex(txin.prev_txid), "vout": txin.prev_index,
                 "scriptSig": {"asm": script_asm(txin.script_sig, True), "hex": txin.script_sig.hex()}}
        if wit:
            d["txinwitness"] = [w.hex() for w in wit]
        if spent is not None and not tx.is_coinbase():
            c = spent[i]
            d["prevout"] = {"generated": bool(c.coinbase), "height": c.height, "value": Amount(c.value),
                            "scriptPubKey": script_pubkey_json(c.script_pubkey, network)}
        d["sequence"] = txin.sequence
        vin.append(d)
    vout = [
        {"value": Amount(o.value), "n": n, "scriptPubKey": script_pubkey_json(o.script_pubkey, network)}
        for n, o in enumerate(tx.outputs)
    ]
    out = {
        "txid": tx.txid_hex, "hash": tx.wtxid_hex, "version": tx.version, "size": tx.size, "vsize": tx.vsize,
        "weight": tx.weight, "locktime": tx.locktime, "vin": vin, "vout": vout,
    }  # fmt: skip
    if fee is not None:
        out["fee"] = Amount(fee)
    if block_hash is not None:
        out["blockhash"] = hash_to_hex(block_hash)
    if include_hex:
        out["hex"] = tx.serialize().hex()
    return out


def _entry(ctx: RpcContext, block_hash: bytes):
    e = ctx.chainstate.tree.get(block_hash)
    if e is None:
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
    return e


def _in_active(ctx: RpcContext, e) -> bool:
    tip = ctx.chainstate.tip
    return e.height <= tip.height and ctx.chainstate.tree.ancestor(tip, e.height) is e


def _read_block(ctx: RpcContext, e) -> Block:
    from ..chain.headers import HAVE_DATA
    from ..mempool.sync import block_of

    if not e.status & HAVE_DATA:
        raise RPCError(RPC_MISC_ERROR, "Block not available (not fully downloaded)")
    return block_of(ctx.chainstate, e)


def header_json(ctx: RpcContext, e) -> dict:
    cs = ctx.chainstate
    tip = cs.tip
    active = _in_active(ctx, e)
    h: BlockHeader = e.header
    out = {
        "hash": e.hash_hex,
        "confirmations": tip.height - e.height + 1 if active else -1,
        "height": e.height,
        "version": h.version,
        "versionHex": f"{h.version & 0xFFFFFFFF:08x}",
        "merkleroot": hash_to_hex(h.merkle_root),
        "time": h.time,
        "mediantime": cs.tree.median_time_past(e),
        "nonce": h.nonce,
        "bits": f"{h.bits:08x}",
        "target": f"{bits_to_target(h.bits):064x}",
        "difficulty": difficulty(h.bits),
        "chainwork": f"{e.chainwork:064x}",
        "nTx": e.tx_count,
    }
    if e.prev is not None:
        out["previousblockhash"] = e.prev.hash_hex
    if active and e.height < tip.height:
        out["nextblockhash"] = cs.tree.ancestor(tip, e.height + 1).hash_hex
    return out


def _mempool(ctx: RpcContext):
    if ctx.mempool is None:
        raise RPCError(RPC_MISC_ERROR, "Mempool disabled or instance not found")
    return ctx.mempool


def _p2p(ctx: RpcContext):
    if ctx.peers is None:
        raise RPCError(RPC_CLIENT_P2P_DISABLED, "Error: Peer-to-peer functionality missing or disabled")
    return ctx.peers


# ----------------------------------------------------------------------------- blockchain
@rpc("blockchain")
def rpc_getblockchaininfo(ctx: RpcContext) -> dict:
    """Returns an object containing various state info regarding blockchain processing."""
    cs = ctx.chainstate
    tip = cs.tip
    size = sum(f.stat().st_size for f in (cs.datadir / "blocks").rglob("*") if f.is_file())
    return {
        "chain": CHAIN_NAMES.get(ctx.network, ctx.network),
        "blocks": tip.height,
        "headers": cs.tree.best_header.height,
        "bestblockhash": tip.hash_hex,
        "bits": f"{tip.header.bits:08x}",
        "target": f"{bits_to_target(tip.header.bits):064x}",
        "difficulty": difficulty(tip.header.bits),
        "time": tip.header.time,
        "mediantime": cs.tree.median_time_past(tip),
        "verificationprogress": 1.0 if tip is cs.tree.best_header else tip.height / max(1, cs.tree.best_header.height),
        "initialblockdownload": tip.header.time < time.time() - 24 * 3600 and tip is not cs.tree.best_header,
        "chainwork": f"{tip.chainwork:064x}",
        "size_on_disk": size,
        "pruned": False,
        "warnings": [],
    }


@rpc("blockchain")
def rpc_getblockcount(ctx: RpcContext) -> int:
    """Returns the height of the most-work fully-validated chain."""
    return ctx.chainstate.tip.height


@rpc("blockchain")
def rpc_getbestblockhash(ctx: RpcContext) -> str:
    """Returns the hash of the best (tip) block in the most-work fully-validated chain."""
    return ctx.chainstate.tip.hash_hex


@rpc("blockchain", Param("height", "num", True))
def rpc_getblockhash(ctx: RpcContext, height: int) -> str:
    """Returns hash of block in best-block-chain at height provided."""
    tip = ctx.chainstate.tip
    if not isinstance(height, int) or height < 0 or height > tip.height:
        raise RPCError(RPC_INVALID_PARAMETER, "Block height out of range")
    return ctx.chainstate.tree.ancestor(tip, height).hash_hex


@rpc("blockchain", Param("blockhash", "str", True), Param("verbose", "bool", False, True))
def rpc_getblockheader(ctx: RpcContext, blockhash: str, verbose: bool) -> Any:
    """If verbose is false, returns a string that is serialized, hex-encoded data for blockheader 'hash'."""
    e = _entry(ctx, parse_hash(blockhash))
    if not verbose:
        return e.header.serialize().hex()
    return header_json(ctx, e)


@rpc("blockchain", Param("blockhash", "str", True), Param("verbosity", "any", False, 1))
def rpc_getblock(ctx: RpcContext, blockhash: str, verbosity: Any) -> Any:
    """Returns block data: hex (0), an object with txids (1), with decoded txs and fees (2), and prevouts (3)."""
    if isinstance(verbosity, bool):
        verbosity = 1 if verbosity else 0
    if not isinstance(verbosity, int):
        raise RPCError(RPC_TYPE_ERROR, f"JSON value of type {_json_type(verbosity)} is not of expected type number")
    e = _entry(ctx, parse_hash(blockhash))
    block = _read_block(ctx, e)
    if verbosity <= 0:
        return block.serialize().hex()
    out = header_json(ctx, e)
    out["strippedsize"] = sum(t.base_size for t in block.transactions) + len(block.serialize()) - sum(t.size for t in block.transactions)
    out["size"] = block.size
    out["weight"] = block.weight
    out["nTx"] = len(block.transactions)
    if verbosity == 1:
        out["tx"] = [t.txid_hex for t in block.transactions]
    else:
        undo = None
        if e.undo_pos is not None:
            undo = decode_block_undo(ctx.chainstate.store.get_undo(e.undo_pos))
        txs = []
        for i, t in enumerate(block.transactions):
            spent = undo[i - 1] if (undo is not None and i > 0) else None
            fee = None
            if spent is not None:
                fee = sum(c.value for c in spent) - sum(o.value for o in t.outputs)
            txs.append(tx_json(t, ctx.network, spent=spent if verbosity >= 3 else None, fee=fee))
        out["tx"] = txs
    # Core lists tx last
    out["tx"] = out.pop("tx")
    return out


@rpc("blockchain")
def rpc_getchaintips(ctx: RpcContext) -> list:
    """Return information about all known tips in the block tree."""
    from ..chain.headers import HAVE_DATA

    cs = ctx.chainstate
    entries = list(cs.tree.entries.values())
    has_child = {e.prev.hash for e in entries if e.prev is not None}
    tips = [e for e in entries if e.hash not in has_child]
    if cs.tip not in tips:
        tips.append(cs.tip)
    out = []
    for e in sorted(tips, key=lambda x: -x.height):
        fork = cs.tree.fork_point(e, cs.tip)
        if e is cs.tip:
            status = "active"
        elif e.failed:
            status = "invalid"
        elif not all(x.status & HAVE_DATA for x in cs.tree.path(e, fork)):
            status = "headers-only"
        else:
            status = "valid-fork"
        out.append({"height": e.height, "hash": e.hash_hex, "branchlen": e.height - fork.height, "status": status})
    return out


@rpc("blockchain")
def rpc_getdifficulty(ctx: RpcContext) -> Double:
    """Returns the proof-of-work difficulty as a multiple of the minimum difficulty."""
    return difficulty(ctx.chainstate.tip.header.bits)


@rpc("blockchain", Param("txid", "str", True), Param("n", "num", True), Param("include_mempool", "bool", False, True))
def rpc_gettxout(ctx: RpcContext, txid: str, n: int, include_mempool: bool) -> dict | None:
    """Returns details about an unspent transaction output."""
    t = parse_hash(txid, "txid")
    mp = ctx.mempool
    cs = ctx.chainstate
    if not 0 <= n < 1 << 32:
        return None
    if include_mempool and mp is not None:
        if mp.spender_of(t, n) is not None:
            return None
        e = mp.get(t)
        if e is not None:
            if n >= e.tx.output_count:
                return None
            o = e.tx.outputs[n]
            return {"bestblock": cs.tip.hash_hex, "confirmations": 0, "value": Amount(o.value),
                    "scriptPubKey": script_pubkey_json(o.script_pubkey, ctx.network), "coinbase": False}
    coin = cs.utxo.get(t, n)
    if coin is None:
        return None
    return {
        "bestblock": cs.tip.hash_hex,
        "confirmations": cs.tip.height - coin.height + 1,
        "value": Amount(coin.value),
        "scriptPubKey": script_pubkey_json(coin.script_pubkey, ctx.network),
        "coinbase": bool(coin.coinbase),
    }


@rpc("blockchain", Param("hash_type", "str", False, "hash_serialized_3"))
def rpc_gettxoutsetinfo(ctx: RpcContext, hash_type: str) -> dict:
    """Returns statistics about the unspent transaction output set (hash_serialized_3 as Core)."""
    cs = ctx.chainstate
    if hash_type not in ("hash_serialized_3", "none"):
        raise RPCError(RPC_INVALID_PARAMETER, f"'{hash_type}' is not a valid hash_type")
    coins, total = cs.utxo.stats()
    out = {"height": cs.tip.height, "bestblock": cs.tip.hash_hex, "txouts": coins}
    if hash_type == "hash_serialized_3":
        out["hash_serialized_3"] = hash_to_hex(cs.utxo_digest())
    out["total_amount"] = Amount(total)
    return out


@rpc("blockchain", Param("blockhash", "str", True))
def rpc_invalidateblock(ctx: RpcContext, blockhash: str) -> None:
    """Permanently marks a block as invalid, as if it violated a consensus rule."""
    cs = ctx.chainstate
    e = _entry(ctx, parse_hash(blockhash))
    if e.prev is None:
        raise RPCError(RPC_MISC_ERROR, "Genesis block cannot be invalidated")
    old_tip = cs.tip
    if _in_active(ctx, e):
        while cs.tip is not e.prev:
            cs.disconnect_tip()
    cs.tree.mark_failed(e)
    cs.index_changed(x for x in cs.tree.entries.values() if x.failed)
    cs.activate_best_chain()
    cs.flush()
    if ctx.sync is not None:
        ctx.sync.tip_changed(old_tip)


@rpc("blockchain", Param("blockhash", "str", True))
def rpc_reconsiderblock(ctx: RpcContext, blockhash: str) -> None:
    """Removes invalidity status of a block, its ancestors and its descendants."""
    from ..chain.headers import FAILED, FAILED_PARENT

    cs = ctx.chainstate
    e = _entry(ctx, parse_hash(blockhash))
    old_tip = cs.tip
    for x in list(cs.tree.entries.values()):
        related = (x.height >= e.height and cs.tree.ancestor(x, e.height) is e) or (
            x.height < e.height and cs.tree.ancestor(e, x.height) is x)
        if related and x.status & (FAILED | FAILED_PARENT):
            x.status &= ~(FAILED | FAILED_PARENT)
            cs.index_changed((x,))
            if x.chainwork > cs.tree.best_header.chainwork:
                cs.tree.best_header = x
    cs.activate_best_chain()
    cs.flush()
    if ctx.sync is not None:
        ctx.sync.tip_changed(old_tip)


# ----------------------------------------------------------------------------- raw transactions
@rpc("rawtransactions", Param("txid", "str", True), Param("verbosity", "any", False, 0), Param("blockhash", "str"))
def rpc_getrawtransaction(ctx: RpcContext, txid: str, verbosity: Any, blockhash: str | None) -> Any:
    """Return the raw transaction data (from the mempool, a given block, or the transaction index)."""
    t = parse_hash(txid, "parameter 1")
    if isinstance(verbosity, bool):
        verbosity = int(verbosity)
    cs = ctx.chainstate
    found: Transaction | None = None
    in_block = None
    if blockhash is None and ctx.mempool is not None:
        e = ctx.mempool.get(t)
        if e is not None:
            found = e.tx
    if found is None:
        candidates = []
        if blockhash is not None:
            candidates = [_entry(ctx, parse_hash(blockhash, "parameter 3"))]
        elif cs.txindex is not None:
            bh = cs.txindex.block_hash_of(t)
            if bh is not None and cs.tree.get(bh) is not None:
                candidates = [cs.tree.get(bh)]
        for be in candidates:
            for tx in _read_block(ctx, be).transactions:
                if tx.txid == t:
                    found, in_block = tx, be
                    break
        if found is None:
            if blockhash is not None:
                raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "No such transaction found in the provided block. Use gettransaction for wallet transactions.")
            raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.")
    if not verbosity:
        return found.serialize().hex()
    out = tx_json(found, ctx.network, block_hash=in_block.hash if in_block else None)
    if in_block is not None:
        active = _in_active(ctx, in_block)
        out["in_active_chain"] = active
        if active:
            out["confirmations"] = cs.tip.height - in_block.height + 1
            out["time"] = out["blocktime"] = in_block.header.time
    return out


@rpc("rawtransactions", Param("hexstring", "str", True), Param("iswitness", "bool"))
def rpc_decoderawtransaction(ctx: RpcContext, hexstring: str, iswitness: bool | None) -> dict:
    """Return a JSON object representing the serialized, hex-encoded transaction."""
    return tx_json(parse_tx(hexstring), ctx.network, include_hex=False)


@rpc("rawtransactions", Param("hexstring", "str", True))
def rpc_decodescript(ctx: RpcContext, hexstring: str) -> dict:
    """Decode a hex-encoded script."""
    try:
        spk = bytes.fromhex(hexstring)
    except ValueError:
        raise RPCError(RPC_DESERIALIZATION_ERROR, "argument must be hexadecimal string (not '" + hexstring + "')") from None
    out = script_pubkey_json(spk, ctx.network)
    out.pop("hex")
    kind = classify_output(spk)
    if kind not in ("p2sh", "op_return", "p2wpkh", "p2wsh", "p2tr", "p2a", "witness_unknown"):
        out["p2sh"] = script_to_address(b"\xa9\x14" + _hash160(spk) + b"\x87", ctx.network)
        if kind == "p2pkh":
            segwit = b"\x00\x14" + spk[3:23]
        elif kind == "p2pk":
            segwit = b"\x00\x14" + _hash160(spk[1:-1])
        else:
            segwit = b"\x00\x20" + sha256(spk)
        seg = script_pubkey_json(segwit, ctx.network)
        seg["p2sh-segwit"] = script_to_address(b"\xa9\x14" + _hash160(segwit) + b"\x87", ctx.network)
        out["segwit"] = seg
    return out


def _hash160(b: bytes) -> bytes:
    from ..primitives.hashes import hash160

    return hash160(b)


def _check_max_fee(results, txs, max_rate: int) -> None:
    for tx in txs:
        r = results.get(tx.wtxid)
        if r is not None and r.accepted and max_rate and r.vsize and FeeRate(max_rate).fee(r.vsize) < r.fee:
            raise RPCError(RPC_TRANSACTION_ERROR, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)")


def _fee_rate_arg(v: Any, default: int) -> int:
    if v is None:
        return default
    return amount_to_sat(v)  # BTC/kvB -> sat/kvB


def _check_burn(tx: Transaction, max_burn: int) -> None:
    for o in tx.outputs:
        spk = o.script_pubkey
        if ((spk and spk[0] == 0x6A) or len(spk) > 10_000) and o.value > max_burn:
            raise RPCError(RPC_TRANSACTION_ERROR, "Unspendable output exceeds maximum configured by user (maxburnamount)")


@rpc("rawtransactions", Param("hexstring", "str", True), Param("maxfeerate", "amount"), Param("maxburnamount", "amount"))
def rpc_sendrawtransaction(ctx: RpcContext, hexstring: str, maxfeerate: Any, maxburnamount: Any) -> str:
    """Submit a raw transaction (serialized, hex-encoded) to the local node and network."""
    mp = _mempool(ctx)
    tx = parse_tx(hexstring)
    _check_burn(tx, amount_to_sat(maxburnamount) if maxburnamount is not None else 0)
    max_rate = _fee_rate_arg(maxfeerate, DEFAULT_MAX_RAW_TX_FEE_RATE)
    existing = mp.get(tx.txid)
    if existing is None:
        r = mp.accept(tx, max_fee_rate=FeeRate(max_rate))
        if r.reason == "max-fee-exceeded":
            raise RPCError(RPC_TRANSACTION_ERROR, "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)")
        if not r.accepted:
            if r.result == TxResult.MISSING_INPUTS:
                raise RPCError(RPC_TRANSACTION_ERROR, "bad-txns-inputs-missingorspent")
            if r.reason == "txn-already-known":
                raise RPCError(RPC_VERIFY_ALREADY_IN_UTXO_SET, "Transaction outputs already in utxo set")
            raise RPCError(RPC_TRANSACTION_REJECTED, r.reject_string)
    if ctx.peers is not None:
        ctx.peers.relay_transaction(tx)
    return tx.txid_hex


def _fees_json(r, include_effective: bool = True) -> dict:
    out: dict = {"base": Amount(r.fee)}
    if include_effective and r.effective_feerate is not None:
        out["effective-feerate"] = Amount(r.effective_feerate.sat_per_kvb)
        out["effective-includes"] = [hash_to_hex(w) for w in r.effective_includes]
    return out


@rpc("rawtransactions", Param("rawtxs", "arr", True), Param("maxfeerate", "amount"))
def rpc_testmempoolaccept(ctx: RpcContext, rawtxs: list, maxfeerate: Any) -> list:
    """Returns result of mempool acceptance tests indicating if raw transactions would be accepted by mempool."""
    mp = _mempool(ctx)
    if not 1 <= len(rawtxs) <= 25:
        raise RPCError(RPC_INVALID_PARAMETER, "Array must contain between 1 and 25 transactions.")
    txs = [parse_tx(h) for h in rawtxs]
    max_rate = _fee_rate_arg(maxfeerate, DEFAULT_MAX_RAW_TX_FEE_RATE)
    if len(txs) == 1:
        results = {txs[0].wtxid: mp.accept(txs[0], test_accept=True)}
        pkg_msg = None
    else:
        pres = mp.accept_package(txs, test_accept=True)
        results = pres.results
        pkg_msg = None if pres.ok or pres.results else pres.message
    out = []
    exit_early = False
    for tx in txs:
        item: dict = {"txid": tx.txid_hex, "wtxid": tx.wtxid_hex}
        r = results.get(tx.wtxid)
        if pkg_msg is not None:
            item["package-error"] = pkg_msg
        elif r is None or exit_early or (not r.accepted and not r.reason):
            item["package-error"] = "package-not-validated" if r is None or not r.reason else r.reason
            exit_early = True
        elif r.accepted:
            if max_rate and FeeRate(max_rate).fee(r.vsize) < r.fee:
                item["allowed"] = False
                item["reject-reason"] = "max-fee-exceeded"
                exit_early = True
            else:
                item["allowed"] = True
                item["vsize"] = r.vsize
                item["fees"] = {"base": Amount(r.fee), "effective-feerate": Amount(r.effective_feerate.sat_per_kvb),
                                "effective-includes": [hash_to_hex(w) for w in r.effective_includes]}
        else:
            item["allowed"] = False
            item["reject-reason"] = "missing-inputs" if r.result == TxResult.MISSING_INPUTS else r.reason
            item["reject-details"] = item["reject-reason"] if r.result == TxResult.MISSING_INPUTS else r.reject_string
            exit_early = True
        out.append(item)
    return out


@rpc("rawtransactions", Param("package", "arr", True), Param("maxfeerate", "amount"), Param("maxburnamount", "amount"))
def rpc_submitpackage(ctx: RpcContext, package: list, maxfeerate: Any, maxburnamount: Any) -> dict:
    """Submit a package of raw transactions (a child with its unconfirmed parents) to the local node."""
    mp = _mempool(ctx)
    if not 1 <= len(package) <= 25:
        raise RPCError(RPC_INVALID_PARAMETER, "Array must contain between 1 and 25 transactions.")
    txs = [parse_tx(h) for h in package]
    max_burn = amount_to_sat(maxburnamount) if maxburnamount is not None else 0
    for tx in txs:
        _check_burn(tx, max_burn)
    if len(txs) > 1:
        inputs = {txin.prev_txid for txin in txs[-1].inputs}
        if not all(t.txid in inputs for t in txs[:-1]):
            raise RPCError(RPC_INVALID_PARAMETER, "package topology disallowed. not child-with-parents or parents depend on each other.")
    max_rate = _fee_rate_arg(maxfeerate, DEFAULT_MAX_RAW_TX_FEE_RATE)
    res = mp.accept_package(txs)
    if res.message in ("package-not-sorted", "package-contains-duplicates", "conflict-in-package",
                       "package-too-many-transactions", "package-too-large", "package-not-child-with-parents"):
        raise RPCError(RPC_TRANSACTION_ERROR, res.message)
    tx_results = {}
    for tx in txs:
        r = res.results.get(tx.wtxid)
        item: dict = {"txid": tx.txid_hex}
        if r is None:
            item["error"] = "package-not-validated"
        elif r.accepted:
            if r.other_wtxid is not None:
                item["other-wtxid"] = hash_to_hex(r.other_wtxid)
            item["vsize"] = r.vsize
            item["fees"] = _fees_json(r, include_effective=not r.already_in_mempool)
            if max_rate and r.vsize and FeeRate(max_rate).fee(r.vsize) < r.fee and not r.already_in_mempool:
                item["error"] = "max feerate exceeded"
        else:
            item["error"] = r.reject_string
        tx_results[tx.wtxid_hex] = item
    if ctx.peers is not None:
        for tx in txs:
            r = res.results.get(tx.wtxid)
            if r is not None and r.accepted:
                ctx.peers.relay_transaction(tx)
    return {"package_msg": res.message, "tx-results": tx_results, "replaced-transactions": [t.txid_hex for t in res.replaced]}


# ----------------------------------------------------------------------------- mempool
@rpc("blockchain")
def rpc_getmempoolinfo(ctx: RpcContext) -> dict:
    """Returns details on the active state of the TX memory pool."""
    info = _mempool(ctx).info()
    for k in ("total_fee", "mempoolminfee", "minrelaytxfee", "incrementalrelayfee"):
        info[k] = Amount(round(info[k] * 1e8))
    return info


def entry_json(ctx: RpcContext, e) -> dict:
    mp = ctx.mempool
    spent_by = sorted(hash_to_hex(c) for c in e.children)
    return {
        "vsize": e.vsize, "weight": e.weight, "time": e.time, "height": e.height,
        "descendantcount": e.desc_count, "descendantsize": e.desc_size,
        "ancestorcount": e.anc_count, "ancestorsize": e.anc_size,
        "wtxid": hash_to_hex(e.wtxid),
        "fees": {"base": Amount(e.fee), "modified": Amount(e.modified_fee), "ancestor": Amount(e.anc_fees),
                 "descendant": Amount(e.desc_fees)},
        "depends": sorted(hash_to_hex(p) for p in e.parents),
        "spentby": spent_by,
        "bip125-replaceable": True,
        "unbroadcast": False,
    } if mp is not None else {}


@rpc("blockchain", Param("verbose", "bool", False, False), Param("mempool_sequence", "bool", False, False))
def rpc_getrawmempool(ctx: RpcContext, verbose: bool, mempool_sequence: bool) -> Any:
    """Returns all transaction ids in memory pool."""
    mp = _mempool(ctx)
    entries = sorted(mp.entries.values(), key=lambda e: e.sequence)
    if verbose and mempool_sequence:
        raise RPCError(RPC_INVALID_PARAMETER, "Verbose results cannot contain mempool sequence values.")
    if verbose:
        return {hash_to_hex(e.txid): entry_json(ctx, e) for e in entries}
    ids = [hash_to_hex(e.txid) for e in entries]
    if mempool_sequence:
        return {"txids": ids, "mempool_sequence": mp._sequence}
    return ids


def _pool_entry(ctx: RpcContext, txid: str):
    mp = _mempool(ctx)
    e = mp.get(parse_hash(txid, "txid"))
    if e is None:
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool")
    return mp, e


@rpc("blockchain", Param("txid", "str", True))
def rpc_getmempoolentry(ctx: RpcContext, txid: str) -> dict:
    """Returns mempool data for given transaction."""
    return entry_json(ctx, _pool_entry(ctx, txid)[1])


@rpc("blockchain", Param("txid", "str", True), Param("verbose", "bool", False, False))
def rpc_getmempoolancestors(ctx: RpcContext, txid: str, verbose: bool) -> Any:
    """If txid is in the mempool, returns all in-mempool ancestors."""
    mp, e = _pool_entry(ctx, txid)
    anc = mp.ancestors(e.txid)
    if verbose:
        return {hash_to_hex(a): entry_json(ctx, mp.get(a)) for a in sorted(anc)}
    return [hash_to_hex(a) for a in sorted(anc)]


@rpc("blockchain", Param("txid", "str", True), Param("verbose", "bool", False, False))
def rpc_getmempooldescendants(ctx: RpcContext, txid: str, verbose: bool) -> Any:
    """If txid is in the mempool, returns all in-mempool descendants."""
    mp, e = _pool_entry(ctx, txid)
    desc = mp.descendants(e.txid)
    if verbose:
        return {hash_to_hex(d): entry_json(ctx, mp.get(d)) for d in sorted(desc)}
    return [hash_to_hex(d) for d in sorted(desc)]


@rpc("mining", Param("txid", "str", True), Param("dummy", "num"), Param("fee_delta", "num", True))
def rpc_prioritisetransaction(ctx: RpcContext, txid: str, dummy: Any, fee_delta: int) -> bool:
    """Accepts the transaction into mined blocks at a higher (or lower) priority."""
    if dummy not in (None, 0):
        raise RPCError(RPC_INVALID_PARAMETER, "Priority is no longer supported, dummy argument to prioritisetransaction must be 0.")
    _mempool(ctx).prioritise(parse_hash(txid, "txid"), int(fee_delta))
    return True


@rpc("blockchain")
def rpc_savemempool(ctx: RpcContext) -> dict:
    """Dumps the mempool to disk."""
    mp = _mempool(ctx)
    if ctx.datadir is None:
        raise RPCError(RPC_MISC_ERROR, "Unable to dump mempool to disk")
    from pathlib import Path

    path = Path(ctx.datadir) / "mempool.dat"
    dump_mempool(mp, path)
    return {"filename": str(path)}


# ----------------------------------------------------------------------------- mining
@rpc("mining", Param("template_request", "obj", False, None))
def rpc_getblocktemplate(ctx: RpcContext, template_request: dict | None) -> Any:
    """Returns data needed to construct a block to work on (BIP22, BIP23, BIP9, BIP145)."""
    req = template_request or {}
    mode = req.get("mode", "template")
    if mode == "proposal":
        data = req.get("data")
        if not isinstance(data, str):
            raise RPCError(RPC_TYPE_ERROR, "Missing data String key for proposal")
        return _check_proposal(ctx, data)
    if mode != "template":
        raise RPCError(RPC_INVALID_PARAMETER, "Invalid mode")
    rules = req.get("rules", [])
    if "segwit" not in rules:
        raise RPCError(RPC_INVALID_PARAMETER, 'getblocktemplate must be called with the segwit rule set (call with {"rules": ["segwit"]})')
    cs = ctx.chainstate
    # As Core: the template is rebuilt when the tip changed, or when the mempool changed and the last
    # one is more than 5 seconds old; otherwise the same transactions with a fresh time.
    updates = ctx.mempool.updates if ctx.mempool is not None else 0
    cached = ctx.template_cache
    now = time.time()
    if cached is None or cached[0] is not cs.tip or (cached[1] != updates and now - cached[2] > 5):
        t = assemble(cs, ctx.mempool)
        txs = [{"data": x.tx.serialize().hex(), "txid": x.tx.txid_hex, "hash": x.tx.wtxid_hex,
                "depends": x.depends, "fee": x.fee, "sigops": x.sigop_cost, "weight": x.tx.weight}
               for x in t.transactions]
        ctx.template_cache = (cs.tip, updates, now, t, txs)
    else:
        t, txs = cached[3], cached[4]
        t.time = max(t.mintime, int(now))
    out = {
        "capabilities": ["proposal"],
        "version": t.version,
        "rules": ["csv", "!segwit", "taproot"],
        "vbavailable": {},
        "vbrequired": 0,
        "previousblockhash": hash_to_hex(t.prev_hash),
        "transactions": txs,
        "coinbaseaux": {},
        "coinbasevalue": t.coinbase_value,
        "longpollid": hash_to_hex(t.prev_hash) + str(len(ctx.mempool or ())),
        "target": f"{bits_to_target(t.bits):064x}",
        "mintime": t.mintime,
        "mutable": ["time", "transactions", "prevblock"],
        "noncerange": "00000000ffffffff",
        "sigoplimit": 80_000,
        "sizelimit": 4_000_000,
        "weightlimit": 4_000_000,
        "curtime": t.time,
        "bits": f"{t.bits:08x}",
        "height": t.height,
    }
    if t.segwit:
        out["default_witness_commitment"] = t.witness_commitment_script().hex()
    return out


def _check_proposal(ctx: RpcContext, data: str) -> str | None:
    from ..consensus.block_rules import check_block

    try:
        block = Block.from_bytes(bytes.fromhex(data))
    except (ParseError, ValueError):
        raise RPCError(RPC_DESERIALIZATION_ERROR, "Block decode failed") from None
    cs = ctx.chainstate
    if cs.tree.get(block.hash) is not None:
        return "duplicate"
    if block.header.prev_hash != cs.tip.hash:
        return "inconclusive-not-best-prevblk"
    try:
        check_block(block, cs.params, check_pow=False)
    except ValidationError as e:
        return e.reason
    return None


@rpc("mining", Param("hexdata", "str", True), Param("dummy", "str"))
def rpc_submitblock(ctx: RpcContext, hexdata: str, dummy: Any) -> str | None:
    """Attempts to submit new block to network."""
    try:
        raw = bytes.fromhex(hexdata)
        block = Block.from_bytes(raw)
    except (ParseError, ValueError):
        raise RPCError(RPC_DESERIALIZATION_ERROR, "Block decode failed") from None
    if not block.transactions or not block.transactions[0].is_coinbase():
        raise RPCError(RPC_DESERIALIZATION_ERROR, "Block does not start with a coinbase")
    return submit_block(ctx, raw, block)


def submit_block(ctx: RpcContext, raw: bytes, block: Block) -> str | None:
    cs = ctx.chainstate
    known = cs.tree.get(block.hash)
    from ..chain.headers import HAVE_DATA

    if known is not None and known.status & HAVE_DATA:
        return "duplicate-invalid" if known.failed else "duplicate"
    if cs.tree.get(block.header.prev_hash) is None:
        return "prev-blk-not-found"
    cs.last_error = None
    try:
        if ctx.sync is not None:
            entry = ctx.sync.process_block(raw)
        else:
            entry = cs.process_block(raw)
    except ValidationError as e:
        return e.reason
    if entry.failed:
        return cs.last_error.reason if cs.last_error is not None else "invalid"
    if cs.tip is not entry and not _in_active(ctx, entry):
        return "inconclusive"
    if ctx.peers is not None and hasattr(ctx.peers, "block_connected"):
        ctx.peers.block_connected(entry)
    return None


def _script_for(ctx: RpcContext, address: str) -> bytes:
    try:
        return address_to_script(address, ctx.network)
    except (AddressError, ValueError, KeyError):
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address") from None


def _generate(ctx: RpcContext, n: int, spk: bytes, max_tries: int) -> list[str]:
    if not isinstance(n, int) or n < 0:
        raise RPCError(RPC_INVALID_PARAMETER, "Invalid nblocks")
    if ctx.chainstate.params.name != "regtest":
        raise RPCError(RPC_MISC_ERROR, "generate is only available on regtest")
    hashes = []
    for i in range(n):
        t = assemble(ctx.chainstate, ctx.mempool)
        block = grind(t.block(spk, extra_nonce=i.to_bytes(4, "little")), ctx.chainstate.params, max_tries)
        err = submit_block(ctx, serialize_block(block), block)
        if err is not None:
            raise RPCError(RPC_VERIFY_ERROR, f"ProcessNewBlock, block not accepted: {err}")
        hashes.append(block.hash_hex)
    return hashes


@rpc("generating", Param("nblocks", "num", True), Param("address", "str", True), Param("maxtries", "num", False, 1_000_000))
def rpc_generatetoaddress(ctx: RpcContext, nblocks: int, address: str, maxtries: int) -> list[str]:
    """Mine to a specified address and return the block hashes."""
    return _generate(ctx, nblocks, _script_for(ctx, address), maxtries)


def descriptor_script(ctx: RpcContext, desc: str) -> bytes:
    """addr(ADDRESS) and raw(HEX) descriptors, with or without a checksum."""
    body, _, check = desc.partition("#")
    if check and descriptor_checksum(body) != check:
        raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, f"Provided checksum '{check}' does not match computed checksum '{descriptor_checksum(body)}'")
    if body.startswith("addr(") and body.endswith(")"):
        return _script_for(ctx, body[5:-1])
    if body.startswith("raw(") and body.endswith(")"):
        try:
            return bytes.fromhex(body[4:-1])
        except ValueError:
            pass
    raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, "Cannot derive script without private keys")


@rpc("generating", Param("num_blocks", "num", True), Param("descriptor", "str", True), Param("maxtries", "num", False, 1_000_000))
def rpc_generatetodescriptor(ctx: RpcContext, num_blocks: int, descriptor: str, maxtries: int) -> list[str]:
    """Mine to a specified descriptor and return the block hashes."""
    return _generate(ctx, num_blocks, descriptor_script(ctx, descriptor), maxtries)


@rpc("generating", Param("output", "str", True), Param("transactions", "arr", True), Param("submit", "bool", False, True))
def rpc_generateblock(ctx: RpcContext, output: str, transactions: list, submit: bool) -> dict:
    """Mine a set of ordered transactions to a specified address or descriptor and return the block hash."""
    spk = descriptor_script(ctx, output) if "(" in output else _script_for(ctx, output)
    mp = ctx.mempool
    txs = []
    for item in transactions:
        if isinstance(item, str) and len(item) == 64:
            e = mp.get(parse_hash(item, "txid")) if mp is not None else None
            if e is None:
                raise RPCError(RPC_INVALID_ADDRESS_OR_KEY, f"Transaction {item} not in mempool.")
            txs.append(e.tx)
        else:
            tx = parse_tx(item)
            txs.append(tx)
    cs = ctx.chainstate
    t = assemble(cs, None)
    fees = 0
    view: dict = {}
    for tx in txs:
        total_in = 0
        for txin in tx.inputs:
            c = view.get((txin.prev_txid, txin.prev_index)) or cs.utxo.get(txin.prev_txid, txin.prev_index)
            if c is None:
                raise RPCError(RPC_VERIFY_ERROR, "TestBlockValidity failed: bad-txns-inputs-missingorspent")
            total_in += c.value if hasattr(c, "value") else c
        for i, o in enumerate(tx.outputs):
            view[(tx.txid, i)] = TxOut(o.value, o.script_pubkey)
        fees += total_in - sum(o.value for o in tx.outputs)
    from ..mining.assembler import TemplateTx

    t.transactions = [TemplateTx(tx, 0, 0) for tx in txs]
    t.coinbase_value = block_subsidy(t.height, cs.params) + fees
    block = grind(t.block(spk), cs.params)
    out = {"hash": block.hash_hex}
    if not submit:
        out["hex"] = block.serialize().hex()
        return out
    err = submit_block(ctx, serialize_block(block), block)
    if err is not None:
        raise RPCError(RPC_VERIFY_ERROR, f"TestBlockValidity failed: {err}")
    return out


@rpc("mining")
def rpc_getmininginfo(ctx: RpcContext) -> dict:
    """Returns a json object containing mining-related information."""
    cs = ctx.chainstate
    t = cs.tip
    return {
        "blocks": t.height, "bits": f"{t.header.bits:08x}", "difficulty": difficulty(t.header.bits),
        "target": f"{bits_to_target(t.header.bits):064x}", "networkhashps": 0, "pooledtx": len(ctx.mempool or ()),
        "blockmintxfee": Amount(1), "chain": CHAIN_NAMES.get(ctx.network, ctx.network), "warnings": [],
    }  # fmt: skip


# ----------------------------------------------------------------------------- network
@rpc("network")
def rpc_getnetworkinfo(ctx: RpcContext) -> dict:
    """Returns an object containing various state info regarding P2P networking."""
    mp = ctx.mempool
    base = {
        "version": 300000, "subversion": "/PacketFS:0.1.0/", "protocolversion": 70016,
        "localservices": "0000000000000409", "localservicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED"],
        "localrelay": True, "timeoffset": 0, "networkactive": ctx.peers is not None,
        "connections": ctx.peers.connection_count() if ctx.peers else 0,
        "connections_in": 0, "connections_out": 0, "networks": [],
        "relayfee": Amount(mp.opts.min_relay_fee.sat_per_kvb if mp else 100),
        "incrementalfee": Amount(mp.opts.incremental_relay_fee.sat_per_kvb if mp else 100),
        "localaddresses": [], "warnings": [],
    }  # fmt: skip
    if ctx.peers is not None:
        base.update(ctx.peers.network_info())
    return base


@rpc("network")
def rpc_getpeerinfo(ctx: RpcContext) -> list:
    """Returns data about each connected network peer as a json array of objects."""
    return ctx.peers.peer_info() if ctx.peers is not None else []


@rpc("network")
def rpc_getconnectioncount(ctx: RpcContext) -> int:
    """Returns the number of connections to other nodes."""
    return ctx.peers.connection_count() if ctx.peers is not None else 0


@rpc("network", Param("node", "str", True), Param("command", "str", True), Param("v2transport", "bool"))
def rpc_addnode(ctx: RpcContext, node: str, command: str, v2transport: Any) -> None:
    """Attempts to add or remove a node from the addnode list, or to try a connection once."""
    if command not in ("add", "remove", "onetry"):
        raise RPCError(RPC_MISC_ERROR, "addnode \"node\" \"command\"\n\ncommand must be one of add, remove, onetry")
    _p2p(ctx).add_node(node, command)


@rpc("network", Param("address", "str"), Param("nodeid", "num"))
def rpc_disconnectnode(ctx: RpcContext, address: str | None, nodeid: int | None) -> None:
    """Immediately disconnects from the specified peer node."""
    peers = _p2p(ctx)
    if (address is None) == (nodeid is None):
        raise RPCError(RPC_INVALID_PARAMETER, "Only one of address and nodeid should be provided.")
    peers.disconnect_node(address, nodeid)


@rpc("network", Param("subnet", "str", True), Param("command", "str", True), Param("bantime", "num", False, 0),
     Param("absolute", "bool", False, False))
def rpc_setban(ctx: RpcContext, subnet: str, command: str, bantime: int, absolute: bool) -> None:
    """Attempts to add or remove an IP/Subnet from the banned list."""
    if command not in ("add", "remove"):
        raise RPCError(RPC_MISC_ERROR, "setban \"subnet\" \"command\"\n\ncommand must be add or remove")
    _p2p(ctx).set_ban(subnet, command, bantime, absolute)


@rpc("network")
def rpc_listbanned(ctx: RpcContext) -> list:
    """List all manually banned IPs/Subnets."""
    return ctx.peers.list_banned() if ctx.peers is not None else []


@rpc("network")
def rpc_clearbanned(ctx: RpcContext) -> None:
    """Clear all banned IPs."""
    _p2p(ctx).clear_banned()


# ----------------------------------------------------------------------------- control
@rpc("control")
def rpc_uptime(ctx: RpcContext) -> int:
    """Returns the total uptime of the server."""
    return int(time.time() - ctx.started)


@rpc("control")
def rpc_stop(ctx: RpcContext) -> str:
    """Request a graceful shutdown of PacketFS."""
    if ctx.stop is not None:
        ctx.stop()
    return "PacketFS stopping"


@rpc("control", Param("command", "str"))
def rpc_help(ctx: RpcContext, command: str | None) -> str:
    """List all commands, or get help for a specified command."""
    if command:
        m = METHODS.get(command)
        if m is None:
            return f"help: unknown command: {command}"
        return f"{m.usage()}\n\n{m.summary}"
    lines = []
    for cat in sorted({m.category for m in METHODS.values()}):
        lines.append(f"== {cat.capitalize()} ==")
        lines += [m.usage() for m in sorted(METHODS.values(), key=lambda m: m.name) if m.category == cat]
        lines.append("")
    return "\n".join(lines).rstrip()
