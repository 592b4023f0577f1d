"""``vmap_area_lock``: a lean spinlock model on a SimPy environment.

Protocol (one holder at a time)::

    ev = lock.request(cpu)          # None: acquired now, uncontended (no event)
    if ev is not None:
        handoff_ns = yield ev       # resumed when the lock is handed to us
    ...decide the critical section, price it (hold_ns)...
    lock.set_release(t_release)     # the instant the lock becomes free again

Running ahead: ``Engine.try_spin_lock`` grants the lock at a future instant
``t`` without an event (no spinner, ``_held_until <= t``), setting what
``request`` sets; its caller guarantees that no other event is due before
``t``.

The holder does not have to be resumed at ``t_release``: it announces the
release instant as soon as it knows its critical section's length, and folds
acquire + critical section + release into the one timeout it yields anyway
(or into later work).  Only contended waiters get an Event: when the holder's
release instant arrives and someone spins, one scheduled callback hands the
lock over.

Handoff: the lock is granted at the release instant ``T`` and the new holder
owns it from ``T + handoff`` (one cache-line transfer, ``handoff_ns``; a
ticket lock adds ``waiter_ns`` per spinning CPU, Boyd-Wickizer et al. 2012).
The Event's value is that handoff delay: the holder starts its critical
section at ``now + value``.  The lock counts as busy during the handoff.

Order: ``fifo`` (qspinlock, ticket) serves spinners in arrival order;
``unfair`` (test-and-set) draws the next holder uniformly among the spinners
from the lock's own random stream.

Spinning burns the CPU: ``spin_ns[cpu]`` accumulates, per CPU, the time from
a contended request to the moment the lock is owned (handoff included).
"""

from __future__ import annotations

import math
from collections import deque
from heapq import heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL

INF = math.inf


class SpinLock:
    """A spinlock with FIFO or unfair handoff; see the module docstring."""

    __slots__ = ("env", "order", "handoff_ns", "waiter_ns", "rng", "_queue", "_held_until",
                 "_grant_t", "_release_scheduled", "holder", "busy_ns", "spin_ns",
                 "acquisitions", "contended", "_seq")

    def __init__(self, env: simpy.Environment, ncpus: int, order: str = "fifo",
                 handoff_ns: float = 0.0, waiter_ns: float = 0.0,
                 rng: np.random.Generator | None = None) -> None:
        if order not in ("fifo", "unfair"):
            raise ValueError(f"lock order must be 'fifo' or 'unfair' (got {order!r})")
        if order == "unfair" and rng is None:
            raise ValueError("an unfair lock needs a random stream (rng)")
        self.env = env
        self.order = order
        self.handoff_ns = float(handoff_ns)
        self.waiter_ns = float(waiter_ns)
        self.rng = rng
        self._queue: deque[tuple[simpy.Event, int, float]] = deque()
        self._held_until = -INF      # release instant; INF while the holder's end is unknown
        self._grant_t = 0.0          # when the current holder was granted the lock
        self._release_scheduled = False
        self.holder: int | None = None
        self.busy_ns = 0.0           # committed busy time (may include a future part)
        self.spin_ns = [0.0] * ncpus
        self.acquisitions = 0
        self.contended = 0

    # -- the hot path -------------------------------------------------------
    def request(self, cpu: int) -> simpy.Event | None:
        """Try to take the lock now; None if acquired, else an Event to yield."""
        now = self.env._now          # Environment.now without the property call
        if not self._queue and self._held_until <= now:
            self.holder = cpu
            self._grant_t = now
            self._held_until = INF
            self.acquisitions += 1
            return None
        ev = self.env.event()
        self._queue.append((ev, cpu, now))
        self.contended += 1
        if not self._release_scheduled and self._held_until != INF:
            self._schedule_release(now)
        return ev

    def set_release(self, t_release: float) -> None:
        """The holder announces when it releases the lock (>= now)."""
        self.busy_ns += t_release - self._grant_t
        self._held_until = t_release
        if self._queue and not self._release_scheduled:
            self._schedule_release(self.env.now)

    # -- internals ----------------------------------------------------------
    def _schedule_release(self, now: float) -> None:
        self._release_scheduled = True
        delay = self._held_until - now
        if delay < 0.0:
            delay = 0.0
        if self.order == "fifo":
            # FIFO: the head spinner is the next holder whatever arrives later, so
            # its own Event is scheduled at the release instant (one event, not a
            # timeout + an Event).  _on_release_fifo runs first among its callbacks and
            # sets the value (the handoff) the waiting process receives.
            ev = self._queue[0][0]
            ev._ok = True           # what Event.succeed() sets; succeed() has no delay
            ev._value = None
            ev.callbacks.insert(0, self._on_release_fifo)
            env = self.env           # env.schedule(ev, delay=delay), inlined
            heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), ev))
        else:
            t = self.env.timeout(delay)
            t.callbacks.append(self._on_release)

    def _on_release_fifo(self, event: Any) -> None:
        """The FIFO handoff: ``event`` is the head spinner's own Event, due now."""
        self._release_scheduled = False
        queue = self._queue
        now = self.env._now
        handoff = self.handoff_ns + self.waiter_ns * len(queue)
        _, cpu, t_req = queue.popleft()
        self.spin_ns[cpu] += now + handoff - t_req
        self.holder = cpu
        self._grant_t = now
        self._held_until = INF
        self.acquisitions += 1
        event._value = handoff      # delivered to the waiting process by its _resume callback

    def _on_release(self, event: Any) -> None:
        """The unfair handoff (a timeout's callback): a spinner drawn at random."""
        self._release_scheduled = False
        queue = self._queue
        now = self.env._now
        handoff = self.handoff_ns + self.waiter_ns * len(queue)
        if len(queue) == 1:
            ev, cpu, t_req = queue.popleft()
        else:
            i = int(self.rng.integers(len(queue)))  # type: ignore[union-attr]  # unfair: rng set
            ev, cpu, t_req = queue[i]
            del queue[i]
        self.spin_ns[cpu] += now + handoff - t_req
        self.holder = cpu
        self._grant_t = now
        self._held_until = INF
        self.acquisitions += 1
        ev.succeed(handoff)

    # -- read-outs ----------------------------------------------------------
    @property
    def waiters(self) -> int:
        """CPUs spinning on the lock now."""
        return len(self._queue)

    def busy_until(self, t: float) -> float:
        """Total time the lock was held (or in handoff) in [0, t], t >= last event."""
        if self._held_until == INF:
            return self.busy_ns + (t - self._grant_t)
        if self._held_until > t:
            return self.busy_ns - (self._held_until - t)
        return self.busy_ns



class Mutex:
    """A sleeping mutex (``vmap_purge_lock``): FIFO hand-over, no spinning.

    ``trylock()`` never waits; ``lock()`` returns None when taken at once, else
    an Event that fires when the unlocker hands the mutex over (ownership
    passes directly, so nobody can overtake a sleeper).  Sleeping waiters burn
    no CPU: the mutex counts nothing.
    """

    __slots__ = ("env", "held", "_waiters")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.held = False
        self._waiters: deque[simpy.Event] = deque()

    def trylock(self) -> bool:
        if self.held:
            return False
        self.held = True
        return True

    def lock(self) -> simpy.Event | None:
        if not self.held:
            self.held = True
            return None
        ev = self.env.event()
        self._waiters.append(ev)
        return ev

    def unlock(self) -> None:
        if self._waiters:
            self._waiters.popleft().succeed()
        else:
            self.held = False


__all__ = ["SpinLock", "Mutex"]
