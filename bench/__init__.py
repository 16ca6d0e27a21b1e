"""Side-by-side benchmarks: ours against an anchor in the same run, medians and ratios printed."""
