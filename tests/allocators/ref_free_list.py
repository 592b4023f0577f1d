"""Literal reference model of the seed RFC (June 2018) free-list allocator.

Line by line from ``/work/shared/seed/rfc-vmalloc-free-blocks-2018.txt``:
``alloc_vmalloc_area`` with ``last_free_va_chunk``, ``free_va_max_size``,
``last_alloc_vstart`` and ``last_alloc_align`` and the b/le/re/ne fits,
``__merge_add_free_va_area``, the ``last_free_va_chunk`` fix-up of
``__free_vmap_area`` and the free-area build of ``vmalloc_init``.  A request
whose ``vstart`` is not ``is_vmalloc_addr`` (vmalloc_start <= vstart <
vmalloc_end) takes the old Linux 4.19 busy-list path (inherited from
:class:`RefBusyList`) over the same busy areas with the old cache globals;
the vmalloc path never sets ``free_vmap_cache``.  On free, an area whose
va_end lies in (vmalloc_start, vmalloc_end] is merged into the free list, any
other gets the old cache update and is kfree'd.  Free blocks are a plain
address-sorted Python list walked node by node.

Modelling decisions (report any disagreement to the lead):

* Fit names: b_fit -> "FL", le_fit -> "LE", re_fit -> "RE", ne_fit -> "NE".
* "Not found" (``alloc_vmalloc_area`` returns VMALLOC_END) is a failure,
  ``addr = None``, whatever ``vend`` is: the RFC's comment says the overflow
  path is meant to trigger (literally it would only when vend < VMALLOC_END +
  size).  The NE ``kzalloc(GFP_NOWAIT)`` never fails.
* ``vmalloc_init`` as the RFC writes it: [VMALLOC_START, vmlist->addr) and
  [end of the last vmlist area, VMALLOC_END) are inserted even when empty;
  the padding between vmlist areas only when ``> 0``.  The vmlist is the
  initial areas inside the vmalloc range (clipped to it).  Empty blocks are
  list nodes (walked, counted) but not free space (``free_blocks()``).
* The old path's search runs over every busy area (vmap_area_list holds
  them all); if it finds an area inside [VMALLOC_START, VMALLOC_END) the RFC
  would leave it on the free list: :class:`RfcFreeListCorruption` is raised
  before it is inserted.  Likewise when freeing a vmalloc area that
  ``free_vmap_cache`` points at (the RFC would leave the pointer dangling).
* ``if (last_free_va_start)`` is kept literally: a chunk starting at address
  0 counts as no chunk.
* Word overflow in the walk: the RFC has no check, so an ``ALIGN`` that wraps
  to 0 (or an ``nva + size`` past the word) would "fit" and corrupt the list
  (then ``BUG_ON(va->va_start < vstart)``).  Like the fast policy we treat
  such a block as not fitting (the check Linux 5.2 added in
  ``is_within_this_va``): it is skipped and counted in ``free_va_max_size``.
  The old path keeps the literal unsigned arithmetic of :mod:`ref_busy_list`.
* Steps, vmalloc-path alloc: ``list_nodes`` = blocks examined by
  ``list_for_each_entry_from`` including the one that fits or triggers the
  vend break; FL: one ``tree_erases`` + one ``objects_freed``; NE: one
  ``objects_allocated`` + one ``tree_inserts`` + ``tree_depth(nr_free_blocks
  before the insert)`` tree nodes; success: ``tree_depth(nr_busy)`` tree
  nodes + one ``tree_inserts`` for the busy insert; no tree descent for the
  search itself.  Free of a vmalloc area: one ``tree_erases`` (busy tree),
  ``tree_depth(nr_free_blocks)`` tree nodes for ``__find_va_slot``; each merge
  one ``merges`` + one ``objects_freed`` (the absorbed object), plus one
  ``tree_erases`` when the absorbed object is in the free tree (the prev-merge
  after a next-merge); no merge: one ``tree_inserts`` (the busy object becomes
  the free block, nothing is freed).  Old-path operations count as busy-list.
"""

from __future__ import annotations

from collections.abc import Iterable

from simulator.allocators.base import InvariantError, Range, Steps, tree_depth
from simulator.allocators.free_list import RfcFreeListCorruption

from ref_busy_list import Area, RefBusyList, check_sorted_disjoint, gaps


def align_nowrap(x: int, a: int) -> int:
    """``ALIGN(x, a)`` without the wrap: may exceed the word (then nothing fits)."""
    return (x + a - 1) & ~(a - 1)


class RefFreeList(RefBusyList):
    """The seed RFC's ``alloc_vmap_area`` / ``__free_vmap_area``, literally."""

    NAME = "free-list"

    def __init__(self, rng: Range, initial_busy: Iterable[tuple[int, int]]) -> None:
        super().__init__(rng, initial_busy)
        self.VMALLOC_START = rng.vmalloc_start
        self.VMALLOC_END = rng.vmalloc_end
        # free_vmap_area_list (and free_vmap_area_root): address-sorted blocks,
        # built by vmalloc_init ("Build free areas.").
        self.free_vmap_area_list: list[Area] = []
        vmlist = [(max(s, rng.vmalloc_start), min(e, rng.vmalloc_end)) for s, e in self.busy_areas()
                  if s < rng.vmalloc_end and e > rng.vmalloc_start]
        va = Area(rng.vmalloc_start, rng.vmalloc_end if not vmlist else vmlist[0][0])
        self.free_vmap_area_list.append(va)
        prev_va = None
        for k, (s, e) in enumerate(vmlist):
            if prev_va is not None and (s - prev_va[1]) > 0:
                self.free_vmap_area_list.append(Area(prev_va[1], s))
            if k == len(vmlist) - 1:            # if (!tmp->next)
                self.free_vmap_area_list.append(Area(e, rng.vmalloc_end))
            prev_va = (s, e)
        self.last_free_va_chunk: Area | None = None
        self.last_alloc_vstart = 0
        self.last_alloc_align = 0
        self.free_va_max_size = 0

    # ---------------------------------------------------------------- public
    def free_blocks(self) -> list[tuple[int, int]]:
        """The free list inside the vmalloc range, the busy gaps outside it."""
        rng = self.rng
        busy = self.busy_areas()
        out = [g for g in gaps(busy, rng.vstart, rng.vmalloc_start)]
        out += [(a.va_start, a.va_end) for a in self.free_vmap_area_list if a.va_end > a.va_start]
        out += [g for g in gaps(busy, rng.vmalloc_end, rng.vend)]
        return out

    @property
    def nr_free_blocks(self) -> int:
        return sum(1 for a in self.free_vmap_area_list if a.va_end > a.va_start)

    @property
    def nr_free_objects(self) -> int:
        return len(self.free_vmap_area_list)

    def check(self) -> None:
        super().check()
        allb = [(a.va_start, a.va_end) for a in self.free_vmap_area_list]
        if allb != sorted(allb) or any(e < s for s, e in allb):
            raise InvariantError(f"free list out of order: {allb}")
        blocks = [(s, e) for s, e in allb if e > s]
        check_sorted_disjoint(blocks, self.VMALLOC_START, self.VMALLOC_END, "free")
        for (_, e1), (s2, _) in zip(blocks, blocks[1:]):
            if e1 == s2:
                raise InvariantError(f"free blocks not coalesced at {e1:#x}")
        inside = [(max(s, self.VMALLOC_START), min(e, self.VMALLOC_END)) for s, e in self.busy_areas()
                  if s < self.VMALLOC_END and e > self.VMALLOC_START]
        if gaps(inside, self.VMALLOC_START, self.VMALLOC_END) != blocks:
            raise InvariantError("busy areas and free blocks do not tile the vmalloc range")
        if self.last_free_va_chunk is not None and not any(
                a is self.last_free_va_chunk for a in self.free_vmap_area_list):
            raise InvariantError(f"last_free_va_chunk {self.last_free_va_chunk!r} is not a free block")

    # ---------------------------------------------------- alloc_vmap_area
    def is_vmalloc_addr(self, x: int) -> bool:
        return self.VMALLOC_START <= x < self.VMALLOC_END

    def alloc_vmap_area(self, size: int, align: int, vstart: int, vend: int,
                        steps: Steps) -> int | None:
        if self.is_vmalloc_addr(vstart):
            addr = self.alloc_vmalloc_area(size, align, vstart, vend, steps)
            if addr is None:
                return None                 # VMALLOC_END: the overflow path
            # goto found; free_vmap_cache is not set for a vmalloc allocation
            return self._found(addr, size, vstart, vend, steps, set_cache=False)
        addr = self._search(size, align, vstart, vend, steps)
        if addr is None:
            return None
        if ((addr + size) & self.mask) <= vend and addr >= vstart and (
                addr < self.VMALLOC_END and addr + size > self.VMALLOC_START):
            raise RfcFreeListCorruption(f"old path found [{addr:#x}, {addr + size:#x}) in the vmalloc range")
        return self._found(addr, size, vstart, vend, steps, set_cache=True)

    def _free_index(self, va: Area) -> int:
        for i, a in enumerate(self.free_vmap_area_list):
            if a is va:
                return i
        raise AssertionError(f"{va!r} is not in free_vmap_area_list")

    def alloc_vmalloc_area(self, size: int, align: int, vstart: int, vend: int,
                           steps: Steps) -> int | None:
        """Returns nva_start_addr, or None where the RFC returns VMALLOC_END."""
        M = self.mask
        fl = self.free_vmap_area_list
        b_fit = le_fit = re_fit = ne_fit = None
        i = 0 if self.last_free_va_chunk is None else self._free_index(self.last_free_va_chunk)

        if (self.last_free_va_chunk is None or size <= self.free_va_max_size
                or vstart < self.last_alloc_vstart or align < self.last_alloc_align):
            i = 0                           # list_first_entry(&free_vmap_area_list)
            self.free_va_max_size = 0
            self.last_free_va_chunk = None

        nva_start_addr = align_nowrap(vstart, align)
        while i < len(fl):                  # list_for_each_entry_from
            va = fl[i]
            steps.list_nodes += 1
            steps.free_nodes += 1           # the free list
            if va.va_start > vstart:
                nva_start_addr = align_nowrap(va.va_start, align)

            # VA does not fit to requested parameters.  (Python ints: an ALIGN
            # or an nva + size past the word never fits; see the docstring.)
            if nva_start_addr + size > va.va_end:
                self.free_va_max_size = max(self.free_va_max_size, (va.va_end - va.va_start) & M)
                i += 1
                continue

            # Nothing has been found, give up.
            if nva_start_addr + size > vend:
                break

            # Classify what we have found.
            if va.va_start == nva_start_addr:
                if va.va_end == nva_start_addr + size:
                    b_fit = va
                le_fit = va
            elif va.va_end == nva_start_addr + size:
                re_fit = va
            else:
                ne_fit = va

            self.last_free_va_chunk = va
            self.last_alloc_vstart = vstart
            self.last_alloc_align = align
            break

        if b_fit is not None:
            j = self._free_index(b_fit)
            self.last_free_va_chunk = fl[j - 1] if j > 0 else None
            self._remove_free_va_area(b_fit, in_tree=True, steps=steps)
            steps.fit = "FL"
        elif le_fit is not None:
            le_fit.va_start = le_fit.va_start + size
            steps.fit = "LE"
        elif re_fit is not None:
            re_fit.va_end = nva_start_addr
            steps.fit = "RE"
        elif ne_fit is not None:
            va = Area(nva_start_addr + size, ne_fit.va_end)   # kzalloc(GFP_NOWAIT)
            steps.objects_allocated += 1
            ne_fit.va_end = nva_start_addr
            self._insert_free_va_area(va, steps)
            steps.fit = "NE"
        else:
            return None                     # nva_start_addr = VMALLOC_END
        return nva_start_addr

    def _insert_free_va_area(self, va: Area, steps: Steps) -> None:
        """``__insert_vmap_area(va, &free_vmap_area_root, &free_vmap_area_list)``."""
        fl = self.free_vmap_area_list
        steps.tree_nodes += tree_depth(len(fl))
        steps.free_nodes += tree_depth(len(fl))     # the free tree
        i = 0
        while i < len(fl) and fl[i].va_start < va.va_start:
            i += 1
        if (i > 0 and fl[i - 1].va_end > va.va_start) or (i < len(fl) and fl[i].va_start < va.va_end):
            raise AssertionError(f"kernel BUG: free block {va!r} overlaps another")
        fl.insert(i, va)
        steps.tree_inserts += 1

    def _remove_free_va_area(self, va: Area, in_tree: bool, steps: Steps) -> None:
        """``__remove_free_va_area``: erase if linked (!RB_EMPTY_NODE), then kfree_rcu."""
        if in_tree:
            del self.free_vmap_area_list[self._free_index(va)]
            steps.tree_erases += 1
        steps.objects_freed += 1

    # --------------------------------------------------- __free_vmap_area
    def _free_vmap_area(self, va: Area, steps: Steps) -> None:
        last_free_va_start = 0
        is_vmalloc_area = self.VMALLOC_START < va.va_end <= self.VMALLOC_END

        if not is_vmalloc_area:
            self._update_cache_on_free(va)
        elif self.free_vmap_cache is va:
            raise RfcFreeListCorruption(f"free_vmap_cache would dangle at {va!r}")
        self._erase_busy(va, steps)         # rb_erase; RB_CLEAR_NODE; list_del_rcu

        if is_vmalloc_area:
            if self.last_free_va_chunk is not None:
                last_free_va_start = self.last_free_va_chunk.va_start
            # Merge VA with its neighbors, otherwise add it.
            va = self._merge_add_free_va_area(va, steps)
            # Update a search criteria if merging/inserting is done before
            # last_free_va_chunk va_start address.
            if last_free_va_start:
                if va.va_start <= last_free_va_start:
                    j = self._free_index(va)
                    self.last_free_va_chunk = self.free_vmap_area_list[j - 1] if j > 0 else None
        else:
            steps.objects_freed += 1        # kfree_rcu(va)

    def _merge_add_free_va_area(self, va: Area, steps: Steps) -> Area:
        fl = self.free_vmap_area_list
        # __find_va_slot: one descent of the free tree.
        steps.tree_nodes += tree_depth(len(fl))
        steps.free_nodes += tree_depth(len(fl))     # the free tree
        # (the descent goes right of a block iff va_start >= its va_end: an
        # empty block at VMALLOC_START == va_start lies left of va)
        j = 0
        while j < len(fl) and not va.va_start < fl[j].va_end:
            j += 1
        if any(b.va_start < va.va_end and va.va_start < b.va_end for b in fl):
            raise AssertionError(f"vmsim: freed {va!r} overlaps a free block")
        # __find_va_siblings
        prev = fl[j - 1] if j > 0 else None
        nxt = fl[j] if j < len(fl) else None
        merged = False
        va_in_tree = False                  # its rb_node was cleared from the busy tree

        if nxt is not None and nxt.va_start == va.va_end:
            nxt.va_start = va.va_start
            self._remove_free_va_area(va, va_in_tree, steps)
            steps.merges += 1
            va = nxt
            va_in_tree = True
            merged = True

        if prev is not None and prev.va_end == va.va_start:
            prev.va_end = va.va_end
            self._remove_free_va_area(va, va_in_tree, steps)
            steps.merges += 1
            va = prev
            merged = True

        if not merged:
            fl.insert(j, va)                # __link_va
            steps.tree_inserts += 1
        return va
