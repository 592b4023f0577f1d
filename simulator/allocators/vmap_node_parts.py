"""Parts of the ``vmap-nodes`` policy (Linux 6.9): sizing rules, the node
layer's counters (``NodeSteps``) and results, ``struct vmap_area`` of an
allocated area, and the global free tree used alone (``GlobalFreeTree``).
See vmap_nodes.py and docs/kernels/linux-6.9.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import InvariantError, NonexistentAreaError, Range, Steps
from .split_tree import SplitTreeAllocator

MAX_VA_SIZE_PAGES = 256        # pool[i]: areas of exactly i + 1 pages
MAX_VMAP_NODES = 128           # clamp_t(unsigned int, num_possible_cpus(), 1, 128)
ZONE_PAGES = 16                # "Node partition is 16 pages."
BITS_PER_BYTE = 8
LAZY_MAX_BYTES_PER_FLS = 32 << 20


def nr_vmap_nodes_for(nr_possible_cpus: int, word_bits: int = 64) -> int:
    """vmap_init_nodes: clamp(num_possible_cpus, 1, 128) on 64-bit, 1 on 32-bit."""
    if word_bits != 64:
        return 1
    return max(1, min(MAX_VMAP_NODES, nr_possible_cpus))


def lazy_max_pages(nr_online_cpus: int, page_size: int = 4096) -> int:
    """fls(num_online_cpus()) * (32 MiB / PAGE_SIZE)."""
    return max(1, nr_online_cpus).bit_length() * (LAZY_MAX_BYTES_PER_FLS // page_size)


@dataclass
class NodeSteps:
    """What an operation did in the node layer: the counters beside ``Steps``."""

    node_id: int | None = None   # the node whose lock the section took (last one for compositions)
    pool_lookups: int = 0        # node_pool_del_va calls that took pool_lock (pool list non-empty)
    pool_hits: int = 0           # ... that handed out an area
    pool_rotations: int = 0      # ... whose head was misaligned (list_move_tail; a miss)
    pool_adds: int = 0           # node_pool_add_va at purge: one pool_lock section each
    pool_detaches: int = 0       # decay_va_pool_node: pool_lock sections (detach + re-attach)
    pool_decayed: int = 0        # areas the decay took out of pools
    lazy_taken: int = 0          # areas moved from a lazy tree to a purge list (lazy.lock)
    nr_purged: int = 0           # areas purge_vmap_node processed
    reclaimed: int = 0           # blocks reclaim_list_global merged into the free tree

    def add(self, other: NodeSteps) -> NodeSteps:
        """``self += other``, counter by counter (written out: a hot path;
        tests/allocators/test_vmap_nodes.py checks it against the fields);
        ``node_id``: other's if it has one."""
        self.pool_lookups += other.pool_lookups
        self.pool_hits += other.pool_hits
        self.pool_rotations += other.pool_rotations
        self.pool_adds += other.pool_adds
        self.pool_detaches += other.pool_detaches
        self.pool_decayed += other.pool_decayed
        self.lazy_taken += other.lazy_taken
        self.nr_purged += other.nr_purged
        self.reclaimed += other.reclaimed
        if other.node_id is not None:
            self.node_id = other.node_id
        return self


@dataclass
class VmapAlloc:
    """Result of the ``alloc_vmap_area`` composition."""

    addr: int | None
    vn_id: int                   # the encoded node id stored in va->flags (0: none)
    pool_hit: bool
    purge: PurgeResult | None    # the overflow purge, if the free tree failed once
    steps: Steps
    ns: NodeSteps


@dataclass
class PurgeResult:
    """Result of the ``purge`` composition (__purge_vmap_area_lazy)."""

    start: int | None            # TLB flush range, None when no node had lazy areas
    end: int | None
    marked: list[int] = field(default_factory=list)    # nodes with lazy areas, ascending
    helpers: list[int] = field(default_factory=list)   # of those, purged by a worker on CPU i
    nr_purged: int = 0
    steps: Steps = field(default_factory=Steps)
    ns: NodeSteps = field(default_factory=NodeSteps)


class Va:
    """``struct vmap_area`` of an allocated area: range and flags (encoded vn_id)."""

    __slots__ = ("flags", "va_end", "va_start")

    def __init__(self, va_start: int, va_end: int, flags: int = 0) -> None:
        self.va_start = va_start
        self.va_end = va_end
        self.flags = flags

    def __repr__(self) -> str:
        return f"Va({self.va_start:#x}, {self.va_end:#x}, flags={self.flags:#x})"


class GlobalFreeTree(SplitTreeAllocator):
    """6.9's global free tree (``free_vmap_area_root`` under free_vmap_area_lock):
    the 6.1 free tree of split-tree, used alone.  ``alloc`` is
    ``__alloc_vmap_area`` (the area leaves the tree; the caller holds it);
    ``merge_free(start, end)`` is ``merge_or_add_vmap_area_augment`` of a range
    tiled by areas ``alloc`` handed out (or initial areas): one area, or a
    block the purge's local decay tree coalesced from several.  Its busy tree
    stays empty (the node layer keeps the busy trees)."""

    DESCRIPTION = "the 6.x global free tree alone (free_vmap_area_lock)"

    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]]) -> None:
        super().__init__(rng, initial_busy)
        self._allocated.update(self._busy)   # every range outside the tree is "taken"
        self._busy.clear()
        self.nr_busy = 0

    def merge_free(self, start: int, end: int) -> Steps:
        s = start
        while s < end:
            e = self._allocated.pop(s, None)
            if e is None or e > end:
                raise InvariantError(f"merge_free [{start:#x}, {end:#x}): {s:#x} does not start a taken area")
            s = e
        steps = Steps()
        self.merge_or_add_vmap_area_augment(start, end, steps)
        return steps

    def free(self, addr: int) -> Steps:
        """Give one whole taken area back (tests/compat)."""
        end = self._allocated.get(addr)
        if end is None:
            raise NonexistentAreaError(addr)
        return self.merge_free(addr, end)


__all__ = ["MAX_VA_SIZE_PAGES", "MAX_VMAP_NODES", "ZONE_PAGES", "BITS_PER_BYTE", "nr_vmap_nodes_for",
           "lazy_max_pages", "NodeSteps", "VmapAlloc", "PurgeResult", "Va", "GlobalFreeTree"]
