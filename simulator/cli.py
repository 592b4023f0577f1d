"""The ``vmsim`` command.

    vmsim run SCENARIO.yaml [--out DIR] [--seed N] [--iterations N] [--jobs N] [--quiet]
              [--scheduler ADDRESS] [--resume] [--timeline]
    vmsim validate SCENARIO.yaml
    vmsim list
    vmsim report DIR
    vmsim schema
    vmsim calibrate MEASURED.yaml --out PROFILE.yaml [--jobs N] [--accept-poor-fit]
    vmsim compare-dmesg LOG --scenario FILE [--iterations N] [--markdown FILE]
    vmsim trace-check TRACE --layout VMALLOCINFO [--scenario FILE]

Exit status: 0 ok, 2 bad input (one line on stderr naming the file and the
YAML path), 1 internal error (one line; the traceback only with ``--debug``),
128 + the signal when interrupted (130 SIGINT, 143 SIGTERM, 129 SIGHUP).

``--devices DIR`` (any command) adds a directory of device profiles; a
scenario may also name a profile file by path (``device: ./board.yaml``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__


class BadInput(Exception):
    """A user error: reported as one line, exit status 2."""


#: what this process committed (an interrupt after the commit says so)
_WRITTEN: dict[str, str] = {}
#: the vmsim run in progress: its finished runs are kept for --resume
_RUNNING: dict[str, Any] = {}


# ------------------------------------------------------------------ commands

def _load(path: str) -> Any:
    from .scenario import ScenarioError, load_scenario
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None


def _check_writable(out: Path) -> None:
    """The results directory ``out`` can be written (BadInput otherwise): no file in its
    way, and its nearest existing ancestor takes a new directory (a probe made and
    removed at once; nothing is left).  ``validate`` checks a scenario's output.dir so."""
    blocker = next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise BadInput(f"{out}: {blocker} is a file, not a directory; choose another --out")
    base = next((p for p in out.parents if p.is_dir()), Path("."))
    try:
        import tempfile
        os.rmdir(tempfile.mkdtemp(prefix=f".{out.name}.probe-", dir=base))
    except OSError as exc:
        raise BadInput(f"{out}: cannot write in {base} ({exc.strerror}); "
                       "choose another --out") from None


def cmd_validate(args: argparse.Namespace) -> int:
    sc = _load(args.scenario)
    if sc.config.output.dir:             # run would refuse an output.dir it cannot write
        _check_writable(Path(sc.config.output.dir))
    if sc.is_sweep:
        runs = sum(len(p.allocators) * len(p.run_seeds) for _, p in sc.points)
        print(f"{args.scenario}: ok: {sc.name}, sweep of {len(sc.points)} points, {runs} runs")
    else:
        runs = len(sc.allocators) * len(sc.run_seeds)
        once = " (seed independent: one seed runs)" if len(sc.run_seeds) < len(sc.config.seeds) else ""
        print(f"{args.scenario}: ok: {sc.name}, {len(sc.callers)} callers on {sc.cpus} CPUs, "
              f"{len(sc.allocators)} allocators x {len(sc.run_seeds)} seeds = {runs} runs{once}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Every argument and input is checked before the first simulation."""
    from .calibrate import CalibrationError, calibrate, format_report, load_spec, render_profile
    from .devices import load_device

    if args.jobs is not None and args.jobs < 1:
        raise BadInput(f"vmsim calibrate: --jobs: expected a number of processes >= 1 (got {args.jobs})")
    out = Path(args.out)
    if out.is_dir():
        raise BadInput(f"{out}: --out is a directory; accepted: a profile file name such as board.yaml")
    if not out.parent.is_dir():
        raise BadInput(f"{out}: --out: no such directory {out.parent}; accepted: a file in an "
                       "existing directory")
    if not os.access(out.parent, os.W_OK):
        raise BadInput(f"{out}: --out: directory {out.parent} is not writable")
    if out.exists() and not args.force:
        raise BadInput(f"{out}: exists; pass --force to overwrite it")
    try:
        spec = load_spec(args.measured)
        base_text = Path(load_device(spec.device)["path"]).read_text(encoding="utf-8")
    except (CalibrationError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    jobs = args.jobs or min(2, os.cpu_count() or 1)
    log = None if args.quiet else (lambda line: print(line, flush=True))
    from .runner import pool
    from .runner import SchedulerError
    try:
        with pool(jobs, args.scheduler):  # one set of workers for every batch of the fit
            result, _ = calibrate(spec, jobs=jobs, log=log)
    except SchedulerError as exc:
        raise BadInput(str(exc)) from None
    print(format_report(result))
    from .calibrate import poor_fit
    reasons = poor_fit(result)
    for reason in reasons:
        print(f"poor fit: {reason}", file=sys.stderr)
    if reasons and not args.accept_poor_fit:
        print(f"vmsim calibrate: a poor fit; {out} not written (the fitted values are above; pass "
              "--accept-poor-fit to write the profile anyway)", file=sys.stderr)
        return 1
    text = render_profile(base_text, dict(zip(result.names, result.fitted)), spec.source.name)
    from .interrupts import commit_guard
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        with commit_guard():
            tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    _WRITTEN["out"] = str(out)
    print(f"wrote {out} (a scenario names it by path: `device: {out.resolve()}`, or put it in a "
          "--devices DIR)")
    return 0


def cmd_compare_dmesg(args: argparse.Namespace) -> int:
    """A board's test_vmalloc Summary lines beside the simulated ones (no fitting)."""
    from .calibrate import CalibrationError, parse_dmesg
    from .compare_dmesg import compare
    from .report import markdown_table, text_table
    from .runner import run_specs
    from .scenario import ScenarioError
    try:
        parse_dmesg(args.log)
    except CalibrationError as exc:
        raise BadInput(str(exc)) from None
    sc = _load(args.scenario)
    if sc.is_sweep:
        raise BadInput(f"{args.scenario}: a sweep; compare-dmesg takes one scenario")
    try:
        sc = sc.override(iterations=args.iterations)
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None
    specs = sc.run_specs()
    jobs = max(1, min(args.jobs or (os.cpu_count() or 1), len(specs)))
    results = run_specs(specs, jobs=jobs)
    rows, notes = compare(args.log, sc, results)
    print(text_table(rows), end="")
    for note in notes:
        print(f"note: {note}")
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(rows), encoding="utf-8")
        print(f"wrote {args.markdown}")
    return 0


def cmd_trace_check(args: argparse.Namespace) -> int:
    """Does a /proc/vmallocinfo dump show the address space at the trace's start?"""
    from workloads.trace_replay import check_fit
    vrange = None
    page = 4096
    if args.scenario:
        sc = _load(args.scenario)
        spec = (sc.points[0][1] if sc.is_sweep else sc).run_specs()[0]
        vrange = (spec.address_space.vstart, spec.address_space.vend)
        page = spec.address_space.page_size
    try:
        ok, lines = check_fit(args.trace, args.layout, page_size=page, vrange=vrange)
    except (ValueError, OSError) as exc:
        raise BadInput(str(exc)) from None
    for line in lines:
        print(line)
    return 0 if ok else 1


def cmd_schema(args: argparse.Namespace) -> int:
    from .scenario import json_schema
    print(json.dumps(json_schema(), indent=2, sort_keys=False))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from workloads import REGISTRY

    from .devices import list_devices
    from .kernels import GENERATIONS
    sections = [("devices", list_devices()),
                ("workloads", {n: w.description for n, w in REGISTRY.items()})]
    for title, items in sections:
        print(f"{title}:")
        width = max((len(n) for n in items), default=0)
        for name, desc in items.items():
            print(f"  {name.ljust(width)}  {' '.join(str(desc).split())}")
    print("kernel generations (scenario key `allocators`):")
    width = max(len(n) for n in GENERATIONS)
    for g in GENERATIONS.values():
        alias = f"; alias {', '.join(g.aliases)}" if g.aliases else ""
        print(f"  {g.name.ljust(width)}  {g.kernels}: {g.description} (policy {g.policy}{alias})")
        for lock, what in g.locks:
            print(f"  {''.ljust(width)}    lock {lock}: {what}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .output import ResultsDirError, rerender
    from .report import comparison_text
    from .yamlsafe import YamlError
    try:
        saved = rerender(args.dir)
    except (ResultsDirError, YamlError) as exc:
        raise BadInput(str(exc)) from None
    print(comparison_text(saved), end="")
    print(f"report: {Path(args.dir) / 'report.md'}")
    return 0


class _Progress:
    """A tqdm bar on a terminal, plain lines otherwise, nothing when quiet."""

    wants_eta = True                     # simulator.runner passes eta_s=

    def __init__(self, total: int, quiet: bool, stream: Any = None) -> None:
        self.total, self.done, self.quiet = total, 0, quiet
        self.stream = stream if stream is not None else sys.stderr
        self.bar = None
        self.t0 = time.monotonic()
        if not quiet and hasattr(self.stream, "isatty") and self.stream.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="run", file=self.stream, dynamic_ncols=True)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        from .interrupts import check
        check()                          # a signal whose exception was swallowed
        self.done += 1
        spec = next((a for a in args if hasattr(a, "allocator") and hasattr(a, "seed")), None)
        what = f"{spec.allocator} seed {spec.seed}" if spec is not None else ""
        if args and isinstance(args[0], int):
            self.done = args[0]          # resumed runs count as done
        eta_s = kwargs.get("eta_s")
        eta = "" if eta_s is None else f", ETA {_duration(eta_s)}"
        if self.bar is not None:
            self.bar.set_postfix_str(f"{what}{eta}", refresh=False)
            self.bar.n = self.done
            self.bar.refresh()
        elif not self.quiet:
            print(f"vmsim: run {self.done}/{self.total} done {what} "
                  f"({time.monotonic() - self.t0:.1f} s{eta})".rstrip(), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(s: float) -> str:
    """An ETA as people read it: 42 s, 3 min 05 s, 1 h 02 min."""
    s = max(0, int(round(s)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _run_specs(specs: list[Any], jobs: int, progress: Callable[..., None], **kw: Any) -> Any:
    from .runner import run_specs
    return run_specs(specs, jobs=jobs, progress=progress, **kw)


def _work_dir(out: Path) -> Path:
    """Where ``vmsim run`` keeps its finished runs until the results are written."""
    return out / ".work"


def _saved_from(results: Any, sc: Any) -> Any:
    import yaml

    from .metrics import summary_rows
    from .output import SavedResults
    from .output import times_in_ns
    return SavedResults(scenario=times_in_ns(yaml.safe_load(sc.resolved_yaml())), ops=results.ops,
                        timeseries=results.timeseries, summary=summary_rows(results.summary),
                        log=list(results.log), histograms=results.histograms)


def _saved_name(path: Path) -> str | None:
    """The ``name`` of a saved scenario.yaml (None if it cannot be read)."""
    from .yamlsafe import YamlError, load_yaml
    try:
        doc = load_yaml(path)
    except YamlError:
        return None
    name = doc.get("name") if isinstance(doc, dict) else None
    return name if isinstance(name, str) else None


def cmd_run(args: argparse.Namespace) -> int:
    from .output import SavedResults, default_out_dir, write_results
    from .scenario import ScenarioError
    sc = _load(args.scenario)
    if args.iterations is not None and not args.quiet:
        for i, param in (sc.points[0][1] if sc.is_sweep else sc).loop_params().items():
            print(f"vmsim: --iterations {args.iterations} sets callers[{i}].{param} (the workload "
                  "counts its own loops; stop.iterations does not apply to it)", file=sys.stderr)
    try:
        sc = sc.override(seed=args.seed, iterations=args.iterations)
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None
    if args.jobs is not None and args.jobs < 1:
        raise BadInput(f"vmsim run: --jobs must be >= 1 (got {args.jobs})")
    if args.out:
        out = Path(args.out)
    elif sc.config.output.dir:
        out = Path(sc.config.output.dir)
    else:
        out = default_out_dir(sc.name, args.seed, args.iterations)
    _check_writable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from .output import clean_stale
    clean_stale(out)                     # hidden directories of killed runs into out
    only_work = out.is_dir() and [p.name for p in out.iterdir()] == [".work"]
    if out.exists() and not (out / "scenario.yaml").is_file() and not only_work:
        raise BadInput(f"{out}: exists and is not a vmsim results directory; "
                       "choose another --out")
    if out.exists() and not args.force and not only_work:
        previous = _saved_name(out / "scenario.yaml")
        if previous != sc.name:
            held = f"scenario {previous!r}" if previous else "a scenario vmsim cannot read"
            raise BadInput(f"{out}: holds the results of {held}, not of {sc.name!r}; accepted: "
                           "another --out, or --force to replace them")
    groups = list(sc.points) if sc.is_sweep else [("", sc)]
    group_specs = [g.run_specs() for _, g in groups]
    total = sum(len(s) for s in group_specs)
    jobs = args.jobs or max(1, min(os.cpu_count() or 1, total))
    from .runner import RunStore, pool, results_of
    import shutil
    work = _work_dir(out)
    if not args.resume and work.exists():
        shutil.rmtree(work)              # --resume only reuses finished runs
    store = RunStore(work, timeline=args.timeline)
    progress = _Progress(total, args.quiet)
    _RUNNING.update(out=str(out), store=store, argv=_resume_argv(args))
    try:
        # one pool (Dask when --jobs > 1 or --scheduler) for every run of every point,
        # longest first; each finished run is kept in OUT/.work for --resume
        everything = [s for specs in group_specs for s in specs]
        from .runner import SchedulerError
        try:
            with pool(jobs, args.scheduler):
                res = _run_specs(everything, jobs, progress, store=store, timeline=args.timeline)
        except SchedulerError as exc:
            raise BadInput(str(exc)) from None
        parts: list[tuple[str, Any]] = []
        timelines: list[tuple[str, Any]] = []
        k = 0
        for (label, group), specs in zip(groups, group_specs):
            part = results_of(specs, res.runs[k:k + len(specs)])
            k += len(specs)
            parts.append((label, _saved_from(part, group)))
            timelines.append((label, part))
    finally:
        progress.close()
    if sc.is_sweep:
        import pandas as pd
        import yaml
        from .output import times_in_ns
        saved = SavedResults(scenario=times_in_ns(yaml.safe_load(sc.resolved_yaml())), ops=pd.DataFrame(),
                             timeseries=pd.DataFrame(), summary=pd.DataFrame(), points=parts)
        write_results(out, saved, sc.resolved_yaml(), plots=sc.config.output.plots,
                      point_yamls=[g.resolved_yaml() for _, g in groups])
    else:
        saved = parts[0][1]
        write_results(out, saved, sc.resolved_yaml(), plots=sc.config.output.plots)
    _WRITTEN["out"] = str(out)
    _RUNNING.clear()
    if args.timeline:
        from .timeline import write_timeline
        path = write_timeline(out / "timeline.json", timelines)
        print(f"timeline: {path} (open it in https://ui.perfetto.dev or chrome://tracing)",
              file=sys.stderr)
    from .report import comparison_text
    print(comparison_text(saved), end="")
    print(f"results: {out}")
    return 0


def _resume_argv(args: argparse.Namespace) -> str:
    words = ["vmsim", "run", args.scenario]
    for opt in ("out", "seed", "iterations", "jobs", "scheduler"):
        v = getattr(args, opt, None)
        if v is not None:
            words += [f"--{opt}", str(v)]
    for flag in ("timeline", "quiet", "force"):
        if getattr(args, flag, False):
            words.append(f"--{flag}")
    return " ".join(words + ["--resume"])


# ------------------------------------------------------------------ parser

def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: Any = None) -> None:
    """vmsim's own warnings (an initial layout outside the range) as one line."""
    if category.__name__ == "LayoutWarning":
        print(f"vmsim: warning: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
        return
    import warnings
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an internal error")
    common.add_argument("--devices", action="append", metavar="DIR", default=argparse.SUPPRESS,
                        help="a directory of device profiles (<name>.yaml), searched before the "
                             "shipped ones; may be repeated")
    p = _Parser(
        prog="vmsim", parents=[common],
        description="Discrete-event simulator of the Linux vmalloc address-space allocator.",
        epilog="Exit status: 0 ok, 2 bad input, 1 internal error, 128 + signal when interrupted "
               "(130 SIGINT, 143 SIGTERM, 129 SIGHUP).")
    p.add_argument("--version", action="version", version=f"vmsim {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    r = sub.add_parser("run", parents=[common], help="run every allocator x seed of a scenario",
                       description="Run every allocator x seed of SCENARIO, write the results "
                                   "directory atomically and print the comparison table.")
    r.add_argument("scenario", metavar="SCENARIO.yaml")
    r.add_argument("--out", metavar="DIR", help="results directory (default: output.dir of the "
                   "scenario, else results/<name>[-seed<N>][-it<N>])")
    r.add_argument("--seed", type=int, metavar="N", help="run this one seed instead of the scenario's seeds")
    r.add_argument("--iterations", type=int, metavar="N", help="measured iterations per caller "
                   "(stop.iterations; for the test-vmalloc preset: its test_loop_count)")
    r.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: all cores, "
                   "at most one per run)")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument("--force", action="store_true", help="replace an --out directory that holds "
                   "another scenario's results")
    r.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask scheduler "
                   "(tcp://host:8786; default: $VMSIM_SCHEDULER, else a local cluster of --jobs "
                   "workers when --jobs > 1)")
    r.add_argument("--resume", action="store_true", help="reuse the runs an interrupted "
                   "`vmsim run` of the same --out finished (kept in OUT/.work) and run the rest")
    r.add_argument("--timeline", action="store_true", help="also write OUT/timeline.json: the "
                   "simulated timeline (Chrome trace-event JSON; Perfetto, chrome://tracing)")
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("validate", parents=[common], help="check a scenario file",
                       description="Validate SCENARIO; exit 2 with one line naming the problem.")
    v.add_argument("scenario", metavar="SCENARIO.yaml")
    v.set_defaults(func=cmd_validate)

    ls = sub.add_parser("list", parents=[common], help="devices, workloads and allocators",
                        description="List device profiles, workloads and allocators, one line each.")
    ls.set_defaults(func=cmd_list)

    rp = sub.add_parser("report", parents=[common], help="re-make plots and report.md of a results dir",
                        description="Re-make plots/*.png and report.md from a saved results directory.")
    rp.add_argument("dir", metavar="DIR")
    rp.set_defaults(func=cmd_report)

    sc = sub.add_parser("schema", parents=[common], help="print the scenario JSON Schema",
                        description="Print the JSON Schema of scenario files (for editors).")
    sc.set_defaults(func=cmd_schema)

    cal = sub.add_parser("calibrate", parents=[common], help="fit a device profile to measured figures",
                         description="Fit the chosen cost parameters of a device profile to measured "
                                     "figures (a YAML file of measurements, or test_vmalloc dmesg "
                                     "Summary lines) by bounded least squares; print each fitted "
                                     "value beside its allowed range and each residual; write the "
                                     "new profile.")
    cal.add_argument("measured", metavar="MEASURED.yaml")
    cal.add_argument("--out", required=True, metavar="PROFILE.yaml", help="the profile to write")
    cal.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    cal.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: 2)")
    cal.add_argument("--scheduler", metavar="ADDRESS", help="run the simulations on this Dask "
                     "scheduler (default: $VMSIM_SCHEDULER, else a local cluster when --jobs > 1)")
    cal.add_argument("--quiet", action="store_true", help="no line per simulation batch")
    cal.add_argument("--accept-poor-fit", action="store_true", help="write the profile even when a "
                     "parameter ends at a bound of its allowed range or a residual exceeds 10 %%")
    cal.set_defaults(func=cmd_calibrate)

    cd = sub.add_parser("compare-dmesg", parents=[common], help="a board's test_vmalloc results "
                        "beside the simulated ones", description="Run SCENARIO (its test_vmalloc "
                        "callers) and line up the board's 'Summary:' lines of LOG with the simulated "
                        "ones, per test and allocator, per loop; nothing is fitted.")
    cd.add_argument("log", metavar="LOG", help="a dmesg log with test_vmalloc Summary lines")
    cd.add_argument("--scenario", required=True, metavar="FILE", help="the scenario to simulate")
    cd.add_argument("--iterations", type=int, metavar="N", help="as vmsim run --iterations")
    cd.add_argument("--jobs", type=int, metavar="N", help="worker processes")
    cd.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    cd.set_defaults(func=cmd_compare_dmesg)

    tc = sub.add_parser("trace-check", parents=[common], help="does a vmallocinfo dump fit a "
                        "trace's start", description="Check that LAYOUT (/proc/vmallocinfo taken "
                        "at the start of TRACE) is the address space TRACE starts from: every "
                        "traced free of an older area finds it in the layout, no traced allocation "
                        "overlaps a busy layout area; exit 0 if it fits, 1 if not "
                        "(docs/trace-replay.md).")
    tc.add_argument("trace", metavar="TRACE", help="an ftrace capture of the vmalloc events")
    tc.add_argument("--layout", required=True, metavar="VMALLOCINFO", help="the /proc/vmallocinfo "
                    "dump taken at the trace's start")
    tc.add_argument("--scenario", metavar="FILE", help="also check that the layout lies in this "
                    "scenario's address space")
    tc.set_defaults(func=cmd_trace_check)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The console entry point; returns the exit status."""
    console = argv is None               # the vmsim command itself (not a test calling main)
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:            # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    debug = getattr(args, "debug", False) or "--debug" in argv
    from . import interrupts
    interrupts.install()
    import warnings
    warnings.showwarning = _show_warning
    try:
        if getattr(args, "devices", None):
            from .devices import DeviceError, set_device_dirs
            try:
                set_device_dirs(args.devices)
            except DeviceError as exc:
                raise BadInput(str(exc)) from None
        status = int(args.func(args))
        if console:                      # done: the interpreter's teardown (seconds with
            interrupts.ignore_further()  # Dask and matplotlib loaded) ends with this status
        return status
    except BadInput as exc:
        print(" ".join(str(exc).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        interrupts.ignore_further()
        signum = getattr(exc, "signum", None) or interrupts.received() or 2
        import signal as _signal
        written = _WRITTEN.get("out")
        what = f"results were written to {written}" if written else "no results written"
        kept = _RUNNING["store"].count() if _RUNNING.get("store") is not None else 0
        if kept and not written:
            what += (f"; {kept} finished run(s) kept in {_RUNNING['store'].path}: "
                     f"`{_RUNNING['argv']}` finishes the rest")
        print(f"vmsim: interrupted by {_signal.Signals(signum).name}; {what}", file=sys.stderr,
              flush=True)
        if console:                      # end now: interpreter teardown can take a second
            try:
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
            os._exit(128 + signum)
        return 128 + signum
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 (the one place internal errors are reported)
        if type(exc).__name__ == "SelfCheckError":   # a run's state broke an invariant
            print(f"vmsim: {' '.join(str(exc).split())}", file=sys.stderr)
            return 1
        if debug:
            traceback.print_exc()
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"vmsim: internal error: {type(exc).__name__}: {msg}"
              + ("" if debug else " (run with --debug for the traceback)"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
