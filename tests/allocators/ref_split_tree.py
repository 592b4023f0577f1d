"""Literal reference model of the Linux 6.1 allocator (mm/vmalloc.c), for tests.

Transcribed line by line from the 6.1-era kernel text (see
simulator/allocators/split_tree.py for which text was read), slow on purpose:

* both the free tree and the purge tree are real rb-trees (the ``rbtree.py``
  port), each with an address-sorted Python list for its ``list_head``; the
  kernel's functions take ``root``/``head`` arguments, so do these (a
  :class:`Tree` is the pair);
* decisions never trust a stored ``subtree_max_size``:
  ``get_subtree_max_size`` recomputes it by brute force and asserts that
  the stored value agrees;
* the busy tree (``vmap_area_root``) and the purge tree are *counted* as
  modelled trees, ``tree_depth(n)`` nodes per descent (the vmsim counting
  rule, base.py); the free tree's nodes are counted one by one.

Arithmetic is C ``unsigned long`` of ``word_bits`` bits (``ul``).
"""

from __future__ import annotations

from simulator.allocators.base import (AllocResult, InvariantError, NonexistentAreaError, Range, Steps,
                                       check_request, tree_depth)
from simulator.allocators.rbtree import (RB_CLEAR_NODE, RB_EMPTY_NODE, RbNode, RbRoot, rb_erase,
                                         rb_erase_augmented, rb_insert_augmented, rb_insert_color,
                                         rb_link_node, rb_parent, rb_validate)

from ref_augmented_tree import HEAD, RefAugmentCallbacks, brute_subtree_max

NOTHING_FIT, FL_FIT_TYPE, LE_FIT_TYPE, RE_FIT_TYPE, NE_FIT_TYPE = range(5)
FIT_NAMES = {FL_FIT_TYPE: "FL", LE_FIT_TYPE: "LE", RE_FIT_TYPE: "RE", NE_FIT_TYPE: "NE"}


class Tree:
    """A ``struct rb_root`` and its ``struct list_head`` (a sorted Python list)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.root = RbRoot()
        self.lst: list[RbNode] = []

    def index(self, va: RbNode) -> int:
        for i, x in enumerate(self.lst):
            if x is va:
                return i
        raise InvariantError(f"{va!r} is not on {self.name}")

    def next(self, entry: RbNode | str) -> RbNode | str:
        if entry is HEAD:
            return self.lst[0] if self.lst else HEAD
        i = self.index(entry)  # type: ignore[arg-type]
        return self.lst[i + 1] if i + 1 < len(self.lst) else HEAD

    def prev(self, entry: RbNode | str) -> RbNode | str:
        if entry is HEAD:
            return self.lst[-1] if self.lst else HEAD
        i = self.index(entry)  # type: ignore[arg-type]
        return self.lst[i - 1] if i > 0 else HEAD

    def list_add(self, va: RbNode, head: RbNode | str) -> None:
        """list_add(&va->list, head): right after head."""
        self.lst.insert(0 if head is HEAD else self.index(head) + 1, va)  # type: ignore[arg-type]


class RefSplitTree:
    DESCRIPTION = "reference model of Linux 6.1 mm/vmalloc.c (tests only)"

    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]]) -> None:
        self.rng = rng
        self.free_tree = Tree("free_vmap_area_list")     # free_vmap_area_root / _list
        self.purge_tree = Tree("purge_vmap_area_list")   # purge_vmap_area_root / _list
        self.vmap_area_root: dict[int, int] = {}    # the busy tree, modelled
        self.allocated: dict[int, int] = {}         # out of the free tree, not yet busy
        self.unlinked: dict[int, int] = {}          # out of the busy tree, not yet lazy
        self.purging: dict[int, int] = {}           # local_purge_list blocks not merged yet
        self.cb = RefAugmentCallbacks(self)         # free_vmap_area_rb_augment_cb
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
        if node is None:
            return 0
        brute = brute_subtree_max(node)
        if node.subtree_max_size != brute:
            raise InvariantError(f"stored subtree_max_size {node.subtree_max_size:#x} != {brute:#x} "
                                 f"at {node!r}")
        return brute

    def compute_subtree_max_size(self, va: RbNode) -> int:
        """RBCOMPUTE of RB_DECLARE_CALLBACKS_MAX (from the children's stored values); counted."""
        self.steps.augment_updates += 1
        left = va.left.subtree_max_size if va.left is not None else 0
        right = va.right.subtree_max_size if va.right is not None else 0
        return max(self.va_size(va), left, right)

    def kmem_cache_free(self, va: RbNode) -> None:
        self.steps.objects_freed += 1

    # ------------------------------------------------------ tree functions
    def find_va_links(self, va: RbNode, tree: Tree | None,
                      from_: RbNode | None) -> tuple[RbNode | None, bool]:
        if tree is not None:
            if tree is self.purge_tree:
                # the purge tree is counted as a modelled tree
                self.steps.tree_nodes += tree_depth(len(tree.lst))
            link = tree.root.rb_node
            if link is None:
                return None, False
        else:
            link = from_
        counted = tree is not self.purge_tree
        while True:
            tmp_va = link
            if counted:
                self.steps.tree_nodes += 1
                self.steps.free_nodes += 1
            if va.va_end <= tmp_va.va_start:
                is_left, link = True, link.left
            elif va.va_start >= tmp_va.va_end:
                is_left, link = False, link.right
            else:
                raise InvariantError("vmalloc bug: overlap in find_va_links (WARN, return NULL)")
            if link is None:
                return tmp_va, is_left

    @staticmethod
    def get_va_next_sibling(tree: Tree, parent: RbNode | None, is_left: bool) -> RbNode | str | None:
        if parent is None:
            return None
        return parent if is_left else tree.next(parent)

    def __link_va(self, va: RbNode, tree: Tree, parent: RbNode | None, is_left: bool, augment: bool) -> None:
        head: RbNode | str = HEAD
        if parent is not None:
            head = parent
            if is_left:
                head = tree.prev(head)
        rb_link_node(va, parent, tree.root, is_left)
        if augment:
            rb_insert_augmented(va, tree.root, self.cb)
            va.subtree_max_size = 0
        else:
            rb_insert_color(va, tree.root)
        self.steps.tree_inserts += 1
        tree.list_add(va, head)

    def __unlink_va(self, va: RbNode, tree: Tree, augment: bool) -> None:
        if RB_EMPTY_NODE(va):
            raise InvariantError("WARN_ON(RB_EMPTY_NODE)")
        if augment:
            rb_erase_augmented(va, tree.root, self.cb)
        else:
            rb_erase(va, tree.root)
        self.steps.tree_erases += 1
        del tree.lst[tree.index(va)]
        RB_CLEAR_NODE(va)

    def augment_tree_propagate_from(self, va: RbNode) -> None:
        """free_vmap_area_rb_augment_cb_propagate(&va->rb_node, NULL)."""
        rb: RbNode | None = va
        while rb is not None:
            node = rb
            augmented = self.compute_subtree_max_size(node)
            if node.subtree_max_size == augmented:
                break
            node.subtree_max_size = augmented
            rb = rb_parent(node)

    def insert_vmap_area_augment(self, va: RbNode, from_: RbNode | None, tree: Tree) -> None:
        if from_ is not None:
            parent, is_left = self.find_va_links(va, None, from_)
        else:
            parent, is_left = self.find_va_links(va, tree, None)
        self.__link_va(va, tree, parent, is_left, True)
        self.augment_tree_propagate_from(va)

    def __merge_or_add_vmap_area(self, va: RbNode, tree: Tree, augment: bool) -> RbNode:
        merged = False
        parent, is_left = self.find_va_links(va, tree, None)
        nxt = self.get_va_next_sibling(tree, parent, is_left)
        if nxt is not None:
            if nxt is not HEAD:
                sibling = nxt
                if sibling.va_start == va.va_end:
                    sibling.va_start = va.va_start
                    self.kmem_cache_free(va)
                    self.steps.merges += 1
                    va = sibling
                    merged = True
            prev = tree.prev(nxt)
            if prev is not HEAD:
                sibling = prev
                if sibling.va_end == va.va_start:
                    if merged:
                        self.__unlink_va(va, tree, augment)
                    sibling.va_end = va.va_end
                    self.kmem_cache_free(va)
                    self.steps.merges += 1
                    va = sibling
                    merged = True
        if not merged:
            self.__link_va(va, tree, parent, is_left, augment)
        return va

    def merge_or_add_vmap_area(self, va: RbNode, tree: Tree) -> RbNode:
        return self.__merge_or_add_vmap_area(va, tree, False)

    def merge_or_add_vmap_area_augment(self, va: RbNode, tree: Tree) -> RbNode:
        va = self.__merge_or_add_vmap_area(va, tree, True)
        self.augment_tree_propagate_from(va)
        return va

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

    def find_vmap_lowest_match(self, tree: Tree, size: int, align: int, vstart: int,
                               adjust_search_size: bool) -> RbNode | None:
        node = tree.root.rb_node
        length = self.ul(size + align - 1) if adjust_search_size else size
        while node is not None:
            va = node
            self.steps.tree_nodes += 1
            self.steps.free_nodes += 1
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
                    self.steps.free_nodes += 1
                    if self.is_within_this_va(va, size, align, vstart):
                        return va
                    if self.get_subtree_max_size(node.right) >= length and vstart <= va.va_start:
                        vstart = va.va_start + 1
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

    def adjust_va_to_fit_type(self, tree: Tree, va: RbNode, nva_start_addr: int, size: int) -> int:
        lva = None
        fit_type = self.classify_va_fit_type(va, nva_start_addr, size)
        if fit_type == FL_FIT_TYPE:
            self.__unlink_va(va, tree, True)
            self.kmem_cache_free(va)
        elif fit_type == LE_FIT_TYPE:
            va.va_start += size
        elif fit_type == RE_FIT_TYPE:
            va.va_end = nva_start_addr
        elif fit_type == NE_FIT_TYPE:
            lva = RbNode()                  # __this_cpu_xchg(ne_fit_preload_node, NULL)
            self.steps.objects_allocated += 1
            lva.va_start = va.va_start
            lva.va_end = nva_start_addr
            va.va_start = nva_start_addr + size
        else:
            return -1
        self.steps.fit = FIT_NAMES[fit_type]
        if fit_type != FL_FIT_TYPE:
            self.augment_tree_propagate_from(va)
            if lva is not None:
                self.insert_vmap_area_augment(lva, va, tree)
        return 0

    def __alloc_vmap_area(self, tree: Tree, size: int, align: int, vstart: int, vend: int) -> int:
        adjust_search_size = True
        if align <= self.rng.page_size or (align > self.rng.page_size and self.ul(vend - vstart) == size):
            adjust_search_size = False
        va = self.find_vmap_lowest_match(tree, size, align, vstart, adjust_search_size)
        if va is None:
            return vend
        if va.va_start > vstart:
            nva_start_addr = self.ALIGN(va.va_start, align)
        else:
            nva_start_addr = self.ALIGN(vstart, align)
        if nva_start_addr + size > vend:
            return vend
        ret = self.adjust_va_to_fit_type(tree, va, nva_start_addr, size)
        if ret:                              # WARN_ON_ONCE(ret)
            return vend
        return nva_start_addr

    # ------------------------------------------------------ the interface
    def vmap_init_free_space(self) -> None:
        vmap_start = 1
        vmap_end = self.rng.mask             # ULONG_MAX
        for s, e in sorted(self.vmap_area_root.items()):
            if s > vmap_start:               # (C: unsigned "- > 0"; never 0 in the kernel)
                self.insert_vmap_area_augment(RbNode(vmap_start, s), None, self.free_tree)
            vmap_start = e
        if vmap_end > vmap_start:
            self.insert_vmap_area_augment(RbNode(vmap_start, vmap_end), None, self.free_tree)

    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None) -> AllocResult:
        vstart, vend = check_request(self.rng, size, align, vstart, vend)
        self.steps = Steps()
        addr = self.__alloc_vmap_area(self.free_tree, size, align, vstart, vend)
        if addr == vend:
            return AllocResult(None, self.steps)
        self.allocated[addr] = addr + size
        return AllocResult(addr, self.steps)

    def insert_vmap_area(self, addr: int, size: int) -> Steps:
        assert self.allocated.pop(addr) == addr + size
        self.steps = Steps()
        self.steps.tree_nodes += tree_depth(len(self.vmap_area_root))
        self.steps.tree_inserts += 1
        self.vmap_area_root[addr] = addr + size
        return self.steps

    def find_vmap_area(self, addr: int) -> Steps:
        self.steps = Steps()
        self.steps.tree_nodes += tree_depth(len(self.vmap_area_root))
        return self.steps

    def find_unlink_vmap_area(self, addr: int) -> tuple[int | None, Steps]:
        self.steps = Steps()
        self.steps.tree_nodes += tree_depth(len(self.vmap_area_root))
        if addr not in self.vmap_area_root:
            return None, self.steps
        end = self.vmap_area_root.pop(addr)
        self.steps.tree_erases += 1
        self.unlinked[addr] = end
        return end - addr, self.steps

    def free_vmap_area_noflush(self, addr: int, size: int) -> Steps:
        assert self.unlinked.pop(addr) == addr + size
        self.steps = Steps()
        va = RbNode(addr, addr + size)
        RB_CLEAR_NODE(va)
        self.merge_or_add_vmap_area(va, self.purge_tree)
        return self.steps

    def purge_list_take(self) -> list[tuple[int, int]]:
        local_purge_list = self.purge_tree.lst
        self.purge_tree = Tree("purge_vmap_area_list")   # purge_vmap_area_root = RB_ROOT; list_replace_init
        out = [(va.va_start, va.va_end) for va in local_purge_list]
        self.purging.update(out)
        return out

    def merge_free(self, start: int, end: int) -> Steps:
        assert self.purging.pop(start) == end
        self.steps = Steps()
        va = RbNode(start, end)
        RB_CLEAR_NODE(va)
        self.merge_or_add_vmap_area_augment(va, self.free_tree)
        return self.steps

    def free(self, addr: int) -> Steps:
        size, steps = self.find_unlink_vmap_area(addr)
        if size is None:
            raise NonexistentAreaError(addr)
        del self.unlinked[addr]
        va = RbNode(addr, addr + size)
        RB_CLEAR_NODE(va)
        self.merge_or_add_vmap_area_augment(va, self.free_tree)
        return self.steps

    # --------------------------------------------------------- read-outs
    @property
    def nr_busy(self) -> int:
        return len(self.vmap_area_root)

    @property
    def nr_lazy(self) -> int:
        return len(self.purge_tree.lst)

    def _vm_blocks(self) -> list[tuple[int, int]]:
        vms, vme = self.rng.vmalloc_start, self.rng.vmalloc_end
        clipped = [(max(v.va_start, vms), min(v.va_end, vme)) for v in self.free_tree.lst]
        return [(s, e) for s, e in clipped if e > s]

    @property
    def nr_free_blocks(self) -> int:
        return len(self._vm_blocks())

    @property
    def nr_free_objects(self) -> int:
        return len(self.free_tree.lst)

    def largest_free_bytes(self) -> int:
        return max((e - s for s, e in self._vm_blocks()), default=0)

    def total_free_bytes(self) -> int:
        return sum(e - s for s, e in self._vm_blocks())

    def busy_areas(self) -> list[tuple[int, int]]:
        return sorted(self.vmap_area_root.items())

    def free_blocks(self) -> list[tuple[int, int]]:
        return [(v.va_start, v.va_end) for v in self.free_tree.lst]

    def lazy_areas(self) -> list[tuple[int, int]]:
        return [(v.va_start, v.va_end) for v in self.purge_tree.lst]

    def check(self) -> None:
        for tree in (self.free_tree, self.purge_tree):
            msg = rb_validate(tree.root)
            if msg:
                raise InvariantError(f"{tree.name}: {msg}")
            nodes: list[RbNode] = []
            stack = [tree.root.rb_node]
            while stack:
                n = stack.pop()
                if n is not None:
                    nodes.append(n)
                    stack += [n.left, n.right]
                    if tree is self.free_tree:
                        self.get_subtree_max_size(n)     # stored == brute force
            if sorted(nodes, key=lambda v: v.va_start) != tree.lst or len(nodes) != len(tree.lst):
                raise InvariantError(f"{tree.name} and its tree disagree")
            blocks = [(v.va_start, v.va_end) for v in tree.lst]
            for (_, e1), (s2, _) in zip(blocks, blocks[1:]):
                if e1 >= s2:
                    raise InvariantError(f"{tree.name} not sorted, or blocks not coalesced")
        pieces = sorted(self.busy_areas() + self.free_blocks() + self.lazy_areas()
                        + list(self.allocated.items()) + list(self.unlinked.items())
                        + list(self.purging.items()))
        pos = 0 if pieces and pieces[0][0] == 0 else 1
        for s, e in pieces:
            if s != pos or e <= s:
                raise InvariantError(f"no tiling at {pos:#x}")
            pos = e
        if pos < self.rng.mask:
            raise InvariantError("no tiling at the end")
