"""``vmsim calibrate``: fit a device profile's cost parameters to measured figures.

Input: a YAML file of measured figures and a starting profile::

    device: qemu-x86               # starting profile: a name, or a file relative to this one
    fit: [page_alloc_ns, map_page_ns, kmalloc_ns, node_hot_ns]  # default: every
                                   # parameter with an allowed_range in the profile
    seeds: [1]                     # each simulated figure: the mean over these seeds
    iterations: 20000              # simulated iterations per measurement
    seed: 1
    measurements:
      - name: seed test_1 new
        workload: seed-test1       # a registered workload, run alone on CPU 0 ...
        params: {}
        iterations: 12288          # optional: simulated iterations for this figure
        allocator: free-list
        per_iteration_us: 0.9343   # ... or per_run_us (with the run's loops)
        spread_us: 0.0035          # optional: weights the residual (1/spread)
        background:                # optional: other callers, as in a scenario
          - {workload: thread-stacks, cpu: 1, params: {rate_per_s: 200}}
      - dmesg: test_vmalloc.log    # every "Summary: ..." line of lib/test_vmalloc.c
        allocator: busy-list

Instead of one ``fit``/``measurements`` pair, ``stages:`` may list several,
fitted in order, each from the previous result (a smooth stage first, then a
noisy one with more seeds and a larger ``diff_step``).

Each measurement becomes a RunSpec on the profile; the simulated time per
iteration is ``loop_time_ns / iterations``.  The fit is a bounded Gauss-Newton least squares
(forward-difference Jacobian, ``scipy.optimize.lsq_linear`` steps) of the relative residuals
``(simulated - measured) / measured``, each divided by its relative spread
(1 % when none is given), with every fitted parameter held inside its profile
``allowed_range``.  Parameters not fitted keep their sourced defaults.  The
result is a new profile file: the starting profile's text with the fitted
values replaced and their comments marked ``[fit]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .spec import AddressSpace, CallerSpec, RunSpec

#: One line of lib/test_vmalloc.c's output.
SUMMARY_RE = re.compile(
    r"Summary:\s+(?P<name>\w+)\s+passed:\s*(?P<passed>\d+)\s+failed:\s*(?P<failed>\d+)\s+"
    r"repeat:\s*(?P<repeat>\d+)\s+loops:\s*(?P<loops>\d+)\s+avg:\s*(?P<avg>\d+)\s*usec")


class CalibrationError(ValueError):
    """Bad calibration input: the message is one line naming file and place."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(part.strip() for part in str(message).splitlines() if part.strip()))


@dataclass(frozen=True)
class Summary:
    """One ``Summary:`` line of lib/test_vmalloc.c."""

    name: str
    passed: int
    failed: int
    repeat: int
    loops: int
    avg_usec: int
    line: int


def parse_dmesg(path: str | Path) -> list[Summary]:
    """Every test_vmalloc ``Summary:`` line of a dmesg log (timestamps and
    other lines are ignored).  A line that names Summary but does not parse
    is an error naming the file and line."""
    from .yamlsafe import read_data_text
    out = []
    path = Path(path)
    accepted = "'Summary: <test> passed: N failed: N repeat: N loops: N avg: N usec'"
    text = read_data_text(path, "dmesg log", CalibrationError, errors="replace")
    for no, line in enumerate(text.splitlines(), 1):
        if "Summary:" not in line:
            continue
        m = SUMMARY_RE.search(line) if len(line) <= 4096 else None
        if not m or any(len(m[k]) > 18 for k in ("passed", "failed", "repeat", "loops", "avg")):
            raise CalibrationError(f"{path}:{no}: not a test_vmalloc summary line; accepted: {accepted}")
        s = Summary(m["name"], int(m["passed"]), int(m["failed"]), int(m["repeat"]),
                    int(m["loops"]), int(m["avg"]), no)
        if s.loops == 0 or s.avg_usec == 0:
            raise CalibrationError(f"{path}:{no}: {s.name}: {'loops' if s.loops == 0 else 'avg'} is 0, "
                                   f"no time per iteration follows; accepted: {accepted} with "
                                   "loops and avg above 0")
        out.append(s)
    if not out:
        raise CalibrationError(f"{path}: no test_vmalloc 'Summary:' line in this dmesg log; "
                               f"accepted: a log with lines {accepted} (load test_vmalloc.ko)")
    return out


@dataclass
class Measurement:
    name: str
    workload: str
    params: dict[str, Any]
    allocator: str
    per_iteration_ns: float
    spread_ns: float | None = None
    loops: int | None = None          # iterations of the measured run, when the source says
    background: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Stage:
    """One least-squares fit: ``fit`` parameters against ``measurements``,
    each simulated figure the mean over ``seeds``."""

    fit: list[str]
    seeds: list[int]
    measurements: list[Measurement]
    diff_step: float = 0.01       # relative finite-difference step of the Jacobian


@dataclass
class CalibrationSpec:
    device: str
    iterations: int
    stages: list[Stage]
    source: Path
    rounds: int = 1               # passes over all stages (stages that share figures couple)

    @property
    def measurements(self) -> list[Measurement]:
        return [m for st in self.stages for m in st.measurements]

    @property
    def fit(self) -> list[str]:
        return [n for st in self.stages for n in st.fit]


_KIND_NAMES: dict[Any, str] = {str: "a string", list: "a list", dict: "a mapping"}


def _at(where: str, key: str) -> str:
    """``file: measurements[0]`` + key -> ``file: measurements[0].key``; ``file`` -> ``file: key``."""
    return f"{where}.{key}" if ": " in where else f"{where}: {key}"


def _need(d: dict, key: str, where: str, kind: type | tuple = object):
    if key not in d:
        raise CalibrationError(f"{_at(where, key)}: required key is missing")
    if not isinstance(d[key], kind) or (kind is str and not d[key]):
        raise CalibrationError(f"{_at(where, key)}: expected {_KIND_NAMES.get(kind, kind)} "
                               f"(got {d[key]!r})")
    return d[key]


def _number(d: dict, key: str, where: str, *, minimum: float = 0.0, strict: bool = True,
            default: Any = None) -> float:
    """A finite real number in ``d[key]``, above ``minimum`` (``strict``) or at least it."""
    value = d.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and (value > minimum if strict else value >= minimum)
    if not ok:
        rel = ">" if strict else ">="
        raise CalibrationError(f"{_at(where, key)}: expected a number {rel} {minimum:g} (got {value!r})")
    return float(value)


def _integer(d: dict, key: str, where: str, *, minimum: int = 1, maximum: int = 10**9,
             default: Any = None) -> int:
    value = d.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise CalibrationError(f"{_at(where, key)}: expected an integer in {minimum}..{maximum:,} "
                               f"(got {value!r})")
    return value


def load_spec(path: str | Path) -> CalibrationSpec:
    """Read and check a measured-figures YAML file (errors: one line).

    Either one stage (top-level ``fit``, ``seed``/``seeds``, ``measurements``)
    or ``stages:``, a list of such mappings fitted in order, each starting
    from the previous stage's result."""
    from .devices import load_device
    from .yamlsafe import load_yaml

    from .devices import is_path
    from .yamlsafe import YamlError
    path = Path(path)
    try:
        data = load_yaml(path)
    except YamlError as exc:
        raise CalibrationError(str(exc)) from None
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: expected a mapping with keys device, fit, measurements")
    allowed = {"device", "iterations", "stages", "rounds"} | _STAGE_KEYS
    for key in data:
        if key not in allowed:
            raise CalibrationError(f"{path}: {key}: unknown key; accepted: {', '.join(sorted(allowed))}")
    device = _need(data, "device", str(path), str)
    try:
        profile = load_device(device, base_dir=path.resolve().parent)
    except ValueError as exc:
        raise CalibrationError(f"{path}: device: {exc}") from None
    if is_path(device):                    # a profile file, relative to this file
        device = profile["path"]
    iterations = _integer(data, "iterations", str(path), default=20_000)
    if "stages" in data:
        if any(k in data for k in _STAGE_KEYS):
            raise CalibrationError(f"{path}: give either stages or fit/measurements, not both")
        raw = _need(data, "stages", str(path), list)
        stages = [_load_stage(st, f"{path}: stages[{i}]", path, profile, iterations)
                  for i, st in enumerate(raw)]
    else:
        stages = [_load_stage(data, str(path), path, profile, iterations)]
    if not stages:
        raise CalibrationError(f"{path}: stages: no stage given")
    rounds = _integer(data, "rounds", str(path), maximum=100, default=1)
    return CalibrationSpec(device, iterations, stages, path, rounds)


_STAGE_KEYS = {"fit", "seed", "seeds", "diff_step", "measurements"}


def _load_stage(data: Any, where: str, path: Path, profile: dict[str, Any],
                iterations: int = 20_000) -> Stage:
    if not isinstance(data, dict):
        raise CalibrationError(f"{where}: expected a mapping with keys fit, measurements")
    for key in data:
        if key not in _STAGE_KEYS | {"device", "iterations"}:
            raise CalibrationError(f"{where}: {key}: unknown key; accepted: {', '.join(sorted(_STAGE_KEYS))}")
    fit = data.get("fit") or sorted(profile["allowed_range"])
    if not isinstance(fit, list) or not all(isinstance(x, str) for x in fit):
        raise CalibrationError(f"{_at(where, 'fit')}: expected a list of cost parameter names (got {fit!r})")
    if not fit:
        raise CalibrationError(f"{_at(where, 'fit')}: profile {profile['name']} has no allowed_range: "
                               "nothing to fit; accepted: a profile with allowed_range")
    for i, name in enumerate(fit):
        if name not in profile["allowed_range"]:
            raise CalibrationError(
                f"{where}: fit[{i}]: {name!r} has no allowed_range in profile {profile['name']}; "
                f"fittable: {', '.join(sorted(profile['allowed_range']))}")
    seeds = data.get("seeds", [data.get("seed", 1)])
    if not isinstance(seeds, list) or not seeds or not all(
            isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**63 for x in seeds):
        key = "seeds" if "seeds" in data else "seed"
        raise CalibrationError(f"{_at(where, key)}: expected seeds as integers in 0..2**63-1 "
                               f"(got {data.get(key)!r})")
    diff_step = _number(data, "diff_step", where, default=0.01)
    if diff_step >= 1:
        raise CalibrationError(f"{_at(where, 'diff_step')}: expected a relative step below 1 "
                               f"(got {diff_step:g})")
    ms: list[Measurement] = []
    for i, item in enumerate(_need(data, "measurements", where, list)):
        ms.extend(_load_measurement(item, f"{where}: measurements[{i}]", path))
    if not ms:
        raise CalibrationError(f"{where}: measurements: no measured figure found")
    _check_names(ms, path, profile, iterations)
    return Stage(list(fit), seeds, ms, diff_step)


def _load_measurement(item: Any, where: str, path: Path) -> list[Measurement]:
    if not isinstance(item, dict):
        raise CalibrationError(f"{where}: expected a mapping")
    allocator = _need(item, "allocator", where, str)
    background = item.get("background") or []
    if not isinstance(background, list):
        raise CalibrationError(f"{_at(where, 'background')}: expected a list of callers (got {background!r})")
    for j, b in enumerate(background):
        bw = f"{_at(where, 'background')}[{j}]"
        if not isinstance(b, dict):
            raise CalibrationError(f"{bw}: expected a mapping with workload, cpu, params")
        _need(b, "workload", bw, str)
        _integer(b, "cpu", bw, minimum=0, maximum=4095, default=1 + j)
        if not isinstance(b.get("params") or {}, dict):
            raise CalibrationError(f"{_at(bw, 'params')}: expected a mapping (got {b.get('params')!r})")
    if not isinstance(item.get("params") or {}, dict):
        raise CalibrationError(f"{_at(where, 'params')}: expected a mapping (got {item.get('params')!r})")
    if "dmesg" in item:
        _need(item, "dmesg", where, str)
        log = (path.parent / item["dmesg"]).resolve()
        if not log.is_file():
            raise CalibrationError(f"{_at(where, 'dmesg')}: no such file {log}")
        return [Measurement(
            name=f"{s.name} ({log.name}:{s.line})", workload=s.name,
            params={}, allocator=allocator,   # simulated loops: the spec's iterations
            per_iteration_ns=s.avg_usec * 1000.0 / s.loops, background=background)
            for s in parse_dmesg(log)]
    workload = _need(item, "workload", where, str)
    if "per_iteration_us" in item:
        per_iter = _number(item, "per_iteration_us", where) * 1000.0
    elif "per_run_us" in item and "loops" in item:
        per_iter = _number(item, "per_run_us", where) * 1000.0 / _integer(item, "loops", where,
                                                                         maximum=10**12)
    else:
        raise CalibrationError(f"{where}: give per_iteration_us, or per_run_us with loops")
    spread = None if item.get("spread_us") is None else _number(item, "spread_us", where, strict=False)
    name = item.get("name", f"{workload} {allocator}")
    if not isinstance(name, str):
        raise CalibrationError(f"{_at(where, 'name')}: expected a string (got {name!r})")
    return [Measurement(
        name=name, workload=workload,
        params=dict(item.get("params") or {}), allocator=allocator,
        per_iteration_ns=per_iter, spread_ns=None if spread is None else spread * 1000.0,
        loops=_integer(item, "iterations", where) if "iterations" in item else None,
        background=background)]


def _check_names(ms: list[Measurement], path: Path, profile: dict[str, Any], iterations: int) -> None:
    """Each measurement, as the scenario it runs (allocator, workload and background
    callers with their params, CPUs, ranges), passes the scenario checks that
    ``vmsim validate`` applies: what the fit would fail on, fails now."""
    from .scenario import ScenarioError, parse_scenario
    from .yamlsafe import format_path

    for m in ms:
        callers = [{"workload": m.workload, "cpus": 0, **m.params}]
        for j, b in enumerate(m.background):
            callers.append({"workload": b["workload"], "cpus": int(b.get("cpu", 1 + j)),
                            "background": True, **(b.get("params") or {})})
        doc = {"name": "calibrate", "device": profile["path"],
               "cpus": max(profile["cpus"], max(c["cpus"] for c in callers) + 1),
               "allocators": [m.allocator], "callers": callers,
               "stop": {"iterations": m.loops or iterations}, "seeds": [1]}
        try:
            parse_scenario(doc, str(path), path.resolve().parent)
        except ScenarioError as exc:
            where = format_path(exc.loc) if exc.loc else ""
            where = where.replace("callers[0]", "params", 1) if where.startswith("callers[0]") else where
            place = f"{where}: " if where else ""
            raise CalibrationError(f"{path}: {m.name}: {place}{exc.message}") from None


def run_spec_for(m: Measurement, profile: dict[str, Any], cost: dict[str, Any],
                 iterations: int, seed: int) -> RunSpec:
    """The RunSpec that simulates measurement ``m`` on ``profile`` with ``cost``."""
    asp = profile["address_space"]
    callers = [CallerSpec(m.workload, 0, dict(m.params))]
    for b in m.background:
        callers.append(CallerSpec(b["workload"], int(b.get("cpu", len(callers))),
                                  dict(b.get("params") or {}), background=True))
    return RunSpec(
        scenario=f"calibrate:{m.name}", allocator=m.allocator, seed=seed,
        cpus=max(profile["cpus"], max(c.cpu for c in callers) + 1), device=profile["name"],
        cost=cost, address_space=AddressSpace(**asp), callers=tuple(callers),
        iterations=iterations)


def simulated_per_iteration(specs: Sequence[RunSpec], jobs: int = 1) -> list[float]:
    """ns per measured iteration for each spec (engine runs)."""
    from .runner import run_specs

    res = run_specs(list(specs), jobs=jobs)
    summary = res.summary
    return [float(summary.iloc[i]["loop_time_ns"]) / spec.iterations  # type: ignore[operator]
            for i, spec in enumerate(specs)]


@dataclass
class FitResult:
    names: list[str]
    start: list[float]
    fitted: list[float]
    bounds: list[tuple[float, float]]
    measured_ns: list[float]
    simulated_ns: list[float]
    labels: list[str]
    evaluations: int

    @property
    def residuals_pct(self) -> list[float]:
        return [100.0 * (s - m) / m for s, m in zip(self.simulated_ns, self.measured_ns)]


def fit(names: list[str], start: list[float], bounds: list[tuple[float, float]],
        measured: list[float], spreads: list[float | None],
        evaluate: Callable[[dict[str, float]], list[float]], labels: list[str] | None = None,
        max_iterations: int = 8, log: Callable[[str], None] | None = None,
        diff_step: float = 0.01, regularisation: float = 0.05) -> FitResult:
    """Bounded Gauss-Newton fit of ``evaluate`` (parameter values -> simulated
    figures, one per measured figure) to ``measured``.

    Residuals are relative errors divided by the relative spread (1 % when
    none is given).  Each iteration takes a forward-difference Jacobian
    (``diff_step`` relative) and solves a bounded linear least-squares step
    (``scipy.optimize.lsq_linear``).  A small ``regularisation`` term on the
    relative change from ``start`` picks, among parameter sets that fit
    equally well, the one that moves the sourced defaults least."""
    import numpy as np
    from scipy.optimize import lsq_linear

    lo = np.array([b[0] for b in bounds], dtype=float)
    hi = np.array([b[1] for b in bounds], dtype=float)
    x0 = np.clip(np.array(start, dtype=float), lo, hi)
    scale = np.maximum(np.abs(x0), 1e-9)
    meas = np.array(measured, dtype=float)
    # residual = relative error / relative uncertainty (1 % when no spread is given)
    rel_sigma = np.array([s / m if s and s > 0 else 0.01 for m, s in zip(measured, spreads)])
    calls = {"n": 0}
    cache: dict[tuple, list[float]] = {}

    def sim(x) -> list[float]:
        key = tuple(round(float(v), 9) for v in x)
        if key not in cache:
            calls["n"] += 1
            values = dict(zip(names, map(float, x)))
            cache[key] = evaluate(values)
            if log is not None:
                res = " ".join(f"{100 * (s - m) / m:+.2f}%" for s, m in zip(cache[key], measured))
                par = " ".join(f"{k}={v:.4g}" for k, v in values.items())
                log(f"  batch {calls['n']}: {par} -> residuals {res}")
        return cache[key]

    def residual(x):
        return (np.array(sim(x)) - meas) / meas / rel_sigma

    x = x0.copy()
    n = len(names)
    for _ in range(max_iterations if n else 0):
        r = residual(x)
        jac = np.empty((len(meas), n))
        for j in range(n):
            h = diff_step * scale[j]
            step = h if x[j] + h <= hi[j] else -h
            xj = x.copy()
            xj[j] += step
            jac[:, j] = (residual(xj) - r) / step
        a = np.vstack([jac, regularisation * np.diag(1.0 / scale)])
        b = np.concatenate([-r, -regularisation * (x - x0) / scale])
        d = lsq_linear(a, b, bounds=(lo - x, hi - x)).x
        x = np.clip(x + d, lo, hi)
        if np.max(np.abs(d) / scale) < 1e-4:
            break
    return FitResult(list(names), list(map(float, x0)), list(map(float, x)), list(bounds),
                     list(map(float, meas)), list(map(float, sim(x))),
                     labels or [str(i) for i in range(len(measured))], calls["n"])


def calibrate(spec: CalibrationSpec, jobs: int = 1,
              log: Callable[[str], None] | None = None) -> tuple[FitResult, dict[str, Any]]:
    """Fit each stage in turn; the result's residuals are every measurement
    re-simulated with the final parameters."""
    from .devices import load_device

    profile = load_device(spec.device)
    cost = dict(profile["cost"])

    def simulate_all(ms: list[Measurement], seeds: list[int], values: dict[str, float]) -> list[float]:
        c = dict(cost)
        c.update(values)
        specs = [run_spec_for(m, profile, c, m.loops or spec.iterations, seed)
                 for m in ms for seed in seeds]
        per = simulated_per_iteration(specs, jobs=jobs)
        k = len(seeds)
        return [sum(per[i * k:(i + 1) * k]) / k for i in range(len(ms))]

    names = list(dict.fromkeys(k for st in spec.stages for k in st.fit))
    start = [float(cost[k]) for k in names]
    bounds: list[Any] = [tuple(map(float, profile["allowed_range"][k])) for k in names]
    evaluations = 0
    for rnd in range(1, spec.rounds + 1):
        for n, st in enumerate(spec.stages, 1):
            if log is not None:
                log(f"round {rnd}, stage {n}: fit {', '.join(st.fit)} to {len(st.measurements)} "
                    f"figure(s), seeds {st.seeds}")
            b: list[Any] = [tuple(map(float, profile["allowed_range"][k])) for k in st.fit]
            res = fit(st.fit, [float(cost[k]) for k in st.fit], b,
                      [m.per_iteration_ns for m in st.measurements],
                      [m.spread_ns for m in st.measurements],
                      lambda values: simulate_all(st.measurements, st.seeds, values),  # fit calls it now
                      labels=[m.name for m in st.measurements], log=log, diff_step=st.diff_step)
            cost.update(zip(res.names, res.fitted))
            evaluations += res.evaluations
    fitted = [float(cost[k]) for k in names]
    # Every figure with the final parameters, over the union of the stages' seeds.
    all_ms = spec.measurements
    seeds = sorted({s for st in spec.stages for s in st.seeds})
    final = simulate_all(all_ms, seeds, {})
    result = FitResult(names, start, fitted, bounds, [m.per_iteration_ns for m in all_ms], final,
                       [f"{m.name} [{m.allocator}]" for m in all_ms], evaluations + 1)
    return result, profile


def render_profile(base_text: str, fitted: dict[str, float], source: str) -> str:
    """The base profile's text with fitted values replaced (comments marked [fit])."""
    lines = base_text.splitlines()
    in_cost = False
    done = set()
    for i, line in enumerate(lines):
        if re.match(r"^\S", line):
            in_cost = line.startswith("cost:")
            if line.startswith("description:"):
                m = re.match(r'^description:\s*"?(.*?)"?\s*(#.*)?$', line)
                if m:
                    base = re.sub(r" \(calibrated to [^)]*\)$", "", m.group(1))
                    lines[i] = f'description: "{base} (calibrated to {source})"'
            continue
        m = re.match(r"^(\s+)(\w+):\s*([^#\s]+)\s*(#\s*(.*))?$", line)
        if in_cost and m and m.group(2) in fitted:
            key = m.group(2)
            value = f"{fitted[key]:.4g}"
            note = f"# [fit] vmsim calibrate to {source}; was {m.group(3)}"
            earlier = re.sub(r"^\[fit\] vmsim calibrate to [^;]*; was [^;]*;?\s*", "", m.group(5) or "")
            if earlier:
                note += f"; {earlier}"
            lines[i] = f"{m.group(1)}{key}: {value}".ljust(33) + note
            done.add(key)
    missing = set(fitted) - done
    if missing:
        raise CalibrationError(f"profile has no cost line for {', '.join(sorted(missing))}")
    return "\n".join(lines) + "\n"


#: a residual beyond this (in percent) makes a poor fit
POOR_RESIDUAL_PCT = 10.0


def at_bound(value: float, bound: tuple[float, float]) -> str | None:
    """'lower' / 'upper' when value sits on that end of its allowed range (0.1 %)."""
    lo, hi = bound
    if math.isclose(value, lo, rel_tol=1e-3, abs_tol=1e-12):
        return "lower"
    if math.isclose(value, hi, rel_tol=1e-3, abs_tol=1e-12):
        return "upper"
    return None


def poor_fit(result: FitResult, max_residual_pct: float = POOR_RESIDUAL_PCT) -> list[str]:
    """Why a fit is poor (empty when it is not): a parameter at a bound of its
    allowed range (the data wanted it further), or a residual above 10 %."""
    out = []
    for n, f, b in zip(result.names, result.fitted, result.bounds):
        edge = at_bound(f, b)
        if edge:
            out.append(f"{n} = {f:.4g} ends at the {edge} bound of its allowed range [{b[0]:g}, {b[1]:g}]")
    for label, r in zip(result.labels, result.residuals_pct):
        if abs(r) > max_residual_pct:
            out.append(f"{label}: residual {r:+.2f}% exceeds {max_residual_pct:g}%")
    return out


def format_report(result: FitResult) -> str:
    """Fitted values beside their allowed ranges, and every residual."""
    out = ["fitted parameters (allowed range from the profile's sources):",
           f"  {'parameter':<24}{'start':>10}{'fitted':>10}   allowed"]
    for n, s, f, (lo, hi) in zip(result.names, result.start, result.fitted, result.bounds):
        at_bound = math.isclose(f, lo, rel_tol=1e-3) or math.isclose(f, hi, rel_tol=1e-3)
        edge = "  (at a bound)" if at_bound else ""
        out.append(f"  {n:<24}{s:>10.4g}{f:>10.4g}   [{lo:g}, {hi:g}]{edge}")
    out.append("residuals (simulated vs measured, per iteration):")
    for label, m, s, r in zip(result.labels, result.measured_ns, result.simulated_ns, result.residuals_pct):
        out.append(f"  {label:<44}{m / 1000:>10.3f} us {s / 1000:>10.3f} us {r:>+8.2f}%")
    out.append(f"simulation batches: {result.evaluations}")
    return "\n".join(out)


__all__ = ["CalibrationError", "Summary", "parse_dmesg", "Measurement", "Stage", "CalibrationSpec",
           "load_spec", "run_spec_for", "fit", "calibrate", "render_profile", "format_report",
           "FitResult", "simulated_per_iteration", "poor_fit", "at_bound", "POOR_RESIDUAL_PCT"]
