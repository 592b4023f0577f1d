"""The cost model: turns allocator ``Steps`` and the steps of the vmalloc /
vfree paths into nanoseconds, from a device profile (``simulator.devices``).

Policies decide and count; this module prices.  Every parameter it reads is
listed in :data:`PARAMETERS` with what it prices; ``docs/engine.md`` explains
each one.  A walked node (``list_nodes``, ``tree_nodes``, the busy-tree
lookup of vfree) costs ``node_hot_ns`` when the walked structure, ``nodes x
vmap_area_bytes``, fits ``cache_bytes`` and ``node_cold_ns`` when it does not:
the two are never averaged into one constant.  The walked structure is the
busy areas (busy list, busy tree) or the free blocks (free list, free tree):
``Steps.free_nodes`` says which of the walked nodes were free blocks.

Issue 11 adds five mechanisms, each behind a switch that is off by default
(and off in ``qemu-x86``, the one profile fitted end to end), and the arch
defaults a workload reads:

- ``line_transfer``: cache-line ownership.  A critical section moves, from
  the CPU that last held its lock, the lines that CPU wrote and this one
  touches (:class:`LineOwners`), each at the topology's price
  (:meth:`CostModel.line_ns`: SMT sibling / same cluster or CCX / across
  clusters / across sockets).
- ``rcu_free``: 4.x ``kfree_rcu`` of each freed vmap_area: ``call_rcu_ns``
  inside the section, then a burst of RCU callbacks on the same CPU, each
  ``rcu_callback_ns + kfree_ns`` plus one line of the object (hot or cold by
  the burst's size, the walk rule).  5.2+ frees through ``vmap_area_cachep``
  at once: priced as before (``kfree_ns`` in the section).
- ``zero_pages``: ``__GFP_ZERO`` / ``vzalloc`` callers pay ``clear_page_ns``
  per page.
- ``level_cache``: a tree descent's top levels stay cached: of a tree of
  ``n`` nodes, the levels whose nodes together fit ``cache_bytes`` are hot,
  the deeper ones cold (instead of the whole descent hot or cold).
- ``clusters``: CPUs with their own clock (``time_scale`` multiplies the
  CPU-bound prices) and cache size, and the topology of ``line_transfer``.
"""

from __future__ import annotations

from typing import Any

#: name -> (type, what it prices).  Types: "ns" (float >= 0), "bytes"/"count"
#: (int >= 0), "ceiling" (int >= 1 or None = no cap), "lock" (a lock kind).
PARAMETERS: dict[str, tuple[str, str]] = {
    "cache_bytes": ("bytes", "cache that holds the walked vmap_area structures (last level the walk fits "
                             "in)"),
    "vmap_area_bytes": ("bytes", "bytes of one struct vmap_area (slab object)"),
    "node_hot_ns": ("ns", "one walked list/tree node when the structure fits cache_bytes"),
    "node_cold_ns": ("ns", "one walked list/tree node when the structure does not fit (a cache miss)"),
    "rb_insert_ns": ("ns", "rb_insert_color (+ link) fix-up, per Steps.tree_inserts"),
    "rb_erase_ns": ("ns", "rb_erase fix-up, per Steps.tree_erases"),
    "augment_update_ns": ("ns", "one compute_subtree_max_size evaluation, per Steps.augment_updates"),
    "merge_ns": ("ns", "list/field updates of one coalescing, per Steps.merges"),
    "fit_ns": ("ns", "classify + split a free block (adjust va_start/va_end), once when Steps.fit is set"),
    "kmalloc_ns": ("ns", "one kmalloc of a small object (vmap_area, vm_struct, pages array; "
                         "Steps.objects_allocated)"),
    "kfree_ns": ("ns", "one kfree of a small object (Steps.objects_freed, vm_struct, pages array)"),
    "page_alloc_ns": ("ns", "alloc_page of one order-0 page (vmalloc, per page)"),
    "page_free_ns": ("ns", "__free_page of one page (vfree, per page)"),
    "map_page_ns": ("ns", "map one page into the kernel page table (vmap_page_range, per page)"),
    "unmap_page_ns": ("ns", "unmap one page (vunmap_page_range, per page)"),
    "touch_ns": ("ns", "a write to the first page of a fresh area (TLB miss + page walk + line fill)"),
    "tlb_flush_fixed_ns": ("ns", "flush_tlb_kernel_range: fixed part (local flush + IPI setup)"),
    "tlb_flush_remote_cpu_ns": ("ns", "flush_tlb_kernel_range: per remote CPU (IPI + remote flush)"),
    "tlb_flush_page_ns": ("ns", "flush_tlb_kernel_range: per page of the span, up to the ceiling"),
    "tlb_flush_page_ceiling": ("ceiling", "span in pages above which a full flush replaces "
                                          "per-page flushes (None: no cap)"),
    "tlb_flush_full_ns": ("ns", "the full flush that replaces per-page flushes above the ceiling"),
    "lock_kind": ("lock", "vmap_area_lock: qspinlock (FIFO), ticket (FIFO + per-waiter handoff) or tas "
                          "(unfair)"),
    "lock_acquire_ns": ("ns", "uncontended spin_lock"),
    "lock_release_ns": ("ns", "spin_unlock"),
    "lock_handoff_ns": ("ns", "handoff to a spinning waiter (one cache-line transfer)"),
    "lock_waiter_ns": ("ns", "ticket lock: extra handoff cost per spinning CPU (Boyd-Wickizer et al. 2012)"),
    "purge_area_ns": ("ns", "per purged area overhead of __purge_vmap_area_lazy beyond the allocator's "
                            "Steps"),
    # -- issue 11: cache-line ownership and the topology that prices it
    "line_transfer": ("switch", "charge the transfer of lines last written by another CPU "
                                "(lock word + protected data)"),
    "threads_per_core": ("count", "SMT threads per core (CPU i and i + cpus/threads are siblings, Linux "
                                  "numbering)"),
    "cores_per_cluster": ("count", "cores sharing a last-level cache (cluster / CCX); 0: all cores"),
    "clusters_per_socket": ("count", "clusters per socket; 0: one socket"),
    "line_same_core_ns": ("ns", "one line moved between SMT siblings of a core"),
    "line_same_cluster_ns": ("ns", "one line moved between cores of one cluster / CCX (shared L2/L3)"),
    "line_cross_cluster_ns": ("ns", "one line moved between clusters / CCXs of one socket"),
    "line_cross_socket_ns": ("ns", "one line moved between sockets"),
    # -- deferred RCU frees (4.x) against kmem_cache reuse (5.2+)
    "rcu_free": ("switch", "4.x kfree_rcu: call_rcu in the section, callbacks in a burst later on the same "
                           "CPU"),
    "call_rcu_ns": ("ns", "kfree_rcu/call_rcu: queue one callback (irqs off, a list append)"),
    "rcu_callback_ns": ("ns", "rcu_do_batch: invoke one kfree callback, beyond the kfree itself and the "
                              "object's line"),
    # -- page zeroing
    "zero_pages": ("switch", "price zeroing for __GFP_ZERO / vzalloc callers (Caller.vmalloc zero=True)"),
    "clear_page_ns": ("ns", "clear_page / memset of one page (page size / fill bandwidth)"),
    # -- per-level tree caching
    "level_cache": ("switch", "tree descents: top levels that fit cache_bytes hot, deeper levels cold"),
    # -- per-CPU speed
    "clusters": ("clusters", "CPU clusters with their own time_scale and cache_bytes (big.LITTLE); null: "
                             "identical CPUs"),
    # -- arch defaults read by workloads
    "thread_size_bytes": ("bytes", "THREAD_SIZE (kernel stack); 0: 16 KiB on 64-bit, 8 KiB on 32-bit"),
    "thread_align_bytes": ("bytes", "THREAD_ALIGN; 0: THREAD_SIZE (arm64 with VMAP_STACK: 2 x THREAD_SIZE)"),
    "vmap_stack": ("switch", "CONFIG_VMAP_STACK: kernel stacks come from vmalloc"),
}

#: Parameters a profile may omit (added after the first profiles): the
#: mechanisms default off, the topology flat, the arch values from the word size.
DEFAULTS: dict[str, Any] = {
    "line_transfer": False, "threads_per_core": 1, "cores_per_cluster": 0,
    "clusters_per_socket": 0, "line_same_core_ns": 0.0, "line_same_cluster_ns": 0.0,
    "line_cross_cluster_ns": 0.0, "line_cross_socket_ns": 0.0,
    "rcu_free": False, "call_rcu_ns": 0.0, "rcu_callback_ns": 0.0,
    "zero_pages": False, "clear_page_ns": 0.0, "level_cache": False, "clusters": None,
    "thread_size_bytes": 0, "thread_align_bytes": 0, "vmap_stack": True,
}

#: Prices of work done by the CPU itself: a cluster's ``time_scale`` multiplies
#: them.  Memory latency (node_cold_ns), line transfers, TLB flush IPIs and
#: the lock handoff are not clock bound and stay as the profile gives them.
CPU_BOUND = ("node_hot_ns", "rb_insert_ns", "rb_erase_ns", "augment_update_ns", "merge_ns",
             "fit_ns", "kmalloc_ns", "kfree_ns", "page_alloc_ns", "page_free_ns", "map_page_ns",
             "unmap_page_ns", "touch_ns", "lock_acquire_ns", "lock_release_ns", "purge_area_ns",
             "call_rcu_ns", "rcu_callback_ns", "clear_page_ns")
#: keys of one cluster: cpus and time_scale required, the rest optional
CLUSTER_KEYS = ("name", "cpus", "time_scale", "cache_bytes", "node_cold_ns", "clear_page_ns")

LOCK_KINDS: dict[str, str] = {"qspinlock": "fifo", "ticket": "fifo", "tas": "unfair"}


def check_cost(cost: dict[str, Any], where: str = "cost") -> dict[str, Any]:
    """Validate a resolved parameter dict; return a normalised copy.

    Raises ValueError with one line naming the key and what is accepted.
    """
    cost = {**{k: v for k, v in DEFAULTS.items() if k not in cost}, **cost}
    missing = [k for k in PARAMETERS if k not in cost]
    if missing:
        raise ValueError(f"{where}: missing parameter(s) {', '.join(missing)}")
    out: dict[str, Any] = {}
    for key, value in cost.items():
        if key not in PARAMETERS:
            raise ValueError(f"{where}: unknown parameter {key!r}; accepted: {', '.join(PARAMETERS)}")
        out[key] = check_value(key, value, where)
    if out["lock_kind"] != "ticket" and out["lock_waiter_ns"]:
        raise ValueError(f"{where}: lock_waiter_ns prices a ticket lock's per-waiter handoff and "
                         f"lock_kind is {out['lock_kind']} (got lock_waiter_ns "
                         f"{out['lock_waiter_ns']}); accepted: lock_waiter_ns 0, or lock_kind ticket")
    return out


def check_value(key: str, value: Any, where: str = "cost") -> Any:
    """Check one parameter's value against its type (ValueError, one line)."""
    kind = PARAMETERS[key][0]
    ok_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "ns":
        if not ok_number or value < 0 or value != value:
            raise ValueError(f"{where}.{key}: expected a number of ns >= 0 (got {value!r})")
        return float(value)
    if kind in ("bytes", "count"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{where}.{key}: expected an integer >= 0 (got {value!r})")
        return value
    if kind == "ceiling":
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{where}.{key}: expected an integer >= 1 or null for no cap (got {value!r})")
        return value
    if kind == "switch":
        if not isinstance(value, bool):
            raise ValueError(f"{where}.{key}: expected true or false (got {value!r})")
        return value
    if kind == "clusters":
        return check_clusters(value, f"{where}.{key}")
    if kind == "lock":
        if value not in LOCK_KINDS:
            raise ValueError(f"{where}.{key}: expected one of {', '.join(LOCK_KINDS)} (got {value!r})")
        return value
    raise AssertionError(kind)  # pragma: no cover


def parse_cpus(text: Any, where: str) -> tuple[int, ...]:
    """``"0-3,8"`` or ``[0, 1]`` or ``5`` -> sorted CPU numbers (ValueError, one line)."""
    if isinstance(text, int) and not isinstance(text, bool):
        items: list[Any] = [text]
    elif isinstance(text, (list, tuple)):
        items = list(text)
    elif isinstance(text, str):
        items = [x.strip() for x in text.split(",") if x.strip()]
    else:
        raise ValueError(f"{where}: expected CPUs such as \"0-3\" or [4, 5] (got {text!r})")
    out: set[int] = set()
    for it in items:
        if isinstance(it, int) and not isinstance(it, bool) and it >= 0:
            out.add(it)
            continue
        lo, _, hi = str(it).partition("-")
        if not (lo.isdigit() and (hi.isdigit() or not _)) or (_ and int(hi) < int(lo)):
            raise ValueError(f"{where}: expected CPUs such as \"0-3\" or [4, 5] (got {text!r})")
        out.update(range(int(lo), int(hi if _ else lo) + 1))
    if not out:
        raise ValueError(f"{where}: names no CPU (got {text!r})")
    return tuple(sorted(out))


def check_clusters(value: Any, where: str) -> list[dict[str, Any]] | None:
    """A ``clusters`` list: each ``{cpus, time_scale, [name, cache_bytes,
    node_cold_ns, clear_page_ns]}``; no CPU in two clusters."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a list of clusters (cpus, time_scale, ...) or null")
    out: list[Any] = []
    seen: set[Any] = set()
    for i, cl in enumerate(value):
        w = f"{where}[{i}]"
        if not isinstance(cl, dict):
            raise ValueError(f"{w}: expected a mapping with keys {', '.join(CLUSTER_KEYS)}")
        for k in cl:
            if k not in CLUSTER_KEYS:
                raise ValueError(f"{w}.{k}: unknown key; accepted: {', '.join(CLUSTER_KEYS)}")
        if "cpus" not in cl or "time_scale" not in cl:
            raise ValueError(f"{w}: cpus and time_scale are required")
        cpus = parse_cpus(cl["cpus"], f"{w}.cpus")
        if seen & set(cpus):
            raise ValueError(f"{w}.cpus: CPU {min(seen & set(cpus))} is in two clusters")
        seen |= set(cpus)
        ts = cl["time_scale"]
        if not isinstance(ts, (int, float)) or isinstance(ts, bool) or not 0 < ts < 100:
            raise ValueError(f"{w}.time_scale: expected a number in (0, 100) (got {ts!r})")
        c: dict[str, Any] = {"name": str(cl.get("name", f"cluster{i}")), "cpus": cpus,
                             "time_scale": float(ts)}
        for k in ("cache_bytes", "node_cold_ns", "clear_page_ns"):
            if k in cl:
                c[k] = check_value(k, cl[k], w)
        out.append(c)
    return out


class LineOwners:
    """Which CPU last wrote the lines of each lock's protected data.

    ``section(key, cpu, touched, written, contended)`` -> ns: the lines this
    section moves from the CPU that held ``key`` last, priced by the
    topology.  The lines the last holder wrote (summed over its consecutive
    sections) are *dirty* in its cache; of the lines this section touches, at
    most the dirty ones move (a line the others only read stays shared: no
    transfer).  An
    uncontended acquire also moves the lock word (a contended one is the
    lock's handoff, priced by ``lock_handoff_ns``).  Always 0 with
    ``line_transfer`` off.
    """

    __slots__ = ("cost", "_owner", "_dirty")

    def __init__(self, cost: CostModel) -> None:
        self.cost = cost
        self._owner: dict[Any, int] = {}
        self._dirty: dict[Any, int] = {}

    def section(self, key: Any, cpu: int, touched: int, written: int, contended: bool = False) -> float:
        if not self.cost.line_transfer:
            return 0.0
        prev = self._owner.get(key)
        self._owner[key] = cpu
        if prev is None or prev == cpu:
            self._dirty[key] = self._dirty.get(key, 0) + written
            return 0.0
        moved = min(touched, self._dirty.get(key, 0)) + (0 if contended else 1)
        self._dirty[key] = written
        return moved * self.cost.line_ns(prev, cpu)

    def line(self, key: Any, cpu: int) -> float:
        """One line written by whichever CPU updates it (an atomic such as vmap_lazy_nr)."""
        if not self.cost.line_transfer:
            return 0.0
        prev = self._owner.get(key)
        self._owner[key] = cpu
        return 0.0 if prev is None or prev == cpu else self.cost.line_ns(prev, cpu)


def steps_lines(s: Any) -> tuple[int, int]:
    """(touched, written) lines of one ``Steps``: every walked node is read;
    an rb insert writes ~2 nodes (link + parent colour), an erase ~3
    (the node's neighbours + a rotation), an augment update, a fit and an
    object one line each, a merge 2 (both blocks); plus the root / head /
    counters line every section reads."""
    written = (2 * s.tree_inserts + 3 * s.tree_erases + s.augment_updates + 2 * s.merges
               + (s.fit is not None) + s.objects_allocated + s.objects_freed)
    return s.list_nodes + s.tree_nodes + written + 1, written


class CostModel:
    """Prices from one resolved profile.  Attribute access only on the hot path.

    ``cpu``: the model of one CPU of a ``clusters`` profile (its cluster's
    time_scale and cache); :meth:`per_cpu` builds them."""

    def __init__(self, cost: dict[str, Any], ncpus: int, cpu: int | None = None) -> None:
        c = check_cost(cost)
        self.params = c
        self.ncpus = ncpus
        self.cluster_of: list[int | None] = [None] * ncpus
        for i, cl in enumerate(c["clusters"] or ()):
            for x in cl["cpus"]:
                if x < ncpus:
                    self.cluster_of[x] = i
        if cpu is not None and c["clusters"] and self.cluster_of[cpu] is not None:
            cl = c["clusters"][self.cluster_of[cpu]]       # this CPU's clock and cache
            c = dict(c)
            for k in CPU_BOUND:
                c[k] = c[k] * cl["time_scale"]
            for k in ("cache_bytes", "node_cold_ns", "clear_page_ns"):
                if k in cl:
                    c[k] = cl[k]
        self.cache_nodes = c["cache_bytes"] // max(1, c["vmap_area_bytes"])  # nodes that fit
        self.node_hot_ns = c["node_hot_ns"]
        self.node_cold_ns = c["node_cold_ns"]
        self.rb_insert_ns = c["rb_insert_ns"]
        self.rb_erase_ns = c["rb_erase_ns"]
        self.augment_update_ns = c["augment_update_ns"]
        self.merge_ns = c["merge_ns"]
        self.fit_ns = c["fit_ns"]
        self.kmalloc_ns = c["kmalloc_ns"]
        self.kfree_ns = c["kfree_ns"]
        self.touch_ns = c["touch_ns"]
        self.purge_area_ns = c["purge_area_ns"]
        self.lock_kind = c["lock_kind"]
        self.lock_order = LOCK_KINDS[c["lock_kind"]]
        self.lock_acquire_ns = c["lock_acquire_ns"]
        self.lock_release_ns = c["lock_release_ns"]
        self.lock_handoff_ns = c["lock_handoff_ns"]
        self.lock_waiter_ns = c["lock_waiter_ns"]          # 0 unless lock_kind is ticket
        # vmalloc outside the lock, before: kmalloc vm_struct + vmap_area.
        self.vmalloc_pre_ns = 2 * c["kmalloc_ns"]
        # vmalloc outside the lock, after: kmalloc the pages array, then per page alloc + map.
        self.vmalloc_post_fixed_ns = c["kmalloc_ns"]
        self.vmalloc_page_ns = c["page_alloc_ns"] + c["map_page_ns"]
        # vfree outside the lock: per page unmap (remove_vm_area, before the lazy
        # add and a purge), then per page free, then kfree pages array + vm_struct.
        self.vfree_unmap_page_ns = c["unmap_page_ns"]
        self.vfree_free_page_ns = c["page_free_ns"]
        self.vfree_post_fixed_ns = 2 * c["kfree_ns"]
        # ENOMEM: the vmap_area and vm_struct kmalloc'ed up front are kfree'd.
        self.enomem_ns = 2 * c["kfree_ns"]
        self._tlb_fixed = c["tlb_flush_fixed_ns"] + c["tlb_flush_remote_cpu_ns"] * max(0, ncpus - 1)
        self._tlb_page = c["tlb_flush_page_ns"]
        self._tlb_ceiling = c["tlb_flush_page_ceiling"]
        self._tlb_full = c["tlb_flush_full_ns"]
        # -- issue 11 mechanisms
        self.line_transfer = c["line_transfer"]
        self.rcu_free = c["rcu_free"]
        self.call_rcu_ns = c["call_rcu_ns"]
        self.rcu_callback_ns = c["rcu_callback_ns"]
        self.zero_page_ns = c["clear_page_ns"] if c["zero_pages"] else 0.0
        self.level_cache = c["level_cache"]
        # levels 0..h-1 of a tree hold 2^h - 1 nodes: the hot levels of a descent
        self.hot_levels = (self.cache_nodes + 1).bit_length() - 1
        self._line = (c["line_same_core_ns"], c["line_same_cluster_ns"],
                      c["line_cross_cluster_ns"], c["line_cross_socket_ns"])
        tpc = max(1, c["threads_per_core"])
        self._ncores = max(1, ncpus // tpc)
        self._cpc = c["cores_per_cluster"]
        self._cps = c["clusters_per_socket"]
        self.thread_size_bytes = c["thread_size_bytes"]
        self.thread_align_bytes = c["thread_align_bytes"]
        self.vmap_stack = c["vmap_stack"]
        self._per_cpu: list[CostModel] | None = None

    # -- per CPU ------------------------------------------------------------------
    def per_cpu(self) -> list[CostModel]:
        """One model per CPU: this one for a CPU outside every cluster (or with no
        clusters), else its cluster's (built once per cluster)."""
        if self._per_cpu is None:
            by_cluster: dict[int, CostModel] = {}
            out: list[CostModel] = []
            for cpu in range(self.ncpus):
                k = self.cluster_of[cpu]
                if k is None:
                    out.append(self)
                else:
                    if k not in by_cluster:
                        by_cluster[k] = CostModel(self.params, self.ncpus, cpu)
                    out.append(by_cluster[k])
            self._per_cpu = out
        return self._per_cpu

    def place(self, cpu: int) -> tuple[int, int, int]:
        """(socket, cluster, core) of a CPU.  Core: ``cpu % cores`` (Linux numbers
        the SMT siblings cores apart); cluster: the ``clusters`` entry holding the
        CPU, else ``core // cores_per_cluster``; socket: ``cluster // clusters_per_socket``."""
        core = cpu % self._ncores
        k = self.cluster_of[cpu] if cpu < self.ncpus else None
        cluster = k if k is not None else (core // self._cpc if self._cpc else 0)
        socket = cluster // self._cps if self._cps else 0
        return socket, cluster, core

    def line_ns(self, a: int, b: int) -> float:
        """One cache line written on CPU ``a``, next accessed on CPU ``b``."""
        if a == b:
            return 0.0
        pa, pb = self.place(a), self.place(b)
        if pa[0] != pb[0]:
            return self._line[3]
        if pa[1] != pb[1]:
            return self._line[2]
        if pa[2] != pb[2]:
            return self._line[1]
        return self._line[0]

    # -- walks ----------------------------------------------------------------------
    def node_ns(self, structure_nodes: int) -> float:
        """Cost of one walked node of a structure of ``structure_nodes`` vmap_areas."""
        return self.node_hot_ns if structure_nodes <= self.cache_nodes else self.node_cold_ns

    def tree_node_ns(self, structure_nodes: int) -> float:
        """Mean cost of one node of a descent of a tree of ``structure_nodes``
        nodes.  With ``level_cache``: of the descent's ``depth`` levels, the
        top ``hot_levels`` (whose nodes together fit the cache) hit, the rest
        miss; else the whole-structure rule of :meth:`node_ns`."""
        if structure_nodes <= self.cache_nodes or not self.level_cache:
            return self.node_ns(structure_nodes)
        depth = structure_nodes.bit_length()
        hot = min(self.hot_levels, depth)
        return (hot * self.node_hot_ns + (depth - hot) * self.node_cold_ns) / depth

    def steps_ns(self, s: Any, busy_nodes: int, free_nodes: int = 0) -> float:
        """Price every field of one ``Steps`` (simulator/allocators/base.py).

        ``busy_nodes`` / ``free_nodes``: the busy areas and the free blocks
        the allocator keeps.  Each decides hit or miss for the walked nodes of
        its own structures: ``s.free_nodes`` of ``list_nodes + tree_nodes``
        were free blocks, the rest busy areas.  With ``level_cache`` the tree
        nodes are priced per level (:meth:`tree_node_ns`), list nodes by the
        whole structure.
        """
        cache = self.cache_nodes
        walked_free = s.free_nodes
        if self.level_cache and (busy_nodes > cache or free_nodes > cache):
            list_free = min(s.list_nodes, walked_free)       # free-list walks: free blocks
            tree_free = walked_free - list_free
            ns = ((s.list_nodes - list_free) * self.node_ns(busy_nodes)
                  + (s.tree_nodes - tree_free) * self.tree_node_ns(busy_nodes)
                  + list_free * self.node_ns(free_nodes) + tree_free * self.tree_node_ns(free_nodes))
        else:
            ns = (s.list_nodes + s.tree_nodes - walked_free) * (
                self.node_hot_ns if busy_nodes <= cache else self.node_cold_ns)
            if walked_free:
                ns += walked_free * (self.node_hot_ns if free_nodes <= cache else self.node_cold_ns)
        # a pair of terms whose counts are both 0 adds an exact 0.0: skipped (hot path)
        if s.tree_inserts or s.tree_erases:
            ns += s.tree_inserts * self.rb_insert_ns + s.tree_erases * self.rb_erase_ns
        if s.augment_updates or s.merges:
            ns += s.augment_updates * self.augment_update_ns + s.merges * self.merge_ns
        if s.objects_allocated or s.objects_freed:
            ns += s.objects_allocated * self.kmalloc_ns + s.objects_freed * self.kfree_ns
        if s.fit is not None:
            ns += self.fit_ns
        return ns

    def tree_walk_ns(self, tree_nodes: int, busy_nodes: int) -> float:
        """``steps_ns`` of a Steps whose only count is ``tree_nodes`` busy-tree
        nodes (vfree's find_vmap_area), without the other fields' terms: the
        same float (every skipped term is an exact 0.0)."""
        if busy_nodes <= self.cache_nodes:           # tree_node_ns -> node_ns, inlined (hot path)
            return tree_nodes * self.node_hot_ns
        return tree_nodes * self.tree_node_ns(busy_nodes)

    def lookup_ns(self, busy_nodes: int) -> float:
        """find_vmap_area: one descent of the busy tree of ``busy_nodes`` nodes."""
        depth = busy_nodes.bit_length()  # tree_depth(n) = ceil(log2(n + 1))
        return depth * self.tree_node_ns(busy_nodes)

    # -- deferred frees, zeroing, TLB ---------------------------------------------------
    def rcu_defer_ns(self, objects: int) -> float:
        """With ``rcu_free``: what kfree_rcu changes in the section that frees
        ``objects`` vmap_areas: call_rcu instead of kfree (0 when off)."""
        if not self.rcu_free or not objects:
            return 0.0
        return objects * (self.call_rcu_ns - self.kfree_ns)

    def rcu_burst_ns(self, objects: int) -> float:
        """The RCU callbacks of ``objects`` kfree_rcu'd vmap_areas, run together
        after a grace period on the freeing CPU: per object the callback, the
        kfree and one line of the object, hot or cold by the burst's size."""
        if not self.rcu_free or not objects:
            return 0.0
        return objects * (self.rcu_callback_ns + self.kfree_ns + self.node_ns(objects))

    def tlb_flush_ns(self, span_pages: int) -> float:
        """flush_tlb_kernel_range over ``span_pages`` pages on an ``ncpus`` machine."""
        if self._tlb_ceiling is not None and span_pages > self._tlb_ceiling:
            return self._tlb_fixed + self._tlb_full
        return self._tlb_fixed + self._tlb_page * span_pages

    # -- arch -----------------------------------------------------------------------------
    def thread_size(self, word_bits: int) -> int:
        """THREAD_SIZE: the profile's, else 16 KiB on 64-bit, 8 KiB on 32-bit."""
        return self.thread_size_bytes or (16384 if word_bits == 64 else 8192)

    def thread_align(self, word_bits: int) -> int:
        """THREAD_ALIGN: the profile's, else THREAD_SIZE."""
        return self.thread_align_bytes or self.thread_size(word_bits)


__all__ = ["PARAMETERS", "DEFAULTS", "LOCK_KINDS", "CPU_BOUND", "CostModel", "LineOwners",
           "check_cost", "check_value", "check_clusters", "parse_cpus", "steps_lines"]
