"""lib/test_vmalloc.c cases and the test-vmalloc preset against the module's definitions."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import chisquare
from workload_fakes import FakeCaller, drive

PAGE = 4096
SUMMARY = re.compile(r"^Summary: (\w+) passed: (\d+) failed: (\d+) repeat: (\d+) loops: (\d+) "
                     r"avg: (\d+) usec$")


def _loop_ops(c: FakeCaller) -> list:
    return c.ops[c.index_of("measure_start") + 1:]


def test_random_size_alloc_test_sizes_uniform_1_to_100_pages() -> None:
    n = 20_000
    c = drive("random_size_alloc_test", FakeCaller(seed=3, iterations=n))
    pages = np.array([o.size_bytes for o in c.of("vmalloc")]) // PAGE
    assert len(pages) == n
    assert pages.min() >= 1 and pages.max() <= 100
    counts = np.bincount(pages, minlength=101)[1:]
    assert (counts > 0).all()
    # uniform on 1..100: expected n/100 per value; the seeded stream makes this deterministic
    assert chisquare(counts).pvalue > 0.001
    # a non-uniform stream would fail this check (the test can fail)
    skewed = np.bincount(np.minimum(pages, 60), minlength=101)[1:]
    assert chisquare(skewed).pvalue < 1e-6
    # each iteration: vmalloc, touch, vfree of the same area
    body = [o for o in _loop_ops(c) if o.op != "iteration_done"]
    for v, t, f in zip(body[0::3], body[1::3], body[2::3]):
        assert (v.op, t.op, f.op) == ("vmalloc", "touch", "vfree") and v.addr == t.addr == f.addr


@pytest.mark.parametrize("ncpus,junk_length", [(1, 8192), (3, 16384)])
def test_full_fit_leaves_holes_of_exactly_one_area(ncpus: int, junk_length: int) -> None:
    # junk_length = fls(num_online_cpus()) * (32 MiB / 4 KiB): fls(1) = 1, fls(0b11) = 2
    c = drive("full_fit_alloc_test", FakeCaller(ncpus=ncpus, iterations=50, word_bits=64,
                                                vmalloc_start=1 << 40, vmalloc_end=1 << 41))
    m = c.index_of("measure_start")
    setup = c.ops[:m]
    allocs = [o for o in setup if o.op == "vmalloc"]
    frees = [o for o in setup if o.op == "vfree"]
    # two pointer arrays of junk_length words (PAGE_ALIGN), then the interleaved pairs
    assert [o.size_bytes for o in allocs[:2]] == [-(-8 * junk_length // PAGE) * PAGE] * 2
    pairs = allocs[2:]
    assert len(pairs) == 2 * junk_length and all(o.size_bytes == PAGE for o in pairs)
    ptr, junk = pairs[0::2], pairs[1::2]
    assert [f.addr for f in frees] == [j.addr for j in junk]
    # with ptr[i] kept and junk[i] freed, every hole between kept areas is one area:
    # 1 page + its guard page
    kept = sorted(o.addr for o in ptr)
    gaps = {b - a for a, b in zip(kept, kept[1:])}
    assert gaps == {2 * (PAGE + PAGE)}
    # the loop body: vmalloc(1 page), touch (*((__u8 *)tmp) = 1), vfree
    body = [o.op for o in c.ops[m + 1:m + 1 + 4]]
    assert body == ["vmalloc", "touch", "vfree", "iteration_done"]
    # the measured loop's 1-page areas land in such holes (first fit) and are freed again
    loop_allocs = [o for o in c.ops[m:] if o.op == "vmalloc"][:50]
    junk_addrs = {j.addr for j in junk}
    assert all(o.size_bytes == PAGE and o.addr in junk_addrs for o in loop_allocs)


@pytest.mark.parametrize("thread_align,expected_align", [(None, 32 * 1024), ("8 KiB", 16 * 1024)])
def test_fix_align_requests_are_thread_align_shifted(thread_align, expected_align) -> None:
    params = {} if thread_align is None else {"thread_align": thread_align}
    c = drive("fix_align_alloc_test", FakeCaller(iterations=200, word_bits=64), params)
    allocs = c.of("vmalloc")
    assert len(allocs) == 200
    for o in allocs:
        assert (o.size_bytes, o.align) == (5 * PAGE, expected_align)
        assert o.addr % expected_align == 0


def test_random_size_align_ranges_and_alignment() -> None:
    c = drive("random_size_align_alloc_test", FakeCaller(seed=5, iterations=5000, word_bits=64))
    allocs = c.of("vmalloc")
    exps = []
    for o in allocs:
        assert 1 <= o.size_bytes // PAGE <= 10 and o.size_bytes % PAGE == 0
        assert o.align & (o.align - 1) == 0 and o.align <= 1 << 22
        assert o.addr % o.align == 0
        exps.append(o.align.bit_length() - 1)
    # rnd % 23 of a 64-bit random word: about uniform over 0..22
    assert chisquare(np.bincount(exps, minlength=23)).pvalue > 0.001
    # size and align come from the same random word: replay the caller's stream
    rng = np.random.default_rng(5)
    words = [int(rng.integers(0, 1 << 64, dtype=np.uint64)) for _ in allocs]
    assert [(o.size_bytes, o.align) for o in allocs] == \
        [((w % 10 + 1) * PAGE, 1 << (w % 23)) for w in words]
    # the kernel loop has no touch: vmalloc, vfree, per iteration
    assert not c.of("touch")


def test_align_shift_fails_at_the_first_unsatisfiable_alignment() -> None:
    c = FakeCaller(word_bits=32)     # vmalloc range 0xf0800000-0xff800000
    drive("align_shift_alloc_test", c, {"test_loop_count": 1})
    allocs = c.of("vmalloc")
    aligns = [o.align for o in allocs]
    assert aligns == [1 << i for i in range(len(aligns))]
    # oracle: first i with ALIGN(0xf0800000, 1 << i) + 1 page + guard beyond 0xff800000
    first_bad = next(i for i in range(32)
                     if ((0xF0800000 + (1 << i) - 1) >> i << i) + 2 * PAGE > 0xFF800000)
    assert first_bad == 28
    assert len(allocs) == first_bad + 1 and allocs[-1].addr is None
    assert all(o.addr is not None for o in allocs[:-1])
    (line,) = c.lines
    m = SUMMARY.match(line)
    assert m and m.group(1) == "align_shift_alloc_test" and (m.group(2), m.group(3)) == ("0", "1")


def test_long_busy_list_alloc_test_setup_and_loop() -> None:
    c = drive("long_busy_list_alloc_test", FakeCaller(iterations=10, word_bits=64))
    m = c.index_of("measure_start")
    setup = c.ops[:m]
    assert setup[0].size_bytes == -(-8 * 15000 // PAGE) * PAGE    # vmalloc(sizeof(void *) * 15000)
    assert [o.size_bytes for o in setup[1:]] == [PAGE] * 15000
    body = [o.op for o in c.ops[m + 1:m + 1 + 7]]
    assert body == ["vmalloc", "vmalloc", "touch", "touch", "vfree", "vfree", "iteration_done"]
    # after the loop the 15,000 areas and the array are freed (label "leave")
    freed = {o.addr for o in c.of("vfree")}
    assert {o.addr for o in setup} <= freed
    assert not c.busy


@pytest.mark.parametrize("nr_pages", [None, 1])
def test_fix_size_alloc_test_size(nr_pages) -> None:
    params = {} if nr_pages is None else {"nr_pages": nr_pages}
    c = drive("fix_size_alloc_test", FakeCaller(iterations=5), params)
    assert {o.size_bytes for o in c.of("vmalloc")} == {(nr_pages or 3) * PAGE}
    assert len(c.of("touch")) == 5


def test_pcpu_alloc_test_is_refused_with_a_reason() -> None:
    import workloads

    with pytest.raises(ValidationError, match="pcpu_alloc_test is not modelled: .*pcpu_get_vm_areas"):
        workloads.get("pcpu_alloc_test").params.model_validate({})
    with pytest.raises(ValidationError, match="pcpu_alloc_test \\(128\\)"):
        workloads.get("test-vmalloc").params.model_validate({"run_test_mask": 255})


def test_test_vmalloc_summary_lines() -> None:
    loops, op_ns = 100, 1000
    c = drive("test-vmalloc", FakeCaller(op_ns=op_ns), {"run_test_mask": 1 | 16, "test_loop_count": loops})
    assert len(c.lines) == 2
    parsed = [SUMMARY.match(line) for line in c.lines]
    assert all(parsed)
    # performance preset: test_repeat_count=3; lines in test_case_array order
    names = [m.group(1) for m in parsed]
    assert names == ["fix_size_alloc_test", "fix_align_alloc_test"]
    for m in parsed:
        assert (m.group(2), m.group(3), m.group(4), m.group(5)) == ("3", "0", "3", str(loops))
    # avg = ktime_us_delta / repeat: fix_size does 3 ops per loop, fix_align 2, op_ns each
    assert int(parsed[0].group(6)) == (3 * 3 * loops * op_ns // 1000) // 3
    assert int(parsed[1].group(6)) == (3 * 2 * loops * op_ns // 1000) // 3


def _run_order(c: FakeCaller) -> list[str]:
    """Which test ran when, told apart by their request sizes/aligns."""
    order = []
    for o in c.of("vmalloc"):
        name = ("fix_align" if o.align == 32 * 1024 else
                "fix_size" if o.size_bytes == 3 * PAGE else "other")
        if not order or order[-1] != name:
            order.append(name)
    return order


def test_test_vmalloc_performance_is_sequential_stress_is_shuffled() -> None:
    params = {"run_test_mask": 1 | 16, "test_loop_count": 5, "test_repeat_count": 1}
    perf = [_run_order(drive("test-vmalloc", FakeCaller(seed=s, word_bits=64), params)) for s in range(8)]
    assert all(o == ["fix_size", "fix_align"] for o in perf)
    stress = [_run_order(drive("test-vmalloc", FakeCaller(seed=s, word_bits=64),
                               {**params, "mode": "stress"}))
              for s in range(8)]
    assert all(sorted(o) == ["fix_align", "fix_size"] for o in stress)
    assert ["fix_align", "fix_size"] in stress          # some seed runs fix_align first
    c = drive("test-vmalloc", FakeCaller(seed=1), {"mode": "stress", "test_loop_count": 2,
                                                    "run_test_mask": 1})
    assert SUMMARY.match(c.lines[0]).group(4) == "20"   # stress preset: test_repeat_count=20


def test_shuffle_array_is_the_kernels_j_below_i() -> None:
    from workloads.lib_test_vmalloc import shuffle_array

    class Rec:
        def __init__(self) -> None:
            self.highs: list[int] = []

        def integers(self, low: int, high: int) -> int:
            self.highs.append(high)
            return 0
    arr, rec = list(range(5)), Rec()
    shuffle_array(arr, rec)
    assert rec.highs == [4, 3, 2, 1]              # j = random % i for i = n-1 .. 1
    # always j = 0: swap(arr[i], arr[0]) for i = 4, 3, 2, 1
    assert arr == [1, 2, 3, 4, 0]


@pytest.mark.parametrize("name", ["random_size_alloc_test", "random_size_align_alloc_test",
                                  "fix_size_alloc_test"])
def test_determinism_per_seed(name: str) -> None:
    a = drive(name, FakeCaller(seed=11, iterations=300)).ops
    b = drive(name, FakeCaller(seed=11, iterations=300)).ops
    assert a == b
    if name.startswith("random"):
        assert a != drive(name, FakeCaller(seed=12, iterations=300)).ops


def test_mask_bits_beyond_the_tests_are_refused() -> None:
    import workloads

    with pytest.raises(ValidationError, match="accepted: a mask within 127"):
        workloads.get("test-vmalloc").params.model_validate({"run_test_mask": 1 << 20})


class _FloatClock(FakeCaller):
    """SimPy's env.now is a float: the Summary avg must still print as an integer."""

    @property
    def now_ns(self) -> float:  # type: ignore[override]
        return self._t + 0.25


def test_summary_avg_is_an_integer_with_a_float_clock() -> None:
    c = drive("test-vmalloc", _FloatClock(op_ns=1500), {"run_test_mask": 1, "test_loop_count": 7})
    m = SUMMARY.match(c.lines[0])
    assert m, c.lines[0]
    assert int(m.group(6)) == (3 * 3 * 7 * 1500 // 1000) // 3


def test_background_with_a_float_clock_sleeps_whole_ns() -> None:
    c = drive("thread-stacks", _FloatClock(seed=1, time_ns=10_000_000), {"rate_per_s": 5000})
    assert c.of("sleep") and all(isinstance(o.size_bytes, int) for o in c.of("sleep"))


def test_case_repeats_run_the_whole_loop_count_each_time() -> None:
    # test_func(): every one of test_repeat_count repetitions runs test_loop_count
    # iterations, here taken from the scenario's iterations stop (100)
    c = drive("fix_size_alloc_test", FakeCaller(iterations=100), {"test_repeat_count": 3})
    assert len(c.of("vmalloc")) == 3 * 100
    m = SUMMARY.match(c.lines[-1])
    assert m and m.groups()[1:5] == ("3", "0", "3", "100")
    # avg = ktime_us_delta / repeat: 3 ops of op_ns per iteration
    assert int(m.group(6)) == (3 * 100 * 3 * 1000 // 1000) // 3


def test_a_repetition_cut_by_the_stop_is_neither_passed_nor_failed() -> None:
    # a time stop in the middle of repetition 2 (each repetition: 10 x 3 ops of 1 us)
    c = drive("fix_size_alloc_test", FakeCaller(time_ns=45_000),
              {"test_repeat_count": 3, "test_loop_count": 10})
    assert any("cut short by the scenario's stop in repetition 2 of 3" in line for line in c.lines)
    m = SUMMARY.match(c.lines[-1])
    assert m and (m.group(2), m.group(3), m.group(4)) == ("1", "0", "3")
    # avg over the two repetitions that ran (45 us of simulated time)
    assert int(m.group(6)) == 45 // 2


@pytest.mark.parametrize("word_bits,expected_align", [(64, 32 * 1024), (32, 16 * 1024)])
def test_fix_align_default_thread_align_follows_the_word_size(word_bits, expected_align) -> None:
    # THREAD_ALIGN: x86_64 16 KiB; 32-bit ARM (no VMAP_STACK) THREAD_SIZE = 8 KiB
    c = drive("fix_align_alloc_test", FakeCaller(iterations=5, word_bits=word_bits))
    assert {(o.size_bytes, o.align) for o in c.of("vmalloc")} == {(5 * PAGE, expected_align)}


def test_stress_summary_lines_come_in_test_case_array_order() -> None:
    # whatever the shuffled run order, test_func prints in test_case_array order
    params = {"mode": "stress", "run_test_mask": 1 | 8 | 16, "test_loop_count": 2,
              "test_repeat_count": 1}
    orders = set()
    for seed in range(6):
        c = drive("test-vmalloc", FakeCaller(seed=seed, word_bits=64), params)
        names = [SUMMARY.match(line).group(1) for line in c.lines]
        assert names == ["fix_size_alloc_test", "random_size_alloc_test", "fix_align_alloc_test"]
        orders.add(tuple(_run_order(c)))
    assert len(orders) > 1                              # the runs really were shuffled
