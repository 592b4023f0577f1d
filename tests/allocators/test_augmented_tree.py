"""augmented-tree (Linux 5.2): fits, merges, the length rule, failures, overflow, check().

Expected Steps are worked out by hand from mm/vmalloc.c (the derivation is in
each test's comments); the differential property test at the end runs the
fast policy against the literal model in ref_augmented_tree.py.

The kernel's free tree covers the whole address space [1, ULONG_MAX) minus
the early busy areas.  So that the hand derivations stay small, ``mk``
builds the allocator over [0, 2**word_bits) with two "guard" busy areas,
[0, base) and [base + npages pages, 2**word_bits): the free tree is then
exactly the blocks of [base, base + npages pages), and the busy tree holds
the two guards too (tree_depth counts them).  test_whole_space_free_tree
checks the unguarded layout.
"""

from __future__ import annotations

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from simulator.allocators.augmented_tree import AugmentedTreeAllocator, VmapArea
from simulator.allocators.base import InvariantError, NonexistentAreaError, make_range, tree_depth

from ref_augmented_tree import RefAugmentedTree
from strategies import profile_settings
from tree_helpers import BASE, P, pages, steps, tree_shape


def guards(npages: int, base: int, word_bits: int) -> list[tuple[int, int]]:
    top = 1 << word_bits
    return [(s, e) for s, e in ((0, base), (base + npages * P, top)) if e > s]


def mk(npages: int, busy_pages=(), base: int = BASE, word_bits: int = 64) -> AugmentedTreeAllocator:
    rng = make_range(0, 1 << word_bits, base, base + npages * P, word_bits=word_bits)
    busy = [(base + s * P, base + e * P) for s, e in busy_pages]
    return AugmentedTreeAllocator(rng, sorted(busy + guards(npages, base, word_bits)))


# ------------------------------------------------------------------- fits
def test_le_fit():
    a = mk(8)
    r = a.alloc(P)
    assert r.addr == BASE
    # find: the root block is examined (1 node) and fits; busy tree = the two
    # guards: tree_depth(2) = 2; propagate from the shrunk root: 1 compute.
    steps(r.steps, tree_nodes=1 + 2, free_nodes=1, tree_inserts=1, augment_updates=1, fit="LE")
    assert pages(a.free_blocks()) == [(1, 8)] and pages(a.busy_areas()) == [(0, 1)]
    a.check()


def test_fl_fit():
    a = mk(4)
    r = a.alloc(4 * P)
    assert r.addr == BASE
    # unlink_va of the lone root: rb_erase case 1 with no child, parent NULL:
    # no rebalance, propagate(NULL, NULL) computes nothing.
    steps(r.steps, tree_nodes=1 + 2, free_nodes=1, tree_inserts=1, tree_erases=1, fit="FL", objects_freed=1)
    assert a.free_blocks() == [] and a.nr_free_blocks == 0 and a.largest_free_bytes() == 0
    a.check()


def test_re_fit():
    a = mk(8)
    r = a.alloc(2 * P, vstart=BASE + 6 * P)
    assert r.addr == BASE + 6 * P
    steps(r.steps, tree_nodes=1 + 2, free_nodes=1, tree_inserts=1, augment_updates=1, fit="RE")
    assert pages(a.free_blocks()) == [(0, 6)]
    a.check()


def test_ne_fit_left_remainder_is_the_new_object():
    a = mk(8)
    root_before = a._root.rb_node
    r = a.alloc(P, vstart=BASE + 2 * P)
    assert r.addr == BASE + 2 * P
    # va keeps the right part [3, 8) and stays the root; lva = [0, 2) is
    # linked from va's node (1 node examined: va, whose left is empty) as its
    # left child (black parent: no rotation).  augment: propagate(va) = 1;
    # propagate(lva) = 2 (lva 0 -> 2P changed; va still 5P: stop).
    steps(r.steps, tree_nodes=1 + 2 + 1, free_nodes=1 + 1, tree_inserts=2, augment_updates=3, fit="NE",
          objects_allocated=1)
    assert a._root.rb_node is root_before
    assert (root_before.va_start, root_before.va_end) == (BASE + 3 * P, BASE + 8 * P)
    assert (root_before.left.va_start, root_before.left.va_end) == (BASE, BASE + 2 * P)
    assert pages(a.free_blocks()) == [(0, 2), (3, 8)]
    a.check()


def test_alignment_gives_ne_then_re():
    a = mk(64)
    r = a.alloc(P, align=16 * P)
    assert r.addr == BASE  # BASE is 64 KiB aligned
    r = a.alloc(P, align=16 * P)
    assert r.addr == BASE + 16 * P and r.steps.fit == "NE"
    a.check()


# ----------------------------------------------------------------- merges
def _three_busy():
    a = mk(8)
    for _ in range(3):
        a.alloc(P)
    return a   # busy [0,1) [1,2) [2,3); free [3, 8) is the root


def test_free_without_merge_inserts_a_block():
    a = _three_busy()
    s = a.free(BASE + P)
    # find_va_links from the root [3,8): [1,2) goes left, empty: 1 node.
    # next = root, 3 != 2; prev = head.  link_va + propagate: 0->P changed,
    # root unchanged: 2 computes.
    steps(s, tree_nodes=1, free_nodes=1, tree_inserts=1, tree_erases=1, augment_updates=2)
    assert pages(a.free_blocks()) == [(1, 2), (3, 8)]
    a.check()


def test_free_merges_with_next_and_prev():
    a = _three_busy()
    a.free(BASE + P)                      # blocks [1,2) (left child) and [3,8) (root)
    s = a.free(BASE + 2 * P)
    # find_va_links: root [3,8) -> left [1,2) -> right, empty: 2 nodes.
    # next = [3,8): merge -> [2,8), propagate(root): 6P != 5P, no parent: 1.
    # prev = [1,2): merge -> [1,8), propagate: [1,8) 7P != P, root 7P != 6P: 2.
    # unlink_va([2,8)) (the root, only a left child): no rebalance, propagate
    # from NULL: 0.  Two structs freed.
    steps(s, tree_nodes=2, free_nodes=2, tree_erases=2, augment_updates=3, merges=2, objects_freed=2)
    assert pages(a.free_blocks()) == [(1, 8)]
    a.check()
    s = a.free(BASE)
    # only next: [1,8) -> [0,8); propagate 1 compute.
    steps(s, tree_nodes=1, free_nodes=1, tree_erases=1, augment_updates=1, merges=1, objects_freed=1)
    assert pages(a.free_blocks()) == [(0, 8)]
    a.check()


def test_free_merges_with_prev_only():
    a = _three_busy()
    a.free(BASE)                          # [0,1) becomes the root's left child
    s = a.free(BASE + P)
    # find_va_links: root [3,8) -> left [0,1) -> right, empty: 2 nodes.
    # next = root (3 != 2); prev = [0,1): merge -> [0,2); propagate 2P != P,
    # then root 5P unchanged: 2 computes.
    steps(s, tree_nodes=2, free_nodes=2, tree_erases=1, augment_updates=2, merges=1, objects_freed=1)
    assert pages(a.free_blocks()) == [(0, 2), (3, 8)]
    a.check()


# --------------------------------------------------------- the length rule
# Seven free blocks inserted in ascending order give the tree
#     B2(B1, B4(B3, B6(B5, B7)))                    (see test_rbtree)
# B1 = [4, 8) is exactly 4 pages and 16 KiB aligned; the others are 1 page,
# except B5 = [15, 23) (8 pages).
SEVEN_BUSY = [(0, 4), (8, 9), (10, 11), (12, 13), (14, 15), (23, 24), (25, 26), (27, 28)]


def test_length_rule_skips_an_exact_aligned_block_off_the_path():
    a = mk(28, SEVEN_BUSY)
    assert pages(a.free_blocks()) == [(4, 8), (9, 10), (11, 12), (13, 14), (15, 23), (24, 25), (26, 27)]
    assert a._root.rb_node.va_start == BASE + 9 * P
    r = a.alloc(4 * P, align=4 * P)
    # length = 4P + 4P - 1 > 4P = max(B1): the descent does not enter B1.
    # B2 (no fit) -> right B4 (left max P; no fit) -> right B6 (left max 8P,
    # vstart < B6) -> left B5: fits at ALIGN(15 pages) = 16 pages.  4 nodes;
    # busy tree of 8 areas + 2 guards: tree_depth(10) = 4; lva [15,16) linked from B5: 1.
    assert r.addr == BASE + 16 * P           # the lowest fit would be BASE + 4 pages
    assert r.steps.fit == "NE"
    assert r.steps.tree_nodes == 4 + tree_depth(8 + 2) + 1
    a.check()


def test_length_rule_accepts_an_exact_aligned_block_on_the_path():
    busy = [(0, 4), (5, 8), (12, 13), (14, 15), (23, 24), (25, 26), (27, 28)]
    # free: [4,5) [8,12) [13,14) [15,23) [24,25) [26,27): root is the 2nd block [8,12)
    a = mk(28, busy)
    assert a._root.rb_node.va_start == BASE + 8 * P
    r = a.alloc(4 * P, align=4 * P)
    # the root is examined first and is_within_this_va accepts it, although
    # its size (4P) is below length (8P - 1).
    assert r.addr == BASE + 8 * P
    # FL: rb_erase_augmented of the root (tree 2B(1B, 4r(3B, 5B(-, 6r)))): the
    # successor 3 is leftmost under 4: propagate(4, 3) stops at once (1);
    # propagate(3, NULL): 3 holds the copied 8P, unchanged (1); 3 was black
    # with no child: rebalance at 4, sibling 5 black with red right child:
    # case 4, rotate(4, 5) computes 4 (1).  Total 3.
    steps(r.steps, tree_nodes=1 + tree_depth(7 + 2), free_nodes=1, tree_inserts=1, tree_erases=1, fit="FL",
          objects_freed=1, augment_updates=3)
    a.check()


def test_align_one_is_the_lowest_fit():
    a = mk(28, SEVEN_BUSY)
    r = a.alloc(4 * P)
    # length = 4P = max(B1): go left from B2 to B1 (2 nodes); FL.
    assert r.addr == BASE + 4 * P and r.steps.fit == "FL"
    assert r.steps.tree_nodes == 2 + tree_depth(8 + 2)


# --------------------------------------------------------------- failures
def test_failure_leaves_state_unchanged():
    a = mk(16, [(4, 5), (9, 10)])
    blocks, busy = a.free_blocks(), a.busy_areas()
    r = a.alloc(6 * P)                       # the largest block is 6 pages: [10,16)
    assert r.addr == BASE + 10 * P
    a.free(r.addr)
    r = a.alloc(7 * P)
    assert r.addr is None and r.steps.fit is None
    # free tree [0,4) [5,9) [10,16): root [5,9); its left max 4P < 7P, it does
    # not fit, right max 6P < 7P; climb: no parent.  1 node, nothing else.
    steps(r.steps, tree_nodes=1, free_nodes=1)
    assert a.free_blocks() == blocks and a.busy_areas() == busy
    a.check()


def test_vend_restriction_fails_after_the_search():
    a = mk(16)
    r = a.alloc(4 * P, vstart=BASE, vend=BASE + 3 * P)
    # find_vmap_lowest_match ignores vend: it returns [0,16) (1 node); then
    # nva + size > vend -> overflow path.
    assert r.addr is None
    steps(r.steps, tree_nodes=1, free_nodes=1)
    assert pages(a.free_blocks()) == [(0, 16)]


def test_free_of_unknown_address():
    a = mk(8)
    r = a.alloc(P)
    with pytest.raises(NonexistentAreaError):
        a.free(r.addr + P)
    a.free(r.addr)
    with pytest.raises(NonexistentAreaError, match="nonexistent vm area"):
        a.free(r.addr)


@pytest.mark.parametrize("size,align", [(0, 1), (100, 1), (P, 3), (P, 0), (-P, 1)])
def test_bad_requests(size, align):
    with pytest.raises(ValueError):
        mk(8).alloc(size, align)


# -------------------------------------------------------------- overflow
def lowest_aligned(vs: int, ve: int, size: int, align: int) -> int | None:
    a = -(-vs // align) * align
    return a if a + size <= ve else None


@pytest.mark.parametrize("base,npages,word_bits", [
    (0xffffc90000000000, 1 << 20, 64),        # x86_64 vmalloc, 4 GiB
    (0xf0800000, 240 * 256, 32),              # 32-bit ARM, 240 MiB
    ((1 << 32) - 64 * P, 64, 32),             # the top of a 32-bit space: ALIGN wraps
])
def test_align_shift_alloc(base, npages, word_bits):
    """lib/test_vmalloc.c align_shift_alloc_test: 1 page with align 1 << i."""
    a = mk(npages, base=base, word_bits=word_bits)
    ve = base + npages * P
    results = []
    for i in range(word_bits):
        r = a.alloc(P, align=1 << i)
        # one free block, no children: the root alone decides, so the answer is
        # the lowest aligned address in the range, if any (no wrap-around)
        assert r.addr == lowest_aligned(base, ve, P, 1 << i), i
        if r.addr is not None:
            a.free(r.addr)
        results.append(r.addr)
        a.check()
    assert results[-1] is None                 # fails by design at huge alignments
    assert results[0] == base


def test_align_wrap_to_zero_with_vstart_zero_fails_like_the_kernel():
    # [0, 2^32) on 32 bits; the only free block is [2^31 + P, ULONG_MAX).
    # With align 2^31, ALIGN(va_start) wraps to 0; is_within_this_va accepts
    # the block (0 + P <= va_end, 0 >= vstart); classify finds NOTHING_FIT: fail.
    rng = make_range(0, 1 << 32, word_bits=32)
    a = AugmentedTreeAllocator(rng, [(0, (1 << 31) + P)])
    r = a.alloc(P, align=1 << 31)
    assert r.addr is None
    steps(r.steps, tree_nodes=1, free_nodes=1)
    assert a.free_blocks() == [((1 << 31) + P, (1 << 32) - 1)]


# ------------------------------------------------------------ initial_busy
def test_initial_busy():
    a = mk(32, [(0, 2), (5, 6), (30, 32)])
    assert pages(a.busy_areas()) == [(0, 2), (5, 6), (30, 32)]
    assert pages(a.free_blocks()) == [(2, 5), (6, 30)]
    assert a.nr_busy == 3 + 2 and a.nr_free_blocks == 2 == a.nr_free_objects
    assert a.largest_free_bytes() == 24 * P and a.total_free_bytes() == 27 * P
    a.check()
    s = a.free(BASE + 5 * P)
    assert s.merges == 2 and pages(a.free_blocks()) == [(2, 30)]
    a.check()
    with pytest.raises(ValueError):
        mk(8, [(0, 4), (3, 5)])


# ------------------------------------------------------------------ check
def _churned():
    a = mk(64)
    addrs = [a.alloc(P * (1 + i % 3)).addr for i in range(12)]
    for x in addrs[::3]:
        a.free(x)
    a.check()
    return a


def test_check_catches_a_stale_subtree_max():
    a = _churned()
    a._root.rb_node.subtree_max_size += P
    with pytest.raises(InvariantError, match="subtree_max_size"):
        a.check()


def test_check_catches_a_red_root():
    a = _churned()
    a._root.rb_node.color = 0
    with pytest.raises(InvariantError, match="root is red"):
        a.check()


def test_check_catches_overlapping_busy_areas():
    a = _churned()
    s, e = a.busy_areas()[0]
    a._busy[s + P // 2] = e                 # overlaps
    with pytest.raises(InvariantError, match="tile"):
        a.check()


def test_check_catches_uncoalesced_blocks():
    a = _churned()
    # _churned: busy areas of 1,2,3,1,2,3... pages from 0; every third freed:
    # free [0,1) [6,7) [12,13) [18,19) [24,64); busy [19,21) follows [18,19).
    assert pages(a.free_blocks())[3] == (18, 19) and (BASE + 19 * P, BASE + 21 * P) in a.busy_areas()
    # make [19,21) free without merging: a separate, adjacent free block
    del a._busy[BASE + 19 * P]
    a.insert_vmap_area_augment(VmapArea(BASE + 19 * P, BASE + 21 * P), None)
    with pytest.raises(InvariantError, match="coalesced"):
        a.check()


def test_check_catches_a_broken_list():
    a = _churned()
    n = a._head.next
    n.next, n.next.next = n.next.next, n.next  # swap two links
    with pytest.raises(InvariantError, match="list"):
        a.check()


def _nodes(a):
    out, stack = [], [a._root.rb_node]
    while stack:
        n = stack.pop()
        if n is not None:
            out.append(n)
            stack += [n.left, n.right]
    return out


# ------------------------------------------------- differential (fast vs ref)


@st.composite
def scenario(draw):
    kind = draw(st.sampled_from(["small64", "top32", "zero32", "x86"]))
    if kind == "small64":
        word_bits, npages = 64, draw(st.integers(4, 200))
        vs = draw(st.sampled_from([P, BASE, 0xffffc90000000000]))
    elif kind == "top32":
        word_bits, npages = 32, draw(st.integers(4, 200))
        vs = (1 << 32) - (npages + draw(st.integers(0, 16))) * P
    elif kind == "zero32":
        word_bits, npages = 32, draw(st.integers(4, 200))
        vs = 0
    else:
        word_bits, npages = 64, 1 << 14           # 64 MiB
        vs = 0xffffc90000000000
    ve = vs + npages * P
    # the vmalloc range: the whole range, or a sub-range (the read-outs cover it)
    vm = draw(st.one_of(st.none(), st.tuples(st.integers(0, npages - 1), st.integers(1, npages))))
    vms, vme = (None, None) if vm is None or min(vm) == max(vm) else (vs + min(vm) * P, vs + max(vm) * P)
    cuts = sorted(set(draw(st.lists(st.integers(0, npages), max_size=10))))
    initial = [(vs + s * P, vs + e * P) for s, e in zip(cuts[0::2], cuts[1::2]) if e > s]
    region = st.tuples(st.integers(0, npages - 1), st.integers(1, npages)).map(
        lambda t: (vs + min(t) * P, vs + max(max(t), min(t) + 1) * P))
    size = st.one_of(st.integers(1, 4), st.integers(1, npages + 2), st.just(npages)).map(lambda n: n * P)
    align = st.one_of(st.just(1), st.just(P), st.integers(0, word_bits - 1).map(lambda k: 1 << k))
    alloc = st.tuples(st.just("alloc"), size, align, st.one_of(st.just(None), region))
    free = st.tuples(st.just("free"), st.integers(0, 1 << 16))
    # the tail of a current free block (vstart = its end - size): RE fits
    tail = st.tuples(st.just("tail"), st.integers(0, 1 << 16), st.integers(1, 8))
    ops = draw(st.lists(st.one_of(alloc, alloc, free, tail), min_size=1, max_size=60))
    return make_range(vs, ve, vms, vme, word_bits=word_bits), initial, ops


@profile_settings()
@given(scenario())
def test_differential_fast_vs_reference(case):
    rng, initial, ops = case
    fast, ref = AugmentedTreeAllocator(rng, initial), RefAugmentedTree(rng, initial)
    live: list[int] = []
    for op in ops:
        if op[0] in ("alloc", "tail"):
            if op[0] == "alloc":
                _, size, align, region = op
                vstart, vend = region if region else (None, None)
            else:
                # (the free blocks clipped to the range, whole pages: the
                # whole-space tree has blocks [1, vstart) and [vend, ULONG_MAX))
                blocks = [(max(s, rng.vstart), min(e, rng.vend) // P * P) for s, e in fast.free_blocks()]
                blocks = [(s, e) for s, e in blocks if e - s >= P]
                if not blocks:
                    continue
                b_start, b_end = blocks[op[1] % len(blocks)]
                size = min(op[2] * P, (b_end - b_start) // P * P)
                align, vstart, vend = 1, b_end - size, None
            rf, rr = fast.alloc(size, align, vstart, vend), ref.alloc(size, align, vstart, vend)
            assert rf.addr == rr.addr
            assert rf.steps == rr.steps, (rf.steps, rr.steps)
            event(f"fit {rf.steps.fit}")
            if rf.addr is not None:
                live.append(rf.addr)
        elif live:
            addr = live.pop(op[1] % len(live))
            assert fast.find_vmap_area(addr) == ref.find_vmap_area(addr)
            sf = fast.free(addr)
            assert sf == ref.free(addr)
            event(f"merges {sf.merges}")
        fast.check()
        ref.check()
        assert tree_shape(fast._root.rb_node) == tree_shape(ref.free_vmap_area_root.rb_node)
        assert fast.free_blocks() == ref.free_blocks() and fast.busy_areas() == ref.busy_areas()
        assert (fast.nr_busy, fast.nr_free_blocks, fast.largest_free_bytes(), fast.total_free_bytes(),
                fast.nr_free_objects) == \
               (ref.nr_busy, ref.nr_free_blocks, ref.largest_free_bytes(), ref.total_free_bytes(),
                ref.nr_free_objects)


def test_length_wrapping_to_zero_walks_like_c():
    # size = 2^32 on a 32-bit [0, 2^32): length = size + 1 - 1 wraps to 0, so every
    # get_subtree_max_size(..) >= length holds.  Busy [0,P) and [2P,3P): free
    # [P,2P) (root) and [3P, ULONG_MAX) (its right child).  vstart = P: root:
    # P < P fails, no fit (P + 2^32 overflows), right max >= 0: go right;
    # [3P, ..): P < 3P, left max(NULL) = 0 >= 0: go left to NULL.  2 nodes.
    rng = make_range(0, 1 << 32, word_bits=32)
    for cls in (AugmentedTreeAllocator, RefAugmentedTree):
        a = cls(rng, [(0, P), (2 * P, 3 * P)])
        r = a.alloc(1 << 32, vstart=P)
        assert r.addr is None
        steps(r.steps, tree_nodes=2, free_nodes=2)


def test_read_outs_cover_the_vmalloc_range():
    def mk_vm(busy):
        rng = make_range(BASE, BASE + 32 * P, BASE + 8 * P, BASE + 24 * P)
        return AugmentedTreeAllocator(rng, [(BASE + s * P, BASE + e * P) for s, e in busy])

    a = mk_vm([])
    # one block [0,32) straddles both ends: clipped [8,24)
    assert (a.nr_free_blocks, a.largest_free_bytes(), a.total_free_bytes()) == (1, 16 * P, 16 * P)
    a = mk_vm([(4, 10), (20, 22)])
    # free [0,4) [10,20) [22,32); inside [8,24): [10,20) and [22,24)
    assert (a.nr_free_blocks, a.largest_free_bytes(), a.total_free_bytes()) == (2, 10 * P, 12 * P)
    r = a.alloc(P)                            # [0,1) from [0,4): outside the vmalloc range
    assert r.addr == BASE
    assert (a.nr_free_blocks, a.largest_free_bytes(), a.total_free_bytes()) == (2, 10 * P, 12 * P)
    r = a.alloc(10 * P)                       # FL of [10,20)
    assert r.addr == BASE + 10 * P and r.steps.fit == "FL"
    assert (a.nr_free_blocks, a.largest_free_bytes(), a.total_free_bytes()) == (1, 2 * P, 2 * P)
    a.check()
    a.free(r.addr)
    a.free(BASE + 20 * P)                     # [10,32) after two merges: clipped [10,24)
    assert (a.nr_free_blocks, a.largest_free_bytes(), a.total_free_bytes()) == (1, 14 * P, 14 * P)
    a.check()


def test_whole_space_free_tree():
    # vmap_init_free_space: vmap_start = 1, vmap_end = ULONG_MAX, minus the busy
    # areas; create()'s [vstart, vend) stays the default request range.
    rng = make_range(BASE, BASE + 32 * P, BASE + 8 * P, BASE + 24 * P)
    a = AugmentedTreeAllocator(rng, [(BASE + 2 * P, BASE + 3 * P), (BASE + 30 * P, BASE + 32 * P)])
    top = (1 << 64) - 1
    assert a.free_blocks() == [(1, BASE + 2 * P), (BASE + 3 * P, BASE + 30 * P), (BASE + 32 * P, top)]
    assert a.nr_free_objects == 3
    # read-outs clipped to the vmalloc range [8, 24): one block
    assert (a.nr_free_blocks, a.largest_free_bytes(), a.total_free_bytes()) == (1, 16 * P, 16 * P)
    a.check()
    # 28 pages: the search finds [32, top) (the only block >= length above
    # vstart), then nva + size > vend fails the request
    blocks = a.free_blocks()
    assert a.alloc(28 * P).addr is None and a.free_blocks() == blocks
    # three blocks inserted in ascending order: root [3,30), children [1,2) and
    # [32,top).  2 pages: root: left max (BASE + 2P - 1) >= 2P and vstart <
    # BASE + 3P: go left; [1, BASE + 2P): nva = ALIGN(vstart) = BASE fits: RE
    # fit of the block below vstart.  propagate: the shrunk node changes (1),
    # the root does not (1); busy tree of 2: tree_depth(2) = 2.
    r = a.alloc(2 * P)
    assert r.addr == BASE
    steps(r.steps, tree_nodes=2 + 2, free_nodes=2, tree_inserts=1, augment_updates=2, fit="RE")
    assert a.free_blocks()[0] == (1, BASE)
    a.check()


def test_find_vmap_area_counts_the_busy_tree_only():
    a = mk(16)                                # 2 guard areas
    r = a.alloc(P)
    before = (a.busy_areas(), a.free_blocks())
    steps(a.find_vmap_area(r.addr), tree_nodes=tree_depth(3))
    steps(a.find_vmap_area(r.addr + P), tree_nodes=tree_depth(3))   # a miss costs the same descent
    assert (a.busy_areas(), a.free_blocks()) == before
