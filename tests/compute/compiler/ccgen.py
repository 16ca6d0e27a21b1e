"""A generator of random, well-defined C programs for differential testing against gcc.

No undefined behaviour by construction (as Csmith does it): every signed operation that can overflow
goes through a checking function that falls back to an operand; division and remainder by zero (and
MIN / -1) are guarded; shift counts are masked below the promoted width and signed left shifts only
shift non-negative values that stay in range; array indexes are reduced modulo the length; loops have
constant trip counts; functions only call functions defined before them (no recursion). Implementation-
defined behaviour is gcc's on x86-64 (narrowing conversions wrap, >> of a negative value is arithmetic).
Each program prints a checksum of everything it computed, plus some values through printf conversions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

INT_TYPES = [
    # name, bits, signed, printf length, min, max
    ("signed char", 8, True), ("unsigned char", 8, False), ("short", 16, True), ("unsigned short", 16, False),
    ("int", 32, True), ("unsigned int", 32, False), ("long", 64, True), ("unsigned long", 64, False),
    ("long long", 64, True), ("unsigned long long", 64, False),
]
RANK = {"signed char": 1, "unsigned char": 1, "short": 2, "unsigned short": 2, "int": 3, "unsigned int": 3,
        "long": 4, "unsigned long": 4, "long long": 5, "unsigned long long": 5}
BITS = {n: b for n, b, _ in INT_TYPES}
SIGNED = {n: s for n, _, s in INT_TYPES}
SUFFIX = {"int": "i", "long": "l", "long long": "ll"}
MAXV = {"int": "2147483647", "long": "9223372036854775807L", "long long": "9223372036854775807LL"}

SAFE_BODIES = {
    "add": "static T safe_add_S(T a, T b) { if ((b > 0 && a > MAX - b) || (b < 0 && a < -MAX - 1 - b)) return a; return a + b; }",
    "sub": "static T safe_sub_S(T a, T b) { if ((b < 0 && a > MAX + b) || (b > 0 && a < -MAX - 1 + b)) return a; return a - b; }",
    "mul": "static T safe_mul_S(T a, T b) { unsigned long long ua = a < 0 ? 0ULL - (unsigned long long)a : (unsigned long long)a; "
           "unsigned long long ub = b < 0 ? 0ULL - (unsigned long long)b : (unsigned long long)b; "
           "if (ub != 0 && ua > (unsigned long long)MAX / ub) return a; return a * b; }",
    "div": "static T safe_div_S(T a, T b) { if (b == 0 || (a == -MAX - 1 && b == -1)) return a; return a / b; }",
    "mod": "static T safe_mod_S(T a, T b) { if (b == 0 || (a == -MAX - 1 && b == -1)) return a; return a % b; }",
    "neg": "static T safe_neg_S(T a) { if (a == -MAX - 1) return a; return -a; }",
    "shl": "static T safe_shl_S(T a, int n) { n &= (int)(sizeof(T) * 8 - 1); if (a < 0 || a > (MAX >> n)) return a; return a << n; }",
}
SAFE_TYPES = {"i": ("int", "2147483647"), "l": ("long", "9223372036854775807L"), "ll": ("long long", "9223372036854775807LL")}
MIX = """static unsigned long long crc;
static void mix(unsigned long long v) { crc = (crc ^ v) * 1099511628211ULL + (crc >> 29); }
"""


def prelude(used: set[str]) -> str:
    """The checking functions a program uses ('add_i', 'shl_ll', ...), then the checksum."""
    out = []
    for key in sorted(used):
        op, suffix = key.split("_")
        t, mx = SAFE_TYPES[suffix]
        out.append(SAFE_BODIES[op].replace("safe_" + op + "_S", f"safe_{op}_{suffix}").replace("MAX", mx)
                   .replace("T ", t + " ").replace("(T)", f"({t})"))
    return "\n".join(out) + "\n" + MIX


def promote(t: str) -> str:
    return "int" if RANK[t] < 3 else t


def arith(a: str, b: str) -> str:
    a, b = promote(a), promote(b)
    if a == b:
        return a
    if SIGNED[a] == SIGNED[b]:
        return a if RANK[a] >= RANK[b] else b
    u, s = (a, b) if not SIGNED[a] else (b, a)
    if RANK[u] >= RANK[s]:
        return u
    if BITS[s] > BITS[u]:
        return s
    return "unsigned " + s if not s.startswith("unsigned") else s


def _canon(t: str) -> str:
    return {"unsigned long long": "unsigned long long", "unsigned int": "unsigned int"}.get(t, t)


@dataclass
class Var:
    name: str
    ctype: str
    kind: str = "scalar"   # scalar, array (length), struct field path
    length: int = 0


class Gen:
    def __init__(self, seed: int, prefix: str = "", small: bool = True) -> None:
        self.r = random.Random(seed)
        self.small = small
        self.max_depth = 2 if small else 3
        self.used: set[str] = set()
        self.p = prefix
        self.lines: list[str] = []
        self.funcs: list[tuple[str, str, list[str]]] = []  # name, return type, param types
        self.globals: list[Var] = []
        self.struct_fields: list[tuple[str, str]] = []
        self.depth = 0

    def itype(self) -> str:
        return self.r.choice(INT_TYPES)[0]

    def literal(self, t: str) -> str:
        r = self.r
        bits, signed = BITS[t], SIGNED[t]
        choice = r.random()
        if choice < 0.3:
            v = r.randint(-8, 8) if signed else r.randint(0, 16)
        elif choice < 0.6:
            v = r.randint(-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else r.randint(0, (1 << bits) - 1)
        else:
            edge = [0, 1, -1, (1 << (bits - 1)) - 1, -(1 << (bits - 1)), (1 << bits) - 1, 1 << (bits - 1)]
            v = r.choice(edge)
            if signed:
                v = max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, v))
            else:
                v %= 1 << bits
        suffix = {"int": "", "unsigned int": "U", "long": "L", "unsigned long": "UL", "long long": "LL",
                  "unsigned long long": "ULL"}.get(t)
        if suffix is None:  # char and short: an int constant converted
            return f"(({t}){v})" if v >= 0 else f"(({t})({v}))"
        if v < 0:
            return f"({v + 1}{suffix} - 1)" if v == -(1 << (bits - 1)) else f"({v}{suffix})"
        return f"{v}{suffix}"

    # ------------------------------------------------------------------ expressions
    def expr(self, want: str, scope: list[Var], depth: int = 0) -> str:
        """An expression converted to type `want`."""
        e, t = self.raw_expr(scope, depth)
        return f"(({want}){e})"

    def raw_expr(self, scope: list[Var], depth: int) -> tuple[str, str]:
        r = self.r
        if depth > self.max_depth or r.random() < 0.25:
            return self.leaf(scope)
        k = r.random()
        if k < 0.45:
            a, at = self.raw_expr(scope, depth + 1)
            b, bt = self.raw_expr(scope, depth + 1)
            return self.binary(a, at, b, bt)
        if k < 0.55:
            a, at = self.raw_expr(scope, depth + 1)
            op = r.choice(["-", "~", "!", "+"])
            pt = promote(at)
            if op == "-" and SIGNED[pt]:
                self.used.add(f"neg_{SUFFIX[pt]}")
                return f"safe_neg_{SUFFIX[pt]}(({pt}){a})", pt
            if op == "!":
                return f"(!{a})", "int"
            return f"({op}({pt}){a})", pt
        if k < 0.65:
            c, _ = self.raw_expr(scope, depth + 1)
            a, at = self.raw_expr(scope, depth + 1)
            b, bt = self.raw_expr(scope, depth + 1)
            t = arith(at, bt)
            return f"({c} ? ({t}){a} : ({t}){b})", t
        if k < 0.72:
            a, at = self.raw_expr(scope, depth + 1)
            t = self.itype()
            return f"(({t}){a})", t
        if k < 0.86:
            a, at = self.raw_expr(scope, depth + 1)
            b, bt = self.raw_expr(scope, depth + 1)
            op = r.choice(["&&", "||"])
            return f"({a} {op} {b})", "int"
        a, at = self.raw_expr(scope, depth + 1)
        b, bt = self.raw_expr(scope, depth + 1)
        op = r.choice(["<", ">", "<=", ">=", "==", "!="])
        return f"({a} {op} {b})", "int"

    def binary(self, a: str, at: str, b: str, bt: str) -> tuple[str, str]:
        r = self.r
        op = r.choice(["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"])
        if op in ("<<", ">>"):
            pt = promote(at)
            bits = BITS[pt]
            if SIGNED[pt] and op == "<<":
                self.used.add(f"shl_{SUFFIX[pt]}")
                return f"safe_shl_{SUFFIX[pt]}(({pt}){a}, (int)({b} & {bits - 1}))", pt
            return f"(({pt}){a} {op} ({b} & {bits - 1}))", pt
        t = arith(at, bt)
        if op in ("&", "|", "^"):
            return f"({a} {op} {b})", t
        if SIGNED[t]:
            name = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod"}[op]
            self.used.add(f"{name}_{SUFFIX[t]}")
            return f"safe_{name}_{SUFFIX[t]}(({t}){a}, ({t}){b})", t
        if op in ("/", "%"):
            return f"(({t}){b} ? ({t}){a} {op} ({t}){b} : ({t}){a})", t
        return f"(({t}){a} {op} ({t}){b})", t

    def leaf(self, scope: list[Var]) -> tuple[str, str]:
        r = self.r
        if scope and r.random() < 0.75:
            v = r.choice(scope)
            if v.kind == "array":
                idx, _ = self.leaf([s for s in scope if s.kind == "scalar"] or [])
                return f"{v.name}[(unsigned long){idx} % {v.length}]", v.ctype
            return v.name, v.ctype
        t = self.itype()
        return self.literal(t), t

    def lvalue(self, scope: list[Var]) -> Var | None:
        cands = [v for v in scope if not v.name.startswith("(") and not v.name.startswith("p_")]
        return self.r.choice(cands) if cands else None

    # ------------------------------------------------------------------ statements
    def stmt(self, scope: list[Var], out: list[str], indent: str, depth: int, loop_vars: list[str]) -> None:
        r = self.r
        k = r.random()
        if k < 0.45 or depth > (1 if self.small else 2):
            v = self.lvalue(scope)
            if v is None:
                return
            target = v.name
            if v.kind == "array":
                idx = self.expr("unsigned long", [s for s in scope if s.kind == "scalar"], 2)
                target = f"{v.name}[{idx} % {v.length}]"
            if not SIGNED[v.ctype] and r.random() < 0.3:
                # (unsigned short * unsigned short is an int multiplication that can overflow)
                op = r.choice(["+=", "-=", "^=", "|=", "&="] + (["*="] if v.ctype != "unsigned short" else []))
                out.append(f"{indent}{target} {op} {self.expr(v.ctype, scope)};")
            else:
                out.append(f"{indent}{target} = {self.expr(v.ctype, scope)};")
            return
        if k < 0.6:
            out.append(f"{indent}if ({self.expr('int', scope, 2)}) {{")
            for _ in range(r.randint(1, 3)):
                self.stmt(scope, out, indent + "    ", depth + 1, loop_vars)
            out.append(f"{indent}}} else {{")
            for _ in range(r.randint(0, 2)):
                self.stmt(scope, out, indent + "    ", depth + 1, loop_vars)
            out.append(f"{indent}}}")
            return
        if k < 0.75:
            i = f"i{depth}"
            if i in loop_vars:
                return
            n = r.randint(1, 3)
            out.append(f"{indent}for ({i} = 0; {i} < {n}; {i}++) {{")
            inner = scope + [Var(f"({i})", "int")]
            for _ in range(r.randint(1, 3)):
                self.stmt(inner, out, indent + "    ", depth + 1, loop_vars + [i])
            if r.random() < 0.3:
                out.append(f"{indent}    if ({self.expr('int', inner, 3)}) {r.choice(['break', 'continue'])};")
            out.append(f"{indent}}}")
            return
        if k < 0.85:
            out.append(f"{indent}switch ((int)(({self.expr('unsigned int', scope, 2)}) % 4)) {{")
            for c in range(4):
                if r.random() < 0.7:
                    out.append(f"{indent}case {c}:")
                    self.stmt(scope, out, indent + "    ", depth + 1, loop_vars)
                    if r.random() < 0.6:
                        out.append(f"{indent}    break;")
            out.append(f"{indent}default:")
            out.append(f"{indent}    break;")
            out.append(f"{indent}}}")
            return
        if k < 0.89 and self.funcs:
            # calls only as whole statements: C leaves the order of calls inside one expression unspecified
            v = self.lvalue(scope)
            name, ret, params = r.choice(self.funcs)
            args = ", ".join(self.expr(p, scope, 2) for p in params)
            if v is not None and v.kind == "scalar":
                out.append(f"{indent}{v.name} = ({v.ctype})({name}({args}));")
            else:
                out.append(f"{indent}mix((unsigned long long){name}({args}));")
            return
        if k < 0.96:
            e, t = self.raw_expr(scope, 1)
            out.append(f"{indent}mix((unsigned long long){e});")
            return
        # printf a value through a conversion that matches its type
        e, t = self.raw_expr(scope, 2)
        conv = {"signed char": "%hhd", "unsigned char": "%hhu", "short": "%hd", "unsigned short": "%hx",
                "int": r.choice(["%d", "%5d", "%-4d|", "%+d"]), "unsigned int": r.choice(["%u", "%x", "%08X", "%o"]),
                "long": "%ld", "unsigned long": "%lu", "long long": "%lld", "unsigned long long": "%llx"}[t]
        out.append(f'{indent}printf("{conv}\\n", ({t}){e});')

    # ------------------------------------------------------------------ program
    def function(self, idx: int) -> list[str]:
        r = self.r
        ret = self.itype()
        params = [self.itype() for _ in range(r.randint(0, 3))]
        name = f"{self.p}f{idx}"
        scope = [Var(f"a{i}", t) for i, t in enumerate(params)] + list(self.globals)
        body: list[str] = []
        locals_ = []
        for i in range(r.randint(1, 3)):
            t = self.itype()
            locals_.append(Var(f"v{i}", t))
        scope += locals_
        for v in locals_:
            body.append(f"    {v.ctype} {v.name} = {self.expr(v.ctype, scope[:len(params)] + self.globals)};")
        if r.random() < 0.4:
            body.append(f"    struct {self.p}S s = {{ {self.expr('int', scope)}, {self.expr('unsigned char', scope)}, "
                        f"{self.expr('long', scope)} }};")
            scope += [Var("s.x", "int"), Var("s.y", "unsigned char"), Var("s.z", "long")]
        body.append("    int i0, i1, i2;")
        for _ in range(r.randint(1, 3) if self.small else r.randint(2, 6)):
            self.stmt(scope, body, "    ", 0, [])
        body.append(f"    return {self.expr(ret, scope)};")
        head = f"static {ret} {name}({', '.join(f'{t} a{i}' for i, t in enumerate(params)) or 'void'})"
        self.funcs.append((name, ret, params))
        return [head + " {", *body, "}"]

    def program(self) -> str:
        r = self.r
        out = [f"struct {self.p}S {{ int x; unsigned char y; long z; }};"]
        for i in range(r.randint(1, 4)):
            t = self.itype()
            if r.random() < 0.3:
                n = r.randint(2, 6)
                init = ", ".join(self.literal(t) for _ in range(n))
                out.append(f"static {t} {self.p}g{i}[{n}] = {{ {init} }};")
                self.globals.append(Var(f"{self.p}g{i}", t, "array", n))
            else:
                out.append(f"static {t} {self.p}g{i} = {self.literal(t)};")
                self.globals.append(Var(f"{self.p}g{i}", t))
        for i in range(r.randint(1, 2 if self.small else 3)):
            out += self.function(i)
        body = ["    int i0, i1, i2;"]
        scope = list(self.globals)
        for _ in range(r.randint(1, 3 if self.small else 5)):
            self.stmt(scope, body, "    ", 0, [])
        for name, _ret, params in self.funcs:
            args = ", ".join(self.expr(p, scope, 2) for p in params)
            body.append(f"    mix((unsigned long long){name}({args}));")
        for g in self.globals:
            if g.kind == "array":
                body.append(f"    for (i0 = 0; i0 < {g.length}; i0++) mix((unsigned long long){g.name}[i0]);")
            else:
                body.append(f"    mix((unsigned long long){g.name});")
        out.append(f"static int {self.p}main(void) {{")
        out += body
        out.append('    printf("%llu\\n", crc);')
        out.append("    return 0;")
        out.append("}")
        return "\n".join(out) + "\n"


def program(seed: int, small: bool = True) -> str:
    """One self-contained program (our compiler gets this)."""
    g = Gen(seed, "", small)
    body = g.program()
    return ("#include <stdio.h>\n" + prelude(g.used) + body.replace("static int main(void)", "static int run_main(void)")
            + "int main(void) { return run_main(); }\n")


def combined(seeds: list[int], small: bool = True) -> str:
    """Many programs in one translation unit for gcc (names prefixed), with a main that runs the one
    named by argv[1]; the output of run k equals program(seeds[k])'s output."""
    parts = []
    used: set[str] = set()
    for k, s in enumerate(seeds):
        g = Gen(s, f"p{k}_", small)
        text = g.program()
        used |= g.used
        parts.append(text.replace(f"static int p{k}_main(void)", f"static int p{k}_run(void)"))
    parts = ["#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>", prelude(used)] + parts
    parts.append("int main(int argc, char **argv) {\n    int k = atoi(argv[1]);\n    crc = 0;\n    switch (k) {")
    for k in range(len(seeds)):
        parts.append(f"    case {k}: return p{k}_run();")
    parts.append("    }\n    return 99;\n}\n")
    return "\n".join(parts)
