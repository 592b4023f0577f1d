"""free-list: the seed RFC, "mm/vmalloc: keep track of free blocks for allocation"
(Uladzislau Rezki, June 2018; ../shared/seed/rfc-vmalloc-free-blocks-2018.txt).

Free blocks of [VMALLOC_START, VMALLOC_END) sit in an address-sorted rb-tree +
list.  ``alloc_vmalloc_area`` walks that list with ``list_for_each_entry_from``
from ``last_free_va_chunk`` (or from the head when the cache must be dropped:
``size <= free_va_max_size``, a lower vstart, a smaller align), takes the first
block that fits and splits it::

    b_fit (FL)         le_fit (LE)         re_fit (RE)         ne_fit (NE)
    |               |  |       |           |       |             |       |
    V      NVA      V  V  NVA  V           V  NVA  V           V  NVA  V
    |---------------|  |-------|-------|   |-------|-------|   |---|-------|---|

(NE allocates a new object for the right part.)  ``__free_vmap_area`` merges
the freed area with its address neighbours (``__merge_add_free_va_area``)::

    |<------VA------>|<-----Next----->|     |<-----Prev----->|<------VA------>|

Every allocated area, vmalloc or not, goes into the 4.19 busy tree + list
(``vmap_area_root`` / ``vmap_area_list``, inherited from
:class:`BusyListAllocator`).  Requests whose vstart is not a vmalloc address
take the old busy-list path (4.19's search over *all* busy areas, with the old
cache globals); areas whose va_end is outside (VMALLOC_START, VMALLOC_END] are
freed with the old cache rule and kfree'd.

``vmalloc_init`` as the RFC writes it: the first free block [VMALLOC_START,
vmlist->addr) and the last one [end of the last vmlist area, VMALLOC_END) are
inserted even when empty (only the padding between vmlist areas is guarded by
``> 0``).  An empty block never fits, but every walk over it counts it, it is
an object of the free list/tree (``nr_free_objects``), and it is healed by a
merge: freeing the area at VMALLOC_START merges with it (twice when the next
block abuts), freeing the area ending at VMALLOC_END merges into the last one.
The vmlist is the early areas inside [VMALLOC_START, VMALLOC_END) (clipped);
early areas outside only enter the busy tree.

The walk is counted in O(log n): free blocks live in an :class:`AugSeq` whose
``val`` is the block size, so "the first block from the cursor that fits" and
``free_va_max_size`` (the largest block skipped) are segment-tree queries.  The
free tree is modelled: each descent counts ``tree_depth(nr_free_objects)``.

The functions keep the RFC's names (``__merge_add_free_va_area`` takes one
leading underscore: Python mangles ``__names``).  The O(log n) steps of
``alloc_vmalloc_area`` without a twin in the RFC stand for these lines:

=============================  =====================================================
step here                      RFC lines it stands for
=============================  =====================================================
``begin``                      ``va = last_free_va_chunk`` or
                               ``list_first_entry(&free_vmap_area_list)``
``above`` / ``below``          the blocks with ``va->va_start <= vstart``, for which
                               ``nva_start_addr`` stays ``ALIGN(vstart, align)``
``first_ge`` on the sizes      ``if (nva_start_addr + size > va->va_end) continue;``
                               for every block until the first that fits
``range_max``                  ``free_va_max_size = max(free_va_max_size,
                               __va_size(va))`` over the skipped blocks
``distance`` (+1 for the fit)  ``list_nodes``: the blocks
                               ``list_for_each_entry_from`` examined
``fl.locate(end)``             ``__find_va_slot`` + ``__find_va_siblings``: the
                               neighbours of the freed area
=============================  =====================================================

The RFC's old path can corrupt its free list, and vmsim stops there with
:class:`RfcFreeListCorruption` (never a silent overlap): a request whose
vstart is not a vmalloc address but whose [vstart, vend) reaches into the
vmalloc range (e.g. vstart 0xbf000000, vend 0xff800000 on 32-bit ARM, with
VMALLOC_START 0xf0800000) walks the busy list and may find a hole inside
[VMALLOC_START, VMALLOC_END); the RFC inserts the area in the busy tree but
leaves its addresses on the free list, which hands them out again (two busy
areas overlap; the free of either merges an area overlapping a free block).
The same error is raised if the free of a vmalloc area would leave
``free_vmap_cache`` pointing at it (the RFC skips the cache rule for vmalloc
areas: a dangling pointer).

Deviations from the RFC text, where the RFC would BUG() (no state it reaches
is lost):
- ALIGN overflow: the RFC has no overflow check in the walk, so a huge
  alignment that wraps ALIGN() to 0 would "fit" and then hit
  ``BUG_ON(va->va_start < vstart)``.  vmsim treats such a block as not fitting
  (the check Linux 5.2 added in ``is_within_this_va``).
- A vmalloc-path failure returns VMALLOC_END; the RFC then fails only if
  ``VMALLOC_END + size > vend``.  vmsim always fails it (vend beyond
  VMALLOC_END is not a vmalloc request in practice).
"""

from __future__ import annotations

from .augseq import AugSeq
from .base import AllocatorError, AllocResult, InvariantError, Range, Steps, check_request
from .busy_list import BusyListAllocator, check_augseq
from .rbtree import RbNode, rb_erase, rb_insert_color, rb_link_node

#: pending busy rb-tree operations kept before a replay: a Python list (an
#: ``array("Q")`` converted every address with _PyLong_AsByteArray: ~600 machine
#: instructions an op there, ~850 in all); 8 bytes each, and the ints it keeps
#: alive: about 40 MiB at the cap
_RB_LOG_MAX = 1 << 20


class RfcFreeListCorruption(AllocatorError):
    """The seed RFC would corrupt its free list here (see the free_list module
    notes); vmsim cannot represent the state and stops.  The allocator must
    not be used after this error."""


class FreeListAllocator(BusyListAllocator):
    """The seed RFC: first fit over the address-sorted free list."""

    DESCRIPTION = ("Seed RFC (2018): first fit over an address-sorted free-block list from "
                   "last_free_va_chunk, coalescing on free")

    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]]) -> None:
        super().__init__(rng, initial_busy)             # every area in vmap_area_root
        vms, vme = rng.vmalloc_start, rng.vmalloc_end
        # Lean mode (see _lean_ok): vmalloc areas [s, e) with VMALLOC_START <= s
        # and e <= VMALLOC_END stay out of the gap list (vmap_area_list here),
        # in _vm_busy (start -> end) and _vm_end (end -> start).
        self._lean = all(e <= vms or (vms <= s and e <= vme) for s, e in initial_busy)
        self._vm_busy: dict[int, int] = {}
        self._vm_end: dict[int, int] = {}
        if self._lean:
            self._vm_busy = {s: e for s, e in initial_busy if s >= vms}
            self._vm_end = {e: s for s, e in self._vm_busy.items()}
            items, prev_end = [], rng.vstart
            for s, e in initial_busy:
                if s < vms:
                    items.append((s, e, s - prev_end))
                    prev_end = e
            self.vmap_area_list = AugSeq(items)
        # vmalloc_init: "Build free areas." around the vmlist.
        vmlist = [(max(s, vms), min(e, vme)) for s, e in initial_busy if s < vme and e > vms]
        blocks = []
        if not vmlist:
            blocks.append((vms, vme))
        else:
            blocks.append((vms, vmlist[0][0]))                 # even when empty
            for (_, pe), (s, _) in zip(vmlist, vmlist[1:]):
                if s - pe > 0:                                  # padding between areas
                    blocks.append((pe, s))
            blocks.append((vmlist[-1][1], vme))                 # even when empty
        self.free_vmap_area_list = AugSeq([(s, e, e - s) for s, e in blocks])
        self._empty_blocks = sum(1 for s, e in blocks if s == e)
        self._free_bytes = sum(e - s for s, e in blocks)
        self.last_free_va_chunk: int | None = None   # va_start of a free block
        self.free_va_max_size = 0
        self.last_alloc_vstart = 0
        self.last_alloc_align = 0
        self._fit_block_start = 0                     # start of the block the last fit split
        # The deferred busy rb-tree (lean mode, see _rb_sync): its pending
        # inserts (va_start, va_end) and erases (va_start | 1), in order.
        self._rb_log: list[int] | None = [] if self._lean else None

    # ----------------------------------------------------------------- API
    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None) -> AllocResult:
        rng = self.range
        # check_request's common case, inlined (hot path): a valid request
        # with the range given or defaulted; anything else goes through it
        if (type(size) is int and type(align) is int and size > 0 and not size % rng.page_size
                and 0 < align <= rng.mask and not align & (align - 1)):
            if vstart is None:
                vstart = rng.vstart
            if vend is None:
                vend = rng.vend
            if not rng.vstart <= vstart < vend <= rng.vend:
                vstart, vend = check_request(rng, size, align, vstart, vend)
        else:
            vstart, vend = check_request(rng, size, align, vstart, vend)
        steps = Steps()
        return AllocResult(self.alloc_vmap_area(size, align, vstart, vend, steps), steps)

    def alloc_vmap_area(self, size: int, align: int, vstart: int, vend: int,
                        steps: Steps) -> int | None:
        rng = self.range
        vms, vme = rng.vmalloc_start, rng.vmalloc_end
        if vms <= vstart < vme:                                 # is_vmalloc_addr(vstart)
            addr = self.alloc_vmalloc_area(size, align, vstart, vend, steps)
            if addr is not None:                                # found: (no free_vmap_cache)
                if self._lean:
                    self._insert_vm_area(addr, addr + size, steps)
                else:
                    self._insert_vmap_area(addr, addr + size, steps)
            return addr
        if self._rb_log is not None:                            # the descent reads the tree
            self._rb_sync(lazy=False)
        if self._lean and vend > vms:
            self._leave_lean_mode()
        addr = self._search(size, align, vstart, vend, steps)   # the old path
        if addr is not None:
            if addr < vme and addr + size > vms:
                raise RfcFreeListCorruption(
                    f"RFC 2018 alloc_vmap_area(size={size:#x}, align={align:#x}, vstart={vstart:#x}, "
                    f"vend={vend:#x}): vstart is not a vmalloc address, so the old busy-list path "
                    f"ran and found [{addr:#x}, {addr + size:#x}) inside the vmalloc range "
                    f"[{vms:#x}, {vme:#x}); the RFC would insert it in the busy tree and leave it on "
                    "the free list, which hands it out again (overlapping areas). vmsim stops here: "
                    "keep requests with a non-vmalloc vstart out of the vmalloc range.")
            self._insert_vmap_area(addr, addr + size, steps)
            self.free_vmap_cache = addr
        return addr

    # ------------------------------------------------------------ lean mode
    # The old path's walks and descents only look at areas below vend (a
    # body runs for an area only if its va_start < addr + size <= vend), and
    # rb_prev of an area below VMALLOC_START is below it too.  So while every
    # old-path request has vend <= VMALLOC_START and every area is either
    # below VMALLOC_START or inside the vmalloc range, the vmalloc areas need
    # not be in the gap list: the same addresses and counts come out (the
    # descent still reads the real rb-tree, which holds every area, and
    # nr_busy counts them all).  The first old-path request with vend >
    # VMALLOC_START puts them in (O(n), once).

    def _leave_lean_mode(self) -> None:
        busy = self.busy_areas()
        items, prev_end = [], self.range.vstart
        for s, e in busy:
            items.append((s, e, s - prev_end))
            prev_end = e
        self.vmap_area_list = AugSeq(items)
        self._vm_busy, self._vm_end = {}, {}
        self._lean = False
        # the busy-list read-outs' bookkeeping (unused by free-list) restarts
        vms, vme = self.range.vmalloc_start, self.range.vmalloc_end
        self._nz_vm = sum(1 for s, _, g in items if g > 0 and vms < s < vme)
        self._vm_busy_bytes = sum(max(0, min(e, vme) - max(s, vms)) for s, e in busy)

    def _insert_vm_area(self, start: int, end: int, steps: Steps) -> None:
        """Lean __insert_vmap_area of a vmalloc-path area: the busy tree only.
        Its predecessor ends where the free block it came from started
        (``_fit_block_start``): a vmalloc area, or else the last area below.
        While the tree is deferred, the link is logged (see _rb_sync)."""
        vm_busy = self._vm_busy
        nr = self.nr_busy
        steps.tree_nodes += nr.bit_length()             # tree_depth(nr_busy)
        steps.tree_inserts += 1
        self.nr_busy = nr + 1
        vm_busy[start] = end
        self._vm_end[end] = start
        self._busy_bytes += end - start
        log = self._rb_log
        if log is not None:
            log.append(start)
            log.append(end)
            if len(log) > _RB_LOG_MAX:
                self._rb_sync(lazy=True)
            return
        p = self._vm_end.get(self._fit_block_start)
        if p is None:
            seq = self.vmap_area_list
            q = seq.locate_le(start)
            pred = self._va[seq.starts[q[0]][q[1]]] if q is not None else None
        else:
            pred = self._va[p]
        self._rb_insert(RbNode(start, end), pred)

    # The deferred busy rb-tree.  In lean mode the RFC reads vmap_area_root
    # only in the old path's descent (find_vmap_area's lookup is counted as
    # tree_depth(nr_busy)), so the inserts and erases of vmalloc areas are
    # logged instead and replayed, in order, when the tree is read: the first
    # old-path request, an unlink of an area of the gap list, check().  A
    # red-black tree's shape is a function of its operation sequence, so the
    # replayed tree is the eager one, node for node.  The log is replayed
    # (and kept deferred) when it reaches _RB_LOG_MAX entries.

    def _rb_sync(self, lazy: bool) -> None:
        """Replay the pending operations into vmap_area_root; with ``lazy``
        False the tree is maintained eagerly from now on."""
        log = self._rb_log
        if log is None:
            return
        root, va_map = self.vmap_area_root, self._va
        it = iter(log)
        for x in it:
            if x & 1:                                   # rb_erase
                rb_erase(va_map.pop(x - 1), root)
                continue
            node = RbNode(x, next(it))                  # __insert_vmap_area's descent
            parent, p, left = None, root.rb_node, True
            while p is not None:
                parent = p
                left = x < p.va_start
                p = p.left if left else p.right
            rb_link_node(node, parent, root, left)
            rb_insert_color(node, root)
            va_map[x] = node
        self._rb_log = [] if lazy else None

    def busy_areas(self) -> list[tuple[int, int]]:
        out = super().busy_areas()
        if self._vm_busy:
            out = sorted(out + list(self._vm_busy.items()))
        return out

    def _free_vmap_area(self, addr: int, steps: Steps) -> None:
        """The RFC's ``__free_vmap_area``."""
        rng = self.range
        end = self._vm_busy.pop(addr, None)
        if end is not None:                                     # lean: a vmalloc area
            del self._vm_end[end]
            self.nr_busy -= 1
            if self.free_vmap_cache == addr:                    # (cannot happen in lean mode)
                raise RfcFreeListCorruption(f"free_vmap_cache would dangle at {addr:#x}")
            last_free_va_start = self.last_free_va_chunk or 0
            if self._rb_log is not None:                        # rb_erase (deferred)
                self._rb_log.append(addr | 1)
            else:
                rb_erase(self._va.pop(addr), self.vmap_area_root)   # rb_erase; list_del_rcu
            steps.tree_erases += 1
            self._busy_bytes -= end - addr
        else:
            if self._rb_log is not None:                        # unlink: the tree is read
                self._rb_sync(lazy=True)
            seq = self.vmap_area_list
            cur = seq.find(addr)
            if cur is None:
                super()._free_vmap_area(addr, steps)            # raises NonexistentAreaError
                return
            end = seq.end(*cur)
            if not rng.vmalloc_start < end <= rng.vmalloc_end:  # the old rules
                super()._free_vmap_area(addr, steps)
                return
            if self.free_vmap_cache == addr:
                raise RfcFreeListCorruption(
                    f"RFC 2018 __free_vmap_area({addr:#x}): free_vmap_cache points at this vmalloc "
                    "area, and the RFC skips the cache update for vmalloc areas: it would dangle.")
            last_free_va_start = self.last_free_va_chunk or 0
            self._unlink_vmap_area(cur, steps)                  # rb_erase + list_del_rcu
        va_start = self._merge_add_free_va_area(addr, end, steps)
        # Update a search criteria if merging/inserting is done before
        # last_free_va_chunk va_start address.
        if last_free_va_start and va_start <= last_free_va_start:
            fl = self.free_vmap_area_list
            p = fl.prev(*fl.find(va_start))  # type: ignore[misc]  # va_start is on the list
            self.last_free_va_chunk = fl.start(*p) if p is not None else None

    # ------------------------------------------------ alloc_vmalloc_area()
    def alloc_vmalloc_area(self, size: int, align: int, vstart: int, vend: int,
                           steps: Steps) -> int | None:
        """The RFC's ``alloc_vmalloc_area``: nva_start_addr, or None where it
        returns VMALLOC_END."""
        fl = self.free_vmap_area_list
        S, E, V = fl.starts, fl.ends, fl.vals            # (hot path: AugSeq's chunk lists)
        mask = self.range.mask
        am1 = align - 1
        if (self.last_free_va_chunk is None or size <= self.free_va_max_size
                or vstart < self.last_alloc_vstart or align < self.last_alloc_align):
            begin = (fl.oslot[0], 0) if fl.n else (fl.K, 0)  # list_first_entry (first_cursor)
            self.free_va_max_size = 0
            self.last_free_va_chunk = None
        else:
            begin = fl.find(self.last_free_va_chunk)  # type: ignore[assignment]  # on the list
        if not fl.n:
            return None

        p_fit = None
        nva = 0
        small_align = align <= self.range.page_size
        bc, bj = begin
        if S[bc][bj] > vstart:
            cur = begin                              # the common, cached case
            if small_align and V[bc][bj] >= size:
                nva, p_fit = S[bc][bj], begin        # the first block examined fits
        else:
            # Blocks starting at or below vstart try nva = ALIGN(vstart): only
            # the last of them can reach past vstart.
            above = fl.locate(vstart + 1)            # first block with va_start > vstart
            below = fl.prev(*above)
            if below is not None and below >= begin:
                x = vstart + am1
                if x <= mask:
                    nva = x & ~am1
                    if nva + size <= fl.end(*below):
                        p_fit = below
            cur = above if above > begin else begin
        if p_fit is None:
            while not fl.is_end(*cur):
                cand = fl.first_ge(cur[0], cur[1], size)
                if cand is None:
                    break
                s = fl.start(*cand)
                if small_align:
                    nva, p_fit = s, cand
                    break
                x = s + am1
                if x <= mask and (x & ~am1) + size <= fl.end(*cand):
                    nva, p_fit = x & ~am1, cand
                    break
                cur = fl.next(*cand)

        if p_fit == begin:
            steps.list_nodes += 1
            steps.free_nodes += 1
        else:
            stop = p_fit if p_fit is not None else fl.end_cursor()
            skipped = fl.range_max(bc, bj, stop[0], stop[1])
            if skipped > self.free_va_max_size:
                self.free_va_max_size = skipped      # free_va_max_size = max(...)
            walked = fl.distance(bc, bj, stop[0], stop[1]) + (p_fit is not None)
            steps.list_nodes += walked
            steps.free_nodes += walked
        if p_fit is None:
            return None                               # Not found: VMALLOC_END
        if nva + size > vend:
            return None                               # Nothing has been found, give up.

        c, j = p_fit
        b_start, b_end = S[c][j], E[c][j]
        self._fit_block_start = b_start
        self.last_free_va_chunk = b_start
        self.last_alloc_vstart = vstart
        self.last_alloc_align = align
        if b_start == nva and b_end == nva + size:
            steps.fit = "FL"
            prev = (c, j - 1) if j else fl.prev(c, j)
            self.last_free_va_chunk = S[prev[0]][prev[1]] if prev is not None else None
            fl.delete(c, j)                            # __remove_free_va_area(b_fit)
            steps.tree_erases += 1
            steps.objects_freed += 1
        elif b_start == nva:
            steps.fit = "LE"
            fl.resize(c, j, b_start + size, b_end)
            self.last_free_va_chunk = b_start + size
        elif b_end == nva + size:
            steps.fit = "RE"
            fl.resize(c, j, b_start, nva)
        else:
            steps.fit = "NE"
            steps.objects_allocated += 1               # kzalloc(..., GFP_NOWAIT)
            depth = fl.n.bit_length()               # __insert_vmap_area: tree_depth(n)
            steps.tree_nodes += depth
            steps.free_nodes += depth
            steps.tree_inserts += 1
            fl.resize(c, j, b_start, nva)
            fl.insert(nva + size, b_end, b_end - nva - size)
        self._free_bytes -= size
        return nva

    # ------------------------------------------ __merge_add_free_va_area()
    def _merge_add_free_va_area(self, start: int, end: int, steps: Steps) -> int:
        """Merge [start, end) with its neighbours or add it; the va_start of
        the block it ends up in.  (The hot path: AugSeq cursors are read
        through its chunk lists.)"""
        fl = self.free_vmap_area_list
        S, E, V = fl.starts, fl.ends, fl.vals
        depth = fl.n.bit_length()                   # __find_va_slot: tree_depth(n)
        steps.tree_nodes += depth
        steps.free_nodes += depth
        self._free_bytes += end - start
        # The slot: blocks ending at or below start lie left, blocks starting
        # at or above end lie right (an empty block at VMALLOC_START == start
        # lies left, one at VMALLOC_END == end right).
        c, j = fl.locate(end)
        merged = False
        if c < fl.K and S[c][j] == end:
            # |<------VA------>|<-----Next----->|
            self._empty_blocks -= V[c][j] == 0
            fl.resize(c, j, start, E[c][j])
            if self.last_free_va_chunk == end:
                self.last_free_va_chunk = start
            steps.merges += 1
            steps.objects_freed += 1                   # __remove_free_va_area(va)
            merged = True
        prev = (c, j - 1) if j else fl.prev(c, j)
        if prev is not None:
            pc, pj = prev
            if E[pc][pj] == start:
                # |<-----Prev----->|<------VA------>|
                self._empty_blocks -= V[pc][pj] == 0
                result_start = S[pc][pj]
                fl.resize(pc, pj, result_start, E[c][j] if merged else end)
                if merged:
                    fl.delete(c, j)                    # rb_erase of the merged Next
                    steps.tree_erases += 1
                steps.merges += 1
                steps.objects_freed += 1
                return result_start
        if not merged:
            fl.insert_at(c, j, start, end, end - start)  # __link_va
            steps.tree_inserts += 1
        return start

    # ------------------------------------------------------------ read-outs
    @property
    def nr_free_blocks(self) -> int:
        """Non-empty blocks on the free list (it covers exactly the vmalloc range)."""
        return len(self.free_vmap_area_list) - self._empty_blocks

    @property
    def nr_free_objects(self) -> int:  # type: ignore[override]
        """vmap_area objects on the free list/tree, empty ones included: what
        ``Steps.free_nodes`` walked."""
        return self.free_vmap_area_list.n

    def largest_free_bytes(self) -> int:
        return max(self.free_vmap_area_list.max_val(), 0)

    def total_free_bytes(self) -> int:
        return self._free_bytes

    def free_blocks(self) -> list[tuple[int, int]]:
        """The free list's non-empty blocks inside the vmalloc range, plus the
        gaps between busy areas outside it (clipped at VMALLOC_START / VMALLOC_END)."""
        rng = self.range
        out = [(s, e) for s, e, _ in self.free_vmap_area_list.items() if e > s]
        for s, e in super().free_blocks():
            if e <= rng.vmalloc_start or s >= rng.vmalloc_end:
                out.append((s, e))
            else:
                if s < rng.vmalloc_start:
                    out.append((s, rng.vmalloc_start))
                if e > rng.vmalloc_end:
                    out.append((rng.vmalloc_end, e))
        return sorted(out)

    def check(self) -> None:
        # A deferred busy tree is not replayed here (the run's self-checks
        # would undo the deferral); it is checked once it is built.
        self._check_busy(tree=not self._rb_log)
        rng = self.range
        if self._vm_end != {e: s for s, e in self._vm_busy.items()}:
            raise InvariantError("the lean end -> start map is stale")
        if self._lean and any(e > rng.vmalloc_start for s, e, _ in self.vmap_area_list.items()):
            raise InvariantError("lean mode with an area of the gap list above VMALLOC_START")
        if any(not (rng.vmalloc_start <= s < e <= rng.vmalloc_end) for s, e in self._vm_busy.items()):
            raise InvariantError("an area kept apart as a vmalloc area is not one")
        if not self._lean and self._vm_busy:
            raise InvariantError("vmalloc areas kept apart outside lean mode")
        busy = self.busy_areas()
        fl = self.free_vmap_area_list
        items = fl.items()
        prev_end = None
        for s, e, size in items:
            if not (rng.vmalloc_start <= s <= e <= rng.vmalloc_end):
                raise InvariantError(f"free block [{s:#x}, {e:#x}) outside the vmalloc range")
            if size != e - s:
                raise InvariantError(f"stale size of free block [{s:#x}, {e:#x})")
            if prev_end is not None and s < prev_end:
                raise InvariantError(f"free block [{s:#x}, {e:#x}) overlaps its predecessor")
            prev_end = e
        nonempty = [(s, e) for s, e, _ in items if e > s]
        for (_, e1), (s2, _) in zip(nonempty, nonempty[1:]):
            if e1 == s2:
                raise InvariantError(f"free blocks not coalesced at {e1:#x}")
        empties = [(s, e) for s, e, _ in items if e == s]
        if len(empties) != self._empty_blocks or any(
                s not in (rng.vmalloc_start, rng.vmalloc_end) for s, _ in empties):
            raise InvariantError(f"empty free blocks {empties} (counted {self._empty_blocks})")
        check_augseq(fl)
        if self._free_bytes != sum(b[2] for b in items):
            raise InvariantError("free byte count is stale")
        # Busy areas and free blocks tile the vmalloc range exactly.
        inside = [(max(s, rng.vmalloc_start), min(e, rng.vmalloc_end)) for s, e in busy
                  if e > rng.vmalloc_start and s < rng.vmalloc_end]
        pos = rng.vmalloc_start
        for s, e in sorted(inside + nonempty):
            if s != pos:
                raise InvariantError(f"busy areas and free blocks do not tile the vmalloc range at {pos:#x}")
            pos = e
        if pos != rng.vmalloc_end:
            raise InvariantError("busy areas and free blocks do not reach VMALLOC_END")
        if self.last_free_va_chunk is not None and fl.find(self.last_free_va_chunk) is None:
            raise InvariantError(f"last_free_va_chunk {self.last_free_va_chunk:#x} is not a live free block")
