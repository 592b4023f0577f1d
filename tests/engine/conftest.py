"""Helpers for the engine tests: RunSpec builders and "_test" workloads."""

from __future__ import annotations

from typing import Any

import pytest

import workloads
from simulator.devices import load_device
from simulator.engine import Engine
from simulator.spec import AddressSpace, CallerSpec, MetricsSpec, RunSpec
from workloads.base import Workload, WorkloadParams


class FixSizeParams(WorkloadParams):
    pages: int = 3
    touch: bool = True


def fix_size_behaviour(caller, p: FixSizeParams):
    """lib/test_vmalloc.c fix_size_alloc_test: vmalloc(n pages); touch; vfree."""
    caller.measure_start()
    size = p.pages * caller.page_size
    while caller.running():
        addr = yield from caller.vmalloc(size)
        if addr is not None:
            if p.touch:
                yield from caller.touch(addr)
            yield from caller.vfree(addr)
        caller.iteration_done()


class HoldParams(WorkloadParams):
    pages: int = 1
    count: int = 10


def hold_behaviour(caller, p: HoldParams):
    """Allocate ``count`` areas and keep them (to exhaust a small range)."""
    for _ in range(p.count):
        yield from caller.vmalloc(p.pages * caller.page_size)
        caller.iteration_done()


def _register(name: str, desc: str, params, behaviour) -> None:
    if name not in workloads.REGISTRY:
        workloads.register(Workload(name, desc, params, behaviour))


_register("_test_fix_size", "test: vmalloc + touch + vfree loop", FixSizeParams, fix_size_behaviour)
_register("_test_hold", "test: allocate and keep", HoldParams, hold_behaviour)


def make_spec(allocator: str = "busy-list", *, device: str = "qemu-x86", cpus: int = 1,
              workload: str = "_test_fix_size", params: dict[str, Any] | None = None,
              iterations: int | None = 1000, time_ns: int | None = None, seed: int = 1,
              cost_overrides: dict[str, Any] | None = None, keep_ops: bool = True,
              sample_interval_ns: int = 1_000_000, callers: tuple[CallerSpec, ...] | None = None,
              address_space: AddressSpace | None = None, **kw: Any) -> RunSpec:
    dev = load_device(device, cost_overrides)
    a = dev["address_space"]
    asp = address_space or AddressSpace(
        vstart=a["vstart"], vend=a["vend"], vmalloc_start=a["vmalloc_start"],
        vmalloc_end=a["vmalloc_end"], modules_start=a.get("modules_start"),
        modules_end=a.get("modules_end"), page_size=a["page_size"], word_bits=a["word_bits"])
    if callers is None:
        callers = tuple(CallerSpec(workload, cpu, dict(params or {})) for cpu in range(cpus))
    return RunSpec(scenario="test", allocator=allocator, seed=seed, cpus=cpus, device=device,
                   cost=dev["cost"], address_space=asp, callers=callers, iterations=iterations,
                   time_ns=time_ns, metrics=MetricsSpec(sample_interval_ns, keep_ops), **kw)


@pytest.fixture
def spec_factory():
    return make_spec


def record_lock_sections(monkeypatch) -> list[tuple[str, str]]:
    """Record every lock section the engine grants, (caller label, lock name),
    in order: ``Engine.spin_lock`` calls and ``try_spin_lock``'s run-ahead takes."""
    seen: list[tuple[str, str]] = []
    real = Engine.spin_lock

    def spin_lock(self, c, lock):
        name = next(n for n, lk in self.locks.items() if lk is lock)
        seen.append((c.label, name))
        return (yield from real(self, c, lock))
    real_try = Engine.try_spin_lock

    def try_spin_lock(self, c, lock):                 # the run-ahead case, taken at once
        got = real_try(self, c, lock)
        if got is not None:
            seen.append((c.label, next(n for n, lk in self.locks.items() if lk is lock)))
        return got
    monkeypatch.setattr(Engine, "spin_lock", spin_lock)
    monkeypatch.setattr(Engine, "try_spin_lock", try_spin_lock)
    return seen
