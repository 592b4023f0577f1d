"""split-tree (Linux 5.5-6.8, 6.1 read): search, lazy free into the purge tree, purge.

Hand-derived examples first (derivations in the comments, from the 6.1 text:
find_vmap_lowest_match with adjust_search_size and the ``vstart + 1`` climb,
__merge_or_add_vmap_area), then the differential property test: the fast
policy against the literal model in ref_split_tree.py, op by op, on op
sequences that interleave alloc + insert_vmap_area, lazy frees
(find_unlink_vmap_area + free_vmap_area_noflush), purges (purge_list_take,
then merge_free of each block, possibly interleaved with later ops, as
cond_resched_lock lets them) and the compat free().

``mk`` puts guard busy areas [0, base) and [base + n pages, 2**64) around
the range, so that the whole-space free tree is just the range's blocks
(see test_augmented_tree.py); the busy tree counts the two guards.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from simulator.allocators.augmented_tree import AugmentedTreeAllocator
from simulator.allocators.base import InvariantError, NonexistentAreaError, make_range, tree_depth
from simulator.allocators.split_tree import SplitTreeAllocator

from ref_split_tree import RefSplitTree
from strategies import Layout, layouts, op_lists, profile_settings, resolve_alloc_from
from test_oracle import lowest_fit, small_layouts
from tree_helpers import BASE, P, pages, steps, tree_shape

#: free [4,8) [9,10) [11,12) [13,14) [15,23) [24,25) [26,27), inserted in
#: ascending order: B2(B1, B4(B3, B6(B5, B7))) (see test_augmented_tree)
SEVEN_BUSY = [(0, 4), (8, 9), (10, 11), (12, 13), (14, 15), (23, 24), (25, 26), (27, 28)]


def mk(npages: int, busy_pages=(), cls=SplitTreeAllocator):
    rng = make_range(0, 1 << 64, BASE, BASE + npages * P)
    busy = [(BASE + s * P, BASE + e * P) for s, e in busy_pages]
    return cls(rng, sorted(busy + [(0, BASE), (BASE + npages * P, 1 << 64)]))


def vmalloc(a, size, align=1, vstart=None, vend=None):
    r = a.alloc(size, align, vstart, vend)
    if r.addr is not None:
        a.insert_vmap_area(r.addr, size)
    return r


# ------------------------------------------------------------ the search
def test_align_up_to_page_is_the_lowest_fit():
    # 4 pages, align = PAGE_SIZE: no adjustment, length = 4P.  Root B2 [9,10):
    # left max 4P >= 4P and vstart (0) < B2: go left to B1 [4,8): fits: FL.
    # 5.2 (length = 5P - 1) skips B1: B2, B4, B6, B5 -> LE at 15 pages.
    # FL erases B1, a black leaf (colours: 2B(1B, 4r(3B, 6B(5r, 7r)))):
    # propagate from B2 finds 8P unchanged (1); rebalance at B2: sibling B4
    # red, case 1: rotate(B2, B4) computes B2 (1); then case 2 recolours.
    a, old = mk(28, SEVEN_BUSY), mk(28, SEVEN_BUSY, AugmentedTreeAllocator)
    r = a.alloc(4 * P, align=P)
    assert r.addr == BASE + 4 * P
    steps(r.steps, tree_nodes=2, free_nodes=2, tree_erases=1, fit="FL", objects_freed=1, augment_updates=2)
    r = old.alloc(4 * P, align=P)
    assert r.addr == BASE + 15 * P and r.steps.fit == "LE"
    assert r.steps.free_nodes == 4
    a.check()
    old.check()


def test_exact_range_with_align_above_page_is_not_adjusted():
    # [vstart, vend) = [4, 8) pages, exactly 4 pages, align 4 pages (> PAGE):
    # adjust_search_size = false, length = 4P: B2 -> left B1: ALIGN(4 pages)
    # fits: FL.  5.2 adjusts (length 8P - 1), never enters B1, finds B5 and
    # fails the vend check (the KASAN failure the 2021 patch fixed).
    a, old = mk(28, SEVEN_BUSY), mk(28, SEVEN_BUSY, AugmentedTreeAllocator)
    args = (4 * P, 4 * P, BASE + 4 * P, BASE + 8 * P)
    r = a.alloc(*args)
    assert r.addr == BASE + 4 * P and r.steps.fit == "FL" and r.steps.free_nodes == 2
    assert old.alloc(*args).addr is None


def test_adjusted_length_still_skips_an_exact_aligned_block():
    # align 4 pages > PAGE and a wide range: length = 8P - 1 as in 5.2, the
    # same path (B2, B4, B6, B5) and the same non-lowest answer, 16 pages.
    a = mk(28, SEVEN_BUSY)
    r = a.alloc(4 * P, align=4 * P)
    assert r.addr == BASE + 16 * P and r.steps.fit == "NE" and r.steps.free_nodes == 4 + 1


def test_climb_moves_vstart_past_a_checked_subtree():
    # free [0,2) [3,4) [5,6) [8,10) [11,12), inserted ascending: root [3,4),
    # left [0,2), right [8,10) with children [5,6) and [11,12).  2 pages,
    # align 2 pages, vstart = 1 page, range [1, 3) pages = exactly 2 pages:
    # no adjustment, length = 2P.
    # root [3,4): left max 2P >= 2P and 1 < 3: go left.  [0,2): nva =
    # ALIGN(1 page) = 2 pages, 4 > 2: no; right NULL; climb to [3,4) (3 nodes
    # so far): nva = ALIGN(3) = 4, 6 > 4: no; right max 2P, vstart 1 <= 3:
    # vstart = 3 pages + 1 byte, go right.  [8,10): left max 1P < 2P; nva =
    # 8 fits: found after 4 nodes; nva + size = 10 pages > vend: fails.
    busy = [(2, 3), (4, 5), (6, 8), (10, 11), (12, 16)]
    a = mk(16, busy)
    assert pages(a.free_blocks()) == [(0, 2), (3, 4), (5, 6), (8, 10), (11, 12)]
    r = a.alloc(2 * P, 2 * P, BASE + P, BASE + 3 * P)
    assert r.addr is None
    steps(r.steps, tree_nodes=4, free_nodes=4)
    # 5.2 (length 3P - 1): root: left max 2P too small, no fit, right max 2P
    # too small, no parent: 1 node
    old = mk(16, busy, AugmentedTreeAllocator)
    r = old.alloc(2 * P, 2 * P, BASE + P, BASE + 3 * P)
    assert r.addr is None
    steps(r.steps, tree_nodes=1, free_nodes=1)


# ------------------------------------------------------------ lazy frees
def test_lazy_areas_merge_in_the_purge_tree():
    a = mk(16)
    addrs = [vmalloc(a, P).addr for _ in range(4)]       # [0,1) .. [3,4); free [4,16)
    assert addrs == [BASE + i * P for i in range(4)] and a.nr_busy == 4 + 2
    size, s = a.find_unlink_vmap_area(BASE + P)
    # busy tree of 6 areas: tree_depth(6) = 3 nodes, one rb_erase
    assert size == P
    steps(s, tree_nodes=3, tree_erases=1)
    # empty purge tree: find_va_links returns at once; linked: one insert
    steps(a.free_vmap_area_noflush(BASE + P, P), tree_inserts=1)
    a.find_unlink_vmap_area(BASE + 3 * P)
    # purge tree of 1: tree_depth(1) = 1; [1,2) ends at 2, not 3: insert
    steps(a.free_vmap_area_noflush(BASE + 3 * P, P), tree_nodes=1, tree_inserts=1)
    assert a.nr_lazy == 2 and a.nr_busy == 2 + 2
    a.find_unlink_vmap_area(BASE + 2 * P)
    # purge tree of 2: tree_depth(2) = 2; next [3,4) starts at 3: merge; prev
    # [1,2) ends at 2: unlink the merged next (rb_erase), extend prev
    steps(a.free_vmap_area_noflush(BASE + 2 * P, P), tree_nodes=2, tree_erases=1, merges=2, objects_freed=2)
    assert pages(a.lazy_areas()) == [(1, 4)] and a.nr_lazy == 1
    a.check()
    taken = a.purge_list_take()
    assert pages(taken) == [(1, 4)] and a.nr_lazy == 0
    a.check()
    # free tree: the root [4,16) alone: [1,4) goes left (1 node); next = the
    # root, starts at 4: merge (no propagate yet); prev = head.  Propagate from
    # the root: 12P -> 15P changed, no parent: 1 compute.
    steps(a.merge_free(*taken[0]), tree_nodes=1, free_nodes=1, merges=1, objects_freed=1, augment_updates=1)
    assert pages(a.free_blocks()) == [(1, 16)]
    a.check()


def test_merge_with_both_neighbours_unlinks_next_first():
    a = mk(8)
    for _ in range(3):
        vmalloc(a, P)                                     # busy [0,1) [1,2) [2,3); free [3,8)
    s = a.free(BASE + P)
    # find_unlink: tree_depth(5) = 3, 1 erase.  merge: root [3,8): [1,2) goes
    # left (1 node); next = root (3 != 2), prev = head: link as the root's
    # left child (black parent: no rotation), propagate: 0 -> P (1), root
    # unchanged (1).
    steps(s, tree_nodes=3 + 1, free_nodes=1, tree_inserts=1, tree_erases=1, augment_updates=2)
    s = a.free(BASE + 2 * P)
    # find_unlink: tree_depth(4) = 3, 1 erase.  merge: root -> left [1,2) ->
    # right NULL (2 nodes); next = [3,8): starts at 3: root.va_start = 2;
    # prev [1,2) ends at 2: unlink the root first (only a left child: the
    # child takes its place, propagate(NULL) computes nothing), then [1,2)
    # becomes [1,8); one propagate from it: 7P != P, no parent (1).
    # 5.2 counts 3 here (a propagate after each merge).
    steps(s, tree_nodes=3 + 2, free_nodes=2, tree_erases=2, augment_updates=1, merges=2, objects_freed=2)
    assert pages(a.free_blocks()) == [(1, 8)]
    a.check()


def test_alloc_is_not_busy_until_inserted():
    a = mk(8)
    r = a.alloc(P)
    assert r.addr == BASE and a.nr_busy == 2               # only the guards
    a.check()                                              # the allocated area is accounted for
    assert a.find_unlink_vmap_area(BASE)[0] is None
    with pytest.raises(NonexistentAreaError):
        a.free(BASE)
    steps(a.insert_vmap_area(BASE, P), tree_nodes=tree_depth(2), tree_inserts=1)
    assert a.nr_busy == 3
    with pytest.raises(ValueError):
        a.insert_vmap_area(BASE, P)                        # not returned by alloc (any more)
    steps(a.find_vmap_area(BASE), tree_nodes=tree_depth(3))


def test_unlink_vmap_area_erases_without_a_descent():
    # 6.1's free_vmap_area_noflush unlinks the area remove_vm_area found:
    # unlink_va only (rb_erase), no __find_vmap_area descent
    a = mk(8)
    vmalloc(a, 2 * P)
    steps(a.unlink_vmap_area(BASE), tree_erases=1)
    assert a.nr_busy == 2
    steps(a.free_vmap_area_noflush(BASE, 2 * P), tree_inserts=1)
    with pytest.raises(NonexistentAreaError):
        a.unlink_vmap_area(BASE)
    a.check()


def test_operations_refuse_areas_in_the_wrong_state():
    a = mk(8)
    vmalloc(a, P)
    with pytest.raises(ValueError):
        a.free_vmap_area_noflush(BASE, P)                  # still busy
    a.find_unlink_vmap_area(BASE)
    a.free_vmap_area_noflush(BASE, P)
    with pytest.raises(ValueError):
        a.merge_free(BASE, BASE + P)                       # lazy, not taken yet
    (blk,) = a.purge_list_take()
    a.merge_free(*blk)
    with pytest.raises(ValueError):
        a.merge_free(*blk)
    a.check()


def test_check_catches_a_lazy_area_overlapping_a_free_block():
    a = mk(8)
    vmalloc(a, P)
    a.find_unlink_vmap_area(BASE)
    a.free_vmap_area_noflush(BASE, P)
    a.check()
    a._lazy[BASE] = BASE + 2 * P                           # overlaps the free [1, 8)
    with pytest.raises(InvariantError, match="tile"):
        a.check()


# ------------------------------------------------- differential (fast vs ref)


@st.composite
def split_scenarios(draw):
    """strategies.py layouts and alloc/free op lists; each op is followed by
    a decision (purge, merge_now, how): start a purge (purge_list_take) when
    purge == 0, merge back merge_now taken blocks (the purge loop can be
    interleaved with other CPUs' work when cond_resched_lock drops
    free_vmap_area_lock), free with the compat free() when how == 0, else
    lazily.  The decisions come from one drawn seed (drawing three integers
    per op made generation the slow part)."""
    layout: Layout = draw(layouts("split-tree"))
    ops = draw(op_lists(layout, max_ops=40))
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    after = [(rnd.randrange(5), rnd.randrange(4), rnd.randrange(8)) for _ in ops]
    return layout, ops, after


def assert_same(fast, ref, where):
    fast.check()
    ref.check()
    assert tree_shape(fast._root.rb_node) == tree_shape(ref.free_tree.root.rb_node), where
    assert fast.free_blocks() == ref.free_blocks(), where
    assert fast.busy_areas() == ref.busy_areas(), where
    assert fast.lazy_areas() == ref.lazy_areas(), where
    assert (fast.nr_busy, fast.nr_lazy, fast.nr_free_objects, fast.nr_free_blocks,
            fast.largest_free_bytes(), fast.total_free_bytes()) == \
           (ref.nr_busy, ref.nr_lazy, ref.nr_free_objects, ref.nr_free_blocks,
            ref.largest_free_bytes(), ref.total_free_bytes()), where


def lockstep_alloc(fast, ref, op, live: list[int], where: str) -> None:
    """An ("alloc", size, align, vstart, vend) op on both models: the same
    address and Steps, then insert_vmap_area on both (the same Steps); the
    address joins ``live``."""
    _, size, align, vs, ve = op
    rf, rr = fast.alloc(size, align, vs, ve), ref.alloc(size, align, vs, ve)
    assert rf.addr == rr.addr, where
    assert rf.steps == rr.steps, (where, rf.steps, rr.steps)
    event(f"fit {rf.steps.fit}")
    if rf.addr is not None:
        assert fast.insert_vmap_area(rf.addr, size) == ref.insert_vmap_area(rr.addr, size), where
        live.append(rf.addr)


@pytest.mark.slow            # 2,000 hypothesis sequences (vmsim-ci): 20-40 s on 2 cores
@profile_settings()
@given(scenario=split_scenarios())
def test_differential_fast_vs_reference(scenario):
    layout, ops, after = scenario
    fast = SplitTreeAllocator(make_range(*layout.range_args()), list(layout.initial_busy))
    ref = RefSplitTree(make_range(*layout.range_args()), list(layout.initial_busy))
    assert_same(fast, ref, "initial")
    live: list[int] = []
    taken: list[tuple[int, int]] = []
    for n, (op, (purge, merge_now, how)) in enumerate(zip(ops, after)):
        op = resolve_alloc_from(op, live, fast.busy_areas(), layout)   # (was taken for a free)
        if op is None:
            continue
        where = f"op {n} {op!r}"
        if op[0] == "alloc":
            lockstep_alloc(fast, ref, op, live, where)
        elif live:
            addr = live.pop(op[1] % len(live))
            assert fast.find_vmap_area(addr) == ref.find_vmap_area(addr), where
            if how == 0:                                   # free_vmap_area(): straight back
                assert fast.free(addr) == ref.free(addr), where
            else:                                          # vfree(): lazily
                sf, sr = fast.find_unlink_vmap_area(addr), ref.find_unlink_vmap_area(addr)
                assert sf == sr and sf[0] is not None, where
                lf, lr = fast.free_vmap_area_noflush(addr, sf[0]), ref.free_vmap_area_noflush(addr, sf[0])
                assert lf == lr, (where, lf, lr)
                event(f"lazy merges {lf.merges}")
        if purge == 0:
            tf, tr = fast.purge_list_take(), ref.purge_list_take()
            assert tf == tr, where
            taken += tf
        for _ in range(min(merge_now, len(taken))):
            blk = taken.pop(0)
            mf, mr = fast.merge_free(*blk), ref.merge_free(*blk)
            assert mf == mr, (where, blk, mf, mr)
        assert_same(fast, ref, where)
    # drain: everything lazy goes back
    tf, tr = fast.purge_list_take(), ref.purge_list_take()
    assert tf == tr
    taken += tf
    for blk in taken:
        assert fast.merge_free(*blk) == ref.merge_free(*blk)
    assert_same(fast, ref, "drained")
    assert fast.nr_lazy == 0


# ------------------------------------------------------------ lowest fit
@st.composite
def oracle_cases(draw):
    """Small layouts (the test_oracle ones), allocs with align <= PAGE_SIZE or
    exactly sized sub-ranges with any align, and frees."""
    vs, ve, initial = draw(small_layouts())
    npages = (ve - vs) // P
    ops = []
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.integers(0, 2))
        if kind == 2:
            ops.append(("free", draw(st.integers(0, 1 << 16))))
            continue
        size = draw(st.integers(1, max(1, npages // 3))) * P
        if kind == 0:
            align = 1 << draw(st.integers(0, 12))
            lo = draw(st.integers(0, npages - 1))
            hi = draw(st.integers(lo + 1, npages))
            ops.append(("alloc", size, align, vs + lo * P, vs + hi * P))
        else:                             # [vstart, vstart + size): never adjusted
            align = 1 << draw(st.integers(12, 18))
            lo = draw(st.integers(0, npages - size // P)) if size // P <= npages else 0
            ops.append(("alloc", size, align, vs + lo * P, vs + lo * P + size))
    return vs, ve, initial, ops


@profile_settings(max_examples=min(1000, profile_settings().max_examples))
@given(case=oracle_cases())
def test_lowest_fit_when_the_search_is_not_adjusted(case):
    """Since the 2021 patch ("Do not adjust the search size for alignment
    overhead": the vstart + 1 climb) find_vmap_lowest_match returns the
    lowest block that takes the request whenever length = size, i.e. for
    align <= PAGE_SIZE and for a range of exactly ``size`` bytes (6.1:
    adjust_search_size false).  The brute-force oracle of test_oracle.py
    knows only the busy areas.  (With align > PAGE_SIZE on a wider range
    the length is adjusted and the answer is not always the lowest fit:
    test_adjusted_length_still_skips_an_exact_aligned_block.)"""
    vs, ve, initial, ops = case
    a = SplitTreeAllocator(make_range(vs, ve), initial)
    busy = dict(initial)
    live: list[int] = []
    for op in ops:
        if op[0] == "alloc":
            _, size, align, rvs, rve = op
            expect = lowest_fit(sorted(busy.items()), size, align, rvs, rve)
            got = vmalloc(a, size, align, rvs, rve).addr
            assert got == expect, (op, got, expect)
            if got is not None:
                busy[got] = got + size
                live.append(got)
        elif live:
            addr = live.pop(op[1] % len(live))
            a.free(addr)
            del busy[addr]
    a.check()
