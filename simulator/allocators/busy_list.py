"""busy-list: the vmap-area allocator of Linux 4.17 / 4.19 (mm/vmalloc.c).

All busy areas (lazily freed ones included, until purge) sit in one
address-sorted rb-tree + list; there is no free-space structure, free space is
the gaps.  ``alloc_vmap_area`` starts from the cached area ``free_vmap_cache``
(or, when the cache is dropped, from a tree descent to the lowest area with
``va_end >= addr``) and walks the list until a hole fits::

    while (addr + size > first->va_start && addr + size <= vend) {
            if (addr + cached_hole_size < first->va_start)
                    cached_hole_size = first->va_start - addr;
            addr = ALIGN(first->va_end, align);
            if (addr + size < addr)
                    goto overflow;
            if (list_is_last(&first->list, &vmap_area_list))
                    goto found;
            first = list_next_entry(first, list);
    }

That walk is the O(n) cost the seed RFC removes.  This model *counts* it in
O(log n): busy areas live in an :class:`AugSeq` whose ``val`` is the gap before
each area, so "the first area whose preceding (aligned) gap fits" and "the
largest gap walked over" (``cached_hole_size``) are segment-tree queries, and
the walk length is a difference of ranks.  The literal node-by-node model is
``tests/allocators/ref_busy_list.py``; the property tests prove both agree.

Modelling notes:
- The busy tree is modelled, not kept: each descent counts
  ``tree_depth(nr_busy)`` nodes (base.py).
- The cache-drop descent returns the *lowest* area with ``va_end >= addr``.
  The kernel's descent breaks at the first area on its path with
  ``va_start <= addr <= va_end``; when ``addr`` is exactly the boundary of two
  abutting areas it may stop at the upper one, which walks one node fewer and
  returns the same address.  vmsim always takes the lower one.
- Arithmetic is unsigned ``word_bits``: ALIGN wraps, and the overflow checks
  behave as in C.
"""

from __future__ import annotations

from .augseq import AugSeq
from .base import (AllocResult, InvariantError, NonexistentAreaError, Range, Steps,
                   check_request, tree_depth)


class BusyListAllocator:
    """Linux 4.19 ``alloc_vmap_area`` / ``__free_vmap_area`` over busy areas only."""

    DESCRIPTION = ("Linux 4.17/4.19: walk the address-sorted busy list from free_vmap_cache "
                   "(O(n) when the cache is dropped)")

    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]]) -> None:
        self.range = rng
        items = []
        prev_end = rng.vstart
        for s, e in initial_busy:
            items.append((s, e, s - prev_end))
            prev_end = e
        self._busy = AugSeq(items)
        vms, vme = rng.vmalloc_start, rng.vmalloc_end
        # gaps > 0 before areas that start strictly inside the vmalloc range
        self._nz_vm = sum(1 for s, _, g in items if g > 0 and vms < s < vme)
        self._busy_bytes = sum(e - s for s, e in initial_busy)
        self._vm_busy_bytes = sum(max(0, min(e, vme) - max(s, vms)) for s, e in initial_busy)
        # The four cache globals, guarded by vmap_area_lock in the kernel.
        self._cache: int | None = None   # free_vmap_cache (start of the cached busy area)
        self._chs = 0                    # cached_hole_size
        self._cvstart = 0                # cached_vstart
        self._calign = 0                 # cached_align

    # ----------------------------------------------------------------- API
    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None) -> AllocResult:
        vstart, vend = check_request(self.range, size, align, vstart, vend)
        steps = Steps()
        addr = self._search(size, align, vstart, vend, steps)
        if addr is not None:
            self._insert_busy(addr, addr + size, steps)
            self._cache = addr          # free_vmap_cache = &va->rb_node
        return AllocResult(addr, steps)

    def free(self, addr: int) -> Steps:
        steps = Steps()
        self._erase_busy(addr, steps, old_cache_rules=True)
        steps.objects_freed += 1         # kfree_rcu(va, rcu_head)
        return steps

    # --------------------------------------------------- alloc_vmap_area()
    def _search(self, size: int, align: int, vstart: int, vend: int, steps: Steps) -> int | None:
        """The search of 4.19 ``alloc_vmap_area`` under the lock: addr or None (overflow)."""
        mask = self.range.mask
        am1 = align - 1
        seq = self._busy
        # Invalidate cache if we have more permissive parameters.
        if (self._cache is None or size < self._chs or vstart < self._cvstart
                or align < self._calign):
            self._chs = 0
            self._cache = None
        self._cvstart = vstart
        self._calign = align

        first = None
        if self._cache is not None:
            first = seq.find(self._cache)
            addr = ((seq.end(*first) + am1) & mask) & ~am1
            if addr < vstart:                       # goto nocache
                self._chs = 0
                self._cache = None
                first = None
            elif addr + size > mask:                # addr + size < addr
                return None
        if first is None:
            addr = ((vstart + am1) & mask) & ~am1
            if addr + size > mask:
                return None
            steps.tree_nodes += tree_depth(self.nr_busy)
            first = self._lowest_ending_at_or_after(addr)
            if first is None:
                return self._found(addr, size, vstart, vend)
        return self._walk(first, addr, size, align, vend, vstart, steps)

    def _lowest_ending_at_or_after(self, addr: int) -> tuple[int, int] | None:
        """The busy-tree descent: lowest area with va_end >= addr (see notes)."""
        seq = self._busy
        if not len(seq):
            return None
        cur = seq.locate_le(addr)
        if cur is None:                 # every area starts above addr
            return 0, 0
        if seq.end(*cur) >= addr:
            prev = seq.prev(*cur)
            if prev is not None and seq.end(*prev) == addr:
                return prev
            return cur
        nxt = seq.next(*cur)
        return None if seq.is_end(*nxt) else nxt

    def _walk(self, first: tuple[int, int], addr0: int, size: int, align: int,
              vend: int, vstart: int, steps: Steps) -> int | None:
        """Count the list walk from ``first`` with ``addr = addr0`` in O(log n)."""
        seq = self._busy
        mask = self.range.mask
        am1 = align - 1
        s_first = seq.start(*first)
        if not (addr0 + size > s_first and addr0 + size <= vend):
            return self._found(addr0, size, vstart, vend)
        # The body runs for `first` itself.
        if addr0 + self._chs < s_first:
            self._chs = s_first - addr0
        nxt = seq.next(*first)
        if seq.is_end(*nxt):                         # list_is_last -> found
            steps.list_nodes += 1
            return self._found(((seq.end(*first) + am1) & mask) & ~am1, size, vstart, vend)

        # p_vend: first p > first whose ALIGN(end of p-1) + size > vend,
        # i.e. end of p-1 > limit (an ALIGN that wraps also lands here).
        x = vend - size
        limit = (x // align) * align if x >= 0 else -1
        q = seq.locate_le(limit) if limit >= 0 else None
        if q is None:
            q = (0, 0)
        elif seq.end(*q) <= limit:
            q = seq.next(*q)
        if q < first:
            q = first
        p_vend = seq.next(*q) if not seq.is_end(*q) else q

        # p_fit: first p > first whose aligned preceding gap holds size.
        small_align = align <= self.range.page_size
        p_fit = None
        cur = nxt
        while True:
            cand = seq.first_ge(cur[0], cur[1], size)
            if cand is None or cand >= p_vend:
                break
            if small_align:
                p_fit = cand
                break
            pe = seq.end(*seq.prev(*cand))
            if (((pe + am1) & mask) & ~am1) + size <= seq.start(*cand):
                p_fit = cand
                break
            cur = seq.next(*cand)
        stop = p_fit if p_fit is not None and p_fit < p_vend else p_vend

        # cached_hole_size: the largest aligned gap walked over, (first, stop).
        if small_align:
            m = seq.range_max(nxt[0], nxt[1], stop[0], stop[1])
            if m > self._chs:
                self._chs = m
        else:
            cur = nxt
            while True:
                cand = seq.first_ge(cur[0], cur[1], self._chs + 1)
                if cand is None or cand >= stop:
                    break
                pe = seq.end(*seq.prev(*cand))
                gap = seq.start(*cand) - (((pe + am1) & mask) & ~am1)
                if gap > self._chs:
                    self._chs = gap
                cur = seq.next(*cand)

        steps.list_nodes += seq.distance(first[0], first[1], stop[0], stop[1])
        last = seq.prev(*stop)
        return self._found(((seq.end(*last) + am1) & mask) & ~am1, size, vstart, vend)

    @staticmethod
    def _found(addr: int, size: int, vstart: int, vend: int) -> int | None:
        if addr + size > vend or addr < vstart:
            return None                              # goto overflow
        return addr

    # ------------------------------------------------------ busy tree/list
    def _insert_busy(self, start: int, end: int, steps: Steps) -> None:
        """__insert_vmap_area(va, &vmap_area_root, &vmap_area_list)."""
        seq = self._busy
        steps.tree_nodes += tree_depth(self.nr_busy)
        steps.tree_inserts += 1
        at = seq.locate(start)
        prev = seq.prev(*at)
        prev_end = seq.end(*prev) if prev is not None else self.range.vstart
        gap = start - prev_end
        cur = seq.insert_at(at[0], at[1], start, end, gap)
        rng = self.range
        vms, vme = rng.vmalloc_start, rng.vmalloc_end
        nz = gap > 0 and vms < start < vme
        nxt = seq.next(*cur)
        if not seq.is_end(*nxt):
            old = seq._v[nxt[0]][nxt[1]]
            nstart = seq.start(*nxt)
            new = nstart - end
            seq.set_val(nxt[0], nxt[1], new)
            if vms < nstart < vme:
                nz += (new > 0) - (old > 0)
        self._nz_vm += nz
        self._busy_bytes += end - start
        if start < vme and end > vms:
            self._vm_busy_bytes += min(end, vme) - max(start, vms)

    def _erase_busy(self, addr: int, steps: Steps, old_cache_rules: bool,
                    cur: tuple[int, int] | None = None) -> tuple[int, int]:
        """Unlink a busy area (rb_erase + list_del); apply 4.19's cache rule."""
        seq = self._busy
        if cur is None:
            cur = seq.find(addr)
            if cur is None:
                raise NonexistentAreaError(addr)
        start, end = seq.start(*cur), seq.end(*cur)
        prev = seq.prev(*cur)
        if old_cache_rules and self._cache is not None:
            if end < self._cvstart:
                self._cache = None
            elif start <= self._cache:
                # free_vmap_cache = rb_prev(&va->rb_node)
                self._cache = seq.start(*prev) if prev is not None else None
        prev_end = seq.end(*prev) if prev is not None else self.range.vstart
        rng = self.range
        vms, vme = rng.vmalloc_start, rng.vmalloc_end
        nz = -(seq._v[cur[0]][cur[1]] > 0 and vms < start < vme)
        nxt = seq.delete(*cur)
        if not seq.is_end(*nxt):
            old = seq._v[nxt[0]][nxt[1]]
            nstart = seq.start(*nxt)
            new = nstart - prev_end
            seq.set_val(nxt[0], nxt[1], new)
            if vms < nstart < vme:
                nz += (new > 0) - (old > 0)
        self._nz_vm += nz
        if start < vme and end > vms:
            self._vm_busy_bytes -= min(end, vme) - max(start, vms)
        steps.tree_erases += 1
        self._busy_bytes -= end - start
        return start, end

    # ------------------------------------------------------------ read-outs
    @property
    def nr_busy(self) -> int:
        return len(self._busy)

    # Fragmentation read-outs cover the vmalloc range [VMALLOC_START,
    # VMALLOC_END), where vmalloc() allocates; O(log n) each.
    #: busy-list keeps no free-block objects (its free space is the gaps)
    nr_free_objects = 0

    @property
    def nr_free_blocks(self) -> int:
        """Free blocks (maximal gaps) inside the vmalloc range."""
        return self._nz_vm + (self._vm_tail() > 0)

    def _vm_tail(self) -> int:
        """Free bytes between the last area starting below VMALLOC_END and VMALLOC_END."""
        rng = self.range
        seq = self._busy
        last = seq.locate_le(rng.vmalloc_end - 1) if len(seq) else None
        floor = rng.vmalloc_start if last is None else max(rng.vmalloc_start, seq.end(*last))
        return max(0, rng.vmalloc_end - floor)

    def busy_areas(self) -> list[tuple[int, int]]:
        return [(s, e) for s, e, _ in self._busy.items()]

    def free_blocks(self) -> list[tuple[int, int]]:
        """The gaps between busy areas, over the whole range."""
        out = []
        prev = self.range.vstart
        for s, e, _ in self._busy.items():
            if s > prev:
                out.append((prev, s))
            prev = e
        if self.range.vend > prev:
            out.append((prev, self.range.vend))
        return out

    def largest_free_bytes(self) -> int:
        """The largest free block inside the vmalloc range."""
        rng = self.range
        seq = self._busy
        best = self._vm_tail()
        first = seq.locate(rng.vmalloc_start + 1)       # first area starting inside
        if seq.is_end(*first) or seq.start(*first) >= rng.vmalloc_end:
            return best
        prev = seq.prev(*first)
        floor = rng.vmalloc_start if prev is None else max(rng.vmalloc_start, seq.end(*prev))
        best = max(best, seq.start(*first) - floor)
        stop = seq.locate(rng.vmalloc_end)
        after = seq.next(*first)
        if after < stop:
            best = max(best, seq.range_max(after[0], after[1], stop[0], stop[1]))
        return best

    def total_free_bytes(self) -> int:
        """Free bytes inside the vmalloc range."""
        return self.range.vmalloc_end - self.range.vmalloc_start - self._vm_busy_bytes

    def check(self) -> None:
        """Raise InvariantError if an invariant is broken."""
        rng = self.range
        self._check_busy_seq()
        items = self._busy.items()
        if self._busy_bytes != sum(e - s for s, e, _ in items):
            raise InvariantError("busy byte count is stale")
        vm_blocks = [(max(s, rng.vmalloc_start), min(e, rng.vmalloc_end))
                     for s, e in BusyListAllocator.free_blocks(self)]
        vm_blocks = [(s, e) for s, e in vm_blocks if e > s]
        if self.nr_free_blocks != len(vm_blocks):
            raise InvariantError(f"free block count {self.nr_free_blocks} != {len(vm_blocks)}")
        if self.largest_free_bytes() != max((e - s for s, e in vm_blocks), default=0):
            raise InvariantError("largest free block is stale")
        if self.total_free_bytes() != sum(e - s for s, e in vm_blocks):
            raise InvariantError("free byte count is stale")
        blocks = BusyListAllocator.free_blocks(self)
        covered = sum(e - s for s, e in blocks) + self._busy_bytes
        if covered != rng.vend - rng.vstart:
            raise InvariantError("busy areas and free blocks do not tile the range")

    def _check_busy_seq(self) -> None:
        """The busy sequence: inside the range, sorted, disjoint, gaps and
        augmentation up to date, free_vmap_cache a live area."""
        rng = self.range
        prev_end = rng.vstart
        for s, e, gap in self._busy.items():
            if not (rng.vstart <= s < e <= rng.vend):
                raise InvariantError(f"busy area [{s:#x}, {e:#x}) outside the range or empty")
            if s < prev_end:
                raise InvariantError(f"busy area [{s:#x}, {e:#x}) overlaps its predecessor")
            if gap != s - prev_end:
                raise InvariantError(f"stale gap before [{s:#x}, {e:#x})")
            prev_end = e
        self._check_seq(self._busy)
        if self._cache is not None and self._busy.find(self._cache) is None:
            raise InvariantError(f"free_vmap_cache {self._cache:#x} is not a live busy area")

    @staticmethod
    def _check_seq(seq: AugSeq) -> None:
        for c, v in enumerate(seq._v):
            if seq._cmax[c] != (max(v) if v else -1):
                raise InvariantError(f"chunk {c} maximum is stale")
            if v and seq._firsts[c] != seq._s[c][0]:
                raise InvariantError(f"chunk {c} first start is stale")
        for c in range(len(seq._s)):
            if seq.rank(c, 0) != sum(len(x) for x in seq._s[:c]):
                raise InvariantError(f"chunk {c} rank is stale")
        size = seq._size
        for i in range(size - 1, 0, -1):
            if seq._seg[i] != max(seq._seg[2 * i], seq._seg[2 * i + 1]):
                raise InvariantError("segment tree is stale")
