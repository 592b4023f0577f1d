"""The seed RFC (Uladzislau Rezki, June 2018, "mm/vmalloc: keep track of free
blocks for allocation", on 4.18): the free-list policy under 4.19's locks and
paths (``linux_4_19``): one ``vmap_area_lock`` around the search, the busy
tree and the purge; lazily freed areas stay in the busy tree until the purge.

Read: ``../shared/seed/rfc-vmalloc-free-blocks-2018.txt`` (the patch changes
``alloc_vmap_area``, ``__free_vmap_area`` and ``vmalloc_init`` only).
"""

from __future__ import annotations

from . import linux_4_19


class Kernel(linux_4_19.Kernel):
    NAME = "rfc-2018"
    KFREE_RCU = True                 # the RFC keeps kfree_rcu (__remove_free_va_area, __free_vmap_area)


__all__ = ["Kernel"]
