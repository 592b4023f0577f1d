"""Calibration machinery: dmesg parsing, the bounded fit, profile rendering,
and the rule that every shipped parameter stays inside its sourced range."""

from __future__ import annotations

import math
import re

import pytest
import yaml

from simulator.calibrate import CalibrationError, fit, parse_dmesg, render_profile
from simulator.devices import DEVICES_DIR, list_devices, load_device
from support import REPO, shared_path

DMESG = """\
[   12.345678] test_vmalloc: Started background job.
[  101.000001] Summary: fix_size_alloc_test passed: 1 failed: 0 repeat: 1 loops: 1000000 avg: 934123 usec
[  101.000002] Summary: full_fit_alloc_test passed: 1 failed: 0 repeat: 1 loops: 1000000 avg: 1063422 usec
[  102.200000] All test took CPU0=297629190 cycles
"""


def test_parse_dmesg_reads_every_summary_line(tmp_path):
    log = tmp_path / "dmesg.log"
    log.write_text(DMESG)
    rows = parse_dmesg(log)
    assert [r.name for r in rows] == ["fix_size_alloc_test", "full_fit_alloc_test"]
    assert rows[0].loops == 1_000_000 and rows[0].avg_usec == 934123 and rows[0].line == 2
    assert rows[1].passed == 1 and rows[1].failed == 0 and rows[1].repeat == 1


def test_parse_dmesg_names_file_and_line_of_a_bad_summary(tmp_path):
    log = tmp_path / "bad.log"
    log.write_text(DMESG + "[  103.0] Summary: broken_test passed: x\n")
    with pytest.raises(CalibrationError) as err:
        parse_dmesg(log)
    msg = str(err.value)
    assert "bad.log:5:" in msg and "\n" not in msg and "Summary: <test>" in msg


def _linear_model(true: dict[str, float]):
    """A synthetic 'simulator': three workloads whose time per iteration is a
    known linear combination of the parameters (like page-path costs)."""
    uses = [  # counts of (a, b, c) per iteration of three workloads
        (3, 1, 0),
        (101, 1, 2),
        (1, 0, 15),
    ]

    def evaluate(values: dict[str, float]) -> list[float]:
        return [sum(n * values[k] for n, k in zip(row, ("a", "b", "c"))) + 50.0 for row in uses]

    measured = evaluate(true)
    return evaluate, measured


def test_fit_recovers_known_parameters_inside_bounds():
    true = {"a": 110.0, "b": 400.0, "c": 2.0}
    evaluate, measured = _linear_model(true)
    res = fit(["a", "b", "c"], [60.0, 200.0, 8.0], [(20, 200), (100, 800), (1, 12)],
              measured, [None] * 3, evaluate)
    for name, value in zip(res.names, res.fitted):
        assert math.isclose(value, true[name], rel_tol=1e-3), (name, value)
    assert max(abs(r) for r in res.residuals_pct) < 0.01


def test_fit_never_leaves_the_allowed_range():
    true = {"a": 110.0, "b": 400.0, "c": 40.0}   # c far above its allowed range
    evaluate, measured = _linear_model(true)
    res = fit(["a", "b", "c"], [60.0, 200.0, 8.0], [(20, 200), (100, 800), (1, 12)],
              measured, [None] * 3, evaluate)
    for value, (lo, hi) in zip(res.fitted, res.bounds):
        assert lo <= value <= hi
    assert math.isclose(res.fitted[2], 12.0, rel_tol=1e-6)   # pinned at its upper bound
    assert max(abs(r) for r in res.residuals_pct) > 1.0       # and the misfit is reported


def test_render_profile_replaces_only_fitted_values():
    base = (DEVICES_DIR / "qemu-x86.yaml").read_text()
    text = render_profile(base, {"map_page_ns": 27.5, "node_hot_ns": 2.25}, "seed.yaml")
    data = yaml.safe_load(text)
    orig = yaml.safe_load(base)
    assert data["cost"]["map_page_ns"] == 27.5 and data["cost"]["node_hot_ns"] == 2.25
    for key, value in orig["cost"].items():
        if key not in ("map_page_ns", "node_hot_ns"):
            assert data["cost"][key] == value, key
    assert data["allowed_range"] == orig["allowed_range"]
    assert "calibrated to seed.yaml" in data["description"]
    fit_lines = [ln for ln in text.splitlines() if "calibrate to seed.yaml" in ln]
    assert len(fit_lines) == 2
    # re-calibrating replaces the earlier [fit] note instead of stacking notes
    again = render_profile(text, {"map_page_ns": 30.0}, "other.yaml")
    line = next(ln for ln in again.splitlines() if ln.strip().startswith("map_page_ns:"))
    assert line.count("[fit]") == 1 and "other.yaml" in line and "was 27.5" in line
    assert yaml.safe_load(again)["description"].count("calibrated to") == 1


@pytest.mark.parametrize("device", sorted(list_devices()))
def test_every_profile_parameter_lies_in_its_sourced_range(device):
    profile = load_device(device)
    assert profile["allowed_range"], f"{device} has no allowed ranges"
    for key, (lo, hi) in profile["allowed_range"].items():
        value = profile["cost"][key]
        assert lo <= value <= hi, f"{device}: {key}={value} outside [{lo}, {hi}]"


def _rfc_runs(test: str) -> list[tuple[int, int]]:
    """(old us, new us) per run of the RFC's table for test_1 or test_2, read
    from the seed text itself."""
    import re

    text = shared_path("seed", "rfc-vmalloc-free-blocks-2018.txt").read_text()
    start = text.index(f"{test}:")
    end = text.index("test_2:", start + 1) if test == "test_1" else text.index("Signed-off-by")
    return [(int(a), int(b)) for a, b in re.findall(r"(\d+)\(us\) vs (\d+)\(us\)", text[start:end])]


def test_shipped_calibration_input_carries_the_rfc_means():
    import statistics

    from simulator.calibrate import load_spec

    spec = load_spec(REPO / "scenarios" / "calibration" / "seed-rfc-2018.yaml")
    by_name = {m.name: m for m in spec.measurements}
    for test, workload in (("test_1", "seed-test1"), ("test_2", "seed-test2")):
        runs = _rfc_runs(test)
        assert len(runs) == 5
        for k, allocator in ((0, "busy-list"), (1, "free-list")):
            per_iter_ns = [r[k] * 1000.0 / 1_000_000 for r in runs]
            m = by_name[f"seed {test} {'old' if k == 0 else 'new'}"]
            assert (m.workload, m.allocator) == (workload, allocator)
            assert m.per_iteration_ns == pytest.approx(statistics.fmean(per_iter_ns), rel=1e-6)
            # spread: the standard error of the mean of the five runs
            sem = statistics.stdev(per_iter_ns) / math.sqrt(5)
            assert m.spread_ns == pytest.approx(sem, rel=0.02)


#: the predicted profiles (issue 11): nothing in them is fitted to a vmalloc timing
PREDICTED = ("x86-laptop", "x86-zen2-32c", "arm64-biglittle", "embedded-arm32", "embedded-arm64")


@pytest.mark.parametrize("device", PREDICTED)
def test_every_price_of_a_predicted_profile_has_a_sourced_range(device):
    from simulator.costmodel import PARAMETERS
    profile = load_device(device)
    text = (DEVICES_DIR / f"{device}.yaml").read_text()
    assert "[fit]" not in text, f"{device} is a prediction: nothing in it may be fitted"
    missing = [k for k, (kind, _) in PARAMETERS.items()
               if kind == "ns" and profile["cost"][k] and k not in profile["allowed_range"]]
    assert not missing, f"{device}: no allowed_range for {missing}"
    # each range line names its source tag
    lines = text[text.index("allowed_range:"):].splitlines()[1:]
    assert all(re.search(r"#.*\[(M|D|E)\]", ln) for ln in lines if ln.strip()), device


def test_the_fitted_profile_keeps_every_new_mechanism_off():
    # qemu-x86 was fitted without them: on, they would double-count what the fit absorbed
    c = load_device("qemu-x86")["cost"]
    assert not (c["line_transfer"] or c["rcu_free"] or c["zero_pages"] or c["level_cache"])
    assert c["clusters"] is None
