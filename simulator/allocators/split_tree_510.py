"""``split-tree-5.10``: the Linux 5.5-5.15 vmap-area allocator (split locks, 5.2 search).

Read: Linux 5.10.13 ``mm/vmalloc.c`` (repo Rtoax/linux-5.10.13, annotated
but code-identical to 5.10 stable) and Linux 5.15.100 ``mm/vmalloc.c`` (repo
zcjie1/linux-5.15.100); docs/kernels/linux-5.10.md has the details.

The locks are 6.1's (split_tree.py: ``free_vmap_area_lock`` for the free
tree, ``vmap_area_lock`` for the busy tree), but the search is 5.2's:

* ``find_vmap_lowest_match(size, align, vstart)``: ``length = size + align -
  1`` always (no ``adjust_search_size``), and the climb back up enters a right
  subtree only when ``vstart <= va->va_start`` without moving ``vstart``
  (no ``vstart + 1``): augmented_tree.py's search, the same text in 5.10 and
  5.15 (5.16 changed it, 5.18 again);
* ``merge_or_add_vmap_area`` into the free tree merges without propagating
  and propagates once from the result (5.10: inside the function; 5.15:
  ``merge_or_add_vmap_area_augment``): split_tree.py's
  ``merge_or_add_vmap_area_augment``, the same decisions and Steps.

What a generation does with a lazily freed area differs:

* 5.5-5.10 (``linux-5.10``): ``free_vmap_area_noflush`` unlinks it from the
  busy tree (``unlink_vmap_area``) and ``llist_add``s it to
  ``vmap_purge_list`` (the generation keeps that list: no tree, no lock);
  ``__purge_vmap_area_lazy`` merges each area, newest first, straight into
  the free tree: :meth:`merge_or_add_vmap_area` here;
* 5.11-5.15 (``linux-5.15``): the purge tree of split_tree.py
  (``free_vmap_area_noflush``, ``purge_list_take``, ``merge_free``), as 6.1.

NE fits report fit="NE", objects_allocated=1 (the generation decides whether
the per-CPU ``ne_fit_preload_node`` object pays for it, as in 6.1).
"""

from __future__ import annotations

from .augmented_tree import AugmentedTreeAllocator
from .base import Steps
from .free_tree import VmapArea
from .split_tree import SplitTreeAllocator


class SplitTree510Allocator(SplitTreeAllocator):
    """Linux 5.5-5.15: split-tree's trees and locks with the 5.2 free-tree search."""

    DESCRIPTION = ("Linux 5.10/5.15 (5.5-5.15): split-tree's locks and trees, the 5.2 search "
                   "(length = size + align - 1); 5.10 merges lazy areas one by one at purge time")

    _lowest_match_length_0 = AugmentedTreeAllocator._lowest_match_length_0

    def find_vmap_lowest_match(self, size: int, align: int,  # type: ignore[override]
                               vstart: int) -> tuple[VmapArea | None, int]:
        """5.2's ``find_vmap_lowest_match(size, align, vstart)``, read again in
        5.10.13 and 5.15.100: the identical text (augmented_tree.py has the
        port and its comments; both classes share the free tree's fields)."""
        return AugmentedTreeAllocator.find_vmap_lowest_match(self, size, align, vstart)  # type: ignore[arg-type]

    def lowest_match(self, size: int, align: int, vstart: int,
                     vend: int) -> tuple[VmapArea | None, int]:
        """``__alloc_vmap_area``'s search, 5.2's: no search-size adjustment
        (split-tree's ``alloc`` does the rest, the same in 5.5-6.8)."""
        return self.find_vmap_lowest_match(size, align, vstart)

    def merge_or_add_vmap_area(self, addr: int, size: int) -> Steps:
        """5.5-5.10 ``__purge_vmap_area_lazy``'s merge of one area taken from
        ``vmap_purge_list``: ``merge_or_add_vmap_area(va, &free_vmap_area_root,
        &free_vmap_area_list)`` of an area that ``unlink_vmap_area`` (or
        ``find_unlink_vmap_area``) took out of the busy tree (under
        free_vmap_area_lock).  It never meets the purge tree."""
        end = addr + size
        if self._unlinked.get(addr) != end:
            raise ValueError(f"merge_or_add_vmap_area: [{addr:#x}, {end:#x}) was not unlinked")
        del self._unlinked[addr]
        steps = Steps()
        self.merge_or_add_vmap_area_augment(addr, end, steps)
        return steps

    @property
    def nr_unlinked(self) -> int:
        """Areas out of the busy tree and in no tree (5.10: on vmap_purge_list)."""
        return len(self._unlinked)


__all__ = ["SplitTree510Allocator"]
