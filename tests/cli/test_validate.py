"""`vmsim validate`: exit 2, one line naming file and path, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import MINIMAL, REPO
from test_yaml_bomb import BOMB

from simulator.cli import main


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def _minimal_with(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new)


CASES = {
    "unknown key": (_minimal_with("seeds:", "seedz:"), "seedz", "did you mean 'seeds'"),
    "wrong type": (_minimal_with("iterations: 10", "iterations: [10]"), "stop.iterations",
                   "valid integer"),
    "negative size": (_minimal_with("    cpus: 0\n", "    cpus: 0\n    size: -4096\n"),
                      "callers[0].size", "positive size (got -4096)"),
    "zero size": (_minimal_with("    cpus: 0\n", "    cpus: 0\n    size: 0\n"),
                  "callers[0].size", "positive size (got 0)"),
    "size not a page multiple": (_minimal_with("    cpus: 0\n", "    cpus: 0\n    size: 1000\n"),
                                 "callers[0].size", "multiple of the page size 4096 (got 1000)"),
    "vend <= vstart": (MINIMAL + "address_space:\n  vmalloc: {start: 0xf0800000, end: 0xf0800000}\n",
                       "address_space.vmalloc", "end must be above start"),
    "unknown workload": (_minimal_with("seed-test1", "seed-test3"), "callers[0].workload",
                         "unknown workload 'seed-test3'"),
    "unknown workload, nothing close": (_minimal_with("seed-test1", "zzzz"), "callers[0].workload",
                                        "unknown workload 'zzzz'; accepted: "),
    "unknown key, nothing close": (_minimal_with("    cpus: 0\n", "    cpus: 0\n    qqqq: 1\n"),
                                   "callers[0].qqqq", "unknown key 'qqqq'; accepted: "),
    "unknown allocator": (_minimal_with("free-list]", "free-lists]"), "allocators[1]",
                          "unknown allocator 'free-lists'; did you mean 'free-list'?"),
    "unknown device": (_minimal_with("qemu-x86", "qemu-x68"), "device.profile",
                       "unknown device 'qemu-x68'; did you mean 'qemu-x86'?"),
    "duplicate keys": (MINIMAL + "seeds: [3]\n", "seeds", "duplicate key 'seeds'"),
    "negative address": (MINIMAL + "address_space:\n  vmalloc: {start: -4096, end: 0xf0800000}\n",
                         "address_space.vmalloc.start", "must lie in 0..2^64 (got -0x1000)"),
    "absurd size": (_minimal_with("    cpus: 0\n", "    cpus: 0\n    size: 99999999999999999999 pages\n"),
                    "callers[0].size", "must be below 2^63 bytes"),
    "absurd iterations": (_minimal_with("iterations: 10", "iterations: 100000000000000"),
                          "stop.iterations", "less than or equal to 1000000000000"),
    "too many samples": (_minimal_with("iterations: 10", "time: 10 s\nmetrics: {sample_interval: 1 ns}"),
                         "metrics.sample_interval", "accepted: at most 10,000,000 per run"),
    "two callers on one CPU": (_minimal_with("    cpus: 0\n", "    cpus: 0\n  - workload: seed-test1\n"
                                             "    cpus: [1, 0]\ncpus: 2\n"),
                               "callers[1].cpus", "CPU 0 already runs callers[0]: one caller per CPU"),
    "duplicate caller names": (_minimal_with("    cpus: 0\n", "    cpus: 0\n    name: a\n"
                                             "  - workload: seed-test1\n    cpus: 1\n    name: a\n"
                                             "cpus: 2\n"),
                               "callers[1].name", "caller name 'a' is already used by callers[0]"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_scenarios_exit_2_with_one_line(case, tmp_path, monkeypatch, capsys):
    text, where, what = CASES[case]
    monkeypatch.chdir(tmp_path)
    Path("x.yaml").write_text(text)
    before = _files(tmp_path)
    assert main(["validate", "x.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"x.yaml: {where}: "), err
    assert what in err, err
    assert "Traceback" not in err
    assert _files(tmp_path) == before


@pytest.mark.parametrize("case, content, what", [
    ("empty file", b"", "empty file"),
    ("comments only", b"# nothing\n", "empty file"),
    ("not YAML", b"name: [unclosed\nstop: {\n", "not valid YAML"),
    ("not a mapping", b"- just\n- a list\n", "a scenario is a YAML mapping"),
    ("YAML bomb", BOMB.encode(), "YAML bomb"),
])
def test_unreadable_documents_exit_2(case, content, what, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("x.yaml").write_bytes(content)
    before = _files(tmp_path)
    assert main(["validate", "x.yaml"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("x.yaml: ") and what in err, err
    assert _files(tmp_path) == before


def test_fifty_megabyte_document_is_rejected_fast(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with open("big.yaml", "wb") as f:
        f.write(MINIMAL.encode())
        line = b"# padding padding padding padding padding padding padding\n"
        f.write(line * (50_000_000 // len(line)))
    before = _files(tmp_path)
    assert main(["validate", "big.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("big.yaml: file is ") and "larger than" in err
    assert _files(tmp_path) == before


def test_good_scenario_validates(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("x.yaml").write_text(MINIMAL)
    assert main(["validate", "x.yaml"]) == 0
    assert "ok" in capsys.readouterr().out


def test_help_everywhere(capsys):
    for argv in (["--help"], ["run", "--help"], ["validate", "--help"], ["list", "--help"],
                 ["report", "--help"], ["schema", "--help"]):
        assert main(argv) == 0
        assert "usage: vmsim" in capsys.readouterr().out


def test_usage_error_is_one_line(capsys):
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice" in err


def test_console_entry_point_exit_status(tmp_path):
    """The installed `vmsim` (python -m simulator.cli here) returns 2 on bad input."""
    bad = tmp_path / "x.yaml"
    bad.write_text(MINIMAL.replace("seeds:", "seedz:"))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", str(bad)],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().startswith(f"{bad}: seedz: unknown key") and r.stderr.count("\n") == 1


def test_a_trace_line_that_does_not_parse_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("t.trace").write_text("# tracer: nop\n   bash-1 [000] .... 1.000001: alloc_vmap_area: "
                               "va_start: 1 size=8192\n")
    Path("x.yaml").write_text(_minimal_with("  - workload: seed-test1\n    cpus: 0\n",
                                            "  - workload: trace-replay\n    cpus: 0\n"
                                            "    trace: t.trace\n"))
    before = _files(tmp_path)
    assert main(["validate", "x.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith("x.yaml: callers[0]") and "t.trace:2: alloc_vmap_area fields do not parse" in err
    assert "accepted: ftrace lines" in err and "Traceback" not in err
    assert _files(tmp_path) == before
