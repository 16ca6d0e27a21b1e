"""Hash functions Bitcoin uses, and the byte-order helpers for displaying them."""

from __future__ import annotations

import hashlib

_sha256 = hashlib.sha256


def sha256(data: bytes | memoryview) -> bytes:
    return _sha256(data).digest()


def sha256d(data: bytes | memoryview) -> bytes:
    """Double SHA-256, the hash of headers, transactions and merkle nodes."""
    return _sha256(_sha256(data).digest()).digest()


def ripemd160(data: bytes | memoryview) -> bytes:
    # Needs an OpenSSL with RIPEMD-160 enabled (CPython's builds have it).
    return hashlib.new("ripemd160", data).digest()


def hash160(data: bytes | memoryview) -> bytes:
    return ripemd160(_sha256(data).digest())


_TAG_CACHE: dict[str, bytes] = {}


def tagged_hash(tag: str, data: bytes | memoryview) -> bytes:
    """BIP340 tagged hash: SHA256(SHA256(tag) || SHA256(tag) || data)."""
    prefix = _TAG_CACHE.get(tag)
    if prefix is None:
        t = _sha256(tag.encode()).digest()
        prefix = _TAG_CACHE[tag] = t + t
    h = _sha256(prefix)
    h.update(data)
    return h.digest()


def hash_to_hex(h: bytes) -> str:
    """Display form of a txid or block hash: byte-reversed hex, as Core prints them."""
    return h[::-1].hex()


def hex_to_hash(s: str) -> bytes:
    b = bytes.fromhex(s)
    if len(b) != 32:
        raise ValueError("a hash is 32 bytes (64 hex digits)")
    return b[::-1]
