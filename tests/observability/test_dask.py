"""Issue 13 point 6 + issue 12 point 5: runs of a command on Dask distributed.

* a sweep on a 2-worker LocalCluster (``--jobs 2``) writes the same bytes as
  the serial run (``--jobs 1``);
* ``--scheduler ADDRESS`` (and ``VMSIM_SCHEDULER``) run on an existing cluster;
* progress lines show finished/total and an ETA;
* Ctrl-C answers within a second, keeps the finished runs (OUT/.work) and
  ``vmsim run --resume`` finishes the rest, byte-identical to a full run;
* the longest run is submitted first.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from simulator.runner import estimate
from support import REPO

from .conftest import vmsim

SWEEP = {
    "name": "dask-sweep", "device": "qemu-x86", "cpus": 2,
    "allocators": ["linux-4.19", "linux-6.1"],
    "callers": [{"workload": "random", "cpus": [0, 1], "measure": True}],
    "stop": {"iterations": 300}, "seeds": [1, 2],
    "sweep": {"stop.iterations": [200, 400]},
    "output": {"plots": False},
}


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_two_worker_local_cluster_sweep_is_byte_identical_to_serial(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SWEEP))
    t0 = time.monotonic()
    serial = vmsim("run", "s.yaml", "--out", "serial", "--jobs", "1", "--quiet", cwd=tmp_path)
    assert serial.returncode == 0, serial.stderr
    par = vmsim("run", "s.yaml", "--out", "dask", "--jobs", "2", cwd=tmp_path)
    assert par.returncode == 0, par.stderr
    a, b = _files(tmp_path / "serial"), _files(tmp_path / "dask")
    assert len(a) > 8 and any(k.endswith("ops.parquet") for k in a)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert not (tmp_path / "dask" / ".work").exists()       # the finished runs' store is gone
    # progress: one line per run of the whole sweep (8 runs, one pool), with an ETA
    lines = [ln for ln in par.stderr.splitlines() if ln.startswith("vmsim: run ")]
    assert [re.match(r"vmsim: run (\d+)/8 done", ln).group(1) for ln in lines] == \
        [str(i) for i in range(1, 9)]
    assert all(re.search(r"ETA (\d+ s|\d+ min \d+ s)\)$", ln) for ln in lines), lines
    assert time.monotonic() - t0 < 120


def test_an_existing_scheduler_by_option_and_by_environment(tmp_path: Path) -> None:
    from distributed import LocalCluster
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({**SWEEP, "sweep": {"stop.iterations": [200]}}))
    ref = vmsim("run", "s.yaml", "--out", "ref", "--jobs", "1", "--quiet", cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=":0") as cluster:
        addr = cluster.scheduler_address
        sched = cluster.scheduler
        t0 = sched.transition_counter
        opt = vmsim("run", "s.yaml", "--out", "opt", "--quiet", "--scheduler", addr, cwd=tmp_path)
        assert opt.returncode == 0, opt.stderr
        t1 = sched.transition_counter
        env = vmsim("run", "s.yaml", "--out", "env", "--quiet", "--jobs", "1", cwd=tmp_path,
                    env={"VMSIM_SCHEDULER": addr})
        assert env.returncode == 0, env.stderr
        t2 = sched.transition_counter
        # each of the two commands really ran its tasks on that cluster (a
        # VMSIM_SCHEDULER that were ignored would run --jobs 1 in-process, with
        # the same bytes)
        assert t1 > t0 and t2 > t1, (t0, t1, t2)
        # negative control: a --jobs 1 run without the variable leaves it alone
        local = vmsim("run", "s.yaml", "--out", "local", "--quiet", "--jobs", "1", cwd=tmp_path,
                      env={"VMSIM_SCHEDULER": ""})
        assert local.returncode == 0, local.stderr
        assert sched.transition_counter == t2
    assert _files(tmp_path / "ref") == _files(tmp_path / "opt") == _files(tmp_path / "env") \
        == _files(tmp_path / "local")


def test_a_bad_scheduler_address_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({**SWEEP, "sweep": {"stop.iterations": [200]}}))
    r = vmsim("run", "s.yaml", "--out", "r", "--quiet", "--scheduler", "tcp://127.0.0.1:1",
              cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and "tcp://127.0.0.1:1" in r.stderr


@pytest.mark.slow
def test_ctrl_c_keeps_finished_runs_and_resume_finishes_the_rest(tmp_path: Path) -> None:
    doc = {**SWEEP, "sweep": {"stop.iterations": [3000]}, "seeds": [1, 2, 3]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from simulator.cli import main; "
                             "sys.exit(main())", "run", "s.yaml", "--out", "r", "--jobs", "1"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    seen = []
    for line in proc.stderr:                 # wait until two runs of six are done
        seen.append(line)
        if line.startswith("vmsim: run 2/6 done"):
            break
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert elapsed < 1.0, elapsed
    last = err.strip().splitlines()[-1]
    assert last.startswith("vmsim: interrupted by SIGINT; no results written; ")
    assert "--resume" in last and "r/.work" in last
    kept = sorted((tmp_path / "r" / ".work").glob("*.pkl"))
    assert 2 <= len(kept) <= 3
    assert not (tmp_path / "r" / "scenario.yaml").exists()
    resumed = vmsim("run", "s.yaml", "--out", "r", "--jobs", "1", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    lines = [ln for ln in resumed.stderr.splitlines() if ln.startswith("vmsim: run ")]
    assert len(lines) == 6 - len(kept)       # only the rest ran
    assert lines[-1].startswith("vmsim: run 6/6 done")
    assert not (tmp_path / "r" / ".work").exists()
    full = vmsim("run", "s.yaml", "--out", "full", "--jobs", "1", "--quiet", cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    assert _files(tmp_path / "r") == _files(tmp_path / "full")


def test_estimate_orders_runs_by_iterations_callers_and_cpus() -> None:
    from dataclasses import replace

    from simulator.spec import AddressSpace, CallerSpec, RunSpec
    from simulator.devices import load_device
    cost = load_device("qemu-x86")["cost"]
    asp = AddressSpace(vstart=0x1000_0000, vend=0x2000_0000, vmalloc_start=0x1000_0000,
                       vmalloc_end=0x2000_0000)
    one = RunSpec(scenario="x", allocator="linux-4.19", seed=1, cpus=1, device="qemu-x86",
                  cost=cost, address_space=asp, callers=(CallerSpec("random", 0),), iterations=100)
    two = replace(one, cpus=2, callers=(CallerSpec("random", 0), CallerSpec("random", 1)))
    assert estimate(two) == 4 * estimate(one)
    assert estimate(replace(one, iterations=1000)) == 10 * estimate(one)


def test_the_longest_run_is_submitted_first() -> None:
    """Pool submits to Dask in decreasing estimate order (higher priority first),
    and returns the results in spec order."""
    from dataclasses import replace

    from simulator.devices import load_device
    from simulator.runner import Pool, simulate
    from simulator.spec import AddressSpace, CallerSpec, RunSpec
    cost = load_device("qemu-x86")["cost"]
    asp = AddressSpace(vstart=0x1000_0000, vend=0x2000_0000, vmalloc_start=0x1000_0000,
                       vmalloc_end=0x2000_0000)
    base = RunSpec(scenario="x", allocator="linux-4.19", seed=1, cpus=1, device="qemu-x86",
                   cost=cost, address_space=asp, callers=(CallerSpec("random", 0),), iterations=20)
    specs = [base, replace(base, iterations=80), replace(base, iterations=40)]
    submitted = []

    class Done:
        def __init__(self, value: object) -> None:
            self.value = value

        def done(self) -> bool:
            return True

        def result(self) -> object:
            return self.value

    class Client:                        # records what a Dask client is asked to do
        def submit(self, fn, spec, timeline, *, pure, priority, key):  # noqa: ANN001
            submitted.append((spec.iterations, priority))
            return Done(fn(spec, timeline))

    p = Pool(jobs=2)
    p.client = Client()
    out = p.map(specs)
    assert [it for it, _ in submitted] == [80, 40, 20]
    assert [pr for _, pr in submitted] == [3, 2, 1]
    assert [r.summary["ops"] for r in out] == [simulate(s).summary["ops"] for s in specs]
