"""thread-stacks, module-load, ioremap and random against their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support import shared_path
from workload_fakes import FakeCaller, drive

PAGE = 4096
KiB, MiB = 1024, 1024 * 1024
SEC = 1_000_000_000


def test_thread_stacks_rate_size_alignment_and_exits() -> None:
    rate, horizon_ns, life_ns = 2000.0, SEC, 5_000_000
    c = drive("thread-stacks", FakeCaller(seed=7, time_ns=horizon_ns, op_ns=100, word_bits=64),
              {"rate_per_s": rate, "lifetime": "5 ms", "cached_stacks": 0})
    allocs = c.of("vmalloc")
    # Poisson(rate * T) forks: within 5 standard deviations of the mean
    mean = rate * horizon_ns / SEC
    assert abs(len(allocs) - mean) < 5 * math.sqrt(mean)
    for o in allocs:
        assert (o.size_bytes, o.align, o.vstart, o.vend) == (16 * KiB, 16 * KiB, None, None)
        assert o.addr % (16 * KiB) == 0
    # gaps between forks are exponential with mean 1/rate: check the mean within 5 sigma
    t = np.array([o.t_ns for o in allocs], dtype=float)
    gaps = np.diff(t)
    assert abs(gaps.mean() - SEC / rate) < 5 * (SEC / rate) / math.sqrt(len(gaps))
    # each stack is freed 5 ms after its fork completed (vmalloc + touch), late by at most
    # the operation in progress when the exit fell due
    last_alloc: dict[int, int] = {}
    for o in c.ops:
        if o.op == "vmalloc":
            last_alloc[o.addr] = o.t_ns
        elif o.op == "vfree":
            # vfree's own op_ns, after exit due at (vmalloc end + touch + lifetime)
            late = o.t_ns - c.op_ns - (last_alloc[o.addr] + c.op_ns + life_ns)
            assert 0 <= late < 3 * c.op_ns
    # every thread forked before T - 5 ms has exited by T
    due = [o for o in allocs if o.t_ns + c.op_ns + life_ns < horizon_ns - 3 * c.op_ns]
    assert len(c.of("vfree")) >= len(due)


def test_thread_stacks_cache_and_arm32_sizes() -> None:
    # 32-bit: THREAD_SIZE 8 KiB by default (ARM), THREAD_ALIGN 16 KiB (VMAP_STACK)
    c = drive("thread-stacks", FakeCaller(seed=1, time_ns=SEC // 10, word_bits=32),
              {"rate_per_s": 5000, "lifetime": "1 ms",
               "stack_align": "16 KiB", "cached_stacks": 2, "resident_threads": 3})
    allocs = c.of("vmalloc")
    touches = c.of("touch")
    assert {(o.size_bytes, o.align) for o in allocs} == {(8 * KiB, 16 * KiB)}
    # resident threads come first and are never freed
    resident = [o.addr for o in allocs[:3]]
    assert not set(resident) & {o.addr for o in c.of("vfree")}
    # NR_CACHED_STACKS: forks served by the per-CPU cache do not call vmalloc
    assert len(touches) > len(allocs)
    with pytest.raises(Exception, match="power of two"):
        drive("thread-stacks", FakeCaller(time_ns=1), {"stack_align": "12 KiB"})


@pytest.mark.parametrize("size,max_order,expected", [
    # 1 << clamp(ceil(log2(size)), PAGE_SHIFT, IOREMAP_MAX_ORDER), by hand
    (4 * KiB, 24, 4 * KiB),
    (8 * KiB, 24, 8 * KiB),
    (12 * KiB, 24, 16 * KiB),
    (MiB + 4 * KiB, 24, 2 * MiB),
    (64 * MiB, 24, 16 * MiB),
    (64 * MiB, 19, 512 * KiB),
    (68 * KiB, 19, 128 * KiB),
])
def test_ioremap_alignment_rule(size: int, max_order: int, expected: int) -> None:
    c = drive("ioremap", FakeCaller(vmalloc_start=1 << 32, vmalloc_end=1 << 33, word_bits=64),
              {"boot_mappings": 3, "rate_per_s": 0, "size": size, "ioremap_max_order": max_order})
    allocs = c.of("vmalloc")
    assert [(o.size_bytes, o.align) for o in allocs] == [(size, expected)] * 3
    assert all(o.addr % expected == 0 for o in allocs)


@pytest.mark.parametrize("word_bits,expected", [(32, 24), (64, 19)])
def test_ioremap_default_max_order(word_bits: int, expected: int) -> None:
    big = 256 * MiB
    c = drive("ioremap", FakeCaller(word_bits=word_bits, vmalloc_start=1 << 33, vmalloc_end=1 << 34),
              {"boot_mappings": 1, "rate_per_s": 0, "size": big})
    assert c.of("vmalloc")[0].align == 1 << expected


def test_ioremap_churn_after_boot_frees_what_it_mapped() -> None:
    c = drive("ioremap", FakeCaller(seed=2, time_ns=SEC), {"rate_per_s": 200, "lifetime": "10 ms"})
    allocs = c.of("vmalloc")
    assert len(allocs) > 20 + 100
    mapped = {o.addr for o in allocs}
    assert {o.addr for o in c.of("vfree")} <= mapped
    assert not {o.addr for o in allocs[:20]} & {o.addr for o in c.of("vfree")}  # boot: permanent


def test_module_load_uses_modules_range_align_1_and_boot_burst() -> None:
    ms, me = 0xBF000000, 0xBFE00000
    c = drive("module-load", FakeCaller(seed=4, modules_start=ms, modules_end=me, time_ns=600 * SEC),
              {"boot_modules": 10, "boot_interval": "1 ms", "load_rate_per_s": 0.1,
               "lifetime": "30 s"})
    allocs = c.of("vmalloc")
    assert all((o.vstart, o.vend, o.align) == (ms, me, 1) for o in allocs)
    assert all(o.addr is None or ms <= o.addr < me for o in allocs)
    boot = allocs[:10]
    assert boot[-1].t_ns < 20_000_000               # the burst: 10 loads within ~10 ms
    later = allocs[10:]
    assert 20 < len(later) < 110                    # ~ Poisson(0.1/s x 600 s) = 60
    assert not c.lines


def test_module_load_without_modules_range_falls_back_and_says_so() -> None:
    c = drive("module-load", FakeCaller(time_ns=1), {"boot_modules": 1, "load_rate_per_s": 0})
    o = c.of("vmalloc")[0]
    assert (o.vstart, o.vend) == (c.vmalloc_start, c.vmalloc_end)
    assert len(c.lines) == 1 and "no modules range" in c.lines[0]


def test_random_lifetime_think_and_sizes() -> None:
    c = drive("random", FakeCaller(seed=9, iterations=200, op_ns=10),
              {"size": {"kind": "uniform", "low": "2 pages", "high": "4 pages"},
               "lifetime": "50 us", "think": "20 us", "measure": True})
    allocs = c.of("vmalloc")
    assert len(allocs) == 200 and c.ops[0].op == "measure_start"
    assert {o.size_bytes // PAGE for o in allocs} == {2, 3, 4}
    # consecutive allocations: touch + think (20 us) + the vmalloc itself apart, exactly when
    # no free fell due in between, later otherwise
    exact = 0
    for a, b in zip(allocs, allocs[1:]):
        frees = [o for o in c.of("vfree") if a.t_ns < o.t_ns < b.t_ns]
        gap = b.t_ns - a.t_ns
        assert gap >= 20_000 + 2 * c.op_ns
        if not frees:
            assert gap == 20_000 + 2 * c.op_ns
            exact += 1
    assert exact > 0
    # each area is freed 50 us after it was allocated and touched (late by < 2 ops)
    t_alloc = {}
    for o in c.ops:
        if o.op == "vmalloc":
            t_alloc[o.addr] = o.t_ns
        elif o.op == "vfree":
            late = o.t_ns - c.op_ns - (t_alloc[o.addr] + c.op_ns + 50_000)
            assert 0 <= late < 2 * c.op_ns


def test_random_max_live_and_forever() -> None:
    c = drive("random", FakeCaller(seed=1, iterations=50),
              {"lifetime": "forever", "max_live": 10})
    assert len(c.of("vmalloc")) == 10 and not c.of("vfree")     # capped by never-freed areas


def test_random_empirical_sizes_come_from_the_dump() -> None:
    path = str(shared_path("data", "vmallocinfo-arm32-zynq.txt"))   # ../shared of the checkout
    c = drive("random", FakeCaller(seed=3, iterations=300, vmalloc_end=0xFF800000),
              {"size": {"kind": "empirical", "file": path, "kinds": ["vmalloc"]},
               "lifetime": "1 us"})
    # the dump's vmalloc lines, by hand: pages= counts 1, 11, 66, 3, 3, 3, and the 22-page
    # percpu chunk (98304 bytes, no guard)
    allowed = {1 * PAGE, 11 * PAGE, 66 * PAGE, 3 * PAGE, 24 * PAGE}
    sizes = {o.size_bytes for o in c.of("vmalloc")}
    assert sizes <= allowed and len(sizes) >= 3


@pytest.mark.parametrize("name,params", [
    ("thread-stacks", {"rate_per_s": 3000}),
    ("ioremap", {"rate_per_s": 500}),
    ("module-load", {"load_rate_per_s": 50, "lifetime": "10 ms"}),
    ("random", {"think": "10 us"}),
])
def test_background_determinism_per_seed(name: str, params: dict) -> None:
    kw = dict(time_ns=SEC // 5, modules_start=0xBF000000, modules_end=0xBFE00000)
    a = drive(name, FakeCaller(seed=21, **kw), params).ops
    assert a == drive(name, FakeCaller(seed=21, **kw), params).ops
    assert a != drive(name, FakeCaller(seed=22, **kw), params).ops


def test_thread_stacks_rate_sigma_varies_the_rate_between_runs() -> None:
    """rate_sigma draws one lognormal factor per run: across seeds the fork
    counts spread like exp(sigma * N(0,1)); with sigma 0 they stay Poisson."""
    rate, horizon_ns, sigma = 2000.0, SEC // 4, 0.8
    params = {"rate_per_s": rate, "lifetime": "1 ms", "cached_stacks": 0}
    fixed = [len(drive("thread-stacks", FakeCaller(seed=s, time_ns=horizon_ns), params).of("vmalloc"))
             for s in range(12)]
    varied = [len(drive("thread-stacks", FakeCaller(seed=s, time_ns=horizon_ns),
                        {**params, "rate_sigma": sigma}).of("vmalloc")) for s in range(12)]
    mean = rate * horizon_ns / SEC
    # fixed rate: every run within 5 Poisson sigmas of the mean
    assert all(abs(n - mean) < 5 * math.sqrt(mean) for n in fixed)
    # varied: the log counts spread with a standard deviation near sigma
    # (Poisson noise adds ~1/sqrt(500) ~ 0.045); 12 draws, so a wide band
    spread = float(np.std(np.log(varied), ddof=1))
    assert 0.4 * sigma < spread < 1.8 * sigma
    assert float(np.std(np.log(fixed), ddof=1)) < 0.15
