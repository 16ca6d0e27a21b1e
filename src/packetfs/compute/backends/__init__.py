"""Backends: ``inline`` (reference, one process), ``local`` (worker processes over loopback UDP), ``ray``."""

from __future__ import annotations

from ..runtime.records import FabricError
from .base import Backend

BACKENDS = ("inline", "local", "ray")


def get_backend(name: str, *, nodes: int | None = None, **options) -> Backend:
    """A backend by name. ``nodes``: worker count for local/ray (default: the program's node count, at
    most the CPU count). Options: local: ``drop_rate``, ``dup_rate``, ``seed``, ``timeout``; ray:
    ``address`` (an existing cluster; default a local instance started on first use and shut down by
    close())."""
    if name == "inline":
        from .inline import InlineBackend

        return InlineBackend(nodes)
    if name == "local":
        from .local import LocalBackend

        return LocalBackend(nodes, **options)
    if name == "ray":
        from .ray import RayBackend

        return RayBackend(nodes, **options)
    raise FabricError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "get_backend"]
