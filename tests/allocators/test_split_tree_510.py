"""split-tree-5.10 (Linux 5.5-5.15): the 5.2 search on split-tree's trees, and
5.10's purge that merges each lazily freed area straight into the free tree.

Hand-derived examples first (derivations in the comments, from the 5.10.13
text: find_vmap_lowest_match with ``length = size + align - 1`` and no
``vstart + 1``; merge_or_add_vmap_area propagating once at the end), then the
differential property test against the literal model in ref_split_tree_510.py.

``mk`` (test_split_tree.py) puts guard busy areas around the range, so the
whole-space free tree is the range's blocks; the busy tree counts the guards.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from simulator.allocators import ALLOCATORS, InvariantError, create
from simulator.allocators.base import make_range
from simulator.allocators.split_tree_510 import SplitTree510Allocator

from ref_split_tree_510 import RefSplitTree510
from strategies import Layout, layouts, op_lists, profile_settings, resolve_alloc_from
from test_split_tree import BASE, SEVEN_BUSY, P, assert_same, lockstep_alloc, mk, pages, steps, vmalloc


def mk510(npages, busy_pages=()):
    return mk(npages, busy_pages, SplitTree510Allocator)


# ------------------------------------------------------------ the search
def test_registered():
    assert "split-tree-5.10" in ALLOCATORS
    a = create("split-tree-5.10", vstart=BASE, vend=BASE + 64 * P)
    assert isinstance(a, SplitTree510Allocator)


def test_align_up_to_page_still_adds_align_minus_one():
    # 4 pages, align = PAGE_SIZE: 5.10 searches with length = 5P - 1 (6.1: 4P).
    # Root B2 [9,10): left max 4P < 5P - 1; [9,10) too small; right B4
    # [13,14) max 8P: go right.  B4: left B3 [11,12) max P: no; too small;
    # right B6 [24,25) max 8P: go right.  B6: left B5 [15,23) max 8P >= 5P - 1
    # and vstart < 24 pages: go left.  B5 [15,23): fits at 15: LE after 4
    # nodes.  6.1 takes B1 [4,8) (FL, test_split_tree).
    a, new = mk510(28, SEVEN_BUSY), mk(28, SEVEN_BUSY)
    r = a.alloc(4 * P, align=P)
    assert r.addr == BASE + 15 * P and r.steps.fit == "LE" and r.steps.free_nodes == 4
    assert new.alloc(4 * P, align=P).addr == BASE + 4 * P
    a.check()


def test_exact_range_with_align_above_page_fails_as_in_5_2():
    # [vstart, vend) = [4, 8) pages, exactly 4 pages, align 4 pages: length =
    # 8P - 1 never enters B1 [4,8); the search finds B5 [15,23) (ALIGN 16) and
    # 16 + 4 > 8 pages fails the vend check: the KASAN failure that 5.18's
    # adjust_search_size fixed.  6.1 gets [4,8).
    a = mk510(28, SEVEN_BUSY)
    args = (4 * P, 4 * P, BASE + 4 * P, BASE + 8 * P)
    assert a.alloc(*args).addr is None
    assert mk(28, SEVEN_BUSY).alloc(*args).addr == BASE + 4 * P
    a.check()


def test_climb_does_not_move_vstart():
    # free [0,2) [3,4) [5,6) [8,10) [11,12): root [3,4).  2 pages, align 2
    # pages, range [1, 3) pages: length = 4P - 1.  Root: left max 2P < 4P - 1;
    # ALIGN(3) = 4, 6 > 4: no; right max 2P < 4P - 1; no parent: 1 node, fail.
    # (6.1 climbs with vstart + 1 and visits 4 nodes: test_split_tree.)
    a = mk510(16, [(2, 3), (4, 5), (6, 8), (10, 11), (12, 16)])
    r = a.alloc(2 * P, 2 * P, BASE + P, BASE + 3 * P)
    assert r.addr is None
    steps(r.steps, tree_nodes=1, free_nodes=1)


# ------------------------------------------------------- the 5.10 purge
def test_5_10_purge_merges_each_area_newest_first():
    # busy [0,1) [1,2) [2,3); free [3,8).  vfree [0,1), [2,3), [1,2): each
    # unlink_va is one rb_erase; llist_add pushes at the head, so the purge
    # merges [1,2), then [2,3), then [0,1) into the free tree.
    a = mk510(8)
    for _ in range(3):
        vmalloc(a, P)
    for k in (0, 2, 1):
        a.find_vmap_area(BASE + k * P)
        steps(a.unlink_vmap_area(BASE + k * P), tree_erases=1)
    assert a.nr_unlinked == 3 and a.nr_lazy == 0          # in no tree: on the llist
    a.check()
    # [1,2): root [3,8) alone: goes left (1 node); next [3,8) starts at 3 != 2,
    # prev = head: link as the black root's left child (no rotation);
    # propagate: 0 -> P (1), root 5P unchanged (1).
    steps(a.merge_or_add_vmap_area(BASE + P, P), tree_nodes=1, free_nodes=1, tree_inserts=1,
          augment_updates=2)
    # [2,3): root -> left [1,2) -> right NULL (2 nodes); next [3,8) starts at 3:
    # becomes [2,8); prev [1,2) ends at 2: unlink the root first (only a left
    # child takes its place: no compute), [1,2) becomes [1,8); one propagate
    # from it: 7P != P, no parent (1).
    steps(a.merge_or_add_vmap_area(BASE + 2 * P, P), tree_nodes=2, free_nodes=2, tree_erases=1,
          merges=2, objects_freed=2, augment_updates=1)
    # [0,1): root [1,8): left (1 node); next starts at 1: [0,8); propagate (1).
    steps(a.merge_or_add_vmap_area(BASE, P), tree_nodes=1, free_nodes=1, merges=1,
          objects_freed=1, augment_updates=1)
    assert pages(a.free_blocks()) == [(0, 8)] and a.nr_unlinked == 0
    a.check()


def test_5_15_purge_tree_merges_first():
    # the same frees on 5.11-5.15's purge tree: [0,1) inserted; [2,3) inserted
    # ([0,1) ends at 1); [1,2) merges both (next [2,3), prev [0,1)).  The purge
    # takes one block [0,3): one merge into the free tree instead of three.
    a = mk510(8)
    for _ in range(3):
        vmalloc(a, P)
    for k in (0, 2, 1):
        size, _ = a.find_unlink_vmap_area(BASE + k * P)
        a.free_vmap_area_noflush(BASE + k * P, size)
    (blk,) = a.purge_list_take()
    assert pages([blk]) == [(0, 3)]
    # root [3,8): [0,3) goes left (1 node); next = root starts at 3: merge;
    # prev = head; propagate from the root: 5P -> 8P (1).
    steps(a.merge_free(*blk), tree_nodes=1, free_nodes=1, merges=1, objects_freed=1, augment_updates=1)
    assert pages(a.free_blocks()) == [(0, 8)]
    a.check()


def test_merge_refuses_an_area_that_was_not_unlinked():
    a = mk510(8)
    vmalloc(a, P)
    with pytest.raises(ValueError):
        a.merge_or_add_vmap_area(BASE, P)                  # still busy
    size, _ = a.find_unlink_vmap_area(BASE)
    a.merge_or_add_vmap_area(BASE, size)
    with pytest.raises(ValueError):
        a.merge_or_add_vmap_area(BASE, size)               # merged already
    a.check()


def test_check_counts_areas_on_the_llist():
    a = mk510(8)
    vmalloc(a, P)
    a.unlink_vmap_area(BASE)
    a.check()                                              # [0,1) is accounted for
    del a._unlinked[BASE]                                  # lost: the space no longer tiles
    with pytest.raises(InvariantError, match="tile"):
        a.check()


# ------------------------------------------------- differential (fast vs ref)
@st.composite
def scenarios_510(draw):
    """strategies.py layouts and op lists; per sequence a mode: "5.10" (lazy
    areas unlinked onto an llist, purged newest first, one
    merge_or_add_vmap_area each) or "5.15" (the purge tree); each op is
    followed by decisions from one drawn seed: start a purge, merge back
    some taken areas (cond_resched_lock lets other work in between), free
    with the compat free() now and then."""
    layout: Layout = draw(layouts("split-tree"))
    ops = draw(op_lists(layout, max_ops=40))
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    mode = "5.10" if rnd.randrange(2) else "5.15"
    after = [(rnd.randrange(5), rnd.randrange(4), rnd.randrange(8)) for _ in ops]
    return layout, ops, mode, after


@pytest.mark.slow            # 2,000 hypothesis sequences (vmsim-ci): 20-40 s on 2 cores
@profile_settings()
@given(scenario=scenarios_510())
def test_differential_fast_vs_reference(scenario):
    layout, ops, mode, after = scenario
    event(f"mode {mode}")
    fast = SplitTree510Allocator(make_range(*layout.range_args()), list(layout.initial_busy))
    ref = RefSplitTree510(make_range(*layout.range_args()), list(layout.initial_busy))
    assert_same(fast, ref, "initial")
    live: list[int] = []
    llist: list[tuple[int, int]] = []      # vmap_purge_list (5.10), oldest first
    taken: list[tuple[int, int]] = []      # taken by a purge, not merged back yet
    for n, (op, (purge, merge_now, how)) in enumerate(zip(ops, after)):
        where = f"{mode} op {n} {op!r}"
        op = resolve_alloc_from(op, live, fast.busy_areas(), layout)
        if op is None:
            continue
        if op[0] == "alloc":
            lockstep_alloc(fast, ref, op, live, where)
        elif live:
            addr = live.pop(op[1] % len(live))
            assert fast.find_vmap_area(addr) == ref.find_vmap_area(addr), where
            size = dict(fast.busy_areas())[addr] - addr
            if how == 0:                                   # free_vmap_area(): straight back
                assert fast.free(addr) == ref.free(addr), where
            elif mode == "5.10":                           # unlink_va, llist_add
                assert fast.unlink_vmap_area(addr) == ref.unlink_vmap_area(addr), where
                llist.append((addr, size))
            else:                                          # unlink, merge into the purge tree
                sf, sr = fast.find_unlink_vmap_area(addr), ref.find_unlink_vmap_area(addr)
                assert sf == sr and sf[0] == size, where
                lf, lr = fast.free_vmap_area_noflush(addr, size), ref.free_vmap_area_noflush(addr, size)
                assert lf == lr, (where, lf, lr)
        if purge == 0:
            if mode == "5.10":                             # llist_del_all: newest first
                taken += llist[::-1]
                llist = []
            else:
                tf, tr = fast.purge_list_take(), ref.purge_list_take()
                assert tf == tr, where
                taken += [(s, e - s) for s, e in tf]
        for _ in range(min(merge_now, len(taken))):
            blk = taken.pop(0)
            if mode == "5.10":
                mf, mr = fast.merge_or_add_vmap_area(*blk), ref.lazy_merge(*blk)
            else:
                mf, mr = fast.merge_free(blk[0], blk[0] + blk[1]), ref.merge_free(blk[0], blk[0] + blk[1])
            assert mf == mr, (where, blk, mf, mr)
            event(f"purge merges {mf.merges}")
        assert_same(fast, ref, where)
    # drain: everything lazy goes back
    if mode == "5.10":
        taken += llist[::-1]
    else:
        taken += [(s, e - s) for s, e in fast.purge_list_take()]
        ref.purge_list_take()
    for addr, size in taken:
        if mode == "5.10":
            assert fast.merge_or_add_vmap_area(addr, size) == ref.lazy_merge(addr, size)
        else:
            assert fast.merge_free(addr, addr + size) == ref.merge_free(addr, addr + size)
    assert_same(fast, ref, "drained")
    assert fast.nr_lazy == 0 and fast.nr_unlinked == 0

