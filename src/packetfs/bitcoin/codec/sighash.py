"""The two ECDSA signature hashes the codec needs to recover public keys (legacy and BIP143).

The codec's own minimal version, written because the script package's sighash was not available when the
codec needed it. Losslessness never depends on these being Bitcoin-exact: the encoder only marks a key as
recoverable after recovering it from this very message and comparing it with the real key, and the
decoder recomputes the same message from the same decoded fields. Being exact only makes recovery succeed.

Per transaction the pieces every input shares are prepared once (``TxDigestParts``); the legacy hash is
still linear in the transaction size per input, so callers bound how much of it they ask for.
"""

from __future__ import annotations

import hashlib

from ..primitives.encoding import compact_size

SIGHASH_ALL = 1
SIGHASH_NONE = 2
SIGHASH_SINGLE = 3
SIGHASH_ANYONECANPAY = 0x80
_ONE = (1).to_bytes(32, "little")  # what Core signs for SIGHASH_SINGLE without a matching output
_ZERO32 = bytes(32)
_NULL_OUTPUT = b"\xff" * 8 + b"\x00"


def _sha256d(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


class TxDigestParts:
    """What a transaction's signature hashes share: prevouts, sequences, serialized outputs."""

    __slots__ = ("version", "locktime", "prevouts", "sequences", "outputs", "_pieces", "_outs_all", "_bip143")

    def __init__(self, version: bytes, prevouts: list[bytes], sequences: list[bytes], outputs: list[bytes], locktime: bytes):
        self.version = version  # 4 bytes LE
        self.locktime = locktime  # 4 bytes LE
        self.prevouts = prevouts  # 36-byte outpoints
        self.sequences = sequences  # 4-byte LE
        self.outputs = outputs  # serialized outputs (value + script with its length)
        self._pieces = None
        self._outs_all = None
        self._bip143 = None

    # ------------------------------------------------------------------ legacy
    def legacy_cost(self) -> int:
        """Bytes hashed for one legacy signature hash of this transaction (about)."""
        return 41 * len(self.prevouts) + sum(len(o) for o in self.outputs) + 40

    def legacy(self, index: int, script_code: bytes, hashtype: int) -> bytes:
        base = hashtype & 0x1F
        n_out = len(self.outputs)
        if base == SIGHASH_SINGLE and index >= n_out:
            return _ONE
        own = self.prevouts[index] + compact_size(len(script_code)) + script_code + self.sequences[index]
        if hashtype & SIGHASH_ANYONECANPAY:
            ins = [b"\x01", own]
        elif base in (SIGHASH_NONE, SIGHASH_SINGLE):
            ins = [compact_size(len(self.prevouts))]
            ins += [p + b"\x00\x00\x00\x00\x00" for p in self.prevouts]
            ins[1 + index] = own
        else:
            if self._pieces is None:
                self._pieces = [compact_size(len(self.prevouts))] + [
                    p + b"\x00" + s for p, s in zip(self.prevouts, self.sequences, strict=False)
                ]
            ins = list(self._pieces)
            ins[1 + index] = own
        if base == SIGHASH_NONE:
            outs = b"\x00"
        elif base == SIGHASH_SINGLE:
            outs = compact_size(index + 1) + _NULL_OUTPUT * index + self.outputs[index]
        else:
            if self._outs_all is None:
                self._outs_all = compact_size(n_out) + b"".join(self.outputs)
            outs = self._outs_all
        return _sha256d(b"".join((self.version, *ins, outs, self.locktime, hashtype.to_bytes(4, "little"))))

    # ------------------------------------------------------------------ BIP143
    def bip143(self, index: int, script_code: bytes, amount: int, hashtype: int) -> bytes:
        if self._bip143 is None:
            self._bip143 = (
                _sha256d(b"".join(self.prevouts)),
                _sha256d(b"".join(self.sequences)),
                _sha256d(b"".join(self.outputs)),
            )
        hp, hs, ho = self._bip143
        base = hashtype & 0x1F
        anyone = hashtype & SIGHASH_ANYONECANPAY
        if anyone:
            hp = _ZERO32
        if anyone or base in (SIGHASH_NONE, SIGHASH_SINGLE):
            hs = _ZERO32
        if base == SIGHASH_SINGLE:
            ho = _sha256d(self.outputs[index]) if index < len(self.outputs) else _ZERO32
        elif base == SIGHASH_NONE:
            ho = _ZERO32
        return _sha256d(
            b"".join(
                (
                    self.version,
                    hp,
                    hs,
                    self.prevouts[index],
                    compact_size(len(script_code)),
                    script_code,
                    (amount & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little"),
                    self.sequences[index],
                    ho,
                    self.locktime,
                    hashtype.to_bytes(4, "little"),
                )
            )
        )


def p2pkh_script(h160: bytes) -> bytes:
    return b"\x76\xa9\x14" + h160 + b"\x88\xac"
