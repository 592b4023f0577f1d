"""Issue 14 (interrupts and kills): SIGINT, SIGTERM and SIGHUP end a running
``vmsim run --jobs 2`` within a second with 128 + the signal and one line, leave no
results, no temporary directory and no process; SIGKILL takes the pool workers with
it; stale temporary directories of killed runs are removed by the next run; --out
never replaces another scenario's results without --force."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from badinput import assert_bad_input, tree, vmsim, vmsim_command

from support import REPO

LONG = """\
name: {name}
device: qemu-x86
allocators: [busy-list, augmented-tree]
callers:
  - workload: random
    cpus: 0
    measure: true
stop:
  time: {time}
seeds: [1, 2]
"""


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (workers, and anything they started)."""
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"                       # a zombie has died (nobody reaped it yet)


def _start(tmp: Path, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([*vmsim_command(), "run", "s.yaml", "--out", "r", "--quiet", *extra],
                            cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL, start_new_session=True)


def _wait_for_workers(proc: subprocess.Popen[str], n: int = 2, timeout: float = 60) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        kids = _children(proc.pid)
        if len(kids) >= n:
            time.sleep(0.5)                    # let them start simulating
            return _descendants(proc.pid)       # the whole tree must die with vmsim
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("vmsim run --jobs 2 started no workers")


@pytest.mark.slow
@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                        (signal.SIGHUP, 129)])
def test_signal_ends_a_pool_run_within_a_second(tmp_path: Path, sig: int, status: int) -> None:
    (tmp_path / "s.yaml").write_text(LONG.format(name="long", time="100 s"))
    before = tree(tmp_path)
    proc = _start(tmp_path, "--jobs", "2")
    workers = _wait_for_workers(proc)
    t0 = time.monotonic()
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=30)
    elapsed = time.monotonic() - t0
    assert proc.returncode == status, err
    assert elapsed < 1.0, elapsed
    assert err.splitlines() == [f"vmsim: interrupted by {signal.Signals(sig).name}; no results written"]
    assert out == ""
    assert tree(tmp_path) == before           # no results, no hidden temporary directory
    time.sleep(0.2)
    assert [w for w in workers if _alive(w)] == []


@pytest.mark.slow
def test_sigkill_takes_the_workers_with_it(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(LONG.format(name="long", time="100 s"))
    before = tree(tmp_path)
    proc = _start(tmp_path, "--jobs", "2")
    workers = _wait_for_workers(proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)              # the pipes close: no worker holds them
    assert proc.returncode == -signal.SIGKILL
    end = time.monotonic() + 2
    while any(_alive(w) for w in workers) and time.monotonic() < end:
        time.sleep(0.05)
    assert [w for w in workers if _alive(w)] == []
    assert tree(tmp_path) == before


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.slow
def test_interrupt_during_the_write_keeps_the_old_results_or_commits_new_ones(tmp_path: Path) -> None:
    """SIGTERM at several moments of a short run (simulation, plots, report, commit):
    either the run ends 143 with the previous results untouched, or it finished (0) and
    the new results are complete; never a mix, never a temporary directory left."""
    (tmp_path / "s.yaml").write_text(LONG.format(name="short", time="5 ms"))
    first = vmsim("run", "s.yaml", "--out", "r", "--quiet", "--jobs", "2", cwd=tmp_path, timeout=300)
    assert first.returncode == 0, first.stderr
    t0 = time.monotonic()
    assert vmsim("run", "s.yaml", "--out", "r2", "--quiet", "--jobs", "2", cwd=tmp_path).returncode == 0
    full = time.monotonic() - t0
    seen = set()
    for frac in (0.3, 0.5, 0.7, 0.85, 0.95):
        (tmp_path / "r" / "marker").write_text("old")
        proc = _start(tmp_path, "--jobs", "2")
        time.sleep(full * frac)
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 143), err
        seen.add(proc.returncode)
        hidden = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
        assert hidden == []
        files = {p.name for p in (tmp_path / "r").iterdir()}
        assert {"scenario.yaml", "summary.csv", "report.md", "ops.parquet"} <= files
        if proc.returncode == 143:
            assert len(err.splitlines()) == 1 and "interrupted by SIGTERM" in err
            assert (tmp_path / "r" / "marker").exists()        # the previous results, untouched
        else:
            assert not (tmp_path / "r" / "marker").exists()    # replaced as a whole
    assert 143 in seen


def test_stale_temporary_directories_are_removed_by_the_next_run(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(LONG.format(name="short", time="1 ms").replace(
        "allocators: [busy-list, augmented-tree]", "allocators: [busy-list]").replace(
        "seeds: [1, 2]", "seeds: [1]"))
    dead, live = _dead_pid(), os.getpid()
    for name in (f".r.tmp-{dead}", f".r.old-{dead}", f".r.tmp-{live}"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "ops.parquet").write_text("half written")
    (tmp_path / "r").mkdir()                   # a previous results directory of this scenario
    (tmp_path / "r" / "scenario.yaml").write_text("name: short\n")
    res = vmsim("run", "s.yaml", "--out", "r", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    hidden = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert hidden == [f".r.tmp-{live}"]        # a live process's directory is left alone
    assert (tmp_path / "r" / "summary.csv").is_file()


def test_out_of_another_scenario_is_not_replaced_without_force(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "scenario.yaml").write_text("name: other-experiment\n")
    (tmp_path / "r" / "summary.csv").write_text("precious\n")
    (tmp_path / "s.yaml").write_text(LONG.format(name="short", time="1 ms").replace(
        "seeds: [1, 2]", "seeds: [1]"))
    before = tree(tmp_path)
    assert_bad_input(vmsim("run", "s.yaml", "--out", "r", "--quiet", cwd=tmp_path),
                     "r:", "'other-experiment'", "'short'", "--force", before=before, root=tmp_path)
    assert (tmp_path / "r" / "summary.csv").read_text() == "precious\n"
    res = vmsim("run", "s.yaml", "--out", "r", "--quiet", "--force", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "short" in (tmp_path / "r" / "scenario.yaml").read_text()


SWALLOWED = """
import os, signal, sys
from pathlib import Path
from simulator import interrupts
from simulator.output import atomic_dir

interrupts.install()
target = Path(sys.argv[1])

class Finaliser:
    def __del__(self):                      # Python can only print an exception raised here
        os.kill(os.getpid(), signal.SIGINT)

try:
    with atomic_dir(target) as tmp:
        (tmp / "summary.csv").write_text("complete")
        f = Finaliser()
        del f                               # the interrupt lands in __del__ and is swallowed
        print("the block went on", flush=True)
except KeyboardInterrupt as exc:
    print("commit refused", exc.signum, flush=True)
"""


def test_an_interrupt_swallowed_by_a_finaliser_still_stops_the_commit(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-c", SWALLOWED, str(tmp_path / "r")], capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert res.stdout.splitlines() == ["the block went on", f"commit refused {int(signal.SIGINT)}"]
    assert res.stderr == ""                                    # no "Exception ignored in ..."
    assert list(tmp_path.iterdir()) == []                      # nothing committed, no temporary dir
