"""The free tree of the augmented-tree (Linux 5.2) and split-tree (5.5-6.8) policies.

Both generations keep the free KVA in ``free_vmap_area_root`` (a red-black
tree sorted by address, augmented with ``subtree_max_size``; ``rbtree.py`` is
the port of lib/rbtree.c) plus ``free_vmap_area_list`` (address-sorted).
This module holds what the two share, in the kernel's names:

* ``vmap_init_free_space``: the free tree covers the WHOLE address space,
  ``vmap_start = 1`` .. ``vmap_end = ULONG_MAX``, i.e. [1, 2**word_bits - 1),
  minus the early ``vmlist`` areas (vmsim: ``initial_busy``);
* ``find_va_links``, ``link_va``, ``unlink_va``, ``insert_vmap_area_augment``,
  ``augment_tree_propagate_from`` and the RB callbacks;
* ``classify_va_fit_type`` / ``adjust_va_to_fit_type`` and the tail of
  ``__alloc_vmap_area`` after the search (identical in 5.2 and 6.1);
* the read-outs (clipped to [vmalloc_start, vmalloc_end)) and check().

What differs (``find_vmap_lowest_match``, ``merge_or_add_vmap_area``, the busy
tree / purge tree bookkeeping) lives in augmented_tree.py and split_tree.py.

Arithmetic is that of ``unsigned long`` of ``rng.word_bits`` bits: ``ALIGN``
wraps modulo 2**word_bits and the overflow checks behave as in C.  Every
block ends at or below ULONG_MAX, so ``nva + size <= va_end`` excludes the
C overflow ``nva + size < nva``.

Counting: the free tree is real and its visited nodes are counted one by one
(``tree_nodes`` and ``free_nodes``); the busy tree is modelled
(``tree_depth(nr_busy)``).  The rule of each Steps field is written next to
the line that counts it.
"""

from __future__ import annotations

from .base import InvariantError, Range, Steps, tree_depth
from .rbtree import (RbNode, RbRoot, rb_erase_augmented,
                     rb_insert_augmented, rb_link_node, rb_validate)


class VmapArea(RbNode):
    """``struct vmap_area`` of a free block: rb node + list links."""

    __slots__ = ("prev", "next")

    def __init__(self, va_start: int = 0, va_end: int = 0) -> None:
        RbNode.__init__(self, va_start, va_end)
        self.prev: VmapArea = self
        self.next: VmapArea = self


class FreeVmapAreaRbAugmentCb:
    """``free_vmap_area_rb_augment_cb`` (5.2: RB_DECLARE_CALLBACKS with
    compute_subtree_max_size; 6.1: RB_DECLARE_CALLBACKS_MAX with va_size:
    the same computations).

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


def _propagate_grown(node: RbNode) -> int:
    """augment_tree_propagate_from(node) when ``node`` only grew (its va_start
    went down or its va_end up) or was just linked with subtree_max_size 0,
    in a tree that was consistent before: the same loop and the same count.

    Above ``node``, the kernel's compute_subtree_max_size of an ancestor A,
    whose child value went up to m, is max(A's own size, sibling, m): it is
    m when m exceeds A's stored value (which already covers A's own size
    and the sibling), else A's stored value, unchanged, and the loop stops
    there.  So the comparison alone decides (a counted iteration either way)."""
    m = node.va_end - node.va_start
    c = node.left
    if c is not None and c.subtree_max_size > m:
        m = c.subtree_max_size
    c = node.right
    if c is not None and c.subtree_max_size > m:
        m = c.subtree_max_size
    if node.subtree_max_size == m:
        return 1  # augment_updates: one compute_subtree_max_size, unchanged
    node.subtree_max_size = m
    n = 1
    p = node.parent
    while p is not None:
        n += 1  # augment_updates: one compute_subtree_max_size per iteration
        if p.subtree_max_size >= m:
            break
        p.subtree_max_size = m
        p = p.parent
    return n


class FreeVmapAreaTree:
    """``free_vmap_area_root`` + ``free_vmap_area_list`` over [1, ULONG_MAX),
    the busy dict (``vmap_area_root``, modelled) and the read-outs."""

    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]]) -> None:
        self.rng = rng
        self._mask = rng.mask
        self._root = RbRoot()                 # free_vmap_area_root
        self._head = VmapArea()               # free_vmap_area_list (sentinel)
        self._cb = FreeVmapAreaRbAugmentCb()  # free_vmap_area_rb_augment_cb
        self._busy: dict[int, int] = {}       # modelled vmap_area_root: start -> end
        self._nr_free = 0
        # Read-outs for metrics cover the vmalloc range [VMALLOC_START,
        # VMALLOC_END), as for the other policies: the free blocks meeting it
        # (clipped).  _vm_used: bytes of the vmalloc range not in the free tree.
        self._vms = rng.vmalloc_start
        self._vme = rng.vmalloc_end
        self._nr_vm_free = 0
        prev_end = rng.vstart
        for s, e in sorted(initial_busy):
            if not (prev_end <= s < e <= rng.vend):
                raise ValueError(f"initial area [{s:#x}, {e:#x}) overlaps another or lies outside the range")
            self._busy[s] = e
            prev_end = e
        #: areas in the busy tree now (a counter, not a property: the generations
        #: read it before every operation; _check_free_tree recounts it)
        self.nr_busy = len(self._busy)
        self.vmap_init_free_space()
        # (the busy areas, [0, 1) and [ULONG_MAX, 2**word_bits) are not free)
        self._vm_used = self._vme - self._vms - sum(self._clip(s, e) for s, e in self.free_blocks())

    def _clip(self, s: int, e: int) -> int:
        """Bytes of [s, e) inside the vmalloc range."""
        return max(0, min(e, self._vme) - max(s, self._vms))

    # ----------------------------------------------------------- set-up
    def vmap_init_free_space(self) -> None:
        """Free blocks = [1, ULONG_MAX) minus the busy areas, ascending.

        ::

               B     F     B     B     B     F
           -|-----|.....|-----|-----|-----|.....|-
            |           The KVA space           |
            |<--------------------------------->|

        C tests ``busy->va_start - vmap_start > 0`` in unsigned arithmetic,
        which would insert an inverted block for an area starting at 0 (or
        ending at 2**word_bits); no kernel vmlist area does, and vmsim skips
        such empty-or-inverted gaps.
        """
        vmap_start = 1
        vmap_end = self._mask  # ULONG_MAX
        for s, e in sorted(self._busy.items()):
            if s > vmap_start:
                self.insert_vmap_area_augment(VmapArea(vmap_start, s), None)
            vmap_start = e
        if vmap_end > vmap_start:
            self.insert_vmap_area_augment(VmapArea(vmap_start, vmap_end), None)

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
            # 5.2: "va_start < tmp->va_end && va_end <= tmp->va_start" (left);
            # 6.1: "va->va_end <= tmp_va->va_start" (left): the same for
            # non-empty areas.  Overlap: 5.2 BUG(), 6.1 WARN + return NULL.
            if end <= node.va_start:
                nxt = node.left
                is_left = True
            elif start >= node.va_end:
                nxt = node.right
                is_left = False
            else:
                raise InvariantError(
                    f"find_va_links: [{start:#x}, {end:#x}) overlaps free block "
                    f"[{node.va_start:#x}, {node.va_end:#x}) (kernel BUG()/WARN)")
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
        if va.parent is va:                   # RB_EMPTY_NODE(va), inlined (hot path)
            raise InvariantError(f"unlink_va of a detached node {va!r}")
        cb = self._cb
        before = cb.nr_computes
        rb_erase_augmented(va, self._root, cb)
        prv, nxt = va.prev, va.next
        prv.next = nxt
        nxt.prev = prv
        va.parent = va                        # RB_CLEAR_NODE(va), inlined
        self._nr_free -= 1
        if va.va_end > self._vms and va.va_start < self._vme:
            self._nr_vm_free -= 1
        return cb.nr_computes - before

    def insert_vmap_area_augment(self, va: VmapArea, from_: RbNode | None) -> tuple[int, int]:
        """find_va_links + link_va + augment_tree_propagate_from.
        Returns (tree_nodes, augment_updates)."""
        parent, is_left, nodes = self.find_va_links(va, from_)
        updates = self.link_va(va, parent, is_left)
        updates += _propagate_grown(va)  # augment_tree_propagate_from(va): va just linked
        return nodes, updates

    def _meets_vm(self, va: VmapArea) -> int:
        """1 if the free block meets the vmalloc range, else 0."""
        return 1 if va.va_end > self._vms and va.va_start < self._vme else 0

    # ------------------------------------------------------ allocation
    def _va_alloc(self, va: VmapArea, size: int, align: int, vstart: int, vend: int,
                  steps: Steps) -> int | None:
        """The rest of ``__alloc_vmap_area`` once ``find_vmap_lowest_match``
        returned ``va``: the aligned start, the ``vend`` check, the fit."""
        s = va.va_start
        nva_start_addr = ((s if s > vstart else vstart) + align - 1) & (self._mask ^ (align - 1))
        # Check the "vend" restriction.
        if nva_start_addr + size > vend:
            return None
        # classify_va_fit_type(va, nva_start_addr, size), inlined (hot path)
        nva_end = nva_start_addr + size
        e = va.va_end
        if nva_start_addr < s or nva_end > e:
            fit = None
        elif s == nva_start_addr:
            fit = "FL" if e == nva_end else "LE"
        elif e == nva_end:
            fit = "RE"
        else:
            fit = "NE"
        if fit is None:
            # WARN_ON_ONCE(ret): NOTHING_FIT, reachable only when ALIGN wrapped
            # to 0 with vstart == 0; the kernel warns and fails the request.
            return None
        self.adjust_va_to_fit_type(va, nva_start_addr, size, fit, steps)
        if self._vms <= nva_start_addr and nva_end <= self._vme:   # inside: no clipping (hot path)
            self._vm_used += size
        else:
            self._vm_used += self._clip(nva_start_addr, nva_end)
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
        if fit == "FL":
            # No need to split VA, it fully fits.
            #
            # |               |
            # V      NVA      V
            # |---------------|
            steps.augment_updates += self.unlink_va(va)  # augment_updates: rb_erase_augmented callbacks
            steps.tree_erases += 1                       # tree_erases: rb_erase_augmented
            steps.objects_freed += 1                     # objects_freed: kmem_cache_free(va)
            return
        vm_before = 1 if va.va_end > self._vms and va.va_start < self._vme else 0
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
        else:  # NE
            # Split no edge of fit VA.
            #
            #     |       |
            #   L V  NVA  V R
            # |---|-------|---|
            # 5.2: kmem_cache_alloc(GFP_NOWAIT); 5.3+: the per-CPU
            # ne_fit_preload_node (or GFP_NOWAIT if this CPU was not preloaded).
            lva = VmapArea(va.va_start, nva_start_addr)  # subtree_max_size 0
            steps.objects_allocated += 1                 # objects_allocated: the NE remainder
            # Shrink this VA to remaining size.
            va.va_start = nva_start_addr + size
        self._nr_vm_free += (1 if va.va_end > self._vms and va.va_start < self._vme else 0) - vm_before
        steps.augment_updates += _propagate(va, None)  # augment_tree_propagate_from(va): augment_updates
        if lva is not None:
            nodes, updates = self.insert_vmap_area_augment(lva, va)
            steps.tree_nodes += nodes         # tree_nodes: find_va_links from va's node
            steps.free_nodes += nodes
            steps.tree_inserts += 1           # tree_inserts: rb_insert_augmented
            steps.augment_updates += updates  # augment_updates: rotations + propagate

    # ------------------------------------------------------ busy tree
    def find_vmap_area(self, addr: int) -> Steps:
        """The counted busy-tree lookup of vfree (``__find_vmap_area`` under
        ``vmap_area_lock``): tree_depth(nr_busy) nodes; changes nothing."""
        steps = Steps()
        steps.tree_nodes = tree_depth(len(self._busy))  # tree_nodes: tree_depth(nr_busy)
        return steps

    # ----------------------------------------------------- read-outs
    # They cover the vmalloc range [VMALLOC_START, VMALLOC_END), where vmalloc()
    # allocates (as the other policies): O(log n).
    @property
    def nr_free_blocks(self) -> int:
        """Free blocks meeting the vmalloc range."""
        return self._nr_vm_free

    @property
    def nr_free_objects(self) -> int:
        """vmap_area objects in the free tree (the whole address space): the
        structure that ``Steps.free_nodes`` walked."""
        return self._nr_free

    def largest_free_bytes(self) -> int:
        """The largest free block inside the vmalloc range (clipped to it)."""
        top = self._root.rb_node
        if top is None:
            return 0
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
        return self._vme - self._vms - self._vm_used

    def busy_areas(self) -> list[tuple[int, int]]:
        return sorted(self._busy.items())

    def free_blocks(self) -> list[tuple[int, int]]:
        """The free blocks of the whole address space, ascending."""
        out = []
        head = self._head
        va = head.next
        while va is not head:
            out.append((va.va_start, va.va_end))
            va = va.next
        return out

    # ---------------------------------------------------------- check
    def _check_free_tree(self, others: list[tuple[int, int]]) -> None:
        """The free tree's invariants, and: free blocks + ``others`` (every
        area not in the free tree) tile [1, ULONG_MAX).  O(n)."""
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
        pieces = sorted(others + free)
        # [0, 1) and [ULONG_MAX, 2^word_bits) are outside the free space; an
        # area handed out by a request may still start at 0 or end at the top
        pos = 0 if pieces and pieces[0][0] == 0 else 1
        for s, e in pieces:
            if s != pos or e <= s:
                raise InvariantError(
                    f"busy areas and free blocks do not tile the space at {pos:#x} "
                    f"(next piece [{s:#x}, {e:#x}))")
            pos = e
        if pos < self._mask:
            raise InvariantError(f"busy areas and free blocks end at {pos:#x}, not {self._mask:#x}")
        # the read-outs (vmalloc range) against the blocks
        vm = [(max(v.va_start, self._vms), min(v.va_end, self._vme)) for v in in_order]
        vm = [(a, b) for a, b in vm if b > a]
        if self._nr_vm_free != len(vm):
            raise InvariantError(f"nr_free_blocks {self._nr_vm_free} != {len(vm)} blocks "
                                 "in the vmalloc range")
        if self.largest_free_bytes() != max((b - a for a, b in vm), default=0):
            raise InvariantError("largest_free_bytes disagrees with the free blocks")
        if self.total_free_bytes() != sum(b - a for a, b in vm):
            raise InvariantError("total_free_bytes disagrees with the free blocks")
        if self.nr_busy != len(self._busy):
            raise InvariantError(f"nr_busy {self.nr_busy} != {len(self._busy)} busy areas")


__all__ = ["VmapArea", "FreeVmapAreaRbAugmentCb", "FreeVmapAreaTree", "augment_tree_propagate_from",
           "tree_depth"]
