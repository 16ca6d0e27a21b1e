"""The encoder: a parsed block becomes codes and payloads in separate streams (format.py has the codes,
docs/pfs-format.md the layout)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from coincurve import PublicKey

from ..primitives.amount import compress_amount
from ..primitives.block import Block, merkle_root
from ..primitives.transaction import Transaction
from ..script.sighash import PrecomputedTxData, legacy_sighash, segwit_v0_sighash
from .format import (
    _SEQ_CODE,
    _U64,
    F_CTX_OUTPUTS,
    F_CTX_TXIDS,
    F_MERKLE_DERIVED,
    F_RAW_AMOUNTS,
    F_SINGLE_STREAM,
    FORMAT_MODELLED,
    I_DER,
    I_EMPTY,
    I_HASH20,
    I_HASH32,
    I_KEY02,
    I_KEY03,
    I_KEY04E,
    I_KEY04O,
    I_KEYREF,
    I_OPCODE,
    I_RAW,
    I_SCHNORR64,
    I_SCHNORR65,
    I_SCRIPT,
    K_GENERIC,
    K_P2PKH_HASH,
    K_P2PKH_KEYREF,
    K_P2PKH_SPENT,
    K_SHWPKH_DERIVED,
    K_SHWPKH_KEYREF,
    K_SHWPKH_SPENT,
    K_SHWPKH_STORED,
    K_SHWSH_DERIVED,
    K_WPKH_KEYREF,
    K_WPKH_SPENT,
    K_WPKH_STORED,
    MAX_LEGACY_SIGHASH_BYTES_PER_TX,
    MAX_SCRIPT_DEPTH,
    O_P2PK,
    O_P2PKH,
    O_P2SH,
    O_P2TR,
    O_P2WPKH,
    O_P2WSH,
    O_SCRIPT,
    O_WCOMMIT,
    P_CTX,
    P_NEW,
    P_NULL,
    S_AMT,
    S_BLOB,
    S_HASH,
    S_HREF,
    S_IDX,
    S_ITEM,
    S_KEY,
    S_KREF,
    S_OUTC,
    S_PREV,
    S_SEQ,
    S_SIG,
    S_SPENT,
    S_TX,
    SEQ_RAW,
    SEQ_SAME,
    SETTINGS_BY_STREAM,
    STREAMS,
    WITNESS_COMMITMENT_HEADER,
    CodecOptions,
)
from .forms import (
    _ZERO32,
    _bip34_hint,
    _hash160,
    _legacy_cost,
    _sha256,
    _sha256d,
    der_to_rs,
    p2pkh_script,
    tokenize_canonical,
)
from .recovery import (
    _find_recid,
    _is_key,
    _parse_sig_item,
    _Recoverer,
)
from .streams import (
    EXHAUSTIVE,
    METHOD_RAW,
    compress_stream,
    write_uvarint,
    zigzag,
)


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


