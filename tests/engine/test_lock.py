"""The spinlock model against queueing theory, and its acquisition order.

Machine repairman (finite-source M/M/1//N, ../shared/cost-model-notes.md):
N CPUs, exponential work outside the lock (mean Z), exponential hold (mean
S), rho = S/Z.  P0 = [sum_{n=0..N} N!/(N-n)! rho^n]^-1, U = 1 - P0,
X = U/S, W = N/X - Z (time at the lock, hold included).  With zero lock
costs the model must match within 2%.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from simulator.lock import SpinLock

S_NS = 1000.0


def repairman(n: int, rho: float) -> tuple[float, float, float]:
    z = S_NS / rho
    p0 = 1.0 / sum(math.factorial(n) / math.factorial(n - k) * rho**k for k in range(n + 1))
    u = 1.0 - p0
    x = u / S_NS
    w = n / x - z
    return u, x, w


def drive(n: int, rho: float, order: str, acquisitions: int, seed: int = 12345,
          handoff_ns: float = 0.0, waiter_ns: float = 0.0):
    """N processes: think Exp(Z), request, hold Exp(S), release.  Returns measurements."""
    env = simpy.Environment()
    ss = np.random.SeedSequence(seed)
    streams = [np.random.default_rng(s) for s in ss.spawn(n + 1)]
    lock = SpinLock(env, n, order, handoff_ns=handoff_ns, waiter_ns=waiter_ns, rng=streams[n])
    z = S_NS / rho
    records: list[tuple[int, float, float, float]] = []  # cpu, t_request, t_granted, t_release

    def cpu_proc(cpu: int, rng: np.random.Generator):
        think = rng.exponential(z, size=acquisitions + 10).tolist()
        hold = rng.exponential(S_NS, size=acquisitions + 10).tolist()
        i = 0
        while True:
            yield env.timeout(think[i % len(think)])
            t_req = env.now
            ev = lock.request(cpu)
            handoff = 0.0
            if ev is not None:
                handoff = yield ev
            t_own = env.now + handoff
            t_rel = t_own + hold[i % len(hold)]
            lock.set_release(t_rel)
            records.append((cpu, t_req, env.now, t_rel))
            yield env.timeout(t_rel - env.now)
            i += 1

    for cpu in range(n):
        env.process(cpu_proc(cpu, streams[cpu]))
    return env, lock, records


@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("rho", [0.05, 0.2, 0.5])
def test_fifo_lock_matches_machine_repairman(n: int, rho: float) -> None:
    u_th, x_th, w_th = repairman(n, rho)
    target = 150_000                       # lock acquisitions measured
    horizon = target / x_th
    warm = 0.05 * horizon
    env, lock, records = drive(n, rho, "fifo", acquisitions=target)
    env.run(until=warm)
    busy0 = lock.busy_until(warm)
    env.run(until=warm + horizon)
    t1 = warm + horizon
    u = (lock.busy_until(t1) - busy0) / horizon
    done = [r for r in records if warm <= r[3] <= t1]
    x = len(done) / horizon
    w = float(np.mean([r[3] - r[1] for r in records if warm <= r[1] and r[3] <= t1]))
    assert u == pytest.approx(u_th, rel=0.02)
    assert x == pytest.approx(x_th, rel=0.02)
    assert w == pytest.approx(w_th, rel=0.02)


@pytest.mark.parametrize("n", [2, 4, 8])
def test_fifo_no_overtaking(n: int) -> None:
    env, lock, records = drive(n, 0.5, "fifo", acquisitions=5000, handoff_ns=50.0)
    env.run(until=2e6)
    assert lock.contended > 100           # the check below is not vacuous
    by_request = sorted(records, key=lambda r: r[1])
    grants = [r[2] for r in by_request]
    assert all(a <= b for a, b in zip(grants, grants[1:])), "a later spinner got the lock first"


def test_unfair_lock_does_overtake() -> None:
    """The same check fails for test-and-set: it detects overtaking when there is some."""
    env, lock, records = drive(8, 0.5, "unfair", acquisitions=5000, handoff_ns=50.0)
    env.run(until=2e6)
    by_request = sorted(records, key=lambda r: r[1])
    grants = [r[2] for r in by_request]
    assert any(a > b for a, b in zip(grants, grants[1:]))


def test_uncontended_acquire_creates_no_event() -> None:
    env = simpy.Environment()
    lock = SpinLock(env, 1)
    assert lock.request(0) is None
    lock.set_release(10.0)
    assert len(env._queue) == 0           # no release callback while nobody waits
    env.run(until=20.0)
    assert lock.request(0) is None
    assert lock.spin_ns == [0.0]


def test_handoff_costs_and_spin_accounting() -> None:
    """Ticket lock: handoff = handoff_ns + waiter_ns x spinners; spin = request -> owned."""
    env = simpy.Environment()
    lock = SpinLock(env, 3, "fifo", handoff_ns=100.0, waiter_ns=50.0)
    got: dict[int, float] = {}

    def holder():
        assert lock.request(0) is None
        lock.set_release(1000.0)
        yield env.timeout(1000.0)

    def waiter(cpu: int, arrive: float, hold: float):
        yield env.timeout(arrive)
        ev = lock.request(cpu)
        assert ev is not None
        h = yield ev
        got[cpu] = env.now + h
        lock.set_release(env.now + h + hold)
        yield env.timeout(h + hold)

    env.process(holder())
    env.process(waiter(1, 100.0, 500.0))
    env.process(waiter(2, 200.0, 500.0))
    env.run()
    # cpu1: released at 1000 with 2 spinners -> owned at 1000 + 100 + 2*50 = 1200, holds to 1700
    # cpu2: released at 1700 with 1 spinner -> owned at 1700 + 100 + 50 = 1850
    assert got == {1: 1200.0, 2: 1850.0}
    assert lock.spin_ns == [0.0, 1100.0, 1650.0]
    assert lock.busy_until(env.now) == pytest.approx(2350.0)   # 0..2350 continuously busy
