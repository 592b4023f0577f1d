"""The allocator interface every policy shares (issue 2): argument checks,
the kernel's "nonexistent vm area" error, check() catching corruption, and
initial_busy (vmalloc_init's early areas) being honoured.

``WHOLE``: the policies whose ``alloc`` / ``free`` are whole operations (an
area is busy after ``alloc`` and free again after ``free``).  split-tree's
``alloc`` is the free-tree half (the busy insert is ``insert_vmap_area``) and
vmap-nodes' ``free`` makes an area lazy: their own tests
(test_split_tree.py, test_vmap_nodes.py) cover those paths.  Free blocks are
compared inside [VS, VE): from 5.2 on the free tree covers the whole address
space (vmap_init_free_space)."""

from __future__ import annotations

import pytest

from simulator.allocators import ALLOCATORS, InvariantError, NonexistentAreaError, create
from simulator.allocators.base import Steps

from ref_busy_list import gaps

VS = 0x10000000
VE = VS + 256 * 4096
P = 4096


WHOLE = ("busy-list", "free-list", "augmented-tree")


def inside(blocks, lo: int = VS, hi: int = VE) -> list[tuple[int, int]]:
    """Free blocks clipped to [lo, hi), empty ones dropped."""
    out = [(max(s, lo), min(e, hi)) for s, e in blocks]
    return [(s, e) for s, e in out if e > s]


@pytest.fixture(params=ALLOCATORS)
def policy(request) -> str:
    return request.param


def test_registered_names() -> None:
    assert set(ALLOCATORS) == {"busy-list", "free-list", "augmented-tree", "split-tree",
                               "split-tree-5.10", "vmap-nodes"}
    with pytest.raises(ValueError, match="unknown allocator 'first-fit'.*busy-list"):
        create("first-fit", vstart=VS, vend=VE)


@pytest.mark.parametrize("size", [0, -P, 1, P - 1, P + 1, 3 * P // 2, 4096.0, "4096", True, None])
def test_size_must_be_a_positive_page_multiple(policy: str, size) -> None:
    a = create(policy, vstart=VS, vend=VE)
    with pytest.raises(ValueError, match="size"):
        a.alloc(size)
    assert a.busy_areas() == []


def test_size_page_multiple_of_the_configured_page_size(policy: str) -> None:
    a = create(policy, vstart=VS, vend=VE, page_size=16384)
    with pytest.raises(ValueError, match="16384"):
        a.alloc(4096)
    assert a.alloc(16384).addr == VS


@pytest.mark.parametrize("align", [0, -1, 3, 6, 4095, 12288, 1.0, None, 1 << 64])
def test_align_must_be_a_power_of_two(policy: str, align) -> None:
    a = create(policy, vstart=VS, vend=VE)
    with pytest.raises(ValueError, match="align"):
        a.alloc(P, align)


@pytest.mark.parametrize("vstart,vend", [
    (VS + 8 * P, VS + 8 * P),          # vend == vstart
    (VS + 8 * P, VS + 4 * P),          # vend < vstart
    (VS - P, VE),                      # below the range
    (VS, VE + P),                      # above the range
    (VE, VE + 8 * P),                  # wholly outside
])
def test_sub_range_must_be_a_non_empty_part_of_the_range(policy: str, vstart: int, vend: int) -> None:
    a = create(policy, vstart=VS, vend=VE)
    with pytest.raises(ValueError, match="vstart, vend"):
        a.alloc(P, 1, vstart, vend)


@pytest.mark.parametrize("kwargs", [
    dict(vstart=VS, vend=VS),
    dict(vstart=VE, vend=VS),
    dict(vstart=VS + 1, vend=VE),
    dict(vstart=VS, vend=VE, vmalloc_start=VS - P),
    dict(vstart=VS, vend=VE, vmalloc_start=VS + P, vmalloc_end=VS + P),
    dict(vstart=VS, vend=VE, initial_busy=[(VS, VS + 100)]),
    dict(vstart=VS, vend=VE, initial_busy=[(VS, VS + 2 * P), (VS + P, VS + 3 * P)]),
    dict(vstart=VS, vend=VE, initial_busy=[(VE - P, VE + P)]),
])
def test_create_rejects_bad_ranges(policy: str, kwargs) -> None:
    with pytest.raises(ValueError):
        create(policy, **kwargs)


@pytest.mark.parametrize("policy", WHOLE)
def test_free_of_a_nonexistent_area(policy: str) -> None:
    a = create(policy, vstart=VS, vend=VE)
    addr = a.alloc(4 * P).addr
    assert addr == VS
    for bad in (VS + 64 * P, addr + P, addr - P, addr + 1):
        with pytest.raises(NonexistentAreaError, match=r"Trying to vfree\(\) nonexistent vm area") as info:
            a.free(bad)
        assert hex(bad) in str(info.value)
    a.check()
    a.free(addr)
    with pytest.raises(NonexistentAreaError, match="nonexistent vm area"):
        a.free(addr)                                      # double free
    a.check()
    assert a.busy_areas() == [] and inside(a.free_blocks()) == [(VS, VE)]


def test_failure_leaves_the_state_alone(policy: str) -> None:
    a = create(policy, vstart=VS, vend=VS + 8 * P)
    assert a.alloc(6 * P).addr == VS
    before = (a.busy_areas(), a.free_blocks())
    r = a.alloc(4 * P)
    assert r.addr is None and r.steps is not None
    assert (a.busy_areas(), a.free_blocks()) == before
    a.check()


INITIAL = [(VS, VS + 3 * P), (VS + 5 * P, VS + 6 * P), (VS + 100 * P, VS + 200 * P)]


@pytest.mark.parametrize("policy", WHOLE)
def test_initial_busy_is_honoured(policy: str) -> None:
    ve = VS + 512 * P
    a = create(policy, vstart=VS, vend=ve, initial_busy=list(reversed(INITIAL)))
    a.check()
    assert a.busy_areas() == INITIAL
    assert inside(a.free_blocks(), VS, ve) == gaps(INITIAL, VS, ve) == [
        (VS + 3 * P, VS + 5 * P), (VS + 6 * P, VS + 100 * P), (VS + 200 * P, ve)]
    assert a.nr_busy == 3 and a.nr_free_blocks == 3
    assert a.total_free_bytes() == (512 - 3 - 1 - 100) * P
    assert a.largest_free_bytes() == 312 * P
    a.check()

    def fresh():
        return create(policy, vstart=VS, vend=ve, initial_busy=INITIAL)
    # first allocations (no cache yet in any policy) take the lowest fit around them
    assert fresh().alloc(2 * P).addr == VS + 3 * P           # the 2-page hole, exactly
    assert fresh().alloc(95 * P).addr == VS + 200 * P        # too big for [6, 100)
    assert fresh().alloc(94 * P, 1, VS, VS + 100 * P).addr == VS + 6 * P
    assert fresh().alloc(95 * P, 1, VS, VS + 200 * P).addr is None
    # an early area can be freed like any other
    a.free(VS + 100 * P)
    a.check()
    assert a.busy_areas() == INITIAL[:2]
    assert a.alloc(194 * P, 1, VS, VS + 200 * P).addr == VS + 6 * P


def test_busy_list_keeps_its_cache_above_an_exact_hole() -> None:
    """4.19 drops the cache only if size < cached_hole_size (strict): after a
    walk that skipped the 94-page hole [6, 100), a 94-page request starts from
    the cached area at 200 and, limited to vend = 100, fails; the
    free-block policies find the hole."""
    ve = VS + 512 * P
    for policy, expect in (("busy-list", None), ("free-list", VS + 6 * P),
                           ("augmented-tree", VS + 6 * P)):
        a = create(policy, vstart=VS, vend=ve, initial_busy=INITIAL)
        assert a.alloc(2 * P).addr == VS + 3 * P
        assert a.alloc(95 * P).addr == VS + 200 * P
        assert a.alloc(94 * P, 1, VS, VS + 100 * P).addr == expect, policy
        # 93 pages < cached_hole_size: busy-list drops its cache and walks from
        # VS into the hole; the others have filled it with the 94 pages.
        expect93 = VS + 6 * P if policy == "busy-list" else None
        assert a.alloc(93 * P, 1, VS, VS + 100 * P).addr == expect93, policy
        a.check()


# --------------------------------------------------------- check() catches corruption
def _corruptions(policy: str):
    """Ways to break each policy's state behind its back (test-only knowledge of
    the internals); each must make check() raise InvariantError."""
    def busy_bytes(a):
        if hasattr(a, "_busy_bytes"):
            a._busy_bytes += P
        else:                                           # the modelled busy tree (5.2+)
            a._busy[VS + 17 * P] = VS + 18 * P          # busy behind the free tree's back

    if policy in ("busy-list", "free-list"):
        def stale_cache(a):
            a.free_vmap_cache = VS + 17 * P             # not the start of a busy area

        def stale_gap(a):
            seq = a.vmap_area_list
            c = seq.first_cursor()
            seq.set_val(*c, seq.val(*c) + P)            # gap before the first area

        def red_root(a):
            a.vmap_area_root.rb_node.color = 0          # RB_RED: the root must be black
        out = [busy_bytes, stale_cache, red_root]
        if policy == "busy-list":
            out.append(stale_gap)
        if policy == "free-list":
            def phantom_busy(a):
                s = max(a.free_blocks(), key=lambda b: b[1] - b[0])[0]
                a._insert_vmap_area(s, s + P, Steps())  # busy behind the free list's back

            def stale_chunk(a):
                a.last_free_va_chunk = VS + 17 * P      # not the start of a free block

            def shrink_free_block(a):
                fl = a.free_vmap_area_list
                c = fl.first_cursor()
                fl.set_end(*c, fl.end(*c) - P)          # a hole nobody owns
                fl.set_val(*c, fl.end(*c) - fl.start(*c))
            out += [phantom_busy, stale_chunk, shrink_free_block]
        return out

    def subtree_max(a):
        a._root.rb_node.subtree_max_size += P

    def shrink_free_block(a):
        a._root.rb_node.va_end -= P

    return [busy_bytes, subtree_max, shrink_free_block]


@pytest.mark.parametrize("policy", WHOLE)
def test_check_raises_on_corrupted_state(policy: str) -> None:
    for corrupt in _corruptions(policy):
        a = create(policy, vstart=VS, vend=VE, initial_busy=[(VS + 8 * P, VS + 9 * P)])
        addrs = [a.alloc(P).addr for _ in range(4)]
        a.free(addrs[1])
        a.check()                                       # sane before
        corrupt(a)
        with pytest.raises(InvariantError):
            a.check()


@pytest.mark.parametrize("name", ["busy-list", "free-list", "augmented-tree", "split-tree",
                                  "split-tree-5.10"])
def test_nr_busy_is_a_counter_that_check_recounts(name: str) -> None:
    # nr_busy is kept as a counter (the generations read it before every op):
    # after a churn it equals the busy areas, and check() catches it stale
    a = create(name, vstart=VS, vend=VE, initial_busy=[(VS + 8 * P, VS + 9 * P)])
    addrs = [a.alloc(P).addr for _ in range(6)]
    if name.startswith("split-tree"):                   # the busy insert is its own step
        for x in addrs:
            a.insert_vmap_area(x, P)
    for x in addrs[::2]:
        (a.free if not name.startswith("split-tree") else a.unlink_vmap_area)(x)
    assert a.nr_busy == 1 + 3
    a.check()
    a.nr_busy += 1
    with pytest.raises(InvariantError, match="nr_busy"):
        a.check()


def test_nr_free_objects_counts_the_walked_free_structure() -> None:
    # the cost model prices Steps.free_nodes by the free structure's size: the
    # whole free tree for augmented-tree (modules range too), the free list for
    # free-list, nothing for busy-list
    P = 4096
    base = 0x10000000
    kw = dict(vmalloc_start=base + 64 * P, vmalloc_end=base + 128 * P)
    for name in WHOLE:
        a = create(name, base, base + 128 * P, **kw)
        vms = base + 64 * P
        a.alloc(2 * P, 1, base + 2 * P, vms)               # a modules-like request
        a.alloc(2 * P, 1, vms)
        r = a.alloc(2 * P, 1, vms)
        a.alloc(2 * P, 1, vms)
        a.free(r.addr)                                     # a hole in the vmalloc range
        whole = len(a.free_blocks())
        if name == "busy-list":
            assert a.nr_free_objects == 0
        elif name == "free-list":
            assert a.nr_free_objects == a.nr_free_blocks == 2
        else:
            # the whole-space tree: [1, base + 2P), the hole, [.., 2^64 - 1) around the range
            assert a.nr_free_objects == whole == 4 and a.nr_free_blocks == 2


def test_every_policy_satisfies_the_protocol() -> None:
    from simulator.allocators.base import VmapPolicy
    for name in ALLOCATORS:
        a = create(name, vstart=VS, vend=VE)
        assert isinstance(a, VmapPolicy), name
        s = a.find_vmap_area(VS)                       # counted, changes nothing
        assert isinstance(s, Steps) and a.busy_areas() == []

    class Half:                                        # negative control
        def alloc(self, size, align=1, vstart=None, vend=None): ...
    assert not isinstance(Half(), VmapPolicy)


def test_steps_fields_are_its_declared_fields_and_start_zeroed() -> None:
    """FIELDS, the slots and the declared fields are the same names in the same
    order; a new Steps counts nothing, whatever was written to an earlier one; a
    name that is not a field cannot be written (slots)."""
    declared = tuple(k for k in Steps.__annotations__ if k != "FIELDS")
    assert Steps.FIELDS == declared == Steps.__slots__
    with pytest.raises(AttributeError):
        Steps().list_node = 1                           # type: ignore[attr-defined]  # a typo
    used = Steps()
    for name in Steps.FIELDS:
        setattr(used, name, "NE" if name == "fit" else 7)
    fresh = Steps().as_dict()
    assert fresh == {name: (None if name == "fit" else 0) for name in Steps.FIELDS}
    assert used != Steps() and used.as_dict()["merges"] == 7


def test_add_steps_adds_every_field_of_steps() -> None:
    # add_steps is written out field by field (a hot path): every field of
    # Steps.FIELDS must be in it, summed (fit: the added part's, when it has one)
    from simulator.allocators.base import add_steps
    ints = [f for f in Steps.FIELDS if f != "fit"]
    dst, src = Steps(), Steps()
    for k, name in enumerate(ints):
        setattr(dst, name, 1000 * (k + 1))
        setattr(src, name, k + 1)
    src.fit = "NE"
    out = add_steps(dst, src)
    assert out is dst
    assert {n: getattr(dst, n) for n in ints} == {n: 1001 * (k + 1) for k, n in enumerate(ints)}
    assert dst.fit == "NE"
    add_steps(dst, Steps())                     # a part without a fit keeps the fit
    assert dst.fit == "NE"
