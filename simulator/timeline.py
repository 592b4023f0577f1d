"""The simulated timeline of a run (``vmsim run --timeline``), for Perfetto and chrome://tracing.

A :class:`Recorder` is attached to an engine before it runs
(``simulator.runner.simulate(spec, timeline=True)``).  It wraps, on that one
engine instance only, the points every generation already goes through:

* ``OpLog.add``: one span per vmalloc / vfree, from its start to its end,
  on its caller's CPU track, with the latency components as args
  (``search_ns``, ``lock_wait_ns``, ``objects_ns``, ``pages_ns``,
  ``purge_ns``, ``flush_ns``; they sum to ``latency_ns``), the size, the
  address, the nodes walked;
* ``Engine.spin_lock`` (and ``try_spin_lock``, its run-ahead case): a
  ``spin <lock>`` span when the CPU waited (handoff included), then the
  critical section, ``<lock>``, from the moment the lock is owned to the
  release the generation announces (``SpinLock.set_release``,
  through a subclass swapped in for this run's locks);
* the generation's ``__purge_vmap_area_lazy``: a ``purge`` span (on the CPU
  of the vmalloc / vfree that purged, or on a kworker track);
* ``KernelBase.flushed``: a ``TLB flush`` span (flush_tlb_kernel_range).

Without ``--timeline`` nothing is attached: the hot path carries no probe,
not even an attribute check.

Format: the Chrome trace-event JSON (``{"traceEvents": [...]}``, complete
events ``"ph": "X"`` with ``ts``/``dur`` in microseconds, metadata events
naming processes and threads), documented in "Trace Event Format"
(Google, docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU)
and read by ui.perfetto.dev and chrome://tracing.  One process per run
(``<point> <allocator> seed <N>``), one track per CPU (``CPU <n>``), kworker
tracks (``kworker/<n>``) for the drain and purge helpers of 6.x.  At most
:data:`MAX_EVENTS` spans per run are kept (the first ones); a truncated run
says so in its process name and in ``otherData``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .metrics import COMPONENT_COLUMNS, OP_NAMES

#: spans kept per run (the first ones): a million-op run would be gigabytes
MAX_EVENTS = 400_000
_KWORKER_TID = 1000          # kworker tracks: tid 1000 + 64 * slot + cpu
_ARG_NAMES = ("search_ns", "lock_wait_ns") + tuple(c for c in COMPONENT_COLUMNS if c != "search_ns")


@dataclass
class Timeline:
    """One run's spans: ``(name, cat, tid, start_ns, dur_ns, args)``, and its track names."""

    spans: list[tuple[str, str, int, float, float, dict[str, Any] | None]] = field(default_factory=list)
    tracks: dict[int, str] = field(default_factory=dict)
    truncated_at_ns: float | None = None


class Recorder:
    """Records one engine's timeline; see the module docstring."""

    def __init__(self, eng: Any) -> None:
        self.eng = eng
        self.tl = Timeline()
        self.full = False
        self._owner: dict[int, tuple[Any, float]] = {}      # id(lock) -> (caller, owned from)
        self._kworker: dict[int, int] = {}                   # id(worker) -> tid
        self._busy_until: dict[int, float] = {}              # tid -> end of its last span
        for c in eng.callers:
            self.tl.tracks[c.cpu] = f"CPU {c.cpu}"

    # -- attaching -----------------------------------------------------------------
    @classmethod
    def attach(cls, eng: Any) -> Recorder:
        """Wrap ``eng``'s probes (this instance only) and return the recorder."""
        rec = cls(eng)
        rec._wrap_oplog()
        rec._wrap_spin_lock()
        for name, lock in eng.locks.items():
            rec._trace_lock(name, lock)
        kernel = eng.kernel
        for attr in dir(type(kernel)):
            if attr.endswith("__purge_vmap_area_lazy"):      # name-mangled, per generation
                rec._wrap_purge(kernel, attr)
        if hasattr(kernel, "flushed"):
            rec._wrap_flushed(kernel)
        return rec

    def finish(self) -> Timeline:
        return self.tl

    # -- tracks and spans ----------------------------------------------------------
    def _tid(self, c: Any, start: float) -> int:
        if hasattr(c, "idx"):                                 # a caller (engine CpuCaller)
            return int(c.cpu)
        tid = self._kworker.get(id(c))
        if tid is None:                                       # a kworker: a free track of its CPU
            slot = 0
            while self._busy_until.get(_KWORKER_TID + 64 * slot + c.cpu, -1.0) > start:
                slot += 1
            tid = _KWORKER_TID + 64 * slot + c.cpu
            self._kworker[id(c)] = tid
            self.tl.tracks.setdefault(tid, f"kworker/{c.cpu}" + (f" #{slot + 1}" if slot else ""))
        return tid

    def span(self, name: str, cat: str, c: Any, start: float, dur: float,
             args: dict[str, Any] | None = None) -> None:
        if self.full:
            return
        tid = self._tid(c, start)
        self.tl.spans.append((name, cat, tid, float(start), float(dur), args))
        end = start + dur
        if end > self._busy_until.get(tid, -1.0):
            self._busy_until[tid] = end
        if len(self.tl.spans) >= MAX_EVENTS:
            self.full = True
            self.tl.truncated_at_ns = float(start)

    # -- probes --------------------------------------------------------------------
    def _wrap_oplog(self) -> None:
        oplog = self.eng.oplog
        add = oplog.add
        callers = self.eng.callers

        def traced_add(*a: Any, **kw: Any) -> None:
            add(*a, **kw)
            (t0, caller, _cpu, op, size, align, addr, ok, lat, wait, hold, ln, tn, purge) = a[:14]
            comp = a[14] if len(a) > 14 else kw.get("components", (0.0,) * len(COMPONENT_COLUMNS))
            args: dict[str, Any] = {"size_bytes": int(size), "addr": hex(int(addr)), "ok": bool(ok),
                                    "latency_ns": float(lat), "lock_hold_ns": float(hold),
                                    "list_nodes": int(ln), "tree_nodes": int(tn), "purge": bool(purge)}
            if align != 1:
                args["align"] = int(align)
            args["lock_wait_ns"] = float(wait)
            for name, v in zip(COMPONENT_COLUMNS, comp):
                args[name] = float(v)
            self.span(OP_NAMES[op], "op", callers[caller], t0, lat, args)
        oplog.add = traced_add

    def _wrap_spin_lock(self) -> None:
        eng = self.eng
        spin_lock = eng.spin_lock
        names = {id(lock): name for name, lock in eng.locks.items()}
        owner = self._owner

        def traced_spin_lock(c: Any, lock: Any) -> Any:
            r = yield from spin_lock(c, lock)
            t_req, t_own, _acq = r
            if t_own > t_req:
                self.span(f"spin {names.get(id(lock), 'lock')}", "lock wait", c, t_req, t_own - t_req)
            owner[id(lock)] = (c, t_own)
            return r
        eng.spin_lock = traced_spin_lock
        try_spin_lock = eng.try_spin_lock

        def traced_try_spin_lock(c: Any, lock: Any) -> Any:
            r = try_spin_lock(c, lock)                # taken at once: no spin span
            if r is not None:
                owner[id(lock)] = (c, r[1])
            return r
        eng.try_spin_lock = traced_try_spin_lock

    def _trace_lock(self, name: str, lock: Any) -> None:
        """Swap in a subclass whose set_release closes the critical section's span."""
        rec = self
        base = type(lock)

        def set_release(lk: Any, t_release: float) -> None:
            base.set_release(lk, t_release)
            held = rec._owner.pop(id(lk), None)
            if held is not None:
                c, t_own = held
                rec.span(name, "critical section", c, t_own, max(0.0, t_release - t_own))
        traced = type(f"Traced{base.__name__}", (base,), {"__slots__": (), "set_release": set_release})
        lock.__class__ = traced

    def _wrap_purge(self, kernel: Any, attr: str) -> None:
        purge = getattr(kernel, attr)
        eng = self.eng

        def traced_purge(c: Any, *a: Any) -> Any:
            t = eng.env.now + c.debt
            n = eng.purges
            r = yield from purge(c, *a)
            end = eng.env.now + c.debt
            if eng.purges > n and end > t:
                self.span("purge", "purge", c, t, end - t, {"__purge_vmap_area_lazy": True})
            return r
        setattr(kernel, attr, traced_purge)

    def _wrap_flushed(self, kernel: Any) -> None:
        flushed = kernel.flushed
        env = self.eng.env

        def traced_flushed(c: Any, ns: float) -> float:
            self.span("TLB flush", "tlb flush", c, env.now + c.debt, ns,
                      {"flush_tlb_kernel_range_ns": float(ns)})
            return flushed(c, ns)
        kernel.flushed = traced_flushed


# ------------------------------------------------------------------ the file

def _events(pid: int, process: str, tl: Timeline) -> Iterable[dict[str, Any]]:
    name = process + (f" (truncated at {tl.truncated_at_ns / 1e6:.3f} ms: first {MAX_EVENTS} spans)"
                      if tl.truncated_at_ns is not None else "")
    yield {"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": name}}
    yield {"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": pid}}
    for tid, tname in sorted(tl.tracks.items()):
        yield {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": tname}}
        yield {"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": tid}}
    for sname, cat, tid, start, dur, args in tl.spans:
        ev: dict[str, Any] = {"name": sname, "cat": cat, "ph": "X", "pid": pid, "tid": tid,
                              "ts": start / 1000.0, "dur": dur / 1000.0}
        if args:
            ev["args"] = args
        yield ev


def write_timeline(path: str | Path, parts: Iterable[tuple[str, Any]]) -> Path:
    """Write the timelines of ``parts`` (``(point label, runner.Results)``) to
    ``path`` as Chrome trace-event JSON, atomically; returns the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    runs = []
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write('{"displayTimeUnit": "ns", "traceEvents": [\n')
            first = True
            pid = 0
            for label, res in parts:
                for spec, tl in zip(res.specs, res.timelines):
                    if tl is None:
                        continue
                    pid += 1
                    process = " ".join(x for x in (label, spec.allocator, f"seed {spec.seed}") if x)
                    runs.append({"pid": pid, "process": process, "spans": len(tl.spans),
                                 "truncated_at_ns": tl.truncated_at_ns})
                    for ev in _events(pid, process, tl):
                        fh.write(("" if first else ",\n") + json.dumps(ev, separators=(",", ":")))
                        first = False
            fh.write("\n],\n")
            fh.write('"otherData": ' + json.dumps({"generator": "vmsim run --timeline",
                                                   "time": "simulated (ts, dur in us)",
                                                   "runs": runs}) + "}\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


__all__ = ["MAX_EVENTS", "Recorder", "Timeline", "write_timeline"]
