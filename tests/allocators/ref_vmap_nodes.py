"""Literal reference model of the Linux 6.9 vmap-node layer (mm/vmalloc.c), for tests.

Transcribed function by function from the 6.9 text quoted in
docs/kernels/linux-6.9.md ("[PATCH v3 07/11] mm: vmalloc: Offload
free_vmap_area_lock lock" and the 2026 mm tree for the unchanged parts), slow
on purpose:

* every ``struct list_head`` is a Python list, the head at index 0
  (``list_add`` = insert(0), ``list_move_tail`` = pop + append,
  ``list_replace_init`` = hand the list over and put a fresh one);
* every rb-tree of the node layer (busy, lazy, the local decay tree) is its
  address-sorted list, searched linearly; the counted descent is
  ``tree_depth(n)`` as everywhere in vmsim;
* C ``unsigned long``/``unsigned int`` wrap-around is explicit (``n_decay``,
  ``decode_vn_id``);
* the global free tree (``free_vmap_area_root``) is the same object type as
  the fast policy's (split-tree's 6.1 tree, tested on its own): the node
  layer decides which ranges go in and out of it, in which order.
"""

from __future__ import annotations

from simulator.allocators.base import (
    AllocResult,
    NonexistentAreaError,
    Range,
    Steps,
    check_request,
    tree_depth,
)
from simulator.allocators.vmap_nodes import GlobalFreeTree, NodeSteps

MAX_VA_SIZE_PAGES = 256
BITS_PER_BYTE = 8
UINT_MAX = (1 << 32) - 1


class RefVa:
    def __init__(self, va_start: int = 0, va_end: int = 0, flags: int = 0) -> None:
        self.va_start = va_start
        self.va_end = va_end
        self.flags = flags


class VmapPool:
    def __init__(self) -> None:
        self.head: list[RefVa] = []
        self.len = 0


class RbList:
    def __init__(self) -> None:
        self.head: list[RefVa] = []     # root + head: one sorted list


class VmapNode:
    def __init__(self) -> None:
        self.pool = [VmapPool() for _ in range(MAX_VA_SIZE_PAGES)]
        self.skip_populate = False
        self.busy = RbList()
        self.lazy = RbList()
        self.purge_list: list[RefVa] = []
        self.nr_purged = 0
        self.pooled = 0                 # test-only: areas in all pools (skips empty nodes fast)


class RefVmapNodes:
    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]], nr_cpus: int,
                 lazy_max: int | None = None) -> None:
        self.rng = rng
        self.PAGE_SIZE = rng.page_size
        self.ULONG_MAX = rng.mask
        self.VMALLOC_START = rng.vmalloc_start
        self.VMALLOC_END = rng.vmalloc_end
        self.num_possible_cpus = nr_cpus
        self.num_online_cpus = nr_cpus
        self.lazy_max = lazy_max
        self.vmap_lazy_nr = 0
        self.steps = Steps()
        self.ns = NodeSteps()
        self.trace: list[tuple] = []    # purges: (full, start, end, marked, helpers, nr_purged)
        # free_vmap_area_root/list: the 6.1 free tree
        self.free_tree = GlobalFreeTree(rng, initial_busy)
        # vmalloc_init: vmap_init_nodes(), then import vmlist into the busy trees
        self.vmap_nodes = [VmapNode()]
        self.nr_vmap_nodes = 1
        self.vmap_zone_size = 1
        self.vmap_init_nodes()
        for s, e in initial_busy:
            va = RefVa(s, e, 0)
            vn = self.addr_to_node(va.va_start)
            self.insert_vmap_area(va, vn.busy)
        self.steps = Steps()

    # ------------------------------------------------------------ set-up
    def vmap_init_nodes(self) -> None:
        if self.rng.word_bits == 64:          # #if BITS_PER_LONG == 64
            n = min(max(self.num_possible_cpus, 1), 128)
            if n > 1:
                # Node partition is 16 pages.
                self.vmap_zone_size = (1 << 4) * self.PAGE_SIZE
                self.nr_vmap_nodes = n
                self.vmap_nodes = [VmapNode() for _ in range(n)]

    def lazy_max_pages(self) -> int:
        if self.lazy_max is not None:
            return self.lazy_max
        log = self.num_online_cpus.bit_length()      # fls()
        return log * (32 * 1024 * 1024 // self.PAGE_SIZE)

    # -------------------------------------------------------- node ids
    def addr_to_node_id(self, addr: int) -> int:
        return (addr // self.vmap_zone_size) % self.nr_vmap_nodes

    def addr_to_node(self, addr: int) -> VmapNode:
        return self.vmap_nodes[self.addr_to_node_id(addr)]

    def id_to_node(self, id_: int) -> VmapNode:
        return self.vmap_nodes[id_ % self.nr_vmap_nodes]

    def encode_vn_id(self, node_id: int) -> int:
        if node_id < self.nr_vmap_nodes:
            return (node_id + 1) << BITS_PER_BYTE
        return 0

    def decode_vn_id(self, val: int) -> int:
        node_id = ((val >> BITS_PER_BYTE) - 1) & UINT_MAX
        if node_id < self.nr_vmap_nodes:
            return node_id
        assert node_id == UINT_MAX, "Decode wrong node id"
        return self.nr_vmap_nodes

    def is_vn_id_valid(self, node_id: int) -> bool:
        return node_id < self.nr_vmap_nodes

    @staticmethod
    def va_size(va: RefVa) -> int:
        return va.va_end - va.va_start

    # ---------------------------------------------------- rb_list helpers
    def insert_vmap_area(self, va: RefVa, rbl: RbList) -> None:
        """find_va_links (modelled descent) + link_va, non-augmented."""
        self.steps.tree_nodes += tree_depth(len(rbl.head))
        i = 0
        while i < len(rbl.head) and rbl.head[i].va_start < va.va_start:
            i += 1
        rbl.head.insert(i, va)
        self.steps.tree_inserts += 1

    def __find_vmap_area(self, addr: int, rbl: RbList) -> RefVa | None:
        self.steps.tree_nodes += tree_depth(len(rbl.head))
        for va in rbl.head:
            if va.va_start == addr:      # vmsim: vfree passes the area's start
                return va
        return None

    def unlink_va(self, va: RefVa, rbl: RbList) -> None:
        rbl.head.remove(va)
        self.steps.tree_erases += 1

    # ------------------------------------------------------------- pools
    def size_to_va_pool(self, vn: VmapNode, size: int) -> VmapPool | None:
        idx = (size - 1) // self.PAGE_SIZE
        if idx < MAX_VA_SIZE_PAGES:
            return vn.pool[idx]
        return None

    def node_pool_add_va(self, n: VmapNode, va: RefVa) -> bool:
        vp = self.size_to_va_pool(n, self.va_size(va))
        if not vp:
            return False
        # spin_lock(&n->pool_lock)
        self.ns.pool_adds += 1
        vp.head.insert(0, va)
        vp.len += 1
        n.pooled += 1
        return True

    def node_pool_del_va(self, vn: VmapNode, size: int, align: int, vstart: int, vend: int) -> RefVa | None:
        va = None
        vp = self.size_to_va_pool(vn, size)
        if not vp or not vp.head:
            return None
        # spin_lock(&vn->pool_lock)
        self.ns.pool_lookups += 1
        if vp.head:
            va = vp.head[0]
            if va.va_start % align == 0:
                err = (self.va_size(va) != size) | (va.va_start < vstart) | (va.va_end > vend)
                assert not err, "WARN_ON_ONCE(err)"
                vp.head.pop(0)
                vp.len -= 1
                vn.pooled -= 1
                self.ns.pool_hits += 1
            else:
                vp.head.append(vp.head.pop(0))       # list_move_tail
                self.ns.pool_rotations += 1
                va = None
        return va

    def node_alloc(self, size: int, align: int, vstart: int, vend: int,
                   cpu: int) -> tuple[RefVa | None, int, int]:
        """Returns (va, addr, vn_id)."""
        vn_id = 0
        addr = vend
        if vstart != self.VMALLOC_START or vend != self.VMALLOC_END or self.nr_vmap_nodes == 1:
            return None, addr, vn_id
        vn_id = cpu % self.nr_vmap_nodes               # raw_smp_processor_id()
        self.ns.node_id = vn_id
        va = self.node_pool_del_va(self.id_to_node(vn_id), size, align, vstart, vend)
        vn_id = self.encode_vn_id(vn_id)
        if va:
            addr = va.va_start
        return va, addr, vn_id

    # ------------------------------------------------------ alloc_vmap_area
    def __alloc_vmap_area(self, size: int, align: int, vstart: int, vend: int) -> int:
        r = self.free_tree.alloc(size, align, vstart, vend)
        s = r.steps
        for name in Steps.FIELDS:
            if name == "fit":
                if s.fit is not None:
                    self.steps.fit = s.fit
            else:
                setattr(self.steps, name, getattr(self.steps, name) + getattr(s, name))
        return vend if r.addr is None else r.addr

    def alloc_vmap_area(self, size: int, align: int = 1, vstart: int | None = None,
                        vend: int | None = None, cpu: int = 0) -> dict:
        vstart, vend = check_request(self.rng, size, align, vstart, vend)
        self.steps = Steps()
        self.ns = NodeSteps()
        purged = 0
        purge = None
        va, addr, vn_id = self.node_alloc(size, align, vstart, vend, cpu)
        hit = va is not None
        if not va:
            va = RefVa()                                  # kmem_cache_alloc_node
        while True:                                       # retry:
            if addr == vend:
                addr = self.__alloc_vmap_area(size, align, vstart, vend)
            if addr == vend:                              # overflow:
                if not purged:
                    steps, ns = self.steps, self.ns
                    self.reclaim_and_purge_vmap_areas()
                    purge = self.trace[-1]
                    self.steps, self.ns = steps, ns
                    purged = 1
                    continue
                return {"addr": None, "vn_id": vn_id, "hit": False, "purge": purge,
                        "steps": self.steps, "ns": self.ns}
            break
        va.va_start = addr
        va.va_end = addr + size
        va.flags = vn_id
        vn = self.addr_to_node(va.va_start)
        self.insert_vmap_area(va, vn.busy)                # busy.lock
        return {"addr": addr, "vn_id": vn_id, "hit": hit, "purge": purge, "steps": self.steps, "ns": self.ns}

    # -------------------------------------------------------------- vfree
    def find_unlink_vmap_area(self, addr: int) -> tuple[RefVa | None, int | None]:
        i = j = self.addr_to_node_id(addr)
        while True:
            vn = self.vmap_nodes[i]
            va = self.__find_vmap_area(addr, vn.busy)     # busy.lock
            if va:
                self.unlink_va(va, vn.busy)
            if va:
                return va, i
            i = (i + 1) % self.nr_vmap_nodes
            if i == j:
                break
        return None, None

    def free_vmap_area_noflush(self, va: RefVa) -> bool:
        nr_lazy_max = self.lazy_max_pages()
        vn_id = self.decode_vn_id(va.flags)
        self.vmap_lazy_nr += self.va_size(va) // self.PAGE_SIZE
        nr_lazy = self.vmap_lazy_nr
        vn = self.id_to_node(vn_id) if self.is_vn_id_valid(vn_id) else self.addr_to_node(va.va_start)
        self.insert_vmap_area(va, vn.lazy)                # lazy.lock
        return nr_lazy > nr_lazy_max                      # schedule_work(&drain_vmap_work)

    def vfree(self, addr: int) -> dict:
        self.steps = Steps()
        self.ns = NodeSteps()
        va, node = self.find_unlink_vmap_area(addr)
        if va is None:
            raise NonexistentAreaError(addr)
        drain = self.free_vmap_area_noflush(va)
        out = {"node": node, "steps": self.steps, "purge": None}
        if drain:
            self.drain_vmap_area_work()
            out["purge"] = self.trace[-1]
        return out

    # -------------------------------------------------------------- purge
    def reclaim_list_global(self, head: list[tuple[int, int]]) -> None:
        if not head:
            return
        # spin_lock(&free_vmap_area_lock)
        for s, e in head:
            st = self.free_tree.merge_free(s, e)
            for name in Steps.FIELDS:
                if name != "fit":
                    setattr(self.steps, name, getattr(self.steps, name) + getattr(st, name))
            self.ns.reclaimed += 1

    def merge_or_add_vmap_area(self, va: RefVa, root: list[RefVa]) -> None:
        """Non-augmented merge into a local sorted list (the decay tree)."""
        self.steps.tree_nodes += tree_depth(len(root))        # find_va_links
        i = 0
        while i < len(root) and root[i].va_start < va.va_start:
            i += 1
        nxt = root[i] if i < len(root) else None            # get_va_next_sibling
        merged = False
        if nxt is not None and nxt.va_start == va.va_end:
            nxt.va_start = va.va_start
            self.steps.merges += 1
            self.steps.objects_freed += 1
            va = nxt
            merged = True
        prev = root[i - 1] if i > 0 else None
        if prev is not None and prev.va_end == va.va_start:
            if merged:
                root.remove(va)
                self.steps.tree_erases += 1
            prev.va_end = va.va_end
            self.steps.merges += 1
            self.steps.objects_freed += 1
            merged = True
        if not merged:
            root.insert(i, va)
            self.steps.tree_inserts += 1

    def decay_va_pool_node(self, vn: VmapNode, full_decay: bool) -> None:
        decay_list: list[RefVa] = []
        for i in range(MAX_VA_SIZE_PAGES if vn.pooled else 0):
            if not vn.pool[i].head:
                continue
            # Detach the pool, so no-one can access it.
            self.ns.pool_detaches += 1
            tmp_list = vn.pool[i].head
            vn.pool[i].head = []
            if full_decay:
                vn.pool[i].len = 0
            # Decay a pool by ~25% out of left objects.
            n_decay = vn.pool[i].len >> 2
            for va in list(tmp_list):
                tmp_list.remove(va)
                vn.pooled -= 1
                self.merge_or_add_vmap_area(RefVa(va.va_start, va.va_end), decay_list)
                self.ns.pool_decayed += 1
                if not full_decay:
                    vn.pool[i].len -= 1
                    n_decay = (n_decay - 1) & self.ULONG_MAX
                    if not n_decay:
                        break
            # Attach the pool back if it has been partly decayed.
            if not full_decay and tmp_list:
                self.ns.pool_detaches += 1
                vn.pool[i].head = tmp_list
        self.reclaim_list_global([(va.va_start, va.va_end) for va in decay_list])

    def purge_vmap_node(self, vn: VmapNode) -> None:
        local_list: list[RefVa] = []
        vn.nr_purged = 0
        for va in list(vn.purge_list):
            nr = self.va_size(va) // self.PAGE_SIZE
            vn_id = self.decode_vn_id(va.flags)
            vn.purge_list.remove(va)
            self.vmap_lazy_nr -= nr
            vn.nr_purged += 1
            self.ns.nr_purged += 1
            if self.is_vn_id_valid(vn_id) and not vn.skip_populate and self.node_pool_add_va(vn, va):
                continue
            local_list.insert(0, va)                      # list_add: go back to global
        self.reclaim_list_global([(va.va_start, va.va_end) for va in local_list])

    def __purge_vmap_area_lazy(self, start: int, end: int, full_pool_decay: bool) -> bool:
        nr_purged_areas = 0
        purge_nodes: list[int] = []
        for i in range(self.nr_vmap_nodes):
            vn = self.vmap_nodes[i]
            vn.purge_list = []
            vn.skip_populate = full_pool_decay
            self.decay_va_pool_node(vn, full_pool_decay)
            if not vn.lazy.head:
                continue
            # spin_lock(&vn->lazy.lock)
            vn.purge_list = vn.lazy.head
            vn.lazy.head = []
            self.ns.lazy_taken += len(vn.purge_list)
            start = min(start, vn.purge_list[0].va_start)
            end = max(end, vn.purge_list[-1].va_end)
            purge_nodes.append(i)
        helpers: list[int] = []
        nr_purge_nodes = len(purge_nodes)
        if nr_purge_nodes > 0:
            # flush_tlb_kernel_range(start, end)
            nr_purge_helpers = self.vmap_lazy_nr // self.lazy_max_pages()
            nr_purge_helpers = min(max(nr_purge_helpers, 1), nr_purge_nodes) - 1
            for i in purge_nodes:
                if nr_purge_helpers > 0:
                    helpers.append(i)                     # schedule_work_on(i, ...)
                    nr_purge_helpers -= 1
            # the workers' and the purger's purge_vmap_node, ascending
            for i in purge_nodes:
                vn = self.vmap_nodes[i]
                self.purge_vmap_node(vn)
                nr_purged_areas += vn.nr_purged
            self.trace.append((full_pool_decay, start, end, purge_nodes, helpers, nr_purged_areas))
        else:
            self.trace.append((full_pool_decay, None, None, [], [], 0))
        return nr_purged_areas > 0

    def reclaim_and_purge_vmap_areas(self) -> None:
        self.steps = Steps()
        self.ns = NodeSteps()
        self.__purge_vmap_area_lazy(self.ULONG_MAX, 0, True)
        self._last_purge = (self.steps, self.ns)

    def drain_vmap_area_work(self) -> None:
        steps, ns = self.steps, self.ns
        self.steps = Steps()
        self.ns = NodeSteps()
        self.__purge_vmap_area_lazy(self.ULONG_MAX, 0, False)
        self._last_purge = (self.steps, self.ns)
        self.steps, self.ns = steps, ns

    # ----------------------------------------------------------- read-outs
    def busy_areas(self) -> list[tuple[int, int]]:
        return sorted((va.va_start, va.va_end) for vn in self.vmap_nodes for va in vn.busy.head)

    def lazy_areas(self) -> list[tuple[int, int]]:
        return sorted((va.va_start, va.va_end) for vn in self.vmap_nodes for va in vn.lazy.head)

    def pooled_areas(self, node_id: int) -> dict[int, list[tuple[int, int]]]:
        vn = self.vmap_nodes[node_id]
        assert vn.pooled == sum(len(vp.head) for vp in vn.pool), "pooled count out of step"
        out = {}
        for i, vp in enumerate(vn.pool):
            assert vp.len == len(vp.head), "pool len out of step"
            if vp.head:
                out[i] = [(va.va_start, va.va_end) for va in vp.head]
        return out

    def alloc(self, *args, **kw) -> AllocResult:   # pragma: no cover - convenience
        r = self.alloc_vmap_area(*args, **kw)
        return AllocResult(r["addr"], r["steps"])
