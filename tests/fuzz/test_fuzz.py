"""Fuzz targets (issue 14): the scenario YAML loader and schema, the /proc/vmallocinfo,
ftrace and dmesg parsers, and the calibration input.  Any exception other than the
project's clean, one-line error naming the file fails the test.

Each target runs hypothesis examples for a bounded wall time: ``VMSIM_FUZZ_SECONDS``
(the total over the five targets; default 60 in CI, where ``CI`` is set, else 10).
``VMSIM_FUZZ_SECONDS=3600 python -m pytest tests/fuzz`` fuzzes for an hour.  The
targets are marked ``fuzz`` (``-m "not fuzz"`` skips them in a fast lane)."""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.fuzz

TARGETS = 5
TOTAL_SECONDS = float(os.environ.get("VMSIM_FUZZ_SECONDS") or (60 if os.environ.get("CI") else 10))
PER_TARGET = TOTAL_SECONDS / TARGETS

FUZZ = settings(max_examples=40, deadline=None, database=None, derandomize=False,
                suppress_health_check=list(HealthCheck), print_blob=True)


def run_for(seconds: float, test: Callable[[], None]) -> int:
    """Call the hypothesis test (each call: a fresh random batch) until ``seconds`` pass."""
    end = time.monotonic() + seconds
    calls = 0
    while calls == 0 or time.monotonic() < end:
        test()
        calls += 1
    return calls


def clean(exc: BaseException, path: Path, kinds: tuple[type[BaseException], ...]) -> None:
    """The only acceptable failure: one of ``kinds``, one line, naming the file."""
    if not isinstance(exc, kinds):
        raise exc
    msg = str(exc)
    assert "\n" not in msg, msg
    assert str(path.name) in msg, msg


# ------------------------------------------------------------ nasty values
NASTY_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**63, 2**64, 4096, 10**12, 10**13, int("9" * 200)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "0", "60", "60 s", "1 ms", "-1 ns", "3 pages", "16 KiB", "1.5 MiB", "0x1000",
                     "0xffffffffffffffff", "all", "zzz", "1e400", "nan", "inf", "1_000", "\x01",
                     "9" * 300 + " KiB", "../x.trace", "/dev/zero", "qemu-x86", "./nope.yaml",
                     "busy-list", "random", "seed-test1", "trace-replay"]),
)
NASTY = st.recursive(NASTY_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=8)

SCENARIO: dict[str, Any] = {
    "name": "fuzz", "device": "qemu-x86", "cpus": 4,
    "address_space": {"page_size": 4096},
    "allocators": ["busy-list"],
    "callers": [{"workload": "random", "cpus": 0, "measure": True, "size": "3 pages",
                 "lifetime": {"kind": "exponential", "mean": "1 ms"}, "vstart": None},
                {"workload": "thread-stacks", "cpus": [1, 2], "background": True, "rate_per_s": 100}],
    "stop": {"iterations": 10, "time": "1 ms"},
    "seeds": [1, 2],
    "metrics": {"sample_interval": "100 us", "keep_ops": True},
    "kernel": {"guard_page": True},
    "output": {"plots": False},
}


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return doc


@st.composite
def mutated(draw: Any, base: dict[str, Any]) -> Any:
    """``base`` with a few values (or keys) replaced by nasty ones."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        if draw(st.booleans()) and path and isinstance(path[-1], str):
            parent = doc
            for p in path[:-1]:
                parent = parent[p]
            parent[draw(st.text(max_size=8))] = draw(NASTY)         # an extra key
        else:
            doc = _set(doc, path, draw(NASTY))
    return doc


@st.composite
def yaml_text(draw: Any, base: dict[str, Any]) -> str:
    """A mutated document as YAML, sometimes with its text damaged too."""
    doc = draw(mutated(base))
    try:
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError, OverflowError):
        text = str(doc)
    if draw(st.integers(0, 3)) == 0:                      # damage the text itself
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.text(max_size=12)) + text[pos + draw(st.integers(0, 5)):]
    return text


def test_fuzz_scenario_loader_and_schema(tmp_path: Path) -> None:
    from simulator.scenario import ScenarioError, load_scenario

    path = tmp_path / "fuzz.yaml"

    @FUZZ
    @given(yaml_text(SCENARIO))
    def one(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            sc = load_scenario(path)
            sc.run_specs()
            sc.resolved_yaml()
        except Exception as exc:  # noqa: BLE001 (classified by clean())
            clean(exc, path, (ScenarioError,))

    run_for(PER_TARGET, one)


# ------------------------------------------------------------ data files
HEX = st.one_of(st.integers(0, 2**64), st.integers(0, 2**80), st.sampled_from([0, 4096, 0xf0800000]))
TOKENS = st.sampled_from(["vmalloc", "ioremap", "vmap", "user", "vpages", "vm_map_ram", "unpurged vm_area",
                          "pages=3", "pages=", "phys=0x1000", "N0=3", "N=3", "[mod]",
                          "start_kernel+0x10/0x20", "0xdeadbeef", "foo+0x1/0x2", "", "\t", "#", "xyz",
                          "pages=" + "9" * 50])


@st.composite
def vmallocinfo_text(draw: Any) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.text(max_size=60)))
            continue
        start = draw(HEX)
        end = draw(st.one_of(st.just(start + 8192), HEX))
        size = draw(st.one_of(st.just(end - start), st.integers(-5, 2**70)))
        toks = draw(st.lists(TOKENS, max_size=4))
        lines.append(f"0x{start:x}-0x{end:x} {size} {' '.join(toks)}")
    return "\n".join(lines)


def test_fuzz_vmallocinfo_parser(tmp_path: Path) -> None:
    from simulator.vmallocinfo import (VmallocinfoError, initial_busy, parse_vmallocinfo,
                                       size_distribution)
    path = tmp_path / "fuzz.vmallocinfo"

    @FUZZ
    @given(vmallocinfo_text(), st.sampled_from([4096, 16384, 65536]), HEX, HEX)
    def one(text: str, page: int, lo: int, hi: int) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            info = parse_vmallocinfo(path, page_size=page)
            size_distribution(info)
            size_distribution(info, kinds=("vmalloc",), include_guard=True)
            initial_busy(info, lo, hi)
        except Exception as exc:  # noqa: BLE001
            clean(exc, path, (VmallocinfoError,))

    run_for(PER_TARGET, one)


EVENTS = st.sampled_from([
    "alloc_vmap_area: va_start: {a} size={b} align={c} vstart=0x{d:x} vend=0x{e:x} failed={f}",
    "free_vmap_area_noflush: va_start=0x{a:x} nr_lazy={b} nr_lazy_max={c}",
    "purge_vmap_area_lazy: start=0x{a:x} end=0x{b:x} num_purged={c}",
    "sched_switch: prev_comm=bash", "func <-caller", "alloc_vmap_area: garbage"])


@st.composite
def ftrace_text(draw: Any) -> str:
    lines = []
    t = draw(st.integers(0, 10**6))
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.integers(0, 6))
        if kind == 0:
            lines.append(draw(st.text(max_size=60)))
            continue
        if kind == 1:
            lines.append(draw(st.sampled_from(["# tracer: nop", "cpus=4", "CPU:1 [LOST 3 EVENTS]",
                                               "CPU 2 is empty", "version = 6", ""])))
            continue
        t += draw(st.integers(-5, 10**6))
        ints = {k: draw(st.one_of(st.integers(0, 2**64), st.integers(-3, 2**90)))
                for k in "abcde"}
        ints["f"] = draw(st.integers(0, 2))
        try:
            ev = draw(EVENTS).format(**ints)
        except ValueError:                    # a negative number for {:x}
            ev = "alloc_vmap_area: -1"
        cpu = draw(st.integers(0, 2**20))
        lines.append(f"task-{draw(st.integers(0, 2**40))} [{cpu:03d}] .... "
                     f"{t // 10**6}.{t % 10**6:06d}: {ev}")
    return "\n".join(lines)


def test_fuzz_ftrace_parser(tmp_path: Path) -> None:
    from simulator.ftrace import TraceError, parse_trace
    from workloads.trace_replay import build_script
    path = tmp_path / "fuzz.trace"

    @FUZZ
    @given(ftrace_text())
    def one(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            build_script(parse_trace(path))
        except Exception as exc:  # noqa: BLE001
            clean(exc, path, (TraceError,))

    run_for(PER_TARGET, one)


@st.composite
def dmesg_text(draw: Any) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 3)) == 0:
            lines.append(draw(st.text(max_size=60)))
            continue
        n = [draw(st.one_of(st.integers(0, 10**7), st.integers(0, 10**40), st.just(0))) for _ in range(5)]
        name = draw(st.sampled_from(["fix_size_alloc_test", "random_size_alloc_test", "x", ""]))
        lines.append(f"[ 1.0] Summary: {name} passed: {n[0]} failed: {n[1]} repeat: {n[2]} "
                     f"loops: {n[3]} avg: {n[4]} usec")
    return "\n".join(lines)


CALIBRATION: dict[str, Any] = {
    "device": "qemu-x86", "fit": ["map_page_ns"], "iterations": 100, "seeds": [1], "rounds": 1,
    "measurements": [
        {"name": "fix", "workload": "fix_size_alloc_test", "allocator": "busy-list",
         "per_iteration_us": 1.5, "spread_us": 0.1, "iterations": 50,
         "background": [{"workload": "thread-stacks", "cpu": 1, "params": {"rate_per_s": 10}}]},
        {"workload": "random", "allocator": "busy-list", "per_run_us": 1000, "loops": 10,
         "params": {"measure": True}},
        {"dmesg": "fuzz.log", "allocator": "busy-list"},
    ],
}


def test_fuzz_calibration_input_and_dmesg(tmp_path: Path) -> None:
    from simulator.calibrate import CalibrationError, load_spec, parse_dmesg
    spec = tmp_path / "fuzz.yaml"
    log = tmp_path / "fuzz.log"

    @FUZZ
    @given(yaml_text(CALIBRATION), dmesg_text())
    def one(text: str, dmesg: str) -> None:
        log.write_text(dmesg, encoding="utf-8", errors="surrogatepass")
        try:
            parse_dmesg(log)
        except Exception as exc:  # noqa: BLE001
            clean(exc, log, (CalibrationError,))
        spec.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_spec(spec)
        except CalibrationError as exc:
            msg = str(exc)
            assert "\n" not in msg and ("fuzz.yaml" in msg or "fuzz.log" in msg), msg
        except Exception as exc:  # noqa: BLE001
            clean(exc, spec, ())

    run_for(2 * PER_TARGET, one)


def test_fuzz_budget_is_at_least_a_minute_in_ci() -> None:
    if os.environ.get("CI") and not os.environ.get("VMSIM_FUZZ_SECONDS"):
        assert TOTAL_SECONDS >= 60
    assert math.isclose(PER_TARGET * TARGETS, TOTAL_SECONDS)
