"""Linux 4.19 (4.x up to 5.1): the busy-list allocator under one ``vmap_area_lock``.

Read: Linux 4.19 ``mm/vmalloc.c`` (``alloc_vmap_area``, ``__free_vmap_area``,
``find_vmap_area``, ``remove_vm_area``, ``free_vmap_area_noflush``,
``try_purge_vmap_area_lazy``, ``purge_vmap_area_lazy``,
``__purge_vmap_area_lazy``).  The RFC (``rfc_2018``) and Linux 5.2
(``linux_5_2``) keep these locks and paths and swap the policy.

Locks::

    vmap_area_lock (spinlock)  busy tree + list, the policy's search state
                               (free_vmap_cache & co.), the purge's releases
    vmap_purge_lock (mutex)    one __purge_vmap_area_lazy at a time
    vmap_purge_list (llist)    lock-free: lazily freed areas, newest first
    vmap_lazy_nr (atomic)      lazily freed pages

vmalloc::

    kmalloc(vm_struct), kmalloc(vmap_area)          outside every lock
    spin_lock(&vmap_area_lock)
      policy.alloc: the search + insert              Steps, priced
    spin_unlock(&vmap_area_lock)
    overflow: purge_vmap_area_lazy() (mutex_lock), retry once, else ENOMEM
    kmalloc(pages[]), alloc_page + map per page      outside every lock

vfree (``__vunmap``)::

    spin_lock(&vmap_area_lock); find_vmap_area; spin_unlock
    unmap the pages                                  outside every lock
    free_vmap_area_noflush: vmap_lazy_nr += pages; llist_add
      if vmap_lazy_nr > lazy_max_pages: try_purge_vmap_area_lazy (mutex_trylock)
    __free_page per page, kfree(pages[]), kfree(vm_struct)
"""

from __future__ import annotations

from typing import Any

from ..allocators.base import AllocatorError
from ..metrics import VFREE
from .base import Gen, KernelBase


class Kernel(KernelBase):
    """The 4.19 paths; ``rfc_2018`` and ``linux_5_2`` subclass it."""

    NAME = "linux-4.19"
    KFREE_RCU = True                 # __free_vmap_area: kfree_rcu(va, rcu_head)

    def __init__(self, eng: Any, policy: Any) -> None:
        super().__init__(eng, policy)
        self.vmap_area_lock = self.locks["vmap_area_lock"]
        self.vmap_purge_lock = self.mutexes["vmap_purge_lock"]
        self.vmap_purge_list: list[tuple[int, int]] = []   # (addr, pages incl. guard), oldest first
        self.lazy_lo = self.lazy_hi = 0

    # -- vmalloc ------------------------------------------------------------------
    def alloc_vmap_area(self, c: Any, size: int, align: int, vstart: int, vend: int) -> Gen:
        eng, env, policy, lock = self.eng, self.env, self.policy, self.vmap_area_lock
        cost = self.cpu_cost[c.cpu]
        wait = hold = 0.0
        ln = tn = 0
        purged = False
        prg = fl = prg_hold = 0.0                     # the overflow purge's components
        while True:                                   # retry once after a purge
            got = eng.try_spin_lock(c, lock)
            t_req, t_own, acq = got if got is not None else (yield from eng.spin_lock(c, lock))
            wait += t_own - t_req
            nb, nf = policy.nr_busy, policy.nr_free_objects       # before the operation
            try:
                r = policy.alloc(size, align, vstart, vend)
            except AllocatorError as exc:     # the RFC's old path would corrupt its free list
                eng.violation(f"{type(exc).__name__}: {exc}", f"op {eng.oplog.count} (vmalloc "
                              f"{size} bytes, vstart {vstart:#x}, vend {vend:#x}, cpu {c.cpu})",
                              kind="the modelled kernel cannot go on")
            s = r.steps
            ln += s.list_nodes
            tn += s.tree_nodes
            cs = acq + cost.steps_ns(s, nb, nf) + cost.lock_release_ns
            if self.extra_prices:
                cs += self.lines_ns(lock, c.cpu, s, acq == 0.0) + self.kfree_rcu_ns(c, s)
            hold += cs
            t_rel = t_own + cs
            lock.set_release(t_rel)
            if r.addr is not None or purged:
                c.debt = t_rel - env._now
                return r.addr, wait, hold, ln, tn, purged, (0.0, prg, fl, prg_hold)
            yield env.timeout(t_rel - env.now)        # overflow: unlock, purge, retry
            start = self.purge_start(c)
            w2, h2 = yield from self.purge_vmap_area_lazy(c)
            prg, fl = self.purge_times(c, start, w2)
            wait += w2
            hold += h2
            prg_hold = h2
            purged = True

    # -- vfree --------------------------------------------------------------------
    def vfree(self, c: Any, addr: int) -> Gen:
        eng, env, policy, lock = self.eng, self.env, self.policy, self.vmap_area_lock
        cost = self.cpu_cost[c.cpu]
        t0 = env._now + c.debt
        got = eng.try_spin_lock(c, lock)                             # find_vmap_area
        t_req, t_own, acq = got if got is not None else (yield from eng.spin_lock(c, lock))
        wait = t_own - t_req
        nbusy = policy.nr_busy
        s = policy.find_vmap_area(addr)
        tn = s.tree_nodes
        hold = acq + cost.tree_walk_ns(tn, nbusy) + cost.lock_release_ns
        lines = self.cost.line_transfer
        if lines:
            hold += self.lines_ns(lock, c.cpu, s, acq == 0.0)
        t_rel = t_own + hold
        lock.set_release(t_rel)
        info = self.vm_areas.pop(addr, None)
        if info is None:
            eng.warn(f"Trying to vfree() nonexistent vm area ({addr:#x})")
            c.debt = t_rel - env.now
            eng.oplog.add(t0, c.idx, c.cpu, VFREE, 0, 1, addr, False,
                          env.now + c.debt - t0, wait, hold, 0, tn, False, (hold, 0.0, 0.0, 0.0, 0.0))
            return
        npages, area_bytes = info
        srch = hold
        # __vunmap: remove_vm_area (unmap the pages, then free_vmap_area_noflush),
        # then free the pages and kfree the pages array and the vm_struct.
        unmapped = t_rel - env._now + npages * cost.vfree_unmap_page_ns
        if lines:                                     # atomic_add on vmap_lazy_nr
            x = self.lines.line("vmap_lazy_nr", c.cpu)
            unmapped += x
            srch += x
        after = npages * cost.vfree_free_page_ns + cost.vfree_post_fixed_ns
        q = env._queue                                # env.peek(), inlined (hot path)
        if unmapped > 0 and q and q[0][0] <= env._now + unmapped:
            yield env.timeout(unmapped)               # others act before the area is lazy
            unmapped = 0.0
        nr_lazy = self.free_vmap_area_noflush(addr, area_bytes)   # at the end of the unmapping
        purge = False
        prg = fl = 0.0
        if nr_lazy > self.lazy_max:
            if unmapped > 0:
                yield env.timeout(unmapped)
                unmapped = 0.0
            # try_purge_vmap_area_lazy(), written out here (one generator level
            # less on every resumption of the purging caller):
            #     if (mutex_trylock(&vmap_purge_lock)) {
            #             __purge_vmap_area_lazy(ULONG_MAX, 0);
            #             mutex_unlock(&vmap_purge_lock);
            #     }
            if self.vmap_purge_lock.trylock():        # else another CPU purges: skip
                start = self.purge_start(c)
                purge, w2, h2 = yield from self.__purge_vmap_area_lazy(c)
                self.vmap_purge_lock.unlock()
                prg, fl = self.purge_times(c, start, w2)
                wait += w2
                hold += h2
        c.debt = unmapped + after
        eng.oplog.add(t0, c.idx, c.cpu, VFREE, npages * self.page_size, 1, addr, True,
                      env._now + c.debt - t0, wait, hold, 0, tn, purge,
                      (srch, cost.vfree_post_fixed_ns,
                       npages * (cost.vfree_unmap_page_ns + cost.vfree_free_page_ns), prg, fl))
        if self.extra_prices and self.rcu_pending[c.cpu]:   # (only kfree_rcu_ns queues them)
            self.rcu_callbacks(c)

    def free_vmap_area_noflush(self, addr: int, area_bytes: int) -> int:
        """vmap_lazy_nr += pages (guard included); llist_add to vmap_purge_list."""
        pages = area_bytes // self.page_size
        end = addr + area_bytes
        if not self.vmap_purge_list:
            self.lazy_lo, self.lazy_hi = addr, end
        else:
            if addr < self.lazy_lo:
                self.lazy_lo = addr
            if end > self.lazy_hi:
                self.lazy_hi = end
        self.vmap_purge_list.append((addr, pages))
        self.lazy_areas += 1
        self.lazy_nr += pages
        return self.lazy_nr

    # -- purge --------------------------------------------------------------------
    def purge_vmap_area_lazy(self, c: Any) -> Gen:
        """The overflow path's synchronous purge: mutex_lock (sleeps if taken)."""
        ev = self.vmap_purge_lock.lock()
        if ev is not None:
            yield ev                                  # handed over by the unlocker
        _, wait, hold = yield from self.__purge_vmap_area_lazy(c)
        self.vmap_purge_lock.unlock()
        return wait, hold

    def __purge_vmap_area_lazy(self, c: Any) -> Gen:
        """One TLB flush over the span, then __free_vmap_area of every area
        under vmap_area_lock, with cond_resched_lock between areas."""
        eng, env, policy, lock = self.eng, self.env, self.policy, self.vmap_area_lock
        cost = self.cpu_cost[c.cpu]
        extra = self.extra_prices
        # llist_del_all: llist_add pushes at the head, so the purge walks the
        # list newest first (llist_for_each_entry_safe)
        valist = self.vmap_purge_list[::-1]
        if not valist:
            return False, 0.0, 0.0
        self.vmap_purge_list = []
        eng.purges += 1
        eng.tlb_flushes += 1
        yield env.timeout(self.flushed(c, cost.tlb_flush_ns((self.lazy_hi - self.lazy_lo) // self.page_size)))
        c.debt = 0.0

        def release(area: tuple[int, int], contended: bool) -> float:
            addr, pages = area
            nb, nf = policy.nr_busy, policy.nr_free_objects
            try:
                s = policy.free(addr)                                        # __free_vmap_area
            except AllocatorError as exc:  # the RFC: free_vmap_cache would dangle
                eng.violation(f"{type(exc).__name__}: {exc}", f"the purge's free of {addr:#x}",
                              kind="the modelled kernel cannot go on")
            if extra:      # lines from the last holder, vmap_lazy_nr, kfree_rcu
                self.release_extra_ns = (self.lines_ns(lock, c.cpu, s, contended)
                                         + self.kfree_rcu_ns(c, s)
                                         + self.lines.line("vmap_lazy_nr", c.cpu))
            self.lazy_nr -= pages                     # atomic_sub(nr, &vmap_lazy_nr)
            self.lazy_areas -= 1
            return cost.steps_ns(s, nb, nf) + cost.purge_area_ns

        wait, hold = yield from self.cond_resched_purge(c, lock, valist, release)
        return True, wait, hold

    def lazy_intervals(self) -> list[tuple[int, int]]:
        ps = self.page_size
        return [(a, a + n * ps) for a, n in self.vmap_purge_list]


__all__ = ["Kernel"]
