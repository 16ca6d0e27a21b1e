"""The node runtime: programs, node state (memory shards, accumulators), the executor, run records."""
