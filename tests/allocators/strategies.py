"""Hypothesis strategies for allocator op sequences, shared by all three policies.

A *scenario* is a :class:`Layout` (the allocator's range, its vmalloc
sub-range, an optional modules-like range, word size and initial busy areas)
plus a list of ops:

* ``("alloc", size_bytes, align, vstart, vend)``: sizes from 1 page to 16 MiB
  (biased to small sizes and to sizes near the range size, so small ranges run
  into exhaustion), alignments 1 .. 4 MiB (1, sub-page and page powers of two
  included), vstart/vend None (the allocator's range) or a sub-range;
* ``("free", k)``: free the live area number ``k % len(live)`` (skipped when
  nothing is live);
* ``("alloc_from", size_bytes, align, k, at_end)``: an alloc whose vstart is
  the start (or end) of live area ``k % len(live)``, vend the allocator's
  (VMALLOC_START for a vstart below it), resolved when the ops run.

Sizes and alignments come half the time from a per-sequence palette (so freed
holes are refilled by exact fits), and an alloc may repeat 2..24 times in a
row (a burst, palette sizes only), so that walks get long and small ranges run full.

Layout kinds: ``small`` (a range of 8..512 pages: near-exhaustion), ``arm32``
(32-bit words, a modules range below the vmalloc range, as on 32-bit ARM),
``x86_64`` (64-bit kernel addresses), ``top32`` (a 32-bit range ending just
below 2**32, so ALIGN wraps).  No range ends at 2**word_bits (not a C value).

Every policy gets the same regions: vmalloc()'s own range, sub-ranges of it,
the modules range and sub-ranges, the allocator's whole range and a random
sub-range of it.  On ``arm32`` the last two *straddle* (a vstart below
VMALLOC_START, a vend inside or at the top of the vmalloc range: the 32-bit ARM
request vstart 0xbf000000, vend 0xff800000): for ``free-list`` such a request
takes the RFC's old busy-list path over every busy area, and where it lands in
the vmalloc range the RFC would corrupt its free list, which both models
report with ``RfcFreeListCorruption`` (the sequence ends there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PAGE = 4096
MiB = 1 << 20
MAX_ALIGN_SHIFT = 22          # 4 MiB
POLICIES = ("busy-list", "free-list", "augmented-tree")

Op = tuple[Any, ...]

# --------------------------------------------------------------- profiles
settings.register_profile(
    "vmsim-ci", max_examples=2000, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
settings.register_profile(
    "vmsim-dev", max_examples=200, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])

#: The profile the allocator property tests use (env VMSIM_HYPOTHESIS_PROFILE;
#: default "vmsim-ci": 2,000 derandomized sequences per policy).
PROFILE = os.environ.get("VMSIM_HYPOTHESIS_PROFILE", "vmsim-ci")


def profile_settings(**overrides: Any) -> settings:
    """A settings decorator built on the selected profile."""
    return settings(settings.get_profile(PROFILE), **overrides)


# ----------------------------------------------------------------- layout
@dataclass(frozen=True)
class Layout:
    kind: str
    vstart: int
    vend: int
    vmalloc_start: int
    vmalloc_end: int
    word_bits: int = 64
    modules: tuple[int, int] | None = None      # [start, end) below vmalloc_start
    initial_busy: tuple[tuple[int, int], ...] = ()
    page_size: int = PAGE
    #: (vstart, vend) pairs requests may use; (None, None) = the allocator's range
    regions: tuple[tuple[int | None, int | None], ...] = field(default=((None, None),))

    def create_kwargs(self) -> dict[str, Any]:
        return dict(vstart=self.vstart, vend=self.vend, vmalloc_start=self.vmalloc_start,
                    vmalloc_end=self.vmalloc_end, page_size=self.page_size,
                    word_bits=self.word_bits, initial_busy=list(self.initial_busy))

    def range_args(self) -> tuple[int, int, int, int, int, int]:
        """Arguments of ``simulator.allocators.base.make_range``."""
        return (self.vstart, self.vend, self.vmalloc_start, self.vmalloc_end,
                self.page_size, self.word_bits)


@st.composite
def _initial_busy(draw: st.DrawFn, regions: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """0..4 disjoint page-aligned areas, each wholly inside one of ``regions``."""
    out: list[tuple[int, int]] = []
    for lo, hi in regions:
        n = draw(st.integers(0, 2))
        npages = (hi - lo) // PAGE
        cuts = draw(st.lists(st.integers(0, npages), min_size=2 * n, max_size=2 * n))
        if n and draw(st.booleans()):   # an area at the region's start or end (RFC: empty blocks)
            cuts[draw(st.sampled_from([0, -1]))] = draw(st.sampled_from([0, npages]))
        cuts = sorted(set(cuts))
        for s, e in zip(cuts[0::2], cuts[1::2]):
            if e > s:
                out.append((lo + s * PAGE, lo + e * PAGE))
    return tuple(sorted(out))


@st.composite
def _sub_range(draw: st.DrawFn, lo: int, hi: int) -> tuple[int, int]:
    npages = (hi - lo) // PAGE
    a = draw(st.integers(0, npages - 1))
    b = draw(st.integers(a + 1, npages))
    return lo + a * PAGE, lo + b * PAGE


@st.composite
def layouts(draw: st.DrawFn, policy: str) -> Layout:
    kinds = ["small", "arm32", "x86_64", "top32"]
    kind = draw(st.sampled_from(kinds))
    if kind == "small":
        base = draw(st.sampled_from([0, PAGE, 0x10000000, 0x7fff0000, 0xffffc90000000000]))
        npages = draw(st.integers(8, 512))
        vs, ve = base, base + npages * PAGE
        vms, vme, modules = vs, ve, None
        word_bits = 64
    elif kind == "arm32":
        word_bits = 32
        modules = (0xbf000000, 0xbf000000 + draw(st.integers(1, 14)) * MiB)
        vms = 0xf0800000
        vme = vms + draw(st.sampled_from([1, 4, 16, 240])) * MiB
        vs, ve = modules[0], vme
    elif kind == "x86_64":
        word_bits = 64
        vms = 0xffffc90000000000
        vme = vms + draw(st.sampled_from([4, 64, 1024])) * MiB
        vs, ve, modules = vms, vme, None
    else:  # top32: ALIGN(va_end, align) can wrap to 0
        word_bits = 32
        ve = (1 << 32) - draw(st.integers(1, 2048)) * PAGE
        vs = ve - draw(st.sampled_from([2, 8, 32])) * MiB
        vms, vme, modules = vs, ve, None

    busy_regions = [(vms, vme)] + ([modules] if modules else [])
    if modules and modules[1] < vms and draw(st.booleans()):
        busy_regions.append((modules[1], vms))          # the gap between the two ranges
    initial = draw(_initial_busy(busy_regions))

    regions: list[tuple[int | None, int | None]] = []
    if (vs, ve) == (vms, vme):
        regions.append((None, None))
    else:
        regions.append((vms, vme))                      # vmalloc()'s own range
    regions.append(draw(_sub_range(vms, vme)))
    if modules:
        regions.append(modules)                         # module_alloc: another vstart/vend
        regions.append(draw(_sub_range(*modules)))
        # a vstart just below VMALLOC_START, vend at VMALLOC_END: straddles
        regions.append((vms - draw(st.integers(1, 16)) * PAGE, vme))
    regions.append((None, None))
    regions.append(draw(_sub_range(vs, ve)))
    return Layout(kind, vs, ve, vms, vme, word_bits, modules, initial, PAGE,
                  tuple(dict.fromkeys(regions)))


def _region_pages(layout: Layout, region: tuple[int | None, int | None]) -> int:
    lo = layout.vstart if region[0] is None else region[0]
    hi = layout.vend if region[1] is None else region[1]
    return (hi - lo) // PAGE


def _draw_pages(draw: st.DrawFn, span: int) -> int:
    """1 page .. 16 MiB, biased to small sizes and to sizes near ``span`` pages."""
    kind = draw(st.integers(0, 3))
    hi = (4, max(1, span // 16), span + 2, 0)[kind]
    if hi == 0:
        return min(span, 4096) * PAGE
    return draw(st.integers(1, hi)) * PAGE


def _draw_align(draw: st.DrawFn, max_shift: int) -> int:
    """1, the page size, or any power of two up to 2**max_shift."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return 1
    if kind == 1:
        return PAGE
    return 1 << draw(st.integers(0, max_shift))


@st.composite
def op_lists(draw: st.DrawFn, layout: Layout, max_ops: int = 60,
             max_align_shift: int = MAX_ALIGN_SHIFT) -> list[Op]:
    """Groups of ops: one alloc, a burst of one palette alloc, one free, or
    several frees.  (Flat integer draws: generation is the slow part.)"""
    span = max(1, min(64, _region_pages(layout, (None, None)) // 8))
    palette = [(draw(st.integers(1, span)) * PAGE, _draw_align(draw, min(16, max_align_shift)))
               for _ in range(draw(st.integers(1, 3)))]
    regions = layout.regions
    n = draw(st.integers(1, max_ops))
    ops: list[Op] = []
    for _ in range(n):
        kind = draw(st.integers(0, 3))
        if kind == 1 and draw(st.integers(0, 2)) == 0:
            # an alloc from the start or the end of a live area (resolved when
            # run: ``("alloc_from", size, align, k, at_end)``): vstart on the
            # boundary of abutting areas, where 4.19's descent depends on the
            # rb-tree's shape
            size, align = palette[draw(st.integers(0, len(palette) - 1))]
            ops.append(("alloc_from", size, align, draw(st.integers(0, 1 << 16)), draw(st.booleans())))
            continue
        if kind <= 1:                   # 0: one alloc, 1: a burst of a palette alloc
            vs, ve = regions[draw(st.integers(0, len(regions) - 1))]
            if kind == 1 or draw(st.booleans()):
                size, align = palette[draw(st.integers(0, len(palette) - 1))]
            else:
                size = _draw_pages(draw, max(1, min(4096, _region_pages(layout, (vs, ve)))))
                align = _draw_align(draw, max_align_shift)
            count = draw(st.integers(2, 24)) if kind == 1 else 1
            ops.extend([("alloc", size, align, vs, ve)] * count)
        else:                           # 2: one free, 3: several
            count = 1 if kind == 2 else draw(st.integers(1, 12))
            ops.extend(("free", draw(st.integers(0, 1 << 16))) for _ in range(count))
    return ops


def resolve_alloc_from(op: Op, live: list[int], busy_areas: list[tuple[int, int]],
                       layout: Layout) -> Op | None:
    """An ``("alloc_from", size, align, k, at_end)`` op as the plain
    ``("alloc", size, align, vstart, vend)`` it stands for: vstart the start
    (or, at_end, the end) of live area ``live[k % len(live)]`` (``busy_areas``
    gives the ends), vend the allocator's own (VMALLOC_START for a vstart below
    it).  Any other op is returned as it is; None when nothing is live or the
    range would be empty (the op is skipped)."""
    if op[0] != "alloc_from":
        return op
    if not live:
        return None
    _, size, align, k, at_end = op
    vs = live[k % len(live)]
    vs = dict(busy_areas)[vs] if at_end else vs
    ve = layout.vmalloc_start if vs < layout.vmalloc_start else layout.vend
    if vs >= ve:
        return None
    return ("alloc", size, align, vs, ve)


def scenarios(policy: str, max_ops: int = 60, max_align_shift: int = MAX_ALIGN_SHIFT
              ) -> st.SearchStrategy[tuple[Layout, list[Op]]]:
    """(layout, ops) pairs for ``policy`` (one of :data:`POLICIES`)."""
    return layouts(policy).flatmap(
        lambda lay: st.tuples(st.just(lay), op_lists(lay, max_ops, max_align_shift)))
