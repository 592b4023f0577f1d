"""Linux 6.3 to 6.8: the 6.1 locks and paths (``linux_6_1``) with one vfree
busy-tree section: ``remove_vm_area`` -> ``find_unlink_vmap_area`` (lookup +
unlink under ``vmap_area_lock``), where 6.1 takes that lock three times
(``find_vm_area``, ``remove_vm_area``, ``unlink_va``).

Read: a 6.3-6.8 mm/vmalloc.c and the patch "mm: vmalloc: Avoid of calling
__find_vmap_area() twise in __vunmap()" (Dec 2022, merged for 6.3);
docs/kernels/linux-6.1.md.
"""

from __future__ import annotations

from . import linux_6_1


class Kernel(linux_6_1.Kernel):
    NAME = "linux-6.6"
    VFREE_LOOKUPS = 0


__all__ = ["Kernel"]
