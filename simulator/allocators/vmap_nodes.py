"""``vmap-nodes``: the Linux 6.9 vmap-area allocator (mm/vmalloc.c, "vmap nodes").

Spec: docs/kernels/linux-6.9.md (what was read, and the kernel lines that decide).
Per node (``nr_vmap_nodes = clamp(nr_cpus, 1, 128)`` on 64-bit, else 1; the
address space striped in ``vmap_zone_size`` = 16-page zones, zone k -> node
k % nr_vmap_nodes): a busy tree, a lazy tree and 256 size pools (1..256
pages), each list under its own lock.  The global free tree
(``free_vmap_area_lock``) is the 5.5-6.8 one: :class:`GlobalFreeTree`, split-tree's tree,
replaceable by any object with ``alloc``/``merge_free`` (``free_tree=``).

Each public method below is ONE critical section of the kernel unless its
docstring says "composition"; the docstring names the lock.  Busy and lazy
trees are *modelled* (``tree_depth(n)`` nodes per descent, ``n`` the size of
that node's tree before the operation), as the busy tree of every policy.
Areas between two sections of one task (taken from a pool or the free tree
and not yet in a busy tree; unlinked by vfree and not yet lazy; handed to the
purge's reclaim and not yet merged) are held in ``_held``/``_pending`` so that
``check()`` can tile the range at any point.  Sizing rules, NodeSteps and
the free tree wrapper live in vmap_node_parts.py (re-exported here).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from typing import Any

from .base import (AllocResult, InvariantError, NonexistentAreaError, Range, Steps, add_steps,
                   check_request, tree_depth)
from .vmap_node_parts import (
    BITS_PER_BYTE,
    MAX_VA_SIZE_PAGES,
    MAX_VMAP_NODES,
    ZONE_PAGES,
    GlobalFreeTree,
    NodeSteps,
    PurgeResult,
    Va,
    VmapAlloc,
    lazy_max_pages,
    nr_vmap_nodes_for,
)


class VmapNodesAllocator:
    """Linux 6.9: per-node busy/lazy trees and size pools over the global free tree."""

    DESCRIPTION = ("Linux 6.9: vmap nodes (per-CPU-node busy/lazy trees and size pools "
                   "in front of the global augmented free tree, parallel purge)")

    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]], nr_cpus: int = 1,
                 nr_online_cpus: int | None = None, free_tree: Any = None,
                 lazy_max: int | None = None) -> None:
        """``nr_cpus``: num_possible_cpus (sizes the nodes); ``nr_online_cpus``
        (default nr_cpus) sizes lazy_max_pages; ``lazy_max`` overrides
        lazy_max_pages (tests, scenarios that want frequent purges)."""
        self.rng = rng
        self.page_size = rng.page_size
        self.nr_cpus = max(1, nr_cpus)
        n = self.nr_vmap_nodes = nr_vmap_nodes_for(self.nr_cpus, rng.word_bits)
        self.vmap_zone_size = ZONE_PAGES * rng.page_size if n > 1 else 1
        self.lazy_max_pages = lazy_max or lazy_max_pages(nr_online_cpus or self.nr_cpus, rng.page_size)
        self.vmap_lazy_nr = 0                                    # pages, lazy + being purged
        self.free_tree = free_tree if free_tree is not None else GlobalFreeTree(rng, initial_busy)
        self._busy: list[dict[int, Va]] = [{} for _ in range(n)]
        self._lazy: list[dict[int, Va]] = [{} for _ in range(n)]
        self._pool: list[dict[int, deque[Va]]] = [{} for _ in range(n)]  # idx -> list, head at [0]
        self._purge_list: list[list[Va]] = [[] for _ in range(n)]
        self.skip_populate = [False] * n
        self.nr_purged = [0] * n                                 # vn->nr_purged of the last purge
        self._held: dict[int, Va] = {}       # between two sections of one task
        self._pending: dict[int, int] = {}   # handed to reclaim_list_global, not merged yet
        for s, e in initial_busy:            # vmalloc_init imports vmlist: flags 0
            self._busy[self.addr_to_node_id(s)][s] = Va(s, e, 0)

    # ------------------------------------------------------------ node ids
    def addr_to_node_id(self, addr: int) -> int:
        return (addr // self.vmap_zone_size) % self.nr_vmap_nodes

    def encode_vn_id(self, node_id: int) -> int:
        return (node_id + 1) << BITS_PER_BYTE if node_id < self.nr_vmap_nodes else 0

    def decode_vn_id(self, val: int) -> int:
        """The node id, or nr_vmap_nodes when none is encoded."""
        node_id = (val >> BITS_PER_BYTE) - 1
        return node_id if 0 <= node_id < self.nr_vmap_nodes else self.nr_vmap_nodes

    def pool_index(self, size: int) -> int | None:
        """size_to_va_pool: (size - 1) / PAGE_SIZE, None above 256 pages."""
        idx = (size - 1) // self.page_size
        return idx if idx < MAX_VA_SIZE_PAGES else None

    def node_alloc_eligible(self, vstart: int, vend: int) -> bool:
        return (vstart == self.rng.vmalloc_start and vend == self.rng.vmalloc_end
                and self.nr_vmap_nodes > 1)

    def node_alloc_target(self, vstart: int, vend: int, cpu: int) -> int | None:
        """The node whose pool node_alloc tries for this CPU, None if ineligible."""
        return cpu % self.nr_vmap_nodes if self.node_alloc_eligible(vstart, vend) else None

    def node_pool_len(self, node_id: int, size: int) -> int:
        """vp->len of the pool ``size`` maps to in ``node_id`` (0 above 256 pages):
        node_pool_del_va takes pool_lock only when this is not 0."""
        idx = self.pool_index(size)
        return 0 if idx is None else len(self._pool[node_id].get(idx, ()))

    def node_nr_busy(self, node_id: int) -> int:
        return len(self._busy[node_id])

    def node_nr_lazy(self, node_id: int) -> int:
        return len(self._lazy[node_id])

    def lookup_order(self, addr: int) -> list[int]:
        """The nodes find_(unlink_)vmap_area tries, in order (6.9: forward)."""
        i = self.addr_to_node_id(addr)
        n = self.nr_vmap_nodes
        return [(i + k) % n for k in range(n)]

    # ---------------------------------------------------------- alloc path
    def node_alloc(self, size: int, align: int, vstart: int, vend: int,
                   cpu: int) -> tuple[int | None, int, NodeSteps]:
        """node_alloc -> node_pool_del_va: (addr on a pool hit, encoded vn_id, ns).
        Lock: pool_lock of node ``cpu % nr_vmap_nodes``, only if ns.pool_lookups."""
        ns = NodeSteps()
        if not self.node_alloc_eligible(vstart, vend):
            return None, 0, ns
        node = cpu % self.nr_vmap_nodes
        ns.node_id = node
        vn_id = self.encode_vn_id(node)
        idx = self.pool_index(size)
        pool = self._pool[node].get(idx) if idx is not None else None
        if not pool:
            return None, vn_id, ns            # list_empty: no lock
        ns.pool_lookups = 1
        va = pool[0]
        if va.va_start & (align - 1):
            pool.rotate(-1)                   # list_move_tail(&va->list, &vp->head)
            ns.pool_rotations = 1
            return None, vn_id, ns
        pool.popleft()
        if not pool:
            del self._pool[node][idx]  # type: ignore[arg-type]  # a pooled size
        ns.pool_hits = 1
        self._held[va.va_start] = va
        return va.va_start, vn_id, ns

    def alloc_free_tree(self, size: int, align: int, vstart: int, vend: int) -> AllocResult:
        """__alloc_vmap_area on the global free tree.  Lock: free_vmap_area_lock."""
        r = self.free_tree.alloc(size, align, vstart, vend)
        if r.addr is not None:
            self._held[r.addr] = Va(r.addr, r.addr + size)
        return r

    def insert_vmap_area(self, addr: int, size: int, vn_id: int = 0) -> Steps:
        """va->flags = vn_id; busy insert.  Lock: busy.lock of addr_to_node_id(addr)."""
        va = self._held.pop(addr, None)
        if va is None or va.va_end - va.va_start != size:
            raise InvariantError(f"insert_vmap_area({addr:#x}): not an area this task holds")
        va.flags = vn_id
        busy = self._busy[self.addr_to_node_id(addr)]
        steps = Steps()
        steps.tree_nodes = tree_depth(len(busy))  # tree_nodes: modelled busy-tree descent
        steps.tree_inserts = 1
        busy[addr] = va
        return steps

    def alloc_vmap_area(self, size: int, align: int = 1, vstart: int | None = None,
                        vend: int | None = None, cpu: int = 0) -> VmapAlloc:
        """Composition: node_alloc, else the free tree (on failure one purge with
        full_pool_decay and one retry), then the busy insert."""
        vstart, vend = check_request(self.rng, size, align, vstart, vend)
        addr, vn_id, ns = self.node_alloc(size, align, vstart, vend, cpu)
        steps = Steps()
        purge = None
        hit = addr is not None
        if not hit:
            r = self.alloc_free_tree(size, align, vstart, vend)
            add_steps(steps, r.steps)
            if r.addr is None:
                purge = self.purge(full_pool_decay=True)
                r = self.alloc_free_tree(size, align, vstart, vend)
                add_steps(steps, r.steps)
                if r.addr is None:
                    return VmapAlloc(None, vn_id, False, purge, steps, ns)
            addr = r.addr
        add_steps(steps, self.insert_vmap_area(addr, size, vn_id))  # type: ignore[arg-type]  # allocated above
        return VmapAlloc(addr, vn_id, hit, purge, steps, ns)

    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None, cpu: int = 0) -> AllocResult:
        """Composition without the overflow purge: pool or free tree, busy insert."""
        vstart, vend = check_request(self.rng, size, align, vstart, vend)
        addr, vn_id, _ = self.node_alloc(size, align, vstart, vend, cpu)
        steps = Steps()
        if addr is None:
            r = self.alloc_free_tree(size, align, vstart, vend)
            steps = r.steps
            if r.addr is None:
                return AllocResult(None, steps)
            addr = r.addr
        add_steps(steps, self.insert_vmap_area(addr, size, vn_id))
        return AllocResult(addr, steps)

    # ----------------------------------------------------------- vfree path
    def find_vmap_area(self, addr: int) -> Steps:
        """The counted lookup (busy.lock of each node tried); changes nothing."""
        steps = Steps()
        for node in self.lookup_order(addr):
            busy = self._busy[node]
            steps.tree_nodes += tree_depth(len(busy))
            if addr in busy:
                break
        return steps

    def find_unlink_vmap_area_on(self, node_id: int, addr: int) -> tuple[int | None, Steps]:
        """One try of find_unlink_vmap_area: (size or None, steps).  Lock: busy.lock of node_id."""
        busy = self._busy[node_id]
        steps = Steps()
        steps.tree_nodes = tree_depth(len(busy))  # tree_nodes: modelled descent
        va = busy.pop(addr, None)
        if va is None:
            return None, steps
        steps.tree_erases = 1
        self._held[addr] = va
        return va.va_end - va.va_start, steps

    def find_unlink_vmap_area(self, addr: int) -> tuple[int | None, int | None, Steps]:
        """Composition of the tries in lookup_order(addr): (node_id, size, steps);
        (None, None, steps) after all nr_vmap_nodes tries when nothing starts at
        addr.  Busy locks taken: lookup_order(addr) up to and including node_id."""
        steps = Steps()
        for node in self.lookup_order(addr):
            size, st = self.find_unlink_vmap_area_on(node, addr)
            add_steps(steps, st)
            if size is not None:
                return node, size, steps
        return None, None, steps

    def lazy_node_of(self, addr: int) -> int:
        """The node whose lazy tree free_vmap_area_noflush will use for the held area."""
        va = self._held[addr]
        vn = self.decode_vn_id(va.flags)
        return vn if vn < self.nr_vmap_nodes else self.addr_to_node_id(addr)

    def free_vmap_area_noflush(self, addr: int, size: int) -> tuple[int, bool, Steps]:
        """vmap_lazy_nr += pages; lazy insert: (lazy node id, drain?, steps).
        Lock: lazy.lock of lazy_node_of(addr).  drain: nr_lazy > lazy_max_pages
        (the kernel then schedule_work()s drain_vmap_work)."""
        node = self.lazy_node_of(addr)
        va = self._held.pop(addr)
        if va.va_end - va.va_start != size:
            raise InvariantError(f"free_vmap_area_noflush({addr:#x}, {size:#x}): size differs")
        self.vmap_lazy_nr += size // self.page_size
        lazy = self._lazy[node]
        steps = Steps()
        steps.tree_nodes = tree_depth(len(lazy))  # tree_nodes: modelled lazy-tree descent
        steps.tree_inserts = 1
        lazy[addr] = va
        return node, self.vmap_lazy_nr > self.lazy_max_pages, steps

    def free(self, addr: int) -> Steps:
        """Composition, tests/compat: the kernel's ``free_vmap_area()`` (error
        paths): find_unlink_vmap_area, then merge_or_add_vmap_area_augment into
        the free tree at once (free_vmap_area_lock); no lazy tree, no pool."""
        _, size, steps = self.find_unlink_vmap_area(addr)
        if size is None:
            raise NonexistentAreaError(addr)
        del self._held[addr]
        add_steps(steps, self.free_tree.merge_free(addr, addr + size))
        return steps

    def free_lazy(self, addr: int) -> Steps:
        """Composition, vfree's remove_vm_area: find_unlink_vmap_area +
        free_vmap_area_noflush (the area becomes lazy; ``purge`` gives it back)."""
        _, size, steps = self.find_unlink_vmap_area(addr)
        if size is None:
            raise NonexistentAreaError(addr)
        add_steps(steps, self.free_vmap_area_noflush(addr, size)[2])
        return steps

    def vfree(self, addr: int) -> tuple[Steps, PurgeResult | None]:
        """Composition: ``free_lazy`` and, over the threshold, the drain purge at once."""
        steps = self.free_lazy(addr)
        if self.vmap_lazy_nr > self.lazy_max_pages:
            return steps, self.purge(False)
        return steps, None

    # ---------------------------------------------------------------- purge
    def decay_va_pool_node(self, node_id: int, full_decay: bool
                           ) -> tuple[list[tuple[int, int]], Steps, NodeSteps]:
        """decay_va_pool_node up to (not including) reclaim_list_global: the
        address-sorted blocks of the local decay list, the Steps of the local
        merges (outside every lock; the decay tree is local and counted as a
        modelled tree: tree_nodes, not free_nodes) and ns.  Locks: pool_lock of
        node_id, ns.pool_detaches sections.  Share: from each pool's head, all of
        it if full_decay, else len >> 2, or all of it when len < 4 (6.9:
        ``if (!--n_decay) break;`` after the first area wraps n_decay = 0)."""
        pools = self._pool[node_id]
        ns = NodeSteps(node_id=node_id)
        steps = Steps()
        starts: list[int] = []       # decay_root/decay_list: sorted blocks
        ends: list[int] = []
        for idx in sorted(pools):
            tmp = pools.pop(idx)     # list_replace_init under pool_lock
            ns.pool_detaches += 1
            length = len(tmp)
            n_decay = length if full_decay else (length >> 2 or length)
            for _ in range(n_decay):
                va = tmp.popleft()
                self._local_merge(starts, ends, va.va_start, va.va_end, steps)
            ns.pool_decayed += n_decay
            if tmp:                  # attach back (only when partly decayed)
                pools[idx] = tmp
                ns.pool_detaches += 1
        blocks = list(zip(starts, ends, strict=True))
        for s, e in blocks:
            self._pending[s] = e
        return blocks, steps, ns

    @staticmethod
    def _local_merge(starts: list[int], ends: list[int], s: int, e: int, steps: Steps) -> None:
        """merge_or_add_vmap_area into the local decay tree (non-augmented)."""
        steps.tree_nodes += tree_depth(len(starts))  # tree_nodes: find_va_links, modelled
        i = bisect_left(starts, s)
        nxt = i < len(starts) and starts[i] == e
        prv = i > 0 and ends[i - 1] == s
        if nxt and prv:
            ends[i - 1] = ends[i]
            del starts[i], ends[i]
            steps.tree_erases += 1                   # the next block is unlinked
            steps.merges += 2
            steps.objects_freed += 2
        elif nxt:
            starts[i] = s
            steps.merges += 1
            steps.objects_freed += 1
        elif prv:
            ends[i - 1] = e
            steps.merges += 1
            steps.objects_freed += 1
        else:
            starts.insert(i, s)
            ends.insert(i, e)
            steps.tree_inserts += 1

    def reclaim_list_global(self, blocks: list[tuple[int, int]]) -> Steps:
        """merge_or_add_vmap_area_augment of each block, in list order.  Lock:
        free_vmap_area_lock, once for the whole list (none if the list is empty)."""
        steps = Steps()
        for s, e in blocks:
            if self._pending.pop(s, None) != e:
                raise InvariantError(f"reclaim_list_global: [{s:#x}, {e:#x}) was not handed over")
            add_steps(steps, self.free_tree.merge_free(s, e))
        return steps

    def purge_take_lazy(self, node_id: int, full_pool_decay: bool) -> list[tuple[int, int]]:
        """skip_populate = full_pool_decay; the whole lazy list becomes the purge
        list (address order).  Lock: lazy.lock of node_id, only if the lazy tree
        is not empty (returns [] without the lock)."""
        self.skip_populate[node_id] = full_pool_decay
        lazy = self._lazy[node_id]
        if not lazy:
            return []
        self._purge_list[node_id] = [lazy[s] for s in sorted(lazy)]
        lazy.clear()
        return [(va.va_start, va.va_end) for va in self._purge_list[node_id]]

    def nr_purge_helpers(self, nr_purge_nodes: int) -> int:
        """clamp(vmap_lazy_nr / lazy_max_pages, 1, nr_purge_nodes) - 1 (read before
        any area is purged)."""
        h = self.vmap_lazy_nr // self.lazy_max_pages
        return max(1, min(h, nr_purge_nodes)) - 1

    def purge_vmap_node(self, node_id: int) -> tuple[list[tuple[int, int]], NodeSteps]:
        """purge_vmap_node up to reclaim_list_global: each area of the purge list
        (ascending) leaves vmap_lazy_nr and goes to this node's pool (one
        pool_lock section each: ns.pool_adds) when it carries a node id, the purge
        is not a full decay and it is at most 256 pages; the rest is returned
        as local_list (list_add: descending) for reclaim_list_global."""
        vas = self._purge_list[node_id]
        self._purge_list[node_id] = []
        ns = NodeSteps(node_id=node_id)
        local: list[tuple[int, int]] = []
        pools = self._pool[node_id]
        skip = self.skip_populate[node_id]
        for va in vas:
            size = va.va_end - va.va_start
            self.vmap_lazy_nr -= size // self.page_size
            ns.nr_purged += 1
            if self.decode_vn_id(va.flags) < self.nr_vmap_nodes and not skip:
                idx = self.pool_index(size)
                if idx is not None:
                    pools.setdefault(idx, deque()).appendleft(va)   # list_add at the head
                    ns.pool_adds += 1
                    continue
            local.append((va.va_start, va.va_end))
        local.reverse()
        for s, e in local:
            self._pending[s] = e
        self.nr_purged[node_id] = ns.nr_purged
        return local, ns

    def purge(self, full_pool_decay: bool = False) -> PurgeResult:
        """Composition: __purge_vmap_area_lazy(ULONG_MAX, 0, full_pool_decay) under
        vmap_purge_lock.  The helper nodes' purge_vmap_node (run by workers on CPU
        i in the kernel) are done here in ascending node order, before the rest."""
        res = PurgeResult(None, None)
        for node in range(self.nr_vmap_nodes):
            blocks, st, ns = self.decay_va_pool_node(node, full_pool_decay)
            add_steps(res.steps, st)
            if blocks:
                add_steps(res.steps, self.reclaim_list_global(blocks))
                ns.reclaimed += len(blocks)
            res.ns.add(ns)
            taken = self.purge_take_lazy(node, full_pool_decay)
            if taken:
                res.marked.append(node)
                res.ns.lazy_taken += len(taken)
                res.start = taken[0][0] if res.start is None else min(res.start, taken[0][0])
                res.end = taken[-1][1] if res.end is None else max(res.end, taken[-1][1])
        if res.marked:
            res.helpers = res.marked[:self.nr_purge_helpers(len(res.marked))]
            for node in res.marked:
                local, ns = self.purge_vmap_node(node)
                if local:
                    add_steps(res.steps, self.reclaim_list_global(local))
                    ns.reclaimed += len(local)
                res.ns.add(ns)
                res.nr_purged += ns.nr_purged
        return res

    # ------------------------------------------------------------ read-outs
    @property
    def nr_busy(self) -> int:
        return sum(len(b) for b in self._busy)

    @property
    def nr_lazy(self) -> int:
        return sum(len(t) for t in self._lazy)

    @property
    def nr_pooled(self) -> int:
        return sum(len(q) for p in self._pool for q in p.values())

    @property
    def nr_free_blocks(self) -> int:
        return self.free_tree.nr_free_blocks

    @property
    def nr_free_objects(self) -> int:
        return self.free_tree.nr_free_objects

    def largest_free_bytes(self) -> int:
        return self.free_tree.largest_free_bytes()

    def total_free_bytes(self) -> int:
        """Free bytes of the global free tree in the vmalloc range (pooled and
        lazy areas are not free)."""
        return self.free_tree.total_free_bytes()

    @property
    def nr_purging(self) -> int:
        """Areas in purge lists (taken from a lazy tree, not yet purged)."""
        return sum(len(p) for p in self._purge_list)

    def unreleased_areas(self) -> list[tuple[int, int]]:
        """Lazy, being purged, and pooled areas: freed, not in the free tree."""
        out = [(va.va_start, va.va_end) for t in self._lazy for va in t.values()]
        out += [(va.va_start, va.va_end) for pl in self._purge_list for va in pl]
        out += [(va.va_start, va.va_end) for p in self._pool for q in p.values() for va in q]
        return sorted(out)

    def busy_areas(self) -> list[tuple[int, int]]:
        return sorted((s, va.va_end) for b in self._busy for s, va in b.items())

    def lazy_areas(self) -> list[tuple[int, int]]:
        return sorted((s, va.va_end) for t in self._lazy for s, va in t.items())

    def pooled_areas(self, node_id: int) -> dict[int, list[tuple[int, int]]]:
        """pool index -> the areas of that pool, head first."""
        return {i: [(va.va_start, va.va_end) for va in q] for i, q in sorted(self._pool[node_id].items())}

    def free_blocks(self) -> list[tuple[int, int]]:
        return self.free_tree.free_blocks()

    # ----------------------------------------------------------------- check
    def check(self) -> None:
        """Raise InvariantError if an invariant is broken (O(n))."""
        self.free_tree.check()
        n = self.nr_vmap_nodes
        pieces: list[tuple[int, int]] = []
        lazy_pages = 0
        for node in range(n):
            for s, va in self._busy[node].items():
                if self.addr_to_node_id(s) != node or va.va_start != s:
                    raise InvariantError(
                        f"busy {va!r} in node {node}, not addr_to_node {self.addr_to_node_id(s)}")
                pieces.append((s, va.va_end))
            for va in list(self._lazy[node].values()) + self._purge_list[node]:
                vn = self.decode_vn_id(va.flags)
                if (vn if vn < n else self.addr_to_node_id(va.va_start)) != node:
                    raise InvariantError(f"lazy {va!r} in node {node}")
                lazy_pages += (va.va_end - va.va_start) // self.page_size
                pieces.append((va.va_start, va.va_end))
            for idx, q in self._pool[node].items():
                if not q:
                    raise InvariantError(f"empty pool {idx} kept in node {node}")
                for va in q:
                    if self.pool_index(va.va_end - va.va_start) != idx or self.decode_vn_id(va.flags) != node:
                        raise InvariantError(f"pooled {va!r} in pool {idx} of node {node}")
                    pieces.append((va.va_start, va.va_end))
        if lazy_pages != self.vmap_lazy_nr:
            raise InvariantError(f"vmap_lazy_nr {self.vmap_lazy_nr} != {lazy_pages} lazy pages")
        pieces += [(va.va_start, va.va_end) for va in self._held.values()]
        pieces += list(self._pending.items())
        # with the free blocks they tile the free tree's space [1, ULONG_MAX)
        # (an area handed out may start at 0 or end at the top)
        every = sorted(pieces + self.free_blocks())
        pos = 0 if every and every[0][0] == 0 else 1
        for s, e in every:
            if s != pos or e <= s:
                raise InvariantError(
                    f"areas and free blocks do not tile the space at {pos:#x} ([{s:#x}, {e:#x}))")
            pos = e
        if pos < self.rng.mask:
            raise InvariantError(f"areas and free blocks end at {pos:#x}, not {self.rng.mask:#x}")


__all__ = [
    "MAX_VA_SIZE_PAGES",
    "MAX_VMAP_NODES",
    "GlobalFreeTree",
    "NodeSteps",
    "PurgeResult",
    "Va",
    "VmapAlloc",
    "VmapNodesAllocator",
    "lazy_max_pages",
    "nr_vmap_nodes_for",
]
