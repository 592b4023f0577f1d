"""plots/sweep.png of a sweep's top directory (split from :mod:`simulator.plots`).

The swept value is the x axis: numeric when every value is a number (log
scale, base 2 for powers of two, when the values span a decade or more; a
tick at every value), else the point labels.  Panels: the loop time (not for
runs stopped at a simulated time, whose loops all last that time) and vmalloc
p50 / p99 for all callers and per caller, mean over seeds with 95 % CI error
bars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from .saved import SavedResults
from .plots import _MAX_CALLER_PANELS, _callers_of, _figure, _save, _title, caller_groups, log_scale, style
from .report import run_wide, time_limited


def sweep_axis(saved: SavedResults) -> tuple[list[str], list[Any], bool]:
    """(point labels, x values, numeric?): the swept values when they are all
    numbers (``jobs``, ``cpus``, a cost parameter), else the point labels."""
    labels = [label for label, _ in saved.points]
    sweep = saved.scenario.get("sweep") or {}
    values = list(next(iter(sweep.values()))) if sweep else []
    numeric = (len(values) == len(labels) and bool(values)
               and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values))
    return labels, (values if numeric else labels), numeric


def _numeric_x(ax: Axes, values: list[float]) -> None:
    """A numeric x axis with a tick at every swept value, plain labels, and a
    log scale (base 2 for powers of two) when the values span a decade or more."""
    v = np.asarray(values, dtype=float)
    if len(v) > 1 and v.min() > 0 and v.max() / v.min() >= 10:
        pow2 = all(float(x).is_integer() and int(x) & (int(x) - 1) == 0 for x in v)
        ax.set_xscale("log", base=2 if pow2 else 10)
    ax.xaxis.set_major_locator(FixedLocator(v))  # type: ignore[arg-type]  # an array of floats
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{x:g}" for x in v], rotation=0 if len(v) <= 10 else 45, fontsize="small")


def _seed_ci(values: Any) -> tuple[float, float]:
    from .spread import mean_ci
    iv = mean_ci(values)
    return iv.mean, (0.0 if np.isnan(iv.low) else iv.half_width)


def sweep_figure(saved: SavedResults) -> Figure:
    """Per point: the mean time per vmalloc/vfree, the loop time (unless the runs
    stop at a simulated time) and vmalloc p50 / p99 per caller, mean over seeds
    with 95 % CI error bars; one curve per allocator (kernel generation)."""
    s = saved.summary
    labels, xs, numeric = sweep_axis(saved)
    allocs = list(dict.fromkeys(s["allocator"])) if "allocator" in s else []
    wide = run_wide(s)
    callers = _callers_of(s.dropna(subset=["caller"])) if "caller" in s else []
    groups = caller_groups(saved, callers) if callers else [("all callers", None)]
    groups = groups[:1 + _MAX_CALLER_PANELS]
    stopped_by_time = any(time_limited(p.scenario, run_wide(p.summary)) for _, p in saved.points)
    panels: list[Any] = ([("time per op", None)] + ([] if stopped_by_time else [("loop time", None)])
                         + groups)
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = _figure(nrows, ncols, figsize=(5.2 * ncols + 0.5, 4.4 * nrows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    nseeds = int(wide["seed"].nunique()) if "seed" in wide and len(wide) else 0
    spread = f"mean ± 95 % CI over {nseeds} seeds" if nseeds > 1 else "one seed"
    x = np.asarray(xs, dtype=float) if numeric else np.arange(len(labels), dtype=float)
    for ax, (title, members) in zip(flat, panels):
        for i, a in enumerate(allocs):
            st = style(a, i)
            if title == "loop time":
                stats = [("loop_time_ns", "-", "o", 1e6)]
                rows = wide[wide.allocator == a]
            elif title == "time per op":
                stats = [("mean_ns", "-", "o", 1.0)]
                rows = wide[wide.allocator == a]
            else:
                stats = [("vmalloc_p50_ns", "-", "o", 1.0), ("vmalloc_p99_ns", "--", "s", 1.0)]
                rows = (wide if members is None else s[s.caller.astype(str).isin(members)])
                rows = rows[rows.allocator == a]
            for col, ls, marker, scale in stats:
                if col not in rows:
                    continue
                # a group of several callers: per seed, the mean of its callers' percentiles
                mc = [_seed_ci(rows[rows.point == lab].groupby("seed")[col].mean() / scale)
                      for lab in labels]
                y = np.array([m for m, _ in mc])
                err = np.array([e for _, e in mc])
                name = (col.removeprefix("vmalloc_").removesuffix("_ns")
                        if title not in ("loop time", "time per op") else "")
                ax.errorbar(x, y, yerr=err if nseeds > 1 else None, color=st["color"], linestyle=ls,
                            marker=marker, markersize=4, capsize=3,
                            label=f"{a} {name}".strip())
        if title == "loop time":
            ax.set_ylabel(f"loop time (ms; {spread})")
        elif title == "time per op":
            ax.set_ylabel(f"mean vmalloc/vfree time (ns; {spread})")
            log_scale(ax, "y")
        else:
            ax.set_ylabel(f"vmalloc() latency (ns; {spread})")
            log_scale(ax, "y")
        several = members is not None and len(members) > 1
        ax.set_title(title if title in ("loop time", "time per op") else f"vmalloc p50 / p99: {title}"
                     + (" (mean over its callers)" if several else ""), fontsize="medium")
        if numeric:
            _numeric_x(ax, list(x))
            (path, _), = (saved.scenario.get("sweep") or {"point": []}).items()
            ax.set_xlabel(str(path))
        else:
            ax.set_xticks(x, labels, rotation=30, ha="right", fontsize="small")
            ax.set_xlabel("sweep point")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(title="allocator", fontsize="x-small")
    for ax in flat[len(panels):]:
        ax.set_visible(False)
    what = "time per op, vmalloc p50 / p99 per caller" + ("" if stopped_by_time else ", loop time")
    fig.suptitle(_title(saved, f"Sweep: {what} per point"))
    return fig


def make_sweep_plots(saved: SavedResults, d: Path) -> list[Path]:
    """plots/sweep.png of a sweep's top directory."""
    d.mkdir(parents=True, exist_ok=True)
    return [_save(sweep_figure(saved), d / "sweep.png")]
