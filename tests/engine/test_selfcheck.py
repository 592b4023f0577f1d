"""Run-time self-checks: an injected overlap stops the run with one line
naming the allocator, the seed and the operation; clean runs checked at every
sample (mid-operation states included) pass."""

from __future__ import annotations

import dataclasses
import re

import pytest

from simulator.allocators.base import AllocResult
from simulator.engine import SelfCheckError
from simulator.runner import make_policy, simulate

from .conftest import make_spec


def _checked(spec, every: int = 1, interval_ns: int = 20_000):
    return dataclasses.replace(spec, metrics=dataclasses.replace(
        spec.metrics, check_every=every, sample_interval_ns=interval_ns))


def _faulty(shift_bytes: int, after: int):
    """A policy whose ``after``-th allocation returns the previous live
    address shifted by ``shift_bytes`` (the policy itself is not told)."""
    def factory(spec):
        policy = make_policy(spec)
        real = policy.alloc
        state = {"n": 0, "last": None}
        fake: dict[int, int] = {}                 # faked address -> the real one

        def alloc(size, align=1, vstart=None, vend=None):
            r = real(size, align, vstart, vend)
            state["n"] += 1
            if state["n"] == after and state["last"] is not None:
                fake[state["last"] + shift_bytes] = r.addr
                return AllocResult(state["last"] + shift_bytes, r.steps)
            state["last"] = r.addr
            return r
        policy.alloc = alloc
        if hasattr(policy, "insert_vmap_area"):   # split locks: the busy insert follows
            real_insert = policy.insert_vmap_area
            policy.insert_vmap_area = lambda addr, size: real_insert(fake.get(addr, addr), size)
        return policy
    return factory


@pytest.mark.parametrize("gen", ["linux-4.19", "rfc-2018", "linux-5.2"])
def test_an_address_handed_out_twice_stops_at_that_operation(gen) -> None:
    # _test_hold keeps every area: the 5th vmalloc returns the 4th's address
    spec = make_spec(gen, workload="_test_hold", params={"count": 10}, iterations=None, seed=7)
    with pytest.raises(SelfCheckError) as err:
        simulate(spec, allocator_factory=_faulty(0, after=5))
    msg = str(err.value)
    assert "\n" not in msg
    assert f"allocator {gen}, seed 7, op 4 (vmalloc 4096 bytes on cpu 0)" in msg
    assert "is live" in msg


@pytest.mark.parametrize("gen", ["linux-4.19", "linux-6.1"])
def test_an_overlapping_area_is_caught_by_the_periodic_check(gen) -> None:
    # the 5th area starts one page into the 4th: no exact collision, an overlap
    # (200 areas, a sample every 200 ns: the run lasts many samples, so the check
    # of a sample stops it, long before the end-of-run check would)
    spec = _checked(make_spec(gen, workload="_test_hold", params={"count": 200}, iterations=None,
                              seed=3), interval_ns=200)
    with pytest.raises(SelfCheckError, match=f"allocator {gen}, seed 3, ops \\d+ .*"
                                             "(overlap|not a busy area)") as err:
        simulate(spec, allocator_factory=_faulty(4096, after=5))
    ops = int(re.search(r", ops (\d+) at ", str(err.value)).group(1))
    assert 5 <= ops < 100, str(err.value)


@pytest.mark.parametrize("gen", ["linux-4.19", "rfc-2018", "linux-5.2", "linux-5.10", "linux-5.15",
                                 "linux-6.1"])
def test_clean_contended_runs_pass_a_check_at_every_sample(gen) -> None:
    # negative control: 4 CPUs, purges, checks every 20 us of simulated time,
    # often while some CPU is between two critical sections of one operation
    spec = _checked(make_spec(gen, cpus=4, iterations=1200, params={"pages": 15}))
    r = simulate(spec)
    assert r.summary["purges"] >= 2
    assert len(r.timeseries) > 100


def test_the_cli_reports_a_violation_in_one_line_with_exit_1(monkeypatch, tmp_path, write, capsys) -> None:
    import simulator.runner as runner
    from simulator.cli import main
    monkeypatch.setattr(runner, "make_policy", _faulty(0, after=3))
    path = write("""
        name: faulty
        device: qemu-x86
        cpus: 1
        allocators: [linux-4.19]
        callers:
          - workload: fix_size_alloc_test
            cpus: 0
        stop: {iterations: 50}
        seeds: [5]
    """)
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out), "--jobs", "1", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("vmsim: self-check failed: allocator linux-4.19, seed 5")
    assert not out.exists()


def test_the_rfcs_free_list_corruption_stops_the_run_in_one_line(write, tmp_path) -> None:
    # issue 9: a random caller straddling the modules and vmalloc ranges on 32-bit
    # ARM takes the RFC's old path, which would corrupt the RFC's free list:
    # vmsim stops with one line (exit 1) instead of producing overlapping areas
    import subprocess
    import sys
    path = write("""
        name: rfc-straddle
        device: embedded-arm32
        allocators: [rfc-2018]
        callers:
          - workload: random
            cpus: 0
            vstart: 0xbf000000
            vend: 0xff800000
            size: {kind: fixed, value: 64 MiB}   # the gap below VMALLOC_START fills after 13
            lifetime: {kind: fixed, value: 1 s}
        stop: {time: 150 ms}                     # 64 MiB takes 6.5 ms to map
        seeds: [1]
    """)
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "simulator.cli", "run", str(path), "--out", str(out),
                        "--jobs", "1", "--quiet"], capture_output=True, text=True, timeout=300)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 1, p.stderr
    assert len(err) == 1 and "RfcFreeListCorruption" in err[0]
    assert err[0].startswith("vmsim: the modelled kernel cannot go on: allocator rfc-2018, seed 1, op ")
    assert not out.exists()
