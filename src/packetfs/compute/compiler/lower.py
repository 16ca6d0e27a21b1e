"""Semantic analysis and lowering: pycparser's AST -> IR (ir.py), one visitor per pass.

`TypeBuilder` turns declarators into C types; `Lowerer` checks types and emits IR while it walks a
function (C is simple enough that both happen in one walk, as in a one-pass compiler), and `ConstEval`
evaluates the constant expressions of global initialisers. Every visitor's default raises an
"unsupported" CompileError carrying file:line:column, so nothing is silently skipped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pycparser import c_ast

from . import ctype as T
from .errors import CompileError
from .ir import Function, Module

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
    ("isdigit", T.INT, [T.INT], False), ("isalpha", T.INT, [T.INT], False), ("isalnum", T.INT, [T.INT], False),
    ("isspace", T.INT, [T.INT], False), ("isupper", T.INT, [T.INT], False), ("islower", T.INT, [T.INT], False),
    ("toupper", T.INT, [T.INT], False), ("tolower", T.INT, [T.INT], False), ("isxdigit", T.INT, [T.INT], False),
]:
    _rt(_n, _r, _p, _v)
NORETURN = {"exit", "abort", "__pfx_assert_fail"}
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


def _dtype_bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _f32(x: float) -> float:
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return float("inf") if x > 0 else float("-inf")


# ------------------------------------------------------------------------------------------ the lowering

class Lowerer(c_ast.NodeVisitor):
    def __init__(self, source_name: str = "<input>") -> None:
        self.source_name = source_name
        self.scopes: list[dict[str, Sym]] = [{}]
        self.tags: list[dict[str, T.StructType | str]] = [{}]
        self.functions: dict[str, Function] = {}
        self.func_types: dict[str, T.FuncType] = {}
        self.data = bytearray()
        self.symbols: dict[str, int] = {}
        self.relocs: list[tuple[int, str, str, int]] = []
        self.tentative: dict[str, T.CType] = {}
        self.extern_only: dict[str, T.CType] = {}
        self.defined_globals: set[str] = set()
        self.strings: dict[bytes, str] = {}
        self.runtime_used: set[str] = set()
        self.static_counter = 0
        self.fn: Function | None = None

    # ------------------------------------------------------------------ scopes
    def lookup(self, name: str, node: c_ast.Node) -> Sym:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in RUNTIME and name not in self._defined_names:
            return Sym("func", RUNTIME[name], name)
        raise CompileError(f"'{name}' undeclared", node.coord)

    def declare(self, name: str, sym: Sym) -> None:
        self.scopes[-1][name] = sym

    def push(self) -> None:
        self.scopes.append({})
        self.tags.append({})

    def pop(self) -> None:
        self.scopes.pop()
        self.tags.pop()

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
        for d in node.decls or []:
            if not isinstance(d, c_ast.Decl):
                raise unsupported(f"{type(d).__name__} in struct", d)
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
        st.layout(members)
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
            if node.dim is not None:
                length = self.const_int(node.dim)
                if length < 0:
                    raise CompileError("array size is negative", node.coord)
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
                pt = self.decl_type(p.type)
                if pt == T.VOID:
                    continue
                params.append(T.decay(pt))
            return T.FuncType(ret, tuple(params), variadic)
        if isinstance(node, c_ast.Typename):
            return self.decl_type(node.type)
        if isinstance(node, c_ast.Struct | c_ast.Union | c_ast.Enum | c_ast.IdentifierType):
            return self.base_type(node)
        raise unsupported(f"declarator {type(node).__name__}", node)

    # ------------------------------------------------------------------ constants
    def const_int(self, node: c_ast.Node) -> int:
        v = ConstEval(self).eval(node)
        if not isinstance(v, int):
            raise CompileError("expected an integer constant expression", node.coord)
        return v

    # ------------------------------------------------------------------ module level
    def lower(self, ast: c_ast.FileAST) -> Module:
        self._defined_names = {e.decl.name for e in ast.ext if isinstance(e, c_ast.FuncDef)}
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
        names = list(self.functions)
        func_ids = {n: FUNC_BASE + 16 * i for i, n in enumerate(names)}
        return Module(self.functions, self.data, self.symbols, self.relocs, func_ids,
                      self.runtime_used - set(self.functions), self.source_name)

    def typedef(self, node: c_ast.Typedef) -> None:
        self.declare(node.name, Sym("typedef", self.decl_type(node.type)))

    def global_decl(self, d: c_ast.Decl) -> None:
        if d.name is None:
            self.decl_type(d.type)  # struct/union/enum declaration
            return
        t = self.decl_type(d.type)
        if isinstance(t, T.FuncType):
            self.func_types.setdefault(d.name, t)
            self.scopes[0][d.name] = Sym("func", self.func_types[d.name], d.name)
            return
        storage = d.storage or []
        self.scopes[0][d.name] = Sym("global", t, d.name)
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
                pt = self.decl_type(p.type)
                if pt == T.VOID:
                    continue
                param_nodes.append((p.name, T.decay(pt), p))
        if ftype.params is None and param_nodes:
            ftype = T.FuncType(ftype.ret, None, False)
        self.func_types[name] = self.func_types.get(name, ftype) if ftype.params is None else ftype
        self.scopes[0][name] = Sym("func", self.func_types[name], name)

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
        self.push()
        self.declare("__func__", Sym("global", T.ArrayType(T.CHAR, len(name) + 1), self.string_global(name.encode())))
        first = 1 if sret else 0
        for i, (pname, pt, _pnode) in enumerate(param_nodes):
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
        fn.finish()
        self.fn = None

    def check_labels_defined(self, node: c_ast.Node) -> None:
        defined = {ins[1] for ins in self.fn.code if ins[0] == "label"}
        for lname, lab in self.labels.items():
            if lab not in defined:
                raise CompileError(f"label '{lname}' used but not defined", node.coord)

    # ------------------------------------------------------------------ emission helpers
    def new(self) -> int:
        r = self.fn.nregs
        self.fn.nregs += 1
        return r

    def emit(self, *ins) -> None:
        self.fn.code.append(ins)

    def label(self) -> int:
        self.next_label += 1
        return self.next_label

    def place(self, lab: int) -> None:
        self.emit("label", lab)

    def const(self, value: int) -> int:
        r = self.new()
        self.emit("const", r, value & 0xFFFFFFFFFFFFFFFF)
        return r

    def frame_alloc(self, t: T.CType) -> int:
        a = max(t.align, 1)
        size = max(t.size, 1)
        self.fn.frame_size = -(-(self.fn.frame_size + size) // a) * a
        if self.fn.frame_size > (8 << 20):
            raise CompileError("stack frame over 8 MiB")
        return -self.fn.frame_size

    def load(self, addr: int, t: T.CType) -> int:
        d = self.new()
        if isinstance(t, T.StructType | T.ArrayType | T.FuncType):
            self.emit("mov", d, addr)
        elif t == T.FLOAT:
            self.emit("ldf32", d, addr)
        elif isinstance(t, T.FloatType) or isinstance(t, T.PointerType):
            self.emit("ld8", d, addr)
        elif isinstance(t, T.IntType):
            if t.size == 8:
                self.emit("ld8", d, addr)
            else:
                self.emit(f"ld{t.size}{'s' if t.signed else 'u'}", d, addr)
        else:
            raise CompileError(f"cannot load a value of type {t}")
        return d

    def store(self, addr: int, value: int, t: T.CType) -> None:
        if isinstance(t, T.StructType):
            self.emit("memcpy", addr, value, t.size, t.align)
        elif t == T.FLOAT:
            self.emit("stf32", addr, value)
        elif t.size in (1, 2, 4, 8):
            self.emit(f"st{t.size}", addr, value)
        else:
            raise CompileError(f"cannot store a value of type {t}")

    def addr_add(self, base: int, offset: int) -> int:
        if offset == 0:
            return base
        d = self.new()
        self.emit("add", d, base, self.const(offset))
        return d

    # ------------------------------------------------------------------ conversions
    def convert(self, v: Val, to: T.CType, node: c_ast.Node | None = None) -> Val:
        frm = v.ctype
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

    # ------------------------------------------------------------------ statements
    def stmt(self, node: c_ast.Node) -> None:
        method = getattr(self, "s_" + type(node).__name__, None)
        if method is None:
            if isinstance(node, _EXPR_NODES):
                self.expr(node)
                return
            raise unsupported(f"statement {type(node).__name__}", node)
        method(node)

    def compound(self, node: c_ast.Compound, new_scope: bool = True) -> None:
        if new_scope:
            self.push()
        for item in node.block_items or []:
            self.stmt(item)
        if new_scope:
            self.pop()

    def s_Compound(self, node: c_ast.Compound) -> None:
        self.compound(node)

    def s_EmptyStatement(self, node: c_ast.Node) -> None:
        pass

    def s_Pragma(self, node: c_ast.Node) -> None:
        pass

    def s_Typedef(self, node: c_ast.Typedef) -> None:
        self.typedef(node)

    def s_DeclList(self, node: c_ast.DeclList) -> None:
        for d in node.decls:
            self.s_Decl(d)

    def s_Decl(self, d: c_ast.Decl) -> None:
        if d.name is None:
            self.decl_type(d.type)
            return
        t = self.decl_type(d.type)
        storage = d.storage or []
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

    def s_If(self, node: c_ast.If) -> None:
        then, other, end = self.label(), self.label(), self.label()
        self.cond_jump(node.cond, then, other)
        self.place(then)
        if node.iftrue is not None:
            self.stmt(node.iftrue)
        self.emit("jmp", end)
        self.place(other)
        if node.iffalse is not None:
            self.stmt(node.iffalse)
        self.place(end)

    def s_While(self, node: c_ast.While) -> None:
        top, body, end = self.label(), self.label(), self.label()
        self.place(top)
        self.cond_jump(node.cond, body, end)
        self.place(body)
        self.loop_stack.append((end, top))
        if node.stmt is not None:
            self.stmt(node.stmt)
        self.loop_stack.pop()
        self.emit("jmp", top)
        self.place(end)

    def s_DoWhile(self, node: c_ast.DoWhile) -> None:
        top, cont, end = self.label(), self.label(), self.label()
        self.place(top)
        self.loop_stack.append((end, cont))
        if node.stmt is not None:
            self.stmt(node.stmt)
        self.loop_stack.pop()
        self.place(cont)
        self.cond_jump(node.cond, top, end)
        self.place(end)

    def s_For(self, node: c_ast.For) -> None:
        self.push()
        if node.init is not None:
            self.stmt(node.init)
        top, body, cont, end = self.label(), self.label(), self.label(), self.label()
        self.place(top)
        if node.cond is not None:
            self.cond_jump(node.cond, body, end)
        self.place(body)
        self.loop_stack.append((end, cont))
        if node.stmt is not None:
            self.stmt(node.stmt)
        self.loop_stack.pop()
        self.place(cont)
        if node.next is not None:
            self.expr(node.next)
        self.emit("jmp", top)
        self.place(end)
        self.pop()

    def s_Break(self, node: c_ast.Break) -> None:
        if not self.loop_stack:
            raise CompileError("'break' outside a loop or switch", node.coord)
        self.emit("jmp", self.loop_stack[-1][0])
        self.place(self.label())

    def s_Continue(self, node: c_ast.Continue) -> None:
        for _, cont in reversed(self.loop_stack):
            if cont >= 0:
                self.emit("jmp", cont)
                self.place(self.label())
                return
        raise CompileError("'continue' outside a loop", node.coord)

    def s_Switch(self, node: c_ast.Switch) -> None:
        v = self.rvalue(node.cond)
        if not v.ctype.is_integer:
            raise CompileError("switch on a non-integer", node.cond.coord)
        ct = T.promote(v.ctype)
        v = self.convert(v, ct)
        dispatch, end = self.label(), self.label()
        self.emit("jmp", dispatch)
        ctx = {"cases": [], "default": None, "type": ct}
        self.switch_stack.append(ctx)
        self.loop_stack.append((end, -1))
        self.stmt(node.stmt)
        self.loop_stack.pop()
        self.switch_stack.pop()
        self.emit("jmp", end)
        self.place(dispatch)
        for value, lab in ctx["cases"]:
            nxt = self.label()
            c = self.new()
            self.emit("eq", c, v.reg, self.const(value))
            self.emit("br", c, lab, nxt)
            self.place(nxt)
        self.emit("jmp", ctx["default"] if ctx["default"] is not None else end)
        self.place(end)

    def s_Case(self, node: c_ast.Case) -> None:
        if not self.switch_stack:
            raise CompileError("'case' outside a switch", node.coord)
        ctx = self.switch_stack[-1]
        t = ctx["type"]
        value = self.const_int(node.expr)
        value = _wrap(value, t)
        if any(value == v for v, _ in ctx["cases"]):
            raise CompileError(f"duplicate case value {value}", node.coord)
        lab = self.label()
        ctx["cases"].append((value, lab))
        self.place(lab)
        for s in node.stmts or []:
            self.stmt(s)

    def s_Default(self, node: c_ast.Default) -> None:
        if not self.switch_stack:
            raise CompileError("'default' outside a switch", node.coord)
        lab = self.label()
        self.switch_stack[-1]["default"] = lab
        self.place(lab)
        for s in node.stmts or []:
            self.stmt(s)

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

    def goto_label(self, name: str) -> int:
        if name not in self.labels:
            self.labels[name] = self.label()
        return self.labels[name]

    def s_Goto(self, node: c_ast.Goto) -> None:
        self.emit("jmp", self.goto_label(node.name))
        self.place(self.label())

    def s_Label(self, node: c_ast.Label) -> None:
        self.place(self.goto_label(node.name))
        if node.stmt is not None:
            self.stmt(node.stmt)

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
            addr = self.ptr_offset(base.reg, idx, base.ctype.target.size, node)
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
        if isinstance(node, c_ast.CompoundLiteral):
            v = self.e_CompoundLiteral(node)
            return LVal("mem", v.reg, v.ctype)
        if isinstance(node, c_ast.Constant) and node.type == "string":
            v = self.e_Constant(node)
            return LVal("mem", v.reg, v.ctype)
        if isinstance(node, c_ast.FuncCall | c_ast.Assignment | c_ast.TernaryOp | c_ast.ExprList):
            v = self.expr(node)
            if isinstance(v.ctype, T.StructType):
                return LVal("mem", v.reg, v.ctype)
        raise CompileError(f"expression is not an lvalue ({type(node).__name__})", node.coord)

    def ptr_offset(self, base: int, idx: Val, elem_size: int, node: c_ast.Node, negate: bool = False) -> int:
        i = self.convert(idx, T.LONG if idx.ctype.signed else T.ULONG).reg
        scaled = self.new()
        self.emit("mul", scaled, i, self.const(max(elem_size, 1)))
        d = self.new()
        self.emit("sub" if negate else "add", d, base, scaled)
        return d

    def e_ArrayRef(self, node: c_ast.ArrayRef) -> Val:
        return self.read(self.lvalue(node))

    def e_StructRef(self, node: c_ast.StructRef) -> Val:
        return self.read(self.lvalue(node))

    def e_CompoundLiteral(self, node: c_ast.CompoundLiteral) -> Val:
        t = self.sized_by_init(self.decl_type(node.type), node.init)
        off = self.frame_alloc(t)
        a = self.new()
        self.emit("fa", a, off)
        self.init_memory(a, t, node.init, zero=True)
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

    def e_UnaryOp(self, node: c_ast.UnaryOp) -> Val:
        op = node.op
        if op == "sizeof":
            if isinstance(node.expr, c_ast.Typename):
                t = self.decl_type(node.expr)
            else:
                t = self.type_of(node.expr)
            return Val(self.const(t.size), T.SIZE_T)
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

    def copy(self, v: Val) -> Val:
        d = self.new()
        self.emit("mov", d, v.reg)
        return Val(d, v.ctype)

    def add_value(self, old: Val, delta: int, node: c_ast.Node) -> Val:
        t = old.ctype
        d = self.new()
        if isinstance(t, T.PointerType):
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

    def type_of(self, node: c_ast.Node) -> T.CType:
        """Type of an expression without keeping its code (sizeof does not evaluate its operand)."""
        mark = len(self.fn.code) if self.fn else None
        saved_regs = self.fn.nregs if self.fn else None
        if self.fn is None:
            return ConstEval(self).type_only(node)
        t = self.expr(node).ctype
        del self.fn.code[mark:]
        self.fn.nregs = saved_regs
        return t

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
                self.emit("divs", d, diff, self.const(max(at.target.size, 1)))
                return Val(d, T.PTRDIFF_T)
            if isinstance(bt, T.PointerType):
                if op == "-":
                    raise CompileError("integer minus pointer", node.coord)
                a, b, at, bt = b, a, bt, at
            if not bt.is_integer:
                raise CompileError(f"pointer arithmetic with {bt}", node.coord)
            return Val(self.ptr_offset(a.reg, b, at.target.size, node, negate=(op == "-")), at)
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

    def defined_later(self) -> set[str]:
        return self._defined_names

    _defined_names: set[str] = set()


_EXPR_NODES = (c_ast.Assignment, c_ast.FuncCall, c_ast.UnaryOp, c_ast.BinaryOp, c_ast.ExprList, c_ast.ID,
               c_ast.Constant, c_ast.Cast, c_ast.TernaryOp, c_ast.ArrayRef, c_ast.StructRef, c_ast.CompoundLiteral)


def _wrap(value: int, t: T.CType) -> int:
    if isinstance(t, T.IntType):
        value &= (1 << t.bits) - 1
        if t.signed and value >> (t.bits - 1):
            value -= 1 << t.bits
    return value


class AddressTaken(c_ast.NodeVisitor):
    """Names whose address is taken somewhere in a function (those locals live in memory)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    @classmethod
    def of(cls, node: c_ast.Node) -> set[str]:
        v = cls()
        v.visit(node)
        return v.names

    def visit_UnaryOp(self, node: c_ast.UnaryOp) -> None:
        if node.op == "&":
            inner = node.expr
            while isinstance(inner, c_ast.StructRef | c_ast.ArrayRef) and getattr(inner, "type", ".") != "->":
                inner = inner.name
            if isinstance(inner, c_ast.ID):
                self.names.add(inner.name)
        self.generic_visit(node)


# --------------------------------------------------------------------------------------- literals

def decode_string(text: str, node: c_ast.Node) -> bytes:
    """A C string literal (already concatenated by pycparser) to bytes; a wide literal (L"...") to its
    code points as 4-byte little-endian wchar_t units."""
    if text.startswith("L"):
        raw = _unescape(text[2:-1].replace('"L"', '""'), node)
        return b"".join(ord(c).to_bytes(4, "little") for c in raw.decode("utf-8", "surrogateescape"))
    if text.startswith("u") or text.startswith("U"):
        raise unsupported("u/U string literal", node)
    if not (text.startswith('"') and text.endswith('"')):
        raise CompileError(f"bad string literal {text[:20]}", node.coord)
    return _unescape(text[1:-1], node)


_ESC = {"n": 10, "t": 9, "r": 13, "0": 0, "a": 7, "b": 8, "f": 12, "v": 11, "\\": 92, "'": 39, '"': 34, "?": 63,
        "e": 27}


def _unescape(s: str, node: c_ast.Node) -> bytes:
    out = bytearray()
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == '"':  # adjacent literal joint left by pycparser ("a" "b" -> a" "b)
            j = s.find('"', i + 1)
            i = j + 1
            continue
        if c != "\\":
            out.extend(c.encode("utf-8", "surrogateescape"))
            i += 1
            continue
        i += 1
        c = s[i]
        if c in "01234567":
            j = i
            while j < n and j < i + 3 and s[j] in "01234567":
                j += 1
            out.append(int(s[i:j], 8) & 0xFF)
            i = j
        elif c == "x":
            j = i + 1
            while j < n and s[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(s[i + 1:j], 16) & 0xFF)
            i = j
        elif c in _ESC:
            out.append(_ESC[c])
            i += 1
        else:
            raise CompileError(f"unknown escape '\\{c}'", node.coord)
    return bytes(out)


def parse_constant(node: c_ast.Constant) -> tuple[int | float, T.CType]:
    text = node.value
    kind = node.type
    if kind == "char":
        wide = text.startswith("L")
        if wide:
            text = text[1:]
        raw = _unescape(text[1:-1], node)
        if wide:
            chars = raw.decode("utf-8", "surrogateescape")
            if len(chars) != 1:
                raise unsupported("multi-character wide constant", node)
            return ord(chars), T.INT
        if len(raw) != 1:
            raise unsupported("multi-character constant", node)
        v = raw[0]
        return (v - 256 if v >= 128 else v), T.INT
    if kind in ("float", "double", "long double") or (
            not text.lower().startswith("0x") and any(c in text for c in ".eE")) or (
            text.lower().startswith("0x") and "p" in text.lower()):
        t = T.DOUBLE
        body = text
        if body[-1] in "fF":
            t = T.FLOAT
            body = body[:-1]
        elif body[-1] in "lL":
            body = body[:-1]
        v = float.fromhex(body) if body.lower().startswith("0x") else float(body)
        return (_f32(v) if t == T.FLOAT else v), t
    body = text.rstrip("uUlL")
    suffix = text[len(body):].lower()
    if body.lower().startswith("0x"):
        v, base = int(body, 16), 16
    elif body.lower().startswith("0b"):
        v, base = int(body[2:], 2), 16
    elif len(body) > 1 and body.startswith("0"):
        v, base = int(body, 8), 8
    else:
        v, base = int(body), 10
    uns = "u" in suffix
    longs = suffix.count("l")
    cands: list[T.IntType]
    if base == 10:
        cands = [T.INT, T.LONG, T.LLONG] if not uns else [T.UINT, T.ULONG, T.ULLONG]
    else:
        cands = [T.INT, T.UINT, T.LONG, T.ULONG, T.LLONG, T.ULLONG] if not uns else [T.UINT, T.ULONG, T.ULLONG]
    if longs:
        cands = [c for c in cands if c.rank >= (4 if longs == 1 else 5)]
    for c in cands:
        if v < (1 << (c.bits - (1 if c.signed else 0))):
            return v, c
    if v < (1 << 64):
        return v, T.ULLONG if base != 10 or uns else T.ULONG
    raise CompileError(f"integer constant {text} too large", node.coord)


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

    def c_UnaryOp(self, node):
        op = node.op
        if op == "sizeof":
            if isinstance(node.expr, c_ast.Typename):
                t = self.lw.decl_type(node.expr)
            elif self.lw.fn is not None:
                t = self.lw.type_of(node.expr)
            else:
                t = self.ev(node.expr)[1]
            return t.size, T.SIZE_T
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
