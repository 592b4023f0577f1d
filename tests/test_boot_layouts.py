"""The generated boot layouts (scenarios/layouts/make_boot_layout.py): each file
is what the generator writes now, parses as /proc/vmallocinfo, and shows what a
4.19 boot leaves: areas inside the profile's range, stacks of THREAD_SIZE +
guard aligned to THREAD_ALIGN, the percpu chunk ending at VMALLOC_END, on arm64
the kernel image's early areas at VMALLOC_START, and holes below the last area."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simulator.devices import load_device
from simulator.vmallocinfo import initial_busy, parse_vmallocinfo
from support import REPO

LAYOUTS = REPO / "scenarios" / "layouts"
CASES = [("x86_64-laptop-boot", "x86-laptop"), ("x86_64-server32-boot", "x86-zen2-32c"),
         ("arm64-phone-boot", "arm64-biglittle")]


def test_the_generator_reproduces_the_shipped_files(tmp_path) -> None:
    import shutil
    gen = tmp_path / "make_boot_layout.py"
    shutil.copy(LAYOUTS / "make_boot_layout.py", gen)
    # the generator imports vmsim from the checkout two levels up: run it in place
    # of a copy whose parent chain still finds vmsim (PYTHONPATH)
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, str(gen)], check=True, env=env, capture_output=True)
    for name, _ in CASES:
        assert (tmp_path / f"{name}.vmallocinfo").read_text() == (LAYOUTS / f"{name}.vmallocinfo").read_text()


@pytest.mark.parametrize("name,device", CASES)
def test_a_boot_layout_is_what_a_4_19_boot_leaves(name: str, device: str) -> None:
    d = load_device(device)
    a, c = d["address_space"], d["cost"]
    path = LAYOUTS / f"{name}.vmallocinfo"
    info = parse_vmallocinfo(str(path), page_size=a["page_size"])
    busy = initial_busy(info, a["vstart"], a["vend"])
    text = [ln.split() for ln in path.read_text().splitlines()]
    assert len(busy) == len(text) > 300
    assert all(a["vstart"] <= s < e <= a["vend"] for s, e in busy)
    stacks = [(int(t[0].split("-")[0], 16), int(t[1])) for t in text
              if t[2].startswith(("_do_fork", "kthread_create_on_node"))]
    assert len(stacks) > 100
    # VMAP_STACK: THREAD_SIZE + a guard page, at a THREAD_ALIGN boundary
    assert all(size == c["thread_size_bytes"] + a["page_size"] and s % c["thread_align_bytes"] == 0
               for s, size in stacks)
    # pcpu_get_vm_areas: the chunk ends at VMALLOC_END
    pcpu = [t for t in text if t[2].startswith("pcpu_get_vm_areas")]
    assert len(pcpu) == 1 and int(pcpu[0][0].split("-")[1], 16) == a["vmalloc_end"]
    # holes below the highest area of the vmalloc range (what resets free_vmap_cache)
    vm = sorted((s, e) for s, e in busy if a["vmalloc_start"] <= s < a["vmalloc_end"]
                and e < a["vmalloc_end"])
    holes = sum(1 for (s0, e0), (s1, _) in zip(vm, vm[1:]) if s1 > e0)
    assert holes > 20
    if device == "arm64-biglittle":            # map_kernel_segment: the image at VMALLOC_START
        first = sorted(busy)[0]
        mod = [s for s, _ in busy if s < a["vmalloc_start"]]
        img = [t for t in text if t[2].startswith("paging_init")]
        assert len(img) == 4 and int(img[0][0].split("-")[0], 16) == a["vmalloc_start"]
        assert mod and first[0] == min(mod)
