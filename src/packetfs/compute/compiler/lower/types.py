"""Types: declarators and specifiers to C types (ctype.py), struct/union/enum definitions, integer
constant expressions, the type of an expression and the common type of two."""

from __future__ import annotations

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError
from ..frontend import ALIGNED_MEMBER, ALIGNED_STRUCT, PACKED_MEMBER, PACKED_STRUCT
from .base import LowererBase
from .common import Sym, unsupported
from .consteval import ConstEval
from .vla import has_side_effects

_TYPE_WORDS = frozenset({"int", "char", "short", "long", "float", "double", "void", "_Bool", "signed", "unsigned"})
_BUILTIN_TYPES: dict[tuple[str, ...], T.CType] = {}  # ('unsigned', 'int') -> its type, filled as met


class TypeLowering(LowererBase):
    """Declarators to C types."""

    _param_depth = 0  # > 0 while a parameter list's declarators are turned into types
    _param_outer: c_ast.Node | None = None  # the declarator of the parameter being typed

    # ------------------------------------------------------------------ types
    def base_type(self, node: c_ast.Node) -> T.CType:
        if isinstance(node, c_ast.IdentifierType):
            return self.named_type(node.names, node)
        if isinstance(node, c_ast.Struct | c_ast.Union):
            return self.struct_type(node)
        if isinstance(node, c_ast.Enum):
            return self.enum_type(node)
        raise unsupported(f"type {type(node).__name__}", node)

    def named_type(self, names: list[str], node: c_ast.Node) -> T.CType:
        key = tuple(names)
        known = _BUILTIN_TYPES.get(key)
        if known is not None:
            return known
        t = self._named_type(names, node)
        if key[0] in _TYPE_WORDS:  # builtin type words only (a typedef name depends on the scope)
            _BUILTIN_TYPES[key] = t
        return t

    def _named_type(self, names: list[str], node: c_ast.Node) -> T.CType:
        words = [n for n in names if n not in ("signed",)]
        signed = "signed" in names
        unsigned = "unsigned" in words
        words = [w for w in words if w != "unsigned"]
        key = " ".join(sorted(words))
        if len(names) == 1 and names[0] not in ("int", "char", "short", "long", "float", "double", "void",
                                                 "_Bool", "signed", "unsigned"):
            sym = self.lookup(names[0], node)
            if sym.kind != "typedef":
                raise CompileError(f"'{names[0]}' is not a type", node.coord)
            return sym.ctype
        table = {"": T.INT, "int": T.INT, "char": T.CHAR, "short": T.SHORT, "int short": T.SHORT,
                 "long": T.LONG, "int long": T.LONG, "long long": T.LLONG, "int long long": T.LLONG,
                 "float": T.FLOAT, "double": T.DOUBLE, "double long": T.LDOUBLE, "void": T.VOID, "_Bool": T.BOOL}
        if key not in table:
            raise unsupported(f"type '{' '.join(names)}'", node)
        t = table[key]
        if unsigned:
            if not isinstance(t, T.IntType) or t == T.BOOL:
                raise CompileError(f"invalid type '{' '.join(names)}'", node.coord)
            return T.unsigned_of(t)
        if signed and t == T.CHAR:
            return T.SCHAR
        return t

    def struct_type(self, node: c_ast.Struct | c_ast.Union) -> T.StructType:
        is_union = isinstance(node, c_ast.Union)
        if node.decls is not None and id(node) in self.struct_defs:
            # `struct {...} x, y;`: pycparser shares one definition node between the declarators, and
            # both have the one type it defines
            return self.struct_defs[id(node)]
        st: T.StructType | None = None
        if node.name:
            if node.decls is None:
                for scope in reversed(self.tags):
                    if node.name in scope:
                        found = scope[node.name]
                        if isinstance(found, T.StructType):
                            return found
                st = T.StructType(node.name, is_union)
                self.tags[0 if False else -1][node.name] = st
                return st
            cur = self.tags[-1].get(node.name)
            if isinstance(cur, T.StructType) and not cur.complete:
                st = cur
        if st is None:
            st = T.StructType(node.name, is_union)
            if node.name:
                self.tags[-1][node.name] = st
        members: list[tuple[str | None, T.CType, int | None]] = []
        packed, packed_members, pack_next = False, set(), False
        aligned, member_aligns, align_next = 0, {}, 0
        for d in node.decls or []:
            if not isinstance(d, c_ast.Decl):
                raise unsupported(f"{type(d).__name__} in struct", d)
            if d.align:
                raise unsupported("_Alignas", d)
            if d.name == PACKED_STRUCT:  # markers of __attribute__((packed)) and aligned(N) (frontend.py)
                packed = True
                continue
            if d.name == PACKED_MEMBER:
                pack_next = True
                continue
            if d.name in (ALIGNED_STRUCT, ALIGNED_MEMBER):
                n = self.decl_type(d.type).length
                if n is None or n <= 0 or n & (n - 1) or n > (1 << 12):
                    raise CompileError("requested alignment is not a power of 2 up to 4096", d.coord)
                if d.name == ALIGNED_STRUCT:
                    aligned = max(aligned, n)
                else:
                    align_next = max(align_next, n)
                continue
            if pack_next:
                packed_members.add(len(members))
                pack_next = False
            if align_next:
                if d.bitsize is not None:
                    raise unsupported("__attribute__((aligned)) on a bit-field", d)
                member_aligns[len(members)] = align_next
                align_next = 0
            mt = self.decl_type(d.type)
            width = None
            if d.bitsize is not None:
                width = self.const_int(d.bitsize)
                if not isinstance(mt, T.IntType):
                    raise CompileError("bit-field of non-integer type", d.coord)
            if isinstance(mt, T.ArrayType) and mt.length is None:
                mt = T.ArrayType(mt.elem, 0)  # flexible array member
            if isinstance(mt, T.StructType | T.ArrayType) and not self.complete(mt):
                raise CompileError(f"member '{d.name}' has incomplete type {mt}", d.coord)
            members.append((d.name, mt, width))
        if (packed or packed_members) and any(w is not None for _, _, w in members):
            raise unsupported("bit-fields in a packed struct", node)
        st.layout(members, packed, packed_members, aligned, member_aligns)
        self.note_member_qtypes(st, node.decls or [])
        self.struct_defs[id(node)] = st
        return st

    def complete(self, t: T.CType) -> bool:
        if isinstance(t, T.StructType):
            return t.complete
        if isinstance(t, T.ArrayType):
            return t.length is not None and self.complete(t.elem)
        return True

    def enum_type(self, node: c_ast.Enum) -> T.CType:
        """gcc gives an enum with no negative value the type unsigned int, else int."""
        if node.values is None:
            known = self.tags[-1].get("enum " + (node.name or ""))
            return known if isinstance(known, T.IntType) else T.UINT
        value = 0
        negative = False
        for e in node.values.enumerators:
            if e.value is not None:
                value = self.const_int(e.value)
            negative |= value < 0
            self.declare(e.name, Sym("enum", T.INT, value))
            value += 1
        t = T.INT if negative else T.UINT
        if node.name:
            self.tags[-1]["enum " + node.name] = t
        return t

    def decl_type(self, node: c_ast.Node) -> T.CType:
        if isinstance(node, c_ast.TypeDecl):
            return self.base_type(node.type)
        if isinstance(node, c_ast.PtrDecl):
            return T.PointerType(self.decl_type(node.type))
        if isinstance(node, c_ast.ArrayDecl):
            elem = self.decl_type(node.type)
            length = None
            if isinstance(node.dim, c_ast.ID) and node.dim.name == "*":
                # `T x[*]` (C99 6.7.5.2): a parameter array of unspecified size, adjusted to a pointer
                if not self._param_depth:
                    raise CompileError("'[*]' outside a function prototype's parameters", node.coord)
            elif node.dim is not None:
                try:
                    length = self.const_int(node.dim)
                except CompileError:
                    if self._param_depth and node is self._param_outer:
                        # `T a[n]` parameter: adjusted to `T *`, n not evaluated (vla.py)
                        if has_side_effects(node.dim):
                            raise unsupported("a variable-length array parameter size with side effects",
                                              node) from None
                        return T.ArrayType(elem, None)
                    if self._param_depth:
                        raise unsupported("a variable-length array parameter with a runtime size below its "
                                          "first dimension", node) from None
                    if self.fn is None:
                        raise
                    return self.vla_type(elem, node.dim, node)
                if length < 0:
                    raise CompileError("array size is negative", node.coord)
                if isinstance(elem, T.VlaType):  # `T a[5][n]`: a VLA too
                    return self.vla_of_length(elem, length)
                if length * max(elem.size, 1) > (1 << 31):
                    raise CompileError("array too large", node.coord)
            return T.ArrayType(elem, length)
        if isinstance(node, c_ast.FuncDecl):
            ret = self.decl_type(node.type)
            if node.args is None:
                return T.FuncType(ret, None)
            params: list[T.CType] = []
            variadic = False
            for p in node.args.params:
                if isinstance(p, c_ast.EllipsisParam):
                    variadic = True
                    continue
                if isinstance(p, c_ast.ID):  # K&R identifier list
                    return T.FuncType(ret, None)
                pt = self.param_type(p)
                if pt == T.VOID:
                    continue
                params.append(T.decay(pt))
            return T.FuncType(ret, tuple(params), variadic)
        if isinstance(node, c_ast.Typename):
            return self.decl_type(node.type)
        if isinstance(node, c_ast.Struct | c_ast.Union | c_ast.Enum | c_ast.IdentifierType):
            return self.base_type(node)
        raise unsupported(f"declarator {type(node).__name__}", node)

    def param_type(self, p: c_ast.Decl) -> T.CType:
        """A parameter's declared type (before adjustment to a pointer)."""
        self._param_depth += 1
        outer, self._param_outer = self._param_outer, p.type
        try:
            return self.decl_type(p.type)
        finally:
            self._param_depth -= 1
            self._param_outer = outer

    # ------------------------------------------------------------------ constants
    def const_int(self, node: c_ast.Node) -> int:
        v = ConstEval(self).eval(node)
        if not isinstance(v, int):
            raise CompileError("expected an integer constant expression", node.coord)
        return v


    def common_type(self, a: T.CType, b: T.CType, node: c_ast.Node) -> T.CType:
        if a.is_arith and b.is_arith:
            return T.usual_arith(a, b)
        if a == T.VOID or b == T.VOID:
            return T.VOID
        if isinstance(a, T.StructType) and a is b:
            return a
        if isinstance(a, T.PointerType):
            if isinstance(b, T.PointerType) and a.target == T.VOID:
                return b
            return a
        if isinstance(b, T.PointerType):
            return b
        raise CompileError(f"incompatible operand types {a} and {b}", node.coord)


    def type_of(self, node: c_ast.Node) -> T.CType:
        """Type of an expression without keeping its code (sizeof does not evaluate its operand)."""
        mark = len(self.fn.code) if self.fn else None
        saved_regs = self.fn.nregs if self.fn else None
        if self.fn is None:
            return ConstEval(self).type_only(node)
        t = self.expr(node).ctype
        del self.fn.code[mark:]
        self.check_vla_kept(t, saved_regs, node)
        self.fn.nregs = saved_regs
        return t
