"""The report's tables over seeds and callers, and the helpers the report's
sections share (split from :mod:`simulator.report`, which imports this module).

Mean ± 95 % CI per allocator (``spread.csv``), the allocator differences
against the seed-to-seed noise, a table per caller and the callers whose
latency differs most between allocators, lib/test_vmalloc.c results and the
failures by design.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .saved import SavedResults
from .spread import fmt_interval, mean_ci, noise_verdict, paired_difference, spread_frame


def run_wide(summary: Any) -> Any:
    """The run-wide rows of a summary (per-caller rows carry a ``caller``)."""
    if "caller" in summary and len(summary):
        return summary[summary["caller"].isna()]
    return summary

def _allocators(saved: SavedResults) -> list[str]:
    listed = [str(a) for a in saved.scenario.get("allocators") or []]
    wide = run_wide(saved.summary)
    present = list(dict.fromkeys(wide["allocator"])) if "allocator" in wide else []
    return [a for a in listed if a in present] + [a for a in present if a not in listed]

def _per_seed(s: Any, allocator: str, col: str) -> dict[int, float]:
    rows = s[s.allocator == allocator]
    return {int(k): float(v) for k, v in zip(rows["seed"], rows[col]) if not np.isnan(float(v))}

def time_limited(scenario: dict[str, Any], summary: Any = None) -> bool:
    """Runs stopped by simulated time only: every allocator's loop lasts the
    same time, so a loop-time comparison says nothing (compare ops, latency).
    With the summary at hand, only when every run really reached the stop
    time (workloads that end by themselves first still compare)."""
    stop = scenario.get("stop") or {}
    if stop.get("iterations") is not None or stop.get("time") is None:
        return False
    if summary is not None and "sim_time_ns" in summary and len(summary):
        return bool((summary["sim_time_ns"] >= float(stop["time"])).all())
    return True

def _ns(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{int(round(float(v))):,}"

def markdown_table(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "(no runs)\n"
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    out += ["| " + " | ".join(r[c] for c in cols) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _mean_ci_text(values: Any, kind: str) -> str:
    iv = mean_ci(values)
    if kind == "pct":
        return fmt_interval(iv, lambda v: f"{100 * v:.2f}%")
    if kind == "us":
        return fmt_interval(iv, lambda v: f"{v / 1000:,.0f}")
    return fmt_interval(iv)

def spread_rows(saved: SavedResults) -> list[dict[str, str]]:
    """Per allocator: the mean over seeds ± the 95 % CI half-width (Student t)."""
    s = run_wide(saved.summary)
    if not len(s) or "allocator" not in s:
        return []
    cols = [("ops", "ops", "n"), ("loop_time_ns", "loop time (us)", "us"),
            ("vmalloc_p50_ns", "vmalloc p50 (ns)", "n"), ("vmalloc_p99_ns", "vmalloc p99 (ns)", "n"),
            ("vfree_p50_ns", "vfree p50 (ns)", "n"), ("vfree_p99_ns", "vfree p99 (ns)", "n"),
            ("lock_wait_share", "lock wait share", "pct"), ("purges", "purges", "n"),
            ("enomem", "ENOMEMs", "n"), ("final_fragmentation", "final fragmentation", "pct")]
    rows = []
    for a in _allocators(saved):
        g = s[s.allocator == a]
        row = {"allocator": a, "seeds": str(g["seed"].nunique())}
        for col, title, kind in cols:
            if col in g:
                row[title] = _mean_ci_text(g[col].astype(float), kind)
        rows.append(row)
    return rows

#: the metrics compared between allocators (column, label, unit scale, unit)
_DIFF_METRICS = (("loop_time_ns", "loop time", 1000, "us"), ("vmalloc_p50_ns", "vmalloc p50", 1, "ns"),
                 ("vmalloc_p99_ns", "vmalloc p99", 1, "ns"), ("vfree_p50_ns", "vfree p50", 1, "ns"),
                 ("vfree_p99_ns", "vfree p99", 1, "ns"))

def difference_rows(saved: SavedResults) -> list[dict[str, str]]:
    """Each allocator against the first listed, per metric: the mean paired
    difference over seeds, its 95 % CI, and whether it is inside the noise."""
    s, allocs = run_wide(saved.summary), _allocators(saved)
    if len(allocs) < 2 or not len(s):
        return []
    metrics = [m for m in _DIFF_METRICS if m[0] in s
               and not (m[0] == "loop_time_ns" and time_limited(saved.scenario, s))]
    rows = []
    for new in allocs[1:]:
        for col, label, scale, unit in metrics:
            a, b = _per_seed(s, allocs[0], col), _per_seed(s, new, col)
            d = paired_difference({k: v / scale for k, v in a.items()}, {k: v / scale for k, v in b.items()})
            if not d.n:
                continue
            ci = "-" if np.isnan(d.low) else f"{_signed(d.low)} .. {_signed(d.high)}"
            rows.append({"allocator": f"{new} - {allocs[0]}", "metric": f"{label} ({unit})",
                         "mean difference": _signed(d.mean), "95% CI": ci, "seeds": str(d.n),
                         "verdict": noise_verdict(d)})
    return rows

def _signed(v: float) -> str:
    return f"{v:+,.0f}" if abs(v) >= 100 else f"{v:+.3g}"

def caller_rows(saved: SavedResults, allocator: str) -> list[dict[str, str]]:
    """One row per caller of ``allocator``: mean over seeds (± 95 % CI half-width
    with several seeds) of its ops, latency percentiles and lock wait share."""
    s = saved.summary
    if "caller" not in s:
        return []
    per = s[s["caller"].notna() & (s.allocator == allocator)]
    rows = []
    for caller, g in per.groupby("caller", sort=False):
        row = {"caller": str(caller), "seeds": str(g["seed"].nunique())}
        for col, title, kind in (("ops", "ops", "n"), ("vmalloc_p50_ns", "vmalloc p50 (ns)", "n"),
                                 ("vmalloc_p99_ns", "vmalloc p99 (ns)", "n"),
                                 ("vfree_p50_ns", "vfree p50 (ns)", "n"),
                                 ("vfree_p99_ns", "vfree p99 (ns)", "n"),
                                 ("lock_wait_share", "lock wait share", "pct")):
            row[title] = _mean_ci_text(g[col].astype(float), kind) if col in g else "-"
        rows.append(row)
    return rows

def caller_flags(saved: SavedResults, top: int = 3) -> list[str]:
    """The callers whose vmalloc/vfree p50 or p99 differs most between allocators
    (ratio of the largest to the smallest mean over seeds), with the noise verdict
    of the paired difference when there are several seeds."""
    s, allocs = saved.summary, _allocators(saved)
    if "caller" not in s or len(allocs) < 2:
        return []
    per = s[s["caller"].notna()]
    found = []
    for caller, g in per.groupby("caller", sort=False):
        for col in ("vmalloc_p50_ns", "vmalloc_p99_ns", "vfree_p50_ns", "vfree_p99_ns"):
            means = {a: float(g[g.allocator == a][col].mean()) for a in allocs if (g.allocator == a).any()}
            means = {a: v for a, v in means.items() if not np.isnan(v) and v > 0}
            if len(means) < 2:
                continue
            lo_a, hi_a = min(means, key=lambda a: means[a]), max(means, key=lambda a: means[a])
            ratio = means[hi_a] / means[lo_a]
            d = paired_difference(_per_seed(g, lo_a, col), _per_seed(g, hi_a, col))
            found.append((ratio, str(caller), col, lo_a, hi_a, means, d))
    found.sort(key=lambda x: -x[0])
    lines = []
    seen: set[str] = set()
    for ratio, caller, col, lo_a, hi_a, means, d in found:
        if caller in seen or ratio < 1.05:
            continue
        seen.add(caller)
        what = col.removesuffix("_ns").replace("_", " ")
        lines.append(f"- **{caller}**: {what} {means[lo_a]:,.0f} ns ({lo_a}) vs {means[hi_a]:,.0f} ns "
                     f"({hi_a}), x{ratio:.2f}; {noise_verdict(d)}")
        if len(lines) >= top:
            break
    return lines

def _caller_section(saved: SavedResults) -> str:
    s = saved.summary
    if "caller" not in s or not s["caller"].notna().any():
        return ""
    out = ["## Per caller\n",
           "The pooled figures above can hide a caller whose latency changes between allocators; "
           "each caller's own figures (measured ops only; mean over seeds ± 95 % CI half-width "
           "with several seeds; lock wait share: its lock wait over its own latency):\n"]
    flags = caller_flags(saved)
    if flags:
        out.append("Callers whose latency differs most between allocators:\n\n" + "\n".join(flags) + "\n")
    for a in _allocators(saved):
        out.append(f"### {a}\n\n" + markdown_table(caller_rows(saved, a)))
    return "\n".join(out)

def _by_design_note(saved: SavedResults) -> str:
    s = run_wide(saved.summary)
    if "failed_by_design" not in s or not (s["failed_by_design"].fillna(0) > 0).any():
        return ""
    n = int(s["failed_by_design"].fillna(0).sum())
    return (f"Failed by design: {n:,} vmalloc call(s) over all runs asked for an alignment that no "
            "address of the range can meet (lib/test_vmalloc.c's align_shift_alloc_test is "
            "\"supposed to fail\" this way); they are not counted as ENOMEMs (`failed_by_design` in "
            "summary.csv).\n")

def _test_vmalloc_section(saved: SavedResults) -> str:
    s = run_wide(saved.summary)
    cols = [c for c in s.columns if str(c).startswith("test_vmalloc:")]
    if not cols:
        return ""
    tests = list(dict.fromkeys(c.split(":")[1] for c in cols))
    rows = []
    for a in _allocators(saved):
        g = s[s.allocator == a]
        for t in tests:
            rows.append({"allocator": a, "test": t,
                         "passed": _ns(g.get(f"test_vmalloc:{t}:passed", pd.Series(dtype=float)).sum()),
                         "failed": _ns(g.get(f"test_vmalloc:{t}:failed", pd.Series(dtype=float)).sum()),
                         "avg (us)": _mean_ci_text(g.get(f"test_vmalloc:{t}:avg_us",
                                                         pd.Series(dtype=float)).astype(float), "n")})
    return ("## lib/test_vmalloc.c results\n\nThe `Summary:` lines as numbers (columns "
            "`test_vmalloc:<test>:passed/failed/avg_us` of summary.csv; passed/failed summed over "
            "seeds, avg the mean over seeds):\n\n" + markdown_table(rows))

def _spread_section(saved: SavedResults) -> str:
    """Mean ± 95 % CI per allocator and the allocator differences against the noise."""
    n = run_wide(saved.summary)["seed"].nunique() if "seed" in run_wide(saved.summary) else 0
    out = ["## Over seeds (mean ± 95 % CI)\n"]
    if n < 2:
        out.append("One seed: no confidence interval, and no way to tell a difference between "
                   "allocators from seed-to-seed noise (list several `seeds:`).\n")
    else:
        out.append(f"Mean over {n} seeds ± the half-width of its 95 % confidence interval "
                   "(Student t, `scipy.stats.t.interval`; also in `spread.csv`):\n\n"
                   + markdown_table(spread_rows(saved)))
    diffs = difference_rows(saved)
    if diffs and n >= 2:
        out.append("Differences from the first allocator, paired by seed; a difference whose 95 % "
                   "CI contains 0 is *inside the seed-to-seed noise*: these seeds cannot tell the "
                   "allocators apart on that metric.\n\n" + markdown_table(diffs))
    return "\n".join(out)

def write_spread(saved: SavedResults, d: Path) -> Path:
    """spread.csv: per allocator, n_seeds and <metric>_mean/_ci_low/_ci_high."""
    from .saved import write_csv
    keys = ["allocator"] + (["caller"] if "caller" in saved.summary else [])
    summary = saved.summary
    if "caller" in summary:
        summary = summary.assign(caller=summary["caller"].fillna("(all)"))
    df = spread_frame(summary, keys)
    write_csv(df, d / "spread.csv")
    return d / "spread.csv"
