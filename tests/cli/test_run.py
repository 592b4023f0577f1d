"""`vmsim run`: the results directory, determinism, reproduction from scenario.yaml."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import yaml
from support import REPO

from simulator.cli import main
from simulator.output import load_results

SMALL = """\
name: small
device: qemu-x86
cpus: 2
allocators: [busy-list, free-list]
callers:
  - workload: seed-test2
    cpus: 0
    prefill: 300
  - workload: random_size_alloc_test
    cpus: 1
stop:
  iterations: 150
seeds: [3]
metrics:
  sample_interval: 50 us
"""


def _run(tmp_path: Path, scenario: Path, out: str, *extra: str) -> Path:
    assert main(["run", str(scenario), "--out", str(tmp_path / out), "--quiet", *extra]) == 0
    return tmp_path / out


def test_results_directory_is_complete(engine, tmp_path, capsys):
    sc = tmp_path / "small.yaml"
    sc.write_text(SMALL)
    d = _run(tmp_path, sc, "r")
    for f in ("scenario.yaml", "ops.parquet", "timeseries.parquet", "summary.csv", "report.md"):
        assert (d / f).is_file(), f
    assert sorted(p.name for p in (d / "plots").glob("*.png")) == [
        "areas_over_time.png", "latency_cdf.png", "latency_over_time.png", "lock.png"]
    out = capsys.readouterr().out
    assert "busy-list vs free-list" in out and "(us) vs " in out
    saved = load_results(d)
    run_wide = saved.summary[saved.summary["caller"].isna()]       # the rest: one row per caller
    assert sorted(run_wide["allocator"]) == ["busy-list", "free-list"]
    assert set(saved.ops["allocator"]) == {"busy-list", "free-list"}
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())   # no temp dir left


def test_same_seed_twice_and_saved_scenario_are_byte_identical(engine, tmp_path):
    sc = tmp_path / "small.yaml"
    sc.write_text(SMALL)
    a = _run(tmp_path, sc, "a")
    b = _run(tmp_path, sc, "b")
    c = _run(tmp_path, a / "scenario.yaml", "c")
    for f in ("ops.parquet", "summary.csv", "timeseries.parquet"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
        assert (a / f).read_bytes() == (c / f).read_bytes(), f
    assert (a / "scenario.yaml").read_text() == (c / "scenario.yaml").read_text()


def test_seed_and_iterations_overrides_are_recorded(engine, tmp_path):
    sc = tmp_path / "small.yaml"
    sc.write_text(SMALL)
    d = _run(tmp_path, sc, "r", "--seed", "9", "--iterations", "40")
    saved = yaml.safe_load((d / "scenario.yaml").read_text())
    assert saved["seeds"] == [9] and saved["stop"]["iterations"] == 40
    assert set(pd.read_csv(d / "summary.csv")["seed"]) == {9}


def test_report_remakes_plots_and_report(engine, tmp_path, capsys):
    sc = tmp_path / "small.yaml"
    sc.write_text(SMALL)
    d = _run(tmp_path, sc, "r")
    report = (d / "report.md").read_text()
    (d / "report.md").unlink()
    for p in (d / "plots").glob("*.png"):
        p.unlink()
    assert main(["report", str(d)]) == 0
    assert (d / "report.md").read_text() == report
    assert len(list((d / "plots").glob("*.png"))) == 4


def test_report_on_a_non_results_dir_is_bad_input(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a vmsim results directory" in err


def test_run_refuses_to_overwrite_a_foreign_directory(engine, tmp_path, capsys):
    sc = tmp_path / "small.yaml"
    sc.write_text(SMALL)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    assert main(["run", str(sc), "--out", str(tmp_path / "mine"), "--quiet"]) == 2
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_quickstart_is_quick(engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t0 = time.monotonic()
    assert main(["run", str(REPO / "scenarios" / "quickstart.yaml"), "--quiet"]) == 0
    took = time.monotonic() - t0
    d = tmp_path / "results" / "quickstart"          # the default, deterministic directory
    assert (d / "report.md").is_file() and len(list((d / "plots").glob("*.png"))) == 4
    assert set(pd.read_csv(d / "summary.csv")["allocator"]) == {"busy-list", "free-list",
                                                                 "augmented-tree"}
    print(f"quickstart took {took:.1f} s")


def test_sweep_writes_one_directory_per_point(engine, tmp_path):
    sc = tmp_path / "sweep.yaml"
    sc.write_text(SMALL.replace("cpus: 2\n", "").replace("    cpus: 1\n", "    cpus: all\n")
                  .replace("  - workload: seed-test2\n    cpus: 0\n    prefill: 300\n", "")
                  + "sweep:\n  cpus: [1, 2]\n")
    d = _run(tmp_path, sc, "s")
    assert (d / "cpus=1" / "ops.parquet").is_file() and (d / "cpus=2" / "ops.parquet").is_file()
    summary = pd.read_csv(d / "summary.csv")
    assert sorted(set(summary["point"])) == ["cpus=1", "cpus=2"]
    # each point reproduces from its own scenario.yaml
    p = _run(tmp_path, d / "cpus=2" / "scenario.yaml", "p")
    assert (p / "ops.parquet").read_bytes() == (d / "cpus=2" / "ops.parquet").read_bytes()
    # and the whole sweep from the top-level one: callers on `cpus: all` resolve
    # per point, so that file keeps the document as written, not the first point
    again = _run(tmp_path, d / "scenario.yaml", "again")
    assert (again / "summary.csv").read_bytes() == (d / "summary.csv").read_bytes()
    for point in ("cpus=1", "cpus=2"):
        assert (again / point / "ops.parquet").read_bytes() == (d / point / "ops.parquet").read_bytes()


def test_internal_error_is_one_line_exit_1(tmp_path, monkeypatch, capsys):
    import simulator.cli as cli
    sc = tmp_path / "small.yaml"
    sc.write_text(SMALL)

    def broken(*a, **k):
        raise ZeroDivisionError("model bug")
    monkeypatch.setattr(cli, "_run_specs", broken)
    assert main(["run", str(sc), "--out", str(tmp_path / "r"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError: model bug" in err
    assert not (tmp_path / "r").exists()
    assert main(["run", str(sc), "--out", str(tmp_path / "r"), "--quiet", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err

def test_stats_only_runs_still_draw_every_plot(engine, tmp_path, monkeypatch):
    # keep_ops: false keeps no per-op records; the CDFs come from the saved
    # log-bucket histograms, the latency over time from per-interval samples
    import matplotlib.pyplot as plt
    import numpy as np

    import simulator.plots as plots
    sc = tmp_path / "stats.yaml"
    sc.write_text(SMALL.replace("  sample_interval: 50 us\n",
                                "  sample_interval: 50 us\n  keep_ops: false\n"))
    d = _run(tmp_path, sc, "r")
    saved = load_results(d)
    assert not len(saved.ops) and (d / "histograms.parquet").is_file()
    h = saved.histograms
    # the latency histograms hold every measured op of the summary
    for a in ("busy-list", "free-list"):
        lat = h[(h.allocator == a) & (h.metric == "latency")]
        run_wide = saved.summary[saved.summary["caller"].isna()]
        assert int(lat["count"].sum()) == int(run_wide.set_index("allocator").loc[a, "ops"])
    assert {"vmalloc_p50_ns", "vfree_max_ns"} <= set(saved.timeseries.columns)
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: (figures.append((path.name, fig)), path)[1])
    plots.make_plots(saved, tmp_path)
    for name, fig in figures:
        legends = " ".join(t.get_text() for ax in fig.axes if ax.get_legend()
                           for t in ax.get_legend().get_texts())
        titles = " ".join(ax.get_title() for ax in fig.axes)
        for a in ("busy-list", "free-list"):
            assert a in legends or a in titles, (name, a)
        if name == "latency_over_time.png":
            ys = [np.asarray(line.get_ydata(), float) for ax in fig.axes for line in ax.lines]
            assert ys and all(np.isfinite(y).any() for y in ys)
        plt.close(fig)


def test_plain_progress_lines_name_the_run_and_bad_out_is_bad_input(engine, tmp_path, capsys):
    sc = tmp_path / "small.yaml"
    sc.write_text(SMALL)
    assert main(["run", str(sc), "--out", str(tmp_path / "r"), "--jobs", "1"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("vmsim: run 1/2 done busy-list seed 3 (")
    assert err[1].startswith("vmsim: run 2/2 done free-list seed 3 (")
    # --out below a file: one line, exit 2, nothing written
    (tmp_path / "f").write_text("x")
    assert main(["run", str(sc), "--out", str(tmp_path / "f" / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file, not a directory" in err


def test_report_on_damaged_results_is_bad_input(engine, tmp_path, capsys):
    sc = tmp_path / "small.yaml"
    sc.write_text(SMALL)
    d = _run(tmp_path, sc, "r")
    (d / "ops.parquet").write_bytes(b"not parquet")
    assert main(["report", str(d)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unreadable results" in err and "Traceback" not in err
    d = _run(tmp_path, sc, "r2")
    (d / "summary.csv").write_text("a,b\n1,2\n")
    assert main(["report", str(d)]) == 2
    assert "summary.csv has no column(s) allocator" in capsys.readouterr().err
