"""The simulation engine: one RunSpec -> one RunResult.

One SimPy environment, time in ns, ``spec.cpus`` CPUs, one long-lived
process per caller bound to its CPU (one caller per CPU: no CPU sharing).
The object a workload drives is :class:`CpuCaller` (the ``workloads.Caller``
protocol).  The engine knows no kernel: it offers time, CPUs, named
spinlocks (``simulator.lock``), mutexes, the cost model and the probes
(``simulator.metrics``); a generation (``simulator.kernels``) declares its
locks and binds its vmalloc / vfree paths to the callers.

Lean time: a caller accumulates the CPU time of its own private work (page
allocation and mapping, touches, the tail of a critical section) as *debt*
and pays it with one timeout just before it next touches shared state (the
lock, the purge mutex, the lazy list) or sleeps (:meth:`Engine.spin_lock`).
An uncontended vmalloc or vfree is one SimPy event.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import numpy as np
import pandas as pd
import simpy

from .costmodel import CostModel
from .lock import INF, Mutex, SpinLock
from .metrics import OpLog, run_summary, sample_row
from .spec import CallerSpec, RunSpec

_PRINTK_BURST, _PRINTK_INTERVAL_NS = 10, 5_000_000_000  # printk_ratelimit(): 10 per 5 s


class LockHolder(Protocol):
    """Who takes a lock: a caller (:class:`CpuCaller`) or a generation's kworker."""

    cpu: int
    debt: float


class SelfCheckError(RuntimeError):
    """A run's state broke an invariant of its allocator or of the engine's
    conservation (one line: the allocator, the seed, the operation)."""


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

    # slotted: the paths read and write a caller's fields on every op (debt, cpu, idx)
    __slots__ = ("eng", "env", "idx", "cpu", "ncpus", "page_size", "vmalloc_start", "vmalloc_end",
                 "modules_start", "modules_end", "word_bits", "thread_size", "thread_align",
                 "vmap_stack", "rng", "iterations", "label", "background", "debt",
                 "_iteration_limit", "_time_limit_ns", "done_iterations", "stopped", "end_ns",
                 "vmalloc", "vfree")

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
        # arch defaults from the profile (THREAD_SIZE, THREAD_ALIGN, CONFIG_VMAP_STACK)
        self.thread_size = eng.cost.thread_size(asp.word_bits)
        self.thread_align = eng.cost.thread_align(asp.word_bits)
        self.vmap_stack = eng.cost.vmap_stack
        self.rng = rng
        self.iterations = eng.spec.iterations
        self.label = cs.label
        self.background = cs.background
        self.debt = 0.0                  # ns of private CPU work not yet yielded
        # running(): the stop condition, read once (spec.iterations counts foreground callers only)
        self._iteration_limit = None if cs.background else eng.spec.iterations
        self._time_limit_ns = eng.spec.time_ns
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
        limit = self._iteration_limit
        if limit is not None and self.done_iterations >= limit:
            return False
        stop = self._time_limit_ns
        return stop is None or self.env._now + self.debt < stop   # _now: Environment.now, no property call

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

    # vmalloc / vfree: bound per instance to the generation's paths (Engine.__init__)
    vmalloc: Callable[..., Generator[Any, Any, int | None]]
    vfree: Callable[..., Generator[Any, Any, None]]


class Engine:
    """Time, CPUs, locks and probes of one run; :func:`simulate` is the entry point.

    ``kernel_factory(engine)`` builds the generation (``simulator.kernels``):
    it declares its locks through :meth:`spinlock` / :meth:`mutex` and binds
    its ``vmalloc`` / ``vfree`` paths to the callers.  ``behaviours`` are the
    callers' workloads, ``(behaviour, validated params)`` in ``spec.callers``
    order (resolved by the runner: the engine imports no workload).
    """

    def __init__(self, spec: RunSpec, kernel_factory: Callable[[Engine], Any],
                 behaviours: Sequence[tuple[Any, Any]]) -> None:
        self.spec = spec
        self.env = simpy.Environment()
        self.cost = CostModel(spec.cost, spec.cpus)
        self._acquire_ns = self.cost.lock_acquire_ns      # (try_spin_lock's hot path)
        # child i: caller i's rng; child n + k: lock k's (unfair handoff), see spinlock()
        self._streams = np.random.SeedSequence(spec.seed).spawn(len(spec.callers))
        self.locks: dict[str, SpinLock] = {}
        self.mutexes: dict[str, Mutex] = {}
        self.callers = [CpuCaller(self, i, c, np.random.default_rng(self._streams[i]))
                        for i, c in enumerate(spec.callers)]
        self.behaviours = list(behaviours)
        self.purges = self.tlb_flushes = self.enomem = 0
        self.log: list[str] = []
        self._printk: deque[float] = deque()
        self._printk_missed = 0
        self.oplog = OpLog(spec.metrics.keep_ops, len(spec.callers))
        self.samples: list[tuple] = []
        self._last_sample: tuple[float, list[float]] = (0.0, [])
        self.live = 0
        self._checked_at = 0
        self.kernel = kernel_factory(self)
        self._last_sample = (0.0, [0.0] * len(self.locks))
        for c in self.callers:
            c.vmalloc = partial(self.kernel.vmalloc, c)
            c.vfree = partial(self.kernel.vfree, c)

    # -- what a generation is offered --------------------------------------------
    def spinlock(self, name: str) -> SpinLock:
        """A new spinlock of the profile's kind (lock_kind, handoff costs)."""
        # the (callers + k)-th child of SeedSequence(seed), made on demand: no limit
        seq = np.random.SeedSequence(self.spec.seed,
                                     spawn_key=(len(self.spec.callers) + len(self.locks),))
        lock = SpinLock(self.env, self.spec.cpus, self.cost.lock_order, self.cost.lock_handoff_ns,
                        self.cost.lock_waiter_ns, rng=np.random.default_rng(seq))
        self.locks[name] = lock
        return lock

    def mutex(self, name: str) -> Mutex:
        m = self.mutexes[name] = Mutex(self.env)
        return m

    def spin_lock(self, c: LockHolder, lock: SpinLock) -> Generator[Any, Any, tuple[float, float, float]]:
        """Pay ``c``'s debt and take ``lock``: ``(requested at, owned from, acquire ns)``.

        The path after :meth:`try_spin_lock` returned None (every generation
        calls them in that order): its run-ahead case is not tried again (the
        state it saw has not changed).  ``c`` yields its debt, then requests
        the lock and, when contended, spins until it is handed over.
        ``c.debt`` is 0 afterwards: the generation prices its section from the
        returned instants."""
        env = self.env
        d = c.debt
        c.debt = 0.0
        if d > 0:
            yield env.timeout(d)
        t_req = env._now
        ev = lock.request(c.cpu)
        if ev is None:
            return t_req, t_req, self.cost.lock_acquire_ns
        h = yield ev
        return t_req, env._now + h, 0.0

    def try_spin_lock(self, c: LockHolder, lock: SpinLock) -> tuple[float, float, float] | None:
        """The run-ahead case of taking a lock, without a generator: ``c`` takes
        ``lock`` at ``now + debt`` if nothing else is due before then and the
        lock is free; else None and nothing changed (then ``yield from
        spin_lock``).  The uncontended hot path of every generation."""
        env = self.env
        t = env._now + c.debt
        q = env._queue
        # the lock is free at t and nobody spins on it: granted as lock.request
        # grants it (simulator/lock.py, "Running ahead"; the hot path of every op)
        if (not q or q[0][0] > t) and not lock._queue and lock._held_until <= t:
            lock.holder = c.cpu
            lock._grant_t = t
            lock._held_until = INF
            lock.acquisitions += 1
            c.debt = 0.0
            return t, t, self._acquire_ns
        return None

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
        t = self.env.now
        busy = [lock.busy_until(t) for lock in self.locks.values()]
        t_prev, busy_prev = self._last_sample
        self._last_sample = (t, busy)
        # the busiest lock's share of the interval (held or in handoff)
        util = max(b - b0 for b, b0 in zip(busy, busy_prev)) / (t - t_prev) if t > t_prev else 0.0
        spin = [sum(x) for x in zip(*(lock.spin_ns for lock in self.locks.values()))]
        row = sample_row(t, self.kernel.sample(), util, spin, self.purges, self.enomem)
        if not self.oplog.keep_ops:                   # no per-op records: latency per interval
            row += self.oplog.take_window()
        self.samples.append(row)
        every = self.spec.metrics.check_every
        if every and self.oplog.count - self._checked_at >= every:
            self.self_check()

    def self_check(self) -> None:
        """The generation's state check (the policy's ``check()`` and the
        conservation of live and lazily freed areas), as a SelfCheckError."""
        self._checked_at = self.oplog.count
        try:
            self.kernel.check()
        except Exception as exc:  # noqa: BLE001 (InvariantError, AssertionError, ...)
            self.violation(f"{type(exc).__name__}: {exc}", f"ops {self._checked_at}")

    def violation(self, what: str, where: str, kind: str = "self-check failed") -> None:
        """Stop the run: one line naming the allocator, the seed and the operation."""
        spec = self.spec
        raise SelfCheckError(f"{kind}: allocator {spec.allocator}, seed {spec.seed}, "
                             f"{where} at t={self.env.now:.0f} ns: {what}")

    def _sampler(self, interval: float) -> Generator[Any, Any, None]:
        while True:
            self._sample()
            yield self.env.timeout(interval)

    def run(self) -> RunResult:
        spec, env = self.spec, self.env
        self._all_done = env.event()
        self.live = sum(not c.background for c in spec.callers)
        for c, (wl, params) in zip(self.callers, self.behaviours):
            env.process(self._caller_proc(c, wl, params))
        interval = spec.metrics.sample_interval_ns
        if interval and interval > 0:
            env.process(self._sampler(float(interval)))
        env.run(until=self._all_done)
        if not self.samples or self.samples[-1][0] != env.now:
            self._sample()
        if spec.metrics.check_every:
            self.self_check()
        ops, ts, summary, hist = run_summary(self)
        return RunResult(ops, ts, summary, list(self.log), hist)


def simulate(spec: RunSpec, kernel_factory: Callable[[Engine], Any],
             behaviours: Sequence[tuple[Any, Any]]) -> RunResult:
    """Run one RunSpec with a built generation; ``simulator.runner.simulate``
    resolves the generation and the workloads."""
    return Engine(spec, kernel_factory, behaviours).run()


__all__ = ["simulate", "RunResult", "Engine", "CpuCaller", "SelfCheckError"]
