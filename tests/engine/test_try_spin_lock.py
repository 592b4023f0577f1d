"""Engine.try_spin_lock: spin_lock's run-ahead case without a generator.  It
takes the lock at now + debt only when nothing else is due before then and
the lock is free then; otherwise it changes nothing, so the generator path
that follows (``yield from spin_lock``) sees the state it would have seen."""

from __future__ import annotations

from types import SimpleNamespace

import simpy

from simulator.engine import Engine
from simulator.lock import SpinLock


def setup(debt: float):
    env = simpy.Environment()
    eng = SimpleNamespace(env=env, cost=SimpleNamespace(lock_acquire_ns=10.0), _acquire_ns=10.0)
    lock = SpinLock(env, 2)
    c = SimpleNamespace(cpu=1, debt=debt)
    return env, eng, lock, c


def test_free_lock_nothing_due_is_taken_at_now_plus_debt() -> None:
    env, eng, lock, c = setup(debt=250.0)
    assert Engine.try_spin_lock(eng, c, lock) == (250.0, 250.0, 10.0)
    assert c.debt == 0.0 and lock.holder == 1 and lock.acquisitions == 1
    assert env.now == 0.0                                     # run ahead: no event, no yield


def test_an_event_due_first_leaves_everything_as_it_was() -> None:
    env, eng, lock, c = setup(debt=250.0)
    env.timeout(100.0)                                        # someone acts at t=100 < 250
    assert Engine.try_spin_lock(eng, c, lock) is None
    assert c.debt == 250.0 and lock.holder is None and lock.acquisitions == 0


def test_a_lock_held_past_the_request_leaves_everything_as_it_was() -> None:
    env, eng, lock, c = setup(debt=50.0)
    assert lock.request(0) is None                            # CPU 0 holds it ...
    lock.set_release(80.0)                                    # ... until t=80 > 50
    assert Engine.try_spin_lock(eng, c, lock) is None
    assert c.debt == 50.0 and lock.holder == 0 and lock.acquisitions == 1


def test_a_lock_released_before_the_request_is_taken() -> None:
    env, eng, lock, c = setup(debt=100.0)
    assert lock.request(0) is None
    lock.set_release(80.0)                                    # free from t=80 <= 100
    assert Engine.try_spin_lock(eng, c, lock) == (100.0, 100.0, 10.0)
    assert lock.holder == 1 and lock.acquisitions == 2


def test_an_event_due_at_the_same_instant_goes_first() -> None:
    # the generator path (yield a timeout of ``debt``) would queue behind an event
    # already due at now + debt: SimPy runs same-time events in order, so the
    # run-ahead must not take the lock ahead of it
    env, eng, lock, c = setup(debt=250.0)
    env.timeout(250.0)
    assert Engine.try_spin_lock(eng, c, lock) is None
    assert c.debt == 250.0 and lock.holder is None and lock.acquisitions == 0
    # and one nanosecond later it is no longer in the way
    env2, eng2, lock2, c2 = setup(debt=250.0)
    env2.timeout(251.0)
    assert Engine.try_spin_lock(eng2, c2, lock2) == (250.0, 250.0, 10.0)
