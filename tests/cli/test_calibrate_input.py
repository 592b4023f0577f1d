"""Issue 14 (calibration input): every argument and input of ``vmsim calibrate`` is checked
before the first simulation: exit 2, one line naming the file and the place, nothing written.

Each case runs the command in a child process; a case that reached the fit would take
seconds and print batch lines, so the timeout also guards "before any work"."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from badinput import assert_bad_input, tree, vmsim

ONE = """\
device: qemu-x86
fit: [map_page_ns]
iterations: 300
measurements:
  - {{workload: fix_size_alloc_test, allocator: busy-list, {figure}}}
"""
DMESG = """\
device: qemu-x86
fit: [map_page_ns]
measurements:
  - {dmesg: board.log, allocator: busy-list}
"""
SUMMARY = ("[ 101.000001] Summary: fix_size_alloc_test passed: 1 failed: 0 repeat: 1 "
           "loops: {loops} avg: 934 usec\n")

CASES = [
    ("string-figure", {"m.yaml": ONE.format(figure="per_iteration_us: fast")}, [],
     ["m.yaml", "measurements[0].per_iteration_us", "number", "'fast'"]),
    ("zero-figure", {"m.yaml": ONE.format(figure="per_iteration_us: 0")}, [],
     ["m.yaml", "measurements[0].per_iteration_us", "> 0"]),
    ("negative-figure", {"m.yaml": ONE.format(figure="per_iteration_us: -2.5")}, [],
     ["m.yaml", "measurements[0].per_iteration_us", "> 0"]),
    ("string-loops", {"m.yaml": ONE.format(figure="per_run_us: 1000, loops: many")}, [],
     ["m.yaml", "measurements[0].loops", "integer"]),
    ("zero-loops", {"m.yaml": ONE.format(figure="per_run_us: 1000, loops: 0")}, [],
     ["m.yaml", "measurements[0].loops", "integer in 1"]),
    ("dmesg-loops-0", {"m.yaml": DMESG, "board.log": SUMMARY.format(loops=0)}, [],
     ["board.log:1", "loops is 0", "accepted"]),
    ("dmesg-without-summary", {"m.yaml": DMESG, "board.log": "[ 1.0] booting\n[ 2.0] done\n"}, [],
     ["board.log", "no test_vmalloc 'Summary:' line", "accepted"]),
    ("dmesg-bad-summary", {"m.yaml": DMESG, "board.log": "[ 1.0] Summary: fix_size_alloc_test oops\n"}, [],
     ["board.log:1", "accepted"]),
    ("string-iterations", {"m.yaml": ONE.format(figure="per_iteration_us: 1").replace("300", "lots")}, [],
     ["m.yaml", "iterations", "integer"]),
    ("seed-string", {"m.yaml": ONE.format(figure="per_iteration_us: 1") + "seed: one\n"}, [],
     ["m.yaml", "seed", "integers"]),
    ("out-of-range-caller", {"m.yaml": ONE.format(
        figure="per_iteration_us: 1").replace("fix_size_alloc_test", "random").replace(
        "allocator: busy-list", "allocator: busy-list, params: {vstart: 0x1000, vend: 0x2000}")}, [],
     ["m.yaml", "params.vstart", "address space"]),
    ("jobs-negative", {"m.yaml": ONE.format(figure="per_iteration_us: 1")}, ["--jobs", "-1"],
     ["--jobs", ">= 1", "-1"]),
    ("out-in-missing-directory", {"m.yaml": ONE.format(figure="per_iteration_us: 1")},
     ["--out", "nowhere/board.yaml"], ["nowhere/board.yaml", "no such directory"]),
    ("device-zzz", {"m.yaml": ONE.format(figure="per_iteration_us: 1").replace("qemu-x86", "./b.yaml"),
                    "b.yaml": "description: x\ncpus: 1\n"
                              "address_space: {vmalloc_start: zzz, vmalloc_end: 0x2000}\n"
                              "cost: {}\n"}, [],
     ["m.yaml", "device", "b.yaml", "address_space.vmalloc_start", "'zzz'"]),
]


@pytest.mark.parametrize("files,args,names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_calibration_input_fails_before_any_work(tmp_path: Path, files, args, names) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    if "--out" not in args:
        args = [*args, "--out", "board.yaml"]
    before = tree(tmp_path)
    res = vmsim("calibrate", "m.yaml", *args, cwd=tmp_path, timeout=60)
    assert_bad_input(res, *names, before=before, root=tmp_path)
    assert res.stdout == ""                  # no simulation batch started
