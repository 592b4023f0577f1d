"""Issue 13 point 5: ``vmsim run --timeline`` writes the simulated timeline as
Chrome trace-event JSON (Perfetto, chrome://tracing): one track per CPU, spans
for the vmalloc/vfree paths, lock waits, critical sections, purges and TLB
flushes, args naming the cost components; nothing is attached without it."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import vmsim

SCENARIO = {
    "name": "timeline", "device": "embedded-arm32", "cpus": 4,
    "allocators": ["linux-4.19", "linux-6.1", "linux-6.9"],
    "address_space": {"vmalloc": {"start": 0xf0800000, "end": 0xf1000000}},   # 8 MiB: purges
    "callers": [{"workload": "random", "cpus": [0, 1]},
                {"workload": "thread-stacks", "cpus": 2, "background": True, "rate_per_s": 20000}],
    "stop": {"iterations": 300}, "seeds": [1], "output": {"plots": False},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("timeline")
    (tmp / "s.yaml").write_text(yaml.safe_dump(SCENARIO))
    r = vmsim("run", "s.yaml", "--out", "r", "--quiet", "--jobs", "1", "--timeline", cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert "timeline: r/timeline.json" in r.stderr
    return tmp / "r", json.loads((tmp / "r" / "timeline.json").read_text())


def test_one_process_per_run_and_one_track_per_cpu(run: tuple[Path, dict]) -> None:
    _, doc = run
    ev = doc["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
    assert sorted(procs.values()) == ["linux-4.19 seed 1", "linux-6.1 seed 1", "linux-6.9 seed 1"]
    for pid in procs:
        tracks = {e["args"]["name"] for e in ev
                  if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == pid}
        assert {"CPU 0", "CPU 1", "CPU 2"} <= tracks
        used = {e["tid"] for e in ev if e["ph"] == "X" and e["pid"] == pid}
        assert {0, 1, 2} <= used


def test_span_names_of_each_generation(run: tuple[Path, dict]) -> None:
    _, doc = run
    ev = doc["traceEvents"]
    procs = {e["args"]["name"].split()[0]: e["pid"] for e in ev
             if e["ph"] == "M" and e["name"] == "process_name"}
    names = defaultdict(set)
    for e in ev:
        if e["ph"] == "X":
            names[e["pid"]].add(e["name"])
    common = {"vmalloc", "vfree", "purge", "TLB flush"}
    assert common | {"vmap_area_lock", "spin vmap_area_lock"} <= names[procs["linux-4.19"]]
    six_one = {"free_vmap_area_lock", "vmap_area_lock", "purge_vmap_area_lock"}
    assert common | six_one <= names[procs["linux-6.1"]]
    assert common | {"free_vmap_area_lock", "busy.lock/0", "lazy.lock/0"} <= names[procs["linux-6.9"]]
    cats = {e["cat"] for e in ev if e["ph"] == "X"}
    assert cats == {"op", "lock wait", "critical section", "purge", "tlb flush"}


def test_op_spans_match_ops_parquet_and_name_the_components(run: tuple[Path, dict]) -> None:
    out, doc = run
    ops = pd.read_parquet(out / "ops.parquet")
    ev = doc["traceEvents"]
    pid = next(e["pid"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"
               and e["args"]["name"].startswith("linux-4.19"))
    spans = [e for e in ev if e["ph"] == "X" and e["pid"] == pid and e["cat"] == "op"]
    mine = ops[ops["allocator"] == "linux-4.19"]
    assert len(spans) == len(mine)
    got = sorted((round(e["ts"] * 1000), round(e["dur"] * 1000), e["name"], e["tid"]) for e in spans)
    want = sorted(zip(mine["t_ns"].round().astype(int), mine["latency_ns"].round().astype(int),
                      mine["op"].astype(str), mine["cpu"]))
    assert got == want
    comps = ("search_ns", "lock_wait_ns", "objects_ns", "pages_ns", "purge_ns", "flush_ns")
    for e in spans:
        assert set(comps) <= set(e["args"])
        assert sum(e["args"][k] for k in comps) == pytest.approx(e["args"]["latency_ns"])


def test_spans_nest_on_every_track(run: tuple[Path, dict]) -> None:
    """Perfetto and chrome://tracing draw a track's spans as a stack: on each
    track two spans are either disjoint or one contains the other."""
    _, doc = run
    tracks = defaultdict(list)
    for e in doc["traceEvents"]:
        if e["ph"] == "X":
            tracks[(e["pid"], e["tid"])].append((e["ts"], -e["dur"], e["ts"] + e["dur"], e["name"]))
    eps = 1e-6
    for key, spans in tracks.items():
        stack: list[tuple[float, str]] = []
        for start, _, end, name in sorted(spans):
            while stack and stack[-1][0] <= start + eps:
                stack.pop()
            assert not stack or end <= stack[-1][0] + eps, (key, name, start, end, stack[-1])
            stack.append((end, name))
        assert spans
    # the waits and sections of an op lie inside it; purges inside the op that purged
    # (on a CPU's track: a kworker's track has no op spans)
    inside = 0
    for key, spans in tracks.items():
        ops = [(start, end) for start, _, end, name in spans if name in ("vmalloc", "vfree")]
        if not ops:
            continue
        for start, _, end, name in spans:
            if name in ("vmalloc", "vfree"):
                continue
            assert any(s - eps <= start and end <= e + eps for s, e in ops), (key, name, start, end)
            inside += 1
    assert inside > 0                                       # non-vacuity


def test_no_probe_without_timeline() -> None:
    from simulator.engine import Engine
    from simulator.lock import SpinLock
    from simulator.metrics import OpLog
    from simulator.runner import simulate

    seen = {}
    orig_run = Engine.run

    def run(self: Engine) -> object:
        seen["spin_lock"] = "spin_lock" in vars(self)
        # OpLog binds its mode's own add; a probe would replace it with a wrapper
        seen["add"] = getattr(self.oplog.add, "__func__", None) not in (
            OpLog._add_record, OpLog._add_stats)
        seen["locks"] = {type(lk) for lk in self.locks.values()}
        seen["flushed"] = "flushed" in vars(self.kernel)
        return orig_run(self)
    Engine.run = run                      # type: ignore[method-assign]
    try:
        from simulator.scenario import load_scenario
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "s.yaml"
            p.write_text(yaml.safe_dump({**SCENARIO, "allocators": ["linux-6.1"],
                                         "stop": {"iterations": 20}}))
            specs = load_scenario(p).run_specs()
        res = simulate(specs[0])
        assert seen == {"spin_lock": False, "add": False, "locks": {SpinLock}, "flushed": False}
        assert not hasattr(res, "timeline")
        res = simulate(specs[0], timeline=True)
        assert seen["spin_lock"] and seen["add"] and seen["flushed"]
        assert all(t is not SpinLock and issubclass(t, SpinLock) for t in seen["locks"])
        assert res.timeline.spans
    finally:
        Engine.run = orig_run             # type: ignore[method-assign]


def test_kworker_tracks_of_the_6x_drain(tmp_path: Path) -> None:
    """A large area and big frees: 6.1's drain_vmap_work purges in a kworker, on its
    own track beside the CPU's, with its lock sections, flush and purge nested."""
    doc = {**SCENARIO, "allocators": ["linux-6.1"], "address_space": {},
           "callers": [{"workload": "random", "cpus": [0, 1],
                        "size": {"kind": "uniform", "low": "1 page", "high": "256 pages"},
                        "lifetime": {"kind": "exponential", "mean": "200 us"}}],
           "stop": {"iterations": 1500}}
    del doc["address_space"]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    r = vmsim("run", "s.yaml", "--out", "r", "--quiet", "--jobs", "1", "--timeline", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ev = json.loads((tmp_path / "r" / "timeline.json").read_text())["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    kworkers = {tid for tid, n in names.items() if n.startswith("kworker/")}
    assert kworkers
    on_kworker = {e["name"] for e in ev if e["ph"] == "X" and e["tid"] in kworkers}
    assert {"purge", "TLB flush", "purge_vmap_area_lock", "free_vmap_area_lock"} <= on_kworker
    assert not {"vmalloc", "vfree"} & on_kworker                 # ops stay on the CPU tracks
    test_spans_nest_on_every_track((tmp_path / "r", {"traceEvents": ev}))
