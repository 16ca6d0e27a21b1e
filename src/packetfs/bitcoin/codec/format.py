"""The codec's format constants (docs/pfs-format.md): format bytes and flags, stream names and their
compression settings, field codes (sequence, output, item and input kinds), and the encoder's options.

These numbers are part of the byte format: changing one changes what archives mean."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .streams import (
    METHOD_BROTLI,
    METHOD_ZSTD,
    Setting,
)

# ---------------------------------------------------------------------------------------- format
FORMAT_OPAQUE = 0
FORMAT_MODELLED_V1 = 1  # still decoded: version 2 without the key-reference input kinds
FORMAT_MODELLED = 2  # what the encoder writes

F_MERKLE_DERIVED = 0x01
F_SINGLE_STREAM = 0x02
F_RAW_AMOUNTS = 0x04
F_CTX_TXIDS = 0x08
F_CTX_OUTPUTS = 0x10
_KNOWN_FLAGS = 0x1F

STREAMS = ("tx", "prevout", "index", "seq", "outcode", "amount", "spent", "item", "href", "hash", "sig", "key", "blob",
           "kref")  # fmt: skip
S_TX, S_PREV, S_IDX, S_SEQ, S_OUTC, S_AMT, S_SPENT, S_ITEM, S_HREF, S_HASH, S_SIG, S_KEY, S_BLOB, S_KREF = range(len(STREAMS))
N_STREAMS_V1 = 13  # format 1 has every stream but "kref"

# How the encoder compresses each stream (the method is recorded per stream, so this is no part of the
# format). One setting per stream kind instead of trying zstd-19, zstd-22 and brotli-11 on every stream:
# measured on the shared mainnet blocks, trying all three made the encoding 0.06% of the raw size
# smaller and cost about 2.4 s of the 4.3 s it took to encode them. Brotli-10 where its context
# modelling pays for its time (prevout and index codes, amounts: 5-6% smaller than zstd; on the amounts
# of those blocks 8.5 kB for 0.18 s); zstd-15 elsewhere (on the item stream brotli-10 was 1.6% smaller
# and 3x slower). Streams of hashes, signatures and keys fail the compressor's cheap probe: stored raw.
_B10: tuple[Setting, ...] = ((METHOD_BROTLI, 10),)
_Z15: tuple[Setting, ...] = ((METHOD_ZSTD, 15),)
SETTINGS_BY_STREAM: dict[str, tuple[Setting, ...]] = {
    "tx": _Z15,
    "prevout": _B10,
    "index": _B10,
    "seq": _Z15,
    "outcode": _Z15,
    "amount": _B10,
    "spent": _B10,
    "item": _Z15,
    "href": _Z15,
    "hash": _Z15,
    "sig": _Z15,
    "key": _Z15,
    "blob": _Z15,
    "kref": _B10,
}

MAX_BLOCK_SIZE = 4_000_000
_U64 = (1 << 64) - 1
# Legacy signature hashes cost the whole transaction per input; both sides cap what one tx may ask for.
MAX_LEGACY_SIGHASH_BYTES_PER_TX = 32 * 1024 * 1024

# prevout codes (stream "prevout")
P_NEW, P_NULL, P_CTX = 0, 1, 2  # then 3 + 2*d: in-block tx t-1-d; 4 + 2*d: earlier external txid
# sequence codes (stream "seq")
SEQ_CODES = (0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0)
SEQ_SAME, SEQ_RAW = 4, 5
_SEQ_BYTES = tuple(x.to_bytes(4, "little") for x in SEQ_CODES)
_SEQ_CODE = {x: c for c, x in enumerate(SEQ_CODES)}
# output codes (stream "outcode")
O_P2PKH, O_P2SH, O_P2WPKH, O_P2WSH, O_P2TR, O_P2PK, O_SCRIPT = range(7)
O_WCOMMIT = 7  # tx 0 only: the BIP141 witness commitment, recomputed from the block by the decoder
WITNESS_COMMITMENT_HEADER = b"\x6a\x24\xaa\x21\xa9\xed"  # OP_RETURN, push 36, 0xaa21a9ed
# input kinds (stream "item")
K_GENERIC = 0
K_P2PKH_HASH = 1  # P2PKH spend, key recovered, key hash stored
K_P2PKH_SPENT = 2  # P2PKH spend, key recovered, hash from the known spent output
K_WPKH_STORED = 3  # native P2WPKH, key recovered, hash and amount stored
K_WPKH_SPENT = 4  # native P2WPKH, key recovered, hash and amount from the known spent output
K_SHWPKH_STORED = 5  # P2SH-P2WPKH, key recovered, hash (the redeem script's) and amount stored
K_SHWPKH_SPENT = 6  # P2SH-P2WPKH, key recovered, hash stored, amount from the known spent output
K_SHWPKH_DERIVED = 7  # P2SH-P2WPKH with the key stored: the scriptSig is derived from the key
K_SHWSH_DERIVED = 8  # P2SH-P2WSH: the scriptSig is derived from the witness script
# A spend whose key is already in ``keys`` (recovered or stored earlier in the block): the key is a
# reference, so the decoder needs neither a recovery nor a signature hash for it.
K_P2PKH_KEYREF = 9  # scriptSig push(sig) push(key), no witness
K_WPKH_KEYREF = 10  # native P2WPKH: empty scriptSig, witness [sig, key]
K_SHWPKH_KEYREF = 11  # P2SH-P2WPKH: scriptSig 160014 || HASH160(key), witness [sig, key]
# item codes (stream "item")
I_EMPTY, I_RAW, I_DER, I_KEY02, I_KEY03, I_KEY04E, I_KEY04O, I_KEYREF = range(8)
I_SCHNORR64, I_SCHNORR65, I_SCRIPT, I_HASH20, I_HASH32, I_OPCODE = range(8, 14)
MAX_SCRIPT_DEPTH = 2


@dataclass(frozen=True)
class CodecOptions:
    """Which modelling techniques the encoder uses (all on by default; the bench turns each off to
    measure it). The decoder needs none of these: every choice is recorded in the data."""

    header: bool = True  # merkle root derived, previous hash without its zero bytes
    txcodes: bool = True  # small codes for version, locktime, sequence
    templates: bool = True  # output script templates
    amounts: bool = True  # compressed amounts
    sigs: bool = True  # DER signatures as (r, s) + sighash byte
    keys: bool = True  # keys as x + parity, uncompressed compressed, repeated keys (and their spends) as references
    recovery: bool = True  # public keys recovered from signatures
    prevout_refs: bool = True  # prevout txids as references to earlier txs / txids
    hashrefs: bool = True  # repeated 20/32-byte hashes (addresses, key hashes) as references
    wrapped: bool = True  # P2SH-wrapped segwit scriptSigs derived from the witness
    commitment: bool = True  # the coinbase's witness commitment output derived from the block
    scripts: bool = True  # scripts as tokens (pushes modelled as items)
    streams: bool = True  # separate streams per field kind (else one stream)
    verify: bool = True  # decode the result and compare before returning it
    fallback: bool = True  # store opaquely if the model fails (else raise)


ALL_TECHNIQUES = ("header", "txcodes", "templates", "amounts", "sigs", "keys", "recovery", "prevout_refs",
                  "hashrefs", "wrapped", "commitment", "scripts", "streams")  # fmt: skip


def without(technique: str, base: CodecOptions | None = None) -> CodecOptions:
    return replace(base or CodecOptions(), **{technique: False})


