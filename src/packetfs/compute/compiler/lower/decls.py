"""Declarations: the translation unit, globals and their storage, string literals, local declarations
and their initialisers."""

from __future__ import annotations

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError
from ..frontend import ALIGNOF_AT
from ..ir import Module
from .base import LowererBase
from .common import FUNC_BASE, Sym, unsupported
from .initializers import StaticInit, walk_init
from .literals import decode_string


class DeclLowering(LowererBase):
    """Global and local declarations."""

    # ------------------------------------------------------------------ module level
    def lower(self, ast: c_ast.FileAST) -> Module:
        self._defined_names = {e.decl.name for e in ast.ext if isinstance(e, c_ast.FuncDef)}
        self.alignof_at = set(ALIGNOF_AT.get(ast, ()))  # frontend.py: `sizeof`s that were _Alignof
        self.alignof_used: set[str] = set()
        for ext in ast.ext:
            if isinstance(ext, c_ast.FuncDef):
                self.func_def(ext)
            elif isinstance(ext, c_ast.Decl):
                self.global_decl(ext)
            elif isinstance(ext, c_ast.Typedef):
                self.typedef(ext)
            elif isinstance(ext, c_ast.Pragma):
                continue
            else:
                raise unsupported(type(ext).__name__, ext)
        for name, t in self.tentative.items():
            if name not in self.defined_globals:
                if isinstance(t, T.ArrayType) and t.length is None:
                    t = T.ArrayType(t.elem, 1)
                self.alloc_global(name, t, None)
        if self.alignof_at - self.alignof_used:
            where = min(self.alignof_at - self.alignof_used)
            raise CompileError("unsupported: _Alignof here (in code that is not compiled, or not found)", where)
        names = list(self.functions)
        func_ids = {n: FUNC_BASE + 16 * i for i, n in enumerate(names)}
        return Module(self.functions, self.data, self.symbols, self.relocs, func_ids,
                      self.runtime_used - set(self.functions), self.source_name)

    def typedef(self, node: c_ast.Typedef) -> None:
        self.declare(node.name, Sym("typedef", self.decl_type(node.type)))
        self.note_qtype(self.scopes[-1][node.name], node.type)

    def global_decl(self, d: c_ast.Decl) -> None:
        if d.align:
            raise unsupported("_Alignas", d)
        if d.name is None:
            self.decl_type(d.type)  # struct/union/enum declaration
            return
        t = self.decl_type(d.type)
        if isinstance(t, T.FuncType):
            self.func_types.setdefault(d.name, t)
            self.scopes[0][d.name] = Sym("func", self.func_types[d.name], d.name)
            self.note_qtype(self.scopes[0][d.name], d.type)
            return
        storage = d.storage or []
        self.scopes[0][d.name] = Sym("global", t, d.name)
        self.note_qtype(self.scopes[0][d.name], d.type)
        if "extern" in storage and d.init is None:
            self.extern_only.setdefault(d.name, t)  # defined later in this file, or by the runtime/linker
            return
        if d.init is None:
            prev = self.tentative.get(d.name)
            if prev is None or (isinstance(prev, T.ArrayType) and prev.length is None):
                self.tentative[d.name] = t
            return
        t = self.sized_by_init(t, d.init)
        self.scopes[0][d.name] = Sym("global", t, d.name)
        self.note_qtype(self.scopes[0][d.name], d.type)
        self.alloc_global(d.name, t, d.init)

    def sized_by_init(self, t: T.CType, init: c_ast.Node) -> T.CType:
        if isinstance(t, T.ArrayType) and t.length is None:
            if isinstance(init, c_ast.InitList) and isinstance(t.elem, T.ArrayType | T.StructType) and any(
                    not isinstance(e, c_ast.InitList | c_ast.NamedInitializer) for e in init.exprs) and t.elem.size:
                leaves = walk_init(self, t, init)  # brace elision: count the elements actually filled
                return T.ArrayType(t.elem, max((off // t.elem.size for off, _, _ in leaves), default=-1) + 1)
            if isinstance(init, c_ast.InitList):
                n = 0
                idx = 0
                for e in init.exprs:
                    if isinstance(e, c_ast.NamedInitializer):
                        desig = e.name[0]
                        if isinstance(desig, c_ast.ID):
                            raise CompileError("field designator in array initialiser", e.coord)
                        idx = self.const_int(getattr(desig, "expr", desig))
                    idx += 1
                    n = max(n, idx)
                return T.ArrayType(t.elem, n)
            if isinstance(init, c_ast.Constant) and init.type == "string":
                return T.ArrayType(t.elem, len(self.string_bytes(init)) // self.string_unit(init) + 1)
        return t

    def alloc_global(self, name: str, t: T.CType, init: c_ast.Node | None) -> int:
        if name in self.defined_globals:
            if init is None:
                return self.symbols[name]
            raise CompileError(f"redefinition of '{name}'", getattr(init, "coord", None))
        if not self.complete(t):
            raise CompileError(f"global '{name}' has incomplete type {t}", getattr(init, "coord", None))
        if len(self.data) + t.size > (64 << 20):
            raise CompileError("global data over the 64 MiB limit", getattr(init, "coord", None))
        self.defined_globals.add(name)
        off = -(-len(self.data) // max(t.align, 1)) * max(t.align, 1)
        self.data.extend(b"\0" * (off - len(self.data) + t.size))
        self.symbols[name] = off
        if init is not None:
            StaticInit(self).init(off, t, init)
        return off

    def string_global(self, raw: bytes, unit: int = 1) -> str:
        name = self.strings.get((raw, unit))
        if name is None:
            name = f".str{len(self.strings)}"
            self.strings[(raw, unit)] = name
            off = -(-len(self.data) // unit) * unit
            self.data.extend(b"\0" * (off - len(self.data)))
            self.data.extend(raw + b"\0" * unit)
            self.symbols[name] = off
            self.defined_globals.add(name)
        return name

    def string_bytes(self, node: c_ast.Constant) -> bytes:
        return decode_string(node.value, node)

    @staticmethod
    def string_unit(node: c_ast.Constant) -> int:
        return 4 if node.value.startswith("L") else 1


    def s_Typedef(self, node: c_ast.Typedef) -> None:
        self.typedef(node)

    def s_DeclList(self, node: c_ast.DeclList) -> None:
        for d in node.decls:
            self.s_Decl(d)

    def s_Decl(self, d: c_ast.Decl) -> None:
        self.local_decl(d)
        if self.track_quals and d.name is not None:
            self.note_qtype(self.scopes[-1].get(d.name), d.type)

    def local_decl(self, d: c_ast.Decl) -> None:
        if d.align:
            raise unsupported("_Alignas", d)
        if d.name is None:
            self.decl_type(d.type)
            return
        t = self.decl_type(d.type)
        storage = d.storage or []
        if isinstance(t, T.VlaType):
            self.declare_vla(d, t)
            return
        if isinstance(t, T.FuncType):
            self.func_types.setdefault(d.name, t)
            self.declare(d.name, Sym("func", self.func_types[d.name], d.name))
            return
        if "extern" in storage:
            self.declare(d.name, Sym("global", t, d.name))
            self.extern_only.setdefault(d.name, t)
            return
        if d.init is not None:
            t = self.sized_by_init(t, d.init)
        if "static" in storage:
            self.static_counter += 1
            gname = f"{d.name}.{self.fn.name}.{self.static_counter}"
            self.declare(d.name, Sym("global", t, gname))
            self.alloc_global(gname, t, d.init)
            return
        if not self.complete(t):
            raise CompileError(f"variable '{d.name}' has incomplete type {t}", d.coord)
        if isinstance(t, T.IntType | T.FloatType | T.PointerType) and d.name not in self.addr_taken:
            r = self.new()
            self.declare(d.name, Sym("reg", t, r))
            if d.init is not None:
                init = d.init
                if isinstance(init, c_ast.InitList):
                    if len(init.exprs) != 1:
                        raise CompileError("scalar initialiser with several values", d.coord)
                    init = init.exprs[0]
                v = self.convert(self.rvalue(init), t, init)
                self.emit("mov", r, v.reg)
            return
        off = self.frame_alloc(t)
        self.declare(d.name, Sym("frame", t, off))
        if d.init is not None:
            a = self.new()
            self.emit("fa", a, off)
            self.init_memory(a, t, d.init, zero=True)

    def init_memory(self, addr: int, t: T.CType, init: c_ast.Node, zero: bool) -> None:
        """Initialise an object at addr (runtime initialiser for automatic storage)."""
        if isinstance(t, T.ArrayType) and isinstance(init, c_ast.Constant) and init.type == "string" \
                and isinstance(t.elem, T.IntType) and t.elem.size == self.string_unit(init):
            raw = self.string_bytes(init)
            n = t.size
            raw = (raw + b"\0" * n)[:n]
            self.zero_fill(addr, t.size)
            for i, b in enumerate(raw):
                if b:
                    self.emit("st1", self.addr_add(addr, i), self.const(b))
            return
        if isinstance(t, T.ArrayType | T.StructType):
            if not isinstance(init, c_ast.InitList):
                v = self.rvalue(init)
                if isinstance(t, T.StructType) and v.ctype is t:
                    self.emit("memcpy", addr, v.reg, t.size, t.align)
                    return
                raise CompileError(f"invalid initialiser for {t}", init.coord)
            if zero:
                self.zero_fill(addr, t.size)
            for off, ft, e in walk_init(self, t, init):
                if isinstance(ft, T.Field):
                    v = self.convert(self.rvalue(e), ft.ctype, e)
                    self.bit_store(self.addr_add(addr, off), ft, v.reg)
                else:
                    self.init_memory(self.addr_add(addr, off), ft, e, zero=False)
            return
        if isinstance(init, c_ast.InitList):
            if len(init.exprs) != 1:
                raise CompileError("scalar initialiser with several values", init.coord)
            init = init.exprs[0]
        v = self.convert(self.rvalue(init), t, init)
        self.store(addr, v.reg, t)

    def zero_fill(self, addr: int, size: int) -> None:
        z = self.const(0)
        off = 0
        while off + 8 <= size:
            self.emit("st8", self.addr_add(addr, off), z)
            off += 8
        while off < size:
            self.emit("st1", self.addr_add(addr, off), z)
            off += 1
