"""Linux 5.18 to 6.2 (6.1 read) and 6.3 to 6.8: split locks, a purge tree, a drain worker.

Locks (``mm/vmalloc.c``)::

    free_vmap_area_lock   spinlock  free_vmap_area_root + list: search, clip, merge
    vmap_area_lock        spinlock  vmap_area_root + list: insert, lookup, unlink
    purge_vmap_area_lock  spinlock  purge_vmap_area_root + list: lazily freed areas
    vmap_purge_lock       mutex     one __purge_vmap_area_lazy at a time
    ne_fit_preload_node   per CPU   one preloaded vmap_area for an NE split
    vmap_lazy_nr          atomic    lazily freed pages

alloc_vmap_area::

    kmem_cache_alloc(vmap_area_cachep)                      outside every lock
    preload_this_cpu_lock(&free_vmap_area_lock):
      if !this_cpu(ne_fit_preload_node): kmem_cache_alloc     outside every lock
      spin_lock(&free_vmap_area_lock)
    __alloc_vmap_area: find_vmap_lowest_match, clip        Steps (NE: the preloaded object)
    spin_unlock(&free_vmap_area_lock)
    overflow: purge_vmap_area_lazy() (mutex_lock), retry once, else ENOMEM
    spin_lock(&vmap_area_lock); insert_vmap_area; spin_unlock
    (setup_vmalloc_vm's vmap_area_lock section is folded into the insert's)

vfree (``__vunmap``, 6.1)::

    find_vm_area:    spin_lock(&vmap_area_lock); __find_vmap_area; spin_unlock
    remove_vm_area:  spin_lock(&vmap_area_lock); __find_vmap_area; spin_unlock
                     vunmap_range_noflush                 outside every lock
    free_vmap_area_noflush:
                     spin_lock(&vmap_area_lock); unlink_va; spin_unlock
                     vmap_lazy_nr += pages
                     spin_lock(&purge_vmap_area_lock); merge_or_add_vmap_area; spin_unlock
                     if vmap_lazy_nr > lazy_max_pages(): schedule_work(&drain_vmap_work)
    __free_page per page, kvfree(pages[]), kfree(vm_struct)

drain_vmap_area_work (a kworker on the freeing CPU)::

    do { mutex_lock(&vmap_purge_lock); __purge_vmap_area_lazy(); mutex_unlock }
    while (vmap_lazy_nr > lazy_max_pages())

__purge_vmap_area_lazy::

    spin_lock(&purge_vmap_area_lock)
      purge_vmap_area_root = RB_ROOT; list_replace_init(&purge_vmap_area_list, &local)
    spin_unlock(&purge_vmap_area_lock)
    flush_tlb_kernel_range(first va_start, last va_end)      outside every lock
    spin_lock(&free_vmap_area_lock)
    for each block (address order):
      merge_or_add_vmap_area_augment; vmap_lazy_nr -= pages
      if vmap_lazy_nr < 2 * lazy_max_pages(): cond_resched_lock(&free_vmap_area_lock)
    spin_unlock(&free_vmap_area_lock)

6.3 to 6.8 (``linux_6_6``) differ in one place: vfree's ``remove_vm_area``
calls ``find_unlink_vmap_area``, one ``vmap_area_lock`` section that looks the
area up and unlinks it; ``free_vmap_area_noflush`` then skips the unlink.

The kernel text read is in docs/kernels/linux-6.1.md.  Simplification: the
drain worker runs as its own process on the freeing CPU's index without
taking CPU time from that CPU's caller (as if on an idle sibling thread).
"""

from __future__ import annotations

from typing import Any

from ..metrics import VFREE
from .base import Gen, KernelBase


class Worker:
    """The kworker that runs ``drain_vmap_work``: what ``Engine.spin_lock`` needs."""

    __slots__ = ("cpu", "debt", "label")

    def __init__(self, cpu: int) -> None:
        self.cpu = cpu
        self.debt = 0.0
        self.label = f"kworker/{cpu}"


class DrainWork:
    """``schedule_work(&drain_vmap_work)`` (6.1 and later): a no-op while the
    work is pending; else the kworker starts on ``cpu``.  The generation
    sets ``drain_pending`` / ``drain_running`` and writes its own
    ``drain_vmap_area_work``."""

    drain_pending: bool
    drain_running: bool
    env: Any

    def drain_vmap_area_work(self, w: Worker) -> Gen:
        raise NotImplementedError

    def schedule_drain_work(self, cpu: int) -> None:
        if self.drain_pending:
            return
        self.drain_pending = True
        if not self.drain_running:
            self.env.process(self.drain_vmap_area_work(Worker(cpu)))


class Kernel(DrainWork, KernelBase):
    """The 6.1 paths over the ``split-tree`` policy."""

    NAME = "linux-6.1"
    SPINLOCKS: tuple[str, ...] = ("free_vmap_area_lock", "vmap_area_lock", "purge_vmap_area_lock")
    PURGE_PRIORITY_THRESHOLD = True
    #: __vunmap's vmap_area_lock lookups before the unlink (6.1: find_vm_area, remove_vm_area)
    VFREE_LOOKUPS = 2

    def __init__(self, eng: Any, policy: Any) -> None:
        super().__init__(eng, policy)
        self.free_vmap_area_lock = self.locks["free_vmap_area_lock"]
        self.vmap_area_lock = self.locks["vmap_area_lock"]
        self.purge_vmap_area_lock = self.locks["purge_vmap_area_lock"]
        self.vmap_purge_lock = self.mutexes["vmap_purge_lock"]
        self.ne_fit_preload_node = [False] * eng.spec.cpus   # per CPU: a preloaded vmap_area
        self.drain_pending = False
        self.drain_running = False
        self.purging = 0                  # blocks taken by a purge, not yet merged back

    def sample(self) -> tuple[int, int, int, int, int, int]:
        """Lazy areas: the purge tree's (merged) blocks and those being purged."""
        p = self.policy
        return (p.nr_busy, p.nr_lazy + self.purging, self.lazy_nr, p.nr_free_blocks,
                p.largest_free_bytes(), p.total_free_bytes())

    def lazy_intervals(self) -> list[tuple[int, int]]:
        return list(self.policy.lazy_areas())

    # -- one critical section -------------------------------------------------------
    def _section(self, c: Any, lock: Any, steps: Any, nodes: tuple[int, int]) -> Gen:
        """spin_lock(lock); <steps>; spin_unlock(lock): returns (wait, hold, t_release)
        and leaves ``c.debt`` = the time owed up to the release."""
        got = self.eng.try_spin_lock(c, lock)
        t_req, t_own, acq = got if got is not None else (yield from self.eng.spin_lock(c, lock))
        cost = self.cpu_cost[c.cpu]
        hold = acq + cost.steps_ns(steps, *nodes) + cost.lock_release_ns
        if self.cost.line_transfer:
            hold += self.lines_ns(lock, c.cpu, steps, acq == 0.0)
        t_rel = t_own + hold
        lock.set_release(t_rel)
        c.debt = t_rel - self.env.now
        return t_own - t_req, hold

    # -- vmalloc --------------------------------------------------------------------
    def alloc_vmap_area(self, c: Any, size: int, align: int, vstart: int, vend: int) -> Gen:
        env, cost, policy = self.env, self.cpu_cost[c.cpu], self.policy
        wait = hold = 0.0
        ln = tn = 0
        purged = False
        obj = prg = fl = prg_hold = 0.0               # latency components (KernelBase.vmalloc)
        while True:
            # preload_this_cpu_lock: a vmap_area for an NE split, before the lock
            if not self.ne_fit_preload_node[c.cpu]:
                c.debt += cost.kmalloc_ns
                obj += cost.kmalloc_ns
                self.ne_fit_preload_node[c.cpu] = True
            flock = self.free_vmap_area_lock
            got = self.eng.try_spin_lock(c, flock)
            t_req, t_own, acq = got if got is not None else (yield from self.eng.spin_lock(c, flock))
            wait += t_own - t_req
            nb, nf = policy.nr_busy, policy.nr_free_objects
            r = policy.alloc(size, align, vstart, vend)        # __alloc_vmap_area
            s = r.steps
            if s.fit == "NE":                                   # the preloaded object
                s.objects_allocated -= 1
                self.ne_fit_preload_node[c.cpu] = False
            ln += s.list_nodes
            tn += s.tree_nodes
            cs = acq + cost.steps_ns(s, nb, nf) + cost.lock_release_ns
            if self.cost.line_transfer:
                cs += self.lines_ns(self.free_vmap_area_lock, c.cpu, s, acq == 0.0)
            hold += cs
            t_rel = t_own + cs
            self.free_vmap_area_lock.set_release(t_rel)
            c.debt = t_rel - env.now
            if r.addr is not None:
                break
            if purged:
                return None, wait, hold, ln, tn, purged, (obj, prg, fl, prg_hold)
            c.debt = 0.0
            yield env.timeout(t_rel - env.now)           # overflow: purge, retry once
            start = self.purge_start(c)
            w2, h2 = yield from self.purge_vmap_area_lazy(c)
            prg, fl = self.purge_times(c, start, w2)
            wait += w2
            hold += h2
            prg_hold = h2
            purged = True
        nb = policy.nr_busy
        s = policy.insert_vmap_area(r.addr, size)
        tn += s.tree_nodes
        w, h = yield from self._section(c, self.vmap_area_lock, s, (nb, 0))
        return r.addr, wait + w, hold + h, ln, tn, purged, (obj, prg, fl, prg_hold)

    # -- vfree ----------------------------------------------------------------------
    def vfree_lookups(self, c: Any, t0: float, addr: int) -> Gen:
        """vfree's busy-tree lookups, VFREE_LOOKUPS sections of vmap_area_lock
        (find_vm_area, remove_vm_area; 6.3+ none), then the vm_struct:
        ``(wait, hold, tree nodes, (pages, area bytes))``, or ``info`` None
        after the kernel's warning for an address that is not a vm area (the
        op recorded as failed)."""
        eng, env, policy = self.eng, self.env, self.policy
        wait = hold = 0.0
        tn = 0
        for _ in range(self.VFREE_LOOKUPS):          # find_vm_area, remove_vm_area
            nb = policy.nr_busy
            s = policy.find_vmap_area(addr)
            tn += s.tree_nodes
            w, h = yield from self._section(c, self.vmap_area_lock, s, (nb, 0))
            wait += w
            hold += h
        info = self.vm_areas.pop(addr, None)
        if info is None:
            eng.warn(f"Trying to vfree() nonexistent vm area ({addr:#x})")
            eng.oplog.add(t0, c.idx, c.cpu, VFREE, 0, 1, addr, False,
                          env.now + c.debt - t0, wait, hold, 0, tn, False, (hold, 0.0, 0.0, 0.0, 0.0))
        return wait, hold, tn, info

    def vfree(self, c: Any, addr: int) -> Gen:
        eng, env, cost = self.eng, self.env, self.cpu_cost[c.cpu]
        t0 = env.now + c.debt
        wait, hold, tn, info = yield from self.vfree_lookups(c, t0, addr)
        if info is None:
            return
        npages, area_bytes = info
        c.debt += npages * cost.vfree_unmap_page_ns   # vunmap_range_noflush
        w, h, t2, x = yield from self.free_vmap_area_noflush(c, addr, area_bytes)
        wait += w
        hold += h
        tn += t2
        drain = self.lazy_nr > self.lazy_max
        if drain:
            self.schedule_drain_work(c.cpu)
        c.debt = c.debt + npages * cost.vfree_free_page_ns + cost.vfree_post_fixed_ns
        eng.oplog.add(t0, c.idx, c.cpu, VFREE, npages * self.page_size, 1, addr, True,
                      env.now + c.debt - t0, wait, hold, 0, tn, drain,
                      (hold + x, cost.vfree_post_fixed_ns,
                       npages * (cost.vfree_unmap_page_ns + cost.vfree_free_page_ns), 0.0, 0.0))

    def free_vmap_area_noflush(self, c: Any, addr: int, area_bytes: int) -> Gen:
        """unlink_va under vmap_area_lock (6.3+: find_unlink_vmap_area, the
        vfree's only busy-tree section); vmap_lazy_nr += pages;
        merge_or_add_vmap_area into the purge tree under purge_vmap_area_lock."""
        policy = self.policy
        nb = policy.nr_busy
        if self.VFREE_LOOKUPS:            # 6.1: the va is known; unlink_va, no descent
            s = policy.unlink_vmap_area(addr)
        else:                             # 6.3+: find_unlink_vmap_area, one section
            _, s = policy.find_unlink_vmap_area(addr)
        w1, h1 = yield from self._section(c, self.vmap_area_lock, s, (nb, 0))
        self.lazy_nr += area_bytes // self.page_size
        x = 0.0                                      # lock-free bookkeeping (search_ns)
        if self.cost.line_transfer:                  # atomic_long_add on vmap_lazy_nr
            x = self.lines.line("vmap_lazy_nr", c.cpu)
            c.debt += x
        nl = policy.nr_lazy
        s = policy.free_vmap_area_noflush(addr, area_bytes)
        w2, h2 = yield from self._section(c, self.purge_vmap_area_lock, s, (nl, 0))
        return w1 + w2, h1 + h2, s.tree_nodes, x

    # -- purge ----------------------------------------------------------------------
    def drain_vmap_area_work(self, w: Worker) -> Gen:
        self.drain_running = True
        while self.drain_pending:
            self.drain_pending = False
            while True:
                yield from self.purge_vmap_area_lazy(w)
                if self.lazy_nr <= self.lazy_max:
                    break
        self.drain_running = False

    def purge_vmap_area_lazy(self, c: Any) -> Gen:
        """mutex_lock(&vmap_purge_lock); __purge_vmap_area_lazy; mutex_unlock."""
        ev = self.vmap_purge_lock.lock()
        if ev is not None:
            yield ev
        wait, hold = yield from self.__purge_vmap_area_lazy(c)
        self.vmap_purge_lock.unlock()
        return wait, hold

    def __purge_vmap_area_lazy(self, c: Any) -> Gen:
        eng, env, cost, policy = self.eng, self.env, self.cpu_cost[c.cpu], self.policy
        lock = self.purge_vmap_area_lock
        c.debt = 0.0
        got = eng.try_spin_lock(c, lock)
        t_req, t_own, acq = got if got is not None else (yield from eng.spin_lock(c, lock))
        wait = t_own - t_req
        blocks = policy.purge_list_take()                # list_replace_init
        self.purging = len(blocks)
        t_rel = t_own + acq + cost.lock_release_ns
        if self.cost.line_transfer:                      # the purge tree's root and list head
            t_rel += self.lines.section(lock, c.cpu, 1, 1, acq == 0.0)
        lock.set_release(t_rel)
        hold = t_rel - t_own
        yield env.timeout(t_rel - env.now)
        if not blocks:
            return wait, hold
        eng.purges += 1
        eng.tlb_flushes += 1
        span = (blocks[-1][1] - blocks[0][0]) // self.page_size
        yield env.timeout(self.flushed(c, cost.tlb_flush_ns(span)))
        lock = self.free_vmap_area_lock

        def release(block: tuple[int, int], contended: bool) -> float:
            start, end = block
            nb, nf = policy.nr_busy, policy.nr_free_objects
            s = policy.merge_free(start, end)
            if self.extra_prices:
                self.release_extra_ns = (self.lines_ns(lock, c.cpu, s, contended)
                                         + self.lines.line("vmap_lazy_nr", c.cpu)
                                         if self.cost.line_transfer else 0.0)
            self.lazy_nr -= (end - start) // self.page_size     # atomic_long_sub
            self.purging -= 1
            return cost.steps_ns(s, nb, nf) + cost.purge_area_ns

        return (yield from self.cond_resched_purge(c, lock, blocks, release, wait, hold))


__all__ = ["Kernel", "Worker"]
