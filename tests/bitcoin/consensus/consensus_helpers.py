"""Builders for consensus tests: small transactions, and real blocks rebuilt with changes."""

from __future__ import annotations

from collections.abc import Sequence

from packetfs.bitcoin.primitives.block import Block, BlockHeader, merkle_root, witness_commitment_hash
from packetfs.bitcoin.primitives.transaction import Transaction, TxIn, TxOut

P2PKH = bytes.fromhex("76a914") + bytes(20) + bytes.fromhex("88ac")


def make_tx(
    inputs: Sequence[tuple[bytes, int]] = ((b"\x01" * 32, 0),),
    values: Sequence[int] = (1000,),
    *,
    version: int = 2,
    locktime: int = 0,
    sequences: Sequence[int] | None = None,
    script_sig: bytes = b"",
    script_pubkey: bytes = P2PKH,
    witnesses=None,
) -> Transaction:
    seqs = list(sequences) if sequences is not None else [0xFFFFFFFF] * len(inputs)
    return Transaction(
        version,
        [TxIn(txid, idx, script_sig, seq) for (txid, idx), seq in zip(inputs, seqs, strict=True)],
        [TxOut(v, script_pubkey) for v in values],
        locktime,
        witnesses,
    )


def replace_tx(tx: Transaction, **changes) -> Transaction:
    fields = {
        "version": tx.version,
        "inputs": tx.inputs,
        "outputs": tx.outputs,
        "locktime": tx.locktime,
        "witnesses": tx.witnesses,
    }
    fields.update(changes)
    if "witnesses" not in changes and len(fields["witnesses"]) != len(fields["inputs"]):
        fields["witnesses"] = (list(fields["witnesses"]) + [()] * len(fields["inputs"]))[
            : len(fields["inputs"])
        ]
    return Transaction(
        fields["version"], fields["inputs"], fields["outputs"], fields["locktime"], fields["witnesses"]
    )


def rebuild(block: Block, txs: Sequence[Transaction], *, fix_merkle: bool = True, **header_changes) -> Block:
    """A copy of ``block`` with other transactions, the merkle root recomputed (so only the rule
    under test breaks) and any header fields changed. Its proof of work no longer holds."""
    h = block.header
    fields = dict(
        version=h.version,
        prev_hash=h.prev_hash,
        merkle_root=h.merkle_root,
        time=h.time,
        bits=h.bits,
        nonce=h.nonce,
    )
    if fix_merkle:
        fields["merkle_root"] = merkle_root([t.txid for t in txs])[0]
    fields.update(header_changes)
    return Block(BlockHeader(**fields), txs)


def recommit_witness(block_txs: list[Transaction]) -> list[Transaction]:
    """Rewrite the coinbase's witness commitment to match the (possibly changed) transactions."""
    coinbase = block_txs[0]
    wroot = merkle_root([bytes(32)] + [t.wtxid for t in block_txs[1:]])[0]
    reserved = coinbase.witnesses[0][0]
    commitment = witness_commitment_hash(wroot, reserved)
    outs = list(coinbase.outputs)
    for k in range(len(outs) - 1, -1, -1):
        spk = outs[k].script_pubkey
        if len(spk) >= 38 and spk[:6] == bytes.fromhex("6a24aa21a9ed"):
            outs[k] = TxOut(outs[k].value, spk[:6] + commitment + spk[38:])
            break
    else:
        raise AssertionError("no witness commitment in this coinbase")
    return [replace_tx(coinbase, outputs=outs)] + block_txs[1:]


def kernel_input_ok(tx: Transaction, index: int, spent: Sequence[TxOut], flags: int) -> bool:
    """libbitcoinkernel's verdict on one input (flags restricted to the consensus flags it takes)."""
    import pbk

    ktx = pbk.Transaction(tx.serialize())
    outs = [pbk.TransactionOutput(pbk.ScriptPubkey(o.script_pubkey), o.value) for o in spent]
    from pbk.script import PrecomputedTransactionData

    pre = PrecomputedTransactionData(ktx, outs)
    kflags = pbk.ScriptVerificationFlags(int(flags) & int(pbk.ScriptVerificationFlags.ALL))
    try:
        return bool(
            pbk.ScriptPubkey(spent[index].script_pubkey).verify(spent[index].value, ktx, pre, index, kflags)
        )
    except pbk.ScriptVerifyException:
        return False


def flip_bit(data: bytes, byte: int, bit: int = 0) -> bytes:
    return data[:byte] + bytes((data[byte] ^ (1 << bit),)) + data[byte + 1 :]
