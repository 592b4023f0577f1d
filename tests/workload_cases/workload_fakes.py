"""A fake Caller for driving workload behaviours without the engine.

It records the request stream, returns addresses from a simple first-fit
oracle allocator over an address-sorted list of free blocks (free
immediately, no lazy purge), and advances a fake clock by a fixed cost per
operation plus any sleep.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Op:
    op: str                 # "vmalloc" | "vfree" | "touch" | "sleep" | "measure_start" | "iteration_done"
    t_ns: int
    size_bytes: int = 0
    align: int = 1
    vstart: int | None = None
    vend: int | None = None
    addr: int | None = None


@dataclass
class FakeCaller:
    seed: int = 0
    cpu: int = 0
    ncpus: int = 1
    page_size: int = 4096
    vmalloc_start: int = 0xF0800000
    vmalloc_end: int = 0xFF800000
    modules_start: int | None = None
    modules_end: int | None = None
    word_bits: int = 32
    iterations: int | None = None
    time_ns: int | None = None
    op_ns: int = 1000               # clock cost of each vmalloc/vfree/touch
    label: str = "fake@cpu0"
    ops: list[Op] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    done: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self._t = 0
        lo = min(self.vmalloc_start, self.modules_start or self.vmalloc_start)
        hi = max(self.vmalloc_end, self.modules_end or self.vmalloc_end)
        self._free: list[tuple[int, int]] = [(lo, hi)]   # sorted, maximal, disjoint
        self.busy: dict[int, int] = {}                   # start -> end (guard included)

    # ---- Caller protocol
    @property
    def now_ns(self) -> int:
        return self._t

    def vmalloc(self, size_bytes: int, align: int = 1, vstart: int | None = None,
                vend: int | None = None, guard: bool = True,
                zero: bool = False) -> Generator[Any, Any, int | None]:
        assert size_bytes > 0 and size_bytes % self.page_size == 0, size_bytes
        assert align > 0 and align & (align - 1) == 0, align
        vs = self.vmalloc_start if vstart is None else vstart
        ve = self.vmalloc_end if vend is None else vend
        need = size_bytes + (self.page_size if guard else 0)
        addr = None
        for i, (s, e) in enumerate(self._free):
            a = max(s, vs)
            a = -(-a // align) * align
            if a + need <= min(e, ve):
                addr = a
                del self._free[i]
                if a > s:
                    self._free.insert(i, (s, a))
                    i += 1
                if a + need < e:
                    self._free.insert(i, (a + need, e))
                self.busy[a] = a + need
                break
        self._t += self.op_ns
        self.ops.append(Op("vmalloc", self._t, size_bytes, align, vstart, vend, addr))
        yield "vmalloc"
        return addr

    def vfree(self, addr: int) -> Generator[Any, Any, None]:
        end = self.busy.pop(addr)           # KeyError: freeing a non-busy address
        s, e = addr, end
        i = bisect.bisect_left(self._free, (s, e))
        if i < len(self._free) and self._free[i][0] == e:
            e = self._free.pop(i)[1]
        if i > 0 and self._free[i - 1][1] == s:
            s = self._free.pop(i - 1)[0]
            i -= 1
        self._free.insert(i, (s, e))
        self._t += self.op_ns
        self.ops.append(Op("vfree", self._t, addr=addr))
        yield "vfree"

    def touch(self, addr: int) -> Generator[Any, Any, None]:
        assert addr in self.busy, hex(addr)
        self._t += self.op_ns
        self.ops.append(Op("touch", self._t, addr=addr))
        yield "touch"

    def sleep(self, ns: int) -> Generator[Any, Any, None]:
        assert ns >= 0
        self._t += ns
        self.ops.append(Op("sleep", self._t, size_bytes=ns))
        yield "sleep"

    def running(self) -> bool:
        if self.iterations is not None and self.done >= self.iterations:
            return False
        if self.time_ns is not None and self._t >= self.time_ns:
            return False
        return True

    def measure_start(self) -> None:
        self.ops.append(Op("measure_start", self._t))

    def iteration_done(self) -> None:
        self.done += 1
        self.ops.append(Op("iteration_done", self._t))

    def log(self, line: str) -> None:
        self.lines.append(line)

    # ---- helpers for tests
    def of(self, kind: str) -> list[Op]:
        return [o for o in self.ops if o.op == kind]

    def index_of(self, kind: str) -> int:
        return next(i for i, o in enumerate(self.ops) if o.op == kind)


def drive(name: str, caller: FakeCaller, params: dict[str, Any] | None = None,
          context: dict[str, Any] | None = None) -> FakeCaller:
    """Validate ``params`` with the workload's model and run its behaviour to the end."""
    import workloads

    wl = workloads.get(name)
    p = wl.params.model_validate(params or {}, context=context or {"page_size": caller.page_size})
    for _ in wl.behaviour(caller, p):
        pass
    return caller
