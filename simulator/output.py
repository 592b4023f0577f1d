"""The results directory: written atomically, read back for reports.

Layout of a results directory::

    scenario.yaml        the resolved scenario (``vmsim run`` on it reproduces the rest)
    ops.parquet          one row per vmalloc/vfree (empty when metrics.keep_ops is false)
    timeseries.parquet   one row per sample
    summary.csv          per allocator x seed: the run-wide row, then one row per caller
    spread.csv           per allocator: mean and 95 % CI over seeds of the main figures
    log.txt              the runs' log lines (kernel warnings, test_vmalloc Summary lines)
    report.md            the comparison report
    plots/*.png

A sweep scenario writes one such directory per point (``<path>=<value>/``)
plus, at the top, ``scenario.yaml``, ``summary.csv`` (with a ``point``
column), ``report.md`` and ``plots/sweep.png``.

Everything is written into a hidden temporary directory beside the target
and renamed into place at the end, so an interrupted run leaves nothing that
looks complete.  Parquet files carry no timestamps: the same DataFrames give
byte-identical files.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from .saved import SavedResults, write_csv, write_parquet  # noqa: F401  (re-exported)
from .yamlsafe import load_yaml

FILES = ("scenario.yaml", "ops.parquet", "timeseries.parquet", "summary.csv", "report.md")


def default_out_dir(name: str, seed: int | None = None, iterations: int | None = None,
                    root: str | Path = "results") -> Path:
    """``results/<name>[-seed<N>][-it<N>]``: deterministic, no timestamp."""
    safe = re.sub(r"[^A-Za-z0-9._=+-]+", "_", name)
    if seed is not None:
        safe += f"-seed{seed}"
    if iterations is not None:
        safe += f"-it{iterations}"
    return Path(root) / safe


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:               # alive, another user's
        return True
    return True


def clean_stale(target: Path) -> list[Path]:
    """Remove the hidden ``.NAME.tmp-PID`` / ``.NAME.old-PID`` directories that
    runs into ``target`` left when they were killed (their PID is gone); if such a
    run was killed between its two renames (``target`` missing, an ``.old-PID``
    left), put the previous results back first.  Returns what was removed."""
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(tmp|old)-(\d+)$")
    removed = []
    for entry in sorted(parent.iterdir()):
        m = pattern.match(entry.name)
        if not m or not entry.is_dir():
            continue
        pid = int(m.group(2))
        if pid != os.getpid() and _pid_alive(pid):
            continue                      # a run in progress
        if m.group(1) == "old" and not target.exists():
            entry.rename(target)          # killed between the renames: the previous results
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` only if the block succeeds.

    Stale temporary directories of killed runs into ``target`` are removed
    first (:func:`clean_stale`).  The commit (two renames) runs with SIGINT,
    SIGTERM and SIGHUP blocked, and not at all if one of them came during the
    block, even if its exception was swallowed (:mod:`simulator.interrupts`)."""
    from .interrupts import commit_guard
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    try:
        with commit_guard():
            if target.exists():
                old = target.parent / f".{target.name}.old-{os.getpid()}"
                if old.exists():
                    shutil.rmtree(old)
                target.rename(old)
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_one(d: Path, saved: SavedResults, scenario_yaml: str, plots: bool,
               render: Callable[[SavedResults, Path, bool], None]) -> None:
    (d / "scenario.yaml").write_text(scenario_yaml, encoding="utf-8")
    write_parquet(saved.ops, d / "ops.parquet")
    write_parquet(saved.timeseries, d / "timeseries.parquet")
    write_csv(saved.summary, d / "summary.csv")
    if len(saved.histograms):
        write_parquet(saved.histograms, d / "histograms.parquet")
    (d / "log.txt").write_text("".join(f"{line}\n" for line in saved.log), encoding="utf-8")
    saved.path = d
    render(saved, d, plots)


def render_dir(saved: SavedResults, d: Path, plots: bool = True) -> None:
    """(Re)make plots/*.png and report.md of one results directory from ``saved``."""
    from . import report
    plot_files: list[Path] = []
    if plots:
        from .plots import make_plots
        plot_files = make_plots(saved, d / "plots")
    report.write_spread(saved, d)
    (d / "report.md").write_text(report.render_report(saved, [p.relative_to(d) for p in plot_files]),
                                 encoding="utf-8")


def render_sweep(saved: SavedResults, d: Path, plots: bool = True) -> None:
    from . import report
    plot_files: list[Path] = []
    if plots:
        from .plots_sweep import make_sweep_plots
        plot_files = make_sweep_plots(saved, d / "plots")
    (d / "report.md").write_text(report.render_sweep_report(saved, [p.relative_to(d) for p in plot_files]),
                                 encoding="utf-8")


def sweep_summary(points: list[tuple[str, SavedResults]]) -> pd.DataFrame:
    frames = [p.summary.assign(point=label) for label, p in points]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if "point" in df:
        df = df[["point"] + [c for c in df.columns if c != "point"]]
    return df


def write_results(target: Path, saved: SavedResults, scenario_yaml: str, plots: bool = True,
                  point_yamls: list[str] | None = None) -> Path:
    """Write ``saved`` (a run, or a sweep with ``saved.points``) atomically to ``target``."""
    with atomic_dir(Path(target)) as tmp:
        if saved.points:
            assert point_yamls is not None and len(point_yamls) == len(saved.points)
            for (label, point), text in zip(saved.points, point_yamls):
                (tmp / label).mkdir()
                _write_one(tmp / label, point, text, plots, render_dir)
            (tmp / "scenario.yaml").write_text(scenario_yaml, encoding="utf-8")
            saved.summary = sweep_summary(saved.points)
            write_csv(saved.summary, tmp / "summary.csv")
            render_sweep(saved, tmp, plots)
        else:
            _write_one(tmp, saved, scenario_yaml, plots, render_dir)
    _set_paths(saved, Path(target))
    return Path(target)


def _set_paths(saved: SavedResults, d: Path) -> None:
    saved.path = d
    for label, point in saved.points:
        point.path = d / label


class ResultsDirError(ValueError):
    """A directory that is not a vmsim results directory (one-line message)."""


def times_in_ns(scenario: dict[str, Any]) -> dict[str, Any]:
    """A saved scenario with ``stop.time`` and ``metrics.sample_interval`` as int ns
    (scenario files write them with a unit, ``'60000000000 ns'``), for reports."""
    from .units import parse_duration
    for section, key in (("stop", "time"), ("metrics", "sample_interval")):
        part = scenario.get(section)
        if isinstance(part, dict) and part.get(key) is not None:
            try:
                part[key] = parse_duration(part[key])
            except ValueError:
                pass
    return scenario


def load_results(d: str | Path) -> SavedResults:
    """Read a results directory (or a sweep's top directory) back."""
    d = Path(d)
    if not d.is_dir():
        raise ResultsDirError(f"{d}: not a directory")
    if not (d / "scenario.yaml").is_file():
        raise ResultsDirError(f"{d}: no scenario.yaml; not a vmsim results directory")
    scenario = load_yaml(d / "scenario.yaml")
    if not isinstance(scenario, dict):
        raise ResultsDirError(f"{d / 'scenario.yaml'}: not a resolved scenario mapping")
    scenario = times_in_ns(scenario)
    if scenario.get("sweep"):
        points = []
        for sub in sorted(p for p in d.iterdir() if p.is_dir() and "=" in p.name):
            points.append((sub.name, load_results(sub)))
        order = _point_order(scenario)
        points.sort(key=lambda lp: order.index(lp[0]) if lp[0] in order else len(order))
        if not points:
            raise ResultsDirError(f"{d}: a sweep's results directory without point directories")
        return SavedResults(scenario=scenario, ops=pd.DataFrame(), timeseries=pd.DataFrame(),
                            summary=sweep_summary(points), path=d, points=points)
    missing = [f for f in ("ops.parquet", "timeseries.parquet", "summary.csv") if not (d / f).is_file()]
    if missing:
        raise ResultsDirError(f"{d}: missing {', '.join(missing)}; not a complete results directory")
    log_path = d / "log.txt"
    log = log_path.read_text(encoding="utf-8").splitlines() if log_path.is_file() else []
    hist_path = d / "histograms.parquet"
    try:
        return SavedResults(scenario=scenario, ops=pd.read_parquet(d / "ops.parquet"),
                            timeseries=pd.read_parquet(d / "timeseries.parquet"),
                            summary=_read_summary(d / "summary.csv"), log=log, path=d,
                            histograms=(pd.read_parquet(hist_path) if hist_path.is_file()
                                        else pd.DataFrame()))
    except (OSError, ValueError) as exc:       # pyarrow's ArrowInvalid is a ValueError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResultsDirError(f"{d}: unreadable results ({first}); run the scenario again") from None


def _read_summary(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    missing = [c for c in ("allocator", "seed", "loop_time_ns") if c not in df.columns]
    if missing:
        raise ValueError(f"{path.name} has no column(s) {', '.join(missing)}")
    return df


def _point_order(scenario: dict[str, Any]) -> list[str]:
    from .scenario import point_label
    sweep = scenario.get("sweep") or {}
    return [point_label(str(k), v) for k, vals in sweep.items() for v in (vals or [])]


def rerender(d: str | Path) -> SavedResults:
    """``vmsim report DIR``: re-make plots and report.md from the saved files."""
    saved = load_results(d)
    plots = bool((saved.scenario.get("output") or {}).get("plots", True))
    for _, point in saved.points:
        assert point.path is not None
        _render_in_place(point.path, lambda t, point=point: render_dir(point, t, plots))  # type: ignore[misc]
    if saved.points:
        _render_in_place(Path(d), lambda t: render_sweep(saved, t, plots))
    else:
        _render_in_place(Path(d), lambda t: render_dir(saved, t, plots))
    return saved


def _render_in_place(d: Path, render: Callable[[Path], None]) -> None:
    """Render into a hidden directory inside ``d``, then move each file over its old
    version with signals blocked: an interrupted ``vmsim report`` leaves the old
    report and plots, never half-written ones."""
    from .interrupts import commit_guard
    tmp = d / f".render.tmp-{os.getpid()}"
    for stale in d.glob(".render.tmp-*"):
        pid = stale.name.rsplit("-", 1)[1]
        if stale.is_dir() and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        render(tmp)
        with commit_guard():
            for src in sorted(p for p in tmp.rglob("*") if p.is_file()):
                dst = d / src.relative_to(tmp)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["clean_stale", "times_in_ns", "SavedResults", "default_out_dir", "write_results", "load_results",
           "rerender",
           "atomic_dir", "write_parquet", "write_csv", "ResultsDirError", "FILES"]
