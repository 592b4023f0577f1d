"""Generate sample-x86_64.trace: a synthetic ftrace capture of the vmalloc
trace events of a 4-CPU x86_64 machine, for ``scenarios/trace-replay.yaml``
and the tests.  Not a real capture: it is made here, reproducibly
(``python scenarios/traces/make_sample_trace.py``), in the exact text format
of ``/sys/kernel/tracing/trace`` with the ``alloc_vmap_area`` and
``free_vmap_area_noflush`` events enabled.  Its addresses come from vmsim's
own ``augmented-tree`` policy (the allocator of the traced kernel
generation).  To replay your own machine, record a trace as the docstring of
``workloads/trace_replay.py`` says and point ``trace:`` at it.

Activity (one simulated second): thread stacks forked and exiting on every
CPU (16 KiB + guard, THREAD_ALIGN 16 KiB, some freed by another CPU, as RCU
does), driver and subsystem vmalloc() buffers of 1-64 pages with lifetimes
of milliseconds to seconds, a few module loads in the modules range, one
allocation that fails, purges and retries (``failed=1`` then ``failed=0``),
frees of areas allocated before the trace started, and lines of another
event (``sched_switch``) that the replay skips.
"""

from __future__ import annotations

import heapq
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from simulator.allocators import create  # noqa: E402

PAGE = 4096
VMALLOC_START, VMALLOC_END = 0xFFFFC90000000000, 0xFFFFE90000000000
MODULES_VADDR, MODULES_END = 0xFFFFFFFFA0000000, 0xFFFFFFFFFF000000
TASKS = ("kworker/{cpu}:1", "bash", "systemd-udevd", "sshd", "modprobe")
ENOMEM = (1 << 64) - 12          # IS_ERR_VALUE(-ENOMEM) printed with %lu


def main() -> None:
    rnd = random.Random(20240601)
    alloc = create("augmented-tree", VMALLOC_START, MODULES_END, vmalloc_start=VMALLOC_START,
                   vmalloc_end=VMALLOC_END)
    lines = ["# tracer: nop", "#",
             "# synthetic: made by scenarios/traces/make_sample_trace.py (see its docstring)",
             "#", "#                                _-----=> irqs-off/BH-disabled",
             "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
             "#              | |         |   |||||     |         |"]
    events: list[tuple[float, int, str]] = []      # (time s, seq, text) before the task prefix
    seq = 0

    def emit(t: float, cpu: int, text: str, task: str | None = None, pid: int | None = None) -> None:
        nonlocal seq
        seq += 1
        task = task or rnd.choice(TASKS).format(cpu=cpu)
        pid = pid or rnd.randrange(100, 9000)
        events.append((t, seq, f"{task:>16}-{pid:<7} [{cpu:03d}] ..... {t:12.6f}: {text}"))

    nr_lazy = 0
    frees: list[tuple[float, int, int, int, int]] = []   # (time, seq, cpu, addr, size)

    def vmalloc(t: float, cpu: int, size: int, align: int, vs: int, ve: int,
                task: str | None = None, pid: int | None = None) -> int | None:
        r = alloc.alloc(size, align, vs, ve)
        addr = r.addr
        emit(t, cpu, f"alloc_vmap_area: va_start: {addr if addr is not None else ENOMEM} "
                     f"size={size} align={align} vstart={vs:#x} vend={ve:#x} "
                     f"failed={0 if addr is not None else 1}", task, pid)
        return addr

    def vfree(t: float, cpu: int, addr: int, size: int) -> None:
        nonlocal nr_lazy
        nr_lazy += size // PAGE
        emit(t, cpu, f"free_vmap_area_noflush: va_start={addr:#x} nr_lazy={nr_lazy} nr_lazy_max=24576")
        alloc.free(addr)                               # the purge, much later, in reality

    # frees of areas allocated before the trace began
    for k in range(3):
        va_start = VMALLOC_START + (1 << 30) + k * 8 * PAGE
        emit(0.0005 * (k + 1), k, f"free_vmap_area_noflush: va_start={va_start:#x} "
                                  f"nr_lazy={2 * (k + 1)} nr_lazy_max=24576")
    t = 0.001
    while t < 1.0:
        t += rnd.expovariate(1500.0)
        cpu = rnd.randrange(4)
        kind = rnd.random()
        if kind < 0.45:                                # fork: a thread stack
            size, align, life = 5 * PAGE, 4 * PAGE, rnd.expovariate(1 / 0.02)
            vs, ve = VMALLOC_START, VMALLOC_END
        elif kind < 0.97:                              # a vmalloc() buffer
            size, align, life = (rnd.randint(1, 64) + 1) * PAGE, 1, rnd.expovariate(1 / 0.2)
            vs, ve = VMALLOC_START, VMALLOC_END
        else:                                          # module_alloc
            size, align, life = (rnd.randint(4, 200) + 1) * PAGE, PAGE, 10.0
            vs, ve = MODULES_VADDR, MODULES_END
        addr = vmalloc(t, cpu, size, align, vs, ve)
        if addr is not None and life < 5.0:
            free_cpu = cpu if rnd.random() < 0.8 else rnd.randrange(4)
            heapq.heappush(frees, (t + life, seq, free_cpu, addr, size))
        while frees and frees[0][0] <= t:
            ft, _, fcpu, faddr, fsize = heapq.heappop(frees)
            vfree(ft, fcpu, faddr, fsize)
    # a request that fails, purges (which may sleep: the task moves from CPU 2 to
    # CPU 1), and succeeds on the retry
    t += 0.0001
    emit(t, 2, f"alloc_vmap_area: va_start: {ENOMEM} size={8 * PAGE} align=1 "
               f"vstart={VMALLOC_START:#x} vend={VMALLOC_END:#x} failed=1", "insmod", 4321)
    emit(t + 0.00002, 2, f"purge_vmap_area_lazy: start={VMALLOC_START:#x} end={VMALLOC_END:#x} num_purged=42",
         "insmod", 4321)
    vmalloc(t + 0.00004, 1, 8 * PAGE, 1, VMALLOC_START, VMALLOC_END, "insmod", 4321)
    emit(t + 0.00005, 1, "sched_switch: prev_comm=bash prev_pid=4242 prev_prio=120 prev_state=S "
                         "==> next_comm=swapper/1 next_pid=0 next_prio=120")
    events.sort()
    out = Path(__file__).with_name("sample-x86_64.trace")
    out.write_text("\n".join(lines + [e[2] for e in events]) + "\n")
    print(f"{out}: {len(events)} events")


if __name__ == "__main__":
    main()
