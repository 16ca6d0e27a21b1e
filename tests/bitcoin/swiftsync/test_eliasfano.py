"""Elias-Fano lists: the draft BIP's worked example, round trips, and a decoder that never crashes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packetfs.bitcoin.errors import ParseError
from packetfs.bitcoin.swiftsync import eliasfano


def test_draft_worked_example():
    # The draft's example S = [3, 7, 12]: n=3, m=12, l=2, L = 11 11 00, H = 1 01 001 (from its text, by hand).
    assert eliasfano.low_bits(12, 3) == 2
    encoded = eliasfano.encode([3, 7, 12])
    assert encoded == bytes([3, 12, 0b1111_0000, 0b1010_0100])
    assert eliasfano.decode(encoded) == ([3, 7, 12], 4)


def test_low_bits_order_is_least_significant_first():
    # [5]: l=floor(log2(6))=2, low 01 goes as bits 1,0; high 1 as 01. [1, 2]: l=0, highs 1,2 as 01 01.
    assert eliasfano.encode([5]) == bytes([1, 5, 0b1000_0000, 0b0100_0000])
    assert eliasfano.encode([1, 2]) == bytes([2, 2, 0b0101_0000])


def test_empty_list_is_one_zero_byte():
    assert eliasfano.encode([]) == b"\x00"
    assert eliasfano.decode(b"\x00\xff", 0) == ([], 1)


@given(st.sets(st.integers(0, 5000), max_size=300))
@settings(max_examples=300, deadline=None)
def test_round_trip(values):
    indices = sorted(values)
    encoded = eliasfano.encode(indices)
    assert eliasfano.decode(encoded + b"tail") == (indices, len(encoded))


@given(st.binary(max_size=64))
@settings(max_examples=2000, deadline=None)
def test_decoder_fuzz(data):
    try:
        indices, end = eliasfano.decode(data)
    except ParseError:
        return
    assert eliasfano.encode(indices) == data[:end]  # whatever decodes is canonical


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (bytes([3, 12, 0xF0]), "bytes"),  # truncated H
        (bytes([3, 12, 0xF1, 0xA4]), "padding"),  # non-zero padding after L
        (bytes([3, 12, 0xF0, 0xA5]), "padding"),  # non-zero padding after H
        (bytes([3, 13, 0xF0, 0xA4]), "maximum"),  # m does not match the last element
        (bytes([5, 2, 0x00]), "distinct"),  # more elements than values
        (b"\xfe\xff\xff\xff\x7f\x00", "limit"),  # n far beyond any block
        (bytes([1]) + b"\xfe\x00\x00\x00\x10", "limit"),  # m beyond any block's outputs
    ],
)
def test_malformed_lists_are_rejected(data, why):
    with pytest.raises(ParseError, match=why):
        eliasfano.decode(data)


def test_encoder_rejects_unsorted_or_duplicate():
    for bad in ([2, 1], [1, 1], [-1]):
        with pytest.raises(ValueError):
            eliasfano.encode(bad)
