"""Point 9 of issue 13: experiments that are easy to write (CPU ranges, job-count
sweeps, list-valued sweeps with short names, optional stop, --iterations on the preset)."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from simulator.output import load_results
from simulator.scenario_schema import parse_cpu_ranges
from support import NO_PLOTS, preset_text
from .conftest import write_and_run

BASE = """\
name: {name}
device: x86-server
cpus: 8
allocators: [busy-list, free-list]
callers:
  - workload: fix_size_alloc_test
    cpus: {cpus}
stop:
  iterations: 30
seeds: [1]
output:
  plots: {plots}
"""


def test_cpu_ranges_parse_like_the_kernels_cpulist():
    assert parse_cpu_ranges("0-3,8") == [0, 1, 2, 3, 8]
    assert parse_cpu_ranges("0-31") == list(range(32))
    assert parse_cpu_ranges("5") == [5]
    for bad in ("3-1", "a-b", "0-", "-31"):
        with pytest.raises(ValueError):
            parse_cpu_ranges(bad)


def test_a_cpu_range_places_one_caller_per_cpu(tmp_path, run_vmsim):
    sc, out, _ = write_and_run(tmp_path, BASE.format(name="ranges", cpus='"0-2,5"', plots="false"),
                               "--quiet", name="r.yaml")
    ops = pd.read_parquet(out / "ops.parquet")
    assert sorted(set(ops["cpu"])) == [0, 1, 2, 5]
    saved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert saved["callers"][0]["cpus"] == [0, 1, 2, 5]
    sc.write_text(BASE.format(name="ranges", cpus='"0-31"', plots="false"))
    bad = run_vmsim("validate", str(sc), check=False)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "CPU 8 does not exist" in bad.stderr


@pytest.mark.slow            # about 20 s: three points' plots and the sweep plot
def test_job_count_sweep_in_one_file(tmp_path, run_vmsim):
    text = BASE.format(name="jobs", cpus=0, plots="true") + "sweep:\n  jobs: [1, 2, 4]\n"
    _, out, _ = write_and_run(tmp_path, text, "--quiet", name="jobs.yaml")
    summary = pd.read_csv(out / "summary.csv")
    assert list(dict.fromkeys(summary["point"])) == ["jobs=1", "jobs=2", "jobs=4"]
    for n in (1, 2, 4):
        point = yaml.safe_load((out / f"jobs={n}" / "scenario.yaml").read_text())
        assert point["cpus"] == 8                              # the machine (and lazy_max_pages) stays
        assert point["callers"][0]["cpus"] == list(range(n))
        assert point["name"] == f"jobs.jobs={n}"
        ops = pd.read_parquet(out / f"jobs={n}" / "ops.parquet")
        assert sorted(set(ops["cpu"])) == list(range(n))
    assert (out / "plots" / "sweep.png").is_file()
    # the sweep plot's x axis is the job count itself: numeric, log 2, a tick per value
    from simulator.plots_sweep import sweep_figure
    fig = sweep_figure(load_results(out))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "jobs"
    assert ax.get_xscale() == "linear"                         # 1..4 spans less than a decade
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    assert list(ax.get_xticks()) == [1.0, 2.0, 4.0]


def test_sweep_axis_goes_log_when_values_span_decades():
    from matplotlib.figure import Figure

    from simulator.plots_sweep import _numeric_x
    ax = Figure().subplots()
    _numeric_x(ax, [1, 2, 4, 8, 16, 32])
    assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 2
    ax = Figure().subplots()
    _numeric_x(ax, [10, 100, 1000])
    assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 10
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "100", "1000"]


def test_list_valued_sweep_point_names_stay_short(tmp_path, run_vmsim):
    name = "n" * 90
    text = BASE.format(name=name, cpus=0, plots="false") + \
        "sweep:\n  callers[0].cpus: [[0], [0, 1, 2, 3, 4, 5, 6, 7], [0, 2, 4, 6]]\n"
    _, out, _ = write_and_run(tmp_path, text, "--quiet", name="l.yaml")
    dirs = sorted(p.name for p in out.iterdir() if p.is_dir() and "=" in p.name)
    assert dirs == ["callers_0_.cpus=0", "callers_0_.cpus=0-7", "callers_0_.cpus=0_2_4_6"]
    for d in dirs:
        point = yaml.safe_load((out / d / "scenario.yaml").read_text())
        assert len(point["name"]) <= 100 and point["name"].endswith(d)
    from simulator.sweep import point_label
    long = point_label("callers[0].cpus", list(range(0, 200, 3)))
    assert len(long) <= 60 and long != point_label("callers[0].cpus", list(range(0, 202, 3)))


PRESET = preset_text("preset", cpus=2, allocators="busy-list, free-list", loops=40, repeats=1,
                     rest=NO_PLOTS)


def test_stop_is_optional_for_workloads_that_end_and_iterations_scales_the_preset(tmp_path, run_vmsim):
    sc, out, proc = write_and_run(tmp_path, PRESET, "--iterations", "25", name="p.yaml")
    assert "--iterations 25 sets callers[0].test_loop_count" in proc.stderr
    log = (out / "log.txt").read_text()
    assert "Summary: fix_size_alloc_test passed: 1 failed: 0 repeat: 1 loops: 25" in log
    assert "stop" not in yaml.safe_load((out / "scenario.yaml").read_text())
    # a workload that runs until stopped still needs stop
    sc.write_text(PRESET.replace("test-vmalloc", "random").replace(
        "    run_test_mask: 65          # fix_size_alloc_test + align_shift_alloc_test\n"
        "    test_loop_count: 40\n    test_repeat_count: 1\n", ""))
    bad = run_vmsim("validate", str(sc), check=False)
    assert bad.returncode == 2 and "stop: required: callers[0] (random) runs until stopped" in bad.stderr
