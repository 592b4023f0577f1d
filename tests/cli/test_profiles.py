"""Issue 13 point 3 and issue 14 (device profiles): profiles by path and from --devices
directories, each validated in full only when used, and a profile written by
``vmsim calibrate --out`` that the next ``vmsim run`` names by path.  Every command
runs as a user runs it (a child process)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from badinput import assert_bad_input, tree, vmsim

from simulator.devices import DEVICES_DIR

QEMU = (DEVICES_DIR / "qemu-x86.yaml").read_text()

SCENARIO = """\
name: board-run
device: {device}
allocators: [busy-list]
callers:
  - workload: seed-test1
    cpus: 0
stop:
  iterations: 20
"""


def _scenario(tmp: Path, device: str, name: str = "s.yaml") -> Path:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(SCENARIO.format(device=device))
    return p


def test_profile_by_path_relative_to_the_scenario_runs_and_is_saved_absolute(tmp_path: Path) -> None:
    board = tmp_path / "boards" / "board.yaml"
    board.parent.mkdir()
    board.write_text(QEMU.replace("node_cold_ns:", "node_cold_ns: 123 #", 1))
    _scenario(tmp_path / "exp", "{profile: ../boards/board.yaml}")
    res = vmsim("run", "exp/s.yaml", "--out", "r", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    saved = yaml.safe_load((tmp_path / "r" / "scenario.yaml").read_text())
    assert saved["device"]["profile"] == str(board.resolve())        # runs again from anywhere
    assert saved["device"]["cost"]["node_cold_ns"] == 123
    again = vmsim("validate", str(tmp_path / "r" / "scenario.yaml"), cwd=tmp_path / "boards")
    assert again.returncode == 0, again.stderr


def test_devices_dir_option_and_a_broken_neighbour(tmp_path: Path) -> None:
    devs = tmp_path / "devs"
    devs.mkdir()
    (devs / "myboard.yaml").write_text(QEMU)
    (devs / "broken.yaml").write_text("description: [unterminated\n")      # never used below
    _scenario(tmp_path, "myboard")
    ok = vmsim("validate", "s.yaml", "--devices", str(devs), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    listing = vmsim("list", "--devices", str(devs), cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "myboard" in listing.stdout and "qemu-x86" in listing.stdout
    assert "broken" in listing.stdout and "not usable" in listing.stdout
    # a shipped profile is untouched by a broken one beside the scenario's profile
    _scenario(tmp_path, "qemu-x86", "t.yaml")
    assert vmsim("validate", "t.yaml", "--devices", str(devs), cwd=tmp_path).returncode == 0
    before = tree(tmp_path)
    assert_bad_input(vmsim("validate", "s.yaml", cwd=tmp_path), "s.yaml", "device.profile",
                     "unknown device 'myboard'", before=before, root=tmp_path)
    _scenario(tmp_path, "broken", "u.yaml")
    before = tree(tmp_path)
    assert_bad_input(vmsim("validate", "u.yaml", "--devices", str(devs), cwd=tmp_path),
                     "u.yaml", "device.profile", "broken.yaml", "not valid YAML", before=before,
                     root=tmp_path)
    assert_bad_input(vmsim("validate", "s.yaml", "--devices", str(tmp_path / "nodir"), cwd=tmp_path),
                     "nodir", "--devices", "accepted")


BROKEN_PROFILES = [
    ("address", ("vmalloc_start: 0xffffc90000000000", "vmalloc_start: zzz"),
     ["address_space.vmalloc_start", "'zzz'"]),
    ("duplicate-key", ("cpus: 4", "cpus: 4\ncpus: 8"), ["duplicate key 'cpus'"]),
    ("cost-string", ("node_cold_ns: ", "node_cold_ns: fast #"), ["cost.node_cold_ns", "number"]),
    ("range-inverted", ("map_page_ns: [10.0, 60.0]", "map_page_ns: [60.0, 10.0]"),
     ["allowed_range.map_page_ns", "low <= high"]),
    ("range-excludes-value", ("map_page_ns: [10.0, 60.0]", "map_page_ns: [100.0, 200.0]"),
     ["allowed_range.map_page_ns", "outside"]),
    ("unaligned-range", ("vmalloc_end: 0xffffe90000000000", "vmalloc_end: 0xffffe90000000100"),
     ["address_space.vmalloc_start", "page size"]),
    ("unknown-key", ("cpus: 4", "cpus: 4\ncolour: red"), ["colour", "unknown key"]),
]


@pytest.mark.parametrize("old_new,names", [c[1:] for c in BROKEN_PROFILES],
                         ids=[c[0] for c in BROKEN_PROFILES])
def test_a_broken_profile_is_named_by_file_and_key(tmp_path: Path, old_new, names) -> None:
    old, new = old_new
    assert old in QEMU
    (tmp_path / "board.yaml").write_text(QEMU.replace(old, new, 1))
    _scenario(tmp_path, "./board.yaml")
    before = tree(tmp_path)
    for cmd in ("validate", "run"):
        assert_bad_input(vmsim(cmd, "s.yaml", cwd=tmp_path), "s.yaml", "device.profile", "board.yaml",
                         *names, before=before, root=tmp_path)


def test_calibrate_out_is_a_profile_the_next_run_names_by_path(tmp_path: Path) -> None:
    from simulator.calibrate import Measurement, run_spec_for, simulated_per_iteration
    from simulator.devices import load_device
    profile = load_device("qemu-x86")          # the "board": map_page_ns 30 instead of 18.8
    m = Measurement("fix", "fix_size_alloc_test", {}, "busy-list", 0.0)
    target_ns = simulated_per_iteration([run_spec_for(m, profile, dict(profile["cost"], map_page_ns=30.0),
                                                      300, 1)])[0]
    measured = tmp_path / "measured.yaml"
    measured.write_text(textwrap.dedent(f"""\
        device: qemu-x86
        fit: [map_page_ns]
        iterations: 300
        measurements:
          - {{workload: fix_size_alloc_test, allocator: busy-list, per_iteration_us: {target_ns / 1000}}}
        """))
    cal = vmsim("calibrate", "measured.yaml", "--out", "board.yaml", "--quiet", cwd=tmp_path, timeout=600)
    assert cal.returncode == 0, cal.stderr
    assert "board.yaml" in cal.stdout
    _scenario(tmp_path / "exp", "../board.yaml")
    run = vmsim("run", "exp/s.yaml", "--out", "r", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    saved = yaml.safe_load((tmp_path / "r" / "scenario.yaml").read_text())
    fitted = yaml.safe_load((tmp_path / "board.yaml").read_text())["cost"]["map_page_ns"]
    assert saved["device"]["profile"] == str((tmp_path / "board.yaml").resolve())
    assert saved["device"]["cost"]["map_page_ns"] == pytest.approx(fitted)
    assert fitted == pytest.approx(30.0, abs=1.0)
