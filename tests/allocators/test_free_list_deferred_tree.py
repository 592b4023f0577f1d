"""free-list's deferred busy rb-tree (simulator/allocators/free_list.py,
``_rb_sync``): replayed when read, it is the eagerly maintained tree, node for
node and colour for colour, and the old path's descents count the same."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from strategies import profile_settings

import simulator.allocators.free_list as free_list
from simulator.allocators import create
from simulator.allocators.rbtree import RbRoot

P = 4096
VS = 0x10000000
VMS = VS + 64 * P                 # VMALLOC_START: below it, a modules-like range
VME = VS + 4096 * P


def shape(root: RbRoot) -> list[tuple[int, int, int, int]]:
    """Pre-order (va_start, va_end, colour, depth): the whole tree's shape."""
    out, stack = [], [(root.rb_node, 0)]
    while stack:
        n, d = stack.pop()
        if n is None:
            out.append((-1, -1, -1, d))
            continue
        out.append((n.va_start, n.va_end, n.color, d))
        stack.append((n.right, d + 1))
        stack.append((n.left, d + 1))
    return out


def pair():
    kw = dict(vmalloc_start=VMS, vmalloc_end=VME, initial_busy=[(VS + 2 * P, VS + 3 * P)])
    lazy, eager = create("free-list", VS, VME, **kw), create("free-list", VS, VME, **kw)
    eager._rb_log = None                          # maintained eagerly from the start
    return lazy, eager


ops = st.lists(st.tuples(st.sampled_from(["alloc", "alloc", "free", "old"]),
                         st.integers(1, 6), st.integers(0, 10**6)), min_size=1, max_size=120)


@profile_settings()
@given(ops=ops, log_max=st.sampled_from([4, 16, 1 << 23]))
def test_deferred_tree_is_the_eager_tree(ops, log_max) -> None:
    saved = free_list._RB_LOG_MAX
    free_list._RB_LOG_MAX = log_max               # small: replays while staying deferred
    try:
        lazy, eager = pair()
        live: list[int] = []
        for what, pages, pick in ops:
            if what == "free" and live:
                addr = live.pop(pick % len(live))
                assert lazy.free(addr) == eager.free(addr)
                continue
            if what == "old":                      # vstart below VMALLOC_START: the old path
                args = (pages * P, 1, VS, VMS)
            else:
                args = (pages * P, 1, VMS, VME)
            a, b = lazy.alloc(*args), eager.alloc(*args)
            assert (a.addr, a.steps) == (b.addr, b.steps)
            if a.addr is not None:
                live.append(a.addr)
        lazy.check()
        eager.check()
        lazy._rb_sync(lazy=True)                  # build whatever is pending
        assert shape(lazy.vmap_area_root) == shape(eager.vmap_area_root)
        lazy.check()
    finally:
        free_list._RB_LOG_MAX = saved


def test_negative_control_a_reordered_log_builds_another_tree() -> None:
    # The comparison above can fail: replaying the same inserts in another
    # order gives another shape (ascending inserts lean right, rotated).
    lazy, eager = pair()
    for _ in range(12):
        lazy.alloc(P, 1, VMS, VME)
        eager.alloc(P, 1, VMS, VME)
    log = lazy._rb_log
    assert log is not None and len(log) == 24
    pairs = [(log[i], log[i + 1]) for i in range(0, len(log), 2)]
    log[:] = [x for p in reversed(pairs) for x in p]
    lazy._rb_sync(lazy=True)
    assert shape(lazy.vmap_area_root) != shape(eager.vmap_area_root)
    assert sorted(lazy._va) == sorted(eager._va)  # the same areas, another shape


def test_lean_vmalloc_traffic_defers_and_the_old_path_builds() -> None:
    lazy, _ = pair()
    addrs = [lazy.alloc(P, 1, VMS, VME).addr for _ in range(5)]
    lazy.free(addrs[2])
    assert lazy._rb_log is not None and len(lazy._rb_log) == 11   # 5 inserts + 1 erase
    assert len(lazy._va) == 1                                     # only the early area built
    lazy.alloc(P, 1, VS, VMS)                                     # the old path descends
    assert lazy._rb_log is None and len(lazy._va) == 1 + 4 + 1
