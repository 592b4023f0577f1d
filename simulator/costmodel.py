"""The cost model: turns allocator ``Steps`` and the steps of the vmalloc /
vfree paths into nanoseconds, from a device profile (``simulator.devices``).

Policies decide and count; this module prices.  Every parameter it reads is
listed in :data:`PARAMETERS` with what it prices; ``docs/engine.md`` explains
each one.  A walked node (``list_nodes``, ``tree_nodes``, the busy-tree
lookup of vfree) costs ``node_hot_ns`` when the walked structure, ``nodes x
vmap_area_bytes``, fits ``cache_bytes`` and ``node_cold_ns`` when it does not:
the two are never averaged into one constant.  The walked structure is the
busy areas (busy list, busy tree) or the free blocks (free list, free tree):
``Steps.free_nodes`` says which of the walked nodes were free blocks.
"""

from __future__ import annotations

from typing import Any

#: name -> (type, what it prices).  Types: "ns" (float >= 0), "bytes"/"count"
#: (int >= 0), "ceiling" (int >= 1 or None = no cap), "lock" (a lock kind).
PARAMETERS: dict[str, tuple[str, str]] = {
    "cache_bytes": ("bytes", "cache that holds the walked vmap_area structures (last level the walk fits in)"),
    "vmap_area_bytes": ("bytes", "bytes of one struct vmap_area (slab object)"),
    "node_hot_ns": ("ns", "one walked list/tree node when the structure fits cache_bytes"),
    "node_cold_ns": ("ns", "one walked list/tree node when the structure does not fit (a cache miss)"),
    "rb_insert_ns": ("ns", "rb_insert_color (+ link) fix-up, per Steps.tree_inserts"),
    "rb_erase_ns": ("ns", "rb_erase fix-up, per Steps.tree_erases"),
    "augment_update_ns": ("ns", "one compute_subtree_max_size evaluation, per Steps.augment_updates"),
    "merge_ns": ("ns", "list/field updates of one coalescing, per Steps.merges"),
    "fit_ns": ("ns", "classify + split a free block (adjust va_start/va_end), once when Steps.fit is set"),
    "kmalloc_ns": ("ns", "one kmalloc of a small object (vmap_area, vm_struct, pages array; Steps.objects_allocated)"),
    "kfree_ns": ("ns", "one kfree of a small object (Steps.objects_freed, vm_struct, pages array)"),
    "page_alloc_ns": ("ns", "alloc_page of one order-0 page (vmalloc, per page)"),
    "page_free_ns": ("ns", "__free_page of one page (vfree, per page)"),
    "map_page_ns": ("ns", "map one page into the kernel page table (vmap_page_range, per page)"),
    "unmap_page_ns": ("ns", "unmap one page (vunmap_page_range, per page)"),
    "touch_ns": ("ns", "a write to the first page of a fresh area (TLB miss + page walk + line fill)"),
    "tlb_flush_fixed_ns": ("ns", "flush_tlb_kernel_range: fixed part (local flush + IPI setup)"),
    "tlb_flush_remote_cpu_ns": ("ns", "flush_tlb_kernel_range: per remote CPU (IPI + remote flush)"),
    "tlb_flush_page_ns": ("ns", "flush_tlb_kernel_range: per page of the span, up to the ceiling"),
    "tlb_flush_page_ceiling": ("ceiling", "span in pages above which a full flush replaces per-page flushes (None: no cap)"),
    "tlb_flush_full_ns": ("ns", "the full flush that replaces per-page flushes above the ceiling"),
    "lock_kind": ("lock", "vmap_area_lock: qspinlock (FIFO), ticket (FIFO + per-waiter handoff) or tas (unfair)"),
    "lock_acquire_ns": ("ns", "uncontended spin_lock"),
    "lock_release_ns": ("ns", "spin_unlock"),
    "lock_handoff_ns": ("ns", "handoff to a spinning waiter (one cache-line transfer)"),
    "lock_waiter_ns": ("ns", "ticket lock: extra handoff cost per spinning CPU (Boyd-Wickizer et al. 2012)"),
    "purge_area_ns": ("ns", "per purged area overhead of __purge_vmap_area_lazy beyond the allocator's Steps"),
}

LOCK_KINDS: dict[str, str] = {"qspinlock": "fifo", "ticket": "fifo", "tas": "unfair"}


def check_cost(cost: dict[str, Any], where: str = "cost") -> dict[str, Any]:
    """Validate a resolved parameter dict; return a normalised copy.

    Raises ValueError with one line naming the key and what is accepted.
    """
    missing = [k for k in PARAMETERS if k not in cost]
    if missing:
        raise ValueError(f"{where}: missing parameter(s) {', '.join(missing)}")
    out: dict[str, Any] = {}
    for key, value in cost.items():
        if key not in PARAMETERS:
            raise ValueError(f"{where}: unknown parameter {key!r}; accepted: {', '.join(PARAMETERS)}")
        out[key] = check_value(key, value, where)
    if out["lock_kind"] != "ticket" and out["lock_waiter_ns"]:
        raise ValueError(f"{where}: lock_waiter_ns prices a ticket lock's per-waiter handoff and "
                         f"lock_kind is {out['lock_kind']} (got lock_waiter_ns "
                         f"{out['lock_waiter_ns']}); accepted: lock_waiter_ns 0, or lock_kind ticket")
    return out


def check_value(key: str, value: Any, where: str = "cost") -> Any:
    """Check one parameter's value against its type (ValueError, one line)."""
    kind = PARAMETERS[key][0]
    ok_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "ns":
        if not ok_number or value < 0 or value != value:
            raise ValueError(f"{where}.{key}: expected a number of ns >= 0 (got {value!r})")
        return float(value)
    if kind in ("bytes", "count"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{where}.{key}: expected an integer >= 0 (got {value!r})")
        return value
    if kind == "ceiling":
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{where}.{key}: expected an integer >= 1 or null for no cap (got {value!r})")
        return value
    if kind == "lock":
        if value not in LOCK_KINDS:
            raise ValueError(f"{where}.{key}: expected one of {', '.join(LOCK_KINDS)} (got {value!r})")
        return value
    raise AssertionError(kind)  # pragma: no cover


class CostModel:
    """Prices from one resolved profile.  Attribute access only on the hot path."""

    def __init__(self, cost: dict[str, Any], ncpus: int) -> None:
        c = check_cost(cost)
        self.params = c
        self.ncpus = ncpus
        self.cache_nodes = c["cache_bytes"] // max(1, c["vmap_area_bytes"])  # nodes that fit
        self.node_hot_ns = c["node_hot_ns"]
        self.node_cold_ns = c["node_cold_ns"]
        self.rb_insert_ns = c["rb_insert_ns"]
        self.rb_erase_ns = c["rb_erase_ns"]
        self.augment_update_ns = c["augment_update_ns"]
        self.merge_ns = c["merge_ns"]
        self.fit_ns = c["fit_ns"]
        self.kmalloc_ns = c["kmalloc_ns"]
        self.kfree_ns = c["kfree_ns"]
        self.touch_ns = c["touch_ns"]
        self.purge_area_ns = c["purge_area_ns"]
        self.lock_kind = c["lock_kind"]
        self.lock_order = LOCK_KINDS[c["lock_kind"]]
        self.lock_acquire_ns = c["lock_acquire_ns"]
        self.lock_release_ns = c["lock_release_ns"]
        self.lock_handoff_ns = c["lock_handoff_ns"]
        self.lock_waiter_ns = c["lock_waiter_ns"]          # 0 unless lock_kind is ticket
        # vmalloc outside the lock, before: kmalloc vm_struct + vmap_area.
        self.vmalloc_pre_ns = 2 * c["kmalloc_ns"]
        # vmalloc outside the lock, after: kmalloc the pages array, then per page alloc + map.
        self.vmalloc_post_fixed_ns = c["kmalloc_ns"]
        self.vmalloc_page_ns = c["page_alloc_ns"] + c["map_page_ns"]
        # vfree outside the lock: per page unmap (remove_vm_area, before the lazy
        # add and a purge), then per page free, then kfree pages array + vm_struct.
        self.vfree_unmap_page_ns = c["unmap_page_ns"]
        self.vfree_free_page_ns = c["page_free_ns"]
        self.vfree_post_fixed_ns = 2 * c["kfree_ns"]
        # ENOMEM: the vmap_area and vm_struct kmalloc'ed up front are kfree'd.
        self.enomem_ns = 2 * c["kfree_ns"]
        self._tlb_fixed = c["tlb_flush_fixed_ns"] + c["tlb_flush_remote_cpu_ns"] * max(0, ncpus - 1)
        self._tlb_page = c["tlb_flush_page_ns"]
        self._tlb_ceiling = c["tlb_flush_page_ceiling"]
        self._tlb_full = c["tlb_flush_full_ns"]

    def node_ns(self, structure_nodes: int) -> float:
        """Cost of one walked node of a structure of ``structure_nodes`` vmap_areas."""
        return self.node_hot_ns if structure_nodes <= self.cache_nodes else self.node_cold_ns

    def steps_ns(self, s: Any, busy_nodes: int, free_nodes: int = 0) -> float:
        """Price every field of one ``Steps`` (simulator/allocators/base.py).

        ``busy_nodes`` / ``free_nodes``: the busy areas and the free blocks
        the allocator keeps.  Each decides hit or miss for the walked nodes of
        its own structures: ``s.free_nodes`` of ``list_nodes + tree_nodes``
        were free blocks, the rest busy areas.
        """
        cache = self.cache_nodes
        walked_free = s.free_nodes
        ns = (s.list_nodes + s.tree_nodes - walked_free) * (
            self.node_hot_ns if busy_nodes <= cache else self.node_cold_ns)
        if walked_free:
            ns += walked_free * (self.node_hot_ns if free_nodes <= cache else self.node_cold_ns)
        ns += s.tree_inserts * self.rb_insert_ns + s.tree_erases * self.rb_erase_ns
        ns += s.augment_updates * self.augment_update_ns + s.merges * self.merge_ns
        ns += s.objects_allocated * self.kmalloc_ns + s.objects_freed * self.kfree_ns
        if s.fit is not None:
            ns += self.fit_ns
        return ns

    def lookup_ns(self, busy_nodes: int) -> float:
        """find_vmap_area: one descent of the busy tree of ``busy_nodes`` nodes."""
        depth = busy_nodes.bit_length()  # tree_depth(n) = ceil(log2(n + 1))
        return depth * (self.node_hot_ns if busy_nodes <= self.cache_nodes else self.node_cold_ns)

    def tlb_flush_ns(self, span_pages: int) -> float:
        """flush_tlb_kernel_range over ``span_pages`` pages on an ``ncpus`` machine."""
        if self._tlb_ceiling is not None and span_pages > self._tlb_ceiling:
            return self._tlb_fixed + self._tlb_full
        return self._tlb_fixed + self._tlb_page * span_pages


__all__ = ["PARAMETERS", "LOCK_KINDS", "CostModel", "check_cost", "check_value"]
