"""The seed RFC's two benchmark loops (../shared/seed/rfc-vmalloc-free-blocks-2018.txt).

test_1::

    <measure this loop time>
    for (n = 0; n < 1000000; n++) {
        void *ptr_1 = vmalloc(3 * PAGE_SIZE);
        *((__u8 *)ptr_1) = 0;
        vfree(ptr_1);
    }

test_2::

    for (n = 0; n < 15000; n++)
        ptr[n] = vmalloc(1 * PAGE_SIZE);
    <measure this loop time>
    for (n = 0; n < 1000000; n++) {
        void *ptr_1 = vmalloc(100 * PAGE_SIZE);
        void *ptr_2 = vmalloc(1 * PAGE_SIZE);
        *((__u8 *)ptr_1) = 0;
        *((__u8 *)ptr_2) = 1;
        vfree(ptr_1);
        vfree(ptr_2);
    }

The RFC dereferences the result without a check; here a failed vmalloc
(None) skips its touch and vfree, and the iteration still counts.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pydantic import Field

from simulator.units import PageBytes

from .base import Caller, Workload, register
from .common import MeasuredLoop, Params, resolve_loops


class SeedTest1Params(Params):
    loops: int | None = Field(None, ge=1, description=(
        "measured iterations; default: the scenario's iterations stop, else 1,000,000"))
    size_bytes: PageBytes = Field("3 pages", alias="size", validate_default=True,
                                  description="vmalloc size (3 pages)")


def seed_test1(caller: Caller, p: SeedTest1Params) -> Generator[Any, Any, None]:
    caller.measure_start()
    for _ in MeasuredLoop(caller, resolve_loops(p.loops, caller)):
        ptr_1 = yield from caller.vmalloc(p.size_bytes)
        if ptr_1 is not None:
            yield from caller.touch(ptr_1)
            yield from caller.vfree(ptr_1)


class SeedTest2Params(Params):
    loops: int | None = Field(None, ge=1, description=(
        "measured iterations; default: the scenario's iterations stop, else 1,000,000"))
    prefill: int = Field(15_000, ge=0, description="1-page areas kept busy before the loop")
    prefill_size_bytes: PageBytes = Field("1 page", alias="prefill_size", validate_default=True)
    size_1_bytes: PageBytes = Field("100 pages", alias="size_1", validate_default=True,
                                    description="ptr_1 size (100 pages)")
    size_2_bytes: PageBytes = Field("1 page", alias="size_2", validate_default=True,
                                    description="ptr_2 size (1 page)")


def seed_test2(caller: Caller, p: SeedTest2Params) -> Generator[Any, Any, None]:
    for _ in range(p.prefill):
        yield from caller.vmalloc(p.prefill_size_bytes)  # ptr[n]: kept for the whole run
    caller.measure_start()
    for _ in MeasuredLoop(caller, resolve_loops(p.loops, caller)):
        ptr_1 = yield from caller.vmalloc(p.size_1_bytes)
        ptr_2 = yield from caller.vmalloc(p.size_2_bytes)
        if ptr_1 is not None:
            yield from caller.touch(ptr_1)
        if ptr_2 is not None:
            yield from caller.touch(ptr_2)
        if ptr_1 is not None:
            yield from caller.vfree(ptr_1)
        if ptr_2 is not None:
            yield from caller.vfree(ptr_2)


register(Workload("seed-test1", "seed RFC test_1: vmalloc(3 pages), touch, vfree in a loop",
                  SeedTest1Params, seed_test1, uses_rng=False, ends_by_itself=True))
register(Workload("seed-test2", "seed RFC test_2: 15,000 x 1-page prefill, then "
                  "vmalloc(100 pages)+vmalloc(1 page), touch, vfree both",
                  SeedTest2Params, seed_test2, uses_rng=False, ends_by_itself=True))
