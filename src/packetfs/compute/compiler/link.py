"""The linker: a program's module + the C runtime's module -> one module, with the layout symbols.

Functions the program defines win over the runtime's (C's interposition); only functions reachable from
`main` are kept. Data images are concatenated; a runtime symbol whose name the program also uses is
renamed. `__pfx_heap_start` / `__pfx_heap_end` are defined here from the memory layout."""

from __future__ import annotations

from functools import lru_cache

from .errors import CompileError
from .ir import Function, Module
from .lower import FUNC_BASE

HEAP_START = "__pfx_heap_start"
HEAP_END = "__pfx_heap_end"


@lru_cache(maxsize=1)
def runtime_module() -> Module:
    from .driver import compile_source
    from .runtime_c import RUNTIME_SOURCE

    return compile_source(RUNTIME_SOURCE, "<packetfs-libc>", require_main=False)


def link(user: Module, heap_end_offset: int) -> Module:
    """heap_end_offset: where the heap stops, as an offset from the start of the data image."""
    if "main" not in user.functions:
        raise CompileError("no function 'main' defined", user.source_name)
    rt = runtime_module()
    data = bytearray(user.data)
    base = (len(data) + 15) & ~15
    data.extend(b"\0" * (base - len(data)))
    symbols = dict(user.symbols)
    rename: dict[str, str] = {}
    for name, off in rt.symbols.items():
        new = name if name not in symbols else f"rt:{name}"
        rename[name] = new
        symbols[new] = base + off
    data.extend(rt.data)
    relocs = list(user.relocs)
    functions: dict[str, Function] = dict(user.functions)
    for off, kind, sym, addend in rt.relocs:
        relocs.append((base + off, kind, rename.get(sym, sym) if kind == "data" else sym, addend))
    for name, fn in rt.functions.items():
        if name in functions:
            continue
        code = [("ga", ins[1], rename.get(ins[2], ins[2]), ins[3]) if ins[0] == "ga" else ins for ins in fn.code]
        functions[name] = Function(fn.name, fn.nparams, code, fn.nregs, fn.frame_size, fn.variadic)
    heap_start = (len(data) + 15) & ~15
    if heap_start + 4096 > heap_end_offset:
        raise CompileError(f"program data ({len(data)} bytes) does not fit the memory layout")
    symbols[HEAP_START] = heap_start
    symbols[HEAP_END] = heap_end_offset
    # keep what main reaches
    keep: set[str] = set()
    todo = ["main"]
    todo += [sym for _, kind, sym, _ in relocs if kind == "func"]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        fn = functions.get(name)
        if fn is None:
            raise CompileError(f"undefined reference to function '{name}'", user.source_name)
        keep.add(name)
        for ins in fn.code:
            if ins[0] in ("call", "fn") and ins[2] not in keep:
                todo.append(ins[2])
            elif ins[0] == "ga" and ins[2] not in symbols:
                raise CompileError(f"undefined reference to '{ins[2]}' (in {name})", user.source_name)
    order = [n for n in functions if n in keep]
    functions = {n: functions[n] for n in order}
    func_ids = {n: FUNC_BASE + 16 * i for i, n in enumerate(order)}
    for _, kind, sym, _ in relocs:
        if kind == "data" and sym not in symbols:
            raise CompileError(f"undefined reference to '{sym}'", user.source_name)
    return Module(functions, data, symbols, relocs, func_ids, set(), user.source_name)
