"""The block model: a parsed block becomes codes and payloads in separate streams, and back.

Every field has a small code for what Bitcoin usually puts there and an escape that stores the exact
bytes, so any block the primitives parse is encoded; the encoder also decodes its own output and, should
anything differ, stores the block opaquely instead (``CodecOptions.fallback``). The byte layout is
specified in docs/pfs-format.md; the constants below are part of that format.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, replace

from coincurve import PublicKey
from coincurve._libsecp256k1 import ffi as _ffi
from coincurve._libsecp256k1 import lib as _lib
from coincurve.context import GLOBAL_CONTEXT as _SECP

from ..errors import ParseError
from ..primitives.amount import compress_amount, decompress_amount
from ..primitives.block import Block, merkle_root
from ..primitives.encoding import compact_size
from ..primitives.transaction import Transaction, TxIn, TxOut
from ..script.sighash import BIG_TX as _BIG_TX
from ..script.sighash import PrecomputedTxData, legacy_sighash, segwit_v0_sighash
from .errors import CodecError
from .streams import (
    EXHAUSTIVE,
    METHOD_BROTLI,
    METHOD_RAW,
    METHOD_ZSTD,
    Reader,
    Setting,
    compress_stream,
    decompress_stream,
    unzigzag,
    write_uvarint,
    zigzag,
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


# --------------------------------------------------------------------------------- small helpers
_RIPEMD160 = hashlib.new("ripemd160")  # copied per use: hashlib.new's name lookup costs as much as the hash


def _hash160(b: bytes) -> bytes:
    h = _RIPEMD160.copy()
    h.update(hashlib.sha256(b).digest())
    return h.digest()


def _sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def _sha256d(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def _canon_int(x: bytes) -> bytes | None:
    """A strict-DER INTEGER body as 32 big-endian bytes, or None if it is not the canonical encoding."""
    if not x or x[0] & 0x80:
        return None
    if x[0] == 0:
        if len(x) > 1 and not x[1] & 0x80:
            return None
        x = x[1:]
    if len(x) > 32:
        return None
    return bytes(32 - len(x)) + x


def der_to_rs(sig: bytes) -> bytes | None:
    """(r, s) as 64 bytes if ``sig`` (without sighash byte) is the canonical DER encoding of them."""
    n = len(sig)
    if n < 8 or n > 72 or sig[0] != 0x30 or sig[1] != n - 2 or sig[2] != 2:
        return None
    rl = sig[3]
    if 6 + rl > n or sig[4 + rl] != 2:
        return None
    sl = sig[5 + rl]
    if 6 + rl + sl != n:
        return None
    # Nearly every real signature: r and s of 32 significant bytes, each with the zero pad exactly
    # when its top bit is set (what strict DER demands); their bytes then are r||s as they stand.
    if rl == 32 and 0 < sig[4] < 0x80:
        r = sig[4:36]
    elif rl == 33 and sig[4] == 0 and sig[5] >= 0x80:
        r = sig[5:37]
    else:
        r = _canon_int(sig[4 : 4 + rl])
        if r is None:
            return None
    so = 6 + rl
    if sl == 32 and 0 < sig[so] < 0x80:
        return r + sig[so:]
    if sl == 33 and sig[so] == 0 and sig[so + 1] >= 0x80:
        return r + sig[so + 1 :]
    s = _canon_int(sig[so:])
    if s is None:
        return None
    return r + s


def rs_to_der(rs: bytes) -> bytes:
    """Strict DER of the 64-byte (r, s): shortest big-endian integers, a zero byte where the top bit is set."""
    r0 = rs[0]
    s0 = rs[32]
    if r0 and s0:
        # Both integers a full 32 bytes (nearly every real signature): a fixed layout.
        return _DER_FULL[(r0 >= 0x80) | ((s0 >= 0x80) << 1)] % (rs[:32], rs[32:])
    r = rs[:32].lstrip(b"\x00") or b"\x00"
    if r[0] & 0x80:
        r = b"\x00" + r
    s = rs[32:].lstrip(b"\x00") or b"\x00"
    if s[0] & 0x80:
        s = b"\x00" + s
    lr = len(r)
    ls = len(s)
    return b"".join((bytes((0x30, lr + ls + 4, 2, lr)), r, bytes((2, ls)), s))


# DER of (r, s) with 32-byte r and s, indexed by (r needs a zero pad) | (s needs a zero pad) << 1.
_DER_FULL = (
    b"\x30\x44\x02\x20%b\x02\x20%b",
    b"\x30\x45\x02\x21\x00%b\x02\x20%b",
    b"\x30\x45\x02\x20%b\x02\x21\x00%b",
    b"\x30\x46\x02\x21\x00%b\x02\x21\x00%b",
)


# One-byte encodings 0..252, shared by compact sizes, direct pushes and sighash bytes (a hot path).
_CS = [bytes((i,)) for i in range(256)]  # index 253-255 only as plain bytes, never as sizes
_ZERO32 = bytes(32)


def _cs(n: int) -> bytes:
    return _CS[n] if n < 0xFD else compact_size(n)


def _push(data: bytes) -> bytes:
    n = len(data)
    if n < 0x4C:
        return _CS[n] + data
    if n <= 0xFF:
        return b"\x4c" + bytes((n,)) + data
    if n <= 0xFFFF:
        return b"\x4d" + n.to_bytes(2, "little") + data
    return b"\x4e" + n.to_bytes(4, "little") + data


def _minimal_push_opcode(n: int) -> int:
    return n if n < 0x4C else 0x4C if n <= 0xFF else 0x4D if n <= 0xFFFF else 0x4E


def tokenize_canonical(script: bytes, max_tokens: int | None = None) -> list[tuple[int, bytes | None]] | None:
    """(opcode, data) tokens if the script re-serializes exactly with the shortest push for each datum
    (and, where ``max_tokens`` is given, has at most that many tokens); else None.

    Pushes are (push opcode, data), OP_0 included (empty data); other opcodes are (opcode, None). A
    direct loop rather than ``iter_script``: this runs on every script and push of every block encoded."""
    n = len(script)
    limit = n if max_tokens is None else max_tokens
    out: list[tuple[int, bytes | None]] = []
    append = out.append
    i = 0
    while i < n:
        op = script[i]
        i += 1
        if op < 0x4C:  # direct push of ``op`` bytes (OP_0 pushes nothing): always the shortest form
            e = i + op
            if e > n:
                return None
            append((op, script[i:e]))
            i = e
        elif op <= 0x4E:  # OP_PUSHDATA1/2/4: canonical only where no shorter push fits the size
            width = 1 if op == 0x4C else 2 if op == 0x4D else 4
            if i + width > n:
                return None
            size = int.from_bytes(script[i : i + width], "little")
            if op != _minimal_push_opcode(size):
                return None
            i += width
            e = i + size
            if e > n:
                return None
            append((op, script[i:e]))
            i = e
        else:
            append((op, None))
        if len(out) > limit:
            return None
    return out


def p2pkh_script(h160: bytes) -> bytes:
    """The P2PKH scriptPubKey, which is also the scriptCode a P2PKH or P2WPKH signature hash commits to."""
    return b"\x76\xa9\x14" + h160 + b"\x88\xac"


def _legacy_cost(n_in: int, outputs_size: int) -> int:
    """Bytes hashed for one legacy signature hash of a transaction (about): the bound both sides apply."""
    return 41 * n_in + outputs_size + 40


def _signed64(n: int) -> int:
    """A stored unsigned 64-bit amount read back as the signed wire value it was written from."""
    return n - (1 << 64) if n >= 1 << 63 else n


def _bip34_hint(coinbase_script_sig: bytes) -> int:
    """The height a BIP34 coinbase announces (any first push of 1-4 bytes, as a number), else 0.

    Only a prediction for locktimes and context references: a wrong hint costs bytes, never exactness."""
    if not coinbase_script_sig:
        return 0
    n = coinbase_script_sig[0]
    if 1 <= n <= 4 and len(coinbase_script_sig) > n:
        return int.from_bytes(coinbase_script_sig[1 : 1 + n], "little")
    return 0


class _Recoverer:
    """Public-key recovery through libsecp256k1 (coincurve's cffi binding) with buffers reused across
    calls: the PublicKey-object route costs several allocations and Python calls per key, which is a
    measurable share of decoding. One instance per encoder/decoder (cffi releases the GIL during the
    calls, so the buffers must not be shared between threads)."""

    __slots__ = ("sig", "pub", "out", "outlen")

    def __init__(self) -> None:
        self.sig = _ffi.new("secp256k1_ecdsa_recoverable_signature *")
        self.pub = _ffi.new("secp256k1_pubkey *")
        self.out = _ffi.new("unsigned char[65]")
        self.outlen = _ffi.new("size_t *")

    def __call__(self, rs: bytes, recid: int, msg: bytes, compressed: bool) -> bytes | None:
        """The serialized key recovered from (r||s, recid) over the 32-byte ``msg``, or None."""
        ctx = _SECP.ctx
        if not _lib.secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, self.sig, rs, recid):
            return None
        if not _lib.secp256k1_ecdsa_recover(ctx, self.pub, self.sig, msg):
            return None
        self.outlen[0] = 65
        _lib.secp256k1_ec_pubkey_serialize(
            ctx, self.out, self.outlen, self.pub, _EC_COMPRESSED if compressed else _EC_UNCOMPRESSED
        )
        return _ffi.buffer(self.out, self.outlen[0])[:]


_EC_COMPRESSED = _lib.SECP256K1_EC_COMPRESSED
_EC_UNCOMPRESSED = _lib.SECP256K1_EC_UNCOMPRESSED


def _find_recid(recover: _Recoverer, rs: bytes, msg: bytes, key: bytes, memo: dict | None = None) -> int | None:
    """The recovery id that gives ``key`` back, recorded in ``memo`` as the recovery's result (see
    :class:`_MemoRecoverer`)."""
    compressed = len(key) == 33
    for recid in range(4):
        if recover(rs, recid, msg, compressed) == key:
            if memo is not None:
                memo[(rs, recid, msg, compressed)] = key
            return recid
    return None


class _MemoRecoverer:
    """The self-check decode's recovery: a recovery the encoder already ran, with exactly these inputs,
    answers from its result; any other is run. Recovery is a function of (r||s, recid, message,
    compressed), so this gives the decoder's result exactly: a message the decoder computed
    differently from the encoder is a miss, recovered for real, and the check still sees the difference."""

    __slots__ = ("memo", "rec")

    def __init__(self, memo: dict) -> None:
        self.memo = memo
        self.rec = _Recoverer()

    def __call__(self, rs: bytes, recid: int, msg: bytes, compressed) -> bytes | None:
        key = self.memo.get((rs, recid, msg, bool(compressed)))
        return key if key is not None else self.rec(rs, recid, msg, compressed)


def _parse_sig_item(d: bytes) -> tuple[bytes, int] | None:
    """(r||s, sighash byte) for a DER signature plus sighash byte that re-encodes exactly."""
    if len(d) < 9 or d[0] != 0x30:
        return None
    rs = der_to_rs(d[:-1])
    if rs is None:
        return None
    return rs, d[-1]


def _is_key(d: bytes) -> bool:
    n = len(d)
    return (n == 33 and d[0] in (2, 3)) or (n == 65 and d[0] == 4)


# ---------------------------------------------------------------------------------------- stats
@dataclass
class EncodeStats:
    """Per-block facts the bench and CLI print."""

    raw_size: int = 0
    encoded_size: int = 0
    opaque: bool = False
    stream_raw: dict | None = None
    stream_packed: dict | None = None
    stream_method: dict | None = None
    recovered_keys: int = 0
    stored_keys: int = 0
    keyref_inputs: int = 0  # spends whose key was a reference to a key seen earlier in the block
    # Isolated-mode floor facts (what the model cannot shrink without more context):
    incompressible_bytes: int = 0  # streams stored raw because they do not compress (sigs, hashes, keys)
    unrecoverable_no_amount: int = 0  # segwit v0 key spends whose amount is not in the block (no undo data)


# ---------------------------------------------------------------------------------------- encoder
class _Encoder:
    # Written for speed (every block a node imports with ``--store codec`` goes through it): the
    # streams and options are bound to attributes and locals, one-byte varints are appended inline,
    # and a two-push scriptSig is parsed once for both the key-reference and the recovery test.
    def __init__(self, block: Block, raw: bytes, context, options: CodecOptions, spent):
        self.block = block
        self.raw = raw
        self.ctx = context
        self.o = options
        self.spent_hints = spent
        self.bufs = [bytearray() for _ in STREAMS]
        if not options.streams:
            one = bytearray()
            self.bufs = [one] * len(STREAMS)
        b = self.bufs
        self.it = b[S_ITEM]
        self.sigb = b[S_SIG]
        self.keyb = b[S_KEY]
        self.blob = b[S_BLOB]
        self.hr = b[S_HREF]
        self.hs = b[S_HASH]
        self.o_keys = options.keys
        self.o_sigs = options.sigs
        self.o_scripts = options.scripts
        self.o_hashrefs = options.hashrefs
        self.flags = 0
        self.keymap: dict[bytes, int] = {}
        self.nkeys = 0
        self.hmap: dict[bytes, int] = {}
        self.nhashes = 0
        self.stats = EncodeStats()
        self.recover = _Recoverer()
        self.memo: dict = {}  # the recoveries that matched, for the self-check decode

    # items ---------------------------------------------------------------------------------
    def hash_out(self, h: bytes) -> None:
        """A 20- or 32-byte hash: a reference to the same hash seen earlier in the block, or the bytes."""
        if self.o_hashrefs:
            hmap = self.hmap
            k = hmap.get(h)
            if k is not None:
                d = self.nhashes - k
                if d < 0x80:
                    self.hr.append(d)
                else:
                    write_uvarint(self.hr, d)
                return
            hmap[h] = self.nhashes
        self.hr.append(0)
        self.hs += h
        self.nhashes += 1

    def key_new(self, d: bytes) -> None:
        # The latest position of each key: references to it are then short distances back.
        if self.o_keys:
            self.keymap[d] = self.nkeys
        self.nkeys += 1

    def item(self, d: bytes, depth: int) -> None:
        it = self.it
        n = len(d)
        if n == 0:
            it.append(I_EMPTY)
            return
        d0 = d[0]
        if self.o_keys and ((n == 33 and (d0 == 2 or d0 == 3)) or (n == 65 and d0 == 4)):
            k = self.keymap.get(d)
            if k is not None:
                it.append(I_KEYREF)
                k = self.nkeys - 1 - k
                if k < 0x80:
                    it.append(k)
                else:
                    write_uvarint(it, k)
                return
            if n == 33:
                it.append(I_KEY02 if d0 == 2 else I_KEY03)
                self.keyb += d[1:]
                self.key_new(d)
                self.stats.stored_keys += 1
                return
            try:
                c = PublicKey(d).format(True)
            except Exception:
                c = None
            if c is not None and PublicKey(c).format(False) == d:
                it.append(I_KEY04E if c[0] == 2 else I_KEY04O)
                self.keyb += c[1:]
                self.key_new(d)
                self.stats.stored_keys += 1
                return
        if self.o_sigs:
            if d0 == 0x30 and 9 <= n <= 73:
                rs = der_to_rs(d[:-1])
                if rs is not None:
                    it.append(I_DER)
                    it.append(d[-1])
                    self.sigb += rs
                    return
            if depth >= 1 and n == 64:
                it.append(I_SCHNORR64)
                self.sigb += d
                return
            if depth >= 1 and n == 65:
                it.append(I_SCHNORR65)
                it.append(d[64])
                self.sigb += d[:64]
                return
        if self.o_scripts:
            if n == 20:
                it.append(I_HASH20)
                self.hash_out(d)
                return
            if n == 32:
                it.append(I_HASH32)
                self.hash_out(d)
                return
            if depth < MAX_SCRIPT_DEPTH and n >= 4:
                toks = tokenize_canonical(d, 4 + n // 8)
                if toks is not None and len(toks) >= 2:
                    it.append(I_SCRIPT)
                    self.tokens(toks, depth)
                    return
        it.append(I_RAW)
        if n < 0x80:
            it.append(n)
        else:
            write_uvarint(it, n)
        self.blob += d

    def tokens(self, toks, depth: int) -> None:
        it = self.it
        n = len(toks)
        if n < 0x80:
            it.append(n)
        else:
            write_uvarint(it, n)
        item = self.item
        depth += 1
        for op, data in toks:
            if data is None:
                it.append(I_OPCODE)
                it.append(op)
            else:
                item(data, depth)

    def script(self, s: bytes, depth: int) -> None:
        """A whole script (scriptSig, scriptPubKey): tokens when that is exact and worthwhile."""
        it = self.it
        if self.o_scripts and s:
            toks = tokenize_canonical(s, 4 + len(s) // 8)
            if toks is not None:
                it.append(I_SCRIPT)
                self.tokens(toks, depth)
                return
        it.append(I_RAW)
        n = len(s)
        if n < 0x80:
            it.append(n)
        else:
            write_uvarint(it, n)
        self.blob += s

    # block ---------------------------------------------------------------------------------
    def run(self) -> bytes:
        blk = self.block
        h = blk.header
        b = self.bufs
        o = self.o
        hdr = h.serialize()
        txb = b[S_TX]
        txb += hdr[0:4]
        prev = h.prev_hash
        tz = 0
        if o.header:
            while tz < 32 and prev[31 - tz] == 0:
                tz += 1
        write_uvarint(txb, tz)
        b[S_HASH] += prev[: 32 - tz]
        if o.header and blk.compute_merkle_root()[0] == h.merkle_root:
            self.flags |= F_MERKLE_DERIVED
        else:
            b[S_HASH] += h.merkle_root
        txb += hdr[68:80]
        txs = blk.transactions
        write_uvarint(txb, len(txs))
        if not o.amounts:
            self.flags |= F_RAW_AMOUNTS
        self.inblock: dict[bytes, int] = {}
        # txid -> the tx's outputs (TxOut tuples: value, scriptPubKey)
        self.outputs_by_txid: dict[bytes, tuple] = {}
        self.ext: dict[bytes, int] = {}
        self.next_ext = 0
        self.hint = 0
        self.wc_outputs = self.commitment_outputs(txs) if o.commitment else frozenset()
        inblock = self.inblock
        outputs_by_txid = self.outputs_by_txid
        for t, tx in enumerate(txs):
            self.tx(t, tx, h.time)
            if t == 0 and tx.inputs:
                self.hint = _bip34_hint(tx.inputs[0].script_sig)
            txid = tx.txid
            inblock[txid] = t
            outputs_by_txid[txid] = tx.outputs
        return self.pack()

    def commitment_outputs(self, txs) -> frozenset[int]:
        """Indices of tx 0's outputs that are exactly the witness commitment the decoder can recompute.

        The decoder only knows tx 0's txid once every later wtxid is known, so the commitment is derived
        only when no input in the block spends tx 0 (true of every valid block: coinbase maturity)."""
        if not txs or len(txs[0].inputs) != 1:
            return frozenset()
        w = txs[0].witnesses[0]
        if len(w) != 1 or len(w[0]) != 32:
            return frozenset()
        spk_of = [out.script_pubkey for out in txs[0].outputs]
        if not any(len(x) == 38 and x[:6] == WITNESS_COMMITMENT_HEADER for x in spk_of):
            return frozenset()
        cb = txs[0].txid
        if any(inp.prev_txid == cb for tx in txs for inp in tx.inputs):
            return frozenset()
        root = merkle_root([bytes(32)] + [tx.wtxid for tx in txs[1:]])[0]
        spk = WITNESS_COMMITMENT_HEADER + _sha256d(root + w[0])
        return frozenset(j for j, x in enumerate(spk_of) if x == spk)

    def spent_known(self, txid: bytes, index: int) -> tuple[int, bytes] | None:
        """The spent output if the decoder can know it too (earlier in this block, or via the context)."""
        outs = self.outputs_by_txid.get(txid)
        if outs is not None:
            return outs[index] if index < len(outs) else None
        if self.ctx is not None and hasattr(self.ctx, "output"):
            r = self.ctx.output(txid, index)
            if r is not None:
                self.flags |= F_CTX_OUTPUTS
                return r
        return None

    def tx(self, t: int, tx, header_time: int) -> None:
        b = self.bufs
        o = self.o
        txb = b[S_TX]
        v = tx.version
        vcode = (0 if v == 1 else 1 if v == 2 else 2 if v == 3 else 3) if o.txcodes else 3
        segwit = tx.has_witness
        lt = tx.locktime
        if not o.txcodes:
            lcode = 3
        elif lt == 0:
            lcode = 0
        elif lt < 500_000_000:
            lcode = 1
        else:
            lcode = 2
        txb.append(vcode | (segwit << 2) | (lcode << 3))  # < 32: one varint byte
        if vcode == 3:
            write_uvarint(txb, zigzag(v))
        inputs = tx.inputs
        outputs = tx.outputs
        n_in = len(inputs)
        if n_in < 0x80:
            txb.append(n_in)
        else:
            write_uvarint(txb, n_in)
        n_out = len(outputs)
        if n_out < 0x80:
            txb.append(n_out)
        else:
            write_uvarint(txb, n_out)
        if lcode == 1:
            write_uvarint(txb, zigzag(lt - self.hint))
        elif lcode == 2:
            write_uvarint(txb, zigzag(lt - header_time))
        elif lcode == 3:
            txb += lt.to_bytes(4, "little")
        pv, ix, sq = b[S_PREV], b[S_IDX], b[S_SEQ]
        prevout_refs = o.prevout_refs
        txcodes = o.txcodes
        inblock = self.inblock
        ext = self.ext
        seq_code = _SEQ_CODE
        prev_seq = None
        for inp in inputs:
            ptx, pidx, _, s = inp
            if pidx == 0xFFFFFFFF and ptx == _ZERO32:
                pv.append(P_NULL)
            else:
                tref = inblock.get(ptx) if prevout_refs else None
                if tref is not None:
                    c = 3 + 2 * (t - 1 - tref)
                    if c < 0x80:
                        pv.append(c)
                    else:
                        write_uvarint(pv, c)
                else:
                    eref = ext.get(ptx) if prevout_refs else None
                    if eref is not None:
                        write_uvarint(pv, 4 + 2 * (self.next_ext - 1 - eref))
                    else:
                        loc = None
                        if self.ctx is not None and prevout_refs:
                            loc = self.ctx.locate(ptx)
                            if loc is not None and self.ctx.txid_at(*loc) != ptx:
                                loc = None  # the decoder would resolve it to another txid
                        if loc is not None:
                            pv.append(P_CTX)
                            write_uvarint(pv, zigzag(self.hint - loc[0]))
                            write_uvarint(pv, loc[1])
                            self.flags |= F_CTX_TXIDS
                        else:
                            pv.append(P_NEW)
                            b[S_HASH] += ptx
                        ext[ptx] = self.next_ext
                        self.next_ext += 1
                if pidx < 0x80:
                    ix.append(pidx)
                else:
                    write_uvarint(ix, pidx)
            sc = seq_code.get(s) if txcodes else None
            if sc is not None:
                sq.append(sc)
            elif txcodes and s == prev_seq:
                sq.append(SEQ_SAME)
            else:
                sq.append(SEQ_RAW)
                sq += s.to_bytes(4, "little")
            prev_seq = s
        oc, am = b[S_OUTC], b[S_AMT]
        raw_amounts = not o.amounts
        templates = o.templates
        hash_out = self.hash_out
        wc = self.wc_outputs if t == 0 else ()
        for j, out in enumerate(outputs):
            value, spk = out
            if raw_amounts:
                am += value.to_bytes(8, "little", signed=True)
            else:
                # Values are signed 64-bit on the wire; the code works on the same 8 bytes unsigned.
                write_uvarint(am, compress_amount(value & _U64))
            n = len(spk)
            if wc and j in wc:
                oc.append(O_WCOMMIT)
                continue
            if templates:
                if n == 25:
                    if spk[:3] == b"\x76\xa9\x14" and spk[23:] == b"\x88\xac":
                        oc.append(O_P2PKH)
                        hash_out(spk[3:23])
                        continue
                elif n == 22:
                    if spk[:2] == b"\x00\x14":
                        oc.append(O_P2WPKH)
                        hash_out(spk[2:])
                        continue
                elif n == 23:
                    if spk[:2] == b"\xa9\x14" and spk[22] == 0x87:
                        oc.append(O_P2SH)
                        hash_out(spk[2:22])
                        continue
                elif n == 34:
                    p2 = spk[:2]
                    if p2 == b"\x00\x20":
                        oc.append(O_P2WSH)
                        hash_out(spk[2:])
                        continue
                    if p2 == b"\x51\x20":
                        oc.append(O_P2TR)
                        hash_out(spk[2:])
                        continue
                if (n == 35 or n == 67) and spk[0] == n - 2 and spk[-1] == 0xAC:
                    oc.append(O_P2PK)
                    self.item(spk[1:-1], MAX_SCRIPT_DEPTH)
                    continue
            oc.append(O_SCRIPT)
            self.script(spk, 0)
        # scripts and witnesses last: the decoder has every prevout, sequence and output by then,
        # which is what the signature hashes of key recovery commit to.
        witnesses = tx.witnesses
        parts = None
        legacy_left = MAX_LEGACY_SIGHASH_BYTES_PER_TX
        legacy_cost = 0
        it = self.it
        coinbase = t == 0 and n_in == 1 and inputs[0].prev_index == 0xFFFFFFFF and inputs[0].prev_txid == _ZERO32
        keyrefs = o.keys and o.sigs
        recovery = o.recovery and not coinbase and o.sigs
        wrapped = o.wrapped
        keymap = self.keymap
        for i, inp in enumerate(inputs):
            ss = inp.script_sig
            w = witnesses[i]
            if not w:
                # P2PKH: a scriptSig of two pushes, signature then key. Parsed once here for both the
                # key reference and the recovery (each checks the rest of what it needs).
                n = len(ss)
                if n >= 44:  # 1 + 9 + 1 + 33
                    n1 = ss[0]
                    if 9 <= n1 <= 73 and n >= n1 + 35 and n == n1 + 2 + ss[1 + n1]:
                        key = ss[2 + n1 :]
                        if keyrefs and key in keymap:
                            rs = der_to_rs(ss[1:n1])
                            if rs is not None:
                                self.keyref_out(K_P2PKH_KEYREF, rs, ss[n1], keymap[key])
                                continue
                        elif recovery and legacy_cost <= legacy_left:
                            if parts is None:
                                # The real transaction: the script package's sighashes blank other
                                # inputs' scriptSigs themselves, so the decoder's skeleton (no
                                # scriptSigs, no witnesses) hashes the same.
                                parts = PrecomputedTxData(tx)
                                legacy_cost = _legacy_cost(n_in, sum(len(x[1]) + 9 for x in outputs))
                            if legacy_cost <= legacy_left and self.try_p2pkh(tx, i, inp, ss, n1, key, parts):
                                legacy_left -= legacy_cost
                                continue
            elif len(w) == 2:
                key = w[1]
                if keyrefs and key in keymap:
                    if not ss:
                        kind = K_WPKH_KEYREF
                    elif len(ss) == 23 and ss[:3] == b"\x16\x00\x14" and ss[3:] == _hash160(key):
                        kind = K_SHWPKH_KEYREF
                    else:
                        kind = None
                    if kind is not None:
                        sig = w[0]
                        rs = der_to_rs(sig[:-1]) if len(sig) >= 9 and sig[0] == 0x30 else None
                        if rs is not None:
                            self.keyref_out(kind, rs, sig[-1], keymap[key])
                            continue
                if recovery:
                    if parts is None:
                        parts = PrecomputedTxData(tx)
                        legacy_cost = _legacy_cost(n_in, sum(len(x[1]) + 9 for x in outputs))
                    if self.try_wpkh(tx, t, i, inp, w, parts):
                        continue
            if wrapped and w:
                last = w[-1]
                if len(ss) == 23 and ss[:3] == b"\x16\x00\x14" and ss[3:] == _hash160(last):
                    it.append(K_SHWPKH_DERIVED)
                    self.witness(w)
                    continue
                if len(ss) == 35 and ss[:3] == b"\x22\x00\x20" and ss[3:] == _sha256(last):
                    it.append(K_SHWSH_DERIVED)
                    self.witness(w)
                    continue
            it.append(K_GENERIC)
            self.script(ss, 0)
            if segwit:
                self.witness(w)

    def witness(self, w) -> None:
        it = self.it
        n = len(w)
        if n < 0x80:
            it.append(n)
        else:
            write_uvarint(it, n)
        item = self.item
        for d in w:
            item(d, 1)

    def keyref_out(self, kind: int, rs: bytes, ht: int, k: int) -> None:
        """A P2PKH / P2WPKH / P2SH-P2WPKH spend whose key is already in ``keys`` (position ``k``): kind,
        sighash byte, key distance, (r, s). Exact whatever the spent output is: the scriptSig and
        witness are rebuilt from the signature and the key alone (the wrapped form only when its hash
        is the key's)."""
        it = self.it
        it.append(kind)
        it.append(ht)
        d = self.nkeys - 1 - k
        kr = self.bufs[S_KREF]
        if d < 0x80:
            kr.append(d)
        else:
            write_uvarint(kr, d)
        self.sigb += rs
        self.stats.keyref_inputs += 1

    def _sig_out(self, rs: bytes, ht: int, recid: int, compressed: bool) -> None:
        it = self.it
        it.append(ht)
        it.append(recid | (compressed << 2))
        self.sigb += rs

    def try_p2pkh(self, tx: Transaction, i: int, inp, ss: bytes, n1: int, key: bytes, parts: PrecomputedTxData) -> bool:
        """A P2PKH spend (``ss`` = push(signature of ``n1`` bytes) push(``key``)) whose key recovers from
        its signature over the legacy signature hash."""
        nk = len(key)
        if not ((nk == 33 and (key[0] == 2 or key[0] == 3)) or (nk == 65 and key[0] == 4)):
            return False
        if ss[1] != 0x30:
            return False
        rs = der_to_rs(ss[1:n1])
        if rs is None:
            return False
        ht = ss[n1]
        h = _hash160(key)
        sc = p2pkh_script(h)
        msg = legacy_sighash(sc, tx, i, ht, parts)
        recid = _find_recid(self.recover, rs, msg, key, self.memo)
        if recid is None:
            return False
        known = self.spent_known(inp.prev_txid, inp.prev_index)
        it = self.it
        # Written in the order the decoder reads: kind, signature, then what the message needs.
        if known is not None and known[1] == sc:
            it.append(K_P2PKH_SPENT)
            self._sig_out(rs, ht, recid, nk == 33)
        else:
            it.append(K_P2PKH_HASH)
            self._sig_out(rs, ht, recid, nk == 33)
            self.hash_out(h)
        self.key_new(key)
        self.stats.recovered_keys += 1
        return True

    def try_wpkh(self, tx: Transaction, t: int, i: int, inp, w, parts: PrecomputedTxData) -> bool:
        ss = inp.script_sig
        key = w[1]
        if not _is_key(key):
            return False
        p = _parse_sig_item(w[0]) if w[0] else None
        if p is None:
            return False
        if ss:
            if not (len(ss) == 23 and ss[:3] == b"\x16\x00\x14"):
                return False
            wrapped = True
            h = ss[3:]
        else:
            wrapped = False
            h = None  # the key's hash, computed once it is needed (most spends here have no amount)
        known = self.spent_known(inp.prev_txid, inp.prev_index)
        if known is not None:
            amount = known[0]
            if not wrapped:
                h = _hash160(key)
                if known[1] != b"\x00\x14" + h:
                    known = None
        if known is None:
            hint = None
            if self.spent_hints is not None and t > 0:
                try:
                    hint = self.spent_hints[t - 1][i]
                except (IndexError, TypeError):
                    hint = None
            if hint is None:
                self.stats.unrecoverable_no_amount += 1
                return False
            amount = hint[0]
            if not -(1 << 63) <= amount < 1 << 63:  # a wire amount is a signed 64-bit value
                return False
        rs, ht = p
        if h is None:
            h = _hash160(key)
        msg = segwit_v0_sighash(p2pkh_script(h), tx, i, ht, amount, parts)
        recid = _find_recid(self.recover, rs, msg, key, self.memo)
        if recid is None:
            return False
        it = self.it
        if wrapped:
            kind = K_SHWPKH_SPENT if known is not None else K_SHWPKH_STORED
        else:
            kind = K_WPKH_SPENT if known is not None else K_WPKH_STORED
        it.append(kind)
        self._sig_out(rs, ht, recid, len(key) == 33)
        if kind != K_WPKH_SPENT:
            self.hash_out(h)
        if known is None:
            write_uvarint(self.bufs[S_SPENT], compress_amount(amount & _U64))
        self.key_new(key)
        self.stats.recovered_keys += 1
        return True

    # output ---------------------------------------------------------------------------------
    def pack(self) -> bytes:
        out = bytearray((FORMAT_MODELLED, self.flags))
        raw = self.raw
        write_uvarint(out, len(raw))
        out += zlib.crc32(raw).to_bytes(4, "little")
        if self.o.streams:
            bufs = self.bufs
            names = STREAMS
        else:
            self.flags |= F_SINGLE_STREAM
            out[1] = self.flags
            bufs = [self.bufs[0]]
            names = ("all",)
        out.append(len(bufs))
        payloads = []
        st = self.stats
        st.stream_raw, st.stream_packed, st.stream_method = {}, {}, {}
        for name, buf in zip(names, bufs, strict=False):
            data = bytes(buf)
            method, packed = compress_stream(data, SETTINGS_BY_STREAM.get(name, EXHAUSTIVE))
            out.append(method)
            write_uvarint(out, len(data))
            write_uvarint(out, len(packed))
            payloads.append(packed)
            st.stream_raw[name] = len(data)
            st.stream_packed[name] = len(packed)
            st.stream_method[name] = method
            if method == METHOD_RAW:
                st.incompressible_bytes += len(data)
        for p in payloads:
            out += p
        return bytes(out)


# ---------------------------------------------------------------------------------------- decoder
# Output templates 0..4 (P2PKH, P2SH, P2WPKH, P2WSH, P2TR): the script around the hash.
_TEMPLATE_PRE = (b"\x76\xa9\x14", b"\xa9\x14", b"\x00\x14", b"\x00\x20", b"\x51\x20")
_TEMPLATE_POST = (b"\x88\xac", b"\x87", b"", b"", b"")
_P2PKH_CODE_HEAD = b"\x19\x76\xa9\x14"  # cs(25) and the start of the P2PKH scriptCode
_ALL4 = b"\x01\x00\x00\x00"  # SIGHASH_ALL as the 4-byte hash type
_IDX4 = [i.to_bytes(4, "little") for i in range(256)]  # small output indexes as serialized
_VERSION4 = [i.to_bytes(4, "little") for i in range(4)]
_ZERO4 = bytes(4)


def _ser_witness(w: list[bytes]) -> bytes:
    """A witness as serialized: item count, then each item with its compact-size length."""
    parts = [_cs(len(w))]
    append = parts.append
    for d in w:
        ln = len(d)
        append(_CS[ln] if ln < 0xFD else compact_size(ln))
        append(d)
    return b"".join(parts)


class _SigParts:
    """The parts of one decoded transaction that its signature hashes share, built once per tx.

    SIGHASH_ALL (nearly every signature) is assembled here from the decoded pieces directly: the legacy
    preimage with every scriptSig blank, spliced per input; the BIP143 head and tail. Anything else
    (other hash types, transactions with many inputs) goes through ``packetfs.bitcoin.script.sighash``
    on a skeleton transaction, which is the reference both paths must agree with (the encoder uses
    the reference for every input, and verifies its output by decoding it)."""

    __slots__ = ("version", "outpoints", "seqs", "outs", "out_list", "locktime", "v", "lt", "full", "off",
                 "v0_head", "v0_tail", "skel")  # fmt: skip

    def __init__(self, version, outpoints, seqs, outs, out_list, locktime, v, lt):
        self.version = version
        self.outpoints = outpoints
        self.seqs = seqs
        self.outs = outs
        self.out_list = out_list
        self.locktime = locktime
        self.v = v
        self.lt = lt
        self.full = None
        self.v0_head = None
        self.skel = None

    def skeleton(self):
        """What the reference sighashes read: every field but scriptSigs and witnesses (legacy hashes
        blank the other inputs' scriptSigs and take the own scriptCode as an argument; BIP143 never
        reads them)."""
        if self.skel is None:
            tx = Transaction(
                self.v,
                [TxIn(op[:32], int.from_bytes(op[32:], "little"), b"", int.from_bytes(s, "little"))
                 for op, s in zip(self.outpoints, self.seqs, strict=True)],  # fmt: skip
                [TxOut(val, spk) for val, spk in self.out_list],
                self.lt,
            )
            self.skel = (tx, PrecomputedTxData(tx))
        return self.skel

    def legacy(self, h: bytes, i: int, ht: int) -> bytes:
        n_in = len(self.outpoints)
        if ht != 1 or n_in >= _BIG_TX:
            tx, pre = self.skeleton()
            return legacy_sighash(p2pkh_script(h), tx, i, ht, pre)
        full = self.full
        if full is None:
            head = self.version + _cs(n_in)
            full = self.full = b"".join(
                (head, *[op + b"\x00" + sq for op, sq in zip(self.outpoints, self.seqs, strict=True)],
                 _cs(len(self.outs)), *self.outs, self.locktime)  # fmt: skip
            )
            self.off = len(head) + 36
        off = self.off + 41 * i
        return _sha256d(b"".join((full[:off], _P2PKH_CODE_HEAD, h, b"\x88\xac", full[off + 1 :], _ALL4)))

    def v0(self, h: bytes, i: int, ht: int, amount: int) -> bytes:
        if ht != 1:
            tx, pre = self.skeleton()
            return segwit_v0_sighash(p2pkh_script(h), tx, i, ht, amount, pre)
        head = self.v0_head
        if head is None:
            head = self.v0_head = b"".join(
                (self.version, _sha256d(b"".join(self.outpoints)), _sha256d(b"".join(self.seqs)))
            )
            self.v0_tail = _sha256d(b"".join(self.outs)) + self.locktime + _ALL4
        return _sha256d(
            b"".join((head, self.outpoints[i], _P2PKH_CODE_HEAD, h, b"\x88\xac",
                      amount.to_bytes(8, "little", signed=True), self.seqs[i], self.v0_tail))  # fmt: skip
        )


class _Decoder:
    """Rebuilds the block from the streams. Written for speed (this is the hot path of reading an
    archive): stream readers and tables are bound to locals, one-byte varints and fixed-width codes are
    read from the stream data directly, the signature-hash parts (:class:`_SigParts`) are only built for
    transactions that have a recovered key, and spends of keys already known need no recovery at all.

    What remains on the shared corpus is mostly libsecp256k1's recovery itself (about half the time)."""

    def __init__(self, readers: list[Reader], flags: int, context, fmt: int = FORMAT_MODELLED, recover=None):
        self.r = readers
        self.flags = flags
        self.ctx = context
        self.keys: list[bytes] = []
        self.hashes: list[bytes] = []
        self.rec = recover or _Recoverer()
        self.it = readers[S_ITEM]
        self.sig_take = readers[S_SIG].take
        self.key_take = readers[S_KEY].take
        # Distinct readers per stream let the hot loops keep read positions in locals; a single stream
        # (one reader for all) must go through the reader methods, in the writer's interleaved order.
        single = readers[S_PREV] is readers[S_IDX]
        self.inputs = self.inputs_generic if single else self.inputs_fast
        self.outputs = self.outputs_generic if single else self.outputs_fast
        # The highest input kind this format version has (key references came with version 2).
        self.max_kind = K_SHWPKH_KEYREF if fmt >= FORMAT_MODELLED else K_SHWSH_DERIVED

    def hash_in(self, n: int) -> bytes:
        c = self.r[S_HREF].uv()
        if c == 0:
            h = self.r[S_HASH].take(n)
            self.hashes.append(h)
            return h
        hs = self.hashes
        if c > len(hs):
            raise CodecError(f"hash reference {c} beyond the {len(hs)} hashes decoded so far")
        h = hs[-c]
        if len(h) != n:
            raise CodecError(f"hash reference to a {len(h)}-byte hash where {n} bytes belong")
        return h

    def item(self, depth: int) -> bytes:
        # Codes tested in the order of their frequency in mainnet blocks; the item stream is read
        # through its data directly (an overrun is an IndexError: a CodecError in decode_block).
        it = self.it
        p = it.pos
        c = it.data[p]
        it.pos = p + 1
        if c == I_DER:
            it.pos = p + 2
            return rs_to_der(self.sig_take(64)) + _CS[it.data[p + 1]]
        if c == I_KEY03 or c == I_KEY02:
            k = (b"\x02" if c == I_KEY02 else b"\x03") + self.key_take(32)
            self.keys.append(k)
            return k
        if c == I_EMPTY:
            return b""
        if c == I_SCRIPT:
            if depth >= MAX_SCRIPT_DEPTH:
                raise CodecError("script item nested deeper than the format allows")
            return self.tokens(depth)
        if c == I_KEYREF:
            d = it.uv()
            keys = self.keys
            if d >= len(keys):
                raise CodecError(f"key reference {d} beyond the {len(keys)} keys decoded so far")
            return keys[-1 - d]
        if c == I_RAW:
            return self.r[S_BLOB].take(it.uv())
        if c == I_SCHNORR64:
            return self.sig_take(64)
        if c == I_HASH20:
            return self.hash_in(20)
        if c == I_HASH32:
            return self.hash_in(32)
        if c == I_SCHNORR65:
            ht = it.byte()
            return self.sig_take(64) + _CS[ht]
        if c == I_KEY04E or c == I_KEY04O:
            x = self.key_take(32)
            try:
                k = PublicKey((b"\x02" if c == I_KEY04E else b"\x03") + x).format(False)
            except Exception:
                raise CodecError("uncompressed key item is not a point on the curve") from None
            self.keys.append(k)
            return k
        raise CodecError(f"unknown item code {c}")

    def tokens(self, depth: int) -> bytes:
        it = self.it
        data = it.data
        p = it.pos
        n = data[p]
        if n < 0x80:
            it.pos = p + 1
        else:
            n = it.uv()
        parts = []
        append = parts.append
        item = self.item
        depth += 1
        for _ in range(n):
            p = it.pos
            if data[p] == I_OPCODE:
                it.pos = p + 2
                append(_CS[data[p + 1]])
            else:
                d = item(depth)
                ln = len(d)
                append((_CS[ln] + d) if ln < 0x4C else _push(d))
        return b"".join(parts)

    def script(self) -> bytes:
        it = self.it
        p = it.pos
        c = it.data[p]
        it.pos = p + 1
        if c == I_SCRIPT:
            return self.tokens(0)
        if c == I_RAW:
            return self.r[S_BLOB].take(it.uv())
        raise CodecError(f"script code {c} is neither tokens nor raw")

    def witness(self) -> list[bytes]:
        it = self.it
        p = it.pos
        n = it.data[p]
        if n < 0x80:
            it.pos = p + 1
        else:
            n = it.uv()
        item = self.item
        return [item(1) for _ in range(n)]

    def known_output(self, outpoint: bytes) -> tuple[int, bytes]:
        txid = outpoint[:32]
        index = int.from_bytes(outpoint[32:], "little")
        outs = self.outputs_by_txid.get(txid)
        if outs is not None:
            if index < len(outs):
                return outs[index]
            raise CodecError("recovery refers to a spent output index the earlier transaction lacks")
        if self.flags & F_CTX_OUTPUTS:
            if self.ctx is None or not hasattr(self.ctx, "output"):
                raise CodecError("block was encoded with chain context (spent outputs); pass a context")
            res = self.ctx.output(txid, index)
            if res is not None:
                return res
        raise CodecError("recovery needs a spent output that neither the block nor the context has")

    def run(self) -> bytes:
        r = self.r
        txr = r[S_TX]
        version = txr.take(4)
        tz = txr.uv()
        if tz > 32:
            raise CodecError("previous-hash zero count above 32")
        prev = r[S_HASH].take(32 - tz) + bytes(tz)
        merkle = None if self.flags & F_MERKLE_DERIVED else r[S_HASH].take(32)
        tail = txr.take(12)
        header_time = int.from_bytes(tail[0:4], "little")
        ntx = txr.uv()
        if ntx * 10 > MAX_BLOCK_SIZE:
            raise CodecError(f"transaction count {ntx} impossible in a block")
        self.outputs_by_txid = {}
        self.hint = 0
        self.wc_pending = None  # tx 0's pieces while its witness commitment waits for every wtxid
        self.wtxids: list[bytes] = []
        txids: list[bytes] = []
        body: list[bytes] = []
        self.ext: list[bytes] = []
        raw_amounts = bool(self.flags & F_RAW_AMOUNTS)
        for t in range(ntx):
            data, txid = self.tx(t, txids, header_time, raw_amounts)
            body.append(data)
            txids.append(txid)
        if self.wc_pending is not None:
            body[0], txids[0] = self.finish_commitment()
        if merkle is None:
            merkle = merkle_root(txids)[0]
        header = version + prev + merkle + tail
        return b"".join((header, compact_size(ntx), *body))

    def finish_commitment(self) -> tuple[bytes, bytes]:
        """Tx 0 with its witness commitment filled in, now that every wtxid is known."""
        version, ins, outs, wc_list, wits, locktime, w = self.wc_pending
        if len(w) != 1 or len(w[0]) != 32:
            raise CodecError("derived witness commitment without a 32-byte reserved value in tx 0's witness")
        root = merkle_root([bytes(32), *self.wtxids])[0]
        commit = b"\x26" + WITNESS_COMMITMENT_HEADER + _sha256d(root + w[0])
        for j in wc_list:
            outs[j] = outs[j][:8] + commit
        return self.serialize(version, ins, outs, wits, locktime, True)

    @staticmethod
    def serialize(version, ins, outs, wits, locktime, segwit) -> tuple[bytes, bytes]:
        n_in = _cs(len(ins))
        n_out = _cs(len(outs))
        legacy = b"".join((version, n_in, *ins, n_out, *outs, locktime))
        txid = _sha256d(legacy)
        if not segwit:
            return legacy, txid
        # ``wits``: each input's witness already serialized (see _ser_witness)
        return b"".join((version, b"\x00\x01", n_in, *ins, n_out, *outs, *wits, locktime)), txid

    def prevout_ref(self, c: int, t: int, txids: list[bytes], read_uv) -> bytes:
        """The txid a prevout code other than null / new names: an earlier tx of this block, a chain
        context location (two more varints from ``read_uv``), or an earlier external txid."""
        if c & 1 and c > 2:
            d = (c - 3) >> 1
            if d >= t:
                raise CodecError(f"prevout refers to transaction {t - 1 - d} of the block")
            if self.wc_pending is not None and d == t - 1:
                raise CodecError("prevout refers to tx 0, whose txid waits for its witness commitment")
            return txids[t - 1 - d]
        ext = self.ext
        if c == P_CTX:
            height = self.hint - unzigzag(read_uv())
            pos = read_uv()
            if not self.flags & F_CTX_TXIDS or self.ctx is None:
                raise CodecError("block was encoded in chain-context mode; pass the chain context to decode it")
            ptx = self.ctx.txid_at(height, pos)
            if ptx is None:
                raise CodecError(f"chain context has no transaction at height {height}, position {pos}")
            ext.append(ptx)
            return ptx
        d = (c - 4) >> 1
        if d >= len(ext):
            raise CodecError("prevout refers to an unknown earlier txid")
        return ext[-1 - d]

    def inputs_fast(self, t: int, txids: list[bytes], n_in: int):
        """Outpoints and sequences of one transaction (first pass), from separate streams."""
        r = self.r
        # First pass and outputs read their own streams only, so the read positions live in locals
        # (one-byte varints, the common case, are read inline; an overrun is an IndexError, which
        # decode_block turns into a CodecError).
        pv = r[S_PREV]
        pvd = pv.data
        pp = pv.pos
        ix = r[S_IDX]
        ixd = ix.data
        xp = ix.pos
        sq = r[S_SEQ]
        sqd = sq.data
        qp = sq.pos
        hs = r[S_HASH]
        hsd = hs.data
        hp = hs.pos
        outpoints = []  # txid || index, as serialized
        seqs = []
        seq_bytes = _SEQ_BYTES
        prev_seq = None
        ext = self.ext
        for _ in range(n_in):
            c = pvd[pp]
            if c < 0x80:
                pp += 1
            else:
                pv.pos = pp
                c = pv.uv()
                pp = pv.pos
            if c == P_NULL:
                ptx = _ZERO32
                idx = 0xFFFFFFFF
            else:
                if c == P_NEW:
                    e = hp + 32
                    ptx = hsd[hp:e]
                    if len(ptx) != 32:
                        raise CodecError("stream 'hash' ended early")
                    hp = e
                    ext.append(ptx)
                else:
                    pv.pos = pp
                    ptx = self.prevout_ref(c, t, txids, pv.uv)
                    pp = pv.pos
                idx = ixd[xp]
                if idx < 0x80:
                    xp += 1
                else:
                    ix.pos = xp
                    idx = ix.uv()
                    xp = ix.pos
                    if idx > 0xFFFFFFFF:
                        raise CodecError("prevout index out of range")
            outpoints.append(ptx + (_IDX4[idx] if idx < 256 else idx.to_bytes(4, "little")))
            s = sqd[qp]
            qp += 1
            if s < 4:
                sb = seq_bytes[s]
            elif s == SEQ_SAME:
                if prev_seq is None:
                    raise CodecError("sequence 'same as previous' on a first input")
                sb = prev_seq
            elif s == SEQ_RAW:
                sb = sqd[qp : qp + 4]
                qp += 4
                if len(sb) != 4:
                    raise CodecError("stream 'seq' ended early")
            else:
                raise CodecError(f"bad sequence code {s}")
            seqs.append(sb)
            prev_seq = sb
        pv.pos = pp
        ix.pos = xp
        sq.pos = qp
        hs.pos = hp
        return outpoints, seqs

    def outputs_fast(self, t: int, n_out: int, segwit: bool, raw_amounts: bool):
        """Serialized outputs, (value, script) pairs and derived-commitment positions, from separate streams."""
        r = self.r
        oc = r[S_OUTC]
        ocd = oc.data
        op = oc.pos
        am = r[S_AMT]
        amd = am.data
        ap = am.pos
        # Template hashes (2.6) are read inline too; the positions go back to the readers around the
        # calls that read items (which may hold hashes themselves).
        hr = r[S_HREF]
        hrd = hr.data
        hs = r[S_HASH]
        hsd = hs.data
        hashes = self.hashes
        outs = []
        out_list = []
        wc_list = None
        pre = _TEMPLATE_PRE
        post = _TEMPLATE_POST
        for j in range(n_out):
            if raw_amounts:
                vb = amd[ap : ap + 8]
                ap += 8
                if len(vb) != 8:
                    raise CodecError("stream 'amount' ended early")
                value = int.from_bytes(vb, "little", signed=True)
            else:
                a = amd[ap]
                if a < 0x80:
                    ap += 1
                else:
                    am.pos = ap
                    a = am.uv()
                    ap = am.pos
                value = decompress_amount(a)
                if value >= 1 << 63:
                    if value >= 1 << 64:
                        raise CodecError("amount out of range")
                    vb = value.to_bytes(8, "little")
                    value -= 1 << 64
                else:
                    vb = value.to_bytes(8, "little")
            c = ocd[op]
            op += 1
            if c <= O_P2TR:
                n = 32 if c >= O_P2WSH else 20
                hp = hr.pos
                hc = hrd[hp]
                if hc < 0x80:
                    hr.pos = hp + 1
                else:
                    hc = hr.uv()
                if hc == 0:
                    hsp = hs.pos
                    e = hsp + n
                    h = hsd[hsp:e]
                    if len(h) != n:
                        raise CodecError("stream 'hash' ended early")
                    hs.pos = e
                    hashes.append(h)
                else:
                    if hc > len(hashes):
                        raise CodecError(f"hash reference {hc} beyond the {len(hashes)} hashes decoded so far")
                    h = hashes[-hc]
                    if len(h) != n:
                        raise CodecError(f"hash reference to a {len(h)}-byte hash where {n} bytes belong")
                spk = pre[c] + h + post[c]
            else:
                spk = self.other_output(c, t, segwit)
                if c == O_WCOMMIT:
                    wc_list = [*(wc_list or ()), j]
            ln = len(spk)
            outs.append(vb + (_CS[ln] if ln < 0xFD else compact_size(ln)) + spk)
            out_list.append((value, spk))
        oc.pos = op
        am.pos = ap
        return outs, out_list, wc_list

    def other_output(self, c: int, t: int, segwit: bool) -> bytes:
        """The scriptPubKey of an output coded as neither template: a script, a P2PK key, or the derived
        witness commitment (a placeholder, filled in once every wtxid is known)."""
        if c == O_SCRIPT:
            return self.script()
        if c == O_P2PK:
            k = self.item(MAX_SCRIPT_DEPTH)
            if len(k) not in (33, 65):
                raise CodecError("pay-to-pubkey output with a key of the wrong size")
            return _CS[len(k)] + k + b"\xac"
        if c == O_WCOMMIT:
            if t != 0 or not segwit:
                raise CodecError("derived witness commitment outside a segwit tx 0")
            return WITNESS_COMMITMENT_HEADER + _ZERO32
        raise CodecError(f"bad output code {c}")

    def inputs_generic(self, t: int, txids: list[bytes], n_in: int):
        """:meth:`inputs_fast` through the readers' methods: right when streams share one reader."""
        r = self.r
        pv_uv, ix_uv = r[S_PREV].uv, r[S_IDX].uv
        sq = r[S_SEQ]
        sq_byte = sq.byte
        hash_take = r[S_HASH].take
        outpoints = []  # txid || index, as serialized
        seqs = []
        seq_bytes = _SEQ_BYTES
        prev_seq = None
        ext = self.ext
        for _ in range(n_in):
            c = pv_uv()
            if c == P_NULL:
                ptx = _ZERO32
                idx = 0xFFFFFFFF
            else:
                if c == P_NEW:
                    ptx = hash_take(32)
                    ext.append(ptx)
                else:
                    ptx = self.prevout_ref(c, t, txids, pv_uv)
                idx = ix_uv()
                if idx > 0xFFFFFFFF:
                    raise CodecError("prevout index out of range")
            outpoints.append(ptx + (_IDX4[idx] if idx < 256 else idx.to_bytes(4, "little")))
            s = sq_byte()
            if s < 4:
                sb = seq_bytes[s]
            elif s == SEQ_SAME:
                if prev_seq is None:
                    raise CodecError("sequence 'same as previous' on a first input")
                sb = prev_seq
            elif s == SEQ_RAW:
                sb = sq.take(4)
            else:
                raise CodecError(f"bad sequence code {s}")
            seqs.append(sb)
            prev_seq = sb
        return outpoints, seqs

    def outputs_generic(self, t: int, n_out: int, segwit: bool, raw_amounts: bool):
        """:meth:`outputs_fast` through the readers' methods: right when streams share one reader."""
        r = self.r
        oc_byte = r[S_OUTC].byte
        am = r[S_AMT]
        am_uv = am.uv
        outs = []
        out_list = []
        hin = self.hash_in
        wc_list = None
        for j in range(n_out):
            if raw_amounts:
                vb = am.take(8)
                value = int.from_bytes(vb, "little", signed=True)
            else:
                value = decompress_amount(am_uv())
                if value >= 1 << 64:
                    raise CodecError("amount out of range")
                vb = value.to_bytes(8, "little")
                if value >= 1 << 63:
                    value -= 1 << 64
            c = oc_byte()
            if c <= O_P2TR:
                spk = _TEMPLATE_PRE[c] + hin(32 if c >= O_P2WSH else 20) + _TEMPLATE_POST[c]
            else:
                spk = self.other_output(c, t, segwit)
                if c == O_WCOMMIT:
                    wc_list = [*(wc_list or ()), j]
            ln = len(spk)
            outs.append(vb + (_CS[ln] if ln < 0xFD else compact_size(ln)) + spk)
            out_list.append((value, spk))
        return outs, out_list, wc_list

    def tx(self, t: int, txids: list[bytes], header_time: int, raw_amounts: bool) -> tuple[bytes, bytes]:
        r = self.r
        txr = r[S_TX]
        txd = txr.data
        p = txr.pos
        flags = txd[p]  # < 32: one varint byte
        txr.pos = p + 1
        if flags >= 32:
            raise CodecError(f"bad transaction flags {flags}")
        vcode = flags & 3
        segwit = bool(flags & 4)
        lcode = flags >> 3
        if vcode == 3:
            v = unzigzag(txr.uv())
            if not -(1 << 31) <= v < 1 << 31:
                raise CodecError("transaction version out of range")
        else:
            v = vcode + 1
        version = _VERSION4[v] if 0 < v < 4 else v.to_bytes(4, "little", signed=True)
        p = txr.pos
        n_in = txd[p]
        if n_in < 0x80:
            txr.pos = p + 1
        else:
            n_in = txr.uv()
        p = txr.pos
        n_out = txd[p]
        if n_out < 0x80:
            txr.pos = p + 1
        else:
            n_out = txr.uv()
        if n_in > MAX_BLOCK_SIZE // 41 or n_out > MAX_BLOCK_SIZE // 9:
            raise CodecError("input or output count impossible in a block")
        if lcode == 0:
            lt = 0
        elif lcode == 1:
            lt = self.hint + unzigzag(txr.uv())
        elif lcode == 2:
            lt = header_time + unzigzag(txr.uv())
        else:
            lt = int.from_bytes(txr.take(4), "little")
        if not 0 <= lt < 1 << 32:
            raise CodecError("locktime out of range")
        locktime = _ZERO4 if lt == 0 else lt.to_bytes(4, "little")
        wc_pending = self.wc_pending is not None
        hin = self.hash_in
        outpoints, seqs = self.inputs(t, txids, n_in)
        outs, out_list, wc_list = self.outputs(t, n_out, segwit, raw_amounts)
        sp = None  # the signature-hash parts of this tx, built on its first recovered key
        legacy_left = MAX_LEGACY_SIGHASH_BYTES_PER_TX
        legacy_cost = 0
        it = r[S_ITEM]
        it_byte = it.byte
        kref_uv = r[S_KREF].uv
        sig_take = r[S_SIG].take
        script = self.script
        witness = self.witness
        keys = self.keys
        rec = self.rec
        max_kind = self.max_kind
        ins = []
        wits = []  # serialized witnesses (segwit transactions only)
        ss0 = None
        w0: list[bytes] = []  # input 0's witness items (tx 0's reserved value, for the commitment)
        itd = it.data
        for i in range(n_in):
            p = it.pos
            k = itd[p]
            it.pos = p + 1
            ws = b"\x00"  # the serialized empty witness
            if k == K_GENERIC:
                p += 1
                if itd[p] == I_RAW and itd[p + 1] == 0:  # empty scriptSig (native segwit), inline
                    it.pos = p + 2
                    ss = b""
                else:
                    ss = script()
                if segwit:
                    w = witness()
                    ws = _ser_witness(w)
                    if i == 0:
                        w0 = w
            elif k > K_SHWSH_DERIVED:
                # Key references: the key is already known, so no recovery and no signature hash.
                if k > max_kind:
                    raise CodecError(f"bad input kind {k}")
                ht = it_byte()
                d = kref_uv()
                if d >= len(keys):
                    raise CodecError(f"key reference {d} beyond the {len(keys)} keys decoded so far")
                key = keys[-1 - d]
                sig = rs_to_der(sig_take(64)) + _CS[ht]
                if k == K_P2PKH_KEYREF:
                    ss = _CS[len(sig)] + sig + _CS[len(key)] + key
                else:
                    if not segwit:
                        raise CodecError("segwit input in a transaction without witnesses")
                    ss = b"" if k == K_WPKH_KEYREF else b"\x16\x00\x14" + _hash160(key)
                    ws = b"".join((b"\x02", _CS[len(sig)], sig, _CS[len(key)], key))
            elif k >= K_P2PKH_HASH and k <= K_SHWPKH_SPENT:
                ht = it_byte()
                rf = it_byte()
                if rf > 7:
                    raise CodecError(f"bad recovery flags {rf}")
                rs = sig_take(64)
                if sp is None:
                    if wc_list is not None:
                        raise CodecError("recovered key in a transaction whose witness commitment is pending")
                    sp = _SigParts(version, outpoints, seqs, outs, out_list, locktime, v, lt)
                    legacy_cost = _legacy_cost(n_in, sum(len(x[1]) + 9 for x in out_list))
                if k <= K_P2PKH_SPENT:
                    if k == K_P2PKH_HASH:
                        h = hin(20)
                    else:
                        spk = self.known_output(outpoints[i])[1]
                        if len(spk) != 25:
                            raise CodecError("spent output is not P2PKH")
                        h = spk[3:23]
                    if legacy_cost > legacy_left:
                        raise CodecError("archive asks for more legacy signature hashing than the format allows")
                    legacy_left -= legacy_cost
                    key = rec(rs, rf & 3, sp.legacy(h, i, ht), rf & 4)
                    if key is None:
                        raise CodecError("public key recovery failed: corrupt signature or wrong context")
                    if _hash160(key) != h:
                        raise CodecError("recovered key does not match its hash: corrupt data")
                    sig = rs_to_der(rs) + _CS[ht]
                    ss = _CS[len(sig)] + sig + _CS[len(key)] + key
                else:
                    if not segwit:
                        raise CodecError("segwit input in a transaction without witnesses")
                    if k == K_WPKH_SPENT:
                        amount, spk = self.known_output(outpoints[i])
                        if len(spk) != 22:
                            raise CodecError("spent output is not P2WPKH")
                        h = spk[2:]
                    else:
                        h = hin(20)
                        if k == K_SHWPKH_SPENT:
                            amount = self.known_output(outpoints[i])[0]
                        else:
                            amount = _signed64(decompress_amount(r[S_SPENT].uv()))
                            if amount >= 1 << 63:
                                raise CodecError("spent amount out of range")
                    key = rec(rs, rf & 3, sp.v0(h, i, ht, amount), rf & 4)
                    if key is None:
                        raise CodecError("public key recovery failed: corrupt signature or wrong context")
                    if k != K_SHWPKH_STORED and k != K_SHWPKH_SPENT and _hash160(key) != h:
                        raise CodecError("recovered key does not match its hash: corrupt data")
                    ss = b"\x16\x00\x14" + h if k >= K_SHWPKH_STORED else b""
                    sig = rs_to_der(rs) + _CS[ht]
                    ws = b"".join((b"\x02", _CS[len(sig)], sig, _CS[len(key)], key))
                keys.append(key)
            elif k == K_SHWPKH_DERIVED or k == K_SHWSH_DERIVED:
                if not segwit:
                    raise CodecError("wrapped segwit input in a transaction without witnesses")
                w = witness()
                if not w:
                    raise CodecError("wrapped segwit input with an empty witness")
                ws = _ser_witness(w)
                if i == 0:
                    w0 = w
                if k == K_SHWPKH_DERIVED:
                    ss = b"\x16\x00\x14" + _hash160(w[-1])
                else:
                    ss = b"\x22\x00\x20" + _sha256(w[-1])
            else:
                raise CodecError(f"bad input kind {k}")
            ln = len(ss)
            ins.append(b"".join((outpoints[i], _CS[ln] if ln < 0xFD else compact_size(ln), ss, seqs[i])))
            if segwit:
                wits.append(ws)
            if i == 0:
                ss0 = ss
        if t == 0 and n_in:
            self.hint = _bip34_hint(ss0)
        if wc_list is not None:
            # Placeholder bytes for now; run() calls finish_commitment after the last transaction.
            self.wc_pending = (version, ins, outs, wc_list, wits, locktime, w0)
            return b"", b""
        data, txid = self.serialize(version, ins, outs, wits, locktime, segwit)
        if wc_pending:
            self.wtxids.append(_sha256d(data) if segwit else txid)
        self.outputs_by_txid[txid] = out_list
        return data, txid


# ------------------------------------------------------------------------------------- public API
def _opaque(raw: bytes) -> bytes:
    method, packed = compress_stream(raw)
    out = bytearray((FORMAT_OPAQUE, method))
    write_uvarint(out, len(raw))
    out += zlib.crc32(raw).to_bytes(4, "little")
    out += packed
    return bytes(out)


def encode_block_with_stats(
    raw: bytes, context=None, options: CodecOptions | None = None, spent=None
) -> tuple[bytes, EncodeStats]:
    """:func:`encode_block` plus what it did (stream sizes, recovered keys, opaque or not)."""
    raw = bytes(raw)
    o = options or CodecOptions()
    try:
        block = Block.from_bytes(raw)
    except ParseError:
        block = None
    stats = EncodeStats(raw_size=len(raw))
    if block is not None:
        try:
            enc = _Encoder(block, raw, context, o, spent)
            data = enc.run()
            stats = enc.stats
            stats.raw_size = len(raw)
            if o.verify and _decode(data, context, _MemoRecoverer(enc.memo)) != raw:
                raise CodecError("model round trip differs from the input")
        except Exception:
            if not o.fallback:
                raise
            data = None
    else:
        data = None
    if data is None:
        data = _opaque(raw)
        stats = EncodeStats(raw_size=len(raw), opaque=True)
    stats.encoded_size = len(data)
    return data, stats


def encode_block(raw: bytes, context=None, options: CodecOptions | None = None, spent=None) -> bytes:
    """Encode one serialized block; ``decode_block`` of the result gives ``raw`` back byte for byte.

    ``context`` (a :class:`~packetfs.bitcoin.codec.context.ChainContext`) enables chain-context mode: the
    decoder then needs an equivalent context. ``spent`` is an encoder-only hint, per non-coinbase tx a
    list of per-input ``(value, scriptPubKey)`` (as undo data gives): it lets segwit v0 keys be recovered
    with the amount stored, so the result still decodes without any context.
    """
    return encode_block_with_stats(raw, context, options, spent)[0]


def _read_streams(data: bytes, fmt: int = FORMAT_MODELLED) -> tuple[int, int, int, list[Reader]]:
    if len(data) < 8:
        raise CodecError(f"encoded block of {len(data)} bytes is truncated")
    flags = data[1]
    if flags & ~_KNOWN_FLAGS:
        raise CodecError(f"unknown block flags 0x{flags:02x} (written by a newer format?)")
    hdr = Reader(data, "block header")
    hdr.pos = 2
    raw_len = hdr.uv()
    if raw_len > MAX_BLOCK_SIZE:
        raise CodecError(f"declared block size {raw_len} above {MAX_BLOCK_SIZE}")
    crc = int.from_bytes(hdr.take(4), "little")
    n = hdr.byte()
    single = bool(flags & F_SINGLE_STREAM)
    n_streams = len(STREAMS) if fmt >= FORMAT_MODELLED else N_STREAMS_V1
    if n != (1 if single else n_streams):
        raise CodecError(f"block has {n} streams, expected {1 if single else n_streams}")
    specs = []
    for _ in range(n):
        method = hdr.byte()
        rl = hdr.uv()
        cl = hdr.uv()
        specs.append((method, rl, cl))
    pos = hdr.pos
    total = sum(cl for _, _, cl in specs)
    if pos + total != len(data):
        raise CodecError(f"encoded block is {len(data)} bytes, its stream table says {pos + total}")
    readers = []
    names = ("all",) if single else STREAMS
    for name, (method, rl, cl) in zip(names, specs, strict=False):
        payload = data[pos : pos + cl]
        pos += cl
        readers.append(Reader(decompress_stream(method, payload, rl, name), name))
    if single:
        readers = readers * len(STREAMS)
    elif n_streams < len(STREAMS):
        readers += [Reader(b"", name) for name in STREAMS[n_streams:]]  # absent in this version: empty
    return flags, raw_len, crc, readers


def decode_block(data: bytes, context=None) -> bytes:
    """The exact block ``encode_block`` encoded, or CodecError (never a different block)."""
    return _decode(data, context)


def _decode(data: bytes, context=None, recover=None) -> bytes:
    """:func:`decode_block`; ``recover`` replaces the decoder's key recovery (the encoder's self-check)."""
    data = bytes(data)
    if not data:
        raise CodecError("empty encoded block")
    fmt = data[0]
    if fmt == FORMAT_OPAQUE:
        hdr = Reader(data, "block header")
        hdr.pos = 1
        method = hdr.byte()
        raw_len = hdr.uv()
        if raw_len > 64 * 1024 * 1024:
            raise CodecError(f"declared block size {raw_len} is not plausible")
        crc = int.from_bytes(hdr.take(4), "little")
        raw = decompress_stream(method, data[hdr.pos :], raw_len, "opaque block")
    elif fmt == FORMAT_MODELLED or fmt == FORMAT_MODELLED_V1:
        flags, raw_len, crc, readers = _read_streams(data, fmt)
        if flags & (F_CTX_TXIDS | F_CTX_OUTPUTS) and context is None:
            raise CodecError("block was encoded in chain-context mode; decoding it needs the chain context")
        dec = _Decoder(readers, flags, context, fmt, recover)
        try:
            raw = dec.run()
        except CodecError:
            raise
        except (ValueError, IndexError, KeyError, OverflowError, TypeError) as e:
            raise CodecError(f"corrupt block payload ({type(e).__name__}: {e})") from None
        if flags & F_SINGLE_STREAM:
            if not readers[0].at_end():
                raise CodecError("encoded block has unused bytes in its stream")
        else:
            for rd in readers:
                if not rd.at_end():
                    raise CodecError(f"stream '{rd.name}' has {len(rd.data) - rd.pos} unused bytes")
    else:
        raise CodecError(f"unknown block encoding {fmt}")
    if len(raw) != raw_len:
        raise CodecError(f"decoded {len(raw)} bytes, expected {raw_len}")
    if zlib.crc32(raw) != crc:
        raise CodecError("decoded block fails its checksum")
    return raw


__all__ = [
    "CodecOptions",
    "EncodeStats",
    "decode_block",
    "encode_block",
    "encode_block_with_stats",
    "METHOD_RAW",
]
