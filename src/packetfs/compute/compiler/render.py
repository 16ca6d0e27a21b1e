"""The origin's side of program output: turn the EMIT stream of one program instance into stdout bytes
(printf conversions are formatted here from the spec and values the program sent, as glibc would)."""

from __future__ import annotations

from collections.abc import Iterable

from .printf import format_c
from .runtime_c import TAG_ARG, TAG_CHAR, TAG_END, TAG_SPEC, TAG_STR

MAX_OUTPUT = 64 << 20


class OutputError(ValueError):
    """The emitted stream is not one the runtime writes (never happens with compiled programs)."""


def render(records: Iterable[tuple[int, int]]) -> bytes:
    out = bytearray()
    spec = bytearray()
    args: list[int] = []
    text = bytearray()
    for tag, value in records:
        if tag == TAG_CHAR:
            out.append(value & 0xFF)
        elif tag == TAG_SPEC:
            spec.append(value & 0xFF)
        elif tag == TAG_ARG:
            args.append(value)
        elif tag == TAG_STR:
            text.append(value & 0xFF)
        elif tag == TAG_END:
            it = iter(args)
            conv = bytes(spec)

            def read_cstr(addr: int, limit: int | None, _t=bytes(text)) -> bytes:
                return _t if limit is None else _t[:limit]

            try:
                out += format_c(conv, lambda it=it: next(it), read_cstr)
            except StopIteration as e:
                raise OutputError(f"printf spec {conv!r} arrived without its arguments") from e
            spec.clear()
            args.clear()
            text.clear()
        else:
            raise OutputError(f"unknown output tag {tag}")
        if len(out) > MAX_OUTPUT:
            raise OutputError(f"program output over {MAX_OUTPUT} bytes")
    return bytes(out)
