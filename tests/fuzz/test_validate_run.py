"""validate == run, searched for systematically (issue 14): scenarios built from edgy but
well-formed values (sizes, alignments, ranges, CPUs, workloads, devices, kernel options);
whatever the scenario layer (``vmsim validate``) accepts must run through the engine
without an error.  A run that fails after validation passed is the bug this test hunts.

Time-bounded like the other fuzz targets (a sixth of ``VMSIM_FUZZ_SECONDS``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
import time

from hypothesis import settings
from test_fuzz import FUZZ, TOTAL_SECONDS, run_for

pytestmark = pytest.mark.fuzz

SIZES = st.sampled_from(["1 page", "2 pages", "3 pages", "16 KiB", "1 MiB", "64 MiB", "1 GiB", 4096, 8192])
ALIGNS = st.sampled_from([1, 2, 4096, 8192, 1 << 20, 1 << 30, 1 << 40, 1 << 62, 1 << 63])
ADDRS = st.sampled_from([0, 4096, 0xbf000000, 0xf0800000, 0xff800000, 1 << 32, 0xffffc90000000000,
                         0xffffe90000000000, 0xffffffffff000000, 1 << 64])
DEVICES = st.sampled_from(["qemu-x86", "embedded-arm32", "embedded-arm64", "x86-server"])
ALLOCATORS = st.sampled_from(["busy-list", "free-list", "augmented-tree"])


@st.composite
def caller(draw: Any, cpu: int, background: bool) -> dict[str, Any]:
    workload = draw(st.sampled_from(["random", "thread-stacks", "module-load", "ioremap", "seed-test1",
                                     "seed-test2", "fix_size_alloc_test", "fix_align_alloc_test",
                                     "random_size_alloc_test", "full_fit_alloc_test"]))
    c: dict[str, Any] = {"workload": workload, "cpus": cpu, "background": background}
    if workload == "random":
        c.update(size=draw(SIZES), align=draw(ALIGNS), measure=not background,
                 lifetime=draw(st.sampled_from(["10 us", "forever",
                                                {"kind": "exponential", "mean": "50 us"}])))
        if draw(st.booleans()):
            c["vstart"] = draw(ADDRS)
        if draw(st.booleans()):
            c["vend"] = draw(ADDRS)
        if draw(st.booleans()):
            c["max_live"] = draw(st.integers(1, 50))
    elif workload in ("thread-stacks", "ioremap"):
        c["rate_per_s"] = draw(st.sampled_from([10, 1000, 100000]))
    elif workload == "module-load":
        c.update(boot_modules=draw(st.integers(0, 5)), size=draw(SIZES))
    elif workload in ("seed-test1", "seed-test2"):
        c.update(size=draw(SIZES), prefill=draw(st.integers(0, 50)))
    return c


@st.composite
def scenario(draw: Any) -> dict[str, Any]:
    cpus = draw(st.integers(1, 4))
    n_callers = draw(st.integers(1, cpus))
    callers = [draw(caller(i, background=i > 0 and draw(st.booleans()))) for i in range(n_callers)]
    doc: dict[str, Any] = {"name": "agree", "device": draw(DEVICES), "cpus": cpus,
                           "allocators": draw(st.lists(ALLOCATORS, min_size=1, max_size=3, unique=True)),
                           "callers": callers, "stop": {"iterations": 5, "time": "300 us"},
                           "seeds": [draw(st.integers(0, 2**32))],
                           "metrics": {"sample_interval": "100 us"}, "output": {"plots": False}}
    if draw(st.booleans()):
        lo, hi = sorted([draw(ADDRS), draw(ADDRS)])
        doc["address_space"] = {"vmalloc": {"start": lo, "end": hi}}
        if draw(st.booleans()):
            doc["address_space"]["word_bits"] = 32
    if draw(st.booleans()):
        doc["kernel"] = {"guard_page": draw(st.booleans()),
                         "purge_priority_threshold": draw(st.booleans())}
    return doc


def test_whatever_validates_runs(tmp_path: Path) -> None:
    from simulator.runner import simulate
    from simulator.scenario import ScenarioError, parse_scenario

    end = time.monotonic() + TOTAL_SECONDS / 6

    @settings(FUZZ, max_examples=5)
    @given(scenario())
    def one(doc: dict[str, Any]) -> None:
        if time.monotonic() > end:             # the budget is spent: the batch ends quickly
            return
        try:
            sc = parse_scenario(doc, "agree.yaml", tmp_path)
        except ScenarioError as exc:
            assert "\n" not in str(exc)
            return
        for spec in sc.run_specs():
            simulate(spec)         # any exception: run would fail where validate passed

    run_for(TOTAL_SECONDS / 6, one)
