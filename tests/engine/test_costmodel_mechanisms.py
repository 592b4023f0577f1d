"""Issue 11's priced mechanisms, each with distinct prices and on/off:
cache-line ownership (topology, LineOwners, a run that moves lines), deferred
RCU frees against kmem_cache reuse, page zeroing, per-level tree caching,
per-CPU clusters and the arch defaults a profile supplies.

Expected values are derived here from the profile's own numbers and the
kernel's rules (lazy_max_pages, guard page, __GFP_ZERO callers), never read
back from a run."""

from __future__ import annotations

import pytest

from simulator.allocators.base import Steps
from simulator.costmodel import CostModel, LineOwners, check_cost, steps_lines
from simulator.devices import load_device
from simulator.kconst import lazy_max_pages
from simulator.runner import simulate
from simulator.spec import CallerSpec

from .conftest import make_spec

OFF = {"line_transfer": False, "rcu_free": False, "zero_pages": False, "level_cache": False}


def model(device: str, cpus: int | None = None, **over) -> CostModel:
    d = load_device(device, over or None)
    return CostModel(d["cost"], cpus or d["cpus"])


# -- topology and line transfers ------------------------------------------------
def test_line_price_follows_the_topology() -> None:
    lap = load_device("x86-laptop")["cost"]
    m = model("x86-laptop")
    # 2 cores x 2 threads, Linux numbering: cpu i and i + 2 are SMT siblings
    assert m.line_ns(0, 0) == 0.0
    assert m.line_ns(0, 2) == lap["line_same_core_ns"]
    assert m.line_ns(0, 1) == m.line_ns(1, 2) == lap["line_same_cluster_ns"]
    zen = load_device("x86-zen2-32c")["cost"]
    z = model("x86-zen2-32c")
    assert z.line_ns(0, 3) == zen["line_same_cluster_ns"]            # one CCX: cores 0-3
    assert z.line_ns(3, 4) == z.line_ns(0, 31) == zen["line_cross_cluster_ns"]
    assert zen["line_cross_cluster_ns"] > 3 * zen["line_same_cluster_ns"]
    ph = load_device("arm64-biglittle")["cost"]
    p = model("arm64-biglittle")
    assert p.line_ns(0, 3) == ph["line_same_cluster_ns"] and p.line_ns(4, 7) == ph["line_same_cluster_ns"]
    assert p.line_ns(3, 4) == ph["line_cross_cluster_ns"]
    # sockets: 2 clusters of 2 cores per socket
    two = dict(zen, cores_per_cluster=2, clusters_per_socket=2, line_cross_socket_ns=300.0)
    t = CostModel(two, 8)
    assert (t.line_ns(0, 1), t.line_ns(0, 2), t.line_ns(0, 4)) == (
        zen["line_same_cluster_ns"], zen["line_cross_cluster_ns"], 300.0)


def test_line_owners_move_the_dirty_lines_the_next_holder_touches() -> None:
    m = model("x86-zen2-32c")
    x = m.line_ns(0, 4)                 # across CCX
    own = LineOwners(m)
    assert own.section("L", 0, touched=10, written=6) == 0.0        # first holder: nothing to fetch
    assert own.section("L", 0, touched=10, written=3) == 0.0        # same CPU: its own lines
    # CPU 4 touches 20 lines; CPU 0 left 6 + 3 dirty: 9 move, + the lock word (uncontended)
    assert own.section("L", 4, touched=20, written=2) == pytest.approx(10 * x)
    # back to CPU 0 through a handoff (the lock word is the handoff's): min(5, 2) lines
    assert own.section("L", 0, touched=5, written=0, contended=True) == pytest.approx(2 * x)
    # a read-only section leaves nothing dirty: the next holder moves only the lock word
    assert own.section("L", 4, touched=30, written=0) == pytest.approx(x)
    # an atomic (vmap_lazy_nr): one line whenever another CPU wrote it last
    assert own.line("nr", 0) == 0.0 and own.line("nr", 0) == 0.0
    assert own.line("nr", 1) == pytest.approx(m.line_ns(0, 1))
    off = LineOwners(model("x86-zen2-32c", line_transfer=False))
    off.section("L", 0, 10, 10)
    assert off.section("L", 4, 10, 10) == 0.0 and off.line("nr", 5) == 0.0


def test_steps_lines_counts_reads_and_writes() -> None:
    s = Steps()
    s.tree_nodes, s.list_nodes, s.tree_inserts, s.tree_erases = 12, 3, 1, 1
    s.augment_updates, s.merges, s.objects_freed, s.fit = 4, 1, 1, "LE"
    touched, written = steps_lines(s)
    assert written == 2 * 1 + 3 * 1 + 4 + 2 * 1 + 1 + 1
    assert touched == 12 + 3 + written + 1


def _two_cpu_loop(gen: str, cpus: tuple[int, int], on: bool) -> dict:
    callers = tuple(CallerSpec("fix_size_alloc_test", cpu=c, params={"nr_pages": 1}) for c in cpus)
    spec = make_spec(gen, device="x86-zen2-32c", cpus=8, callers=callers, iterations=2000,
                     cost_overrides={**OFF, "line_transfer": on})
    return simulate(spec).summary


@pytest.mark.parametrize("gen", ["linux-4.19", "linux-6.1"])
def test_ownership_transfer_is_charged_and_priced_by_distance(gen: str) -> None:
    # fails when the transfer is not charged: then on == off for both pairs
    def extra(pair: tuple[int, int]) -> float:
        on, off = _two_cpu_loop(gen, pair, True), _two_cpu_loop(gen, pair, False)
        return on["loop_time_ns"] - off["loop_time_ns"]
    same, cross = extra((0, 1)), extra((0, 4))
    cost = load_device("x86-zen2-32c")["cost"]
    assert same > 0
    # the same sections move the same lines; only the price per line differs
    # (25 vs 110 ns): the cross-CCX cost is clearly larger (interleavings shift a little)
    assert cross > 2 * same, (same, cross, cost["line_cross_cluster_ns"])


def test_one_cpu_moves_no_line() -> None:
    callers = (CallerSpec("fix_size_alloc_test", cpu=0, params={"nr_pages": 1}),)
    on = make_spec("linux-6.1", device="x86-zen2-32c", cpus=4, callers=callers, iterations=3000,
                   cost_overrides={**OFF, "line_transfer": True})
    off = make_spec("linux-6.1", device="x86-zen2-32c", cpus=4, callers=callers, iterations=3000,
                    cost_overrides=OFF)
    assert simulate(on).summary["loop_time_ns"] == simulate(off).summary["loop_time_ns"]


# -- deferred RCU frees (4.x) against kmem_cache (5.2+) -----------------------------
def test_rcu_prices() -> None:
    c = load_device("x86-laptop")["cost"]
    m = model("x86-laptop")
    assert m.rcu_defer_ns(3) == pytest.approx(3 * (c["call_rcu_ns"] - c["kfree_ns"]))
    n_fit = m.cache_nodes                       # a burst whose objects still fit: hot
    assert m.rcu_burst_ns(n_fit) == pytest.approx(
        n_fit * (c["rcu_callback_ns"] + c["kfree_ns"] + c["node_hot_ns"]))
    big = n_fit + 1
    assert m.rcu_burst_ns(big) == pytest.approx(
        big * (c["rcu_callback_ns"] + c["kfree_ns"] + c["node_cold_ns"]))
    off = model("x86-laptop", rcu_free=False)
    assert off.rcu_defer_ns(3) == 0.0 and off.rcu_burst_ns(100) == 0.0


def _one_cpu(gen: str, over: dict, iterations: int = 5000, workload: str = "fix_size_alloc_test",
             params: dict | None = None, device: str = "x86-laptop", cpu: int = 0, cpus: int = 1) -> dict:
    callers = (CallerSpec(workload, cpu=cpu, params=params or {"nr_pages": 3}),)
    return simulate(make_spec(gen, device=device, cpus=cpus, callers=callers, iterations=iterations,
                              cost_overrides=over)).summary


def test_kfree_rcu_costs_4_19_its_callbacks_and_kmem_cache_costs_5_2_nothing_more() -> None:
    c = load_device("x86-laptop")["cost"]
    off = _one_cpu("linux-4.19", OFF)
    on = _one_cpu("linux-4.19", {**OFF, "rcu_free": True})
    assert on["purges"] == off["purges"] > 0
    # 3 pages + guard = 4 pages per area; a purge starts when vmap_lazy_nr exceeds
    # lazy_max_pages(1 CPU) and frees every lazy area: lazy_max / 4 + 1 of them, one
    # kfree_rcu each (a burst of that size: fits the 4 MiB L3 -> hot)
    per_purge = lazy_max_pages(1, 4096) // 4 + 1
    freed = on["purges"] * per_purge
    assert per_purge * c["vmap_area_bytes"] <= c["cache_bytes"]
    per_object = c["call_rcu_ns"] - c["kfree_ns"] + c["rcu_callback_ns"] + c["kfree_ns"] + c["node_hot_ns"]
    assert on["loop_time_ns"] - off["loop_time_ns"] == pytest.approx(freed * per_object, rel=1e-9)
    # 5.2: vmap_area_cachep, merged objects kmem_cache_free'd at once: priced as before
    assert (_one_cpu("linux-5.2", {**OFF, "rcu_free": True})["loop_time_ns"]
            == _one_cpu("linux-5.2", OFF)["loop_time_ns"])


# -- page zeroing -----------------------------------------------------------------
def test_gfp_zero_cases_pay_clear_page_per_page_and_others_do_not() -> None:
    c = load_device("x86-laptop")["cost"]
    n = 2000
    on = _one_cpu("linux-5.2", {**OFF, "zero_pages": True}, n, "fix_align_alloc_test", {})
    off = _one_cpu("linux-5.2", OFF, n, "fix_align_alloc_test", {})
    # fix_align_alloc_test: 5 pages, GFP_KERNEL | __GFP_ZERO
    assert on["loop_time_ns"] - off["loop_time_ns"] == pytest.approx(n * 5 * c["clear_page_ns"], rel=1e-9)
    # fix_size_alloc_test: plain vmalloc, no zeroing
    assert (_one_cpu("linux-5.2", {**OFF, "zero_pages": True}, n)["loop_time_ns"]
            == _one_cpu("linux-5.2", OFF, n)["loop_time_ns"])


# -- per-level tree caching ---------------------------------------------------------
def test_per_level_caching_prices_each_level_of_a_descent() -> None:
    base = dict(load_device("x86-laptop")["cost"], vmap_area_bytes=64, cache_bytes=64 * 7,
                node_hot_ns=2.0, node_cold_ns=100.0)
    on = CostModel(dict(base, level_cache=True), 4)
    off = CostModel(dict(base, level_cache=False), 4)
    assert on.cache_nodes == 7 and on.hot_levels == 3          # levels 0..2: 1 + 2 + 4 nodes
    # a tree of 100 nodes has depth 7: 3 levels hit, 4 miss
    assert on.lookup_ns(100) == pytest.approx(3 * 2.0 + 4 * 100.0)
    assert off.lookup_ns(100) == pytest.approx(7 * 100.0)
    assert on.lookup_ns(7) == off.lookup_ns(7) == pytest.approx(3 * 2.0)   # fits: all hot
    s = Steps()
    s.tree_nodes, s.list_nodes = 14, 5                  # two descents + a list walk of busy areas
    assert on.steps_ns(s, 100) == pytest.approx(14 * (3 * 2.0 + 4 * 100.0) / 7 + 5 * 100.0)
    assert off.steps_ns(s, 100) == pytest.approx(19 * 100.0)
    s = Steps()                                          # free-tree nodes priced by the free tree
    s.tree_nodes, s.free_nodes = 10, 7
    assert on.steps_ns(s, 3, 100) == pytest.approx(3 * 2.0 + 7 * (3 * 2.0 + 4 * 100.0) / 7)


# -- clusters (per-CPU speed) ---------------------------------------------------------
def test_clusters_scale_cpu_bound_prices_and_keep_memory_prices() -> None:
    d = load_device("arm64-biglittle")["cost"]
    little, big = d["clusters"]
    pc = CostModel(d, 8).per_cpu()
    assert pc[0] is pc[3] and pc[4] is pc[7] and pc[0] is not pc[4]
    for k in ("kmalloc_ns", "rb_insert_ns", "node_hot_ns", "map_page_ns"):
        assert getattr(pc[0], k if k != "map_page_ns" else "vmalloc_page_ns") == pytest.approx(
            (d[k] if k != "map_page_ns" else d["map_page_ns"] + d["page_alloc_ns"]) * little["time_scale"])
    assert pc[4].kmalloc_ns == d["kmalloc_ns"]
    assert pc[0].node_cold_ns == little["node_cold_ns"] and pc[4].node_cold_ns == d["node_cold_ns"]
    assert pc[0].cache_nodes == little["cache_bytes"] // d["vmap_area_bytes"]
    assert pc[0].lock_handoff_ns == d["lock_handoff_ns"]          # not clock bound
    assert pc[0].zero_page_ns == little["clear_page_ns"]


def test_a_little_core_runs_the_same_loop_slower() -> None:
    kw = dict(iterations=2000, device="arm64-biglittle", cpus=8)
    little = _one_cpu("linux-5.2", {}, cpu=0, **kw)["loop_time_ns"]
    big = _one_cpu("linux-5.2", {}, cpu=4, **kw)["loop_time_ns"]
    assert little > 1.5 * big


def test_clusters_are_checked() -> None:
    base = dict(load_device("x86-laptop")["cost"])
    with pytest.raises(ValueError, match=r"clusters\[1\].cpus: CPU 3 is in two clusters"):
        check_cost(dict(base, clusters=[{"cpus": "0-3", "time_scale": 1}, {"cpus": [3], "time_scale": 2}]))
    with pytest.raises(ValueError, match=r"clusters\[0\].speed: unknown key"):
        check_cost(dict(base, clusters=[{"cpus": "0", "time_scale": 1, "speed": 2}]))
    with pytest.raises(ValueError, match=r"time_scale: expected a number"):
        check_cost(dict(base, clusters=[{"cpus": "0", "time_scale": 0}]))
    with pytest.raises(ValueError, match=r"line_transfer: expected true or false"):
        check_cost(dict(base, line_transfer="yes"))


def test_a_profile_without_the_new_keys_runs_with_them_off() -> None:
    from simulator.costmodel import DEFAULTS
    old = {k: v for k, v in load_device("qemu-x86")["cost"].items() if k not in DEFAULTS}
    c = check_cost(old)
    assert not (c["line_transfer"] or c["rcu_free"] or c["zero_pages"] or c["level_cache"])


# -- arch defaults from the profile -------------------------------------------------------
@pytest.mark.parametrize("device,align", [("embedded-arm64", 2 * 32768), ("x86-laptop", 2 * 16384),
                                          ("embedded-arm32", 2 * 8192)])
def test_fix_align_uses_the_profiles_thread_align(device: str, align: int) -> None:
    d = load_device(device)
    callers = (CallerSpec("fix_align_alloc_test", cpu=0, params={}),)
    spec = make_spec("linux-5.2", device=device, cpus=1, callers=callers, iterations=20)
    ops = simulate(spec).ops
    got = set(ops.loc[ops["op"] == "vmalloc", "align"])
    # arm64 with VMAP_STACK: THREAD_ALIGN = 2 * THREAD_SIZE; x86_64 and arm32: THREAD_SIZE
    assert got == {align} and align == 2 * d["cost"]["thread_align_bytes"]
