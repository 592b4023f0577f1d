"""``random``: allocations with size, lifetime and think-time distributions.

After each allocation the caller thinks for ``think`` (a duration
distribution), then allocates again; each area is freed ``lifetime`` after
its allocation (``forever``: never).  Frees due before the next allocation run
first.  ``max_live`` caps the live areas: at the cap the next allocation waits
for the next free.  Sizes may be drawn from a /proc/vmallocinfo dump
(``size: {kind: empirical, file: ...}``), which also works for dumps with
hashed addresses.
"""

from __future__ import annotations

import heapq
from collections.abc import Generator
from typing import Any

from pydantic import Field, model_validator

from simulator.units import Address

from .background import sleep_until
from .base import Caller, Workload, register
from .common import Params
from .distributions import DurationDist, SizeDist


class RandomParams(Params):
    size: SizeDist = Field({"kind": "uniform", "low": "1 page", "high": "16 pages"},
                           validate_default=True, description="request size (no guard page)")
    lifetime: DurationDist = Field({"kind": "exponential", "mean": "1 ms"}, validate_default=True)
    think: DurationDist = Field({"kind": "fixed", "value": 0}, validate_default=True,
                                description="idle time between allocations")
    align_bytes: int = Field(1, alias="align", ge=1, description="vmalloc align (power of two)")
    vstart: Address | None = None
    vend: Address | None = None
    touch: bool = True
    max_live: int | None = Field(None, ge=1)
    measure: bool = Field(False, description=(
        "call measure_start() at the start: set it when random is the foreground caller"))

    @model_validator(mode="after")
    def _check(self) -> RandomParams:
        a = self.align_bytes
        if a & (a - 1):
            raise ValueError(f"align must be a power of two (got {a})")
        if self.vstart is not None and self.vend is not None and self.vend <= self.vstart:
            raise ValueError("vend must be above vstart")
        return self


def random_behaviour(caller: Caller, p: RandomParams) -> Generator[Any, Any, None]:
    rng, page = caller.rng, caller.page_size
    live: list[tuple[int, int, int]] = []    # (t_free_ns, seq, addr)
    n_live = 0                               # includes areas that are never freed
    seq = 0
    if p.measure:
        caller.measure_start()
    next_alloc = int(caller.now_ns)
    while caller.running():
        at_cap = p.max_live is not None and n_live >= p.max_live
        if live and (at_cap or live[0][0] <= next_alloc):
            t, _, due = heapq.heappop(live)
            yield from sleep_until(caller, t)
            if not caller.running():
                break
            yield from caller.vfree(due)
            n_live -= 1
            next_alloc = max(next_alloc, int(caller.now_ns)) if at_cap else next_alloc
            continue
        if at_cap:
            return                           # capped by areas that are never freed
        yield from sleep_until(caller, next_alloc)
        if not caller.running():
            break
        addr = yield from caller.vmalloc(p.size.sample(rng, page), p.align_bytes, p.vstart, p.vend)
        if addr is not None:
            n_live += 1
            if p.touch:
                yield from caller.touch(addr)
            life = p.lifetime.sample(rng)
            if life is not None:
                seq += 1
                heapq.heappush(live, (int(caller.now_ns) + life, seq, addr))
        caller.iteration_done()
        think = p.think.sample(rng)
        next_alloc = int(caller.now_ns) + (think or 0)


register(Workload("random", "random sizes, lifetimes and think time (fixed, uniform, "
                  "lognormal, or empirical from a vmallocinfo file)", RandomParams,
                  random_behaviour))
