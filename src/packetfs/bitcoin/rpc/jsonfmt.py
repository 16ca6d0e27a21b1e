"""JSON output as bitcoind writes it: amounts as numbers with exactly 8 decimals (0.00001000, not
1e-05), so clients that parse numbers as Decimal get exact satoshis."""

from __future__ import annotations

import json
import re
from decimal import Decimal

_MARK = "\x00amount:"
_AMOUNT_RE = re.compile(r'"\\u0000amount:(-?[0-9.Ee+-]+)"')


class Amount:
    """A satoshi amount to be written as BTC with 8 decimals."""

    __slots__ = ("sat",)

    def __init__(self, sat: int):
        self.sat = int(sat)

    def text(self) -> str:
        sign = "-" if self.sat < 0 else ""
        v = abs(self.sat)
        return f"{sign}{v // 100_000_000}.{v % 100_000_000:08d}"


class Double:
    """A floating point value written with 16 significant digits, as UniValue writes doubles."""

    __slots__ = ("value",)

    def __init__(self, value: float):
        self.value = float(value)


def _default(o: object) -> object:
    if isinstance(o, Amount):
        return _MARK + o.text()
    if isinstance(o, Double):
        return _MARK + format(o.value, ".16g")
    if isinstance(o, Decimal):
        return _MARK + str(o).replace("E", "e")
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def dumps(obj: object, indent: int | None = None, **_: object) -> str:
    text = json.dumps(obj, default=_default, indent=indent)
    return _AMOUNT_RE.sub(lambda m: m.group(1), text)
