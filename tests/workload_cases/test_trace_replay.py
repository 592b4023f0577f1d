"""trace-replay: the ftrace parser and the replayed request stream."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from support import REPO
from workload_fakes import FakeCaller, drive

from simulator.ftrace import TraceError, parse_trace
from workloads.trace_replay import build_script

PAGE = 4096
VS, VE = 0xFFFFC90000000000, 0xFFFFE90000000000
SAMPLE = REPO / "scenarios" / "traces" / "sample-x86_64.trace"


def alloc_line(cpu: int, t: str, addr: int, size: int, align: int = 1, failed: int = 0,
               vs: int = VS, ve: int = VE, pid: int = 4242) -> str:
    return (f"            bash-{pid:<7} [{cpu:03d}] d..1. {t}: alloc_vmap_area: va_start: {addr} "
            f"size={size} align={align} vstart={vs:#x} vend={ve:#x} failed={failed}")


def free_line(cpu: int, t: str, addr: int) -> str:
    return f"     kworker/{cpu}:1-77      [{cpu:03d}] ..... {t}: free_vmap_area_noflush: " \
           f"va_start={addr:#x} nr_lazy=8 nr_lazy_max=32768"


def write(tmp_path: Path, *lines: str) -> Path:
    p = tmp_path / "t.trace"
    p.write_text("# tracer: nop\n#\n" + "\n".join(lines) + "\n")
    return p


def test_parser_reads_every_event_form(tmp_path) -> None:
    p = write(tmp_path,
              alloc_line(1, "100.000001", VS, 3 * PAGE),
              "          <idle>-0       [001] d.h2. 100.000002: sched_switch: prev_comm=x ==> next_comm=y",
              "    modprobe-17 [002] 100.500000000: purge_vmap_area_lazy: start=0xffffc90000000000 "
              "end=0xffffc90000010000 num_purged=3",
              free_line(3, "101.250000", VS))
    ev = parse_trace(p).events
    assert [e.event for e in ev] == ["alloc_vmap_area", "purge_vmap_area_lazy", "free_vmap_area_noflush"]
    assert [e.line for e in ev] == [3, 5, 6]          # comments and other events skipped
    assert [e.cpu for e in ev] == [1, 2, 3]
    assert [e.t_ns for e in ev] == [100_000_001_000, 100_500_000_000, 101_250_000_000]
    assert ev[0].fields == {"va_start": VS, "size": 3 * PAGE, "align": 1, "vstart": VS, "vend": VE,
                            "failed": 0}
    assert ev[1].fields == {"start": VS, "end": VS + 0x10000, "num_purged": 3}
    assert ev[2].fields == {"va_start": VS, "nr_lazy": 8, "nr_lazy_max": 32768}


@pytest.mark.parametrize("bad, what", [
    ("this is not ftrace output", "t.trace:3: not an ftrace line"),
    ("  bash-1 [000] .... 5.000001: alloc_vmap_area: va_start: 12 size=4096 align=1", "t.trace:3: "
     "alloc_vmap_area fields do not parse"),
    ("  bash-1 [000] .... 5.000001: free_vmap_area_noflush: va_start=zz", "t.trace:3: "
     "free_vmap_area_noflush fields do not parse"),
])
def test_a_line_that_does_not_parse_names_file_and_line(tmp_path, bad, what) -> None:
    p = write(tmp_path, bad)
    with pytest.raises(TraceError, match="accepted: ftrace lines") as info:
        parse_trace(p)
    assert what in str(info.value) and "\n" not in str(info.value)


def test_script_merges_retries_and_gives_frees_to_the_allocating_cpu(tmp_path) -> None:
    p = write(tmp_path,
              free_line(0, "1.000000", VS + 99 * PAGE),                 # allocated before the trace
              alloc_line(0, "1.000001", VS, 3 * PAGE),
              alloc_line(1, "1.000002", (1 << 64) - 12, 8 * PAGE, failed=1, pid=7),
              # the retry after the purge (which may sleep): same task, now on CPU 3;
              # in between, another task on CPU 1 asks the same and fails for good
              alloc_line(1, "1.0000025", (1 << 64) - 12, 8 * PAGE, failed=1, pid=8),
              alloc_line(3, "1.000003", VS + 3 * PAGE, 8 * PAGE, pid=7),
              free_line(2, "1.000004", VS),                            # freed on CPU 2
              alloc_line(1, "1.000005", (1 << 64) - 12, 2 * PAGE, failed=1))  # a final failure
    s = build_script(parse_trace(p))
    assert s.retries == 1 and s.skipped_frees == {0: 1} and s.t0_ns == 1_000_000_000
    assert [(x.kind, x.area) for x in s.steps[0]] == [("alloc", 1), ("free", 1)]
    assert [(x.kind, x.area, x.size_bytes) for x in s.steps[1]] == [("alloc", None, 8 * PAGE),
                                                                    ("alloc", None, 2 * PAGE)]
    assert [(x.kind, x.area, x.size_bytes) for x in s.steps[3]] == [("alloc", 2, 8 * PAGE)]
    assert 2 not in s.steps


def test_replay_issues_the_traced_requests_at_their_times() -> None:
    events = parse_trace(SAMPLE)
    cpu = 2
    c = drive("trace-replay", FakeCaller(cpu=cpu, word_bits=64, vmalloc_start=VS, vmalloc_end=VE,
                                         modules_start=0xFFFFFFFFA0000000,
                                         modules_end=0xFFFFFFFFFF000000, op_ns=200),
              {"trace": str(SAMPLE)})
    script = build_script(events)
    allocs = [x for x in script.steps[cpu] if x.kind == "alloc"]
    got = c.of("vmalloc")
    # every request of trace CPU 2, the guard page left to vmalloc
    assert [(o.size_bytes, o.align, o.vstart, o.vend) for o in got] == \
        [(x.size_bytes - PAGE, x.align, x.vstart, x.vend) for x in allocs]
    # open loop: no request before its traced time (relative to the first event)
    start = c.ops[c.index_of("measure_start")].t_ns
    for o, x in zip(got, allocs):
        assert o.t_ns - 200 >= start + x.t_ns - script.t0_ns
    # each traced free frees the area its allocation got here
    frees = [x for x in script.steps[cpu] if x.kind == "free"]
    assert len(c.of("vfree")) == len(frees) > 100
    addr_of = {x.area: o.addr for x, o in zip(allocs, got)}
    assert [o.addr for o in c.of("vfree")] == [addr_of[x.area] for x in frees]
    assert len(c.of("iteration_done")) == len(allocs)
    assert "frees of areas allocated before the trace skipped" in c.lines[0]


def test_sample_trace_is_what_its_generator_says() -> None:
    ev = parse_trace(SAMPLE)
    kinds = {e.event for e in ev.events}
    assert kinds == {"alloc_vmap_area", "free_vmap_area_noflush", "purge_vmap_area_lazy"}
    s = build_script(ev)
    assert s.retries == 1 and sum(s.skipped_frees.values()) == 3
    assert sorted(s.steps) == [0, 1, 2, 3]


def test_params_check_sizes_and_ranges_against_the_scenario(tmp_path) -> None:
    import workloads
    params = workloads.get("trace-replay").params
    p = write(tmp_path, alloc_line(0, "1.0", VS, 3 * PAGE, vs=0xFFFFFFFFA0000000, ve=0xFFFFFFFFFF000000))
    ctx = {"page_size": PAGE, "address_range": (VS, VE), "base_dir": str(tmp_path)}
    with pytest.raises(ValidationError,
                       match=r"t.trace:3: vstart..vend 0xffffffffa0000000..0xffffffffff000000 "
                             r"lies outside the scenario's address space"):
        params.model_validate({"trace": "t.trace"}, context=ctx)
    ok = params.model_validate({"trace": "t.trace", "ranges": "vmalloc"}, context=ctx)
    assert ok.trace == str(p.resolve())                       # resolved against base_dir
    p.write_text(alloc_line(0, "1.0", VS, PAGE + 100) + "\n")
    with pytest.raises(ValidationError, match="t.trace:1: size 4196 is not a page multiple"):
        params.model_validate({"trace": "t.trace"}, context=ctx)


def test_parser_skips_headers_other_tracers_and_counts_lost_events(tmp_path) -> None:
    p = write(tmp_path,
              "cpus=4", "version = 6", "CPU 3 is empty",
              "            bash-4242  ( 4240) [001] .... 7.000001: do_sys_open <-do_syscall_64",
              "            bash-4242  (-------) [001] .... 7.000002: free_vmap_area_noflush: "
              "va_start=0xffffc90000004000 nr_lazy=2 nr_lazy_max=8192",
              "CPU:2 [LOST 1234 EVENTS]",
              "  my worker-thread-9 [002] 123456789: alloc_vmap_area: va_start: 1 size=8192 align=1 "
              "vstart=0x0 vend=0x10000 failed=0")
    t = parse_trace(p)
    assert [(e.event, e.cpu, e.pid) for e in t.events] == [("free_vmap_area_noflush", 1, 4242),
                                                          ("alloc_vmap_area", 2, 9)]
    assert t.events[1].t_ns == 123456789 * 10**9          # a counter clock: no fraction
    assert t.lost == {2: 1234}


def test_a_missing_trace_or_bad_align_is_a_validation_error(tmp_path) -> None:
    import workloads
    params = workloads.get("trace-replay").params
    ctx = {"page_size": PAGE, "base_dir": str(tmp_path)}
    with pytest.raises(ValidationError, match="no such trace file"):
        params.model_validate({"trace": "absent.trace"}, context=ctx)
    write(tmp_path, alloc_line(0, "1.0", VS, 3 * PAGE, align=3))
    with pytest.raises(ValidationError, match=r"t.trace:3: align 3 is not a power of two"):
        params.model_validate({"trace": "t.trace"}, context=ctx)


def test_trace_timing_stops_at_the_stop_time(tmp_path) -> None:
    # events at 1 s and 11 s; a 2 s stop: the second request is never issued
    p = write(tmp_path, alloc_line(0, "1.000000", VS, 3 * PAGE), alloc_line(0, "11.000000", VS + 3 * PAGE,
                                                                          3 * PAGE))
    c = drive("trace-replay", FakeCaller(cpu=0, word_bits=64, vmalloc_start=VS, vmalloc_end=VE,
                                         time_ns=2 * 10**9), {"trace": str(p)})
    assert len(c.of("vmalloc")) == 1
