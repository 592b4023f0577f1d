"""Shared vocabulary of the allocator policies: Steps, AllocResult, checks.

A policy *decides and counts*; it never prices.  Every operation returns a
:class:`Steps` record that the cost model (``simulator.costmodel``) turns into
nanoseconds.  The counting rules below are the contract between the fast
policies, the literal reference models in ``tests/allocators`` and the cost
model: change one and you change all three.

Counting rules (per operation, all ints unless named):

``list_nodes``
    busy-list: executions of the body of
    ``while (addr + size > first->va_start && addr + size <= vend)``.
    free-list (vmalloc path): free blocks examined by
    ``list_for_each_entry_from``, including the block that fits or that
    triggers the vend ``break``.  0 for free operations.
``tree_nodes``
    nodes visited by tree descents.  Trees that are *modelled* (the busy
    tree of every policy, the free tree of free-list) count
    ``tree_depth(n) = ceil(log2(n + 1))`` per descent, ``n`` being the
    number of nodes in that tree before the operation touches it.  The
    augmented-tree policy keeps a real red-black free tree and counts the
    nodes it really visits (``find_vmap_lowest_match`` including the
    climb back up, ``find_va_links``).
``free_nodes``
    of ``list_nodes + tree_nodes``, those visited in the free-block
    structures (free-list's free list and free tree, augmented-tree's free
    tree); the rest walked the busy list or busy tree.  The cost model prices
    each part as a hit or a miss by the size of the structure it walked.
    Always 0 for busy-list.
``tree_inserts`` / ``tree_erases``
    ``rb_insert_*`` / ``rb_erase*`` calls, on any tree.
``augment_updates``
    ``compute_subtree_max_size`` evaluations (augmented-tree only).
``merges``
    coalescings of a freed area with a neighbouring free block (0, 1 or 2).
``fit``
    "FL", "LE", "RE", "NE" for the free-block policies' split, else None.
``objects_allocated`` / ``objects_freed``
    ``struct vmap_area`` allocations / frees performed *inside* the
    operation (under ``vmap_area_lock``): the NE split's extra object, the
    object released by an exact fit or by a merge, the busy object freed by
    busy-list.  The busy object that ``alloc_vmap_area`` kmallocs *before*
    taking the lock is not counted here: the engine prices it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

#: The fit types of mm/vmalloc.c (``enum fit_type``).
FIT_TYPES = ("FL", "LE", "RE", "NE")


def tree_depth(n: int) -> int:
    """Modelled depth of a balanced tree of ``n`` nodes: ceil(log2(n+1))."""
    return n.bit_length()  # == ceil(log2(n + 1)) for n >= 0


class Steps:
    """What one allocator operation did (see the module docstring).

    Every field starts at 0 (``fit`` at None): an operation adds only what it
    counts.  Slotted, with an ``__init__`` that sets every field: one Steps is
    made per operation and the cost model reads every field, and a slotted
    read is CPython's cheapest (a field left at a class default would be read
    through the instance dict, then the class: more machine instructions per
    operation, measured with ``benchmarks.versus --instructions``)."""

    __slots__ = ("list_nodes", "tree_nodes", "free_nodes", "tree_inserts", "tree_erases",
                 "augment_updates", "merges", "fit", "objects_allocated", "objects_freed")
    list_nodes: int
    tree_nodes: int
    free_nodes: int
    tree_inserts: int
    tree_erases: int
    augment_updates: int
    merges: int
    fit: str | None
    objects_allocated: int
    objects_freed: int
    FIELDS: ClassVar[tuple[str, ...]] = (
        "list_nodes",
        "tree_nodes",
        "free_nodes",
        "tree_inserts",
        "tree_erases",
        "augment_updates",
        "merges",
        "fit",
        "objects_allocated",
        "objects_freed",
    )

    def __init__(self) -> None:
        self.list_nodes = 0
        self.tree_nodes = 0
        self.free_nodes = 0
        self.tree_inserts = 0
        self.tree_erases = 0
        self.augment_updates = 0
        self.merges = 0
        self.fit = None
        self.objects_allocated = 0
        self.objects_freed = 0

    def as_dict(self) -> dict[str, int | str | None]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Steps):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items() if v)
        return f"Steps({inner})"


def add_steps(dst: Steps, src: Steps) -> Steps:
    """``dst += src``, field by field (``fit``: src's if it has one); returns dst.
    For an operation made of several counted parts (6.9's node layer)."""
    # written out (6.9's hot path: a getattr/setattr loop cost ~20 calls a part);
    # tests/allocators/test_interface.py checks it against Steps.FIELDS
    dst.list_nodes += src.list_nodes
    dst.tree_nodes += src.tree_nodes
    dst.free_nodes += src.free_nodes
    dst.tree_inserts += src.tree_inserts
    dst.tree_erases += src.tree_erases
    dst.augment_updates += src.augment_updates
    dst.merges += src.merges
    if src.fit is not None:
        dst.fit = src.fit
    dst.objects_allocated += src.objects_allocated
    dst.objects_freed += src.objects_freed
    return dst


class AllocResult:
    """Outcome of ``alloc``: ``addr`` (None on failure) and its ``steps``."""

    __slots__ = ("addr", "steps")

    def __init__(self, addr: int | None, steps: Steps) -> None:
        self.addr = addr
        self.steps = steps

    def __repr__(self) -> str:
        a = "None" if self.addr is None else hex(self.addr)
        return f"AllocResult(addr={a}, steps={self.steps!r})"


class AllocatorError(Exception):
    """Base class of allocator errors."""


class NonexistentAreaError(AllocatorError, KeyError):
    """``free`` of an address that does not start a busy area."""

    def __init__(self, addr: int) -> None:
        super().__init__(addr)
        self.addr = addr

    def __str__(self) -> str:
        return f"Trying to vfree() nonexistent vm area ({self.addr:#x})"


class InvariantError(AllocatorError, AssertionError):
    """Raised by ``check()`` when an allocator invariant is broken."""


@dataclass(frozen=True)
class Range:
    """The address range an allocator manages, and its vmalloc sub-range."""

    vstart: int
    vend: int
    vmalloc_start: int
    vmalloc_end: int
    page_size: int = 4096
    word_bits: int = 64
    mask: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mask", (1 << self.word_bits) - 1)


def make_range(
    vstart: int,
    vend: int,
    vmalloc_start: int | None = None,
    vmalloc_end: int | None = None,
    page_size: int = 4096,
    word_bits: int = 64,
) -> Range:
    """Validate and build a :class:`Range` (ValueError with a clear message)."""
    if page_size <= 0 or page_size & (page_size - 1):
        raise ValueError(f"page_size must be a power of two (got {page_size})")
    if word_bits not in (32, 64):
        raise ValueError(f"word_bits must be 32 or 64 (got {word_bits})")
    vmalloc_start = vstart if vmalloc_start is None else vmalloc_start
    vmalloc_end = vend if vmalloc_end is None else vmalloc_end
    for name, value in (("vstart", vstart), ("vend", vend),
                        ("vmalloc_start", vmalloc_start), ("vmalloc_end", vmalloc_end)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} must be an int (got {value!r})")
        if value % page_size:
            raise ValueError(f"{name} must be a multiple of the page size {page_size} (got {value:#x})")
        if not 0 <= value <= (1 << word_bits):
            raise ValueError(f"{name} must lie in [0, 2^{word_bits}] (got {value:#x})")
    if vend <= vstart:
        raise ValueError(f"vend must be above vstart (got vstart={vstart:#x}, vend={vend:#x})")
    if not vstart <= vmalloc_start < vmalloc_end <= vend:
        raise ValueError(
            "the vmalloc range must lie inside [vstart, vend) and be non-empty "
            f"(got vmalloc_start={vmalloc_start:#x}, vmalloc_end={vmalloc_end:#x})")
    return Range(vstart, vend, vmalloc_start, vmalloc_end, page_size, word_bits)


def check_request(rng: Range, size: int, align: int, vstart: int | None, vend: int | None) -> tuple[int, int]:
    """Validate an ``alloc`` request; return the effective (vstart, vend)."""
    # The common case in one test (bool is not ``type(x) is int``); anything
    # else takes the full checks below, which accept or name the problem.
    if (type(size) is int and type(align) is int and size > 0 and not size % rng.page_size
            and 0 < align <= rng.mask and not align & (align - 1)):
        vs = rng.vstart if vstart is None else vstart
        ve = rng.vend if vend is None else vend
        if rng.vstart <= vs < ve <= rng.vend:
            return vs, ve
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0 or size % rng.page_size:
        raise ValueError(
            f"size must be a positive multiple of the page size {rng.page_size} bytes (got {size!r})")
    if not isinstance(align, int) or isinstance(align, bool) or align < 1 or align & (align - 1):
        raise ValueError(f"align must be a power of two >= 1 (got {align!r})")
    if align > rng.mask:
        raise ValueError(f"align must fit in a {rng.word_bits}-bit word (got {align:#x})")
    vs = rng.vstart if vstart is None else vstart
    ve = rng.vend if vend is None else vend
    if vs < rng.vstart or ve > rng.vend or ve <= vs:
        raise ValueError(
            f"[vstart, vend) must be a non-empty sub-range of [{rng.vstart:#x}, {rng.vend:#x}) "
            f"(got [{vs:#x}, {ve:#x}))")
    return vs, ve


@runtime_checkable
class VmapPolicy(Protocol):
    """What every policy offers the generations and the metrics.

    ``alloc`` / ``free`` / ``find_vmap_area`` each stand for one critical
    section of their kernel (split-lock policies add theirs, see
    ``split_tree.py`` and ``vmap_nodes.py``).  Complexity, n areas: ``alloc``
    and ``free`` O(log n) in the tree policies; busy-list and the RFC walk
    O(n) list nodes as their kernels do, with O(log n) bookkeeping per node
    skipped (``busy_list.py``'s table); read-outs O(1) or O(log n); ``check``
    O(n) (it verifies the whole state)."""

    DESCRIPTION: ClassVar[str]
    rng: Range

    def alloc(self, size: int, align: int = 1, vstart: int | None = None,
              vend: int | None = None) -> AllocResult:
        """Find (and, except split-tree's, insert) an area of ``size`` bytes."""

    def free(self, addr: int) -> Steps:
        """Release the busy area starting at ``addr`` (NonexistentAreaError if none)."""

    def find_vmap_area(self, addr: int) -> Steps:
        """The counted busy-tree lookup of vfree: ``tree_depth(nr_busy)`` nodes; no change."""

    def check(self) -> None:
        """Raise InvariantError when the state is inconsistent."""

    def busy_areas(self) -> list[tuple[int, int]]:
        """The busy areas, (start, end), ascending."""

    def free_blocks(self) -> list[tuple[int, int]]:
        """The free blocks, (start, end), ascending (5.2+: over the whole address space)."""

    @property
    def nr_busy(self) -> int:
        """Areas in the busy structure now."""

    @property
    def nr_free_blocks(self) -> int:
        """Free blocks inside [vmalloc_start, vmalloc_end)."""

    @property
    def nr_free_objects(self) -> int:
        """vmap_areas of the free structure ``Steps.free_nodes`` walk (0 for busy-list)."""

    def largest_free_bytes(self) -> int:
        """The largest free block inside the vmalloc range."""

    def total_free_bytes(self) -> int:
        """The free bytes inside the vmalloc range."""


def steps_fields() -> tuple[str, ...]:
    """Names of the Steps fields, in a stable order (for metrics columns)."""
    return Steps.FIELDS


__all__ = [
    "FIT_TYPES", "Steps", "add_steps", "AllocResult", "AllocatorError", "NonexistentAreaError",
    "InvariantError", "Range", "make_range", "check_request", "tree_depth", "steps_fields",
    "VmapPolicy",
]
