"""simulator.run / run_specs: concatenation, order, parallel == serial."""

from __future__ import annotations

import pandas as pd

import simulator
from simulator.metrics import OPS_COLUMNS, SUMMARY_COLUMNS, timeseries_columns
from simulator.runner import Results, run_specs

from .conftest import make_spec


def _specs():
    return [make_spec(a, cpus=2, iterations=300, seed=s, sample_interval_ns=100_000)
            for a in ("busy-list", "free-list") for s in (1, 2)]


def test_parallel_equals_serial_and_keeps_spec_order() -> None:
    specs = _specs()
    seen = []
    serial = run_specs(specs, jobs=1, progress=lambda done, total, spec: seen.append((done, total, spec)))
    seen_par = []
    par = run_specs(specs, jobs=2, progress=lambda done, total, spec: seen_par.append((done, total, spec)))
    assert seen == [(i, 4, specs[i - 1]) for i in range(1, 5)]
    # on Dask the runs finish in any order (longest first): each is reported once
    assert [(d, t) for d, t, _ in seen_par] == [(i, 4) for i in range(1, 5)]
    assert sorted(map(repr, (s for _, _, s in seen_par))) == sorted(map(repr, specs))
    for name in ("ops", "timeseries", "summary"):
        pd.testing.assert_frame_equal(getattr(serial, name), getattr(par, name))
    assert serial.log == par.log
    assert list(serial.summary["allocator"]) == ["busy-list", "busy-list", "free-list", "free-list"]
    assert list(serial.summary["seed"]) == [1, 2, 1, 2]
    assert serial.specs == specs


def test_columns_as_documented() -> None:
    res = simulator.run(_specs()[:1])
    assert isinstance(res, Results)
    assert list(res.ops.columns) == ["allocator", "seed", *OPS_COLUMNS]
    assert list(res.timeseries.columns) == ["allocator", "seed", *timeseries_columns(2)]
    per_lock = [f"{k}:vmap_area_lock" for k in ("lock_wait_share", "lock_acquisitions",
                                                "lock_contended", "lock_utilisation")]
    # per-caller keys (caller:<label>:<col>, made into rows by metrics.summary_rows) and
    # busy-list's cache-reset counters (cache_resets...) follow the documented columns
    cols = [c for c in res.summary.columns
            if not str(c).startswith(("caller:", "test_vmalloc:", "cache_resets"))]
    assert cols == list(SUMMARY_COLUMNS) + per_lock   # one lock in 4.19
    assert len(res.summary) == 1


def test_run_accepts_object_with_run_specs() -> None:
    class Sc:
        def run_specs(self):
            return _specs()[:2]

    res = simulator.run(Sc())
    assert list(res.summary["seed"]) == [1, 2]
