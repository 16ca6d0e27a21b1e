"""The hints file: exact format, bounded decoding, and `packetfs bitcoin hints` against a model of the
UTXO set replayed here from the blocks themselves."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.errors import ParseError
from packetfs.bitcoin.primitives.block import Block
from packetfs.bitcoin.swiftsync.hints import Hints

from .conftest import CHAIN_BLOCKS, HINTS_HEIGHT, packetfs


def model_unspent(records, height: int) -> list[list[int]]:
    """Replay blocks 1..height with a plain dict of outpoints; number each block's outputs skipping
    OP_RETURN and over-long scripts; return the numbers still unspent, per block."""
    live: dict[tuple[bytes, int], tuple[int, int]] = {}
    for h in range(1, height + 1):
        block = Block.from_bytes(records[h][0])
        number = 0
        for i, tx in enumerate(block.transactions):
            if i:
                for txin in tx.inputs:
                    del live[(txin.prev_txid, txin.prev_index)]
            for vout, out in enumerate(tx.outputs):
                spk = out.script_pubkey
                if (spk[:1] == b"\x6a") or len(spk) > 10_000:
                    continue
                live[(tx.txid, vout)] = (h, number)
                number += 1
    per_block: list[list[int]] = [[] for _ in range(height)]
    for h, number in sorted(live.values()):
        per_block[h - 1].append(number)
    return per_block


def test_hints_match_a_replayed_utxo_model(chain):
    hints = Hints.read(chain.hints)
    assert hints.height == HINTS_HEIGHT
    expected = model_unspent(chain.records, HINTS_HEIGHT)
    assert hints.unspent == expected
    # Some outputs of the spending blocks were spent, some not: the hints say something.
    assert sum(map(len, expected)) > 0 and any(len(u) < 50 for u in expected[100:])


def test_hints_at_the_tip_and_file_layout(chain, tmp_path):
    out = tmp_path / "tip.hints"
    proc = packetfs("hints", "--datadir", str(chain.reference_datadir), "--height", str(CHAIN_BLOCKS), "-o", str(out),
                    "--json")  # fmt: skip
    data = out.read_bytes()
    assert data[:5] == b"UTXO\x00" and int.from_bytes(data[5:9], "little") == CHAIN_BLOCKS
    assert f'"bytes": {len(data)}' in proc.stdout
    assert Hints.parse(data).unspent == model_unspent(chain.records, CHAIN_BLOCKS)
    assert Hints.parse(data).serialize() == data


def test_hints_cli_errors(chain, tmp_path):
    proc = packetfs("hints", "--datadir", str(chain.reference_datadir), "--height", str(CHAIN_BLOCKS + 1), "-o",
                    str(tmp_path / "x.hints"), check=False)  # fmt: skip
    assert proc.returncode == 2 and "below --height" in proc.stderr and "Traceback" not in proc.stderr
    proc = packetfs("hints", "--datadir", str(tmp_path), "--height", "5", "-o", str(tmp_path / "x.hints"), check=False)
    assert proc.returncode == 2 and "no chainstate" in proc.stderr


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"UTX", "shorter"),
        (b"UTXA\x00" + bytes(4), "magic"),
        (b"UTXO\x01" + bytes(4), "version"),
        (b"UTXO\x00" + (1000).to_bytes(4, "little") + bytes(10), "1000 blocks"),  # lying height
        (b"UTXO\x00" + (2).to_bytes(4, "little") + b"\x00\x00\x00", "after the last"),  # trailing bytes
        (b"UTXO\x00" + (2).to_bytes(4, "little") + b"\x00\x01", "truncated"),  # second list cut
    ],
)
def test_malformed_files_are_rejected(data, why):
    with pytest.raises(ParseError, match=why):
        Hints.parse(data)


@given(st.binary(max_size=48))
@settings(max_examples=1500, deadline=None)
def test_parser_fuzz(tail):
    data = b"UTXO\x00" + tail
    try:
        hints = Hints.parse(data)
    except ParseError:
        return
    assert hints.serialize() == data


@given(st.lists(st.sets(st.integers(0, 300), max_size=40), max_size=20))
@settings(max_examples=200, deadline=None)
def test_round_trip(blocks):
    hints = Hints(len(blocks), [sorted(b) for b in blocks])
    assert Hints.parse(hints.serialize()) == hints
