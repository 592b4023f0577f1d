"""Parser for ``/proc/vmallocinfo`` dumps: initial layouts and empirical sizes.

Line forms (``s_show`` / ``show_purge_info`` in mm/vmalloc.c, Linux 4.x-6.x)::

    0xSTART-0xEND SIZE [CALLER] [[module]] [pages=N] [phys=ADDR] [FLAG ...] [N<node>=N ...]
    0xSTART-0xEND SIZE unpurged vm_area
    0xSTART-0xEND SIZE vm_map_ram

CALLER is ``%pS``: ``symbol+0xOFF/0xLEN`` or a raw ``0xADDRESS``; it is absent
when the area has no caller.  FLAG is one of :data:`FLAGS` (``ioremap``,
``vmalloc``, ``vmap``, ``user``, ``vpages``, and the newer ``dma-coherent``,
``sparse``, ``xen``).  SIZE is ``END - START`` and includes the guard page of
vm_struct areas.  Blank lines and lines starting with ``#`` (comments, allowed
in vmsim's own layout files) are skipped.

Hashed addresses: with ``kptr_restrict`` set, ``%pK`` prints hashed
pointers.  Hashing is detected from the two facts every real dump obeys:
each line's ``END - START`` equals its SIZE, and the vm_struct/vm_map_ram lines
are address-sorted without overlap (``unpurged vm_area`` lines, which 5.x
appends after the sorted list, are left out of the ordering check).  A dump
that breaks either fact anywhere is marked ``hashed``: only its sizes,
callers and flags are usable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["VmArea", "VmallocInfo", "VmallocinfoError", "FLAGS", "NO_GUARD_CALLERS",
           "parse_vmallocinfo", "initial_busy", "size_distribution"]

#: the area-type words ``s_show`` prints after pages=/phys=
FLAGS = ("ioremap", "sparse", "xen", "vmalloc", "vmap", "user", "dma-coherent", "vpages")

#: callers whose areas are early static mappings made without a guard page
#: (``vm_area_add_early``: ARM ``iotable_init``, ``pmd_empty_section_gap``,
#: ``pci_reserve_io``) or percpu chunks (``pcpu_get_vm_areas``, no guard).
NO_GUARD_CALLERS = frozenset({"iotable_init", "pmd_empty_section_gap", "pci_reserve_io",
                              "pcpu_get_vm_areas", "vm_area_add_early",
                              "vm_area_register_early"})

ACCEPTED = ("'0xSTART-0xEND SIZE [CALLER] [[module]] [pages=N] [phys=ADDR] "
            "[ioremap|vmalloc|vmap|user|vpages|...] [N<node>=N ...]', "
            "'0xSTART-0xEND SIZE unpurged vm_area' or '0xSTART-0xEND SIZE vm_map_ram'")

_HEAD = re.compile(r"^0x([0-9a-fA-F]+)-0x([0-9a-fA-F]+)\s+(\d+)(?:\s+(.*?))?\s*$")
_CALLER = re.compile(r"^(?:[A-Za-z_.$][\w.$]*\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+|0x[0-9a-fA-F]+)$")
_MODULE = re.compile(r"^\[[\w.-]+\]$")
_PAGES = re.compile(r"^pages=(\d+)$")
_PHYS = re.compile(r"^phys=(?:0x)?([0-9a-fA-F]+)$")
_NUMA = re.compile(r"^N(\d+)=(\d+)$")


class VmallocinfoError(ValueError):
    """A /proc/vmallocinfo file that cannot be used; the message is one line."""


@dataclass(frozen=True)
class VmArea:
    """One line of /proc/vmallocinfo."""

    start: int
    end: int
    size_bytes: int                 # SIZE as printed (guard page included)
    caller: str | None              # "symbol+0xOFF/0xLEN" or "0x..." or None
    module: str | None = None       # "[module]" without brackets
    pages: int | None = None
    phys: int | None = None
    flags: tuple[str, ...] = ()
    numa: tuple[tuple[int, int], ...] = ()   # (node, pages) from N<node>=<pages>
    kind: str = "vm_struct"         # "vm_struct" | "unpurged" | "vm_map_ram"
    line: int = 0

    @property
    def caller_function(self) -> str | None:
        if self.caller is None or self.caller.startswith("0x"):
            return None
        return self.caller.split("+", 1)[0]

    @property
    def has_guard(self) -> bool:
        """Whether SIZE includes a guard page (vm_struct areas and lazily freed
        ones; not vm_map_ram blocks nor early static mappings)."""
        if self.kind == "vm_map_ram":
            return False
        return self.caller_function not in NO_GUARD_CALLERS

    def requested_bytes(self, page_size: int = 4096) -> int:
        """What the kernel caller asked for: ``pages=`` if printed, else SIZE
        minus the guard page when there is one (at least one page)."""
        if self.pages:
            return self.pages * page_size
        n = self.size_bytes - (page_size if self.has_guard else 0)
        return max(n, page_size)


@dataclass(frozen=True)
class VmallocInfo:
    path: str
    areas: tuple[VmArea, ...]
    hashed: bool
    page_size: int = 4096
    hashed_reason: str = ""   # why ``hashed`` was set (line and fact)

    @property
    def count(self) -> int:
        return len(self.areas)

    @property
    def total_bytes(self) -> int:
        return sum(a.size_bytes for a in self.areas)


def _malformed(path: str, lineno: int, text: str, why: str) -> VmallocinfoError:
    shown = text.strip()
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return VmallocinfoError(
        f"{path}:{lineno}: malformed /proc/vmallocinfo line ({why}): {shown!r}; accepted: {ACCEPTED}")


#: longest accepted line (real ones are under 200 characters)
MAX_LINE_CHARS = 4096


def _parse_line(path: str, lineno: int, text: str) -> VmArea:
    if len(text) > MAX_LINE_CHARS:
        raise VmallocinfoError(f"{path}:{lineno}: a line of {len(text)} characters; accepted: "
                               f"lines of at most {MAX_LINE_CHARS} characters")
    m = _HEAD.match(text)
    if m and max(len(m.group(1)), len(m.group(2)), len(m.group(3))) > 20:
        raise _malformed(path, lineno, text, "a number longer than 20 digits")
    if not m:
        raise _malformed(path, lineno, text, "expected '0xSTART-0xEND SIZE ...'")
    start, end, size = int(m.group(1), 16), int(m.group(2), 16), int(m.group(3))
    if max(start, end) > 1 << 64 or size >= 1 << 63:
        raise _malformed(path, lineno, text, "an address beyond 2^64 or a SIZE not below 2^63")
    rest = m.group(4) or ""
    tokens = rest.split()
    if tokens == ["unpurged", "vm_area"]:
        return VmArea(start, end, size, None, kind="unpurged", line=lineno)
    if tokens == ["vm_map_ram"]:
        return VmArea(start, end, size, None, kind="vm_map_ram", line=lineno)
    caller = module = None
    pages = phys = None
    flags: list[str] = []
    numa: list[tuple[int, int]] = []
    i = 0
    if i < len(tokens) and _CALLER.match(tokens[i]):
        caller = tokens[i]
        i += 1
        if i < len(tokens) and _MODULE.match(tokens[i]):
            module = tokens[i][1:-1]
            i += 1
    for tok in tokens[i:]:
        if len(tok) > 40:
            raise _malformed(path, lineno, text, f"a field of {len(tok)} characters")
        if (pm := _PAGES.match(tok)) and pages is None:
            pages = int(pm.group(1))
            if pages >= 1 << 40:
                raise _malformed(path, lineno, text, f"pages={pages} is not a page count of a real area")
        elif (hm := _PHYS.match(tok)) and phys is None:
            phys = int(hm.group(1), 16)
        elif tok in FLAGS and tok not in flags:
            flags.append(tok)
        elif nm := _NUMA.match(tok):
            numa.append((int(nm.group(1)), int(nm.group(2))))
        else:
            raise _malformed(path, lineno, text, f"unexpected field {tok!r}")
    if caller is None and not (flags or pages is not None or phys is not None):
        raise _malformed(path, lineno, text, "no caller, pages=, phys= or area type")
    return VmArea(start, end, size, caller, module, pages, phys, tuple(flags), tuple(numa),
                  "vm_struct", lineno)


def _hashed(areas: list[VmArea]) -> str:
    """Why the addresses look hashed, or '' if they look real."""
    prev_end = None
    for a in areas:
        if a.end - a.start != a.size_bytes:
            return f"line {a.line}: END - START != SIZE"
        if a.kind == "unpurged":
            continue
        if prev_end is not None and a.start < prev_end:
            return f"line {a.line}: not address-sorted"
        prev_end = a.end
    return ""


def parse_vmallocinfo(path: str | Path, page_size: int = 4096) -> VmallocInfo:
    """Parse a /proc/vmallocinfo dump; raise :class:`VmallocinfoError` (one line,
    naming the file and line number) on the first malformed line."""
    from .yamlsafe import read_data_text
    p = str(path)
    text = read_data_text(path, "/proc/vmallocinfo file", VmallocinfoError)
    areas: list[VmArea] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        areas.append(_parse_line(p, lineno, raw))
    if not areas:
        raise VmallocinfoError(f"{p}: no areas found; accepted lines: {ACCEPTED}")
    reason = _hashed(areas)
    return VmallocInfo(p, tuple(areas), bool(reason), page_size, reason)


def initial_busy(info: VmallocInfo, vstart: int, vend: int,
                 include_unpurged: bool = True) -> list[tuple[int, int]]:
    """Busy ``(start, end)`` ranges (end exclusive, guard page included) of the
    areas overlapping ``[vstart, vend)``, clipped to it, address-sorted.

    ``unpurged vm_area`` lines are lazily freed areas still in the busy tree;
    they are included unless ``include_unpurged`` is false.  Raises
    :class:`VmallocinfoError` for a hashed dump (its addresses are not real).
    """
    if info.hashed:
        raise VmallocinfoError(
            f"{info.path}: addresses are hashed (%pK; {info.hashed_reason}), so the areas "
            "cannot be placed; use its sizes instead: size: {kind: empirical, file: ...}")
    out: list[tuple[int, int]] = []
    for a in info.areas:
        if a.kind == "unpurged" and not include_unpurged:
            continue
        s, e = max(a.start, vstart), min(a.end, vend)
        if s < e:
            out.append((s, e))
    out.sort()
    return out


def size_distribution(info: VmallocInfo, kinds: tuple[str, ...] | list[str] | None = None,
                      include_guard: bool = False) -> np.ndarray:
    """Area sizes in bytes (int64), one per line, in file order.

    By default the sizes are what the caller requested (``pages=`` if printed,
    else SIZE minus the guard page, see :meth:`VmArea.requested_bytes`), i.e.
    what a workload passes to ``caller.vmalloc``; ``include_guard=True`` gives
    SIZE as printed.  ``kinds`` keeps areas having one of these flags (or
    ``unpurged`` / ``vm_map_ram`` for those line forms).  Works on hashed dumps.
    """
    wanted = set(kinds) if kinds else None
    sizes = []
    for a in info.areas:
        if wanted is not None:
            tags = {a.kind} if a.kind != "vm_struct" else set(a.flags)
            if not tags & wanted:
                continue
        sizes.append(a.size_bytes if include_guard else a.requested_bytes(info.page_size))
    return np.asarray(sizes, dtype=np.int64)
