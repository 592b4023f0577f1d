"""Point 1 of issue 13: per-caller results (summary rows, report tables and
flags, CDF panels), and the preset's Summary results and by-design failures
as summary columns (point 9)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulator.metrics import REL_ERR
from simulator.output import load_results
from support import NO_PLOTS, SEED2_AND_RANDOM_CALLERS, preset_text, scenario_text
from .conftest import write_and_run

SCENARIO = scenario_text("callers", SEED2_AND_RANDOM_CALLERS + """\
  - workload: thread-stacks
    cpus: 2
    background: true
    rate_per_s: 20000
""", cpus=3, rest="""\
stop:
  iterations: 150
seeds: [1, 2]
metrics:
  keep_ops: {keep_ops}
output:
  plots: {plots}
""")
CALLERS = ["seed-test2@cpu0", "random_size_alloc_test@cpu1", "thread-stacks@cpu2"]


def _nearest_rank(x: np.ndarray, q: float) -> float:
    return float(np.quantile(np.sort(x), q, method="inverted_cdf"))


def test_summary_has_a_row_per_allocator_seed_and_caller(tmp_path, run_vmsim):
    _, out, _ = write_and_run(tmp_path, SCENARIO.format(keep_ops="true", plots="false"),
                              "--quiet", name="c.yaml")
    s = pd.read_csv(out / "summary.csv")
    assert list(s.columns[:3]) == ["allocator", "seed", "caller"]
    for a in ("busy-list", "free-list"):
        for seed in (1, 2):
            run = s[(s.allocator == a) & (s.seed == seed)]
            assert run["caller"].isna().sum() == 1                     # the run-wide row
            assert sorted(run["caller"].dropna()) == sorted(CALLERS)
    # each caller's figures, derived again from ops.parquet (measured ops of that caller)
    ops = pd.read_parquet(out / "ops.parquet")
    for caller in CALLERS:
        row = s[(s.allocator == "free-list") & (s.seed == 2) & (s.caller == caller)].iloc[0]
        m = ops[(ops.allocator == "free-list") & (ops.seed == 2) & (ops.caller == caller) & ops.measured]
        vm = m[m.op == "vmalloc"]["latency_ns"].to_numpy()
        assert row["ops"] == len(m)
        assert math.isclose(row["vmalloc_p50_ns"], _nearest_rank(vm, 0.5))
        assert math.isclose(row["vmalloc_p99_ns"], _nearest_rank(vm, 0.99))
        assert math.isclose(row["lock_wait_share"], m["lock_wait_ns"].sum() / m["latency_ns"].sum())
    # the run-wide row pools the callers
    wide = s[(s.allocator == "free-list") & (s.seed == 2) & s.caller.isna()].iloc[0]
    assert wide["ops"] == s[(s.allocator == "free-list") & (s.seed == 2) & s.caller.notna()]["ops"].sum()

    report = (out / "report.md").read_text()
    assert "## Per caller" in report and "### busy-list" in report and "### free-list" in report
    assert "Callers whose latency differs most between allocators:" in report
    assert "| seed-test2@cpu0 | 2 |" in report
    spread = pd.read_csv(out / "spread.csv")
    assert set(spread["caller"]) == {"(all)", *CALLERS}

    from simulator.plots import latency_cdf_figure
    fig = latency_cdf_figure(load_results(out))
    titles = [ax.get_title() for ax in fig.axes]
    assert "vmalloc(): all callers" in titles
    assert all(f"vmalloc(): {c}" in titles and f"vfree(): {c}" in titles for c in CALLERS)


@pytest.mark.slow            # two runs of the scenario: about 8 s unloaded
def test_stats_only_runs_keep_per_caller_histograms(tmp_path, run_vmsim):
    """keep_ops false gives the same per-caller rows within the histograms' 0.5 %."""
    exact, streamed = tmp_path / "exact", tmp_path / "streamed"
    for keep, out in (("true", exact), ("false", streamed)):
        sc = tmp_path / f"{keep}.yaml"
        sc.write_text(SCENARIO.format(keep_ops=keep, plots="false"))
        run_vmsim("run", str(sc), "--out", str(out), "--quiet")
    a = pd.read_csv(exact / "summary.csv").set_index(["allocator", "seed", "caller"])
    b = pd.read_csv(streamed / "summary.csv").set_index(["allocator", "seed", "caller"])
    for caller in CALLERS:
        for col in ("vmalloc_p50_ns", "vmalloc_p99_ns", "vfree_p50_ns"):
            x, y = a.loc[("busy-list", 1, caller), col], b.loc[("busy-list", 1, caller), col]
            if not math.isnan(x):
                assert abs(y - x) <= REL_ERR * x + 1e-9, (caller, col, x, y)
        assert a.loc[("busy-list", 1, caller), "ops"] == b.loc[("busy-list", 1, caller), "ops"]
        assert math.isclose(a.loc[("busy-list", 1, caller), "lock_wait_share"],
                            b.loc[("busy-list", 1, caller), "lock_wait_share"], rel_tol=1e-9)
    hist = pd.read_parquet(streamed / "histograms.parquet")
    assert set(hist["caller"]) == set(CALLERS)


PRESET = preset_text("preset", cpus=1, allocators="busy-list, augmented-tree", loops=30, repeats=2,
                     rest=NO_PLOTS)


def test_preset_summary_columns_and_by_design_failures(tmp_path, run_vmsim):
    _, out, _ = write_and_run(tmp_path, PRESET, "--quiet", name="p.yaml")
    s = pd.read_csv(out / "summary.csv")
    wide = s[s.caller.isna()]
    log = (out / "log.txt").read_text().splitlines()
    for _, r in wide.iterrows():
        line = next(ln for ln in log if ln.startswith(f"[{r.allocator} seed=1] Summary: align_shift"))
        # the kernel's own line: 0 passed, 2 failed (one failed vmalloc ends each repetition)
        assert "passed: 0 failed: 2 repeat: 2" in line
        assert r["test_vmalloc:align_shift_alloc_test:failed"] == 2
        assert r["test_vmalloc:align_shift_alloc_test:passed"] == 0
        assert r["test_vmalloc:fix_size_alloc_test:passed"] == 2
        fix = next(ln for ln in log if ln.startswith(f"[{r.allocator} seed=1] Summary: fix_size"))
        assert fix.endswith(f"avg: {int(r['test_vmalloc:fix_size_alloc_test:avg_us'])} usec")
        assert r["failed_by_design"] == 2 and r["enomem"] == 0
    ops = pd.read_parquet(out / "ops.parquet")
    failed = ops[(ops.op == "vmalloc") & ~ops.ok]
    # the failures are alignments larger than the whole vmalloc range
    import yaml
    space = yaml.safe_load((out / "scenario.yaml").read_text())["address_space"]["vmalloc"]
    span = int(str(space["end"]), 0) - int(str(space["start"]), 0)
    assert (failed["align"].astype(float) > span).all() and len(failed) == 4
    report = (out / "report.md").read_text()
    assert "Failed by design: 4 vmalloc call(s)" in report
    assert "## lib/test_vmalloc.c results" in report
    assert "| busy-list | align_shift_alloc_test | 0 | 2 |" in report
    per_run = report.split("## Per run")[1].split("\n\n")[1]
    assert all(line.split("|")[9].strip() == "0" for line in per_run.splitlines()[2:])   # ENOMEMs


def test_first_enomem_skips_failures_by_design():
    from simulator.report import first_enomem_ns
    from simulator.saved import SavedResults
    ops = pd.DataFrame({"allocator": "busy-list", "seed": 1, "t_ns": [100, 200, 300],
                        "op": "vmalloc", "ok": [False, True, False], "size_bytes": 4096,
                        "align": [1 << 45, 1, 1]})
    scenario = {"address_space": {"vmalloc": {"start": "0x100000000", "end": "0x200000000"}}}
    summary = pd.DataFrame({"allocator": ["busy-list"], "seed": [1], "enomem": [1],
                            "failed_by_design": [1], "loop_time_ns": [1.0]})
    saved = SavedResults(scenario=scenario, ops=ops, timeseries=pd.DataFrame(), summary=summary)
    assert first_enomem_ns(saved) == {("busy-list", 1): 300}     # not the 2**45 alignment at 100
    saved.summary = summary.assign(enomem=0)
    assert first_enomem_ns(saved) == {("busy-list", 1): None}
