"""Chain generator profiles: what real blocks of an era are made of, as distributions to draw from.

A profile is derived from real mainnet blocks with the patterns analysis (``patterns.analyze_block``:
input and output type mixes, amounts, signature lengths, sequences, versions, locktimes) plus a few
per-transaction tallies the patterns report does not keep (inputs and outputs per transaction,
OP_RETURN sizes, script reuse by kind) and, for blocks whose undo data is known, fee rates and coin
ages. The shipped JSON files are exactly what :func:`derive_profile` returns for
:data:`PROFILE_SOURCES` (``tools/derive_profiles.py`` rewrites them; a test checks they match).

Kinds the generator cannot produce are left out and the remaining shares renormalized; what was left
out is recorded under ``dropped``. The generator's kinds:

- outputs: p2pkh, p2sh_multisig (2-of-3), p2sh_p2wpkh, p2sh_p2wsh (2-of-3), p2wpkh, p2wsh (2-of-3),
  p2tr_keypath (no script tree), p2tr_scriptpath (a two-leaf tree, spent through a CHECKSIG leaf);
  plus OP_RETURN outputs, drawn per transaction (``op_return_tx_share``).
- A P2SH output's kind is not visible on chain, so the P2SH output share is split in the proportions
  of the P2SH input kinds seen (likewise P2TR between key and script path).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ...errors import PacketFSError
from ...patterns.analyze import analyze_block, infer_input_type
from ...primitives.block import Block
from ...primitives.script import classify_output

PROFILE_FORMAT = 1
PROFILES_DIR = Path(__file__).resolve().parent

KINDS = (
    "p2pkh", "p2sh_multisig", "p2sh_p2wpkh", "p2sh_p2wsh", "p2wpkh", "p2wsh", "p2tr_keypath", "p2tr_scriptpath",
)  # fmt: skip
_P2SH_KINDS = ("p2sh_multisig", "p2sh_p2wpkh", "p2sh_p2wsh")
_P2TR_KINDS = ("p2tr_keypath", "p2tr_scriptpath")

# The blocks each shipped profile is derived from (names of ../shared/data/blocks/NAME.block).
PROFILE_SOURCES: dict[str, dict[str, Any]] = {
    "2016": {
        "blocks": ["mainnet-426884", "mainnet-367891", "mainnet-300025"],
        "description": "2014-2016 era: almost all P2PKH, some P2SH multisig, no segwit",
    },
    "2024": {
        "blocks": ["mainnet-758200", "mainnet-866342", "mainnet-696394"],
        "description": "2021-2024 era: segwit v0 dominant, taproot key and script path, many OP_RETURN",
    },
}

# Count buckets: (low, high) inclusive; the last bucket's high is the most a draw may give.
COUNT_BUCKETS = (
    (1, 1),
    (2, 2),
    (3, 3),
    (4, 4),
    (5, 5),
    (6, 10),
    (11, 20),
    (21, 50),
    (51, 100),
    (101, 1000),
    (1001, 10000),
)
AGE_BUCKETS = (
    (0, 0),
    (1, 1),
    (2, 5),
    (6, 10),
    (11, 100),
    (101, 1000),
    (1001, 10000),
    (10001, 100000),
    (100001, 1000000),
)
FEE_RATE_BUCKETS = (
    (0, 1),
    (1, 2),
    (2, 5),
    (5, 10),
    (10, 20),
    (20, 50),
    (50, 100),
    (100, 200),
    (200, 500),
    (500, 1000),
    (1000, 2000),
)  # sat/vB, [low, high)
PAYLOAD_BUCKETS = ((0, 0), (1, 99), (100, 999), (1000, 9999), (10000, 99999), (100000, 390000))
# Coin ages: inputs of a transaction with more inputs than this count as this many in total, so one
# giant consolidation (mainnet-367891 has a 20,000-input one) does not decide the whole distribution.
AGE_WEIGHT_CAP = 100
# The generator's base leaf is <32-byte key> OP_CHECKSIG: 34 bytes; what real leaves hold beyond that
# (inscription envelopes, mostly) becomes the payload size distribution.
_BASE_LEAF_SIZE = 34


class ProfileError(PacketFSError):
    """A profile that cannot be found or read."""


def bucket_label(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def parse_bucket(label: str) -> tuple[int, int]:
    low, _, high = label.partition("-")
    return int(low), int(high or low)


def _bucketize(
    counter: Counter, buckets: Sequence[tuple[int, int]], half_open: bool = False
) -> dict[str, float]:
    totals = Counter()
    for value, n in counter.items():
        for low, high in buckets:
            if (low <= value < high) if half_open else (low <= value <= high):
                totals[bucket_label(low, high)] += n
                break
        else:
            last = buckets[-1] if value >= buckets[-1][0] else buckets[0]
            totals[bucket_label(*last)] += n
    return _shares(totals, [bucket_label(lo, hi) for lo, hi in buckets])


def _shares(counter: Counter, keys: Iterable[str]) -> dict[str, float]:
    keys = list(keys)
    total = sum(counter.get(k, 0) for k in keys)
    if total == 0:
        return {k: 0.0 for k in keys}
    return {k: round(counter.get(k, 0) / total, 6) for k in keys}


def _amount_bucket(value: int) -> str:
    return "0" if value == 0 else f"1e{len(str(value)) - 1}"


def is_round_amount(value: int) -> bool:
    """At least 1,000 sat with at most two significant digits (what people type, not change)."""
    if value < 1000:
        return False
    digits = str(value).rstrip("0")
    return len(digits) <= 2


def derive_profile(
    name: str, blocks: Sequence[tuple[str, bytes, Sequence | None]], description: str = ""
) -> dict[str, Any]:
    """A profile from real blocks: ``(block name, raw block, decoded undo or None)`` each.

    Undo data (``storage.undo.decode_block_undo``) adds fee rates and coin ages; blocks without it
    contribute everything else.
    """
    out_types = Counter()
    in_types = Counter()
    sig_lengths = Counter()
    sequences = Counter()
    versions = Counter()
    locktime_zero = 0
    txs = inputs = outputs = 0
    amounts = Counter()
    round_amounts = 0
    in_counts = Counter()
    out_counts = Counter()
    opret_sizes = Counter()
    opret_txs = 0
    reuse_uses = Counter()
    reuse_repeats = Counter()
    fee_rates = Counter()
    ages = Counter()
    payloads = Counter()
    sources = []
    for block_name, raw, undo in blocks:
        st = analyze_block(raw, undo)
        out_types.update(st.output_types)
        in_types.update(st.input_types)
        sig_lengths.update(st.signature_lengths)
        sequences.update(st.sequences)
        versions.update(st.tx_versions)
        locktime_zero += st.locktimes_zero
        txs += st.transactions - 1
        block = Block.from_bytes(raw)
        height = _coinbase_height(block)
        sources.append({"name": block_name, "height": height, "undo": undo is not None})
        for tx_index, tx in enumerate(block.transactions):
            if tx_index == 0:
                continue  # the coinbase is the generator's own business
            in_counts[tx.input_count] += 1
            out_counts[tx.output_count] += 1
            inputs += tx.input_count
            has_opret = False
            for out in tx.outputs:
                outputs += 1
                kind = classify_output(out.script_pubkey)
                if kind == "op_return":
                    has_opret = True
                    opret_sizes[len(out.script_pubkey)] += 1
                else:
                    amounts[_amount_bucket(out.value)] += 1
                    round_amounts += is_round_amount(out.value)
            opret_txs += has_opret
            if undo is not None:
                spent = undo[tx_index - 1]
                fee = sum(c.value for c in spent) - sum(o.value for o in tx.outputs)
                rate = fee / tx.vsize
                fee_rates[min(int(rate), FEE_RATE_BUCKETS[-1][0])] += 1
                weight = min(1.0, AGE_WEIGHT_CAP / tx.input_count)
                for c in spent:
                    ages[height - c.height] += weight
            for txin, w in zip(tx.inputs, tx.witnesses, strict=True):
                if infer_input_type(txin.script_sig, w) == "p2tr_scriptpath":
                    stack = list(w)
                    if len(stack) >= 2 and stack[-1][:1] == b"\x50":
                        stack.pop()
                    payloads[max(0, len(stack[-2]) - _BASE_LEAF_SIZE)] += 1
        # Script reuse within a block, by kind: how often an output pays a script already paid.
        per_block_seen: dict[str, set] = {}
        for tx in block.transactions[1:]:
            for out in tx.outputs:
                kind = classify_output(out.script_pubkey)
                s = per_block_seen.setdefault(kind, set())
                reuse_uses[kind] += 1
                if out.script_pubkey in s:
                    reuse_repeats[kind] += 1
                s.add(out.script_pubkey)

    output_kinds, out_dropped = _split_output_kinds(out_types, in_types)
    input_kinds = Counter({k: in_types.get(k, 0) for k in KINDS})
    in_dropped = {k: v for k, v in in_types.items() if k not in KINDS and v}
    ecdsa = {n: c for n, c in sig_lengths.items() if n not in (64, 65)}
    ecdsa_total = sum(ecdsa.values())
    high_r = sum(c for n, c in ecdsa.items() if n >= 72)
    # Without grinding about half of all signatures need a 33-byte R (72 bytes with the sighash
    # byte); grinding makes that ~0. So the grinding share is 1 - 2 * (share of >= 72-byte ones).
    low_r = max(0.0, 1.0 - 2.0 * high_r / ecdsa_total) if ecdsa_total else 0.0
    kept_seq = Counter({s: n for s, n in sequences.items() if int(s, 16) == 0 or int(s, 16) & 0x80000000})
    kept_seq = Counter(dict(kept_seq.most_common(8)))
    kept_versions = Counter({str(v): n for v, n in versions.items() if v in (1, 2)})
    script_reuse = {}
    for kind in KINDS:
        base = {"p2sh_multisig": "p2sh", "p2sh_p2wpkh": "p2sh", "p2sh_p2wsh": "p2sh", "p2tr_keypath": "p2tr",
                "p2tr_scriptpath": "p2tr"}.get(kind, kind)  # fmt: skip
        uses = reuse_uses.get(base, 0)
        script_reuse[kind] = round(reuse_repeats.get(base, 0) / uses, 6) if uses else 0.0
    uses = reuse_uses.get("op_return", 0)
    script_reuse["op_return"] = round(reuse_repeats.get("op_return", 0) / uses, 6) if uses else 0.0
    non_opret = sum(amounts.values())
    amount_keys = ["0"] + [f"1e{k}" for k in range(0, 16)]
    any_undo = any(u is not None for _, _, u in blocks)
    return {
        "name": name,
        "format": PROFILE_FORMAT,
        "description": description,
        "sources": sources,
        "transactions": txs,
        "inputs": inputs,
        "outputs": outputs,
        "txs_per_block": round(txs / len(blocks)),
        "output_kinds": _shares(output_kinds, KINDS),
        "input_kinds": _shares(input_kinds, KINDS),
        "dropped": {"outputs": dict(sorted(out_dropped.items())), "inputs": dict(sorted(in_dropped.items()))},
        "op_return_tx_share": round(opret_txs / txs, 6) if txs else 0.0,
        "op_return_script_sizes": _shares(
            Counter({str(k): v for k, v in opret_sizes.items()}), [str(k) for k in sorted(opret_sizes)]
        ),  # fmt: skip
        "inputs_per_tx": _bucketize(in_counts, COUNT_BUCKETS),
        "outputs_per_tx": _bucketize(out_counts, COUNT_BUCKETS),
        "amounts": {k: v for k, v in _shares(amounts, amount_keys).items() if v},
        "round_amount_share": round(round_amounts / non_opret, 6) if non_opret else 0.0,
        "script_reuse": script_reuse,
        "fee_rates": _bucketize(fee_rates, FEE_RATE_BUCKETS, half_open=True) if any_undo else None,
        "coin_ages": _bucketize(Counter({k: v for k, v in ages.items()}), AGE_BUCKETS) if any_undo else None,
        "tapscript_payload_sizes": _bucketize(payloads, PAYLOAD_BUCKETS) if payloads else None,
        "sequences": _shares(Counter({k: v for k, v in kept_seq.items()}), list(kept_seq)),
        "tx_versions": _shares(kept_versions, sorted(kept_versions)),
        "locktime_zero_share": round(locktime_zero / (txs + len(blocks)), 6),
        "ecdsa_low_r_share": round(low_r, 6),
    }


def _split_output_kinds(out_types: Counter, in_types: Counter) -> tuple[Counter, dict[str, int]]:
    kinds = Counter()
    dropped = {}
    for t, n in out_types.items():
        if not n or t == "op_return":
            continue
        if t in ("p2pkh", "p2wpkh", "p2wsh"):
            kinds[t] += n
        elif t in ("p2sh", "p2tr"):
            family = _P2SH_KINDS if t == "p2sh" else _P2TR_KINDS
            seen = [in_types.get(k, 0) for k in family]
            total = sum(seen)
            if total == 0:
                kinds[family[0]] += n
            else:
                for k, s in zip(family, seen, strict=True):
                    kinds[k] += n * s / total
        else:
            dropped[t] = n
    return kinds, dropped


def _coinbase_height(block: Block) -> int | None:
    """The BIP34 height in the coinbase (blocks of every shipped era carry it)."""
    sig = block.transactions[0].inputs[0].script_sig
    if not sig or not 1 <= sig[0] <= 8 or len(sig) < 1 + sig[0]:
        return None
    return int.from_bytes(sig[1 : 1 + sig[0]], "little")


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.json"))


def load_profile(name_or_path: str | Path | dict) -> dict[str, Any]:
    """A shipped profile by name ("2016", "2024"), a JSON file, or an already-loaded dict."""
    if isinstance(name_or_path, dict):
        profile = name_or_path
    else:
        path = Path(name_or_path)
        if not (path.suffix == ".json" or path.exists()):
            path = PROFILES_DIR / f"{name_or_path}.json"
            if not path.exists():
                raise ProfileError(
                    f"unknown profile {name_or_path!r}: one of {', '.join(available_profiles())} or a JSON file"
                )
        try:
            profile = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ProfileError(f"cannot read profile {path}: {e}") from None
    _check_profile(profile)
    return profile


def _bucket_label_check(low_min: int, high_max: int):
    def check(label: str) -> bool:
        try:
            low, high = parse_bucket(label)
        except ValueError:
            return False
        return low_min <= low <= high <= high_max

    return check


def _amount_label(label: str) -> bool:
    return label == "0" or (label.startswith("1e") and label[2:].isdigit() and int(label[2:]) <= 15)


def _sequence_label(label: str) -> bool:
    # Only sequences without a BIP68 relative lock (disable flag set, or 0 = "0 blocks") keep every
    # generated spend valid whatever the coin's age.
    try:
        v = int(label, 16)
    except ValueError:
        return False
    return label.startswith("0x") and 0 <= v <= 0xFFFFFFFF and (v == 0 or v & 0x80000000 != 0)


def _int_label(low: int, high: int):
    return lambda label: label.isdigit() and low <= int(label) <= high


# table -> (required, label check); every value is a non-negative share and some share is positive.
_TABLES = {
    "output_kinds": (True, KINDS.__contains__),
    "input_kinds": (True, KINDS.__contains__),
    "inputs_per_tx": (True, _bucket_label_check(1, 100_000)),
    "outputs_per_tx": (True, _bucket_label_check(1, 100_000)),
    "amounts": (True, _amount_label),
    "fee_rates": (False, _bucket_label_check(0, 1_000_000)),
    "coin_ages": (False, _bucket_label_check(0, 100_000_000)),
    "tapscript_payload_sizes": (False, _bucket_label_check(0, 390_000)),
    "op_return_script_sizes": (False, _int_label(1, 10_000)),
    "sequences": (False, _sequence_label),
    "tx_versions": (False, _int_label(1, 2)),
}
_SHARES = ("op_return_tx_share", "round_amount_share", "locktime_zero_share", "ecdsa_low_r_share")


def _is_share(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1


def _check_profile(profile: Any) -> None:
    """Everything the generator draws from must be well formed, so a bad file fails here, not mid-chain."""
    if not isinstance(profile, dict):
        raise ProfileError("a profile is a JSON object")
    if profile.get("format") != PROFILE_FORMAT:
        raise ProfileError(f"profile format {profile.get('format')!r} is not {PROFILE_FORMAT}")
    tpb = profile.get("txs_per_block")
    if not isinstance(tpb, int) or isinstance(tpb, bool) or not 0 <= tpb <= 100_000:
        raise ProfileError("profile txs_per_block must be an integer in [0, 100000]")
    for key, (required, label_ok) in _TABLES.items():
        table = profile.get(key)
        if table is None:
            if required:
                raise ProfileError(f"profile lacks {key}")
            continue
        if not isinstance(table, dict) or not table:
            raise ProfileError(f"profile {key} must be a non-empty object")
        bad = [k for k in table if not isinstance(k, str) or not label_ok(k)]
        if bad:
            raise ProfileError(f"profile {key} has bad label(s): {', '.join(map(repr, bad[:5]))}")
        vals = list(table.values())
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1e12 for v in vals):
            raise ProfileError(f"profile {key} needs non-negative numeric shares")
        if sum(vals) <= 0:
            raise ProfileError(f"profile {key} needs a positive share somewhere")
    for key in _SHARES:
        if key in profile and not _is_share(profile[key]):
            raise ProfileError(f"profile {key} must be a number in [0, 1]")
    reuse = profile.get("script_reuse")
    if reuse is not None and (
        not isinstance(reuse, dict)
        or any(k not in KINDS and k != "op_return" for k in reuse)
        or not all(_is_share(v) for v in reuse.values())
    ):
        raise ProfileError("profile script_reuse must map kinds (and op_return) to shares in [0, 1]")


def profile_path(name: str) -> Path:
    return PROFILES_DIR / f"{name}.json"


def derive_shipped_profile(name: str, blocks_dir: str | Path) -> dict[str, Any]:
    """Re-derive a shipped profile from the real blocks in ``blocks_dir`` (../shared/data/blocks)."""
    from ...storage.undo import decode_block_undo

    spec = PROFILE_SOURCES[name]
    blocks_dir = Path(blocks_dir)
    items = []
    for block_name in spec["blocks"]:
        raw = (blocks_dir / f"{block_name}.block").read_bytes()
        undo_path = blocks_dir / f"{block_name}.undo"
        undo = decode_block_undo(undo_path.read_bytes()) if undo_path.exists() else None
        items.append((block_name, raw, undo))
    return derive_profile(name, items, spec["description"])


def dump_profile(profile: dict[str, Any]) -> str:
    return json.dumps(profile, indent=1) + "\n"
