"""Engine speed: simulated vmalloc/vfree operations per wall-clock second.

    python -m benchmarks.engine [--iterations N] [--allocators a,b,...]

For 1 caller and for 8 contending callers (8 CPUs, qemu-x86 costs), running
vmalloc(3 pages) + touch + vfree in a loop, it prints simulated ops per wall
second for each allocator and for ``null`` (a bump allocator returning empty
Steps: the engine's own overhead), next to a bare SimPy timeout loop
measured in the same run (1 process and 8 processes), and the ratios.
Targets (issue 3): >= 100,000 ops/s for 1 caller, >= 50,000 for 8.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import simpy

import workloads
from simulator.allocators.base import AllocResult, Steps
from simulator.devices import load_device
from simulator.runner import simulate
from simulator.spec import AddressSpace, CallerSpec, MetricsSpec, RunSpec
from workloads.base import Workload, WorkloadParams

TARGETS = {1: 100_000, 8: 50_000}


class _Params(WorkloadParams):
    pages: int = 3


def _loop(caller, p: _Params):
    caller.measure_start()
    size = p.pages * caller.page_size
    while caller.running():
        addr = yield from caller.vmalloc(size)
        if addr is not None:
            yield from caller.touch(addr)
            yield from caller.vfree(addr)
        caller.iteration_done()


if "_bench_fix_size" not in workloads.REGISTRY:
    workloads.register(Workload("_bench_fix_size", "benchmark: fix_size loop", _Params, _loop))


class NullAllocator:
    """Bump allocator with empty Steps: measures the engine alone."""

    def __init__(self, vstart: int) -> None:
        self.next = vstart
        self.nr_busy = 0
        self.nr_free_blocks = 1
        self.nr_free_objects = 0
        self._steps = Steps()

    def alloc(self, size, align=1, vstart=None, vend=None):
        addr = self.next
        self.next += size
        self.nr_busy += 1
        return AllocResult(addr, self._steps)

    def free(self, addr):
        self.nr_busy -= 1
        return self._steps

    def largest_free_bytes(self):
        return 1 << 40

    def total_free_bytes(self):
        return 1 << 40


def make_spec(allocator: str, callers: int, iterations: int) -> RunSpec:
    dev = load_device("qemu-x86")
    a = dev["address_space"]
    asp = AddressSpace(a["vstart"], a["vend"], a["vmalloc_start"], a["vmalloc_end"],
                       a["modules_start"], a["modules_end"], a["page_size"], a["word_bits"])
    return RunSpec(scenario="bench-engine", allocator=allocator, seed=1, cpus=max(callers, 1),
                   device="qemu-x86", cost=dev["cost"], address_space=asp,
                   callers=tuple(CallerSpec("_bench_fix_size", c) for c in range(callers)),
                   iterations=iterations, metrics=MetricsSpec(sample_interval_ns=1_000_000))


def engine_rate(allocator: str, callers: int, iterations: int) -> tuple[float, float]:
    """(simulated ops per wall second, share of contended lock acquisitions)."""
    spec = make_spec("busy-list" if allocator == "null" else allocator, callers, iterations)
    factory = (lambda s: NullAllocator(s.address_space.vmalloc_start)) if allocator == "null" else None
    t = time.perf_counter()
    res = simulate(replace(spec), allocator_factory=factory)
    wall = time.perf_counter() - t
    s = res.summary
    return len(res.ops) / wall, s["lock_contended"] / max(1, s["lock_acquisitions"])


def bare_simpy_rate(processes: int, timeouts: int) -> float:
    """Timeouts per wall second of ``processes`` processes yielding timeouts in a loop."""
    env = simpy.Environment()
    per = timeouts // processes

    def proc(env, d):
        for _ in range(per):
            yield env.timeout(d)

    for i in range(processes):
        env.process(proc(env, 1.0 + i * 0.1))
    t = time.perf_counter()
    env.run()
    return per * processes / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=20_000, help="iterations per caller (1 caller)")
    ap.add_argument("--allocators", default="null,busy-list,free-list,augmented-tree")
    args = ap.parse_args(argv)
    bare = {n: bare_simpy_rate(n, 300_000) for n in (1, 8)}
    print(f"bare SimPy timeout loop: 1 process {bare[1]:,.0f} timeouts/s; "
          f"8 processes {bare[8]:,.0f} timeouts/s")
    print(f"{'allocator':<16}{'callers':>8}{'ops/s':>12}{'target':>10}{'vs bare':>9}{'contended':>11}")
    for alloc in args.allocators.split(","):
        for callers in (1, 8):
            iters = max(1, args.iterations // callers)
            rate, contended = engine_rate(alloc, callers, iters)
            ok = "ok" if rate >= TARGETS[callers] else "BELOW"
            print(f"{alloc:<16}{callers:>8}{rate:>12,.0f}{TARGETS[callers]:>9,} {ok:<3}"
                  f"{rate / bare[callers]:>6.2f}{contended:>11.0%}")


if __name__ == "__main__":
    main()
