"""Data-parallel training of a small MLP with gradients summed as fixed-point packets on the fabric."""
