"""The kernel's vmap-area allocators, one module per kernel generation.

>>> from simulator.allocators import create, ALLOCATORS
>>> a = create("busy-list", vstart=0x10000000, vend=0x20000000)
>>> r = a.alloc(8192)
>>> hex(r.addr), r.steps.list_nodes
('0x10000000', 0)

Policies decide and count (``Steps``); ``simulator.costmodel`` prices.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from typing import Any

from .base import (AllocatorError, AllocResult, InvariantError, NonexistentAreaError,
                   Steps, make_range, tree_depth)

# name -> (module, class); modules import on first use.
_REGISTRY = {
    "busy-list": ("busy_list", "BusyListAllocator"),
    "free-list": ("free_list", "FreeListAllocator"),
    "augmented-tree": ("augmented_tree", "AugmentedTreeAllocator"),
    "split-tree": ("split_tree", "SplitTreeAllocator"),
    "split-tree-5.10": ("split_tree_510", "SplitTree510Allocator"),
    "vmap-nodes": ("vmap_nodes", "VmapNodesAllocator"),
}

#: The registered allocator names, oldest kernel generation first.
ALLOCATORS: tuple[str, ...] = tuple(_REGISTRY)


def policy_class(name: str) -> Any:
    """The class implementing allocator ``name`` (ValueError if unknown)."""
    try:
        module, cls = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown allocator {name!r}; accepted: {', '.join(ALLOCATORS)}") from None
    return getattr(import_module(f"{__name__}.{module}"), cls)


def __getattr__(attr: str):
    if attr == "DESCRIPTIONS":  # one line per allocator, for ``vmsim list``
        return {name: policy_class(name).DESCRIPTION for name in ALLOCATORS}
    raise AttributeError(attr)


def create(
    name: str,
    vstart: int,
    vend: int,
    *,
    vmalloc_start: int | None = None,
    vmalloc_end: int | None = None,
    page_size: int = 4096,
    word_bits: int = 64,
    initial_busy: Iterable[tuple[int, int]] = (),
):
    """Build the allocator ``name`` over [vstart, vend).

    ``vmalloc_start``/``vmalloc_end`` give the VMALLOC_START..VMALLOC_END
    sub-range (default: the whole range).  ``initial_busy`` lists (start, end)
    areas that are busy from the start, as ``vmalloc_init`` imports the early
    ``vmlist``; they must be page-aligned, inside the range and disjoint.
    """
    cls = policy_class(name)
    rng = make_range(vstart, vend, vmalloc_start, vmalloc_end, page_size, word_bits)
    return cls(rng, _check_initial(rng, initial_busy))


def _check_initial(rng, areas: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out = sorted((int(s), int(e)) for s, e in areas)
    prev_end = rng.vstart
    for s, e in out:
        if s % rng.page_size or e % rng.page_size or e <= s:
            raise ValueError(f"initial area [{s:#x}, {e:#x}) is not a page-aligned non-empty range")
        if s < prev_end or e > rng.vend:
            raise ValueError(f"initial area [{s:#x}, {e:#x}) overlaps another or lies outside the range")
        prev_end = e
    return out


__all__ = [
    "ALLOCATORS", "DESCRIPTIONS", "create", "policy_class", "Steps", "AllocResult", "AllocatorError",
    "NonexistentAreaError", "InvariantError", "tree_depth",
]
