"""Linux 5.5 to 5.10: split free/busy locks, the 5.2 search, lazily freed areas
on an unsorted llist merged one by one into the free tree by a purge on the
freeing CPU.

Read: Linux 5.10.13 ``mm/vmalloc.c`` (repo Rtoax/linux-5.10.13, upstream code
with Chinese comments added: ``alloc_vmap_area`` with the open-coded
``ne_fit_preload_node`` preload, ``find_vmap_lowest_match``,
``merge_or_add_vmap_area``, ``__purge_vmap_area_lazy``,
``try_purge_vmap_area_lazy``, ``free_vmap_area_noflush``, ``remove_vm_area``,
``__vunmap``).  The 5.5-5.9 facts (``free_vmap_area_lock`` since 5.5, the
preload since 5.3, the llist until 5.10) are from docs/kernels/linux-6.1.md
and docs/kernels/linux-5.10.md.  Android common 5.10 (GKI) differs: it
carries the 5.11 purge tree (linux-5.15's lazy path); see the doc.

Locks::

    free_vmap_area_lock   spinlock  free tree + list: search, clip, the purge's merges
    vmap_area_lock        spinlock  busy tree + list: insert, lookups, unlink
    vmap_purge_lock       mutex     one __purge_vmap_area_lazy at a time
    vmap_purge_list       llist     lock-free: lazily freed areas, newest first
    ne_fit_preload_node   per CPU   one preloaded vmap_area for an NE split

alloc_vmap_area: linux-6.1's order (``pva = kmem_cache_alloc_node`` when the
CPU's slot is empty, outside the lock; ``spin_lock(&free_vmap_area_lock)``;
``__this_cpu_cmpxchg``; ``__alloc_vmap_area`` with the 5.2 search; unlock;
``spin_lock(&vmap_area_lock)``; ``insert_vmap_area``; unlock); overflow:
``purge_vmap_area_lazy()`` (mutex_lock), retry once.

vfree (``__vunmap``)::

    find_vm_area:    spin_lock(&vmap_area_lock); __find_vmap_area; spin_unlock
    remove_vm_area:  spin_lock(&vmap_area_lock); __find_vmap_area; spin_unlock
                     unmap_kernel_range_noflush           outside every lock
    free_vmap_area_noflush:
                     spin_lock(&vmap_area_lock); unlink_va; spin_unlock
                     nr_lazy = vmap_lazy_nr += pages; llist_add(&va->purge_list)
                     if nr_lazy > lazy_max_pages(): try_purge_vmap_area_lazy()
                       (mutex_trylock(&vmap_purge_lock); on THIS CPU, in the vfree)
    __free_page per page, kvfree(pages[]), kfree(vm_struct)

__purge_vmap_area_lazy::

    valist = llist_del_all(&vmap_purge_list)               newest first
    start/end: a loop over valist; flush_tlb_kernel_range  outside every lock
    spin_lock(&free_vmap_area_lock)
    for each va (llist order): merge_or_add_vmap_area(va, &free_vmap_area_root, ...)
      vmap_lazy_nr -= pages
      if vmap_lazy_nr < 2 * lazy_max_pages(): cond_resched_lock(&free_vmap_area_lock)
    spin_unlock(&free_vmap_area_lock)
"""

from __future__ import annotations

from typing import Any

from . import linux_5_15
from .base import Gen, KernelBase


class Kernel(linux_5_15.Kernel):
    """The 5.10 paths over ``split-tree-5.10``: no purge tree, no purge_vmap_area_lock."""

    NAME = "linux-5.10"
    SPINLOCKS: tuple[str, ...] = ("free_vmap_area_lock", "vmap_area_lock")

    def __init__(self, eng: Any, policy: Any) -> None:
        KernelBase.__init__(self, eng, policy)     # (linux-6.1's __init__ wants a purge lock)
        self.free_vmap_area_lock = self.locks["free_vmap_area_lock"]
        self.vmap_area_lock = self.locks["vmap_area_lock"]
        self.vmap_purge_lock = self.mutexes["vmap_purge_lock"]
        self.ne_fit_preload_node = [False] * eng.spec.cpus   # per CPU: a preloaded vmap_area
        self.drain_pending = self.drain_running = False      # (no drain work in 5.10)
        self.vmap_purge_list: list[tuple[int, int]] = []     # (addr, area bytes), oldest first
        self.purge_pending: dict[int, int] = {}              # taken by a purge, not merged yet
        self.purging = 0

    def sample(self) -> tuple[int, int, int, int, int, int]:
        """Lazy areas: those on vmap_purge_list and those a purge has taken."""
        p = self.policy
        return (p.nr_busy, len(self.vmap_purge_list) + self.purging, self.lazy_nr,
                p.nr_free_blocks, p.largest_free_bytes(), p.total_free_bytes())

    def lazy_intervals(self) -> list[tuple[int, int]]:
        return [(a, a + b) for a, b in self.vmap_purge_list] + list(self.purge_pending.items())

    # -- vfree ----------------------------------------------------------------------
    def lazy_add(self, c: Any, addr: int, area_bytes: int) -> Gen:
        """llist_add(&va->purge_list, &vmap_purge_list): lock-free, no tree."""
        self.vmap_purge_list.append((addr, area_bytes))
        return 0.0, 0.0, 0
        yield  # (a generator, as the 5.11+ purge-tree section it replaces)

    # -- purge ----------------------------------------------------------------------
    def __purge_vmap_area_lazy(self, c: Any) -> Gen:
        """llist_del_all, one TLB flush over the span, then each area (newest
        first) merge_or_add_vmap_area'd into the free tree under
        free_vmap_area_lock, with cond_resched_lock between areas.
        (Named like linux-6.1's: its purge_vmap_area_lazy and the
        try_purge_vmap_area_lazy written out in linux_5_15's vfree call this one.)"""
        eng, env, cost, policy = self.eng, self.env, self.cpu_cost[c.cpu], self.policy
        c.debt = 0.0
        valist = self.vmap_purge_list[::-1]          # llist_for_each_entry: newest first
        if not valist:
            return 0.0, 0.0
        self.vmap_purge_list = []
        self.purge_pending = {a: a + b for a, b in valist}
        self.purging = len(valist)
        eng.purges += 1
        eng.tlb_flushes += 1
        lo = min(a for a, _ in valist)
        hi = max(a + b for a, b in valist)
        yield env.timeout(self.flushed(c, cost.tlb_flush_ns((hi - lo) // self.page_size)))
        lock = self.free_vmap_area_lock

        def release(area: tuple[int, int], contended: bool) -> float:
            addr, area_bytes = area
            nb, nf = policy.nr_busy, policy.nr_free_objects
            s = policy.merge_or_add_vmap_area(addr, area_bytes)
            if self.extra_prices:
                self.release_extra_ns = (self.lines_ns(lock, c.cpu, s, contended)
                                         + self.lines.line("vmap_lazy_nr", c.cpu)
                                         if self.cost.line_transfer else 0.0)
            self.lazy_nr -= area_bytes // self.page_size       # atomic_long_sub
            del self.purge_pending[addr]
            self.purging -= 1
            return cost.steps_ns(s, nb, nf) + cost.purge_area_ns

        return (yield from self.cond_resched_purge(c, lock, valist, release))


__all__ = ["Kernel"]
