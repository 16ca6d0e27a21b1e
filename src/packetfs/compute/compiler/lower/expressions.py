"""Expressions: conversions, rvalues and lvalues, operators with C's promotions and usual arithmetic
conversions, assignment, bit-fields, pointer arithmetic, ternaries and short-circuit conditions."""

from __future__ import annotations

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError
from .base import LowererBase
from .common import _EXPR_NODES, RUNTIME, LVal, Val, _dtype_bits, unsupported
from .literals import parse_constant
from .vla import has_side_effects

_SAME_SCALAR = (T.IntType, T.FloatType)


class ExprLowering(LowererBase):
    """Expressions to IR."""

    # ------------------------------------------------------------------ conversions
    def convert(self, v: Val, to: T.CType, node: c_ast.Node | None = None) -> Val:
        frm = v.ctype
        if frm is to and frm.__class__ in _SAME_SCALAR:  # the common case (these types are shared objects)
            return Val(v.reg, to)
        if isinstance(frm, T.ArrayType | T.FuncType):
            frm = T.decay(frm)
        if to == T.VOID:
            return Val(v.reg, T.VOID)
        if isinstance(to, T.StructType):
            if frm is not to:
                raise CompileError(f"cannot convert {frm} to {to}", getattr(node, "coord", None))
            return v
        if frm == to:
            return Val(v.reg, to)
        if isinstance(frm, T.StructType) or frm == T.VOID:
            raise CompileError(f"cannot convert {frm} to {to}", getattr(node, "coord", None))
        r = v.reg
        d = self.new()
        if isinstance(to, T.FloatType):
            if isinstance(frm, T.FloatType):
                if to == T.FLOAT:
                    self.emit("f32r", d, r)
                else:
                    self.emit("mov", d, r)
                return Val(d, to)
            if isinstance(frm, T.PointerType):
                raise CompileError("cannot convert a pointer to a floating type", getattr(node, "coord", None))
            self.emit("i2f" if frm.signed or frm.size < 8 else "u2f", d, r)
            if to == T.FLOAT:
                d2 = self.new()
                self.emit("f32r", d2, d)
                d = d2
            return Val(d, to)
        if isinstance(frm, T.FloatType):
            if isinstance(to, T.PointerType):
                raise CompileError("cannot convert a floating value to a pointer", getattr(node, "coord", None))
            if to == T.BOOL:
                self.emit("fne", d, r, self.const(0))
                return Val(d, to)
            self.emit("f2u" if (not to.signed and to.size == 8) else "f2i", d, r)
            return Val(self.narrow(d, to), to)
        # integer/pointer to integer/pointer
        if to == T.BOOL:
            self.emit("ne", d, r, self.const(0))
            return Val(d, to)
        if isinstance(to, T.IntType) and to.size < 8:
            return Val(self.narrow(r, to), to)
        self.emit("mov", d, r)
        return Val(d, to)

    def narrow(self, r: int, t: T.CType) -> int:
        """Re-normalise a 64-bit result to the canonical pattern of integer type t."""
        if isinstance(t, T.IntType) and t.size < 8:
            if t == T.BOOL:
                d = self.new()
                self.emit("ne", d, r, self.const(0))
                return d
            d = self.new()
            self.emit(f"{'sext' if t.signed else 'zext'}{t.bits}", d, r)
            return d
        return r

    def rvalue(self, node: c_ast.Node) -> Val:
        """Evaluate an expression; arrays and functions decay to pointers."""
        v = self.expr(node)
        if isinstance(v.ctype, T.ArrayType | T.FuncType):
            return Val(v.reg, T.decay(v.ctype))
        return v

    def truth(self, node: c_ast.Node) -> int:
        v = self.rvalue(node)
        if not v.ctype.is_scalar:
            raise CompileError(f"used {v.ctype} where a scalar is required", node.coord)
        d = self.new()
        self.emit("fne" if v.ctype.is_float else "ne", d, v.reg, self.const(0))
        return d

    def cond_jump(self, node: c_ast.Node, if_true: int, if_false: int) -> None:
        if isinstance(node, c_ast.BinaryOp) and node.op == "&&":
            mid = self.label()
            self.cond_jump(node.left, mid, if_false)
            self.place(mid)
            self.cond_jump(node.right, if_true, if_false)
            return
        if isinstance(node, c_ast.BinaryOp) and node.op == "||":
            mid = self.label()
            self.cond_jump(node.left, if_true, mid)
            self.place(mid)
            self.cond_jump(node.right, if_true, if_false)
            return
        if isinstance(node, c_ast.UnaryOp) and node.op == "!":
            self.cond_jump(node.expr, if_false, if_true)
            return
        v = self.rvalue(node)
        if not v.ctype.is_scalar:
            raise CompileError(f"used {v.ctype} where a scalar is required", node.coord)
        r = v.reg
        if v.ctype.is_float:
            r = self.new()
            self.emit("fne", r, v.reg, self.const(0))
        self.emit("br", r, if_true, if_false)


    # ------------------------------------------------------------------ expressions
    def expr(self, node: c_ast.Node) -> Val:
        method = getattr(self, "e_" + type(node).__name__, None)
        if method is None:
            raise unsupported(f"expression {type(node).__name__}", node)
        return method(node)

    def e_Constant(self, node: c_ast.Constant) -> Val:
        if node.type == "string":
            unit = self.string_unit(node)
            raw = self.string_bytes(node)
            name = self.string_global(raw, unit)
            r = self.new()
            self.emit("ga", r, name, 0)
            return Val(r, T.ArrayType(T.INT if unit == 4 else T.CHAR, len(raw) // unit + 1))
        value, t = parse_constant(node)
        if isinstance(t, T.FloatType):
            return Val(self.const(_dtype_bits(value)), t)
        return Val(self.const(value), t)

    def e_ID(self, node: c_ast.ID) -> Val:
        sym = self.lookup(node.name, node)
        if sym.kind == "enum":
            return Val(self.const(sym.value), T.INT)
        if sym.kind == "func":
            if sym.value in RUNTIME and sym.value not in self.functions:
                self.runtime_used.add(sym.value)
            r = self.new()
            self.emit("fn", r, sym.value)
            return Val(r, sym.ctype)
        if sym.kind == "typedef":
            raise CompileError(f"'{node.name}' is a type, not a value", node.coord)
        lv = self.lvalue(node)
        return self.read(lv)

    def read(self, lv: LVal) -> Val:
        if lv.kind == "reg":
            return Val(lv.reg, lv.ctype)
        if lv.kind == "bit":
            return Val(self.bit_load(lv.reg, lv.field), lv.ctype)
        return Val(self.load(lv.reg, lv.ctype), lv.ctype)

    def write(self, lv: LVal, v: Val, node: c_ast.Node) -> Val:
        """Assign v (already converted to lv's type); returns the value the assignment expression has."""
        if lv.kind == "reg":
            self.emit("mov", lv.reg, v.reg)
            return Val(lv.reg, lv.ctype)
        if lv.kind == "bit":
            self.bit_store(lv.reg, lv.field, v.reg)
            return Val(self.narrow_bits(v.reg, lv.field), lv.ctype)
        if isinstance(lv.ctype, T.ArrayType):
            raise CompileError("assignment to an array", node.coord)
        self.store(lv.reg, v.reg, lv.ctype)
        return Val(v.reg, lv.ctype) if not isinstance(lv.ctype, T.StructType) else Val(lv.reg, lv.ctype)

    def narrow_bits(self, r: int, f: T.Field) -> int:
        w = f.bit_width
        t = f.ctype
        d = self.new()
        self.emit("shl", d, r, self.const(64 - w))
        d2 = self.new()
        self.emit("sar" if t.signed else "shr", d2, d, self.const(64 - w))
        return d2

    def bit_load(self, addr: int, f: T.Field) -> int:
        unit = T.IntType("u", f.ctype.size, False, 0)
        raw = self.load(addr, T.ULONG if unit.size == 8 else T.unsigned_of(f.ctype))
        d = self.new()
        self.emit("shl", d, raw, self.const(64 - f.bit_offset - f.bit_width))
        d2 = self.new()
        self.emit("sar" if f.ctype.signed else "shr", d2, d, self.const(64 - f.bit_width))
        return d2

    def bit_store(self, addr: int, f: T.Field, value: int) -> None:
        ut = T.ULONG if f.ctype.size == 8 else T.unsigned_of(f.ctype)
        raw = self.load(addr, ut)
        mask = ((1 << f.bit_width) - 1) << f.bit_offset
        cleared = self.new()
        self.emit("and", cleared, raw, self.const(~mask))
        sh = self.new()
        self.emit("shl", sh, value, self.const(f.bit_offset))
        part = self.new()
        self.emit("and", part, sh, self.const(mask))
        new = self.new()
        self.emit("or", new, cleared, part)
        self.store(addr, new, ut)

    def lvalue(self, node: c_ast.Node) -> LVal:
        if isinstance(node, c_ast.ID):
            sym = self.lookup(node.name, node)
            if sym.kind == "reg":
                return LVal("reg", sym.value, sym.ctype)
            if sym.kind == "frame":
                r = self.new()
                self.emit("fa", r, sym.value)
                return LVal("mem", r, sym.ctype)
            if sym.kind == "global":
                r = self.new()
                self.emit("ga", r, sym.value, 0)
                return LVal("mem", r, sym.ctype)
            if sym.kind == "vla":  # the frame slot holds the array's address (vla.py)
                a, r = self.new(), self.new()
                self.emit("fa", a, sym.value)
                self.emit("ld8", r, a)
                return LVal("mem", r, sym.ctype)
            if sym.kind == "func":
                r = self.new()
                self.emit("fn", r, sym.value)
                if sym.value in RUNTIME and sym.value not in self.functions:
                    self.runtime_used.add(sym.value)
                return LVal("mem", r, sym.ctype)
            raise CompileError(f"'{node.name}' is not an object", node.coord)
        if isinstance(node, c_ast.UnaryOp) and node.op == "*":
            v = self.rvalue(node.expr)
            if not isinstance(v.ctype, T.PointerType):
                raise CompileError(f"dereferencing a non-pointer ({v.ctype})", node.coord)
            return LVal("mem", v.reg, v.ctype.target)
        if isinstance(node, c_ast.ArrayRef):
            base = self.rvalue(node.name)
            idx = self.rvalue(node.subscript)
            if isinstance(idx.ctype, T.PointerType) and base.ctype.is_integer:
                base, idx = idx, base
            if not isinstance(base.ctype, T.PointerType) or not idx.ctype.is_integer:
                raise CompileError("subscript of a non-array", node.coord)
            addr = self.ptr_offset(base.reg, idx, base.ctype.target, node)
            return LVal("mem", addr, base.ctype.target)
        if isinstance(node, c_ast.StructRef):
            if node.type == "->":
                base = self.rvalue(node.name)
                if not isinstance(base.ctype, T.PointerType) or not isinstance(base.ctype.target, T.StructType):
                    raise CompileError("'->' on a non-pointer-to-struct", node.coord)
                st = base.ctype.target
                addr = base.reg
            else:
                inner = self.expr(node.name)
                if not isinstance(inner.ctype, T.StructType):
                    raise CompileError("'.' on a non-struct", node.coord)
                st = inner.ctype
                addr = inner.reg  # struct values are carried by address
            f = st.lookup(node.field.name)
            if f is None:
                raise CompileError(f"{st} has no member '{node.field.name}'", node.coord)
            a = self.addr_add(addr, f.offset)
            if f.bit_width is not None:
                return LVal("bit", a, f.ctype, f)
            return LVal("mem", a, f.ctype)
        if isinstance(node, c_ast.CompoundLiteral):  # its object's address (a scalar one too: (int){3} = 5)
            a, t = self.compound_literal(node)
            return LVal("mem", a, t)
        if isinstance(node, c_ast.GenericSelection):
            return self.lvalue(self.generic_choice(node))
        if isinstance(node, c_ast.Constant) and node.type == "string":
            v = self.e_Constant(node)
            return LVal("mem", v.reg, v.ctype)
        if isinstance(node, c_ast.FuncCall | c_ast.Assignment | c_ast.TernaryOp | c_ast.ExprList):
            v = self.expr(node)
            if isinstance(v.ctype, T.StructType):
                return LVal("mem", v.reg, v.ctype)
        raise CompileError(f"expression is not an lvalue ({type(node).__name__})", node.coord)

    def elem_scale(self, target: T.CType) -> int:
        """A register holding the step of a pointer to target (a VLA's size is a register already)."""
        if isinstance(target, T.VlaType):
            return target.size_reg
        return self.const(max(target.size, 1))

    def ptr_offset(self, base: int, idx: Val, target: T.CType, node: c_ast.Node, negate: bool = False) -> int:
        i = self.convert(idx, T.LONG if idx.ctype.signed else T.ULONG).reg
        scaled = self.new()
        self.emit("mul", scaled, i, self.elem_scale(target))
        d = self.new()
        self.emit("sub" if negate else "add", d, base, scaled)
        return d

    def e_ArrayRef(self, node: c_ast.ArrayRef) -> Val:
        return self.read(self.lvalue(node))

    def e_StructRef(self, node: c_ast.StructRef) -> Val:
        return self.read(self.lvalue(node))

    def compound_literal(self, node: c_ast.CompoundLiteral) -> tuple[int, T.CType]:
        """The literal's object in the frame, initialized: (register holding its address, its type)."""
        t = self.sized_by_init(self.decl_type(node.type), node.init)
        off = self.frame_alloc(t)
        a = self.new()
        self.emit("fa", a, off)
        self.init_memory(a, t, node.init, zero=True)
        return a, t

    def e_CompoundLiteral(self, node: c_ast.CompoundLiteral) -> Val:
        a, t = self.compound_literal(node)
        if isinstance(t, T.ArrayType | T.StructType):
            return Val(a, t)
        return Val(self.load(a, t), t)

    def e_Cast(self, node: c_ast.Cast) -> Val:
        t = self.decl_type(node.to_type)
        v = self.rvalue(node.expr)
        if t == T.VOID:
            return Val(v.reg, T.VOID)
        if not t.is_scalar:
            raise CompileError(f"cast to non-scalar type {t}", node.coord)
        return self.convert(v, t, node)

    def e_ExprList(self, node: c_ast.ExprList) -> Val:
        v = None
        for e in node.exprs:
            v = self.expr(e)
        return v

    def e_Compound(self, node: c_ast.Compound) -> Val:
        """A GNU statement expression `({ ...; e; })`: its statements run in their own scope and its value
        is that of the last one when that is an expression statement (void otherwise)."""
        items = node.block_items or []
        self.push()
        vla_mark = len(self.vla_live)
        try:
            for item in items[:-1]:
                self.stmt(item)
            if items and isinstance(items[-1], _EXPR_NODES):
                # registers and frame objects are never reused within a function, so the value (or a
                # struct's address) stays valid after the block's scope ends
                return self.rvalue(items[-1])
            for item in items[-1:]:
                self.stmt(item)
            return Val(self.const(0), T.VOID)
        finally:
            del self.vla_live[vla_mark:]  # out of scope; its storage is reused by the next VLA (vla.py)
            self.pop()

    def e_TernaryOp(self, node: c_ast.TernaryOp) -> Val:
        then, other, end = self.label(), self.label(), self.label()
        self.cond_jump(node.cond, then, other)
        # both arms are lowered to find the common type; the result register is written on each path
        self.place(then)
        start_then = len(self.fn.code)
        a = self.rvalue(node.iftrue)
        then_code = self.fn.code[start_then:]
        del self.fn.code[start_then:]
        self.place(other)
        start_other = len(self.fn.code)
        b = self.rvalue(node.iffalse)
        other_code = self.fn.code[start_other:]
        del self.fn.code[start_other:]
        del self.fn.code[-1]  # the 'other' label, re-placed below
        t = self.common_type(a.ctype, b.ctype, node)
        d = self.new()
        self.fn.code.extend(then_code)
        if t != T.VOID:
            self.emit("mov", d, self.convert(a, t, node).reg)
        self.emit("jmp", end)
        self.place(other)
        self.fn.code.extend(other_code)
        if t != T.VOID:
            self.emit("mov", d, self.convert(b, t, node).reg)
        self.place(end)
        return Val(d, t)


    def e_UnaryOp(self, node: c_ast.UnaryOp) -> Val:
        op = node.op
        if op == "sizeof" and self.is_alignof(node):
            op = "_Alignof"
        if op == "sizeof":
            if isinstance(node.expr, c_ast.Typename):
                t = self.decl_type(node.expr)
            else:
                t = self.type_of(node.expr)
                if isinstance(t, T.VlaType) and has_side_effects(node.expr):
                    # C evaluates a VLA-typed operand of sizeof; type_of does not keep its code
                    raise unsupported("sizeof of a variable-length array expression with side effects", node)
            return Val(self.size_value(t), T.SIZE_T)
        if op == "_Alignof":  # C11 on a type name; gcc's __alignof__ also on an expression
            if isinstance(node.expr, c_ast.Typename):
                return Val(self.const(self.decl_type(node.expr).align), T.SIZE_T)
            return Val(self.const(self.alignof_expr(node.expr)), T.SIZE_T)
        if op == "&":
            if isinstance(node.expr, c_ast.UnaryOp) and node.expr.op == "*":
                v = self.rvalue(node.expr.expr)
                return Val(v.reg, v.ctype)
            lv = self.lvalue(node.expr)
            if lv.kind != "mem":
                raise CompileError("cannot take the address of this operand", node.coord)
            return Val(lv.reg, T.PointerType(lv.ctype))
        if op == "*":
            lv = self.lvalue(node)
            if isinstance(lv.ctype, T.FuncType):
                return Val(lv.reg, lv.ctype)
            return self.read(lv)
        if op in ("++", "--", "p++", "p--"):
            lv = self.lvalue(node.expr)
            old = self.read(lv)
            if lv.kind == "reg" and op.startswith("p"):
                old = self.copy(old)  # the register is overwritten below
            delta = 1 if "+" in op else -1
            new = self.add_value(old, delta, node)
            result = self.write(lv, new, node)
            return old if op.startswith("p") else result
        if op == "!":
            d = self.new()
            v = self.rvalue(node.expr)
            self.emit("feq" if v.ctype.is_float else "eq", d, v.reg, self.const(0))
            return Val(d, T.INT)
        v = self.rvalue(node.expr)
        if op == "+":
            return self.convert(v, T.promote(v.ctype), node)
        if op == "-":
            if v.ctype.is_float:
                d = self.new()
                self.emit("fneg", d, v.reg)
                return Val(d, v.ctype)
            t = T.promote(v.ctype)
            v = self.convert(v, t, node)
            d = self.new()
            self.emit("neg", d, v.reg)
            return Val(self.narrow(d, t), t)
        if op == "~":
            if not v.ctype.is_integer:
                raise CompileError(f"'~' on {v.ctype}", node.coord)
            t = T.promote(v.ctype)
            v = self.convert(v, t, node)
            d = self.new()
            self.emit("not", d, v.reg)
            return Val(self.narrow(d, t), t)
        raise unsupported(f"unary operator '{op}'", node)

    def alignof_expr(self, node: c_ast.Node) -> int:
        """gcc's __alignof__ of an expression: a struct member's alignment as laid out (1 when packed),
        else its type's."""
        if isinstance(node, c_ast.StructRef):
            base = self.type_of(node.name)
            if node.type == "->" and isinstance(base, T.PointerType):
                base = base.target
            if isinstance(base, T.StructType):
                f = base.lookup(node.field.name)
                if f is not None and f.bit_width is not None:
                    raise CompileError("_Alignof applied to a bit-field", node.coord)
                if f is not None and f.align:
                    return f.align
        return self.type_of(node).align

    def copy(self, v: Val) -> Val:
        d = self.new()
        self.emit("mov", d, v.reg)
        return Val(d, v.ctype)

    def add_value(self, old: Val, delta: int, node: c_ast.Node) -> Val:
        t = old.ctype
        d = self.new()
        if isinstance(t, T.PointerType):
            if isinstance(t.target, T.VlaType):
                step = t.target.size_reg
                if delta < 0:
                    step = self.new()
                    self.emit("neg", step, t.target.size_reg)
                self.emit("add", d, old.reg, step)
                return Val(d, t)
            self.emit("add", d, old.reg, self.const(delta * max(t.target.size, 1)))
            return Val(d, t)
        if t.is_float:
            one = self.const(_dtype_bits(float(delta)))
            self.emit("fadd", d, old.reg, one)
            if t == T.FLOAT:
                d2 = self.new()
                self.emit("f32r", d2, d)
                d = d2
            return Val(d, t)
        if not t.is_integer:
            raise CompileError(f"increment of {t}", node.coord)
        self.emit("add", d, old.reg, self.const(delta))
        if t == T.BOOL:
            return Val(self.narrow(d, t), t) if delta > 0 else self.convert(Val(d, T.LONG), t)
        return Val(self.narrow(d, t), t)


    def arith(self, op: str, a: Val, b: Val, node: c_ast.Node) -> Val:
        """Binary arithmetic/bitwise/comparison on rvalues, with C's conversions."""
        at, bt = a.ctype, b.ctype
        if op in ("+", "-") and (isinstance(at, T.PointerType) or isinstance(bt, T.PointerType)):
            if isinstance(at, T.PointerType) and isinstance(bt, T.PointerType):
                if op != "-":
                    raise CompileError("adding two pointers", node.coord)
                diff = self.new()
                self.emit("sub", diff, a.reg, b.reg)
                d = self.new()
                self.emit("divs", d, diff, self.elem_scale(at.target))
                return Val(d, T.PTRDIFF_T)
            if isinstance(bt, T.PointerType):
                if op == "-":
                    raise CompileError("integer minus pointer", node.coord)
                a, b, at, bt = b, a, bt, at
            if not bt.is_integer:
                raise CompileError(f"pointer arithmetic with {bt}", node.coord)
            return Val(self.ptr_offset(a.reg, b, at.target, node, negate=(op == "-")), at)
        if op in ("==", "!=", "<", ">", "<=", ">=") and (at.is_pointer or bt.is_pointer):
            ra, rb = a.reg, b.reg
            if op in (">", ">="):
                ra, rb = rb, ra
            d = self.new()
            self.emit({"==": "eq", "!=": "ne", "<": "ltu", ">": "ltu", "<=": "leu", ">=": "leu"}[op], d, ra, rb)
            return Val(d, T.INT)
        if not (at.is_arith and bt.is_arith):
            raise CompileError(f"invalid operands to '{op}' ({at} and {bt})", node.coord)
        if op in ("<<", ">>"):
            if not (at.is_integer and bt.is_integer):
                raise CompileError(f"shift of {at} by {bt}", node.coord)
            t = T.promote(at)
            a = self.convert(a, t, node)
            cnt = self.new()
            self.emit("and", cnt, b.reg, self.const(63))
            d = self.new()
            self.emit("shl" if op == "<<" else ("sar" if t.signed else "shr"), d, a.reg, cnt)
            return Val(self.narrow(d, t), t)
        t = T.usual_arith(at, bt)
        a = self.convert(a, t, node)
        b = self.convert(b, t, node)
        d = self.new()
        if t.is_float:
            if op in ("%", "&", "|", "^"):
                raise CompileError(f"'{op}' on floating operands", node.coord)
            cmp = {"==": "feq", "!=": "fne", "<": "flt", "<=": "fle", ">": "flt", ">=": "fle"}
            if op in cmp:
                ra, rb = (b.reg, a.reg) if op in (">", ">=") else (a.reg, b.reg)
                self.emit(cmp[op], d, ra, rb)
                return Val(d, T.INT)
            self.emit({"+": "fadd", "-": "fsub", "*": "fmul", "/": "fdiv"}[op], d, a.reg, b.reg)
            if t == T.FLOAT:
                d2 = self.new()
                self.emit("f32r", d2, d)
                d = d2
            return Val(d, t)
        signed = t.signed
        cmp = {"==": "eq", "!=": "ne", "<": "lts" if signed else "ltu", "<=": "les" if signed else "leu",
               ">": "lts" if signed else "ltu", ">=": "les" if signed else "leu"}
        if op in cmp:
            ra, rb = (b.reg, a.reg) if op in (">", ">=") else (a.reg, b.reg)
            self.emit(cmp[op], d, ra, rb)
            return Val(d, T.INT)
        opname = {"+": "add", "-": "sub", "*": "mul", "/": "divs" if signed else "divu",
                  "%": "mods" if signed else "modu", "&": "and", "|": "or", "^": "xor"}.get(op)
        if opname is None:
            raise unsupported(f"binary operator '{op}'", node)
        self.emit(opname, d, a.reg, b.reg)
        return Val(self.narrow(d, t), t)

    def e_BinaryOp(self, node: c_ast.BinaryOp) -> Val:
        if node.op in ("&&", "||"):
            t, f, end = self.label(), self.label(), self.label()
            d = self.new()
            self.cond_jump(node, t, f)
            self.place(t)
            self.emit("const", d, 1)
            self.emit("jmp", end)
            self.place(f)
            self.emit("const", d, 0)
            self.place(end)
            return Val(d, T.INT)
        a = self.rvalue(node.left)
        b = self.rvalue(node.right)
        return self.arith(node.op, a, b, node)

    def e_Assignment(self, node: c_ast.Assignment) -> Val:
        lv = self.lvalue(node.lvalue)
        if node.op == "=":
            v = self.rvalue(node.rvalue)
            if isinstance(lv.ctype, T.StructType):
                if v.ctype is not lv.ctype:
                    raise CompileError(f"assigning {v.ctype} to {lv.ctype}", node.coord)
                self.emit("memcpy", lv.reg, v.reg, lv.ctype.size, lv.ctype.align)
                return Val(lv.reg, lv.ctype)
            self.check_assignable(lv.ctype, v, node)
            return self.write(lv, self.convert(v, lv.ctype, node), node)
        old = self.read(lv)
        rhs = self.rvalue(node.rvalue)
        res = self.arith(node.op[:-1], old, rhs, node)
        return self.write(lv, self.convert(res, lv.ctype, node), node)

    def check_assignable(self, to: T.CType, v: Val, node: c_ast.Node) -> None:
        if isinstance(to, T.ArrayType):
            raise CompileError("assignment to an array", node.coord)
        if to.is_arith and not v.ctype.is_arith and not (to.is_integer and v.ctype.is_pointer):
            raise CompileError(f"assigning {v.ctype} to {to}", node.coord)
