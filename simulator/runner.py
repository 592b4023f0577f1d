"""``simulator.run(scenario) -> Results``: every RunSpec, serially or on Dask.

>>> res = run("scenarios/seed-test1.yaml")          # doctest: +SKIP
>>> res.summary[["allocator", "seed", "mean_ns"]]   # doctest: +SKIP

Whole-run scheduling: a command opens one :class:`Pool` (``with pool(jobs,
scheduler):``) and every ``run_specs`` call inside it (each sweep point,
each calibration batch) submits to the same workers.  ``jobs <= 1`` and no
scheduler: the runs execute in this process, in spec order.  Otherwise they
go to Dask distributed: a ``LocalCluster`` of ``jobs`` single-threaded worker
processes, or the cluster at ``scheduler`` (``--scheduler ADDRESS`` or the
``VMSIM_SCHEDULER`` environment variable).  The longest runs are submitted
first (estimate: iterations x callers x CPUs); results come back in spec
order and are byte-identical to a serial run (a run depends on its RunSpec
only).  A :class:`RunStore` keeps each finished run (``vmsim run`` puts it
in the results directory's hidden ``.work`` directory) so that an
interrupted command can be resumed (``vmsim run --resume``).

Interrupts: the local workers ignore the terminal's SIGINT/SIGHUP (their
signal mask), die with this process (Dask's parent-alive pipe) and are
killed at once when this process stops waiting for them.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .engine import Engine, RunResult
from .metrics import SUMMARY_COLUMNS
from .spec import RunSpec

Progress = Callable[[int, int, RunSpec], None]   # (runs done, runs in all, the run just done)
#: environment variable naming an existing Dask scheduler (``tcp://host:8786``)
SCHEDULER_ENV = "VMSIM_SCHEDULER"


@dataclass
class Results:
    """Concatenated results of a scenario's runs, in spec order."""

    ops: pd.DataFrame
    timeseries: pd.DataFrame
    summary: pd.DataFrame
    log: list[str] = field(default_factory=list)
    specs: list[RunSpec] = field(default_factory=list)
    histograms: pd.DataFrame = field(default_factory=pd.DataFrame)   # stats-only runs
    timelines: list[Any] = field(default_factory=list)               # per run, with --timeline
    runs: list[RunResult] = field(default_factory=list, repr=False)  # what each run returned


def make_policy(spec: RunSpec) -> Any:
    """The allocator policy of ``spec``'s generation over its address space."""
    from . import kernels
    from .allocators import create
    asp = spec.address_space
    return create(kernels.resolve(spec.allocator).policy, vstart=asp.vstart, vend=asp.vend,
                  vmalloc_start=asp.vmalloc_start, vmalloc_end=asp.vmalloc_end,
                  page_size=asp.page_size, word_bits=asp.word_bits,
                  initial_busy=asp.initial_busy)


def simulate(spec: RunSpec, *, allocator_factory: Callable[[RunSpec], Any] | None = None,
             timeline: bool = False) -> RunResult:
    """Run one RunSpec: resolve its generation (``spec.allocator``, a
    generation name or alias) and its callers' workloads, then run the engine.
    ``allocator_factory`` replaces the generation's policy (tests, benchmarks).
    ``timeline``: record the simulated timeline (``RunResult.timeline``, see
    ``simulator.timeline``); off, the run carries no probe at all."""
    import workloads

    from . import kernels
    kernel_cls = kernels.kernel_class(spec.allocator)
    policy = (allocator_factory or make_policy)(spec)
    behaviours = []
    for c in spec.callers:
        wl = workloads.get(c.workload)
        try:
            params = wl.params.model_validate(
                c.params, context={"page_size": spec.address_space.page_size})
        except Exception as exc:  # pydantic.ValidationError, TypeError
            first = str(exc).splitlines()
            raise ValueError(f"caller {c.label}: invalid params for workload {c.workload!r}: "
                             f"{' '.join(first[:3])}") from None
        behaviours.append((wl, params))

    def kernel_factory(eng: Engine) -> Any:
        return kernel_cls(eng, policy)
    eng = Engine(spec, kernel_factory, behaviours)
    resets = _watch_cache_resets(eng)
    if not timeline:
        res = eng.run()
    else:
        from .timeline import Recorder
        rec = Recorder.attach(eng)
        res = eng.run()
        res.timeline = rec.finish()    # type: ignore[attr-defined]
    if resets is not None:
        res.summary.update(_cache_reset_columns(resets))
    res.summary.update(_trace_columns(res.log, spec))
    return res


_FIDELITY = re.compile(r": trace fidelity: (\d+)/(\d+) allocations at the traced va_start; "
                       r"first divergence: (.*)$")
_T = re.compile(r" t=(\d+) ")


def _trace_columns(log: list[str], spec: RunSpec) -> dict[str, Any]:
    """summary.csv columns of trace-replay callers (their last log line):
    ``trace:allocs`` (replayed allocations that succeeded in the trace),
    ``trace:va_start_matches``, ``trace:va_start_match_share``,
    ``trace:first_divergence`` (the earliest in trace time, of any caller),
    ``trace:initial_areas`` (busy areas of the initial layout loaded)."""
    same = compared = 0
    first: tuple[int, str] | None = None
    for line in log:
        m = _FIDELITY.search(line)
        if not m:
            continue
        same += int(m.group(1))
        compared += int(m.group(2))
        if m.group(3) != "none":
            t = _T.search(m.group(3))
            key = (int(t.group(1)) if t else 0, m.group(3))
            first = key if first is None or key < first else first
    if not compared and first is None and not any(_FIDELITY.search(x) for x in log):
        return {}
    return {"trace:allocs": compared, "trace:va_start_matches": same,
            "trace:va_start_match_share": same / compared if compared else float("nan"),
            "trace:first_divergence": first[1] if first else "none",
            "trace:initial_areas": len(spec.address_space.initial_busy)}


#: summary.csv columns of the busy-list (Linux 4.19) free_vmap_cache resets:
#: ``cache_resets``, ``cache_resets:<cause>``, ``cache_resets:<cause>:<caller>``
CACHE_RESETS = "cache_resets"


def _watch_cache_resets(eng: Engine) -> dict[tuple[str, str], int] | None:
    """Count each free_vmap_cache reset of a busy-list policy by cause and by
    the caller whose alloc_vmap_area made it (the CPU holding vmap_area_lock:
    one caller per CPU).  None for policies without that cache."""
    policy = getattr(eng.kernel, "policy", None)
    lock = eng.locks.get("vmap_area_lock")
    if policy is None or lock is None or not hasattr(policy, "on_cache_reset"):
        return None
    labels = {c.cpu: c.label for c in eng.callers}
    counts: dict[tuple[str, str], int] = {}

    def on_cache_reset(cause: str) -> None:
        key = (cause, labels.get(lock.holder, "?") if lock.holder is not None else "?")
        counts[key] = counts.get(key, 0) + 1
    policy.on_cache_reset = on_cache_reset
    return counts


def _cache_reset_columns(counts: dict[tuple[str, str], int]) -> dict[str, int]:
    out = {CACHE_RESETS: sum(counts.values())}
    for (cause, _), n in sorted(counts.items()):
        key = f"{CACHE_RESETS}:{cause}"
        out[key] = out.get(key, 0) + n
    for (cause, label), n in sorted(counts.items()):
        out[f"{CACHE_RESETS}:{cause}:{label}"] = n
    return out


def _simulate_timeline(spec: RunSpec) -> RunResult:
    return simulate(spec, timeline=True)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if f is not None]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    for col in ("allocator", "caller", "op", "metric"):
        if col in out.columns:
            out[col] = out[col].astype("category")
    return out


def _label(spec: RunSpec) -> str:
    return f"[{spec.allocator} seed={spec.seed}]"


# ------------------------------------------------------------------ estimates, store

def estimate(spec: RunSpec) -> float:
    """Relative cost of a run, to submit the longest first and to weigh the
    ETA: iterations x callers x CPUs (a time-stopped run: one iteration per
    10 us of simulated time)."""
    if spec.iterations is not None:
        its = float(spec.iterations)
    elif spec.time_ns is not None:
        its = spec.time_ns / 10_000.0
    else:
        its = 1_000.0
    return max(1.0, its) * len(spec.callers) * spec.cpus


def run_key(spec: RunSpec) -> str:
    """A finished run's name in a :class:`RunStore`: a digest of the RunSpec."""
    from ._version import __version__
    return hashlib.sha256(f"{__version__}\n{spec!r}".encode()).hexdigest()[:32]


class RunStore:
    """Finished runs, one pickle per RunSpec, written atomically (a file
    appears complete or not at all).  The directory is made at the first put."""

    def __init__(self, path: str | Path, timeline: bool = False) -> None:
        self.path = Path(path)
        self.suffix = ".timeline.pkl" if timeline else ".pkl"

    def _file(self, spec: RunSpec) -> Path:
        return self.path / f"{run_key(spec)}{self.suffix}"

    def get(self, spec: RunSpec) -> RunResult | None:
        f = self._file(spec)
        try:
            with f.open("rb") as fh:
                return pickle.load(fh)  # noqa: S301 (our own files)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
            return None

    def put(self, spec: RunSpec, result: RunResult) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        f = self._file(spec)
        tmp = f.with_name(f".{f.name}.tmp-{os.getpid()}")
        with tmp.open("wb") as fh:
            pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, f)

    def count(self) -> int:
        return len(list(self.path.glob(f"*{self.suffix}"))) if self.path.is_dir() else 0


# ------------------------------------------------------------------ the pool

_LOCAL_WORKERS = {"forking": False}


def _after_fork_in_child() -> None:
    """A local Dask worker dies with vmsim (even on SIGKILL): PR_SET_PDEATHSIG,
    set in the child right after the fork, before any of its own code runs."""
    if not _LOCAL_WORKERS["forking"]:
        return
    _LOCAL_WORKERS["forking"] = False
    import ctypes
    import sys
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):   # pragma: no cover  (best effort)
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _worker_task(spec: RunSpec, timeline: bool) -> RunResult:
    return simulate(spec, timeline=timeline)


def _reachable(address: str) -> None:
    """A TCP scheduler address answers (OSError at once if not: no Client is made,
    none is left to time out when garbage collected)."""
    import socket
    from urllib.parse import urlsplit
    if "://" not in address:
        address = f"tcp://{address}"
    u = urlsplit(address)
    if u.scheme in ("tcp", "tls") and u.hostname:
        socket.create_connection((u.hostname, u.port or 8786), timeout=5).close()


class SchedulerError(ValueError):
    """The Dask scheduler named by --scheduler / VMSIM_SCHEDULER cannot be reached."""


class Pool:
    """The workers of one command: in-process (``jobs <= 1``, no scheduler) or Dask."""

    def __init__(self, jobs: int = 1, scheduler: str | None = None) -> None:
        self.jobs = max(1, int(jobs))
        self.address = scheduler or os.environ.get(SCHEDULER_ENV) or None
        self.client: Any = None
        self.cluster: Any = None
        self.worker_pids: list[int] = []

    @property
    def serial(self) -> bool:
        return self.address is None and self.jobs <= 1

    def _start(self) -> Any:
        if self.client is not None:
            return self.client
        import logging

        import dask
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "critical")
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        from distributed import Client
        if self.address is not None:
            try:
                _reachable(self.address)
                self.client = Client(self.address, set_as_default=False, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise SchedulerError(f"Dask scheduler {self.address}: cannot connect "
                                     f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
                                     f"accepted: the address of a running scheduler, such as "
                                     f"tcp://host:8786 (--scheduler or ${SCHEDULER_ENV})") from None
            return self.client
        from distributed import LocalCluster
        from .interrupts import SIGNALS
        # the cluster's threads (and the workers they fork) keep SIGINT, SIGTERM and
        # SIGHUP blocked: the terminal's Ctrl-C reaches vmsim, which decides
        old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        _LOCAL_WORKERS["forking"] = True
        try:
            import warnings
            with warnings.catch_warnings(), dask.config.set({
                    "distributed.worker.multiprocessing-method": "fork",
                                  "distributed.worker.daemon": False,
                                  "distributed.admin.tick.limit": "1h"}):
                warnings.simplefilter("ignore")
                self.cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1,
                                            processes=True, dashboard_address=":0",
                                            memory_limit=0, silence_logs=logging.CRITICAL)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        self.client = Client(self.cluster, set_as_default=False)
        self.worker_pids = sorted(self.client.run(os.getpid).values())
        return self.client

    def map(self, specs: Sequence[RunSpec], progress: Progress | None = None,
            store: RunStore | None = None, timeline: bool = False) -> list[RunResult]:
        """Run every spec (longest first on Dask); results in spec order."""
        specs = list(specs)
        total = len(specs)
        results: list[RunResult | None] = [None] * total
        est = [estimate(s) for s in specs]
        todo = []
        for i, s in enumerate(specs):
            got = store.get(s) if store is not None else None
            if got is not None:
                results[i] = got
            else:
                todo.append(i)
        eta = _Eta(sum(est), sum(est[i] for i in range(total) if results[i] is not None))
        done = total - len(todo)

        def finished(i: int, res: RunResult) -> None:
            nonlocal done
            results[i] = res
            if store is not None:
                store.put(specs[i], res)
            done += 1
            eta.add(est[i])
            if progress:
                if getattr(progress, "wants_eta", False):
                    progress(done, total, specs[i], eta_s=eta.seconds())  # type: ignore[call-arg]
                else:
                    progress(done, total, specs[i])

        if self.serial or len(todo) <= 1 and self.address is None:
            for i in todo:
                finished(i, simulate(specs[i], timeline=timeline))
        else:
            self._dask_map(specs, todo, est, finished, timeline)
        return results  # type: ignore[return-value]

    def _dask_map(self, specs: list[RunSpec], todo: list[int], est: list[float],
                  finished: Callable[[int, RunResult], None], timeline: bool) -> None:
        from .interrupts import check
        client = self._start()
        order = sorted(todo, key=lambda i: -est[i])          # longest first
        futures = {}
        for rank, i in enumerate(order):
            fut = client.submit(_worker_task, specs[i], timeline, pure=False,
                                priority=len(order) - rank, key=f"vmsim-{run_key(specs[i])}-{i}")
            futures[fut] = i
        ok = False
        try:
            while futures:
                ready = [f for f in futures if f.done()]
                if not ready:
                    time.sleep(0.02)
                    check()
                    continue
                for f in sorted(ready, key=lambda f: futures[f]):
                    i = futures.pop(f)
                    finished(i, f.result())
            ok = True
        finally:
            if not ok:
                self.abandon(list(futures))

    def abandon(self, futures: list[Any]) -> None:
        """Stop at once: local workers are killed, remote work is cancelled."""
        if self.cluster is not None:
            for nanny in list(getattr(self.cluster, "workers", {}).values()):
                try:
                    nanny.auto_restart = False
                except AttributeError:
                    pass
            for pid in self.worker_pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.worker_pids = []
            self._close_in_background()
        elif self.client is not None and futures:
            try:
                self.client.cancel(futures)
            except Exception:  # noqa: BLE001 (best effort while stopping)
                pass

    def _close_in_background(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None

        def close() -> None:
            for obj in (client, cluster):
                try:
                    if obj is not None:
                        obj.close()
                except Exception:  # noqa: BLE001
                    pass
        threading.Thread(target=close, daemon=True, name="vmsim-dask-close").start()

    def close(self) -> None:
        _LOCAL_WORKERS["forking"] = False
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


class _Eta:
    """Seconds left, from the estimated work done so far and the wall time."""

    def __init__(self, total: float, already: float) -> None:
        self.total, self.done, self.base = total, already, already
        self.t0 = time.monotonic()

    def add(self, work: float) -> None:
        self.done += work

    def seconds(self) -> float | None:
        did = self.done - self.base
        if did <= 0:
            return None
        return (time.monotonic() - self.t0) * (self.total - self.done) / did


_ACTIVE: list[Pool] = []


@contextmanager
def pool(jobs: int = 1, scheduler: str | None = None) -> Iterator[Pool]:
    """One pool for every ``run_specs`` call inside the ``with`` block."""
    p = Pool(jobs, scheduler)
    _ACTIVE.append(p)
    ok = False
    try:
        yield p
        ok = True
    finally:
        _ACTIVE.remove(p)
        if ok:
            p.close()
        else:
            p.abandon([])


def run_specs(specs: Sequence[RunSpec], jobs: int = 1, progress: Progress | bool | None = None,
              *, scheduler: str | None = None, store: RunStore | None = None,
              timeline: bool = False) -> Results:
    """Run every spec; ``jobs > 1`` (or a scheduler) runs them on Dask (same
    results, same order).  Inside ``with pool(...)`` the open pool is used.

    ``progress``: a callable ``(done, total, spec)`` (also given ``eta_s=``
    when it has a true ``wants_eta`` attribute), or True for a tqdm bar.
    ``store``: finished runs are read from and written to it (resume).
    """
    specs = list(specs)
    total = len(specs)
    bar = None
    if progress is True:
        from tqdm import tqdm
        bar = tqdm(total=total, unit="run")
        progress = lambda done, _total, _spec: bar.update(1)  # noqa: E731
    own = None
    if _ACTIVE:
        p = _ACTIVE[-1]
    else:
        p = own = Pool(jobs if total > 1 else 1, scheduler)
    ok = False
    try:
        results = p.map(specs, progress or None, store, timeline)
        ok = True
    finally:
        if bar is not None:
            bar.close()
        if own is not None:
            own.close() if ok else own.abandon([])
    return results_of(specs, results)


def results_of(specs: list[RunSpec], results: list[RunResult]) -> Results:
    """The Results of ``specs`` from what each run returned (same order)."""
    log = [f"{_label(s)} {line}" for s, r in zip(specs, results) for line in r.log]
    summary = pd.DataFrame([r.summary for r in results])
    if len(summary):
        summary = summary[list(SUMMARY_COLUMNS) + [c for c in summary.columns if c not in SUMMARY_COLUMNS]]
    return Results(ops=_concat([r.ops for r in results]),
                   timeseries=_concat([r.timeseries for r in results]),
                   summary=summary, log=log, specs=specs,
                   histograms=_concat([r.histograms for r in results]),
                   timelines=[getattr(r, "timeline", None) for r in results], runs=list(results))


def run(scenario: Any, jobs: int = 1, progress: Progress | bool | None = None, **kw: Any) -> Results:
    """Run ``scenario``: a list of RunSpecs, an object with ``.run_specs()``, or a path.

    A path (str or Path) is loaded with ``simulator.scenario.load_scenario``.
    Extra keyword arguments go to ``load_scenario``.
    """
    if isinstance(scenario, RunSpec):
        specs: list[RunSpec] = [scenario]
    elif isinstance(scenario, (list, tuple)) and all(isinstance(s, RunSpec) for s in scenario):
        specs = list(scenario)
    elif hasattr(scenario, "run_specs"):
        specs = list(scenario.run_specs())
    elif isinstance(scenario, (str, Path)):
        from .scenario import load_scenario
        specs = list(load_scenario(scenario, **kw).run_specs())
    else:
        raise TypeError("run() takes a list of RunSpecs, an object with .run_specs(), "
                        f"or a scenario path (got {type(scenario).__name__})")
    return run_specs(specs, jobs=jobs, progress=progress)


__all__ = ["Pool", "Results", "RunStore", "SCHEDULER_ENV", "SchedulerError", "estimate", "pool", "run",
           "results_of", "run_key", "run_specs", "simulate"]
