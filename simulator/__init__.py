"""vmsim: a discrete-event simulator of the Linux vmalloc address-space allocator."""

from __future__ import annotations

from ._version import __version__


def run(scenario, **kwargs):
    """Run every allocator x seed of ``scenario`` (a path, dict or Scenario); return Results."""
    from .runner import run as _run

    return _run(scenario, **kwargs)


__all__ = ["run", "__version__"]
