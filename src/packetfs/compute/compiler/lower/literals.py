"""C literals: string and character escapes, integer and floating constants with their C types."""

from __future__ import annotations

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError
from .common import _f32, unsupported

# --------------------------------------------------------------------------------------- literals

def decode_string(text: str, node: c_ast.Node) -> bytes:
    """A C string literal (already concatenated by pycparser) to bytes; a wide literal (L"...") to its
    code points as 4-byte little-endian wchar_t units."""
    if text.startswith("L"):
        raw = _unescape(text[2:-1].replace('"L"', '""'), node)
        return b"".join(ord(c).to_bytes(4, "little") for c in raw.decode("utf-8", "surrogateescape"))
    if text.startswith("u") or text.startswith("U"):
        raise unsupported("u/U string literal", node)
    if not (text.startswith('"') and text.endswith('"')):
        raise CompileError(f"bad string literal {text[:20]}", node.coord)
    return _unescape(text[1:-1], node)


_ESC = {"n": 10, "t": 9, "r": 13, "0": 0, "a": 7, "b": 8, "f": 12, "v": 11, "\\": 92, "'": 39, '"': 34, "?": 63,
        "e": 27}


def _unescape(s: str, node: c_ast.Node) -> bytes:
    out = bytearray()
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == '"':  # adjacent literal joint left by pycparser ("a" "b" -> a" "b)
            j = s.find('"', i + 1)
            i = j + 1
            continue
        if c != "\\":
            out.extend(c.encode("utf-8", "surrogateescape"))
            i += 1
            continue
        i += 1
        c = s[i]
        if c in "01234567":
            j = i
            while j < n and j < i + 3 and s[j] in "01234567":
                j += 1
            out.append(int(s[i:j], 8) & 0xFF)
            i = j
        elif c == "x":
            j = i + 1
            while j < n and s[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(s[i + 1:j], 16) & 0xFF)
            i = j
        elif c in _ESC:
            out.append(_ESC[c])
            i += 1
        else:
            # not a C escape: gcc warns and takes the character itself, and so do we
            out.extend(c.encode("utf-8", "surrogateescape"))
            i += 1
    return bytes(out)


def parse_constant(node: c_ast.Constant) -> tuple[int | float, T.CType]:
    text = node.value
    kind = node.type
    if kind == "char":
        wide = text.startswith("L")
        if wide:
            text = text[1:]
        raw = _unescape(text[1:-1], node)
        if wide:
            chars = raw.decode("utf-8", "surrogateescape")
            if len(chars) != 1:
                raise unsupported("multi-character wide constant", node)
            return ord(chars), T.INT
        if len(raw) != 1:
            raise unsupported("multi-character constant", node)
        v = raw[0]
        return (v - 256 if v >= 128 else v), T.INT
    if kind in ("float", "double", "long double") or (
            not text.lower().startswith("0x") and any(c in text for c in ".eE")) or (
            text.lower().startswith("0x") and "p" in text.lower()):
        t = T.DOUBLE
        body = text
        if body[-1] in "fF":
            t = T.FLOAT
            body = body[:-1]
        elif body[-1] in "lL":
            body = body[:-1]
        v = float.fromhex(body) if body.lower().startswith("0x") else float(body)
        return (_f32(v) if t == T.FLOAT else v), t
    body = text.rstrip("uUlL")
    suffix = text[len(body):].lower()
    if body.lower().startswith("0x"):
        v, base = int(body, 16), 16
    elif body.lower().startswith("0b"):
        v, base = int(body[2:], 2), 16
    elif len(body) > 1 and body.startswith("0"):
        v, base = int(body, 8), 8
    else:
        v, base = int(body), 10
    uns = "u" in suffix
    longs = suffix.count("l")
    cands: list[T.IntType]
    if base == 10:
        cands = [T.INT, T.LONG, T.LLONG] if not uns else [T.UINT, T.ULONG, T.ULLONG]
    else:
        cands = [T.INT, T.UINT, T.LONG, T.ULONG, T.LLONG, T.ULLONG] if not uns else [T.UINT, T.ULONG, T.ULLONG]
    if longs:
        cands = [c for c in cands if c.rank >= (4 if longs == 1 else 5)]
    for c in cands:
        if v < (1 << (c.bits - (1 if c.signed else 0))):
            return v, c
    if v < (1 << 64):
        return v, T.ULLONG if base != 10 or uns else T.ULONG
    raise CompileError(f"integer constant {text} too large", node.coord)
