"""Signature hashes: legacy (with Core's quirks), BIP143 (segwit v0) and BIP341 (taproot).

``PrecomputedTxData`` holds everything that is the same for every input of a transaction (the
BIP143/BIP341 midstate hashes, the serialized inputs and outputs), computed lazily on first use, so
a transaction with many inputs costs one pass over its data per kind of hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import chain, repeat

from ..primitives.encoding import compact_size
from ..primitives.hashes import tagged_hash
from ..primitives.transaction import Transaction, TxOut

_sha256 = hashlib.sha256

SIGHASH_DEFAULT = 0
SIGHASH_ALL = 1
SIGHASH_NONE = 2
SIGHASH_SINGLE = 3
SIGHASH_ANYONECANPAY = 0x80

SIGVERSION_BASE = 0
SIGVERSION_WITNESS_V0 = 1
SIGVERSION_TAPROOT = 2
SIGVERSION_TAPSCRIPT = 3

# uint256::ONE as bytes (little-endian): the "hash" legacy signing returns for SIGHASH_SINGLE without a
# matching output, which any key can then sign (a famous quirk consensus must keep).
ONE = b"\x01" + bytes(31)

_OP_CODESEPARATOR = 0xAB
_NULL_OUTPUT = b"\xff" * 8 + b"\x00"  # CTxOut() serialized: value -1, empty script
_TAPSIG_PREFIX = _sha256(b"TapSighash").digest() * 2


def _ser_output(out: TxOut) -> bytes:
    spk = out.script_pubkey
    return out.value.to_bytes(8, "little", signed=True) + compact_size(len(spk)) + spk


class PrecomputedTxData:
    """Per-transaction data shared by all its inputs' signature hashes.

    ``spent_outputs`` (one TxOut per input, in order) is needed for BIP341 hashes; legacy and BIP143
    hashes work without it (the amount of the input being signed is passed separately).
    """

    __slots__ = (
        "tx", "spent_outputs", "_outpoints", "_sequences", "_outputs", "_sha_prevouts", "_sha_sequences",
        "_sha_outputs", "_sha_amounts", "_sha_scripts", "_legacy_blob", "_legacy_prefix_states",
        "_legacy_outputs_blob", "_v0", "_legacy_full", "_v0_all", "_legacy_big", "txins", "witnesses", "checked_flags",
    )  # fmt: skip

    def __init__(self, tx: Transaction, spent_outputs: Sequence[TxOut] | None = None):
        self.tx = tx
        if spent_outputs is not None and len(spent_outputs) != tx.input_count:
            raise ValueError("one spent output per transaction input")
        self.spent_outputs = spent_outputs
        self._outpoints = self._sequences = self._outputs = None
        self._sha_prevouts = self._sha_sequences = self._sha_outputs = None
        self._sha_amounts = self._sha_scripts = None
        self._legacy_blob = self._legacy_prefix_states = self._legacy_outputs_blob = None
        self._v0 = None
        self._legacy_full = self._v0_all = self._legacy_big = None
        # Filled by verify_tx_input once it has checked this tx, its spent outputs and ``checked_flags``
        # (so later inputs skip those checks and the tx's property lookups).
        self.txins = self.witnesses = None
        self.checked_flags = -1

    # -- serialized pieces ---------------------------------------------------------------------
    def outpoints(self) -> list[bytes]:
        if self._outpoints is None:
            self._outpoints = self.tx.outpoint_bytes()  # slices of the tx's bytes, not re-serialized
        return self._outpoints

    def sequences(self) -> list[bytes]:
        if self._sequences is None:
            self._sequences = self.tx.sequence_bytes()
        return self._sequences

    def outputs(self) -> list[bytes]:
        if self._outputs is None:
            self._outputs = self.tx.output_bytes()
        return self._outputs

    # -- BIP341 single-SHA256 hashes (BIP143 uses their double-SHA256 versions) -----------------
    def sha_prevouts(self) -> bytes:
        if self._sha_prevouts is None:
            self._sha_prevouts = _sha256(b"".join(self.outpoints())).digest()
        return self._sha_prevouts

    def sha_sequences(self) -> bytes:
        if self._sha_sequences is None:
            self._sha_sequences = _sha256(b"".join(self.sequences())).digest()
        return self._sha_sequences

    def sha_outputs(self) -> bytes:
        if self._sha_outputs is None:
            self._sha_outputs = _sha256(b"".join(self.outputs())).digest()
        return self._sha_outputs

    def sha_amounts(self) -> bytes:
        if self._sha_amounts is None:
            self._sha_amounts = _sha256(
                b"".join(o.value.to_bytes(8, "little", signed=True) for o in self._need_spent())
            ).digest()
        return self._sha_amounts

    def sha_scripts(self) -> bytes:
        if self._sha_scripts is None:
            self._sha_scripts = _sha256(
                b"".join(compact_size(len(o.script_pubkey)) + o.script_pubkey for o in self._need_spent())
            ).digest()
        return self._sha_scripts

    def _need_spent(self) -> Sequence[TxOut]:
        if self.spent_outputs is None:
            raise ValueError("taproot signature hashes need the outputs spent by every input")
        return self.spent_outputs

    def bip143_hashes(self) -> tuple[bytes, bytes, bytes]:
        if self._v0 is None:
            self._v0 = (
                _sha256(self.sha_prevouts()).digest(),
                _sha256(self.sha_sequences()).digest(),
                _sha256(self.sha_outputs()).digest(),
            )
        return self._v0

    def v0_all_parts(self) -> tuple[bytes, bytes]:
        """BIP143 preimage pieces around the per-input fields for SIGHASH_ALL: (version, hashPrevouts,
        hashSequence) and (hashOutputs, locktime)."""
        if self._v0_all is None:
            hp, hs, ho = self.bip143_hashes()
            tx = self.tx
            self._v0_all = (
                tx.version.to_bytes(4, "little", signed=True) + hp + hs,
                ho + tx.locktime.to_bytes(4, "little"),
            )
        return self._v0_all

    def legacy_full(self) -> tuple[bytes, int]:
        """The legacy preimage of the tx with every input script empty, before the hash type:
        version, inputs, outputs, locktime; and the offset of input 0's (empty) script length byte.
        Signing input i replaces the byte at ``offset + 41 * i`` by the serialized script code."""
        if self._legacy_full is None:
            tx = self.tx
            head = tx.version.to_bytes(4, "little", signed=True) + compact_size(tx.input_count)
            outputs = self.outputs()
            full = b"".join(
                (
                    head,
                    _blanked_inputs(self.outpoints(), self.sequences()),
                    compact_size(len(outputs)),
                    *outputs,
                    tx.locktime.to_bytes(4, "little"),
                )
            )
            self._legacy_full = (full, len(head) + 36)
        return self._legacy_full


# ----------------------------------------------------------------------------------- legacy
def _blanked_inputs(outpoints: Sequence[bytes], sequences: Sequence[bytes]) -> bytes:
    """Every input as a legacy preimage serializes the inputs not being signed: outpoint, an empty
    script (one zero byte), sequence; concatenated (joined in one pass, no per-input concatenation)."""
    if len(outpoints) != len(sequences):
        raise ValueError("one sequence per outpoint")
    return b"".join(chain.from_iterable(zip(outpoints, repeat(b"\x00"), sequences)))


def _script_code_without_separators(script: bytes) -> bytes:
    """CTransactionSignatureSerializer::SerializeScriptCode, exactly: drop every OP_CODESEPARATOR, and
    where a push runs past the end, stop where Core's GetOp stopped (so the bytes written can be
    fewer than the length prefix claims; Core has the same inconsistency and hashes it)."""
    cached = _CODE_CACHE.get(script)
    if cached is not None:
        return cached
    n = len(script)
    pieces = []
    seps = 0
    begin = 0
    pc = 0
    complete = True
    while pc < n:
        op = script[pc]
        pc += 1
        if op <= 0x4E:
            if op < 0x4C:
                size = op
            else:
                width = 1 if op == 0x4C else 2 if op == 0x4D else 4
                if n - pc < width:
                    complete = False
                    break
                size = int.from_bytes(script[pc : pc + width], "little")
                pc += width
            if n - pc < size:
                complete = False
                break
            pc += size
        elif op == _OP_CODESEPARATOR:
            seps += 1
            pieces.append(script[begin : pc - 1])
            begin = pc
    tail_end = n if complete else pc
    if begin != n:
        pieces.append(script[begin:tail_end])
    out = compact_size(n - seps) + b"".join(pieces)
    if len(_CODE_CACHE) >= 4096:
        _CODE_CACHE.clear()
    _CODE_CACHE[script] = out
    return out


# script code -> its serialization for legacy sighashes (multisig scripts recur across inputs).
_CODE_CACHE: dict[bytes, bytes] = {}


def legacy_sighash(
    script_code: bytes, tx: Transaction, index: int, hash_type: int, cache: PrecomputedTxData | None = None
) -> bytes:
    """SignatureHash for SigVersion::BASE. ``hash_type`` is the signature's last byte (0-255, or any
    int32 in the sighash.json vectors). Returns the 32-byte hash in internal byte order."""
    if cache is None:
        cache = PrecomputedTxData(tx)
    n_in = tx.input_count
    if index >= n_in:
        return ONE
    base = hash_type & 0x1F
    outputs = cache.outputs()
    if base == SIGHASH_SINGLE and index >= len(outputs):
        return ONE
    anyone = hash_type & SIGHASH_ANYONECANPAY
    code = _script_code_without_separators(script_code)
    tail = tx.locktime.to_bytes(4, "little") + (hash_type & 0xFFFFFFFF).to_bytes(4, "little")
    version = tx.version.to_bytes(4, "little", signed=True)
    outpoints = cache.outpoints()
    seqs = cache.sequences()
    if base == SIGHASH_NONE:
        out_blob = b"\x00"
    elif base == SIGHASH_SINGLE:
        out_blob = compact_size(index + 1) + _NULL_OUTPUT * index + outputs[index]
    else:
        out_blob = None
    if anyone:
        h = _sha256(version + b"\x01" + outpoints[index] + code + seqs[index])
    elif out_blob is None and n_in < BIG_TX:
        # SIGHASH_ALL on a small tx: one copy of the preimage with this input's script code spliced in.
        full, off = cache.legacy_full()
        off += 41 * index
        return _sha256(
            _sha256(
                full[:off] + code + full[off + 1 :] + (hash_type & 0xFFFFFFFF).to_bytes(4, "little")
            ).digest()
        ).digest()
    elif out_blob is None:
        # SIGHASH_ALL: the common case, and quadratic in inputs. Every input but this one serializes
        # as outpoint + empty script + sequence, so hash a cached prefix state (inputs before
        # ``index``) and stream the rest from one precomputed buffer without copying.
        h = _legacy_all_state(cache, index, version)
        h.update(outpoints[index])
        h.update(code)
        h.update(seqs[index])
        blob = cache._legacy_blob
        h.update(memoryview(blob)[41 * (index + 1) :])
        if cache._legacy_outputs_blob is None:
            cache._legacy_outputs_blob = compact_size(len(outputs)) + b"".join(outputs)
        h.update(cache._legacy_outputs_blob)
        h.update(tail)
        return _sha256(h.digest()).digest()
    else:
        zero_seq = b"\x00\x00\x00\x00"
        parts = [version, compact_size(n_in)]
        for i in range(n_in):
            if i == index:
                parts += (outpoints[i], code, seqs[i])
            else:
                parts += (outpoints[i], b"\x00", zero_seq)
        h = _sha256(b"".join(parts))
    if out_blob is None:
        out_blob = compact_size(len(outputs)) + b"".join(outputs)
    h.update(out_blob)
    h.update(tail)
    return _sha256(h.digest()).digest()


def legacy_all_big(cache: PrecomputedTxData, index: int, code: bytes, hash_type4: bytes) -> bytes:
    """legacy_sighash for SIGHASH_ALL (or a type Core treats like it, no ANYONECANPAY) of input
    ``index`` < cache.tx.input_count, a tx of at least BIG_TX inputs: ``code`` is the serialized script
    code (length prefix included, separators removed), ``hash_type4`` the hash type as 4 bytes. The
    same stream as legacy_sighash's big-tx case, with the per-tx pieces looked up once."""
    parts = cache._legacy_big
    if parts is None:
        tx = cache.tx
        version = tx.version.to_bytes(4, "little", signed=True)
        _legacy_all_state(cache, 0, version)  # builds the blanked-inputs blob
        outputs = cache.outputs()
        parts = cache._legacy_big = (
            version,
            memoryview(cache._legacy_blob),
            cache.outpoints(),
            cache.sequences(),
            compact_size(len(outputs)) + b"".join(outputs) + tx.locktime.to_bytes(4, "little"),
        )
    version, blob, outpoints, seqs, outputs_locktime = parts
    h = _legacy_all_state(cache, index, version)
    h.update(outpoints[index] + code + seqs[index])
    h.update(blob[41 * (index + 1) :])
    h.update(outputs_locktime)
    h.update(hash_type4)
    return _sha256(h.digest()).digest()


_PREFIX_STEP = 16  # cache a hash state every this many inputs (big transactions only)
BIG_TX = 128  # inputs from which a tx's legacy SIGHASH_ALL hashes use those cached states


def _legacy_all_state(cache: PrecomputedTxData, index: int, version: bytes):
    """A sha256 object fed with version, input count and inputs [0, index) blanked."""
    if cache._legacy_blob is None:
        seqs = cache.sequences()
        cache._legacy_blob = _blanked_inputs(cache.outpoints(), seqs)
    blob = cache._legacy_blob
    n_in = len(blob) // 41
    head = version + compact_size(n_in)
    if n_in < BIG_TX:
        h = _sha256(head)
        h.update(memoryview(blob)[: 41 * index])
        return h
    states = cache._legacy_prefix_states
    if states is None or states[0] != head:
        h = _sha256(head)
        states = cache._legacy_prefix_states = [head, h]
    k = index // _PREFIX_STEP
    mv = memoryview(blob)
    while len(states) - 1 <= k:
        j = len(states) - 2  # states[1 + j] covers inputs [0, j*STEP)
        h = states[-1].copy()
        h.update(mv[41 * j * _PREFIX_STEP : 41 * (j + 1) * _PREFIX_STEP])
        states.append(h)
    h = states[1 + k].copy()
    h.update(mv[41 * k * _PREFIX_STEP : 41 * index])
    return h


# ------------------------------------------------------------------------------------ BIP143
def segwit_v0_sighash(
    script_code: bytes, tx: Transaction, index: int, hash_type: int, amount: int, cache: PrecomputedTxData
) -> bytes:
    base = hash_type & 0x1F
    anyone = hash_type & SIGHASH_ANYONECANPAY
    if not anyone and base != SIGHASH_SINGLE and base != SIGHASH_NONE:
        # SIGHASH_ALL (the common case): everything but this input's fields is per-tx.
        head, tail = cache.v0_all_parts()
        data = b"".join(
            (
                head,
                cache.outpoints()[index],
                compact_size(len(script_code)),
                script_code,
                amount.to_bytes(8, "little", signed=True),
                cache.sequences()[index],
                tail,
                (hash_type & 0xFFFFFFFF).to_bytes(4, "little"),
            )
        )
        return _sha256(_sha256(data).digest()).digest()
    zero = bytes(32)
    hp, hs, ho = cache.bip143_hashes()
    prevouts = zero if anyone else hp
    sequences = zero if (anyone or base == SIGHASH_SINGLE or base == SIGHASH_NONE) else hs
    if base != SIGHASH_SINGLE and base != SIGHASH_NONE:
        outputs = ho
    elif base == SIGHASH_SINGLE and index < tx.output_count:
        outputs = _sha256(_sha256(cache.outputs()[index]).digest()).digest()
    else:
        outputs = zero
    data = b"".join(
        (
            tx.version.to_bytes(4, "little", signed=True),
            prevouts,
            sequences,
            cache.outpoints()[index],
            compact_size(len(script_code)),
            script_code,
            amount.to_bytes(8, "little", signed=True),
            cache.sequences()[index],
            outputs,
            tx.locktime.to_bytes(4, "little"),
            (hash_type & 0xFFFFFFFF).to_bytes(4, "little"),
        )
    )
    return _sha256(_sha256(data).digest()).digest()


# ------------------------------------------------------------------------------------ BIP341
def taproot_sighash(
    tx: Transaction,
    index: int,
    hash_type: int,
    cache: PrecomputedTxData,
    annex_hash: bytes | None = None,
    tapleaf_hash: bytes | None = None,
    codesep_pos: int = 0xFFFFFFFF,
) -> bytes | None:
    """SignatureHashSchnorr. ``tapleaf_hash`` given means the tapscript extension (script path).
    Returns None for an undefined hash type or SIGHASH_SINGLE without a matching output."""
    if not (hash_type <= 3 or 0x81 <= hash_type <= 0x83):
        return None
    out_type = SIGHASH_ALL if hash_type == SIGHASH_DEFAULT else hash_type & 3
    anyone = hash_type & SIGHASH_ANYONECANPAY
    parts = [
        b"\x00",
        bytes((hash_type,)),
        tx.version.to_bytes(4, "little", signed=True),
        tx.locktime.to_bytes(4, "little"),
    ]
    if not anyone:
        parts += (cache.sha_prevouts(), cache.sha_amounts(), cache.sha_scripts(), cache.sha_sequences())
    if out_type == SIGHASH_ALL:
        parts.append(cache.sha_outputs())
    spend_type = (2 if tapleaf_hash is not None else 0) + (1 if annex_hash is not None else 0)
    parts.append(bytes((spend_type,)))
    if anyone:
        spent = cache._need_spent()[index]
        parts += (cache.outpoints()[index], _ser_output(spent), cache.sequences()[index])
    else:
        parts.append(index.to_bytes(4, "little"))
    if annex_hash is not None:
        parts.append(annex_hash)
    if out_type == SIGHASH_SINGLE:
        if index >= tx.output_count:
            return None
        parts.append(_sha256(cache.outputs()[index]).digest())
    if tapleaf_hash is not None:
        parts += (tapleaf_hash, b"\x00", codesep_pos.to_bytes(4, "little"))
    h = _sha256(_TAPSIG_PREFIX)
    h.update(b"".join(parts))
    return h.digest()


def tapleaf_hash(leaf_version: int, script: bytes) -> bytes:
    return tagged_hash("TapLeaf", bytes((leaf_version,)) + compact_size(len(script)) + script)
