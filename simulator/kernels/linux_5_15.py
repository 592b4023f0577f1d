"""Linux 5.11 to 5.15: 6.1's split locks and purge tree, the 5.2 search, the
purge on the freeing CPU.

Read: Linux 5.15.100 ``mm/vmalloc.c`` (repo zcjie1/linux-5.15.100:
``preload_this_cpu_lock``, ``alloc_vmap_area``, ``__purge_vmap_area_lazy``,
``try_purge_vmap_area_lazy``, ``free_vmap_area_noflush``); the lazy-area part
(purge tree) also in an Android common 5.10.264 ``mm/vmalloc.c`` (repo
AltafYafai/kernel_common_5.10), which carries the 5.11 rework ("mm/vmalloc:
rework the drain logic") as a backport.  docs/kernels/linux-5.10.md.

Policy ``split-tree-5.10``: ``find_vmap_lowest_match`` with ``length = size +
align - 1`` and no ``vstart + 1`` climb (5.16 dropped the adjustment, 5.18
added ``adjust_search_size``: 5.16-5.17 match neither this nor linux-6.1).

Locks: those of linux-6.1 (``free_vmap_area_lock``, ``vmap_area_lock``,
``purge_vmap_area_lock``, the ``vmap_purge_lock`` mutex).

alloc_vmap_area (as linux-6.1)::

    kmem_cache_alloc(vmap_area_cachep)                      outside every lock
    preload_this_cpu_lock(&free_vmap_area_lock):
      if !this_cpu(ne_fit_preload_node): kmem_cache_alloc     outside every lock
      spin_lock(&free_vmap_area_lock)
    __alloc_vmap_area (5.2 search)                          Steps (NE: the preloaded object)
    spin_unlock(&free_vmap_area_lock)
    overflow: purge_vmap_area_lazy() (mutex_lock), retry once, else ENOMEM
    spin_lock(&vmap_area_lock); insert_vmap_area; spin_unlock

vfree (``__vunmap``)::

    find_vm_area:    spin_lock(&vmap_area_lock); __find_vmap_area; spin_unlock
    remove_vm_area:  spin_lock(&vmap_area_lock); __find_vmap_area; spin_unlock
                     vunmap_range_noflush                 outside every lock
    free_vmap_area_noflush:
                     spin_lock(&vmap_area_lock); unlink_va; spin_unlock
                     nr_lazy = vmap_lazy_nr += pages
                     spin_lock(&purge_vmap_area_lock); merge_or_add_vmap_area; spin_unlock
                     if nr_lazy > lazy_max_pages(): try_purge_vmap_area_lazy()
                       (mutex_trylock(&vmap_purge_lock); on THIS CPU, in the vfree)
    __free_page per page, kvfree(pages[]), kfree(vm_struct)

__purge_vmap_area_lazy: linux-6.1's (take the purge list under
``purge_vmap_area_lock``, flush, merge each block under
``free_vmap_area_lock`` with ``cond_resched_lock`` below 2 x lazy_max_pages).
"""

from __future__ import annotations

from typing import Any

from ..metrics import VFREE
from . import linux_6_1
from .base import Gen


class Kernel(linux_6_1.Kernel):
    """The 5.15 paths: linux-6.1's, with the purge in the freeing task."""

    NAME = "linux-5.15"
    VFREE_LOOKUPS = 2                 # find_vm_area, remove_vm_area, then unlink_va

    # -- vfree ----------------------------------------------------------------------
    def vfree(self, c: Any, addr: int) -> Gen:
        eng, env, cost = self.eng, self.env, self.cpu_cost[c.cpu]
        t0 = env.now + c.debt
        wait, hold, tn, info = yield from self.vfree_lookups(c, t0, addr)
        if info is None:
            return
        npages, area_bytes = info
        c.debt += npages * cost.vfree_unmap_page_ns   # vunmap_range_noflush
        w, h, t2, x, nr_lazy = yield from self.free_vmap_area_noflush(c, addr, area_bytes)
        wait += w
        hold += h
        tn += t2
        srch = hold + x
        purge = False
        prg = fl = 0.0
        if nr_lazy > self.lazy_max:                   # try_purge_vmap_area_lazy, on this CPU
            yield env.timeout(c.debt)                 # up to the end of the purge-tree section
            c.debt = 0.0
            # try_purge_vmap_area_lazy(), written out here (no generator when the
            # trylock fails, one level less while purging):
            #     if (mutex_trylock(&vmap_purge_lock)) {
            #             __purge_vmap_area_lazy(ULONG_MAX, 0);
            #             mutex_unlock(&vmap_purge_lock);
            #     }
            if self.vmap_purge_lock.trylock():        # else another CPU purges: skip
                start = self.purge_start(c)
                n = eng.purges
                # (both modules name their class Kernel: this is the
                # __purge_vmap_area_lazy of the most derived generation, 6.1's
                # here, 5.10's in linux_5_10)
                w2, h2 = yield from self.__purge_vmap_area_lazy(c)
                self.vmap_purge_lock.unlock()
                purge = eng.purges > n                # False: the list was empty
                prg, fl = self.purge_times(c, start, w2)
                wait += w2
                hold += h2
        c.debt = c.debt + npages * cost.vfree_free_page_ns + cost.vfree_post_fixed_ns
        eng.oplog.add(t0, c.idx, c.cpu, VFREE, npages * self.page_size, 1, addr, True,
                      env.now + c.debt - t0, wait, hold, 0, tn, purge,
                      (srch, cost.vfree_post_fixed_ns,
                       npages * (cost.vfree_unmap_page_ns + cost.vfree_free_page_ns), prg, fl))

    def free_vmap_area_noflush(self, c: Any, addr: int, area_bytes: int) -> Gen:
        """unlink_va under vmap_area_lock; nr_lazy = vmap_lazy_nr += pages;
        merge_or_add_vmap_area into the purge tree under purge_vmap_area_lock.
        Returns (wait, hold, tree nodes, lock-free ns, nr_lazy): the caller
        purges when nr_lazy > lazy_max_pages()."""
        policy = self.policy
        nb = policy.nr_busy
        s = policy.unlink_vmap_area(addr)            # the va remove_vm_area found: no descent
        w1, h1 = yield from self._section(c, self.vmap_area_lock, s, (nb, 0))
        self.lazy_nr += area_bytes // self.page_size
        nr_lazy = self.lazy_nr                       # atomic_long_add_return
        x = 0.0                                      # lock-free bookkeeping (search_ns)
        if self.cost.line_transfer:                  # the atomic on vmap_lazy_nr
            x = self.lines.line("vmap_lazy_nr", c.cpu)
            c.debt += x
        w2, h2, tn = yield from self.lazy_add(c, addr, area_bytes)
        return w1 + w2, h1 + h2, tn, x, nr_lazy

    def lazy_add(self, c: Any, addr: int, area_bytes: int) -> Gen:
        """5.11+: merge_or_add_vmap_area(va, &purge_vmap_area_root, &purge_vmap_area_list)
        under purge_vmap_area_lock: (wait, hold, tree nodes)."""
        policy = self.policy
        nl = policy.nr_lazy
        s = policy.free_vmap_area_noflush(addr, area_bytes)
        w, h = yield from self._section(c, self.purge_vmap_area_lock, s, (nl, 0))
        return w, h, s.tree_nodes


__all__ = ["Kernel"]
