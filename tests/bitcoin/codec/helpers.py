"""Shared builders for the codec tests: wrapping transactions into blocks."""

from __future__ import annotations

from packetfs.bitcoin.primitives.encoding import compact_size


def wrap_block(txs: list[bytes], header: bytes | None = None) -> bytes:
    """A block (parsable, not valid) holding ``txs``: what the codec must round-trip whatever it holds."""
    if header is None:
        header = (1).to_bytes(4, "little") + bytes(32) + bytes(range(32)) + bytes(12)
    return header + compact_size(len(txs)) + b"".join(txs)
