"""``augmented-tree``: the Linux 5.2 vmap-area allocator (mm/vmalloc.c).

Read: Linux 5.4 mm/vmalloc.c (repo KINGFIOX/linux-5.4.286), with the 5.2
differences known from the 5.3 patch series "mm/vmap: remove node argument /
preload a CPU with one object for split purpose / get rid of one single
unlink_va() when merge" (82dd23e84be3 and siblings, July 2019):

* 5.2 has no per-CPU ``ne_fit_preload_node``: the NE remainder is
  ``kmem_cache_alloc(vmap_area_cachep, GFP_NOWAIT)`` under
  ``vmap_area_lock`` (objects_allocated = 1, priced inside the lock);
* 5.2's ``merge_or_add_vmap_area`` calls ``unlink_va`` on the freed object in
  both merge branches (a no-op for the detached one, guarded by
  RB_EMPTY_NODE); 5.4 calls it only for the linked, already merged next
  block.  Both propagate after each merge: the same decisions and Steps.

Free blocks of the WHOLE address space, [1, ULONG_MAX) minus the early
vmlist areas (``vmap_init_free_space``; free_tree.py), live in an rb-tree
augmented with ``subtree_max_size``.  The functions keep the kernel's names:

* ``__alloc_vmap_area``: ``find_vmap_lowest_match`` (``length = size + align
  - 1``, so it is not the lowest fit when align > 1 and the answer depends on
  the tree's shape; ``is_within_this_va``), the ``vend`` check,
  ``classify_va_fit_type`` and ``adjust_va_to_fit_type``;
* ``__free_vmap_area``: unlink from the busy tree, then
  ``merge_or_add_vmap_area`` (``find_va_links`` from the root,
  ``get_va_next_sibling``, merge with next and/or previous block).

With the whole-space tree the block [1, VMALLOC_START) (or the one below a
request's vstart) is the leftmost and largest: every subtree that holds it
passes the ``subtree_max_size >= length`` test, so the descent goes left
toward it and climbs back, as in the kernel (about twice the nodes of a
search over the vmalloc range alone).

The busy tree (``vmap_area_root``) is *modelled*: busy areas are a dict
start -> end.  Inserting a busy area counts ``tree_depth(nr_busy)`` tree
nodes (nr_busy before the insert) and one tree_insert; unlinking one counts
one tree_erase and no nodes (``find_vmap_area`` counts the vfree lookup).
"""

from __future__ import annotations

from .base import AllocResult, InvariantError, NonexistentAreaError, Steps, check_request
from .free_tree import (FreeVmapAreaRbAugmentCb, FreeVmapAreaTree, VmapArea, _propagate_grown,
                        augment_tree_propagate_from)


class AugmentedTreeAllocator(FreeVmapAreaTree):
    """Linux 5.2 ``alloc_vmap_area``/``__free_vmap_area`` over an augmented rb-tree."""

    DESCRIPTION = ("Linux 5.2: free blocks in an rb-tree augmented with subtree_max_size "
                   "(find_vmap_lowest_match, FL/LE/RE/NE fits, merge on free)")

    # ------------------------------------------------------ allocation (5.2)
    def find_vmap_lowest_match(self, size: int, align: int, vstart: int) -> tuple[VmapArea | None, int]:
        """The lowest free block that takes the request, or None, and the
        number of nodes visited (tree_nodes: every node whose va is examined,
        on the way down and on the climb back up)."""
        mask = self._mask
        a1 = align - 1
        amask = mask ^ a1
        # Adjust the search size for alignment overhead.
        length = (size + a1) & mask
        if not length:
            return self._lowest_match_length_0(vstart)
        # From here length > 0, so get_subtree_max_size(NULL) = 0 < length:
        # "child is not None and child.subtree_max_size >= length" is the C test.
        node = self._root.rb_node
        if node is None:
            return None, 0
        nodes = 0
        while True:  # (node is never None here: the loop exits by return)
            nodes += 1  # tree_nodes
            left = node.left
            s = node.va_start
            if left is not None and vstart < s and left.subtree_max_size >= length:
                node = left
                continue
            # is_within_this_va(va, size, align, vstart).  The pre-test only
            # skips arithmetic: a block shorter than size cannot pass, except
            # when ALIGN wraps to 0 and vstart == 0 (C accepts 0 + size <= va_end).
            if node.va_end - s >= size or not vstart:
                nva = ((s if s > vstart else vstart) + a1) & amask
                nva_end = nva + size
                if nva >= vstart and nva_end <= node.va_end and nva_end <= mask:
                    return node, nodes
            # Does not make sense to go deeper towards the right sub-tree if
            # it does not have a free block that is equal or bigger to the
            # requested search length.
            right = node.right
            if right is not None and right.subtree_max_size >= length:
                node = right
                continue
            # OK. We roll back and find the first right sub-tree, that will
            # satisfy the search criteria. It can happen only once due to
            # "vstart" restriction.
            while True:
                node = node.parent
                if node is None:
                    return None, nodes
                nodes += 1  # tree_nodes: the climb examines each ancestor
                s = node.va_start
                if node.va_end - s >= size or not vstart:
                    nva = ((s if s > vstart else vstart) + a1) & amask
                    nva_end = nva + size
                    if nva >= vstart and nva_end <= node.va_end and nva_end <= mask:
                        return node, nodes
                right = node.right
                if right is not None and vstart <= s and right.subtree_max_size >= length:
                    node = right
                    break

    def _lowest_match_length_0(self, vstart: int) -> tuple[None, int]:
        """find_vmap_lowest_match when ``size + align - 1`` wraps to 0.

        That needs size + align - 1 == 2**word_bits with size a page multiple,
        i.e. size == 2**word_bits and align == 1: nothing can fit (nva + size
        overflows).  Every ``get_subtree_max_size(..) >= 0`` test holds, so C
        goes left when vstart < va_start, else right, down to a NULL child.
        """
        node = self._root.rb_node
        nodes = 0
        while node is not None:
            nodes += 1  # tree_nodes
            node = node.left if vstart < node.va_start else node.right
        return None, nodes

    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None) -> AllocResult:
        """``alloc_vmap_area`` under the lock: ``__alloc_vmap_area`` + busy insert."""
        rng = self.rng
        # check_request's common case (no vstart/vend given), inlined (hot path):
        # make_range guarantees rng.vstart < rng.vend, so it returns those
        if (vstart is None and vend is None and type(size) is int and type(align) is int
                and size > 0 and not size % rng.page_size and 0 < align <= self._mask
                and not align & (align - 1)):
            vstart = rng.vstart
            vend = rng.vend
        else:
            vstart, vend = check_request(rng, size, align, vstart, vend)
        steps = Steps()
        va, nodes = self.find_vmap_lowest_match(size, align, vstart)
        steps.tree_nodes = nodes  # tree_nodes: find_vmap_lowest_match
        steps.free_nodes = nodes  # (in the free tree)
        addr = None if va is None else self._va_alloc(va, size, align, vstart, vend, steps)
        if addr is not None:
            # insert_vmap_area(va, &vmap_area_root): modelled busy-tree descent
            nr = self.nr_busy
            steps.tree_nodes += nr.bit_length()          # tree_nodes: tree_depth(nr_busy)
            steps.tree_inserts += 1                      # tree_inserts: rb_insert_color
            self._busy[addr] = addr + size
            self.nr_busy = nr + 1
        return AllocResult(addr, steps)

    # ----------------------------------------------------------- free
    def free(self, addr: int) -> Steps:
        """``__free_vmap_area``: unlink from the busy tree, then merge or add."""
        end = self._busy.pop(addr, None)
        if end is None:
            raise NonexistentAreaError(addr)
        self.nr_busy -= 1
        if self._vms <= addr and end <= self._vme:      # inside: no clipping (hot path)
            self._vm_used -= end - addr
        else:
            self._vm_used -= self._clip(addr, end)
        steps = Steps()
        steps.tree_erases = 1  # tree_erases: rb_erase from vmap_area_root (modelled: no nodes)
        self.merge_or_add_vmap_area(addr, end, steps)
        return steps

    def merge_or_add_vmap_area(self, va_start: int, va_end: int, steps: Steps) -> None:
        """Merge the freed [va_start, va_end) with its neighbours, or add it."""
        head = self._head
        # Find a place in the tree where VA potentially will be inserted,
        # unless it is merged with its sibling/siblings.
        root_node = self._root.rb_node
        parent = None
        is_left = False
        if root_node is not None:
            node = root_node
            nodes = 0
            while True:
                nodes += 1  # tree_nodes: find_va_links from the root
                if va_end <= node.va_start:        # (see find_va_links)
                    nxt = node.left
                elif va_start >= node.va_end:
                    nxt = node.right
                else:
                    raise InvariantError(
                        f"find_va_links: freed [{va_start:#x}, {va_end:#x}) overlaps free block "
                        f"[{node.va_start:#x}, {node.va_end:#x}) (kernel BUG())")
                if nxt is None:
                    break
                node = nxt
            parent = node
            is_left = va_end <= node.va_start      # the link is parent's left
            steps.tree_nodes += nodes
            steps.free_nodes += nodes

        merged = False
        va = None
        if parent is not None:
            # get_va_next_sibling(parent, link)
            nxt = parent if is_left else parent.next

            # start            end
            # |                |
            # |<------VA------>|<-----Next----->|
            #                  |                |
            #                  start            end
            if nxt is not head and nxt.va_start == va_end:
                if va_end >= self._vme:    # (else nxt started below VMALLOC_END: _meets_vm unchanged)
                    self._nr_vm_free -= self._meets_vm(nxt)
                    nxt.va_start = va_start
                    self._nr_vm_free += self._meets_vm(nxt)
                else:
                    nxt.va_start = va_start
                # Check and update the tree if needed.
                steps.augment_updates += _propagate_grown(nxt)  # augment_tree_propagate_from (nxt grew)
                steps.merges += 1         # merges
                steps.objects_freed += 1  # objects_freed: kmem_cache_free(va)
                # Point to the new merged area.
                va = nxt
                merged = True

            # start            end
            # |                |
            # |<-----Prev----->|<------VA------>|
            #                  |                |
            #                  start            end
            prv = nxt.prev
            if prv is not head and prv.va_end == va_start:
                new_end = va.va_end if merged else va_end
                if va_start <= self._vms:  # (else prv ended above VMALLOC_START: _meets_vm unchanged)
                    self._nr_vm_free -= self._meets_vm(prv)
                    prv.va_end = new_end
                    self._nr_vm_free += self._meets_vm(prv)
                else:
                    prv.va_end = new_end
                # Check and update the tree if needed.
                steps.augment_updates += _propagate_grown(prv)  # augment_tree_propagate_from (prv grew)
                if merged:
                    steps.augment_updates += self.unlink_va(va)  # augment_updates: erase callbacks
                    steps.tree_erases += 1                       # tree_erases: rb_erase_augmented
                steps.merges += 1         # merges
                steps.objects_freed += 1  # objects_freed: kmem_cache_free(va)
                return

        if not merged:
            va = VmapArea(va_start, va_end)
            steps.augment_updates += self.link_va(va, parent, is_left)  # augment_updates: rotations
            steps.tree_inserts += 1                                      # tree_inserts
            steps.augment_updates += _propagate_grown(va)               # augment_tree_propagate_from (linked)

    # ---------------------------------------------------------- check
    def check(self) -> None:
        """Raise InvariantError if an invariant is broken (O(n))."""
        self._check_free_tree(list(self._busy.items()))


__all__ = ["AugmentedTreeAllocator", "VmapArea", "FreeVmapAreaRbAugmentCb", "augment_tree_propagate_from"]
