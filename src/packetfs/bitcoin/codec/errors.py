"""The codec's error type: bad archive or payload bytes, always with what and where."""

from __future__ import annotations

from ..errors import PacketFSError


class CodecError(PacketFSError, ValueError):
    """An encoded block or .pfs archive that cannot be decoded exactly (corrupt, truncated, wrong mode)."""
