"""Initialisers: walking an initialiser list (brace elision, designators) and writing a global's initial
value into the data image."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError
from .common import RUNTIME, _f32
from .consteval import Addr, ConstEval

if TYPE_CHECKING:
    from . import Lowerer


# --------------------------------------------------------------------------------- initialisers

def walk_init(lw: Lowerer, t: T.CType, init: c_ast.InitList):
    """Yield (offset, type-or-bitfield, expression) for each leaf an initialiser list sets, following C's
    brace elision and designators."""
    items = list(init.exprs)
    pos = [0]
    out: list = []

    def fill(t: T.CType, base: int, braced: bool, items: list, pos: list[int]) -> None:
        if isinstance(t, T.ArrayType):
            n = t.length
            i = 0
            while pos[0] < len(items) and (n is None or i < n or braced):
                e = items[pos[0]]
                if isinstance(e, c_ast.NamedInitializer):
                    if not braced:
                        return
                    d = e.name[0]
                    if isinstance(d, c_ast.ID):
                        raise CompileError("field designator in an array initialiser", e.coord)
                    i = lw.const_int(getattr(d, "expr", d))
                    if len(e.name) > 1:
                        sub = c_ast.NamedInitializer(e.name[1:], e.expr, e.coord)
                        items[pos[0]] = sub
                        fill_one(t.elem, base + i * t.elem.size, items, pos, force_designated=True)
                    else:
                        items[pos[0]] = e.expr
                        fill_one(t.elem, base + i * t.elem.size, items, pos)
                    i += 1
                    continue
                if n is not None and i >= n:
                    if braced:
                        raise CompileError("excess elements in array initialiser", getattr(e, "coord", None))
                    return
                fill_one(t.elem, base + i * t.elem.size, items, pos)
                i += 1
            return
        if isinstance(t, T.StructType):
            fields = [f for f in t.fields if f.name is not None or isinstance(f.ctype, T.StructType)]
            k = 0
            while pos[0] < len(items):
                e = items[pos[0]]
                if isinstance(e, c_ast.NamedInitializer):
                    if not braced:
                        return
                    d = e.name[0]
                    if not isinstance(d, c_ast.ID):
                        raise CompileError("array designator in a struct initialiser", e.coord)
                    idx = next((j for j, f in enumerate(fields) if f.name == d.name), None)
                    if idx is None:
                        raise CompileError(f"{t} has no member '{d.name}'", e.coord)
                    k = idx
                    if len(e.name) > 1:
                        items[pos[0]] = c_ast.NamedInitializer(e.name[1:], e.expr, e.coord)
                        fill_field(fields[k], base, items, pos, force_designated=True)
                    else:
                        items[pos[0]] = e.expr
                        fill_field(fields[k], base, items, pos)
                    k += 1
                    if t.is_union:
                        return
                    continue
                if k >= len(fields):
                    if braced:
                        raise CompileError("excess elements in struct initialiser", getattr(e, "coord", None))
                    return
                fill_field(fields[k], base, items, pos)
                k += 1
                if t.is_union:
                    return
            return
        raise CompileError(f"initialiser list for scalar {t}", None)

    def fill_field(f: T.Field, base: int, items: list, pos: list[int], force_designated: bool = False) -> None:
        if f.bit_width is not None:
            e = items[pos[0]]
            if isinstance(e, c_ast.InitList):
                e = e.exprs[0]
            out.append((base + f.offset, f, e))
            pos[0] += 1
            return
        fill_one(f.ctype, base + f.offset, items, pos, force_designated)

    def fill_one(t: T.CType, base: int, items: list, pos: list[int], force_designated: bool = False) -> None:
        e = items[pos[0]]
        if force_designated:
            sub = [e]
            fill(t, base, True, sub, [0])
            pos[0] += 1
            return
        if isinstance(e, c_ast.InitList):
            if isinstance(t, T.ArrayType | T.StructType):
                fill(t, base, True, list(e.exprs), [0])
            else:
                if not e.exprs:
                    out.append((base, t, c_ast.Constant("int", "0", e.coord)))
                else:
                    out.append((base, t, e.exprs[0]))
            pos[0] += 1
            return
        if isinstance(t, T.ArrayType):
            if isinstance(e, c_ast.Constant) and e.type == "string":
                out.append((base, t, e))
                pos[0] += 1
                return
            fill(t, base, False, items, pos)
            return
        if isinstance(t, T.StructType):
            if lw.fn is not None and not isinstance(e, c_ast.InitList):
                # a struct-typed expression initialises the whole member
                mark = len(lw.fn.code)
                saved = lw.fn.nregs
                et = lw.expr(e).ctype
                del lw.fn.code[mark:]
                lw.fn.nregs = saved
                if et is t:
                    out.append((base, t, e))
                    pos[0] += 1
                    return
            fill(t, base, False, items, pos)
            return
        out.append((base, t, e))
        pos[0] += 1

    fill(t, 0, True, items, pos)
    return out


class StaticInit:
    """Writes a global's initial value into the data image (constant expressions and relocations)."""

    def __init__(self, lw: Lowerer) -> None:
        self.lw = lw

    def init(self, off: int, t: T.CType, init: c_ast.Node) -> None:
        lw = self.lw
        if isinstance(t, T.ArrayType) and isinstance(init, c_ast.Constant) and init.type == "string" \
                and isinstance(t.elem, T.IntType) and t.elem.size == lw.string_unit(init):
            raw = lw.string_bytes(init)
            n = t.size
            raw = (raw + b"\0" * n)[:n]
            lw.data[off:off + n] = raw
            return
        if isinstance(t, T.ArrayType | T.StructType):
            if not isinstance(init, c_ast.InitList):
                raise CompileError(f"invalid initialiser for {t}", init.coord)
            for o, ft, e in walk_init(lw, t, init):
                if isinstance(ft, T.Field):
                    v = ConstEval(lw).eval(e)
                    if not isinstance(v, int):
                        raise CompileError("bit-field initialiser is not an integer constant", e.coord)
                    unit = ft.ctype.size
                    cur = int.from_bytes(lw.data[off + o:off + o + unit], "little")
                    mask = ((1 << ft.bit_width) - 1) << ft.bit_offset
                    cur = (cur & ~mask) | ((v << ft.bit_offset) & mask)
                    lw.data[off + o:off + o + unit] = cur.to_bytes(unit, "little")
                else:
                    self.init(off + o, ft, e)
            return
        if isinstance(init, c_ast.InitList):
            if len(init.exprs) != 1:
                raise CompileError("scalar initialiser with several values", init.coord)
            init = init.exprs[0]
        v = ConstEval(lw).eval(init)
        self.write_scalar(off, t, v, init)

    def write_scalar(self, off: int, t: T.CType, v: object, node: c_ast.Node) -> None:
        lw = self.lw
        if isinstance(v, Addr):
            if t.size != 8:
                raise CompileError("address constant in a non-pointer-sized object", node.coord)
            lw.relocs.append((off, v.kind, v.sym, v.offset))
            if v.kind == "func" and v.sym in RUNTIME and v.sym not in lw.functions:
                lw.runtime_used.add(v.sym)
            return
        if isinstance(t, T.FloatType):
            fv = float(v)
            lw.data[off:off + t.size] = struct.pack("<f" if t.size == 4 else "<d", _f32(fv) if t.size == 4 else fv)
            return
        if isinstance(v, float):
            if t == T.BOOL:
                iv = 1 if v != 0 else 0
            else:
                iv = int(v)
        else:
            iv = int(v)
        if t == T.BOOL:
            iv = 1 if iv else 0
        lw.data[off:off + t.size] = (iv & ((1 << (8 * t.size)) - 1)).to_bytes(t.size, "little")
