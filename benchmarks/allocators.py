"""Allocator speed benchmark: ``python -m benchmarks.allocators [--quick]``.

Prints, for each policy, allocator operations (alloc or free) per wall second
with 1,000 / 10,000 / 100,000 / 1,000,000 long-lived busy areas, and the seed's
test_2 pattern on the bare allocators (no lazy layer) with the list nodes each
policy reports per iteration.  Figures are measured in this run; the ratios
compare figures of the same run.  Targets (issue 2): >= 200,000 ops/s at 1,000
areas; at 1,000,000 areas at least half the ops/s at 1,000.

Pattern per measured op batch: a churning pair (vmalloc(3 pages) and
vmalloc(1 page), guard pages included, then both freed) and, every 16th pair, a
mixed-alignment caller (16 KiB aligned to 16 KiB, then 64 KiB aligned to
64 KiB) whose smaller-after-larger alignment keeps dropping busy-list's cache.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from simulator.allocators import ALLOCATORS, create

PAGE = 4096
VSTART = 0xFFFFC90000000000          # x86_64 VMALLOC_START
VEND = VSTART + (32 << 40)           # 32 TiB


def _long_lived(n: int) -> list[tuple[int, int]]:
    """n busy areas of 1-4 pages + guard, a one-page hole after every 8th."""
    out = []
    addr = VSTART
    for i in range(n):
        size = (1 + i % 4) * PAGE + PAGE
        out.append((addr, addr + size))
        addr += size + (PAGE if i % 8 == 7 else 0)
    return out


def ops_per_second(name: str, n_areas: int, n_pairs: int, repeats: int = 3
                   ) -> tuple[float, float, int]:
    """(ops/s, mean list nodes per op, longest walk) for the churn pattern over
    n_areas.  The pattern runs ``repeats`` times on the same allocator (it
    frees every area it allocates); the fastest repetition counts, as
    timeit does, so that a burst of other load on the machine does not."""
    a = create(name, VSTART, VEND, initial_busy=_long_lived(n_areas))
    alloc, free = a.alloc, a.free
    best = float("inf")
    for _ in range(repeats):
        ops = nodes = longest = 0
        gc.disable()
        t0 = time.perf_counter()
        for i in range(n_pairs):
            r1 = alloc(4 * PAGE)
            r2 = alloc(2 * PAGE)
            w1, w2 = r1.steps.list_nodes, r2.steps.list_nodes
            nodes += w1 + w2
            if w1 > longest or w2 > longest:
                longest = max(w1, w2)
            free(r1.addr)
            free(r2.addr)
            ops += 4
            if i % 16 == 15:
                r3 = alloc(5 * PAGE, 16 * 1024)
                r4 = alloc(17 * PAGE, 64 * 1024)
                walk = r3.steps.list_nodes
                nodes += walk + r4.steps.list_nodes
                longest = max(longest, walk, r4.steps.list_nodes)
                free(r3.addr)
                free(r4.addr)
                ops += 4
        best = min(best, time.perf_counter() - t0)
        gc.enable()
    return ops / best, nodes / ops, longest


def seed_test2_bare(name: str, loops: int, stack_every: int = 100, stack_life: int = 1000):
    """The seed's test_2 on the bare allocator, plus 16 KiB/16 KiB-aligned stacks."""
    a = create(name, VSTART, VEND)
    for _ in range(15_000):
        a.alloc(2 * PAGE)                      # vmalloc(1 page) + guard page
    stacks: list[tuple[int, int]] = []         # (death iteration, addr)
    per_iter = []
    t0 = time.perf_counter()
    for it in range(loops):
        n = 0
        if it % stack_every == 0:
            r = a.alloc(4 * PAGE, 4 * PAGE)    # a 16 KiB stack, 16 KiB aligned
            n += r.steps.list_nodes
            stacks.append((it + stack_life, r.addr))
        while stacks and stacks[0][0] <= it:
            a.free(stacks.pop(0)[1])
        r1 = a.alloc(101 * PAGE)               # vmalloc(100 pages) + guard
        r2 = a.alloc(2 * PAGE)                 # vmalloc(1 page) + guard
        n += r1.steps.list_nodes + r2.steps.list_nodes
        a.free(r1.addr)
        a.free(r2.addr)
        per_iter.append(n)
    dt = time.perf_counter() - t0
    per_iter.sort()
    return {
        "mean": statistics.fmean(per_iter),
        "p50": per_iter[len(per_iter) // 2],
        "p99": per_iter[int(len(per_iter) * 0.99)],
        "max": per_iter[-1],
        "iter_per_s": loops / dt,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (for a smoke run)")
    ap.add_argument("--policy", action="append", choices=ALLOCATORS, help="limit to a policy")
    args = ap.parse_args(argv)
    policies = args.policy or list(ALLOCATORS)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    pairs = 2_000 if args.quick else 20_000

    print("allocator operations per wall second (alloc or free), measured in this run")
    print(f"{'policy':<16}" + "".join(f"{n:>14,}" for n in sizes) + f"{'ratio max/1k':>14}")
    for name in policies:
        rates, nodes, longest = [], [], []
        for n in sizes:
            r, nd, lw = ops_per_second(name, n, pairs)
            rates.append(r)
            nodes.append(nd)
            longest.append(lw)
        print(f"{name:<16}" + "".join(f"{r:>14,.0f}" for r in rates) + f"{rates[-1] / rates[0]:>14.2f}")
        print(f"{'  list nodes/op':<16}" + "".join(f"{x:>14,.1f}" for x in nodes))
        print(f"{'  longest walk':<16}" + "".join(f"{x:>14,}" for x in longest))
    print("targets: >= 200,000 ops/s at 1,000 areas; ratio >= 0.50 (best of 3 repetitions each)")
    print()
    loops = 5_000 if args.quick else 100_000
    print(f"seed test_2 on the bare allocators: 15,000 kept 8 KiB areas, {loops:,} loops of "
          "vmalloc(100p)+vmalloc(1p)+free both, a 16 KiB/16 KiB-aligned stack every 100 loops "
          "living 1,000 loops")
    print(f"{'policy':<16}{'nodes/iter mean':>16}{'p50':>8}{'p99':>8}{'max':>8}{'iter/s':>12}")
    for name in policies:
        s = seed_test2_bare(name, loops)
        print(f"{name:<16}{s['mean']:>16,.1f}{s['p50']:>8,}{s['p99']:>8,}{s['max']:>8,}"
              f"{s['iter_per_s']:>12,.0f}")


if __name__ == "__main__":
    main()
