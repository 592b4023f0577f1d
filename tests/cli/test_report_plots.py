"""report.md and plots from hand-made results (no engine needed)."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import simulator.plots as plots
from support import shared_path
from simulator.output import SavedResults, load_results, write_results
from simulator.report import first_enomem_ns, render_report, seed_line, seed_table

ALLOCS = ["busy-list", "free-list"]




def _rfc_lines() -> list[str]:
    rfc = shared_path("seed", "rfc-vmalloc-free-blocks-2018.txt")
    return [ln.strip() for ln in rfc.read_text().splitlines() if re.match(r"^\d+\(us\) vs", ln)]


def test_seed_line_reproduces_the_rfc_result_lines():
    lines = _rfc_lines()
    assert len(lines) == 10
    # The RFC's third line ("929691(us) vs 935795(us) +0.652%") does not follow from its own
    # figures ((935795 - 929691) / 929691 = +0.6566%): a typo in the RFC; every other line must match.
    inconsistent = "929691(us) vs 935795(us) +0.652%"
    for line in lines:
        old_us, new_us = map(int, re.findall(r"(\d+)\(us\)", line))
        if line == inconsistent:
            assert seed_line(old_us * 1000, new_us * 1000) == "929691(us) vs 935795(us) +0.656%"
        else:
            assert seed_line(old_us * 1000, new_us * 1000) == line
    # sub-microsecond remainders are dropped as the kernel's usec division does
    assert seed_line(33590880999, 11027121999) == "33590880(us) vs 11027121(us) -67.172%"


def _saved(keep_ops: bool = True) -> SavedResults:
    ops, ts, summary = [], [], []
    for k, a in enumerate(ALLOCS):
        for seed in (1, 2):
            n = 40
            t = np.arange(n) * 1000 + 1000
            lat = np.full(n, 100 * (k + 1))
            ok = np.ones(n, bool)
            if a == "busy-list":
                ok[[11, 21]] = False        # vmalloc ops at t = 12000 and 22000 fail
            ops.append(pd.DataFrame({
                "allocator": a, "seed": seed, "t_ns": t, "caller": "c", "cpu": np.arange(n) % 2,
                "op": ["vfree" if i % 2 == 0 else "vmalloc" for i in range(n)],
                "size_bytes": 8192, "align": 1, "addr": t, "ok": ok, "latency_ns": lat,
                "lock_wait_ns": np.where(np.arange(n) % 4 == 0, 50, 0), "lock_hold_ns": 10,
                "list_nodes": 0, "tree_nodes": 1, "purge": False}))
            ts.append(pd.DataFrame({
                "allocator": a, "seed": seed, "t_ns": [0, 20000, 40000], "busy_areas": [0, 5, 9],
                "lazy_areas": [0, 1, 0], "lazy_pages": 0, "free_blocks": 1, "largest_free_bytes": 1,
                "total_free_bytes": 2, "fragmentation": [0.0, 0.5, 0.25], "lock_utilisation": 0.1,
                "spin_ns_cpu0": [0, 100, 400], "spin_ns_cpu1": [0, 0, 200], "purges": 0,
                "enomem": 0}))
            row = {"allocator": a, "seed": seed, "ops": n,
                   "loop_time_ns": [33590880000, 11027121000][k] + seed * 1000}
            for pre in ("", "vmalloc_", "vfree_"):
                for q in ("mean", "p50", "p90", "p99", "p999", "max"):
                    row[f"{pre}{q}_ns"] = 100.0 * (k + 1)
            row.update(lock_wait_share=0.1, spin_cpu_ns=600, purges=3, enomem=2 if k == 0 else 0,
                       final_fragmentation=0.25)
            summary.append(row)
    scenario = {"name": "hand", "device": {"profile": "qemu-x86"}, "cpus": 2, "allocators": ALLOCS,
                "callers": [{"workload": "seed-test2", "background": False}], "seeds": [1, 2],
                "stop": {"iterations": 20}}
    return SavedResults(scenario=scenario,
                        ops=pd.concat(ops, ignore_index=True) if keep_ops else pd.DataFrame(),
                        timeseries=pd.concat(ts, ignore_index=True),
                        summary=pd.DataFrame(summary), log=["Summary: fix_size_alloc_test passed: 1"])


def test_seed_table_pairs_old_and_new_per_seed():
    lines = seed_table(_saved())
    assert lines[0] == "seed-test2: busy-list vs free-list"
    assert lines[1] == f"  seed 1: {seed_line(33590881000, 11027122000)}"
    assert lines[2] == f"  seed 2: {seed_line(33590882000, 11027123000)}"


def test_seed_table_has_a_block_per_foreground_workload():
    saved = _saved()
    s = saved.summary
    s["loop_time_ns:seed-test2"] = s["loop_time_ns"]
    s["loop_time_ns:random_size_alloc_test"] = np.where(s.allocator == "busy-list", 2_000_000, 1_000_000)
    lines = seed_table(saved)
    assert lines[0] == "seed-test2: busy-list vs free-list"
    assert lines[1] == f"  seed 1: {seed_line(33590881000, 11027122000)}"
    assert lines[3].startswith("  mean of 2 seeds: ")          # the spread line closes each block
    assert lines[4:7] == ["random_size_alloc_test: busy-list vs free-list",
                          "  seed 1: 2000(us) vs 1000(us) -50.000%",
                          "  seed 2: 2000(us) vs 1000(us) -50.000%"]
    # the same -50 % on both seeds: no seed-to-seed noise, the change is outside it
    assert lines[7] == ("  mean of 2 seeds: 2,000 ± 0(us) vs 1,000 ± 0(us) -50.000% "
                        "(95% CI -50.000% .. -50.000%): outside the seed-to-seed noise")


def test_engine_gives_each_foreground_workload_its_loop_time():
    # two foreground workloads: seed-test2 (prefill outside its loop) and a
    # short fix_size loop that ends first; each gets its own loop time
    from simulator.runner import simulate
    from simulator.scenario import parse_scenario
    import yaml
    doc = yaml.safe_load("""
name: two
device: qemu-x86
cpus: 2
allocators: [busy-list]
callers:
  - {workload: seed-test2, cpus: 0, prefill: 200, loops: 300}
  - {workload: fix_size_alloc_test, cpus: 1, test_loop_count: 50}
stop: {iterations: 1000}
seeds: [1]
""")
    spec, = parse_scenario(doc).run_specs()
    r = simulate(spec)
    s = r.summary
    a, b = s["loop_time_ns:seed-test2"], s["loop_time_ns:fix_size_alloc_test"]
    assert 0 < b < a                             # fix_size's 50 loops end long before
    assert s["loop_time_ns"] >= a                # the run-wide span covers both
    ops = r.ops[r.ops.measured & (r.ops.caller == "fix_size_alloc_test@cpu1")]
    assert b >= (ops.t_ns + ops.latency_ns).max() - ops.t_ns.min()


def test_first_enomem_is_the_earliest_failed_vmalloc():
    got = first_enomem_ns(_saved())
    assert got[("busy-list", 1)] == 12000 and got[("busy-list", 2)] == 12000
    assert got[("free-list", 1)] is None


def test_report_says_what_comes_from_the_model():
    text = render_report(_saved(), [])
    assert "simulated" in text and "cost model" in text and "qemu-x86" in text
    assert "33590881(us) vs 11027122(us)" in text
    assert "| busy-list | 1 |" in text


def test_every_plot_shows_every_allocator(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: (figures.append((path.name, fig)), path)[1])
    for keep_ops in (True, False):
        figures.clear()
        plots.make_plots(_saved(keep_ops), tmp_path)
        assert len(figures) == 4
        for name, fig in figures:
            text = " ".join(t.get_text() for ax in fig.axes for t in ax.texts + [ax.title]) + " ".join(
                t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
            text += fig._suptitle.get_text()
            assert "hand" in text, name               # the scenario names every figure
            if keep_ops or name in ("latency_cdf.png", "areas_over_time.png"):
                for a in ALLOCS:
                    assert a in text, (name, a, keep_ops)
            for ax in fig.axes:
                if ax.lines or ax.patches:
                    assert ax.get_ylabel() and ax.get_xlabel(), (name, ax.get_title())
            plt.close(fig)


def test_written_directory_reads_back_identically(tmp_path):
    saved = _saved()
    write_results(tmp_path / "r", saved, "name: hand\n", plots=False)
    back = load_results(tmp_path / "r")
    pd.testing.assert_frame_equal(back.ops, saved.ops)
    pd.testing.assert_frame_equal(back.summary, saved.summary)
    assert back.log == saved.log


def test_interrupted_write_leaves_nothing_complete(tmp_path, monkeypatch):
    import simulator.output as output

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(output, "render_dir", boom)
    with pytest.raises(RuntimeError):
        write_results(tmp_path / "r", _saved(), "name: hand\n")
    assert list(tmp_path.iterdir()) == []


def test_time_limited_runs_get_no_loop_time_comparison():
    saved = _saved()
    saved.scenario["stop"] = {"iterations": None, "time": 60_000_000_000}
    assert seed_table(saved) == []
    text = render_report(saved, [])
    assert "stop: 60 s of simulated time" in text
    assert "stopped by simulated time" in text and "(us) vs" not in text
    saved.scenario["stop"] = {"iterations": 20, "time": None}
    assert "stop: 20 iterations per foreground caller" in render_report(saved, [])


def test_a_time_stop_that_the_workloads_beat_still_compares_loop_times():
    # the workloads ended before the 60 s stop (sim_time_ns below it): the
    # loop times differ and mean something
    saved = _saved()
    saved.scenario["stop"] = {"iterations": None, "time": 60_000_000_000}
    saved.summary["sim_time_ns"] = 40_000_000_000.0
    assert seed_table(saved)[0] == "seed-test2: busy-list vs free-list"
    saved.summary["sim_time_ns"] = 60_000_000_000.0
    assert seed_table(saved) == []
