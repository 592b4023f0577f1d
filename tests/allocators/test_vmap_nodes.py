"""vmap-nodes (Linux 6.9): sizing, pools, lazy trees, the purge, and the
differential property test against the literal model in ref_vmap_nodes.py.

Expected values in the targeted tests are derived by hand from the 6.9 text
quoted in docs/kernels/linux-6.9.md (the derivation is in each comment).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ref_vmap_nodes import RefVmapNodes
from strategies import PAGE, profile_settings, resolve_alloc_from, scenarios

from simulator.allocators.base import InvariantError, NonexistentAreaError, make_range
from simulator.allocators.vmap_nodes import (
    GlobalFreeTree,
    VmapNodesAllocator,
    lazy_max_pages,
    nr_vmap_nodes_for,
)

MiB = 1 << 20
BASE = 0xffffc90000000000          # x86_64 VMALLOC_START: a multiple of 64 KiB, node 0
ZONE = 16 * PAGE


def mk(nr_cpus: int, npages: int = 4096, lazy_max: int | None = None, busy=(), word_bits: int = 64,
       base: int = BASE) -> VmapNodesAllocator:
    rng = make_range(base, base + npages * PAGE, word_bits=word_bits)
    return VmapNodesAllocator(rng, list(busy), nr_cpus=nr_cpus, lazy_max=lazy_max)


# ------------------------------------------------------------------ sizing
@pytest.mark.parametrize("cpus, nodes", [(1, 1), (2, 2), (4, 4), (8, 8), (32, 32), (64, 64), (200, 128)])
def test_nr_vmap_nodes(cpus, nodes):
    # clamp_t(unsigned int, num_possible_cpus(), 1, 128) on 64-bit
    assert nr_vmap_nodes_for(cpus, 64) == nodes
    assert nr_vmap_nodes_for(cpus, 32) == 1          # #if BITS_PER_LONG == 64 only
    a = mk(cpus)
    assert a.nr_vmap_nodes == nodes
    assert a.vmap_zone_size == (ZONE if nodes > 1 else 1)   # 16 pages, else left at 1


def test_lazy_max_pages():
    # fls(num_online_cpus()) * 32 MiB / 4 KiB = fls(n) * 8192
    assert [lazy_max_pages(n) for n in (1, 2, 3, 4, 5, 8, 9)] == [
        8192, 16384, 16384, 24576, 24576, 32768, 32768]


def test_addr_to_node_id_stripes_zones():
    a = mk(4)
    # (addr / 64 KiB) % 4 with BASE a multiple of 4 zones
    assert [a.addr_to_node_id(BASE + k * ZONE) for k in range(6)] == [0, 1, 2, 3, 0, 1]
    assert a.addr_to_node_id(BASE + ZONE - PAGE) == 0 and a.addr_to_node_id(BASE + ZONE) == 1
    assert a.lookup_order(BASE + 2 * ZONE) == [2, 3, 0, 1]            # 6.9: forward from the node
    assert mk(1).addr_to_node_id(BASE + 5 * ZONE) == 0


def test_vn_id_encoding():
    a = mk(4)
    assert [a.encode_vn_id(i) for i in range(4)] == [0x100, 0x200, 0x300, 0x400]
    assert a.encode_vn_id(4) == 0                       # invalid: "no node"
    assert a.decode_vn_id(0x300) == 2 and a.decode_vn_id(0) == 4      # none: nr_vmap_nodes


# ------------------------------------------------------------------ pools
def test_pool_refill_and_hit():
    a = mk(4)
    r = a.alloc_vmap_area(2 * PAGE, cpu=5)              # node 5 % 4 = 1, pool empty: no lock
    assert r.addr == BASE and r.vn_id == 0x200 and not r.pool_hit
    assert (r.ns.node_id, r.ns.pool_lookups) == (1, 0)
    assert r.steps.tree_inserts >= 1                    # the free tree and the busy tree of node 0
    a.free_lazy(r.addr)
    # the area was allocated by node 1, so it is lazy in node 1, not in node 0 (its address's)
    assert a.lazy_areas() == [(BASE, BASE + 2 * PAGE)] and a._lazy[1] and not a._lazy[0]
    assert a.vmap_lazy_nr == 2
    p = a.purge()
    # node 1 marked; vmap_lazy_nr 2 / 24576 = 0 -> clamp(0, 1, 1) - 1 = 0 helpers
    assert (p.start, p.end, p.marked, p.helpers, p.nr_purged) == (BASE, BASE + 2 * PAGE, [1], [], 1)
    # carries node 1, not a full decay, 2 pages <= 256: into pool[1] of node 1, nothing reclaimed
    assert a.pooled_areas(1) == {1: [(BASE, BASE + 2 * PAGE)]} and p.ns.pool_adds == 1 and p.ns.reclaimed == 0
    assert a.vmap_lazy_nr == 0
    a.check()
    free_before = a.free_blocks()
    miss = a.alloc_vmap_area(2 * PAGE, cpu=2)           # node 2's pool is empty: free tree
    assert not miss.pool_hit and miss.addr != BASE and miss.ns.pool_lookups == 0
    hit = a.alloc_vmap_area(2 * PAGE, cpu=1)            # node 1's pool[1]: hit, no free tree
    assert hit.pool_hit and hit.addr == BASE and hit.vn_id == 0x200
    assert hit.steps.free_nodes == 0 and hit.steps.fit is None
    assert (hit.ns.pool_lookups, hit.ns.pool_hits) == (1, 1)
    # busy insert into node 0 (BASE's node), which holds the other area: tree_depth(1) = 1
    assert hit.steps.as_dict()["tree_nodes"] == 1 and hit.steps.tree_inserts == 1
    assert a.nr_pooled == 0 and len(a.free_blocks()) == len(free_before)
    a.check()


def test_ineligible_requests_bypass_pools():
    a = mk(4)
    # a sub-range (vstart != VMALLOC_START): vn_id 0, never pooled
    r = a.alloc_vmap_area(PAGE, 1, BASE + ZONE, BASE + 100 * PAGE, cpu=1)
    assert r.vn_id == 0 and r.ns.node_id is None
    a.free_lazy(r.addr)
    assert a._lazy[a.addr_to_node_id(r.addr)]           # lazy in the node of its address (1)
    p = a.purge()
    assert p.ns.pool_adds == 0 and p.ns.reclaimed == 1 and a.nr_pooled == 0
    one = mk(1)                                          # one node: node_alloc falls back
    r = one.alloc_vmap_area(PAGE, cpu=3)
    assert r.vn_id == 0
    one.free_lazy(r.addr)
    one.purge()
    assert one.nr_pooled == 0
    a.check()
    one.check()


def test_large_areas_are_not_pooled():
    a = mk(2)
    big = a.alloc_vmap_area(257 * PAGE, cpu=0)          # idx 256 >= MAX_VA_SIZE_PAGES
    edge = a.alloc_vmap_area(256 * PAGE, cpu=0)         # idx 255: poolable
    a.free_lazy(big.addr)
    a.free_lazy(edge.addr)
    p = a.purge()
    assert a.pooled_areas(0) == {255: [(edge.addr, edge.addr + 256 * PAGE)]}
    assert p.ns.pool_adds == 1 and p.ns.reclaimed == 1
    a.check()


def test_misaligned_pool_head_rotates():
    a = mk(2)
    rs = [a.alloc_vmap_area(PAGE, cpu=0).addr for _ in range(3)]   # BASE, +1, +2 pages
    for addr in rs:
        a.free_lazy(addr)
    a.purge()
    # purge_vmap_node walks ascending and list_adds at the head: head = highest address
    assert a.pooled_areas(0) == {0: [(BASE + 2 * PAGE, BASE + 3 * PAGE), (BASE + PAGE, BASE + 2 * PAGE),
                                     (BASE, BASE + PAGE)]}
    r = a.alloc_vmap_area(PAGE, 2 * PAGE, cpu=0)        # head BASE+2P is 8 KiB aligned: hit
    assert r.pool_hit and r.addr == BASE + 2 * PAGE
    r = a.alloc_vmap_area(PAGE, 2 * PAGE, cpu=0)        # head BASE+P misaligned: moved to the tail
    assert not r.pool_hit and (r.ns.pool_lookups, r.ns.pool_rotations) == (1, 1)
    assert a.pooled_areas(0) == {0: [(BASE, BASE + PAGE), (BASE + PAGE, BASE + 2 * PAGE)]}
    a.check()


def _fill_pool(a: VmapNodesAllocator, n: int, pages: int = 1, cpu: int = 0) -> list[int]:
    addrs = [a.alloc_vmap_area(pages * PAGE, cpu=cpu).addr for _ in range(n)]
    for addr in addrs:
        a.free_lazy(addr)
    a.purge()
    return addrs


@pytest.mark.parametrize("n, kept", [(1, 0), (2, 0), (3, 0), (4, 3), (7, 6), (8, 6), (12, 9)])
def test_decay_share(n, kept):
    a = mk(2)
    addrs = _fill_pool(a, n, pages=1)                   # pool[0] of node 0, head = highest address
    assert len(a.pooled_areas(0)[0]) == n
    blocks, steps, ns = a.decay_va_pool_node(0, False)
    # len >> 2 from the head when len >= 4; 1..3: "if (!--n_decay) break;" wraps 0 -> all
    assert ns.pool_decayed == n - kept
    assert ns.pool_detaches == (2 if kept else 1)       # detach, and re-attach when some are left
    left = a.pooled_areas(0).get(0, [])
    assert left == [(s, s + PAGE) for s in sorted(addrs, reverse=True)[n - kept:]]
    # the decayed areas were adjacent: the local decay tree coalesced them into one block
    taken = sorted(addrs, reverse=True)[:n - kept]
    assert blocks == [(min(taken), max(taken) + PAGE)]
    assert steps.merges == n - kept - 1 and steps.tree_inserts == 1
    a.reclaim_list_global(blocks)
    a.check()


def test_full_decay_and_skip_populate_on_alloc_failure():
    a = mk(2, npages=64)                                 # a 64-page range: easy to fill
    _fill_pool(a, 8, pages=1, cpu=1)                     # node 1 holds 8 pooled pages
    assert a.nr_pooled == 8
    fill = a.alloc_vmap_area(56 * PAGE, cpu=0)           # the rest of the range
    assert fill.addr is not None
    keep = a.alloc_vmap_area(PAGE, cpu=1)                # a pool hit on node 1 (7 left)
    assert keep.pool_hit
    a.free_lazy(keep.addr)                                     # lazy in node 1
    r = a.alloc_vmap_area(4 * PAGE, cpu=0)               # pool[3] empty, free tree full: overflow
    # reclaim_and_purge_vmap_areas: full decay (7 pooled pages go back) and skip_populate:
    # the lazy page goes to the free tree, not to the pool; then the retry fits
    assert r.purge is not None and r.addr is not None
    assert r.purge.ns.pool_decayed == 7 and r.purge.ns.pool_adds == 0 and r.purge.nr_purged == 1
    assert a.nr_pooled == 0 and a.skip_populate == [True, True]
    a.check()


def test_purge_helpers():
    a = mk(4, lazy_max=4)
    addrs = [a.alloc_vmap_area(PAGE, cpu=c).addr for c in (0, 1, 2, 3)]
    for addr in addrs[:3]:
        a.free_lazy(addr)                                      # 3 pages lazy, not over 4
    assert a.vmap_lazy_nr == 3 and a.nr_lazy == 3
    _, p = a.vfree(addrs[3])
    # 4 > 4 is false: no drain yet
    assert p is None
    more = [a.alloc_vmap_area(2 * PAGE, cpu=c).addr for c in (0, 1, 2)]
    for addr in more[:2]:
        a.free_lazy(addr)                                      # lazy 8 pages
    _, p = a.vfree(more[2])                           # 10 > 4: drain
    # marked nodes 0..3; helpers = clamp(10 / 4 = 2, 1, 4) - 1 = 1: the lowest marked node
    assert p is not None and p.marked == [0, 1, 2, 3] and p.helpers == [0] and p.nr_purged == 7
    assert a.vmap_lazy_nr == 0 and a.nr_lazy == 0
    a.check()


def test_find_unlink_tries_nodes_forward():
    a = mk(4)
    r = a.alloc_vmap_area(PAGE, 1, BASE + 2 * ZONE, BASE + 3 * ZONE, cpu=0)   # node 2
    node, size, steps = a.find_unlink_vmap_area(BASE + 2 * ZONE)
    assert (node, size) == (2, PAGE) and steps.tree_nodes == 1 and steps.tree_erases == 1
    a.free_vmap_area_noflush(r.addr, PAGE)
    # nothing there: every busy tree is searched (all empty: depth 0), nothing changes
    assert a.find_unlink_vmap_area(BASE + 2 * ZONE) == (None, None, steps.__class__())
    with pytest.raises(NonexistentAreaError):
        a.free_lazy(BASE)
    a.check()


def test_global_free_tree_takes_back_coalesced_blocks():
    rng = make_range(BASE, BASE + 64 * PAGE)
    t = GlobalFreeTree(rng, [])
    x = t.alloc(PAGE).addr
    y = t.alloc(PAGE).addr
    assert y == x + PAGE
    t.merge_free(x, y + PAGE)                             # one block tiled by two taken areas
    t.check()
    with pytest.raises(InvariantError):
        t.merge_free(x, x + PAGE)                         # no longer taken


# --------------------------------------------------- differential property
@st.composite
def vn_scenarios(draw):
    layout, ops = draw(scenarios("augmented-tree", max_ops=50))
    nr_cpus = draw(st.sampled_from([1, 2, 3, 4, 8, 64]))
    lazy_max = draw(st.sampled_from([None, 1, 3, 16, 64]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return layout, ops, nr_cpus, lazy_max, seed


def asdict(ns) -> dict:
    """NodeSteps as a dict (cheaper than dataclasses.asdict)."""
    return dict(vars(ns))


def _purge_tuple(p):
    if p is None:
        return None
    ns = asdict(p.ns)
    ns.pop("node_id")
    return (p.start, p.end, p.marked, p.helpers, p.nr_purged, p.steps.as_dict(), ns)


def _ref_purge_tuple(ref, entry):
    if entry is None:
        return None
    _, start, end, marked, helpers, nr = entry
    steps, ns = ref._last_purge
    ns = asdict(ns)
    ns.pop("node_id")
    return (start, end, marked, helpers, nr, steps.as_dict(), ns)


@pytest.mark.slow            # 2,000 hypothesis sequences (vmsim-ci): 20-40 s on 2 cores
@profile_settings()
@given(vn_scenarios())
def test_lockstep_with_reference(scenario):
    layout, ops, nr_cpus, lazy_max, seed = scenario
    rnd = random.Random(seed)
    rng = make_range(*layout.range_args())
    fast = VmapNodesAllocator(rng, list(layout.initial_busy), nr_cpus=nr_cpus, lazy_max=lazy_max)
    ref = RefVmapNodes(rng, list(layout.initial_busy), nr_cpus, lazy_max)
    live: list[int] = []
    # one or two CPUs per sequence, so that a CPU's node finds what its purges pooled
    cpus = rnd.sample(range(nr_cpus), min(nr_cpus, rnd.choice((1, 2))))
    p_purge = rnd.choice((0.0, 0.05, 0.2))              # explicit drains between ops
    for n, op in enumerate(ops):
        where = f"op {n} {op!r}"
        if rnd.random() < p_purge:
            pf = fast.purge(False)
            ref.drain_vmap_area_work()
            assert _purge_tuple(pf) == _ref_purge_tuple(ref, ref.trace[-1]), f"{where}: purge"
        cpu = rnd.choice(cpus)
        op = resolve_alloc_from(op, live, fast.busy_areas(), layout)   # (was taken for a free)
        if op is None:
            continue
        if op[0] == "alloc" and nr_cpus > 1 and rnd.random() < 0.1:
            # now and then ask a CPU's own pool for one of its sizes with a larger align
            # (the head may be misaligned: list_move_tail)
            pooled = fast.pooled_areas(cpu % fast.nr_vmap_nodes)
            if pooled:
                idx = rnd.choice(list(pooled))
                op = ("alloc", (idx + 1) * PAGE, rnd.choice((2, 4, 16)) * PAGE, None, None)
        if op[0] == "alloc":
            _, size, align, vs, ve = op
            rf = fast.alloc_vmap_area(size, align, vs, ve, cpu)
            rr = ref.alloc_vmap_area(size, align, vs, ve, cpu)
            assert (rf.addr, rf.vn_id, rf.pool_hit) == (rr["addr"], rr["vn_id"], rr["hit"]), where
            assert rf.steps == rr["steps"], f"{where}: {rf.steps!r} != {rr['steps']!r}"
            assert asdict(rf.ns) == asdict(rr["ns"]), f"{where}: {rf.ns!r} != {rr['ns']!r}"
            assert _purge_tuple(rf.purge) == _ref_purge_tuple(ref, rr["purge"]), f"{where}: overflow purge"
            if rf.addr is not None:
                live.append(rf.addr)
        elif live:
            addr = live.pop(op[1] % len(live))
            sf, pf = fast.vfree(addr)
            rr = ref.vfree(addr)
            assert sf == rr["steps"], f"{where}: {sf!r} != {rr['steps']!r}"
            assert _purge_tuple(pf) == _ref_purge_tuple(ref, rr["purge"]), f"{where}: drain"
    fast.check()
    assert fast.busy_areas() == ref.busy_areas()
    assert fast.lazy_areas() == ref.lazy_areas()
    for node in range(fast.nr_vmap_nodes):
        assert fast.pooled_areas(node) == ref.pooled_areas(node), f"pools of node {node}"
    assert fast.free_blocks() == ref.free_tree.free_blocks()
    assert fast.vmap_lazy_nr == ref.vmap_lazy_nr
    assert fast.nr_purged == [vn.nr_purged for vn in ref.vmap_nodes]
    assert fast.skip_populate == [vn.skip_populate for vn in ref.vmap_nodes]
    assert fast.nr_busy == len(ref.busy_areas()) and fast.nr_lazy == len(ref.lazy_areas())


def test_compat_free_goes_straight_to_the_free_tree():
    a = mk(4)
    r = a.alloc_vmap_area(PAGE, cpu=1)
    # the free tree covered [1, ULONG_MAX): the area split it (NE) into two blocks
    assert r.steps.fit == "NE" and len(a.free_blocks()) == 2
    steps = a.free(r.addr)
    # free_vmap_area(): busy unlink (node 0's tree of 1: depth 1), then the merge
    # with both neighbours (2 merges) back to one block; nothing lazy or pooled
    assert steps.tree_erases >= 1 and steps.merges == 2
    assert a.free_blocks() == [(1, (1 << 64) - 1)]
    assert a.nr_lazy == 0 and a.nr_pooled == 0 and a.vmap_lazy_nr == 0
    a.check()


def test_node_steps_add_sums_every_counter() -> None:
    # NodeSteps.add is written out (a hot path): every dataclass field but
    # node_id is summed; node_id is the added part's when it has one
    from dataclasses import fields

    from simulator.allocators.vmap_node_parts import NodeSteps
    names = [f.name for f in fields(NodeSteps) if f.name != "node_id"]
    a, b = NodeSteps(node_id=3), NodeSteps(node_id=None)
    for k, n in enumerate(names):
        setattr(a, n, 1000 * (k + 1))
        setattr(b, n, k + 1)
    assert a.add(b) is a
    assert {n: getattr(a, n) for n in names} == {n: 1001 * (k + 1) for k, n in enumerate(names)}
    assert a.node_id == 3
    assert a.add(NodeSteps(node_id=7)).node_id == 7
