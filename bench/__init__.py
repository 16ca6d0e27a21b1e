"""Side-by-side benchmarks: ours against an anchor in the same run, medians and ratios printed."""

from bench.common import compile_packetfs_bytecode

# Every bench module starts packetfs processes (imports, nodes, syncs) and times them against anchors
# that ship compiled code: give ours its bytecode once, before any timing (see the function's note).
compile_packetfs_bytecode()
