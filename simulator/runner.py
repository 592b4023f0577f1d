"""``simulator.run(scenario) -> Results``: every RunSpec, optionally in parallel.

>>> res = run("scenarios/seed-test1.yaml")          # doctest: +SKIP
>>> res.summary[["allocator", "seed", "mean_ns"]]   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .engine import Engine, RunResult
from .engine import simulate as _simulate
from .metrics import SUMMARY_COLUMNS
from .spec import RunSpec

Progress = Callable[[int, int, RunSpec], None]   # (runs done, runs in all, the run just done)


@dataclass
class Results:
    """Concatenated results of a scenario's runs, in spec order."""

    ops: pd.DataFrame
    timeseries: pd.DataFrame
    summary: pd.DataFrame
    log: list[str] = field(default_factory=list)
    specs: list[RunSpec] = field(default_factory=list)
    histograms: pd.DataFrame = field(default_factory=pd.DataFrame)   # stats-only runs


def make_policy(spec: RunSpec) -> Any:
    """The allocator policy of ``spec``'s generation over its address space."""
    from . import kernels
    from .allocators import create
    asp = spec.address_space
    return create(kernels.resolve(spec.allocator).policy, vstart=asp.vstart, vend=asp.vend,
                  vmalloc_start=asp.vmalloc_start, vmalloc_end=asp.vmalloc_end,
                  page_size=asp.page_size, word_bits=asp.word_bits,
                  initial_busy=asp.initial_busy)


def simulate(spec: RunSpec, *, allocator_factory: Callable[[RunSpec], Any] | None = None) -> RunResult:
    """Run one RunSpec: resolve its generation (``spec.allocator``, a
    generation name or alias) and its callers' workloads, then run the engine.
    ``allocator_factory`` replaces the generation's policy (tests, benchmarks)."""
    import workloads

    from . import kernels
    kernel_cls = kernels.kernel_class(spec.allocator)
    policy = (allocator_factory or make_policy)(spec)
    behaviours = []
    for c in spec.callers:
        wl = workloads.get(c.workload)
        try:
            params = wl.params.model_validate(
                c.params, context={"page_size": spec.address_space.page_size})
        except Exception as exc:  # pydantic.ValidationError, TypeError
            first = str(exc).splitlines()
            raise ValueError(f"caller {c.label}: invalid params for workload {c.workload!r}: "
                             f"{' '.join(first[:3])}") from None
        behaviours.append((wl, params))

    def kernel_factory(eng: Engine) -> Any:
        return kernel_cls(eng, policy)
    return _simulate(spec, kernel_factory, behaviours)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if f is not None]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    for col in ("allocator", "caller", "op", "metric"):
        if col in out.columns:
            out[col] = out[col].astype("category")
    return out


def _label(spec: RunSpec) -> str:
    return f"[{spec.allocator} seed={spec.seed}]"


def run_specs(specs: Sequence[RunSpec], jobs: int = 1, progress: Progress | bool | None = None) -> Results:
    """Run every spec; ``jobs > 1`` uses a process pool (same results, same order).

    ``progress``: a callable ``(done, total, spec)``, or True for a tqdm bar.
    """
    specs = list(specs)
    total = len(specs)
    bar = None
    if progress is True:
        from tqdm import tqdm
        bar = tqdm(total=total, unit="run")
        progress = lambda done, _total, _spec: bar.update(1)  # noqa: E731
    results: list[RunResult] = []
    try:
        if jobs <= 1 or total <= 1:
            for spec in specs:
                results.append(simulate(spec))
                if progress:
                    progress(len(results), total, spec)
        else:
            # workers die with vmsim (even on SIGKILL) and are terminated on an interrupt
            from contextlib import closing

            from .interrupts import pool_map
            with closing(pool_map(simulate, specs, min(jobs, total, os.cpu_count() or 1))) as it:
                for res in it:
                    results.append(res)
                    if progress:
                        progress(len(results), total, specs[len(results) - 1])
    finally:
        if bar is not None:
            bar.close()
    log = [f"{_label(s)} {line}" for s, r in zip(specs, results) for line in r.log]
    summary = pd.DataFrame([r.summary for r in results])
    if len(summary):
        summary = summary[list(SUMMARY_COLUMNS) + [c for c in summary.columns if c not in SUMMARY_COLUMNS]]
    return Results(ops=_concat([r.ops for r in results]),
                   timeseries=_concat([r.timeseries for r in results]),
                   summary=summary, log=log, specs=specs,
                   histograms=_concat([r.histograms for r in results]))


def run(scenario: Any, jobs: int = 1, progress: Progress | bool | None = None, **kw: Any) -> Results:
    """Run ``scenario``: a list of RunSpecs, an object with ``.run_specs()``, or a path.

    A path (str or Path) is loaded with ``simulator.scenario.load_scenario``.
    Extra keyword arguments go to ``load_scenario``.
    """
    if isinstance(scenario, RunSpec):
        specs: list[RunSpec] = [scenario]
    elif isinstance(scenario, (list, tuple)) and all(isinstance(s, RunSpec) for s in scenario):
        specs = list(scenario)
    elif hasattr(scenario, "run_specs"):
        specs = list(scenario.run_specs())
    elif isinstance(scenario, (str, Path)):
        from .scenario import load_scenario
        specs = list(load_scenario(scenario, **kw).run_specs())
    else:
        raise TypeError("run() takes a list of RunSpecs, an object with .run_specs(), "
                        f"or a scenario path (got {type(scenario).__name__})")
    return run_specs(specs, jobs=jobs, progress=progress)


__all__ = ["Results", "run", "run_specs"]
