"""report.md and the comparison table, made only from saved results.

The seed-style table reproduces the RFC's result lines: per workload and
seed, the loop time of the first allocator listed ("old") against each
other one ("new") and the change in percent,
``33590880(us) vs 11027121(us) -67.172%``; the percentage is computed from
the two (truncated) microsecond figures shown and truncated to three decimals,
which reproduces nine of the RFC's ten lines (its third line, +0.652%, does not
follow from its own figures: +0.656%).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import impossible_alignment
from .report_kernels import lock_rows, lock_section, vmap_nodes_section
from .report_why import why_sections
from .report_tables import (  # noqa: F401  (re-exported: plots and the notebook use them)
    _allocators, _by_design_note, _caller_section, _ns, _per_seed, _spread_section,
    _test_vmalloc_section, caller_flags, caller_rows, difference_rows, markdown_table, run_wide,
    spread_rows, time_limited, write_spread)
from .saved import SavedResults
from .spread import fmt_interval, mean_ci, noise_verdict


def seed_line(old_ns: float, new_ns: float) -> str:
    """``33590880(us) vs 11027121(us) -67.172%`` from two loop times in ns."""
    old_us, new_us = int(old_ns // 1000), int(new_ns // 1000)
    if not old_us:
        return f"{old_us}(us) vs {new_us}(us) n/a"
    pct = (new_us - old_us) / old_us * 100
    return f"{old_us}(us) vs {new_us}(us) {math.trunc(pct * 1000) / 1000:+.3f}%"


def _workloads(scenario: dict[str, Any]) -> str:
    names = [c.get("workload") for c in scenario.get("callers") or [] if not c.get("background")]
    return ", ".join(dict.fromkeys(str(n) for n in names)) or "(none)"


def seed_table(saved: SavedResults) -> list[str]:
    """The RFC-style lines, per workload, one per seed and non-baseline allocator.

    With several foreground workloads each gets its own loop time (summary
    columns ``loop_time_ns:<workload>``: from its callers' first
    ``measure_start()`` to the end of its last caller)."""
    s, allocs = run_wide(saved.summary), _allocators(saved)
    if len(allocs) < 2 or "loop_time_ns" not in s or time_limited(saved.scenario, s):
        return []
    per_workload = [(c.split(":", 1)[1], c) for c in s.columns if c.startswith("loop_time_ns:")]
    blocks = per_workload or [(_workloads(saved.scenario), "loop_time_ns")]
    old = allocs[0]
    lines = []
    for workload, col in blocks:
        for new in allocs[1:]:
            lines.append(f"{workload}: {old} vs {new}")
            for seed in sorted(set(s["seed"])):
                a = s[(s.allocator == old) & (s.seed == seed)][col]
                b = s[(s.allocator == new) & (s.seed == seed)][col]
                if len(a) and len(b) and not (np.isnan(a.iloc[0]) or np.isnan(b.iloc[0])):
                    lines.append(f"  seed {seed}: {seed_line(float(a.iloc[0]), float(b.iloc[0]))}")
            mean_line = seed_mean_line(s, old, new, col)
            if mean_line:
                lines.append(mean_line)
    return lines


def seed_mean_line(s: Any, old: str, new: str, col: str) -> str:
    """With several seeds: the mean loop times with their 95 % CIs, the mean
    change in percent with its CI (paired over seeds), and whether the
    difference is inside the seed-to-seed noise."""
    a, b = _per_seed(s, old, col), _per_seed(s, new, col)
    seeds = [k for k in a if k in b]
    if len(seeds) < 2:
        return ""
    ia = mean_ci([a[k] / 1000 for k in seeds])
    ib = mean_ci([b[k] / 1000 for k in seeds])
    pct = mean_ci([(b[k] - a[k]) / a[k] * 100 for k in seeds if a[k]])
    us = lambda v: f"{v:,.0f}"  # noqa: E731
    return (f"  mean of {len(seeds)} seeds: {fmt_interval(ia, us)}(us) vs {fmt_interval(ib, us)}(us) "
            f"{pct.mean:+.3f}% (95% CI {pct.low:+.3f}% .. {pct.high:+.3f}%): {noise_verdict(pct)}")


def _stop_text(scenario: dict[str, Any]) -> str:
    stop = scenario.get("stop") or {}
    parts = []
    if stop.get("iterations") is not None:
        parts.append(f"{int(stop['iterations']):,} iterations per foreground caller")
    if stop.get("time") is not None:
        parts.append(f"{int(stop['time']) / 1e9:g} s of simulated time")
    return " or ".join(parts) or "when the workloads end"


def first_enomem_ns(saved: SavedResults) -> dict[tuple[str, int], int | None]:
    """Simulated time of the first failed vmalloc per (allocator, seed), None if none."""
    out: dict[tuple[str, int], int | None] = {}
    ops, ts = saved.ops, saved.timeseries
    vstart, vend = _allocator_range(saved.scenario)
    for _, row in run_wide(saved.summary).iterrows():
        key = (str(row["allocator"]), int(row["seed"]))
        t = None
        if "enomem" in row and row["enomem"] == 0:
            pass                                  # only failures by design (or none)
        elif len(ops) and {"op", "ok"} <= set(ops.columns):
            fail = ops[(ops.allocator == key[0]) & (ops.seed == key[1]) & (ops.op == "vmalloc")
                       & (~ops.ok.astype(bool))]
            if vstart is not None and len(fail):
                by_design = [impossible_alignment(int(sz), int(al), vstart, vend)
                             for sz, al in zip(fail["size_bytes"], fail["align"])]
                fail = fail[~np.array(by_design, dtype=bool)]
            if len(fail):
                t = int(fail["t_ns"].min())
        elif len(ts) and "enomem" in ts:
            hit = ts[(ts.allocator == key[0]) & (ts.seed == key[1]) & (ts.enomem > 0)]
            if len(hit):
                t = int(hit["t_ns"].min())
        out[key] = t
    return out


def _allocator_range(scenario: dict[str, Any]) -> tuple[int | None, int]:
    """[vstart, vend) of a resolved scenario's allocator (vmalloc and modules ranges)."""
    space = scenario.get("address_space") or {}
    ranges: list[Any] = [space.get(k) for k in ("vmalloc", "modules") if isinstance(space.get(k), dict)]
    try:
        lo = [int(str(r["start"]), 0) for r in ranges]
        hi = [int(str(r["end"]), 0) for r in ranges]
    except (KeyError, ValueError, TypeError):
        return None, 0
    return (min(lo), max(hi)) if lo else (None, 0)


def _pct(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * float(v):.2f}%"


def _t(v: int | None) -> str:
    if v is None:
        return "never"
    return f"{v / 1e9:.3f} s" if v >= 1e8 else f"{v / 1e6:.3f} ms"


def per_run_rows(saved: SavedResults) -> list[dict[str, str]]:
    s = run_wide(saved.summary)
    enomem_t = first_enomem_ns(saved)
    order = {a: i for i, a in enumerate(_allocators(saved))}
    rows = []
    for _, r in sorted(s.iterrows(), key=lambda x: (order.get(x[1]["allocator"], 99), x[1]["seed"])):
        g = r.get
        rows.append({
            "allocator": str(r["allocator"]), "seed": str(r["seed"]), "ops": _ns(g("ops")),
            "loop time (us)": _ns(np.floor(float(g("loop_time_ns", np.nan)) / 1000)),
            "vmalloc p50/p99/max (ns)": "/".join(_ns(g(f"vmalloc_{k}_ns")) for k in ("p50", "p99", "max")),
            "vfree p50/p99/max (ns)": "/".join(_ns(g(f"vfree_{k}_ns")) for k in ("p50", "p99", "max")),
            "lock wait share": _pct(g("lock_wait_share")),
            "purges": _ns(g("purges")), "ENOMEMs": _ns(g("enomem")),
            "first ENOMEM": _t(enomem_t.get((str(r["allocator"]), int(r["seed"])))),
            "final fragmentation": _pct(g("final_fragmentation")),
        })
    return rows


def seeds_text(saved: SavedResults) -> str:
    """The seeds line of the report: the ones that ran, and why only one ran
    when the scenario lists several but its results cannot depend on the seed."""
    listed = [int(x) for x in saved.scenario.get("seeds") or []]
    wide = run_wide(saved.summary)
    ran = sorted({int(x) for x in wide["seed"]}) if "seed" in wide else []
    text = ", ".join(map(str, ran or listed))
    if len(listed) > 1 and len(ran) == 1:
        text += (f" (the scenario lists {', '.join(map(str, listed))}, but no caller draws random "
                 "numbers and the lock is fair: every seed gives the same numbers, so it ran once)")
    return text


def text_table(rows: list[dict[str, str]]) -> str:
    """A plain fixed-width table for the terminal."""
    if not rows:
        return "(no runs)\n"
    cols = list(rows[0])
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(width[c]) for c in cols)]
    lines += ["  ".join(r[c].ljust(width[c]) for c in cols) for r in rows]
    return "\n".join(lines) + "\n"


def comparison_text(saved: SavedResults) -> str:
    """What ``vmsim run`` prints when done."""
    parts = []
    if saved.points:
        for label, point in saved.points:
            parts.append(f"== {label}")
            parts.append(comparison_text(point))
        return "\n".join(parts)
    seed = seed_table(saved)
    if seed:
        parts.append("loop time, old vs new (simulated):\n" + "\n".join(seed) + "\n")
    parts.append(text_table(per_run_rows(saved)))
    if "seed" in run_wide(saved.summary) and run_wide(saved.summary)["seed"].nunique() > 1:
        parts.append("mean over seeds ± 95% CI half-width:\n" + text_table(spread_rows(saved)))
    flags = caller_flags(saved)
    if flags:
        parts.append("callers whose latency differs most between allocators:\n"
                     + "\n".join(line.replace("**", "") for line in flags) + "\n")
    return "\n".join(parts)


def device_profile(scenario: dict[str, Any]) -> str:
    """The device profile a saved scenario names (``device: NAME`` in a sweep's
    document as written, ``device: {profile: NAME}`` once resolved)."""
    device = scenario.get("device")
    if isinstance(device, str):
        return device
    return str((device or {}).get("profile", "?"))


def _provenance(scenario: dict[str, Any]) -> str:
    device = device_profile(scenario)
    return (
        "## Where these numbers come from\n\n"
        f"Every time in this report (loop time, latencies, lock wait, spin) is **simulated** by "
        f"vmsim's cost model with the device profile `{device}` (its parameters and their sources "
        f"are in `scenarios/devices/{device}.yaml`; `scenario.yaml` lists the overrides and the "
        f"complete cost table the run used, `device.cost`). "
        "They are model outputs, not measurements on hardware. Counts (areas, purges, ENOMEMs, "
        "fragmentation, nodes walked) follow from the allocators' decisions, which mirror the "
        "kernel's algorithms, and do not depend on the cost model; they do depend on the simulated "
        "interleaving of CPUs, which the cost model drives.\n")


def render_report(saved: SavedResults, plot_files: list[Path]) -> str:
    sc = saved.scenario
    out = [f"# vmsim report: {sc.get('name', '?')}\n"]
    if sc.get("description"):
        out.append(str(sc["description"]).strip() + "\n")
    out.append(f"- device: `{device_profile(sc)}`, {sc.get('cpus', '?')} CPUs\n"
               f"- allocators: {', '.join(_allocators(saved))}\n"
               f"- foreground workloads: {_workloads(sc)}\n"
               f"- stop: {_stop_text(sc)}\n"
               f"- seeds: {seeds_text(saved)}\n")
    out.append(_provenance(sc))
    seed = seed_table(saved)
    out.append("## Loop time, old vs new\n")
    if seed:
        out.append("Per workload and seed, in the RFC's format (simulated microseconds):\n\n```\n"
                   + "\n".join(seed) + "\n```\n")
    elif time_limited(sc, run_wide(saved.summary)):
        out.append("(a run stopped by simulated time: every allocator runs the same time, so "
                   "compare the operations completed and the latencies below)\n")
    else:
        out.append("(needs two allocators and a loop time)\n")
    out.append(_spread_section(saved))
    out.append("## Per run\n\n" + markdown_table(per_run_rows(saved)))
    out.append(_by_design_note(saved))
    out.append(_caller_section(saved))
    out.append(_test_vmalloc_section(saved))
    out.append(lock_section(saved))
    out.append(vmap_nodes_section([("", saved.summary)]))
    out.append(why_sections(saved))      # components, busy-list cache resets, trace fidelity
    out.append("Lock wait share (tables above): the share of the summed operation latency spent "
               "waiting for the generation's spinlocks, all of them. Fragmentation: 1 - largest free "
               "block / total free space, at the end of the run.\n")
    summaries = [line for line in saved.log if "Summary:" in line or "vmap allocation" in line]
    if summaries:
        shown = summaries[:40]
        out.append("## Run log (excerpt)\n\n```\n" + "\n".join(shown)
                   + ("\n..." if len(summaries) > len(shown) else "") + "\n```\n")
    if plot_files:
        out.append("## Plots\n\n" + "\n".join(f"![{p.stem}]({p.as_posix()})" for p in plot_files) + "\n")
    return "\n".join(out)


def render_sweep_report(saved: SavedResults, plot_files: list[Path]) -> str:
    sc = saved.scenario
    (path, values), = (sc.get("sweep") or {"?": []}).items()
    out = [f"# vmsim sweep report: {sc.get('name', '?')}\n",
           f"Swept `{path}` over {', '.join(map(str, values))}; one results directory per point.\n",
           _provenance(sc)]
    for label, point in saved.points:
        out.append(f"## {label} ([details]({label}/report.md))\n")
        seed = seed_table(point)
        if seed:
            out.append("```\n" + "\n".join(seed) + "\n```\n")
        out.append(markdown_table(per_run_rows(point)))
        if "seed" in point.summary and point.summary["seed"].nunique() > 1:
            out.append("Mean over seeds ± 95 % CI half-width:\n\n" + markdown_table(spread_rows(point)))
        locks = lock_rows(point.summary)
        if locks:
            out.append("Locks:\n\n" + markdown_table(locks))
    out.append(vmap_nodes_section([(label, point.summary) for label, point in saved.points]))
    if plot_files:
        out.append("## Plots\n\n" + "\n".join(f"![{p.stem}]({p.as_posix()})" for p in plot_files) + "\n")
    return "\n".join(out)


__all__ = ["spread_rows", "difference_rows", "seed_mean_line", "write_spread", "seeds_text",
           "device_profile", "seed_line", "seed_table", "per_run_rows", "comparison_text", "render_report",
           "render_sweep_report", "first_enomem_ns", "markdown_table", "text_table"]
