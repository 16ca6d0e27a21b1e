"""Workloads on the packet compute fabric: Monte Carlo integration, SHA-256d mining of real block
templates, HP-model protein folding and data-parallel training. Each one expresses its work as packets
and runs it through a fabric backend (inline, local processes, Ray); results never depend on which."""
