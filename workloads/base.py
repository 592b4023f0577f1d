"""What a workload is, and the only interface it may use: :class:`Caller`.

A workload is a caller behaviour: a generator function ``behaviour(caller,
params)`` run as one SimPy process bound to one CPU.  It sees nothing of the
engine but the :class:`Caller` protocol below: vmalloc/vfree (with size,
align, vstart, vend), a touch of the memory, sleeping, its own random
stream, and a few read-only facts.  Example::

    class Params(WorkloadParams):
        size_bytes: int = 3 * 4096

    def behaviour(caller: Caller, p: Params):
        caller.measure_start()
        while caller.running():
            addr = yield from caller.vmalloc(p.size_bytes)
            if addr is not None:
                yield from caller.touch(addr)
                yield from caller.vfree(addr)
            caller.iteration_done()

    register(Workload("my-loop", "vmalloc + touch + vfree in a loop", Params, behaviour))

Params models are pydantic models (``extra='forbid'``); the scenario schema
embeds them, so every parameter is validated and documented in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict


class WorkloadParams(BaseModel):
    """Base class of every workload's parameter model."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Caller(Protocol):
    """The engine-side object a workload drives (implemented by the engine)."""

    cpu: int                 # the CPU this caller is bound to
    ncpus: int               # CPUs in the simulated machine
    page_size: int
    vmalloc_start: int       # VMALLOC_START / VMALLOC_END
    vmalloc_end: int
    modules_start: int | None  # module_alloc range, None if the scenario has none
    modules_end: int | None
    word_bits: int
    thread_size: int         # THREAD_SIZE of the profile's arch (kernel stack bytes)
    thread_align: int        # THREAD_ALIGN (arm64 with VMAP_STACK: 2 x THREAD_SIZE)
    vmap_stack: bool         # CONFIG_VMAP_STACK: kernel stacks are vmalloc'ed
    rng: np.random.Generator  # this caller's own seeded stream
    iterations: int | None   # the scenario's measured iterations per caller (stop), if any
    label: str

    @property
    def now_ns(self) -> int: ...

    def vmalloc(self, size_bytes: int, align: int = 1, vstart: int | None = None,
                vend: int | None = None, guard: bool = True, zero: bool = False,
                ) -> Generator[Any, Any, int | None]:
        """``addr = yield from caller.vmalloc(...)``: the area's address, or None (ENOMEM).

        ``size_bytes`` is what the kernel caller asks for (a page multiple);
        the engine adds the guard page when ``guard`` is true, allocates and
        maps ``size_bytes / page_size`` pages.  vstart/vend default to the
        vmalloc range.  ``zero``: the caller asked for zeroed pages
        (``__GFP_ZERO``, ``vzalloc``); each page is cleared (priced when the
        profile's ``zero_pages`` is on).
        """
        ...

    def vfree(self, addr: int) -> Generator[Any, Any, None]:
        """``yield from caller.vfree(addr)``: unmap, free pages, lazy-free the area."""
        ...

    def touch(self, addr: int) -> Generator[Any, Any, None]:
        """``yield from caller.touch(addr)``: a write to the area's first page."""
        ...

    def sleep(self, ns: int) -> Generator[Any, Any, None]:
        """``yield from caller.sleep(ns)``: think time; the CPU is idle."""
        ...

    def running(self) -> bool:
        """False once the run's stop condition says this caller should end."""
        ...

    def measure_start(self) -> None:
        """Mark the start of the measured loop (after any prefill)."""
        ...

    def iteration_done(self) -> None:
        """Count one measured iteration (drives the ``iterations`` stop)."""
        ...

    def log(self, line: str) -> None:
        """A line for the run log (e.g. test_vmalloc's ``Summary:`` lines)."""
        ...


Behaviour = Callable[[Caller, Any], Generator[Any, Any, None]]


@dataclass(frozen=True)
class Workload:
    name: str
    description: str          # one line, for ``vmsim list``
    params: type[WorkloadParams]
    behaviour: Behaviour
    #: whether the behaviour draws from ``caller.rng`` (a bool, or a function of the
    #: validated params); False lets a scenario of such callers run one seed only
    uses_rng: bool | Callable[[Any], bool] = True
    #: whether the behaviour ends by itself (then a scenario may omit ``stop``)
    ends_by_itself: bool | Callable[[Any], bool] = False
    #: the parameter ``vmsim run --iterations N`` sets (None: the scenario's stop.iterations)
    loop_param: str | None = None


REGISTRY: dict[str, Workload] = {}


def register(workload: Workload) -> Workload:
    if workload.name in REGISTRY:
        raise ValueError(f"workload {workload.name!r} registered twice")
    REGISTRY[workload.name] = workload
    return workload


def get(name: str) -> Workload:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown workload {name!r}; accepted: {', '.join(sorted(REGISTRY))}") from None
