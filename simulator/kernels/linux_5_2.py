"""Linux 5.2 to 5.4: the augmented free tree under one ``vmap_area_lock``.

The locks and paths are 4.19's (``linux_4_19``): the search, the clip and
the busy-tree insert in one critical section; vfree's ``find_vmap_area``
under the same lock; lazily freed areas on the ``vmap_purge_list`` llist,
still in the busy tree, released by ``__purge_vmap_area_lazy`` under
``vmap_area_lock``.  What differs is the policy (``augmented-tree``) and
the purge's priority threshold ("mm/vmalloc.c: add priority threshold to
__purge_vmap_area_lazy()", merged for 5.2): ``cond_resched_lock`` is
skipped while ``vmap_lazy_nr >= 2 * lazy_max_pages()``.

Read: Linux 5.4 ``mm/vmalloc.c`` (repo KINGFIOX/linux-5.4.286).  5.4 unlinks
a lazily freed area from the busy tree at vfree time (``unlink_va`` in
``free_vmap_area_noflush``, 5.4-rc1); this generation keeps the 5.2 order,
where it stays in the busy tree until the purge (docs/engine.md).
"""

from __future__ import annotations

from . import linux_4_19


class Kernel(linux_4_19.Kernel):
    NAME = "linux-5.2"
    PURGE_PRIORITY_THRESHOLD = True
    KFREE_RCU = False                # vmap_area_cachep: merged objects kmem_cache_free'd at once


__all__ = ["Kernel"]
