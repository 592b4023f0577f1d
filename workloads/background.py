"""Background system activity: thread stacks, module loading, ioremap.

Each behaviour is an event loop over simulated time: arrivals (Poisson, i.e.
exponential gaps, at ``rate_per_s``) and departures (a heap of pending frees,
each due ``lifetime`` after its allocation).  Departures due at the same time
as an arrival run first.  Nothing here calls ``caller.measure_start()``: a
background caller must not move the foreground's measured-loop start.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from simulator.units import DurationNs, PageBytes

from .base import Caller, Workload, register
from .common import Params, default_stack_size, default_thread_align, get_count_order_long
from .distributions import DurationDist, SizeDist

Gen = Generator[Any, Any, None]


def sleep_until(caller: Caller, t_ns: int) -> Generator[Any, Any, None]:
    """Sleep until absolute simulated time ``t_ns`` (no-op if already past)."""
    gap = int(t_ns - caller.now_ns)       # SimPy time may be a float: sleep whole ns
    if gap > 0:
        yield from caller.sleep(gap)


def poisson_gap_ns(caller: Caller, rate_per_s: float) -> int:
    """One exponential inter-arrival gap (ns) of a Poisson process."""
    return max(1, int(round(caller.rng.exponential(1e9 / rate_per_s))))


def _is_pow2(x: int) -> bool:
    return x > 0 and not x & (x - 1)


def churn(caller: Caller, rate_per_s: float, lifetime: Any,
          arrive: Callable[[], Generator[Any, Any, int | None]],
          depart: Callable[[int], Generator[Any, Any, None]]) -> Gen:
    """Poisson arrivals at ``rate_per_s``; each successful arrival (an address)
    departs ``lifetime.sample()`` later (never if None).  Pending departures
    live in a heap; one due at or before the next arrival runs first."""
    rng = caller.rng
    pending: list[tuple[int, int, int]] = []   # (t_due_ns, seq, addr)
    seq = 0
    next_arrival = int(caller.now_ns) + poisson_gap_ns(caller, rate_per_s)
    while caller.running():
        if pending and pending[0][0] <= next_arrival:
            t, _, due = heapq.heappop(pending)
            yield from sleep_until(caller, t)
            if caller.running():
                yield from depart(due)
            continue
        yield from sleep_until(caller, next_arrival)
        if not caller.running():
            break
        addr = yield from arrive()
        next_arrival += poisson_gap_ns(caller, rate_per_s)
        if addr is not None:
            life = lifetime.sample(rng)
            if life is not None:
                seq += 1
                heapq.heappush(pending, (int(caller.now_ns) + life, seq, addr))


# ------------------------------------------------------------- thread stacks
class ThreadStacksParams(Params):
    """fork/exit with CONFIG_VMAP_STACK (kernel/fork.c alloc_thread_stack_node)."""

    rate_per_s: float = Field(1000.0, gt=0, description="forks per second (Poisson)")
    rate_sigma: float = Field(0.0, ge=0, le=3, description=(
        "lognormal sigma of a per-run factor on rate_per_s, drawn once from the caller's "
        "stream (median 1): background load that differs from run to run; 0 = fixed rate"))
    lifetime: DurationDist = Field({"kind": "exponential", "mean": "10 ms"},
                                   validate_default=True, description="thread lifetime")
    stack_size_bytes: PageBytes | None = Field(None, alias="stack_size", description=(
        "THREAD_SIZE; None: the device profile's (thread_size_bytes), else 16 KiB on 64-bit "
        "(x86_64, arm64), 8 KiB on 32-bit (ARM)"))
    stack_align_bytes: PageBytes | None = Field(None, alias="stack_align", description=(
        "THREAD_ALIGN; None: the device profile's (thread_align_bytes: x86_64 16 KiB, arm64 "
        "with VMAP_STACK 2 x THREAD_SIZE), else THREAD_SIZE"))
    cached_stacks: int = Field(2, ge=0, description="NR_CACHED_STACKS per-CPU stack cache")
    resident_threads: int = Field(0, ge=0, description="threads forked at start that never exit")
    touch: bool = True

    @model_validator(mode="after")
    def _pow2(self) -> ThreadStacksParams:
        if self.stack_align_bytes is not None and not _is_pow2(self.stack_align_bytes):
            raise ValueError(f"stack_align must be a power of two (got {self.stack_align_bytes})")
        return self


def thread_stacks(caller: Caller, p: ThreadStacksParams) -> Gen:
    """Forks allocate a stack (from the per-CPU cache of ``cached_stacks`` freed
    stacks first, else ``__vmalloc_node_range(THREAD_SIZE, THREAD_ALIGN,
    VMALLOC_START, VMALLOC_END)``); exits put it back in the cache if a slot is
    free, else vfree it (free_thread_stack)."""
    cache: list[int | None] = [None] * p.cached_stacks
    stack_size = p.stack_size_bytes or default_stack_size(caller)
    stack_align = p.stack_align_bytes or default_thread_align(caller)

    def fork() -> Generator[Any, Any, int | None]:
        for i, s in enumerate(cache):          # this_cpu_xchg(cached_stacks[i], NULL)
            if s is not None:
                cache[i] = None
                addr: int | None = s
                break
        else:
            # THREADINFO_GFP = GFP_KERNEL_ACCOUNT | __GFP_ZERO: the stack is zeroed
            addr = yield from caller.vmalloc(stack_size, stack_align, zero=True)
        if addr is not None and p.touch:
            yield from caller.touch(addr)
        return addr

    def exit_thread(addr: int) -> Generator[Any, Any, None]:
        for i, s in enumerate(cache):          # this_cpu_cmpxchg(cached_stacks[i], NULL, vm)
            if s is None:
                cache[i] = addr
                return
        yield from caller.vfree(addr)          # vfree_atomic()

    rate = p.rate_per_s
    if p.rate_sigma > 0:
        rate *= float(np.exp(p.rate_sigma * caller.rng.standard_normal()))
        caller.log(f"{caller.label}: thread-stacks rate this run {rate:.0f}/s "
                   f"(median {p.rate_per_s:g}/s, sigma {p.rate_sigma:g})")
    for _ in range(p.resident_threads):
        yield from fork()
    yield from churn(caller, rate, p.lifetime, fork, exit_thread)


# ------------------------------------------------------------- module loading
class ModuleLoadParams(Params):
    """module_alloc() in the modules range (arch/arm/kernel/module.c: align 1,
    MODULES_VADDR..MODULES_END)."""

    boot_modules: int = Field(40, ge=0, description="modules loaded at boot, never unloaded")
    boot_interval_ns: DurationNs = Field("1 ms", alias="boot_interval", validate_default=True)
    size: SizeDist = Field({"kind": "lognormal", "median": "48 KiB", "sigma": 1.6, "max": "8 MiB"},
                           validate_default=True, description="module image size")
    load_rate_per_s: float = Field(0.05, ge=0, description="loads per second after boot (Poisson)")
    lifetime: DurationDist = Field({"kind": "exponential", "mean": "60 s"}, validate_default=True,
                                   description="time until a post-boot module is unloaded")
    align_bytes: int = Field(1, alias="align", ge=1, description="module_alloc align (1)")
    touch: bool = True

    @model_validator(mode="after")
    def _pow2(self) -> ModuleLoadParams:
        if not _is_pow2(self.align_bytes):
            raise ValueError(f"align must be a power of two (got {self.align_bytes})")
        return self


def _modules_range(caller: Caller) -> tuple[int, int]:
    if caller.modules_start is not None and caller.modules_end is not None:
        return caller.modules_start, caller.modules_end
    caller.log(f"{caller.label}: no modules range in the address space; "
               "module-load allocates in the vmalloc range")
    return caller.vmalloc_start, caller.vmalloc_end


def module_load(caller: Caller, p: ModuleLoadParams) -> Gen:
    rng, page = caller.rng, caller.page_size
    vstart, vend = _modules_range(caller)

    def module_alloc() -> Generator[Any, Any, int | None]:
        size = p.size.sample(rng, page)
        addr = yield from caller.vmalloc(size, p.align_bytes, vstart, vend)
        if addr is not None and p.touch:
            yield from caller.touch(addr)
        return addr

    for n in range(p.boot_modules):
        if not caller.running():
            return
        if n:
            yield from caller.sleep(p.boot_interval_ns)
        yield from module_alloc()
    if p.load_rate_per_s <= 0:
        return

    def module_memfree(addr: int) -> Generator[Any, Any, None]:
        yield from caller.vfree(addr)

    yield from churn(caller, p.load_rate_per_s, p.lifetime, module_alloc, module_memfree)


# -------------------------------------------------------------------- ioremap
def ioremap_align(size_bytes: int, page_shift: int, max_order: int) -> int:
    """__get_vm_area_node() with VM_IOREMAP:
    ``1 << clamp(get_count_order_long(size), PAGE_SHIFT, IOREMAP_MAX_ORDER)``
    (``size`` page-aligned, before the guard page is added)."""
    order = min(max(get_count_order_long(size_bytes), page_shift), max_order)
    return 1 << order


def default_ioremap_max_order(word_bits: int, page_size: int) -> int:
    """IOREMAP_MAX_ORDER: 24 on 32-bit ARM (arch/arm/include/asm/memory.h);
    the generic ``7 + PAGE_SHIFT`` (include/linux/vmalloc.h) otherwise, e.g.
    x86_64.  arm64 with 4 KiB pages uses PUD_SHIFT = 30: set it explicitly."""
    if word_bits == 32:
        return 24
    return 7 + page_size.bit_length() - 1


class IoremapParams(Params):
    """ioremap(): get_vm_area_caller(size, VM_IOREMAP) in the vmalloc range."""

    boot_mappings: int = Field(20, ge=0, description="ioremaps at boot (driver probe), never unmapped")
    boot_interval_ns: DurationNs = Field("100 us", alias="boot_interval", validate_default=True)
    size: SizeDist = Field({"kind": "lognormal", "median": "8 KiB", "sigma": 1.5, "max": "16 MiB"},
                           validate_default=True, description="mapping size")
    rate_per_s: float = Field(10.0, ge=0, description="ioremaps per second after boot (Poisson)")
    lifetime: DurationDist = Field({"kind": "exponential", "mean": "100 ms"},
                                   validate_default=True, description="time until iounmap")
    ioremap_max_order: int | None = Field(None, ge=12, le=63, description=(
        "IOREMAP_MAX_ORDER; None: 24 on 32-bit (ARM), 7 + PAGE_SHIFT otherwise"))


def ioremap(caller: Caller, p: IoremapParams) -> Gen:
    rng, page = caller.rng, caller.page_size
    page_shift = page.bit_length() - 1
    max_order = p.ioremap_max_order or default_ioremap_max_order(caller.word_bits, page)

    def map_one() -> Generator[Any, Any, int | None]:
        size = p.size.sample(rng, page)
        addr = yield from caller.vmalloc(size, ioremap_align(size, page_shift, max_order))
        return addr

    for n in range(p.boot_mappings):
        if not caller.running():
            return
        if n:
            yield from caller.sleep(p.boot_interval_ns)
        yield from map_one()
    if p.rate_per_s <= 0:
        return

    def iounmap(addr: int) -> Generator[Any, Any, None]:
        yield from caller.vfree(addr)           # iounmap() -> vunmap()

    yield from churn(caller, p.rate_per_s, p.lifetime, map_one, iounmap)


register(Workload("thread-stacks", "fork/exit: VMAP_STACK thread stacks (16 KiB, 16 KiB "
                  "aligned) at a Poisson rate with a lifetime distribution",
                  ThreadStacksParams, thread_stacks))
register(Workload("module-load", "module_alloc in the modules range: a burst at boot, "
                  "then occasional load/unload", ModuleLoadParams, module_load))
register(Workload("ioremap", "ioremap with __get_vm_area_node's size-derived alignment "
                  "(VM_IOREMAP)", IoremapParams, ioremap))
