"""Helpers for the script tests: Core's test-vector script notation, the crediting/spending
transactions script_tests.json assumes, real-block spends, mainnet flags by height, and a pbk
(libbitcoinkernel) reference verifier. Loaded by conftest.py (tests/ is not a package)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from coincurve import PublicKeyXOnly

from packetfs.bitcoin.primitives import Block, Transaction, TxIn, TxOut
from packetfs.bitcoin.primitives.encoding import compact_size
from packetfs.bitcoin.primitives.hashes import tagged_hash
from packetfs.bitcoin.primitives.script import OPCODE_NAMES
from packetfs.bitcoin.script.flags import ScriptFlags, parse_flags

# ------------------------------------------------------------------ Core's script notation
_NAMES: dict[str, int] = {}
for _code, _name in OPCODE_NAMES.items():
    # As Core's ParseScript: names of OP_RESERVED and OP_NOP.. upward, with or without "OP_".
    if _code < 0x61 and _code != 0x50:
        continue
    _NAMES[_name] = _code
    _NAMES[_name[3:]] = _code
for _alias, _code in (("NOP2", 0xB1), ("NOP3", 0xB2), ("OP_NOP2", 0xB1), ("OP_NOP3", 0xB2)):
    _NAMES[_alias] = _code


def _push(data: bytes) -> bytes:
    n = len(data)
    if n < 0x4C:
        return bytes((n,)) + data
    if n <= 0xFF:
        return bytes((0x4C, n)) + data
    if n <= 0xFFFF:
        return b"\x4d" + n.to_bytes(2, "little") + data
    return b"\x4e" + n.to_bytes(4, "little") + data


def _scriptnum(v: int) -> bytes:
    if v == 0:
        return b""
    neg, a = v < 0, abs(v)
    r = bytearray(a.to_bytes((a.bit_length() + 7) // 8, "little"))
    if r[-1] & 0x80:
        r.append(0x80 if neg else 0)
    elif neg:
        r[-1] |= 0x80
    return bytes(r)


def parse_asm(text: str) -> bytes:
    """Core's ParseScript (core_read.cpp): decimal numbers, 0x raw bytes, 'strings', opcode names."""
    out = bytearray()
    for w in text.split():
        if w.isdigit() or (w.startswith("-") and len(w) > 1 and w[1:].isdigit()):
            n = int(w)
            if not -0xFFFFFFFF <= n <= 0xFFFFFFFF:
                raise ValueError(f"number out of range: {w}")
            if n == 0:
                out.append(0)
            elif n == -1 or 1 <= n <= 16:
                out.append(0x50 + n)
            else:
                out += _push(_scriptnum(n))
        elif w.startswith("0x") and len(w) > 2:
            out += bytes.fromhex(w[2:])
        elif len(w) >= 2 and w[0] == "'" and w[-1] == "'":
            out += _push(w[1:-1].encode())
        elif w in _NAMES:
            out.append(_NAMES[w])
        else:
            raise ValueError(f"bad script word {w!r}")
    return bytes(out)


# ------------------------------------------------------------------ script_tests.json transactions
def crediting_tx(script_pubkey: bytes, value: int) -> Transaction:
    return Transaction(
        1, [TxIn(bytes(32), 0xFFFFFFFF, b"\x00\x00", 0xFFFFFFFF)], [TxOut(value, script_pubkey)], 0
    )


def spending_tx(script_sig: bytes, witness: list[bytes], credit: Transaction) -> Transaction:
    return Transaction(
        1, [TxIn(credit.txid, 0, script_sig, 0xFFFFFFFF)], [TxOut(credit.outputs[0].value, b"")], 0, [witness]
    )


# Core's script_json_test builds "#CONTROLBLOCK#" as a one-leaf tree whose internal key is the
# x-only key of secret 1 (the generator G).
_INTERNAL_KEY = bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")


def single_leaf_taproot(script: bytes) -> tuple[bytes, bytes]:
    """(control block, output key) for a tree holding just ``script`` at leaf version 0xc0."""
    leaf = tagged_hash("TapLeaf", b"\xc0" + compact_size(len(script)) + script)
    tweak = tagged_hash("TapTweak", _INTERNAL_KEY + leaf)
    key = PublicKeyXOnly(_INTERNAL_KEY)
    key.tweak_add(tweak)
    return bytes((0xC0 | int(key.parity),)) + _INTERNAL_KEY, key.format()


def script_test_case(row: list) -> tuple[list[bytes], int, bytes, bytes, int, str, str]:
    """One script_tests.json row -> (witness, amount, scriptSig, scriptPubKey, flags, expected, text)."""
    witness: list[bytes] = []
    amount = 0
    pos = 0
    output_key = None
    if isinstance(row[0], list):
        for item in row[0][:-1]:
            if item.startswith("#SCRIPT#"):
                witness.append(parse_asm(item[len("#SCRIPT#") :]))
            elif item == "#CONTROLBLOCK#":
                control, output_key = single_leaf_taproot(witness[-1])
                witness.append(control)
            else:
                witness.append(bytes.fromhex(item))
        amount = round(row[0][-1] * 100_000_000)
        pos = 1
    script_sig = parse_asm(row[pos])
    spk_text = row[pos + 1]
    if spk_text == "0x51 0x20 #TAPROOTOUTPUT#":
        script_pubkey = b"\x51\x20" + output_key
    else:
        script_pubkey = parse_asm(spk_text)
    flags = int(parse_flags(row[pos + 2]))
    if flags & ScriptFlags.CLEANSTACK:  # as Core's DoTest: CLEANSTACK implies P2SH and WITNESS
        flags |= ScriptFlags.P2SH | ScriptFlags.WITNESS
    return witness, amount, script_sig, script_pubkey, flags, row[pos + 3], json.dumps(row)


def load_json(path: Path) -> list:
    return json.loads(path.read_text())


# ------------------------------------------------------------------ real blocks
# Mainnet activation heights (Core's chainparams): BIP66 363725, BIP65 388381, CSV 419328,
# segwit 481824, taproot 709632. P2SH (BIP16) is enforced for every block we hold.
def mainnet_flags(height: int) -> int:
    f = ScriptFlags.P2SH
    if height >= 363725:
        f |= ScriptFlags.DERSIG
    if height >= 388381:
        f |= ScriptFlags.CHECKLOCKTIMEVERIFY
    if height >= 419328:
        f |= ScriptFlags.CHECKSEQUENCEVERIFY
    if height >= 481824:
        f |= ScriptFlags.WITNESS | ScriptFlags.NULLDUMMY
    if height >= 709632:
        f |= ScriptFlags.TAPROOT
    return int(f)


def decode_undo(raw: bytes) -> list[list[TxOut]]:
    from packetfs.bitcoin.storage.undo import decode_block_undo

    return [[TxOut(c.value, c.script_pubkey) for c in txundo] for txundo in decode_block_undo(raw)]


def block_spends(block_raw: bytes, undo_raw: bytes) -> Iterator[tuple[Transaction, list[TxOut]]]:
    """(tx, spent outputs) for every non-coinbase transaction of the block."""
    block = Block.from_bytes(block_raw)
    undo = decode_undo(undo_raw)
    txs = block.transactions[1:]
    assert len(txs) == len(undo)
    for tx, spent in zip(txs, undo, strict=True):
        assert tx.input_count == len(spent)
        yield tx, spent


# ------------------------------------------------------------------ libbitcoinkernel reference
PBK_FLAGS = int(
    ScriptFlags.P2SH | ScriptFlags.DERSIG | ScriptFlags.NULLDUMMY | ScriptFlags.CHECKLOCKTIMEVERIFY
    | ScriptFlags.CHECKSEQUENCEVERIFY | ScriptFlags.WITNESS | ScriptFlags.TAPROOT
)  # fmt: skip


def pbk_verify(tx_bytes: bytes, index: int, spent: list[TxOut], flags: int) -> bool:
    """libbitcoinkernel's verdict. ``flags`` must be within the kernel's subset (same bit values)."""
    import pbk
    from pbk.script import PrecomputedTransactionData

    assert flags & ~PBK_FLAGS == 0, "pbk accepts only its consensus flag subset"
    tx = pbk.Transaction(tx_bytes)
    outs = [pbk.TransactionOutput(pbk.ScriptPubkey(o.script_pubkey), o.value) for o in spent]
    pre = PrecomputedTransactionData(tx, outs)
    spk = pbk.ScriptPubkey(spent[index].script_pubkey)
    try:
        return bool(spk.verify(spent[index].value, tx, pre, index, pbk.ScriptVerificationFlags(flags)))
    except pbk.ScriptVerifyException:
        return False
