"""`vmsim calibrate` end to end: it recovers a parameter the engine was run with,
reports residuals and ranges, writes a loadable profile, and rejects bad input."""

from __future__ import annotations

import yaml

from simulator.calibrate import Measurement, run_spec_for, simulated_per_iteration
from simulator.cli import main
from simulator.devices import load_device

ITER = 3000


def _measured_with(map_page_ns: float) -> float:
    """ns per iteration of fix_size_alloc_test on qemu-x86 with map_page_ns set."""
    profile = load_device("qemu-x86")
    cost = dict(profile["cost"], map_page_ns=map_page_ns)
    m = Measurement("fix", "fix_size_alloc_test", {}, "free-list", 0.0)
    return simulated_per_iteration([run_spec_for(m, profile, cost, ITER, 1)])[0]


def test_calibrate_recovers_a_known_parameter(tmp_path, capsys):
    target_ns = _measured_with(44.0)           # the "device" has map_page_ns = 44
    measured = tmp_path / "measured.yaml"
    measured.write_text(yaml.safe_dump({
        "device": "qemu-x86", "fit": ["map_page_ns"], "iterations": ITER, "seed": 1,
        "measurements": [{"name": "fix", "workload": "fix_size_alloc_test",
                          "allocator": "free-list", "per_iteration_us": target_ns / 1000.0}]}))
    out = tmp_path / "fitted.yaml"
    assert main(["calibrate", str(measured), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "map_page_ns" in text and "[10, 60]" in text and "residuals" in text
    fitted = yaml.safe_load(out.read_text())
    assert abs(fitted["cost"]["map_page_ns"] - 44.0) < 0.5
    base = load_device("qemu-x86")["cost"]
    assert fitted["cost"]["page_alloc_ns"] == base["page_alloc_ns"]   # not fitted: unchanged


def test_calibrate_bad_input_is_one_line_exit_2(tmp_path, capsys):
    measured = tmp_path / "bad.yaml"
    measured.write_text(yaml.safe_dump({
        "device": "qemu-x86", "fit": ["lock_kind"],
        "measurements": [{"workload": "fix_size_alloc_test", "allocator": "free-list",
                          "per_iteration_us": 1.0}]}))
    out = tmp_path / "never.yaml"
    assert main(["calibrate", str(measured), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "bad.yaml" in err and "fit[0]" in err
    assert not out.exists()
    measured.write_text(yaml.safe_dump({
        "device": "qemu-x86",
        "measurements": [{"workload": "no_such_test", "allocator": "free-list",
                          "per_iteration_us": 1.0}]}))
    assert main(["calibrate", str(measured), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no_such_test" in err and not out.exists()
