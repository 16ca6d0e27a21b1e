"""The compiler's IR: three-address code over 64-bit virtual registers (see docs/compiler.md).

Every value is a 64-bit pattern: integers as their two's-complement value mod 2**64 (a signed type
narrower than 64 bits is kept sign-extended, an unsigned one zero-extended, so 64-bit compares give C's
answer), floating values as IEEE binary64 bits (a `float` is a double whose value is exactly a binary32,
rounded by `f32r` after each float operation). Memory is byte-addressed, little-endian.

An instruction is a tuple whose first item is the opcode (a string); the operand layout per opcode is in
OPERANDS. Registers are ints (r0 .. rN-1 per function); labels are resolved to instruction indices by
`Function.finish`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# opcode -> operand kinds: d = destination register, r = source register, i = immediate int,
# l = label/instruction index, s = symbol name, R = list of registers
OPERANDS: dict[str, str] = {
    "const": "di", "mov": "dr",
    **{op: "drr" for op in ("add", "sub", "mul", "divs", "divu", "mods", "modu", "and", "or", "xor",
                             "shl", "shr", "sar", "eq", "ne", "lts", "ltu", "les", "leu",
                             "fadd", "fsub", "fmul", "fdiv", "feq", "fne", "flt", "fle")},
    **{op: "dr" for op in ("neg", "not", "sext8", "sext16", "sext32", "zext8", "zext16", "zext32",
                            "fneg", "f32r", "i2f", "u2f", "f2i", "f2u", "fsqrt")},
    **{op: "dr" for op in ("ld1s", "ld1u", "ld2s", "ld2u", "ld4s", "ld4u", "ld8", "ldf32")},
    **{op: "rr" for op in ("st1", "st2", "st4", "st8", "stf32")},
    "memcpy": "rrii",  # dst address, src address, size, alignment
    "ga": "dsi",   # d = address of global symbol + offset
    "fa": "di",    # d = frame pointer + offset
    "fn": "ds",    # d = code address of function
    "jmp": "l",
    "br": "rll",   # if r != 0 goto l1 else l2
    "call": "dsR",   # d may be None; s is a function name (user or runtime)
    "calli": "drR",
    "ret": "r",      # r may be None
    "label": "l",
    "emit": "iri",   # EMIT tag, value register, width (program output, see runtime_c.py)
    "halt": "r",     # the program ends with this exit status (C's exit)
    "trap": "r",     # the program aborts (abort, failed assert)
}

INT_BINARY = {"add", "sub", "mul", "divs", "divu", "mods", "modu", "and", "or", "xor", "shl", "shr", "sar",
              "eq", "ne", "lts", "ltu", "les", "leu"}
FLOAT_BINARY = {"fadd", "fsub", "fmul", "fdiv", "feq", "fne", "flt", "fle"}
UNARY = {"neg", "not", "sext8", "sext16", "sext32", "zext8", "zext16", "zext32", "fneg", "f32r", "i2f", "u2f",
         "f2i", "f2u", "fsqrt"}
LOADS = {"ld1s": (1, True), "ld1u": (1, False), "ld2s": (2, True), "ld2u": (2, False), "ld4s": (4, True),
         "ld4u": (4, False), "ld8": (8, False), "ldf32": (4, None)}
STORES = {"st1": 1, "st2": 2, "st4": 4, "st8": 8, "stf32": 4}


@dataclass
class Function:
    name: str
    nparams: int                 # registers r0..nparams-1 hold the arguments on entry
    code: list[tuple] = field(default_factory=list)
    nregs: int = 0
    frame_size: int = 0
    variadic: bool = False       # the last parameter register holds the address of the spilled varargs

    def finish(self) -> None:
        """Resolve labels to instruction indices and drop the label pseudo-instructions."""
        where: dict[int, int] = {}
        out: list[tuple] = []
        for ins in self.code:
            if ins[0] == "label":
                where[ins[1]] = len(out)
            else:
                out.append(ins)
        resolved = []
        for ins in out:
            op = ins[0]
            if op == "jmp":
                ins = ("jmp", where[ins[1]])
            elif op == "br":
                ins = ("br", ins[1], where[ins[2]], where[ins[3]])
            resolved.append(ins)
        if not resolved or resolved[-1][0] not in ("ret", "jmp") or len(out) in where.values():
            resolved.append(("ret", None))
        self.code = resolved
        self.frame_size = (self.frame_size + 15) & ~15


@dataclass
class Module:
    """A linked program: functions, the initialised data image and where each global lives."""

    functions: dict[str, Function]
    data: bytearray                  # image loaded at DATA_BASE
    symbols: dict[str, int]          # global name -> offset in data
    relocs: list[tuple[int, str, str, int]]  # (offset in data, kind 'data'|'func', symbol, addend)
    func_ids: dict[str, int]         # function name (user or runtime) -> code address
    runtime_used: set[str]
    source_name: str = "<input>"

    def format(self) -> str:
        lines = [f"; module {self.source_name}: {len(self.functions)} functions, {len(self.data)} bytes of data"]
        for name, off in sorted(self.symbols.items(), key=lambda kv: kv[1]):
            lines.append(f"global {name} @ data+{off}")
        for fn in self.functions.values():
            lines.append("")
            lines.append(f"func {fn.name}(params={fn.nparams}{', variadic' if fn.variadic else ''}) "
                         f"regs={fn.nregs} frame={fn.frame_size}")
            for i, ins in enumerate(fn.code):
                lines.append(f"  {i:4d}  {format_instr(ins)}")
        return "\n".join(lines)


def format_instr(ins: tuple) -> str:
    op = ins[0]
    kinds = OPERANDS[op]
    parts = []
    for kind, val in zip(kinds, ins[1:], strict=False):
        if val is None:
            parts.append("_")
        elif kind in "dr":
            parts.append(f"r{val}")
        elif kind == "l":
            parts.append(f"@{val}")
        elif kind == "R":
            parts.append("(" + ", ".join(f"r{v}" for v in val) + ")")
        else:
            parts.append(str(val))
    return f"{op} " + ", ".join(parts)
