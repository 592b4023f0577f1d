"""Spread across seeds: means, 95 % confidence intervals, and seed independence.

A run's figures depend on its seed through the random streams of its callers
(and of an unfair lock).  With several seeds, every table gives the mean over
seeds and a Student-t 95 % confidence interval of that mean
(``scipy.stats.t.interval``); a difference between two allocators is *inside
the seed-to-seed noise* when the 95 % interval of the paired per-seed
difference contains zero (with one seed nothing can be said).

``seed_independent(scenario)`` recognises runs that give the same numbers
whatever the seed: no caller draws random numbers (each workload says so,
``workloads.Workload.uses_rng``) and the lock is not unfair (``lock_kind: tas``
picks its next owner at random).  Such a scenario runs its first seed only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values and the 95 % t-interval of that mean (NaN bounds when n < 2
    or a value is missing; the bounds equal the mean when every value is the same)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def contains(self, x: float) -> bool | None:
        """Whether x lies in the interval (None when there is no interval)."""
        if math.isnan(self.low):
            return None
        return self.low <= x <= self.high


def mean_ci(values: Iterable[float], confidence: float = CONFIDENCE) -> Interval:
    """The mean and its Student-t confidence interval."""
    x = np.asarray([float(v) for v in values], dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    sem = float(stats.sem(x))
    if sem == 0.0:
        return Interval(mean, mean, mean, n)
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=sem)
    return Interval(mean, float(low), float(high), n)


def paired_difference(old: Mapping[Any, float], new: Mapping[Any, float]) -> Interval:
    """Mean and CI of new - old over the seeds both have."""
    seeds = [s for s in old if s in new]
    return mean_ci([float(new[s]) - float(old[s]) for s in seeds])


def noise_verdict(diff: Interval) -> str:
    """``inside the seed-to-seed noise`` / ``outside ...`` / a note that one seed cannot say."""
    inside = diff.contains(0.0)
    if inside is None:
        return "one seed: no estimate of the seed-to-seed noise"
    return "inside the seed-to-seed noise" if inside else "outside the seed-to-seed noise"


def fmt_interval(iv: Interval, fmt: Any = None) -> str:
    """``12,345 ± 67`` (the 95 % half-width), or just the mean for one seed."""
    f = fmt or (lambda v: f"{v:,.0f}")
    if math.isnan(iv.mean):
        return "-"
    if iv.n < 2 or math.isnan(iv.low):
        return f(iv.mean)
    return f"{f(iv.mean)} ± {f(iv.half_width)}"


#: summary columns summarised over seeds (spread.csv, report tables)
SPREAD_METRICS = ("ops", "loop_time_ns", "mean_ns", "vmalloc_p50_ns", "vmalloc_p99_ns",
                  "vfree_p50_ns", "vfree_p99_ns", "lock_wait_share", "purges", "enomem",
                  "final_fragmentation")


def spread_frame(summary: pd.DataFrame, keys: Sequence[str] = ("allocator",),
                 metrics: Sequence[str] = SPREAD_METRICS) -> pd.DataFrame:
    """One row per ``keys`` group: ``n_seeds`` and ``<metric>_mean``, ``_ci_low``,
    ``_ci_high`` for each metric present (the spread.csv of a results directory)."""
    keys = [k for k in keys if k in summary]
    rows = []
    if not len(summary) or not keys:
        return pd.DataFrame()
    for key, g in summary.groupby(keys, sort=False, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(keys, key))
        row["n_seeds"] = int(g["seed"].nunique()) if "seed" in g else len(g)
        for m in metrics:
            if m in g:
                iv = mean_ci(pd.to_numeric(g[m], errors="coerce"))
                row[f"{m}_mean"], row[f"{m}_ci_low"], row[f"{m}_ci_high"] = iv.mean, iv.low, iv.high
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------ seed independence

def _workload_uses_rng(workload: str, params: Mapping[str, Any]) -> bool:
    import workloads
    wl = workloads.REGISTRY.get(workload)
    if wl is None:
        return True
    flag = getattr(wl, "uses_rng", True)
    if callable(flag):
        try:
            return bool(flag(wl.params.model_validate(dict(params))))
        except Exception:  # noqa: BLE001 (cannot tell -> assume random)
            return True
    return bool(flag)


def seed_independent(callers: Iterable[tuple[str, Mapping[str, Any]]], lock_kind: str | None) -> bool:
    """True when no caller draws random numbers and the lock is not unfair."""
    if lock_kind == "tas":
        return False
    return not any(_workload_uses_rng(w, p) for w, p in callers)


def scenario_seed_independent(doc: Mapping[str, Any]) -> bool:
    """``seed_independent`` of a resolved scenario document (a saved scenario.yaml)."""
    callers = []
    for c in doc.get("callers") or []:
        params = {k: v for k, v in c.items() if k not in ("workload", "cpus", "background", "name")}
        callers.append((str(c.get("workload")), params))
    cost = ((doc.get("device") or {}).get("cost") or {}) if isinstance(doc.get("device"), dict) else {}
    return seed_independent(callers, cost.get("lock_kind"))


__all__ = ["Interval", "mean_ci", "paired_difference", "noise_verdict", "fmt_interval",
           "spread_frame", "seed_independent", "scenario_seed_independent", "SPREAD_METRICS",
           "CONFIDENCE"]
