"""busy-list: the vmap-area allocator of Linux 4.17 / 4.19 (mm/vmalloc.c).

Read: Linux 4.19 mm/vmalloc.c (repo 0x88888888/Linux-4.19): alloc_vmap_area,
__insert_vmap_area, __free_vmap_area, __find_vmap_area.

All busy areas (lazily freed ones included, until purge) sit in one
address-sorted rb-tree (``vmap_area_root``) + list (``vmap_area_list``);
there is no free-space structure, free space is the gaps.
``alloc_vmap_area`` starts from the cached area ``free_vmap_cache`` (or, when
the cache is dropped, from a descent of ``vmap_area_root``) and walks the list
until a hole fits::

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
O(log n): the list is an :class:`AugSeq` whose ``val`` is the gap before each
area, so "the first area whose preceding (aligned) gap fits" and "the largest
gap walked over" (``cached_hole_size``) are segment-tree queries, and the walk
length is a difference of ranks.  The literal node-by-node model is
``tests/allocators/ref_busy_list.py``; the differential tests prove both agree.

The functions keep the kernel's names (a kernel name with two leading
underscores takes one here: Python mangles ``__names`` inside a class).
The O(log n) steps without a kernel twin stand for these kernel lines:

=============================  =====================================================
step here                      kernel lines it stands for (4.19 mm/vmalloc.c)
=============================  =====================================================
``_descend``                   the ``vmap_area_root`` descent of alloc_vmap_area:
                               ``if (tmp->va_end >= addr) { first = tmp;
                               if (tmp->va_start <= addr) break; n = n->rb_left; }
                               else n = n->rb_right;`` -- AugSeq.locate_le, and for
                               ``addr`` on the boundary of two abutting areas the
                               rb-tree shape decides (see below)
``_walk``: ``p_vend``          the loop test ``addr + size <= vend``: the first node
                               whose predecessor's ALIGN(va_end) + size passes vend
``_walk``: ``p_fit``           the loop test ``addr + size > first->va_start``: the
                               first node whose (aligned) gap before it holds size
                               -- AugSeq.first_ge on the gaps
``_walk``: ``range_max``       ``cached_hole_size = first->va_start - addr`` over
                               every node the body ran for (the largest gap)
``_walk``: ``distance``        ``list_nodes``: the body runs for the nodes from
                               ``first`` up to the stop node (rank difference)
``_walk``: ``last``            ``addr = ALIGN(first->va_end, align)`` of the last
                               node walked; ``list_is_last`` -> ``goto found``
``_insert_vmap_area``          ``__insert_vmap_area``: the descent to the link,
                               ``rb_link_node``, ``rb_insert_color``,
                               ``list_add_rcu`` after ``rb_prev`` -- the link is the
                               in-order neighbour with a free child slot (the node
                               the descent ends at), found in O(1)
``_unlink_vmap_area``          ``rb_erase``, ``RB_CLEAR_NODE``, ``list_del_rcu``
``find_vmap_area``             ``__find_vmap_area``: a dict lookup (counted as the
                               modelled descent)
=============================  =====================================================

Counting (base.py): ``list_nodes`` = executions of the walk body, exactly as
the kernel runs them.  The busy tree is *modelled* for ``tree_nodes``: each
descent counts ``tree_depth(nr_busy)``.  Its *shape* is real: the tree is a
port of lib/rbtree.c (rbtree.py) fed the kernel's insertions and erasures in
the kernel's order, because the cache-drop descent stops at the first node on
its path with ``va_start <= addr <= va_end``: when ``addr`` is the boundary
of two abutting areas, it stops at the lower one iff that one is the
ancestor, i.e. has a right child (then the walk runs one body more, for it).

Arithmetic is unsigned ``word_bits``: ALIGN wraps, and the overflow checks
behave as in C.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from .augseq import AugSeq, AugSeqError
from .base import (AllocResult, InvariantError, NonexistentAreaError, Range, Steps,
                   check_request, tree_depth)
from .rbtree import RbNode, RbRoot, rb_erase, rb_inorder, rb_insert_color, rb_link_node, rb_validate

Cursor = tuple[int, int]


class BusyListAllocator:
    """Linux 4.19 ``alloc_vmap_area`` / ``__free_vmap_area`` over busy areas only."""

    DESCRIPTION = ("Linux 4.17/4.19: walk the address-sorted busy list from free_vmap_cache "
                   "(O(n) when the cache is dropped)")

    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]]) -> None:
        self.range = self.rng = rng
        items = []
        prev_end = rng.vstart
        for s, e in initial_busy:
            items.append((s, e, s - prev_end))
            prev_end = e
        #: vmap_area_list: (va_start, va_end, gap before the area)
        self.vmap_area_list = AugSeq(items)
        #: areas in the busy structure now (a counter, not a property: the
        #: generations read it before every operation; check() recounts it)
        self.nr_busy = len(items)
        #: vmap_area_root, and each busy area's node (its struct vmap_area)
        self.vmap_area_root = RbRoot()
        self._va: dict[int, RbNode] = {}
        # vmalloc_init: __insert_vmap_area of each vmlist area, in address
        # order (each one links as the right child of the current last node).
        last = None
        for s, e in initial_busy:
            va = RbNode(s, e)
            rb_link_node(va, last, self.vmap_area_root, False)
            rb_insert_color(va, self.vmap_area_root)
            self._va[s] = va
            last = va
        vms, vme = rng.vmalloc_start, rng.vmalloc_end
        # gaps > 0 before areas that start strictly inside the vmalloc range
        self._nz_vm = sum(1 for s, _, g in items if g > 0 and vms < s < vme)
        self._busy_bytes = sum(e - s for s, e in initial_busy)
        self._vm_busy_bytes = sum(max(0, min(e, vme) - max(s, vms)) for s, e in initial_busy)
        # The four cache globals, guarded by vmap_area_lock in the kernel.
        self.free_vmap_cache: int | None = None   # va_start of the cached busy area
        self.cached_hole_size = 0
        self.cached_vstart = 0
        self.cached_align = 0
        self.cache_resets: dict[str, int] = {}    # observability: free_vmap_cache resets by cause
        self.on_cache_reset: Any = None           # observability: called with the cause, if set

    # ----------------------------------------------------------------- API
    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None) -> AllocResult:
        vstart, vend = check_request(self.range, size, align, vstart, vend)
        steps = Steps()
        addr = self.alloc_vmap_area(size, align, vstart, vend, steps)
        return AllocResult(addr, steps)

    def free(self, addr: int) -> Steps:
        """The purge-time ``__free_vmap_area`` of the area starting at ``addr``."""
        steps = Steps()
        self._free_vmap_area(addr, steps)
        return steps

    def find_vmap_area(self, addr: int) -> Steps:
        """``find_vmap_area`` (vfree's lookup): one modelled busy-tree descent,
        ``tree_depth(nr_busy)`` nodes, found or not (the kernel returns NULL
        and vfree warns); no state change."""
        steps = Steps()
        steps.tree_nodes += tree_depth(self.nr_busy)
        return steps

    # --------------------------------------------------- alloc_vmap_area()
    def alloc_vmap_area(self, size: int, align: int, vstart: int, vend: int,
                        steps: Steps) -> int | None:
        """From ``retry:`` to ``found:`` under vmap_area_lock: the address, or
        None at the first ``goto overflow`` (the engine owns purge + retry)."""
        addr = self._search(size, align, vstart, vend, steps)
        if addr is not None:
            self._insert_vmap_area(addr, addr + size, steps)
            self.free_vmap_cache = addr          # free_vmap_cache = &va->rb_node
        return addr

    def _search(self, size: int, align: int, vstart: int, vend: int, steps: Steps) -> int | None:
        mask = self.range.mask
        am1 = align - 1
        seq = self.vmap_area_list
        cache = self.free_vmap_cache
        # Invalidate cache if we have more permissive parameters.
        if (cache is None or size < self.cached_hole_size
                or vstart < self.cached_vstart or align < self.cached_align):
            if cache is not None:                # a reset (observability: count its cause)
                self._cache_reset("size < cached_hole_size" if size < self.cached_hole_size
                                  else "vstart < cached_vstart" if vstart < self.cached_vstart
                                  else "align < cached_align")
            self.cached_hole_size = 0            # nocache:
            self.free_vmap_cache = cache = None
        # record if we encounter less permissive parameters
        self.cached_vstart = vstart
        self.cached_align = align

        if cache is not None:
            # first = the cached area (seq.find, inlined: it is a live area)
            fc = seq.oslot[bisect_right(seq.ofirst, cache) - 1]
            fj = bisect_left(seq.starts[fc], cache)
            addr = ((seq.ends[fc][fj] + am1) & mask) & ~am1
            if addr >= vstart:
                if addr + size > mask:           # addr + size < addr: goto overflow
                    return None
                return self._walk(fc, fj, addr, size, align, vend, vstart, steps)
            self._cache_reset("cached area below vstart")   # goto nocache
            self.cached_hole_size = 0
            self.free_vmap_cache = None
        addr = ((vstart + am1) & mask) & ~am1
        if addr + size > mask:
            return None
        steps.tree_nodes += self.nr_busy.bit_length()   # tree_depth(nr_busy)
        first = self._descend(addr)
        if first is None:                        # if (!first) goto found
            return self._found(addr, size, vstart, vend)
        return self._walk(first[0], first[1], addr, size, align, vend, vstart, steps)

    def _descend(self, addr: int) -> Cursor | None:
        """The ``vmap_area_root`` descent: where it stops (``first``), or None."""
        seq = self.vmap_area_list
        if not len(seq):
            return None
        cur = seq.locate_le(addr)
        if cur is None:                          # every area starts above addr
            return seq.first_cursor()
        if seq.end(*cur) >= addr:
            prev = seq.prev(*cur)
            if prev is not None and seq.end(*prev) == addr:
                # prev ends where cur starts: both satisfy the break test; the
                # descent meets their common ancestor first.  prev is the
                # ancestor iff it has a right child (cur in its right subtree).
                if self._va[seq.start(*prev)].right is not None:
                    return prev
            return cur
        nxt = seq.next(*cur)
        return None if seq.is_end(*nxt) else nxt

    def _walk(self, fc: int, fj: int, addr0: int, size: int, align: int,
              vend: int, vstart: int, steps: Steps) -> int | None:
        """Count the list walk from ``first`` = cursor (fc, fj) with ``addr =
        addr0`` in O(log n)."""
        seq = self.vmap_area_list
        S, E = seq.starts, seq.ends                    # (hot path: AugSeq's chunk lists)
        mask = self.range.mask
        am1 = align - 1
        s_first = S[fc][fj]
        addr = addr0 + size
        if addr <= s_first or addr > vend:
            return addr0 if addr <= vend and addr0 >= vstart else None   # _found(addr0)
        # The body runs for `first` itself.
        if addr0 + self.cached_hole_size < s_first:
            self.cached_hole_size = s_first - addr0
        if fj + 1 < len(S[fc]):
            nxt = (fc, fj + 1)
        elif fc == seq.oslot[-1]:               # list_is_last -> found
            steps.list_nodes += 1
            addr = ((E[fc][fj] + am1) & mask) & ~am1
            return addr if addr + size <= vend and addr >= vstart else None  # _found(addr)
        else:
            nxt = seq.next(fc, fj)
        # The common case: the hole after `first` takes the request, so the
        # loop ends at the next node after one body (addr = ALIGN(first->va_end)
        # and addr + size <= next->va_start, <= vend): no query of the sequence.
        addr = ((E[fc][fj] + am1) & mask) & ~am1
        if addr + size <= S[nxt[0]][nxt[1]] and addr + size <= vend:
            steps.list_nodes += 1
            return addr if addr >= vstart else None       # _found(addr)
        first = (fc, fj)

        # p_vend: first p > first whose ALIGN(end of p-1) + size > vend,
        # i.e. end of p-1 > limit (an ALIGN that wraps also lands here).
        x = vend - size
        limit = (x // align) * align if x >= 0 else -1
        q = seq.locate_le(limit) if limit >= 0 else None
        if q is None:
            q = seq.first_cursor()
        elif E[q[0]][q[1]] <= limit:
            q = seq.next(*q)
        if q < first:
            q = first
        p_vend = seq.next(*q) if q[0] < seq.K else q

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
            pe = seq.end(*seq.prev(*cand))  # type: ignore[misc]  # never None
            if (((pe + am1) & mask) & ~am1) + size <= seq.start(*cand):
                p_fit = cand
                break
            cur = seq.next(*cand)
        stop = p_fit if p_fit is not None and p_fit < p_vend else p_vend

        # cached_hole_size: the largest aligned gap walked over, (first, stop).
        if small_align:
            m = seq.range_max(nxt[0], nxt[1], stop[0], stop[1])
            if m > self.cached_hole_size:
                self.cached_hole_size = m
        else:
            cur = nxt
            while True:
                cand = seq.first_ge(cur[0], cur[1], self.cached_hole_size + 1)
                if cand is None or cand >= stop:
                    break
                pe = seq.end(*seq.prev(*cand))  # type: ignore[misc]  # never None
                gap = seq.start(*cand) - (((pe + am1) & mask) & ~am1)
                if gap > self.cached_hole_size:
                    self.cached_hole_size = gap
                cur = seq.next(*cand)

        steps.list_nodes += seq.distance(fc, fj, stop[0], stop[1])
        sc, sj = stop
        if sj:
            pe = E[sc][sj - 1]
        else:
            last = seq.prev(sc, sj)
            pe = E[last[0]][last[1]]  # type: ignore[index]  # never None
        return self._found(((pe + am1) & mask) & ~am1, size, vstart, vend)

    @staticmethod
    def _found(addr: int, size: int, vstart: int, vend: int) -> int | None:
        """``found:``; ``addr < vstart`` (an ALIGN that wrapped: 4.19 would BUG)
        is an overflow too."""
        if addr + size > vend or addr < vstart:
            return None                          # goto overflow
        return addr

    # ------------------------------------------------------ busy tree/list
    def _insert_vmap_area(self, start: int, end: int, steps: Steps) -> None:
        """__insert_vmap_area(va): busy tree (counted descent) + busy list.

        (The hot path: AugSeq cursors are read through its chunk lists.)"""
        seq = self.vmap_area_list
        S, oslot, K = seq.starts, seq.oslot, seq.K
        steps.tree_nodes += self.nr_busy.bit_length()   # tree_depth(nr_busy)
        steps.tree_inserts += 1
        rng = self.range
        # The list position: after rb_prev, the last area starting below, in
        # its chunk (seq.locate_le, inlined); the next area (nc, nj) follows
        # it there, or starts the next chunk, or there is none (nc = K).
        i = bisect_right(seq.ofirst, start) - 1
        if i >= 0:
            c = oslot[i]
            s = S[c]
            j = bisect_left(s, start)            # >= 1: s[0] < start
            pred: RbNode | None = self._va[s[j - 1]]
            gap = start - seq.ends[c][j - 1]
            nc, nj = (c, j) if j < len(s) else (oslot[i + 1], 0) if i + 1 < len(oslot) else (K, 0)
        else:                                    # the new first area (c = K: the list is empty)
            pred, gap = None, start - rng.vstart
            c = nc = oslot[0] if oslot else K
            j = nj = 0
        self._rb_insert(RbNode(start, end), pred)
        vms, vme = rng.vmalloc_start, rng.vmalloc_end
        nz = int(gap > 0 and vms < start < vme)
        if nc < K:                               # the next area's gap shrinks
            old = seq.vals[nc][nj]
            nstart = S[nc][nj]
            new = nstart - end
            seq.set_val(nc, nj, new)
            if vms < nstart < vme:
                nz += (new > 0) - (old > 0)
        seq.insert_at(c, j, start, end, gap)
        self.nr_busy += 1
        self._nz_vm += nz
        self._busy_bytes += end - start
        if start < vme and end > vms:
            self._vm_busy_bytes += (end if end < vme else vme) - (start if start > vms else vms)

    def _rb_insert(self, va: RbNode, pred: RbNode | None) -> None:
        """The rb-tree half of __insert_vmap_area, given va's in-order
        predecessor: rb_link_node at the null link the descent reaches (the
        predecessor's right child if free, else the successor's left child,
        the successor being the leftmost node right of the predecessor), then
        rb_insert_color."""
        root = self.vmap_area_root
        if pred is not None and pred.right is None:
            va.parent = pred                     # rb_link_node(va, pred, &pred->rb_right)
            pred.right = va                      # (a new node: red, no children)
        else:
            n = root.rb_node if pred is None else pred.right
            if n is None:
                rb_link_node(va, None, root, True)
            else:
                while n.left is not None:
                    n = n.left
                va.parent = n                    # rb_link_node(va, n, &n->rb_left)
                n.left = va
        rb_insert_color(va, root)
        self._va[va.va_start] = va

    def _free_vmap_area(self, addr: int, steps: Steps) -> None:
        """4.19 ``__free_vmap_area``: the cache rule, unlink, kfree_rcu."""
        seq = self.vmap_area_list
        # seq.find(addr), inlined: chunk index position i, cursor (c, j)
        i = bisect_right(seq.ofirst, addr) - 1
        c = seq.oslot[i] if i >= 0 else -1
        s = seq.starts[c] if i >= 0 else []
        j = bisect_left(s, addr)
        if j == len(s) or s[j] != addr:
            raise NonexistentAreaError(addr)
        cache = self.free_vmap_cache             # _free_vmap_cache_rule, inlined
        if cache is not None:
            if seq.ends[c][j] < self.cached_vstart:
                self.free_vmap_cache = None
            elif addr <= cache:
                # free_vmap_cache = rb_prev(&va->rb_node)
                self.free_vmap_cache = (s[j - 1] if j else
                                        seq.starts[seq.oslot[i - 1]][-1] if i else None)
        self._unlink_vmap_area((c, j), steps)
        steps.objects_freed += 1                 # kfree_rcu(va, rcu_head)

    def _cache_reset(self, cause: str) -> None:
        """Observability: one reset of free_vmap_cache by alloc_vmap_area, by cause."""
        self.cache_resets[cause] = self.cache_resets.get(cause, 0) + 1
        if self.on_cache_reset is not None:
            self.on_cache_reset(cause)

    def _unlink_vmap_area(self, cur: Cursor, steps: Steps) -> tuple[int, int]:
        """rb_erase + RB_CLEAR_NODE + list_del_rcu of the busy area at ``cur``.

        (The hot path: AugSeq cursors are read through its chunk lists.)"""
        seq = self.vmap_area_list
        c, j = cur
        start, end = seq.starts[c][j], seq.ends[c][j]
        if j:
            prev_end = seq.ends[c][j - 1]
        else:
            prev = seq.prev(c, j)
            prev_end = seq.ends[prev[0]][prev[1]] if prev is not None else self.range.vstart
        rng = self.range
        vms, vme = rng.vmalloc_start, rng.vmalloc_end
        nz = -(seq.vals[c][j] > 0 and vms < start < vme)
        nc, nj = seq.delete(c, j)
        self.nr_busy -= 1
        if nc < seq.K:
            old = seq.vals[nc][nj]
            nstart = seq.starts[nc][nj]
            new = nstart - prev_end
            seq.set_val(nc, nj, new)
            if vms < nstart < vme:
                nz += (new > 0) - (old > 0)
        self._nz_vm += nz
        if start < vme and end > vms:
            self._vm_busy_bytes -= (end if end < vme else vme) - (start if start > vms else vms)
        rb_erase(self._va.pop(start), self.vmap_area_root)
        steps.tree_erases += 1
        self._busy_bytes -= end - start
        return start, end

    # ------------------------------------------------------------ read-outs
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
        seq = self.vmap_area_list
        last = seq.locate_le(rng.vmalloc_end - 1)
        floor = rng.vmalloc_start if last is None else max(rng.vmalloc_start, seq.end(*last))
        return max(0, rng.vmalloc_end - floor)

    def busy_areas(self) -> list[tuple[int, int]]:
        return [(s, e) for s, e, _ in self.vmap_area_list.items()]

    def free_blocks(self) -> list[tuple[int, int]]:
        """The gaps between busy areas, over the whole range."""
        out = []
        prev = self.range.vstart
        for s, e, _ in self.vmap_area_list.items():
            if s > prev:
                out.append((prev, s))
            prev = e
        if self.range.vend > prev:
            out.append((prev, self.range.vend))
        return out

    def largest_free_bytes(self) -> int:
        """The largest free block inside the vmalloc range."""
        rng = self.range
        seq = self.vmap_area_list
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
        self._check_busy()
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

    def _check_busy(self, tree: bool = True) -> None:
        """The busy list: inside the range, sorted, disjoint, gaps and
        augmentation up to date; the busy rb-tree valid and (if ``tree``:
        it is not deferred) holding the same areas; free_vmap_cache a live area."""
        rng = self.range
        prev_end = rng.vstart
        items = self.vmap_area_list.items()
        for s, e, gap in items:
            if not (rng.vstart <= s < e <= rng.vend):
                raise InvariantError(f"busy area [{s:#x}, {e:#x}) outside the range or empty")
            if s < prev_end:
                raise InvariantError(f"busy area [{s:#x}, {e:#x}) overlaps its predecessor")
            if gap != s - prev_end:
                raise InvariantError(f"stale gap before [{s:#x}, {e:#x})")
            prev_end = e
        busy = self.busy_areas()
        if self._busy_bytes != sum(e - s for s, e in busy):
            raise InvariantError("busy byte count is stale")
        check_augseq(self.vmap_area_list)
        if self.nr_busy != len(busy):
            raise InvariantError("nr_busy is stale")
        msg = rb_validate(self.vmap_area_root)
        if msg is not None:
            raise InvariantError(f"vmap_area_root: {msg}")
        if tree:
            if [(n.va_start, n.va_end) for n in rb_inorder(self.vmap_area_root)] != busy:
                raise InvariantError("vmap_area_root and the busy areas differ")
            if len(self._va) != len(busy):
                raise InvariantError("the area -> node map is stale")
        if self.free_vmap_cache is not None and self.vmap_area_list.find(self.free_vmap_cache) is None:
            raise InvariantError(f"free_vmap_cache {self.free_vmap_cache:#x} is not a live busy area")


def check_augseq(seq: AugSeq) -> None:
    """AugSeq.check(), reported as an InvariantError."""
    try:
        seq.check()
    except AugSeqError as exc:
        raise InvariantError(str(exc)) from exc
