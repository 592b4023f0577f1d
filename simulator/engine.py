"""The simulation engine: one RunSpec -> one RunResult.

One SimPy environment, time in ns, ``spec.cpus`` CPUs, one long-lived
process per caller bound to its CPU (one caller per CPU: no CPU sharing).
The object a workload drives is :class:`CpuCaller` (the ``workloads.Caller``
protocol).  The vmalloc / vfree paths, the lazy purge and the lock follow
Linux 4.19 / 5.4 ``mm/vmalloc.c`` (../shared/kernel-notes.md sections 4-5);
``docs/engine.md`` describes them and every cost.

Lean time: a caller accumulates the CPU time of its own private work (page
allocation and mapping, touches, the tail of a critical section) as *debt*
and pays it with one timeout just before it next touches shared state (the
lock, the purge mutex, the lazy list) or sleeps.  An uncontended vmalloc
or vfree is one SimPy event (a vfree one more when another process acts
while it unmaps).  The purge frees its areas without events while no other
process can run before the next area boundary (``env.peek()``), so
``cond_resched_lock`` still sees every waiter at the first boundary after
its arrival.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import simpy

from .costmodel import CostModel
from .lock import SpinLock
from .metrics import VFREE, VMALLOC, OpLog, fragmentation, timeseries_frame
from .spec import CallerSpec, RunSpec

MIB = 1 << 20
_PRINTK_BURST, _PRINTK_INTERVAL_NS = 10, 5_000_000_000  # printk_ratelimit(): 10 per 5 s


def fls(x: int) -> int:
    """The kernel's fls(): index of the most significant set bit, 1-based; fls(0) = 0."""
    return x.bit_length()


def lazy_max_pages(cpus: int, page_size: int) -> int:
    """``fls(num_online_cpus()) * (32 MiB / PAGE_SIZE)`` (mm/vmalloc.c)."""
    return fls(cpus) * (32 * MIB // page_size)


@dataclass
class RunResult:
    """What one run produced (``simulator.runner`` concatenates them)."""

    ops: pd.DataFrame
    timeseries: pd.DataFrame
    summary: dict[str, Any]
    log: list[str] = field(default_factory=list)
    histograms: pd.DataFrame | None = None    # stats-only mode (metrics.histograms)


class CpuCaller:
    """The engine side of one caller: implements ``workloads.base.Caller``."""

    def __init__(self, eng: Engine, idx: int, cs: CallerSpec, rng: np.random.Generator) -> None:
        asp = eng.spec.address_space
        self.eng = eng
        self.env = eng.env
        self.idx = idx
        self.cpu = cs.cpu
        self.ncpus = eng.spec.cpus
        self.page_size = asp.page_size
        self.vmalloc_start = asp.vmalloc_start
        self.vmalloc_end = asp.vmalloc_end
        self.modules_start = asp.modules_start
        self.modules_end = asp.modules_end
        self.word_bits = asp.word_bits
        self.rng = rng
        self.iterations = eng.spec.iterations
        self.label = cs.label
        self.background = cs.background
        self.debt = 0.0                  # ns of private CPU work not yet yielded
        self.done_iterations = 0
        self.stopped = False
        self.end_ns: float | None = None

    @property
    def now_ns(self) -> int:
        return int(self.env.now + self.debt)

    # -- the protocol ---------------------------------------------------------
    def running(self) -> bool:
        if self.stopped:
            return False
        spec = self.eng.spec
        if spec.iterations is not None and not self.background and self.done_iterations >= spec.iterations:
            return False
        return spec.time_ns is None or self.env.now + self.debt < spec.time_ns

    def measure_start(self) -> None:
        self.eng.oplog.measure_start(self.idx, self.env.now + self.debt)

    def iteration_done(self) -> None:
        self.done_iterations += 1

    def log(self, line: str) -> None:
        self.eng.log.append(str(line))

    def sleep(self, ns: int) -> Generator[Any, Any, None]:
        if ns < 0:
            raise ValueError(f"{self.label}: sleep({ns}): ns must be >= 0")
        d = self.debt + ns
        self.debt = 0.0
        if d > 0:
            yield self.env.timeout(d)

    def touch(self, addr: int) -> Generator[Any, Any, None]:
        self.debt += self.eng.cost.touch_ns
        return
        yield  # pragma: no cover  (a generator that needs no event)

    def vmalloc(self, size_bytes: int, align: int = 1, vstart: int | None = None,
                vend: int | None = None, guard: bool = True) -> Generator[Any, Any, int | None]:
        eng, env, lock, cost, alloc = self.eng, self.env, self.eng.lock, self.eng.cost, self.eng.alloc
        ps = self.page_size
        if not isinstance(size_bytes, int) or size_bytes <= 0 or size_bytes % ps:
            raise ValueError(f"{self.label}: vmalloc size must be a positive multiple of the "
                             f"page size {ps} bytes (got {size_bytes!r})")
        npages = size_bytes // ps
        area_bytes = size_bytes + ps if (guard and eng.guard_page) else size_bytes
        vs = self.vmalloc_start if vstart is None else vstart
        ve = self.vmalloc_end if vend is None else vend
        t0 = env.now + self.debt
        d = self.debt + cost.vmalloc_pre_ns          # kmalloc vm_struct + vmap_area
        t_ahead = env.now + d
        # Run ahead: when no other event is due before the lock request and the
        # lock is free then, take it at that instant without yielding (the
        # state then is the state now); else yield until the request instant.
        ahead = env.peek() > t_ahead and lock.free_at(t_ahead)
        if ahead:
            self.debt = d
        else:
            self.debt = 0.0
            yield env.timeout(d)
        wait = hold = 0.0
        ln = tn = 0
        purged = False
        while True:                                  # alloc_vmap_area: retry once after a purge
            if ahead:
                t_req = t_ahead
                lock.acquire_at(self.cpu, t_req)
                t_own, acq = t_req, cost.lock_acquire_ns
                ahead = False
            else:
                t_req = env.now
                ev = lock.request(self.cpu)
                if ev is None:
                    t_own, acq = t_req, cost.lock_acquire_ns
                else:
                    h = yield ev
                    t_own, acq = env.now + h, 0.0
            wait += t_own - t_req
            nb, nf = alloc.nr_busy, alloc.nr_free_objects  # before the operation
            r = alloc.alloc(area_bytes, align, vs, ve)
            s = r.steps
            ln += s.list_nodes
            tn += s.tree_nodes
            cs = acq + cost.steps_ns(s, nb, nf) + cost.lock_release_ns
            hold += cs
            t_rel = t_own + cs
            lock.set_release(t_rel)
            addr = r.addr
            if addr is not None or purged:
                break
            yield env.timeout(t_rel - env.now)       # overflow: unlock, purge, retry
            w2, h2 = yield from eng.purge_vmap_area_lazy(self)
            wait += w2
            hold += h2
            purged = True
        if addr is None:
            eng.enomem += 1
            eng.warn(f"vmap allocation for size {area_bytes} failed: "
                     "use vmalloc=<size> to increase size")
            self.debt = t_rel - env.now + cost.enomem_ns
            eng.oplog.add(t0, self.idx, self.cpu, VMALLOC, size_bytes, align, 0, False,
                          env.now + self.debt - t0, wait, hold, ln, tn, purged)
            return None
        eng.areas[addr] = (npages, area_bytes)
        self.debt = t_rel - env.now + cost.vmalloc_post_fixed_ns + npages * cost.vmalloc_page_ns
        eng.oplog.add(t0, self.idx, self.cpu, VMALLOC, size_bytes, align, addr, True,
                      env.now + self.debt - t0, wait, hold, ln, tn, purged)
        return addr

    def vfree(self, addr: int) -> Generator[Any, Any, None]:
        eng, env, lock, cost = self.eng, self.env, self.eng.lock, self.eng.cost
        t0 = env.now + self.debt
        d = self.debt
        t_ahead = env.now + d
        if d > 0 and env.peek() > t_ahead and lock.free_at(t_ahead):
            t_req = t_ahead                          # run ahead (see vmalloc)
            lock.acquire_at(self.cpu, t_req)         # find_vmap_area
            t_own, acq = t_req, cost.lock_acquire_ns
        else:
            self.debt = 0.0
            if d > 0:
                yield env.timeout(d)
            t_req = env.now
            ev = lock.request(self.cpu)              # find_vmap_area
            if ev is None:
                t_own, acq = t_req, cost.lock_acquire_ns
            else:
                h = yield ev
                t_own, acq = env.now + h, 0.0
        wait = t_own - t_req
        nbusy = eng.alloc.nr_busy
        tn = nbusy.bit_length()                      # one busy-tree descent, tree_depth(n)
        hold = acq + cost.lookup_ns(nbusy) + cost.lock_release_ns
        t_rel = t_own + hold
        lock.set_release(t_rel)
        info = eng.areas.pop(addr, None)
        if info is None:
            eng.warn(f"Trying to vfree() nonexistent vm area ({addr:#x})")
            self.debt = t_rel - env.now
            eng.oplog.add(t0, self.idx, self.cpu, VFREE, 0, 1, addr, False,
                          env.now + self.debt - t0, wait, hold, 0, tn, False)
            return
        npages, area_bytes = info
        # __vunmap: remove_vm_area (unmap the pages, then free_vmap_area_noflush:
        # vmap_lazy_nr += pages (guard included), llist_add, maybe purge), then
        # free the pages and kfree the pages array and the vm_struct.
        unmapped = t_rel - env.now + npages * cost.vfree_unmap_page_ns
        after = npages * cost.vfree_free_page_ns + cost.vfree_post_fixed_ns
        if unmapped > 0 and env.peek() <= env.now + unmapped:
            yield env.timeout(unmapped)              # others act before the area is lazy
            unmapped = 0.0
        nr_lazy = eng.lazy_add(addr, area_bytes)     # at the end of the unmapping
        purge = False
        if nr_lazy > eng.lazy_max:
            if unmapped > 0:
                yield env.timeout(unmapped)
                unmapped = 0.0
            purge, w2, h2 = yield from eng.try_purge_vmap_area_lazy(self)
            wait += w2
            hold += h2
        self.debt = unmapped + after
        eng.oplog.add(t0, self.idx, self.cpu, VFREE, npages * self.page_size, 1, addr, True,
                      env.now + self.debt - t0, wait, hold, 0, tn, purge)


class Engine:
    """State of one run; :func:`simulate` is the entry point."""

    def __init__(self, spec: RunSpec, allocator_factory: Callable[[RunSpec], Any] | None = None) -> None:
        import workloads  # the registry (imported here: workloads import nothing of the engine)

        self.spec = spec
        if spec.cpus < 1:
            raise ValueError(f"cpus must be >= 1 (got {spec.cpus})")
        if not spec.callers:
            raise ValueError("a run needs at least one caller")
        if all(c.background for c in spec.callers):
            raise ValueError("a run needs at least one foreground (background: false) caller")
        used: dict[int, str] = {}
        for c in spec.callers:
            if not 0 <= c.cpu < spec.cpus:
                raise ValueError(f"caller {c.label}: cpu {c.cpu} is not in 0..{spec.cpus - 1}")
            if c.cpu in used:
                raise ValueError(f"callers {used[c.cpu]} and {c.label} are both on cpu {c.cpu}: "
                                 "one caller per CPU (no CPU sharing is modelled)")
            used[c.cpu] = c.label
        self.workloads = []
        for c in spec.callers:
            wl = workloads.get(c.workload)
            try:
                params = wl.params.model_validate(
                    c.params, context={"page_size": spec.address_space.page_size})
            except Exception as exc:  # pydantic.ValidationError, TypeError
                first = str(exc).splitlines()
                raise ValueError(f"caller {c.label}: invalid params for workload {c.workload!r}: "
                                 f"{' '.join(first[:3])}") from None
            self.workloads.append((wl, params))
        asp = spec.address_space
        self.env = simpy.Environment()
        self.cost = CostModel(spec.cost, spec.cpus)
        if allocator_factory is not None:
            self.alloc = allocator_factory(spec)
        else:
            from .allocators import create
            self.alloc = create(spec.allocator, vstart=asp.vstart, vend=asp.vend,
                                vmalloc_start=asp.vmalloc_start, vmalloc_end=asp.vmalloc_end,
                                page_size=asp.page_size, word_bits=asp.word_bits,
                                initial_busy=asp.initial_busy)
        streams = np.random.SeedSequence(spec.seed).spawn(len(spec.callers) + 1)
        self.lock = SpinLock(self.env, spec.cpus, self.cost.lock_order, self.cost.lock_handoff_ns,
                             self.cost.lock_waiter_ns, rng=np.random.default_rng(streams[-1]))
        self.callers = [CpuCaller(self, i, c, np.random.default_rng(streams[i]))
                        for i, c in enumerate(spec.callers)]
        self.guard_page = spec.guard_page
        self.page_size = asp.page_size
        self.lazy_max = lazy_max_pages(spec.cpus, asp.page_size)
        self.areas: dict[int, tuple[int, int]] = {}   # addr -> (mapped pages, area bytes incl. guard)
        self.lazy: list[tuple[int, int]] = []         # vmap_purge_list: (addr, pages incl. guard)
        self.lazy_lo = self.lazy_hi = 0
        self.lazy_nr = 0                              # vmap_lazy_nr
        self.lazy_areas = 0                           # lazily freed, not yet back in the allocator
        self.purge_busy = False                       # vmap_purge_lock (a mutex)
        self.purge_waiters: deque[simpy.Event] = deque()
        self.purges = self.tlb_flushes = self.enomem = 0
        self.log: list[str] = []
        self._printk: deque[float] = deque()
        self._printk_missed = 0
        self.oplog = OpLog(spec.metrics.keep_ops, len(spec.callers))
        self.samples: list[tuple] = []
        self._last_sample = (0.0, 0.0)
        self.live = 0

    # -- shared state ---------------------------------------------------------
    def warn(self, text: str) -> None:
        """A kernel warning, rate limited like printk_ratelimit() (10 per 5 s)."""
        now = self.env.now
        q = self._printk
        while q and q[0] <= now - _PRINTK_INTERVAL_NS:
            q.popleft()
        if len(q) >= _PRINTK_BURST:
            self._printk_missed += 1
            return
        if self._printk_missed:
            self.log.append(f"{self._printk_missed} callbacks suppressed")
            self._printk_missed = 0
        q.append(now)
        self.log.append(text)

    def lazy_add(self, addr: int, area_bytes: int) -> int:
        pages = area_bytes // self.page_size
        end = addr + area_bytes
        if not self.lazy:
            self.lazy_lo, self.lazy_hi = addr, end
        else:
            if addr < self.lazy_lo:
                self.lazy_lo = addr
            if end > self.lazy_hi:
                self.lazy_hi = end
        self.lazy.append((addr, pages))
        self.lazy_areas += 1
        self.lazy_nr += pages
        return self.lazy_nr

    # -- purge ----------------------------------------------------------------
    def try_purge_vmap_area_lazy(self, c: CpuCaller) -> Generator[Any, Any, tuple[bool, float, float]]:
        """mutex_trylock(&vmap_purge_lock): skip when another CPU purges."""
        if self.purge_busy:
            return False, 0.0, 0.0
        self.purge_busy = True
        did, wait, hold = yield from self._purge(c)
        self._purge_unlock()
        return did, wait, hold

    def purge_vmap_area_lazy(self, c: CpuCaller) -> Generator[Any, Any, tuple[float, float]]:
        """The synchronous purge of the overflow path: mutex_lock (sleeps if taken)."""
        if self.purge_busy:
            ev = self.env.event()
            self.purge_waiters.append(ev)
            yield ev                                   # ownership handed over by the unlocker
        else:
            self.purge_busy = True
        _, wait, hold = yield from self._purge(c)
        self._purge_unlock()
        return wait, hold

    def _purge_unlock(self) -> None:
        if self.purge_waiters:
            self.purge_waiters.popleft().succeed()
        else:
            self.purge_busy = False

    def _take_lock(self, cpu: int) -> Generator[Any, Any, tuple[float, float, float]]:
        """spin_lock now: (owned from, critical section starts at, spin wait)."""
        t_req = self.env.now
        ev = self.lock.request(cpu)
        if ev is None:
            return t_req, t_req + self.cost.lock_acquire_ns, 0.0
        h = yield ev
        t_own = self.env.now + h
        return t_own, t_own, t_own - t_req

    def _purge(self, c: CpuCaller) -> Generator[Any, Any, tuple[bool, float, float]]:
        """__purge_vmap_area_lazy: one TLB flush over the span, then free every area."""
        env, lock, cost, alloc = self.env, self.lock, self.cost, self.alloc
        # llist_del_all: llist_add pushes at the head, so the purge walks the
        # list newest first (llist_for_each_entry_safe), in every kernel
        # generation vmsim models (4.19, the RFC, 5.2)
        valist = self.lazy[::-1]
        if not valist:
            return False, 0.0, 0.0
        self.lazy = []
        self.purges += 1
        self.tlb_flushes += 1
        yield env.timeout(cost.tlb_flush_ns((self.lazy_hi - self.lazy_lo) // self.page_size))
        resched_threshold = 2 * self.lazy_max if self.spec.purge_priority_threshold else None
        hold = 0.0
        t_own, t, wait = yield from self._take_lock(c.cpu)
        last = len(valist) - 1
        for k, (addr, pages) in enumerate(valist):
            nb, nf = alloc.nr_busy, alloc.nr_free_objects
            t += cost.steps_ns(alloc.free(addr), nb, nf) + cost.purge_area_ns   # __free_vmap_area
            self.lazy_nr -= pages                     # atomic_sub(nr, &vmap_lazy_nr)
            self.lazy_areas -= 1
            if env.peek() <= t:                       # someone may act before this boundary
                yield env.timeout(t - env.now)
            if (k < last and lock.waiters                    # cond_resched_lock: spin_needbreak
                    and (resched_threshold is None or self.lazy_nr < resched_threshold)):
                t += cost.lock_release_ns
                lock.set_release(t)
                hold += t - t_own
                yield env.timeout(t - env.now)
                t_own, t, w = yield from self._take_lock(c.cpu)
                wait += w
        t += cost.lock_release_ns
        lock.set_release(t)
        hold += t - t_own
        if t > env.now:
            yield env.timeout(t - env.now)            # the purge mutex is held to the end
        return True, wait, hold

    # -- processes --------------------------------------------------------------
    def _caller_proc(self, c: CpuCaller, wl: Any, params: Any) -> Generator[Any, Any, None]:
        yield from wl.behaviour(c, params)
        if c.debt > 0:
            d, c.debt = c.debt, 0.0
            yield self.env.timeout(d)
        c.end_ns = self.env.now
        if not c.background:
            self.live -= 1
            if self.live == 0:
                for other in self.callers:
                    other.stopped = True
                self._all_done.succeed()

    def _sample(self) -> None:
        a, lock = self.alloc, self.lock
        t = self.env.now
        largest, total = a.largest_free_bytes(), a.total_free_bytes()
        busy = lock.busy_until(t)
        t_prev, busy_prev = self._last_sample
        util = (busy - busy_prev) / (t - t_prev) if t > t_prev else 0.0
        self._last_sample = (t, busy)
        row = (t, a.nr_busy, self.lazy_areas, self.lazy_nr, a.nr_free_blocks, largest,
               total, fragmentation(largest, total), util, *lock.spin_ns, self.purges, self.enomem)
        if not self.oplog.keep_ops:                   # no per-op records: latency per interval
            row += self.oplog.take_window()
        self.samples.append(row)

    def _sampler(self, interval: float) -> Generator[Any, Any, None]:
        while True:
            self._sample()
            yield self.env.timeout(interval)

    def run(self) -> RunResult:
        spec, env = self.spec, self.env
        self._all_done = env.event()
        self.live = sum(not c.background for c in spec.callers)
        for c, (wl, params) in zip(self.callers, self.workloads):
            env.process(self._caller_proc(c, wl, params))
        interval = spec.metrics.sample_interval_ns
        if interval and interval > 0:
            env.process(self._sampler(float(interval)))
        env.run(until=self._all_done)
        if not self.samples or self.samples[-1][0] != env.now:
            self._sample()
        return self._result()

    def _result(self) -> RunResult:
        spec, lock = self.spec, self.lock
        labels = [c.label for c in self.callers]
        ops = self.oplog.frame(labels)
        ops.insert(0, "seed", spec.seed)
        ops.insert(0, "allocator", spec.allocator)
        ts = timeseries_frame(self.samples, spec.cpus, window=not spec.metrics.keep_ops)
        ts.insert(0, "seed", spec.seed)
        ts.insert(0, "allocator", spec.allocator)
        starts = [m for m in self.oplog.measure_t if m is not None]
        end = max(c.end_ns for c in self.callers if not c.background)
        summary: dict[str, Any] = {"allocator": spec.allocator, "seed": spec.seed}
        stats = self.oplog.latency_stats(ops if spec.metrics.keep_ops else None)
        summary["ops"] = stats.pop("ops")
        summary["loop_time_ns"] = end - (min(starts) if starts else 0.0)
        summary["setup_time_ns"] = min(starts) if starts else 0.0   # prefill before the loop
        fg = [(c, cs.workload) for c, cs in zip(self.callers, spec.callers) if not c.background]
        names = list(dict.fromkeys(w for _, w in fg))
        if len(names) > 1:               # each foreground workload's own loop time
            for w in names:
                mine = [c for c, cw in fg if cw == w]
                t0 = [m for c in mine if (m := self.oplog.measure_t[c.idx]) is not None]
                summary[f"loop_time_ns:{w}"] = max(c.end_ns for c in mine) - (min(t0) if t0 else 0.0)
        summary.update(stats)
        summary["spin_cpu_ns"] = float(sum(lock.spin_ns))
        summary["purges"] = self.purges
        summary["enomem"] = self.enomem
        summary["final_fragmentation"] = fragmentation(self.alloc.largest_free_bytes(),
                                                       self.alloc.total_free_bytes())
        summary["tlb_flushes"] = self.tlb_flushes
        summary["sim_time_ns"] = float(self.env.now)
        summary["lock_acquisitions"] = lock.acquisitions
        summary["lock_contended"] = lock.contended
        hist = None
        if not spec.metrics.keep_ops:
            hist = self.oplog.histograms()
            hist.insert(0, "seed", spec.seed)
            hist.insert(0, "allocator", spec.allocator)
        return RunResult(ops, ts, summary, list(self.log), hist)


def simulate(spec: RunSpec, *, allocator_factory: Callable[[RunSpec], Any] | None = None) -> RunResult:
    """Run one RunSpec.  ``allocator_factory`` replaces ``allocators.create`` (tests)."""
    return Engine(spec, allocator_factory).run()


__all__ = ["simulate", "RunResult", "Engine", "CpuCaller", "lazy_max_pages", "fls"]
