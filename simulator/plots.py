"""plots/*.png of a results directory, from saved DataFrames only.

* ``latency_cdf.png``: latency CDF per allocator, log x, vmalloc and vfree apart;
* ``latency_over_time.png``: p50/p99/max per time bin, one column per allocator;
* ``areas_over_time.png``: fragmentation, busy and lazy area counts over time;
* ``lock.png``: lock wait distribution and spin share per CPU.

Every figure names the scenario and device in its title, every axis its unit,
and every allocator has a fixed colour and line style in every figure.  PNGs
carry no software version or date metadata.

No backend is chosen on import: figures are plain ``matplotlib.figure.Figure``
objects (``*_figure(saved)`` returns one, which Jupyter shows inline) and the
``plot_*`` functions save them with the Agg renderer that ``Figure.savefig``
picks for PNG files, whatever backend pyplot uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .report import device_profile, run_wide
from .saved import SavedResults

# one fixed colour per kernel generation (the old policy names are its aliases)
_STYLE = {"linux-4.19": ("#d62728", "-"), "rfc-2018": ("#1f77b4", "--"),
          "linux-5.2": ("#2ca02c", "-."), "linux-5.10": ("#8c564b", ":"),
          "linux-5.15": ("#e377c2", ":"), "linux-6.1": ("#ff7f0e", "-"),
          "linux-6.6": ("#9467bd", "--"), "linux-6.9": ("#17becf", "-.")}
_STYLE.update({"busy-list": _STYLE["linux-4.19"], "free-list": _STYLE["rfc-2018"],
               "augmented-tree": _STYLE["linux-5.2"]})
_EXTRA = ["#7f7f7f", "#bcbd22", "#393b79", "#637939"]
_CDF_POINTS = 512


def style(allocator: str, index: int = 0) -> dict[str, Any]:
    color, ls = _STYLE.get(allocator, (_EXTRA[index % len(_EXTRA)], ":"))
    return {"color": color, "linestyle": ls}


def _allocs(saved: SavedResults) -> list[str]:
    listed = [str(a) for a in saved.scenario.get("allocators") or []]
    frames = [f for f in (saved.summary, saved.ops, saved.timeseries) if "allocator" in f]
    present: list[str] = []
    for f in frames:
        present += [a for a in dict.fromkeys(f["allocator"]) if a not in present]
    return [a for a in listed if a in present] + [a for a in present if a not in listed]


def _title(saved: SavedResults, what: str) -> str:
    sc = saved.scenario
    if sc.get("sweep"):
        (path, values), = sc["sweep"].items()
        where = f"sweep of {path} over {', '.join(map(str, values))}"
        if not str(path).startswith("device"):
            where = f"device {device_profile(sc)} · {where}"
        return f"{what}\nscenario {saved.name} · {where} (simulated)"
    return (f"{what}\nscenario {saved.name} · device {device_profile(sc)} · "
            f"{sc.get('cpus', '?')} CPUs (simulated)")


def _time_axis(t_ns: np.ndarray) -> tuple[float, str]:
    top = float(np.nanmax(t_ns)) if len(t_ns) else 0.0
    if top >= 2e9:
        return 1e9, "s"
    if top >= 2e6:
        return 1e6, "ms"
    return 1e3, "µs"


def _figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (12, 4.8),
            **kw: Any) -> tuple[Figure, Any]:
    """A Figure outside pyplot (no backend, no global state) and its axes."""
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, **kw)
    return fig, axes


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    return path


def steady_limits(ax: Axes, values: Any, axis: str = "y") -> bool:
    """Keep float noise from looking like dynamics: when the values drawn vary
    by less than 1e-9 of their magnitude, centre a plain axis of +-5 % around
    them (no offset notation such as ``1e-12 + 0.25``); returns True then."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return False
    lo, hi = float(v.min()), float(v.max())
    mag = max(abs(lo), abs(hi))
    if hi - lo > 1e-9 * max(mag, 1e-300) and hi != lo:
        return False
    pad = 0.05 * mag if mag else 1.0
    getattr(ax, f"set_{axis}lim")(lo - pad, hi + pad)
    if getattr(ax, f"get_{axis}scale")() == "linear":
        ax.ticklabel_format(axis=axis, useOffset=False, style="plain")  # type: ignore[arg-type]  # 'x' or 'y'
    return True


def log_scale(ax: Axes, axis: str = "x") -> None:
    """A log axis with labels on the decades only (no crowded 2x10^2 3x10^2 ...)."""
    getattr(ax, f"set_{axis}scale")("log")
    a = getattr(ax, f"{axis}axis")
    a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    a.set_minor_formatter(NullFormatter())


def compact(v: float) -> str:
    """200, 5k, 20k, 1.5M: short tick labels."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:g}{suffix}"
    return f"{v:g}"


def share_limits(ax: Axes, values: Any) -> None:
    """A share in [0, 1] (fragmentation) on a 0-based axis of at least 0 .. 0.05,
    so that a share of 1e-6 draws as the flat zero it is, not as a slope."""
    v = np.asarray(values, dtype=float)
    top = float(np.nanmax(v)) if v.size and np.isfinite(v).any() else 0.0
    ax.set_ylim(0.0, min(1.0, max(0.05, 1.1 * top)))
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")


def _no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    # per-axes only: set_xticks([]) would clear the ticks of every axis shared with this one
    ax.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)


def _ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A CDF drawn through at most _CDF_POINTS quantiles (exact at both ends)."""
    q = np.linspace(0.0, 1.0, _CDF_POINTS)
    return np.quantile(values, q), q


_SUMMARY_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999), ("max", 1.0))
_MAX_CALLER_PANELS = 4


def caller_kinds(scenario: dict[str, Any]) -> dict[str, bool]:
    """Caller label -> background?, from a resolved scenario (labels as the engine
    makes them: ``name``, ``name@cpuN`` or ``workload@cpuN``)."""
    out: dict[str, bool] = {}
    for c in scenario.get("callers") or []:
        cpus = c.get("cpus")
        cpus = cpus if isinstance(cpus, list) else [cpus]
        for cpu in cpus:
            name = c.get("name")
            label = ((name if len(cpus) == 1 else f"{name}@cpu{cpu}") if name
                     else f"{c.get('workload')}@cpu{cpu}")
            out[str(label)] = bool(c.get("background"))
    return out


def caller_groups(saved: SavedResults, present: list[str]) -> list[tuple[str, list[str] | None]]:
    """The panels of a per-caller figure: all callers, then each caller (up to
    four), else the foreground / background split."""
    groups: list[tuple[str, list[str] | None]] = [("all callers", None)]
    if len(present) <= 1:
        return groups
    if len(present) <= _MAX_CALLER_PANELS:
        return groups + [(c, [c]) for c in present]
    kinds = caller_kinds(saved.scenario)
    fg = [c for c in present if not kinds.get(c, False)]
    bg = [c for c in present if kinds.get(c, False)]
    return groups + [(f"foreground ({len(fg)} callers)", fg)] * bool(fg) \
        + [(f"background ({len(bg)} callers)", bg)] * bool(bg)


def _callers_of(df: pd.DataFrame) -> list[str]:
    if "caller" not in df or not len(df):
        return []
    col = df["caller"]
    cats = list(col.cat.categories) if hasattr(col, "cat") else []
    seen = set(col.dropna().astype(str))
    return [c for c in cats if c in seen] or sorted(seen)


def _summary_cdf(ax: Axes, saved: SavedResults, op: str, allocs: list[str]) -> bool:
    """Stats-only runs (no per-op records): the summary's percentiles as CDF points."""
    s, drawn = run_wide(saved.summary), False
    for i, a in enumerate(allocs):
        rows = s[s.allocator == a] if "allocator" in s else s.iloc[0:0]
        cols = [f"{op}_{k}_ns" for k, _ in _SUMMARY_QUANTILES]
        if not len(rows) or any(c not in rows for c in cols):
            continue
        x = [float(rows[c].mean()) for c in cols]
        y = [q for _, q in _SUMMARY_QUANTILES]
        ax.plot(x, y, marker="o", drawstyle="steps-post", label=f"{a} (summary percentiles, "
                f"mean of {len(rows)} seeds)", **style(a, i))
        drawn = True
    return drawn


def _hist_cdf(saved: SavedResults, a: str, metric: str, ops: tuple[str, ...],
              callers: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Stats-only runs: a CDF from the saved log-bucket histograms (all seeds;
    the given callers' only when the histograms are per caller), and its count."""
    h = saved.histograms
    if not len(h) or "metric" not in h:
        return None
    sub = h[(h.allocator == a) & (h.metric == metric) & h.op.isin(ops)]
    if callers is not None:
        if "caller" not in sub:
            return None
        sub = sub[sub.caller.astype(str).isin(callers)]
    if not len(sub):
        return None
    g = sub.groupby("value_ns", sort=True)["count"].sum()
    n = int(g.sum())
    return g.index.to_numpy(dtype=float), np.cumsum(g.to_numpy()) / n, n


def latency_cdf_figure(saved: SavedResults) -> Figure:
    """Latency CDF per allocator: rows vmalloc / vfree, columns all callers and
    each caller (or foreground / background when there are many)."""
    ops, allocs = saved.ops, _allocs(saved)
    present = _callers_of(ops) if len(ops) else _callers_of(saved.histograms)
    groups = caller_groups(saved, present)
    fig, axes = _figure(2, len(groups), figsize=(5.2 * len(groups) + 1, 8.5), sharey=True, squeeze=False)
    for col, (gname, members) in enumerate(groups):
        for row, op in enumerate(("vmalloc", "vfree")):
            ax = axes[row][col]
            drawn = False
            for i, a in enumerate(allocs):
                if not len(ops):
                    break
                sel = (ops.allocator == a) & (ops.op == op)
                if members is not None:
                    sel &= ops.caller.astype(str).isin(members)
                lat = ops.loc[sel, "latency_ns"].to_numpy(dtype=float)
                lat = lat[lat > 0]
                if len(lat):
                    x, y = _ecdf(lat)
                    ax.plot(x, y, label=f"{a} (n={len(lat):,})", drawstyle="steps-post", **style(a, i))
                    drawn = True
            for i, a in enumerate(allocs if not drawn else []):
                cdf = _hist_cdf(saved, a, "latency", (op,), members)
                if cdf is not None:
                    x, y, n = cdf
                    ax.plot(x, y, label=f"{a} (n={n:,}, histogram)", drawstyle="steps-post", **style(a, i))
                    drawn = True
            if not drawn and members is None:
                drawn = _summary_cdf(ax, saved, op, allocs)
            if drawn:
                log_scale(ax, "x")
                ax.set_xlabel(f"{op}() latency (ns, log scale)")
                ax.grid(True, which="both", alpha=0.3)
                ax.legend(loc="lower right", title="allocator", fontsize="small")
            else:
                _no_data(ax, f"no {op} records\n(no such ops, or kept without per-caller detail)")
            ax.set_title(f"{op}(): {gname}", fontsize="medium")
            if col == 0:
                ax.set_ylabel("fraction of operations ≤ latency")
    fig.suptitle(_title(saved, "Latency CDF per allocator and caller"))
    return fig


def plot_latency_cdf(saved: SavedResults, d: Path) -> Path:
    return _save(latency_cdf_figure(saved), d / "latency_cdf.png")


_PCT_LINES = {"p50": ("-", 1.5), "p99": ("--", 1.2), "max": (":", 1.0)}


def _percentile_panel(ax: Axes, x: np.ndarray, ys: list[Any], color: str, title: str,
                      op: str, unit: str, marker: str | None = None) -> None:
    """One panel of p50 / p99 / max latency lines over simulated time."""
    for (name, (ls, lw)), y in zip(_PCT_LINES.items(), ys):
        ax.plot(x, np.asarray(y, dtype=float), ls, lw=lw, color=color, label=name,
                marker=marker, markersize=4)
    log_scale(ax, "y")
    steady_limits(ax, np.concatenate([np.asarray(y, dtype=float) for y in ys]) if ys else [])
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel(f"{op}() latency (ns, log)")


def latency_over_time_figure(saved: SavedResults, bins: int = 60) -> Figure:
    if not len(saved.ops) and len(saved.timeseries) and "vmalloc_p50_ns" in saved.timeseries:
        return _latency_over_time_from_samples(saved)
    ops, allocs = saved.ops, _allocs(saved)
    n = max(len(allocs), 1)
    fig, axes = _figure(2, n, figsize=(5.5 * n, 7), sharey="row", sharex=True, squeeze=False)
    scale, unit = _time_axis(ops["t_ns"].to_numpy() if len(ops) else np.array([]))
    for col, a in enumerate(allocs or ["(none)"]):
        for row, op in enumerate(("vmalloc", "vfree")):
            ax = axes[row][col]
            sub = ops.loc[(ops.allocator == a) & (ops.op == op), ["t_ns", "latency_ns"]] if len(ops) else None
            if sub is None or not len(sub):
                _no_data(ax, f"no per-op {op} records")
                continue
            t = sub["t_ns"].to_numpy(dtype=float)
            edges = np.linspace(t.min(), t.max() + 1, bins + 1)
            idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
            g = sub["latency_ns"].groupby(idx)
            mid = (edges[:-1] + edges[1:]) / 2 / scale
            stats = pd.DataFrame({"p50": g.quantile(0.5), "p99": g.quantile(0.99), "max": g.max()})
            _percentile_panel(ax, mid[stats.index.to_numpy()], [stats[k] for k in _PCT_LINES],
                              style(a, col)["color"], f"{a}: {op}()", op, unit)
    fig.suptitle(_title(saved, f"Latency p50 / p99 / max over simulated time ({bins} bins, all seeds)"))
    return fig


def plot_latency_over_time(saved: SavedResults, d: Path, bins: int = 60) -> Path:
    return _save(latency_over_time_figure(saved, bins), d / "latency_over_time.png")


def _latency_over_time_from_samples(saved: SavedResults) -> Figure:
    """Stats-only runs: p50/p99/max per sample interval from the time series."""
    ts, allocs = saved.timeseries, _allocs(saved)
    n = max(len(allocs), 1)
    fig, axes = _figure(2, n, figsize=(5.5 * n, 7), sharey="row", sharex=True, squeeze=False)
    scale, unit = _time_axis(ts["t_ns"].to_numpy())
    for col, a in enumerate(allocs or ["(none)"]):
        sub = _first_seed(ts, a)
        for row, op in enumerate(("vmalloc", "vfree")):
            ax = axes[row][col]
            keys = [f"{op}_{k}_ns" for k in ("p50", "p99", "max")]
            if not len(sub) or sub[keys[0]].isna().all():
                _no_data(ax, f"no {op} in any sample interval")
                continue
            _percentile_panel(ax, sub["t_ns"].to_numpy() / scale, [sub[k] for k in keys],
                              style(a, col)["color"], f"{a}: {op}() (seed {sub.seed.iloc[0]})", op, unit,
                              marker=".")
    fig.suptitle(_title(saved, "Latency p50 / p99 / max per sample interval over simulated time"))
    return fig


def _first_seed(df: pd.DataFrame, a: str) -> pd.DataFrame:
    sub = df[df.allocator == a]
    return sub[sub.seed == sub.seed.min()] if len(sub) else sub


def areas_over_time_figure(saved: SavedResults) -> Figure:
    """Fragmentation, busy and lazy areas over time: every seed, one line each."""
    ts, allocs = saved.timeseries, _allocs(saved)
    rows = (("fragmentation", "fragmentation\n(1 - largest/total free)"),
            ("busy_areas", "busy areas (count)"), ("lazy_areas", "lazily freed areas (count)"))
    fig, axes = _figure(len(rows), 1, figsize=(11, 8), sharex=True)
    scale, unit = _time_axis(ts["t_ns"].to_numpy() if len(ts) else np.array([]))
    nseeds = int(ts["seed"].nunique()) if len(ts) and "seed" in ts else 0
    for ax, (col, label) in zip(axes, rows):
        drawn: list[np.ndarray] = []
        for i, a in enumerate(allocs):
            sub = ts[ts.allocator == a] if len(ts) and col in ts else pd.DataFrame()
            for j, (seed, run) in enumerate(sub.groupby("seed", sort=True) if len(sub) else []):
                y = run[col].to_numpy(dtype=float)
                ax.plot(run["t_ns"].to_numpy() / scale, y, lw=1.1 if nseeds > 1 else 1.3,
                        alpha=0.75 if nseeds > 1 else 1.0,
                        label=((f"{a} ({nseeds} seeds)" if nseeds > 1 else f"{a} (seed {seed})")
                               if j == 0 else None),
                        **style(a, i))
                drawn.append(y)
        if drawn:
            ax.legend(loc="best", fontsize="small", title="allocator")
            ax.grid(True, alpha=0.3)
            if col == "fragmentation":
                share_limits(ax, np.concatenate(drawn))
            else:
                steady_limits(ax, np.concatenate(drawn))
        else:
            _no_data(ax, f"no {col} samples")
        ax.set_ylabel(label)
        ax.set_xlabel(f"simulated time ({unit})")
    what = "every seed" if nseeds > 1 else "one seed"
    fig.suptitle(_title(saved, f"Fragmentation and busy / lazy area counts over time ({what})"))
    return fig


def plot_areas_over_time(saved: SavedResults, d: Path) -> Path:
    return _save(areas_over_time_figure(saved), d / "areas_over_time.png")


def spin_share(saved: SavedResults) -> pd.DataFrame:
    """Spin time per CPU / simulated duration, per allocator (first seed).

    ``spin_ns_cpu<N>`` samples are read as cumulative when they never
    decrease (then the last sample is the total), else summed."""
    ts, out = saved.timeseries, {}
    cols = sorted((c for c in ts.columns if c.startswith("spin_ns_cpu")),
                  key=lambda c: int(c.removeprefix("spin_ns_cpu") or 0))
    for a in _allocs(saved):
        sub = _first_seed(ts, a) if len(ts) else ts
        if not len(sub) or not cols:
            continue
        dur = float(sub["t_ns"].max()) or 1.0
        vals = []
        for c in cols:
            v = sub[c].to_numpy(dtype=float)
            total = v[-1] if np.all(np.diff(v) >= 0) else v.sum()
            vals.append(total / dur)
        out[a] = vals
    return pd.DataFrame(out, index=[c.removeprefix("spin_ns_") for c in cols])


def lock_figure(saved: SavedResults) -> Figure:
    ops, allocs = saved.ops, _allocs(saved)
    fig, (ax1, ax2) = _figure(1, 2, figsize=(12, 4.8))
    drawn = False
    for i, a in enumerate(allocs):
        if not len(ops) or "lock_wait_ns" not in ops:
            break
        w = ops.loc[ops.allocator == a, "lock_wait_ns"].to_numpy(dtype=float)
        waited = w[w > 0]
        if len(waited):
            x, y = _ecdf(waited)
            ax1.plot(x, y, drawstyle="steps-post", label=f"{a}: {len(waited) / len(w):.1%} of ops waited",
                     **style(a, i))
            drawn = True
    for i, a in enumerate(allocs if not drawn else []):
        cdf = _hist_cdf(saved, a, "lock_wait", ("vmalloc", "vfree"))
        lat = _hist_cdf(saved, a, "latency", ("vmalloc", "vfree"))
        if cdf is not None and lat is not None:
            x, y, n = cdf
            ax1.plot(x, y, drawstyle="steps-post", label=f"{a}: {n / lat[2]:.1%} of ops waited "
                     "(histogram)", **style(a, i))
            drawn = True
    if drawn:
        log_scale(ax1, "x")
        ax1.set_xlabel("vmap_area_lock wait of ops that waited (ns, log scale)")
        ax1.set_ylabel("fraction of waiting ops ≤ wait")
        ax1.grid(True, which="both", alpha=0.3)
        ax1.legend(loc="lower right", fontsize="small", title="allocator")
    else:
        _no_data(ax1, "no operation waited for the lock\n(or per-op records not kept)")
    ax1.set_title("lock wait distribution")
    share = spin_share(saved)
    if share.size:
        width = 0.8 / max(len(share.columns), 1)
        x = np.arange(len(share.index))
        for i, a in enumerate(share.columns):
            ax2.bar(x + i * width - 0.4 + width / 2, 100 * share[a].to_numpy(), width,
                    label=a, color=style(a, i)["color"], edgecolor="black", linewidth=0.5)
        ax2.set_xticks(x, list(share.index), rotation=45 if len(x) > 16 else 0, fontsize="small")
        ax2.set_xlabel("CPU")
        ax2.set_ylabel("time spent spinning (% of simulated time)")
        ax2.legend(fontsize="small", title="allocator")
        ax2.grid(True, axis="y", alpha=0.3)
    else:
        _no_data(ax2, "no spin samples")
    ax2.set_title("spin share per CPU (first seed)")
    fig.suptitle(_title(saved, "vmap_area_lock: wait distribution and spinning"))
    return fig


def plot_lock(saved: SavedResults, d: Path) -> Path:
    return _save(lock_figure(saved), d / "lock.png")


def make_plots(saved: SavedResults, d: Path) -> list[Path]:
    """All plots of one results directory into ``d``; returns their paths."""
    d.mkdir(parents=True, exist_ok=True)
    return [plot_latency_cdf(saved, d), plot_latency_over_time(saved, d),
            plot_areas_over_time(saved, d), plot_lock(saved, d)]


# ------------------------------------------------------------------ sweeps



__all__ = ["make_plots", "spin_share", "style", "steady_limits",
           "latency_cdf_figure", "latency_over_time_figure", "areas_over_time_figure", "lock_figure",
           "caller_groups", "caller_kinds"]
