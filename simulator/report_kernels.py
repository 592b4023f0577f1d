"""Report sections about the kernel generations: each generation's locks side
by side, and linux-6.9's node layer (pools, purge split across nodes)."""

from __future__ import annotations

from typing import Any

from .report_tables import markdown_table, run_wide
from .saved import SavedResults


def _pct(v: Any) -> str:
    return "-" if v != v else f"{100 * float(v):.2f}%"


def lock_rows(summary: Any) -> list[dict[str, str]]:
    """One row per allocator (mean over seeds) and lock: the generation's locks
    side by side (summary columns ``lock_wait_share:<lock>`` and friends).
    Per-node locks (``busy.lock/<i>`` ...) are summed into one row per kind,
    their utilisation the busiest node's."""
    s = run_wide(summary)
    locks = list(dict.fromkeys(c.split(":", 1)[1] for c in s.columns
                               if str(c).startswith("lock_wait_share:")))
    kinds: dict[str, list[str]] = {}
    for lk in locks:
        kinds.setdefault(lk.split("/")[0] + ("/<node>" if "/" in lk else ""), []).append(lk)
    rows: list[dict[str, str]] = []
    for a in dict.fromkeys(s["allocator"]) if "allocator" in s else []:
        sub = s[s["allocator"] == a]
        for kind, members in kinds.items():
            present = [lk for lk in members if not sub[f"lock_wait_share:{lk}"].isna().all()]
            if not present:
                continue

            def total(prefix: str) -> Any:
                return sum(sub[f"{prefix}:{lk}"].fillna(0) for lk in present)
            acq = total("lock_acquisitions")
            util = max(sub[f"lock_utilisation:{lk}"].mean() for lk in present)
            name = kind if len(present) == 1 and kind == present[0] else f"{kind} x {len(present)}"
            rows.append({"allocator": str(a), "lock": name,
                         "wait share": _pct(total("lock_wait_share").mean()),
                         "acquisitions": f"{acq.mean():,.0f}",
                         "contended": _pct((total("lock_contended") / acq.clip(lower=1)).mean()),
                         "utilisation": _pct(util)})
    return rows


def lock_section(saved: SavedResults) -> str:
    rows = lock_rows(saved.summary)
    if not rows:
        return ""
    return ("## Locks\n\nEach generation's spinlocks side by side (mean over seeds). Wait share: CPU "
            "time spent spinning on that lock (handoffs included) over the summed time of every "
            "vmalloc/vfree of the run, prefill included; contended: the share of acquisitions that "
            "found the lock held; utilisation: the share of simulated time the lock was held or in "
            "handoff (per-node locks: the busiest node).\n\n"
            + markdown_table(rows))


def vmap_node_rows(points: list[tuple[str, Any]]) -> list[dict[str, str]]:
    """linux-6.9's node layer per (sweep point, allocator): pools, purge split, locks."""
    rows: list[dict[str, str]] = []
    for label, summary in points:
        s = run_wide(summary)
        if "pool_hit_rate" not in s:
            continue
        for a in dict.fromkeys(s["allocator"]):
            sub = s[s["allocator"] == a]
            if sub["pool_hit_rate"].isna().all():
                continue
            free = sub.get("lock_wait_share:free_vmap_area_lock")
            node_wait = sum(sub[c].fillna(0) for c in sub.columns
                            if str(c).startswith("lock_wait_share:") and "/" in str(c))
            rows.append({"point": label or "-", "allocator": str(a),
                         "nodes": f"{sub['vmap_nodes'].mean():.0f}",
                         "pool hit rate": _pct(sub["pool_hit_rate"].mean()),
                         "pool hits": f"{sub['pool_hits'].mean():,.0f}",
                         "free lock wait": _pct(free.mean()) if free is not None else "-",
                         "node locks wait": _pct(node_wait.mean()),
                         "purges": f"{sub['purges'].mean():,.0f}",
                         "nodes purged": f"{sub['purge_nodes_used'].mean():.0f}",
                         "busiest node share": _pct(sub["purge_busiest_node_share"].mean()),
                         "helper runs": f"{sub['purge_helper_runs'].mean():,.0f}"})
    return rows


def vmap_nodes_section(points: list[tuple[str, Any]]) -> str:
    rows = vmap_node_rows(points)
    if not rows:
        return ""
    best = max(rows, key=lambda r: float(r["pool hit rate"].rstrip("%")))
    return ("## vmap nodes (linux-6.9)\n\n"
            "What the node layer did. *Pool hit rate*: the share of the vmallocs eligible for a "
            "node pool (requests for exactly [VMALLOC_START, VMALLOC_END) of at most 256 pages, "
            "on a machine with more than one node) that the allocating CPU's node pool served: "
            "those skip the vmap_area allocation and `free_vmap_area_lock` entirely. Pools fill "
            "only when a purge recycles lazily freed areas into them, so short runs, or runs "
            "before the first purge, show few hits. *Free lock wait* / *node locks wait*: the "
            "share of vmalloc/vfree time spent spinning on the one global lock left "
            "(`free_vmap_area_lock`) and on all the per-node `busy`/`lazy`/`pool` locks together. "
            "*Nodes purged*: nodes whose lazy list a purge drained; *busiest node share*: the "
            "share of all `purge_vmap_node` time spent on the busiest node (1/nodes when the "
            "purge spreads evenly); *helper runs*: `purge_vmap_node` calls handed to a kworker "
            "on another CPU (one helper per full `lazy_max_pages()` of backlog beyond the "
            f"first).\n\nThe highest pool hit rate here is {best['pool hit rate']} "
            f"({best['allocator']}, {best['point']}).\n\n" + markdown_table(rows))


__all__ = ["lock_rows", "lock_section", "vmap_node_rows", "vmap_nodes_section"]
