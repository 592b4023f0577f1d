"""report.md sections that explain results (issue 13 points 4 and 5):

* where the time goes: each op's latency split into its components
  (``ops.parquet`` ``search_ns`` ... ``flush_ns``), mean per op and share;
* busy-list (Linux 4.19) ``free_vmap_cache`` resets by cause and caller
  (``summary.csv`` ``cache_resets:<cause>:<caller>``);
* trace fidelity of trace-replay callers (``summary.csv`` ``trace:*``).

A leaf of the results side: it reads a :class:`~simulator.saved.SavedResults`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .report_tables import markdown_table
from .saved import SavedResults

COMPONENTS = (("search_ns", "search (lock held)"), ("lock_wait_ns", "lock wait"),
              ("objects_ns", "objects (kmalloc/kfree)"), ("pages_ns", "pages"),
              ("purge_ns", "purge"), ("flush_ns", "TLB flush"))
CACHE_RESETS = "cache_resets"      # simulator.runner.CACHE_RESETS
TRACE = "trace:"                   # workloads.trace_replay summary keys


def _table(rows: list[dict[str, str]]) -> str:
    return markdown_table(rows) if rows else ""


def _run_wide(summary: pd.DataFrame) -> pd.DataFrame:
    if "caller" in summary and len(summary):
        return summary[summary["caller"].isna()]
    return summary


def components_section(saved: SavedResults) -> str:
    ops = saved.ops
    if not len(ops) or any(c not in ops for c, _ in COMPONENTS):
        return ""
    m = ops[ops["measured"]] if "measured" in ops else ops
    rows = []
    for (alloc, op), g in m.groupby(["allocator", "op"], observed=True, sort=False):
        total = float(g["latency_ns"].sum())
        if not len(g) or total <= 0:
            continue
        row = {"allocator": str(alloc), "op": str(op), "ops": f"{len(g):,}",
               "mean latency (ns)": f"{total / len(g):,.0f}"}
        for col, label in COMPONENTS:
            s = float(g[col].sum())
            row[label] = f"{s / len(g):,.0f} ({100 * s / total:.0f}%)"
        rows.append(row)
    if not rows:
        return ""
    return ("## Where the time goes\n\nMean per measured op of each latency component "
            "(`ops.parquet`: `search_ns` + `lock_wait_ns` + `objects_ns` + `pages_ns` + "
            "`purge_ns` + `flush_ns` = `latency_ns`), and its share of the latency. "
            "`vmsim run --timeline` draws every op's components on a timeline.\n\n"
            + _table(rows))


def cache_reset_section(saved: SavedResults) -> str:
    s = _run_wide(saved.summary)
    cols = [c for c in s.columns if c.startswith(f"{CACHE_RESETS}:") and c.count(":") >= 2]
    if not len(s) or not cols:
        return ""
    rows = []
    for alloc, g in s.groupby("allocator", sort=False):
        seeds = len(g)
        for c in cols:
            vals = g[c].dropna()
            if not len(vals) or float(vals.sum()) == 0:
                continue
            _, cause, caller = c.split(":", 2)
            rows.append({"allocator": str(alloc), "cause": cause, "caller": caller,
                         "resets per run": f"{float(vals.sum()) / seeds:,.1f}"})
    if not rows:
        return ""
    return ("## busy-list search cache resets\n\nEach time Linux 4.19's `alloc_vmap_area` "
            "drops `free_vmap_cache` and searches from `vstart` again: the cause (the first "
            "of the kernel's tests that held: `size < cached_hole_size`, `vstart < "
            "cached_vstart`, `align < cached_align`; or the cached area ends below `vstart`) "
            "and the caller whose vmalloc found the cache invalid (the restrictive "
            "`vstart`/`align` was recorded by an earlier vmalloc, often of another caller). "
            "All ops of the run, prefill included (`summary.csv`: "
            "`cache_resets:<cause>:<caller>`).\n\n" + _table(rows))


def trace_section(saved: SavedResults) -> str:
    s = _run_wide(saved.summary)
    cols = [c for c in s.columns if c.startswith(TRACE)]
    if not len(s) or not cols:
        return ""
    rows = []
    for _, r in s.iterrows():
        def get(k: str) -> Any:
            v = r.get(f"{TRACE}{k}")
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
        share = get("va_start_match_share")
        if share is None:
            continue
        rows.append({"allocator": str(r["allocator"]), "seed": str(r["seed"]),
                     "allocations": f"{int(get('allocs') or 0):,}",
                     "same va_start": f"{100 * float(share):.2f}%",
                     "first divergence": str(get("first_divergence") or "none"),
                     "initial areas loaded": f"{int(get('initial_areas') or 0):,}"})
    if not rows:
        return ""
    return ("## Trace fidelity\n\nThe share of replayed allocations whose simulated address "
            "equals the traced `va_start`, the first allocation where they differ "
            "(trace line: traced vs simulated), and how many busy areas of the initial "
            "layout were loaded (docs/trace-replay.md: capture the trace with "
            "`/proc/vmallocinfo` at its start to replay from the same layout).\n\n"
            + _table(rows))


def why_sections(saved: SavedResults) -> str:
    """The sections above that apply to ``saved`` (empty string when none)."""
    return "".join(x + "\n" for x in (components_section(saved), cache_reset_section(saved),
                                       trace_section(saved)) if x)


__all__ = ["why_sections", "components_section", "cache_reset_section", "trace_section"]
