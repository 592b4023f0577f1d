"""Sweeps: one scenario file, one *point* per value of a swept path.

``sweep: {cpus: [1, 2, 4, 8]}`` (any dotted path with ``[i]`` indices, such as
``callers[0].nr_pages`` or ``device.overrides.lock_handoff_ns``) makes the file
a family of scenarios; each point is the document with that value set,
resolved as a scenario of its own and named ``<name>.<path>=<value>``.

``sweep: {jobs: [1, 2, 4, 8]}`` is the job-count sweep: N copies of the first
foreground caller on CPUs 0..N-1 of the same machine (the scenario's ``cpus``,
hence ``lazy_max_pages``, stay as they are); points are named ``jobs=N``.

Any value may be swept, lists included (``callers[0].cpus: ["0-3", "0-31"]``);
point names stay short: lists of integers are written as ranges (``0-31``,
``0-3_8``) and a label is cut to 60 characters with a hash of the whole value
(a point's scenario name never exceeds the schema's 100 characters).
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any


from .scenario_schema import ScenarioError


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _sweep_path(text: str) -> list[str | int]:
    parts: list[str | int] = []
    pos = 0
    for m in _PATH_PART.finditer(text):
        if m.start() != pos and text[pos:m.start()] != ".":
            raise ValueError(f"not a path such as cpus or callers[0].size (got {text!r})")
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not parts or pos != len(text):
        raise ValueError(f"not a path such as cpus or callers[0].size (got {text!r})")
    return parts


def _set_path(doc: Any, parts: list[str | int], value: Any) -> None:
    for p in parts[:-1]:
        if isinstance(p, int):
            if not isinstance(doc, list) or p >= len(doc):
                raise ValueError(f"index [{p}] does not exist in the scenario")
            doc = doc[p]
        else:
            if not isinstance(doc, dict):
                raise ValueError(f"{p!r} is not inside a mapping")
            doc = doc.setdefault(p, {})
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(doc, list) or last >= len(doc):
            raise ValueError(f"index [{last}] does not exist in the scenario")
    elif not isinstance(doc, dict):
        raise ValueError(f"{last!r} is not inside a mapping")
    doc[last] = value


#: longest point label; a point's name is <name>.<label>, at most NAME_MAX
LABEL_MAX, NAME_MAX = 60, 100


def _value_text(value: Any) -> str:
    """A list of integers as CPU-style ranges (0-31, 0-3_8), anything else as text."""
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool)
                                                  for v in value):
        runs: list[str] = []
        start = prev = value[0]
        for v in [*value[1:], None]:
            if v is not None and v == prev + 1:
                prev = v
                continue
            runs.append(str(start) if start == prev else f"{start}-{prev}")
            if v is not None:
                start = prev = v
        return "_".join(runs)
    return str(value)


def point_label(path: str, value: Any) -> str:
    """``<path>=<value>`` made safe for a directory and scenario name, at most LABEL_MAX
    characters (a long one keeps its head and gains an 8-digit hash of the whole)."""
    text = re.sub(r"[^A-Za-z0-9._+-]+", "_", _value_text(value)).strip("_") or "x"
    key = re.sub(r"[^A-Za-z0-9._+-]+", "_", path).strip("_")
    label = f"{key}={text}"
    if len(label) > LABEL_MAX:
        digest = hashlib.sha1(f"{path}={value!r}".encode()).hexdigest()[:8]
        label = f"{label[:LABEL_MAX - 10].rstrip('_.-')}-h{digest}"
    return label


def point_name(name: str, label: str) -> str:
    """The point's scenario name ``<name>.<label>``, the name cut to fit NAME_MAX."""
    return f"{name[:NAME_MAX - len(label) - 1]}.{label}"


def _jobs_points(data: dict[str, Any], values: list[Any], source: str
                 ) -> list[tuple[str, dict[str, Any]]]:
    """``sweep: {jobs: [...]}``: the first foreground caller on CPUs 0..N-1."""
    callers = data.get("callers")
    fg = [i for i, c in enumerate(callers or []) if isinstance(c, dict) and not c.get("background")]
    if not fg:
        raise ScenarioError(source, ("sweep", "jobs"), "a job-count sweep needs a foreground caller")
    base_data = {k: v for k, v in data.items() if k != "sweep"}
    points: list[tuple[str, dict[str, Any]]] = []
    for i, n in enumerate(values):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ScenarioError(source, ("sweep", "jobs", i),
                                f"a job count is a positive integer (got {n!r})")
        label = f"jobs={n}"
        if label in (lab for lab, _ in points):
            raise ScenarioError(source, ("sweep", "jobs", i), f"value {n!r} listed twice")
        doc = copy.deepcopy(base_data)
        doc["callers"][fg[0]]["cpus"] = list(range(n))
        if isinstance(doc.get("name"), str):
            doc["name"] = point_name(doc["name"], label)
        points.append((label, doc))
    return points


def sweep_points(data: dict[str, Any], source: str) -> list[tuple[str, dict[str, Any]]]:
    """A scenario document with a ``sweep:`` key: ``(label, document)`` per value,
    each document the scenario without ``sweep`` and with the value set
    (``simulator.scenario`` resolves them: this module imports no scenario code)."""
    sweep = data["sweep"]
    if not isinstance(sweep, dict) or len(sweep) != 1 or not isinstance(next(iter(sweep.values())), list) \
            or not next(iter(sweep.values())):
        raise ScenarioError(source, ("sweep",), "give exactly one path with a non-empty list of "
                            "values, e.g. sweep: {cpus: [1, 2, 4, 8]}")
    path, values = next(iter(sweep.items()))
    if path == "jobs":
        return _jobs_points(data, values, source)
    try:
        parts = _sweep_path(str(path))
    except ValueError as exc:
        raise ScenarioError(source, ("sweep", path), str(exc)) from None
    if parts[0] in ("sweep", "name", "seeds", "output"):
        raise ScenarioError(source, ("sweep", path), f"{parts[0]} cannot be swept")
    base_data = {k: v for k, v in data.items() if k != "sweep"}
    points: list[tuple[str, dict[str, Any]]] = []
    for i, value in enumerate(values):
        label = point_label(str(path), value)
        if label in (lab for lab, _ in points):
            raise ScenarioError(source, ("sweep", path, i), f"value {value!r} listed twice")
        doc = copy.deepcopy(base_data)
        try:
            _set_path(doc, parts, copy.deepcopy(value))
        except ValueError as exc:
            raise ScenarioError(source, ("sweep", path), str(exc)) from None
        if isinstance(doc.get("name"), str):
            doc["name"] = point_name(doc["name"], label)
        points.append((label, doc))
    return points


__all__ = ["sweep_points", "point_label", "point_name"]
