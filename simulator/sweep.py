"""Sweeps: one scenario file, one *point* per value of a swept path.

``sweep: {cpus: [1, 2, 4, 8]}`` (any dotted path with ``[i]`` indices, such as
``callers[0].nr_pages`` or ``device.overrides.lock_handoff_ns``) makes the file
a family of scenarios; each point is the document with that value set,
resolved as a scenario of its own and named ``<name>.<path>=<value>``.
"""

from __future__ import annotations

import copy
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


def point_label(path: str, value: Any) -> str:
    text = re.sub(r"[^A-Za-z0-9._+-]+", "_", str(value)).strip("_") or "x"
    key = re.sub(r"[^A-Za-z0-9._+-]+", "_", path).strip("_")
    return f"{key}={text}"


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
            doc["name"] = f"{doc['name']}.{label}"
        points.append((label, doc))
    return points


__all__ = ["sweep_points", "point_label"]
