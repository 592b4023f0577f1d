"""Issue 13 point 5: each busy-list (Linux 4.19) free_vmap_cache reset records
its cause and the caller that made it (summary.csv columns, a report.md table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from simulator.allocators import create

from .conftest import vmsim

P = 4096
V0, V1 = 0x1000_0000, 0x2000_0000


def _policy():
    p = create("busy-list", V0, V1)
    seen: list[str] = []
    p.on_cache_reset = seen.append
    return p, seen


def test_each_cause_by_hand() -> None:
    """A sequence whose resets follow from 4.19's alloc_vmap_area by hand."""
    p, seen = _policy()
    assert p.alloc(P).addr == V0                       # no cache yet: not a reset
    assert p.alloc(P, align=4 * P).addr == V0 + 4 * P  # stricter align: recorded, no reset
    assert seen == []
    assert p.alloc(P).addr == V0 + P                   # align 1 < cached_align 16 KiB
    assert seen == ["align < cached_align"]
    # vstart above the cached area's end: "goto nocache"
    assert p.alloc(P, vstart=V0 + 64 * P).addr == V0 + 64 * P
    assert seen[-1] == "cached area below vstart"
    assert p.alloc(P).addr == V0 + 2 * P               # vstart back down: vstart < cached_vstart
    assert seen[-1] == "vstart < cached_vstart"
    assert len(seen) == 3
    # a 2-page hole walked over by a 3-page request sets cached_hole_size = 2 pages;
    # the next 1-page request is smaller: size < cached_hole_size
    q, seen = _policy()
    a = [q.alloc(n * P).addr for n in (1, 2, 1)]       # V0, V0+P, V0+3P
    q.free(a[1])                                       # purge-time release: hole [V0+P, V0+3P)
    assert q.alloc(3 * P).addr == V0 + 4 * P
    assert seen == []                                  # the cache moved to V0: no reset
    assert q.alloc(P).addr == V0 + P
    assert seen == ["size < cached_hole_size"]
    assert sum(q.cache_resets.values()) == len(seen)


SCENARIO = {
    "name": "resets", "device": "qemu-x86", "cpus": 4,
    "allocators": ["linux-4.19", "linux-5.2"],
    "callers": [{"workload": "seed-test2", "cpus": 0, "prefill": 300},
                {"workload": "random_size_alloc_test", "cpus": [1]},
                {"workload": "thread-stacks", "cpus": 3, "background": True, "rate_per_s": 20000}],
    "stop": {"iterations": 300}, "seeds": [1], "output": {"plots": False},
}


def test_summary_and_report_name_cause_and_caller(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SCENARIO))
    r = vmsim("run", "s.yaml", "--out", "r", "--quiet", "--jobs", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    s = pd.read_csv(tmp_path / "r" / "summary.csv")
    wide = s[s["caller"].isna()].set_index("allocator")
    cols = [c for c in s.columns if c.startswith("cache_resets")]
    causes = {c.split(":")[1] for c in cols if c.count(":") >= 1}
    assert causes <= {"size < cached_hole_size", "vstart < cached_vstart", "align < cached_align",
                      "cached area below vstart"}
    row = wide.loc["linux-4.19"]
    assert row["cache_resets"] > 0
    per_cause = [c for c in cols if c.count(":") == 1]
    per_caller = [c for c in cols if c.count(":") == 2]
    assert row[per_cause].sum() == row["cache_resets"]
    assert row[per_caller].sum() == row["cache_resets"]
    labels = {"seed-test2@cpu0", "random_size_alloc_test@cpu1", "thread-stacks@cpu3"}
    assert {c.split(":", 2)[2] for c in per_caller} <= labels
    # the thread stacks' 16 KiB alignment makes the next small vmalloc reset the cache
    assert row["cache_resets:align < cached_align"] > 0
    assert pd.isna(wide.loc["linux-5.2"].get("cache_resets"))     # no such cache in 5.2
    report = (tmp_path / "r" / "report.md").read_text()
    assert "## busy-list search cache resets" in report
    assert "| linux-4.19 | align < cached_align |" in report
