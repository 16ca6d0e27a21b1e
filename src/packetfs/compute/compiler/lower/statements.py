"""Statements: blocks, if, loops, switch/case, break/continue, goto and labels."""

from __future__ import annotations

from pycparser import c_ast

from .. import ctype as T
from ..errors import CompileError
from .base import LowererBase
from .common import _EXPR_NODES, _wrap, unsupported


class StmtLowering(LowererBase):
    """Statements to IR control flow."""

    # ------------------------------------------------------------------ statements
    def stmt(self, node: c_ast.Node) -> None:
        method = getattr(self, "s_" + type(node).__name__, None)
        if method is None:
            if isinstance(node, _EXPR_NODES):
                if isinstance(node, c_ast.FuncCall):
                    self.discarded_call = node  # its value is not used (calls.py)
                self.expr(node)
                return
            raise unsupported(f"statement {type(node).__name__}", node)
        try:
            method(node)
        except CompileError as e:
            if e.where or node.coord is None:
                raise
            raise CompileError(e.message, node.coord) from e  # give a location-less error this statement's

    def compound(self, node: c_ast.Compound, new_scope: bool = True) -> None:
        if new_scope:
            self.push()
        mark = len(self.vla_live)
        for item in node.block_items or []:
            self.stmt(item)
        self.free_block_vlas(mark)
        if new_scope:
            self.pop()

    def s_Compound(self, node: c_ast.Compound) -> None:
        self.compound(node)

    def s_EmptyStatement(self, node: c_ast.Node) -> None:
        pass

    def s_Pragma(self, node: c_ast.Node) -> None:
        pass


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
        ctx = {"cases": [], "default": None, "type": ct, "vla": set(self.vla_live)}
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
        self.check_case_vla(ctx, node)
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
        self.check_case_vla(self.switch_stack[-1], node)
        lab = self.label()
        self.switch_stack[-1]["default"] = lab
        self.place(lab)
        for s in node.stmts or []:
            self.stmt(s)


    def check_case_vla(self, ctx: dict, node: c_ast.Node) -> None:
        if not set(self.vla_live) <= ctx["vla"]:
            raise CompileError("switch jumps into the scope of a variable-length array", node.coord)

    def check_vla_jumps(self) -> None:
        """A goto may not jump into the scope of a VLA (past its declaration), as gcc says."""
        for name, at_goto, coord in self.vla_gotos:
            if not set(self.vla_labels.get(name, ())) <= set(at_goto):
                raise CompileError(f"goto '{name}' jumps into the scope of a variable-length array", coord)

    def goto_label(self, name: str) -> int:
        if name not in self.labels:
            self.labels[name] = self.label()
        return self.labels[name]

    def s_Goto(self, node: c_ast.Goto) -> None:
        self.emit("jmp", self.goto_label(node.name))
        self.place(self.label())
        self.vla_gotos.append((node.name, tuple(self.vla_live), node.coord))

    def s_Label(self, node: c_ast.Label) -> None:
        self.place(self.goto_label(node.name))
        self.vla_labels[node.name] = tuple(self.vla_live)
        if node.stmt is not None:
            self.stmt(node.stmt)
