"""A brute-force oracle: the lowest-address fit.

The oracle knows nothing of the policies: it keeps its own copy of the busy
areas (added on each successful alloc, removed on each free) and tries every
candidate address ``vstart <= a``, ``a % align == 0``, ``a + size <= vend``
in increasing order until ``[a, a + size)`` overlaps no busy area.

What the kernel code promises, and so what is asserted:

* free-list (the RFC) and augmented-tree (Linux 5.2) return the lowest fit
  for align = 1.  Sizes and addresses are page multiples, so any align <= page
  size is the same request; the RFC walk checks the real aligned start, so it
  is asserted for free-list with every align <= page size too, and in fact
  for every align (see test_free_list_lowest_fit_any_align).  Linux 5.2's
  ``find_vmap_lowest_match`` filters subtrees by ``length = size + align - 1``,
  which for 1 < align <= page can skip an exactly fitting lower block, so
  augmented-tree is only held to align = 1.
* busy-list (Linux 4.19) returns the lowest fit, for any align, whenever its
  cache is dropped (the search then walks the busy list from vstart).  When
  that happens is decided with the literal reference model's cache globals
  (kernel-notes section 1), run in lockstep; a fresh allocator (no cache) is
  also checked on random initial layouts.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.allocators import create
from simulator.allocators.base import make_range

from ref_busy_list import ALIGN, RefBusyList
from strategies import PAGE, profile_settings

#: every case below runs on small ranges so that the brute force stays cheap
ORACLE_SETTINGS = profile_settings(max_examples=min(1000, profile_settings().max_examples))


def lowest_fit(busy: list[tuple[int, int]], size: int, align: int, vstart: int, vend: int) -> int | None:
    """Brute force: the lowest aligned a >= vstart with [a, a+size) free and a+size <= vend.

    Every candidate is tried in increasing order.  As vstart and every busy
    boundary are page multiples, the lowest fit is a page multiple, so
    candidates step by max(align, PAGE) (for align < PAGE that skips only
    addresses that cannot be the lowest fit)."""
    step = max(align, PAGE)
    a = -(-vstart // step) * step
    while a + size <= vend:
        if all(a + size <= s or e <= a for s, e in busy):
            return a
        a += step
    return None


class Oracle:
    """The busy areas as the oracle sees them (from the ops, not the allocator)."""

    def __init__(self, initial: list[tuple[int, int]]) -> None:
        self.busy: dict[int, int] = dict(initial)

    def lowest_fit(self, size: int, align: int, vstart: int, vend: int) -> int | None:
        return lowest_fit(sorted(self.busy.items()), size, align, vstart, vend)


@st.composite
def small_layouts(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, int]]]:
    base = draw(st.sampled_from([PAGE, 0x10000000, 0xffffc90000000000]))
    npages = draw(st.integers(4, 128))
    cuts = sorted(set(draw(st.lists(st.integers(0, npages), max_size=12))))
    initial = [(base + s * PAGE, base + e * PAGE) for s, e in zip(cuts[0::2], cuts[1::2]) if e > s]
    return base, base + npages * PAGE, initial


@st.composite
def oracle_cases(draw: st.DrawFn, aligns: st.SearchStrategy[int]):
    vs, ve, initial = draw(small_layouts())
    npages = (ve - vs) // PAGE

    def one_op():
        sub = st.tuples(st.integers(0, npages - 1), st.integers(1, npages)).map(
            lambda t: (vs + min(t[0], t[1] - 1) * PAGE, vs + max(t[1], t[0] + 1) * PAGE))
        region = st.one_of(st.just((None, None)), sub)
        alloc = st.tuples(st.just("alloc"), st.integers(1, max(1, npages // 3)).map(lambda n: n * PAGE),
                          aligns, region)
        return st.one_of(alloc, alloc, st.tuples(st.just("free"), st.integers(0, 1 << 16)))

    ops = draw(st.lists(one_op(), min_size=1, max_size=40))
    return vs, ve, initial, ops


def _run(policy: str, case, ref: RefBusyList | None = None) -> int:
    """Run ``case`` on ``policy`` and assert the lowest fit on every alloc, or,
    with ``ref`` (the busy-list reference, run in lockstep), on every alloc
    that drops the 4.19 cache.  Returns the number of allocs checked."""
    vs, ve, initial, ops = case
    a = create(policy, vstart=vs, vend=ve, initial_busy=initial)
    oracle = Oracle(initial)
    live: list[int] = []
    checked = 0
    for n, op in enumerate(ops):
        if op[0] == "alloc":
            _, size, align, (rvs, rve) = op
            rvs = vs if rvs is None else rvs
            rve = ve if rve is None else rve
            expect = oracle.lowest_fit(size, align, rvs, rve)
            assert_it = True
            if ref is not None:
                assert_it = cache_dropped(ref, size, align, rvs)
                ref.alloc(size, align, rvs, rve)
            got = a.alloc(size, align, rvs, rve).addr
            if assert_it:
                checked += 1
                assert got == expect, (f"op {n} {op}: {policy} returned "
                                       f"{None if got is None else hex(got)}, lowest fit "
                                       f"{None if expect is None else hex(expect)}")
            if got is not None:
                assert got % align == 0 and rvs <= got and got + size <= rve
                oracle.busy[got] = got + size
                live.append(got)
        elif live:
            addr = live.pop(op[1] % len(live))
            a.free(addr)
            if ref is not None:
                ref.free(addr)
            del oracle.busy[addr]
    return checked


def cache_dropped(ref: RefBusyList, size: int, align: int, vstart: int) -> bool:
    """Will 4.19's alloc_vmap_area search from vstart?  Kernel-notes section 1,
    step 1 (the four drop conditions), and step 3's ``addr < vstart: goto nocache``."""
    return (ref.free_vmap_cache is None or size < ref.cached_hole_size
            or vstart < ref.cached_vstart or align < ref.cached_align
            or ALIGN(ref.free_vmap_cache.va_end, align, ref.mask) < vstart)


@pytest.mark.parametrize("policy", ["free-list", "augmented-tree"])
@ORACLE_SETTINGS
@given(case=oracle_cases(st.just(1)))
def test_lowest_fit_align_1(policy: str, case) -> None:
    _run(policy, case)


@ORACLE_SETTINGS
@given(case=oracle_cases(st.integers(0, 12).map(lambda k: 1 << k)))
def test_free_list_lowest_fit_align_up_to_page(case) -> None:
    _run("free-list", case)


@ORACLE_SETTINGS
@given(case=oracle_cases(st.integers(0, 18).map(lambda k: 1 << k)))
def test_free_list_lowest_fit_any_align(case) -> None:
    """Stronger, and true of the RFC: it tries the aligned start in every block
    it walks, and it starts above the head only when every block below
    ``last_free_va_chunk`` was walked (since the last restart) and found
    smaller than ``size`` (``size <= free_va_max_size`` restarts), for a
    vstart and an align no lower than those of that walk."""
    _run("free-list", case)


@ORACLE_SETTINGS
@given(case=oracle_cases(st.integers(0, 16).map(lambda k: 1 << k)))
def test_busy_list_lowest_fit_when_cache_dropped(case) -> None:
    vs, ve, initial, _ = case
    checked = _run("busy-list", case, ref=RefBusyList(make_range(vs, ve), initial))
    assert checked >= 1 or not any(op[0] == "alloc" for op in case[3])  # the first alloc has no cache


@pytest.mark.parametrize("policy", ["busy-list", "free-list", "augmented-tree"])
@ORACLE_SETTINGS
@given(layout=small_layouts(), size_pages=st.integers(1, 40),
       align=st.integers(0, 22).map(lambda k: 1 << k),
       sub=st.tuples(st.integers(0, 127), st.integers(1, 128)))
def test_fresh_allocator_lowest_fit(policy: str, layout, size_pages: int, align: int, sub) -> None:
    """No cache yet: busy-list walks from vstart; the others search from the lowest block."""
    vs, ve, initial = layout
    npages = (ve - vs) // PAGE
    lo, hi = min(sub[0], npages - 1), min(max(sub[1], sub[0] + 1), npages)
    rvs, rve = vs + lo * PAGE, vs + hi * PAGE
    if policy == "augmented-tree" and align > 1:
        align = 1                  # the 5.2 length filter is only exact for align = 1
    a = create(policy, vstart=vs, vend=ve, initial_busy=initial)
    expect = lowest_fit(initial, size_pages * PAGE, align, rvs, rve)
    assert a.alloc(size_pages * PAGE, align, rvs, rve).addr == expect


def test_oracle_itself() -> None:
    """The oracle on a hand-made layout (so a broken oracle cannot pass silently)."""
    busy = [(0x1000, 0x3000), (0x4000, 0x5000), (0x8000, 0x9000)]
    assert lowest_fit(busy, 0x1000, 1, 0x0, 0x10000) == 0x0
    assert lowest_fit(busy, 0x1000, 1, 0x1000, 0x10000) == 0x3000
    assert lowest_fit(busy, 0x2000, 1, 0x1000, 0x10000) == 0x5000
    assert lowest_fit(busy, 0x1000, 0x4000, 0x1000, 0x10000) == 0xc000
    assert lowest_fit(busy, 0x3000, 1, 0x1000, 0x8000) == 0x5000
    assert lowest_fit(busy, 0x4000, 1, 0x1000, 0x8000) is None
