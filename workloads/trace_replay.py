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
    va_start: int | None = None    # alloc: the traced address (None: failed in the trace)


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
            steps.setdefault(e.cpu, []).append(Step(e.t_ns, "alloc", ident, *request, line=e.line,
                                                    va_start=None if ident is None else f["va_start"]))
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
        ps = ctx.get("page_size")
        page: int = ps if isinstance(ps, int) else 4096
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
    compared = same = 0                     # trace fidelity: simulated == traced va_start
    divergence = None
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
            if s.va_start is not None:
                compared += 1
                if addr == s.va_start:
                    same += 1
                elif divergence is None:
                    divergence = s, addr
            if addr is not None:
                if s.area is not None:
                    addrs[s.area] = addr
                if p.touch:
                    yield from caller.touch(addr)
            caller.iteration_done()
        else:
            addr = addrs.pop(s.area, None) if s.area is not None else None   # None: failed here
            if addr is not None:
                yield from caller.vfree(addr)
    caller.log(fidelity_line(caller.label, os.path.basename(p.trace), compared, same, divergence))


#: the log line a replaying caller ends with (simulator.runner reads it back)
FIDELITY = "trace fidelity"


def fidelity_line(label: str, trace: str, compared: int, same: int,
                  divergence: tuple[Step, int | None] | None) -> str:
    """``<label>: trace fidelity: <same>/<compared> allocations at the traced
    va_start; first divergence: <trace>:<line> t=<ns> traced 0x.. simulated 0x..|ENOMEM``."""
    if divergence is None:
        first = "none"
    else:
        s, addr = divergence
        got = "ENOMEM" if addr is None else f"{addr:#x}"
        first = f"{trace}:{s.line} t={s.t_ns} traced {s.va_start:#x} simulated {got}"
    return (f"{label}: {FIDELITY}: {same}/{compared} allocations at the traced va_start; "
            f"first divergence: {first}")


register(Workload("trace-replay", "replay an ftrace capture of alloc_vmap_area / "
                  "free_vmap_area_noflush events, per traced CPU", TraceReplayParams, trace_replay))


# ------------------------------------------------------------------ do the pieces fit?

def check_fit(trace_path: str, layout_path: str, page_size: int = 4096,
              vrange: tuple[int, int] | None = None) -> tuple[bool, list[str]]:
    """Does ``/proc/vmallocinfo`` dump ``layout_path`` show the address space at
    the start of trace ``trace_path``?  (``vmsim trace-check``; see
    docs/trace-replay.md.)  Returns (fits, report lines).

    * every traced free of an area allocated before the trace must find that
      area (same start) in the layout;
    * no area the trace allocates may overlap a layout area still busy then
      (a layout area is busy until the trace frees it);
    * with ``vrange``: the layout's areas lie inside the allocator's range.
    """
    from simulator.vmallocinfo import parse_vmallocinfo

    trace = parse_trace(trace_path)
    info = parse_vmallocinfo(layout_path, page_size=page_size)
    if info.hashed:
        return False, [f"{layout_path}: addresses are hashed (%pK): run the dump as root "
                       "(kptr_restrict) to replay from it"]
    layout = {a.start: a for a in info.areas}
    busy = sorted((a.start, a.end, a.line) for a in info.areas)
    freed: set[int] = set()
    live: set[int] = set()
    lines: list[str] = []
    missing = clashes = pre_frees = allocs = 0
    import bisect
    starts = [b[0] for b in busy]
    for e in trace.events:
        f = e.fields
        if e.event == "alloc_vmap_area" and not f["failed"]:
            allocs += 1
            s, end = f["va_start"], f["va_start"] + f["size"]
            live.add(s)
            i = bisect.bisect_right(starts, s) - 1
            for b in busy[max(0, i):i + 2]:
                if b[0] < end and s < b[1] and b[0] not in freed:
                    clashes += 1
                    if clashes <= 3:
                        lines.append(f"clash: {trace_path}:{e.line} allocates {s:#x}-{end:#x}, "
                                     f"busy in the layout ({layout_path}:{b[2]} {b[0]:#x}-{b[1]:#x}) "
                                     "and not freed before in the trace")
        elif e.event == "purge_vmap_area_lazy":      # lazily freed layout areas are released
            freed.update(a.start for a in info.areas if a.kind == "unpurged")
        elif e.event == "free_vmap_area_noflush":
            s = f["va_start"]
            if s in live:
                live.discard(s)
                continue
            pre_frees += 1
            if s in layout:
                freed.add(s)
            else:
                missing += 1
                if missing <= 3:
                    lines.append(f"missing: {trace_path}:{e.line} frees {s:#x}, allocated before the "
                                 f"trace, and the layout has no area there")
    outside = 0
    if vrange is not None:
        outside = sum(1 for a in info.areas if a.start < vrange[0] or a.end > vrange[1])
    ok = not missing and not clashes
    lines.insert(0, f"{layout_path}: {len(info.areas)} areas; {trace_path}: {allocs} allocations, "
                    f"{pre_frees} frees of areas allocated before the trace "
                    f"({pre_frees - missing} found in the layout, {missing} not); "
                    f"{clashes} allocations overlap a busy layout area"
                    + (f"; {outside} layout areas outside the range {vrange[0]:#x}..{vrange[1]:#x}"
                       if vrange is not None else ""))
    lines.append("ok: the layout fits the trace's start" if ok else
                 "mismatch: the layout was not taken at the trace's start (docs/trace-replay.md)")
    return ok, lines
