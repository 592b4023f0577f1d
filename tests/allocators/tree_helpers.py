"""Helpers shared by the free-tree tests (test_augmented_tree.py,
test_split_tree.py and, through it, test_split_tree_510.py): page numbers of
blocks, a whole-Steps comparison and an rb-tree's shape."""

from __future__ import annotations

P = 4096
BASE = 0x10000000


def pages(blocks, base: int = BASE):
    """Blocks as page numbers from base; the guards (below base or ending at the top) left out."""
    return [((s - base) // P, (e - base) // P) for s, e in blocks if base <= s and e < 1 << 60]


def steps(s, **expected):
    """All Steps fields, with the unnamed ones 0/None."""
    full = dict(list_nodes=0, tree_nodes=0, free_nodes=0, tree_inserts=0, tree_erases=0,
                augment_updates=0, merges=0, fit=None, objects_allocated=0, objects_freed=0)
    full.update(expected)
    assert s.as_dict() == full


def tree_shape(n):
    """(va_start, va_end, colour, subtree_max_size, left, right), recursively."""
    if n is None:
        return None
    return (n.va_start, n.va_end, n.color, n.subtree_max_size, tree_shape(n.left), tree_shape(n.right))
