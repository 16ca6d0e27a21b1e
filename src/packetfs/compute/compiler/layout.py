"""Where things live in a compiled program's address space (one per running `main`).

    0 .. DATA_BASE-1         never mapped: NULL and small-pointer dereferences fault
    DATA_BASE ..             globals and string literals (the module's data image), then argv strings
    .. heap_limit            the heap (malloc), growing up
    .. mem_size              the stack, growing down from mem_size
"""

from __future__ import annotations

DATA_BASE = 0x1000
DEFAULT_MEM = 1 << 22      # 4 MiB per program instance
DEFAULT_STACK = 1 << 20    # 1 MiB of it is stack
MAX_STEPS = 2_000_000_000
