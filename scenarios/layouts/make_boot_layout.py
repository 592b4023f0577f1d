"""Generate the boot-time vmalloc layouts of an x86_64 laptop, a 32-CPU x86_64
server and an arm64 big.LITTLE phone (Linux 4.19), in /proc/vmallocinfo format:

    python scenarios/layouts/make_boot_layout.py      # writes the three files beside it

Not real dumps: the layouts are made here, by replaying what a 4.19 kernel
does at boot through vmsim's own Linux 4.19 allocator (``busy-list``: the
``free_vmap_cache`` search, guard pages, alignments) with a fixed seed, so the
files are reproducible.  What is replayed, in boot order:

- the early areas of ``vmlist`` (``vm_area_add_early``): on arm64 the kernel
  image's segments (``map_kernel_segment``: text, rodata, init, data, no guard
  page) at the bottom of the vmalloc range; none on x86_64 (the image is
  mapped outside it);
- the percpu chunks that ``pcpu_get_vm_areas`` places top down from
  ``VMALLOC_END`` (the first chunk is embedded in the linear map: no area);
- the kernel stacks (VMAP_STACK: THREAD_SIZE + guard, aligned to THREAD_ALIGN)
  of the per-CPU kthreads (cpuhp, migration, ksoftirqd, kworker/N:0,
  kworker/N:0H) and the global ones;
- transient ACPI / firmware mappings (``acpi_os_map_iomem``, the firmware
  loader's ``vmap`` of its pages), mapped and unmapped while the boot goes on:
  the holes low in the range that reset 4.19's ``free_vmap_cache``;
- the ioremaps of driver probes (``__get_vm_area_node`` alignment from the
  size, IOREMAP_MAX_ORDER), long-lived vmallocs (tty buffers, netfilter
  tables, BPF programs of the init system), modules and BPF JIT images in the
  modules range (``module_alloc``);
- userspace start: forks whose stacks stay (services, on the phone the app
  processes and their threads) and short-lived ones that exit.  A freed area
  is lazily freed; the layout is written after the first purge (what a
  machine looks like once it has run a while), so freed areas are holes.

Counts: the x86_64 ones follow the census of the real Hyper-V guest dump in
``../shared/data/vmallocinfo-x86_64-vm.txt`` (229 live ``_do_fork`` stacks,
~90 ``bpf_prog_alloc`` areas, ~90 BPF JIT images, ~60 modules, ACPI
ioremaps; its addresses are hashed, so only sizes and callers were usable),
without its Hyper-V devices and with a laptop's drivers.  The phone's follow
an Android 4.19 system ([E]: ~1,500 threads alive, binder's per-process
``get_vm_area`` of 4.19, the SoC's device ioremaps).  Every count and size
here is a modelling estimate, not a measurement of one machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from simulator.allocators.base import Range  # noqa: E402
from simulator.allocators.busy_list import BusyListAllocator  # noqa: E402

PAGE = 4096


def count_order(n: int) -> int:
    o = n.bit_length() - 1
    return o + (1 if n & (n - 1) else 0)


class Boot:
    """One boot: the 4.19 allocator and the text of each live area."""

    def __init__(self, vstart: int, vend: int, vms: int, vme: int, mods: tuple[int, int],
                 early: list[tuple[int, int, str]], thread_size: int, thread_align: int,
                 ioremap_max_order: int, seed: int) -> None:
        self.alloc = BusyListAllocator(Range(vstart, vend, vms, vme), [(s, e) for s, e, _ in early])
        self.text = {s: (e, t) for s, e, t in early}
        self.vms, self.vme, self.mods = vms, vme, mods
        self.thread_size, self.thread_align = thread_size, thread_align
        self.io_max = ioremap_max_order
        self.rng = np.random.default_rng(seed)

    def vmalloc(self, pages: int, caller: str, align: int = PAGE, kind: str = "vmalloc",
                lo: int | None = None, hi: int | None = None, guard: bool = True) -> int:
        size = (pages + guard) * PAGE
        r = self.alloc.alloc(size, align, self.vms if lo is None else lo, self.vme if hi is None else hi)
        assert r.addr is not None, caller
        extra = f"pages={pages} vmalloc" if kind == "vmalloc" else kind
        self.text[r.addr] = (r.addr + size, f"{caller} {extra}")
        return r.addr

    def ioremap(self, size: int, caller: str, phys: int) -> int:
        align = 1 << min(max(count_order(size), 12), self.io_max)
        return self.vmalloc(size // PAGE, f"{caller} phys=0x{phys:x}", align, "ioremap")

    def stack(self, caller: str = "_do_fork+0xe2/0x390") -> int:
        return self.vmalloc(self.thread_size // PAGE, caller, self.thread_align)

    def module(self, pages: int, caller: str = "layout_and_allocate+0x9b4/0xd10") -> int:
        return self.vmalloc(pages, caller, PAGE, lo=self.mods[0], hi=self.mods[1])

    def free(self, addr: int) -> None:
        """vfree / iounmap; the area is released at the first purge (below)."""
        self.alloc.free(addr)
        del self.text[addr]

    def top_down(self, size: int, caller: str) -> None:
        """pcpu_get_vm_areas: the first chunk area ends at VMALLOC_END (top down
        from vmap_area_pcpu_hole), no guard page."""
        start = self.vme - size
        r = self.alloc.alloc(size, PAGE, start, self.vme)
        assert r.addr == start, caller
        self.text[start] = (self.vme, f"{caller} vmalloc")

    def lognormal_pages(self, median_pages: float, sigma: float, cap: int) -> int:
        return int(min(cap, max(1, round(median_pages * np.exp(sigma * self.rng.standard_normal())))))

    def write(self, path: Path) -> int:
        lines = [f"0x{s:016x}-0x{e:016x} {e - s:8d} {t}"
                 for s, (e, t) in sorted(self.text.items())]
        path.write_text("\n".join(lines) + "\n")
        return len(lines)


def transient_and_kthreads(b: Boot, cpus: int, global_kthreads: int, acpi_maps: int) -> None:
    """Early boot: kthread stacks interleaved with transient ACPI table maps."""
    b.stack("kthread_create_on_node+0x0/0x60")                 # kthreadd
    kept = []
    for i in range(acpi_maps):
        a = b.ioremap(PAGE * int(b.rng.integers(1, 3)), "acpi_os_map_iomem+0x19d/0x1c0",
                      0xfed00000 + i * PAGE)
        if b.rng.random() < 0.85:                                # most are unmapped again
            kept.append(a)
        if i % 4 == 0 and i // 4 < global_kthreads:
            b.stack("kthread_create_on_node+0x0/0x60")
    for cpu in range(cpus):                                      # smpboot per-CPU threads
        for _ in range(5):
            b.stack("kthread_create_on_node+0x0/0x60")
    for _ in range(max(0, global_kthreads - acpi_maps // 4)):
        b.stack("kthread_create_on_node+0x0/0x60")
    for a in kept:
        b.free(a)


def userspace(b: Boot, forks: int, alive: int, bpf_progs: int, extra: list[tuple[int, str]]) -> None:
    """Init and services: forks (stacks) of which ``alive`` stay, BPF programs,
    and long-lived vmallocs, interleaved as the init system starts units."""
    stacks = []
    every_bpf = max(1, forks // max(1, bpf_progs))
    every_extra = max(1, forks // (len(extra) + 1))
    for i in range(forks):
        stacks.append(b.stack())
        if i % every_bpf == 0 and bpf_progs:
            b.vmalloc(1, "bpf_prog_alloc+0x47/0xd0")
            bpf_progs -= 1
        if extra and i % every_extra == every_extra // 2:
            pages, caller = extra.pop(0)
            b.vmalloc(pages, caller)
        # a short-lived process exits: its stack is freed (the per-CPU stack cache
        # of 2 is full during a boot's fork storm)
        if len(stacks) > 8 and b.rng.random() < 1.0 - alive / forks:
            b.free(stacks.pop(int(b.rng.integers(len(stacks) - 4, len(stacks)))))
    while len(stacks) > alive:
        b.free(stacks.pop(int(b.rng.integers(len(stacks)))))


def x86_64_laptop(cpus: int = 4, forks: int = 1400, alive: int = 229, seed: int = 11) -> Boot:
    vms, vme = 0xFFFFC90000000000, 0xFFFFE90000000000
    mods = (0xFFFFFFFFA0000000, 0xFFFFFFFFFF000000)
    b = Boot(vms, mods[1], vms, vme, mods, [], 16384, 16384, 7 + 12, seed=seed)
    b.top_down(cpus * 2 * 1024 * 1024, "pcpu_get_vm_areas+0x0/0x1080")   # a chunk: a 2 MiB unit per CPU
    transient_and_kthreads(b, cpus=cpus, global_kthreads=45, acpi_maps=60)
    # driver probes of a Skylake laptop: MMIO ioremaps kept, firmware buffers freed
    for size, caller, phys in ((16 << 20, "i915_driver_load+0x1d8/0x1b20 [i915]", 0xd0000000),
                               (2 << 20, "pci_iomap_range+0x5d/0x80", 0xdf000000),
                               (64 << 10, "xhci_pci_probe+0x8d/0x2a0", 0xdf200000),
                               (16 << 10, "azx_probe_continue+0x12d/0x8b0 [snd_hda_intel]", 0xdf210000),
                               (8 << 10, "ahci_init_one+0x1c7/0xd30 [ahci]", 0xdf214000),
                               (8 << 10, "nvme_dev_map+0x2f/0x80 [nvme]", 0xdf300000),
                               (1 << 20, "iwl_pcie_probe+0x2a1/0x5e0 [iwlwifi]", 0xdf400000)):
        b.ioremap(size, caller, phys)
    fw = [b.vmalloc(pages, "fw_map_paged_buf+0x6b/0xa0", kind="vmap")
          for pages in (300, 5, 1, 200)]                          # iwlwifi, dmc, guc, bt
    for _ in range(60):                                           # modules (lsmod), modules range
        b.module(b.lognormal_pages(8, 1.0, 600))
    for a in fw:
        b.free(a)
    for _ in range(90):                                           # BPF JIT images (module_alloc)
        b.module(1, "bpf_jit_binary_alloc+0x63/0xf0")
    extra = [(3, "n_tty_open+0x16/0xe0")] * 6 + [(8, "xt_alloc_table_info+0x40/0x70")] * 4
    userspace(b, forks=forks, alive=alive, bpf_progs=90, extra=extra)
    return b


def x86_64_server() -> Boot:
    """The 32-CPU Zen 2 box: the laptop's boot with 32 CPUs' kthreads and percpu
    units and a server's process count (the laptop's drivers stand in for its own)."""
    return x86_64_laptop(cpus=32, forks=3000, alive=600, seed=13)


def arm64_phone() -> Boot:
    vms, vme = 0xFFFFFF8008000000, 0xFFFFFFBEBFFF0000
    mods = (0xFFFFFF8000000000, 0xFFFFFF8008000000)
    # map_kernel_segment at KIMAGE_VADDR (= VMALLOC_START without KASLR): the image
    # segments, each its own early vm_struct, no guard page, 64 KiB aligned
    segs, addr, early = (12 << 20, 6 << 20, 2 << 20, 3 << 20), vms, []   # text, rodata, init, data
    for size in segs:
        early.append((addr, addr + size, f"paging_init+0x104/0x7c8 phys=0x{0x40080000 + addr - vms:x} vmap"))
        addr += size + (64 << 10)
    b = Boot(mods[0], vme, vms, vme, mods, early, 16384, 32768, 30, seed=12)
    b.top_down(8 * 64 * 1024, "pcpu_get_vm_areas+0x0/0x6b8")       # a chunk: 8 units of 64 KiB
    transient_and_kthreads(b, cpus=8, global_kthreads=120, acpi_maps=0)
    for i in range(150):                                           # SoC device ioremaps (DT probe)
        size = PAGE << int(b.rng.integers(0, 5))
        b.ioremap(size, "devm_ioremap_resource+0x40/0xb0", 0x0a000000 + i * 0x10000)
    fw = [b.vmalloc(pages, "fw_map_paged_buf+0x5c/0x98", kind="vmap") for pages in (600, 150, 40)]
    for _ in range(120):                                           # vendor modules
        b.module(b.lognormal_pages(10, 1.0, 1500))
    for a in fw:
        b.free(a)
    # Android userspace: zygote children; binder_mmap (4.19): get_vm_area of the
    # process's binder buffer (1 MiB - 8 KiB) per binder user
    binder = [(254, "binder_alloc_mmap_handler+0x4c/0x1e8")] * 200
    userspace(b, forks=4000, alive=1500, bpf_progs=10, extra=binder)
    return b


def main() -> None:
    for name, make in (("x86_64-laptop-boot", x86_64_laptop), ("x86_64-server32-boot", x86_64_server),
                       ("arm64-phone-boot", arm64_phone)):
        n = make().write(HERE / f"{name}.vmallocinfo")
        print(f"{name}.vmallocinfo: {n} areas")


if __name__ == "__main__":
    main()
