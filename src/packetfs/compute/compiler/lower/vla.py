"""Variable-length arrays (C99 6.7.5.2, gcc's semantics where C leaves room).

A block-scope `T a[n]` (also `T a[n][m]`, `T a[n][3]`) gets its size in bytes computed in a register when
the declaration runs (the size expressions are evaluated once, there; `sizeof a` reads that register).
Its storage is on a second stack kept by the runtime (runtime_c.py), growing down from the end of the
heap towards malloc's blocks (the fabric's stack frames have a size fixed when the function is
compiled), and its address is kept in an 8-byte frame slot:

- a function with VLAs takes the VLA stack's mark on entry (a frame slot) and releases to it before
  every `return`;
- a declaration allocates right below the innermost VLA still in scope (or the mark): which VLAs are
  in scope is known at compile time, so the storage of any VLA whose scope was left by a jump (`break`,
  `continue`, `goto` backwards over the declaration) is reused there, as gcc's stack pointer does;
- leaving a block normally releases the VLAs declared in it.

A VLA larger than the free memory is a fault (trap 6), as gcc's would overflow the stack; reaching a VLA
declaration's scope by a jump past it (which gcc rejects) faults too (trap 7).

Parameters `T a[n]` are adjusted to `T *` (the size is not needed; it must have no side effects, since
it is not evaluated). Not supported, each an error with its location: VLAs with static storage or an
initialiser, a parameter with a runtime size below the first dimension (`int a[n][m]`), a size with side
effects where it is not evaluated, and any use that needs a VLA type's size as a constant.
"""

from __future__ import annotations

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError
from .base import LowererBase
from .common import Sym, unsupported


def has_side_effects(node: c_ast.Node) -> bool:
    if isinstance(node, c_ast.Assignment | c_ast.FuncCall):
        return True
    if isinstance(node, c_ast.UnaryOp) and node.op in ("++", "--", "p++", "p--"):
        return True
    return any(has_side_effects(child) for _, child in node.children())


class VlaLowering(LowererBase):
    """VLA types, their storage and its release."""

    def vla_type(self, elem: T.CType, dim: c_ast.Node, node: c_ast.Node) -> T.VlaType:
        """The type `elem[dim]` for a dim known at run time: evaluates dim now."""
        if self.fn is None:
            raise CompileError("variable-length array outside a function", node.coord)
        if has_side_effects(dim):
            raise unsupported("a variable-length array size with side effects", node)
        if isinstance(elem, T.VlaType):
            scale = elem.size_reg
        else:
            if not self.complete(elem) or isinstance(elem, T.FuncType):
                raise CompileError(f"array of incomplete type {elem}", node.coord)
            scale = self.const(elem.size)
        n = self.rvalue(dim)
        if not n.ctype.is_integer:
            raise CompileError("size of array has non-integer type", dim.coord)
        count = self.convert(n, T.ULONG).reg
        size = self.new()
        self.emit("mul", size, count, scale)
        return T.VlaType(elem, None, size)

    def vla_of_length(self, elem: T.VlaType, length: int) -> T.VlaType:
        """`elem[length]` for a constant length and a VLA elem."""
        size = self.new()
        self.emit("mul", size, elem.size_reg, self.const(length))
        return T.VlaType(elem, None, size)

    def size_value(self, t: T.CType) -> int:
        """A register holding sizeof t (a VLA's is computed at run time)."""
        if isinstance(t, T.VlaType):
            return t.size_reg
        return self.const(t.size)

    def check_vla_kept(self, t: T.CType, first_new_reg: int, node: c_ast.Node) -> None:
        """type_of drops the code it lowered: a VLA type whose size was computed there cannot be used."""
        while isinstance(t, T.PointerType | T.ArrayType):
            if isinstance(t, T.VlaType) and t.size_reg >= first_new_reg:
                raise unsupported("a variable-length array type written inside sizeof's operand", node)
            t = t.target if isinstance(t, T.PointerType) else t.elem

    # ------------------------------------------------------------------ storage
    def vla_base(self) -> int:
        """A register holding where the next VLA goes below: the start of the innermost VLA in scope, or
        the function's mark."""
        a, r = self.new(), self.new()
        self.emit("fa", a, self.vla_live[-1] if self.vla_live else self.vla_mark_slot)
        self.emit("ld8", r, a)
        return r

    def declare_vla(self, d: c_ast.Decl, t: T.VlaType) -> None:
        storage = d.storage or []
        if "static" in storage or "extern" in storage:
            raise CompileError(f"variable-length array '{d.name}' with static storage", d.coord)
        if d.init is not None:
            raise CompileError(f"variable-length array '{d.name}' cannot be initialised", d.coord)
        entry: list[tuple] = []
        if self.vla_mark_slot is None:  # the function's first VLA: take the mark on entry
            self.vla_mark_slot = self.frame_alloc(T.PointerType(T.VOID))
            self.runtime_used.add("__pfx_vla_mark")
            m, a = self.new(), self.new()
            entry += [("call", m, "__pfx_vla_mark", ()), ("fa", a, self.vla_mark_slot), ("st8", a, m)]
        slot = self.frame_alloc(T.PointerType(T.VOID))
        a0, z0 = self.new(), self.new()  # NULL until the declaration runs (the runtime traps on it)
        entry += [("fa", a0, slot), ("const", z0, 0), ("st8", a0, z0)]
        self.fn.code[0:0] = entry
        self.runtime_used.add("__pfx_vla_alloc")
        p = self.new()
        self.emit("call", p, "__pfx_vla_alloc", (self.vla_base(), t.size_reg))
        a = self.new()
        self.emit("fa", a, slot)
        self.emit("st8", a, p)
        self.vla_live.append(slot)
        self.declare(d.name, Sym("vla", t, slot))

    def release_vlas(self) -> None:
        self.runtime_used.add("__pfx_vla_release")
        self.emit("call", None, "__pfx_vla_release", (self.vla_base(),))

    def free_block_vlas(self, mark: int) -> None:
        """At the normal end of a block: release the VLAs declared in it (vla_live[mark:])."""
        if len(self.vla_live) > mark:
            del self.vla_live[mark:]
            self.release_vlas()

    def free_vlas_on_return(self) -> None:
        """Before every `ret` of a function with VLAs: release the VLA stack to the function's mark."""
        if self.vla_mark_slot is None:
            return
        code = self.fn.code
        if not code or code[-1][0] != "ret":
            code.append(("ret", None))  # falling off the end
        self.vla_live = []
        out: list[tuple] = []
        for ins in code:
            if ins[0] == "ret":
                self.fn.code = out
                self.release_vlas()
            out.append(ins)
        self.fn.code = out
