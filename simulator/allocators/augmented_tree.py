"""``augmented-tree``: the Linux 5.2 vmap-area allocator (mm/vmalloc.c).

Free blocks of the whole range live in a red-black tree (``rbtree.py``, a port
of lib/rbtree.c) sorted by address and augmented with ``subtree_max_size``,
plus an address-sorted list (``free_vmap_area_list``).  The functions below
keep the kernel's names and control flow:

* ``__alloc_vmap_area``: ``find_vmap_lowest_match`` (``length = size + align
  - 1``; ``is_within_this_va``), the ``vend`` check, ``classify_va_fit_type``
  and ``adjust_va_to_fit_type`` (FL/LE/RE/NE; the NE remainder ``lva`` is the
  LEFT part, inserted from ``va``'s node with ``insert_vmap_area_augment``);
* ``__free_vmap_area``: unlink from the busy tree, then
  ``merge_or_add_vmap_area`` (``find_va_links`` from the root,
  ``get_va_next_sibling``, merge with next and/or previous block).

Arithmetic is that of ``unsigned long`` of ``rng.word_bits`` bits: ``ALIGN``
wraps modulo 2**word_bits and the overflow checks of ``is_within_this_va``
behave as in C.  (Consequence: a block ending exactly at 2**word_bits cannot
hand out its last byte, as ``nva_start_addr + size`` wraps to 0.)

The busy tree (``vmap_area_root``) is *modelled*, not kept: busy areas are a
dict start -> end.  Inserting a busy area counts ``tree_depth(nr_busy)``
tree nodes (nr_busy before the insert, i.e. ceil(log2(n + 1))) and one
tree_insert; unlinking one counts one tree_erase and no nodes (the engine
prices the vfree lookup).  The free tree is real and its visited nodes are
counted one by one.  The counting rule of each Steps field is written next
to the line that counts it.
"""

from __future__ import annotations

from .base import AllocResult, InvariantError, NonexistentAreaError, Range, Steps, check_request
from .rbtree import (RB_CLEAR_NODE, RB_EMPTY_NODE, RbNode, RbRoot, rb_erase_augmented,
                     rb_insert_augmented, rb_link_node, rb_validate)


class VmapArea(RbNode):
    """``struct vmap_area`` of a free block: rb node + list links."""

    __slots__ = ("prev", "next")

    def __init__(self, va_start: int = 0, va_end: int = 0) -> None:
        RbNode.__init__(self, va_start, va_end)
        self.prev: VmapArea = self
        self.next: VmapArea = self


class FreeVmapAreaRbAugmentCb:
    """``RB_DECLARE_CALLBACKS(static, free_vmap_area_rb_augment_cb, struct
    vmap_area, rb_node, unsigned long, subtree_max_size,
    compute_subtree_max_size)``.

    ``nr_computes`` counts ``compute_subtree_max_size`` evaluations (the
    ``augment_updates`` rule): one per propagate iteration (including the
    one that finds the value unchanged and stops) and one per rotate; copy
    computes nothing.
    """

    __slots__ = ("nr_computes",)

    def __init__(self) -> None:
        self.nr_computes = 0

    def propagate(self, rb: RbNode | None, stop: RbNode | None) -> None:
        self.nr_computes += _propagate(rb, stop)

    def copy(self, old: RbNode, new: RbNode) -> None:
        new.subtree_max_size = old.subtree_max_size

    def rotate(self, old: RbNode, new: RbNode) -> None:
        new.subtree_max_size = old.subtree_max_size
        self.nr_computes += 1  # augment_updates: compute_subtree_max_size(old)
        m = old.va_end - old.va_start
        c = old.left
        if c is not None and c.subtree_max_size > m:
            m = c.subtree_max_size
        c = old.right
        if c is not None and c.subtree_max_size > m:
            m = c.subtree_max_size
        old.subtree_max_size = m


def augment_tree_propagate_from(va: RbNode) -> int:
    """Populate subtree_max_size from ``va`` upwards; stop at the first node
    whose value is unchanged.  Returns the number of
    ``compute_subtree_max_size`` evaluations (augment_updates).

    ::

          4--8
           /\\
          /  \\
         /    \\
       2--2  8--8

    If we modify the node 4, shrinking it to 2, then no modification is
    required.  If we shrink the node 2 to 1 its subtree_max_size is updated
    only, and set to 1.  If we shrink the node 8 to 6, then its
    subtree_max_size is set to 6 and parent node becomes 4--6.
    """
    return _propagate(va, None)


def _propagate(node: RbNode | None, stop: RbNode | None) -> int:
    """The shared loop of augment_tree_propagate_from and the rb callbacks'
    propagate: recompute subtree_max_size upwards from ``node`` until ``stop``
    or the first unchanged value; returns the compute_subtree_max_size count."""
    n = 0
    while node is not stop:
        n += 1  # augment_updates: one compute_subtree_max_size per iteration
        m = node.va_end - node.va_start
        c = node.left
        if c is not None and c.subtree_max_size > m:
            m = c.subtree_max_size
        c = node.right
        if c is not None and c.subtree_max_size > m:
            m = c.subtree_max_size
        if node.subtree_max_size == m:
            break
        node.subtree_max_size = m
        node = node.parent
    return n


class AugmentedTreeAllocator:
    """Linux 5.2 ``alloc_vmap_area``/``__free_vmap_area`` over an augmented rb-tree."""

    DESCRIPTION = ("Linux 5.2: free blocks in an rb-tree augmented with subtree_max_size "
                   "(find_vmap_lowest_match, FL/LE/RE/NE fits, merge on free)")

    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]]) -> None:
        self.rng = rng
        self._mask = rng.mask
        self._root = RbRoot()                 # free_vmap_area_root
        self._head = VmapArea()               # free_vmap_area_list (sentinel)
        self._cb = FreeVmapAreaRbAugmentCb()  # free_vmap_area_rb_augment_cb
        self._busy: dict[int, int] = {}       # modelled vmap_area_root: start -> end
        self._busy_bytes = 0
        self._nr_free = 0
        # Read-outs for metrics cover the vmalloc range [VMALLOC_START,
        # VMALLOC_END), as for the other policies: free blocks meeting it
        # (clipped), busy bytes inside it.  _partial: the range is a strict
        # sub-range, so the clipped counts must be kept separately.
        self._vms = rng.vmalloc_start
        self._vme = rng.vmalloc_end
        self._partial = (rng.vmalloc_start, rng.vmalloc_end) != (rng.vstart, rng.vend)
        self._nr_vm_free = 0
        self._vm_busy_bytes = 0
        prev_end = rng.vstart
        for s, e in sorted(initial_busy):
            if not (prev_end <= s < e <= rng.vend):
                raise ValueError(f"initial area [{s:#x}, {e:#x}) overlaps another or lies outside the range")
            self._busy[s] = e
            self._busy_bytes += e - s
            self._vm_busy_bytes += max(0, min(e, self._vme) - max(s, self._vms))
            prev_end = e
        self.vmap_init_free_space()

    # ----------------------------------------------------------- set-up
    def vmap_init_free_space(self) -> None:
        """Free blocks = [vstart, vend) minus the busy areas, ascending.

        ::

               B     F     B     B     B     F
           -|-----|.....|-----|-----|-----|.....|-
            |           The KVA space           |
            |<--------------------------------->|
        """
        vmap_start = self.rng.vstart
        for s, e in sorted(self._busy.items()):
            if s - vmap_start > 0:
                self.insert_vmap_area_augment(VmapArea(vmap_start, s), None)
            vmap_start = e
        if self.rng.vend - vmap_start > 0:
            self.insert_vmap_area_augment(VmapArea(vmap_start, self.rng.vend), None)

    # --------------------------------------------------- tree primitives
    def find_va_links(self, va: VmapArea, from_: RbNode | None) -> tuple[RbNode | None, bool, int]:
        """The parent and side (is_left) where ``va`` would be linked, and the
        number of nodes visited (tree_nodes).  From the root when ``from_``
        is None, else from ``from_``."""
        if from_ is None:
            node = self._root.rb_node
            if node is None:
                return None, False, 0
        else:
            node = from_
        start = va.va_start
        end = va.va_end
        nodes = 0
        while True:
            nodes += 1  # tree_nodes: one per node examined by the descent
            # C: "va_start < tmp->va_end && va_end <= tmp->va_start" (left) and
            # "va_end > tmp->va_start && va_start >= tmp->va_end" (right); with
            # non-empty areas the first half of each test follows from the second.
            if end <= node.va_start:
                nxt = node.left
                is_left = True
            elif start >= node.va_end:
                nxt = node.right
                is_left = False
            else:
                raise InvariantError(
                    f"find_va_links: [{start:#x}, {end:#x}) overlaps free block "
                    f"[{node.va_start:#x}, {node.va_end:#x}) (kernel BUG())")
            if nxt is None:
                return node, is_left, nodes
            node = nxt

    def link_va(self, va: VmapArea, parent: VmapArea | None, is_left: bool) -> int:
        """rb_link_node + rb_insert_augmented, subtree_max_size = 0, list_add.
        Returns the compute_subtree_max_size evaluations of the rotations."""
        head = self._head
        if parent is not None:
            head = parent
            if is_left:
                head = head.prev
        cb = self._cb
        before = cb.nr_computes
        rb_link_node(va, parent, self._root, is_left)
        rb_insert_augmented(va, self._root, cb)
        va.subtree_max_size = 0
        # list_add(&va->list, head)
        nxt = head.next
        va.prev = head
        va.next = nxt
        nxt.prev = va
        head.next = va
        self._nr_free += 1
        if va.va_end > self._vms and va.va_start < self._vme:  # _meets_vm, inlined
            self._nr_vm_free += 1
        return cb.nr_computes - before

    def unlink_va(self, va: VmapArea) -> int:
        """rb_erase_augmented + list_del + RB_CLEAR_NODE (free tree).
        Returns the compute_subtree_max_size evaluations."""
        if RB_EMPTY_NODE(va):
            raise InvariantError(f"unlink_va of a detached node {va!r}")
        cb = self._cb
        before = cb.nr_computes
        rb_erase_augmented(va, self._root, cb)
        va.prev.next = va.next
        va.next.prev = va.prev
        RB_CLEAR_NODE(va)
        self._nr_free -= 1
        if va.va_end > self._vms and va.va_start < self._vme:
            self._nr_vm_free -= 1
        return cb.nr_computes - before

    def insert_vmap_area_augment(self, va: VmapArea, from_: RbNode | None) -> tuple[int, int]:
        """find_va_links + link_va + augment_tree_propagate_from.
        Returns (tree_nodes, augment_updates)."""
        parent, is_left, nodes = self.find_va_links(va, from_)
        updates = self.link_va(va, parent, is_left)
        updates += augment_tree_propagate_from(va)
        return nodes, updates

    # ------------------------------------------------------ allocation
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
        nodes = 0
        while node is not None:
            nodes += 1  # tree_nodes
            left = node.left
            s = node.va_start
            if left is not None and vstart < s and left.subtree_max_size >= length:
                node = left
                continue
            # is_within_this_va(va, size, align, vstart).  The pre-test only
            # skips arithmetic: a block shorter than size cannot pass, except
            # when ALIGN wraps to 0 and vstart == 0 (C accepts 0 + size <= va_end).
            e = node.va_end
            if e - s >= size or not vstart:
                nva = ((s if s > vstart else vstart) + a1) & amask
                if nva >= vstart and nva + size <= e and nva + size <= mask:
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
                    break
                nodes += 1  # tree_nodes: the climb examines each ancestor
                s = node.va_start
                e = node.va_end
                if e - s >= size or not vstart:
                    nva = ((s if s > vstart else vstart) + a1) & amask
                    if nva >= vstart and nva + size <= e and nva + size <= mask:
                        return node, nodes
                right = node.right
                if right is not None and vstart <= s and right.subtree_max_size >= length:
                    node = right
                    break
        return None, nodes

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
        vstart, vend = check_request(self.rng, size, align, vstart, vend)
        steps = Steps()
        addr = self.__alloc_vmap_area(size, align, vstart, vend, steps)
        if addr is not None:
            busy = self._busy
            # insert_vmap_area(va, &vmap_area_root): modelled busy-tree descent
            steps.tree_nodes += len(busy).bit_length()  # tree_nodes: tree_depth(nr_busy)
            steps.tree_inserts += 1                      # tree_inserts: rb_insert_color
            busy[addr] = addr + size
            self._busy_bytes += size
            if self._partial:
                self._vm_busy_bytes += max(0, min(addr + size, self._vme) - max(addr, self._vms))
        return AllocResult(addr, steps)

    def __alloc_vmap_area(self, size: int, align: int, vstart: int, vend: int, steps: Steps) -> int | None:
        va, nodes = self.find_vmap_lowest_match(size, align, vstart)
        steps.tree_nodes = nodes  # tree_nodes: find_vmap_lowest_match
        steps.free_nodes = nodes  # (in the free tree)
        if va is None:
            return None
        s = va.va_start
        nva_start_addr = ((s if s > vstart else vstart) + align - 1) & (self._mask ^ (align - 1))
        # Check the "vend" restriction.
        if nva_start_addr + size > vend:
            return None
        fit = self.classify_va_fit_type(va, nva_start_addr, size)
        if fit is None:
            # WARN_ON_ONCE(type == NOTHING_FIT): reachable only when ALIGN wrapped
            # to 0 with vstart == 0; the kernel warns and fails the request.
            return None
        self.adjust_va_to_fit_type(va, nva_start_addr, size, fit, steps)
        return nva_start_addr

    @staticmethod
    def classify_va_fit_type(va: VmapArea, nva_start_addr: int, size: int) -> str | None:
        """FL, LE, RE, NE, or None (NOTHING_FIT)."""
        # Check if it is within VA.
        if nva_start_addr < va.va_start or nva_start_addr + size > va.va_end:
            return None
        # Now classify.
        if va.va_start == nva_start_addr:
            return "FL" if va.va_end == nva_start_addr + size else "LE"
        if va.va_end == nva_start_addr + size:
            return "RE"
        return "NE"

    def adjust_va_to_fit_type(self, va: VmapArea, nva_start_addr: int, size: int, fit: str,
                              steps: Steps) -> None:
        steps.fit = fit  # fit
        lva = None
        if self._partial and fit != "FL":
            self._nr_vm_free -= self._meets_vm(va)
        if fit == "LE":
            # Split left edge of fit VA.
            #
            # |       |
            # V  NVA  V   R
            # |-------|-------|
            va.va_start += size
        elif fit == "RE":
            # Split right edge of fit VA.
            #
            #         |       |
            #     L   V  NVA  V
            # |-------|-------|
            va.va_end = nva_start_addr
        elif fit == "FL":
            # No need to split VA, it fully fits.
            #
            # |               |
            # V      NVA      V
            # |---------------|
            steps.augment_updates += self.unlink_va(va)  # augment_updates: rb_erase_augmented callbacks
            steps.tree_erases += 1                       # tree_erases: rb_erase_augmented
            steps.objects_freed += 1                     # objects_freed: kmem_cache_free(va)
            return
        else:  # NE
            # Split no edge of fit VA.
            #
            #     |       |
            #   L V  NVA  V R
            # |---|-------|---|
            lva = VmapArea(va.va_start, nva_start_addr)  # kmem_cache_alloc: subtree_max_size 0
            steps.objects_allocated += 1                 # objects_allocated: the NE remainder
            # Shrink this VA to remaining size.
            va.va_start = nva_start_addr + size

        if self._partial:
            self._nr_vm_free += self._meets_vm(va)
        steps.augment_updates += augment_tree_propagate_from(va)  # augment_updates
        if lva is not None:
            nodes, updates = self.insert_vmap_area_augment(lva, va)
            steps.tree_nodes += nodes         # tree_nodes: find_va_links from va's node
            steps.free_nodes += nodes
            steps.tree_inserts += 1           # tree_inserts: rb_insert_augmented
            steps.augment_updates += updates  # augment_updates: rotations + propagate

    # ----------------------------------------------------------- free
    def free(self, addr: int) -> Steps:
        """``__free_vmap_area``: unlink from the busy tree, then merge or add."""
        end = self._busy.pop(addr, None)
        if end is None:
            raise NonexistentAreaError(addr)
        self._busy_bytes -= end - addr
        if self._partial:
            self._vm_busy_bytes -= max(0, min(end, self._vme) - max(addr, self._vms))
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
                if self._partial:
                    self._nr_vm_free -= self._meets_vm(nxt)
                nxt.va_start = va_start
                if self._partial:
                    self._nr_vm_free += self._meets_vm(nxt)
                # Check and update the tree if needed.
                steps.augment_updates += augment_tree_propagate_from(nxt)  # augment_updates
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
                if self._partial:
                    self._nr_vm_free -= self._meets_vm(prv)
                prv.va_end = va.va_end if merged else va_end
                if self._partial:
                    self._nr_vm_free += self._meets_vm(prv)
                # Check and update the tree if needed.
                steps.augment_updates += augment_tree_propagate_from(prv)  # augment_updates
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
            steps.augment_updates += augment_tree_propagate_from(va)    # augment_updates

    # ----------------------------------------------------- read-outs
    # They cover the vmalloc range [VMALLOC_START, VMALLOC_END), where vmalloc()
    # allocates (as the other policies): O(1), or O(log n) for a strict sub-range.
    def _meets_vm(self, va: VmapArea) -> int:
        """1 if the free block meets the vmalloc range, else 0."""
        return 1 if va.va_end > self._vms and va.va_start < self._vme else 0

    @property
    def nr_busy(self) -> int:
        return len(self._busy)

    @property
    def nr_free_blocks(self) -> int:
        """Free blocks meeting the vmalloc range."""
        return self._nr_vm_free

    @property
    def nr_free_objects(self) -> int:
        """vmap_area objects in the free tree (the whole range): the structure
        that ``Steps.free_nodes`` walked."""
        return self._nr_free

    def largest_free_bytes(self) -> int:
        """The largest free block inside the vmalloc range (clipped to it)."""
        top = self._root.rb_node
        if top is None:
            return 0
        if not self._partial:
            return top.subtree_max_size
        vms, vme = self._vms, self._vme
        best = 0
        # the blocks that straddle VMALLOC_START or VMALLOC_END, clipped
        for x in (vms, vme - 1):
            node = top
            while node is not None:
                if x < node.va_start:
                    node = node.left
                elif x >= node.va_end:
                    node = node.right
                else:
                    best = max(best, min(node.va_end, vme) - max(node.va_start, vms))
                    break
        # blocks wholly inside: split node, then the two boundary paths, taking
        # subtree maxima of the subtrees that lie wholly inside
        node = top
        while node is not None:
            if node.va_start < vms:
                node = node.right
            elif node.va_end > vme:
                node = node.left
            else:
                break
        if node is None:
            return best
        best = max(best, node.va_end - node.va_start)
        x = node.left
        while x is not None:
            if x.va_start >= vms:
                best = max(best, x.va_end - x.va_start, x.right.subtree_max_size if x.right else 0)
                x = x.left
            else:
                x = x.right
        x = node.right
        while x is not None:
            if x.va_end <= vme:
                best = max(best, x.va_end - x.va_start, x.left.subtree_max_size if x.left else 0)
                x = x.right
            else:
                x = x.left
        return best

    def total_free_bytes(self) -> int:
        """Free bytes inside the vmalloc range."""
        return self._vme - self._vms - (self._vm_busy_bytes if self._partial else self._busy_bytes)

    def busy_areas(self) -> list[tuple[int, int]]:
        return sorted(self._busy.items())

    def free_blocks(self) -> list[tuple[int, int]]:
        out = []
        head = self._head
        va = head.next
        while va is not head:
            out.append((va.va_start, va.va_end))
            va = va.next
        return out

    # ---------------------------------------------------------- check
    def check(self) -> None:
        """Raise InvariantError if an invariant is broken (O(n))."""
        msg = rb_validate(self._root)
        if msg:
            raise InvariantError(f"free tree: {msg}")
        # subtree_max_size of every node == max(size, children's values)
        # (bottom-up, so by induction == the brute-force subtree maximum)
        in_order: list[VmapArea] = []
        stack: list[RbNode] = []
        n = self._root.rb_node
        while stack or n is not None:
            while n is not None:
                stack.append(n)
                n = n.left
            n = stack.pop()
            in_order.append(n)  # type: ignore[arg-type]
            n = n.right
        for va in in_order:
            if va.va_end <= va.va_start:
                raise InvariantError(f"empty free block {va!r}")
            m = va.va_end - va.va_start
            for c in (va.left, va.right):
                if c is not None and c.subtree_max_size > m:
                    m = c.subtree_max_size
            if va.subtree_max_size != m:
                raise InvariantError(f"subtree_max_size of {va!r} should be {m:#x}")
        # the list is the in-order sequence, doubly linked
        head = self._head
        va = head.next
        i = 0
        while va is not head:
            if i >= len(in_order) or in_order[i] is not va:
                raise InvariantError("free_vmap_area_list differs from the tree's in-order sequence")
            if va.next.prev is not va:
                raise InvariantError(f"broken list links at {va!r}")
            i += 1
            va = va.next
        if i != len(in_order) or head.next.prev is not head:
            raise InvariantError("free_vmap_area_list differs from the tree's in-order sequence")
        if self._nr_free != len(in_order):
            raise InvariantError(f"free block count {self._nr_free} != {len(in_order)} nodes")
        free = [(va.va_start, va.va_end) for va in in_order]
        for (_, e1), (s2, _) in zip(free, free[1:]):
            if e1 == s2:
                raise InvariantError(f"free blocks not coalesced at {e1:#x}")
        busy = self.busy_areas()
        if sum(e - s for s, e in busy) != self._busy_bytes:
            raise InvariantError("busy byte count is stale")
        pos = self.rng.vstart
        for s, e in sorted(busy + free):
            if s != pos or e <= s:
                raise InvariantError(
                    f"busy areas and free blocks do not tile the range at {pos:#x} (next piece [{s:#x}, {e:#x}))")
            pos = e
        if pos != self.rng.vend:
            raise InvariantError(f"busy areas and free blocks end at {pos:#x}, not {self.rng.vend:#x}")
        # the read-outs (vmalloc range) against the blocks
        vm = [(max(v.va_start, self._vms), min(v.va_end, self._vme)) for v in in_order]
        vm = [(a, b) for a, b in vm if b > a]
        if self._nr_vm_free != len(vm):
            raise InvariantError(f"nr_free_blocks {self._nr_vm_free} != {len(vm)} blocks in the vmalloc range")
        if self.largest_free_bytes() != max((b - a for a, b in vm), default=0):
            raise InvariantError("largest_free_bytes disagrees with the free blocks")
        if self.total_free_bytes() != sum(b - a for a, b in vm):
            raise InvariantError("total_free_bytes disagrees with the free blocks")


__all__ = ["AugmentedTreeAllocator", "VmapArea", "FreeVmapAreaRbAugmentCb", "augment_tree_propagate_from"]
