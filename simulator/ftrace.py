"""Parser for ftrace text output of the ``vmalloc`` trace events (Linux 6.x).

An ftrace line (``/sys/kernel/tracing/trace``, ``trace-cmd report``) is::

    <task>-<pid> [<cpu>] <flags> <seconds>.<fraction>: <event>: <fields>

(``<flags>`` is absent without ``irq-info``; ``trace-cmd report`` may print
``<task>-<pid> [<cpu>] <seconds>.<fraction>: ...`` or put the task in
parentheses.)  The events of ``include/trace/events/vmalloc.h``::

    alloc_vmap_area: va_start: <decimal> size=<n> align=<n> vstart=0x<hex> vend=0x<hex> failed=<0|1>
    purge_vmap_area_lazy: start=0x<hex> end=0x<hex> num_purged=<n>
    free_vmap_area_noflush: va_start=0x<hex> nr_lazy=<n> nr_lazy_max=<n>

``alloc_vmap_area`` fires once per try of ``alloc_vmap_area()``: a try that
fails (``failed=1``) before the purge-and-retry prints a line and the retry
prints another.  ``size`` includes the guard page.  ``free_vmap_area_noflush``
fires when vfree() (or vunmap()) puts an area on the lazy list.

Lines of other events are skipped (a trace may hold more than these), and
so are blank lines and ``#`` comments.  A line that is not an ftrace line,
or one of the three events with fields that do not parse, is an error
naming the file and the line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

__all__ = ["TraceEvent", "TraceError", "parse_trace", "ACCEPTED"]

ACCEPTED = ("ftrace lines '<task>-<pid> [<cpu>] [<flags>] <s>.<us>: <event>: <fields>' with "
            "alloc_vmap_area: 'va_start: N size=N align=N vstart=0xH vend=0xH failed=0|1', "
            "free_vmap_area_noflush: 'va_start=0xH nr_lazy=N nr_lazy_max=N' or "
            "purge_vmap_area_lazy: 'start=0xH end=0xH num_purged=N'")

_LINE = re.compile(r"^\s*(?P<task>.+?)-(?P<pid>\d+)\)?\s+(?:\(\s*\d+\)\s+)?\[(?P<cpu>\d+)\]\s+"
                   r"(?:[^\s:]+\s+)?(?P<ts>\d+\.\d+):\s+(?P<event>\w+):\s*(?P<fields>.*?)\s*$")
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
    t_ns: int          # the ftrace timestamp in ns
    event: str         # alloc_vmap_area | free_vmap_area_noflush | purge_vmap_area_lazy
    fields: dict[str, int]


def parse_trace(path: str | Path) -> list[TraceEvent]:
    """The vmalloc events of an ftrace text file, in file order."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise TraceError(f"{path}: no such trace file") from None
    except IsADirectoryError:
        raise TraceError(f"{path}: is a directory, not a trace file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read the trace ({exc.__class__.__name__})") from None
    events: list[TraceEvent] = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise TraceError(f"{path}:{no}: not an ftrace line ({_clip(line)}); accepted: {ACCEPTED}")
        event = m.group("event")
        pattern = _FIELDS.get(event)
        if pattern is None:
            continue                                  # another event: not ours
        f = pattern.match(m.group("fields"))
        if f is None:
            raise TraceError(f"{path}:{no}: {event} fields do not parse ({_clip(m.group('fields'))}); "
                             f"accepted: {ACCEPTED}")
        fields = {k: int(v, 16) if k in _HEX or (event == "free_vmap_area_noflush" and k == "va_start")
                  else int(v) for k, v in f.groupdict().items()}
        t_ns = int(Decimal(m.group("ts")) * 1_000_000_000)
        events.append(TraceEvent(no, int(m.group("cpu")), t_ns, event, fields))
    return events


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "..."
