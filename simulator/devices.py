"""Device profiles: ``scenarios/devices/<name>.yaml``.

A profile gives a one-line ``description``, the default ``cpus``, the default
``address_space`` (vmalloc and modules ranges, page size, word size), the
``cost`` parameters of :mod:`simulator.costmodel` (each with a YAML comment
naming its source and tag [M]/[D]/[E]) and optionally ``allowed_range``:
``[low, high]`` per fittable parameter, for calibration.

>>> sorted(list_devices())
['embedded-arm32', 'embedded-arm64', 'qemu-x86', 'x86-server']
>>> load_device("qemu-x86", {"node_cold_ns": 120})["cost"]["node_cold_ns"]
120.0
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from .costmodel import PARAMETERS, check_cost, check_value

#: Where the profiles live (the repository's scenarios/devices).
DEVICES_DIR = Path(__file__).resolve().parent.parent / "scenarios" / "devices"

_ADDRESS_KEYS = ("vstart", "vend", "vmalloc_start", "vmalloc_end", "modules_start",
                 "modules_end", "page_size", "word_bits")
_TOP_KEYS = ("description", "cpus", "address_space", "cost", "allowed_range")


def _names() -> list[str]:
    return sorted(p.stem for p in DEVICES_DIR.glob("*.yaml"))


def device_path(name: str) -> Path:
    """Path of the profile ``name`` (ValueError listing the accepted names)."""
    if not isinstance(name, str) or name not in _names():
        raise ValueError(f"unknown device {name!r}; accepted: {', '.join(_names())}")
    return DEVICES_DIR / f"{name}.yaml"


@functools.lru_cache(maxsize=None)
def _load_raw(name: str) -> dict[str, Any]:
    path = device_path(name)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{path}:{line}: malformed YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with keys {', '.join(_TOP_KEYS)}")
    for key in data:
        if key not in _TOP_KEYS:
            raise ValueError(f"{path}: unknown key {key!r}; accepted: {', '.join(_TOP_KEYS)}")
    for key in ("description", "cpus", "address_space", "cost"):
        if key not in data:
            raise ValueError(f"{path}: missing key {key!r}")
    if not isinstance(data["cpus"], int) or data["cpus"] < 1:
        raise ValueError(f"{path}: cpus: expected an integer >= 1 (got {data['cpus']!r})")
    asp = data["address_space"]
    if not isinstance(asp, dict) or any(k not in _ADDRESS_KEYS for k in asp):
        raise ValueError(f"{path}: address_space: accepted keys: {', '.join(_ADDRESS_KEYS)}")
    data["cost"] = check_cost(data["cost"], where=f"{path}: cost")
    for key, rng in (data.get("allowed_range") or {}).items():
        if key not in PARAMETERS or not (isinstance(rng, list) and len(rng) == 2 and rng[0] <= rng[1]):
            raise ValueError(f"{path}: allowed_range.{key}: expected a cost parameter with [low, high]")
    return data


def list_devices() -> dict[str, str]:
    """name -> one-line description, for every profile."""
    return {name: str(_load_raw(name)["description"]) for name in _names()}


def load_device(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The profile ``name`` with cost ``overrides`` applied.

    Returns ``{"name", "description", "cpus", "address_space", "cost",
    "allowed_range"}``.  ``overrides`` maps cost parameter names to values;
    an unknown device, an unknown key or an ill-typed value raises ValueError
    with one line listing what is accepted.
    """
    raw = _load_raw(name)
    cost = dict(raw["cost"])
    for key, value in (overrides or {}).items():
        if key not in PARAMETERS:
            raise ValueError(
                f"device {name}: unknown cost parameter {key!r}; accepted: {', '.join(PARAMETERS)}")
        cost[key] = check_value(key, value, where=f"device {name}: cost")
    if overrides:
        check_cost(cost, where=f"device {name}: cost")    # rules across parameters
    return {
        "name": name,
        "description": raw["description"],
        "cpus": raw["cpus"],
        "address_space": copy.deepcopy(raw["address_space"]),
        "cost": cost,
        "allowed_range": copy.deepcopy(raw.get("allowed_range") or {}),
    }


__all__ = ["DEVICES_DIR", "device_path", "list_devices", "load_device"]
