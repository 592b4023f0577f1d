"""The report's generation sections, as a user gets them from `vmsim run`:
each generation's locks side by side, and linux-6.9's node layer (pool hit
rate, the purge split across nodes) with the text that explains it."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd


def test_vmap_nodes_report_explains_pools_locks_and_purge_split(tmp_path) -> None:
    sc = tmp_path / "vn.yaml"
    sc.write_text("""\
name: vn-small
device: x86-server
cpus: 4
allocators: [linux-6.6, linux-6.9]
callers:
  - workload: fix_size_alloc_test
    cpus: all
    nr_pages: 3
stop: {iterations: 3000}
seeds: [1]
""")
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "simulator.cli", "run", str(sc), "--out", str(out),
                        "--jobs", "1", "--quiet"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    s = pd.read_csv(out / "summary.csv")
    wide = s[s["caller"].isna()].set_index("allocator")
    # 6.9's node layer: 4 nodes, pools used after the first drain, purge spread over nodes
    assert wide.loc["linux-6.9", "vmap_nodes"] == 4
    assert 0 < wide.loc["linux-6.9", "pool_hit_rate"] < 1
    assert wide.loc["linux-6.9", "pool_hits"] <= wide.loc["linux-6.9", "pool_tries"]
    assert wide.loc["linux-6.9", "purge_nodes_used"] >= 1
    assert 0 < wide.loc["linux-6.9", "purge_busiest_node_share"] <= 1
    assert pd.isna(wide.loc["linux-6.6", "pool_hit_rate"])          # no pools before 6.9
    report = (out / "report.md").read_text()
    assert "## Locks" in report and "## vmap nodes (linux-6.9)" in report
    assert "| linux-6.6 | free_vmap_area_lock |" in report
    assert "| linux-6.9 | busy.lock/<node> x 4 |" in report
    rate = f"{100 * wide.loc['linux-6.9', 'pool_hit_rate']:.2f}%"
    assert f"The highest pool hit rate here is {rate} (linux-6.9" in report
    assert "skip the vmap_area allocation and `free_vmap_area_lock`" in report
