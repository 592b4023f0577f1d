"""Literal reference model of the Linux 5.10 / 5.15 allocator (mm/vmalloc.c), for tests.

Transcribed from Linux 5.10.13 mm/vmalloc.c (repo Rtoax/linux-5.10.13) and
checked line by line against 5.15.100 (repo zcjie1/linux-5.15.100), slow on
purpose.  The trees, lists, callbacks and counting rules are those of
ref_split_tree.py (the 6.1 model: its ``find_va_links``, ``link_va``,
``unlink_va``, ``adjust_va_to_fit_type`` and purge-tree
``merge_or_add_vmap_area`` are the same text in 5.10/5.15); what this model
writes again from the 5.10 text:

* ``find_vmap_lowest_match(size, align, vstart)``: ``length = size + align - 1``,
  the climb enters a right subtree when ``vstart <= va->va_start`` and never
  moves ``vstart``;
* ``__alloc_vmap_area`` without ``adjust_search_size``;
* 5.10's ``merge_or_add_vmap_area(va, &free_vmap_area_root, ...)``: merge with
  next and/or previous (unlinking the merged next first when both merge), link
  if nothing merged, then ``augment_tree_propagate_from`` once, at the end
  (5.10 has no ``_augment`` variant: the propagate is inside);
* the purge of 5.5-5.10: each area taken from ``vmap_purge_list`` is merged
  into the free tree by that function (:meth:`lazy_merge`).
"""

from __future__ import annotations

from simulator.allocators.base import AllocResult, Steps, check_request
from simulator.allocators.rbtree import RB_CLEAR_NODE, RbNode, rb_parent

from ref_augmented_tree import HEAD
from ref_split_tree import RefSplitTree


class RefSplitTree510(RefSplitTree):
    DESCRIPTION = "reference model of Linux 5.10/5.15 mm/vmalloc.c (tests only)"

    # ------------------------------------------------------------ the search
    def find_vmap_lowest_match_510(self, size: int, align: int, vstart: int) -> RbNode | None:
        node = self.free_tree.root.rb_node
        # Adjust the search size for alignment overhead.
        length = self.ul(size + align - 1)
        while node is not None:
            va = node
            self.steps.tree_nodes += 1
            self.steps.free_nodes += 1
            if self.get_subtree_max_size(node.left) >= length and vstart < va.va_start:
                node = node.left
            else:
                if self.is_within_this_va(va, size, align, vstart):
                    return va
                # Does not make sense to go deeper towards the right sub-tree
                if self.get_subtree_max_size(node.right) >= length:
                    node = node.right
                    continue
                # OK. We roll back and find the first right sub-tree ... only once
                while True:
                    node = rb_parent(node)
                    if node is None:
                        break
                    va = node
                    self.steps.tree_nodes += 1
                    self.steps.free_nodes += 1
                    if self.is_within_this_va(va, size, align, vstart):
                        return va
                    if self.get_subtree_max_size(node.right) >= length and vstart <= va.va_start:
                        node = node.right
                        break
        return None

    def alloc_vmap_area_510(self, size: int, align: int, vstart: int, vend: int) -> int:
        """5.10 ``__alloc_vmap_area``: the vend check after the search, no adjust."""
        va = self.find_vmap_lowest_match_510(size, align, vstart)
        if va is None:
            return vend
        if va.va_start > vstart:
            nva_start_addr = self.ALIGN(va.va_start, align)
        else:
            nva_start_addr = self.ALIGN(vstart, align)
        # Check the "vend" restriction.
        if nva_start_addr + size > vend:
            return vend
        if self.classify_va_fit_type(va, nva_start_addr, size) == 0:   # WARN_ON_ONCE(NOTHING_FIT)
            return vend
        if self.adjust_va_to_fit_type(self.free_tree, va, nva_start_addr, size):
            return vend
        return nva_start_addr

    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None) -> AllocResult:
        vstart, vend = check_request(self.rng, size, align, vstart, vend)
        self.steps = Steps()
        addr = self.alloc_vmap_area_510(size, align, vstart, vend)
        if addr == vend:
            return AllocResult(None, self.steps)
        self.allocated[addr] = addr + size
        return AllocResult(addr, self.steps)

    # ---------------------------------------------- 5.10 merge (free tree)
    def merge_or_add_vmap_area_510(self, va: RbNode) -> RbNode:
        tree = self.free_tree
        merged = False
        parent, is_left = self.find_va_links(va, tree, None)
        nxt = self.get_va_next_sibling(tree, parent, is_left)
        if nxt is not None:
            #  |<------VA------>|<-----Next----->|
            if nxt is not HEAD:
                sibling = nxt
                if sibling.va_start == va.va_end:
                    sibling.va_start = va.va_start
                    self.kmem_cache_free(va)
                    self.steps.merges += 1
                    va = sibling
                    merged = True
            #  |<-----Prev----->|<------VA------>|
            prev = tree.prev(nxt)
            if prev is not HEAD:
                sibling = prev
                if sibling.va_end == va.va_start:
                    # both neighbours: unlink "next" first, then merge with "previous"
                    if merged:
                        self._RefSplitTree__unlink_va(va, tree, True)  # type: ignore[attr-defined]
                    sibling.va_end = va.va_end
                    self.kmem_cache_free(va)
                    self.steps.merges += 1
                    va = sibling
                    merged = True
        if not merged:
            self._RefSplitTree__link_va(va, tree, parent, is_left, True)  # type: ignore[attr-defined]
        # Last step is to check and update the tree.
        self.augment_tree_propagate_from(va)
        return va

    def lazy_merge(self, addr: int, size: int) -> Steps:
        """5.5-5.10 purge: one area from vmap_purge_list into the free tree."""
        assert self.unlinked.pop(addr) == addr + size
        self.steps = Steps()
        va = RbNode(addr, addr + size)
        RB_CLEAR_NODE(va)
        self.merge_or_add_vmap_area_510(va)
        return self.steps

    def unlink_vmap_area(self, addr: int) -> Steps:
        """free_vmap_area_noflush's ``unlink_va(va, &vmap_area_root)`` of the
        area remove_vm_area found: one rb_erase, no descent."""
        self.steps = Steps()
        self.unlinked[addr] = self.vmap_area_root.pop(addr)
        self.steps.tree_erases += 1
        return self.steps


__all__ = ["RefSplitTree510"]
