"""Semantic analysis and lowering: pycparser's AST -> IR (ir.py).

`Lowerer` checks types and emits IR while it walks a function (C is simple enough that both happen in one
walk, as in a one-pass compiler). It is put together from one part per kind of construct it lowers:

  base.py          scopes and the IR emission helpers
  types.py         declarators and specifiers -> C types (ctype.py), struct/union/enum definitions
  decls.py         the translation unit, globals, local declarations and their initialisers
  initializers.py  initialiser lists (brace elision, designators) and static data images
  consteval.py     constant expressions (array sizes, case labels, static initialisers)
  statements.py    blocks, if, loops, switch, goto
  expressions.py   conversions, operators, lvalues, assignment
  calls.py         function definitions, return, calls and intrinsics
  literals.py      string, character and number literals
  generic.py       qualified types and C11 _Generic
  vla.py           variable-length arrays
  common.py        the runtime's signatures, values and symbols shared by all of them

Every visitor's default raises an "unsupported" CompileError carrying file:line:column, so nothing is
silently skipped.
"""

from __future__ import annotations

from .calls import CallLowering
from .common import FUNC_BASE, RUNTIME
from .decls import DeclLowering
from .expressions import ExprLowering
from .generic import GenericLowering, NeedQualifiedTypes
from .statements import StmtLowering
from .types import TypeLowering
from .vla import VlaLowering

__all__ = ["FUNC_BASE", "RUNTIME", "Lowerer", "NeedQualifiedTypes"]


class Lowerer(DeclLowering, CallLowering, StmtLowering, ExprLowering, GenericLowering, VlaLowering,
              TypeLowering):
    """One translation unit's lowering: `Lowerer(name).lower(ast)` gives its Module."""
