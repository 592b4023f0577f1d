"""Generate arm32-240mib.vmallocinfo: a synthetic /proc/vmallocinfo layout of a
32-bit ARM board with the default 240 MiB vmalloc area (0xf0800000-0xff800000,
768 MiB lowmem).  Not a real dump: it is made here, by the kernel's own rules,
so that the file is reproducible (``python scenarios/layouts/make_arm32_240mib.py``).

Boot order as on a typical board: early static I/O mappings at the top
(``iotable_init``, no guard page, as on ARM), the PCI I/O window
(``pci_reserve_io`` at 0xfee00000), the percpu first chunk just below the
static mappings, then driver probe ioremaps (size-derived alignment, ARM
IOREMAP_MAX_ORDER 24) interleaved with vmalloc users (first fit from
VMALLOC_START), and a few user (dma-coherent pool) areas.
"""

from __future__ import annotations

from pathlib import Path

PAGE = 4096
VSTART, VEND = 0xF0800000, 0xFF800000


def count_order(n: int) -> int:
    o = n.bit_length() - 1
    return o + (1 if n & (n - 1) else 0)


class Space:
    def __init__(self) -> None:
        self.busy: list[tuple[int, int, str]] = []

    def place(self, size: int, align: int, text: str, lo: int = VSTART, hi: int = VEND) -> int:
        """First fit at or above lo (the busy-list search of alloc_vmap_area)."""
        addr = -(-lo // align) * align
        for s, e, _ in sorted(self.busy):
            if addr + size <= s:
                break
            if e > addr:
                addr = -(-e // align) * align
        assert addr + size <= hi, text
        self.busy.append((addr, addr + size, text))
        return addr

    def fixed(self, start: int, size: int, text: str) -> None:
        self.busy.append((start, start + size, text))


def main() -> None:
    sp = Space()
    # early static mappings (no guard page): iotable_init at the top of the area
    for i, (virt, size, phys) in enumerate([(0xFD000000, 0x00100000, 0x10000000),
                                             (0xFD100000, 0x00100000, 0x10100000),
                                             (0xFD200000, 0x00200000, 0x1E000000),
                                             (0xFE000000, 0x00400000, 0x40000000)]):
        sp.fixed(virt, size, f"iotable_init+0x0/0xb4 phys={phys:x} ioremap")
    sp.fixed(0xFEE00000, 0x00200000, "pci_reserve_io+0x0/0x30 ioremap")
    # percpu first chunk (2 CPUs), 22 pages, no guard, just below the static block
    sp.fixed(0xFCFEA000, 22 * PAGE, "pcpu_get_vm_areas+0x0/0x3dc vmalloc")
    # driver probe: ioremaps with __get_vm_area_node alignment, vmallocs first fit
    probe = [
        ("io", 4 * PAGE, "of_iomap+0x30/0x38", 0x12000000),
        ("io", 1 * PAGE, "of_iomap+0x30/0x38", 0x12001000),
        ("vm", 1, "bpf_prog_alloc+0x34/0xa8", None),
        ("io", 16 * PAGE, "devm_ioremap+0x38/0x70", 0x13000000),
        ("io", 1 * PAGE, "l2x0_of_init+0x64/0x1f4", 0x1E100000),
        ("vm", 11, "jffs2_zlib_init+0x2c/0x6c", None),
        ("vm", 66, "jffs2_zlib_init+0x18/0x6c", None),
        ("io", 64 * PAGE, "devm_ioremap+0x38/0x70", 0x18000000),
        ("user", 512, "atomic_pool_init+0x0/0x12c", None),
        ("io", 1 * PAGE, "devm_ioremap+0x38/0x70", 0x12010000),
        ("vm", 3, "n_tty_open+0x10/0xc8", None),
        ("vm", 3, "n_tty_open+0x10/0xc8", None),
        ("io", 256 * PAGE, "sdhci_pltfm_init+0x11c/0x1c8", 0x12100000),
        ("vm", 2, "xt_alloc_table_info+0xb8/0xec", None),
        ("vm", 2, "xt_alloc_table_info+0xb8/0xec", None),
        ("io", 4096 * PAGE, "devm_ioremap+0x38/0x70", 0x20000000),
        ("vm", 36, "deflate_init+0x20/0xc4", None),
        ("vm", 1, "ebt_register_table+0x8c/0x2dc", None),
        ("io", 2 * PAGE, "cdns_uart_request_port+0x38/0x7c", 0x12020000),
        ("vm", 3, "n_tty_open+0x10/0xc8", None),
        ("user", 3, "snd_dma_alloc_pages+0x40/0x98", None),
        ("vm", 263, "fw_load_buffer+0x14/0x40 [wlan]", None),
        ("io", 256 * PAGE, "wlan_pci_probe+0xec/0x364 [wlan]", 0x30000000),
        ("vm", 1, "wlan_netdev_alloc+0x10/0x34 [wlan]", None),
        ("vm", 1, "wlan_netdev_alloc+0x10/0x34 [wlan]", None),
    ]
    for kind, n, caller, phys in probe:
        if kind == "io":
            size = n
            align = 1 << min(max(count_order(size), 12), 24)
            addr = sp.place(size + PAGE, align, "")
            sp.busy[-1] = (addr, addr + size + PAGE, f"{caller} phys={phys:x} ioremap")
        elif kind == "vm":
            addr = sp.place((n + 1) * PAGE, 1, "")
            sp.busy[-1] = (addr, addr + (n + 1) * PAGE, f"{caller} pages={n} vmalloc")
        else:
            addr = sp.place((n + 1) * PAGE, 1, "")
            sp.busy[-1] = (addr, addr + (n + 1) * PAGE, f"{caller} user")
    lines = [f"0x{s:08x}-0x{e:08x} {e - s:7d} {t}" for s, e, t in sorted(sp.busy)]
    out = Path(__file__).with_name("arm32-240mib.vmallocinfo")
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
