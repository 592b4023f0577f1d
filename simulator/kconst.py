"""Kernel constants and helpers shared by the generations and the workloads.

A leaf module: it imports nothing of vmsim, so workloads may use it.
"""

from __future__ import annotations

MIB = 1 << 20


def fls(x: int) -> int:
    """The kernel's fls(): index of the most significant set bit, 1-based; fls(0) = 0."""
    return x.bit_length()


def lazy_max_pages(cpus: int, page_size: int) -> int:
    """``fls(num_online_cpus()) * (32 MiB / PAGE_SIZE)`` (mm/vmalloc.c, every generation)."""
    return fls(cpus) * (32 * MIB // page_size)


__all__ = ["MIB", "fls", "lazy_max_pages"]
