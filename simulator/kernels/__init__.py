"""Kernel generations: the unit of the model.

A generation is one module named after its kernel.  It composes an
allocator policy (``simulator.allocators``), a lock layout (which spinlocks
and mutexes exist and what each guards) and the paths of its
``mm/vmalloc.c`` (``alloc_vmap_area``, the vfree side, the purge), written in
the kernel's function names as SimPy generators over the engine's clock,
CPUs and locks.  The engine knows no kernel: :func:`build` hands it the
generation's ``Kernel`` class.

This module is the registry only (names, versions, lock layouts, aliases);
a generation's module is imported when a run needs it.

>>> resolve("busy-list").name
'linux-4.19'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any


@dataclass(frozen=True)
class Generation:
    """What ``vmsim list`` shows of a generation, and where its paths live."""

    name: str                       # scenario name: ``allocators: [linux-6.1]``
    kernels: str                    # the kernel versions it stands for
    policy: str                     # simulator.allocators registry name
    module: str                     # simulator.kernels.<module>.Kernel
    locks: tuple[tuple[str, str], ...]   # (lock, what it guards), spinlocks then mutexes
    description: str
    aliases: tuple[str, ...] = field(default=())
    read: str = ""                  # the mm/vmalloc.c version(s) read for the paths


_VMAP_PURGE_LOCK = ("vmap_purge_lock", "mutex: one purge at a time (trylock on the vfree path)")
#: the 5.5+ split locks, as `vmsim list` describes them
_FREE_LOCK = ("free_vmap_area_lock", "spinlock: free tree + list (search, clip, merge)")
_BUSY_LOCK = ("vmap_area_lock", "spinlock: busy tree + list (insert, lookups, unlink)")
_PURGE_TREE_LOCK = ("purge_vmap_area_lock", "spinlock: purge_vmap_area_root + list (lazy areas, merged)")

GENERATIONS: dict[str, Generation] = {g.name: g for g in (
    Generation(
        name="linux-4.19", kernels="Linux 4.x up to 5.1 (4.19 read)", policy="busy-list",
        module="linux_4_19",
        locks=(("vmap_area_lock", "spinlock: busy tree + list, free_vmap_cache, lazy areas' release"),
               _VMAP_PURGE_LOCK),
        description="busy-list search from free_vmap_cache; one vmap_area_lock; lazy areas stay "
                    "in the busy tree until the purge",
        aliases=("busy-list",), read="Linux 4.19 mm/vmalloc.c"),
    Generation(
        name="rfc-2018", kernels="the seed RFC (June 2018, on Linux 4.18)", policy="free-list",
        module="rfc_2018",
        locks=(("vmap_area_lock", "spinlock: busy tree, free list + tree, last_free_va_chunk"),
               _VMAP_PURGE_LOCK),
        description="the seed: address-sorted free blocks, 4.19's locks and paths",
        aliases=("free-list",), read="the RFC text (../shared/seed) over Linux 4.19"),
    Generation(
        name="linux-5.2", kernels="Linux 5.2 to 5.4", policy="augmented-tree", module="linux_5_2",
        locks=(("vmap_area_lock", "spinlock: busy tree, augmented free tree, lazy areas' release"),
               _VMAP_PURGE_LOCK),
        description="augmented free tree under one vmap_area_lock; lazy areas stay in the busy "
                    "tree until the purge; the 2019 purge priority threshold",
        aliases=("augmented-tree",), read="Linux 5.4 mm/vmalloc.c (5.2 differences noted)"),
    Generation(
        name="linux-5.10", kernels="Linux 5.5 to 5.10 (5.10 read; not Android GKI 5.10)",
        policy="split-tree-5.10", module="linux_5_10",
        locks=(("free_vmap_area_lock", "spinlock: free tree + list (search, clip, the purge's merges)"),
               _BUSY_LOCK,
               _VMAP_PURGE_LOCK),
        description="split free/busy locks, the 5.2 search; lazy areas on an unsorted llist, "
                    "merged one by one (newest first) into the free tree by a purge on the "
                    "freeing CPU; per-CPU NE preload",
        read="Linux 5.10.13 mm/vmalloc.c (docs/kernels/linux-5.10.md)"),
    Generation(
        name="linux-5.15", kernels="Linux 5.11 to 5.15 (5.15 read; also Android GKI 5.10)",
        policy="split-tree-5.10", module="linux_5_15",
        locks=(_FREE_LOCK,
               _BUSY_LOCK,
               _PURGE_TREE_LOCK,
               _VMAP_PURGE_LOCK),
        description="linux-6.1's split locks and purge tree with the 5.2 search; the purge runs "
                    "on the freeing CPU (try_purge_vmap_area_lazy, mutex_trylock)",
        read="Linux 5.15.100 mm/vmalloc.c; Android common 5.10.264 (docs/kernels/linux-5.10.md)"),
    Generation(
        name="linux-6.1", kernels="Linux 5.18 to 6.2 (6.1 read)", policy="split-tree",
        module="linux_6_1",
        locks=(_FREE_LOCK,
               _BUSY_LOCK,
               _PURGE_TREE_LOCK,
               _VMAP_PURGE_LOCK),
        description="split locks: the free tree under free_vmap_area_lock, the busy tree under "
                    "vmap_area_lock, lazy areas merged in a purge tree, drained by a kworker; "
                    "per-CPU NE preload",
        read="Linux 6.1 mm/vmalloc.c (docs/kernels/linux-6.1.md)"),
    Generation(
        name="linux-6.6", kernels="Linux 6.3 to 6.8", policy="split-tree", module="linux_6_6",
        locks=(_FREE_LOCK,
               ("vmap_area_lock", "spinlock: busy tree + list (insert, find_unlink_vmap_area)"),
               _PURGE_TREE_LOCK,
               _VMAP_PURGE_LOCK),
        description="6.1's split locks with one vfree busy-tree section (find_unlink_vmap_area)",
        read="a 6.3-6.8 mm/vmalloc.c (docs/kernels/linux-6.1.md)"),
    Generation(
        name="linux-6.9", kernels="Linux 6.9 to 6.15 (vmap nodes)", policy="vmap-nodes",
        module="linux_6_9",
        locks=(("free_vmap_area_lock", "spinlock: the global free tree (pool misses, reclaims)"),
               ("busy.lock/<node>", "spinlock per vmap node: busy areas whose start maps to it"),
               ("lazy.lock/<node>", "spinlock per vmap node: its lazily freed areas"),
               ("pool_lock/<node>", "spinlock per vmap node: its 256 size pools"),
               _VMAP_PURGE_LOCK),
        description="vmap nodes (clamp(CPUs, 1, 128) on 64-bit, 16-page zones): per-node busy and "
                    "lazy trees, size pools tried before the global free tree, parallel purge",
        read="6.9 as merged + a 2026 mm tree (docs/kernels/linux-6.9.md)"),
)}

ALIASES: dict[str, str] = {a: g.name for g in GENERATIONS.values() for a in g.aliases}


def names() -> tuple[str, ...]:
    """The generation names, oldest kernel first (what ``allocators: all`` runs)."""
    return tuple(GENERATIONS)


def accepted() -> tuple[str, ...]:
    """Every name a scenario may use: generations, then the old policy aliases."""
    return names() + tuple(ALIASES)


def resolve(name: str) -> Generation:
    """The generation named ``name`` or by one of its aliases (ValueError if unknown)."""
    g = GENERATIONS.get(ALIASES.get(name, name))
    if g is None:
        raise ValueError(f"unknown kernel generation {name!r}; accepted: {', '.join(accepted())}")
    return g


def kernel_class(name: str) -> Any:
    """The ``Kernel`` class of generation ``name`` (imports its module)."""
    return import_module(f"{__name__}.{resolve(name).module}").Kernel


__all__ = ["Generation", "GENERATIONS", "ALIASES", "names", "accepted", "resolve", "kernel_class"]
