"""Point 7 of issue 13: plots people read at a glance."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulator import plots
from simulator.output import SavedResults
from support import NO_PLOTS, RANDOM_SIZE_ON_CPUS_0_1, scenario_text
from .conftest import write_and_run


def test_importing_plots_keeps_the_users_backend():
    env = {**os.environ, "MPLBACKEND": "svg"}
    out = subprocess.run([sys.executable, "-c", "import simulator.plots, simulator.output, matplotlib; "
                          "print(matplotlib.get_backend())"], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "svg"


def _ts(seeds: list[int], frag: float) -> pd.DataFrame:
    rows = []
    for a in ("busy-list", "free-list"):
        for seed in seeds:
            for k, t in enumerate((0, 1_000_000, 2_000_000)):
                rows.append({"allocator": a, "seed": seed, "t_ns": t, "busy_areas": k * seed,
                             "lazy_areas": k, "fragmentation": frag * (1 + k * 1e-12)})
    return pd.DataFrame(rows)


def _saved(ts: pd.DataFrame) -> SavedResults:
    return SavedResults(scenario={"name": "t", "device": "qemu-x86",
                                  "allocators": ["busy-list", "free-list"]},
                        ops=pd.DataFrame(), timeseries=ts,
                        summary=pd.DataFrame({"allocator": ["busy-list", "free-list"], "seed": [1, 1]}))


def test_areas_over_time_draws_every_seed():
    fig = plots.areas_over_time_figure(_saved(_ts([1, 2, 3], 0.3)))
    assert isinstance(fig, Figure)
    busy_ax = fig.axes[1]
    assert len(busy_ax.get_lines()) == 2 * 3                  # 2 allocators x 3 seeds
    assert "3 seeds" in " ".join(t.get_text() for t in busy_ax.get_legend().get_texts())


def test_float_noise_is_drawn_flat():
    fig = plots.areas_over_time_figure(_saved(_ts([1], 0.25)))
    frag_ax = fig.axes[0]
    lo, hi = frag_ax.get_ylim()
    assert lo == 0.0 and hi >= 0.25 * 1.1 - 1e-12         # a share on a 0-based axis, not a 1e-12 slope
    fig = plots.areas_over_time_figure(_saved(_ts([1], 1e-6)))
    assert fig.axes[0].get_ylim() == (0.0, 0.05)            # 1e-6 of fragmentation draws as ~0
    from matplotlib.figure import Figure as F
    ax = F().subplots()
    y = 4096.0 * (1 + np.array([0, 1e-13, -2e-13]))
    ax.plot([0, 1, 2], y)
    assert plots.steady_limits(ax, y)
    lo, hi = ax.get_ylim()
    assert hi - lo > 100                                     # +-5 %, no offset axis
    assert not plots.steady_limits(ax, [1.0, 2.0])


def test_tick_labels_are_compact():
    assert [plots.compact(v) for v in (200, 5000, 20000, 1.5e6)] == ["200", "5k", "20k", "1.5M"]


SWEEP = scenario_text("timed", RANDOM_SIZE_ON_CPUS_0_1, device="{profile: qemu-x86}", rest="""\
stop:
  time: 300 us
seeds: [1, 2]
""" + NO_PLOTS + """\
sweep:
  device.overrides.lock_handoff_ns: [20, 200, 2000]
""")


def test_sweep_plot_of_a_time_stopped_run(tmp_path, run_vmsim):
    """Numeric log axis over the swept cost, per-caller p50/p99 panels with seed
    CIs, and no loop-time panel: every run lasts the stop time."""
    from simulator.output import load_results
    _, out, _ = write_and_run(tmp_path, SWEEP, "--quiet", name="t.yaml")
    from simulator import plots_sweep
    fig = plots_sweep.sweep_figure(load_results(out))
    axes = [ax for ax in fig.axes if ax.get_visible()]
    titles = [ax.get_title() for ax in axes]
    assert "loop time" not in titles
    assert titles == ["time per op", "vmalloc p50 / p99: all callers",
                      "vmalloc p50 / p99: random_size_alloc_test@cpu0",
                      "vmalloc p50 / p99: random_size_alloc_test@cpu1"]
    for ax in axes:
        assert ax.get_xscale() == "log" and ax.get_xlabel() == "device.overrides.lock_handoff_ns"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["20", "200", "2000"]
        assert "mean ± 95 % CI over 2 seeds" in ax.get_ylabel()
        # one errorbar container per allocator x (p50, p99) (time per op: per allocator),
        # with vertical error bars
        per_panel = 2 if ax.get_title() == "time per op" else 4
        assert len(ax.containers) == per_panel and all(c.has_yerr for c in ax.containers)
    s = pd.read_csv(out / "summary.csv")
    assert set(s["point"]) == {"device.overrides.lock_handoff_ns=20", "device.overrides.lock_handoff_ns=200",
                               "device.overrides.lock_handoff_ns=2000"}


def test_generation_sweep_plots_time_per_op_one_curve_per_generation(tmp_path, run_vmsim) -> None:
    # issue 9: per-op time against CPUs, one curve per kernel generation
    from simulator import plots_sweep
    from simulator.output import load_results
    sc = tmp_path / "g.yaml"
    sc.write_text("""\
name: gens
device: x86-server
allocators: [linux-4.19, linux-6.1]
callers:
  - workload: fix_size_alloc_test
    cpus: all
    nr_pages: 1
stop: {iterations: 40}
seeds: [1]
sweep:
  cpus: [1, 2, 4]
""")
    out = tmp_path / "out"
    run_vmsim("run", str(sc), "--out", str(out), "--quiet")
    saved = load_results(out)
    fig = plots_sweep.sweep_figure(saved)
    ax = next(a for a in fig.axes if a.get_title() == "time per op")
    lines = {c.get_label(): c.lines[0] for c in ax.containers}      # errorbar containers
    assert set(lines) == {"linux-4.19", "linux-6.1"}
    for gen, ln in lines.items():
        want = [saved.summary[(saved.summary.allocator == gen) & (saved.summary.point == f"cpus={n}")
                              & saved.summary.caller.isna()]["mean_ns"].iloc[0] for n in (1, 2, 4)]
        assert list(ln.get_xdata()) == [1, 2, 4]
        assert np.allclose(ln.get_ydata(), want)
