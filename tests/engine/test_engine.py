"""Engine acceptance: lazy purge rule, contention growth, determinism, ENOMEM, modes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import workloads
from simulator.kconst import lazy_max_pages
from simulator.runner import simulate
from simulator.metrics import REL_ERR
from simulator.spec import AddressSpace, CallerSpec
from workloads.base import Workload, WorkloadParams

from .conftest import make_spec

PAGE = 4096


class RandomParams(WorkloadParams):
    max_pages: int = 16


def random_behaviour(caller, p: RandomParams):
    """Random sizes from the caller's own stream; frees in random order."""
    caller.measure_start()
    live: list[int] = []
    while caller.running():
        n = int(caller.rng.integers(1, p.max_pages + 1))
        addr = yield from caller.vmalloc(n * caller.page_size)
        if addr is not None:
            live.append(addr)
        if len(live) > 8 or (live and caller.rng.random() < 0.5):
            victim = live.pop(int(caller.rng.integers(len(live))))
            yield from caller.vfree(victim)
        caller.iteration_done()
    for a in live:
        yield from caller.vfree(a)


if "_test_random" not in workloads.REGISTRY:
    workloads.register(Workload("_test_random", "test: random sizes", RandomParams, random_behaviour))


def test_lazy_max_pages_kernel_rule() -> None:
    # fls(n) * 32 MiB / PAGE_SIZE; fls = 1-based index of the top set bit:
    # fls(1)=1, fls(2)=fls(3)=2, fls(4..7)=3, fls(8..15)=4, fls(64)=7.
    # (kernel-notes section 4's "3-4: 24576; 5-8: 32768" is off by one: fls(3) = 2.)
    unit = (32 << 20) // PAGE
    assert [lazy_max_pages(n, PAGE) for n in (1, 2, 3, 4, 5, 7, 8, 64)] == \
        [unit * k for k in (1, 2, 2, 3, 3, 3, 4, 7)]


@pytest.mark.slow
@pytest.mark.parametrize("allocator", ["busy-list", "free-list", "augmented-tree"])
def test_lazy_purge_count_follows_threshold_rule(allocator: str) -> None:
    iterations = 100_000
    # The rule: vfree adds the area's pages (3 + 1 guard) to vmap_lazy_nr and purges
    # (emptying the list) when the sum exceeds lazy_max_pages() = fls(1) * 32 MiB / 4 KiB.
    lazy_max = 1 * (32 << 20) // PAGE
    pages_per_area = 3 + 1
    vfrees_per_purge = lazy_max // pages_per_area + 1     # first k with 4k > lazy_max
    expected = iterations // vfrees_per_purge
    r = simulate(make_spec(allocator, cpus=1, iterations=iterations, sample_interval_ns=10**9))
    s = r.summary
    assert s["purges"] == expected == 48
    assert s["tlb_flushes"] == s["purges"]
    purging = r.ops[r.ops["purge"]]
    assert len(purging) == expected and set(purging["op"]) == {"vfree"}
    # the purging vfrees are exactly every vfrees_per_purge-th vfree
    vf = r.ops[r.ops["op"] == "vfree"].reset_index(drop=True)
    assert list(vf.index[vf["purge"]] + 1) == [vfrees_per_purge * (i + 1) for i in range(expected)]
    assert s["enomem"] == 0


def test_lock_wait_and_latency_grow_with_cpus() -> None:
    means = []
    for cpus in (1, 2, 3, 4):
        r = simulate(make_spec("augmented-tree", cpus=cpus, iterations=4000))
        wait = r.ops["lock_wait_ns"].sum()
        if cpus == 1:
            assert wait == 0
        else:
            assert wait > 0 and r.summary["spin_cpu_ns"] > 0
        means.append(r.summary["mean_ns"])
    assert all(a < b for a, b in zip(means, means[1:])), means


@pytest.mark.parametrize("allocator,keep_ops", [("busy-list", True), ("free-list", True),
                                                ("augmented-tree", True), ("free-list", False)])
def test_determinism(allocator: str, keep_ops: bool) -> None:
    spec = make_spec(allocator, cpus=4, workload="_test_random", iterations=1500, seed=7,
                     cost_overrides={"lock_kind": "tas"}, sample_interval_ns=50_000,
                     keep_ops=keep_ops)
    a, b = simulate(spec), simulate(spec)
    pd.testing.assert_frame_equal(a.ops, b.ops)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    assert a.summary == b.summary or _nan_equal(a.summary, b.summary)
    assert a.log == b.log
    c = simulate(make_spec(allocator, cpus=4, workload="_test_random", iterations=1500, seed=8,
                           cost_overrides={"lock_kind": "tas"}, keep_ops=keep_ops))
    assert c.summary["mean_ns"] != a.summary["mean_ns"]     # the seed matters


def _nan_equal(x: dict, y: dict) -> bool:
    return x.keys() == y.keys() and all(
        (isinstance(v, float) and math.isnan(v) and math.isnan(y[k])) or v == y[k] for k, v in x.items())


def test_stats_only_mode_percentiles_within_stated_error() -> None:
    kw = dict(cpus=3, workload="_test_random", iterations=3000, seed=3)
    exact = simulate(make_spec("free-list", keep_ops=True, **kw)).summary
    approx = simulate(make_spec("free-list", keep_ops=False, **kw))
    assert len(approx.ops) == 0
    s = approx.summary
    assert s["ops"] == exact["ops"]
    for prefix in ("", "vmalloc_", "vfree_"):
        for q in ("p50_ns", "p90_ns", "p99_ns", "p999_ns"):
            assert s[prefix + q] == pytest.approx(exact[prefix + q], rel=REL_ERR), prefix + q
        assert s[prefix + "max_ns"] == exact[prefix + "max_ns"]
        assert s[prefix + "mean_ns"] == pytest.approx(exact[prefix + "mean_ns"], rel=1e-9)
    assert s["lock_wait_share"] == pytest.approx(exact["lock_wait_share"], rel=1e-9)


def test_enomem_after_purge_and_retry_logs_kernel_warning() -> None:
    # a 16-page vmalloc range: 1-page vmallocs take 2 pages with the guard -> 8 fit, 2 fail
    base = 0x10000000
    asp = AddressSpace(vstart=base, vend=base + 16 * PAGE, vmalloc_start=base,
                       vmalloc_end=base + 16 * PAGE)
    r = simulate(make_spec("augmented-tree", workload="_test_hold", params={"pages": 1, "count": 10},
                           iterations=None, address_space=asp))
    vm = r.ops[r.ops["op"] == "vmalloc"]
    assert vm["ok"].tolist() == [True] * 8 + [False] * 2
    assert r.summary["enomem"] == 2
    # each failure purged synchronously first (nothing lazy: no flush) and retried once
    assert vm["purge"].tolist() == [False] * 8 + [True] * 2
    assert r.summary["tlb_flushes"] == 0
    warning = "vmap allocation for size 8192 failed: use vmalloc=<size> to increase size"
    assert r.log == [warning, warning]


def test_lazily_freed_areas_stay_busy_until_purge() -> None:
    r = simulate(make_spec("busy-list", cpus=1, iterations=3000, sample_interval_ns=20_000))
    ts = r.timeseries
    assert (ts["busy_areas"] >= ts["lazy_areas"]).all()
    assert ts["lazy_areas"].max() > 0
    assert (ts["lazy_pages"] == 4 * ts["lazy_areas"]).all()
    assert ts["lazy_pages"].max() <= lazy_max_pages(1, PAGE) + 4
    frag = 1 - ts["largest_free_bytes"].astype(float) / ts["total_free_bytes"].astype(float)
    np.testing.assert_allclose(ts["fragmentation"], frag)
    assert ((ts["lock_utilisation"] >= 0) & (ts["lock_utilisation"] <= 1 + 1e-9)).all()
    t = ts["t_ns"].to_numpy()
    assert (t[:-1] % 20_000 == 0).all() and t[-1] == r.summary["sim_time_ns"]


def test_cond_resched_lock_breaks_the_purge_for_waiters() -> None:
    r = simulate(make_spec("augmented-tree", cpus=2, iterations=6000))
    ops = r.ops
    purge_hold = ops.loc[ops["purge"], "lock_hold_ns"]
    assert len(purge_hold) and purge_hold.min() > 50_000       # a purge holds the lock long
    # but nobody waits for a whole purge: the lock is dropped at the next area boundary
    assert ops.loc[~ops["purge"], "lock_wait_ns"].max() < 5_000


def test_one_caller_per_cpu_and_unknown_workload() -> None:
    two = (CallerSpec("_test_fix_size", 0), CallerSpec("_test_fix_size", 0, name="again"))
    with pytest.raises(ValueError, match="both on cpu 0"):
        make_spec(callers=two)
    with pytest.raises(ValueError, match="unknown workload"):
        simulate(make_spec(workload="no-such-workload"))
    with pytest.raises(ValueError, match="invalid params"):
        simulate(make_spec(params={"bogus": 1}))


def test_loop_time_from_measure_start_to_last_foreground_end() -> None:
    r = simulate(make_spec("augmented-tree", cpus=2, iterations=500))
    ops = r.ops
    end = (ops["t_ns"] + ops["latency_ns"]).max()
    assert r.summary["loop_time_ns"] == pytest.approx(end)   # measure_start at t = 0
    assert r.summary["ops"] == len(ops) == 2 * 2 * 500


def test_purge_starts_after_the_unmapping_and_before_the_page_frees(monkeypatch) -> None:
    # __vunmap: remove_vm_area unmaps the pages, then free_vmap_area_noflush may
    # purge; the pages are freed afterwards.  With 1 CPU the purging vfree's
    # lookup releases the lock at t_rel; the purge must start at t_rel + unmap.
    from simulator.kernels.linux_4_19 import Kernel as Engine   # the 4.19 paths
    unmap_ns, free_ns = 700.0, 3000.0          # far apart, so an order mix-up shows
    spec = make_spec("busy-list", cpus=1, iterations=2100,
                     cost_overrides={"unmap_page_ns": unmap_ns, "page_free_ns": free_ns})
    starts: list[float] = []
    real = Engine._Kernel__purge_vmap_area_lazy     # (Python mangles __purge_vmap_area_lazy)

    def probe(self, c):
        starts.append(self.env.now)
        return (yield from real(self, c))
    monkeypatch.setattr(Engine, "_Kernel__purge_vmap_area_lazy", probe)
    r = simulate(spec)
    assert len(starts) == r.summary["purges"] == 1
    vf = r.ops[(r.ops["op"] == "vfree") & r.ops["purge"]].iloc[0]
    # t_ns is the lookup's lock request (the lock is free on 1 CPU); the busy tree
    # then holds the 2,048 lazily freed areas and this one: 2,049 nodes
    from simulator.costmodel import CostModel
    m = CostModel(spec.cost, 1)
    t_rel = vf["t_ns"] + m.lock_acquire_ns + m.lookup_ns(2049) + m.lock_release_ns
    assert starts[0] == pytest.approx(t_rel + 3 * unmap_ns, abs=1e-6)
    # the page frees follow the purge: they end the vfree's latency
    assert vf["t_ns"] + vf["latency_ns"] > starts[0] + 3 * free_ns


def test_2019_priority_threshold_holds_the_lock_while_the_backlog_is_large() -> None:
    # 8 CPUs: while one CPU purges, the others skip the trylock and the lazy
    # backlog grows past 2 x lazy_max_pages.  With the 2019 rule the purge does
    # not drop the lock while the backlog stays that large, so waiters wait
    # longer; without it they get the lock at the next area boundary.
    def worst_wait(threshold: bool) -> float:
        r = simulate(make_spec("augmented-tree", cpus=8, iterations=6000,
                               purge_priority_threshold=threshold))
        o = r.ops
        return float(o.loc[~o["purge"], "lock_wait_ns"].max())
    assert worst_wait(True) > 4 * worst_wait(False)


def test_each_purge_pays_for_exactly_one_tlb_flush() -> None:
    # one CPU, decisions independent of timing: making the flush 1 ms dearer
    # must lengthen the run by exactly purges x 1 ms (one flush per purge)
    def run(extra_ns: float):
        cost = {"tlb_flush_fixed_ns": 3000.0 + extra_ns}
        return simulate(make_spec("free-list", cpus=1, iterations=10_000, cost_overrides=cost,
                                  sample_interval_ns=10**9)).summary
    base, dear = run(0.0), run(1e6)
    assert base["purges"] == dear["purges"] == 10_000 // 2049 == dear["tlb_flushes"]
    assert dear["sim_time_ns"] - base["sim_time_ns"] == pytest.approx(base["purges"] * 1e6, abs=1e-3)


def test_the_purge_frees_the_newest_lazy_area_first() -> None:
    # llist_add pushes at the head and llist_del_all hands the list over as it
    # is: __purge_vmap_area_lazy frees the most recent vfree first
    from simulator.allocators import create
    freed: list[int] = []

    def factory(spec):
        asp = spec.address_space
        a = create(spec.allocator, vstart=asp.vstart, vend=asp.vend, vmalloc_start=asp.vmalloc_start,
                   vmalloc_end=asp.vmalloc_end, page_size=asp.page_size, word_bits=asp.word_bits)
        real = a.free

        def free(addr):
            freed.append(addr)
            return real(addr)
        a.free = free
        return a
    r = simulate(make_spec("busy-list", cpus=1, iterations=2049 + 10), allocator_factory=factory)
    vf = r.ops[r.ops["op"] == "vfree"]["addr"].to_list()
    assert r.summary["purges"] == 1 and len(freed) == 2049
    assert freed == vf[:2049][::-1]


def test_seed_test2_prefill_is_reported_apart_from_the_loop() -> None:
    # setup_time_ns: the simulated time of the 300-area prefill, before measure_start
    spec = make_spec("busy-list", cpus=1, workload="seed-test2", params={"prefill": 300},
                     iterations=50)
    r = simulate(spec)
    ops, s = r.ops, r.summary
    pre = ops[~ops["measured"]]
    assert len(pre) == 300 and (pre["op"] == "vmalloc").all()
    assert s["setup_time_ns"] >= (pre["t_ns"] + pre["latency_ns"]).max()
    assert s["setup_time_ns"] <= ops.loc[ops["measured"], "t_ns"].min()
    assert s["loop_time_ns"] + s["setup_time_ns"] == pytest.approx(s["sim_time_ns"])


def test_a_vfree_puts_its_area_on_the_lazy_list_after_its_unmapping(monkeypatch) -> None:
    # 4 CPUs contending: every lazy_add happens at the end of its vfree's
    # unmapping (lookup's lock release + pages x unmap_page_ns), never earlier.
    # With 5 us of unmapping another CPU always acts in between, so the engine
    # cannot run ahead and env.now at the add is the add's own instant.
    from simulator.kernels.linux_4_19 import Kernel   # rfc-2018 runs the 4.19 paths
    added: list[tuple[float, int]] = []
    real_add = Kernel.free_vmap_area_noflush

    def lazy_add(self, addr, area_bytes):
        added.append((self.env.now, addr))
        return real_add(self, addr, area_bytes)
    monkeypatch.setattr(Kernel, "free_vmap_area_noflush", lazy_add)
    unmap_ns = 5000.0                          # long: other CPUs act in the meantime
    r = simulate(make_spec("free-list", cpus=4, iterations=300,
                           cost_overrides={"unmap_page_ns": unmap_ns}))
    vf = r.ops[r.ops["op"] == "vfree"].set_index("addr")
    assert len(added) == len(vf) == 4 * 300
    for t, addr in added[:200]:
        row = vf.loc[addr]
        row = row.iloc[0] if getattr(row, "ndim", 1) == 2 else row
        # the lookup's lock is released no later than request + wait + hold;
        # the area joins the lazy list no earlier than 3 pages of unmapping after
        assert t >= row["t_ns"] + 3 * unmap_ns
