"""The decoder: streams of codes and payloads become the exact block bytes again (format.py has the
codes, docs/pfs-format.md the layout)."""

from __future__ import annotations

from coincurve import PublicKey

from ..primitives.amount import decompress_amount
from ..primitives.block import merkle_root
from ..primitives.encoding import compact_size
from ..primitives.transaction import Transaction, TxIn, TxOut
from ..script.sighash import BIG_TX as _BIG_TX
from ..script.sighash import PrecomputedTxData, legacy_sighash, segwit_v0_sighash
from .errors import CodecError
from .format import (
    _SEQ_BYTES,
    F_CTX_OUTPUTS,
    F_CTX_TXIDS,
    F_MERKLE_DERIVED,
    F_RAW_AMOUNTS,
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
    MAX_BLOCK_SIZE,
    MAX_LEGACY_SIGHASH_BYTES_PER_TX,
    MAX_SCRIPT_DEPTH,
    O_P2PK,
    O_P2TR,
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
    WITNESS_COMMITMENT_HEADER,
)
from .forms import (
    _CS,
    _ZERO32,
    _bip34_hint,
    _cs,
    _hash160,
    _legacy_cost,
    _push,
    _sha256,
    _sha256d,
    _signed64,
    p2pkh_script,
    rs_to_der,
)
from .recovery import (
    _Recoverer,
)
from .streams import (
    Reader,
    unzigzag,
)

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
        self.out_lists: list[list[tuple[int, bytes]]] = []  # each transaction's (value, scriptPubKey) pairs
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
        self.txids = txids
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
        out_list = self.out_lists[0]
        for j in wc_list:
            outs[j] = outs[j][:8] + commit
            out_list[j] = (out_list[j][0], commit[1:])
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
        self.out_lists.append(out_list)
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


