"""The cases of the kernel's own benchmark, lib/test_vmalloc.c, and its selftest preset.

Each case mirrors the function of the same name in lib/test_vmalloc.c
(torvalds/linux; the module appeared in Linux 5.1).  Where kernel versions
differ the difference is a parameter, with the 5.x module as default:

- ``fix_size_alloc_test`` size: ``nr_pages`` (5.x: ``vmalloc(3 * PAGE_SIZE)``
  hard-coded -> default 3; newer modules have an ``nr_pages`` parameter whose
  default 0 means 1 page).
- ``random_size_align_alloc_test`` random word: ``rnd_bits`` (5.x:
  ``get_random_bytes(&rnd, sizeof(unsigned long))`` -> BITS_PER_LONG, the
  default; 6.2+: ``get_random_u8()`` -> 8, which skews ``rnd % 23``).
- ``fix_align_alloc_test`` align: ``THREAD_ALIGN << 1``; ``thread_align``
  defaults to the device profile's THREAD_ALIGN (``thread_align_bytes``:
  x86_64 16 KiB, arm64 with VMAP_STACK 32 KiB, 32-bit ARM 8 KiB), else
  THREAD_SIZE of the word size.
- ``fix_align_alloc_test``, ``random_size_align_alloc_test`` and
  ``align_shift_alloc_test`` ask for ``GFP_KERNEL | __GFP_ZERO``: their
  vmallocs pass ``zero=True`` (priced when the profile's ``zero_pages`` is on).

``pcpu_alloc_test`` is not modelled: it exercises the percpu allocator, whose
chunk areas come from ``pcpu_get_vm_areas`` (a top-down search of the busy
tree that bypasses ``alloc_vmap_area`` and so the Caller interface).
Selecting it is an error; so are the kvfree_rcu and vm_map_ram cases.

Every case is also a workload of its own (same name): it runs the case
``test_repeat_count`` times, calls ``caller.measure_start()`` once its setup
(prefill) is done, ``caller.iteration_done()`` per loop iteration, and logs the
kernel's ``Summary:`` line.  ``test-vmalloc`` runs a ``run_test_mask``
selection like tools/testing/selftests/mm/test_vmalloc.sh.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from simulator.units import PageBytes

from .base import Caller, Workload, register
from .common import (KERNEL_LOOP_COUNT, MeasuredLoop, Once, Params, default_thread_align,
                     lazy_max_pages, page_align,
                     resolve_loops)

CaseGen = Generator[Any, Any, int]

#: test_case_array of lib/test_vmalloc.c (newer kernels), in mask-bit order
TEST_CASES = (
    "fix_size_alloc_test", "full_fit_alloc_test", "long_busy_list_alloc_test",
    "random_size_alloc_test", "fix_align_alloc_test", "random_size_align_alloc_test",
    "align_shift_alloc_test", "pcpu_alloc_test", "kvfree_rcu_1_arg_vmalloc_test",
    "kvfree_rcu_2_arg_vmalloc_test", "vm_map_ram_test",
)
MODELLED_MASK = 0x7F   # ids 1..64: the seven vmalloc cases
NOT_MODELLED_REASON = {
    "pcpu_alloc_test": "it drives the percpu allocator, whose chunks come from "
                       "pcpu_get_vm_areas' top-down search, not alloc_vmap_area",
    "kvfree_rcu_1_arg_vmalloc_test": "RCU-deferred frees are not modelled",
    "kvfree_rcu_2_arg_vmalloc_test": "RCU-deferred frees are not modelled",
    "vm_map_ram_test": "per-CPU vmap blocks (vm_map_ram) are not modelled",
}


class KernelKnobs(Params):
    """Module parameters and arch constants the cases read."""

    nr_pages: int = Field(3, ge=1, description=(
        "fix_size_alloc_test pages: 3 in the 5.x module, 1 in newer ones"))
    thread_align_bytes: PageBytes | None = Field(None, alias="thread_align", description=(
        "THREAD_ALIGN; fix_align uses it << 1.  None: the device profile's THREAD_ALIGN "
        "(x86_64 16 KiB, arm64 with VMAP_STACK 32 KiB), else 16 KiB on 64-bit, 8 KiB on 32-bit"))
    rnd_bits: Literal[8, 32, 64] | None = Field(None, description=(
        "random word of random_size_align_alloc_test: None = BITS_PER_LONG (5.x), 8 (6.2+)"))

    @model_validator(mode="after")
    def _pow2(self) -> KernelKnobs:
        a = self.thread_align_bytes
        if a is not None and a & (a - 1):
            raise ValueError(f"thread_align must be a power of two (got {a})")
        return self


@dataclass
class Ctx:
    """What a case function needs besides the Caller."""

    knobs: KernelKnobs
    loops: int
    count_iterations: bool          # call iteration_done() per loop iteration
    setup_done: Callable[[], None]  # after the prefill (measure_start hook)
    stopped: bool = False

    def loop(self, caller: Caller) -> MeasuredLoop:
        return MeasuredLoop(caller, self.loops, self.count_iterations)


# ------------------------------------------------------------------ the cases
def fix_size_alloc_test(caller: Caller, ctx: Ctx) -> CaseGen:
    size = ctx.knobs.nr_pages * caller.page_size
    ctx.setup_done()
    ml = ctx.loop(caller)
    for _ in ml:
        ptr = yield from caller.vmalloc(size)
        if ptr is None:
            return -1
        yield from caller.touch(ptr)
        yield from caller.vfree(ptr)
    ctx.stopped |= ml.stopped
    return 0


def full_fit_alloc_test(caller: Caller, ctx: Ctx) -> CaseGen:
    page = caller.page_size
    junk_length = lazy_max_pages(caller.ncpus, page)   # fls(num_online_cpus()) * 32 MiB / PAGE_SIZE
    array_bytes = page_align((caller.word_bits // 8) * junk_length, page)
    ptr_array = yield from caller.vmalloc(array_bytes)
    if ptr_array is None:
        return -1
    junk_array = yield from caller.vmalloc(array_bytes)
    if junk_array is None:
        yield from caller.vfree(ptr_array)
        return -1
    ptr: list[int | None] = []
    junk: list[int | None] = []
    for _ in range(junk_length):
        ptr.append((yield from caller.vmalloc(page)))
        junk.append((yield from caller.vmalloc(page)))
    for a in junk:
        if a is not None:               # vfree(NULL) is a no-op
            yield from caller.vfree(a)
    ctx.setup_done()
    rv = -1
    ml = ctx.loop(caller)
    for _ in ml:
        tmp = yield from caller.vmalloc(page)
        if tmp is None:
            break                       # goto error
        yield from caller.touch(tmp)
        yield from caller.vfree(tmp)
    else:
        rv = 0
    ctx.stopped |= ml.stopped
    for a in ptr:
        if a is not None:
            yield from caller.vfree(a)
    yield from caller.vfree(ptr_array)
    yield from caller.vfree(junk_array)
    return rv


def long_busy_list_alloc_test(caller: Caller, ctx: Ctx) -> CaseGen:
    page = caller.page_size
    ptr_array = yield from caller.vmalloc(page_align((caller.word_bits // 8) * 15000, page))
    if ptr_array is None:
        return -1
    ptr: list[int | None] = []
    for _ in range(15000):
        ptr.append((yield from caller.vmalloc(page)))
    ctx.setup_done()
    rv = -1
    ml = ctx.loop(caller)
    for _ in ml:
        ptr_1 = yield from caller.vmalloc(100 * page)
        if ptr_1 is None:
            break                       # goto leave
        ptr_2 = yield from caller.vmalloc(page)
        if ptr_2 is None:
            yield from caller.vfree(ptr_1)
            break
        yield from caller.touch(ptr_1)
        yield from caller.touch(ptr_2)
        yield from caller.vfree(ptr_1)
        yield from caller.vfree(ptr_2)
    else:
        rv = 0
    ctx.stopped |= ml.stopped
    for a in ptr:
        if a is not None:
            yield from caller.vfree(a)
    yield from caller.vfree(ptr_array)
    return rv


def random_size_alloc_test(caller: Caller, ctx: Ctx) -> CaseGen:
    page = caller.page_size
    ctx.setup_done()
    ml = ctx.loop(caller)
    for _ in ml:
        n = int(caller.rng.integers(1, 101))        # get_random_u32_inclusive(1, 100)
        p = yield from caller.vmalloc(n * page)
        if p is None:
            return -1
        yield from caller.touch(p)
        yield from caller.vfree(p)
    ctx.stopped |= ml.stopped
    return 0


def fix_align_alloc_test(caller: Caller, ctx: Ctx) -> CaseGen:
    thread_align = ctx.knobs.thread_align_bytes or default_thread_align(caller)
    size, align = 5 * caller.page_size, thread_align << 1
    ctx.setup_done()
    ml = ctx.loop(caller)
    for _ in ml:
        ptr = yield from caller.vmalloc(size, align, zero=True)     # GFP_KERNEL | __GFP_ZERO
        if ptr is None:
            return -1
        yield from caller.vfree(ptr)
    ctx.stopped |= ml.stopped
    return 0


def random_size_align_alloc_test(caller: Caller, ctx: Ctx) -> CaseGen:
    page = caller.page_size
    bits = ctx.knobs.rnd_bits or caller.word_bits
    ctx.setup_done()
    ml = ctx.loop(caller)
    for _ in ml:
        rnd = int(caller.rng.integers(0, 1 << bits, dtype=np.uint64))
        align = 1 << (rnd % 23)                     # at most 1024 pages of 4 KiB
        size = ((rnd % 10) + 1) * page              # at most 10 pages
        ptr = yield from caller.vmalloc(size, align, zero=True)     # GFP_KERNEL | __GFP_ZERO
        if ptr is None:
            return -1
        yield from caller.vfree(ptr)
    ctx.stopped |= ml.stopped
    return 0


def align_shift_alloc_test(caller: Caller, ctx: Ctx) -> CaseGen:
    """Supposed to fail: alignments up to 1 << (BITS_PER_LONG - 1) cannot be met."""
    ctx.setup_done()
    for i in range(caller.word_bits):
        ptr = yield from caller.vmalloc(caller.page_size, 1 << i, zero=True)   # __GFP_ZERO
        if ptr is None:
            return -1
        yield from caller.vfree(ptr)
    return 0


CASE_FUNCS: dict[str, Callable[[Caller, Ctx], CaseGen]] = {
    f.__name__: f for f in (fix_size_alloc_test, full_fit_alloc_test, long_busy_list_alloc_test,
                            random_size_alloc_test, fix_align_alloc_test,
                            random_size_align_alloc_test, align_shift_alloc_test)
}


def summary_line(name: str, passed: int, failed: int, repeat: int, loops: int, avg_us: int) -> str:
    """The module's pr_info line for one test."""
    return (f"Summary: {name} passed: {passed} failed: {failed} repeat: {repeat} "
            f"loops: {loops} avg: {avg_us} usec")


def run_case(caller: Caller, name: str, ctx: Ctx, repeat: int) -> Generator[Any, Any, tuple[int, int, int]]:
    """test_func()'s inner part for one test: (passed, failed, avg usec).

    A repetition that the scenario's stop cuts short (``ctx.stopped``) is
    neither passed nor failed: it ends the test, a log line says so, and avg
    is divided by the repetitions that ran instead of ``repeat``."""
    passed = failed = 0
    ran = 0
    kt = caller.now_ns
    for _ in range(repeat):
        rv = yield from CASE_FUNCS[name](caller, ctx)
        ran += 1
        if ctx.stopped:
            caller.log(f"test_vmalloc: {name} cut short by the scenario's stop in repetition "
                       f"{ran} of {repeat} (not counted as passed or failed)")
            break
        if rv == 0:
            passed += 1
        else:
            failed += 1
    delta_us = int(caller.now_ns - kt) // 1000   # ktime_us_delta(); SimPy time may be a float
    return passed, failed, delta_us // ran        # do_div(delta, test_repeat_count)


# ------------------------------------------------------- one case as a workload
class CaseParams(KernelKnobs):
    test_loop_count: int | None = Field(None, ge=1, description=(
        "loop iterations; default: the scenario's iterations stop, else 1,000,000"))
    test_repeat_count: int = Field(1, ge=1)


def _case_behaviour(name: str) -> Callable[[Caller, CaseParams], Generator[Any, Any, None]]:
    def behaviour(caller: Caller, p: CaseParams) -> Generator[Any, Any, None]:
        loops = resolve_loops(p.test_loop_count, caller)
        # Every repetition runs the whole loop count, as the module does.  The
        # scenario's iterations stop counts loop iterations, so it could cut
        # repetition 2 at once: with test_repeat_count > 1 the case counts no
        # iterations and ends by itself after its repetitions (a time stop
        # still cuts it).
        ctx = Ctx(p, loops, p.test_repeat_count == 1, Once(caller.measure_start))
        passed, failed, avg = yield from run_case(caller, name, ctx, p.test_repeat_count)
        caller.log(summary_line(name, passed, failed, p.test_repeat_count, loops, avg))
    behaviour.__name__ = name
    return behaviour


_CASE_DESCRIPTIONS = {
    "fix_size_alloc_test": "lib/test_vmalloc.c: vmalloc(nr_pages), touch, vfree",
    "full_fit_alloc_test": "lib/test_vmalloc.c: lazy_max_pages pairs, free every other, "
                           "then 1-page allocs into one-area holes",
    "long_busy_list_alloc_test": "lib/test_vmalloc.c: 15,000 busy 1-page areas, then "
                                 "100+1 pages alloc/free (the seed's test_2)",
    "random_size_alloc_test": "lib/test_vmalloc.c: vmalloc(1..100 pages uniform), touch, vfree",
    "fix_align_alloc_test": "lib/test_vmalloc.c: 5 pages aligned to THREAD_ALIGN << 1",
    "random_size_align_alloc_test": "lib/test_vmalloc.c: 1..10 pages, align 1 << (rnd % 23)",
    "align_shift_alloc_test": "lib/test_vmalloc.c: 1 page, align 1 << 0..BITS_PER_LONG-1 "
                              "(fails by design)",
}


class PcpuAllocTestParams(Params):
    @model_validator(mode="before")
    @classmethod
    def _refuse(cls, data: Any) -> Any:
        raise ValueError("pcpu_alloc_test is not modelled: "
                         + NOT_MODELLED_REASON["pcpu_alloc_test"]
                         + "; choose another lib/test_vmalloc.c case")


def _pcpu_alloc_test(caller: Caller, p: PcpuAllocTestParams) -> Generator[Any, Any, None]:
    raise ValueError("pcpu_alloc_test is not modelled")   # unreachable: params refuse
    yield  # pragma: no cover


# ----------------------------------------------------------------- the preset
class PresetParams(KernelKnobs):
    mode: Literal["performance", "stress"] = Field("performance", description=(
        "performance: sequential order, test_repeat_count 3 (one caller); "
        "stress: shuffled order, test_repeat_count 20 (one caller per CPU)"))
    run_test_mask: int = Field(MODELLED_MASK, ge=1, description="bit i selects TEST_CASES[i]")
    test_repeat_count: int | None = Field(None, ge=1, description="None: 3 (performance), 20 (stress)")
    test_loop_count: int = Field(KERNEL_LOOP_COUNT, ge=1)
    sequential_test_order: bool | None = Field(None, description="None: true for performance")

    @model_validator(mode="after")
    def _mask(self) -> PresetParams:
        bad = [TEST_CASES[i] for i in range(len(TEST_CASES))
               if self.run_test_mask >> i & 1 and not MODELLED_MASK >> i & 1]
        if bad:
            why = "; ".join(f"{n} ({1 << TEST_CASES.index(n)}): {NOT_MODELLED_REASON[n]}" for n in bad)
            raise ValueError(f"run_test_mask selects tests vmsim does not model: {why}; "
                             f"accepted: a mask within {MODELLED_MASK} (ids 1..64)")
        if self.run_test_mask >> len(TEST_CASES):
            raise ValueError(f"run_test_mask {self.run_test_mask} has bits beyond the "
                             f"{len(TEST_CASES)} tests; accepted: a mask within {MODELLED_MASK}")
        return self

    @property
    def repeat(self) -> int:
        if self.test_repeat_count is not None:
            return self.test_repeat_count
        return 3 if self.mode == "performance" else 20

    @property
    def sequential(self) -> bool:
        if self.sequential_test_order is not None:
            return self.sequential_test_order
        return self.mode == "performance"


def shuffle_array(arr: list[int], rng: Any) -> None:
    """lib/test_vmalloc.c shuffle_array(): j = random below i (note: j < i)."""
    for i in range(len(arr) - 1, 0, -1):
        j = int(rng.integers(0, i))
        arr[i], arr[j] = arr[j], arr[i]


def test_vmalloc_preset(caller: Caller, p: PresetParams) -> Generator[Any, Any, None]:
    order = list(range(len(TEST_CASES)))
    if not p.sequential:
        shuffle_array(order, caller.rng)
    repeat = p.repeat
    results: dict[int, tuple[int, int, int]] = {}
    ctx = Ctx(p, p.test_loop_count, False, lambda: None)
    caller.measure_start()
    for index in order:
        if not p.run_test_mask >> index & 1:
            continue
        if ctx.stopped or not caller.running():
            break
        results[index] = yield from run_case(caller, TEST_CASES[index], ctx, repeat)
    for j, name in enumerate(TEST_CASES):   # printed in test_case_array order
        if p.run_test_mask >> j & 1:
            passed, failed, avg = results.get(j, (0, 0, 0))
            caller.log(summary_line(name, passed, failed, repeat, p.test_loop_count, avg))


#: the cases that draw random numbers (get_random_*); the others are seed independent
RANDOM_CASES = ("random_size_alloc_test", "random_size_align_alloc_test")


def preset_uses_rng(p: PresetParams) -> bool:
    """The preset draws when it shuffles the test order or runs a random case."""
    return not p.sequential or any(p.run_test_mask >> TEST_CASES.index(n) & 1 for n in RANDOM_CASES)


for _name, _func in CASE_FUNCS.items():
    register(Workload(_name, _CASE_DESCRIPTIONS[_name], CaseParams, _case_behaviour(_name),
                      uses_rng=_name in RANDOM_CASES, ends_by_itself=True))
register(Workload("pcpu_alloc_test", "lib/test_vmalloc.c pcpu_alloc_test: not modelled "
                  "(selecting it is an error, see docs/workloads.md)",
                  PcpuAllocTestParams, _pcpu_alloc_test))
register(Workload("test-vmalloc", "the test_vmalloc.sh preset: run_test_mask selection, "
                  "performance or stress mode, kernel Summary lines",
                  PresetParams, test_vmalloc_preset, uses_rng=preset_uses_rng,
                  ends_by_itself=True, loop_param="test_loop_count"))
