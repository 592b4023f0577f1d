"""plots/*.png of a results directory, from saved DataFrames only.

* ``latency_cdf.png``: latency CDF per allocator, log x, vmalloc and vfree apart;
* ``latency_over_time.png``: p50/p99/max per time bin, one column per allocator;
* ``areas_over_time.png``: fragmentation, busy and lazy area counts over time;
* ``lock.png``: lock wait distribution and spin share per CPU.

Every figure names the scenario and device in its title, every axis its unit,
and every allocator has a fixed colour and line style in every figure.  PNGs
carry no software version or date metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .output import SavedResults  # noqa: E402
from .report import device_profile  # noqa: E402

_STYLE = {"busy-list": ("#d62728", "-"), "free-list": ("#1f77b4", "--"),
          "augmented-tree": ("#2ca02c", "-.")}
_EXTRA = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
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


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path


def _no_data(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A CDF drawn through at most _CDF_POINTS quantiles (exact at both ends)."""
    q = np.linspace(0.0, 1.0, _CDF_POINTS)
    return np.quantile(values, q), q


_SUMMARY_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999), ("max", 1.0))


def _summary_cdf(ax: plt.Axes, saved: SavedResults, op: str, allocs: list[str]) -> bool:
    """Stats-only runs (no per-op records): the summary's percentiles as CDF points."""
    s, drawn = saved.summary, False
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


def _hist_cdf(saved: SavedResults, a: str, metric: str, ops: tuple[str, ...]
              ) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Stats-only runs: a CDF from the saved log-bucket histograms (all seeds),
    and its count; None when there is none."""
    h = saved.histograms
    if not len(h) or "metric" not in h:
        return None
    sub = h[(h.allocator == a) & (h.metric == metric) & h.op.isin(ops)]
    if not len(sub):
        return None
    g = sub.groupby("value_ns", sort=True)["count"].sum()
    n = int(g.sum())
    return g.index.to_numpy(dtype=float), np.cumsum(g.to_numpy()) / n, n


def plot_latency_cdf(saved: SavedResults, d: Path) -> Path:
    ops, allocs = saved.ops, _allocs(saved)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True, layout="constrained")
    for ax, op in zip(axes, ("vmalloc", "vfree")):
        drawn = False
        for i, a in enumerate(allocs):
            if not len(ops):
                break
            lat = ops.loc[(ops.allocator == a) & (ops.op == op), "latency_ns"].to_numpy(dtype=float)
            lat = lat[lat > 0]
            if len(lat):
                x, y = _ecdf(lat)
                ax.plot(x, y, label=f"{a} (n={len(lat):,})", drawstyle="steps-post", **style(a, i))
                drawn = True
        for i, a in enumerate(allocs if not drawn else []):
            cdf = _hist_cdf(saved, a, "latency", (op,))
            if cdf is not None:
                x, y, n = cdf
                ax.plot(x, y, label=f"{a} (n={n:,}, histogram)", drawstyle="steps-post", **style(a, i))
                drawn = True
        if not drawn:
            drawn = _summary_cdf(ax, saved, op, allocs)
        if drawn:
            ax.set_xscale("log")
            ax.set_xlabel(f"{op}() latency (ns, log scale)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(loc="lower right", title="allocator")
        else:
            _no_data(ax, f"no per-op {op} records\n(metrics.keep_ops: false or no ops)")
        ax.set_title(f"{op}()")
        ax.set_ylabel("fraction of operations ≤ latency")
    fig.suptitle(_title(saved, "Latency CDF per allocator"))
    return _save(fig, d / "latency_cdf.png")


_PCT_LINES = {"p50": ("-", 1.5), "p99": ("--", 1.2), "max": (":", 1.0)}


def _percentile_panel(ax: plt.Axes, x: np.ndarray, ys: list[Any], color: str, title: str,
                      op: str, unit: str, marker: str | None = None) -> None:
    """One panel of p50 / p99 / max latency lines over simulated time."""
    for (name, (ls, lw)), y in zip(_PCT_LINES.items(), ys):
        ax.plot(x, np.asarray(y, dtype=float), ls, lw=lw, color=color, label=name,
                marker=marker, markersize=4)
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    ax.set_xlabel(f"simulated time ({unit})")
    ax.set_ylabel(f"{op}() latency (ns, log)")


def plot_latency_over_time(saved: SavedResults, d: Path, bins: int = 60) -> Path:
    if not len(saved.ops) and len(saved.timeseries) and "vmalloc_p50_ns" in saved.timeseries:
        return _latency_over_time_from_samples(saved, d)
    ops, allocs = saved.ops, _allocs(saved)
    n = max(len(allocs), 1)
    fig, axes = plt.subplots(2, n, figsize=(5.5 * n, 7), sharey="row", sharex=True,
                             squeeze=False, layout="constrained")
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
    return _save(fig, d / "latency_over_time.png")


def _latency_over_time_from_samples(saved: SavedResults, d: Path) -> Path:
    """Stats-only runs: p50/p99/max per sample interval from the time series."""
    ts, allocs = saved.timeseries, _allocs(saved)
    n = max(len(allocs), 1)
    fig, axes = plt.subplots(2, n, figsize=(5.5 * n, 7), sharey="row", sharex=True,
                             squeeze=False, layout="constrained")
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
    return _save(fig, d / "latency_over_time.png")


def _first_seed(df: pd.DataFrame, a: str) -> pd.DataFrame:
    sub = df[df.allocator == a]
    return sub[sub.seed == sub.seed.min()] if len(sub) else sub


def plot_areas_over_time(saved: SavedResults, d: Path) -> Path:
    ts, allocs = saved.timeseries, _allocs(saved)
    rows = (("fragmentation", "fragmentation\n(1 - largest/total free)"),
            ("busy_areas", "busy areas (count)"), ("lazy_areas", "lazily freed areas (count)"))
    fig, axes = plt.subplots(len(rows), 1, figsize=(11, 8), sharex=True, layout="constrained")
    scale, unit = _time_axis(ts["t_ns"].to_numpy() if len(ts) else np.array([]))
    for ax, (col, label) in zip(axes, rows):
        drawn = False
        for i, a in enumerate(allocs):
            sub = _first_seed(ts, a) if len(ts) and col in ts else pd.DataFrame()
            if len(sub):
                ax.plot(sub["t_ns"].to_numpy() / scale, sub[col].to_numpy(dtype=float),
                        label=f"{a} (seed {sub.seed.iloc[0]})", lw=1.3, **style(a, i))
                drawn = True
        if drawn:
            ax.legend(loc="best", fontsize="small", title="allocator")
            ax.grid(True, alpha=0.3)
        else:
            _no_data(ax, f"no {col} samples")
        ax.set_ylabel(label)
        ax.set_xlabel(f"simulated time ({unit})")
    fig.suptitle(_title(saved, "Fragmentation and busy / lazy area counts over time"))
    return _save(fig, d / "areas_over_time.png")


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


def plot_lock(saved: SavedResults, d: Path) -> Path:
    ops, allocs = saved.ops, _allocs(saved)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
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
        ax1.set_xscale("log")
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
        ax2.set_xticks(x, list(share.index))
        ax2.set_xlabel("CPU")
        ax2.set_ylabel("time spent spinning (% of simulated time)")
        ax2.legend(fontsize="small", title="allocator")
        ax2.grid(True, axis="y", alpha=0.3)
    else:
        _no_data(ax2, "no spin samples")
    ax2.set_title("spin share per CPU (first seed)")
    fig.suptitle(_title(saved, "vmap_area_lock: wait distribution and spinning"))
    return _save(fig, d / "lock.png")


def make_plots(saved: SavedResults, d: Path) -> list[Path]:
    """All plots of one results directory into ``d``; returns their paths."""
    d.mkdir(parents=True, exist_ok=True)
    return [plot_latency_cdf(saved, d), plot_latency_over_time(saved, d),
            plot_areas_over_time(saved, d), plot_lock(saved, d)]


def make_sweep_plots(saved: SavedResults, d: Path) -> list[Path]:
    """Loop time and vmalloc p99 against the swept value, one line per allocator."""
    d.mkdir(parents=True, exist_ok=True)
    s = saved.summary
    labels = [label for label, _ in saved.points]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    allocs = list(dict.fromkeys(s["allocator"])) if "allocator" in s else []
    for ax, col, ylabel in ((axes[0], "loop_time_ns", "loop time (ms, mean over seeds)"),
                            (axes[1], "vmalloc_p99_ns", "vmalloc() p99 latency (ns, mean over seeds)")):
        for i, a in enumerate(allocs):
            if col not in s:
                continue
            g = s[s.allocator == a].groupby("point")[col].mean()
            y = [g.get(lab, np.nan) for lab in labels]
            y = np.array(y, dtype=float) / (1e6 if col == "loop_time_ns" else 1)
            ax.plot(range(len(labels)), y, marker="o", label=a, **style(a, i))
        ax.set_xticks(range(len(labels)), labels)
        ax.set_xlabel("sweep point")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(title="allocator", fontsize="small")
    fig.suptitle(_title(saved, "Sweep: loop time and vmalloc p99 per point"))
    return [_save(fig, d / "sweep.png")]


__all__ = ["make_plots", "make_sweep_plots", "spin_share", "style"]
