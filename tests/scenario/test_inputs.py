"""Issue 14, library level: times need units, bounded data-file reads, one-line YAML errors
for control characters and over-long numbers, profiles validated only when used."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simulator import units
from simulator.devices import DEVICES_DIR, DeviceError, list_devices, load_device
from simulator.yamlsafe import YamlError, format_path, load_yaml_text, read_data_text


@pytest.mark.parametrize("value", [60, 1.5, "60", " 250 ", "1_000"])
def test_a_bare_time_is_refused_with_the_units_named(value) -> None:
    with pytest.raises(ValueError, match=r"a time needs a unit .*'\S+ s'"):
        units.parse_duration(value)


@pytest.mark.parametrize("value,ns", [(0, 0), ("0", 0), ("250 ns", 250), ("10 us", 10_000),
                                      ("2.5 ms", 2_500_000), ("60 s", 60_000_000_000),
                                      ("123456789012345 s", 123456789012345 * 10**9)])
def test_times_with_units(value, ns) -> None:
    assert units.parse_duration(value) == ns                 # exact, no float rounding
    if ns:
        assert units.parse_duration(units.format_duration(ns)) == ns


def test_control_character_in_a_comment_names_the_line() -> None:
    with pytest.raises(YamlError) as ei:
        load_yaml_text("a: 1\nb: 2\n# tab\tok, bell \x07 not\n", "f.yaml")
    assert str(ei.value) == ("f.yaml: line 3: control character #x0007 is not accepted; accepted: "
                             "printable text, tabs and newlines")


def test_a_number_of_thousands_of_digits_names_the_line() -> None:
    with pytest.raises(YamlError, match=r"^f.yaml: line 2: a number of 5000 characters"):
        load_yaml_text("a: 1\nb: " + "7" * 5000 + "\n", "f.yaml")


def test_yaml_paths_stay_on_one_line() -> None:
    assert format_path(("callers", 0, "a\nb")) == "callers[0].'a\\nb'"


def test_data_file_reads_are_bounded(tmp_path: Path) -> None:
    # a size-0 pseudo-file that keeps giving: refused at the bound, not read to the end
    with pytest.raises(ValueError, match=r"/proc/self/status: more than the accepted 16 bytes"):
        read_data_text("/proc/self/status", "trace file", max_bytes=16)
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(1000)
    with pytest.raises(ValueError, match=r"big.txt: 1000 bytes, larger than the accepted 999"):
        read_data_text(big, "trace file", max_bytes=999)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match=r"fifo: not a regular file"):
        read_data_text(tmp_path / "fifo", "trace file")
    with pytest.raises(ValueError, match=r"is a directory"):
        read_data_text(tmp_path, "trace file")
    (tmp_path / "trace_pipe").write_text("")            # a live pipe blocks while it waits: refused
    with pytest.raises(ValueError, match=r"trace_pipe: a live ftrace pipe never ends"):
        read_data_text(tmp_path / "trace_pipe", "trace file")
    (tmp_path / "bin").write_bytes(b"ok\xff\xfe")
    with pytest.raises(ValueError, match=r"bin: not UTF-8 text \(byte 2\)"):
        read_data_text(tmp_path / "bin", "trace file")
    assert read_data_text(tmp_path / "bin", "dmesg log", errors="replace") == "ok\ufffd\ufffd"


def test_every_shipped_profile_validates_in_full() -> None:
    names = sorted(p.stem for p in DEVICES_DIR.glob("*.yaml"))
    listing = list_devices()
    for name in names:
        profile = load_device(name)
        assert profile["path"] == str(DEVICES_DIR / f"{name}.yaml")
        assert "not usable" not in listing[name]


def test_a_profile_is_read_only_when_used(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VMSIM_DEVICES", str(tmp_path))
    (tmp_path / "bad.yaml").write_text("cpus: [\n")
    assert load_device("qemu-x86")["name"] == "qemu-x86"
    with pytest.raises(DeviceError, match=r"bad.yaml: line \d+: not valid YAML"):
        load_device("bad")
    good = (DEVICES_DIR / "qemu-x86.yaml").read_text()
    (tmp_path / "dup.yaml").write_text(good.replace("cpus: 4", "cpus: 4\ncpus: 2", 1))
    with pytest.raises(DeviceError,
                       match=r"dup.yaml: cpus: duplicate key 'cpus' \(line 6, first given on line 5\)"):
        load_device("dup")


def test_a_lone_vstart_is_checked_against_the_default_vend_of_a_request() -> None:
    """Found by tests/fuzz/test_validate_run.py: vstart = VMALLOC_END with vend left out
    passed validation, and the run failed (a request's vend defaults to VMALLOC_END)."""
    from simulator.scenario import ScenarioError, parse_scenario
    doc = {"name": "lone", "device": "qemu-x86", "allocators": ["busy-list"],
           "callers": [{"workload": "random", "cpus": 0, "measure": True, "vstart": "0xffffe90000000000"}],
           "stop": {"iterations": 5}}
    with pytest.raises(ScenarioError, match=r"callers\[0\]\.vstart: vstart..vend "
                                            r"0xffffe90000000000..0xffffe90000000000 is not a non-empty"):
        parse_scenario(doc, "lone.yaml")
    doc["callers"][0]["vstart"] = "0xffffe8ffffff0000"          # one 64 KiB window below VMALLOC_END
    sc = parse_scenario(doc, "lone.yaml")
    assert sc.address_space.vmalloc_end == 0xffffe90000000000
