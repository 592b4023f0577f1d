"""Parser for ftrace text output of the ``vmalloc`` trace events (Linux 6.x).

An ftrace line (``/sys/kernel/tracing/trace``, ``trace-cmd report``) is::

    <task>-<pid> [<cpu>] <flags> <seconds>.<fraction>: <event>: <fields>

(``<flags>`` is absent without ``irq-info``; ``record-tgid`` adds a
``(<tgid>)`` column; the fraction is absent with counter clocks;
``trace-cmd report`` may print ``<task>-<pid> [<cpu>] <seconds>.<fraction>:
...``.)  The events of ``include/trace/events/vmalloc.h``::

    alloc_vmap_area: va_start: <decimal> size=<n> align=<n> vstart=0x<hex> vend=0x<hex> failed=<0|1>
    purge_vmap_area_lazy: start=0x<hex> end=0x<hex> num_purged=<n>
    free_vmap_area_noflush: va_start=0x<hex> nr_lazy=<n> nr_lazy_max=<n>

``alloc_vmap_area`` fires once per try of ``alloc_vmap_area()``: a try that
fails (``failed=1``) before the purge-and-retry prints a line and the retry
prints another.  ``size`` includes the guard page.  ``free_vmap_area_noflush``
fires when vfree() (or vunmap()) puts an area on the lazy list.

Lines of other events and of other tracers (``func <-caller``) are skipped
(a trace may hold more than these), and so are blank lines, ``#`` comments
and ``trace-cmd report``'s header lines (``cpus=4``, ``version = 6``, ``CPU 0
is empty``).  ``CPU:<n> [LOST <m> EVENTS]`` markers are counted
(:attr:`Trace.lost`): the replay says so, since a lost free leaves an area
busy.  A line that is none of these, or one of the three events with fields
that do not parse, is an error naming the file and the line number; so is a
vmalloc event whose timestamp is earlier than the one before it (ftrace writes
events in time order: a re-sort would pair frees with the wrong allocations),
and a file without any vmalloc event.  The file is read only if it is a
regular file of at most :data:`simulator.yamlsafe.MAX_DATA_BYTES` bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

__all__ = ["Trace", "TraceEvent", "TraceError", "parse_trace", "ACCEPTED"]

ACCEPTED = ("ftrace lines '<task>-<pid> [<cpu>] [<flags>] <s>.<us>: <event>: <fields>' with "
            "alloc_vmap_area: 'va_start: N size=N align=N vstart=0xH vend=0xH failed=0|1', "
            "free_vmap_area_noflush: 'va_start=0xH nr_lazy=N nr_lazy_max=N' or "
            "purge_vmap_area_lazy: 'start=0xH end=0xH num_purged=N'")

#: longest accepted line (real ftrace lines are a few hundred characters)
MAX_LINE_CHARS = 4096
_LINE = re.compile(r"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
                   r"(?:[^\s:]+\s+)?(?P<ts>\d+(?:\.\d+)?):\s+(?P<rest>.*?)\s*$")
_EVENT = re.compile(r"^(?P<event>\w+):\s*(?P<fields>.*)$")
_HEADER = re.compile(r"^(?:cpus=\d+|version\s*=\s*\S+|CPU\s+\d+\s+is\s+empty)$")
_LOST = re.compile(r"^CPU:(?P<cpu>\d+)\s+\[LOST\s+(?P<n>\d+)\s+EVENTS\]$")
_FIELDS = {
    "alloc_vmap_area": re.compile(
        r"^va_start:\s*(?P<va_start>\d+)\s+size=(?P<size>\d+)\s+align=(?P<align>\d+)\s+"
        r"vstart=0x(?P<vstart>[0-9a-fA-F]+)\s+vend=0x(?P<vend>[0-9a-fA-F]+)\s+failed=(?P<failed>[01])$"),
    "free_vmap_area_noflush": re.compile(
        r"^va_start=0x(?P<va_start>[0-9a-fA-F]+)\s+nr_lazy=(?P<nr_lazy>\d+)\s+"
        r"nr_lazy_max=(?P<nr_lazy_max>\d+)$"),
    "purge_vmap_area_lazy": re.compile(
        r"^start=0x(?P<start>[0-9a-fA-F]+)\s+end=0x(?P<end>[0-9a-fA-F]+)\s+"
        r"num_purged=(?P<num_purged>\d+)$"),
}
_HEX = frozenset({"vstart", "vend", "start", "end"})


class TraceError(ValueError):
    """A trace file that cannot be used; the message is one line."""


@dataclass(frozen=True)
class TraceEvent:
    """One vmalloc event of a trace."""

    line: int          # 1-based line number in the file
    cpu: int
    pid: int           # the task that ran the event
    t_ns: int          # the ftrace timestamp in ns
    event: str         # alloc_vmap_area | free_vmap_area_noflush | purge_vmap_area_lazy
    fields: dict[str, int]


@dataclass(frozen=True)
class Trace:
    """The vmalloc events of a trace file, in file order, and its lost-event markers."""

    events: list[TraceEvent]
    lost: dict[int, int]        # CPU -> events the ring buffer lost there


def parse_trace(path: str | Path) -> Trace:
    """Read an ftrace text file (see the module docstring)."""
    from .yamlsafe import read_data_text
    path = Path(path)
    text = read_data_text(path, "trace file", TraceError)
    events: list[TraceEvent] = []
    lost: dict[int, int] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or _HEADER.match(line):
            continue
        if len(line) > MAX_LINE_CHARS:
            raise TraceError(f"{path}:{no}: a line of {len(line)} characters; accepted: ftrace "
                             f"lines of at most {MAX_LINE_CHARS} characters")
        m = _LINE.match(line)
        if m is None:
            lm = _LOST.match(line)
            if lm is not None and len(lm.group("n")) <= 20 and len(lm.group("cpu")) <= 6:
                lost[int(lm.group("cpu"))] = lost.get(int(lm.group("cpu")), 0) + int(lm.group("n"))
                continue
            raise TraceError(f"{path}:{no}: not an ftrace line ({_clip(line)}); accepted: {ACCEPTED}")
        e = _EVENT.match(m.group("rest"))
        pattern = _FIELDS.get(e.group("event")) if e is not None else None
        if e is None or pattern is None:
            continue                                  # another event or tracer: not ours
        event = e.group("event")
        f = pattern.match(e.group("fields"))
        if f is None:
            raise TraceError(f"{path}:{no}: {event} fields do not parse ({_clip(e.group('fields'))}); "
                             f"accepted: {ACCEPTED}")
        if any(len(v) > 40 for v in f.groupdict().values()) \
                or len(m.group("ts")) > 40 or len(m.group("cpu")) > 6 or len(m.group("pid")) > 20:
            raise TraceError(f"{path}:{no}: {event} has a number too long for a kernel value; "
                             f"accepted: {ACCEPTED}")
        fields = {k: int(v, 16) if k in _HEX or (event == "free_vmap_area_noflush" and k == "va_start")
                  else int(v) for k, v in f.groupdict().items()}
        t_ns = int(Decimal(m.group("ts")) * 1_000_000_000)
        if events and t_ns < events[-1].t_ns:
            prev = events[-1]
            raise TraceError(f"{path}:{no}: timestamp {m.group('ts')} goes back in time (line "
                             f"{prev.line} is later, at {prev.t_ns / 1e9:.6f} s); accepted: events "
                             "in time order, as ftrace writes them (sort a merged capture by time)")
        events.append(TraceEvent(no, int(m.group("cpu")), int(m.group("pid")), t_ns, event, fields))
    if not events:
        what = "is empty" if not text.strip() else "has no vmalloc events"
        raise TraceError(f"{path}: the trace {what}; accepted: {ACCEPTED} (enable the events "
                         "vmalloc/alloc_vmap_area and vmalloc/free_vmap_area_noflush)")
    return Trace(events, lost)


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "..."
