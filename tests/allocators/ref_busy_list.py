"""Literal reference model of the Linux 4.19 busy-list allocator (slow, obviously right).

Line by line from ``mm/vmalloc.c`` of Linux 4.19: ``alloc_vmap_area`` (the
search under ``vmap_area_lock``) and ``__free_vmap_area``, with the four cache
globals ``free_vmap_cache``, ``cached_hole_size``, ``cached_vstart`` and
``cached_align`` exactly as in the kernel.  The busy areas are a plain
address-sorted Python list of area objects; the walk goes node by node.  This
module is used only by the tests: the fast policy is
``simulator.allocators.busy_list``.

Modelling decisions (report any disagreement to the lead):

* The overflow path (purge + retry, warning) is the engine's business: the
  first ``goto overflow`` ends the operation with ``addr = None``.
* Unsigned ``unsigned long`` arithmetic: ``ALIGN`` and every ``addr + x`` are
  taken modulo ``2**rng.word_bits``, so the ``addr + size < addr`` checks and
  the ``addr < vstart`` check of the cache path behave as in C.  ``vend`` is
  used as given (a range ending at ``2**word_bits`` is not a C value).
* The busy tree is a real red-black tree (``simulator.allocators.rbtree``, a
  port of lib/rbtree.c tested on its own), fed the kernel's insertions and
  erasures: the uncached descent runs literally over it and stops where the
  kernel's does (on the boundary of two abutting areas, at whichever is the
  ancestor).  Its node count is still the modelled ``tree_depth(nr_busy)``.
* ``found:`` with ``addr < vstart`` (only reachable when ``ALIGN`` wraps to 0
  inside the walk; Linux 4.19 would hit ``BUG_ON(va->va_start < vstart)``) is
  treated as an overflow: ``addr = None``.
* Steps (see ``simulator.allocators.base``): alloc counts
  ``tree_depth(nr_busy)`` tree nodes for the descent (only when it runs), the
  walk-loop body executions as ``list_nodes``, and on success
  ``tree_depth(nr_busy)`` + one ``tree_inserts`` for ``__insert_vmap_area``.
  The kmalloc before the lock is not counted.  Free: one ``tree_erases``,
  one ``objects_freed`` (``kfree_rcu``), no tree nodes.  ``find_vmap_area``:
  ``tree_depth(nr_busy)`` tree nodes, nothing else.
* Read: Linux 4.19 mm/vmalloc.c (repo 0x88888888/Linux-4.19).
"""

from __future__ import annotations

from collections.abc import Iterable

from simulator.allocators.base import (AllocResult, InvariantError, NonexistentAreaError, Range,
                                       Steps, check_request, tree_depth)
from simulator.allocators.rbtree import (RB_CLEAR_NODE, RbNode, RbRoot, rb_erase, rb_inorder,
                                         rb_insert_color, rb_link_node, rb_prev, rb_validate)

#: A ``struct vmap_area`` (with its ``rb_node``): identity matters (cache pointers).
Area = RbNode


def ALIGN(x: int, a: int, mask: int) -> int:  # noqa: N802 - the kernel's macro name
    """The kernel's ``ALIGN(x, a)`` in ``unsigned long`` arithmetic (wraps)."""
    return ((x + a - 1) & ~(a - 1)) & mask


class RefBusyList:
    """Linux 4.19 ``alloc_vmap_area`` / ``__free_vmap_area``, literally."""

    NAME = "busy-list"

    def __init__(self, rng: Range, initial_busy: Iterable[tuple[int, int]]) -> None:
        self.rng = rng
        self.mask = rng.mask
        # vmap_area_list and vmap_area_root; vmalloc_init inserts the vmlist
        # areas in address order with __insert_vmap_area.
        self.vmap_area_list: list[Area] = []
        self.vmap_area_root = RbRoot()
        for s, e in sorted(initial_busy):
            self._insert_vmap_area(Area(s, e))
        # The cache globals (static, so zero at boot).
        self.free_vmap_cache: Area | None = None
        self.cached_hole_size = 0
        self.cached_vstart = 0
        self.cached_align = 0

    # ---------------------------------------------------------------- public
    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None) -> AllocResult:
        vs, ve = check_request(self.rng, size, align, vstart, vend)
        steps = Steps()
        addr = self.alloc_vmap_area(size, align, vs, ve, steps)
        return AllocResult(addr, steps)

    def free(self, addr: int) -> Steps:
        va = self._find_vmap_area(addr)
        steps = Steps()
        self._free_vmap_area(va, steps)
        return steps

    def find_vmap_area(self, addr: int) -> Steps:
        """vfree's lookup: the modelled descent (found or not), no state change."""
        steps = Steps()
        steps.tree_nodes += tree_depth(len(self.vmap_area_list))
        return steps

    def busy_areas(self) -> list[tuple[int, int]]:
        return [(a.va_start, a.va_end) for a in self.vmap_area_list]

    def free_blocks(self) -> list[tuple[int, int]]:
        """The gaps between busy areas over [rng.vstart, rng.vend)."""
        return gaps(self.busy_areas(), self.rng.vstart, self.rng.vend)

    @property
    def nr_busy(self) -> int:
        return len(self.vmap_area_list)

    def check(self) -> None:
        check_sorted_disjoint(self.busy_areas(), self.rng.vstart, self.rng.vend, "busy")
        if self.free_vmap_cache is not None and not any(
                a is self.free_vmap_cache for a in self.vmap_area_list):
            raise InvariantError(f"free_vmap_cache {self.free_vmap_cache!r} is not a busy area")
        msg = rb_validate(self.vmap_area_root)
        if msg is not None:
            raise InvariantError(f"vmap_area_root: {msg}")
        if list(rb_inorder(self.vmap_area_root)) != self.vmap_area_list:
            raise InvariantError("vmap_area_root and vmap_area_list differ")

    # ------------------------------------------------------- kernel helpers
    def _find_vmap_area(self, addr: int) -> Area:
        """``__find_vmap_area``: the descent; vfree passes the area's start."""
        n = self.vmap_area_root.rb_node
        while n is not None:
            if addr < n.va_start:
                n = n.left
            elif addr >= n.va_end:
                n = n.right
            else:
                if n.va_start != addr:
                    break
                return n
        raise NonexistentAreaError(addr)

    def _index(self, va: Area) -> int:
        for i, a in enumerate(self.vmap_area_list):
            if a is va:
                return i
        raise AssertionError(f"{va!r} is not in vmap_area_list")

    def _descend(self, addr: int) -> int | None:
        """The vmap_area_root descent of alloc_vmap_area, literally; the
        index of ``first`` in vmap_area_list, or None."""
        n = self.vmap_area_root.rb_node
        first = None
        while n is not None:
            tmp = n
            if tmp.va_end >= addr:
                first = tmp
                if tmp.va_start <= addr:
                    break
                n = n.left
            else:
                n = n.right
        return None if first is None else self._index(first)

    def _insert_vmap_area(self, va: Area) -> None:
        """``__insert_vmap_area``, literally (the overlap checks are vmsim's:
        the kernel's descent BUG()s only when neither way fits)."""
        lst = self.vmap_area_list
        for a in lst:
            if a.va_start < va.va_end and va.va_start < a.va_end:
                raise AssertionError(f"vmsim: {va!r} overlaps {a!r}")
        parent = None
        is_left = True
        p = self.vmap_area_root.rb_node
        while p is not None:
            parent = p
            if va.va_start < p.va_end:
                p, is_left = p.left, True
            elif va.va_end > p.va_start:
                p, is_left = p.right, False
            else:
                raise AssertionError("kernel BUG() in __insert_vmap_area")
        rb_link_node(va, parent, self.vmap_area_root, is_left)
        rb_insert_color(va, self.vmap_area_root)
        # address-sort this list
        tmp = rb_prev(va)
        lst.insert(self._index(tmp) + 1 if tmp is not None else 0, va)

    # ---------------------------------------------------- alloc_vmap_area
    def alloc_vmap_area(self, size: int, align: int, vstart: int, vend: int,
                        steps: Steps) -> int | None:
        """The search under the lock; returns addr, or None at ``overflow:``."""
        addr = self._search(size, align, vstart, vend, steps)
        if addr is None:
            return None
        return self._found(addr, size, vstart, vend, steps, set_cache=True)

    def _search(self, size: int, align: int, vstart: int, vend: int,
                steps: Steps) -> int | None:
        """From ``retry:`` up to ``found:``; returns addr, None for overflow."""
        M = self.mask
        lst = self.vmap_area_list
        nocache = (self.free_vmap_cache is None
                   or size < self.cached_hole_size
                   or vstart < self.cached_vstart
                   or align < self.cached_align)
        while True:
            if nocache:
                self.cached_hole_size = 0
                self.free_vmap_cache = None
            # record if we encounter less permissive parameters
            self.cached_vstart = vstart
            self.cached_align = align

            # find starting point for our search
            if self.free_vmap_cache is not None:
                first = self.free_vmap_cache
                addr = ALIGN(first.va_end, align, M)
                if addr < vstart:
                    nocache = True          # goto nocache
                    continue
                if (addr + size) & M < addr:
                    return None             # goto overflow
                i = self._index(first)
            else:
                addr = ALIGN(vstart, align, M)
                if (addr + size) & M < addr:
                    return None             # goto overflow
                steps.tree_nodes += tree_depth(len(lst))
                found_i = self._descend(addr)
                if found_i is None:
                    return addr             # goto found
                i = found_i
            break

        # from the starting point, walk areas until a suitable hole is found
        first = lst[i]
        while (addr + size) & M > first.va_start and (addr + size) & M <= vend:
            steps.list_nodes += 1
            if (addr + self.cached_hole_size) & M < first.va_start:
                self.cached_hole_size = (first.va_start - addr) & M
            addr = ALIGN(first.va_end, align, M)
            if (addr + size) & M < addr:
                return None                 # goto overflow
            if i == len(lst) - 1:           # list_is_last
                return addr                 # goto found
            i += 1
            first = lst[i]
        return addr

    def _found(self, addr: int, size: int, vstart: int, vend: int, steps: Steps,
               set_cache: bool) -> int | None:
        """``found:``: the vend check, then insert the area (and cache it)."""
        M = self.mask
        if (addr + size) & M > vend:
            return None                     # goto overflow
        if addr < vstart:
            return None                     # 4.19 would BUG(); see the module docstring
        va = Area(addr, (addr + size) & M)
        steps.tree_nodes += tree_depth(len(self.vmap_area_list))
        steps.tree_inserts += 1
        self._insert_vmap_area(va)
        if set_cache:
            self.free_vmap_cache = va
        return addr

    # --------------------------------------------------- __free_vmap_area
    def _update_cache_on_free(self, va: Area) -> None:
        if self.free_vmap_cache is not None:
            if va.va_end < self.cached_vstart:
                self.free_vmap_cache = None
            else:
                cache = self.free_vmap_cache
                if va.va_start <= cache.va_start:
                    self.free_vmap_cache = rb_prev(va)
                    # cached_hole_size and cached_align are not updated.

    def _erase_busy(self, va: Area, steps: Steps) -> None:
        rb_erase(va, self.vmap_area_root)
        RB_CLEAR_NODE(va)
        del self.vmap_area_list[self._index(va)]   # list_del_rcu
        steps.tree_erases += 1

    def _free_vmap_area(self, va: Area, steps: Steps) -> None:
        self._update_cache_on_free(va)
        self._erase_busy(va, steps)
        steps.objects_freed += 1            # kfree_rcu(va)


# ----------------------------------------------------------------- helpers
def gaps(areas: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """The maximal gaps of [lo, hi) not covered by the sorted disjoint ``areas``."""
    out = []
    cur = lo
    for s, e in areas:
        if s > cur:
            out.append((cur, min(s, hi)))
        cur = max(cur, e)
    if cur < hi:
        out.append((cur, hi))
    return [(s, e) for s, e in out if s < e]


def check_sorted_disjoint(areas: list[tuple[int, int]], lo: int, hi: int, what: str) -> None:
    prev_end = lo
    for s, e in areas:
        if not (lo <= s < e <= hi):
            raise InvariantError(f"{what} area [{s:#x}, {e:#x}) is empty or outside [{lo:#x}, {hi:#x})")
        if s < prev_end:
            raise InvariantError(f"{what} area [{s:#x}, {e:#x}) overlaps or is out of order")
        prev_end = e
