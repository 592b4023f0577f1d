"""The lib/rbtree.c port: red-black invariants, augmented consistency, kernel shapes.

Shapes are checked three ways: hand-derived trees for small sequences (the
kernel's insert/erase cases worked through on paper, in the comments), and a
textbook (CLRS) red-black tree written here independently, whose bottom-up
insert and successor-based delete make the same case decisions as
lib/rbtree.c, so random sequences must give identical shapes and colours.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.allocators.rbtree import (RB_BLACK, RB_RED, RbNode, RbRoot, rb_erase, rb_erase_augmented,
                                         rb_first, rb_insert_augmented, rb_insert_color, rb_last,
                                         rb_link_node, rb_next, rb_prev, rb_validate)
from strategies import profile_settings

B, R = RB_BLACK, RB_RED


# ------------------------------------------------------------------ helpers
def insert(root: RbRoot, key: int, augment=None) -> RbNode:
    """Ordinary BST descent + rb_link_node + rb_insert_* (as the kernel's users do)."""
    node = RbNode(key, key + 1)
    parent, is_left, cur = None, False, root.rb_node
    while cur is not None:
        parent = cur
        is_left = key < cur.va_start
        cur = cur.left if is_left else cur.right
    rb_link_node(node, parent, root, is_left)
    if augment is None:
        rb_insert_color(node, root)
    else:
        rb_insert_augmented(node, root, augment)
    return node


def shape(n: RbNode | None):
    """(key, colour, left, right) nested tuples."""
    if n is None:
        return None
    return (n.va_start, "B" if n.color == B else "r", shape(n.left), shape(n.right))


def independent_check(root: RbRoot) -> int:
    """The red-black properties, checked from scratch; returns the node count."""
    top = root.rb_node
    if top is None:
        return 0
    assert top.parent is None and top.color == B, "root must be black and parentless"

    def walk(n: RbNode, lo: float, hi: float) -> tuple[int, int]:   # (black height, count)
        assert lo < n.va_start < hi, "BST order"
        heights, count = [], 1
        for child in (n.left, n.right):
            if child is None:
                heights.append(1)
                continue
            assert child.parent is n, "parent link"
            assert not (n.color == R and child.color == R), "red node with a red child"
            bh, c = walk(child, lo if child is n.left else n.va_start, n.va_start if child is n.left else hi)
            heights.append(bh)
            count += c
        assert heights[0] == heights[1], "equal black heights"
        return heights[0] + (1 if n.color == B else 0), count

    return walk(top, float("-inf"), float("inf"))[1]


def brute_max(n: RbNode | None) -> int:
    if n is None:
        return 0
    return max(n.va_end - n.va_start, brute_max(n.left), brute_max(n.right))


class MaxCallbacks:
    """Augment callbacks maintaining subtree_max_size = max va_size in the subtree."""

    def __init__(self) -> None:
        self.computes = 0

    def compute(self, n: RbNode) -> int:
        self.computes += 1
        m = n.va_end - n.va_start
        for c in (n.left, n.right):
            if c is not None:
                m = max(m, c.subtree_max_size)
        return m

    def propagate(self, rb, stop) -> None:
        while rb is not stop:
            m = self.compute(rb)
            if rb.subtree_max_size == m:
                break
            rb.subtree_max_size = m
            rb = rb.parent

    def copy(self, old, new) -> None:
        new.subtree_max_size = old.subtree_max_size

    def rotate(self, old, new) -> None:
        new.subtree_max_size = old.subtree_max_size
        old.subtree_max_size = self.compute(old)


def find(root: RbRoot, key: int) -> RbNode:
    n = root.rb_node
    while n.va_start != key:
        n = n.left if key < n.va_start else n.right
    return n


# ------------------------------------------------- a textbook CLRS red-black tree
class _T:
    __slots__ = ("key", "red", "left", "right", "p")

    def __init__(self, key: int, nil: _T | None) -> None:
        self.key, self.red, self.left, self.right, self.p = key, True, nil, nil, nil


class CLRS:
    """Cormen et al., ch. 13 (sentinel nil), written from the book."""

    def __init__(self) -> None:
        self.nil = _T(-1, None)
        self.nil.red = False
        self.nil.left = self.nil.right = self.nil.p = self.nil
        self.root = self.nil

    def _left_rotate(self, x: _T) -> None:
        y = x.right
        x.right = y.left
        if y.left is not self.nil:
            y.left.p = x
        y.p = x.p
        if x.p is self.nil:
            self.root = y
        elif x is x.p.left:
            x.p.left = y
        else:
            x.p.right = y
        y.left = x
        x.p = y

    def _right_rotate(self, x: _T) -> None:
        y = x.left
        x.left = y.right
        if y.right is not self.nil:
            y.right.p = x
        y.p = x.p
        if x.p is self.nil:
            self.root = y
        elif x is x.p.right:
            x.p.right = y
        else:
            x.p.left = y
        y.right = x
        x.p = y

    def insert(self, key: int) -> None:
        z = _T(key, self.nil)
        y, x = self.nil, self.root
        while x is not self.nil:
            y = x
            x = x.left if key < x.key else x.right
        z.p = y
        if y is self.nil:
            self.root = z
        elif key < y.key:
            y.left = z
        else:
            y.right = z
        while z.p.red:
            if z.p is z.p.p.left:
                y = z.p.p.right
                if y.red:
                    z.p.red = y.red = False
                    z.p.p.red = True
                    z = z.p.p
                else:
                    if z is z.p.right:
                        z = z.p
                        self._left_rotate(z)
                    z.p.red = False
                    z.p.p.red = True
                    self._right_rotate(z.p.p)
            else:
                y = z.p.p.left
                if y.red:
                    z.p.red = y.red = False
                    z.p.p.red = True
                    z = z.p.p
                else:
                    if z is z.p.left:
                        z = z.p
                        self._right_rotate(z)
                    z.p.red = False
                    z.p.p.red = True
                    self._left_rotate(z.p.p)
        self.root.red = False

    def _transplant(self, u: _T, v: _T) -> None:
        if u.p is self.nil:
            self.root = v
        elif u is u.p.left:
            u.p.left = v
        else:
            u.p.right = v
        v.p = u.p

    def delete(self, key: int) -> None:
        z = self.root
        while z.key != key:
            z = z.left if key < z.key else z.right
        y, y_red = z, z.red
        if z.left is self.nil:
            x = z.right
            self._transplant(z, z.right)
        elif z.right is self.nil:
            x = z.left
            self._transplant(z, z.left)
        else:
            y = z.right
            while y.left is not self.nil:
                y = y.left
            y_red = y.red
            x = y.right
            if y.p is z:
                x.p = y
            else:
                self._transplant(y, y.right)
                y.right = z.right
                y.right.p = y
            self._transplant(z, y)
            y.left = z.left
            y.left.p = y
            y.red = z.red
        if not y_red:
            self._delete_fixup(x)

    def _delete_fixup(self, x: _T) -> None:
        while x is not self.root and not x.red:
            if x is x.p.left:
                w = x.p.right
                if w.red:
                    w.red = False
                    x.p.red = True
                    self._left_rotate(x.p)
                    w = x.p.right
                if not w.left.red and not w.right.red:
                    w.red = True
                    x = x.p
                else:
                    if not w.right.red:
                        w.left.red = False
                        w.red = True
                        self._right_rotate(w)
                        w = x.p.right
                    w.red = x.p.red
                    x.p.red = False
                    w.right.red = False
                    self._left_rotate(x.p)
                    x = self.root
            else:
                w = x.p.left
                if w.red:
                    w.red = False
                    x.p.red = True
                    self._right_rotate(x.p)
                    w = x.p.left
                if not w.right.red and not w.left.red:
                    w.red = True
                    x = x.p
                else:
                    if not w.left.red:
                        w.right.red = False
                        w.red = True
                        self._left_rotate(w)
                        w = x.p.left
                    w.red = x.p.red
                    x.p.red = False
                    w.left.red = False
                    self._right_rotate(x.p)
                    x = self.root
        x.red = False

    def shape(self, n: _T | None = None, top: bool = True):
        n = self.root if top else n
        if n is self.nil:
            return None
        return (n.key, "r" if n.red else "B", self.shape(n.left, False), self.shape(n.right, False))


# ----------------------------------------------------------- hand-derived
def test_insert_1_to_7_in_order_gives_the_kernel_shape():
    # 1: 1B.  2: 1B(-,2r).  3: case 3 left-rotate at 1 -> 2B(1r,3r).
    # 4: case 1 flip (uncle 1 red) -> 2B(1B,3B(-,4r)).  5: case 3 at 3 -> 2B(1B,4B(3r,5r)).
    # 6: case 1 flip under 4 -> 2B(1B,4r(3B,5B(-,6r))).  7: case 3 at 5 -> 6B(5r,7r).
    root = RbRoot()
    for k in range(1, 8):
        insert(root, k)
    assert shape(root.rb_node) == (
        2, "B", (1, "B", None, None),
        (4, "r", (3, "B", None, None),
         (6, "B", (5, "r", None, None), (7, "r", None, None))))
    assert rb_validate(root) is None


def test_insert_descending_mirrors():
    root = RbRoot()
    for k in range(7, 0, -1):
        insert(root, k)
    assert shape(root.rb_node) == (
        6, "B", (4, "r", (2, "B", (1, "r", None, None), (3, "r", None, None)), (5, "B", None, None)),
        (7, "B", None, None))


def test_erase_root_with_successor_deep_in_right_subtree():
    # From 2B(1B,4r(3B,6B(5r,7r))) erase 2: successor 3 (leftmost under 4) takes
    # 2's place and colour; 3 was black with no child, so rebalance at 4 with
    # node = NULL on its left: sibling 6 is black with red right child 7 ->
    # case 4: left rotate at 4, 6 takes 4's colour (red), 4 and 7 become black.
    root = RbRoot()
    for k in range(1, 8):
        insert(root, k)
    rb_erase(find(root, 2), root)
    assert shape(root.rb_node) == (
        3, "B", (1, "B", None, None),
        (6, "r", (4, "B", None, (5, "r", None, None)), (7, "B", None, None)))
    independent_check(root)


def test_erase_red_leaf_and_single_child_cases():
    root = RbRoot()
    for k in range(1, 8):
        insert(root, k)
    rb_erase(find(root, 7), root)      # red leaf: no rebalance
    assert shape(root.rb_node)[3] == (4, "r", (3, "B", None, None), (6, "B", (5, "r", None, None), None))
    rb_erase(find(root, 6), root)      # black node with one (red) left child: child takes its colour
    assert shape(root.rb_node)[3] == (4, "r", (3, "B", None, None), (5, "B", None, None))
    independent_check(root)


def test_navigation():
    root = RbRoot()
    assert rb_first(root) is None and rb_last(root) is None
    keys = [5, 3, 8, 1, 4, 7, 9, 2, 6]
    for k in keys:
        insert(root, k)
    n, seen = rb_first(root), []
    while n is not None:
        seen.append(n.va_start)
        n = rb_next(n)
    assert seen == sorted(keys)
    n, seen = rb_last(root), []
    while n is not None:
        seen.append(n.va_start)
        n = rb_prev(n)
    assert seen == sorted(keys, reverse=True)


def test_rb_validate_reports_broken_trees():
    root = RbRoot()
    for k in range(1, 8):
        insert(root, k)
    find(root, 4).color = B             # now 2-4-3 has one black more than 2-1
    assert "black heights" in rb_validate(root)
    find(root, 4).color = R
    find(root, 6).color = R             # 4r -> 6r: red-red
    assert "red" in rb_validate(root)
    find(root, 6).color = B
    find(root, 5).parent = root.rb_node
    assert "parent" in rb_validate(root)


def test_augmented_rotations_keep_maxima():
    # ascending inserts rotate at every other step; sizes grow so each new node
    # is the maximum and must be carried up by rotate + propagate
    root, cb = RbRoot(), MaxCallbacks()
    for k in range(1, 40):
        node = RbNode(k * 100, k * 100 + k)
        parent, is_left, cur = None, False, root.rb_node
        while cur is not None:
            parent, is_left = cur, node.va_start < cur.va_start
            cur = cur.left if is_left else cur.right
        rb_link_node(node, parent, root, is_left)
        rb_insert_augmented(node, root, cb)
        node.subtree_max_size = 0
        cb.propagate(node, None)
        assert root.rb_node.subtree_max_size == k
    independent_check(root)


# ------------------------------------------------------------ properties
ops_strategy = st.lists(st.tuples(st.booleans(), st.integers(0, 200), st.integers(1, 1000)),
                        min_size=1, max_size=120)


@profile_settings(max_examples=min(500, profile_settings().max_examples))
@given(ops_strategy)
def test_random_insert_erase_matches_clrs_and_keeps_invariants(ops):
    root, ref, live = RbRoot(), CLRS(), set()
    for is_insert, key, _ in ops:
        if is_insert and key not in live:
            insert(root, key)
            ref.insert(key)
            live.add(key)
        elif live:
            k = sorted(live)[key % len(live)]
            rb_erase(find(root, k), root)
            ref.delete(k)
            live.discard(k)
        assert independent_check(root) == len(live)
        assert shape(root.rb_node) == ref.shape()
        assert rb_validate(root) is None


@profile_settings(max_examples=min(500, profile_settings().max_examples))
@given(ops_strategy)
def test_random_augmented_insert_erase_keeps_subtree_max(ops):
    root, cb, live = RbRoot(), MaxCallbacks(), {}
    plain = RbRoot()                  # same sequence without augmentation: same shape
    for is_insert, key, size in ops:
        if is_insert and key not in live:
            # link_va: insert with subtree_max_size unset, then zero and propagate
            node = RbNode(key * 1000, key * 1000 + size)
            parent, is_left, cur = None, False, root.rb_node
            while cur is not None:
                parent, is_left = cur, node.va_start < cur.va_start
                cur = cur.left if is_left else cur.right
            rb_link_node(node, parent, root, is_left)
            rb_insert_augmented(node, root, cb)
            node.subtree_max_size = 0
            cb.propagate(node, None)
            live[key] = node
            insert(plain, key * 1000)
        elif live:
            k = sorted(live)[key % len(live)]
            rb_erase_augmented(live.pop(k), root, cb)
            rb_erase(find(plain, k * 1000), plain)
        independent_check(root)
        stack = [root.rb_node]
        while stack:
            n = stack.pop()
            if n is not None:
                assert n.subtree_max_size == brute_max(n)
                stack += [n.left, n.right]
        strip = lambda s: None if s is None else (s[0], s[1], strip(s[2]), strip(s[3]))  # noqa: E731
        assert strip(shape(root.rb_node)) == strip(shape(plain.rb_node))
