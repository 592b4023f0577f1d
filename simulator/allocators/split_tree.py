"""``split-tree``: the Linux 5.5-6.8 vmap-area allocator (split locks, purge tree).

Read: a Linux 6.1-era mm/vmalloc.c.  The index holds no tagged 6.1 tree, so
the text was read from (a) a 6.3-6.8 mm/vmalloc.c (find_string
``purge_vmap_area_root``, read_file id 5929626: ``find_unlink_vmap_area``,
``alloc_vmap_area(..., va_flags)``), (b) a comment-stripped 5.18-6.0
mm/vmalloc.c (id 27262779783: ``free_vmap_area_noflush`` still unlinks from
the busy tree itself) and (c) the patch that moved 6.2 to 6.3 ("mm: vmalloc:
Avoid of calling __find_vmap_area() twise in __vunmap()", Dec 2022, id
277392934), whose context lines are the 6.1/6.2 text.  Every function below
is identical in (a) and (b); docs/kernels/linux-6.1.md has the details.

The free structure is that of 5.2 (free_tree.py: the whole address space
[1, ULONG_MAX) in ``free_vmap_area_root``), with:

* ``find_vmap_lowest_match(root, size, align, vstart, adjust_search_size)``:
  ``length = size + align - 1`` only when align > PAGE_SIZE and the range is
  not exactly ``size`` long, else ``length = size``; the climb back up sets
  ``vstart = va->va_start + 1`` before entering a right subtree, so it may
  climb several times;
* ``__merge_or_add_vmap_area(va, root, head, augment)``: merges without
  propagating; when both neighbours merge it unlinks the next block first,
  then extends the previous one; ``merge_or_add_vmap_area_augment``
  propagates once, from the resulting block.

Each public operation is one critical section of the kernel:

* ``alloc``: ``__alloc_vmap_area`` on the free tree (free_vmap_area_lock);
  the area is in no tree until ``insert_vmap_area`` (vmap_area_lock);
* ``find_unlink_vmap_area``: busy lookup + unlink (vmap_area_lock);
* ``free_vmap_area_noflush``: ``merge_or_add_vmap_area`` into the purge tree
  (purge_vmap_area_lock), which merges adjacent lazy areas;
* ``purge_list_take``: ``purge_vmap_area_root = RB_ROOT;
  list_replace_init(&purge_vmap_area_list, &local_purge_list)``;
* ``merge_free``: ``merge_or_add_vmap_area_augment`` of one purge-list block
  into the free tree (free_vmap_area_lock).

The busy tree and the purge tree are modelled (a dict; the purge tree also a
sorted start list): a descent counts ``tree_depth(n)`` nodes, n being the
tree's size before the operation.  Their decisions (which area is found,
which lazy areas merge) are exact: they depend only on the address order.
The free tree is real and its visited nodes are counted one by one.
"""

from __future__ import annotations

from bisect import bisect_left

from .base import AllocResult, InvariantError, NonexistentAreaError, Range, Steps, check_request, tree_depth
from .free_tree import FreeVmapAreaTree, VmapArea, _propagate_grown


class SplitTreeAllocator(FreeVmapAreaTree):
    """Linux 5.5-6.8 (6.1 read): free tree + busy tree + purge tree, one lock each."""

    DESCRIPTION = ("Linux 6.1 (5.5-6.8): augmented free tree under free_vmap_area_lock, busy tree "
                   "under vmap_area_lock, lazy areas merged in a purge tree")

    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]]) -> None:
        super().__init__(rng, initial_busy)
        self._allocated: dict[int, int] = {}   # out of the free tree, not yet in the busy tree
        self._unlinked: dict[int, int] = {}    # out of the busy tree, not yet in the purge tree
        self._lazy: dict[int, int] = {}        # purge_vmap_area_root (modelled): start -> end
        self._lazy_starts: list[int] = []      # purge_vmap_area_list: the starts, ascending
        self._purging: dict[int, int] = {}     # taken by purge_list_take, not yet merged back

    # ------------------------------------------------------ allocation (6.1)
    def find_vmap_lowest_match(self, size: int, align: int, vstart: int,
                               adjust_search_size: bool) -> tuple[VmapArea | None, int]:
        """The block found (or None) and the nodes visited (tree_nodes: every
        node whose va is examined, on the way down and on each climb)."""
        mask = self._mask
        a1 = align - 1
        amask = mask ^ a1
        # Adjust the search size for alignment overhead.
        length = ((size + a1) & mask) if adjust_search_size else size
        node = self._root.rb_node
        nodes = 0
        while node is not None:
            nodes += 1  # tree_nodes
            left = node.left
            s = node.va_start
            if (left.subtree_max_size if left is not None else 0) >= length and vstart < s:
                node = left
                continue
            # is_within_this_va(va, size, align, vstart); every block ends at or
            # below ULONG_MAX, so "nva + size <= va_end" excludes the overflow
            nva = ((s if s > vstart else vstart) + a1) & amask
            if nva >= vstart and nva + size <= node.va_end:
                return node, nodes
            # Does not make sense to go deeper towards the right sub-tree if
            # it does not have a free block that is equal or bigger to the
            # requested search length.
            right = node.right
            if (right.subtree_max_size if right is not None else 0) >= length:
                node = right
                continue
            # OK. We roll back and find the first right sub-tree, that will
            # satisfy the search criteria. It can happen due to "vstart"
            # restriction or an alignment overhead that is bigger then PAGE_SIZE.
            while True:
                node = node.parent
                if node is None:
                    break
                nodes += 1  # tree_nodes: the climb examines each ancestor
                s = node.va_start
                nva = ((s if s > vstart else vstart) + a1) & amask
                if nva >= vstart and nva + size <= node.va_end:
                    return node, nodes
                right = node.right
                if (right.subtree_max_size if right is not None else 0) >= length and vstart <= s:
                    # Shift the vstart forward, so the same sub-tree is not
                    # entered again once it was checked.
                    vstart = s + 1
                    node = right
                    break
        return None, nodes

    def lowest_match(self, size: int, align: int, vstart: int,
                     vend: int) -> tuple[VmapArea | None, int]:
        """``__alloc_vmap_area``'s search (6.x): the block and the nodes visited."""
        # Do not adjust when align <= PAGE_SIZE, or when the range is exactly
        # the requested size (with an adjusted length it could not succeed).
        adjust = not (align <= self.rng.page_size or vend - vstart == size)
        return self.find_vmap_lowest_match(size, align, vstart, adjust)

    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None) -> AllocResult:
        """``__alloc_vmap_area`` on the free tree (under free_vmap_area_lock).
        On success the area belongs to no tree until ``insert_vmap_area``."""
        vstart, vend = check_request(self.rng, size, align, vstart, vend)
        steps = Steps()
        va, nodes = self.lowest_match(size, align, vstart, vend)
        steps.tree_nodes = nodes  # tree_nodes: find_vmap_lowest_match
        steps.free_nodes = nodes  # (in the free tree)
        addr = None if va is None else self._va_alloc(va, size, align, vstart, vend, steps)
        if addr is not None:
            self._allocated[addr] = addr + size
        return AllocResult(addr, steps)

    # ------------------------------------------------------ busy tree
    def insert_vmap_area(self, addr: int, size: int) -> Steps:
        """``insert_vmap_area(va, &vmap_area_root, &vmap_area_list)`` of an area
        that ``alloc`` returned (under vmap_area_lock)."""
        if self._allocated.get(addr) != addr + size:
            raise ValueError(f"insert_vmap_area: [{addr:#x}, +{size:#x}) was not returned by alloc")
        del self._allocated[addr]
        steps = Steps()
        busy = self._busy
        steps.tree_nodes = tree_depth(len(busy))  # tree_nodes: tree_depth(nr_busy)
        steps.tree_inserts = 1                      # tree_inserts: rb_insert_color
        busy[addr] = addr + size
        self.nr_busy += 1
        return steps

    def find_unlink_vmap_area(self, addr: int) -> tuple[int | None, Steps]:
        """``__find_vmap_area`` + ``unlink_va`` (under vmap_area_lock): the size
        of the busy area starting at ``addr``, or None (nothing changes)."""
        steps = Steps()
        busy = self._busy
        steps.tree_nodes = tree_depth(len(busy))  # tree_nodes: tree_depth(nr_busy)
        end = busy.pop(addr, None)
        if end is None:
            return None, steps
        self.nr_busy -= 1
        steps.tree_erases = 1                       # tree_erases: rb_erase
        self._unlinked[addr] = end
        return end - addr, steps

    def unlink_vmap_area(self, addr: int) -> Steps:
        """5.5-6.2 only: ``unlink_va(va, &vmap_area_root)`` of an area already
        found (the first critical section of that free_vmap_area_noflush,
        under vmap_area_lock): one rb_erase, no descent.  Afterwards the area
        goes to ``free_vmap_area_noflush`` as after find_unlink_vmap_area."""
        end = self._busy.pop(addr, None)
        if end is None:
            raise NonexistentAreaError(addr)
        self.nr_busy -= 1
        self._unlinked[addr] = end
        steps = Steps()
        steps.tree_erases = 1  # tree_erases: rb_erase
        return steps

    # ----------------------------------------------------- purge tree
    def free_vmap_area_noflush(self, addr: int, size: int) -> Steps:
        """``merge_or_add_vmap_area(va, &purge_vmap_area_root,
        &purge_vmap_area_list)`` of an unlinked area (under
        purge_vmap_area_lock): it merges with adjacent lazy areas."""
        end = addr + size
        if self._unlinked.get(addr) != end:
            raise ValueError(f"free_vmap_area_noflush: [{addr:#x}, {end:#x}) was not unlinked")
        del self._unlinked[addr]
        steps = Steps()
        lazy = self._lazy
        starts = self._lazy_starts
        steps.tree_nodes = tree_depth(len(starts))  # tree_nodes: find_va_links, tree_depth(nr_lazy)
        i = bisect_left(starts, addr)
        # get_va_next_sibling: the next lazy area in address order, if any
        nxt = starts[i] if i < len(starts) else None
        prv = starts[i - 1] if i else None
        if (nxt is not None and nxt < end) or (prv is not None and lazy[prv] > addr):
            raise InvariantError(f"free_vmap_area_noflush: [{addr:#x}, {end:#x}) overlaps a lazy area "
                                 "(find_va_links WARN)")
        merged = False
        if nxt == end:
            # sibling->va_start = va->va_start; kmem_cache_free(va)
            lazy[addr] = lazy.pop(nxt)
            starts[i] = addr
            steps.merges += 1
            steps.objects_freed += 1
            merged = True
        if prv is not None and lazy[prv] == addr:
            if merged:
                steps.tree_erases += 1  # tree_erases: __unlink_va of the merged next (rb_erase)
                lazy[prv] = lazy.pop(addr)
                del starts[i]
            else:
                lazy[prv] = end
            steps.merges += 1
            steps.objects_freed += 1
            merged = True
        if not merged:
            lazy[addr] = end
            starts.insert(i, addr)
            steps.tree_inserts = 1  # tree_inserts: rb_insert_color
        return steps

    def purge_list_take(self) -> list[tuple[int, int]]:
        """``purge_vmap_area_root = RB_ROOT; list_replace_init(...)`` (under
        purge_vmap_area_lock): the lazy blocks, ascending; the purge tree is
        emptied.  No tree is walked (no Steps)."""
        lazy = self._lazy
        out = [(s, lazy[s]) for s in self._lazy_starts]
        self._purging.update(out)
        self._lazy = {}
        self._lazy_starts = []
        return out

    def merge_free(self, start: int, end: int) -> Steps:
        """``merge_or_add_vmap_area_augment(va, &free_vmap_area_root,
        &free_vmap_area_list)`` of one block that ``purge_list_take`` returned
        (under free_vmap_area_lock)."""
        if self._purging.get(start) != end:
            raise ValueError(f"merge_free: [{start:#x}, {end:#x}) was not taken from the purge list")
        del self._purging[start]
        steps = Steps()
        self.merge_or_add_vmap_area_augment(start, end, steps)
        return steps

    def free(self, addr: int) -> Steps:
        """Tests/compat: ``find_unlink_vmap_area`` + ``merge_free`` at once
        (the free_vmap_area() path, no purge tree): one Steps, summed."""
        size, steps = self.find_unlink_vmap_area(addr)
        if size is None:
            raise NonexistentAreaError(addr)
        del self._unlinked[addr]
        self.merge_or_add_vmap_area_augment(addr, addr + size, steps)
        return steps

    def merge_or_add_vmap_area_augment(self, va_start: int, va_end: int, steps: Steps) -> None:
        """6.1 ``__merge_or_add_vmap_area(va, root, head, true)`` +
        ``augment_tree_propagate_from`` of the result, for [va_start, va_end)."""
        if self._vms <= va_start and va_end <= self._vme:   # inside: no clipping (hot path)
            self._vm_used -= va_end - va_start
        else:
            self._vm_used -= self._clip(va_start, va_end)
        va = VmapArea(va_start, va_end)
        # Find a place in the tree where VA potentially will be inserted,
        # unless it is merged with its sibling/siblings.
        parent, is_left, nodes = self.find_va_links(va, None)
        steps.tree_nodes += nodes  # tree_nodes: find_va_links from the root
        steps.free_nodes += nodes
        merged = False
        if parent is not None:
            head = self._head
            # get_va_next_sibling(parent, link)
            nxt = parent if is_left else parent.next
            #  |<------VA------>|<-----Next----->|
            if nxt is not head and nxt.va_start == va_end:
                if va_end >= self._vme:   # (else nxt started below VMALLOC_END: _meets_vm unchanged)
                    self._nr_vm_free -= self._meets_vm(nxt)
                    nxt.va_start = va_start
                    self._nr_vm_free += self._meets_vm(nxt)
                else:
                    nxt.va_start = va_start
                steps.merges += 1         # merges
                steps.objects_freed += 1  # objects_freed: kmem_cache_free(va)
                va = nxt
                merged = True
            #  |<-----Prev----->|<------VA------>|
            prv = nxt.prev
            if prv is not head and prv.va_end == va.va_start:
                # If both neighbors are coalesced, unlink "next" first, then
                # merge with "previous".
                if merged:
                    steps.augment_updates += self.unlink_va(va)  # augment_updates: erase callbacks
                    steps.tree_erases += 1                       # tree_erases: rb_erase_augmented
                if va_start <= self._vms:  # (else prv ended above VMALLOC_START: _meets_vm unchanged)
                    self._nr_vm_free -= self._meets_vm(prv)
                    prv.va_end = va.va_end
                    self._nr_vm_free += self._meets_vm(prv)
                else:
                    prv.va_end = va.va_end
                steps.merges += 1         # merges
                steps.objects_freed += 1  # objects_freed: kmem_cache_free(va)
                va = prv
                merged = True
        if not merged:
            steps.augment_updates += self.link_va(va, parent, is_left)  # augment_updates: rotations
            steps.tree_inserts += 1                                      # tree_inserts
        steps.augment_updates += _propagate_grown(va)  # augment_tree_propagate_from (grew/linked)

    # ----------------------------------------------------- read-outs
    @property
    def nr_lazy(self) -> int:
        """vmap_areas in the purge tree."""
        return len(self._lazy_starts)

    def lazy_areas(self) -> list[tuple[int, int]]:
        """The purge tree's blocks, ascending."""
        return [(s, self._lazy[s]) for s in self._lazy_starts]

    def check(self) -> None:
        """Raise InvariantError if an invariant is broken (O(n))."""
        lazy = self.lazy_areas()
        if sorted(self._lazy) != self._lazy_starts:
            raise InvariantError("purge list and purge tree disagree")
        for (_, e1), (s2, _) in zip(lazy, lazy[1:]):
            if e1 >= s2:
                raise InvariantError(f"lazy areas overlap or are not merged at {s2:#x}")
        others = (list(self._busy.items()) + list(self._allocated.items()) + list(self._unlinked.items())
                  + lazy + list(self._purging.items()))
        self._check_free_tree(others)


__all__ = ["SplitTreeAllocator"]
