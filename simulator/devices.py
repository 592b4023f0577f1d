"""Device profiles: the shipped ones (package data, ``simulator/data/devices``),
your own directories (``vmsim --devices DIR``) and profile files named by path.

A profile gives a one-line ``description``, the default ``cpus``, the default
``address_space`` (vmalloc and modules ranges, page size, word size), the
``cost`` parameters of :mod:`simulator.costmodel` (each with a YAML comment
naming its source and tag [M]/[D]/[E]) and optionally ``allowed_range``:
``[low, high]`` per fittable parameter, for calibration, and
``cluster_allowed_range``: per cluster of ``cost.clusters`` (by its ``name``),
``[low, high]`` per value the cluster sets (``time_scale``, ``cache_bytes``,
``node_cold_ns``, ``clear_page_ns``)::

    cluster_allowed_range:
      LITTLE:
        time_scale: [1.47, 1.83]   # [D] the source and the arithmetic

Every range must hold its value: a profile whose value lies outside is broken
(one line naming the file and the YAML path).

A profile is referred to by *name* (``qemu-x86``: ``<name>.yaml`` in a
``--devices`` directory, else among the shipped profiles) or by *path*
(anything with a ``/`` or ending in ``.yaml``/``.yml``; relative to the
scenario or calibration file that names it).  A profile is read with the
strict YAML loader of :mod:`simulator.yamlsafe` and validated in full only
when it is used: a broken profile beside it never affects another.

>>> sorted(list_devices())[:4]
['arm64-biglittle', 'embedded-arm32', 'embedded-arm64', 'qemu-x86']
>>> load_device("qemu-x86", {"node_cold_ns": 120})["cost"]["node_cold_ns"]
120.0
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .costmodel import PARAMETERS, check_cost, check_value

#: The shipped profiles (package data: installed with the package).
DEVICES_DIR = Path(__file__).resolve().parent / "data" / "devices"
#: Environment variable: more profile directories (``os.pathsep``-separated), searched first.
DEVICES_ENV = "VMSIM_DEVICES"

_ADDRESS_KEYS = ("vstart", "vend", "vmalloc_start", "vmalloc_end", "modules_start",
                 "modules_end", "page_size", "word_bits")
_TOP_KEYS = ("description", "cpus", "address_space", "cost", "allowed_range", "cluster_allowed_range")
#: the numeric values a ``clusters`` entry may set, each checkable by ``cluster_allowed_range``
CLUSTER_RANGED = ("time_scale", "cache_bytes", "node_cold_ns", "clear_page_ns")
_PAGE_SIZES = (4096, 16384, 65536)
_extra_dirs: list[Path] = []


class DeviceError(ValueError):
    """A profile that cannot be used; ``str()`` is one line naming the file and key."""


def set_device_dirs(dirs: Iterable[str | os.PathLike[str]]) -> None:
    """Profile directories searched before the shipped ones (``--devices DIR``)."""
    out = []
    for d in dirs:
        p = Path(d).expanduser().resolve()
        if not p.is_dir():
            raise DeviceError(f"{d}: --devices: no such directory; accepted: a directory of "
                              "<name>.yaml device profiles")
        out.append(p)
    _extra_dirs[:] = out


def device_dirs() -> list[Path]:
    """Every profile directory, in search order."""
    env = [Path(x).expanduser().resolve() for x in os.environ.get(DEVICES_ENV, "").split(os.pathsep)
           if x.strip()]
    return [*_extra_dirs, *env, DEVICES_DIR]


def is_path(ref: str) -> bool:
    """Whether a profile reference is a file path rather than a name."""
    return "/" in ref or os.sep in ref or ref.endswith((".yaml", ".yml"))


def _names() -> dict[str, Path]:
    """name -> file of every profile in the search directories (first one wins)."""
    out: dict[str, Path] = {}
    for d in device_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.yaml")):
                out.setdefault(p.stem, p)
    return out


def device_path(ref: str, base_dir: str | os.PathLike[str] | None = None) -> Path:
    """The file of profile ``ref``: a name, or a path (relative to ``base_dir``)."""
    if not isinstance(ref, str) or not ref:
        raise DeviceError(f"expected a device profile name or path (got {ref!r})")
    if is_path(ref):
        p = Path(ref).expanduser()
        if not p.is_absolute():
            p = Path(base_dir if base_dir is not None else Path.cwd()) / p
        p = p.resolve()
        if not p.is_file():
            raise DeviceError(f"no such device profile file {p} (a path is relative to the file "
                              "that names it); accepted: a profile name or an existing .yaml file")
        return p
    names = _names()
    if ref not in names:
        import difflib
        close = difflib.get_close_matches(ref, list(names), n=1)
        hint = f" did you mean {close[0]!r}?" if close else ""
        raise DeviceError(f"unknown device {ref!r};{hint} accepted: {', '.join(sorted(names))}, "
                          "or a path to a profile file")
    return names[ref]


_CACHE: dict[tuple[str, int, int], dict[str, Any]] = {}


def _address(path: Path, key: str, value: Any) -> int:
    from .units import parse_address
    try:
        a = parse_address(value)
    except ValueError:
        raise DeviceError(f"{path}: address_space.{key}: expected an address such as 0xf0800000 "
                          f"(got {value!r})") from None
    if not 0 <= a <= 1 << 64:
        raise DeviceError(f"{path}: address_space.{key}: must lie in 0..2^64 (got {a:#x})")
    return a


def _check_address_space(path: Path, asp: Any) -> dict[str, Any]:
    if not isinstance(asp, dict):
        raise DeviceError(f"{path}: address_space: expected a mapping with keys {', '.join(_ADDRESS_KEYS)}")
    out: dict[str, Any] = {}
    for key, value in asp.items():
        if key not in _ADDRESS_KEYS:
            raise DeviceError(f"{path}: address_space.{key}: unknown key; accepted: "
                              f"{', '.join(_ADDRESS_KEYS)}")
        if key == "page_size":
            if isinstance(value, bool) or value not in _PAGE_SIZES:
                raise DeviceError(f"{path}: address_space.page_size: expected one of "
                                  f"{', '.join(map(str, _PAGE_SIZES))} (got {value!r})")
            out[key] = value
        elif key == "word_bits":
            if isinstance(value, bool) or value not in (32, 64):
                raise DeviceError(f"{path}: address_space.word_bits: expected 32 or 64 (got {value!r})")
            out[key] = value
        else:
            out[key] = _address(path, key, value)
    page, bits = out.get("page_size", 4096), out.get("word_bits", 64)
    for lo_key, hi_key in (("vmalloc_start", "vmalloc_end"), ("modules_start", "modules_end"),
                           ("vstart", "vend")):
        if (lo_key in out) != (hi_key in out):
            raise DeviceError(f"{path}: address_space: give {lo_key} and {hi_key} together")
        if lo_key not in out:
            continue
        lo, hi = out[lo_key], out[hi_key]
        if hi <= lo:
            raise DeviceError(f"{path}: address_space.{hi_key}: must be above {lo_key} "
                              f"(got {lo:#x}..{hi:#x})")
        if lo % page or hi % page:
            raise DeviceError(f"{path}: address_space.{lo_key}: {lo_key} and {hi_key} must be "
                              f"multiples of the page size {page} (got {lo:#x}..{hi:#x})")
        if hi > 1 << bits:
            raise DeviceError(f"{path}: address_space.{hi_key}: {hi:#x} lies beyond the "
                              f"{bits}-bit address space")
    if "vmalloc_start" not in out:
        raise DeviceError(f"{path}: address_space: vmalloc_start and vmalloc_end are required")
    if "vstart" in out:
        inner = [(k, out[k]) for k in ("vmalloc_start", "vmalloc_end", "modules_start", "modules_end")
                 if k in out]
        for k, v in inner:
            if not out["vstart"] <= v <= out["vend"]:
                raise DeviceError(f"{path}: address_space.{k}: {v:#x} lies outside vstart..vend "
                                  f"{out['vstart']:#x}..{out['vend']:#x}")
    return out


def _check_ranges(path: Path, ranges: Any, cost: dict[str, Any]) -> dict[str, list[float]]:
    if ranges is None:
        return {}
    if not isinstance(ranges, dict):
        raise DeviceError(f"{path}: allowed_range: expected a mapping of cost parameter -> [low, high]")
    out = {}
    for key, rng in ranges.items():
        if key not in PARAMETERS or PARAMETERS[key][0] != "ns":
            raise DeviceError(f"{path}: allowed_range.{key}: not a fittable cost parameter; accepted: "
                              f"{', '.join(k for k, v in PARAMETERS.items() if v[0] == 'ns')}")
        if not _range_pair(rng):
            raise DeviceError(f"{path}: allowed_range.{key}: expected [low, high] with "
                              f"0 <= low <= high (got {rng!r})")
        if not rng[0] <= cost[key] <= rng[1]:
            raise DeviceError(f"{path}: allowed_range.{key}: the profile's value {cost[key]:g} lies "
                              f"outside [{rng[0]:g}, {rng[1]:g}]")
        out[key] = [float(rng[0]), float(rng[1])]
    return out


def _range_pair(rng: Any) -> bool:
    return (isinstance(rng, list) and len(rng) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                    for x in rng) and 0 <= rng[0] <= rng[1])


def _check_cluster_ranges(path: Path, ranges: Any, cost: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """``cluster_allowed_range``: cluster name -> {value -> [low, high]}, each
    holding the value that cluster of ``cost.clusters`` sets."""
    if ranges is None:
        return {}
    where = "cluster_allowed_range"
    clusters = cost.get("clusters") or []
    if not isinstance(ranges, dict):
        raise DeviceError(f"{path}: {where}: expected a mapping of cluster name -> "
                          f"{{{', '.join(CLUSTER_RANGED)}: [low, high]}}")
    if not clusters:
        raise DeviceError(f"{path}: {where}: the profile has no cost.clusters to check; "
                          "accepted: cluster_allowed_range only with clusters")
    names = [cl["name"] for cl in clusters]
    by_name = {cl["name"]: cl for cl in clusters}
    out: dict[str, dict[str, list[float]]] = {}
    for name, per in ranges.items():
        w = f"{where}.{name}"
        if name not in by_name:
            raise DeviceError(f"{path}: {w}: no cluster of that name in cost.clusters; "
                              f"accepted: {', '.join(map(str, names))}")
        if names.count(name) > 1:
            raise DeviceError(f"{path}: {w}: two clusters are named {name!r}; give them distinct names")
        if not isinstance(per, dict):
            raise DeviceError(f"{path}: {w}: expected a mapping of cluster value -> [low, high]; "
                              f"accepted keys: {', '.join(CLUSTER_RANGED)}")
        cl = by_name[name]
        out[name] = {}
        for key, rng in per.items():
            if key not in CLUSTER_RANGED:
                raise DeviceError(f"{path}: {w}.{key}: not a cluster value; accepted: "
                                  f"{', '.join(CLUSTER_RANGED)}")
            if not _range_pair(rng):
                raise DeviceError(f"{path}: {w}.{key}: expected [low, high] with "
                                  f"0 <= low <= high (got {rng!r})")
            if key not in cl:
                raise DeviceError(f"{path}: {w}.{key}: cluster {name} sets no {key} (it uses "
                                  f"cost.{key}, which allowed_range checks)")
            if not rng[0] <= cl[key] <= rng[1]:
                raise DeviceError(f"{path}: {w}.{key}: the cluster's value {cl[key]:g} lies "
                                  f"outside [{rng[0]:g}, {rng[1]:g}]")
            out[name][key] = [float(rng[0]), float(rng[1])]
    return out


def read_profile(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate one profile file in full (DeviceError: one line, file and key)."""
    from .yamlsafe import YamlError, load_yaml
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        raise DeviceError(f"{p}: no such device profile file") from None
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key in _CACHE:
        return _CACHE[key]
    try:
        data = load_yaml(p)
    except YamlError as exc:
        raise DeviceError(str(exc)) from None
    if not isinstance(data, dict):
        raise DeviceError(f"{p}: expected a mapping with keys {', '.join(_TOP_KEYS)}")
    for k in data:
        if k not in _TOP_KEYS:
            raise DeviceError(f"{p}: {k}: unknown key; accepted: {', '.join(_TOP_KEYS)}")
    for k in ("description", "cpus", "address_space", "cost"):
        if k not in data:
            raise DeviceError(f"{p}: {k}: required key is missing")
    if not isinstance(data["description"], str):
        raise DeviceError(f"{p}: description: expected one line of text (got {data['description']!r})")
    cpus = data["cpus"]
    if not isinstance(cpus, int) or isinstance(cpus, bool) or not 1 <= cpus <= 4096:
        raise DeviceError(f"{p}: cpus: expected an integer in 1..4096 (got {cpus!r})")
    asp = _check_address_space(p, data["address_space"])
    if not isinstance(data["cost"], dict):
        raise DeviceError(f"{p}: cost: expected a mapping of cost parameters")
    try:
        cost = check_cost(data["cost"], where=f"{p}: cost")
    except ValueError as exc:
        raise DeviceError(" ".join(str(exc).split())) from None
    ranges = _check_ranges(p, data.get("allowed_range"), cost)
    cluster_ranges = _check_cluster_ranges(p, data.get("cluster_allowed_range"), cost)
    out = {"description": " ".join(data["description"].split()), "cpus": cpus,
           "address_space": asp, "cost": cost, "allowed_range": ranges,
           "cluster_allowed_range": cluster_ranges, "path": str(p)}
    _CACHE[key] = out
    return out


def list_devices() -> dict[str, str]:
    """name -> one-line description, for every profile of the search directories.

    A profile that does not validate is listed with its error (and does not
    stop the listing)."""
    out = {}
    for name, path in _names().items():
        try:
            out[name] = read_profile(path)["description"]
        except DeviceError as exc:
            out[name] = f"(broken, not usable: {exc})"
    return out


def load_device(ref: str, overrides: dict[str, Any] | None = None,
                base_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The profile ``ref`` (a name, or a path relative to ``base_dir``) with cost
    ``overrides`` applied.

    Returns ``{"name", "path", "description", "cpus", "address_space", "cost",
    "allowed_range", "cluster_allowed_range"}`` (``name``: the file's stem; the
    ranges are the profile file's, not re-checked against ``overrides``).  ``overrides`` maps cost
    parameter names to values; an unknown device, a broken profile, an unknown
    key or an ill-typed value raises :class:`DeviceError` (a ValueError) with
    one line listing what is accepted.
    """
    path = device_path(ref, base_dir)
    raw = read_profile(path)
    cost = dict(raw["cost"])
    name = path.stem
    for key, value in (overrides or {}).items():
        if key not in PARAMETERS:
            raise DeviceError(
                f"device {name}: unknown cost parameter {key!r}; accepted: {', '.join(PARAMETERS)}")
        try:
            cost[key] = check_value(key, value, where=f"device {name}: cost")
        except ValueError as exc:
            raise DeviceError(str(exc)) from None
    if overrides:
        try:
            check_cost(cost, where=f"device {name}: cost")    # rules across parameters
        except ValueError as exc:
            raise DeviceError(str(exc)) from None
    return {
        "name": name,
        "path": str(path),
        "description": raw["description"],
        "cpus": raw["cpus"],
        "address_space": copy.deepcopy(raw["address_space"]),
        "cost": cost,
        "allowed_range": copy.deepcopy(raw["allowed_range"]),
        "cluster_allowed_range": copy.deepcopy(raw["cluster_allowed_range"]),
    }


__all__ = ["CLUSTER_RANGED", "DEVICES_DIR", "DEVICES_ENV", "DeviceError", "device_dirs", "device_path",
           "is_path", "list_devices", "load_device", "read_profile", "set_device_dirs"]
