"""The /proc/vmallocinfo parser against the four real dumps in ../shared/data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from support import shared_path

from simulator.vmallocinfo import (VmallocinfoError, initial_busy, parse_vmallocinfo,
                                   size_distribution)

LAYOUT = Path(__file__).resolve().parents[1] / "scenarios" / "layouts" / "arm32-240mib.vmallocinfo"
PAGE = 4096

# (file, areas, total SIZE bytes): counted with `awk '{n++; s+=$2} END {print n, s}'`
DUMPS = [
    ("vmallocinfo-arm32-android.txt", 374, 153_772_032),
    ("vmallocinfo-arm32-mixed.txt", 91, 230_866_944),
    ("vmallocinfo-arm32-zynq.txt", 54, 37_548_032),
    ("vmallocinfo-x86_64-vm.txt", 616, 71_294_976),
]


def _independent_count_and_sum(path: Path) -> tuple[int, int]:
    """Count non-empty lines and sum their second whitespace field, without the parser."""
    n = s = 0
    for line in path.read_text().splitlines():
        if line.strip():
            n += 1
            s += int(line.split()[1])
    return n, s


@pytest.mark.parametrize("name,count,total", DUMPS)
def test_real_dumps_parse_with_their_counts_and_sizes(name: str, count: int, total: int) -> None:
    path = shared_path("data", name)
    info = parse_vmallocinfo(path)
    assert (count, total) == _independent_count_and_sum(path)
    assert info.count == count
    assert info.total_bytes == total
    assert sum(a.size_bytes for a in info.areas) == total


@pytest.mark.parametrize("name,hashed", [(n, n.startswith("vmallocinfo-x86")) for n, _, _ in DUMPS])
def test_hashed_detection(name: str, hashed: bool) -> None:
    info = parse_vmallocinfo(shared_path("data", name))
    assert info.hashed is hashed
    if not hashed:
        # real addresses: END - START is SIZE on every line
        assert all(a.end - a.start == a.size_bytes for a in info.areas)


def test_line_forms_and_fields() -> None:
    x86 = parse_vmallocinfo(shared_path("data", "vmallocinfo-x86_64-vm.txt"))
    kinds = [a.kind for a in x86.areas]
    assert kinds.count("unpurged") == 42 and kinds.count("vm_map_ram") == 1
    # raw-address caller (%pS of an unknown symbol) and NUMA counts
    raw = next(a for a in x86.areas if a.line == 243)
    assert (raw.caller, raw.pages, raw.flags, raw.numa) == ("0xffffffffc088c0d3", 8, ("vmalloc",), ((0, 8),))
    assert sum(1 for a in x86.areas if "vmap" in a.flags) == 24
    assert any(a.phys == 0xF7FF8000 and a.flags == ("ioremap",) for a in x86.areas)
    android = parse_vmallocinfo(shared_path("data", "vmallocinfo-arm32-android.txt"))
    assert sum(1 for a in android.areas if "vpages" in a.flags) == 221
    first = android.areas[0]
    assert (first.start, first.end, first.size_bytes, first.caller, first.pages, first.flags) == \
        (0xBF000000, 0xBF03D000, 249856, "module_alloc_update_bounds+0x14/0x64", 60, ("vmalloc",))
    assert any(a.module == "pvrsrvkm" for a in android.areas)
    mixed = parse_vmallocinfo(shared_path("data", "vmallocinfo-arm32-mixed.txt"))
    assert sum(1 for a in mixed.areas if "user" in a.flags) == 3
    zynq = parse_vmallocinfo(shared_path("data", "vmallocinfo-arm32-zynq.txt"))
    assert zynq.areas[0].phys == 0xE000000 and zynq.areas[0].flags == ("ioremap",)


def test_requested_sizes_exclude_the_guard_page() -> None:
    zynq = parse_vmallocinfo(shared_path("data", "vmallocinfo-arm32-zynq.txt"))
    for a in zynq.areas:
        if a.pages is not None:      # vmalloc: SIZE = (pages + 1 guard) pages
            assert a.size_bytes == (a.pages + 1) * PAGE
    sizes = size_distribution(zynq)
    by_line = dict(zip((a.line for a in zynq.areas), sizes.tolist()))
    assert by_line[1] == 16 * 1024 * 1024        # iotable_init: static mapping, no guard
    assert by_line[2] == PAGE                    # of_iomap 8192 = 1 page + guard
    assert size_distribution(zynq, include_guard=True).sum() == 37_548_032
    assert set(size_distribution(zynq, kinds=["vmalloc"]).tolist()) == \
        {1 * PAGE, 11 * PAGE, 66 * PAGE, 3 * PAGE, 24 * PAGE}
    x86 = parse_vmallocinfo(shared_path("data", "vmallocinfo-x86_64-vm.txt"))   # hashed: sizes still usable
    s = size_distribution(x86)
    assert len(s) == 616 and (s > 0).all() and (s % PAGE == 0).all()
    assert isinstance(s, np.ndarray)


def test_initial_busy_real_and_hashed() -> None:
    mixed = parse_vmallocinfo(shared_path("data", "vmallocinfo-arm32-mixed.txt"))
    vs, ve = 0xF0800000, 0xFF800000
    busy = initial_busy(mixed, vs, ve)
    # by hand: the areas from 0xf0800000 (iotable_init) up to pci_reserve_io at 0xfee00000
    expected = [(a.start, a.end) for a in mixed.areas if a.start >= vs and a.end <= ve]
    assert busy == expected and len(busy) == 12   # 0xf08..0xf0f (8), 0xf10, 0xf15, 0xf40, 0xfee
    assert busy[0] == (0xF0800000, 0xF0900000) and busy[-1] == (0xFEE00000, 0xFF000000)
    # clipping: an area straddling vstart keeps only its part inside
    assert initial_busy(mixed, 0xF0850000, 0xF0950000) == [(0xF0850000, 0xF0900000),
                                                            (0xF0900000, 0xF0950000)]
    x86 = parse_vmallocinfo(shared_path("data", "vmallocinfo-x86_64-vm.txt"))
    with pytest.raises(VmallocinfoError, match=r"vmallocinfo-x86_64-vm.txt: addresses are hashed.*empirical"):
        initial_busy(x86, 0, 1 << 64)


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    good = (shared_path("data", "vmallocinfo-arm32-zynq.txt")).read_text().splitlines()
    for bad, why in [("0xd0800000-0xd0802000 8192 of_iomap+0x30/0x38 phys=f8000000 iomap", "iomap"),
                     ("0xd0800000 8192 of_iomap+0x30/0x38 ioremap", "0xSTART-0xEND"),
                     ("0xd0800000-0xd0802000 eight of_iomap+0x30/0x38 ioremap", "0xSTART-0xEND"),
                     ("0xd0800000-0xd0802000 8192", "no caller")]:
        lines = good[:6] + [bad] + good[6:]
        f = tmp_path / "dump.txt"
        f.write_text("\n".join(lines) + "\n")
        with pytest.raises(VmallocinfoError) as ei:
            parse_vmallocinfo(f)
        msg = str(ei.value)
        assert msg.startswith(f"{f}:7: malformed /proc/vmallocinfo line")
        assert why in msg and "accepted:" in msg and "\n" not in msg


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(VmallocinfoError, match="missing.txt: no such /proc/vmallocinfo file"):
        parse_vmallocinfo(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(VmallocinfoError, match="no areas"):
        parse_vmallocinfo(tmp_path / "empty.txt")


def test_unsorted_real_looking_dump_is_marked_hashed(tmp_path: Path) -> None:
    lines = (shared_path("data", "vmallocinfo-arm32-zynq.txt")).read_text().splitlines()
    f = tmp_path / "swapped.txt"
    f.write_text("\n".join([lines[3], lines[2]] + lines[4:]) + "\n")
    info = parse_vmallocinfo(f)
    assert info.hashed and "not address-sorted" in info.hashed_reason


def test_synthetic_arm32_layout() -> None:
    info = parse_vmallocinfo(LAYOUT)
    assert not info.hashed
    vs, ve = 0xF0800000, 0xFF800000
    assert all(vs <= a.start and a.end <= ve for a in info.areas)
    busy = initial_busy(info, vs, ve)
    assert len(busy) == info.count == len(LAYOUT.read_text().splitlines())
    # ioremaps obey __get_vm_area_node's alignment with ARM's IOREMAP_MAX_ORDER 24
    for a in info.areas:
        if "ioremap" in a.flags and a.has_guard:
            size = a.size_bytes - PAGE
            order = min(max((size - 1).bit_length(), 12), 24)
            assert a.start % (1 << order) == 0, hex(a.start)
    assert re.search(r"pcpu_get_vm_areas", LAYOUT.read_text())
