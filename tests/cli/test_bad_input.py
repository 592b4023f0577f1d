"""Issue 14: every bad scenario or data file gives exit 2 and one line naming the file and
the YAML path (or file:line) and what is accepted; nothing is written; and ``validate``
refuses exactly what ``run`` refuses, with the same line.

Each case runs the ``vmsim`` command in a child process, as a user does."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from badinput import assert_bad_input, tree, vmsim
from support import RANDOM_MEASURED_CPU0, scenario_text

BASE = scenario_text("bad", "  - workload: seed-test1\n    cpus: 0\n", cpus=None, allocators="busy-list",
                     rest="stop:\n  iterations: 10\nseeds: [1]\n")

RANDOM = scenario_text("bad", RANDOM_MEASURED_CPU0, cpus=None, allocators="busy-list",
                       rest="{extra}\nstop:\n  iterations: 10\n")

LAYOUT = """\
name: bad
device: embedded-arm32
allocators: [busy-list]
address_space:
  initial_layout: layout.txt
callers:
  - workload: seed-test1
    cpus: 0
stop:
  iterations: 10
"""

TRACE = scenario_text("bad", "  - workload: trace-replay\n    cpus: 0\n    trace: {trace}\n", cpus=None,
                      allocators="busy-list", rest="stop:\n  time: 1 ms\n")

EMPIRICAL = scenario_text("bad", RANDOM_MEASURED_CPU0 + "    size: {{kind: empirical, file: {file}}}\n",
                          cpus=None, allocators="busy-list", rest="stop:\n  iterations: 10\n")

EVENT = ("kworker/0:1-42 [000] .... 100.{us:06d}: alloc_vmap_area: va_start: {va} size=8192 align=1 "
         "vstart=0xffffc90000000000 vend=0xffffe8ffffffffff failed=0")
AREA = "0xf0800000-0xf0803000   12288 start_kernel+0x10/0x20 pages=2 vmalloc"


def _files(tmp: Path, files: dict[str, str | bytes]) -> None:
    for name, text in files.items():
        p = tmp / name
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(textwrap.dedent(text))


# (case id, files, names the line must contain)
SCENARIO_CASES = [
    ("control-character", {"s.yaml": BASE.replace("seeds: [1]", "seeds: [1]  # a \x01 here")},
     ["s.yaml", "line 9", "control character", "accepted"]),
    ("seed-true", {"s.yaml": BASE.replace("seeds: [1]", "seeds: [true]")},
     ["s.yaml", "seeds[0]", "integer"]),
    ("thousands-of-digits", {"s.yaml": BASE.replace("iterations: 10", "iterations: " + "9" * 5000)},
     ["s.yaml", "line 8", "at most"]),
    ("digits-in-a-size-string", {"s.yaml": RANDOM.format(extra="    size: " + "9" * 5000 + " KiB")},
     ["s.yaml", "callers[0].size", "at most"]),
    ("bare-time", {"s.yaml": BASE.replace("iterations: 10", "time: 60")},
     ["s.yaml", "stop.time", "needs a unit", "'60 s'"]),
    ("bare-time-string", {"s.yaml": RANDOM.format(extra="    think: '250'")},
     ["s.yaml", "callers[0].think", "needs a unit"]),
    ("background-only", {"s.yaml": BASE.replace("cpus: 0", "cpus: 0\n    background: true")},
     ["s.yaml", "callers", "at least one foreground caller"]),
    ("random-range-outside", {"s.yaml": RANDOM.format(extra="    vstart: 0x1000\n    vend: 0x100000")},
     ["s.yaml", "callers[0].vstart", "address space", "accepted"]),
    ("random-align-too-big", {"s.yaml": RANDOM.format(extra="    align: " + str(1 << 64))},
     ["s.yaml", "callers[0].align", "accepted"]),
    ("layout-not-page-aligned", {"s.yaml": LAYOUT,
                                 "layout.txt": AREA.replace("0xf0800000-0xf0803000",
                                                            "0xf0800100-0xf0803100") + "\n"},
     ["s.yaml", "address_space.initial_layout", "layout.txt:1", "page aligned"]),
    ("layout-overlap", {"s.yaml": LAYOUT, "layout.txt": AREA + "\n" +
                        "0xf0802000-0xf0804000    8192 start_kernel+0x10/0x20 pages=1 vmalloc\n"},
     ["s.yaml", "layout.txt", "line 2", "not address-sorted"]),     # read as a hashed dump
    ("layout-outside-range", {"s.yaml": LAYOUT,
                              "layout.txt": AREA.replace("0xf0800000-0xf0803000",
                                                         "0x10000000-0x10003000") + "\n"},
     ["s.yaml", "layout.txt", "none of its 1 areas", "accepted"]),
    ("trace-empty", {"s.yaml": TRACE.format(trace="t.trace"), "t.trace": ""},
     ["s.yaml", "callers[0]", "t.trace", "empty"]),
    ("trace-without-vmalloc-events", {"s.yaml": TRACE.format(trace="t.trace"), "t.trace":
                                      "# tracer: nop\nbash-1 [000] .... 1.000000: sched_switch: x\n"},
     ["s.yaml", "t.trace", "no vmalloc events", "accepted"]),
    ("trace-going-back", {"s.yaml": TRACE.format(trace="t.trace"), "t.trace": "\n".join([
        EVENT.format(us=200, va=0xffffc90000000000), EVENT.format(us=100, va=0xffffc90000004000)]) + "\n"},
     ["s.yaml", "t.trace:2", "goes back in time", "accepted"]),
    ("trace-is-dev-zero", {"s.yaml": TRACE.format(trace="/dev/zero")},
     ["s.yaml", "/dev/zero", "not a regular file", "accepted"]),
    ("empirical-is-dev-zero", {"s.yaml": EMPIRICAL.format(file="/dev/zero")},
     ["s.yaml", "callers[0].size", "/dev/zero", "not a regular file"]),
    ("layout-bad-line", {"s.yaml": LAYOUT, "layout.txt": AREA + "\nnot an area\n"},
     ["s.yaml", "layout.txt:2", "accepted"]),
    ("output-dir-unwritable", {"s.yaml": BASE + "output: {dir: /proc/vmsim-results}\n"},
     ["/proc/vmsim-results", "cannot write in /proc", "choose another"]),
    ("unknown-device", {"s.yaml": BASE.replace("qemu-x86", "qemu-x68")},
     ["s.yaml", "device.profile", "did you mean 'qemu-x86'", "accepted"]),
    ("device-file-missing", {"s.yaml": BASE.replace("qemu-x86", "./board.yaml")},
     ["s.yaml", "device.profile", "board.yaml", "accepted"]),
]


@pytest.mark.parametrize("files,names", [c[1:] for c in SCENARIO_CASES], ids=[c[0] for c in SCENARIO_CASES])
def test_bad_scenario_is_one_line_and_validate_agrees_with_run(tmp_path: Path, files, names) -> None:
    _files(tmp_path, files)
    before = tree(tmp_path)
    validate = assert_bad_input(vmsim("validate", "s.yaml", cwd=tmp_path), *names, before=before,
                                root=tmp_path)
    run = assert_bad_input(vmsim("run", "s.yaml", "--quiet", cwd=tmp_path), *names, before=before,
                           root=tmp_path)
    assert run == validate


def test_huge_trace_is_refused_from_its_size(tmp_path: Path) -> None:
    from simulator.yamlsafe import MAX_DATA_BYTES
    _files(tmp_path, {"s.yaml": TRACE.format(trace="big.trace")})
    with open(tmp_path / "big.trace", "wb") as f:          # sparse: no disk used
        f.truncate(MAX_DATA_BYTES + 1)
    before = tree(tmp_path)
    assert_bad_input(vmsim("validate", "s.yaml", cwd=tmp_path), "s.yaml", "big.trace",
                     f"larger than the accepted {MAX_DATA_BYTES} bytes", before=before, root=tmp_path)


def test_fifo_data_file_is_refused_without_waiting(tmp_path: Path) -> None:
    _files(tmp_path, {"s.yaml": TRACE.format(trace="pipe.trace")})
    os.mkfifo(tmp_path / "pipe.trace")                      # no writer: a read would block
    before = tree(tmp_path)
    assert_bad_input(vmsim("validate", "s.yaml", cwd=tmp_path, timeout=60), "pipe.trace",
                     "not a regular file", before=before, root=tmp_path)


def test_every_shipped_scenario_still_validates(tmp_path: Path) -> None:
    """Times need units now: the shipped scenarios (and their saved form) still pass."""
    from support import REPO
    for path in sorted((REPO / "scenarios").glob("*.yaml")):
        res = vmsim("validate", str(path), cwd=tmp_path)
        assert res.returncode == 0, res.stderr
    assert tree(tmp_path) == set()


def test_an_out_that_cannot_be_written_is_refused_before_the_run(tmp_path: Path) -> None:
    _files(tmp_path, {"s.yaml": BASE})
    before = tree(tmp_path)
    res = vmsim("run", "s.yaml", "--out", "/proc/vmsim-results", "--quiet", cwd=tmp_path)
    assert_bad_input(res, "/proc/vmsim-results", "cannot write in /proc", before=before, root=tmp_path)
    assert res.stdout == ""
