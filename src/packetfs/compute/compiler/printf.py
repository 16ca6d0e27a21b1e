"""C printf formatting (the common conversions) over a value source, as glibc prints them."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable

_SPEC = re.compile(rb"%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d*))?(hh|h|ll|l|L|z|j|t|q)?([diouxXcspfFeEgGaAn%])")


def _bits_to_double(v: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF))[0]


def format_c(fmt: bytes, next_arg: Callable[[], int], read_cstr: Callable[[int, int | None], bytes]) -> bytes:
    """Format like C's printf. next_arg() returns the next 64-bit argument slot; read_cstr(addr, limit)
    reads a NUL-terminated string from program memory."""
    out = bytearray()
    pos = 0
    while True:
        i = fmt.find(b"%", pos)
        if i < 0:
            out += fmt[pos:]
            return bytes(out)
        out += fmt[pos:i]
        m = _SPEC.match(fmt, i)
        if m is None:
            out += fmt[i:i + 1]
            pos = i + 1
            continue
        pos = m.end()
        flags, width, prec, length, conv = m.groups()
        flags = flags.decode()
        conv = conv.decode()
        if conv == "%":
            out += b"%"
            continue
        if width == b"*":
            w = _signed(next_arg(), 32)
            if w < 0:
                flags += "-"
                w = -w
            width_v = w
        else:
            width_v = int(width) if width else None
        if prec == b"*":
            p = _signed(next_arg(), 32)
            prec_v = p if p >= 0 else None
        elif prec is not None:
            prec_v = int(prec) if prec else 0
        else:
            prec_v = None
        length = (length or b"").decode()
        if conv == "n":
            next_arg()
            continue
        if conv in "di":
            bits = {"hh": 8, "h": 16, "": 32}.get(length, 64)
            body = _int_body(_signed(next_arg(), bits), 10, prec_v, flags, conv)
        elif conv in "ouxX":
            bits = {"hh": 8, "h": 16, "": 32}.get(length, 64)
            v = next_arg() & ((1 << bits) - 1)
            body = _int_body(v, {"o": 8, "u": 10, "x": 16, "X": 16}[conv], prec_v, flags, conv)
        elif conv == "c":
            body = bytes([next_arg() & 0xFF])
        elif conv == "s":
            addr = next_arg()
            body = b"(null)" if addr == 0 else read_cstr(addr, prec_v)
            if prec_v is not None:
                body = body[:prec_v]
        elif conv == "p":
            v = next_arg()
            body = b"(nil)" if v == 0 else (f"0x{v:x}").encode()
            if v != 0 and "+" in flags:
                body = b"+" + body
        else:
            body = _float_body(_bits_to_double(next_arg()), conv, prec_v, flags)
        if width_v is not None and len(body) < width_v:
            pad = width_v - len(body)
            if "-" in flags:
                body = body + b" " * pad
            elif "0" in flags and conv not in "csp" and not (conv in "diouxX" and prec_v is not None) \
                    and not (conv in "fFeEgGaA" and not _finite_body(body)):
                sign = b""
                if body[:1] in (b"-", b"+", b" "):
                    sign, body = body[:1], body[1:]
                if body[:2].lower() == b"0x":
                    sign, body = sign + body[:2], body[2:]
                body = sign + b"0" * pad + body
            else:
                body = b" " * pad + body
        out += body


def _finite_body(body: bytes) -> bool:
    return not any(x in body.lower() for x in (b"inf", b"nan"))


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _int_body(v: int, base: int, prec: int | None, flags: str, conv: str) -> bytes:
    neg = v < 0
    mag = -v if neg else v
    digits = {8: "%o", 10: "%d", 16: "%x"}[base] % mag
    if conv == "X":
        digits = digits.upper()
    if prec is not None:
        if prec == 0 and mag == 0:
            digits = ""
        digits = digits.rjust(prec, "0")
    if "#" in flags:
        if base == 8 and not digits.startswith("0"):
            digits = "0" + digits
        elif base == 16 and mag != 0:
            digits = ("0X" if conv == "X" else "0x") + digits
    sign = "-" if neg else ("+" if "+" in flags and conv in "di" else (" " if " " in flags and conv in "di" else ""))
    return (sign + digits).encode()


def _float_body(x: float, conv: str, prec: int | None, flags: str) -> bytes:
    if conv in "aA":
        s = _hexfloat(x, prec)
        s = s.upper() if conv == "A" else s
    elif math.isinf(x) or math.isnan(x):
        s = ("-" if math.copysign(1, x) < 0 else "") + ("inf" if math.isinf(x) else "nan")
        if conv in "FEG":
            s = s.upper()
    else:
        p = 6 if prec is None else prec
        pyflags = "#" if "#" in flags else ""
        s = ("%" + pyflags + "." + str(p) + conv) % x
    if not s.startswith("-"):
        if "+" in flags:
            s = "+" + s
        elif " " in flags:
            s = " " + s
    return s.encode()


def _hexfloat(x: float, prec: int | None) -> str:
    if math.isinf(x) or math.isnan(x):
        return ("-" if math.copysign(1, x) < 0 else "") + ("inf" if math.isinf(x) else "nan")
    s = x.hex()  # e.g. 0x1.8000000000000p+1
    sign = "-" if s.startswith("-") else ""
    s = s.lstrip("-")
    mant, exp = s[2:].split("p")
    lead, frac = mant.split(".") if "." in mant else (mant, "")
    frac = frac.rstrip("0")
    if prec is not None:
        frac = (frac + "0" * prec)[:prec]
    return f"{sign}0x{lead}{'.' + frac if frac else ''}p{int(exp):+d}"
