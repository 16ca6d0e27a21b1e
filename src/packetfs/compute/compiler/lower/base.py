"""The lowering's state: scopes and the IR emission helpers every other part uses."""

from __future__ import annotations

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError
from ..ir import Function
from .common import RUNTIME, Sym


class LowererBase(c_ast.NodeVisitor):
    """Scopes, the function being built, and emitting IR into it."""

    def __init__(self, source_name: str = "<input>") -> None:
        self.source_name = source_name
        self.scopes: list[dict[str, Sym]] = [{}]
        self.tags: list[dict[str, T.StructType | str]] = [{}]
        self.struct_defs: dict[int, T.StructType] = {}  # id(definition node) -> its type
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
        if a > 16:  # frames are 16-byte aligned; a stricter alignment (aligned(N)) would not hold
            raise CompileError(f"unsupported: a local object of type {t} aligned to {a} bytes (over 16)")
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

    alignof_at: set[str] = set()

    def is_alignof(self, node: c_ast.UnaryOp) -> bool:
        """Whether this `sizeof` was written `_Alignof` (frontend.py parses it as sizeof)."""
        if not self.alignof_at or node.coord is None:
            return False
        where = f"{node.coord.file}:{node.coord.line}:{node.coord.column}"
        if where in self.alignof_at:
            self.alignof_used.add(where)
            return True
        return False

    def addr_add(self, base: int, offset: int) -> int:
        if offset == 0:
            return base
        d = self.new()
        self.emit("add", d, base, self.const(offset))
        return d


    def defined_later(self) -> set[str]:
        return self._defined_names

    _defined_names: set[str] = set()
