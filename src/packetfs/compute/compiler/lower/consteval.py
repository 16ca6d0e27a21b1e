"""Constant expressions: array sizes, case labels, enumerators and static initialisers (addresses too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError
from .common import _f32, _wrap
from .literals import parse_constant

if TYPE_CHECKING:
    from . import Lowerer


@dataclass
class Addr:
    kind: str     # "data" or "func"
    sym: str
    offset: int


class ConstEval:
    """Constant expressions (for array sizes, case labels, enumerators and static initialisers)."""

    def __init__(self, lw: Lowerer) -> None:
        self.lw = lw

    def eval(self, node: c_ast.Node) -> int | float | Addr:
        v, t = self.ev(node)
        return v

    def type_only(self, node: c_ast.Node) -> T.CType:
        """An expression's type at file scope, where it is not evaluated (sizeof, _Alignof): objects are
        typed from their declarations, not their values."""
        if isinstance(node, c_ast.ID):
            sym = self.lw.lookup(node.name, node)
            if sym.kind in ("global", "func"):
                return sym.ctype
        elif isinstance(node, c_ast.StructRef):
            base = self.type_only(node.name)
            if node.type == "->" and isinstance(base, T.PointerType | T.ArrayType):
                base = base.target if isinstance(base, T.PointerType) else base.elem
            if isinstance(base, T.StructType):
                f = base.lookup(node.field.name)
                if f is None:
                    raise CompileError(f"{base} has no member '{node.field.name}'", node.coord)
                return f.ctype
        elif isinstance(node, c_ast.ArrayRef):
            base = self.type_only(node.name)
            if isinstance(base, T.PointerType | T.ArrayType):
                return base.target if isinstance(base, T.PointerType) else base.elem
        elif isinstance(node, c_ast.UnaryOp) and node.op == "*":
            base = self.type_only(node.expr)
            if isinstance(base, T.PointerType | T.ArrayType):
                return base.target if isinstance(base, T.PointerType) else base.elem
        return self.ev(node)[1]

    def ev(self, node: c_ast.Node):
        m = getattr(self, "c_" + type(node).__name__, None)
        if m is None:
            raise CompileError(f"not a constant expression ({type(node).__name__})", node.coord)
        return m(node)

    def c_Constant(self, node):
        if node.type == "string":
            raw = self.lw.string_bytes(node)
            unit = self.lw.string_unit(node)
            return (Addr("data", self.lw.string_global(raw, unit), 0),
                    T.ArrayType(T.INT if unit == 4 else T.CHAR, len(raw) // unit + 1))
        return parse_constant(node)

    def c_ID(self, node):
        sym = self.lw.lookup(node.name, node)
        if sym.kind == "enum":
            return sym.value, T.INT
        if sym.kind == "func":
            return Addr("func", sym.value, 0), sym.ctype
        if sym.kind == "global" and isinstance(sym.ctype, T.ArrayType):
            return Addr("data", sym.value, 0), sym.ctype
        raise CompileError(f"'{node.name}' is not a constant", node.coord)

    def addr_of(self, node):
        if isinstance(node, c_ast.ID):
            sym = self.lw.lookup(node.name, node)
            if sym.kind == "global":
                return Addr("data", sym.value, 0), sym.ctype
            if sym.kind == "func":
                return Addr("func", sym.value, 0), sym.ctype
            raise CompileError(f"address of '{node.name}' is not constant", node.coord)
        if isinstance(node, c_ast.StructRef):
            if node.type == "->":
                base, bt = self.ev(node.name)
                st = bt.target if isinstance(bt, T.PointerType) else None
            else:
                base, st = self.addr_of(node.name)
            if not isinstance(st, T.StructType):
                raise CompileError("member access on a non-struct", node.coord)
            f = st.lookup(node.field.name)
            if f is None:
                raise CompileError(f"{st} has no member '{node.field.name}'", node.coord)
            return self.offset(base, f.offset), f.ctype
        if isinstance(node, c_ast.ArrayRef):
            base, bt = self.ev(node.name)
            bt = T.decay(bt)
            idx, _ = self.ev(node.subscript)
            if not isinstance(bt, T.PointerType) or not isinstance(idx, int):
                raise CompileError("not a constant address", node.coord)
            return self.offset(base, idx * bt.target.size), bt.target
        if isinstance(node, c_ast.UnaryOp) and node.op == "*":
            v, t = self.ev(node.expr)
            return v, t.target if isinstance(t, T.PointerType) else t
        if isinstance(node, c_ast.Constant) and node.type == "string":
            return self.c_Constant(node)
        if isinstance(node, c_ast.CompoundLiteral):
            lw = self.lw
            t = lw.sized_by_init(lw.decl_type(node.type), node.init)
            lw.static_counter += 1
            name = f".compound{lw.static_counter}"
            lw.alloc_global(name, t, node.init)
            return Addr("data", name, 0), t
        raise CompileError("not a constant address", node.coord)

    @staticmethod
    def offset(base, off):
        if isinstance(base, Addr):
            return Addr(base.kind, base.sym, base.offset + off)
        return base + off

    def c_GenericSelection(self, node):
        return self.ev(self.lw.generic_choice(node))

    def c_UnaryOp(self, node):
        op = node.op
        if op == "sizeof" and self.lw.is_alignof(node):
            op = "_Alignof"
        if op == "sizeof":
            if isinstance(node.expr, c_ast.Typename):
                t = self.lw.decl_type(node.expr)
            elif self.lw.fn is not None:
                t = self.lw.type_of(node.expr)
            else:
                t = self.type_only(node.expr)
            return t.size, T.SIZE_T
        if op == "_Alignof":
            if isinstance(node.expr, c_ast.Typename):
                return self.lw.decl_type(node.expr).align, T.SIZE_T
            return self.lw.alignof_expr(node.expr), T.SIZE_T
        if op == "&":
            a, t = self.addr_of(node.expr)
            return a, T.PointerType(t)
        v, t = self.ev(node.expr)
        if isinstance(v, Addr):
            raise CompileError("not a constant expression", node.coord)
        if op == "-":
            t = T.promote(t)
            return self.wrap(-v, t), t
        if op == "+":
            return v, T.promote(t)
        if op == "~":
            t = T.promote(t)
            return self.wrap(~v, t), t
        if op == "!":
            return int(not v), T.INT
        raise CompileError(f"'{op}' in a constant expression", node.coord)

    @staticmethod
    def wrap(v, t):
        if isinstance(t, T.IntType):
            return _wrap(int(v), t)
        if t == T.FLOAT:
            return _f32(v)
        return v

    def c_Cast(self, node):
        t = self.lw.decl_type(node.to_type)
        v, vt = self.ev(node.expr)
        if isinstance(v, Addr):
            return v, t
        if isinstance(t, T.IntType):
            if isinstance(v, float):
                v = int(v)
            return (1 if v else 0) if t == T.BOOL else _wrap(v, t), t
        if isinstance(t, T.FloatType):
            return self.wrap(float(v), t), t
        if isinstance(t, T.PointerType):
            return v & 0xFFFFFFFFFFFFFFFF, t
        return v, t

    def c_BinaryOp(self, node):
        op = node.op
        a, at = self.ev(node.left)
        if op == "&&" and not a:
            return 0, T.INT
        if op == "||" and a and not isinstance(a, Addr):
            return 1, T.INT
        b, bt = self.ev(node.right)
        if op in ("&&", "||"):
            return int(bool(b)), T.INT
        at, bt = T.decay(at), T.decay(bt)
        if isinstance(a, Addr) or isinstance(b, Addr) or at.is_pointer or bt.is_pointer:
            if op in ("+", "-") and at.is_pointer and bt.is_integer:
                return self.offset(a, (b if op == "+" else -b) * at.target.size), at
            if op == "+" and bt.is_pointer and at.is_integer:
                return self.offset(b, a * bt.target.size), bt
            if op == "-" and at.is_pointer and bt.is_pointer and isinstance(a, Addr) and isinstance(b, Addr) \
                    and a.sym == b.sym:
                return (a.offset - b.offset) // max(at.target.size, 1), T.LONG
            if not isinstance(a, Addr) and not isinstance(b, Addr):
                pass
            else:
                raise CompileError("not a constant expression", node.coord)
        if op in ("<<", ">>"):
            t = T.promote(at)
            b &= 63
            if op == "<<":
                return self.wrap(a << b, t), t
            if not t.signed:
                a &= (1 << t.bits) - 1
            return self.wrap(a >> b, t), t
        t = T.usual_arith(at, bt) if at.is_arith and bt.is_arith else T.LONG
        if t.is_float:
            a, b = float(a), float(b)
        else:
            a, b = self.wrap(a, t), self.wrap(b, t)
            if not t.signed:
                a &= (1 << t.bits) - 1
                b &= (1 << t.bits) - 1
        if op in ("==", "!=", "<", ">", "<=", ">="):
            r = {"==": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
            return int(r), T.INT
        if op in ("/", "%"):
            if b == 0:
                raise CompileError("division by zero in a constant expression", node.coord)
            if t.is_float:
                if op == "%":
                    raise CompileError("'%' on floating operands", node.coord)
                return self.wrap(a / b, t), t
            q = abs(a) // abs(b)
            if (a < 0) != (b < 0):
                q = -q
            return self.wrap(q if op == "/" else a - q * b, t), t
        r = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "&": lambda: a & b,
             "|": lambda: a | b, "^": lambda: a ^ b}.get(op)
        if r is None:
            raise CompileError(f"'{op}' in a constant expression", node.coord)
        return self.wrap(r(), t), t

    def c_TernaryOp(self, node):
        c, _ = self.ev(node.cond)
        a, at = self.ev(node.iftrue)
        b, bt = self.ev(node.iffalse)
        t = T.usual_arith(at, bt) if at.is_arith and bt.is_arith else at
        return (a if c else b), t

    def c_ExprList(self, node):
        v = None
        for e in node.exprs:
            v = self.ev(e)
        return v

    def c_StructRef(self, node):
        raise CompileError("not a constant expression (member value)", node.coord)

    def c_CompoundLiteral(self, node):
        a, t = self.addr_of(node)
        return a, t

    def c_ArrayRef(self, node):
        raise CompileError("not a constant expression (array element)", node.coord)
