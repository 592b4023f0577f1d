"""How the old allocator's seed test_2 loop time moves with background fork activity.

seed-test2 (15,000 busy 1-page areas, then {vmalloc(100 pages); vmalloc(1 page);
touch; vfree both}) on CPU 0 of the qemu-x86 profile, plus ``thread-stacks``
(16 KiB stacks, 16 KiB aligned, lifetime exponential 10 ms, Poisson forks) on
CPU 1 in the background, at rates from zero up.  Every stack allocation has
a larger align than the seed's vmalloc, so busy-list's next search drops
free_vmap_cache and walks from VMALLOC_START over the 15,000 prefilled areas.

Run:  python -m benchmarks.background_rate [--iterations N] [--seed S] [--rates 0,1000,...]
Prints a Markdown table (the one in docs/workloads.md).
"""

from __future__ import annotations

import argparse
import time

from simulator.runner import simulate
from simulator.scenario import parse_scenario

ALLOCATORS = ("busy-list", "free-list", "augmented-tree")


def scenario(rate_per_s: float, iterations: int, seed: int) -> dict:
    callers: list[dict] = [{"workload": "seed-test2", "cpus": 0}]
    if rate_per_s:
        callers.append({"workload": "thread-stacks", "cpus": 1, "background": True,
                        "rate_per_s": rate_per_s})
    return {"name": "background-rate", "device": "qemu-x86", "cpus": 2,
            "allocators": list(ALLOCATORS), "callers": callers,
            "stop": {"iterations": iterations}, "seeds": [seed]}


def measure(rate_per_s: float, iterations: int, seed: int,
            prefill: int = 15_000) -> dict[str, tuple[float, float]]:
    """allocator -> (loop time ms, mean list_nodes per seed-test2 loop vmalloc)."""
    out = {}
    for spec in parse_scenario(scenario(rate_per_s, iterations, seed)).run_specs():
        r = simulate(spec)
        ops = r.ops
        seed_allocs = ops[(ops.op == "vmalloc") & ops.caller.str.startswith("seed-test2")]
        loop = seed_allocs.iloc[prefill:]
        nodes = loop.list_nodes + loop.tree_nodes if spec.allocator == "augmented-tree" else loop.list_nodes
        out[spec.allocator] = (r.summary["loop_time_ns"] / 1e6, float(nodes.mean()))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rates", default="0,500,1000,2000,5000,10000,20000")
    a = ap.parse_args(argv)
    rates = [float(x) for x in a.rates.split(",")]
    t0 = time.perf_counter()
    print(f"seed-test2 ({a.iterations} iterations, seed {a.seed}) + thread-stacks on qemu-x86, 2 CPUs\n")
    print("| forks/s | busy-list loop ms | busy-list nodes/alloc | free-list loop ms "
          "| free-list nodes/alloc | augmented-tree loop ms | augmented-tree nodes/alloc |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for rate in rates:
        m = measure(rate, a.iterations, a.seed)
        cells = " | ".join(f"{m[k][0]:.2f} | {m[k][1]:.1f}" for k in ALLOCATORS)
        print(f"| {rate:g} | {cells} |")
    print(f"\n(nodes/alloc: list_nodes, plus tree_nodes for augmented-tree; "
          f"{time.perf_counter() - t0:.0f} s wall)")


if __name__ == "__main__":
    main()
