"""Literal reference model of the Linux 5.2 allocator (mm/vmalloc.c), for tests.

Line by line from the kernel (Linux 5.4's text read; the 5.2 differences are
listed in simulator/allocators/augmented_tree.py), slow on purpose:

* ``vmap_init_free_space`` builds the free tree over the whole address
  space, [1, ULONG_MAX), minus the initial busy areas;

* the free tree reuses the ``rbtree.py`` port for rebalancing (the tree shape
  must be the kernel's), with this file's own RB_DECLARE_CALLBACKS;
* decisions never trust stored ``subtree_max_size``: ``get_subtree_max_size``
  recomputes the maximum by brute force over the subtree, and asserts that
  the stored value agrees;
* ``free_vmap_area_list`` is a plain Python list sorted by address, walked to
  find neighbours;
* the propagate loops (``augment_tree_propagate_from``, the erase callback)
  run on the stored values, because the kernel stops them at the first
  unchanged node and that decides ``augment_updates``.

Arithmetic is C ``unsigned long`` of ``word_bits`` bits (``ul``).
"""

from __future__ import annotations

from simulator.allocators.base import (AllocResult, InvariantError, NonexistentAreaError, Range, Steps,
                                       check_request, tree_depth)
from simulator.allocators.rbtree import (RB_CLEAR_NODE, RB_EMPTY_NODE, RbNode, RbRoot, rb_erase_augmented,
                                         rb_insert_augmented, rb_link_node, rb_parent, rb_validate)

HEAD = "free_vmap_area_list"   # the list head: list_entry() of it is not a block

NOTHING_FIT, FL_FIT_TYPE, LE_FIT_TYPE, RE_FIT_TYPE, NE_FIT_TYPE = range(5)
FIT_NAMES = {FL_FIT_TYPE: "FL", LE_FIT_TYPE: "LE", RE_FIT_TYPE: "RE", NE_FIT_TYPE: "NE"}


def brute_subtree_max(node: RbNode | None) -> int:
    """Largest va_size in the subtree, by visiting every node."""
    if node is None:
        return 0
    return max(node.va_end - node.va_start, brute_subtree_max(node.left), brute_subtree_max(node.right))


class RefAugmentCallbacks:
    """RB_DECLARE_CALLBACKS(..., subtree_max_size, compute_subtree_max_size), literally."""

    def __init__(self, owner: RefAugmentedTree) -> None:
        self.owner = owner

    def propagate(self, rb: RbNode | None, stop: RbNode | None) -> None:
        while rb is not stop:
            node = rb
            augmented = self.owner.compute_subtree_max_size(node)
            if node.subtree_max_size == augmented:
                break
            node.subtree_max_size = augmented
            rb = rb_parent(node)

    def copy(self, rb_old: RbNode, rb_new: RbNode) -> None:
        rb_new.subtree_max_size = rb_old.subtree_max_size

    def rotate(self, rb_old: RbNode, rb_new: RbNode) -> None:
        rb_new.subtree_max_size = rb_old.subtree_max_size
        rb_old.subtree_max_size = self.owner.compute_subtree_max_size(rb_old)


class RefAugmentedTree:
    DESCRIPTION = "reference model of Linux 5.2 mm/vmalloc.c (tests only)"

    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]]) -> None:
        self.rng = rng
        self.free_vmap_area_root = RbRoot()
        self.free_vmap_area_list: list[RbNode] = []
        self.vmap_area_root: dict[int, int] = {}      # the busy tree, modelled
        self.cb = RefAugmentCallbacks(self)
        self.steps = Steps()
        for s, e in sorted(initial_busy):
            self.vmap_area_root[s] = e
        self.vmap_init_free_space()
        self.steps = Steps()

    # ------------------------------------------------------------ C helpers
    def ul(self, x: int) -> int:
        return x & self.rng.mask

    def ALIGN(self, x: int, a: int) -> int:  # noqa: N802
        return self.ul((x + (a - 1)) & ~(a - 1))

    @staticmethod
    def va_size(va: RbNode) -> int:
        return va.va_end - va.va_start

    def get_subtree_max_size(self, node: RbNode | None) -> int:
        """For decisions: the brute-force maximum; the stored value must agree."""
        if node is None:
            return 0
        brute = brute_subtree_max(node)
        if node.subtree_max_size != brute:
            raise InvariantError(f"stored subtree_max_size {node.subtree_max_size:#x} != {brute:#x} "
                                 f"at {node!r}")
        return brute

    def compute_subtree_max_size(self, va: RbNode) -> int:
        """The kernel's compute (from the children's *stored* values); counted."""
        self.steps.augment_updates += 1
        left = va.left.subtree_max_size if va.left is not None else 0
        right = va.right.subtree_max_size if va.right is not None else 0
        return max(self.va_size(va), left, right)

    # --------------------------------------------------------- list helpers
    def _index(self, va: RbNode) -> int:
        for i, x in enumerate(self.free_vmap_area_list):
            if x is va:
                return i
        raise InvariantError(f"{va!r} is not on free_vmap_area_list")

    def _list_next(self, entry: RbNode | str) -> RbNode | str:
        lst = self.free_vmap_area_list
        if entry is HEAD:
            return lst[0] if lst else HEAD
        i = self._index(entry)  # type: ignore[arg-type]
        return lst[i + 1] if i + 1 < len(lst) else HEAD

    def _list_prev(self, entry: RbNode | str) -> RbNode | str:
        lst = self.free_vmap_area_list
        if entry is HEAD:
            return lst[-1] if lst else HEAD
        i = self._index(entry)  # type: ignore[arg-type]
        return lst[i - 1] if i > 0 else HEAD

    def _list_add(self, va: RbNode, head: RbNode | str) -> None:
        """list_add(&va->list, head): insert right after head."""
        if head is HEAD:
            self.free_vmap_area_list.insert(0, va)
        else:
            self.free_vmap_area_list.insert(self._index(head) + 1, va)  # type: ignore[arg-type]

    # ------------------------------------------------------ tree functions
    def find_va_links(self, va: RbNode, root: RbRoot | None, from_: RbNode | None
                      ) -> tuple[RbNode | None, bool]:
        """Returns (parent, link is parent's left)."""
        if root is not None:
            node = root.rb_node
            if node is None:
                return None, False
        else:
            node = from_
        while True:
            tmp_va = node
            self.steps.tree_nodes += 1
            self.steps.free_nodes += 1      # (the free tree)
            if va.va_start < tmp_va.va_end and va.va_end <= tmp_va.va_start:
                is_left, node = True, node.left
            elif va.va_end > tmp_va.va_start and va.va_start >= tmp_va.va_end:
                is_left, node = False, node.right
            else:
                raise InvariantError("BUG() in find_va_links")
            if node is None:
                return tmp_va, is_left

    def get_va_next_sibling(self, parent: RbNode | None, is_left: bool) -> RbNode | str | None:
        if parent is None:
            return None
        return parent if is_left else self._list_next(parent)

    def link_va(self, va: RbNode, parent: RbNode | None, is_left: bool) -> None:
        head: RbNode | str = HEAD
        if parent is not None:
            head = parent
            if is_left:
                head = self._list_prev(head)
        rb_link_node(va, parent, self.free_vmap_area_root, is_left)
        rb_insert_augmented(va, self.free_vmap_area_root, self.cb)
        va.subtree_max_size = 0
        self.steps.tree_inserts += 1
        self._list_add(va, head)

    def unlink_va(self, va: RbNode) -> None:
        # During merging a VA node can be empty, therefore not linked with
        # the tree nor list. Just check it.
        if not RB_EMPTY_NODE(va):
            rb_erase_augmented(va, self.free_vmap_area_root, self.cb)
            self.steps.tree_erases += 1
            del self.free_vmap_area_list[self._index(va)]
            RB_CLEAR_NODE(va)

    def augment_tree_propagate_from(self, va: RbNode) -> None:
        node: RbNode | None = va
        while node is not None:
            va = node
            new_va_sub_max_size = self.compute_subtree_max_size(va)
            if va.subtree_max_size == new_va_sub_max_size:
                break
            va.subtree_max_size = new_va_sub_max_size
            node = rb_parent(va)

    def insert_vmap_area_augment(self, va: RbNode, from_: RbNode | None) -> None:
        if from_ is not None:
            parent, is_left = self.find_va_links(va, None, from_)
        else:
            parent, is_left = self.find_va_links(va, self.free_vmap_area_root, None)
        self.link_va(va, parent, is_left)
        self.augment_tree_propagate_from(va)

    def merge_or_add_vmap_area(self, va: RbNode) -> None:
        merged = False
        parent, is_left = self.find_va_links(va, self.free_vmap_area_root, None)
        nxt = self.get_va_next_sibling(parent, is_left)
        if nxt is not None:
            prev = self._list_prev(nxt)
            if nxt is not HEAD:
                sibling = nxt
                if sibling.va_start == va.va_end:
                    sibling.va_start = va.va_start
                    self.augment_tree_propagate_from(sibling)
                    self.unlink_va(va)          # not linked: a no-op, as in 5.2
                    self.kmem_cache_free(va)
                    self.steps.merges += 1
                    va = sibling
                    merged = True
            if prev is not HEAD:
                sibling = prev
                if sibling.va_end == va.va_start:
                    sibling.va_end = va.va_end
                    self.augment_tree_propagate_from(sibling)
                    self.unlink_va(va)
                    self.kmem_cache_free(va)
                    self.steps.merges += 1
                    return
        if not merged:
            self.link_va(va, parent, is_left)
            self.augment_tree_propagate_from(va)

    def kmem_cache_free(self, va: RbNode) -> None:
        self.steps.objects_freed += 1

    # ------------------------------------------------------------ the fits
    def is_within_this_va(self, va: RbNode, size: int, align: int, vstart: int) -> bool:
        if va.va_start > vstart:
            nva_start_addr = self.ALIGN(va.va_start, align)
        else:
            nva_start_addr = self.ALIGN(vstart, align)
        # Can be overflowed due to big size or alignment.
        if self.ul(nva_start_addr + size) < nva_start_addr or nva_start_addr < vstart:
            return False
        return nva_start_addr + size <= va.va_end

    def find_vmap_lowest_match(self, size: int, align: int, vstart: int) -> RbNode | None:
        node = self.free_vmap_area_root.rb_node
        length = self.ul(size + align - 1)
        while node is not None:
            va = node
            self.steps.tree_nodes += 1
            self.steps.free_nodes += 1      # (the free tree)
            if self.get_subtree_max_size(node.left) >= length and vstart < va.va_start:
                node = node.left
            else:
                if self.is_within_this_va(va, size, align, vstart):
                    return va
                if self.get_subtree_max_size(node.right) >= length:
                    node = node.right
                    continue
                while True:
                    node = rb_parent(node)
                    if node is None:
                        break
                    va = node
                    self.steps.tree_nodes += 1
                    self.steps.free_nodes += 1      # (the free tree)
                    if self.is_within_this_va(va, size, align, vstart):
                        return va
                    if self.get_subtree_max_size(node.right) >= length and vstart <= va.va_start:
                        node = node.right
                        break
        return None

    @staticmethod
    def classify_va_fit_type(va: RbNode, nva_start_addr: int, size: int) -> int:
        if nva_start_addr < va.va_start or nva_start_addr + size > va.va_end:
            return NOTHING_FIT
        if va.va_start == nva_start_addr:
            if va.va_end == nva_start_addr + size:
                return FL_FIT_TYPE
            return LE_FIT_TYPE
        if va.va_end == nva_start_addr + size:
            return RE_FIT_TYPE
        return NE_FIT_TYPE

    def adjust_va_to_fit_type(self, va: RbNode, nva_start_addr: int, size: int, fit_type: int) -> int:
        lva = None
        if fit_type == FL_FIT_TYPE:
            self.unlink_va(va)
            self.kmem_cache_free(va)
        elif fit_type == LE_FIT_TYPE:
            va.va_start += size
        elif fit_type == RE_FIT_TYPE:
            va.va_end = nva_start_addr
        elif fit_type == NE_FIT_TYPE:
            lva = RbNode()                      # kmem_cache_alloc: subtree_max_size 0
            self.steps.objects_allocated += 1
            lva.va_start = va.va_start
            lva.va_end = nva_start_addr
            va.va_start = nva_start_addr + size
        else:
            return -1
        if fit_type != FL_FIT_TYPE:
            self.augment_tree_propagate_from(va)
            if fit_type == NE_FIT_TYPE:
                self.insert_vmap_area_augment(lva, va)
        return 0

    def __alloc_vmap_area(self, size: int, align: int, vstart: int, vend: int) -> int:
        va = self.find_vmap_lowest_match(size, align, vstart)
        if va is None:
            return vend
        if va.va_start > vstart:
            nva_start_addr = self.ALIGN(va.va_start, align)
        else:
            nva_start_addr = self.ALIGN(vstart, align)
        if nva_start_addr + size > vend:
            return vend
        fit_type = self.classify_va_fit_type(va, nva_start_addr, size)
        if fit_type == NOTHING_FIT:      # WARN_ON_ONCE
            return vend
        self.steps.fit = FIT_NAMES[fit_type]
        if self.adjust_va_to_fit_type(va, nva_start_addr, size, fit_type):
            return vend
        return nva_start_addr

    # ------------------------------------------------------ the interface
    def vmap_init_free_space(self) -> None:
        # The whole address space: vmap_start = 1, vmap_end = ULONG_MAX.
        vmap_start = 1
        vmap_end = self.rng.mask
        for s, e in sorted(self.vmap_area_root.items()):
            # C: "busy->va_start - vmap_start > 0" (unsigned); no kernel vmlist
            # area starts at 0, where it would give an inverted block
            if s > vmap_start:
                free = RbNode(vmap_start, s)
                self.insert_vmap_area_augment(free, None)
            vmap_start = e
        if vmap_end > vmap_start:
            free = RbNode(vmap_start, vmap_end)
            self.insert_vmap_area_augment(free, None)

    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None) -> AllocResult:
        vstart, vend = check_request(self.rng, size, align, vstart, vend)
        self.steps = Steps()
        addr = self.__alloc_vmap_area(size, align, vstart, vend)
        if addr == vend:
            return AllocResult(None, self.steps)
        # insert_vmap_area(va, &vmap_area_root, &vmap_area_list)
        self.steps.tree_nodes += tree_depth(len(self.vmap_area_root))
        self.steps.tree_inserts += 1
        self.vmap_area_root[addr] = addr + size
        return AllocResult(addr, self.steps)

    def free(self, addr: int) -> Steps:
        if addr not in self.vmap_area_root:
            raise NonexistentAreaError(addr)
        self.steps = Steps()
        # __free_vmap_area: unlink_va(va, &vmap_area_root)
        end = self.vmap_area_root.pop(addr)
        self.steps.tree_erases += 1
        va = RbNode(addr, end)
        RB_CLEAR_NODE(va)
        self.merge_or_add_vmap_area(va)
        return self.steps

    def find_vmap_area(self, addr: int) -> Steps:
        # __find_vmap_area(addr) in vmap_area_root: a modelled descent
        self.steps = Steps()
        self.steps.tree_nodes += tree_depth(len(self.vmap_area_root))
        return self.steps

    @property
    def nr_busy(self) -> int:
        return len(self.vmap_area_root)

    @property
    def nr_free_objects(self) -> int:
        return len(self.free_vmap_area_list)

    # Read-outs cover the vmalloc range [VMALLOC_START, VMALLOC_END): the free
    # blocks clipped to it (brute force over the list).
    def _vm_blocks(self) -> list[tuple[int, int]]:
        vms, vme = self.rng.vmalloc_start, self.rng.vmalloc_end
        clipped = [(max(v.va_start, vms), min(v.va_end, vme)) for v in self.free_vmap_area_list]
        return [(s, e) for s, e in clipped if e > s]

    @property
    def nr_free_blocks(self) -> int:
        return len(self._vm_blocks())

    def largest_free_bytes(self) -> int:
        return max((e - s for s, e in self._vm_blocks()), default=0)

    def total_free_bytes(self) -> int:
        return sum(e - s for s, e in self._vm_blocks())

    def busy_areas(self) -> list[tuple[int, int]]:
        return sorted(self.vmap_area_root.items())

    def free_blocks(self) -> list[tuple[int, int]]:
        return [(v.va_start, v.va_end) for v in self.free_vmap_area_list]

    def check(self) -> None:
        msg = rb_validate(self.free_vmap_area_root)
        if msg:
            raise InvariantError(msg)
        nodes: list[RbNode] = []
        stack = [self.free_vmap_area_root.rb_node]
        while stack:
            n = stack.pop()
            if n is not None:
                nodes.append(n)
                stack += [n.left, n.right]
                self.get_subtree_max_size(n)     # stored == brute force
        if sorted(nodes, key=lambda v: v.va_start) != self.free_vmap_area_list or \
                len(nodes) != len(self.free_vmap_area_list):
            raise InvariantError("free list and free tree disagree")
        blocks = self.free_blocks()
        for (_, e1), (s2, _) in zip(blocks, blocks[1:]):
            if e1 >= s2:
                raise InvariantError("free list not sorted, or blocks not coalesced")
        # busy areas and free blocks tile [1, ULONG_MAX) (a busy area may
        # start at 0 or end at 2^word_bits)
        pieces = sorted(self.busy_areas() + blocks)
        pos = 0 if pieces and pieces[0][0] == 0 else 1
        for s, e in pieces:
            if s != pos or e <= s:
                raise InvariantError(f"no tiling at {pos:#x}")
            pos = e
        if pos < self.rng.mask:
            raise InvariantError("no tiling at the end")
