"""What every generation shares: ``__vmalloc_node_range`` around its
``alloc_vmap_area``, ``__vunmap`` around its vfree side, the vm_struct
bookkeeping, and the read-outs the engine samples.

A generation subclasses :class:`KernelBase` and writes, in its kernel's
function names:

- ``alloc_vmap_area(c, size, align, vstart, vend)``: a generator returning
  ``(addr | None, lock_wait_ns, lock_hold_ns, list_nodes, tree_nodes, purged)``
  that leaves ``c.debt`` = the caller's time still owed after its last
  critical section (``t_release - now``);
- ``remove_vm_area(c, t0, addr)``: the vfree side, recording the op.

Time accounting ("debt") is the engine's: see ``simulator/engine.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from ..costmodel import LineOwners, steps_lines
from ..kconst import lazy_max_pages
from ..metrics import VMALLOC

Gen = Generator[Any, Any, Any]


class KernelBase:
    """One run's kernel state: the policy, the vm areas, the lazy accounting."""

    NAME = ""                       # the generation (simulator.kernels registry name)
    #: spinlocks and mutexes the generation declares (created in this order)
    SPINLOCKS: tuple[str, ...] = ("vmap_area_lock",)
    MUTEXES: tuple[str, ...] = ("vmap_purge_lock",)
    #: the 2019 "priority threshold" of __purge_vmap_area_lazy, when the kernel has it
    PURGE_PRIORITY_THRESHOLD = False
    #: freed vmap_areas go through kfree_rcu (4.x, the RFC); 5.2+ kmem_cache_free at once
    KFREE_RCU = False

    def __init__(self, eng: Any, policy: Any) -> None:
        spec = eng.spec
        self.eng = eng
        self.env = eng.env
        self.cost = eng.cost
        self.cpu_cost = eng.cost.per_cpu()        # per CPU: its cluster's clock and cache
        self.lines = LineOwners(eng.cost)         # who wrote each lock's data last
        self.rcu_pending = [0] * spec.cpus        # kfree_rcu'd objects whose callbacks are due
        #: a section pays lines_ns / kfree_rcu_ns (issue 11 mechanisms on)
        self.extra_prices = bool(eng.cost.line_transfer or eng.cost.rcu_free)
        self.release_extra_ns = 0.0               # cond_resched_purge: its release's extras
        self.policy = policy
        self.page_size = spec.address_space.page_size
        self.guard_page = spec.guard_page
        self.lazy_max = lazy_max_pages(spec.cpus, self.page_size)
        self.priority_threshold = (self.PURGE_PRIORITY_THRESHOLD
                                   if spec.purge_priority_threshold is None
                                   else spec.purge_priority_threshold)
        self.locks = {name: eng.spinlock(name) for name in self.SPINLOCKS}
        self.mutexes = {name: eng.mutex(name) for name in self.MUTEXES}
        self.vm_areas: dict[int, tuple[int, int]] = {}   # addr -> (mapped pages, area bytes)
        self.lazy_nr = 0                                  # vmap_lazy_nr (pages)
        self.lazy_areas = 0                               # lazily freed, not yet released
        self.flushed_ns: dict[Any, float] = {}            # TLB flush time per flushing caller

    # -- __vmalloc_node_range ---------------------------------------------------
    def vmalloc(self, c: Any, size_bytes: int, align: int = 1, vstart: int | None = None,
                vend: int | None = None, guard: bool = True, zero: bool = False) -> Gen:
        """__vmalloc_node_range: kmalloc vm_struct + vmap_area, alloc_vmap_area,
        then (outside every lock) the pages array and per page alloc + map
        (+ clear_page when ``zero``: __GFP_ZERO, vzalloc)."""
        eng, env, cost = self.eng, self.env, self.cpu_cost[c.cpu]
        ps = self.page_size
        if not isinstance(size_bytes, int) or size_bytes <= 0 or size_bytes % ps:
            raise ValueError(f"{c.label}: vmalloc size must be a positive multiple of the "
                             f"page size {ps} bytes (got {size_bytes!r})")
        npages = size_bytes // ps
        area_bytes = size_bytes + ps if (guard and self.guard_page) else size_bytes
        vs = c.vmalloc_start if vstart is None else vstart
        ve = c.vmalloc_end if vend is None else vend
        t0 = env._now + c.debt
        c.debt += cost.vmalloc_pre_ns                 # kmalloc vm_struct + vmap_area
        addr, wait, hold, ln, tn, purged, (obj, prg, fl, prg_hold) = yield from self.alloc_vmap_area(
            c, area_bytes, align, vs, ve)
        obj += cost.vmalloc_pre_ns
        if addr is None:
            eng.enomem += 1
            eng.warn(f"vmap allocation for size {area_bytes} failed: "
                     "use vmalloc=<size> to increase size")
            c.debt = c.debt + cost.enomem_ns
            eng.oplog.add(t0, c.idx, c.cpu, VMALLOC, size_bytes, align, 0, False,
                          env.now + c.debt - t0, wait, hold, ln, tn, purged,
                          (hold - prg_hold, obj + cost.enomem_ns, 0.0, prg, fl))
            return None
        if addr in self.vm_areas:                    # conservation: never hand out a live area
            eng.violation(f"vmalloc returned {addr:#x}, which is live", f"op {eng.oplog.count} "
                          f"(vmalloc {size_bytes} bytes on cpu {c.cpu})")
        self.vm_areas[addr] = (npages, area_bytes)
        pages = npages * cost.vmalloc_page_ns
        if zero:
            pages += npages * cost.zero_page_ns
        c.debt = c.debt + cost.vmalloc_post_fixed_ns + pages
        eng.oplog.add(t0, c.idx, c.cpu, VMALLOC, size_bytes, align, addr, True,
                      env._now + c.debt - t0, wait, hold, ln, tn, purged,
                      (hold - prg_hold, obj + cost.vmalloc_post_fixed_ns, pages, prg, fl))
        if self.extra_prices and self.rcu_pending[c.cpu]:   # (only kfree_rcu_ns queues them)
            self.rcu_callbacks(c)
        return addr

    def alloc_vmap_area(self, c: Any, size: int, align: int, vstart: int, vend: int) -> Gen:
        raise NotImplementedError

    # -- latency components (ops.parquet search_ns ... flush_ns) -----------------------
    def flushed(self, c: Any, ns: float) -> float:
        """A TLB flush of ``ns`` by ``c`` (its op's ``flush_ns``); returns ``ns``."""
        self.flushed_ns[c] = self.flushed_ns.get(c, 0.0) + ns
        return ns

    def purge_start(self, c: Any) -> tuple[float, float]:
        """Before a purge on ``c``'s op path: its start and ``c``'s flush time so
        far, for :meth:`purge_times`.  (Two plain calls around the purge, not a
        generator wrapping it: every resumption of a purging caller would pass
        through one more generator.)"""
        return self.env._now + c.debt, self.flushed_ns.get(c, 0.0)

    def purge_times(self, c: Any, start: tuple[float, float], wait: float) -> tuple[float, float]:
        """After the purge that began at ``start`` (:meth:`purge_start`) and spun
        ``wait`` ns: ``(purge_ns, flush_ns)``; ``purge_ns`` is the purge's time
        less its spin waits and its TLB flush, so mutex waits and critical
        sections."""
        t, f = start
        fl = self.flushed_ns.get(c, 0.0) - f
        return self.env._now + c.debt - t - wait - fl, fl

    # -- issue 11 prices (simulator/costmodel.py) ---------------------------------
    def lines_ns(self, lock: Any, cpu: int, steps: Any, contended: bool) -> float:
        """Cache lines of ``lock``'s data (and its word) this section moves from
        the CPU that held it last (0 unless ``line_transfer``)."""
        if not self.cost.line_transfer:
            return 0.0
        touched, written = steps_lines(steps)
        return self.lines.section(lock, cpu, touched, written, contended)

    def kfree_rcu_ns(self, c: Any, steps: Any) -> float:
        """A section's kfree_rcu'd objects (4.x): call_rcu instead of kfree now,
        their callbacks owed to the CPU (:meth:`rcu_callbacks`)."""
        if not self.KFREE_RCU or not self.cost.rcu_free or not steps.objects_freed:
            return 0.0
        self.rcu_pending[c.cpu] += steps.objects_freed
        return self.cpu_cost[c.cpu].rcu_defer_ns(steps.objects_freed)

    def rcu_callbacks(self, c: Any) -> None:
        """After an op: the RCU callbacks it queued run as one burst on its CPU
        (softirq time between ops: in the loop time, not in an op's latency)."""
        n = self.rcu_pending[c.cpu]
        if n:
            self.rcu_pending[c.cpu] = 0
            c.debt += self.cpu_cost[c.cpu].rcu_burst_ns(n)

    def vfree(self, c: Any, addr: int) -> Gen:
        raise NotImplementedError

    # -- the purge's loop, shared by the 4.19, 5.10 and 6.1 paths -----------------
    def cond_resched_purge(self, c: Any, lock: Any, areas: list[Any],
                           release: Callable[[Any, bool], float],
                           wait: float = 0.0, hold: float = 0.0) -> Gen:
        """``spin_lock(lock)``; release each area (newest first) with
        ``cond_resched_lock(lock)`` between areas; ``spin_unlock(lock)``.

        ``release(area, contended)`` does the area's bookkeeping (the policy's
        free or merge, ``vmap_lazy_nr``) and returns its Steps' price plus
        ``purge_area_ns``; with the issue-11 prices on (``extra_prices``) it
        also sets ``release_extra_ns``, added after (off, nothing is added: the
        same float as adding 0.0).  cond_resched_lock drops the lock when
        another CPU spins on it (``spin_needbreak``), except, with the 2019 priority threshold, while
        ``vmap_lazy_nr`` is still at or above twice ``lazy_max_pages``.
        ``wait`` / ``hold`` carry the purge's earlier sections (6.1); returns
        them with this loop's added."""
        eng, env = self.eng, self.env
        cost = self.cpu_cost[c.cpu]
        resched_threshold = 2 * self.lazy_max if self.priority_threshold else None
        got = eng.try_spin_lock(c, lock)
        t_req, t_own, acq = got if got is not None else (yield from eng.spin_lock(c, lock))
        wait += t_own - t_req
        t = t_own + acq
        last = len(areas) - 1
        q = env._queue                                # env.peek(), inlined (per area)
        contended = acq == 0.0
        extra = self.extra_prices
        for k, area in enumerate(areas):
            t += release(area, contended)
            if extra:
                t += self.release_extra_ns            # the issue-11 prices of this area
            if q and q[0][0] <= t:                    # someone may act before this boundary
                yield env.timeout(t - env.now)
            if (k < last and lock.waiters                    # cond_resched_lock: spin_needbreak
                    and (resched_threshold is None or self.lazy_nr < resched_threshold)):
                t += cost.lock_release_ns
                lock.set_release(t)
                hold += t - t_own
                yield env.timeout(t - env.now)
                got = eng.try_spin_lock(c, lock)
                t_req, t_own, acq = got if got is not None else (yield from eng.spin_lock(c, lock))
                wait += t_own - t_req
                t = t_own + acq
                contended = acq == 0.0
        t += cost.lock_release_ns
        lock.set_release(t)
        hold += t - t_own
        if t > env.now:
            yield env.timeout(t - env.now)            # the purge mutex is held to the end
        return wait, hold

    # -- read-outs (sampled by the engine) ---------------------------------------
    def sample(self) -> tuple[int, int, int, int, int, int]:
        """(busy areas, lazy areas, lazy pages, free blocks, largest free, total free)."""
        p = self.policy
        return (p.nr_busy, self.lazy_areas, self.lazy_nr, p.nr_free_blocks,
                p.largest_free_bytes(), p.total_free_bytes())

    def extras(self) -> dict[str, Any]:
        """Generation-specific summary columns (none by default)."""
        return {}

    def lazy_intervals(self) -> list[tuple[int, int]]:
        """The lazily freed areas not yet released, (start, end)."""
        return []

    def check(self) -> None:
        """The policy's invariants (InvariantError when broken), then the
        conservation of areas: every live area is a busy area of the policy,
        and no two live or lazily freed areas overlap (an address handed out
        while busy or lazily freed).  O(n log n)."""
        from ..allocators.base import InvariantError
        self.policy.check()
        live = [(a, a + b) for a, (_, b) in self.vm_areas.items()]
        busy = set(self.policy.busy_areas())
        stray = next((iv for iv in live if iv not in busy), None)
        if stray is not None:
            raise InvariantError(f"live area [{stray[0]:#x}, {stray[1]:#x}) is not a busy area "
                                 "of the allocator")
        ivs = sorted(live + self.lazy_intervals())
        for (s0, e0), (s1, e1) in zip(ivs, ivs[1:]):
            if s1 < e0:
                raise InvariantError(f"areas [{s0:#x}, {e0:#x}) and [{s1:#x}, {e1:#x}) overlap")


__all__ = ["KernelBase", "Gen"]
