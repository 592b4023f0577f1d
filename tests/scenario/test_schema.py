"""Scenario schema: defaults, units, RunSpecs, resolved YAML, sweeps, errors."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from support import MINIMAL, REPO

import workloads
from simulator.scenario import ScenarioConfig, ScenarioError, json_schema, load_scenario, parse_scenario


def _device_yaml(name: str) -> dict:
    return yaml.safe_load((REPO / "scenarios" / "devices" / f"{name}.yaml").read_text())


def _doc(**changes) -> dict:
    d = yaml.safe_load(MINIMAL)
    d.update(changes)
    return d


def test_minimal_scenario_gives_one_runspec_per_allocator_and_seed(write):
    # a random caller: the results depend on the seed, so every seed runs
    sc = load_scenario(write(MINIMAL.replace("workload: seed-test1", "workload: random\n    measure: true")))
    specs = sc.run_specs()
    assert [(s.allocator, s.seed) for s in specs] == [
        ("busy-list", 1), ("busy-list", 2), ("free-list", 1), ("free-list", 2)]
    assert all(s.iterations == 10 and s.time_ns is None for s in specs)
    assert all(s.scenario == "mini" and s.device == "qemu-x86" for s in specs)


def test_device_defaults_fill_cpus_and_address_space(write):
    dev = _device_yaml("embedded-arm32")
    sc = load_scenario(write(MINIMAL.replace("qemu-x86", "embedded-arm32")))
    asp = sc.address_space
    want = dev["address_space"]
    assert sc.cpus == dev["cpus"]
    assert (asp.vmalloc_start, asp.vmalloc_end) == (want["vmalloc_start"], want["vmalloc_end"])
    assert (asp.modules_start, asp.modules_end) == (want["modules_start"], want["modules_end"])
    assert asp.word_bits == 32 and asp.page_size == 4096
    assert asp.vmalloc_end - asp.vmalloc_start == 240 << 20   # the 240 MiB area
    assert set(sc.run_specs()[0].cost) == set(dev["cost"])


def test_allocators_default_to_all(write):
    from simulator.kernels import names          # the default: every kernel generation
    text = MINIMAL.replace("allocators: [busy-list, free-list]\n", "")
    assert load_scenario(write(text)).allocators == tuple(names())


def test_units_in_caller_params_and_times(write):
    text = MINIMAL.replace("    cpus: 0\n", "    cpus: 0\n    size: 16 KiB\n") + \
        "metrics:\n  sample_interval: 10 ms\n"
    spec = load_scenario(write(text)).run_specs()[0]
    assert spec.callers[0].params["size"] == 16 * 1024
    assert spec.metrics.sample_interval_ns == 10 * 1_000_000
    text = MINIMAL.replace("    cpus: 0\n", "    cpus: 0\n    size: 3 pages\n")
    assert load_scenario(write(text)).run_specs()[0].callers[0].params["size"] == 3 * 4096


def test_pages_follow_the_scenario_page_size(write):
    text = MINIMAL.replace("    cpus: 0\n", "    cpus: 0\n    size: 3 pages\n") + \
        "address_space:\n  page_size: 16384\n"
    sc = load_scenario(write(text))
    assert sc.address_space.page_size == 16384
    assert sc.run_specs()[0].callers[0].params["size"] == 3 * 16384


def test_cpus_all_gives_one_caller_per_cpu(write):
    text = MINIMAL.replace("cpus: 0", "cpus: all") + "cpus: 3\n"
    sc = load_scenario(write(text))
    assert [c.cpu for c in sc.callers] == [0, 1, 2]
    assert sc.run_specs()[0].cpus == 3


def test_stop_time_and_background(write):
    text = MINIMAL.replace("stop:\n  iterations: 10\n", "stop:\n  time: 2 s\n").replace(
        "    cpus: 0\n",
        "    cpus: 0\n  - workload: fix_size_alloc_test\n    cpus: 1\n    background: true\n")
    spec = load_scenario(write(text)).run_specs()[0]
    assert spec.time_ns == 2_000_000_000 and spec.iterations is None
    assert [c.background for c in spec.callers] == [False, True]


def test_resolved_yaml_round_trips_to_the_same_runspecs(write, tmp_path):
    text = MINIMAL.replace("    cpus: 0\n", "    cpus: 0\n    size: 2 pages\n")
    sc = load_scenario(write(text))
    resolved = sc.resolved_yaml()
    again = load_scenario(write(resolved, "resolved.yaml"))
    assert again.run_specs() == sc.run_specs()
    # defaults are written out, not left implicit
    data = yaml.safe_load(resolved)
    assert data["seeds"] == [1, 2] and data["cpus"] == 4
    assert data["address_space"]["vmalloc"]["start"].startswith("0x")
    assert data["metrics"]["sample_interval"] == "1000000 ns"     # times are saved with a unit


def test_override_seed_and_iterations_is_recorded(write):
    sc = load_scenario(write(MINIMAL))
    specs = sc.run_specs(seed=7, iterations=5)
    assert {(s.seed, s.iterations) for s in specs} == {(7, 5)}
    data = yaml.safe_load(sc.resolved_yaml(seed=7, iterations=5))
    assert data["seeds"] == [7] and data["stop"]["iterations"] == 5


def test_sweep_makes_one_point_per_value(write):
    text = MINIMAL.replace("cpus: 0", "cpus: all") + "sweep:\n  cpus: [1, 2, 4, 8]\n"
    sc = load_scenario(write(text))
    assert [label for label, _ in sc.points] == ["cpus=1", "cpus=2", "cpus=4", "cpus=8"]
    assert [len(p.callers) for _, p in sc.points] == [1, 2, 4, 8]
    assert len(sc.run_specs()) == 4 * 2 * 1    # seed-test1 draws no random number: one seed runs
    # each point's resolved YAML is a plain scenario reproducing that point
    for _, p in sc.points:
        again = parse_scenario(yaml.safe_load(p.resolved_yaml()), "p.yaml", p.base_dir)
        assert again.run_specs() == p.run_specs() and not again.is_sweep


def test_sweep_point_errors_name_the_point(write):
    text = MINIMAL.replace("cpus: 0", "cpus: 3") + "sweep:\n  cpus: [4, 2]\n"
    with pytest.raises(ScenarioError, match=r"callers\[0\]\.cpus: CPU 3 does not exist.*cpus=2"):
        load_scenario(write(text))


def test_initial_layout_is_relative_to_the_scenario_file(write, tmp_path):
    (tmp_path / "layouts").mkdir()
    # two areas inside arm32's vmalloc range, one outside every range (ignored)
    (tmp_path / "layouts" / "tiny.txt").write_text(
        "0xf0800000-0xf0802000    8192 start_kernel+0x10/0x20 pages=1 vmalloc\n"
        "0xf0900000-0xf0a01000 1052672 dev_probe+0x10/0x20 phys=0x3f000000 ioremap\n")
    text = MINIMAL.replace("qemu-x86", "embedded-arm32") + \
        "address_space:\n  initial_layout: layouts/tiny.txt\n"
    sc = load_scenario(write(text))
    assert sc.address_space.initial_busy == ((0xF0800000, 0xF0802000), (0xF0900000, 0xF0A01000))
    assert sc.initial_layout == str((tmp_path / "layouts" / "tiny.txt").resolve())


def test_initial_layout_errors(write, tmp_path):
    text = MINIMAL + "address_space:\n  initial_layout: nowhere.txt\n"
    with pytest.raises(ScenarioError, match=r"address_space\.initial_layout: no such file"):
        load_scenario(write(text))
    (tmp_path / "bad.txt").write_text("this is not vmallocinfo\n")
    text = MINIMAL + "address_space:\n  initial_layout: bad.txt\n"
    with pytest.raises(ScenarioError, match=r"address_space\.initial_layout: .*bad\.txt:1: malformed"):
        load_scenario(write(text))


@pytest.mark.parametrize("change, where, what", [
    ({"callers": [{"workload": "seed-test1"}, {"workload": "seed-test1", "cpus": 1, "size": 1000}]},
     "callers[1].size", "must be a multiple of the page size 4096 (got 1000)"),
    ({"callers": [{"workload": "seed-test1", "sise": 4096}]}, "callers[0].sise", "did you mean 'size'"),
    ({"stopp": {"iterations": 1}}, "stopp", "did you mean 'stop'"),
    ({"stop": {"iterations": "many"}}, "stop.iterations", "valid integer"),
    ({"stop": {}}, "stop", "give iterations, time, or both"),
    ({"cpus": 0}, "cpus", "greater than or equal to 1"),
    ({"seeds": [1, 1]}, "seeds", "distinct"),
    ({"callers": [{"workload": "seed-test1", "cpus": 4}]}, "callers[0].cpus", "CPU 4 does not exist"),
    ({"callers": [{"workload": "seed-test1", "cpus": [0, 0]}]}, "callers[0].cpus", "listed twice"),
    ({"address_space": {"vmalloc": {"start": "0x2000", "end": "0x1000"}}}, "address_space.vmalloc",
     "end must be above start"),
    ({"address_space": {"vmalloc": {"start": "0x1800", "end": "0x10000"}}}, "address_space.vmalloc",
     "multiples of the page size"),
    ({"address_space": {"page_size": 1000}}, "address_space.page_size", "must be one of"),
    ({"device": {"profile": "qemu-x86", "overrides": {"node_cold": 1}}}, "device.overrides",
     "unknown cost parameter"),
    ({"allocators": ["free-list", "free-list"]}, "allocators[1]", "listed twice"),
    ({"sweep": {"cpus": []}}, "sweep", "non-empty list"),
])
def test_errors_name_file_and_path(write, change, where, what):
    p = write(yaml.safe_dump(_doc(**change)), "bad.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{p}: {where}: "), msg
    assert what in msg, msg


def test_the_issue_example_message_exactly(write):
    doc = _doc(callers=[{"workload": "seed-test1"}, {"workload": "seed-test1", "cpus": 1, "size": 1000}])
    p = write(yaml.safe_dump(doc))
    with pytest.raises(ScenarioError) as info:
        load_scenario(p, source="scenarios/x.yaml")
    assert str(info.value) == \
        "scenarios/x.yaml: callers[1].size: must be a multiple of the page size 4096 (got 1000)"


def test_schema_is_json_and_lists_every_workload():
    schema = json_schema()
    json.dumps(schema)
    assert set(schema["properties"]) == set(ScenarioConfig.model_fields)
    variants = schema["$defs"]["CallerConfig"]["anyOf"]
    assert {v["properties"]["workload"]["const"] for v in variants} == set(workloads.REGISTRY)
    seed1 = next(v for v in variants if v["properties"]["workload"]["const"] == "seed-test1")
    assert "size" in seed1["properties"] and seed1["additionalProperties"] is False


@pytest.mark.parametrize("path", sorted((REPO / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_validate(path):
    sc = load_scenario(path)
    assert sc.run_specs()
    assert re.fullmatch(r"[A-Za-z0-9._=+-]+", sc.name)


@pytest.mark.parametrize("path", sorted((REPO / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_pass_the_printed_json_schema(path):
    # what an editor does with `vmsim schema`: shorthand device names, sizes and
    # times with units (also nested in distributions), hex addresses
    import jsonschema
    validator = jsonschema.Draft202012Validator(json_schema())
    doc = yaml.safe_load(path.read_text())
    assert [e.message for e in validator.iter_errors(doc)] == []
    bad = {**doc, "seedz": [1]}
    assert any("seedz" in e.message for e in validator.iter_errors(bad))
    wrong = {**doc, "callers": [{**doc["callers"][0], "no_such_param": 1}]}
    assert list(validator.iter_errors(wrong))


def test_workload_file_parameters_resolve_against_the_scenario_file(tmp_path, monkeypatch):
    # a relative `file:` (empirical sizes) is the scenario directory's, and it is
    # saved absolute, so the resolved scenario runs from anywhere
    d = tmp_path / "sc"
    d.mkdir()
    layout = REPO / "scenarios" / "layouts" / "arm32-240mib.vmallocinfo"
    (d / "dump.txt").write_text(layout.read_text())
    (d / "x.yaml").write_text(MINIMAL.replace(
        "  - workload: seed-test1\n    cpus: 0\n",
        "  - workload: random\n    cpus: 0\n    measure: true\n"
        "    size: {kind: empirical, file: dump.txt}\n"))
    monkeypatch.chdir(tmp_path)                       # not the scenario's directory
    sc = load_scenario(d / "x.yaml")
    saved = yaml.safe_load(sc.resolved_yaml())
    assert saved["callers"][0]["size"]["file"] == str((d / "dump.txt").resolve())


def test_saved_cost_table_pins_the_device_and_overrides_still_apply(write, tmp_path):
    # the resolved scenario carries the complete cost table: running it again
    # prices with those values even if the profile file has changed since
    sc = load_scenario(write(MINIMAL))
    saved = yaml.safe_load(sc.resolved_yaml())
    assert saved["device"]["cost"] == sc.cost["cost"]
    saved["device"]["cost"]["node_hot_ns"] = 7.5          # as if the profile said 7.5 then
    saved["device"]["overrides"] = {"kmalloc_ns": 20}
    again = parse_scenario(saved, "saved.yaml", tmp_path)
    assert again.cost["cost"]["node_hot_ns"] == 7.5
    assert again.cost["cost"]["kmalloc_ns"] == 20
    assert again.run_specs()[0].cost["node_hot_ns"] == 7.5


def test_a_sweeps_saved_document_keeps_caller_files_reachable(tmp_path, monkeypatch):
    # the top-level file of a sweep is the document as written: its relative
    # file parameters are made absolute, like a resolved scenario's
    d = tmp_path / "sc"
    d.mkdir()
    trace = REPO / "scenarios" / "traces" / "sample-x86_64.trace"
    (d / "t.trace").write_text(trace.read_text())
    (d / "x.yaml").write_text(
        "name: s\ndevice: qemu-x86\ncpus: 4\nallocators: [busy-list]\n"
        "callers:\n  - {workload: trace-replay, cpus: all, trace: t.trace}\n"
        "stop: {time: 10 ms}\nseeds: [1]\nsweep:\n  cpus: [2, 4]\n")
    monkeypatch.chdir(tmp_path)
    saved = yaml.safe_load(load_scenario(d / "x.yaml").resolved_yaml())
    assert saved["callers"][0]["trace"] == str((d / "t.trace").resolve())
    assert saved["callers"][0]["cpus"] == "all" and saved["sweep"] == {"cpus": [2, 4]}


def test_a_sweep_over_files_and_a_bad_saved_cost_table(tmp_path, monkeypatch):
    d = tmp_path / "sc"
    d.mkdir()
    trace = REPO / "scenarios" / "traces" / "sample-x86_64.trace"
    for name in ("a.trace", "b.trace"):
        (d / name).write_text(trace.read_text())
    (d / "x.yaml").write_text(
        "name: s\ndevice: qemu-x86\ncpus: 4\nallocators: [busy-list]\n"
        "callers:\n  - {workload: trace-replay, cpus: all, trace: a.trace}\n"
        "stop: {time: 10 ms}\nseeds: [1]\nsweep:\n  callers[0].trace: [a.trace, b.trace]\n")
    monkeypatch.chdir(tmp_path)
    sc = load_scenario(d / "x.yaml")
    saved = yaml.safe_load(sc.resolved_yaml())
    assert saved["sweep"] == {"callers[0].trace": [str((d / n).resolve()) for n in ("a.trace", "b.trace")]}
    assert saved["device"]["cost"] == sc.points[0][1].cost["cost"]      # pinned, as in each point
    # a saved cost table with an unknown parameter is reported at device.cost
    doc = yaml.safe_load(MINIMAL)
    doc["device"] = {"profile": "qemu-x86", "cost": {"bogus_ns": 1}}
    with pytest.raises(ScenarioError, match=r"^saved.yaml: device.cost: .*unknown cost parameter 'bogus_ns'"):
        parse_scenario(doc, "saved.yaml", tmp_path)
