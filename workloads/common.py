"""Helpers shared by the workload modules: kernel bit helpers and the measured loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pydantic import ConfigDict

from simulator.kconst import fls, lazy_max_pages  # noqa: F401  (leaf module; re-exported)

from .base import Caller, WorkloadParams

#: lib/test_vmalloc.c's default test_loop_count, and the seed RFC's loop count
KERNEL_LOOP_COUNT = 1_000_000


class Params(WorkloadParams):
    """WorkloadParams that also accept the field name (``size_bytes``) beside the
    YAML alias (``size``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def get_count_order_long(size: int) -> int:
    """include/linux/bitops.h: ceil(log2(size)); -1 for 0."""
    if size == 0:
        return -1
    order = size.bit_length() - 1
    if size & (size - 1):
        order += 1
    return order


def page_align(size_bytes: int, page_size: int) -> int:
    """PAGE_ALIGN(): round up to a page multiple."""
    return -(-size_bytes // page_size) * page_size


def default_thread_size(word_bits: int) -> int:
    """THREAD_SIZE (and, without VMAP_STACK's doubling, THREAD_ALIGN): 16 KiB on
    64-bit (x86_64, arm64), 8 KiB on 32-bit ARM."""
    return 16384 if word_bits == 64 else 8192


def default_thread_align(caller: Caller) -> int:
    """THREAD_ALIGN: the device profile's (``caller.thread_align``), else
    :func:`default_thread_size` of the word size (a caller without arch facts)."""
    return getattr(caller, "thread_align", 0) or default_thread_size(caller.word_bits)


def default_stack_size(caller: Caller) -> int:
    """THREAD_SIZE: the device profile's (``caller.thread_size``), else by word size."""
    return getattr(caller, "thread_size", 0) or default_thread_size(caller.word_bits)


def resolve_loops(explicit: int | None, caller: Caller) -> int:
    """Loop count: the explicit parameter, else the scenario's ``iterations``
    stop, else the kernel's 1,000,000."""
    if explicit is not None:
        return explicit
    if caller.iterations is not None:
        return caller.iterations
    return KERNEL_LOOP_COUNT


class MeasuredLoop:
    """``for i in MeasuredLoop(...)``: up to ``loops`` iterations while
    ``caller.running()``; ``iteration_done()`` after each completed iteration
    when ``count`` is set (an iteration left with ``break`` is not counted).
    ``stopped`` tells whether the run's stop cut the loop short."""

    def __init__(self, caller: Caller, loops: int, count: bool = True) -> None:
        self.caller = caller
        self.loops = loops
        self.count = count
        self.stopped = False

    def __iter__(self) -> Iterator[int]:
        caller = self.caller
        for i in range(self.loops):
            if not caller.running():
                self.stopped = True
                return
            yield i
            if self.count:
                caller.iteration_done()


class Once:
    """Calls ``fn`` the first time it is called, then nothing (measure_start hook)."""

    def __init__(self, fn: Callable[[], None] | None) -> None:
        self._fn = fn

    def __call__(self) -> None:
        fn, self._fn = self._fn, None
        if fn is not None:
            fn()
