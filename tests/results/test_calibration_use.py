"""Point 8 of issue 13: calibration as users need it (poor fits exit 1,
compare-dmesg lines a board's Summary lines up with the simulated ones)."""

from __future__ import annotations

import yaml

from simulator.calibrate import FitResult, poor_fit
from support import preset_text

ITER = 2000


def test_poor_fit_reasons():
    good = FitResult(["map_page_ns"], [30.0], [44.0], [(10.0, 60.0)], [1000.0], [1030.0], ["fix"], 3)
    assert poor_fit(good) == []
    at_bound = FitResult(["map_page_ns"], [30.0], [60.0], [(10.0, 60.0)], [1000.0], [1030.0], ["fix"], 3)
    assert poor_fit(at_bound) == ["map_page_ns = 60 ends at the upper bound of its allowed range [10, 60]"]
    far = FitResult(["map_page_ns"], [30.0], [44.0], [(10.0, 60.0)], [1000.0], [1120.0], ["fix"], 3)
    assert poor_fit(far) == ["fix: residual +12.00% exceeds 10%"]


def test_unreachable_figure_exits_1_unless_accepted(tmp_path, run_vmsim):
    # 1 ms per fix_size iteration cannot be reached with map_page_ns <= 60 ns: the
    # fit runs into the upper bound and stays far off
    measured = tmp_path / "measured.yaml"
    measured.write_text(yaml.safe_dump({
        "device": "qemu-x86", "fit": ["map_page_ns"], "iterations": ITER, "seed": 1,
        "measurements": [{"name": "fix", "workload": "fix_size_alloc_test",
                          "allocator": "free-list", "per_iteration_us": 1000.0}]}))
    out = tmp_path / "fitted.yaml"
    proc = run_vmsim("calibrate", str(measured), "--out", str(out), "--quiet", check=False)
    assert proc.returncode == 1
    assert "poor fit: map_page_ns = 60 ends at the upper bound" in proc.stderr
    assert "poor fit: fix [free-list]: residual" in proc.stderr
    assert not out.exists()
    proc = run_vmsim("calibrate", str(measured), "--out", str(out), "--quiet", "--accept-poor-fit",
                     check=False)
    assert proc.returncode == 0 and out.exists()
    assert yaml.safe_load(out.read_text())["cost"]["map_page_ns"] == 60


# A board's dmesg (the format of lib/test_vmalloc.c's pr_info lines, with the
# printk timestamps and unrelated lines a real log has); the figures are made up.
BOARD_DMESG = """\
[   12.000000] random: crng init done
[  101.228331] Summary: fix_size_alloc_test passed: 3 failed: 0 repeat: 3 loops: 1000000 avg: 905123 usec
[  107.001288] Summary: align_shift_alloc_test passed: 0 failed: 3 repeat: 3 loops: 1000000 avg: 9 usec
[  107.001299] All test took worker0=4521337821 cycles
"""

PRESET = preset_text("board", cpus=2, allocators="busy-list, free-list", loops=1000, repeats=1)


def test_compare_dmesg_lines_up_board_and_simulation(tmp_path, run_vmsim):
    log = tmp_path / "dmesg.txt"
    log.write_text(BOARD_DMESG)
    sc = tmp_path / "board.yaml"
    sc.write_text(PRESET)
    md = tmp_path / "table.md"
    proc = run_vmsim("compare-dmesg", str(log), "--scenario", str(sc), "--markdown", str(md))
    lines = proc.stdout.splitlines()
    header = lines[0].split()
    assert header[:2] == ["test", "board"] and "busy-list" in lines[0] and "free-list" in lines[0]
    fix = next(line for line in lines if line.startswith("fix_size_alloc_test"))
    assert "1,000,000" in fix and "905,123" in fix and "905" in fix    # board loops, avg, per loop (ns)
    assert "3/0" in fix and "1/0" in fix                               # board and simulated pass/fail
    shift = next(line for line in lines if line.startswith("align_shift_alloc_test"))
    assert "0/3" in shift and "0/1" in shift                           # fails by design, on both
    assert "note: the scenario runs other loop counts than the board" in proc.stdout
    table = md.read_text()
    assert table.startswith("| test | board loops |") and "fix_size_alloc_test" in table
    # the simulated per-loop time is the simulated Summary's avg * 1000 / loops
    import re
    row = dict(zip([c.strip() for c in table.splitlines()[0].strip("|").split("|")],
                   [c.strip() for c in table.splitlines()[2].strip("|").split("|")]))
    assert row["test"] == "fix_size_alloc_test"
    assert re.fullmatch(r"[\d,]+", row["busy-list per loop (ns)"])
    ratio = float(row["busy-list / board"].rstrip("x"))
    per_loop = float(row["busy-list per loop (ns)"].replace(",", ""))
    assert abs(ratio - per_loop / 905.123) < 0.01
    # independent oracle: the same scenario run by `vmsim run`, its log's own
    # Summary lines for busy-list read here (mean over seeds of avg * 1000 / loops)
    out = tmp_path / "run"
    run_vmsim("run", str(sc), "--out", str(out), "--quiet")
    sims = [(int(m["avg"]), int(m["loops"])) for m in re.finditer(
        r"^\[busy-list seed=\d+\] Summary: fix_size_alloc_test passed: \d+ failed: \d+ repeat: \d+ "
        r"loops: (?P<loops>\d+) avg: (?P<avg>\d+) usec", (out / "log.txt").read_text(), re.M)]
    assert sims
    want = sum(avg * 1000 / loops for avg, loops in sims) / len(sims)
    assert row["busy-list per loop (ns)"] == f"{want:,.0f}", (row, sims)
