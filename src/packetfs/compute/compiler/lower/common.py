"""What every part of the lowering shares: the runtime (libc) signatures, values, symbols, helpers."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError

# The runtime (libc) the generated code calls by name; implemented by the executors (runtime.py).
RUNTIME: dict[str, T.FuncType] = {}
FUNC_BASE = 1 << 40  # code addresses: far above any data address, never 0


def _rt(name: str, ret: T.CType, params: list[T.CType], variadic: bool = False) -> None:
    RUNTIME[name] = T.FuncType(ret, tuple(params), variadic)


_cp, _vp, _sz = T.PointerType(T.CHAR), T.PointerType(T.VOID), T.SIZE_T
for _n, _r, _p, _v in [
    ("printf", T.INT, [_cp], True), ("sprintf", T.INT, [_cp, _cp], True), ("snprintf", T.INT, [_cp, _sz, _cp], True),
    ("fprintf", T.INT, [_vp, _cp], True), ("putchar", T.INT, [T.INT], False), ("puts", T.INT, [_cp], False),
    ("fflush", T.INT, [_vp], False),
    ("malloc", _vp, [_sz], False), ("calloc", _vp, [_sz, _sz], False), ("realloc", _vp, [_vp, _sz], False),
    ("free", T.VOID, [_vp], False), ("abs", T.INT, [T.INT], False), ("labs", T.LONG, [T.LONG], False),
    ("llabs", T.LLONG, [T.LLONG], False), ("exit", T.VOID, [T.INT], False), ("abort", T.VOID, [], False),
    ("atoi", T.INT, [_cp], False), ("atol", T.LONG, [_cp], False),
    ("strtol", T.LONG, [_cp, _vp, T.INT], False), ("strtoul", T.ULONG, [_cp, _vp, T.INT], False),
    ("rand", T.INT, [], False), ("srand", T.VOID, [T.UINT], False),
    ("qsort", T.VOID, [_vp, _sz, _sz, _vp], False),
    ("strlen", _sz, [_cp], False), ("strcmp", T.INT, [_cp, _cp], False), ("strncmp", T.INT, [_cp, _cp, _sz], False),
    ("strcpy", _cp, [_cp, _cp], False), ("strncpy", _cp, [_cp, _cp, _sz], False), ("strcat", _cp, [_cp, _cp], False),
    ("strchr", _cp, [_cp, T.INT], False),
    ("memcpy", _vp, [_vp, _vp, _sz], False), ("memmove", _vp, [_vp, _vp, _sz], False),
    ("memset", _vp, [_vp, T.INT, _sz], False), ("memcmp", T.INT, [_vp, _vp, _sz], False),
    ("__pfx_assert_fail", T.VOID, [_cp, _cp, T.INT], False),
    ("__pfx_va_next", _cp, [T.PointerType(_cp), T.ULONG], False),
    ("__pfx_vla_mark", _cp, [], False), ("__pfx_vla_alloc", _vp, [_cp, _sz], False),
    ("__pfx_vla_release", T.VOID, [_cp], False),
    ("isdigit", T.INT, [T.INT], False), ("isalpha", T.INT, [T.INT], False), ("isalnum", T.INT, [T.INT], False),
    ("isspace", T.INT, [T.INT], False), ("isupper", T.INT, [T.INT], False), ("islower", T.INT, [T.INT], False),
    ("toupper", T.INT, [T.INT], False), ("tolower", T.INT, [T.INT], False), ("isxdigit", T.INT, [T.INT], False),
]:
    _rt(_n, _r, _p, _v)
INTRINSICS = {"__pfx_emit", "__pfx_halt", "__pfx_trap", "__builtin_expect", "__pfx_sqrt"}


def unsupported(what: str, node: c_ast.Node | None) -> CompileError:
    return CompileError(f"unsupported: {what}", getattr(node, "coord", None))


# ----------------------------------------------------------------------------------------------- values

@dataclass
class Val:
    """An rvalue: a register and its C type (for structs the register holds the object's address)."""
    reg: int
    ctype: T.CType


@dataclass
class LVal:
    kind: str          # "reg" (a register-held local), "mem" (address in reg), "bit" (bit-field in memory)
    reg: int
    ctype: T.CType
    field: T.Field | None = None


@dataclass
class Sym:
    kind: str          # "reg", "frame", "global", "func", "enum", "typedef"
    ctype: T.CType
    value: object = None  # reg number, frame offset, global name, enum value
    qtype: object = None  # the qualified type, recorded only for _Generic (generic.py)


def _dtype_bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _f32(x: float) -> float:
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return float("inf") if x > 0 else float("-inf")





_EXPR_NODES = (c_ast.Assignment, c_ast.FuncCall, c_ast.UnaryOp, c_ast.BinaryOp, c_ast.ExprList, c_ast.ID,
               c_ast.Constant, c_ast.Cast, c_ast.TernaryOp, c_ast.ArrayRef, c_ast.StructRef, c_ast.CompoundLiteral)


def _wrap(value: int, t: T.CType) -> int:
    if isinstance(t, T.IntType):
        value &= (1 << t.bits) - 1
        if t.signed and value >> (t.bits - 1):
            value -= 1 << t.bits
    return value


class AddressTaken:
    """Names whose address is taken somewhere in a function (those locals live in memory)."""

    @staticmethod
    def of(node: c_ast.Node) -> set[str]:
        names: set[str] = set()
        stack = [node]
        unary = c_ast.UnaryOp
        while stack:  # an explicit stack: pycparser's NodeVisitor costs a method lookup per node
            n = stack.pop()
            if n.__class__ is unary and n.op == "&":
                inner = n.expr
                while isinstance(inner, c_ast.StructRef | c_ast.ArrayRef) and getattr(inner, "type", ".") != "->":
                    inner = inner.name
                if isinstance(inner, c_ast.ID):
                    names.add(inner.name)
            stack.extend(n)
        return names
