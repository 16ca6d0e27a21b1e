"""BIP325 signet block solutions: the block is valid only if a signature over its header data
satisfies the network's challenge script."""

from __future__ import annotations

from ..consensus.errors import ValidationError
from ..primitives.block import WITNESS_COMMITMENT_HEADER, Block, find_witness_commitment, merkle_root
from ..primitives.encoding import compact_size, read_compact_size
from ..primitives.script import OP_0, OP_RETURN, iter_script, push_data
from ..primitives.transaction import Transaction, TxIn, TxOut
from ..script import ScriptError, ScriptFlags, verify_tx_input

SIGNET_HEADER = bytes.fromhex("ecc7daa2")
# Core validates the solution with these flags, whatever the block's height.
SIGNET_SCRIPT_FLAGS = ScriptFlags.P2SH | ScriptFlags.WITNESS | ScriptFlags.DERSIG | ScriptFlags.NULLDUMMY


def _take_solution(coinbase: Transaction) -> tuple[Transaction, bytes | None]:
    """Coinbase with the signet push removed from its witness commitment output, and the solution."""
    outputs = list(coinbase.outputs)
    index = None
    for i, out in enumerate(outputs):
        spk = out.script_pubkey
        if len(spk) >= 38 and spk[:6] == WITNESS_COMMITMENT_HEADER:
            index = i
    if index is None:
        return coinbase, None
    script = outputs[index].script_pubkey
    solution = None
    # Core rebuilds the whole script while looking for the solution: non-empty pushes are
    # re-pushed minimally, everything else is written as its bare opcode, and parsing stops at a
    # malformed push. Only a push holding the header and more is the solution; the header stays.
    rebuilt = bytearray()
    for token in iter_script(script):
        if token.truncated:
            break
        data = token.data
        if data:
            if solution is None and len(data) > len(SIGNET_HEADER) and data[:4] == SIGNET_HEADER:
                solution = data[4:]
                data = data[:4]
            rebuilt += push_data(data)
        else:
            rebuilt.append(token.opcode)
    if solution is None:
        return coinbase, None
    outputs[index] = TxOut(outputs[index].value, bytes(rebuilt))
    stripped = Transaction(coinbase.version, coinbase.inputs, outputs, coinbase.locktime, coinbase.witnesses)
    return stripped, solution


def _parse_solution(solution: bytes) -> tuple[bytes, tuple[bytes, ...]]:
    """The solution is a serialized scriptSig followed by a serialized witness stack, exactly."""
    try:
        n, off = read_compact_size(solution, 0)
        script_sig = solution[off : off + n]
        if len(script_sig) != n:
            raise ValueError
        off += n
        items, off = read_compact_size(solution, off)
        witness = []
        for _ in range(items):
            n, off = read_compact_size(solution, off)
            item = solution[off : off + n]
            if len(item) != n:
                raise ValueError
            witness.append(item)
            off += n
        if off != len(solution):
            raise ValueError
    except (ValueError, IndexError) as e:
        raise ValidationError("bad-signet-blksig", "signet block solution is not parseable") from e
    return script_sig, tuple(witness)


def signet_txs(block: Block, challenge: bytes) -> tuple[Transaction, Transaction]:
    """BIP325's (to_spend, to_sign) pair for ``block``: what a signer signs and a validator checks."""
    if not block.transactions:
        raise ValidationError("bad-signet-blksig", "block has no coinbase")
    if find_witness_commitment(block.transactions[0]) is None:
        raise ValidationError("bad-signet-blksig", "signet block has no witness commitment")
    coinbase, solution = _take_solution(block.transactions[0])
    script_sig, witness = _parse_solution(solution) if solution is not None else (b"", ())
    txids = [coinbase.txid] + [t.txid for t in block.transactions[1:]]
    signet_merkle = merkle_root(txids)[0]
    h = block.header
    block_data = h.version.to_bytes(4, "little", signed=True) + h.prev_hash + signet_merkle + h.time.to_bytes(4, "little")
    to_spend = Transaction(
        0,
        [TxIn(bytes(32), 0xFFFFFFFF, bytes((OP_0,)) + push_data(block_data), 0)],
        [TxOut(0, challenge)],
        0,
    )
    to_sign = Transaction(0, [TxIn(to_spend.txid, 0, script_sig, 0)], [TxOut(0, bytes((OP_RETURN,)))], 0, [witness])
    return to_spend, to_sign


def check_signet_solution(block: Block, challenge: bytes) -> None:
    """Raise ValidationError('bad-signet-blksig') unless the block's solution meets ``challenge``."""
    _, to_sign = signet_txs(block, challenge)
    try:
        verify_tx_input(to_sign, 0, [TxOut(0, challenge)], SIGNET_SCRIPT_FLAGS)
    except ScriptError as e:
        raise ValidationError("bad-signet-blksig", f"signet block signature validation failure ({e.code})") from None


def signet_solution_bytes(script_sig: bytes, witness: tuple[bytes, ...]) -> bytes:
    """Serialize a solution (for signing tools and tests)."""
    out = compact_size(len(script_sig)) + script_sig + compact_size(len(witness))
    for item in witness:
        out += compact_size(len(item)) + item
    return out
