"""Scenario files: the YAML schema, its validation, and the RunSpecs it resolves to.

``load_scenario(path)`` reads a scenario YAML file (through
:mod:`simulator.yamlsafe`: no bombs, no duplicate keys), validates it with the
pydantic models of :mod:`simulator.scenario_schema` (``extra='forbid'`` everywhere), fills in the defaults
of the device profile, and returns a :class:`Scenario`.
``Scenario.run_specs()`` gives one :class:`~simulator.spec.RunSpec` per
allocator x seed; ``Scenario.resolved_yaml()`` the scenario with every
default filled in, which ``vmsim run`` saves with the results and which
reproduces them exactly.

Every problem raises :class:`ScenarioError` whose ``str()`` is one line:
``scenarios/x.yaml: callers[1].size: must be a multiple of the page size 4096 (got 1000)``.

Caller items carry their workload's parameters inline, next to the common
keys ``workload``, ``cpus``, ``background`` and ``name``; the parameters are
validated by that workload's own params model (``workloads.REGISTRY``).

A ``sweep:`` key (one dotted path -> a list of values) makes the file a family
of scenarios, one *point* per value (``Scenario.points``; :mod:`simulator.sweep`).
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from . import units
from .scenario_schema import COMMON_CALLER_KEYS, PAGE_SIZES, ScenarioConfig, ScenarioError, json_schema
from .spec import AddressSpace, CallerSpec, MetricsSpec, RunSpec
from .sweep import point_label, sweep_points
from .yamlsafe import YamlError, dump_yaml, load_yaml

#: time-series samples one run may take (stop.time / metrics.sample_interval)
MAX_SAMPLES = 10_000_000
#: workload parameters that name files (relative to the scenario file)
FILE_PARAMS = ("trace", "file")

# ---------------------------------------------------------------- registries

def _workloads() -> dict[str, Any]:
    import workloads
    return workloads.REGISTRY


def _allocators() -> tuple[str, ...]:
    """What ``allocators: all`` (the default) runs: every kernel generation."""
    from .kernels import names
    return names()


def _accepted_allocators() -> tuple[str, ...]:
    """Generation names, then the old policy names kept as aliases."""
    from .kernels import accepted
    return accepted()


def _load_device(name: str, overrides: dict[str, Any], base: Path | None = None) -> dict[str, Any]:
    from .devices import load_device
    return load_device(name, overrides, base)


def _unknown(kind: str, got: str, accepted: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(got), list(accepted), n=1)
    hint = f"; did you mean {close[0]!r}? accepted" if close else "; accepted"
    return f"unknown {kind} {got!r}{hint}: {', '.join(accepted)}"


# ------------------------------------------------------------ error messages

def _accepted_keys(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The keys of the pydantic model reached by following ``loc`` from ``model``."""
    import typing
    ann: Any = model
    for part in loc:
        while True:
            origin = typing.get_origin(ann)
            if origin is typing.Annotated:
                ann = typing.get_args(ann)[0]
            elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
                args = [a for a in typing.get_args(ann) if a is not type(None)]
                ann = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)),
                           args[0])
            else:
                break
        if isinstance(part, int) or typing.get_origin(ann) in (list, dict):
            args = list(typing.get_args(ann))
            ann = args[-1] if args else Any
            if isinstance(part, int):
                continue
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            f = ann.model_fields.get(part)
            ann = f.annotation if f is not None else Any
        else:
            return []
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [f.alias if isinstance(f.alias, str) else n for n, f in ann.model_fields.items()]
    return []


def _message(err: dict[str, Any]) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "missing":
        return "required key is missing"
    got = err.get("input")
    if isinstance(got, (str, int, float, bool)) or got is None:
        return f"{msg[:1].lower()}{msg[1:]} (got {got!r})"
    return f"{msg[:1].lower()}{msg[1:]} (got a {type(got).__name__})"


def _from_validation(source: str, exc: ValidationError, model: Any,
                     prefix: tuple[Any, ...] = (), extra_keys: tuple[str, ...] = ()) -> ScenarioError:
    errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] == "missing")
    err = errors[0]
    loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    if err["type"] == "extra_forbidden":
        accepted = sorted(set(_accepted_keys(model, tuple(err["loc"][:-1])) + list(extra_keys)))
        msg = _unknown("key", str(err["loc"][-1]), accepted)
    else:
        msg = _message(dict(err))
    if len(errors) > 1:
        msg += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ScenarioError(source, loc, msg)


# ------------------------------------------------------------ device defaults

def device_defaults(profile: dict[str, Any]) -> dict[str, Any]:
    """cpus, page_size, word_bits, vmalloc and modules (start, end) from a device profile.

    Read from the profile's ``address_space`` mapping (keys ``vmalloc_start``,
    ``vmalloc_end``, ``modules_start``, ``modules_end``, ``page_size``,
    ``word_bits``; or ``vmalloc``/``modules`` as ``{start, end}``) and its ``cpus``.
    """
    space = profile.get("address_space") or {}
    out: dict[str, Any] = {}
    cpus = profile.get("cpus", space.get("cpus"))
    if isinstance(cpus, int):
        out["cpus"] = cpus
    for key in ("page_size", "word_bits"):
        val = space.get(key, profile.get(key))
        if isinstance(val, int):
            out[key] = val
    for key in ("vmalloc", "modules", "range"):
        rng = space.get(key)
        if key == "range":
            lo, hi = space.get("vstart"), space.get("vend")
            if lo is not None and hi is not None:
                out[key] = (units.parse_address(lo), units.parse_address(hi))
            continue
        if isinstance(rng, dict):
            lo, hi = rng.get("start"), rng.get("end")
        else:
            lo, hi = space.get(f"{key}_start"), space.get(f"{key}_end")
        if lo is not None and hi is not None:
            out[key] = (units.parse_address(lo), units.parse_address(hi))
    return out


# ------------------------------------------------------------------ Scenario

@dataclass(frozen=True)
class Scenario:
    """A validated scenario with the device defaults filled in."""

    config: ScenarioConfig
    source: str                                  # the file name used in messages
    base_dir: Path                               # directory of the scenario file
    cost: dict[str, Any]                         # resolved device profile (load_device)
    cpus: int
    address_space: AddressSpace
    allocators: tuple[str, ...]
    callers: tuple[CallerSpec, ...]
    caller_items: tuple[dict[str, Any], ...]     # callers as resolved YAML
    initial_layout: str | None                   # absolute path, if any
    points: tuple[tuple[str, Scenario], ...] = ()  # sweep points (label, scenario)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def is_sweep(self) -> bool:
        return bool(self.points)

    @property
    def foreground_workloads(self) -> list[str]:
        names = [c.workload for c in self.callers if not c.background]
        return sorted(set(names), key=names.index)

    @property
    def seed_independent(self) -> bool:
        """No caller draws random numbers and the lock is fair: every seed gives
        the same results (:func:`simulator.spread.seed_independent`)."""
        from .spread import seed_independent
        cost = self.cost.get("cost", self.cost)
        return seed_independent([(c.workload, c.params) for c in self.callers], cost.get("lock_kind"))

    @property
    def run_seeds(self) -> list[int]:
        """The seeds that run: only the first when the results cannot depend on the seed."""
        seeds = list(self.config.seeds)
        return seeds[:1] if len(seeds) > 1 and self.seed_independent else seeds

    def override(self, seed: int | None = None, iterations: int | None = None) -> Scenario:
        """This scenario with ``seeds = [seed]`` and/or ``stop.iterations = iterations``."""
        if seed is None and iterations is None:
            return self
        raw = copy.deepcopy(self.raw)
        if seed is not None:
            if not 0 <= seed < 2**63:
                raise ScenarioError(self.source, ("seeds",), f"--seed must be in 0..2**63-1 (got {seed})")
            raw["seeds"] = [seed]
        if iterations is not None:
            if iterations <= 0:
                raise ScenarioError(self.source, ("stop", "iterations"),
                                    f"--iterations must be positive (got {iterations})")
            loops = self.loop_params()          # e.g. the preset's test_loop_count
            for i, param in loops.items():
                raw["callers"][i][param] = iterations
            if any(not c.background and i not in loops for i, c in enumerate(self.config.callers)):
                stop = dict(raw.get("stop") or {})
                stop["iterations"] = iterations
                raw["stop"] = stop
        return parse_scenario(raw, self.source, self.base_dir)

    def loop_params(self) -> dict[int, str]:
        """callers[i] -> the parameter ``--iterations`` sets there, for workloads
        that count their own loops (``Workload.loop_param``, the test-vmalloc preset's
        test_loop_count); empty when --iterations sets stop.iterations."""
        registry = _workloads()
        out = {}
        for i, c in enumerate(self.config.callers):
            wl = registry.get(c.workload)
            if wl is not None and getattr(wl, "loop_param", None) and not c.background:
                out[i] = wl.loop_param
        return out

    def run_specs(self, seed: int | None = None, iterations: int | None = None) -> list[RunSpec]:
        """One RunSpec per allocator x seed (allocator-major); all points of a sweep."""
        sc = self.override(seed, iterations)
        if sc.points:
            return [s for _, p in sc.points for s in p.run_specs()]
        c = sc.config
        return [RunSpec(scenario=c.name, allocator=a, seed=s, cpus=sc.cpus,
                        device=str(sc.cost.get("name", c.device.profile)),
                        cost=dict(sc.cost.get("cost", sc.cost)), address_space=sc.address_space,
                        callers=sc.callers,
                        iterations=c.stop.iterations, time_ns=c.stop.time,
                        metrics=MetricsSpec(sample_interval_ns=c.metrics.sample_interval,
                                            keep_ops=c.metrics.keep_ops,
                                            check_every=c.metrics.check_every),
                        guard_page=c.kernel.guard_page,
                        purge_priority_threshold=c.kernel.purge_priority_threshold)
                for a in sc.allocators for s in sc.run_seeds]

    def resolved(self) -> dict[str, Any]:
        """The scenario as plain data, every default filled in (the saved scenario.yaml).

        A sweep resolves point by point (each point directory saves its own);
        its top-level file is the document as written, with the seeds recorded,
        relative file names (layout, trace, empirical sizes, swept files) made
        absolute and, unless the device is swept, the device's complete cost
        table pinned, so that running it runs the same sweep again."""
        if self.points:
            return self._sweep_document()
        c, asp = self.config, self.address_space
        out: dict[str, Any] = {"name": c.name, "description": c.description,
                               "device": {"profile": self._profile_ref(),
                                          "overrides": dict(c.device.overrides),
                                          "cost": dict(self.cost["cost"])},
                               "cpus": self.cpus}
        space: dict[str, Any] = {"vmalloc": {"start": hex(asp.vmalloc_start), "end": hex(asp.vmalloc_end)},
                                 "modules": None, "page_size": asp.page_size, "word_bits": asp.word_bits}
        if asp.modules_start is not None and asp.modules_end is not None:
            space["modules"] = {"start": hex(asp.modules_start), "end": hex(asp.modules_end)}
        space["initial_layout"] = self.initial_layout
        out["address_space"] = space
        out["allocators"] = list(self.allocators)
        out["callers"] = [dict(x) for x in self.caller_items]
        if c.stop.iterations is not None or c.stop.time is not None:   # else the workloads end
            out["stop"] = {"iterations": c.stop.iterations, "time": units.format_duration(c.stop.time)}
        out["seeds"] = list(c.seeds)
        out["metrics"] = {"sample_interval": units.format_duration(c.metrics.sample_interval),
                          "keep_ops": c.metrics.keep_ops, "check_every": c.metrics.check_every}
        out["kernel"] = c.kernel.model_dump()
        out["output"] = c.output.model_dump()
        return out

    def _profile_ref(self) -> str:
        """The device as saved: a shipped profile by name, any other by its absolute path
        (so the saved scenario runs again without ``--devices``)."""
        from .devices import DEVICES_DIR
        path = self.cost.get("path")
        if path and Path(path).parent != DEVICES_DIR:
            return str(path)
        return self.config.device.profile

    def _sweep_document(self) -> dict[str, Any]:
        doc = copy.deepcopy(self.raw)
        doc["seeds"] = list(self.config.seeds)
        space = doc.get("address_space")
        if isinstance(space, dict):
            self._absolute_paths(space, ("initial_layout",))
        for caller in doc.get("callers") or []:
            self._absolute_paths(caller, FILE_PARAMS)
        (path, values), = doc["sweep"].items()
        last = str(path).rsplit(".", 1)[-1]
        if last in FILE_PARAMS + ("initial_layout",):            # swept file names
            doc["sweep"] = {path: [self._absolute(v) if isinstance(v, str) else v for v in values]}
        elif str(path) in ("device", "device.profile"):           # swept profile files
            from .devices import is_path
            doc["sweep"] = {path: [self._absolute(v) if isinstance(v, str) and is_path(v) else v
                                   for v in values]}
        if str(path) != "device" and not str(path).startswith(("device.profile", "device.cost")):
            # the first point's device with its complete cost table (the same for
            # every point; a swept override still applies on top), so the sweep
            # reproduces after the profile file changes
            doc["device"] = dict(self.points[0][1].resolved()["device"])
        return doc

    def _absolute_paths(self, node: Any, keys: tuple[str, ...]) -> None:
        """Relative file parameters (at any depth) made absolute, as resolution does."""
        if isinstance(node, dict):
            for k, v in node.items():
                if k in keys and isinstance(v, str):
                    node[k] = self._absolute(v)
                else:
                    self._absolute_paths(v, keys)
        elif isinstance(node, list):
            for v in node:
                self._absolute_paths(v, keys)

    def _absolute(self, name: str) -> str:
        """A file name relative to the scenario file, made absolute."""
        return str((self.base_dir / name).resolve())

    def resolved_yaml(self, seed: int | None = None, iterations: int | None = None) -> str:
        sc = self.override(seed, iterations)
        if sc.points:
            head = ("# vmsim sweep scenario: the document as written, seeds recorded; each point\n"
                    "# directory holds its resolved scenario.  `vmsim run` on this file runs the\n"
                    "# same sweep again and reproduces the results saved beside it.\n")
        else:
            head = ("# vmsim resolved scenario: defaults filled in, seeds recorded.\n"
                    "# `vmsim run` on this file reproduces the results saved beside it.\n")
        return head + dump_yaml(sc.resolved())


# ------------------------------------------------------------------ loading

def load_scenario(path: str | Path, source: str | None = None) -> Scenario:
    """Read, validate and resolve a scenario file; raises :class:`ScenarioError`."""
    name = source if source is not None else str(path)
    try:
        data = load_yaml(path, name)
    except YamlError as exc:
        raise ScenarioError(name, None, str(exc).removeprefix(f"{name}: ")) from None
    return parse_scenario(data, name, Path(path).resolve().parent)


def parse_scenario(data: Any, source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate already-parsed YAML data (a dict) into a :class:`Scenario`."""
    base = base_dir if base_dir is not None else Path.cwd()
    if data is None:
        raise ScenarioError(source, None, "empty file; a scenario is a YAML mapping with keys "
                            + ", ".join(ScenarioConfig.model_fields))
    if not isinstance(data, dict):
        raise ScenarioError(source, None, f"a scenario is a YAML mapping of keys "
                            f"({', '.join(ScenarioConfig.model_fields)}), not a {type(data).__name__}")
    if data.get("sweep") is not None:
        return _parse_sweep(data, source, base)
    return _resolve(data, source, base)


def _parse_sweep(data: dict[str, Any], source: str, base: Path) -> Scenario:
    """A scenario document with a ``sweep:`` key: one resolved point per value."""
    points: list[tuple[str, Scenario]] = []
    for label, doc in sweep_points(data, source):
        try:
            points.append((label, _resolve(doc, source, base)))
        except ScenarioError as exc:
            raise ScenarioError(source, exc.loc, f"{exc.message} (sweep point {label})") from None
    first = points[0][1]
    try:
        cfg = ScenarioConfig.model_validate(data, context={"page_size": first.address_space.page_size})
    except ValidationError as exc:
        raise _from_validation(source, exc, ScenarioConfig) from None
    return replace(first, config=cfg, points=tuple(points), raw=copy.deepcopy(data))


def _page_size_hint(data: dict[str, Any]) -> int | None:
    space = data.get("address_space")
    if isinstance(space, dict) and isinstance(space.get("page_size"), int) \
            and space["page_size"] in PAGE_SIZES:
        return space["page_size"]
    return None


def _resolve(data: dict[str, Any], source: str, base: Path) -> Scenario:
    page_hint = _page_size_hint(data)
    try:
        cfg = ScenarioConfig.model_validate(data, context={"page_size": page_hint or 4096})
    except ValidationError as exc:
        raise _from_validation(source, exc, ScenarioConfig) from None
    if cfg.stop.time is not None and cfg.stop.time // cfg.metrics.sample_interval > MAX_SAMPLES:
        raise ScenarioError(source, ("metrics", "sample_interval"),
                            f"{cfg.stop.time // cfg.metrics.sample_interval:,} samples over the "
                            f"stop time; accepted: at most {MAX_SAMPLES:,} per run (a longer interval)")
    # device profile (a name, or a path relative to the scenario file) and its defaults
    where = "profile"
    try:
        _load_device(cfg.device.profile, {}, base)      # the profile itself, validated in full
        if cfg.device.cost:                            # a saved scenario's complete table
            where = "cost"
            _load_device(cfg.device.profile, dict(cfg.device.cost), base)
        where = "overrides"
        cost = _load_device(cfg.device.profile, {**(cfg.device.cost or {}), **cfg.device.overrides},
                            base)
    except ValueError as exc:
        raise ScenarioError(source, ("device", where), str(exc)) from None
    dflt = device_defaults(cost)
    cpus = cfg.cpus if cfg.cpus is not None else dflt.get("cpus")
    if cpus is None:
        raise ScenarioError(source, ("cpus",), "required: the device profile gives no CPU count")
    space = cfg.address_space
    page = space.page_size or dflt.get("page_size") or units.DEFAULT_PAGE_SIZE
    if page_hint is None and page != 4096:            # sizes were read with 4096: read again
        return _resolve({**data, "address_space": {**(data.get("address_space") or {}),
                                                   "page_size": page}}, source, base)
    word_bits = space.word_bits or dflt.get("word_bits") or 64
    vm = (space.vmalloc.start, space.vmalloc.end) if space.vmalloc else dflt.get("vmalloc")
    if vm is None:
        raise ScenarioError(source, ("address_space", "vmalloc"),
                            "required: the device profile gives no vmalloc range")
    if "modules" in space.model_fields_set:
        mod = (space.modules.start, space.modules.end) if space.modules else None
    else:
        mod = dflt.get("modules")
    limit = 1 << word_bits
    for key, rng in (("vmalloc", vm), ("modules", mod)):
        if rng is None:
            continue
        if rng[0] % page or rng[1] % page:
            raise ScenarioError(source, ("address_space", key),
                                f"start and end must be multiples of the page size {page} "
                                f"(got {rng[0]:#x}-{rng[1]:#x})")
        if rng[1] > limit:
            raise ScenarioError(source, ("address_space", key),
                                f"end {rng[1]:#x} lies beyond the {word_bits}-bit address space")
    if mod is not None and mod[0] < vm[1] and vm[0] < mod[1]:
        raise ScenarioError(source, ("address_space", "modules"),
                            f"overlaps the vmalloc range {vm[0]:#x}-{vm[1]:#x}")
    vstart, vend = (min(vm[0], mod[0]), max(vm[1], mod[1])) if mod else vm
    if not ({"vmalloc", "modules"} & space.model_fields_set) and dflt.get("range"):
        vstart, vend = min(vstart, dflt["range"][0]), max(vend, dflt["range"][1])
    layout_path, busy = None, ()
    if space.initial_layout:
        layout = Path(space.initial_layout)
        layout_path = str(layout if layout.is_absolute() else (base / layout).resolve())
        busy = _initial_busy(source, layout_path, vstart, vend, page)  # type: ignore[assignment]
    asp = AddressSpace(vstart=vstart, vend=vend, vmalloc_start=vm[0], vmalloc_end=vm[1],
                       modules_start=mod[0] if mod else None, modules_end=mod[1] if mod else None,
                       page_size=page, word_bits=word_bits, initial_busy=busy)
    allocators = tuple(cfg.allocators) if cfg.allocators else _allocators()
    known = _accepted_allocators()
    for i, a in enumerate(allocators):
        if a not in known:
            raise ScenarioError(source, ("allocators", i), _unknown("allocator", a, known))
        if a in allocators[:i]:
            raise ScenarioError(source, ("allocators", i), f"allocator {a!r} listed twice")
    _preflight_allocators(source, allocators, asp)
    context = {"page_size": page, "base_dir": str(base), "address_range": (vstart, vend),
               "vmalloc_range": vm, "word_bits": word_bits}
    callers, items = _resolve_callers(cfg, data, source, cpus, context)
    if "stop" not in cfg.model_fields_set:
        _check_workloads_end(source, cfg)
    return Scenario(config=cfg, source=source, base_dir=base, cost=cost, cpus=cpus,
                    address_space=asp, allocators=allocators, callers=callers,
                    caller_items=items, initial_layout=layout_path, raw=copy.deepcopy(data))


def _check_workloads_end(source: str, cfg: ScenarioConfig) -> None:
    """Without ``stop``, every foreground workload must end by itself."""
    registry = _workloads()
    for i, c in enumerate(cfg.callers):
        wl = registry[c.workload]
        ends = getattr(wl, "ends_by_itself", False)
        if callable(ends):
            ends = ends(wl.params.model_validate(dict(c.model_extra or {})))
        if not c.background and not ends:
            raise ScenarioError(source, ("stop",), f"required: callers[{i}] ({c.workload}) runs until "
                                "stopped; give stop.iterations or stop.time")


def _preflight_allocators(source: str, allocators: tuple[str, ...], asp: AddressSpace) -> None:
    """Build each allocator on the address space as a run does: whatever the
    allocator refuses there (``vmsim run`` would fail), ``validate`` refuses too."""
    from .allocators import create
    from .kernels import resolve
    for i, a in enumerate(allocators):
        try:
            create(resolve(a).policy, vstart=asp.vstart, vend=asp.vend, vmalloc_start=asp.vmalloc_start,
                   vmalloc_end=asp.vmalloc_end, page_size=asp.page_size, word_bits=asp.word_bits,
                   initial_busy=asp.initial_busy)
        except ValueError as exc:
            raise ScenarioError(source, ("address_space",), f"allocator {a} refuses the address "
                                f"space: {exc}") from None


class LayoutWarning(UserWarning):
    """Initial-layout areas outside the allocator's range (``vmsim`` prints one line)."""


def _warn_outside(path: str, areas: Any, vstart: int, vend: int, loaded: int) -> None:
    """Warn when areas of an initial layout lie (partly) outside [vstart, vend)."""
    import warnings
    out = [a for a in areas if a.start < vstart or a.end > vend]
    if out:
        part = sum(1 for a in out if max(a.start, vstart) < min(a.end, vend))
        warnings.warn(f"{path}: {len(out)} of its {len(areas)} areas lie outside the allocator's "
                      f"range {vstart:#x}..{vend:#x} of the device profile and address space "
                      f"({len(out) - part} left out, {part} clipped; first: line {out[0].line}, "
                      f"{out[0].start:#x}-{out[0].end:#x}); {loaded} areas loaded: the dump of "
                      "another machine or kernel?", LayoutWarning, stacklevel=2)


def _initial_busy(source: str, path: str, vstart: int, vend: int,
                  page: int = units.DEFAULT_PAGE_SIZE) -> tuple[tuple[int, int], ...]:
    from . import vmallocinfo
    loc = ("address_space", "initial_layout")
    if not Path(path).exists():
        raise ScenarioError(source, loc, f"no such file {path} (paths are relative to the scenario file)")
    try:
        info = vmallocinfo.parse_vmallocinfo(path, page_size=page)
        busy = vmallocinfo.initial_busy(info, vstart, vend)
    except ValueError as exc:
        raise ScenarioError(source, loc, str(exc)) from None
    # what the allocators require of the initial areas, named by file and line
    prev = None
    for a in sorted((a for a in info.areas if max(a.start, vstart) < min(a.end, vend)),
                    key=lambda a: (a.start, a.line)):
        s, e = max(a.start, vstart), min(a.end, vend)
        if s % page or e % page:
            raise ScenarioError(source, loc, f"{path}:{a.line}: area {a.start:#x}-{a.end:#x} is not "
                                f"page aligned; accepted: areas whose start and end are multiples "
                                f"of the page size {page}")
        if prev is not None and s < prev[1]:
            raise ScenarioError(source, loc, f"{path}:{a.line}: area {a.start:#x}-{a.end:#x} "
                                f"overlaps the area of line {prev[0]}; accepted: disjoint areas")
        prev = (a.line, e)
    if not busy:
        raise ScenarioError(source, loc, f"{path}: none of its {len(info.areas)} areas lies in the "
                            f"allocator's range {vstart:#x}..{vend:#x}: wrong device or address "
                            "space? accepted: a layout with at least one area in the range")
    _warn_outside(path, info.areas, vstart, vend, len(busy))
    return tuple((int(s), int(e)) for s, e in busy)


def _resolve_callers(cfg: ScenarioConfig, data: dict[str, Any], source: str, cpus: int,
                     context: dict[str, Any]) -> tuple[tuple[CallerSpec, ...], tuple[dict[str, Any], ...]]:
    """Callers validated with ``context``: the page size, the scenario file's
    directory (relative file parameters) and the allocator's address range."""
    registry = _workloads()
    specs: list[CallerSpec] = []
    items: list[dict[str, Any]] = []
    cpu_owner: dict[int, int] = {}       # cpu -> index of the callers entry on it
    label_owner: dict[str, int] = {}     # caller label -> index of its entry
    for i, c in enumerate(cfg.callers):
        loc = ("callers", i)
        if c.workload not in registry:
            raise ScenarioError(source, loc + ("workload",),
                                _unknown("workload", c.workload, sorted(registry)))
        wl = registry[c.workload]
        raw_params = dict(c.model_extra or {})
        try:
            params = wl.params.model_validate(raw_params, context=context)
        except ValidationError as exc:
            raise _from_validation(source, exc, wl.params, loc, COMMON_CALLER_KEYS) from None
        dumped = params.model_dump(mode="json", by_alias=True)
        try:
            same = wl.params.model_validate(dumped, context=context) == params
        except ValidationError:
            same = False
        if not same:
            dumped = raw_params
        cpu_list = list(range(cpus)) if c.cpus == "all" else \
            ([c.cpus] if isinstance(c.cpus, int) else list(c.cpus))
        if not cpu_list:
            raise ScenarioError(source, loc + ("cpus",), "give at least one CPU")
        for j, cpu in enumerate(cpu_list):
            if not 0 <= cpu < cpus:
                where = loc + ("cpus",) + ((j,) if isinstance(c.cpus, list) else ())
                raise ScenarioError(source, where, f"CPU {cpu} does not exist: the scenario has "
                                    f"{cpus} CPUs, 0..{cpus - 1}")
        if len(set(cpu_list)) != len(cpu_list):
            raise ScenarioError(source, loc + ("cpus",), f"a CPU is listed twice (got {cpu_list})")
        for cpu in cpu_list:
            if cpu in cpu_owner:
                raise ScenarioError(source, loc + ("cpus",), f"CPU {cpu} already runs callers"
                                    f"[{cpu_owner[cpu]}]: one caller per CPU (no CPU sharing is "
                                    "modelled); put this caller on another CPU or raise cpus")
            cpu_owner[cpu] = i
            label = "" if c.name is None else (c.name if len(cpu_list) == 1 else f"{c.name}@cpu{cpu}")
            spec = CallerSpec(workload=c.workload, cpu=cpu, params=dict(dumped),
                              background=c.background, name=label)
            if spec.label in label_owner:
                raise ScenarioError(source, loc + ("name",), f"caller name {spec.label!r} is "
                                    f"already used by callers[{label_owner[spec.label]}]; "
                                    "give each caller a unique name")
            label_owner[spec.label] = i
            specs.append(spec)
        _check_request_range(source, loc, params, context, raw_params)
        items.append({"workload": c.workload, "cpus": cpu_list, "background": c.background,
                      "name": c.name, **dumped})
    if all(c.background for c in cfg.callers):
        raise ScenarioError(source, ("callers",), "every caller is background: true; accepted: at "
                            "least one foreground caller (background: false): the foreground "
                            "callers decide when the run ends")
    return tuple(specs), tuple(items)


def _check_request_range(source: str, loc: tuple[Any, ...], params: Any, context: dict[str, Any],
                         raw: dict[str, Any]) -> None:
    """A workload's fixed vmalloc ``vstart``/``vend``/``align`` parameters, checked
    against the allocator's range as the allocator checks each request at run time."""
    lo, hi = context["address_range"]
    vm_lo, vm_hi = context.get("vmalloc_range", (lo, hi))   # a request's default vstart/vend
    mask = (1 << context.get("word_bits", 64)) - 1
    vs, ve = getattr(params, "vstart", None), getattr(params, "vend", None)
    if isinstance(vs, int) or isinstance(ve, int):
        s_, e_ = (vm_lo if vs is None else vs), (vm_hi if ve is None else ve)
        if s_ < lo or e_ > hi or e_ <= s_:
            key = "vstart" if vs is not None and not lo <= vs < hi else ("vend" if ve is not None
                                                                          else "vstart")
            raise ScenarioError(source, loc + (key,),
                                f"vstart..vend {s_:#x}..{e_:#x} is not a non-empty part of the "
                                f"allocator's address space {lo:#x}..{hi:#x}; accepted: a "
                                "sub-range of it (vstart and vend left out are the vmalloc "
                                f"range's {vm_lo:#x} and {vm_hi:#x})")
    align = getattr(params, "align_bytes", None)
    if isinstance(align, int) and align > mask:
        raise ScenarioError(source, loc + ("align",), f"align {align:#x} does not fit in a "
                            f"{context.get('word_bits', 64)}-bit word; accepted: powers of two "
                            f"up to {(mask + 1) >> 1:#x}")


__all__ = ["Scenario", "ScenarioConfig", "ScenarioError", "load_scenario", "parse_scenario",
           "json_schema", "point_label"]
