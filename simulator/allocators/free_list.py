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

Requests whose vstart is not a vmalloc address take the old busy-list path
(4.19's search, over the same busy areas, with the old cache globals), and
areas outside the vmalloc range are freed with the old cache rule: that is why
this class extends :class:`BusyListAllocator`.

The walk is counted in O(log n): free blocks live in an :class:`AugSeq` whose
``val`` is the block size, so "the first block from the cursor that fits" and
``free_va_max_size`` (the largest block skipped) are segment-tree queries.  The
free tree is modelled: each descent counts ``tree_depth(nr_free_blocks)``.

Deviations from the RFC text, where the RFC would corrupt state or BUG():
- ALIGN overflow: the RFC has no overflow check in the walk, so a huge
  alignment that wraps ALIGN() to 0 would "fit" and then hit
  ``BUG_ON(va->va_start < vstart)``.  vmsim treats such a block as not fitting
  (the check Linux 5.2 added in ``is_within_this_va``).
- A vmalloc-path failure returns VMALLOC_END; the RFC then fails only if
  ``VMALLOC_END + size > vend``.  vmsim always fails it (vend beyond
  VMALLOC_END is not a vmalloc request in practice).
- The free list covers only the vmalloc range; an old-path request whose
  [vstart, vend) reaches into the vmalloc range would allocate behind the free
  list's back (an RFC bug).  Keep old-path ranges (modules) outside it.
"""

from __future__ import annotations

from .augseq import AugSeq
from .base import AllocResult, InvariantError, Range, Steps, check_request, tree_depth
from .busy_list import BusyListAllocator


class FreeListAllocator(BusyListAllocator):
    """The seed RFC: first fit over the address-sorted free list."""

    DESCRIPTION = ("Seed RFC (2018): first fit over an address-sorted free-block list from "
                   "last_free_va_chunk, coalescing on free")

    def __init__(self, rng: Range, initial_busy: list[tuple[int, int]]) -> None:
        vms, vme = rng.vmalloc_start, rng.vmalloc_end
        # Busy areas of the vmalloc range (va_end in (VMALLOC_START, VMALLOC_END]:
        # the areas __free_vmap_area merges into the free list) only need a
        # lookup: the old path's walks stay in their own [vstart, vend), which
        # must not reach into the vmalloc range (see the module notes), and
        # reach the same address with the same count whether or not the list
        # goes on past vend.  Keeping them in a dict instead of the gap
        # sequence saves the gap bookkeeping on every vmalloc/vfree.
        self._vm_busy: dict[int, int] = {s: e for s, e in initial_busy if vms < e <= vme}
        super().__init__(rng, [(s, e) for s, e in initial_busy if not vms < e <= vme])
        self._busy_bytes += sum(e - s for s, e in self._vm_busy.items())
        # vmalloc_init: free areas of [VMALLOC_START, VMALLOC_END) around the vmlist.
        blocks = []
        prev = rng.vmalloc_start
        for s, e in initial_busy:
            if e <= rng.vmalloc_start or s >= rng.vmalloc_end:
                continue
            if s > prev:
                blocks.append((prev, s, s - prev))
            prev = max(prev, e)
        if rng.vmalloc_end > prev:
            blocks.append((prev, rng.vmalloc_end, rng.vmalloc_end - prev))
        self._free = AugSeq(blocks)
        self._free_bytes = sum(b[2] for b in blocks)
        self._last_chunk: int | None = None   # last_free_va_chunk (start of a free block)
        self._fvms = 0                        # free_va_max_size
        self._last_vstart = 0                 # last_alloc_vstart
        self._last_align = 0                  # last_alloc_align

    # ----------------------------------------------------------------- API
    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None) -> AllocResult:
        vstart, vend = check_request(self.range, size, align, vstart, vend)
        steps = Steps()
        rng = self.range
        if rng.vmalloc_start <= vstart < rng.vmalloc_end:      # is_vmalloc_addr(vstart)
            addr = self._alloc_vmalloc_area(size, align, vstart, vend, steps)
            if addr is not None:                                # __insert_vmap_area(va, busy)
                steps.tree_nodes += tree_depth(len(self._busy) + len(self._vm_busy))
                steps.tree_inserts += 1
                self._vm_busy[addr] = addr + size               # free_vmap_cache untouched
                self._busy_bytes += size
        else:
            addr = self._search(size, align, vstart, vend, steps)
            if addr is not None:
                self._insert_busy(addr, addr + size, steps)
                self._cache = addr
        return AllocResult(addr, steps)

    def free(self, addr: int) -> Steps:
        steps = Steps()
        end = self._vm_busy.pop(addr, None)
        if end is not None:                                   # a vmalloc-range area
            steps.tree_erases += 1                            # rb_erase from the busy tree
            self._busy_bytes -= end - addr
            self._merge_add_free_va_area(addr, end, steps)
        else:                                                 # the old rules
            self._erase_busy(addr, steps, True)               # raises if not busy
            steps.objects_freed += 1                          # kfree_rcu(va, rcu_head)
        return steps

    # ------------------------------------------------ alloc_vmalloc_area()
    def _alloc_vmalloc_area(self, size: int, align: int, vstart: int, vend: int,
                            steps: Steps) -> int | None:
        fl = self._free
        mask = self.range.mask
        am1 = align - 1
        if (self._last_chunk is None or size <= self._fvms or vstart < self._last_vstart
                or align < self._last_align):
            begin = (0, 0)
            self._fvms = 0
            self._last_chunk = None
        else:
            begin = fl.find(self._last_chunk)
        if not len(fl):
            return None

        p_fit = None
        nva = 0
        small_align = align <= self.range.page_size
        b_c, b_j = begin
        if fl._s[b_c][b_j] > vstart:
            cur = begin                              # the common, cached case
            if small_align and fl._v[b_c][b_j] >= size:
                nva, p_fit = fl._s[b_c][b_j], begin  # the first block examined fits
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
            skipped = fl.range_max(begin[0], begin[1], stop[0], stop[1])
            if skipped > self._fvms:
                self._fvms = skipped                  # free_va_max_size = max(...)
            walked = fl.distance(begin[0], begin[1], stop[0], stop[1]) + (p_fit is not None)
            steps.list_nodes += walked
            steps.free_nodes += walked
        if p_fit is None:
            return None                               # Not found: VMALLOC_END
        if nva + size > vend:
            return None                               # Nothing has been found, give up.

        b_start, b_end = fl.start(*p_fit), fl.end(*p_fit)
        self._last_chunk = b_start
        self._last_vstart = vstart
        self._last_align = align
        c, j = p_fit
        if b_start == nva and b_end == nva + size:
            steps.fit = "FL"
            prev = fl.prev(c, j)
            self._last_chunk = fl.start(*prev) if prev is not None else None
            fl.delete(c, j)                            # __remove_free_va_area(b_fit)
            steps.tree_erases += 1
            steps.objects_freed += 1
        elif b_start == nva:
            steps.fit = "LE"
            fl.resize(c, j, b_start + size, b_end)
            self._last_chunk = b_start + size
        elif b_end == nva + size:
            steps.fit = "RE"
            fl.resize(c, j, b_start, nva)
        else:
            steps.fit = "NE"
            steps.objects_allocated += 1               # kzalloc(..., GFP_NOWAIT)
            steps.tree_nodes += tree_depth(len(fl))
            steps.free_nodes += tree_depth(len(fl))
            steps.tree_inserts += 1
            fl.resize(c, j, b_start, nva)
            fl.insert(nva + size, b_end, b_end - nva - size)
        self._free_bytes -= size
        return nva

    # ------------------------------------------- __merge_add_free_va_area()
    def _merge_add_free_va_area(self, start: int, end: int, steps: Steps) -> None:
        fl = self._free
        S, E = fl._s, fl._e
        last_chunk = self._last_chunk
        last_free_va_start = last_chunk if last_chunk is not None else 0
        steps.tree_nodes += len(fl).bit_length()       # __find_va_slot: tree_depth(n)
        steps.free_nodes += len(fl).bit_length()
        self._free_bytes += end - start
        c, j = fl.locate(start)
        merged = None
        if j < len(S[c]) and S[c][j] == end:
            # |<------VA------>|<-----Next----->|
            fl.resize(c, j, start, E[c][j])
            if last_chunk == end:
                self._last_chunk = start
            steps.merges += 1
            steps.objects_freed += 1                   # __remove_free_va_area(va)
            merged = (c, j)
        prev = (c, j - 1) if j > 0 else fl.prev(c, j)
        if prev is not None and E[prev[0]][prev[1]] == start:
            # |<-----Prev----->|<------VA------>|
            pc, pj = prev
            result_start = S[pc][pj]
            fl.resize(pc, pj, result_start, E[c][j] if merged is not None else end)
            if merged is not None:
                fl.delete(c, j)                        # rb_erase of the merged Next
                steps.tree_erases += 1
            steps.merges += 1
            steps.objects_freed += 1
        elif merged is None:
            prev = None
            fl.insert_at(c, j, start, end, end - start)  # __link_va
            steps.tree_inserts += 1
            result_start = start
        else:
            result_start = start
        # Update the search criteria if merging/inserting is done before
        # last_free_va_chunk's va_start.
        if last_free_va_start and result_start <= last_free_va_start:
            p = fl.prev(*fl.find(result_start))
            self._last_chunk = fl.start(*p) if p is not None else None

    # ------------------------------------------------------------ read-outs
    @property
    def nr_busy(self) -> int:
        return len(self._busy) + len(self._vm_busy)

    def busy_areas(self) -> list[tuple[int, int]]:
        return sorted(super().busy_areas() + list(self._vm_busy.items()))

    @property
    def nr_free_blocks(self) -> int:
        """Blocks on the free list (it covers exactly the vmalloc range)."""
        return len(self._free)

    @property
    def nr_free_objects(self) -> int:
        """vmap_area objects on the free list/tree: what ``Steps.free_nodes`` walked."""
        return len(self._free)

    def largest_free_bytes(self) -> int:
        return max(self._free.max_val(), 0)

    def total_free_bytes(self) -> int:
        return self._free_bytes

    def free_blocks(self) -> list[tuple[int, int]]:
        """The free list's blocks inside the vmalloc range, plus the gaps between
        busy areas outside it (clipped at VMALLOC_START / VMALLOC_END)."""
        rng = self.range
        out = [(s, e) for s, e, _ in self._free.items()]
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
        self._check_busy_seq()
        rng = self.range
        busy = self.busy_areas()
        prev_end = rng.vstart
        for s, e in busy:
            if not (rng.vstart <= s < e <= rng.vend):
                raise InvariantError(f"busy area [{s:#x}, {e:#x}) outside the range or empty")
            if s < prev_end:
                raise InvariantError(f"busy area [{s:#x}, {e:#x}) overlaps its predecessor")
            prev_end = e
        if self._busy_bytes != sum(e - s for s, e in busy):
            raise InvariantError("busy byte count is stale")
        for s, e in self._vm_busy.items():
            if not rng.vmalloc_start < e <= rng.vmalloc_end:
                raise InvariantError(f"area [{s:#x}, {e:#x}) kept as a vmalloc area is not one")
        items = self._free.items()
        prev_end = None
        for s, e, size in items:
            if not (rng.vmalloc_start <= s < e <= rng.vmalloc_end):
                raise InvariantError(f"free block [{s:#x}, {e:#x}) outside the vmalloc range")
            if size != e - s:
                raise InvariantError(f"stale size of free block [{s:#x}, {e:#x})")
            if prev_end is not None and s <= prev_end:
                raise InvariantError(f"free block [{s:#x}, {e:#x}) overlaps or abuts its predecessor")
            prev_end = e
        self._check_seq(self._free)
        if self._free_bytes != sum(b[2] for b in items):
            raise InvariantError("free byte count is stale")
        # Busy areas and free blocks tile the vmalloc range exactly.
        inside = [(max(s, rng.vmalloc_start), min(e, rng.vmalloc_end)) for s, e in busy
                  if e > rng.vmalloc_start and s < rng.vmalloc_end]
        pieces = sorted(inside + [(s, e) for s, e, _ in items])
        pos = rng.vmalloc_start
        for s, e in pieces:
            if s != pos:
                raise InvariantError(f"busy areas and free blocks do not tile the vmalloc range at {pos:#x}")
            pos = e
        if pos != rng.vmalloc_end:
            raise InvariantError("busy areas and free blocks do not reach VMALLOC_END")
        if self._last_chunk is not None and self._free.find(self._last_chunk) is None:
            raise InvariantError(f"last_free_va_chunk {self._last_chunk:#x} is not a live free block")
