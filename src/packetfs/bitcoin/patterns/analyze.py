"""What real chain data is made of: per-block statistics that merge across blocks and files.

Every byte of every block is attributed to exactly one class (so the classes add up to the input
size, which the tests check), inputs are typed from their scriptSig/witness shape (and exactly from
the spent output when undo data is given), and the repetition a structure-aware codec could use is
counted.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..primitives.block import HEADER_SIZE, Block
from ..primitives.script import OP_CHECKMULTISIG, classify_output, iter_script
from ..script.interpreter import is_valid_signature_encoding

BYTE_CLASSES = (
    "header",
    "ecdsa_signatures",
    "schnorr_signatures",
    "public_keys",
    "output_hashes",
    "prevout_txids",
    "prevout_indexes",
    "amounts",
    "sequences",
    "version_locktime",
    "op_return_data",
    "witness_scripts",
    "varints_framing",
    "other",
)

INPUT_TYPES = (
    "p2pk",
    "p2pkh",
    "p2sh_multisig",
    "p2sh_other",
    "multisig",
    "p2sh_p2wpkh",
    "p2sh_p2wsh",
    "p2wpkh",
    "p2wsh",
    "p2tr_keypath",
    "p2tr_scriptpath",
    "nonstandard",
)


def is_der_signature(sig: bytes) -> bool:
    """Strict DER (BIP66) followed by a sighash byte: the interpreter's own encoding check."""
    return is_valid_signature_encoding(sig)


def is_pubkey(data: bytes) -> bool:
    n = len(data)
    return (n == 33 and data[0] in (2, 3)) or (n == 65 and data[0] == 4)


def _pushes(script: bytes) -> list[bytes] | None:
    """The pushed items of a push-only script, or None if it is not push-only."""
    items = []
    for t in iter_script(script):
        if t.truncated:
            return None
        if t.data is not None:
            items.append(t.data)
        elif t.opcode == 0x00:
            items.append(b"")
        elif 0x51 <= t.opcode <= 0x60 or t.opcode == 0x4F:
            items.append(bytes((t.opcode,)))  # small ints: stand-in bytes, only the count matters
        else:
            return None
    return items


def _is_control_block(item: bytes) -> bool:
    n = len(item)
    return n >= 33 and (n - 33) % 32 == 0 and n <= 33 + 32 * 128 and (item[0] & 0xFE) == 0xC0


def infer_input_type(script_sig: bytes, witness: Sequence[bytes]) -> str:
    """Input type from the shape of its scriptSig and witness (no spent output needed)."""
    pushes = _pushes(script_sig)
    if not witness:
        if pushes is None or not pushes:
            return "nonstandard"
        if len(pushes) == 2 and is_der_signature(pushes[0]) and is_pubkey(pushes[1]):
            return "p2pkh"
        if len(pushes) == 1 and is_der_signature(pushes[0]):
            return "p2pk"
        if pushes[0] == b"" and len(pushes) >= 2 and all(is_der_signature(p) for p in pushes[1:]):
            return "multisig"
        last = pushes[-1]
        if len(last) > 3 and last[-1] == OP_CHECKMULTISIG and pushes[0] == b"":
            return "p2sh_multisig"
        if last and not any(t.truncated for t in iter_script(last)):
            return "p2sh_other"
        return "nonstandard"
    if script_sig:
        if pushes is not None and len(pushes) == 1:
            program = pushes[0]
            if len(program) == 22 and program[:2] == b"\x00\x14":
                return "p2sh_p2wpkh"
            if len(program) == 34 and program[:2] == b"\x00\x20":
                return "p2sh_p2wsh"
        return "nonstandard"
    if len(witness) == 2 and is_der_signature(witness[0]) and len(witness[1]) == 33 and witness[1][0] in (2, 3):
        return "p2wpkh"
    stack = list(witness)
    if len(stack) >= 2 and stack[-1][:1] == b"\x50":
        stack.pop()  # BIP341 annex
    if len(stack) == 1 and len(stack[0]) in (64, 65):
        return "p2tr_keypath"
    if len(stack) >= 2 and _is_control_block(stack[-1]):
        return "p2tr_scriptpath"
    return "p2wsh"


@dataclass
class PatternStats:
    """Mergeable statistics over any number of blocks."""

    blocks: int = 0
    transactions: int = 0
    inputs: int = 0  # spending inputs; the coinbase's null input is counted in coinbase_inputs
    coinbase_inputs: int = 0
    outputs: int = 0
    bytes: int = 0
    segwit_transactions: int = 0
    taproot_inputs: int = 0
    output_types: Counter = field(default_factory=Counter)
    input_types: Counter = field(default_factory=Counter)
    spent_output_types: Counter = field(default_factory=Counter)
    byte_classes: Counter = field(default_factory=Counter)
    header_versions: Counter = field(default_factory=Counter)
    headers: list = field(default_factory=list)  # (time, bits, prev_hash, hash) per block
    sighash_types: Counter = field(default_factory=Counter)
    signature_lengths: Counter = field(default_factory=Counter)
    # Reuse within the input, keyed by an 8-byte digest so memory stays bounded per distinct item.
    output_scripts: Counter = field(default_factory=Counter)
    public_keys: Counter = field(default_factory=Counter)
    ecdsa_signatures: int = 0
    schnorr_signatures: int = 0
    recoverable_keys: int = 0  # keys next to an ECDSA signature in p2pkh / p2wpkh spends
    coinbase_heights: list = field(default_factory=list)
    residual_zstd: Counter = field(default_factory=Counter)  # free-form class -> zstd-19 bytes, per block
    sequences: Counter = field(default_factory=Counter)
    prev_indexes: Counter = field(default_factory=Counter)
    tx_versions: Counter = field(default_factory=Counter)
    locktimes_zero: int = 0
    prevout_in_block: int = 0  # inputs spending an output created earlier in the same block
    amounts: Counter = field(default_factory=Counter)
    compressors: Counter = field(default_factory=Counter)

    def merge(self, other: PatternStats) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(mine, Counter):
                mine.update(value)
            elif isinstance(mine, list):
                mine.extend(value)
            else:
                setattr(self, name, mine + value)


RESIDUAL_CLASSES = ("op_return_data", "witness_scripts", "other")


class _ByteCounts(Counter):
    """Bytes per class; keeps the bytes of the free-form classes to measure how they compress."""

    def __init__(self) -> None:
        super().__init__()
        self.residual_parts: dict[str, list[bytes]] = {c: [] for c in RESIDUAL_CLASSES}

    def add(self, cls: str, data: bytes) -> None:
        self[cls] += len(data)
        parts = self.residual_parts.get(cls)
        if parts is not None:
            parts.append(data)


def _classify_sig_or_key(data: bytes) -> str:
    if is_der_signature(data):
        return "ecdsa_signatures"
    if is_pubkey(data):
        return "public_keys"
    return "other"


def analyze_block(raw: bytes, spent: Sequence[Sequence[object]] | None = None) -> PatternStats:
    """Statistics for one serialized block. ``spent``: per non-coinbase tx, per input, an object with
    ``script_pubkey`` (e.g. storage.undo.Coin), when the block's undo data is known."""
    block = Block.from_bytes(raw)
    st = PatternStats(blocks=1, bytes=len(raw))
    h = block.header
    st.header_versions[f"0x{h.version & 0xFFFFFFFF:08x}"] += 1
    st.headers.append((h.time, h.bits, h.prev_hash.hex(), h.hash.hex()))
    counts = _ByteCounts()
    counts["header"] += HEADER_SIZE
    created: set[bytes] = set()
    for tx_index, tx in enumerate(block.transactions):
        st.transactions += 1
        st.tx_versions[tx.version] += 1
        counts["version_locktime"] += 8
        if tx.locktime == 0:
            st.locktimes_zero += 1
        if tx.has_witness:
            st.segwit_transactions += 1
        coinbase = tx_index == 0
        witnesses = tx.witnesses
        tx_spent = spent[tx_index - 1] if (spent is not None and not coinbase) else None
        for in_index, txin in enumerate(tx.inputs):
            counts["prevout_txids"] += 32
            counts["prevout_indexes"] += 4
            counts["sequences"] += 4
            st.sequences[f"0x{txin.sequence:08x}"] += 1
            witness = witnesses[in_index]
            if coinbase:
                st.coinbase_inputs += 1
                counts.add("other", txin.script_sig)
                for item in witness:
                    counts.add("other", item)
                continue
            st.inputs += 1
            st.prev_indexes[min(txin.prev_index, 256)] += 1
            if txin.prev_txid in created:
                st.prevout_in_block += 1
            kind = infer_input_type(txin.script_sig, witness)
            st.input_types[kind] += 1
            if tx_spent is not None:
                st.spent_output_types[classify_output(tx_spent[in_index].script_pubkey)] += 1
            if kind.startswith("p2tr"):
                st.taproot_inputs += 1
            _attribute_input(st, counts, kind, txin.script_sig, witness)
        for out in tx.outputs:
            st.outputs += 1
            counts["amounts"] += 8
            st.amounts[out.value] += 1
            spk = out.script_pubkey
            kind = classify_output(spk)
            st.output_types[kind] += 1
            st.output_scripts[_digest(spk)] += 1
            _attribute_output(counts, kind, spk)
        created.add(tx.txid)
    counts["varints_framing"] += len(raw) - sum(counts.values())
    st.byte_classes = Counter(counts)
    st.residual_zstd = Counter(
        {c: len(_zstd19(b"".join(parts))) for c, parts in counts.residual_parts.items() if parts}
    )
    return st


def _zstd19(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=19).compress(data)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=8).digest()


def _note_signature(st: PatternStats, sig: bytes, schnorr: bool) -> None:
    st.signature_lengths[len(sig)] += 1
    if schnorr:
        st.schnorr_signatures += 1
        st.sighash_types[f"0x{sig[64]:02x}" if len(sig) == 65 else "default"] += 1
    else:
        st.ecdsa_signatures += 1
        st.sighash_types[f"0x{sig[-1]:02x}"] += 1


def _attribute_input(st: PatternStats, counts: _ByteCounts, kind: str, script_sig: bytes, witness: Sequence[bytes]) -> None:
    pushes = [t.data for t in iter_script(script_sig) if t.data is not None and not t.truncated]
    for position, data in enumerate(pushes):
        if kind.startswith("p2sh") and position == len(pushes) - 1:
            counts.add("witness_scripts", data)  # redeem script (or nested witness program)
            continue
        cls = _classify_sig_or_key(data)
        counts.add(cls, data)
        if cls == "ecdsa_signatures":
            _note_signature(st, data, schnorr=False)
        elif cls == "public_keys":
            st.public_keys[_digest(data)] += 1
            if kind == "p2pkh":
                st.recoverable_keys += 1
    stack = list(witness)
    annex = None
    if kind.startswith("p2tr") and len(stack) >= 2 and stack[-1][:1] == b"\x50":
        annex = stack.pop()
        counts.add("other", annex)
    if kind == "p2tr_keypath":
        counts.add("schnorr_signatures", stack[0])
        _note_signature(st, stack[0], schnorr=True)
        return
    if kind == "p2tr_scriptpath":
        control, tapscript = stack[-1], stack[-2]
        counts.add("other", control)
        counts.add("witness_scripts", tapscript)
        for item in stack[:-2]:
            if len(item) in (64, 65):
                counts.add("schnorr_signatures", item)
                _note_signature(st, item, schnorr=True)
            else:
                counts.add("other", item)
        return
    for position, item in enumerate(stack):
        if kind in ("p2wsh", "p2sh_p2wsh") and position == len(stack) - 1:
            counts.add("witness_scripts", item)
            continue
        cls = _classify_sig_or_key(item)
        counts.add(cls, item)
        if cls == "ecdsa_signatures":
            _note_signature(st, item, schnorr=False)
        elif cls == "public_keys":
            st.public_keys[_digest(item)] += 1
            if kind in ("p2wpkh", "p2sh_p2wpkh"):
                st.recoverable_keys += 1


def _attribute_output(counts: _ByteCounts, kind: str, spk: bytes) -> None:
    if kind in ("p2pkh", "p2sh"):
        counts["output_hashes"] += 20
    elif kind in ("p2wpkh", "p2wsh", "p2tr", "witness_unknown", "p2a"):
        counts["output_hashes"] += len(spk) - 2
    elif kind in ("p2pk", "multisig"):
        for t in iter_script(spk):
            if t.data is not None and is_pubkey(t.data):
                counts["public_keys"] += len(t.data)
    elif kind == "op_return":
        for t in iter_script(spk):
            if t.data is not None:
                counts.add("op_return_data", t.data)
    else:
        counts.add("other", spk)


def merge_all(stats: Iterable[PatternStats]) -> PatternStats:
    total = PatternStats()
    for s in stats:
        total.merge(s)
    return total
