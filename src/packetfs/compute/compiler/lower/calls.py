"""Functions and calls: function definitions (parameters, frame, labels), return, calls (direct,
through pointers, variadic, struct by value) and the compiler intrinsics."""

from __future__ import annotations

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError
from ..ir import Function
from .base import LowererBase
from .common import INTRINSICS, RUNTIME, AddressTaken, Sym, Val

# the C runtime's printf family counts the characters it prints (formatting them on the fabric); a call
# whose value is discarded goes to a variant that does not
_NOCOUNT = {n: f"__pfx_{n}_nocount" for n in ("printf", "vprintf", "fprintf", "vfprintf")}


class CallLowering(LowererBase):
    """Function definitions, returns and calls."""

    discarded_call: c_ast.FuncCall | None = None  # the call an expression statement is made of

    # ------------------------------------------------------------------ functions
    def func_def(self, node: c_ast.FuncDef) -> None:
        decl = node.decl
        ftype = self.decl_type(decl.type)
        assert isinstance(ftype, T.FuncType)
        name = decl.name
        if name in self.functions:
            raise CompileError(f"redefinition of function '{name}'", node.coord)
        fdecl = decl.type
        kr_types: dict[str, T.CType] = {}
        if node.param_decls:
            for pd in node.param_decls:
                kr_types[pd.name] = T.decay(self.decl_type(pd.type))
        param_nodes: list[tuple[str | None, T.CType, c_ast.Node]] = []
        if fdecl.args is not None:
            for p in fdecl.args.params:
                if isinstance(p, c_ast.EllipsisParam):
                    continue
                if isinstance(p, c_ast.ID):
                    param_nodes.append((p.name, kr_types.get(p.name, T.INT), p))
                    continue
                pt = self.param_type(p)
                if pt == T.VOID:
                    continue
                param_nodes.append((p.name, T.decay(pt), p))
        if ftype.params is None and param_nodes:
            ftype = T.FuncType(ftype.ret, None, False)
        self.func_types[name] = self.func_types.get(name, ftype) if ftype.params is None else ftype
        self.scopes[0][name] = Sym("func", self.func_types[name], name)
        self.note_qtype(self.scopes[0][name], decl.type)

        sret = isinstance(ftype.ret, T.StructType)
        nparams = len(param_nodes) + (1 if sret else 0) + (1 if ftype.variadic else 0)
        fn = Function(name, nparams, nregs=nparams, variadic=ftype.variadic)
        self.functions[name] = fn
        self.fn = fn
        self.ret_type = ftype.ret
        self.sret_reg = 0 if sret else None
        self.va_reg = nparams - 1 if ftype.variadic else None
        self.labels: dict[str, int] = {}
        self.next_label = 0
        self.loop_stack: list[tuple[int, int]] = []  # (break label, continue label or -1)
        self.switch_stack: list[dict] = []
        self.addr_taken = AddressTaken.of(node.body)
        self.vla_mark_slot: int | None = None  # variable-length arrays (vla.py): the VLA stack's mark,
        self.vla_live: list[int] = []          # and the frame slots of those in scope, innermost last
        self.vla_labels: dict[str, tuple[int, ...]] = {}  # label -> VLAs in scope there
        self.vla_gotos: list[tuple[str, tuple[int, ...], object]] = []
        self.push()
        self.declare("__func__", Sym("global", T.ArrayType(T.CHAR, len(name) + 1), self.string_global(name.encode())))
        first = 1 if sret else 0
        for i, (pname, pt, pnode) in enumerate(param_nodes):
            reg = first + i
            if pname is None:
                continue
            if isinstance(pt, T.StructType):
                off = self.frame_alloc(pt)
                a = self.new()
                self.emit("fa", a, off)
                self.emit("memcpy", a, reg, pt.size, pt.align)
                self.declare(pname, Sym("frame", pt, off))
            elif pname in self.addr_taken:
                off = self.frame_alloc(pt)
                a = self.new()
                self.emit("fa", a, off)
                self.store(a, reg, pt)
                self.declare(pname, Sym("frame", pt, off))
            else:
                self.declare(pname, Sym("reg", pt, reg))  # the parameter's own register
            if self.track_quals and isinstance(pnode, c_ast.Decl):
                self.note_qtype(self.scopes[-1][pname], pnode.type, param=True)
        self.compound(node.body, new_scope=False)
        if name == "main":
            z = self.new()
            self.emit("const", z, 0)
            self.emit("ret", z)
        self.pop()
        for lname, lab in self.labels.items():
            if lab < 0:
                raise CompileError(f"label '{lname}' used but not defined", node.coord)
        self.check_labels_defined(node)
        self.check_vla_jumps()
        self.free_vlas_on_return()
        fn.finish()
        self.fn = None

    def check_labels_defined(self, node: c_ast.Node) -> None:
        defined = {ins[1] for ins in self.fn.code if ins[0] == "label"}
        for lname, lab in self.labels.items():
            if lab not in defined:
                raise CompileError(f"label '{lname}' used but not defined", node.coord)


    def s_Return(self, node: c_ast.Return) -> None:
        if node.expr is None:
            self.emit("ret", None)
        elif isinstance(self.ret_type, T.StructType):
            v = self.rvalue(node.expr)
            self.convert(v, self.ret_type, node.expr)
            self.emit("memcpy", self.sret_reg, v.reg, self.ret_type.size, self.ret_type.align)
            self.emit("ret", self.sret_reg)
        elif self.ret_type == T.VOID:
            self.expr(node.expr)
            self.emit("ret", None)
        else:
            v = self.convert(self.rvalue(node.expr), self.ret_type, node.expr)
            self.emit("ret", v.reg)
        self.place(self.label())


    def e_FuncCall(self, node: c_ast.FuncCall) -> Val:
        target = node.name
        args = node.args.exprs if node.args is not None else []
        name = None
        if isinstance(target, c_ast.ID):
            try:
                sym = self.lookup(target.name, target)
            except CompileError:
                # C89 implicit declaration: int f();
                sym = Sym("func", T.FuncType(T.INT, None), target.name)
                self.scopes[0][target.name] = sym
                self.func_types.setdefault(target.name, sym.ctype)
            if sym.kind == "func":
                name = sym.value
                ftype = sym.ctype
        if name is None:
            fv = self.rvalue(target)
            ft = fv.ctype
            if isinstance(ft, T.PointerType) and isinstance(ft.target, T.FuncType):
                ftype = ft.target
            elif isinstance(ft, T.FuncType):
                ftype = ft
            else:
                raise CompileError(f"called object of type {ft} is not a function", node.coord)
        if name in INTRINSICS:
            return self.intrinsic(name, args, node)
        if name == "__pfx_va_start" and self.va_reg is not None:
            return Val(self.copy(Val(self.va_reg, T.PointerType(T.CHAR))).reg, T.PointerType(T.CHAR))
        if name == "__pfx_va_start":
            raise CompileError("va_start in a function without '...'", node.coord)
        if (node is self.discarded_call and name in _NOCOUNT and name not in self.defined_later()):
            name = _NOCOUNT[name]  # the value is not used: skip printf's character count (runtime_c)
        params = ftype.params
        if params is not None and (len(args) < len(params) or (len(args) > len(params) and not ftype.variadic)):
            raise CompileError(f"call with {len(args)} arguments, function takes {len(params)}", node.coord)
        regs: list[int] = []
        sret = isinstance(ftype.ret, T.StructType)
        ret_slot = None
        if sret:
            off = self.frame_alloc(ftype.ret)
            ret_slot = self.new()
            self.emit("fa", ret_slot, off)
            regs.append(ret_slot)
        var_vals: list[Val] = []
        for i, a in enumerate(args):
            v = self.rvalue(a)
            if params is not None and i < len(params):
                self.check_assignable(params[i], v, a)
                v = self.convert(v, params[i], a)
            else:
                if v.ctype == T.FLOAT:
                    v = self.convert(v, T.DOUBLE)
                elif v.ctype.is_integer:
                    v = self.convert(v, T.promote(v.ctype))
                if ftype.variadic:
                    var_vals.append(v)
                    continue
            if isinstance(v.ctype, T.StructType):
                off = self.frame_alloc(v.ctype)
                c = self.new()
                self.emit("fa", c, off)
                self.emit("memcpy", c, v.reg, v.ctype.size, v.ctype.align)
                regs.append(c)
            else:
                regs.append(v.reg)
        if ftype.variadic:
            size = sum(-(-max(v.ctype.size, 8) // 8) * 8 for v in var_vals)
            off = self.frame_alloc(T.ArrayType(T.LONG, max(size // 8, 1)))
            base = self.new()
            self.emit("fa", base, off)
            pos = 0
            for v in var_vals:
                if isinstance(v.ctype, T.StructType):
                    self.emit("memcpy", self.addr_add(base, pos), v.reg, v.ctype.size, v.ctype.align)
                    pos += -(-v.ctype.size // 8) * 8
                else:
                    self.emit("st8", self.addr_add(base, pos), v.reg)
                    pos += 8
            regs.append(base)
        d = None if ftype.ret == T.VOID else self.new()
        if name is not None:
            if name in RUNTIME and name not in self.functions and name not in self.defined_later():
                self.runtime_used.add(name)
            self.emit("call", d, name, tuple(regs))
        else:
            self.emit("calli", d, fv.reg, tuple(regs))
        if sret:
            return Val(ret_slot, ftype.ret)
        if d is None:
            return Val(self.const(0), T.VOID)
        return Val(d, ftype.ret)

    def intrinsic(self, name: str, args: list[c_ast.Node], node: c_ast.Node) -> Val:
        if name == "__builtin_expect":
            if len(args) != 2:
                raise CompileError("__builtin_expect takes 2 arguments", node.coord)
            v = self.convert(self.rvalue(args[0]), T.LONG, args[0])
            self.expr(args[1])
            return v
        if name == "__pfx_sqrt":
            v = self.convert(self.rvalue(args[0]), T.DOUBLE, args[0])
            d = self.new()
            self.emit("fsqrt", d, v.reg)
            return Val(d, T.DOUBLE)
        if name == "__pfx_emit":
            if len(args) != 3:
                raise CompileError("__pfx_emit(tag, value, width) takes 3 arguments", node.coord)
            tag, width = self.const_int(args[0]), self.const_int(args[2])
            if not 0 <= tag < 256 or width not in (1, 2, 4, 8):
                raise CompileError("__pfx_emit: tag 0..255 and width 1, 2, 4 or 8", node.coord)
            v = self.convert(self.rvalue(args[1]), T.ULONG, args[1])
            self.emit("emit", tag, v.reg, width)
        else:
            if len(args) != 1:
                raise CompileError(f"{name} takes one argument", node.coord)
            v = self.convert(self.rvalue(args[0]), T.INT, args[0])
            self.emit("halt" if name == "__pfx_halt" else "trap", v.reg)
        return Val(self.const(0), T.VOID)
