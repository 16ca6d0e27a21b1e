"""C11 `_Generic` (6.5.1.1): the selection by the controlling expression's type, qualifiers included.

The rest of the compiler works on unqualified types (ctype.py): qualifiers never change what a correct
program computes. `_Generic` is where they do (`const char *` and `char *` select different branches), so
when a translation unit uses it, every declaration also records its *qualified type* (a QType, below) on
its symbol, struct members on their struct, typedef names on theirs. The controlling expression's
qualified type is then worked out from those (after lvalue conversion: top-level qualifiers dropped,
arrays and functions decayed to pointers), and compared with each association's type name for
compatibility. Where the qualified type of an expression cannot be known (a pointer-typed expression of
a kind not handled here), the selection is an "unsupported" error, never a guess.

QType: nested tuples
    ("T", quals, ctype)          integer, floating, void, struct/union (ctype is its unqualified type)
    ("P", quals, target QType)   pointer
    ("A", length, elem QType)    array (qualifiers of an array type belong to its elements)
    ("F", ctype, ret QType)      function (compatibility by the unqualified function type)
quals: a frozenset of "const", "volatile", "restrict" (_Atomic is rejected by the parser).
"""

from __future__ import annotations

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError
from .base import LowererBase
from .common import unsupported


class NeedQualifiedTypes(Exception):
    """Raised at a _Generic met while qualified types were not recorded: the driver lowers the unit
    again with them (most programs never pay for recording them)."""


NOQ: frozenset[str] = frozenset()
# long double is computed as double (ctype.LDOUBLE is DOUBLE), but is a type of its own for _Generic
LDOUBLE = T.FloatType("long double", 8)
_QUALS = frozenset({"const", "volatile", "restrict"})


def _quals(names) -> frozenset[str]:
    return frozenset(q for q in names or () if q in _QUALS)


def add_quals(q: tuple, quals: frozenset[str]) -> tuple:
    if not quals:
        return q
    if q[0] == "A":
        return ("A", q[1], add_quals(q[2], quals))
    if q[0] == "F":
        return q
    return (q[0], q[1] | quals, q[2])


def lvalue_conversion(q: tuple) -> tuple:
    """The type of an lvalue's value (C11 6.3.2.1): no top-level qualifiers; arrays and functions
    become pointers."""
    if q[0] == "A":
        return ("P", NOQ, q[2])
    if q[0] == "F":
        return ("P", NOQ, q)
    return (q[0], NOQ, q[2])


def compatible(a: tuple, b: tuple) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "T":
        return a[1] == b[1] and (a[2] is b[2] if isinstance(a[2], T.StructType) else a[2] == b[2])
    if a[0] == "P":
        return a[1] == b[1] and compatible(a[2], b[2])
    if a[0] == "A":
        return (a[1] is None or b[1] is None or a[1] == b[1]) and compatible(a[2], b[2])
    return a[1] == b[1]


def show(q: tuple) -> str:
    if q[0] == "T":
        return " ".join(sorted(q[1]) + [str(q[2])])
    if q[0] == "P":
        return f"{show(q[2])} *" + "".join(f" {x}" for x in sorted(q[1]))
    if q[0] == "A":
        return f"{show(q[2])}[{'' if q[1] is None else q[1]}]"
    return str(q[1])


class GenericLowering(LowererBase):
    """Qualified types, recorded only while `track_quals` (the unit uses _Generic), and _Generic."""

    track_quals = False

    # ------------------------------------------------------------------ qualified types of declarations
    def qtype(self, node: c_ast.Node) -> tuple:
        """The qualified type a declarator (or type name) denotes."""
        if isinstance(node, c_ast.Typename):  # pycparser repeats the qualifiers on its innermost TypeDecl
            return self.qtype(node.type)
        if isinstance(node, c_ast.TypeDecl):
            quals = _quals(node.quals)
            inner = node.type
            if isinstance(inner, c_ast.IdentifierType) and len(inner.names) == 1:
                sym = self.lookup(inner.names[0], inner) if inner.names[0] not in _BUILTIN_WORDS else None
                if sym is not None and sym.kind == "typedef":
                    base = sym.qtype if sym.qtype is not None else self.qtype_of_ctype(sym.ctype, inner)
                    return add_quals(base, quals)
            base = self.base_type(inner)
            if base == T.DOUBLE and isinstance(inner, c_ast.IdentifierType) and "long" in inner.names:
                base = LDOUBLE
            return add_quals(self.qtype_of_ctype(base, inner), quals)
        if isinstance(node, c_ast.PtrDecl):
            return ("P", _quals(node.quals), self.qtype(node.type))
        if isinstance(node, c_ast.ArrayDecl):
            t = self.decl_type(node)
            return ("A", t.length if isinstance(t, T.ArrayType) else None, self.qtype(node.type))
        if isinstance(node, c_ast.FuncDecl):
            return ("F", self.decl_type(node), self.qtype(node.type))
        if isinstance(node, c_ast.Struct | c_ast.Union | c_ast.Enum | c_ast.IdentifierType):
            return self.qtype_of_ctype(self.base_type(node), node)
        raise unsupported(f"declarator {type(node).__name__} in _Generic", node)

    def qtype_of_ctype(self, t: T.CType, node: c_ast.Node | None) -> tuple:
        """An unqualified type as a QType; pointers cannot be (their targets' qualifiers are unknown)."""
        if isinstance(t, T.PointerType):
            raise unsupported("_Generic on a pointer expression whose qualifiers are not tracked", node)
        if isinstance(t, T.ArrayType):
            return ("A", t.length, self.qtype_of_ctype(t.elem, node))
        if isinstance(t, T.FuncType):
            return ("F", t, self.qtype_of_ctype(t.ret, node))
        return ("T", NOQ, t)

    def note_qtype(self, sym, type_node: c_ast.Node, param: bool = False) -> None:
        """Record a declaration's qualified type on its symbol (only while track_quals)."""
        if not self.track_quals or sym is None:
            return
        q = self.qtype(type_node)
        if param and q[0] in ("A", "F"):  # parameter adjustment (6.7.6.3)
            q = lvalue_conversion(q)
        sym.qtype = q

    def note_member_qtypes(self, st: T.StructType, decls: list) -> None:
        if not self.track_quals:
            return
        st.member_qtypes = {d.name: self.qtype(d.type) for d in decls
                            if isinstance(d, c_ast.Decl) and d.name is not None}

    # ------------------------------------------------------------------ qualified types of expressions
    def expr_qtype(self, node: c_ast.Node) -> tuple:
        """The qualified type of an expression (before lvalue conversion)."""
        if isinstance(node, c_ast.ID):
            sym = self.lookup(node.name, node)
            if sym.qtype is not None:
                return sym.qtype
            if sym.kind == "enum":
                return ("T", NOQ, T.INT)
            return self.qtype_of_ctype(sym.ctype, node)
        if isinstance(node, c_ast.Constant):
            if node.type == "string":
                t = self.type_of(node)
                return ("A", t.length, ("T", NOQ, t.elem))
            t = self.type_of(node)
            if t == T.DOUBLE and node.value.rstrip()[-1:] in "lL":
                t = LDOUBLE
            return ("T", NOQ, t)
        if isinstance(node, c_ast.UnaryOp):
            if node.op == "*":
                q = lvalue_conversion(self.expr_qtype(node.expr))
                if q[0] != "P":
                    raise CompileError("dereferencing a non-pointer", node.coord)
                return q[2]
            if node.op == "&":
                return ("P", NOQ, self.expr_qtype(node.expr))
            if node.op in ("++", "--", "p++", "p--"):
                return lvalue_conversion(self.expr_qtype(node.expr))
        if isinstance(node, c_ast.ArrayRef):
            a = lvalue_conversion(self.expr_qtype(node.name))
            if a[0] != "P":
                a = lvalue_conversion(self.expr_qtype(node.subscript))
            return a[2]
        if isinstance(node, c_ast.StructRef):
            if node.type == "->":
                base = lvalue_conversion(self.expr_qtype(node.name))[2]
            else:
                base = self.expr_qtype(node.name)
            st = base[2]
            member = getattr(st, "member_qtypes", {}).get(node.field.name) if isinstance(st, T.StructType) else None
            if member is None:
                return self.qtype_of_ctype(self.type_of(node), node)
            return add_quals(member, base[1])
        if isinstance(node, c_ast.Cast):
            return lvalue_conversion(self.qtype(node.to_type))
        if isinstance(node, c_ast.CompoundLiteral):
            return self.qtype(node.type)
        if isinstance(node, c_ast.Assignment):
            return lvalue_conversion(self.expr_qtype(node.lvalue))
        if isinstance(node, c_ast.ExprList):
            return lvalue_conversion(self.expr_qtype(node.exprs[-1]))
        if isinstance(node, c_ast.GenericSelection):
            return self.expr_qtype(self.generic_choice(node))
        if isinstance(node, c_ast.FuncCall):
            f = lvalue_conversion(self.expr_qtype(node.name))
            if f[0] == "P" and f[2][0] == "F":
                return lvalue_conversion(f[2][2])
        if isinstance(node, c_ast.BinaryOp) and node.op in ("+", "-"):
            t = self.type_of(node)
            if isinstance(t, T.PointerType):
                left = lvalue_conversion(self.expr_qtype(node.left))
                return left if left[0] == "P" else lvalue_conversion(self.expr_qtype(node.right))
        if isinstance(node, c_ast.TernaryOp):
            t = self.type_of(node)
            if isinstance(t, T.PointerType):
                a = lvalue_conversion(self.expr_qtype(node.iftrue))
                b = lvalue_conversion(self.expr_qtype(node.iffalse))
                if a == b:
                    return a
        # arithmetic results, comparisons, calls returning non-pointers, ...: unqualified
        t = self.type_of(node)
        if t == T.DOUBLE and self._long_double_operand(node):
            t = LDOUBLE
        return self.qtype_of_ctype(t, node)

    def _long_double_operand(self, node: c_ast.Node) -> bool:
        """Whether a double-typed arithmetic expression is long double (an operand is)."""
        if isinstance(node, c_ast.BinaryOp):
            operands = [node.left, node.right]
        elif isinstance(node, c_ast.UnaryOp) and node.op in ("-", "+"):
            operands = [node.expr]
        elif isinstance(node, c_ast.TernaryOp):
            operands = [node.iftrue, node.iffalse]
        else:
            return False
        return any(lvalue_conversion(self.expr_qtype(o)) == ("T", NOQ, LDOUBLE) for o in operands)

    # ------------------------------------------------------------------ _Generic
    def generic_choice(self, node: c_ast.GenericSelection) -> c_ast.Node:
        """The association expression _Generic selects (the controlling expression is not evaluated)."""
        if not self.track_quals:
            raise NeedQualifiedTypes()
        ctl = lvalue_conversion(self.expr_qtype(node.expr))
        chosen, default = None, None
        for assoc in node.associations:
            if assoc.type is None:
                if default is not None:
                    raise CompileError("duplicate default in _Generic", assoc.coord or node.coord)
                default = assoc.expr
                continue
            if compatible(ctl, self.qtype(assoc.type)):
                if chosen is not None:
                    raise CompileError(f"more than one _Generic association matches {show(ctl)}", node.coord)
                chosen = assoc.expr
        if chosen is None:
            chosen = default
        if chosen is None:
            raise CompileError(f"_Generic has no association for type {show(ctl)}", node.coord)
        return chosen

    def e_GenericSelection(self, node: c_ast.GenericSelection):
        return self.expr(self.generic_choice(node))


_BUILTIN_WORDS = frozenset({"int", "char", "short", "long", "float", "double", "void", "_Bool", "signed",
                            "unsigned"})
