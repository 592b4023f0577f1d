"""A Python port of Linux ``lib/rbtree.c`` + ``include/linux/rbtree_augmented.h``.

The port keeps the kernel's control flow case by case, so that the same
sequence of insertions and erasures gives the *same tree shape* as in the
kernel.  The augmented-tree allocator needs that: for align > 1 the answer of
``find_vmap_lowest_match`` depends on which nodes lie on the search path.

Differences from C, all mechanical:

* ``__rb_parent_color`` is split into ``parent`` and ``color`` (RB_RED = 0,
  RB_BLACK = 1, as in the kernel);
* a link (``struct rb_node **``) is the pair (parent, is_left); the root link
  is (None, ...);
* ``RB_CLEAR_NODE`` sets ``parent`` to the node itself, as the kernel does, so
  ``RB_EMPTY_NODE`` is ``node.parent is node``;
* augment callbacks are an object with ``propagate(node, stop)``,
  ``copy(old, new)`` and ``rotate(old, new)`` (``struct rb_augment_callbacks``).

The node carries the vmap_area payload (``va_start``, ``va_end``,
``subtree_max_size``) directly: one object per ``struct vmap_area``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

RB_RED = 0
RB_BLACK = 1


class RbNode:
    """``struct rb_node`` with the ``struct vmap_area`` payload."""

    __slots__ = ("parent", "left", "right", "color", "va_start", "va_end", "subtree_max_size")

    def __init__(self, va_start: int = 0, va_end: int = 0) -> None:
        self.parent: RbNode | None = None
        self.left: RbNode | None = None
        self.right: RbNode | None = None
        self.color = RB_RED
        self.va_start = va_start
        self.va_end = va_end
        # A struct from kmem_cache: subtree_max_size is 0 until it is linked
        # and propagated.
        self.subtree_max_size = 0

    def __repr__(self) -> str:
        c = "B" if self.color else "r"
        return (f"<{type(self).__name__} [{self.va_start:#x}, {self.va_end:#x}) {c} "
                f"max={self.subtree_max_size:#x}>")


class RbRoot:
    """``struct rb_root``."""

    __slots__ = ("rb_node",)

    def __init__(self) -> None:
        self.rb_node: RbNode | None = None


class RbAugmentCallbacks(Protocol):
    """``struct rb_augment_callbacks``."""

    def propagate(self, node: RbNode | None, stop: RbNode | None) -> None: ...

    def copy(self, old: RbNode, new: RbNode) -> None: ...

    def rotate(self, old: RbNode, new: RbNode) -> None: ...


RotateFn = Callable[[RbNode, RbNode], None]


# ------------------------------------------------------------ small helpers
def rb_parent(node: RbNode) -> RbNode | None:
    return node.parent


def RB_EMPTY_NODE(node: RbNode) -> bool:  # noqa: N802 (kernel name)
    return node.parent is node


def RB_CLEAR_NODE(node: RbNode) -> None:  # noqa: N802 (kernel name)
    node.parent = node


def rb_link_node(node: RbNode, parent: RbNode | None, root: RbRoot, is_left: bool) -> None:
    """``rb_link_node(node, parent, link)``; the link is (parent, is_left)."""
    node.parent = parent
    node.color = RB_RED
    node.left = node.right = None
    if parent is None:
        root.rb_node = node
    elif is_left:
        parent.left = node
    else:
        parent.right = node


# __rb_change_child(old, new, parent, root) -- "parent's link to old now
# points at new" -- is written out at each of its call sites (hot path).


def __rb_rotate_set_parents(old: RbNode, new: RbNode, root: RbRoot, color: int) -> None:
    """Helper for rotations: old's parent and color go to new; old gets new
    as parent and ``color`` as color."""
    parent = old.parent
    new.parent = parent
    new.color = old.color
    old.parent = new
    old.color = color
    # __rb_change_child(old, new, parent, root), inlined (hot path)
    if parent is None:
        root.rb_node = new
    elif parent.left is old:
        parent.left = new
    else:
        parent.right = new


# -------------------------------------------------------------- insertion
def __rb_insert(node: RbNode, root: RbRoot, augment_rotate: RotateFn | None = None) -> None:
    parent = node.parent  # rb_red_parent(node)
    while True:
        # Loop invariant: node is red.
        if parent is None:
            node.parent = None
            node.color = RB_BLACK
            break
        if parent.color:  # rb_is_black(parent)
            break

        gparent = parent.parent  # rb_red_parent(parent)
        tmp = gparent.right
        if parent is not tmp:  # parent == gparent->rb_left
            if tmp is not None and not tmp.color:
                # Case 1 - color flips
                #
                #       G            g
                #      / \          / \
                #     p   u  -->   P   U
                #    /            /
                #   n            N
                tmp.color = RB_BLACK
                parent.color = RB_BLACK
                node = gparent
                parent = node.parent
                node.color = RB_RED
                continue

            tmp = parent.right
            if node is tmp:
                # Case 2 - left rotate at parent
                #
                #      G             G
                #     / \           / \
                #    p   U  -->    n   U
                #     \           /
                #      n         p
                tmp = node.left
                parent.right = tmp
                node.left = parent
                if tmp is not None:
                    tmp.parent = parent
                    tmp.color = RB_BLACK
                parent.parent = node
                parent.color = RB_RED
                if augment_rotate is not None:
                    augment_rotate(parent, node)
                parent = node
                tmp = node.right

            # Case 3 - right rotate at gparent
            #
            #        G           P
            #       / \         / \
            #      p   U  -->  n   g
            #     /                 \
            #    n                   U
            gparent.left = tmp  # == parent->rb_right
            parent.right = gparent
            if tmp is not None:
                tmp.parent = gparent
                tmp.color = RB_BLACK
            __rb_rotate_set_parents(gparent, parent, root, RB_RED)
            if augment_rotate is not None:
                augment_rotate(gparent, parent)
            break
        else:
            tmp = gparent.left
            if tmp is not None and not tmp.color:
                # Case 1 - color flips
                tmp.color = RB_BLACK
                parent.color = RB_BLACK
                node = gparent
                parent = node.parent
                node.color = RB_RED
                continue

            tmp = parent.left
            if node is tmp:
                # Case 2 - right rotate at parent
                tmp = node.right
                parent.left = tmp
                node.right = parent
                if tmp is not None:
                    tmp.parent = parent
                    tmp.color = RB_BLACK
                parent.parent = node
                parent.color = RB_RED
                if augment_rotate is not None:
                    augment_rotate(parent, node)
                parent = node
                tmp = node.left

            # Case 3 - left rotate at gparent
            gparent.right = tmp  # == parent->rb_left
            parent.left = gparent
            if tmp is not None:
                tmp.parent = gparent
                tmp.color = RB_BLACK
            __rb_rotate_set_parents(gparent, parent, root, RB_RED)
            if augment_rotate is not None:
                augment_rotate(gparent, parent)
            break


#: ``rb_insert_color(node, root)``: __rb_insert without augment callbacks
#: (an alias, not a wrapper: one call frame less per insert).
rb_insert_color: Callable[[RbNode, RbRoot], None] = __rb_insert


def rb_insert_augmented(node: RbNode, root: RbRoot, augment: RbAugmentCallbacks) -> None:
    """On insertion the caller links the node (rb_link_node) first; rebalancing
    calls ``augment.rotate`` on each rotation."""
    __rb_insert(node, root, augment.rotate)


# ---------------------------------------------------------------- erasure
def __rb_erase_color(parent: RbNode, root: RbRoot, augment_rotate: RotateFn | None) -> None:
    node: RbNode | None = None
    while True:
        # Loop invariants:
        # - node is black (or None on first iteration)
        # - node is not the root (parent is not None)
        # - All leaf paths going through parent and node have a
        #   black node count that is 1 lower than other leaf paths.
        sibling = parent.right
        if node is not sibling:  # node == parent->rb_left
            if not sibling.color:  # rb_is_red(sibling)
                # Case 1 - left rotate at parent
                #
                #     P               S
                #    / \             / \
                #   N   s    -->    p   Sr
                #      / \         / \
                #     Sl  Sr      N   Sl
                tmp1 = sibling.left
                parent.right = tmp1
                sibling.left = parent
                tmp1.parent = parent
                tmp1.color = RB_BLACK
                __rb_rotate_set_parents(parent, sibling, root, RB_RED)
                if augment_rotate is not None:
                    augment_rotate(parent, sibling)
                sibling = tmp1
            tmp1 = sibling.right
            if tmp1 is None or tmp1.color:
                tmp2 = sibling.left
                if tmp2 is None or tmp2.color:
                    # Case 2 - sibling color flip
                    # (p could be either color here)
                    #
                    #    (p)           (p)
                    #    / \           / \
                    #   N   S    -->  N   s
                    #      / \           / \
                    #     Sl  Sr        Sl  Sr
                    sibling.parent = parent
                    sibling.color = RB_RED
                    if not parent.color:
                        parent.color = RB_BLACK
                    else:
                        node = parent
                        parent = node.parent
                        if parent is not None:
                            continue
                    break
                # Case 3 - right rotate at sibling
                # (p could be either color here)
                #
                #   (p)           (p)
                #   / \           / \
                #  N   S    -->  N   sl
                #     / \             \
                #    sl  Sr            S
                #                       \
                #                        Sr
                tmp1 = tmp2.right
                sibling.left = tmp1
                tmp2.right = sibling
                parent.right = tmp2
                if tmp1 is not None:
                    tmp1.parent = sibling
                    tmp1.color = RB_BLACK
                if augment_rotate is not None:
                    augment_rotate(sibling, tmp2)
                tmp1 = sibling
                sibling = tmp2
            # Case 4 - left rotate at parent + color flips
            # (p and sl could be either color here.
            #  After rotation, p becomes black, s acquires
            #  p's color, and sl keeps its color)
            #
            #      (p)             (s)
            #      / \             / \
            #     N   S     -->   P   Sr
            #        / \         / \
            #      (sl) sr      N  (sl)
            tmp2 = sibling.left
            parent.right = tmp2
            sibling.left = parent
            tmp1.parent = sibling
            tmp1.color = RB_BLACK
            if tmp2 is not None:
                tmp2.parent = parent
            __rb_rotate_set_parents(parent, sibling, root, RB_BLACK)
            if augment_rotate is not None:
                augment_rotate(parent, sibling)
            break
        else:
            sibling = parent.left
            if not sibling.color:
                # Case 1 - right rotate at parent
                tmp1 = sibling.right
                parent.left = tmp1
                sibling.right = parent
                tmp1.parent = parent
                tmp1.color = RB_BLACK
                __rb_rotate_set_parents(parent, sibling, root, RB_RED)
                if augment_rotate is not None:
                    augment_rotate(parent, sibling)
                sibling = tmp1
            tmp1 = sibling.left
            if tmp1 is None or tmp1.color:
                tmp2 = sibling.right
                if tmp2 is None or tmp2.color:
                    # Case 2 - sibling color flip
                    sibling.parent = parent
                    sibling.color = RB_RED
                    if not parent.color:
                        parent.color = RB_BLACK
                    else:
                        node = parent
                        parent = node.parent
                        if parent is not None:
                            continue
                    break
                # Case 3 - left rotate at sibling
                tmp1 = tmp2.left
                sibling.right = tmp1
                tmp2.left = sibling
                parent.left = tmp2
                if tmp1 is not None:
                    tmp1.parent = sibling
                    tmp1.color = RB_BLACK
                if augment_rotate is not None:
                    augment_rotate(sibling, tmp2)
                tmp1 = sibling
                sibling = tmp2
            # Case 4 - right rotate at parent + color flips
            tmp2 = sibling.right
            parent.left = tmp2
            sibling.right = parent
            tmp1.parent = sibling
            tmp1.color = RB_BLACK
            if tmp2 is not None:
                tmp2.parent = parent
            __rb_rotate_set_parents(parent, sibling, root, RB_BLACK)
            if augment_rotate is not None:
                augment_rotate(parent, sibling)
            break


def __rb_erase_augmented(node: RbNode, root: RbRoot, augment: RbAugmentCallbacks | None) -> RbNode | None:
    """Unlink ``node``; return the node to rebalance from (or None)."""
    child = node.right
    tmp = node.left
    if tmp is None:
        # Case 1: node to erase has no more than 1 child (easy!)
        #
        # Note that if there is one child it must be red due to 5)
        # and node must be black due to 4). We adjust colors locally
        # so as to bypass __rb_erase_color() later on.
        parent = node.parent
        pc_color = node.color
        # __rb_change_child(node, child, parent, root), inlined (hot path)
        if parent is None:
            root.rb_node = child
        elif parent.left is node:
            parent.left = child
        else:
            parent.right = child
        if child is not None:
            child.parent = parent
            child.color = pc_color
            rebalance = None
        else:
            rebalance = parent if pc_color else None
        tmp = parent
    elif child is None:
        # Still case 1, but this time the child is node->rb_left
        parent = node.parent
        tmp.parent = parent
        tmp.color = node.color
        # __rb_change_child(node, tmp, parent, root), inlined (hot path)
        if parent is None:
            root.rb_node = tmp
        elif parent.left is node:
            parent.left = tmp
        else:
            parent.right = tmp
        rebalance = None
        tmp = parent
    else:
        successor = child
        tmp = child.left
        if tmp is None:
            # Case 2: node's successor is its right child
            #
            #    (n)          (s)
            #    / \          / \
            #  (x) (s)  ->  (x) (c)
            #        \
            #        (c)
            parent = successor
            child2 = successor.right
            if augment is not None:
                augment.copy(node, successor)
        else:
            # Case 3: node's successor is leftmost under
            # node's right child subtree
            #
            #    (n)          (s)
            #    / \          / \
            #  (x) (y)  ->  (x) (y)
            #      /            /
            #    (p)          (p)
            #    /            /
            #  (s)          (c)
            #    \
            #    (c)
            while True:
                parent = successor
                successor = tmp
                tmp = tmp.left
                if tmp is None:
                    break
            child2 = successor.right
            parent.left = child2
            successor.right = child
            child.parent = successor
            if augment is not None:
                augment.copy(node, successor)
                augment.propagate(parent, successor)

        tmp = node.left
        successor.left = tmp
        tmp.parent = successor

        pc_parent = node.parent
        pc_color = node.color
        # __rb_change_child(node, successor, pc_parent, root), inlined (hot path)
        if pc_parent is None:
            root.rb_node = successor
        elif pc_parent.left is node:
            pc_parent.left = successor
        else:
            pc_parent.right = successor

        if child2 is not None:
            successor.parent = pc_parent
            successor.color = pc_color
            child2.parent = parent
            child2.color = RB_BLACK
            rebalance = None
        else:
            pc2_color = successor.color
            successor.parent = pc_parent
            successor.color = pc_color
            rebalance = parent if pc2_color else None
        tmp = successor

    if augment is not None:
        augment.propagate(tmp, None)
    return rebalance


def rb_erase_augmented(node: RbNode, root: RbRoot, augment: RbAugmentCallbacks) -> None:
    rebalance = __rb_erase_augmented(node, root, augment)
    if rebalance is not None:
        __rb_erase_color(rebalance, root, augment.rotate)


def rb_erase(node: RbNode, root: RbRoot) -> None:
    rebalance = __rb_erase_augmented(node, root, None)
    if rebalance is not None:
        __rb_erase_color(rebalance, root, None)


# ------------------------------------------------------------- navigation
def rb_first(root: RbRoot) -> RbNode | None:
    n = root.rb_node
    if n is None:
        return None
    while n.left is not None:
        n = n.left
    return n


def rb_last(root: RbRoot) -> RbNode | None:
    n = root.rb_node
    if n is None:
        return None
    while n.right is not None:
        n = n.right
    return n


def rb_next(node: RbNode) -> RbNode | None:
    if RB_EMPTY_NODE(node):
        return None
    # If we have a right-hand child, go down and then left as far as we can.
    if node.right is not None:
        node = node.right
        while node.left is not None:
            node = node.left
        return node
    # No right-hand children: go up till we find an ancestor which is a
    # right-hand child of its parent.
    parent = node.parent
    while parent is not None and node is parent.right:
        node = parent
        parent = node.parent
    return parent


def rb_prev(node: RbNode) -> RbNode | None:
    if RB_EMPTY_NODE(node):
        return None
    if node.left is not None:
        node = node.left
        while node.right is not None:
            node = node.right
        return node
    parent = node.parent
    while parent is not None and node is parent.left:
        node = parent
        parent = node.parent
    return parent


def rb_inorder(root: RbRoot) -> Iterator[RbNode]:
    """All nodes in key order (iterative, no recursion limit)."""
    n = rb_first(root)
    while n is not None:
        yield n
        n = rb_next(n)


def rb_validate(root: RbRoot) -> str | None:
    """Check the red-black and link invariants; return a message or None.

    Root black, no red node with a red child, equal black heights, parent
    links consistent, nodes ordered by ``va_start`` and not overlapping.
    Iterative, O(n).
    """
    top = root.rb_node
    if top is None:
        return None
    if top.parent is not None:
        return "root has a parent"
    if top.color != RB_BLACK:
        return "root is red"
    black_height: int | None = None
    stack: list[tuple[RbNode, int]] = [(top, 1)]
    while stack:
        n, bh = stack.pop()
        for child in (n.left, n.right):
            if child is None:
                if black_height is None:
                    black_height = bh
                elif bh != black_height:
                    return f"unequal black heights at {n!r}"
                continue
            if child.parent is not n:
                return f"bad parent link under {n!r}"
            if child.color not in (RB_RED, RB_BLACK):
                return f"bad color at {child!r}"
            if child.color == RB_RED and n.color == RB_RED:
                return f"red node {n!r} has a red child"
            stack.append((child, bh + (1 if child.color == RB_BLACK else 0)))
    prev: RbNode | None = None
    for n in rb_inorder(root):
        if prev is not None and not prev.va_end <= n.va_start:
            return f"nodes out of order or overlapping: {prev!r} then {n!r}"
        prev = n
    return None


__all__ = [
    "RB_RED", "RB_BLACK", "RbNode", "RbRoot", "RbAugmentCallbacks",
    "rb_parent", "RB_EMPTY_NODE", "RB_CLEAR_NODE", "rb_link_node",
    "rb_insert_color", "rb_insert_augmented", "rb_erase", "rb_erase_augmented",
    "rb_first", "rb_last", "rb_next", "rb_prev", "rb_inorder", "rb_validate",
]
