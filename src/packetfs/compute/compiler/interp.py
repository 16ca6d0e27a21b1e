"""The IR interpreter: runs a Module directly, one instruction at a time, in Python. A development aid and
a cross-check for the fabric back end (which is what `packetfs run` uses); never the reference (gcc is)."""

from __future__ import annotations

import math
import struct

from .errors import ProgramFault
from .ir import Module
from .layout import DATA_BASE, DEFAULT_MEM, DEFAULT_STACK, write_argv
from .link import link
from .render import render
from .runtime_c import TRAP_ASSERT, TRAP_BAD_FREE, TRAP_UNSUPPORTED, TRAP_VLA, TRAP_VLA_SCOPE

MASK = 0xFFFFFFFFFFFFFFFF
SIGN = 1 << 63
_pack_d = struct.Struct("<d").pack
_unpack_d = struct.Struct("<d").unpack
_pack_q = struct.Struct("<Q").pack
_unpack_q = struct.Struct("<Q").unpack
_pack_f = struct.Struct("<f").pack
_unpack_f = struct.Struct("<f").unpack


def d2b(x: float) -> int:
    return _unpack_q(_pack_d(x))[0]


def b2d(v: int) -> float:
    return _unpack_d(_pack_q(v))[0]


def s64(v: int) -> int:
    return v - (1 << 64) if v & SIGN else v


def f32r(x: float) -> float:
    try:
        return _unpack_f(_pack_f(x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def f2i(x: float, unsigned: bool) -> int:
    if math.isnan(x) or math.isinf(x):
        return SIGN  # x86 cvttsd2si's "integer indefinite"
    v = int(x)
    if unsigned:
        if 0 <= v < (1 << 64):
            return v
        return SIGN if v < 0 or v >= (1 << 64) else v
    if -(1 << 63) <= v < (1 << 63):
        return v & MASK
    return SIGN


class FlatMemory:
    def __init__(self, size: int) -> None:
        self.buf = bytearray(size)
        self.size = size

    def check(self, addr: int, n: int) -> None:
        if addr < DATA_BASE or addr + n > self.size:
            raise ProgramFault(f"memory access of {n} bytes at 0x{addr:x} is outside the program's memory")

    def read(self, addr: int, n: int) -> bytes:
        self.check(addr, n)
        return bytes(self.buf[addr:addr + n])

    def write(self, addr: int, data: bytes) -> None:
        self.check(addr, len(data))
        self.buf[addr:addr + len(data)] = data


class Exit(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


TRAP_TEXT = {1: "abort() called", TRAP_ASSERT: "assertion failed", TRAP_BAD_FREE: "free() of a pointer malloc did not return",
             TRAP_UNSUPPORTED: "a floating conversion formatted on the fabric (sprintf, or printf's return value) is not supported",
             TRAP_VLA: "a variable-length array larger than the free memory (VLAs are allocated above the heap)",
             TRAP_VLA_SCOPE: "a jump into the scope of a variable-length array past its declaration"}


def load_image(module: Module, mem, argv: list[bytes], base: int, lane_size: int) -> tuple[int, int, int]:
    """Write the data image (relocated for a lane at `base`) and argv (at the top of the lane);
    returns (argc, argv address, initial stack pointer)."""
    data = relocated_image(module, base)
    mem.write(base + DATA_BASE, bytes(data))
    return write_argv(mem, argv, base, lane_size)


def relocated_image(module: Module, base: int, func_addr: dict[str, int] | None = None) -> bytearray:
    data = bytearray(module.data)
    for off, kind, sym, addend in module.relocs:
        if kind == "func":
            v = (func_addr or module.func_ids)[sym] + addend
        else:
            v = base + DATA_BASE + module.symbols[sym] + addend
        data[off:off + 8] = (v & MASK).to_bytes(8, "little")
    return data


def run_module(module: Module, argv: list[bytes] | None = None, mem_size: int = DEFAULT_MEM,
               max_steps: int = 500_000_000) -> tuple[bytes, int]:
    """Link with the C runtime and run main; returns (stdout, exit status) or raises ProgramFault."""
    linked = link(module, mem_size - DEFAULT_STACK - DATA_BASE)
    mem = FlatMemory(mem_size)
    argc, argv_addr, sp = load_image(linked, mem, argv or [b"prog"], 0, mem_size)
    interp = _Interp(linked, mem, max_steps)
    try:
        status = interp.call("main", [argc, argv_addr], sp) & 0xFF
    except Exit as e:
        status = e.status & 0xFF
    except RecursionError as e:
        raise ProgramFault("call depth over the interpreter's limit") from e
    return render(interp.emits), status


class _Interp:
    def __init__(self, module: Module, mem: FlatMemory, max_steps: int) -> None:
        self.m = module
        self.mem = mem
        self.emits: list[tuple[int, int]] = []
        self.steps = max_steps
        self.by_id = {v: k for k, v in module.func_ids.items()}
        self.stack_limit = mem.size - DEFAULT_STACK + 4096

    def call(self, name: str, args: list[int], sp: int) -> int:
        fn = self.m.functions[name]
        fp = sp - fn.frame_size
        if fp < self.stack_limit:
            raise ProgramFault("stack overflow")
        regs = [0] * max(fn.nregs, 1)
        n = min(len(args), fn.nparams)
        regs[:n] = args[:n]
        if fn.variadic and len(args) > fn.nparams:
            regs[fn.nparams - 1] = args[-1]
        code = fn.code
        buf = self.mem.buf
        size = self.mem.size
        pc = 0
        while True:
            ins = code[pc]
            op = ins[0]
            pc += 1
            if op == "const":
                regs[ins[1]] = ins[2]
            elif op == "mov":
                regs[ins[1]] = regs[ins[2]]
            elif op == "add":
                regs[ins[1]] = (regs[ins[2]] + regs[ins[3]]) & MASK
            elif op == "sub":
                regs[ins[1]] = (regs[ins[2]] - regs[ins[3]]) & MASK
            elif op == "mul":
                regs[ins[1]] = (regs[ins[2]] * regs[ins[3]]) & MASK
            elif op == "br":
                pc = ins[2] if regs[ins[1]] else ins[3]
            elif op == "jmp":
                pc = ins[1]
            elif op == "fa":
                regs[ins[1]] = (fp + ins[2] + fn.frame_size) & MASK
            elif op in ("lts", "les"):
                a, b = s64(regs[ins[2]]), s64(regs[ins[3]])
                regs[ins[1]] = int(a < b if op == "lts" else a <= b)
            elif op == "ltu":
                regs[ins[1]] = int(regs[ins[2]] < regs[ins[3]])
            elif op == "leu":
                regs[ins[1]] = int(regs[ins[2]] <= regs[ins[3]])
            elif op == "eq":
                regs[ins[1]] = int(regs[ins[2]] == regs[ins[3]])
            elif op == "ne":
                regs[ins[1]] = int(regs[ins[2]] != regs[ins[3]])
            elif op.startswith("ld"):
                a = regs[ins[2]]
                if op == "ldf32":
                    if a < DATA_BASE or a + 4 > size:
                        self.mem.check(a, 4)
                    regs[ins[1]] = d2b(_unpack_f(bytes(buf[a:a + 4]))[0])
                    continue
                w = int(op[2])
                if a < DATA_BASE or a + w > size:
                    self.mem.check(a, w)
                v = int.from_bytes(buf[a:a + w], "little")
                if op[-1] == "s" and v >> (8 * w - 1):
                    v -= 1 << (8 * w)
                regs[ins[1]] = v & MASK
            elif op.startswith("st"):
                a = regs[ins[1]]
                if op == "stf32":
                    if a < DATA_BASE or a + 4 > size:
                        self.mem.check(a, 4)
                    x = b2d(regs[ins[2]])
                    buf[a:a + 4] = _pack_f(f32r(x))
                    continue
                w = int(op[2])
                if a < DATA_BASE or a + w > size:
                    self.mem.check(a, w)
                buf[a:a + w] = (regs[ins[2]] & ((1 << (8 * w)) - 1)).to_bytes(w, "little")
            elif op in ("and", "or", "xor"):
                a, b = regs[ins[2]], regs[ins[3]]
                regs[ins[1]] = a & b if op == "and" else (a | b if op == "or" else a ^ b)
            elif op == "shl":
                regs[ins[1]] = (regs[ins[2]] << (regs[ins[3]] & 63)) & MASK
            elif op == "shr":
                regs[ins[1]] = regs[ins[2]] >> (regs[ins[3]] & 63)
            elif op == "sar":
                regs[ins[1]] = (s64(regs[ins[2]]) >> (regs[ins[3]] & 63)) & MASK
            elif op in ("divs", "mods"):
                a, b = s64(regs[ins[2]]), s64(regs[ins[3]])
                if b == 0:
                    raise ProgramFault("integer division by zero")
                q = abs(a) // abs(b)
                if (a < 0) != (b < 0):
                    q = -q
                regs[ins[1]] = (q if op == "divs" else a - q * b) & MASK
            elif op in ("divu", "modu"):
                a, b = regs[ins[2]], regs[ins[3]]
                if b == 0:
                    raise ProgramFault("integer division by zero")
                regs[ins[1]] = a // b if op == "divu" else a % b
            elif op.startswith("sext"):
                bits = int(op[4:])
                v = regs[ins[2]] & ((1 << bits) - 1)
                regs[ins[1]] = (v - (1 << bits)) & MASK if v >> (bits - 1) else v
            elif op.startswith("zext"):
                regs[ins[1]] = regs[ins[2]] & ((1 << int(op[4:])) - 1)
            elif op == "neg":
                regs[ins[1]] = (-regs[ins[2]]) & MASK
            elif op == "not":
                regs[ins[1]] = regs[ins[2]] ^ MASK
            elif op in ("fadd", "fsub", "fmul", "fdiv"):
                a, b = b2d(regs[ins[2]]), b2d(regs[ins[3]])
                if op == "fadd":
                    r = a + b
                elif op == "fsub":
                    r = a - b
                elif op == "fmul":
                    r = a * b
                else:
                    if b == 0.0:
                        r = math.nan if a == 0.0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1, b)
                    else:
                        r = a / b
                regs[ins[1]] = d2b(r)
            elif op in ("feq", "fne", "flt", "fle"):
                a, b = b2d(regs[ins[2]]), b2d(regs[ins[3]])
                regs[ins[1]] = int(a == b if op == "feq" else a != b if op == "fne" else a < b if op == "flt"
                                   else a <= b)
            elif op == "fneg":
                regs[ins[1]] = regs[ins[2]] ^ SIGN
            elif op == "fsqrt":
                x = b2d(regs[ins[2]])
                regs[ins[1]] = d2b(math.sqrt(x) if x >= 0 else (x if x == 0 or math.isnan(x) else -math.nan))
            elif op == "f32r":
                regs[ins[1]] = d2b(f32r(b2d(regs[ins[2]])))
            elif op == "i2f":
                regs[ins[1]] = d2b(float(s64(regs[ins[2]])))
            elif op == "u2f":
                regs[ins[1]] = d2b(float(regs[ins[2]]))
            elif op in ("f2i", "f2u"):
                regs[ins[1]] = f2i(b2d(regs[ins[2]]), op == "f2u")
            elif op == "ga":
                regs[ins[1]] = DATA_BASE + self.m.symbols[ins[2]] + ins[3]
            elif op == "fn":
                regs[ins[1]] = self.m.func_ids[ins[2]]
            elif op == "memcpy":
                d, s, n = regs[ins[1]], regs[ins[2]], ins[3]
                self.mem.check(d, n)
                self.mem.check(s, n)
                buf[d:d + n] = buf[s:s + n]
            elif op == "call" or op == "calli":
                target = ins[2] if op == "call" else self.target(regs[ins[2]])
                r = self.call(target, [regs[a] for a in ins[3]], fp)
                if ins[1] is not None:
                    regs[ins[1]] = r
            elif op == "ret":
                return regs[ins[1]] if ins[1] is not None else 0
            elif op == "emit":
                self.emits.append((ins[1], regs[ins[2]] & ((1 << (8 * ins[3])) - 1)))
            elif op == "halt":
                raise Exit(regs[ins[1]])
            elif op == "trap":
                code = regs[ins[1]]
                raise ProgramFault(TRAP_TEXT.get(code, f"trap {code}"))
            else:
                raise ProgramFault(f"unknown IR op {op}")
            self.steps -= 1
            if self.steps <= 0:
                raise ProgramFault("step limit reached")

    def target(self, addr: int) -> str:
        name = self.by_id.get(addr)
        if name is None:
            raise ProgramFault(f"call through a bad function pointer 0x{addr:x}")
        return name
