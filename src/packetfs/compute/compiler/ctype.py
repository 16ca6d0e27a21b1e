"""C types as gcc lays them out on x86-64 (LP64): sizes, alignment, struct/union layout, and the
integer promotions and usual arithmetic conversions."""

from __future__ import annotations

from dataclasses import dataclass, field


class CType:
    """Base of all C types; subclasses give size and align."""

    @property
    def is_integer(self) -> bool:
        return isinstance(self, IntType)

    @property
    def is_float(self) -> bool:
        return isinstance(self, FloatType)

    @property
    def is_arith(self) -> bool:
        return isinstance(self, IntType | FloatType)

    @property
    def is_pointer(self) -> bool:
        return isinstance(self, PointerType)

    @property
    def is_scalar(self) -> bool:
        return isinstance(self, IntType | FloatType | PointerType)

    @property
    def is_aggregate(self) -> bool:
        return isinstance(self, StructType | ArrayType)


@dataclass(frozen=True, eq=True)
class VoidType(CType):
    size: int = 1  # gcc's sizeof(void) == 1 for pointer arithmetic
    align: int = 1

    def __str__(self) -> str:
        return "void"


@dataclass(frozen=True, eq=True)
class IntType(CType):
    name: str
    size: int
    signed: bool
    rank: int

    @property
    def align(self) -> int:  # type: ignore[override]
        return self.size

    @property
    def bits(self) -> int:
        return self.size * 8

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, eq=True)
class FloatType(CType):
    name: str
    size: int

    @property
    def align(self) -> int:  # type: ignore[override]
        return self.size

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, eq=True)
class PointerType(CType):
    target: CType
    size: int = 8
    align: int = 8

    def __str__(self) -> str:
        return f"{self.target}*"


@dataclass(frozen=True, eq=True)
class ArrayType(CType):
    elem: CType
    length: int | None  # None: incomplete (extern int a[]; int a[] = {...} before sizing)

    @property
    def size(self) -> int:  # type: ignore[override]
        return self.elem.size * (self.length or 0)

    @property
    def align(self) -> int:  # type: ignore[override]
        return self.elem.align

    def __str__(self) -> str:
        return f"{self.elem}[{'' if self.length is None else self.length}]"


@dataclass(frozen=True, eq=False)
class VlaType(ArrayType):
    """A variable-length array (C99 6.7.5.2): its size in bytes is known at run time only, in the register
    size_reg of the function being lowered (computed where the type's declarator was). Its `size` is
    not a number: code that needs one raises instead of using a wrong one."""

    size_reg: int = -1

    @property
    def size(self) -> int:  # type: ignore[override]
        from .errors import CompileError

        raise CompileError("unsupported: a variable-length array type here (it has no constant size)")

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __str__(self) -> str:
        return f"{self.elem}[*]"


@dataclass(eq=False)
class Field:
    name: str | None
    ctype: CType
    offset: int
    bit_width: int | None = None
    bit_offset: int = 0
    align: int = 0  # the member's alignment as laid out (packed, aligned(N)); 0: its type's


@dataclass(eq=False)
class StructType(CType):
    """Identity by object: two declarations of the same tag in one scope are one object."""

    tag: str | None
    is_union: bool
    fields: list[Field] = field(default_factory=list)
    complete: bool = False
    size: int = 0
    align: int = 1

    def lookup(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
            if f.name is None and isinstance(f.ctype, StructType):  # anonymous member (C11)
                inner = f.ctype.lookup(name)
                if inner is not None:
                    return Field(inner.name, inner.ctype, f.offset + inner.offset, inner.bit_width, inner.bit_offset,
                                 inner.align)
        return None

    def layout(self, members: list[tuple[str | None, CType, int | None]], packed: bool = False,
               packed_members: set[int] | frozenset[int] = frozenset(), aligned: int = 0,
               member_aligns: dict[int, int] | None = None) -> None:
        """gcc x86-64 layout, bit-fields included (allocated in units of their declared type). packed:
        `__attribute__((packed))` on the type (every member aligned to 1 byte, and so the type);
        packed_members: indexes of members declared with it (aligned to 1 byte); aligned: the type's
        `aligned(N)` (its alignment at least N, its size a multiple of it); member_aligns: index ->
        a member's `aligned(N)` (its alignment at least N, after packing)."""
        offset_bits = 0
        align = 1
        size = 0
        fields: list[Field] = []
        for index, (name, ctype, width) in enumerate(members):
            if width is not None:
                unit = ctype.size * 8
                if width == 0:
                    offset_bits = -(-offset_bits // unit) * unit
                    continue
                if self.is_union:
                    start = 0
                else:
                    start = offset_bits
                    if start // unit != (start + width - 1) // unit:
                        start = -(-start // unit) * unit
                unit_start = (start // unit) * unit
                fields.append(Field(name, ctype, unit_start // 8, width, start - unit_start))
                if name is not None:
                    align = max(align, ctype.align)
                end = start + width
                if self.is_union:
                    size = max(size, -(-end // 8))
                else:
                    offset_bits = end
                continue
            a = 1 if packed or index in packed_members else ctype.align
            if member_aligns and index in member_aligns:
                a = max(a, member_aligns[index])
            align = max(align, a)
            if self.is_union:
                fields.append(Field(name, ctype, 0, align=a))
                size = max(size, ctype.size)
            else:
                off = -(-offset_bits // (a * 8)) * a
                fields.append(Field(name, ctype, off, align=a))
                offset_bits = (off + ctype.size) * 8
        if not self.is_union:
            size = -(-offset_bits // 8)
        align = max(align, aligned)
        self.fields = fields
        self.align = align
        self.size = -(-size // align) * align
        self.complete = True

    def __str__(self) -> str:
        return f"{'union' if self.is_union else 'struct'} {self.tag or '<anonymous>'}"

    def __hash__(self) -> int:
        return id(self)


@dataclass(frozen=True, eq=True)
class FuncType(CType):
    ret: CType
    params: tuple[CType, ...] | None  # None: unprototyped f()
    variadic: bool = False
    size: int = 1
    align: int = 1

    def __str__(self) -> str:
        ps = "..." if self.params is None else ", ".join(map(str, self.params))
        return f"{self.ret}({ps}{', ...' if self.variadic else ''})"


VOID = VoidType()
BOOL = IntType("_Bool", 1, False, 0)
CHAR = IntType("char", 1, True, 1)
SCHAR = IntType("signed char", 1, True, 1)
UCHAR = IntType("unsigned char", 1, False, 1)
SHORT = IntType("short", 2, True, 2)
USHORT = IntType("unsigned short", 2, False, 2)
INT = IntType("int", 4, True, 3)
UINT = IntType("unsigned int", 4, False, 3)
LONG = IntType("long", 8, True, 4)
ULONG = IntType("unsigned long", 8, False, 4)
LLONG = IntType("long long", 8, True, 5)
ULLONG = IntType("unsigned long long", 8, False, 5)
FLOAT = FloatType("float", 4)
DOUBLE = FloatType("double", 8)
LDOUBLE = DOUBLE  # long double is computed as double (documented limit)
SIZE_T = ULONG
PTRDIFF_T = LONG


def unsigned_of(t: IntType) -> IntType:
    return {1: UCHAR, 2: USHORT, 3: UINT, 4: ULONG, 5: ULLONG}[max(t.rank, 1)]


def promote(t: CType) -> CType:
    """Integer promotions: everything narrower than int becomes int (all such values fit)."""
    if isinstance(t, IntType) and t.rank < INT.rank:
        return INT
    return t


def usual_arith(a: CType, b: CType) -> CType:
    if a.is_float or b.is_float:
        if DOUBLE in (a, b):
            return DOUBLE
        return FLOAT if (a == FLOAT or not a.is_float) and (b == FLOAT or not b.is_float) else DOUBLE
    a = promote(a)
    b = promote(b)
    assert isinstance(a, IntType) and isinstance(b, IntType)
    if a == b:
        return a
    if a.signed == b.signed:
        return a if a.rank >= b.rank else b
    u, s = (a, b) if not a.signed else (b, a)
    if u.rank >= s.rank:
        return u
    if s.size > u.size:
        return s
    return unsigned_of(s)


def decay(t: CType) -> CType:
    if isinstance(t, ArrayType):
        return PointerType(t.elem)
    if isinstance(t, FuncType):
        return PointerType(t)
    return t


def compatible_pointee(t: CType) -> int:
    """Size used for pointer arithmetic."""
    return t.size if t.size else 1
