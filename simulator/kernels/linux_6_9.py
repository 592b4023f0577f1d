"""Linux 6.9 and later (to the 2025 rework): vmap nodes (docs/kernels/linux-6.9.md).

Locks (``mm/vmalloc.c``)::

    free_vmap_area_lock       spinlock  free_vmap_area_root + list (global): search, clip, merge
    busy.lock/<i>             spinlock  node i's busy tree (areas whose va_start maps to node i)
    lazy.lock/<i>             spinlock  node i's lazy tree (vfree'd areas of node i)
    pool_lock/<i>             spinlock  node i's 256 size pools
    vmap_purge_lock           mutex     one __purge_vmap_area_lazy at a time
    ne_fit_preload_node       per CPU   one preloaded vmap_area for an NE split
    vmap_lazy_nr              atomic    lazily freed pages

    nodes: clamp(num_possible_cpus, 1, 128) (64-bit); addr_to_node_id(addr) =
    (addr / (16 * PAGE_SIZE)) % nr_vmap_nodes

alloc_vmap_area::

    node_alloc: only for [VMALLOC_START, VMALLOC_END) with > 1 node; node = cpu % n;
      if pool[(size - 1) / PAGE_SIZE] of that node is not empty:
        spin_lock(pool_lock/<node>); head aligned ? take it : move it to the tail; spin_unlock
    on a miss: kmem_cache_alloc(vmap_area)                   outside every lock
      preload_this_cpu_lock + spin_lock(&free_vmap_area_lock); __alloc_vmap_area; spin_unlock
      overflow: reclaim_and_purge_vmap_areas() (mutex, full pool decay), retry once
    spin_lock(busy.lock/<addr_to_node_id(addr)>); insert_vmap_area; spin_unlock

vfree (6.3+: remove_vm_area)::

    find_unlink_vmap_area: spin_lock(busy.lock/<i>) for i = addr_to_node_id(addr), i + 1, ...
                           until found; __find_vmap_area + unlink_va; spin_unlock
    vunmap_range_noflush                                     outside every lock
    free_vmap_area_noflush: vmap_lazy_nr += pages
      spin_lock(lazy.lock/<allocating node, else address node>); insert_vmap_area; spin_unlock
      if vmap_lazy_nr > lazy_max_pages(): schedule_work(&drain_vmap_work)
    free the pages, kvfree(pages[]), kfree(vm_struct)

drain_vmap_area_work (a kworker on the freeing CPU; 6.9: one purge, no loop)::

    mutex_lock(&vmap_purge_lock); __purge_vmap_area_lazy(ULONG_MAX, 0, false); mutex_unlock

__purge_vmap_area_lazy(full_pool_decay)::

    for each node i, ascending:
      decay_va_pool_node: per non-empty pool spin_lock(pool_lock/<i>) to detach (and to
        re-attach what is left); local merges outside every lock;
        spin_lock(&free_vmap_area_lock); merge the decayed blocks; spin_unlock
      if the lazy tree is not empty: spin_lock(lazy.lock/<i>); take the list; spin_unlock
    flush_tlb_kernel_range(lowest start, highest end)       outside every lock
    helpers = clamp(vmap_lazy_nr / lazy_max_pages(), 1, marked nodes) - 1
    the first `helpers` marked nodes: schedule_work_on(i, purge_vmap_node) (a kworker on CPU i);
    the others: purge_vmap_node on this CPU, ascending; then flush_work on the helpers
    purge_vmap_node: per area: vmap_lazy_nr -= pages; to the node's pool
      (spin_lock(pool_lock/<i>) each) or to local_list;
      spin_lock(&free_vmap_area_lock); merge local_list; spin_unlock

Simplifications: as in linux-6.1, a kworker runs on its CPU's index without
taking CPU time from that CPU's caller.  Pool list operations cost only the
lock's acquire and release.  The per-area work of purge_vmap_node (KASAN,
list moves, the atomic) is ``purge_area_ns`` outside the locks.  Every node
lock is an engine spinlock with its own seeded stream.
"""

from __future__ import annotations

from typing import Any

from ..allocators.base import Steps
from ..allocators.vmap_nodes import NodeSteps, VmapNodesAllocator
from ..lock import SpinLock
from ..metrics import VFREE
from .base import Gen, KernelBase
from .linux_6_1 import DrainWork, Worker

_NO_STEPS = Steps()           # a section that walks no tree (list operations only)


class Kernel(DrainWork, KernelBase):
    """The 6.9 paths over the ``vmap-nodes`` policy."""

    NAME = "linux-6.9"
    SPINLOCKS: tuple[str, ...] = ("free_vmap_area_lock",)      # the node locks are made in __init__

    def __init__(self, eng: Any, policy: Any) -> None:
        spec = eng.spec
        if getattr(policy, "nr_cpus", None) != spec.cpus:
            # the nodes are sized by num_possible_cpus: rebuild over the same range
            policy = VmapNodesAllocator(policy.rng, policy.busy_areas(), nr_cpus=spec.cpus)
        super().__init__(eng, policy)
        self.lazy_max = policy.lazy_max_pages
        n = policy.nr_vmap_nodes
        self.free_vmap_area_lock = self.locks["free_vmap_area_lock"]
        self.busy_lock = [self._node_lock(f"busy.lock/{i}") for i in range(n)]
        self.lazy_lock = [self._node_lock(f"lazy.lock/{i}") for i in range(n)]
        self.pool_lock = [self._node_lock(f"pool_lock/{i}") for i in range(n)]
        self.vmap_purge_lock = self.mutexes["vmap_purge_lock"]
        self.ne_fit_preload_node = [False] * spec.cpus
        self.drain_pending = False
        self.drain_running = False
        self.node_steps = NodeSteps()            # run totals of the node layer's counters
        self.pool_tries = 0                      # vmallocs that were eligible for a pool
        self.purge_node_ns = [0.0] * n           # simulated time in purge_vmap_node, per node
        self.purge_node_helper = [0] * n         # ... of which runs on a helper kworker

    def extras(self) -> dict[str, Any]:
        """Summary columns of the node layer: pool use and the purge split across nodes."""
        ns, n = self.node_steps, len(self.purge_node_ns)
        total = sum(self.purge_node_ns)
        busiest = max(self.purge_node_ns) if n else 0.0
        return {"vmap_nodes": n,
                "pool_tries": self.pool_tries, "pool_hits": ns.pool_hits,
                "pool_hit_rate": ns.pool_hits / self.pool_tries if self.pool_tries else 0.0,
                "pool_rotations": ns.pool_rotations, "pool_adds": ns.pool_adds,
                "pool_decayed": ns.pool_decayed,
                "purge_nodes_ns": total,
                "purge_nodes_used": sum(1 for t in self.purge_node_ns if t > 0),
                "purge_busiest_node_share": busiest / total if total else 0.0,
                "purge_helper_runs": sum(self.purge_node_helper)}

    def _node_lock(self, name: str) -> SpinLock:
        return self.eng.spinlock(name)

    # -- read-outs ------------------------------------------------------------------
    def sample(self) -> tuple[int, int, int, int, int, int]:
        p = self.policy
        return (p.nr_busy, p.nr_lazy + p.nr_purging, p.vmap_lazy_nr, p.nr_free_blocks,
                p.largest_free_bytes(), p.total_free_bytes())

    def lazy_intervals(self) -> list[tuple[int, int]]:
        """Freed areas not in the free tree: lazy, being purged, pooled."""
        return self.policy.unreleased_areas()

    # -- one critical section -------------------------------------------------------
    def _cost(self, c: Any) -> Any:
        """The cost model of ``c``'s CPU (``KernelBase.cpu_cost``: its cluster's
        clock and cache)."""
        return self.cpu_cost[c.cpu]

    def _locked(self, c: Any, lock: Any, work: Any) -> Gen:
        """spin_lock(lock); work(); spin_unlock(lock).  ``work()`` runs when the lock
        is owned and returns (result, Steps of the section, (busy nodes, free
        nodes) that price them).  Returns (result, wait, hold); ``c.debt`` = the
        time owed up to the release.  (The hot sections write it out as
        ``got = eng.try_spin_lock(c, lock) or (yield from eng.spin_lock(c, lock))``
        then ``_section``: no generator of their own when the lock is free.)"""
        got = self.eng.try_spin_lock(c, lock) or (yield from self.eng.spin_lock(c, lock))
        return self._section(c, lock, work, got)

    def _section(self, c: Any, lock: Any, work: Any, got: tuple[float, float, float]) -> Any:
        """The section of :meth:`_locked` once ``lock`` is owned (``got``: the
        acquisition, as ``Engine.try_spin_lock`` / ``spin_lock`` return it)."""
        t_req, t_own, acq = got
        result, steps, nodes = work()
        cost = self._cost(c)
        hold = acq + cost.steps_ns(steps, *nodes) + cost.lock_release_ns
        if self.cost.line_transfer:                          # issue 11: cache lines moved
            hold += self.lines_ns(lock, c.cpu, steps, acq == 0.0)
        t_rel = t_own + hold
        lock.set_release(t_rel)
        c.debt = t_rel - self.env.now
        return result, t_own - t_req, hold

    # -- vmalloc --------------------------------------------------------------------
    def alloc_vmap_area(self, c: Any, size: int, align: int, vstart: int, vend: int) -> Gen:
        eng, env, cost, policy = self.eng, self.env, self._cost(c), self.policy
        wait = hold = 0.0
        ln = tn = 0
        purged = False
        prg = fl = prg_hold = 0.0                         # latency components (KernelBase.vmalloc)
        # vmalloc_pre_ns holds the vmap_area's kmalloc: node_alloc runs before it
        c.debt -= cost.kmalloc_ns
        obj = -cost.kmalloc_ns
        node = policy.node_alloc_target(vstart, vend, c.cpu)
        if node is not None:
            self.pool_tries += 1                  # eligible for the pools (hit or miss)
        if node is not None and policy.node_pool_len(node, size):
            (addr, vn_id, ns), wait, hold = yield from self._locked(
                c, self.pool_lock[node],
                lambda: (policy.node_alloc(size, align, vstart, vend, c.cpu), _NO_STEPS, (0, 0)))
        else:
            addr, vn_id, ns = policy.node_alloc(size, align, vstart, vend, c.cpu)
        self.node_steps.add(ns)
        if addr is None:
            c.debt += cost.kmalloc_ns                     # kmem_cache_alloc_node(vmap_area)
            obj += cost.kmalloc_ns
            while True:
                if not self.ne_fit_preload_node[c.cpu]:   # preload_this_cpu_lock
                    c.debt += cost.kmalloc_ns
                    obj += cost.kmalloc_ns
                    self.ne_fit_preload_node[c.cpu] = True
                lock = self.free_vmap_area_lock
                got = eng.try_spin_lock(c, lock) or (yield from eng.spin_lock(c, lock))
                r, w, h = self._section(c, lock, lambda: self._alloc_free_tree(c, size, align, vstart,
                                                                             vend), got)
                wait += w
                hold += h
                ln += r.steps.list_nodes
                tn += r.steps.tree_nodes
                if r.addr is not None:
                    addr = r.addr
                    break
                if purged:
                    return None, wait, hold, ln, tn, purged, (obj, prg, fl, prg_hold)
                d, c.debt = c.debt, 0.0
                yield env.timeout(d)                      # overflow: purge, retry once
                start = self.purge_start(c)
                w2, h2 = yield from self.purge_vmap_area_lazy(c, True)
                prg, fl = self.purge_times(c, start, w2)
                wait += w2
                hold += h2
                prg_hold = h2
                purged = True
        node = policy.addr_to_node_id(addr)

        def insert() -> tuple[Steps, Steps, tuple[int, int]]:
            nb = policy.node_nr_busy(node)
            s = policy.insert_vmap_area(addr, size, vn_id)
            return s, s, (nb, 0)
        lock = self.busy_lock[node]
        got = eng.try_spin_lock(c, lock) or (yield from eng.spin_lock(c, lock))
        s, w, h = self._section(c, lock, insert, got)
        tn += s.tree_nodes
        return addr, wait + w, hold + h, ln, tn, purged, (obj, prg, fl, prg_hold)

    def _alloc_free_tree(self, c: Any, size: int, align: int, vstart: int,
                         vend: int) -> tuple[Any, Steps, tuple[int, int]]:
        policy = self.policy
        nb, nf = policy.nr_busy, policy.nr_free_objects
        r = policy.alloc_free_tree(size, align, vstart, vend)   # __alloc_vmap_area
        if r.steps.fit == "NE":                                   # the preloaded object
            r.steps.objects_allocated -= 1
            self.ne_fit_preload_node[c.cpu] = False
        return r, r.steps, (nb, nf)

    # -- vfree ----------------------------------------------------------------------
    def vfree(self, c: Any, addr: int) -> Gen:
        eng, env, cost, policy = self.eng, self.env, self._cost(c), self.policy
        t0 = env.now + c.debt
        wait = hold = 0.0
        tn = 0
        size = None
        for node in policy.lookup_order(addr):           # find_unlink_vmap_area

            def find_unlink(node: int = node) -> tuple[Any, Steps, tuple[int, int]]:
                nb = policy.node_nr_busy(node)
                sz, s = policy.find_unlink_vmap_area_on(node, addr)
                return (sz, s.tree_nodes), s, (nb, 0)
            lock = self.busy_lock[node]
            got = eng.try_spin_lock(c, lock) or (yield from eng.spin_lock(c, lock))
            (size, t), w, h = self._section(c, lock, find_unlink, got)
            wait += w
            hold += h
            tn += t
            if size is not None:
                break
        info = self.vm_areas.pop(addr, None)
        if size is None or info is None:
            eng.warn(f"Trying to vfree() nonexistent vm area ({addr:#x})")
            eng.oplog.add(t0, c.idx, c.cpu, VFREE, 0, 1, addr, False,
                          env.now + c.debt - t0, wait, hold, 0, tn, False, (hold, 0.0, 0.0, 0.0, 0.0))
            return
        npages, area_bytes = info
        c.debt += npages * cost.vfree_unmap_page_ns       # vunmap_range_noflush
        lazy_node = policy.lazy_node_of(addr)

        def noflush() -> tuple[Any, Steps, tuple[int, int]]:
            nl = policy.node_nr_lazy(lazy_node)
            _, drain, s = policy.free_vmap_area_noflush(addr, area_bytes)
            return (drain, s.tree_nodes), s, (nl, 0)
        lock = self.lazy_lock[lazy_node]
        got = eng.try_spin_lock(c, lock) or (yield from eng.spin_lock(c, lock))
        (drain, t), w, h = self._section(c, lock, noflush, got)
        wait += w
        hold += h
        tn += t
        self.lazy_nr = policy.vmap_lazy_nr
        if drain:
            self.schedule_drain_work(c.cpu)
        c.debt = c.debt + npages * cost.vfree_free_page_ns + cost.vfree_post_fixed_ns
        eng.oplog.add(t0, c.idx, c.cpu, VFREE, npages * self.page_size, 1, addr, True,
                      env.now + c.debt - t0, wait, hold, 0, tn, drain,
                      (hold, cost.vfree_post_fixed_ns,
                       npages * (cost.vfree_unmap_page_ns + cost.vfree_free_page_ns), 0.0, 0.0))

    # -- purge ----------------------------------------------------------------------
    def drain_vmap_area_work(self, w: Worker) -> Gen:
        self.drain_running = True
        while self.drain_pending:
            self.drain_pending = False
            yield from self.purge_vmap_area_lazy(w, False)
        self.drain_running = False

    def purge_vmap_area_lazy(self, c: Any, full_pool_decay: bool) -> Gen:
        """mutex_lock(&vmap_purge_lock); __purge_vmap_area_lazy; mutex_unlock."""
        ev = self.vmap_purge_lock.lock()
        if ev is not None:
            yield ev
        wait, hold = yield from self.__purge_vmap_area_lazy(c, full_pool_decay)
        self.vmap_purge_lock.unlock()
        return wait, hold

    def _pool_sections(self, c: Any, node: int, count: int) -> Gen:
        """``count`` pool_lock sections of one list operation each."""
        wait = hold = 0.0
        for _ in range(count):
            _, w, h = yield from self._locked(c, self.pool_lock[node], lambda: (None, _NO_STEPS, (0, 0)))
            wait += w
            hold += h
        return wait, hold

    def _reclaim(self, c: Any, blocks: list[tuple[int, int]]) -> Gen:
        """reclaim_list_global: one free_vmap_area_lock section for the list."""
        policy = self.policy

        def merge() -> tuple[None, Steps, tuple[int, int]]:
            nb, nf = policy.nr_busy, policy.nr_free_objects
            return None, policy.reclaim_list_global(blocks), (nb, nf)
        _, w, h = yield from self._locked(c, self.free_vmap_area_lock, merge)
        self.node_steps.reclaimed += len(blocks)
        return w, h

    def __purge_vmap_area_lazy(self, c: Any, full_pool_decay: bool) -> Gen:
        eng, env, cost, policy = self.eng, self.env, self._cost(c), self.policy
        wait = hold = 0.0
        marked: list[int] = []
        start = end = None
        for node in range(policy.nr_vmap_nodes):
            blocks, local_steps, ns = policy.decay_va_pool_node(node, full_pool_decay)
            self.node_steps.add(ns)
            w, h = yield from self._pool_sections(c, node, ns.pool_detaches)
            c.debt += cost.steps_ns(local_steps, len(blocks), 0)    # the local decay tree
            wait += w
            hold += h
            if blocks:
                w, h = yield from self._reclaim(c, blocks)
                wait += w
                hold += h
            if policy.node_nr_lazy(node):
                def take(node: int = node) -> tuple[list[tuple[int, int]], Steps, tuple[int, int]]:
                    return policy.purge_take_lazy(node, full_pool_decay), _NO_STEPS, (0, 0)
                taken, w, h = yield from self._locked(c, self.lazy_lock[node], take)
                wait += w
                hold += h
                marked.append(node)
                self.node_steps.lazy_taken += len(taken)
                start = taken[0][0] if start is None else min(start, taken[0][0])
                end = taken[-1][1] if end is None else max(end, taken[-1][1])
            else:
                policy.purge_take_lazy(node, full_pool_decay)        # skip_populate only
        if not marked:
            d, c.debt = c.debt, 0.0
            if d > 0:
                yield env.timeout(d)
            return wait, hold
        eng.purges += 1
        eng.tlb_flushes += 1
        fl = self.flushed(c, cost.tlb_flush_ns((end - start) // self.page_size))  # type: ignore[operator]  # now + debt
        d, c.debt = c.debt, 0.0
        yield env.timeout(d + fl)
        helpers = marked[:policy.nr_purge_helpers(len(marked))]
        workers = [env.process(self._purge_vmap_node_work(node)) for node in helpers]
        for node in marked[len(helpers):]:
            w, h = yield from self.purge_vmap_node(c, node)
            wait += w
            hold += h
        d, c.debt = c.debt, 0.0
        if d > 0:
            yield env.timeout(d)
        for p in workers:                                 # flush_work
            w, h = yield p
            wait += w
            hold += h
        return wait, hold

    def _purge_vmap_node_work(self, node: int) -> Gen:
        """A kworker on CPU ``node`` (schedule_work_on) running purge_vmap_node."""
        w = Worker(node % self.eng.spec.cpus)
        self.purge_node_helper[node] += 1
        wait, hold = yield from self.purge_vmap_node(w, node)
        if w.debt > 0:
            yield self.env.timeout(w.debt)
        return wait, hold

    def purge_vmap_node(self, c: Any, node: int) -> Gen:
        t0 = self.env.now + c.debt
        wait, hold = yield from self._purge_vmap_node(c, node)
        self.purge_node_ns[node] += self.env.now + c.debt - t0
        return wait, hold

    def _purge_vmap_node(self, c: Any, node: int) -> Gen:
        policy = self.policy
        local, ns = policy.purge_vmap_node(node)
        self.node_steps.add(ns)
        self.lazy_nr = policy.vmap_lazy_nr
        c.debt += ns.nr_purged * self._cost(c).purge_area_ns
        wait, hold = yield from self._pool_sections(c, node, ns.pool_adds)
        if local:
            w, h = yield from self._reclaim(c, local)
            wait += w
            hold += h
        return wait, hold


__all__ = ["Kernel"]
