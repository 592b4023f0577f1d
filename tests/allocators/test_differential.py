"""Fast policies vs the literal reference models, op by op.

For each policy, random op sequences (``strategies.scenarios``) run on the
fast policy (built with ``create``) and on its reference model in lockstep:
identical addresses, identical failures (None), identical Steps (every
field), identical ``busy_areas()`` / ``free_blocks()``, and the fast
``check()`` after every operation.  The hypothesis profile ``vmsim-ci``
(strategies.py) runs 2,000 derandomized sequences per policy.

The targeted examples below carry expected values derived by hand from the
kernel code (the derivation is in the comments), and run on both models.
"""

from __future__ import annotations

import importlib

import pytest
from hypothesis import given

from simulator.allocators import create
from simulator.allocators.base import Steps, make_range, tree_depth
from simulator.allocators.free_list import RfcFreeListCorruption

from ref_busy_list import RefBusyList
from ref_free_list import RefFreeList
from strategies import PAGE, Layout, Op, profile_settings, resolve_alloc_from, scenarios


def _ref_augmented_tree() -> type:
    try:
        return importlib.import_module("ref_augmented_tree").RefAugmentedTree
    except ImportError as exc:  # pragma: no cover - written by another engineer
        pytest.fail(f"tests/allocators/ref_augmented_tree.py is missing: {exc}")


REFS = {
    "busy-list": lambda: RefBusyList,
    "free-list": lambda: RefFreeList,
    "augmented-tree": _ref_augmented_tree,
}


def make_pair(policy: str, layout: Layout):
    fast = create(policy, **layout.create_kwargs())
    ref = REFS[policy]()(make_range(*layout.range_args()), list(layout.initial_busy))
    return fast, ref


def assert_same_state(fast, ref, where: str) -> None:
    fast.check()
    assert list(fast.busy_areas()) == list(ref.busy_areas()), f"{where}: busy areas differ"
    assert list(fast.free_blocks()) == list(ref.free_blocks()), f"{where}: free blocks differ"
    assert fast.nr_busy == len(ref.busy_areas()), f"{where}: nr_busy"
    # The metrics read-outs: free blocks clipped to [VMALLOC_START, VMALLOC_END).
    rng = ref.rng
    vm = [(max(s, rng.vmalloc_start), min(e, rng.vmalloc_end)) for s, e in ref.free_blocks()]
    vm = [e - s for s, e in vm if e > s]
    assert (fast.nr_free_blocks, fast.largest_free_bytes(), fast.total_free_bytes()) == (
        len(vm), max(vm, default=0), sum(vm)), f"{where}: read-outs"


def _both(where: str, fast_call, ref_call):
    """Run both calls; both must raise RfcFreeListCorruption or neither.
    Returns (fast result, ref result), or None when both raised."""
    out = []
    for call in (fast_call, ref_call):
        try:
            out.append(call())
        except RfcFreeListCorruption:
            out.append(RfcFreeListCorruption)
    if RfcFreeListCorruption in out:
        assert out == [RfcFreeListCorruption] * 2, f"{where}: only one model raised: {out!r}"
        return None
    return out


def assert_same_lookup(fast, ref, addr: int, where: str) -> None:
    """find_vmap_area: the modelled descent over nr_busy areas, nothing else."""
    if hasattr(ref, "find_vmap_area"):
        sf, sr = fast.find_vmap_area(addr), ref.find_vmap_area(addr)
        assert sf == sr == steps(tree_nodes=tree_depth(len(ref.busy_areas()))), f"{where}: {sf!r} {sr!r}"


def run_lockstep(policy: str, layout: Layout, ops: list[Op]) -> None:
    fast, ref = make_pair(policy, layout)
    assert_same_state(fast, ref, "initial state")
    live: list[int] = [s for s, _ in layout.initial_busy]   # early areas can be freed too
    for n, op in enumerate(ops):
        where = f"{policy} op {n} {op!r}"
        if op[0] == "alloc_from":
            op = resolve_alloc_from(op, live, fast.busy_areas(), layout)
            if op is None:
                continue
            where = f"{policy} op {n} {op!r}"
        if op[0] == "alloc":
            _, size, align, vs, ve = op
            res = _both(where, lambda: fast.alloc(size, align, vs, ve),
                        lambda: ref.alloc(size, align, vs, ve))
            if res is None:
                return                          # the RFC would corrupt its free list: stop
            rf, rr = res
            assert rf.addr == rr.addr, f"{where}: fast {rf!r} ref {rr!r}"
            assert rf.steps == rr.steps, f"{where}: fast {rf.steps!r} ref {rr.steps!r}"
            if rf.addr is not None:
                live.append(rf.addr)
        else:
            if not live:
                continue
            addr = live.pop(op[1] % len(live))
            assert_same_lookup(fast, ref, addr, where)
            res = _both(where, lambda: fast.free(addr), lambda: ref.free(addr))
            if res is None:
                return
            sf, sr = res
            assert sf == sr, f"{where} (free {addr:#x}): fast {sf!r} ref {sr!r}"
            assert_same_lookup(fast, ref, addr, where)      # now not found: same count
        assert_same_state(fast, ref, where)


@pytest.mark.slow            # 2,000 hypothesis sequences (vmsim-ci): 20-40 s on 2 cores
@profile_settings()
@given(scenario=scenarios("busy-list"))
def test_busy_list_matches_reference(scenario) -> None:
    run_lockstep("busy-list", *scenario)


@pytest.mark.slow            # 2,000 hypothesis sequences (vmsim-ci): 20-40 s on 2 cores
@profile_settings()
@given(scenario=scenarios("free-list"))
def test_free_list_matches_reference(scenario) -> None:
    run_lockstep("free-list", *scenario)


@pytest.mark.slow            # 2,000 hypothesis sequences (vmsim-ci): 20-40 s on 2 cores
@profile_settings()
@given(scenario=scenarios("augmented-tree"))
def test_augmented_tree_matches_reference(scenario) -> None:
    run_lockstep("augmented-tree", *scenario)


# ------------------------------------------------------------ targeted examples
B = 0x10000000                       # 16 KiB aligned base
P = PAGE


def steps(**kw) -> Steps:
    s = Steps()
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def both(policy: str, **layout_kw):
    kw = dict(vstart=B, vend=B + 64 * P, vmalloc_start=None, vmalloc_end=None,
              word_bits=64, initial_busy=())
    kw.update(layout_kw)
    vms = kw["vstart"] if kw["vmalloc_start"] is None else kw["vmalloc_start"]
    vme = kw["vend"] if kw["vmalloc_end"] is None else kw["vmalloc_end"]
    layout = Layout("example", kw["vstart"], kw["vend"], vms, vme, kw["word_bits"],
                    None, tuple(kw["initial_busy"]))
    return make_pair(policy, layout)


def expect_alloc(models, size, align, vs, ve, addr, st: Steps) -> None:
    for m in models:
        r = m.alloc(size, align, vs, ve)
        assert (r.addr, r.steps) == (addr, st), f"{type(m).__name__}: {r!r}"
        m.check()


def expect_free(models, addr, st: Steps) -> None:
    for m in models:
        s = m.free(addr)
        assert s == st, f"{type(m).__name__}: free {addr:#x}: {s!r}"
        m.check()


def test_busy_list_cache_rules_by_hand() -> None:
    """kernel-notes section 1: what keeps and what drops free_vmap_cache.

    Busy [0,1) and [3,10) (in pages from B): a 2-page hole at 1..3.
    """
    models = both("busy-list", vend=B + 1024 * P, initial_busy=[(B, B + P), (B + 3 * P, B + 10 * P)])
    # (a) no cache: descend (depth(2)=2), walk [0,1) then [3,10) noting the
    #     2-page hole (cached_hole_size = 2p); found at 10; insert depth(2)=2.
    expect_alloc(models, 3 * P, 1, None, None, B + 10 * P, steps(list_nodes=2, tree_nodes=4, tree_inserts=1))
    # (b) 3p is not < 2p: keep the cache [10,13); one body run; insert depth(3)=2.
    expect_alloc(models, 3 * P, 1, None, None, B + 13 * P, steps(list_nodes=1, tree_nodes=2, tree_inserts=1))
    # (c) 1p < cached_hole_size: drop; descend depth(4)=3; [0,1) runs the body,
    #     [3,10) does not (2p > 3p is false): found in the hole at 1.
    expect_alloc(models, P, 1, None, None, B + P, steps(list_nodes=1, tree_nodes=6, tree_inserts=1))
    # (d) higher vstart (20p): cache kept but ALIGN(2p) < vstart: goto nocache;
    #     descent finds no area ending at or above 20p: found at 20p.
    expect_alloc(models, P, 1, B + 20 * P, None, B + 20 * P, steps(tree_nodes=6, tree_inserts=1))
    # (e) lower vstart than cached_vstart: drop; walk [0,1), [1,2); stop at [3,10).
    expect_alloc(models, P, 1, None, None, B + 2 * P, steps(list_nodes=2, tree_nodes=6, tree_inserts=1))
    # (f) larger align (16 KiB): keep the cache [2,3); addr = ALIGN(3p) = 4p;
    #     walk [2,3), [3,10) -> 12p, [10,13) -> 16p, [13,16) -> 16p; [20,21) fits.
    expect_alloc(models, P, 4 * P, None, None, B + 16 * P, steps(list_nodes=4, tree_nodes=3, tree_inserts=1))
    # (g) smaller align: drop; walk from B over 7 areas up to [16,17); found 17p.
    expect_alloc(models, P, 1, None, None, B + 17 * P, steps(list_nodes=7, tree_nodes=8, tree_inserts=1))
    # free [16,17): va_start <= cache start (17p): cache = rb_prev = [13,16).
    expect_free(models, B + 16 * P, steps(tree_erases=1, objects_freed=1))
    # cache [13,16), 1p not < hole 0: addr 16p, one body run; found 16p; depth(8)=4.
    expect_alloc(models, P, 1, None, None, B + 16 * P, steps(list_nodes=1, tree_nodes=4, tree_inserts=1))


def test_free_list_chunk_rules_by_hand() -> None:
    """The RFC's last_free_va_chunk / free_va_max_size / last_alloc_* rules and the four fits."""
    models = both("free-list")
    # (a)-(c): chunk None -> head; then from the chunk: LE fits, one block each.
    expect_alloc(models, 2 * P, 1, None, None, B, steps(list_nodes=1, free_nodes=1, tree_inserts=1, fit="LE"))
    expect_alloc(models, 2 * P, 1, None, None, B + 2 * P,
                 steps(list_nodes=1, tree_nodes=1, free_nodes=1, tree_inserts=1, fit="LE"))
    expect_alloc(models, 2 * P, 1, None, None, B + 4 * P,
                 steps(list_nodes=1, tree_nodes=2, free_nodes=1, tree_inserts=1, fit="LE"))
    # (d) free [2,4): no neighbour block, inserted (slot search depth(1)=1);
    #     it lies below the chunk [6,64): chunk = its prev = NULL.
    expect_free(models, B + 2 * P, steps(tree_nodes=1, free_nodes=1, tree_inserts=1, tree_erases=1))
    # (e) 4p from the head: [2,4) skipped (free_va_max_size = 2p), [6,64) LE.
    expect_alloc(models, 4 * P, 1, None, None, B + 6 * P,
                 steps(list_nodes=2, tree_nodes=2, free_nodes=2, tree_inserts=1, fit="LE"))
    # (f) 2p <= free_va_max_size: head again; [2,4) is an exact fit (FL).
    expect_alloc(models, 2 * P, 1, None, None, B + 2 * P,
                 steps(list_nodes=1, tree_nodes=2, free_nodes=1, tree_inserts=1, tree_erases=1,
                       objects_freed=1, fit="FL"))
    # (g) FL left the chunk NULL: head [10,64); ALIGN(10p, 16K) = 12p: NE,
    #     new right block (free-tree insert depth(1)=1) + busy insert depth(5)=3.
    expect_alloc(models, P, 4 * P, None, None, B + 12 * P,
                 steps(list_nodes=1, tree_nodes=4, free_nodes=1 + 1, tree_inserts=2, objects_allocated=1,
                       fit="NE"))
    # (h) smaller align than last_alloc_align: head [10,12): exact fit.
    expect_alloc(models, 2 * P, 1, None, None, B + 10 * P,
                 steps(list_nodes=1, tree_nodes=3, free_nodes=1, tree_inserts=1, tree_erases=1,
                       objects_freed=1, fit="FL"))
    # (i) vstart 40p: head [13,64) does not start above vstart: nva = 40p: NE.
    expect_alloc(models, P, 1, B + 40 * P, None, B + 40 * P,
                 steps(list_nodes=1, tree_nodes=1 + 3, free_nodes=1 + 1, tree_inserts=2, objects_allocated=1,
                       fit="NE"))
    # (j) lower vstart than last_alloc_vstart: head [13,40): LE at 13p.
    expect_alloc(models, P, 1, None, None, B + 13 * P,
                 steps(list_nodes=1, tree_nodes=3, free_nodes=1, tree_inserts=1, fit="LE"))
    # (k) vstart 39p >= last_alloc_vstart: from the chunk [14,40): nva = 39p: RE.
    expect_alloc(models, P, 1, B + 39 * P, None, B + 39 * P,
                 steps(list_nodes=1, tree_nodes=4, free_nodes=1, tree_inserts=1, fit="RE"))
    # free [12,13): next block [13,...)? no, [13,14) is busy; prev block? [10,12)
    # is busy too: insert; below the chunk [14,39): chunk = prev = NULL.
    expect_free(models, B + 12 * P, steps(tree_nodes=2, free_nodes=2, tree_inserts=1, tree_erases=1))
    # free [13,14): Next [14,39) merges (frees the busy object), then Prev [12,13)
    # absorbs Next, which is in the free tree (rb_erase): 2 merges.
    expect_free(models, B + 13 * P,
                steps(tree_nodes=2, free_nodes=2, tree_erases=2, merges=2, objects_freed=2))
    assert models[0].free_blocks() == [(B + 12 * P, B + 39 * P), (B + 41 * P, B + 64 * P)]
    # (l) nothing fits 32p: both blocks examined, failure, nothing changes.
    expect_alloc(models, 32 * P, 1, None, None, None, steps(list_nodes=2, free_nodes=2))
    # (m) vend break: 4p fits [12,39) but vend is 14p.
    expect_alloc(models, 4 * P, 1, None, B + 14 * P, None, steps(list_nodes=1, free_nodes=1))


def test_free_list_old_path_outside_vmalloc_range() -> None:
    """vstart outside [VMALLOC_START, VMALLOC_END): the 4.19 search, with its cache."""
    vms = B + 16 * P
    models = both("free-list", vmalloc_start=vms, vmalloc_end=B + 64 * P)
    # vmalloc path: head [16,64): LE.
    expect_alloc(models, P, 1, vms, None, vms, steps(list_nodes=1, free_nodes=1, tree_inserts=1, fit="LE"))
    # the old path walks the busy list and tree: no free-block nodes
    # modules-like request [B, 16p): no cache: descend depth(1)=1; the only area
    # [16,17) ends above: the walk does not run (1p + 0 > 16p is false).
    expect_alloc(models, 2 * P, 1, B, vms, B, steps(tree_nodes=1 + 1, tree_inserts=1))
    # second one starts from free_vmap_cache [0,2): one body run.
    expect_alloc(models, 2 * P, 1, B, vms, B + 2 * P, steps(list_nodes=1, tree_nodes=2, tree_inserts=1))
    # freeing it (va_end not in (VMALLOC_START, VMALLOC_END]) is kfree'd; no merge.
    expect_free(models, B + 2 * P, steps(tree_erases=1, objects_freed=1))
    assert models[1].free_blocks() == [(B + 2 * P, vms), (vms + P, B + 64 * P)]


N_KEPT = 300


def _test_2(models, policy: str) -> list[int]:
    """The seed's test_2 on bare allocators, reduced to N_KEPT kept areas:
    N_KEPT x vmalloc(1 page) (+ guard = 8 KiB), then loops of vmalloc(100
    pages) + vmalloc(1 page) (+ guards) + free both; every 5th loop first a
    16 KiB area with 16 KiB alignment that stays (a thread stack)."""
    list_nodes = []
    for k in range(N_KEPT):
        for m in models:
            assert m.alloc(2 * P).addr == B + k * 2 * P
    stacks = 0
    for it in range(20):
        if it % 5 == 0:
            addrs = {m.alloc(4 * P, 4 * P).addr for m in models}
            # the first 16 KiB-aligned address after the kept areas and the stacks
            assert addrs == {B + N_KEPT * 2 * P + stacks * 4 * P}
            stacks += 1
        big = [m.alloc(101 * P) for m in models]
        small = [m.alloc(2 * P) for m in models]
        top = B + N_KEPT * 2 * P + stacks * 4 * P
        assert {r.addr for r in big} == {top}
        assert {r.addr for r in small} == {top + 101 * P}
        assert len({repr(r.steps) for r in big}) == 1 and len({repr(r.steps) for r in small}) == 1
        list_nodes.append(big[0].steps.list_nodes)
        for m in models:
            m.free(top)
            m.free(top + 101 * P)
            m.check()
    return list_nodes


@pytest.mark.parametrize("policy", ["busy-list", "free-list", "augmented-tree"])
def test_test_2_pattern(policy: str) -> None:
    models = both(policy, vend=B + 8192 * P)
    walked = _test_2(models, policy)
    assert list(models[0].busy_areas()) == list(models[1].busy_areas())
    assert list(models[0].free_blocks()) == list(models[1].free_blocks())
    if policy == "busy-list":
        # After a 16 KiB-aligned alloc, align 1 < cached_align drops the cache:
        # the walk runs from B over the kept areas and every stack (all
        # adjacent): N_KEPT + stacks nodes.  Otherwise it starts at the cached
        # area (the last stack / kept area after the frees): 1 node.
        expected = [N_KEPT + it // 5 + 1 if it % 5 == 0 else 1 for it in range(20)]
        assert walked == expected
    elif policy == "free-list":
        # One free block above everything: always one block examined.
        assert walked == [1] * 20


def test_busy_list_descent_stops_where_the_rb_tree_says() -> None:
    """4.19's cache-drop descent breaks at the first node on its path with
    va_start <= addr <= va_end.  vmalloc_init links [0,1), [1,2), [2,3) (pages
    from B) in order; rb_insert_color rotates [1,2) to the root with [0,1)
    left and [2,3) right.
    (a) vstart = 1p: the root [1,2) satisfies the test first, so the walk
        starts at [1,2) (not at [0,1), which also ends at 1p): bodies for
        [1,2) and [2,3), found at 3p: list_nodes 2.
    (b) vstart = 2p, after a free that drops the cache: the root [1,2) ends at
        2p and is met before [2,3): two bodies again.
    (c) Two areas [0,1) (root) and [1,2) (its right child): vstart = 1p stops
        at the root [0,1): bodies for [0,1) and [1,2): list_nodes 2."""
    three = [(B, B + P), (B + P, B + 2 * P), (B + 2 * P, B + 3 * P)]
    models = both("busy-list", initial_busy=three)
    expect_alloc(models, P, 1, B + P, None, B + 3 * P, steps(list_nodes=2, tree_nodes=2 + 2, tree_inserts=1))
    models = both("busy-list", initial_busy=three)
    expect_alloc(models, P, 1, B + 2 * P, None, B + 3 * P,
                 steps(list_nodes=2, tree_nodes=2 + 2, tree_inserts=1))
    models = both("busy-list", initial_busy=three[:2])
    expect_alloc(models, P, 1, B + P, None, B + 2 * P, steps(list_nodes=2, tree_nodes=2 + 2, tree_inserts=1))


def test_free_list_vmalloc_init_inserts_empty_first_and_last_blocks() -> None:
    """The RFC's vmalloc_init inserts [VMALLOC_START, vmlist->addr) and
    [end of the last vmlist area, VMALLOC_END) unguarded, even when empty."""
    # An early area at VMALLOC_START (= B): free list {[0,0), [1,64)}.
    models = both("free-list", initial_busy=[(B, B + P)])
    for m in models:
        assert m.nr_free_objects == 2 and m.nr_free_blocks == 1
    # From the head: the empty block is examined (does not fit), then [1,64): LE.
    expect_alloc(models, P, 1, None, None, B + P,
                 steps(list_nodes=2, free_nodes=2, tree_nodes=1, tree_inserts=1, fit="LE"))
    # Freeing the area at VMALLOC_START: the slot is right of the empty block;
    # Next [2,64) does not abut; Prev (the empty block) ends at va_start:
    # one merge, the empty block becomes [0,1).  depth(2) = 2.
    expect_free(models, B, steps(tree_nodes=2, free_nodes=2, tree_erases=1, merges=1, objects_freed=1))
    for m in models:
        assert m.nr_free_objects == 2 and m.nr_free_blocks == 2

    # The same area freed first: Next [1,64) abuts (merge 1), then the empty
    # Prev absorbs Next, which is in the free tree (rb_erase): merges twice.
    models = both("free-list", initial_busy=[(B, B + P)])
    expect_free(models, B, steps(tree_nodes=2, free_nodes=2, tree_erases=2, merges=2, objects_freed=2))
    for m in models:
        assert m.free_blocks() == [(B, B + 64 * P)] and m.nr_free_objects == 1

    # An early area ending at VMALLOC_END: free list {[0,63), [64,64)}.
    models = both("free-list", initial_busy=[(B + 63 * P, B + 64 * P)])
    expect_alloc(models, 63 * P, 1, None, None, B,
                 steps(list_nodes=1, free_nodes=1, tree_nodes=1, tree_inserts=1, tree_erases=1,
                       objects_freed=1, fit="FL"))
    # Nothing is free; the walk from the head still examines the empty block.
    expect_alloc(models, P, 1, None, None, None, steps(list_nodes=1, free_nodes=1))
    # Freeing the area ending at VMALLOC_END merges into the empty last block.
    expect_free(models, B + 63 * P,
                steps(tree_nodes=1, free_nodes=1, tree_erases=1, merges=1, objects_freed=1))
    for m in models:
        assert m.free_blocks() == [(B + 63 * P, B + 64 * P)] and m.nr_free_objects == 1


ARM_MODULES = (0xbf000000, 0xbfe00000)
ARM_VMALLOC = (0xf0800000, 0xff800000)


def _arm32_pair(initial):
    layout = Layout("arm32", ARM_MODULES[0], ARM_VMALLOC[1], *ARM_VMALLOC, 32, ARM_MODULES,
                    tuple(initial))
    return make_pair("free-list", layout)


def test_free_list_straddling_request_is_flagged_not_overlapped() -> None:
    """Regression: vstart 0xbf000000, vend 0xff800000 on 32-bit ARM.  vstart is
    not a vmalloc address: the RFC's old path walks vmap_area_list, which holds
    every busy area, vmalloc ones included.  With the modules range and the
    gap up to VMALLOC_START taken, the first hole is 0xf0801000, right after
    the vmalloc area at 0xf0800000 (vmsim used to return 0xf0800000 itself: an
    overlap).  The RFC would leave that hole on its free list (a later
    vmalloc would get it again): both models raise RfcFreeListCorruption."""
    for m in _arm32_pair([ARM_MODULES, (ARM_MODULES[1], ARM_VMALLOC[0])]):
        assert m.alloc(P, 1, ARM_VMALLOC[0]).addr == ARM_VMALLOC[0]
        with pytest.raises(RfcFreeListCorruption, match="0xf0801000"):
            m.alloc(P, 1, 0xbf000000, 0xff800000)


def test_free_list_straddling_request_below_the_vmalloc_range_is_fine() -> None:
    """The same request with a hole [0xbfe00000, 0xc0000000) below
    VMALLOC_START: no cache, the descent (depth(2) = 2) stops at the module
    area (it contains vstart); one body, for it (addr = 0xbfe00000), then
    0xbfe01000 > 0xc0000000 is false: found 0xbfe00000; insert depth(2) = 2."""
    models = _arm32_pair([ARM_MODULES, (0xc0000000, ARM_VMALLOC[0])])
    expect_alloc(models, P, 1, 0xbf000000, 0xff800000, ARM_MODULES[1],
                 steps(list_nodes=1, tree_nodes=2 + 2, tree_inserts=1))


def test_free_list_old_path_descent_reads_the_whole_busy_tree() -> None:
    """The RFC's old path over module areas [m, m+1p), [m+1p, m+2p) (pages):
    vmalloc_init links them in order, then the vmalloc area at VMALLOC_START;
    rb_insert_color makes [m+1p, m+2p) the root.  vstart = m+1p, vend =
    MODULES_END: the descent stops at the root (the upper of the abutting
    pair): one body, found m+2p.  Without the vmalloc area the root is
    [m, m+1p) (the lower one, its right child [m+1p, m+2p)): two bodies.
    Descent depth(n) + insert depth(n) tree nodes."""
    m, vms = ARM_MODULES[0], ARM_VMALLOC[0]
    mods = [(m, m + P), (m + P, m + 2 * P)]
    models = _arm32_pair(mods + [(vms, vms + P)])
    expect_alloc(models, P, 1, m + P, ARM_MODULES[1], m + 2 * P,
                 steps(list_nodes=1, tree_nodes=2 + 2, tree_inserts=1))
    models = _arm32_pair(mods)
    expect_alloc(models, P, 1, m + P, ARM_MODULES[1], m + 2 * P,
                 steps(list_nodes=2, tree_nodes=2 + 2, tree_inserts=1))
