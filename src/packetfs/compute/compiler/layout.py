"""Where things live in a compiled program's address space (one per running `main`).

    0 .. DATA_BASE-1         never mapped: NULL and small-pointer dereferences fault (the Program's
                             unmapped_below on the packet executor; each lane's first DATA_BASE bytes
                             on the lane executor)
    DATA_BASE ..             globals and string literals (the module's data image), then argv strings
    .. heap_limit            the heap (malloc), growing up
    .. mem_size              the stack, growing down from mem_size
"""

from __future__ import annotations

DATA_BASE = 0x1000
DEFAULT_MEM = 1 << 22      # 4 MiB per program instance
DEFAULT_STACK = 1 << 20    # 1 MiB of it is stack
MAX_STEPS = 2_000_000_000


def write_argv(mem, argv: list[bytes], base: int, lane_size: int) -> tuple[int, int, int]:
    """The lane's argv ABI, one home for the fabric loader and the IR interpreter: the strings and the
    pointer array (16-byte aligned) at the top of the lane at ``base``, written through ``mem.write(addr,
    data)``; returns (argc, argv address, initial stack pointer 64 bytes below the array)."""
    strings = b"".join(a + b"\0" for a in argv)
    top = base + lane_size
    argv_addr = (top - len(strings) - 8 * (len(argv) + 1)) & ~15
    pos = argv_addr + 8 * (len(argv) + 1)
    ptrs = []
    for a in argv:
        mem.write(pos, a + b"\0")
        ptrs.append(pos)
        pos += len(a) + 1
    mem.write(argv_addr, b"".join(p.to_bytes(8, "little") for p in ptrs + [0]))
    return len(argv), argv_addr, argv_addr - 64
