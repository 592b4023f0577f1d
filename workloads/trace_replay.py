"""``trace-replay``: replay the vmalloc requests of a real ftrace capture.

Record on the device (Linux 6.x, ``include/trace/events/vmalloc.h``)::

    echo 1 > /sys/kernel/tracing/events/vmalloc/alloc_vmap_area/enable
    echo 1 > /sys/kernel/tracing/events/vmalloc/free_vmap_area_noflush/enable
    cat /sys/kernel/tracing/trace > vmalloc.trace

then give ``trace: vmalloc.trace`` to one caller per traced CPU (``cpus:
all``: the caller on CPU i replays trace CPU i; ``trace_cpu`` picks another).

What is replayed, per traced CPU, in trace order:

* each ``alloc_vmap_area`` request (size, align, vstart, vend) as a vmalloc
  of ``size`` bytes, the guard page included (``guard: true`` takes it as
  vmalloc's guard page: ``size - PAGE_SIZE`` bytes are mapped).  A
  ``failed=1`` try followed by the same task's same request is the kernel's
  purge-and-retry (the purge may sleep, so the retry may run on another
  CPU): one request, replayed by the retry's CPU (vmsim purges and retries
  by its own rule).  A final ``failed=1`` is replayed too: the simulated
  allocator may succeed, and that area then stays allocated (counted in the
  log).
* each ``free_vmap_area_noflush`` of an area allocated in the trace, as a
  vfree of the simulated area, **by the caller that allocated it** (the
  kernel may free on another CPU; replaying it on the allocating CPU keeps
  each caller's addresses its own).  Frees of areas allocated before the
  trace started are skipped and counted in the log.
* ``timing: trace``: each request at its trace time (open loop, relative to
  the trace's first event), or right away if the simulated CPU is behind;
  ``timing: back-to-back``: no idle time.  ``ranges: trace`` keeps each
  request's vstart/vend (the scenario's address space must then hold them:
  give the traced machine's ranges); ``ranges: vmalloc`` sends every request
  to the scenario's vmalloc range.

Every replayed allocation counts one ``iteration_done()``.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from simulator.ftrace import Trace, TraceError, TraceEvent, parse_trace

from .base import Caller, Workload, register
from .common import Params
from .distributions import resolve_path


@dataclass(frozen=True)
class Step:
    """One replayed request of a traced CPU."""

    t_ns: int
    kind: str                      # "alloc" | "free"
    area: int | None               # traced area id (None: a final failure, never freed)
    size_bytes: int = 0            # alloc: bytes including the guard page
    align: int = 1
    vstart: int = 0
    vend: int = 0
    line: int = 0                  # line in the trace file


@dataclass(frozen=True)
class Script:
    """A parsed trace, split per traced CPU."""

    t0_ns: int                                  # the trace's first event
    steps: dict[int, tuple[Step, ...]]          # traced CPU -> its requests
    skipped_frees: dict[int, int]               # traced CPU -> frees of pre-trace areas
    retries: int                                # failed=1 tries merged with their retry
    lost: dict[int, int]                        # traced CPU -> events the ring buffer lost
    reallocated: int                            # an address allocated again before its free


_CACHE: dict[tuple[str, int, int], Script] = {}


def load_script(path: str) -> Script:
    """Parse ``path`` into per-CPU requests (cached by path, size and mtime)."""
    try:
        st = os.stat(path)
    except OSError:
        raise TraceError(f"{path}: no such trace file") from None
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = build_script(parse_trace(path))
    return _CACHE[key]


def build_script(trace: Trace) -> Script:
    events = list(trace.events)        # in time order: the parser refuses a trace going back
    allocs = [e for e in events if e.event == "alloc_vmap_area"]
    next_alloc: dict[int, TraceEvent] = {}          # alloc line -> the same task's next alloc
    last: dict[int, TraceEvent] = {}
    for e in allocs:
        prev = last.get(e.pid)
        if prev is not None:
            next_alloc[prev.line] = e
        last[e.pid] = e
    steps: dict[int, list[Step]] = {}
    skipped: dict[int, int] = {}
    live: dict[int, tuple[int, int]] = {}           # traced va_start -> (area id, its CPU)
    retries = reallocated = 0
    area = 0
    for e in events:
        f = e.fields
        if e.event == "alloc_vmap_area":
            request = (f["size"], f["align"], f["vstart"], f["vend"])
            if f["failed"]:
                nxt = next_alloc.get(e.line)
                if nxt is not None and (nxt.fields["size"], nxt.fields["align"], nxt.fields["vstart"],
                                        nxt.fields["vend"]) == request:
                    retries += 1                    # the try before purge-and-retry
                    continue
                ident = None
            else:
                area += 1
                ident = area
                reallocated += f["va_start"] in live   # its free was lost
                live[f["va_start"]] = (ident, e.cpu)
            steps.setdefault(e.cpu, []).append(Step(e.t_ns, "alloc", ident, *request, line=e.line))
        elif e.event == "free_vmap_area_noflush":
            owner = live.pop(f["va_start"], None)
            if owner is None:
                skipped[e.cpu] = skipped.get(e.cpu, 0) + 1
                continue
            steps.setdefault(owner[1], []).append(Step(e.t_ns, "free", owner[0], line=e.line))
    t0 = events[0].t_ns if events else 0
    return Script(t0, {c: tuple(s) for c, s in steps.items()}, skipped, retries, dict(trace.lost),
                  reallocated)


class TraceReplayParams(Params):
    trace: str = Field(description="an ftrace text file with vmalloc events (relative to the scenario)")
    trace_cpu: int | None = Field(None, ge=0, description="traced CPU to replay; None: the caller's CPU")
    timing: Literal["trace", "back-to-back"] = Field(
        "trace", description="trace: requests at their traced times (open loop); back-to-back: no idle time")
    ranges: Literal["trace", "vmalloc"] = Field(
        "trace", description="trace: the traced vstart/vend; vmalloc: the scenario's vmalloc range")
    guard: bool = Field(True, description="traced sizes include vmalloc's guard page")
    touch: bool = Field(False, description="write the first page of each replayed area")
    _script: Script | None = PrivateAttr(default=None)

    @field_validator("trace")
    @classmethod
    def _absolute(cls, v: str, info: ValidationInfo) -> str:
        return resolve_path(v, info)

    @model_validator(mode="after")
    def _load(self, info: ValidationInfo) -> TraceReplayParams:
        script = load_script(self.trace)            # TraceError is a ValueError: one line
        ctx = info.context if isinstance(info.context, dict) else {}
        page = ctx.get("page_size") if isinstance(ctx.get("page_size"), int) else 4096
        rng = ctx.get("address_range")
        for s in (s for per_cpu in script.steps.values() for s in per_cpu if s.kind == "alloc"):
            if s.align < 1 or s.align & (s.align - 1) or s.align >= 1 << 64:
                raise TraceError(f"{self.trace}:{s.line}: align {s.align} is not a power of two "
                                 "below 2^64; accepted: align=1, 2, 4, ...")
            if s.size_bytes >= 1 << 63:
                raise TraceError(f"{self.trace}:{s.line}: size {s.size_bytes} is not below 2^63; "
                                 "accepted: sizes of real areas")
            if s.size_bytes % page or s.size_bytes < (2 * page if self.guard else page):
                raise TraceError(f"{self.trace}:{s.line}: size {s.size_bytes} is not a page multiple "
                                 f"of at least {'2 pages (guard: true)' if self.guard else '1 page'}; "
                                 f"accepted: sizes in pages of {page} bytes")
            if self.ranges == "trace" and rng and not rng[0] <= s.vstart < s.vend <= rng[1]:
                raise TraceError(f"{self.trace}:{s.line}: vstart..vend {s.vstart:#x}..{s.vend:#x} lies "
                                 f"outside the scenario's address space {rng[0]:#x}..{rng[1]:#x}; "
                                 "accepted: an address_space holding the traced ranges, or "
                                 "ranges: vmalloc")
        self._script = script
        return self


def trace_replay(caller: Caller, p: TraceReplayParams) -> Generator[Any, Any, None]:
    script = p._script if p._script is not None else load_script(p.trace)
    tcpu = caller.cpu if p.trace_cpu is None else p.trace_cpu
    steps = script.steps.get(tcpu, ())
    guard_bytes = caller.page_size if p.guard else 0
    cpus = sorted(script.steps)
    caller.log(f"{caller.label}: replaying trace CPU {tcpu} of {os.path.basename(p.trace)} "
               f"(traced CPUs {', '.join(map(str, cpus)) or 'none'}): "
               f"{sum(s.kind == 'alloc' for s in steps)} allocations "
               f"({sum(s.kind == 'alloc' and s.area is None for s in steps)} failed in the trace), "
               f"{sum(s.kind == 'free' for s in steps)} frees; "
               f"{script.skipped_frees.get(tcpu, 0)} frees of areas allocated before the trace skipped")
    if script.lost.get(tcpu) or (tcpu == min(cpus, default=tcpu) and script.reallocated):
        caller.log(f"{caller.label}: trace warning: {script.lost.get(tcpu, 0)} events lost on CPU "
                   f"{tcpu}; {script.reallocated} traced addresses allocated again before their free "
                   "(lost events): areas whose free was lost stay allocated")
    caller.measure_start()
    start = caller.now_ns
    addrs: dict[int, int] = {}
    for s in steps:
        if not caller.running():
            break
        if p.timing == "trace":
            wait = start + (s.t_ns - script.t0_ns) - caller.now_ns
            if wait > 0:
                yield from caller.sleep(wait)
                if not caller.running():             # the stop came while idle
                    break
        if s.kind == "alloc":
            vs, ve = (s.vstart, s.vend) if p.ranges == "trace" else (None, None)
            addr = yield from caller.vmalloc(s.size_bytes - guard_bytes, s.align, vs, ve, guard=p.guard)
            if addr is not None:
                if s.area is not None:
                    addrs[s.area] = addr
                if p.touch:
                    yield from caller.touch(addr)
            caller.iteration_done()
        else:
            addr = addrs.pop(s.area, None)             # None: its allocation failed here
            if addr is not None:
                yield from caller.vfree(addr)


register(Workload("trace-replay", "replay an ftrace capture of alloc_vmap_area / "
                  "free_vmap_area_noflush events, per traced CPU", TraceReplayParams, trace_replay))
